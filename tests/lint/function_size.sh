#!/usr/bin/env bash
# Every function of the product's C++ sources (cli/, geo/, kernels/) within the limits that
# .clang-tidy sets: readability-function-size (lines) and readability-function-cognitive-
# complexity. Run by ctest as `lint_function_size` from the Release build's
# compile_commands.json; any function over a limit fails the test and is named.
# Usage: function_size.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
mapfile -t files < <(cd "$src" && find cli geo kernels -name '*.cpp' -not -path '*/tests/*' | sort)
[ "${#files[@]}" -gt 0 ] || { echo "no sources found under $src" >&2; exit 1; }
cd "$src"
status=0
# The build's flags are GCC's (-Werror under GP_WERROR, GCC-only attributes): clang reads them
# for parsing only, so its own diagnostics must not fail the check.
out=$(run-clang-tidy -quiet -p "$build" -j "$(nproc)" -extra-arg=-Wno-error \
  -extra-arg=-Wno-unknown-attributes -extra-arg=-Wno-unknown-warning-option \
  -checks='-*,readability-function-size,readability-function-cognitive-complexity' \
  "${files[@]/#/$src/}" 2>&1) || status=$?
out=$(printf '%s\n' "$out" | sed -e 's/\x1b\[[0-9;]*m//g')  # run-clang-tidy always colours
found=$(printf '%s\n' "$out" | grep -E 'warning: function .* (exceeds recommended size|has cognitive complexity)' || true)
if [ -n "$found" ]; then
  printf '%s\n' "$found"
  echo "lint_function_size: the functions above exceed the limits in .clang-tidy" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  printf '%s\n' "$out" | tail -40
  echo "lint_function_size: run-clang-tidy failed (exit $status)" >&2
  exit 1
fi
echo "lint_function_size: ${#files[@]} files, every function within the limits of .clang-tidy"
