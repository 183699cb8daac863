#!/usr/bin/env bash
# Dependency direction checks (issue 12).
#
# imps-wire is the codec: bytes in, typed messages out. It must not pull in
# an async runtime or any I/O crate, so that the client, the server, the
# bench and the fuzzers can all use it as plain code. Fails when its normal
# dependency tree names one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(tokio|tokio-[a-z-]+|async-std|smol|mio|futures|futures-[a-z-]+|hyper|hyper-util|axum|tower|reqwest|rusqlite|sqlx|async-nats|socket2)$'
deps=$(cargo tree -p imps-wire -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
bad=$(printf '%s\n' "$deps" | grep -E "$forbidden" || true)
if [ -n "$bad" ]; then
  echo "imps-wire depends on runtime or I/O crates:" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi
echo "imps-wire: $(printf '%s\n' "$deps" | wc -l) crates in its tree, none async or I/O"

# imps-bench measures the server the way an operator runs it: it drives
# the impsd binary and links only the client and the codec, never the
# server's crates.
bench=$(cargo tree -p imps-bench -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
linked=$(printf '%s\n' "$bench" | grep -E '^(impsd|imps-core|imps-store|imps-testkit)$' || true)
if [ -n "$linked" ]; then
  echo "imps-bench links server crates:" >&2
  printf '  %s\n' $linked >&2
  exit 1
fi
echo "imps-bench: links none of impsd, imps-core, imps-store"
