#!/usr/bin/env bash
# Side-by-side benchmark of Taube against Postfix, aiosmtpd and smtp-sink (see bench/README.md).
#   bench/run.sh           full run: 3 repetitions per point, writes bench/RESULTS.md (~10-20 min)
#   bench/run.sh --quick   one repetition per point, prints the table only
#   bench/run.sh --smoke   small CI version (well under a minute): fails if a run fails or a
#                          message is lost
# Needs root (private Postfix instance, smtp-sink -u nobody) and the packages of
# `scripts/install-deps.sh bench`. TAUBE_BIN overrides build/taube.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
mode=full
for a in "$@"; do
  case "$a" in
    --smoke) mode=smoke ;;
    --quick) mode=quick ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "usage: bench/run.sh [--smoke|--quick]" >&2; exit 2 ;;
  esac
done
# 10,000 idle client connections plus as many server sockets: raise the open-files limit
# (children inherit it). Root may raise the hard limit; otherwise take what there is.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
cmd="bench/run.sh${*:+ $*}"
[ -n "${MAKELEVEL:-}" ] && [ "$mode" = full ] && cmd="make bench (bench/run.sh)"
args=(--taube "${TAUBE_BIN:-$repo/build/taube}" --command "$cmd")
case "$mode" in
  smoke) args+=(--smoke) ;;
  quick) args+=(--quick) ;;
  full) args+=(--write-results "$here/RESULTS.md") ;;
esac
exec "$py" "$here/bench.py" "${args[@]}"
