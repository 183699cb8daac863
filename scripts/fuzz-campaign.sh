#!/usr/bin/env bash
# A fuzz campaign: runs each libFuzzer target of fuzz/ for a set number of
# executions, one target at a time, one job, niced, and records per target
# the executions, exec/s, crashes (artifacts), coverage (libFuzzer's final
# cov:/ft: figures), peak memory and wall time, as a markdown table in
# fuzz/results/<UTC date>.md (appended to, so several runs on one day stay
# together). Not part of CI: a full run takes tens of minutes.
#
# Usage: scripts/fuzz-campaign.sh [options] [target...]
#   targets: wbxml_decode xml_decode csp_typed http_request (default: all)
#   --runs N            executions per target (default 10000000; env RUNS)
#   --max-time S        also stop each target after S seconds (default 0:
#                       no time limit; env MAX_TIME)
#   --http-max-time S   time budget of http_request, the slow one
#                       (default 1200; env HTTP_MAX_TIME; 0 = none)
#   --no-build          use the binaries already built
#   --fresh             start from the seeds only (the target's corpus
#                       dir is moved aside first)
#
# Env: SANITIZER (default none; "address" works too, ~3x slower),
#      TIMEOUT (per-input seconds, default 10), RSS_LIMIT_MB (default 2048),
#      NICE (default 10).
#
# Builds with the stable toolchain: with --sanitizer none cargo-fuzz passes
# only stable -C flags; a sanitizer adds -Zsanitizer, which stable rustc
# takes only with RUSTC_BOOTSTRAP=1, so the build always sets it. See
# fuzz/README.md.
#
# Exit status: 0 when no target found a crash, 1 when one did, 2 on a
# usage or build error.

set -euo pipefail

ALL_TARGETS=(wbxml_decode xml_decode csp_typed http_request)
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-0}
HTTP_MAX_TIME=${HTTP_MAX_TIME:-1200}
SANITIZER=${SANITIZER:-none}
TIMEOUT=${TIMEOUT:-10}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-2048}
NICE=${NICE:-10}
BUILD=1
FRESH=0
targets=()

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --max-time) MAX_TIME=$2; shift 2 ;;
        --http-max-time) HTTP_MAX_TIME=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --fresh) FRESH=1; shift ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ=$ROOT/fuzz
cd "$FUZZ"
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }

TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN=$FUZZ/target/$TRIPLE/release
DAY=$(date -u +%Y-%m-%d)
RESULTS=$FUZZ/results/$DAY.md
LOGS=$FUZZ/results/logs
mkdir -p "$LOGS" "$FUZZ/artifacts"

if [ "$BUILD" = 1 ]; then
    echo "== building ${targets[*]} (sanitizer $SANITIZER)"
    for t in "${targets[@]}"; do
        RUSTC_BOOTSTRAP=1 nice -n "$NICE" cargo fuzz build -O --sanitizer "$SANITIZER" "$t" \
            || { echo "build of $t failed" >&2; exit 2; }
    done
fi

if [ ! -f "$RESULTS" ]; then
    {
        echo "# Fuzz campaign, $DAY"
        echo
        echo "Written by scripts/fuzz-campaign.sh. Rustc: $(rustc -V | cut -d' ' -f2), sanitizer: $SANITIZER, one job."
        echo
    }  > "$RESULTS"
fi
{
    echo "## Run started $(date -u +%H:%M:%SZ)"
    echo
    echo "Settings: -runs=$RUNS, max time ${MAX_TIME}s (http_request ${HTTP_MAX_TIME}s; 0 = none), -timeout=$TIMEOUT, -rss_limit_mb=$RSS_LIMIT_MB, nice $NICE. Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| Target | Executions | Wall time (s) | exec/s | cov (edges) | ft (features) | Corpus | Peak RSS (MB) | Crashes | Ended by |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
} >> "$RESULTS"

found=0
for t in "${targets[@]}"; do
    [ -x "$BIN/$t" ] || { echo "no binary $BIN/$t (build it, or drop --no-build)" >&2; exit 2; }
    corpus=$FUZZ/corpus/$t
    if [ "$FRESH" = 1 ] && [ -d "$corpus" ]; then
        mv "$corpus" "$corpus.old-$(date -u +%Y%m%d%H%M%S)"
    fi
    mkdir -p "$corpus" "$FUZZ/artifacts/$t"
    limit=$MAX_TIME
    if [ "$t" = http_request ]; then limit=$HTTP_MAX_TIME; fi
    log=$LOGS/$DAY-$(date -u +%H%M%S)-$t.log
    before=$(find "$FUZZ/artifacts/$t" -type f | sort)
    echo "== $t: -runs=$RUNS max_total_time=$limit, log $log"
    # http_request keeps its SQLite store under TMPDIR: a directory of
    # this run's own (in memory when /dev/shm is there), removed after.
    tmp=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/impsd-fuzz.XXXXXX")
    start=$(date +%s)
    set +e
    TMPDIR=$tmp nice -n "$NICE" "$BIN/$t" "$corpus" "$FUZZ/seeds" \
        -runs="$RUNS" -max_total_time="$limit" \
        -timeout="$TIMEOUT" -rss_limit_mb="$RSS_LIMIT_MB" \
        -artifact_prefix="$FUZZ/artifacts/$t/" \
        -print_final_stats=1 > "$log" 2>&1
    rc=$?
    set -e
    rm -rf "$tmp"
    wall=$(( $(date +%s) - start ))
    new=$(comm -13 <(echo "$before") <(find "$FUZZ/artifacts/$t" -type f | sort) | sed '/^$/d')
    crashes=$(echo -n "$new" | grep -c . || true)
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    execs=$(stat number_of_executed_units)
    eps=$(stat average_exec_per_sec)
    rss=$(stat peak_rss_mb)
    # The last status line carries the final coverage: "#N DONE cov: C ft: F corp: U/S ...".
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<< "$last")
    if [ "$rc" = 0 ]; then
        if [ -n "$execs" ] && [ "$execs" -ge "$RUNS" ]; then ended="runs"; else ended="time"; fi
    else
        ended="exit $rc"
        grep -qE 'ERROR: libFuzzer|panicked|deadly signal|==ERROR' "$log" && ended="CRASH (exit $rc)"
        [ "$crashes" -gt 0 ] || crashes="? (see log)"
        found=1
    fi
    row="| $t | ${execs:-?} | $wall | ${eps:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | ${rss:-?} | $crashes | $ended |"
    echo "$row" >> "$RESULTS"
    echo "$row"
    if [ "$rc" != 0 ]; then
        echo "   artifacts: $(echo "$new" | tr '\n' ' ')"
        echo "   stack: grep -A40 -E 'panicked|ERROR' $log"
    fi
done
echo >> "$RESULTS"
echo "== results in $RESULTS"
exit "$found"
