#include "nn/cuda/api.cu"
