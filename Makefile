# Thin wrapper over meson/ninja; the README's two commands use it.
BUILD ?= build
MESON_OPTS ?= --buildtype=release

.PHONY: all deps build demo test unit integration format format-check asan bench clean

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
	BERTH_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/integration

test: deps build format-check unit integration
	scripts/qemu-cgroup-tests.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

asan:
	$(MAKE) BUILD=build-asan MESON_OPTS="-Db_sanitize=address,undefined -Db_lundef=false -Dstatic_runtime=false" unit integration

bench: build
	bench/runtime.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan
