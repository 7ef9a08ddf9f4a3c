# Thin wrapper over meson/ninja; the README's two commands use it.
BUILD ?= build
MESON_OPTS ?= --buildtype=release

.PHONY: all deps build demo test unit integration qemu fuzz format format-check asan bench clean

all: build

deps:
	scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps build
	scripts/demo.sh $(BUILD)

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

integration: build
	BERTH_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/integration tests/cve

test: deps build format-check unit integration asan fuzz qemu

qemu: build
	scripts/qemu-cgroup-tests.sh $(BUILD)

fuzz:
	scripts/fuzz.sh

format:
	clang-format -i $$(git ls-files --cached --others --exclude-standard '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files --cached --others --exclude-standard '*.c' '*.h')

# the sanitized runtime under every integration test (LeakSanitizer checks each runtime exit)
asan:
	CC=clang $(MAKE) BUILD=build-asan MESON_OPTS="-Db_sanitize=address,undefined -Db_lundef=false -Dstatic_runtime=false" unit integration

bench: build
	bench/runtime.sh $(BUILD)
	BERTH_BUILD=$(abspath $(BUILD)) bench/engine.sh
	BERTH_BUILD=$(abspath $(BUILD)) bench/pull.sh
	BERTH_BUILD=$(abspath $(BUILD)) bench/stats.sh
	BERTH_BUILD=$(abspath $(BUILD)) bench/network.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
