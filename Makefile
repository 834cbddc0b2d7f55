# SPDX-License-Identifier: MIT
# The two commands: `make run` and `make test`. Everything else is a step of those.
PY      ?= /usr/bin/python3
JOBS    ?= 2
HIROBA_DB ?= sqlite:///hiroba.sqlite3

.PHONY: all setup build build-c web run test test-release test-pg test-asan test-browser test-web \
        fuzz format format-check tidy check-layers clean

all: build

setup:
	@scripts/setup

build-c:
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

web:
	@if [ -f web/package.json ]; then scripts/build-web; fi

build: setup build-c web

run: build
	./build/hiroba migrate --database $(HIROBA_DB)
	./build/hiroba serve --listen 127.0.0.1:8000 --database $(HIROBA_DB) --static-dir web/dist

# Every test twice: the release build, then the whole suite again under ASan+UBSan.
test: build check-layers
	@$(MAKE) --no-print-directory test-release
	@$(MAKE) --no-print-directory test-pg
	@$(MAKE) --no-print-directory test-web
	@$(MAKE) --no-print-directory test-browser
	@$(MAKE) --no-print-directory test-asan

test-release:
	ctest --preset release
	HIROBA_BIN=$(CURDIR)/build/hiroba $(PY) -m pytest -q tests/e2e

# The end-to-end suite again on PostgreSQL (a throwaway cluster on loopback, tests/e2e/services.py).
test-pg:
	HIROBA_TEST_DATABASE=postgres HIROBA_BIN=$(CURDIR)/build/hiroba $(PY) -m pytest -q tests/e2e

# Playwright on Debian's Chromium against the real binary; screenshots in tests/browser/out/.
test-browser: build
	HIROBA_BIN=$(CURDIR)/build/hiroba node tests/browser/run.mjs

test-web:
	@if [ -f web/package.json ]; then cd web && npm test --silent; fi

test-asan:
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	ctest --preset asan
	HIROBA_BIN=$(CURDIR)/build-asan/hiroba HIROBA_SANITIZED=1 $(PY) -m pytest -q tests/e2e
	HIROBA_TEST_DATABASE=postgres HIROBA_BIN=$(CURDIR)/build-asan/hiroba HIROBA_SANITIZED=1 \
	    $(PY) -m pytest -q tests/e2e

# Time-boxed libFuzzer runs (clang); not part of `make test`, which replays the corpora instead.
FUZZ_SECONDS ?= 60
fuzz:
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@for f in build-fuzz/fuzz_*; do t=$${f##*/fuzz_}; \
	    echo "== $$t"; $$f -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/http.dict \
	        tests/fuzz/corpus/$$t || exit 1; done

check-layers:
	@tools/check-layers.sh

format:
	@clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]')

tidy:
	@cmake --preset dev >/dev/null
	@clang-tidy -quiet -p build-dev $$(git ls-files 'src/*.c') 2>/dev/null
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --suppress=missingIncludeSystem --inline-suppr -I src $$(git ls-files 'src/*.c')

clean:
	rm -rf build build-dev build-asan build-fuzz
