# keyseal: two commands for a new user — `make demo` and `make test` (README.md).
.PHONY: bootstrap test demo bench vectors pkg fuzz format-diff

bootstrap:
	@scripts/bootstrap.sh

## test: bootstrap, then every suite (fmt, clippy, native, wasm in Node and headless Chromium, the package,
## JS in six runtimes, large data, the demo end to end, the edge worker in workerd, the Vite and webpack
## bundler examples, fuzz)
test: bootstrap
	@scripts/test.sh

## fuzz: every cargo-fuzz target for FUZZ_RUNS executions (default 10 million) from the kept corpus in
## fuzz/seeds/, which it then extends with inputs that found new coverage (review and commit them).
## About 30 minutes on 2 cores; `make test` runs each target for 30 s instead (fuzz/run.sh).
fuzz: bootstrap
	@fuzz/run.sh --runs $${FUZZ_RUNS:-10000000}

## test-bundlers: every bundler example (examples/bundlers/: Vite, webpack, Next.js) built by its own tool from
## the packed package and run in headless Chromium (and Next's Node and Edge runtimes) against a real
## keyseal-kms. `make test` runs the fast set (Vite build and dev server, webpack; ~12 s warm); this adds
## Next.js (~35 s warm in all). scripts/bundlers-test.sh; docs/BUILDING.md "Bundler examples".
.PHONY: test-bundlers
test-bundlers: bootstrap
	@scripts/bundlers-test.sh vite vite-dev webpack next

## format-diff: the format in JS (js/src/format) against the Rust reference on many more mutated messages
## than `make test` samples: 50× its counts (100,000 parsed, 15,000 opened, 3,000 random messages) in Node
## and headless Chromium, on a fresh seed unless KEYSEAL_FORMAT_SEED is set (printed; a failure names it).
.PHONY: format-diff
format-diff: bootstrap
	@seed=$${KEYSEAL_FORMAT_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; echo "format-diff: seed $$seed"; \
	  KEYSEAL_FORMAT_SEED=$$seed KEYSEAL_FORMAT_DIFF_SCALE=$${KEYSEAL_FORMAT_DIFF_SCALE:-50} \
	  scripts/js-test.sh --runtimes node,chromium --only 'format in JS'

## api-docs: the API reference of js/types/index.d.ts into docs/api/ (TypeDoc; not checked in), and the
## check that every exported symbol and member has a doc comment (scripts/api-docs.sh; fails with the list;
## run by make test)
.PHONY: api-docs
api-docs:
	@scripts/api-docs.sh

## pkg: build the npm package into pkg/ (cargo release wasm32 → wasm-bindgen → wasm-opt)
pkg: bootstrap
	@pkg-config/build.sh

## vectors: regenerate tests/vectors/*.json (checked in; review the diff)
vectors:
	cargo run -p keyseal-format --example gen_vectors

## demo: two key services (primary + escrow) and the provider server with the page in www/ on
## 127.0.0.1; prints the URL; Ctrl-C stops everything. KEYSEAL_DEMO_PORT (8787) and more: demo/README.md
demo: bootstrap
	@scripts/demo.sh

## bench: keyseal beside the AWS Encryption SDK and typage in Node and headless Chromium, native core,
## sizes, key-service calls, rotation, stream memory → docs/BENCHMARKS.md (scripts/bench.sh)
bench: bootstrap
	@scripts/bench.sh

## bench-kms: load the reference key service (50 clients at /v1/unwrap on loopback, bounded) and
## write req/s and p50/p95/p99 to the "Key service" section of docs/BENCHMARKS.md; then the same
## against 2 instances on one PostgreSQL (started in a temp dir) → "Key service on PostgreSQL (2 instances)".
## Release build with LTO off (opt-level 3 as in the release profile) to keep the build short on 2 cores.
## bench-cli: the `keyseal` command line, whole process, encrypting and decrypting 1 GiB in /dev/shm beside
## `openssl speed -evp aes-256-gcm -bytes 65536`, and its max RSS at 1 GiB and 4 GiB → the "Command line"
## section of docs/BENCHMARKS.md (scripts/bench-cli.sh; `make bench` runs it too).
.PHONY: bench-cli
bench-cli:
	@scripts/bench-cli.sh

.PHONY: bench-kms
bench-kms:
	cargo build --release -p keyseal-kms --bin keyseal-kms --example bench_kms
	target/release/examples/bench_kms --bin target/release/keyseal-kms --clients 50 --seconds 3 --rate 2000 --write docs/BENCHMARKS.md
	target/release/examples/bench_kms --bin target/release/keyseal-kms --clients 50 --seconds 3 --rate 2000 --postgres 2 --write docs/BENCHMARKS.md
