#!/usr/bin/env bash
# The GPU checks in one device call, for a session whose task is lent a
# GPU (the device machine has nvcc and CMake but no GDAL, GoogleTest or Google Benchmark, so the
# binaries are built here, with CUDA for sm_80/sm_90 + PTX, and packed with their libraries).
#
#   here:    cmake --build build -j && bench/gpu_session.sh pack     # .gpu-bundle/bundle.tar.xz
#   device:  run(command="bash bench/gpu_session.sh run", carry=[".gpu-bundle"], timeout_s=540)
#
# `run` writes $OUT/gpu_report.txt (and prints its tail):
#   - the device (nvidia-smi);
#   - the gpu-labelled kernel tests: CPU vs CUDA cell by cell (bit-identical for linear
#     programs, 1e-6 with exp/log), the out-of-memory test (chunks halve under a memory hog,
#     then the CPU takes over), distance transform, Monte Carlo, rank and class counters, the
#     tree ensemble (boosted and forest, CPU vs CUDA per cell);
#   - gp_kernel_bench: the scoring kernel's GB/s beside a device-to-device copy of the same
#     bytes (target: >= 0.8 of the copy), for the weighted sum and for the fuzzy
#     network (GP_BENCH_PROGRAM=network);
#   - end to end: 6 layers of 8192 x 8192 generated there (gp_gen_layers), with
#     uncompressed and with ZSTD inputs: the I/O floor (gp_io_floor), `geoprospect run` on the
#     CPU and on CUDA, best of 2, and whether the CPU and CUDA maps are the same bytes
#     (GP_E2E_SIZE=N for another side).
#   - last, as they may take long: compute-sanitizer memcheck and racecheck.
# The CLI tests need the source tree's data at this machine's paths, so they are not run there.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bins=(build/tests/kernels_cuda_backend_test build/tests/kernels_distance_test
      build/tests/kernels_montecarlo_test build/tests/kernels_class_counts_test build/tests/cli_trees_test
      build/bench/gp_kernel_bench build/geoprospect build/bench/gp_gen_layers build/bench/gp_io_floor)

case ${1:-} in
  pack)
    for b in "${bins[@]}"; do
      [[ -x $b ]] || { echo "missing $b: build first (cmake --build build -j)" >&2; exit 1; }
    done
    grep -qx '/.gpu-bundle/' .git/info/exclude 2>/dev/null || echo '/.gpu-bundle/' >>.git/info/exclude
    ../shared/tools/gpu-bundle.sh "${bins[@]}"
    ;;
  run)
    out=${OUT:-/tmp/gp_gpu_out}
    mkdir -p "$out"
    rep="$out/gpu_report.txt"
    tar -xJf .gpu-bundle/bundle.tar.xz -C /tmp || { echo "no bundle: run 'pack' here first" >&2; exit 1; }
    B=/tmp/bundle
    # libmvec belongs to glibc: the machine's own must go with its libm (if it has one).
    if ldconfig -p | grep -q 'libmvec.so.1'; then rm -f "$B/lib/libmvec.so.1"; fi
    cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
    {
      echo "== device"
      nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
      echo "== gpu-labelled kernel tests"
      "$B/run" kernels_cuda_backend_test; echo "kernels_cuda_backend_test rc=$?"
      "$B/run" kernels_distance_test --gtest_filter='DistanceTransformCuda.*'; echo "distance rc=$?"
      "$B/run" kernels_montecarlo_test --gtest_filter='MonteCarloCuda.*:RankCounterCuda.*'
      echo "montecarlo rc=$?"
      "$B/run" kernels_class_counts_test --gtest_filter='ClassCountsCuda.*'; echo "class counts rc=$?"
      "$B/run" cli_trees_test --gtest_filter='TreeKernelCuda.*'; echo "tree ensemble rc=$?"
      echo "== gp_kernel_bench: weighted sum"
      GP_BENCH_SIDES=8192 GP_BENCH_CUDA_SIDES=8192 "$B/run" gp_kernel_bench \
        --benchmark_filter='cuda|score_cpu' --benchmark_min_time=0.5
      echo "== gp_kernel_bench: network"
      GP_BENCH_PROGRAM=network GP_BENCH_SIDES=8192 GP_BENCH_CUDA_SIDES=8192 "$B/run" gp_kernel_bench \
        --benchmark_filter='cuda|score_cpu' --benchmark_min_time=0.5
      echo "== end to end: 6 x ${GP_E2E_SIZE:-8192}², floor vs geoprospect --device cpu / cuda (best of 2)"
      TIMEFORMAT=%R
      for codec in NONE ZSTD; do
        d=/tmp/gp_e2e_$codec
        "$B/run" gp_gen_layers "$d" --size "${GP_E2E_SIZE:-8192}" --compress "$codec" >/dev/null || echo "gen $codec failed"
        awk '{ print } /^\[output\][[:space:]]*$/ { print "format = \"gtiff\""; print "classes = false"
               print "quicklook = false"; print "report = false" }' "$d/model.toml" >"$d/core.toml"
        echo "-- $codec inputs: $(du -sm "$d" | cut -f1) MiB"
        for i in 1 2; do
          { time "$B/run" gp_io_floor --mode both "$d/floor.tif" "$d"/layer_*.tif >/dev/null; } 2>"$d/t"
          rc=$?
          echo "round $i floor: $(tail -1 "$d/t") s (exit $rc)"
          for dev in cpu cuda; do
            { time "$B/run" geoprospect run "$d/core.toml" -o "$d/$dev.tif" --overwrite --quiet \
                --device "$dev" >/dev/null 2>"$d/err"; } 2>"$d/t"
            rc=$?
            echo "round $i geoprospect --device $dev: $(tail -1 "$d/t") s (exit $rc)"
            [[ $rc -eq 0 ]] || head -3 "$d/err"
          done
        done
        cmp "$d/cpu.tif" "$d/cuda.tif" && echo "cpu and cuda maps: identical bytes"
        rm -rf "$d"
      done
      echo "== compute-sanitizer (${cs:-not found})"
      if [[ -n $cs ]]; then
        for tool in memcheck racecheck; do
          LD_LIBRARY_PATH="$B/lib" timeout 150 "$cs" --tool "$tool" --error-exitcode 9 \
            "$B/bin/kernels_cuda_backend_test" --gtest_filter='-*OutOfMemory*' 2>&1 | tail -25
          echo "compute-sanitizer $tool rc=${PIPESTATUS[0]}"
        done
      fi
    } >"$rep" 2>&1
    tail -80 "$rep"
    ;;
  *)
    sed -n '2,20p' "$0"
    exit 2
    ;;
esac
