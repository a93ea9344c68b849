#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a while (docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (make fuzz FUZZ_SECONDS=30)
#
# SECONDS per target (default 60); TARGETs default to all of fuzz/CMakeLists.txt. Each target
# fuzzes a scratch working corpus (build-fuzz/work/<target>, fresh each run unless
# FUZZ_KEEP_CORPUS=1) seeded from the checked-in fuzz/corpus/<target>, which is only read, so the
# repository is not polluted. Crash, leak and timeout reproducers go to build-fuzz/artifacts/.
# Prints executions and coverage per target; exits non-zero if any target failed.
# Environment: FUZZ_BUILD_DIR (build-fuzz), FUZZ_KEEP_CORPUS, FUZZ_EXTRA_ARGS (more libFuzzer
# flags), CC/CXX (clang/clang++).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac

if [ $# -gt 0 ]; then
  targets=("$@")
else
  # The set(TAUBE_FUZZ_TARGETS ...) list, and the targets added to it when their library is
  # there (list(APPEND TAUBE_FUZZ_TARGETS fuzz_x)).
  mapfile -t targets < <({ sed -n '/^set(TAUBE_FUZZ_TARGETS/,/^)/p' "$root/fuzz/CMakeLists.txt" |
                             grep -E '^\s+fuzz_' | tr -d ' '
                           grep -oE 'list\(APPEND TAUBE_FUZZ_TARGETS fuzz_[a-z_]+' \
                             "$root/fuzz/CMakeLists.txt" | awk '{print $3}'; })
fi
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets found" >&2; exit 2; }

export CC="${CC:-clang}" CXX="${CXX:-clang++}"
echo "== configuring $build with $CXX" >&2
cmake -S "$root" -B "$build" -DTAUBE_BUILD_FUZZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }
echo "== building ${targets[*]}" >&2
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

mkdir -p "$build/artifacts" "$build/logs" "$build/work"
# UBSan findings abort (the code is also built with -fno-sanitize-recover); ASan checks leaks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=()
summary=()
for t in "${targets[@]}"; do
  exe="$build/fuzz/$t"
  seeds="$root/fuzz/corpus/$t"
  work="$build/work/$t"
  log="$build/logs/$t.log"
  [ -x "$exe" ] || { echo "missing fuzzer $exe" >&2; failed+=("$t"); continue; }
  [ -d "$seeds" ] || { echo "missing seed corpus $seeds" >&2; failed+=("$t"); continue; }
  if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then rm -rf "$work"; fi
  mkdir -p "$work"
  cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  echo "== $t: ${seconds}s (log: $log)" >&2
  set +e
  # shellcheck disable=SC2086
  "$exe" "$work" "$seeds" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" ${FUZZ_EXTRA_ARGS:-} \
    >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  covline=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$covline")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$covline")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$covline")
  status=ok
  if [ $rc -ne 0 ] || grep -qE '^==[0-9]+==ERROR|^SUMMARY: |deadly signal|fuzz invariant violated' "$log"; then
    status="FAILED (exit $rc)"
    failed+=("$t")
    echo "---- $t failed; last lines of $log:" >&2
    tail -40 "$log" >&2
    art=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    if [ -n "$art" ]; then
      echo "---- reproducer: $art   (replay: $exe $art)" >&2
      od -c "$art" | head -20 >&2
    fi
  fi
  summary+=("$(printf '%-20s %12s %8s %8s %12s  %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status")")
done

echo
printf '%-20s %12s %8s %8s %12s  %s\n' target executions cov ft corpus status
for line in "${summary[@]}"; do echo "$line"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing FAILED: ${failed[*]} (artifacts in $build/artifacts/)" >&2
  exit 1
fi
echo "fuzzing passed: ${#targets[@]} targets, ${seconds}s each"
