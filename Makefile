# The two commands of the README:  make run  and  make test.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps test-deps build run test clean sanitize tsan fuzz bench crash install uninstall \
        install-sendmail

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Builds and starts Taube with its built-in defaults: 127.0.0.1:2525, mail for @localhost filed
# under ./var/mail/<domain>/<localpart>/, logs on stderr.
run: build
	./$(BUILD)/taube serve

CTEST_ARGS ?=
# Three tests per core: most integration tests wait (retry times, timeouts, peers' delays) far
# more than they compute; the busy ones count as two (PROCESSORS in tests/CMakeLists.txt).
TEST_JOBS ?= $(shell echo $$(( $(JOBS) * 3 )))
test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS) --timeout 600 $(CTEST_ARGS)

# The whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer (but the power cuts).
# -O1 -g1 (line tables): what ASan advises, and a build much quicker than -O2 -g for the same
# reports with file:line frames.
SANITIZER_OPT ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
sanitize: test-deps
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS='-DTAUBE_SANITIZE=ON -DTAUBE_UNIT_TESTS_PER_BINARY=ON $(SANITIZER_OPT)' \
	  CTEST_ARGS="$(SANITIZE_CTEST_ARGS)"
# The power-cut tests (label crash) run in make test and make crash; under ASan they would only
# repeat the same file-system checks several times slower.
SANITIZE_CTEST_ARGS ?= -LE crash

# ThreadSanitizer: the server binary (event loop + disk worker pool) driven by the integration
# tests that put many sessions and commits in flight at once. Reports go to files under
# build-tsan/tsan-reports/ (a report must not kill the server mid-test and hide the others);
# any report fails the target.
TSAN_TESTS ?= test_smtp_source|test_crash_consistency|test_tls|test_auth|test_smtplib|test_reload|test_reload_config|test_console_api|test_console_deliveries|test_sendmail|test_metrics_queue|test_limits|test_disk_faults|test_journal|test_outbound_delivery|test_outbound_dsn|test_outbound_queue|test_queue_startup
# And the store's unit tests that run the journals' threads (group commit, publishers).
TSAN_UNIT ?= DeliveryJournal*:JournaledDelivery*:QueueJournal*:QueueStore*
tsan: test-deps
	cmake -S . -B build-tsan $(SANITIZER_OPT) -DTAUBE_SANITIZE_THREAD=ON >/dev/null
	cmake --build build-tsan -j $(JOBS) --target taube unit_store
	rm -rf build-tsan/tsan-reports && mkdir -p build-tsan/tsan-reports
	TSAN_OPTIONS="log_path=$(CURDIR)/build-tsan/tsan-reports/tsan second_deadlock_stack=1" \
	  build-tsan/tests/unit_store --gtest_filter='$(TSAN_UNIT)'
	cd build-tsan && TSAN_OPTIONS="log_path=$(CURDIR)/build-tsan/tsan-reports/tsan second_deadlock_stack=1" \
	  ctest --output-on-failure -j $(TEST_JOBS) -R '$(TSAN_TESTS)' --timeout 600
	@if ls build-tsan/tsan-reports/tsan.* >/dev/null 2>&1; then \
	  echo "ThreadSanitizer reports:"; cat build-tsan/tsan-reports/tsan.*; exit 1; \
	fi; echo "tsan: no reports"

clean:
	rm -rf build build-asan build-tsan

# Runs every libFuzzer target for FUZZ_SECONDS each (clang from Debian's packages).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps.sh fuzz
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Taube side by side with Postfix, smtp-sink and aiosmtpd; writes bench/RESULTS.md.
bench: build
	@scripts/install-deps.sh bench
	bench/run.sh

# Power cuts (tests/crashfs, docs/robustness.md): the long form of the crashfs self test and the
# power-cut tests, dozens of cuts per configuration and every fsync-dropping variant (make test
# runs a short form). Needs root and /dev/fuse; skipped (not passed) otherwise.
crash: test-deps build
	cd $(BUILD) && TAUBE_POWER_CUT=long ctest --output-on-failure -L crash --timeout 600

# Under $(DESTDIR)$(PREFIX): sbin/taube, its man page, the systemd unit with its sysusers.d and
# tmpfiles.d entries (docs/running.md), and the pure protocol libraries as the CMake package
# Taube (docs/embedding.md); under $(DESTDIR)/etc (PREFIX /usr or /usr/local, else
# $(PREFIX)/etc; SYSCONFDIR= overrides): taube/taube.toml from the example unless one exists,
# and the fail2ban filter and jail. Then, as root: systemd-sysusers; systemd-tmpfiles --create.
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?=
install: build
	DESTDIR=$(DESTDIR) TAUBE_SYSCONFDIR=$(SYSCONFDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# sendmail(8) compatibility (docs/sendmail.md): sbin/sendmail, sbin/newaliases and bin/mailq as
# links to taube under $(DESTDIR)$(PREFIX). Not part of install: on Debian /usr/sbin/sendmail
# belongs to the installed MTA's package (postfix, exim4); replacing it is a deliberate step.
install-sendmail: install
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	ln -sfn taube $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sfn taube $(DESTDIR)$(PREFIX)/sbin/newaliases
	ln -sfn ../sbin/taube $(DESTDIR)$(PREFIX)/bin/mailq

# Removes what the last make install from this build put in place ($(BUILD)/install_manifest.txt
# lists it, without DESTDIR: give the same DESTDIR); the configuration in /etc/taube stays.
uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "uninstall: no $(BUILD)/install_manifest.txt (nothing installed from this build)" >&2; exit 1; }
	sed 's|^|$(DESTDIR)|' $(BUILD)/install_manifest.txt | xargs -r -d '\n' rm -f --
	@for d in include/taube lib/cmake/Taube share/doc/taube; do \
	  if [ -d "$(DESTDIR)$(PREFIX)/$$d" ]; then find "$(DESTDIR)$(PREFIX)/$$d" -depth -type d -empty -delete; fi; \
	done
	rm -f $(BUILD)/install_manifest.txt
