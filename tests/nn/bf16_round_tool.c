/* The bf16 rounding of the CPU engine (sl_nn_bf16_round) as a command, for tests/nn/test_bf16_parity.py to
 * compare bit for bit with PyTorch's `tensor.to(torch.bfloat16)`. Not installed.
 *
 *   nn_bf16_round_tool IN.f32 OUT.u16 simd|portable   round the native-endian float32 array in IN.f32 and
 *                                                     write the bf16 bit patterns (uint16) to OUT.u16, with
 *                                                     the vectorised path (where the CPU has it) or the
 *                                                     portable one (sl_nn_k_simd_enable(0))
 *   nn_bf16_round_tool --supported                    print sl_nn_bf16_supported's answer: "1" or "0 <why>"
 *
 * Exit status 0, or 1 with a message on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm_onednn.h"
#include "nn/kernels_simd.h"
#include "util/fs.h"

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--supported")) {
        char why[256] = "";
        int ok = sl_nn_bf16_supported(why, sizeof why);
        printf(ok ? "1\n" : "0 %s\n", why);
        return 0;
    }
    if (argc != 4 || (strcmp(argv[3], "simd") && strcmp(argv[3], "portable"))) {
        fprintf(stderr, "usage: nn_bf16_round_tool IN.f32 OUT.u16 simd|portable | --supported\n");
        return 1;
    }
    sl_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    if (sl_fs_read_all(argv[1], &buf, &len, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    if (len % sizeof(float)) {
        fprintf(stderr, "%s: %zu bytes is not a whole number of float32\n", argv[1], len);
        free(buf);
        return 1;
    }
    size_t n = len / sizeof(float);
    float *src = malloc(n ? n * sizeof *src : 1);
    uint16_t *dst = malloc(n ? n * sizeof *dst : 1);
    if (!src || !dst) {
        fprintf(stderr, "out of memory\n");
        free(buf), free(src), free(dst);
        return 1;
    }
    memcpy(src, buf, len);
    sl_nn_k_simd_enable(!strcmp(argv[3], "simd"));
    sl_nn_bf16_round(dst, src, n);
    int rc =
        sl_fs_write_atomic(argv[2], dst, n * sizeof *dst, &err) ? (fprintf(stderr, "%s\n", err.msg), 1) : 0;
    free(buf), free(src), free(dst);
    return rc;
}
