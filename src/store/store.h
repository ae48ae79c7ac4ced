/* The artifact store: content-addressed blobs, immutable action records, and an LMDB index that is a
 * rebuildable cache of both. docs/store.md specifies the on-disk format; this header is the C contract.
 *
 * Layout under the store root:
 *   blobs/sha256/ab/cd/<hex>   one blob: a zstd stream (frame checksums on) of the bytes named by <hex>, or
 *                              the raw bytes when they already are gzip/BGZF/zip/xz/bzip2 (magic bytes)
 *   actions/ab/<key>.json      one action record (canonical JSON, self-checksummed, see sl_store_record_*)
 *   pins/<hex>                 a pin (a GC root): a small JSON file naming the pinned blob or action
 *   tmp/                       temp files and run folders (never read as content)
 *   work/<key>/                a step's resumable work folder (checkpoints), removed after success
 *   quarantine/                blobs and records that failed verification
 *   locks/gc.lock              flock: writers hold it shared, gc exclusive
 *   index/                     the LMDB index (unless the store is on a network file system, see
 *                              sl_store_index_location)
 *
 * Digests and action keys are passed as 64-character lower-case hex strings (char[65]).
 *
 * Thread safety: an sl_store is used by one thread at a time. Any number of processes may use the same
 * store at once (publishing is link/rename of fsynced temp files; the index is LMDB). Within one process,
 * open a given store once at a time (LMDB's rule: a second environment on the same files in the same
 * process breaks its locks), and not across fork().
 * Errors: every function returns 0 or a negative SL_E* code and fills `err`. */
#ifndef SEQLORA_STORE_STORE_H
#define SEQLORA_STORE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct sl_store sl_store;

enum { SL_STORE_CODEC_ZSTD = 0, SL_STORE_CODEC_RAW = 1 };

typedef struct sl_store_blob_info {
    uint64_t size;   /* uncompressed bytes */
    uint64_t stored; /* bytes of the file under blobs/ */
    int codec;       /* SL_STORE_CODEC_* */
} sl_store_blob_info;

/* ---- opening ------------------------------------------------------------------------------------- */

/* Open (creating the layout if missing) the store at `root`, and its index. A new, empty index is filled
 * from the files (reindex) so a node-local index on a fresh node is complete. Stale LMDB reader slots of
 * dead processes are cleared. *out is freed with sl_store_close. */
int sl_store_open(const char *root, sl_store **out, sl_err *err);

/* Close and free (NULL is fine). */
void sl_store_close(sl_store *s);

/* The store root as given to sl_store_open (absolute), and the folder of its LMDB index. */
const char *sl_store_root(const sl_store *s);
const char *sl_store_index_dir(const sl_store *s);

/* A malloc'd "<root>/<rel>". */
char *sl_store_path(const sl_store *s, const char *rel);

/* ---- network file systems ------------------------------------------------------------------------ */

/* 1 when a statfs f_type names a network/cluster file system (NFS, Lustre, GPFS, BeeGFS, CephFS, CIFS/SMB,
 * AFS, GlusterFS via FUSE is not detectable and counts as local). *name (may be NULL) gets a static name. */
int sl_store_fs_is_network(unsigned long f_type, const char **name);

/* Where the index of a store goes. `store_abs` is the absolute store root, `is_network` the result of
 * sl_store_fs_is_network for it, `env_index_dir` $SEQLORA_INDEX_DIR (NULL/empty when unset), `tmpdir`
 * $TMPDIR (NULL/empty = /tmp), `uid` the user. Rules: SEQLORA_INDEX_DIR set → <it>/<h16>; else network →
 * <tmpdir>/seqlora-index-<uid>/<h16>; else <store>/index. <h16> = the first 16 hex digits of SHA-256 of
 * the store path. Returns a malloc'd path (NULL on allocation failure). Pure function. */
char *sl_store_index_location(const char *store_abs, int is_network, const char *env_index_dir,
                              const char *tmpdir, unsigned uid);

/* ---- blobs --------------------------------------------------------------------------------------- */

/* Ingest a regular file (or the bytes of a buffer): hash while compressing into a temp file, fsync,
 * link into blobs/, fsync the directory, then index it. If the blob already exists it is kept (its mtime
 * is refreshed for gc) after a size check. Nothing is published on any failure. `hex` gets the digest;
 * `info` (may be NULL) the sizes. */
int sl_store_put_file(sl_store *s, const char *path, char hex[65], sl_store_blob_info *info, sl_err *err);
int sl_store_put_buf(sl_store *s, const void *data, size_t len, char hex[65], sl_store_blob_info *info,
                     sl_err *err);

