# A thin front over CMake. `make run` and `make test` install what is missing
# (Debian packages via scripts/deps.sh, npm packages from tests/compat's
# lockfile), so both work on a fresh Debian 12 machine. A build directory
# counts as configured once CMake has generated its Makefile, so a configure
# that failed is simply run again.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
DATA_DIR   ?= ./chute-data
CMAKE_FLAGS ?=

.PHONY: all build build-asan deps bench-deps run test bench bench-full clean format

all: build

deps:
	@scripts/deps.sh

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/Makefile:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCHUTE_SANITIZE=ON $(CMAKE_FLAGS)

build-asan: deps $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	$(BUILD)/src/server/chuted --data-dir $(DATA_DIR)

# Every suite, first built with AddressSanitizer and UndefinedBehaviorSanitizer
# (any report fails the run), then the compatibility suite with real clients
# against the optimised daemon.
test: build build-asan
	scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

# The peers (beanstalkd, PostgreSQL, Redis, wrk and their client libraries)
# are installed first, then CMake is re-run so that it finds hiredis and
# libpq and builds the load generator.
bench-deps:
	@scripts/deps.sh bench

bench: bench-deps build
	cmake $(BUILD) >/dev/null && cmake --build $(BUILD) -j $(JOBS)
	scripts/bench.sh $(BUILD) short

bench-full: bench-deps build
	cmake $(BUILD) >/dev/null && cmake --build $(BUILD) -j $(JOBS)
	scripts/bench.sh $(BUILD) full

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
