# Installs the pure protocol libraries as the CMake package "Taube" (docs/embedding.md):
#   find_package(Taube 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE taube::smtp)   # or taube::smtp_wire, taube::sasl, ...
# plus the taube binary and the example configuration. Included by the top CMakeLists.txt after
# every library is declared.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Only libraries with no I/O are offered to embedders: everything above them (store, net, app)
# depends on Asio, OpenSSL and the file system and is Taube's own business.
set(TAUBE_PACKAGE_LIBRARIES taube_smtp_wire taube_sasl taube_smtp_server taube_smtp_client taube_inet
                             taube_proxy)
# Headers go to include/taube/<dir>/, the same tree as src/, so that the libraries' own includes
# ("smtp/wire/reply.hpp", "sasl/crypto.hpp") resolve against $<INSTALL_INTERFACE:include/taube>.
set(TAUBE_PACKAGE_HEADER_DIRS smtp/wire sasl smtp/server smtp/client inet proxy)
set(TAUBE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Taube)

foreach(lib IN LISTS TAUBE_PACKAGE_LIBRARIES)
  string(REGEX REPLACE "^taube_" "" short ${lib})
  # taube::smtp_wire rather than taube::taube_smtp_wire.
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${short})
  # The public headers use C++20 (std::span, defaulted comparisons): say so to the consumer.
  target_compile_features(${lib} PUBLIC cxx_std_20)
endforeach()
set_target_properties(taube_smtp PROPERTIES EXPORT_NAME smtp)

install(TARGETS ${TAUBE_PACKAGE_LIBRARIES} taube_smtp
        EXPORT TaubeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(dir IN LISTS TAUBE_PACKAGE_HEADER_DIRS)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/${dir}/ DESTINATION include/taube/${dir}
          FILES_MATCHING PATTERN "*.hpp")
endforeach()

install(EXPORT TaubeTargets NAMESPACE taube:: DESTINATION ${TAUBE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/TaubeConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/TaubeConfig.cmake
                              INSTALL_DESTINATION ${TAUBE_CMAKE_DIR})
# 0.x: a minor release may change the API, so 0.1 accepts 0.1.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/TaubeConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/TaubeConfig.cmake ${PROJECT_BINARY_DIR}/TaubeConfigVersion.cmake
        DESTINATION ${TAUBE_CMAKE_DIR})

# The server itself (absent in TAUBE_CORE_ONLY and fuzzer builds): sbin/ as Debian puts daemons
# (and sendmail), its man page, and what running it as a service needs (taube_install_system.cmake:
# the systemd unit, sysusers.d and tmpfiles.d entries, /etc/taube/taube.toml, fail2ban files).
if(TARGET taube)
  install(TARGETS taube RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/etc/taube.toml.example
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/taube)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/man/taube.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
  # The example alert rules (docs/metrics.md) beside the example config: Debian's prometheus
  # reads only the rule_files its own prometheus.yml names, so they are the administrator's to
  # copy or point at, not a file dropped into another package's /etc.
  install(FILES ${PROJECT_SOURCE_DIR}/etc/prometheus/taube-alerts.yml
                ${PROJECT_SOURCE_DIR}/etc/prometheus/taube-alerts.test.yml
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/taube/prometheus)
  install(CODE "set(TAUBE_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
                set(TAUBE_BINARY_DIR \"${PROJECT_BINARY_DIR}\")")
  install(SCRIPT ${CMAKE_CURRENT_LIST_DIR}/taube_install_system.cmake)
endif()
