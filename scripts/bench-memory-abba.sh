#!/usr/bin/env bash
# Memory per idle session (issue 19), before against after: BEFORE and
# AFTER are two impsd binaries (e.g. main built once and copied aside, and
# this branch); for each transport the runs alternate A B B A A B, each
# `imps-bench model --idle-only` with its own server process and users.
# Figures: docs/benchmarks.md section 16.
#
#   scripts/bench-memory-abba.sh BEFORE_IMPSD AFTER_IMPSD [USERS] [TRANSPORTS] [OUT_DIR]
#
# TRANSPORTS is a space-separated list of ws, tcp, udp (default all
# three). Each run logs USERS (10000) users in (digest), waits 2 s, and
# reads the server's VmRSS from /proc before the logins and after.
set -euo pipefail
before=${1:?before impsd}
after=${2:?after impsd}
users=${3:-10000}
transports=${4:-ws tcp udp}
out=${5:-$(mktemp -d)}
bench=${IMPS_BENCH:-$(dirname "$0")/../target/release/imps-bench}
mkdir -p "$out"
for t in $transports; do
  n=0
  for which in A B B A A B; do
    n=$((n + 1))
    if [ "$which" = A ]; then bin=$before; else bin=$after; fi
    echo "$t run $n ($which) $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$bench" model --idle-only --users "$users" --transport "$t" --impsd "$bin" \
      | tee "$out/$t-run$n-$which.txt" | grep '^idle'
  done
done
echo "reports in $out"
