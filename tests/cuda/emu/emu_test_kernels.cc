// tests/cuda/test_kernels.cu compiled as host C++ against the emulated runtime and the host kernel twins
// (emu_kernels.cc): it checks the GPU test's own references (and the twins the emulated module runs) here,
// so that a GPU session does not spend its time on a wrong reference. The CUDA kernels themselves are
// checked by the same source on a GPU (cuda_gpu_kernels).
#include "../test_kernels.cu"
