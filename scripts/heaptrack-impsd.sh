#!/usr/bin/env sh
# An impsd for `imps-bench ... --impsd scripts/heaptrack-impsd.sh`: runs
# `impsd serve` under heaptrack, every other command (user add-many) as
# it is. Needs an impsd built with the system allocator (heaptrack does
# not see mimalloc):
#
#   CARGO_PROFILE_RELEASE_DEBUG=1 cargo build --release -p impsd -p imps-bench \
#       --features impsd/system-alloc
#   IMPSD_REAL=target/release/impsd HEAPTRACK_OUT=/tmp/ht \
#       imps-bench model --idle-only --users 10000 --transport udp \
#       --impsd scripts/heaptrack-impsd.sh
#
# The profile is $HEAPTRACK_OUT/impsd.PID.zst (heaptrack_print it). Kill
# the server (the impsd child of heaptrack) with SIGKILL at the moment to
# look at: what was live then shows as "leaked" (docs/benchmarks.md,
# section 24).
set -eu
real=${IMPSD_REAL:?the impsd binary built with --features impsd/system-alloc}
if [ "${1:-}" = serve ]; then
  out=${HEAPTRACK_OUT:-/tmp/heaptrack-impsd}
  mkdir -p "$out"
  # heaptrack's own script, signalled, would stop its interpreter before
  # the profile is written: a SIGTERM goes to the server instead, and this
  # waits for heaptrack to finish.
  heaptrack -o "$out/impsd.%p" "$real" "$@" >"$out/heaptrack.log" 2>&1 &
  hp=$!
  trap 'kill -TERM $(pgrep -P "$hp" -x impsd) 2>/dev/null || true' TERM INT
  while kill -0 "$hp" 2>/dev/null; do
    wait "$hp" || true
  done
  exit 0
fi
exec "$real" "$@"
