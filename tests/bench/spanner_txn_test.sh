#!/usr/bin/env bash
# spanner-bench's transaction workloads against a real 10-group cluster:
# every cell completes operations (the bench exits 1 when a run completes
# none), the bank's total is checked after each run and holds, a target
# that cannot run them (echo) prints n/a, and the table reports commit wait
# and 2PC growth. Counts operations, times nothing.
#   spanner_txn_test.sh BIN_DIR
set -euo pipefail
bin=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-txn-test.XXXXXX")
out=$dir/out.txt
trap '"$bin/spanner" cluster down --dir "$dir/c" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$bin/spanner" cluster up --dir "$dir/c" --zones 3 --groups 10 --latency none >/dev/null
"$bin/spanner-bench" --target spanner --endpoints "$dir/c" --target echo \
    --workload txn1,txn2,txn10,bank --clients 1,3 --ops 30 --keys 40 >"$out" 2>&1 ||
    { cat "$out"; echo "spanner-bench failed"; exit 1; }
fail() { cat "$out"; echo "FAIL: $1"; exit 1; }
grep -q '^txn10 .* txn10 .* echo .* n/a' "$out" || fail "echo should print n/a for txn10"
grep -q '^bank .*transfer spanner ' "$out" || fail "no bank row"
grep -q '^check, spanner bank c=1: 1 of 1 runs passed$' "$out" || fail "bank check c=1"
grep -q '^check, spanner bank c=3: 1 of 1 runs passed$' "$out" || fail "bank check c=3"
grep -q '^commit wait, spanner txn2 c=1: ' "$out" || fail "no commit wait line"
grep -q '^2PC growth, spanner c=3: txn10 p50 ' "$out" || fail "no 2PC growth line"
grep -Eq '^goal: spanner c=3: 2PC p50 growth 1 -> 10 groups <= 1.5x +[0-9.]+x  (met|missed)$' \
    "$out" || fail "no 2PC growth goal line"
# Contended transfers may stay wounded through the runner's retries (counted
# as errors, and legitimate); any other error is a failure.
if grep '^first error, spanner' "$out" | grep -qv 'SP_ETXN_WOUNDED\|SP_ETXN_ABORTED'; then
    fail "spanner reported an error"
fi
# The CLI's `spanner bench --cluster DIR` is spanner-bench against that cluster.
"$bin/spanner" bench --cluster "$dir/c" --workload put --clients 1 --ops 20 >"$out" 2>&1 ||
    { cat "$out"; echo "spanner bench failed"; exit 1; }
grep -Eq '^put +1 put +spanner +[0-9]+ ' "$out" || fail "spanner bench: no put row"
echo ok
