#!/usr/bin/env bash
# `make api-docs`: the API reference of the package's types (js/types/index.d.ts) as HTML into
# docs/api/ (TypeDoc, pinned in scripts/api-docs/package.json; not checked in), then the check:
# every exported symbol (class, interface, type, function, constant) and every member (properties,
# methods, fields of object types) has a doc comment; the members without one are also listed in
# target/api-docs-undocumented.txt. Run by `make test`.
# Last line: `api-docs: N exported symbols, M without a doc comment`. Exit 1 when M > 0, when a
# member lacks one, or when TypeDoc fails.
set -euo pipefail
cd "$(dirname "$0")/.."
d=scripts/api-docs
lock_sum=$(sha256sum "$d/package-lock.json" | cut -d' ' -f1)
if [[ ! -d $d/node_modules ]] || [[ "$(cat "$d/node_modules/.keyseal-lock.sha256" 2>/dev/null)" != "$lock_sum" ]]; then
  (cd "$d" && npm ci --no-audit --no-fund >&2)
  echo "$lock_sum" >"$d/node_modules/.keyseal-lock.sha256"
fi
mkdir -p target
log=target/api-docs.log
set +e
(cd "$d" && node_modules/.bin/typedoc --options typedoc.json) 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >"$log"
rc=${PIPESTATUS[0]}
set -e
grep -v 'does not have any documentation' "$log" || true
if [[ $rc -ne 0 ]] || grep -q '^\[error\]' "$log"; then
  echo "api-docs: TypeDoc failed (exit $rc; $log)"
  exit 1
fi
undoc=$(grep 'does not have any documentation' "$log" | sed -E 's/^\[warning\] (.*), defined in .*/\1/' | sort -u || true)
top=$(grep -v '\.' <<<"$undoc" | sed '/^$/d' || true)
members=$(grep '\.' <<<"$undoc" || true)
printf '%s\n' "$members" | sed '/^$/d' >target/api-docs-undocumented.txt
exported=$(grep -cE '^export ' js/types/index.d.ts)
n_top=$(sed '/^$/d' <<<"$top" | wc -l)
n_members=$(sed '/^$/d' <<<"$members" | wc -l)
if [[ $n_top -gt 0 ]]; then
  echo "exported symbols without a doc comment (/** ... */ in js/types/index.d.ts):"
  sed 's/^/  /' <<<"$top"
fi
if [[ $n_members -gt 0 ]]; then
  echo "members without a doc comment:"
  sed 's/^/  /' target/api-docs-undocumented.txt
fi
echo "API reference: docs/api/index.html"
echo "api-docs: $exported exported symbols, $n_top without a doc comment"
[[ $n_top -eq 0 && $n_members -eq 0 ]]
