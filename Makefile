# The two commands of the README:  make run  and  make test.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps test-deps build run test clean sanitize fuzz bench

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

test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: test-deps
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DTAUBE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo"

clean:
	rm -rf build build-asan

# Runs every libFuzzer target for FUZZ_SECONDS each (clang from Debian's packages).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps.sh fuzz
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Taube side by side with Postfix, smtp-sink and aiosmtpd; writes bench/RESULTS.md.
bench: build
	@scripts/install-deps.sh bench
	bench/run.sh
