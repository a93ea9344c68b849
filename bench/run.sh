#!/usr/bin/env bash
# Side-by-side benchmark of Taube against Postfix, aiosmtpd and smtp-sink (see bench/README.md).
#   bench/run.sh           full run: 3 repetitions per point, writes bench/RESULTS.md (~10-20 min)
#   bench/run.sh --quick   one repetition per point, prints the table only
#   bench/run.sh --smoke   small CI version (well under a minute): fails if a run fails or a
#                          message is lost (or, relayed, duplicated)
#   --only relay|receive   with any mode: only the relay, or only the receiving, measurements
#   --only scale           the queue scale measurement (10k, 100k, 1M deferred messages; not part
#                          of a whole run: ~10 GB of disk, ~20 min); in full mode it replaces the
#                          "Queue scale" section of RESULTS.md; --quick/--smoke skip the 1M point
# Needs root (private Postfix instance, smtp-sink -u nobody) and the packages of
# `scripts/install-deps.sh bench`. TAUBE_BIN overrides build/taube.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cmd="bench/run.sh${*:+ $*}"
mode=full
only=all
usage="usage: bench/run.sh [--smoke|--quick] [--only relay|receive|scale]"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=smoke ;;
    --quick) mode=quick ;;
    --only) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; only="$2"; shift ;;
    --only=*) only="${1#--only=}" ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
case "$only" in all|relay|receive|scale) ;; *) echo "$usage" >&2; exit 2 ;; esac
# 10,000 idle client connections plus as many server sockets: raise the open-files limit
# (children inherit it). Root may raise the hard limit; otherwise take what there is.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
[ -n "${MAKELEVEL:-}" ] && [ "$mode" = full ] && cmd="make bench (bench/run.sh)"
args=(--taube "${TAUBE_BIN:-$repo/build/taube}" --command "$cmd" --only "$only")
case "$mode" in
  smoke) args+=(--smoke) ;;
  quick) args+=(--quick) ;;
  # A partial run prints its tables only: RESULTS.md holds whole runs.
  full) [ "$only" = all ] && args+=(--write-results "$here/RESULTS.md")
        [ "$only" = scale ] && args+=(--write-section "$here/RESULTS.md") ;;
esac
exec "$py" "$here/bench.py" "${args[@]}"
