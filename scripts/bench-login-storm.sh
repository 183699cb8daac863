#!/usr/bin/env bash
# Login storm (issue 19), before against after: BEFORE and AFTER are two
# impsd binaries (e.g. main built once, and this branch); runs alternate
# A B B A A B, each `imps-bench login-storm` with its own server process
# and its own users. Figures: docs/benchmarks.md section 11.
#
#   scripts/bench-login-storm.sh BEFORE_IMPSD AFTER_IMPSD [USERS] [OUT_DIR]
#
# Each run: USERS (10000) first password logins, logout, then all log in
# again; wall time, logins/s, server CPU (from /proc) per round, and
# KeepAlive latency of one more session during the first round.
set -euo pipefail
before=${1:?before impsd}
after=${2:?after impsd}
users=${3:-10000}
out=${4:-$(mktemp -d)}
bench=${IMPS_BENCH:-$(dirname "$0")/../target/release/imps-bench}
mkdir -p "$out"
n=0
for which in A B B A A B; do
  n=$((n + 1))
  if [ "$which" = A ]; then bin=$before; else bin=$after; fi
  echo "run $n ($which) $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$bench" login-storm --users "$users" --concurrency 32 --password-checks 2 \
    --impsd "$bin" --json > "$out/run$n-$which.json"
done
echo "reports in $out"
