#!/usr/bin/env bash
# Large-data tests, separate from scripts/js-test.sh so the main suite stays fast:
# a 1 GiB encryptStream → decryptStream round trip in headless Chromium with flat wasm memory,
# ranged decrypts through a real HTTP Range server counting the bytes it sent, and header-only
# rotation of 1,000 sealed objects on disk (js/test/large.mjs). About 2–4 minutes on 2 cores.
# Output ends with `js-large GROUP: N passed, M failed` lines and `js-large: N passed, M failed`.
# Env: KEYSEAL_SKIP_PKG_BUILD=1 (use pkg/ as it is), KEYSEAL_LARGE_GROUPS=stream,range,rotate,
#      KEYSEAL_LARGE_STREAM_MIB=64,256,1024, KEYSEAL_LARGE_OBJECTS=1000,
#      KEYSEAL_LARGE_OBJECT_BYTES=1048576, KEYSEAL_LARGE_VERBOSE=1.
set -euo pipefail
NAME=js-large
source "$(dirname "$0")/js-prepare.sh"

exec node js/test/large.mjs "$@"
