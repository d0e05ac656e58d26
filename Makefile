# The two commands of the README:
#   make run    install what is missing, build, run the daemon
#   make test   install what is missing, build (release and ASan+UBSan), run every test
#   make test-reliability   the full reliability harness (tests/reliability, release build):
#               50 kill -9 rounds, resource faults, 2000-pod churn, 10-minute load
BUILD_DEBS := gcc libc6-dev meson ninja-build pkg-config protobuf-c-compiler libprotobuf-c-dev \
	libnghttp2-dev libuv1-dev libjansson-dev libsqlite3-dev libarchive-dev \
	libcurl4-openssl-dev libssl-dev zlib1g-dev
RUN_DEBS := crun runc containernetworking-plugins iptables iproute2
TEST_DEBS := libcmocka-dev python3 python3-grpcio python3-grpc-tools python3-pytest \
	busybox-static docker-registry util-linux procps zstd openssl e2fsprogs

# Only `make fuzz` needs these: clang with libFuzzer and its runtime.
FUZZ_DEBS := clang llvm libclang-rt-14-dev

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 45
FUZZ_TARGETS ?= reference manifest unpack cni_result config stream_http stream_spdy stream_ws \
	cri_request rpc stream_server
ARGS ?=
# sizes of `make test-reliability` (the default suite runs the quick variant)
REL_ROUNDS ?= 50
REL_CHURN_PODS ?= 2000
REL_LOAD_PODS ?= 200
REL_LOAD_SECONDS ?= 600

.PHONY: all deps build build-asan run test test-reliability unit integration fuzz clean format

all: build

deps:
	@scripts/install-deps.sh $(BUILD_DEBS) $(RUN_DEBS)

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=release -Doptimization=2
	ninja -C $(BUILD)

build-asan: deps
	@scripts/install-deps.sh $(TEST_DEBS)
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) --buildtype=debugoptimized \
		-Db_sanitize=address,undefined
	ninja -C $(ASAN_BUILD)

run: build
	./$(BUILD)/src/daemon/cric $(ARGS)

test: build build-asan
	CRIC_BUILD_DIR=$(CURDIR)/$(ASAN_BUILD) CRIC_RELEASE_BUILD_DIR=$(CURDIR)/$(BUILD) tests/run-all.sh

test-reliability: build build-asan
	CRIC_BUILD_DIR=$(CURDIR)/$(BUILD) CRIC_REL_ROUNDS=$(REL_ROUNDS) \
	CRIC_REL_CHURN_PODS=$(REL_CHURN_PODS) CRIC_REL_LOAD_PODS=$(REL_LOAD_PODS) \
	CRIC_REL_LOAD_SECONDS=$(REL_LOAD_SECONDS) \
	/usr/bin/python3 -m pytest -s -q -p no:cacheprovider tests/reliability

unit: build-asan
	meson test -C $(ASAN_BUILD) --print-errorlogs

integration: build-asan
	CRIC_BUILD_DIR=$(CURDIR)/$(ASAN_BUILD) /usr/bin/python3 -m pytest -q tests/integration

# Builds the libFuzzer targets of fuzz/ with clang (ASan+UBSan) and runs each
# for FUZZ_SECONDS on its corpus in fuzz/corpus/ (FUZZ_MERGE=1 adds new
# coverage to the corpora). `make test` replays the corpora with gcc.
fuzz: deps
	@scripts/install-deps.sh $(TEST_DEBS) $(FUZZ_DEBS)
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false -Dfuzz=true
	ninja -C $(FUZZ_BUILD) $(addprefix fuzz/fuzz_,$(FUZZ_TARGETS))
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TARGETS)

format:
	find src tests -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
