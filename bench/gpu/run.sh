#!/usr/bin/env bash
# The one GPU session script of the CUDA backend (issue #5): build with the CUDA toolkit only, run the
# kernel tests and the CPU-parity check, then the training-step benchmark side by side with PyTorch + PEFT
# on the same GPU; full logs to OUTDIR, a short table last. Budget: under 5 minutes on an H200.
#
#   bench/gpu/run.sh OUTDIR
#
# Needs: nvcc (+ cuBLAS), a C compiler, python3 with torch/transformers/peft for the peer side. Nothing
# else of seqlora's dependencies (htslib, jansson, OpenBLAS ...): the module is built straight from
# src/nn/cuda, the driver (bench/gpu/cuda_bench.c) is plain C + dlopen, the CPU references are the committed
# tests/data/cuda/ref_*.bin (written by the CPU engines, tests/cuda/refgen.c; ctest
# cuda_reference_current_* keeps them current).
# Environment: SEQLORA_GPU_ARCH (e.g. 90; default: read from nvidia-smi, else 90), SEQLORA_BENCH_STEPS.
set -uo pipefail # no -e: a failing part must not hide the others
out=${1:?usage: bench/gpu/run.sh OUTDIR}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
out=$(cd "$out" && pwd)
build="$out/build"
mkdir -p "$build"
t_start=$(date +%s)
log() { echo "[$(($(date +%s) - t_start))s] $*" | tee -a "$out/run.log"; }

nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
arch=${SEQLORA_GPU_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')}
arch=${arch:-90}
log "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1); sm_$arch"
gen="-gencode=arch=compute_$arch,code=sm_$arch"

# cuBLAS: the toolkit's, else the pip wheel's (nvidia-cublas) that PyTorch uses; linked by full path with an
# rpath, so that nothing depends on the loader's configuration there.
cuda_home=$(dirname "$(dirname "$(command -v nvcc)")")
cublas_inc="" cublas_lib=""
for d in "$cuda_home/include" "$cuda_home/targets/x86_64-linux/include"; do
  [ -f "$d/cublas_v2.h" ] && { cublas_inc=$d; break; }
done
for d in "$cuda_home/lib64" "$cuda_home/lib" "$cuda_home/targets/x86_64-linux/lib"; do
  ls "$d"/libcublasLt.so* >/dev/null 2>&1 && { cublas_lib=$d; break; }
done
if [ -z "$cublas_inc" ] || [ -z "$cublas_lib" ]; then
  pyc=$(python3 -c 'import nvidia.cublas as m; print(list(m.__path__)[0])' 2>/dev/null)
  if [ -n "$pyc" ]; then
    [ -z "$cublas_inc" ] && cublas_inc=$pyc/include
    [ -z "$cublas_lib" ] && cublas_lib=$pyc/lib
  fi
fi
lib_of() { ls "$cublas_lib/$1.so" "$cublas_lib/$1".so.* 2>/dev/null | head -1; }
blas_link="$(lib_of libcublas) $(lib_of libcublasLt) -Xlinker -rpath,$cublas_lib"
log "cuBLAS headers: ${cublas_inc:-not found}; libraries: ${cublas_lib:-not found}"

# 1. build (the three compiles in parallel)
log "build"
timeout 300 nvcc -O2 -std=c++17 $gen -Xcompiler -fPIC,-fvisibility=hidden -shared -Isrc ${cublas_inc:+-I$cublas_inc} \
  src/nn/cuda/api.cu src/nn/cuda/model.cu src/nn/cuda/kernels.cu src/util/error.c $blas_link \
  -o "$build/libseqlora_cuda.so" >"$out/build_module.log" 2>&1 &
p1=$!
timeout 300 nvcc -O2 -std=c++17 $gen -Isrc tests/cuda/test_kernels.cu src/nn/cuda/kernels.cu src/util/error.c \
  -o "$build/test_cuda_kernels" >"$out/build_kernels.log" 2>&1 &
p2=$!
timeout 120 cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Isrc bench/gpu/cuda_bench.c -ldl -lm \
  -o "$build/cuda_bench" >"$out/build_driver.log" 2>&1
b3=$?
wait $p1; b1=$?
wait $p2; b2=$?
log "build: module rc=$b1, kernel test rc=$b2, driver rc=$b3 (logs build_*.log)"
mod="$build/libseqlora_cuda.so"

# 2. kernels vs CPU references
if [ "$b2" = 0 ]; then
  log "kernel tests"
  timeout 120 "$build/test_cuda_kernels" >"$out/kernels.log" 2>&1
  log "kernel tests rc=$?"
fi

# 3. parity with the CPU engine, five references: BERT a (single-label, LoRA on all six kinds, trained
#    pooler) and b (multi-label, query+value, frozen pooler, odd length); esm (Nucleotide Transformer v2:
#    rotary, token dropout, SwiGLU), esm1 (ESM-1b / NT v1: absolute positions, GELU), d2 (DNABERT-2: Wqkv,
#    ALiBi, GeGLU, hidden dropout): fp32 logits/loss/grads (1e-4), bf16/fp16 (2e-2), 50-step curves, the
#    inference model, and (fp32) a resume after 3 of 6 steps byte-identical
if [ "$b1" = 0 ] && [ "$b3" = 0 ]; then
  log "parity check"
  : >"$out/check.log"
  for ref in tests/data/cuda/ref_small.bin tests/data/cuda/ref_small_b.bin tests/data/cuda/ref_esm.bin \
    tests/data/cuda/ref_esm1.bin tests/data/cuda/ref_d2.bin; do
    echo "== $ref" >>"$out/check.log"
    timeout 150 "$build/cuda_bench" "$mod" check "$ref" >>"$out/check.log" 2>&1
    log "parity check $ref rc=$?"
  done
fi

# 4. the step benchmark, seq 512, batch 8 and 32, fp32 and bf16; each side in its own process
steps=${SEQLORA_BENCH_STEPS:-10}
: >"$out/bench.jsonl"
for prec in bf16 fp32; do
  for b in 8 32; do
    if [ "$b1" = 0 ] && [ "$b3" = 0 ]; then
      log "seqlora $prec batch $b"
      timeout 120 "$build/cuda_bench" "$mod" bench --batch $b --seq 512 --precision $prec --steps $steps \
        --warmup 2 >>"$out/bench.jsonl" 2>>"$out/bench.err"
      log "rc=$?"
    fi
    log "torch+peft $prec batch $b"
    timeout 150 python3 bench/gpu/torch_peft_bench.py --batch $b --seq 512 --precision $prec --steps $steps \
      --warmup 2 >>"$out/bench.jsonl" 2>>"$out/bench.err"
    log "rc=$?"
  done
done
# 4b. the other families at the DNABERT-2-117M / NT shape (12 x 768, seq 512, bf16; no PyTorch peer here:
#     the DNABERT-2 hub code is not installed on the GPU machine): DNABERT-2 batch 8 and 32 (LoRA on Wqkv,
#     hidden dropout), NT v2 layout batch 8 (LoRA on query + value, classifier head trained)
if [ "$b1" = 0 ] && [ "$b3" = 0 ]; then
  for fb in "d2 8" "d2 32" "esm 8"; do
    read -r fam bs <<<"$fb"
    log "seqlora $fam bf16 batch $bs"
    timeout 120 "$build/cuda_bench" "$mod" bench --family "$fam" --batch "$bs" --seq 512 --precision bf16 \
      --vocab 4096 --steps $steps --warmup 2 >>"$out/bench.jsonl" 2>>"$out/bench.err"
    log "rc=$?"
  done
fi
# 5. the CLI path (train / predict / evaluate / score / serve --device cuda) when a packed binary came along
#    (bench/gpu/pack-cli.sh on the development machine; the GPU machine lacks seqlora's Debian libraries):
#    tests/cuda/test_train_device.py and test_infer_device.py (score and serve on bundles of BERT, merged
#    BERT and NT v1 vs the CPU within 1e-4 fp32) with the real module instead of the emulated one. The
#    byte-identical resume check may fail on a GPU (the gradient-norm atomics are order-dependent); the
#    tolerance checks are the ones that must pass.
bundle=${SEQLORA_CLI_BUNDLE:-build-gpu-cli/bundle.tar.xz}
if [ -f "$bundle" ] && [ "$b1" = 0 ] && nvidia-smi -L >/dev/null 2>&1; then
  log "CLI path (train/predict/evaluate --device cuda) with $bundle"
  cli="$build/cli"
  mkdir -p "$cli"
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$cli"
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s/seqlora" "$@"\n' \
    "$cli" "$cli" >"$cli/seqlora.sh"
  chmod +x "$cli/seqlora.sh"
  "$cli/seqlora.sh" --version >"$out/cli.log" 2>&1
  SEQLORA_BIN="$cli/seqlora.sh" SEQLORA_CUDA_EMU="$mod" SEQLORA_CUDA_KIND=gpu SEQLORA_TEST_TMP="$build/cli_tmp" \
    timeout 240 python3 tests/cuda/test_train_device.py >>"$out/cli.log" 2>&1
  log "CLI path rc=$? (cli.log)"
  log "CLI inference (score/predict --model/serve --device cuda) vs the CPU"
  SEQLORA_BIN="$cli/seqlora.sh" SEQLORA_CUDA_EMU="$mod" SEQLORA_CUDA_KIND=gpu SEQLORA_TEST_TMP="$build/cli_tmp" \
    SEQLORA_SOURCE_DIR="$PWD" timeout 150 python3 tests/cuda/test_infer_device.py >>"$out/cli.log" 2>&1
  log "CLI inference rc=$? (cli.log)"
else
  log "CLI path: skipped (no GPU, or no $bundle: make it with bench/gpu/pack-cli.sh BUILD_DIR build-gpu-cli)"
fi
log "done in $(($(date +%s) - t_start)) s"
python3 bench/gpu/summarize.py "$out" | tee "$out/summary.txt"
