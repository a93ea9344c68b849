# Install-time part of `make install` / `cmake --install` for running Taube as a service
# (docs/running.md), run by install(SCRIPT) with CMAKE_INSTALL_PREFIX and $DESTDIR of that
# install:
#   <prefix>/lib/systemd/system/taube.service   etc/systemd/taube.service with its paths adjusted
#   <prefix>/lib/sysusers.d/taube.conf          the taube user
#   <prefix>/lib/tmpfiles.d/taube.conf          /var/spool/taube, /var/mail/taube
#   <sysconf>/taube/taube.toml                  etc/taube.toml.example, unless one exists already
#   <sysconf>/fail2ban/**                       whatever etc/fail2ban/ holds (filter, jail)
# <sysconf> is /etc for the prefixes /usr and /usr/local (where `taube serve` and sendmail's -C
# look for the configuration by default), else <prefix>/etc; $TAUBE_SYSCONFDIR overrides it.
# The configuration is not put in install_manifest.txt: `make uninstall` keeps it, as
# `apt remove` keeps a conffile.
if(NOT DEFINED TAUBE_SOURCE_DIR)
  message(FATAL_ERROR "TAUBE_SOURCE_DIR not set")
endif()
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(DEFINED ENV{TAUBE_SYSCONFDIR} AND NOT "$ENV{TAUBE_SYSCONFDIR}" STREQUAL "")
  set(sysconf "$ENV{TAUBE_SYSCONFDIR}")
elseif(prefix STREQUAL "/usr" OR prefix STREQUAL "/usr/local")
  set(sysconf "/etc")
else()
  set(sysconf "${prefix}/etc")
endif()
set(src "${TAUBE_SOURCE_DIR}/etc")
# One staging directory per destination: installs from one build into two places may run at the
# same time (the tests do).
string(MD5 dest_hash "$ENV{DESTDIR}|${prefix}|${sysconf}")
set(stage "${TAUBE_BINARY_DIR}/install-stage/${dest_hash}")
file(MAKE_DIRECTORY "${stage}")

# The unit in the tree is written for PREFIX=/usr/local and /etc (systemd-analyze verify checks
# it as it is); other prefixes get their paths here.
file(READ "${src}/systemd/taube.service" unit)
string(REPLACE "/usr/local/sbin/taube" "${prefix}/sbin/taube" unit "${unit}")
string(REPLACE "/etc/taube/" "${sysconf}/taube/" unit "${unit}")
file(WRITE "${stage}/taube.service" "${unit}")
file(INSTALL "${stage}/taube.service" DESTINATION "${prefix}/lib/systemd/system"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${src}/systemd/taube.sysusers" DESTINATION "${prefix}/lib/sysusers.d"
     RENAME taube.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${src}/systemd/taube.tmpfiles" DESTINATION "${prefix}/lib/tmpfiles.d"
     RENAME taube.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

set(config "$ENV{DESTDIR}${sysconf}/taube/taube.toml")
if(EXISTS "${config}")
  message(STATUS "Keeping: ${config} (exists; the new example is in share/doc/taube)")
else()
  message(STATUS "Installing: ${config}")
  file(MAKE_DIRECTORY "$ENV{DESTDIR}${sysconf}/taube")
  file(COPY_FILE "${src}/taube.toml.example" "${config}")
endif()

# fail2ban's own rule: *.conf files are the package's and replaced on upgrade, local changes go
# into *.local files next to them (jail.conf(5)).
file(GLOB_RECURSE f2b RELATIVE "${src}/fail2ban" "${src}/fail2ban/*")
foreach(f IN LISTS f2b)
  get_filename_component(sub "${f}" DIRECTORY)
  file(INSTALL "${src}/fail2ban/${f}" DESTINATION "${sysconf}/fail2ban/${sub}"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
