# The two commands of the README:
#   make run     set up what is missing, build, and open the dashboard (ARGS="..." passes arguments)
#   make test    set up what is missing, build, and run the whole test suite
# scripts/setup.sh creates the torch 2.9.0 environment once in ~/.cache/alexnet-tui and links it
# into .torch/, where .cargo/config.toml points cargo: `make` and plain `cargo` build alike.
SHELL := /bin/bash
SETUP = bash scripts/setup.sh &&
BINARY = target/release/alexnet-tui

.PHONY: run test build bench lint fmt

# The first build (about 6 minutes on two cores) shows cargo's progress; later ones are quiet.
run:
	@$(SETUP) if [ ! -x $(BINARY) ]; then \
		echo "first build of alexnet-tui: about 6 minutes on two cores"; \
		cargo build --release; \
	fi && cargo run --quiet --release -- $(ARGS)

# --no-fail-fast: a failing test binary does not stop the ones after it from running.
test:
	@$(SETUP) cargo test --release --no-fail-fast -- $(TEST_ARGS)

build:
	@$(SETUP) cargo build --release

bench:
	@$(SETUP) cargo run --quiet --release -- bench $(ARGS)

lint:
	@$(SETUP) cargo fmt --check && cargo clippy --release --all-targets -- -D warnings

fmt:
	@cargo fmt
