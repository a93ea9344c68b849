#!/usr/bin/env bash
# Installs the Debian 12 packages Taube needs, only those that are missing.
#   scripts/install-deps.sh build   - to build and run
#   scripts/install-deps.sh test    - also the real SMTP peers the integration tests drive
set -euo pipefail
build_pkgs=(g++ cmake make pkg-config libasio-dev libexpected-dev libssl-dev zlib1g-dev libtomlplusplus-dev
            libcli11-dev libspdlog-dev libfmt-dev libc-ares-dev libunbound-dev libcrypt-dev libgtest-dev
            libsystemd-dev libhttp-parser-dev)
# swaks only Recommends Net::SSLeay, which --no-install-recommends skips; its --tls needs it.
# libfuse3-dev + fuse3: crashfs, the power-cut file system of tests/crashfs (umount, fusermount3).
# haproxy: a real PROXY protocol sender in front of Taube (test_proxy_protocol; never the system one).
# dovecot-core + dovecot-lmtpd: a real LMTP mail store behind Taube's queue (test_outbound_lmtp runs
# a private instance in a temp dir; the system one is never configured or started by the tests).
# pflogsumm + fail2ban: test_logs reads Taube's log file with them (fail2ban-regex, and
# fail2ban-client -d on a private copy of the configuration; the fail2ban service is not used).
# systemd (systemd-analyze verify/security, systemd-sysusers), strace, man-db: test_service checks
# the unit, the system calls it allows against those Taube makes, and the man page (no systemd
# as PID 1 needed).
# prometheus: promtool checks the /metrics text and the alert rules, and a private Prometheus
# scrapes Taube once (test_metrics; the system service is never configured or started).
# chromium + chromium-driver + python3-selenium: test_console_browser drives the web console in a
# real headless Chromium (with /usr/bin/python3, Debian's, for selenium).
# gdb: a server that does not stop after SIGTERM has its threads' stacks printed in the failure.
test_pkgs=(python3 postfix swaks libnet-ssleay-perl curl openssl ca-certificates libfuse3-dev fuse3
           haproxy dovecot-core dovecot-lmtpd pflogsumm fail2ban systemd strace man-db prometheus
           s-nail bsd-mailx chromium chromium-driver python3-selenium gdb)
want=("${build_pkgs[@]}")
case "${1:-build}" in
  test) want+=("${test_pkgs[@]}") ;;
  fuzz) want+=(clang libclang-rt-14-dev) ;;
  bench) want+=(python3 postfix python3-aiosmtpd procps) ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Postfix asks a question on install; answer it so the install is unattended. Taube's tests run
# their own private Postfix instances and never touch the system one.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
