# keyseal: two commands for a new user — `make demo` and `make test` (README.md).
.PHONY: bootstrap test demo bench vectors clean-logs

bootstrap:
	@scripts/bootstrap.sh

## test: bootstrap, then every suite (fmt, clippy, native, wasm in Node, wasm in headless Chromium, fuzz)
test: bootstrap
	@scripts/test.sh

## vectors: regenerate tests/vectors/*.json (checked in; review the diff)
vectors:
	cargo run --example gen_vectors

## demo: arrives with the demo issue
demo: bootstrap
	@echo "make demo: the demo page arrives with the demo issue (see README.md); for now run 'make test'." >&2
	@exit 2