/* Ingest a directory tree: every regular file (symlinks followed) becomes a blob, and a canonical JSON
 * manifest {"entries":[{"digest","mode","path","size"}...],"seqlora_tree":1} sorted by path becomes the
 * blob that names the tree. Empty folders are not recorded. */
int sl_store_put_tree(sl_store *s, const char *dir, char hex[65], sl_err *err);

/* A malloc'd path of the blob file (it may not exist). */
char *sl_store_blob_path(const sl_store *s, const char *hex);

/* 1 when the blob file exists (fills `info` from the file when not NULL), 0 when not. */
int sl_store_blob_exists(sl_store *s, const char *hex, sl_store_blob_info *info);

/* Stream the uncompressed bytes of a blob to `sink` (return non-zero from it to stop with that code),
 * verifying the SHA-256 at the end: a mismatch or a corrupt frame is SL_EINTEGRITY. */
typedef int (*sl_store_sink)(void *user, const void *data, size_t len, sl_err *err);
int sl_store_read_blob(sl_store *s, const char *hex, sl_store_sink sink, void *user, sl_err *err);

/* The whole blob in memory (NUL-terminated; *len excludes the NUL), verified. */
int sl_store_read_blob_mem(sl_store *s, const char *hex, char **data, size_t *len, sl_err *err);

/* Write the blob's bytes to `dest` as a regular file (temp beside dest, verify, fsync, rename). */
int sl_store_materialise_file(sl_store *s, const char *hex, const char *dest, sl_err *err);

/* Move a damaged blob file to quarantine/ and drop its index entry (a missing file is fine). */
int sl_store_quarantine_blob(sl_store *s, const char *hex, sl_err *err);

/* Load and validate a tree manifest blob (a new reference). */
int sl_store_tree_load(sl_store *s, const char *hex, json_t **manifest, sl_err *err);

/* Recreate a tree at `dest` (built beside it, then renamed into place; an existing dest is replaced). */
int sl_store_materialise_tree(sl_store *s, const char *hex, const char *dest, sl_err *err);

/* ---- action records ------------------------------------------------------------------------------- */

/* The action key: SHA-256 of the canonical JSON of
 *   {"inputs": {role: [hex, ...]}, "params": params, "schema": 1, "step": step, "version": version}.
 * `inputs` is an object of arrays of hex strings (order within a role is kept). */
int sl_store_action_key(const char *step, int version, const json_t *params, const json_t *inputs,
                        char key[65], sl_err *err);

/* The record checksum: SHA-256 of the canonical JSON of the record without its "checksum" member. */
int sl_store_record_checksum(const json_t *record, char hex[65], sl_err *err);

/* Check a record: it has the required members, its "checksum" matches, and its "key" is the action key of
 * its step/version/params/inputs (and equals `expect_key` when not NULL). SL_EINTEGRITY otherwise. */
int sl_store_record_check(const json_t *record, const char *expect_key, sl_err *err);

/* Publish a record (adds "checksum"): written to actions/ab/<key>.json atomically, then indexed.
 * An existing record is kept unless `replace`. */
int sl_store_record_put(sl_store *s, json_t *record, int replace, sl_err *err);

/* Load and check the record of `key` from its file (SL_ENOTFOUND when there is none). */
int sl_store_record_get(sl_store *s, const char *key, json_t **record, sl_err *err);

/* Refresh a record's mtime (a cache hit counts as a use for gc). */
void sl_store_record_touch(sl_store *s, const char *key);

/* The digests a record references: its outputs, its inputs (and, for trees, nothing more: use
 * sl_store_tree_load). Calls fn(user, hex, is_tree, is_output) for each. */
void sl_store_record_each_artifact(const json_t *record,
                                   void (*fn)(void *user, const char *hex, int is_tree, int is_output),
                                   void *user);

/* ---- index and lookup ---------------------------------------------------------------------------- */

/* Rebuild the index from blobs/, actions/ and pins/ (drops everything first). */
int sl_store_reindex(sl_store *s, sl_err *err);

/* Resolve a prefix (≥ 4 hex digits, optionally "sha256:") to a full action key (*kind = 'a') or blob
 * digest (*kind = 'b'); actions win over blobs only when unambiguous. SL_ENOTFOUND / SL_EUSAGE (ambiguous).
 */
int sl_store_resolve(sl_store *s, const char *prefix, char hex[65], char *kind, sl_err *err);

/* Iterate the index: every action record (sorted by key) / every blob (sorted by digest). Stop when fn
 * returns non-zero (that value is returned). */
int sl_store_each_action(sl_store *s, int (*fn)(void *user, const char *key, const json_t *record),
                         void *user, sl_err *err);
