# SolarHub: `make up` serves the app on http://127.0.0.1:3000, `make test` runs every test.
# Everything builds into one target dir ($CARGO_TARGET_DIR, default ./target).

COMPONENTS := solarhub-system solarhub-auth-guard solarhub-auth solarhub-admin solarhub-docs solarhub-bess solarhub-config solarhub-meters solarhub-pcs solarhub-alerts solarhub-trading solarhub-analysis solarhub-notifier solarhub-stream
FIXTURES   := solarhub-fixture-probe solarhub-fixture-greeter
NATIVE     := -p solarhub-shared -p solarhub-host -p solarhub-cli -p solarhub-admin
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
HOST       := $(TARGET_DIR)/release/solarhub-host
CLI        := $(TARGET_DIR)/release/solarhub
LISTEN     ?= 127.0.0.1:3000
# `make up RUNTIME=host` serves with the local host even when a real Spin is installed.
RUNTIME    ?= auto

.PHONY: build native test contract up lint sizes bench bench-realtime clean-cache

## build: the Spin components and the test fixtures (wasm32-wasip2)
build:
	build/wasm.sh $(COMPONENTS) $(FIXTURES)

## native: the local host and the `solarhub` CLI
native:
	cargo build --locked --release -p solarhub-host -p solarhub-cli

## test: unit tests, then integration tests of the compiled components against MariaDB and Redis,
## each end-to-end test once in the local host and once on real Spin (when one is installed)
test: build
	@scripts/which-spin.sh --describe
	cargo test --locked --release $(NATIVE)

## contract: schemathesis over /api/v1/openapi.json as every role, against the local host on stores
## of its own (CONTRACT_MAX_EXAMPLES per operation, default 25; see scripts/contract.sh)
contract: build native
	scripts/contract.sh "$(HOST)" "$(CLI)"

## up: build, migrate and seed the local databases when empty, keep live values moving, serve
up: build native
	RUNTIME=$(RUNTIME) scripts/up.sh "$(HOST)" "$(CLI)" "$(LISTEN)"

## bench: real Spin, the local host and the FastAPI reference side by side (see bench/README.md)
bench: build native
	bench/run.sh

## bench-realtime: alert event -> webhook latency and SSE fan-out, real Spin and the local host
## side by side (see bench/README.md, "Real-time")
bench-realtime: build native
	bench/realtime.sh

## lint: formatting and clippy, as CI expects them
lint:
	cargo fmt --all -- --check
	cargo clippy --locked --release --workspace --all-targets -- -D warnings

## sizes: each component's size
sizes: build
	@for c in $(COMPONENTS); do f=target/wasm32-wasip2/wasm/$$(echo $$c | tr - _).wasm; printf '%-24s %8d bytes\n' $$c $$(stat -c %s $$f); done

clean-cache:
	rm -rf $${XDG_CACHE_HOME:-$$HOME/.cache}/solarhub-host
