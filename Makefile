# Millwright: the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need beyond the Rust toolchain and Python 3 is installed here, into the repo.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
STAMP       := $(VENV)/.installed-$(shell sha256sum requirements-dev.txt | cut -c1-12)
CARGO       ?= cargo
# Debug info is not needed to run tests; leaving it out halves the target directory.
export CARGO_PROFILE_DEV_DEBUG ?= 0
export CARGO_TERM_COLOR ?= always
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

FN    ?=
EVENT ?=
# The Lambda functions (`infra/template.yaml`), built by `make build`.
FUNCTION_PACKAGES := webhook-receiver order-worker order-sweep webhook-health inventory-sync
# `make bench BENCH_ARGS=--quick`: every scenario with small numbers, in seconds.
BENCH_ARGS ?=
# `make soak SOAK_SEED=N` reruns a seed; `SOAK_ARGS='--small'` is the run of `make test`,
# `SOAK_ARGS='--orders 2000'` a bigger one (the traffic period grows with it).
SOAK_SEED ?=
SOAK_ARGS ?=

.PHONY: help setup test demo lint fmt build deploy invoke local bench soak clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(STAMP) ## Install moto, cargo-lambda and cfn-lint into .venv (quick when already done).

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

test: setup ## Run the whole suite against moto and the sandbox (started and stopped here).
	$(CARGO) build --locked --workspace --all-targets
	# The world's scheduled functions stay on the demo connection: each end-to-end test runs its own.
	scripts/with-local-world.sh --stack millwright-test --schedule-connection demo -- $(CARGO) test --locked --workspace

demo: setup ## Start the local world and show every flow working end to end.
	$(CARGO) build --locked -p millwright-cli -p sandbox
	scripts/demo.sh

local: setup ## Run the local world in the foreground (Ctrl-C stops it).
	$(CARGO) run --locked -p millwright-cli -- local up

# Not part of `test`: it takes minutes and prints figures; nothing in it asserts on time.
bench: setup ## Measure the orders flow and the scheduled functions against the local world and print one table (README, "Benchmarks").
	$(CARGO) build --locked -p millwright-cli
	$(CARGO) build --locked --profile bench-fast -p millwright-bench
	# No sweep: the drain keeps its ledger in memory, so a sweep would take its orders for missed ones.
	scripts/with-local-world.sh --stack millwright-bench --sweep-every 0 --webhook-health-every 0 --inventory-sync-every 0 -- target/bench-fast/millwright-bench $(BENCH_ARGS)

# Not part of `test` either (a small seeded run is): 1,000 orders and about half an hour at most.
soak: setup ## The fault soak: 1,000 orders under faults on both APIs, every order checked against both doubles; one table (README, "Soak").
	$(CARGO) build --locked -p millwright-cli
	$(CARGO) build --locked --profile bench-fast -p millwright-bench --bin millwright-soak
	# The soak runs its own sweep and health check on its own connection, at the deployed ratio.
	scripts/with-local-world.sh --stack millwright-soak --sweep-every 0 --webhook-health-every 0 --inventory-sync-every 0 -- target/bench-fast/millwright-soak $(if $(SOAK_SEED),--seed $(SOAK_SEED)) $(SOAK_ARGS)

lint: setup ## rustfmt, clippy with warnings denied, cfn-lint.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint infra/template.yaml

fmt: ## Format the code.
	$(CARGO) fmt --all

build: setup ## Release build of every function for Lambda (arm64).
	# Only the function packages: building the bench or the e2e library beside them would unify
	# features and compile the ports' test fakes into the Lambda binaries.
	$(VENV)/bin/cargo-lambda lambda build --release --arm64 $(FUNCTION_PACKAGES:%=-p %)

deploy: build $(VENV)/.sam-installed ## Deploy with SAM (guided the first time, which writes infra/samconfig.toml).
	cd infra && if [ -f samconfig.toml ]; then sam deploy; else sam deploy --guided; fi

# SAM is needed only to deploy, so it is not part of `setup`; it shares the virtualenv with
# cargo-lambda so that `sam build` finds zig for cross-compiling.
$(VENV)/.sam-installed: $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'aws-sam-cli==1.170.0'
	touch $@

# `cargo lambda watch -A 127.0.0.1` listens on IPv4 loopback only; invoke's default address is ::1.
invoke: ## Invoke a function under `cargo lambda watch -A 127.0.0.1`: make invoke FN=webhook-receiver EVENT=events/x.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=<events/file.json>"; exit 2; }
	$(VENV)/bin/cargo-lambda lambda invoke --invoke-address 127.0.0.1 $(FN) --data-file $(EVENT)

clean: ## Remove build output, the virtualenv and local-world state.
	$(CARGO) clean
	rm -rf $(VENV) .local
