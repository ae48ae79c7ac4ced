/* safetensors files (https://github.com/huggingface/safetensors): reading with the validation the
 * reference (Rust) reader applies, and writing the same bytes `safetensors.torch.save_file` writes.
 *
 * Layout: u64 little-endian header length N, N bytes of a UTF-8 JSON object (the header), then the data
 * buffer. The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the data buffer) and may hold "__metadata__", a string -> string map.
 *
 * The reader rejects (SL_EDATA, the message names the file, the tensor and what was expected):
 *   a file shorter than 8 bytes; N > 100,000,000; 8 + N beyond the end of the file; a header that is not
 *   UTF-8 JSON, not an object, or has a duplicate key; a non-string metadata value; a tensor entry that
 *   is not an object, lacks a field, has an unknown field, an unknown dtype string, a negative or
 *   non-integer dimension or offset, more than SL_NN_ST_MAX_DIMS dimensions; end < begin; a byte length
 *   other than numel * dtype size; offsets that do not tile the data buffer exactly (after sorting by
 *   begin: the first begin must be 0, every begin must equal the previous end — no gaps, no overlaps —
 *   and the last end must be the end of the file); size overflow.
 * Every dtype of the format is accepted in a file (so I64 `position_ids` buffers of old checkpoints or
 * U8 masks do not make a file unreadable); only F32, F16 and BF16 tensors can be read as weights
 * (sl_nn_st_read_f32 refuses the others with an error naming the tensor and its dtype).
 *
 * The file is mmap'd read-only; tensor data pointers stay valid until sl_nn_st_close. Data is
 * little-endian as the format defines; this code assumes a little-endian host (checked at open).
 * An opened file is immutable: concurrent reads from several threads are safe. */
#ifndef SEQLORA_NN_SAFETENSORS_H
#define SEQLORA_NN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define SL_NN_ST_MAX_DIMS 8
#define SL_NN_ST_MAX_HEADER 100000000ULL

/* The dtypes of the format, in the order of the reference crate's `Dtype` enum (0.4.x), which is also
 * the order its writer sorts by (larger first). */
typedef enum {
    SL_NN_ST_BOOL = 0,
    SL_NN_ST_U8,
    SL_NN_ST_I8,
    SL_NN_ST_F8_E5M2,
    SL_NN_ST_F8_E4M3,
    SL_NN_ST_I16,
    SL_NN_ST_U16,
    SL_NN_ST_F16,
    SL_NN_ST_BF16,
    SL_NN_ST_I32,
    SL_NN_ST_U32,
    SL_NN_ST_F32,
    SL_NN_ST_F64,
    SL_NN_ST_I64,
    SL_NN_ST_U64,
    SL_NN_ST_DTYPE_COUNT
} sl_nn_st_dtype;

/* One tensor of an opened file. All fields are owned by the file. */
typedef struct sl_nn_st_tensor {
    const char *name;
    sl_nn_st_dtype dtype;
    int ndim;                         /* 0 for a scalar */
    int64_t shape[SL_NN_ST_MAX_DIMS]; /* shape[0..ndim) */
    size_t numel;                     /* product of the shape (1 for a scalar) */
    size_t nbytes;                    /* numel * sl_nn_st_dtype_size(dtype) */
    const void *data;                 /* raw little-endian bytes inside the mapping (may be unaligned) */
} sl_nn_st_tensor;

typedef struct sl_nn_st_file sl_nn_st_file;

/* "F32", "BF16", ... for a dtype; NULL for an out-of-range value. */
const char *sl_nn_st_dtype_name(sl_nn_st_dtype dtype);
/* The dtype for a name ("F32" ...); returns 0 and sets *out, or SL_ENOTFOUND for an unknown name. */
int sl_nn_st_dtype_from_name(const char *name, sl_nn_st_dtype *out);
/* Bytes per element (1, 2, 4 or 8). */
size_t sl_nn_st_dtype_size(sl_nn_st_dtype dtype);

/* Open and validate `path` (see the list above). On success *out owns the mapping; free it with
 * sl_nn_st_close. On failure *out is NULL and `err` says what is wrong (SL_EIO for OS errors, SL_EDATA for
 * a malformed file, SL_ENOMEM). */
int sl_nn_st_open(const char *path, sl_nn_st_file **out, sl_err *err);

/* Unmap and free. NULL is fine. */
void sl_nn_st_close(sl_nn_st_file *file);

