#include "nn/cuda/model.cu"
