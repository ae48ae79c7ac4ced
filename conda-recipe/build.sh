#!/bin/bash
# conda-build script for both outputs of meta.yaml (seqlora and seqlora-cuda).
#
# Also runs outside conda: set PREFIX (install prefix), SRC_DIR (an unpacked source tree) and CPU_COUNT.
# The configuration is the README's (`cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release`) plus the
# install prefix, the backend switch, no test targets and no oneDNN (conda-forge ships oneDNN 3.x; the CPU
# bf16 path uses the 2.x C API, so `--precision bf16` on the CPU is not in conda builds yet); ${CMAKE_ARGS} carries conda's toolchain settings.
# Installs bin/seqlora and, for seqlora-cuda, lib/seqlora/libseqlora_cuda.so (the CUDA backend module that
# seqlora loads at run time from ../lib/seqlora; set SEQLORA_CUDA_ARCHS in CMAKE_ARGS to change its GPUs).
set -euo pipefail

: "${PREFIX:?PREFIX must name the install prefix}"
: "${SRC_DIR:?SRC_DIR must name the source tree}"
CPU_COUNT=${CPU_COUNT:-1}

cuda=OFF
if [[ ${PKG_NAME:-seqlora} == seqlora-cuda ]]; then
  cuda=ON
fi

cd "${SRC_DIR}"
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of arguments
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} \
  -DCMAKE_INSTALL_PREFIX="${PREFIX}" -DCMAKE_INSTALL_LIBDIR=lib -DSEQLORA_CUDA="${cuda}" -DSEQLORA_TESTS=OFF \
  -DSEQLORA_ONEDNN=OFF
cmake --build build -j "${CPU_COUNT}"
cmake --install build
