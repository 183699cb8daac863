#!/usr/bin/env bash
# Our CSP codec against libwbxml, side by side in one run:
#   1. builds `imps` and `imps-bench` in release, and the libwbxml stage
#      timer (scripts/libwbxml-stages.c) when libwbxml2-dev is installed;
#   2. writes the criterion corpus for CSP 1.2 (libwbxml knows 1.1 and 1.2)
#      with DOCTYPE variants, plus large documents (a contact list of
#      5,000 entries, a presence notification for 2,000 contacts) so that
#      codec time, not process start-up, dominates;
#   3. times `imps xml2wbxml|wbxml2xml` against libwbxml's `xml2wbxml|
#      wbxml2xml` as processes, alternating runs, and each codec stage of
#      both in-process (imps-bench compare-codec);
#   4. the same, with fewer runs, on a 20,000-entry list, to show how each
#      scales;
#   5. runs the criterion codec bench with short settings and states it as
#      MB/s and messages/s on the realistic mix (imps-bench codec-mix).
#
# Environment: RUNS (timed runs per cell, default 30), OUT (default
# target/bench-codec), SKIP_CRITERION=1 to skip step 5, SKIP_SCALING=1 to
# skip step 4, SKIP_BUILD=1 to use the binaries already built.
# Results and their reading: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
OUT=${OUT:-target/bench-codec}
CORPUS="$OUT/corpus-1.2"
SCALING="$OUT/scaling-1.2"
TARGET=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET=${TARGET:-target}
BENCH="$TARGET/release/imps-bench"

for tool in xml2wbxml wbxml2xml; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "missing $tool: apt-get install -y libwbxml2-utils" >&2
    exit 1
  fi
done

echo "== machine"
echo "nproc: $(nproc)"
grep -m1 'model name' /proc/cpuinfo || true
echo "loadavg: $(cat /proc/loadavg)"
# Other builds on the machine skew every figure; say so instead of hiding it.
busy=$(ps -eo comm= | grep -cxE 'rustc|cc1|cc1plus|ld|cargo' || true)
if [ "${busy:-0}" -gt 0 ]; then echo "WARNING: $busy compiler processes running; figures will be noisy"; fi
echo "libwbxml: $(dpkg-query -W -f='${Version}' libwbxml2-utils 2>/dev/null || echo unknown)"

echo "== build"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p imps-client --bin imps
  cargo build --release -p imps-bench
  cargo build --release -p imps-wire --example write_bench_corpus
fi
mkdir -p "$OUT"
stages=()
if pkg-config --exists libwbxml2 2>/dev/null && command -v cc >/dev/null 2>&1; then
  # shellcheck disable=SC2046 # pkg-config's flags are meant to split
  cc -O2 -o "$OUT/libwbxml-stages" scripts/libwbxml-stages.c $(pkg-config --cflags --libs libwbxml2)
  stages=(--lib-stages "$OUT/libwbxml-stages")
else
  echo "no libwbxml2-dev or cc: in-process stage comparison skipped (apt-get install -y libwbxml2-dev)"
fi

echo "== corpus ($CORPUS)"
rm -rf "$CORPUS" "$SCALING"
# Run the built example directly: `cargo run` would wait for the build
# lock whenever anything else is building.
"$TARGET/release/examples/write_bench_corpus" "$CORPUS" 1.2 --doctype
"$BENCH" gen-corpus "$CORPUS" --csp 1.2

echo "== ours vs libwbxml ($RUNS runs each, alternating)"
echo "loadavg: $(cat /proc/loadavg)"
"$BENCH" compare-codec "$CORPUS" --runs "$RUNS" --ours "$TARGET/release/imps" --lang CSP12 \
  "${stages[@]}" | tee "$OUT/compare.md"

if [ "${SKIP_SCALING:-0}" != 1 ]; then
  echo "== scaling: 20,000-entry contact list (5 runs; libwbxml takes ~1 s per run)"
  "$BENCH" gen-corpus "$SCALING" --csp 1.2 --nicks 20000 --contacts 0
  # The smallest document is the start-up baseline of the "net" columns.
  cp "$CORPUS"/login.xml "$CORPUS"/login.doctype.xml "$CORPUS"/login.wbxml "$SCALING"/
  "$BENCH" compare-codec "$SCALING" --runs 5 --warmup 1 --ours "$TARGET/release/imps" --lang CSP12 \
    "${stages[@]}" | tee "$OUT/scaling.md"
fi

if [ "${SKIP_CRITERION:-0}" != 1 ]; then
  echo "== in-process: criterion (imps-wire codec bench, short settings)"
  echo "loadavg: $(cat /proc/loadavg)"
  cargo bench -p imps-wire --bench codec -- --warm-up-time 1 --measurement-time 3 \
    > "$OUT/criterion.txt" 2>&1 || { tail -20 "$OUT/criterion.txt"; exit 1; }
  grep -E '^(xml|wbxml)/|time:|thrpt:' "$OUT/criterion.txt" || true
  "$BENCH" codec-mix --criterion "$TARGET/criterion" --corpus "$CORPUS" | tee "$OUT/mix.md"
fi
