#!/usr/bin/env bash
# Side-by-side IM rate: two builds (each its own impsd + imps-bench), run
# alternately on the same machine in one go, so noise hits both alike.
#   scripts/bench-im-ab.sh OLD_TARGET_RELEASE_DIR NEW_TARGET_RELEASE_DIR [ROUNDS] [SECS]
# e.g. scripts/bench-im-ab.sh /tmp/old/target/release target/release 2 8
set -euo pipefail
old=$1; new=$2; rounds=${3:-2}; secs=${4:-8}
for r in $(seq 1 "$rounds"); do
  for side in old new; do
    dir=$old; [ "$side" = new ] && dir=$new
    echo "== round $r: $side ($dir)"
    "$dir/imps-bench" im --server-bin "$dir/impsd" --users 100 --secs "$secs" | grep -E "peak"
  done
done
