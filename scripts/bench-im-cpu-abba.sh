#!/usr/bin/env bash
# Usage: BENCH=.../imps-bench BASE_BIN=.../impsd HEAD_BIN=.../impsd RATE=4000 SECS=8 scripts/bench-im-cpu-abba.sh
# ABBA: one load tool, two impsd builds, fixed rate. A side in ORDER may
# name a transport of `imps-bench im` after a slash: ORDER="head/ws
# head/http-tcpcir head/http-tcpcir head/ws" compares the phone path with
# WebSocket on one build (a side without one uses TRANSPORT, default ws).
# USERS (default 100) users. Server CPU (utime+stime from /proc) over the
# measured phase: the last SECS seconds before the phase's result line
# appears. The server's pid is the one imps-bench
# prints when it has started it ("impsd pid N serving ...").
set -u
BENCH=${BENCH:?path of the imps-bench binary}
declare -A BIN=([base]=${BASE_BIN:?old impsd binary} [head]=${HEAD_BIN:?new impsd binary})
RATE=${RATE:-4000}; SECS=${SECS:-8}
tck=$(getconf CLK_TCK)
for side in ${ORDER:-base head head base base head head base}; do
  build=${side%%/*}
  transport=${TRANSPORT:-ws}
  [ "$build" != "$side" ] && transport=${side#*/}
  bin=${BIN[$build]}
  out=${TMPDIR:-/tmp}/abba-$build-$transport-$RANDOM.log
  $BENCH im --impsd "$bin" --transport "$transport" --users "${USERS:-100}" --secs "$SECS" --rate "$RATE" > "$out" 2>&1 &
  bpid=$!
  pid=""; ts=(); cs=(); done_at=""
  while kill -0 $bpid 2>/dev/null; do
    [ -z "$pid" ] && pid=$(sed -n 's/^impsd pid \([0-9][0-9]*\) serving .*/\1/p' "$out" | head -1)
    if [ -n "$pid" ] && [ -r /proc/$pid/stat ]; then
      c=$(awk '{print $14+$15}' /proc/$pid/stat 2>/dev/null)
      if [ -n "$c" ]; then ts+=("$(date +%s.%N)"); cs+=("$c"); fi
    fi
    if [ -z "$done_at" ] && grep -q "peak" "$out"; then done_at=${#ts[@]}; fi
    sleep 0.1
  done
  [ -z "$done_at" ] && done_at=${#ts[@]}
  end=$((done_at-1)); tend=${ts[$end]}; cend=${cs[$end]}
  start=$end
  while [ $start -gt 0 ] && [ "$(echo "$tend - ${ts[$start]} < $SECS" | bc)" = 1 ]; do start=$((start-1)); done
  dt=$(echo "$tend - ${ts[$start]}" | bc); dc=$((cend-${cs[$start]}))
  msgs=$(grep -oE "delivered +[0-9]+/s" "$out" | grep -oE "[0-9]+")
  cpu_ms_per_msg=$(echo "scale=4; ($dc*1000/$tck) / ($msgs*$dt)" | bc)
  echo "$build/$transport window=${dt}s server_cpu=$(echo "scale=2; $dc/$tck" | bc)s delivered=${msgs}/s cpu_ms_per_msg=$cpu_ms_per_msg :: $(grep -oE "p50 +[0-9.]+ ms +p99 +[0-9.]+ ms" "$out")"
done
