#!/usr/bin/env bash
# Server load benchmarks with imps-bench against an impsd child process
# (the binary beside imps-bench; temp data dir, ports chosen by the OS): logins/s (password, digest),
# KeepAlive-Request/s and empty Polling-Request/s, each in XML and WBXML.
# Each run lasts DURATION seconds (default 5) and stops by itself.
# SKIP_BUILD=1 uses the impsd and imps-bench already built.
#
# Set URL=http://host:port/imps to load a running server instead; its
# users bench0000.. must exist with password bench-pw
# (impsd user add-many --prefix bench --count 200 --password bench-pw).
# Results and their reading: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
TARGET=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BENCH="${TARGET:-target}/release/imps-bench"
url_flag=()
[ -n "${URL:-}" ] && url_flag=(--url "$URL")

echo "nproc: $(nproc)"
grep -m1 'model name' /proc/cpuinfo || true
busy=$(ps -eo comm= | grep -cxE 'rustc|cc1|cc1plus|ld|cargo' || true)
[ "${busy:-0}" -gt 0 ] && echo "WARNING: $busy compiler processes running; figures will be noisy"

[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -p impsd -p imps-bench

run() {
  echo "\$ imps-bench $*   (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  "$BENCH" "$@" "${url_flag[@]}" --duration-secs "$DURATION"
}

for enc in xml wbxml; do
  run login --mode password --encoding "$enc"
  run login --mode digest --encoding "$enc"
  run keepalive --op keepalive --encoding "$enc"
  run keepalive --op poll --encoding "$enc"
done
