#!/usr/bin/env bash
# Installs what `make test` and `make demo` need, idempotently. Safe to run on every call: each
# step checks first and does nothing when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # MUST equal the `wasm-bindgen` crate pin (=0.2.130) in Cargo.toml.
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'bootstrap: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  # No --locked: the CLI's lockfile pins a crate version the registry no longer serves.
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing Debian chromium and chromium-driver"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# SoftHSM2: the PKCS#11 token of the key service's HSM tests (kms/tests/hsm.rs, backups), and
# openssl for the TLS test's CA (scripts/kms-tls-test.sh).
if [ ! -f /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null || ! command -v openssl >/dev/null; then
  say "installing Debian softhsm2 and openssl"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq softhsm2 openssl >/dev/null
fi

# PostgreSQL: the shared store of several key-service instances (kms/tests/postgres.rs runs a
# real server: initdb into a temp dir, pg_ctl start on a loopback port, as the postgres user).
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v psql >/dev/null; then
  say "installing Debian postgresql"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# npm dependencies wherever a package.json is checked in.
# (pkg-config/package.json is the template of the published package, not a project to install;
# the Next.js example (~340 MB) and the API-docs tools are installed by their own targets,
# `make test-bundlers` and `make api-docs`, which `make test` does not run.)
for pj in $(git ls-files '*package.json' 2>/dev/null | grep -v -e node_modules -e '^pkg-config/' -e '^examples/bundlers/next/' -e '^scripts/api-docs/' || true); do
  d=$(dirname "$pj")
  if [ ! -d "$d/node_modules" ] || [ "$d/package.json" -nt "$d/node_modules" ]; then
    say "npm install in $d"
    if [ -f "$d/package-lock.json" ]; then (cd "$d" && npm ci --no-audit --no-fund); else (cd "$d" && npm install --no-audit --no-fund); fi
    if [ -d "$d/node_modules" ]; then touch "$d/node_modules"; fi
  fi
done

# moto's server and boto3 (PyPI, pinned in js/test/support/requirements-moto.txt) in a venv: the
# independent AWS KMS implementation and client of the aws-kms tests. Reinstalled when the pins change.
MOTO_VENV=target/moto-venv
MOTO_REQ=js/test/support/requirements-moto.txt
if [ ! -x "$MOTO_VENV/bin/moto_server" ] || ! cmp -s "$MOTO_REQ" "$MOTO_VENV/requirements.installed"; then
  say "installing moto[server] and boto3 into $MOTO_VENV (PyPI)"
  rm -rf "$MOTO_VENV"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check -r "$MOTO_REQ"
  cp "$MOTO_REQ" "$MOTO_VENV/requirements.installed"
fi
# The OTLP receiver of the tracing tests (kms/tests/support/otlp_receiver.py): the official
# OpenTelemetry proto definitions (PyPI opentelemetry-proto + protobuf, pinned in
# kms/tests/support/requirements-otlp.txt) in a venv. Reinstalled when the pins change.
OTLP_VENV=target/otlp-venv
OTLP_REQ=kms/tests/support/requirements-otlp.txt
if [ ! -x "$OTLP_VENV/bin/python" ] || ! cmp -s "$OTLP_REQ" "$OTLP_VENV/requirements.installed"; then
  say "installing opentelemetry-proto and protobuf into $OTLP_VENV (PyPI)"
  rm -rf "$OTLP_VENV"
  python3 -m venv "$OTLP_VENV"
  "$OTLP_VENV/bin/pip" install -q --disable-pip-version-check -r "$OTLP_REQ"
  cp "$OTLP_REQ" "$OTLP_VENV/requirements.installed"
fi
say "ok"
