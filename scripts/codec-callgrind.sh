#!/usr/bin/env bash
# Instruction counts per decoded document, ours vs libwbxml, under
# callgrind: repeatable on a busy machine where wall-clock is not.
#
#   scripts/codec-callgrind.sh CORPUS [OURS_STAGE_LOOP] [LIB_STAGE_LOOP]
#
# CORPUS is a directory written by write_bench_corpus ... 1.2 --doctype.
# OURS_STAGE_LOOP defaults to $TARGET/release/examples/stage_loop
# (cargo build --release -p imps-wire --example stage_loop);
# LIB_STAGE_LOOP is built here from scripts/libwbxml-stage-loop.c when not
# given (needs libwbxml2-dev). Each stage runs N=1 and N=1+REPS times; the
# per-document count is the difference / REPS, so process start-up and
# reading the file are left out. REPS defaults to 20.
# Output: a Markdown table; ratio = libwbxml Ir / ours Ir.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:?usage: $0 CORPUS [OURS_STAGE_LOOP] [LIB_STAGE_LOOP]}
REPS=${REPS:-20}
TARGET=${CARGO_TARGET_DIR:-target}
OURS=${2:-$TARGET/release/examples/stage_loop}
LIB=${3:-}
if [ -z "$LIB" ]; then
  LIB=$(mktemp -d)/libwbxml-stage-loop
  # shellcheck disable=SC2046 # pkg-config's flags are meant to split
  cc -O2 -o "$LIB" scripts/libwbxml-stage-loop.c $(pkg-config --cflags --libs libwbxml2)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one program run.
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" >/dev/null 2>"$tmp/vg.err" ||
    { cat "$tmp/vg.err" >&2; exit 1; }
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.out"
}

# Instructions per run: (N=1+REPS) - (N=1), over REPS.
per_run() {
  local a b
  a=$(ir "$@" 1)
  b=$(ir "$@" $((REPS + 1)))
  echo $(((b - a) / REPS))
}

echo "| file | stage | ours Ir | libwbxml Ir | ratio |"
echo "|---|---|---:|---:|---:|"
for x in "$CORPUS"/*.doctype.xml; do
  name=$(basename "$x" .doctype.xml)
  for stage in xml_decode wbxml_decode; do
    if [ $stage = xml_decode ]; then
      o=$(per_run "$OURS" xml_decode "$CORPUS/$name.xml")
      l=$(per_run "$LIB" xml_decode CSP12 "$x")
    else
      o=$(per_run "$OURS" wbxml_decode "$CORPUS/$name.wbxml")
      l=$(per_run "$LIB" wbxml_decode CSP12 "$CORPUS/$name.wbxml")
    fi
    echo "| $name | $stage | $o | $l | $(awk -v o="$o" -v l="$l" 'BEGIN{printf "%.1fx", l/o}') |"
  done
done