int sl_store_each_blob(sl_store *s, int (*fn)(void *user, const char *hex, const sl_store_blob_info *info),
                       void *user, sl_err *err);

/* The actions (keys) that produced (`outputs`=1) or used (`outputs`=0) an artifact, from the index edges.
 * *keys is a malloc'd array of malloc'd strings. */
int sl_store_edges(sl_store *s, const char *hex, int outputs, char ***keys, size_t *n, sl_err *err);
void sl_store_free_strings(char **v, size_t n);

/* Drop a blob / an action from the index (the files are handled by the caller). */
int sl_store_index_del_blob(sl_store *s, const char *hex, sl_err *err);
int sl_store_index_del_action(sl_store *s, const char *key, sl_err *err);

/* ---- pins ---------------------------------------------------------------------------------------- */

/* Pin / unpin a blob or action (full hex). Pins are files under pins/ and GC roots. sl_store_pin takes the
 * gc lock shared (waiting up to an hour for a running gc) and, under it, checks that the blob file or the
 * action's record exists: SL_ENOTFOUND when it does not (e.g. a concurrent gc deleted it), so a pin that
 * returns 0 always has its target. Do not call it while holding the gc lock exclusive. */
int sl_store_pin(sl_store *s, const char *hex, char kind, sl_err *err);
int sl_store_unpin(sl_store *s, const char *hex, sl_err *err);
/* Every pin: fn(user, hex, kind). */
int sl_store_each_pin(sl_store *s, int (*fn)(void *user, const char *hex, char kind), void *user,
                      sl_err *err);

/* ---- locking ------------------------------------------------------------------------------------- */

/* The gc lock (locks/gc.lock, flock): writers take it shared for as long as they publish and reference
 * content; gc takes it exclusive, waiting up to `wait_s` seconds. Returns a file descriptor to pass to
 * sl_store_unlock, or a negative code. */
int sl_store_lock(sl_store *s, int exclusive, double wait_s, sl_err *err);
void sl_store_unlock(int fd);

/* ---- maintenance --------------------------------------------------------------------------------- */

typedef struct sl_store_verify_report {
    size_t blobs_checked, records_checked;
    size_t bad_blobs, bad_records, missing; /* missing: blobs referenced by a record but absent */
} sl_store_verify_report;

/* Re-hash every blob (or a random `sample_pct` percent, 100 = all) and check every record. A bad blob or
 * record is moved to quarantine/ and dropped from the index. `report_line` (may be NULL) is called with
 * one line per problem. Returns 0 (look at the report; the CLI exits 4 when anything is bad). */
int sl_store_verify(sl_store *s, double sample_pct, void (*report_line)(void *user, const char *line),
                    void *user, sl_store_verify_report *rep, sl_err *err);

typedef struct sl_store_gc_report {
    size_t records_removed, blobs_removed, tmp_removed;
    uint64_t bytes_freed;
    size_t records_kept, blobs_kept;
} sl_store_gc_report;

/* Garbage-collect under the exclusive lock: roots are pins and records used (mtime) within `grace_s`;
 * everything a root references (outputs, inputs, tree entries, and the records that produced pinned
 * artifacts, transitively) is kept; unreferenced blobs older than `grace_s` are deleted, as are old
 * tmp/ and work/ entries. `dry_run` only counts. */
int sl_store_gc(sl_store *s, double grace_s, int dry_run, double wait_s, sl_store_gc_report *rep,
                sl_err *err);

/* Export blobs + records to a tar file (`out` "-" = stdout): everything, or the closure of `roots`
 * (full hex of actions or blobs: the records that made them and everything they reference). */
int sl_store_export(sl_store *s, const char *out, char **roots, size_t n_roots, size_t *n_blobs,
                    size_t *n_records, sl_err *err);

/* Import such a tar: every blob is decompressed and re-hashed before it is published; every record is
 * checked and published only when all the blobs it references are present. A bad member is
 * SL_EINTEGRITY (good members already published stay: they are valid content). */
int sl_store_import(sl_store *s, const char *in, size_t *n_blobs, size_t *n_records, sl_err *err);

/* Provenance of an artifact (blob or action key): a new JSON document, RO-Crate 1.1 (format "ro-crate")
 * or W3C PROV-JSON ("prov-json"), naming every upstream action and input. */
int sl_store_prov(sl_store *s, const char *hex, const char *format, json_t **doc, sl_err *err);

/* The lineage of an artifact: the records (keys, nearest first, each once) upstream of it. */
int sl_store_lineage(sl_store *s, const char *hex, char ***keys, size_t *n, sl_err *err);

#endif
