#!/usr/bin/env bash
# Presence and group fan-out, two builds side by side in one run (ABBA:
# base, head, head, base by default), so that the machine's drift hits
# both alike. Each build is a directory holding the `presence_fanout` and
# `group_fanout` example binaries (built with
# `cargo build --release -p impsd --features bench-examples --examples`), e.g.
#
#   BASE=/tmp/base/target/release/examples HEAD=target/release/examples \
#     scripts/bench-fanout-abba.sh
#
# The figure to compare is the process CPU of the measured phase
# (cpu_ms_per_round for presence; cpu ms per 1,000 delivered for groups):
# wall-clock latencies are printed too but swing with the neighbours.
# PRESENCE_ARGS and GROUP_ARGS pass options to the examples.
set -euo pipefail
: "${BASE:?set BASE to the base build's examples directory}"
: "${HEAD:?set HEAD to the head build's examples directory}"
ORDER=${ORDER:-"base head head base"}
PRESENCE_ARGS=${PRESENCE_ARGS:-"--subscribers 1000 --rounds 10 --extra-owners 0"}
GROUP_ARGS=${GROUP_ARGS:-"--members 100 --messages 2000"}

echo "nproc: $(nproc); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
for side in $ORDER; do
  case $side in
    base) dir=$BASE ;;
    head) dir=$HEAD ;;
    *) echo "ORDER names base or head, not $side" >&2; exit 2 ;;
  esac
  echo "== $side presence_fanout $PRESENCE_ARGS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  # shellcheck disable=SC2086
  "$dir/presence_fanout" $PRESENCE_ARGS 2>/dev/null | sed "s/^/$side\t/"
  echo "== $side group_fanout $GROUP_ARGS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  # shellcheck disable=SC2086
  "$dir/group_fanout" $GROUP_ARGS 2>/dev/null | sed "s/^/$side\t/"
done
