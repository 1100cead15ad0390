#!/usr/bin/env bash
# Installs what geoprospect needs to build and test on Debian 12, when it is missing.
# The CUDA toolkit is expected at /usr/local/cuda (the build compiles the CUDA backend when nvcc
# is there, and skips it otherwise).
set -euo pipefail

packages=(
  build-essential cmake g++ pkg-config
  libgdal-dev gdal-bin libproj-dev proj-bin
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-gdal python3-numpy
  libcairo2-dev fonts-dejavu-core python3-qgis qgis-providers
  librsvg2-dev                          # the validation figure's PNG, rendered from its SVG
  locales time
  libopenmpi-dev openmpi-bin                    # cluster runs: mpirun -np N geoprospect run ...
  clang libclang-rt-14-dev libomp-dev   # the fuzz preset: clang, libFuzzer, LLVM OpenMP
  clang-tidy                            # the lint_function_size test (.clang-tidy limits)
  libxgboost-dev python3-xgboost        # tree ensembles: training through XGBoost's C API; tests compare with its Python predict
  pybind11-dev python3-dev              # the Python module (cli/python)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# A comma-decimal locale for the locale test (number parsing must not depend on it).
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
  $SUDO sed -i 's/^# *\(de_DE.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -q '^de_DE.UTF-8 UTF-8' /etc/locale.gen || echo 'de_DE.UTF-8 UTF-8' | $SUDO tee -a /etc/locale.gen >/dev/null
  $SUDO locale-gen >/dev/null
fi
echo "setup: dependencies present" >&2
