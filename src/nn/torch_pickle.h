/* PyTorch checkpoints (`pytorch_model.bin`, the zip format torch.save writes since 1.6) read safely:
 * the zip is read with libarchive and `data.pkl` with a restricted unpickler that understands only what a
 * state dict uses and executes nothing.
 *
 * Accepted: pickle protocols 2-5 opcodes for None/bool/int/float/str, tuples, lists, dicts, the memo,
 * MARK, REDUCE, BUILD (state ignored, on dicts only) and BINPERSID; globals collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the typed storage classes
 * (torch.FloatStorage, HalfStorage, BFloat16Storage, DoubleStorage, LongStorage, IntStorage,
 * ShortStorage, CharStorage, ByteStorage, BoolStorage). Any other global (os.system, builtins.eval,
 * a model class of a pickled nn.Module ...) or opcode is refused with SL_EDATA naming it, before anything
 * is built; since no Python exists here, nothing can be executed in any case. The top-level object must
 * be a dict of name -> tensor (a state dict). Tensors may be strided views and share storage; each is
 * copied out contiguous. A big-endian `byteorder` record is refused. */
#ifndef SEQLORA_NN_TORCH_PICKLE_H
#define SEQLORA_NN_TORCH_PICKLE_H

#include <stddef.h>

#include "safetensors.h"
#include "util/error.h"

typedef struct sl_nn_pt_file sl_nn_pt_file;

/* Read the state dict of `path`. Errors: SL_ENOTFOUND/SL_EIO (file), SL_EDATA (not a torch zip, a refused
 * global or opcode, malformed pickle, a storage missing or too short for a tensor's view), SL_ENOMEM. On
 * failure *out is NULL. */
int sl_nn_pt_open(const char *path, sl_nn_pt_file **out, sl_err *err);

void sl_nn_pt_close(sl_nn_pt_file *file);

/* The tensors in state-dict order; data is contiguous little-endian (owned by the file), dtype the
 * storage's. Thread-safe after open. */
size_t sl_nn_pt_count(const sl_nn_pt_file *file);
const sl_nn_st_tensor *sl_nn_pt_tensor_at(const sl_nn_pt_file *file, size_t i);
const sl_nn_st_tensor *sl_nn_pt_find(const sl_nn_pt_file *file, const char *name);

/* Convert `bin_path` to a safetensors file at `st_path` (atomically; metadata {"format": "pt"}; dtypes
 * kept): the bytes safetensors.torch.save_file writes for the same (contiguous, unshared) tensors. */
int sl_nn_pt_to_safetensors(const char *bin_path, const char *st_path, sl_err *err);

/* The weights of a Hugging Face model directory as a safetensors file, whichever format it ships, in this
 * order: `model.safetensors` (opened with mmap); `pytorch_model.bin` (read as above, converted in memory;
 * sl_nn_st_path names the .bin); a sharded checkpoint, `model.safetensors.index.json` or
 * `pytorch_model.bin.index.json` (its weight_map's shards, plain file names in the directory, gathered
 * in memory; a tensor missing from its shard is SL_EDATA). No weights is SL_ENOTFOUND naming the files. */
int sl_nn_model_weights_open(const char *model_dir, sl_nn_st_file **out, sl_err *err);

#endif
