# The two commands of the README:
#   make run     set up what is missing, build, and open the dashboard (ARGS="..." passes arguments)
#   make test    set up what is missing, build, and run the whole test suite
# scripts/setup.sh creates the torch 2.9.0 environment once in ~/.cache/alexnet-tui and prints the
# variables cargo needs; every target evaluates them first.
SHELL := /bin/bash
SETUP = eval "$$(bash scripts/setup.sh)" &&

.PHONY: run test build bench lint fmt

run:
	@$(SETUP) cargo run --quiet --release -- $(ARGS)

test:
	@$(SETUP) cargo test --release -- $(TEST_ARGS)

build:
	@$(SETUP) cargo build --release

bench:
	@$(SETUP) cargo run --quiet --release -- bench $(ARGS)

lint:
	@$(SETUP) cargo fmt --check && cargo clippy --release --all-targets -- -D warnings