/* The path given to sl_nn_st_open. */
const char *sl_nn_st_path(const sl_nn_st_file *file);

/* Number of tensors, and the i-th in name order (strcmp), for iteration; NULL when i is out of range. */
size_t sl_nn_st_count(const sl_nn_st_file *file);
const sl_nn_st_tensor *sl_nn_st_tensor_at(const sl_nn_st_file *file, size_t i);

/* The tensor called `name`, or NULL (binary search; no allocation). */
const sl_nn_st_tensor *sl_nn_st_find(const sl_nn_st_file *file, const char *name);

/* The metadata value for `key`, or NULL when there is no such key (or no "__metadata__" at all).
 * sl_nn_st_metadata_count/_at iterate the pairs in key order. */
const char *sl_nn_st_metadata(const sl_nn_st_file *file, const char *key);
size_t sl_nn_st_metadata_count(const sl_nn_st_file *file);
/* 1 when the header has a "__metadata__" object (possibly empty), 0 when it has none (or null). */
int sl_nn_st_has_metadata(const sl_nn_st_file *file);
int sl_nn_st_metadata_at(const sl_nn_st_file *file, size_t i, const char **key, const char **value);

/* Convert tensor `t` (F32, F16 or BF16) to float into dst[0..n); n must equal t->numel. Other dtypes
 * and a wrong n are SL_EDATA with a message naming the file and the tensor. Thread-safe. */
int sl_nn_st_tensor_to_f32(const sl_nn_st_file *file, const sl_nn_st_tensor *t, float *dst, size_t n,
                           sl_err *err);

/* Find `name` and convert it as above; a missing tensor is SL_ENOTFOUND ("<file>: no tensor <name>"). */
int sl_nn_st_read_f32(const sl_nn_st_file *file, const char *name, float *dst, size_t n, sl_err *err);

/* Like sl_nn_st_read_f32, and the tensor's shape must be exactly shape[0..ndim): a mismatch is SL_EDATA
 * ("<file>: tensor <name> has shape [3, 4], expected [4, 4]"). The usual way to load a weight. */
int sl_nn_st_read_f32_shape(const sl_nn_st_file *file, const char *name, int ndim, const int64_t *shape,
                            float *dst, sl_err *err);

/* A tensor to write: `data` holds numel * dtype-size bytes, little-endian, C order. */
typedef struct sl_nn_st_wtensor {
    const char *name;
    sl_nn_st_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
} sl_nn_st_wtensor;

/* Write a safetensors file atomically (temp file, fsync, rename; nothing is left at `path` on failure).
 * `metadata` is NULL or a NULL-terminated list of key, value, key, value, ... strings; PEFT and
 * transformers expect {"format": "pt"}, so pass that for checkpoints others will load.
 * The bytes are those `safetensors.torch.save_file` (0.4.x) writes for the same tensors and metadata:
 * tensors ordered by dtype (larger enum value first) then name, compact JSON with "__metadata__" first
 * (its keys sorted), the header padded with spaces to a multiple of 8. Names must be unique, non-empty
 * and not "__metadata__" (SL_EUSAGE otherwise). */
int sl_nn_st_write(const char *path, const sl_nn_st_wtensor *tensors, size_t n, const char *const *metadata,
                   sl_err *err);

/* The bytes sl_nn_st_write would write, as a malloc'd buffer (*buf, *len; caller frees). */
int sl_nn_st_serialize(const sl_nn_st_wtensor *tensors, size_t n, const char *const *metadata, void **buf,
                       size_t *len, sl_err *err);

/* Open a safetensors image held in memory: `buf` (malloc'd, `len` bytes) is taken over — freed by
 * sl_nn_st_close, or here on failure. `name` stands for the file in messages and sl_nn_st_path. The same
 * validation as sl_nn_st_open. */
int sl_nn_st_open_memory(const char *name, void *buf, size_t len, sl_nn_st_file **out, sl_err *err);

/* Half-precision conversions used by the reader (exposed for the engine and tests). Round-to-nearest-even
 * on the way down, exact on the way up; NaN and infinities are kept. */
float sl_nn_f16_to_f32(uint16_t h);
float sl_nn_bf16_to_f32(uint16_t h);
uint16_t sl_nn_f32_to_f16(float f);
uint16_t sl_nn_f32_to_bf16(float f);

#endif
