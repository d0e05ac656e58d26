# The two commands of the README:
#   make run    install what is missing, build, run the daemon
#   make test   install what is missing, build (release and ASan+UBSan), run every test
BUILD_DEBS := gcc libc6-dev meson ninja-build pkg-config protobuf-c-compiler libprotobuf-c-dev \
	libnghttp2-dev libuv1-dev libjansson-dev libsqlite3-dev libarchive-dev \
	libcurl4-openssl-dev libssl-dev zlib1g-dev
RUN_DEBS := crun runc containernetworking-plugins iptables iproute2
TEST_DEBS := libcmocka-dev python3 python3-grpcio python3-grpc-tools python3-pytest \
	busybox-static docker-registry util-linux procps zstd openssl

BUILD ?= build
ASAN_BUILD ?= build-asan
ARGS ?=

.PHONY: all deps build build-asan run test unit integration clean format

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

unit: build-asan
	meson test -C $(ASAN_BUILD) --print-errorlogs

integration: build-asan
	CRIC_BUILD_DIR=$(CURDIR)/$(ASAN_BUILD) /usr/bin/python3 -m pytest -q tests/integration

format:
	find src tests -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
