#!/bin/sh
# spanner-check's exit codes on the history files: 0 valid, 1 violation
# (and the anomaly named on stdout), 2 bad input or usage (line named).
# usage: check_cli.sh SPANNER_CHECK HISTORIES_DIR
set -u
bin=$1
dir=$2
fail=0
expect() { # expect CODE PATTERN ARGS...
    code=$1 pattern=$2
    shift 2
    out=$("$bin" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$code" ] || ! printf '%s\n' "$out" | grep -q -- "$pattern"; then
        echo "FAIL: spanner-check $* -> exit $rc (want $code, output matching '$pattern')"
        printf '%s\n' "$out"
        fail=1
    else
        echo "ok: spanner-check $* -> $rc ($pattern)"
    fi
}
expect 0 "verdict: valid" "$dir/clean.jsonl"
expect 1 "G-single " "$dir/g_single.jsonl"
expect 1 "G2 " "$dir/write_skew.jsonl"
expect 1 "bank-total" --workload bank --bank-total 100 "$dir/bank.jsonl"
expect 0 "verdict: valid" --workload bank "$dir/bank.jsonl"
expect 2 "line 3: truncated" "$dir/truncated.jsonl"
expect 2 "line 2: malformed JSON" "$dir/malformed.jsonl"
expect 2 "no transactions" /dev/null
expect 2 "usage" --workload nope "$dir/clean.jsonl"
expect 2 "usage"
tmp=$(mktemp)
expect 0 "" --generate 3000 --seed 5 "$tmp"
expect 0 "verdict: valid" "$tmp"
expect 0 "" --generate 3000 --seed 5 --stale-every 50 "$tmp"
expect 1 "G-single-realtime" "$tmp"
expect 0 "" --generate 3000 --workload bank "$tmp"
expect 0 "verdict: valid" --workload bank "$tmp"
rm -f "$tmp"
exit $fail
