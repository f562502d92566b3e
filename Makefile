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

.PHONY: help demo test test-rust test-python test-node test-wasm lint fmt cli conformance

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

cli: ## Build the agentauthz CLI (release)
	cargo build --release -p agentauthz-cli

demo: cli ## Walk a scripted agent session through an example bundle
	./scripts/demo.sh $(CLI)

test: ## Install what is needed and run every test (Rust, Python, Node, WASM)
	$(MAKE) lint
	$(MAKE) test-rust
	$(MAKE) test-python
	$(MAKE) test-node
	$(MAKE) test-wasm

test-rust: cli ## Rust tests: unit, conformance corpus, proptest, vectors, example bundles
	cargo test --release -p agentauthz -p agentauthz-cli
	@for b in policies-examples/*/; do $(CLI) test --bundle $$b --coverage || exit 1; done
	NO_COLOR=1 ./scripts/demo.sh $(CLI) >/dev/null

test-python: ## Build the wheel into a venv and run the Python suite
	$(MAKE) -C bindings-python test

test-node: ## Build the Node addon and run the Node suite
	$(MAKE) -C bindings-node test

test-wasm: ## Build the WASM package and run the Node and Chromium suites
	$(MAKE) -C bindings-wasm test

lint: ## cargo fmt --check and clippy -D warnings
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	cargo fmt --all -- --check
	cargo clippy --release -p agentauthz -p agentauthz-cli -p agentauthz-python -p agentauthz-node --all-targets -- -D warnings

fmt: ## Format the Rust code
	cargo fmt --all

.PHONY: bench
bench: ## Benchmark every implementation against its peers on one workload; writes bench/RESULTS.md
	$(MAKE) -C bench run
