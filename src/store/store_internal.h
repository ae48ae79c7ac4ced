/* Internals of the store shared by its files (not part of the public contract). */
#ifndef SEQLORA_STORE_STORE_INTERNAL_H
#define SEQLORA_STORE_STORE_INTERNAL_H

#include <lmdb.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

struct sl_store {
    char *root;      /* absolute store root */
    char *index_dir; /* LMDB environment folder */
    MDB_env *env;
    MDB_dbi db_meta, db_blobs, db_actions, db_edges, db_pins;
    pid_t pid; /* the process that opened the env (LMDB handles must not cross fork) */
};

/* ---- I/O with fault injection (fault.c) ------------------------------------------------------------
 * SEQLORA_FAULT="op:N[:errno]" (op = write|fsync|rename|link, N ≥ 1, errno = ENOSPC (default) | EIO)
 * makes the Nth call of that operation in this process fail with that errno. Used by the tests. */
int sl_store_io_write(int fd, const void *data, size_t len, const char *what, sl_err *err);
int sl_store_io_fsync(int fd, const char *what, sl_err *err);
int sl_store_io_rename(const char *from, const char *to, sl_err *err);
/* link(from, to): returns 0, 1 when `to` already exists (EEXIST), or a negative code. */
int sl_store_io_link(const char *from, const char *to, sl_err *err);
/* Fault to inject for the next call of `op` (0 = none). */
int sl_store_fault_next(const char *op);

/* The process umask, read once per process (umask() can only be read by setting it, which would race
 * with threads creating files; sl_store_open reads it before a process starts its threads). Thread-safe. */
mode_t sl_store_umask(void);
/* The mode of a published blob, record or pin: read-only minus the umask (0444 & ~umask), so a
 * controlled-access store under umask 077 stays owner-only. Thread-safe. */
mode_t sl_store_published_mode(void);

/* A new temp file under <root>/tmp (O_EXCL, mode 0600); *path malloc'd. */
int sl_store_tmpfile(sl_store *s, const char *tag, char **path, sl_err *err);

/* Publish a fully written, fsynced temp file at `final` (link, or rename where link is not supported),
 * fsync the directory, unlink the temp. Returns 0, 1 when `final` already existed (temp removed), or an
 * error. */
int sl_store_publish(const char *tmp, const char *final, sl_err *err);

/* Write a small file atomically under the store (tmp → fsync → rename → dir fsync), with fault injection. */
int sl_store_write_small(sl_store *s, const char *final, const void *data, size_t len, int replace,
                         sl_err *err);

/* Compression of a blob's first bytes: SL_STORE_CODEC_RAW for gzip/BGZF, zip, xz, bzip2 magic. */
int sl_store_sniff_codec(const unsigned char *head, size_t n);

/* ---- index (index.c) -------------------------------------------------------------------------------- */
int sl_store_index_open(sl_store *s, sl_err *err);
void sl_store_index_close(sl_store *s);
int sl_store_index_put_blob(sl_store *s, const char *hex, const sl_store_blob_info *info, sl_err *err);
/* Index a checked record: the action entry and its edges. */
int sl_store_index_put_action(sl_store *s, const json_t *record, sl_err *err);
/* Drop the index entries of many actions (with their edges) and blobs in ONE transaction: all or none.
 * actions and blobs are JSON objects used as sets (hex -> anything); either may be empty. Used by gc,
 * which commits this before deleting any file. */
int sl_store_index_del_many(sl_store *s, const json_t *actions, const json_t *blobs, sl_err *err);
int sl_store_index_put_pin(sl_store *s, const char *hex, char kind, sl_err *err);
int sl_store_index_del_pin(sl_store *s, const char *hex, sl_err *err);
/* 1 when the index has the meta "generation" entry (it was filled once). */
int sl_store_index_is_filled(sl_store *s);
int sl_store_index_mark_filled(sl_store *s, sl_err *err);
int sl_store_index_clear(sl_store *s, sl_err *err);

/* ---- records --------------------------------------------------------------------------------------- */
/* "actions/ab/<key>.json" as a malloc'd absolute path. */
char *sl_store_record_path(const sl_store *s, const char *key);
/* Parse + check a record file. */
int sl_store_record_load_file(const char *path, const char *expect_key, json_t **record, sl_err *err);

/* Blob stat from the file: fills info (size from the zstd frame header or file size). */
int sl_store_blob_file_info(const char *path, sl_store_blob_info *info, sl_err *err);

/* Read the blob file at `path` (anywhere: the store or a temp file) and check it holds the bytes of `hex`. */
int sl_store_read_blob_file(const char *path, const char *hex, sl_store_sink sink, void *user, sl_err *err);

/* Every valid record of the store, read from actions/ (not the index), and who produced what. */
typedef struct sl_store_graph {
    json_t *records;   /* key → record */
    json_t *mtimes;    /* key → record file mtime (seconds, real) */
    json_t *producers; /* digest → [keys of the records that output it] */
    json_t *trees;     /* digest → true, for every artifact some record declares a tree */
} sl_store_graph;
int sl_store_graph_load(sl_store *s, sl_store_graph *g, sl_err *err);
void sl_store_graph_free(sl_store_graph *g);

/* Close the sets over "a record keeps what it references (tree entries included) and the records that
 * produced its inputs; a blob keeps the records that produced it". recs and blobs are JSON objects used as
 * sets (hex → true); both grow. */
int sl_store_graph_closure(sl_store *s, const sl_store_graph *g, json_t *recs, json_t *blobs, sl_err *err);

/* Walk every file under a folder of the store: fn(user, path, name); used by reindex, verify, gc. */
int sl_store_walk(const char *dir, int (*fn)(void *user, const char *path, const char *name), void *user,
                  sl_err *err);

/* Move a file into quarantine/ (keeps its name plus a timestamp). */
int sl_store_quarantine(sl_store *s, const char *path, sl_err *err);

#endif
