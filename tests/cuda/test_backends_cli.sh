#!/usr/bin/env bash
# seqlora backends / device selection from the CLI: the binary starts and falls back to the CPU whatever
# the state of the CUDA module (missing, disabled, present without a device); a bad --device is exit 2.
set -u
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
bin=$SEQLORA_BIN
out=$("$bin" backends); rc=$?
check "backends exits 0" '[ $rc = 0 ]'
check "first line is the CPU: its fp32 GEMM library, bf16 or why not" 'printf "%s\n" "$out" | head -1 | grep -Eq "^cpu \(fp32 GEMMs: (oneDNN|OpenBLAS); bf16: (oneDNN|no, .+)\)$"'
out2=$(SEQLORA_GEMM=openblas "$bin" backends)
check "SEQLORA_GEMM=openblas: fp32 GEMMs on OpenBLAS" 'printf "%s\n" "$out2" | head -1 | grep -q "^cpu (fp32 GEMMs: OpenBLAS; "'
check "auto resolves to a device" 'printf "%s\n" "$out" | grep -Eq "^--device auto -> (cpu: using the CPU: .+|cuda:0)$"'
out=$(SEQLORA_CUDA_MODULE=/nonexistent/libseqlora_cuda.so "$bin" backends); rc=$?
check "missing module: exit 0, CPU, reason given" '[ $rc = 0 ] && printf "%s\n" "$out" | grep -q "^--device auto -> cpu: using the CPU: cannot load the CUDA module"'
out=$(SEQLORA_CUDA_MODULE=none "$bin" backends --device cuda 2>&1); rc=$?
check "cuda requested but disabled: exit 2 with the reason" '[ $rc = 2 ] && printf "%s\n" "$out" | grep -q "error: --device cuda: disabled by SEQLORA_CUDA_MODULE=none"'
out=$("$bin" backends --device cpu); rc=$?
check "--device cpu" '[ $rc = 0 ] && printf "%s\n" "$out" | grep -q "^--device cpu -> cpu$"'
out=$("$bin" backends --device tpu 2>&1); rc=$?
check "bad --device: exit 2 naming the value" '[ $rc = 2 ] && printf "%s\n" "$out" | grep -q "'"'"'tpu'"'"' is not a device"'
exit $fail
