#!/usr/bin/env bash
# Run every fuzz target in turn (one at a time), SECONDS each (default 180), logs in LOGDIR (default artifacts/logs, ignored by git).
#   rust/fuzz/run_all.sh [seconds] [target...]
# cargo-fuzz needs nightly flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 lets the stable toolchain
# take them. -a: debug assertions and overflow checks; -timeout: an input over 10 s is a hang.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-180}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(decode_frame json gunzip mutate_frame)
logdir="${LOGDIR:-artifacts/logs}"
mkdir -p "$logdir"
[ -f corpus/plan.dict ] || python3 build_corpus.py
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
  case "$t" in
    gunzip) extra=(-max_len=8192) ;;
    json) extra=(-max_len=16384 -dict=corpus/plan.dict) ;;
    *) extra=(-max_len=32768 -dict=corpus/plan.dict) ;;
  esac
  echo "== $t: ${secs}s"
  cargo fuzz run -O -a "$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${extra[@]}" 2>&1 | tee "$logdir/$t.log" | grep -E "INITED|DONE|Done|ERROR|panicked" || true
done
