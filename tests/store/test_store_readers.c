/* LMDB reader slots and map growth across processes (issue #11):
 *
 *  1. stale_reader_reclaimed: a process opens the index, begins a read transaction and is SIGKILLed. Its
 *     reader slot stays in the lock file (mdb_reader_list, seen from another process, still names its pid)
 *     while another process keeps the environment open (so the table is not simply reset). Writers and gc
 *     are not blocked by it; the next sl_store_open (in a fresh process) frees the slot (mdb_reader_check)
 *     and the list no longer names the pid.
 *  2. map_grown_under_readers: with a 32 KiB map (SEQLORA_INDEX_MAPSIZE), a writer fills it until it must
 *     grow while two other processes are open on it: one (raw LMDB) holds a read transaction across the
 *     growth and must still see its snapshot, then the new map and every entry; one (sl_store, opened before
 *     the growth) must adopt the grown map on its next read and write (MDB_MAP_RESIZED) and see every blob.
 *
 * The readers are children made with fork(); each opens its own environment (never the parent's) and
 * leaves with _exit. The listing of reader slots also runs in a child so that this process never opens the
 * same environment twice (LMDB's fcntl locks are per process). */
#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "util/fs.h"

static char *make_root(const char *name) {
    const char *base = getenv("SEQLORA_TEST_TMP");
    char *root = NULL;
    sl_err err = {0};
    if (base) {
        sl_fs_mkdirs(base, &err);
        char *p = sl_fs_join(base, name);
        sl_fs_remove_tree(p, &err);
        root = p;
    } else {
        char tmpl[] = "/tmp/sl_readers_XXXXXX";
        char *d = mkdtemp(tmpl);
        root = d ? sl_fs_join(d, name) : NULL;
    }
    return root;
}

/* Open a raw LMDB environment on the store's index folder, as sl_store does (its settings). */
static MDB_env *raw_open(const char *index_dir) {
    MDB_env *env = NULL;
    if (mdb_env_create(&env)) return NULL;
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_maxreaders(env, 512);
    if (mdb_env_open(env, index_dir, MDB_NOMETASYNC, 0666)) {
        mdb_env_close(env);
        return NULL;
    }
    return env;
}

typedef struct {
    pid_t pid;
    int n; /* slots naming pid */
    int lines;
} slot_count;

static int count_line(const char *msg, void *ctx) {
    slot_count *c = ctx;
    /* Lines are "   pid  thread  txnid", after a header line; one call may hold several lines. */
    for (const char *p = msg; *p;) {
        long pid;
        if (sscanf(p, "%ld", &pid) == 1 && pid == (long)c->pid) c->n++;
        c->lines++;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

/* How many reader slots name `pid`, as a separate process sees them (-1 on error). */
static int slots_of(const char *index_dir, pid_t pid) {
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        close(fds[0]);
        slot_count c = {pid, 0, 0};
        MDB_env *env = raw_open(index_dir);
        int n = -1;
        if (env && mdb_reader_list(env, count_line, &c) >= 0) n = c.n;
        if (env) mdb_env_close(env);
        if (write(fds[1], &n, sizeof n) != (ssize_t)sizeof n) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    int n = -1;
    if (read(fds[0], &n, sizeof n) != (ssize_t)sizeof n) n = -1;
    close(fds[0]);
    int st;
    waitpid(child, &st, 0);
    return n;
}

static int put_n(sl_store *s, int first, int n) {
    for (int i = first; i < first + n; i++) {
        char buf[64], hex[65];
        int len = snprintf(buf, sizeof buf, "reader test blob %d", i);
        sl_err err = {0};
        if (sl_store_put_buf(s, buf, (size_t)len, hex, NULL, &err)) {
            fprintf(stderr, "put %d: %s\n", i, err.msg);
            return -1;
        }
    }
    return 0;
}

static int count_blob(void *user, const char *hex, const sl_store_blob_info *info) {
    (void)hex;
    (void)info;
    (*(size_t *)user)++;
    return 0;
}

static long blobs_in(sl_store *s) {
    size_t n = 0;
    sl_err err = {0};
    if (sl_store_each_blob(s, count_blob, &n, &err)) {
        fprintf(stderr, "each_blob: %s\n", err.msg);
        return -1;
    }
    return (long)n;
}

/* Entries of the "blobs" database in a read transaction (-1 on error). */
static long raw_entries(MDB_txn *txn) {
    MDB_dbi dbi;
    MDB_stat st;
    if (mdb_dbi_open(txn, "blobs", 0, &dbi) || mdb_stat(txn, dbi, &st)) return -1;
    return (long)st.ms_entries;
}

/* A new store under SEQLORA_TEST_TMP/<name> holding `n` blobs; NULL (a failed check) when it cannot be made.
 */
static sl_store *fresh_store(const char *name, int n, char **root) {
    *root = make_root(name);
    CHECK(*root != NULL);
    if (!*root) return NULL;
    sl_store *s = NULL;
    sl_err err = {0};
    CHECK_EQ_INT(sl_store_open(*root, &s, &err), 0);
    if (!s) {
        free(*root);
        return NULL;
    }
    CHECK_EQ_INT(put_n(s, 0, n), 0);
    return s;
}

static void stale_reader_reclaimed(void) {
    char *root;
    sl_store *s = fresh_store("stale", 20, &root);
    if (!s) return;
    sl_err err = {0};
    const char *idx = sl_store_index_dir(s);

    int ready[2];
    CHECK_EQ_INT(pipe(ready), 0);
    pid_t reader = fork();
    if (reader == 0) { /* opens its own environment, begins a read transaction, waits to be killed */
        close(ready[0]);
        MDB_env *env = raw_open(idx);
        MDB_txn *txn = NULL;
        char ok = env && !mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) && raw_entries(txn) == 20 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
    }
    close(ready[1]);
    char ok = 0;
    CHECK_EQ_INT(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    CHECK(ok == 'y');
    CHECK_EQ_INT(kill(reader, SIGKILL), 0);
    int st = 0;
    waitpid(reader, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    /* The killed reader's slot is still there (this process holds the environment open). */
    CHECK_EQ_INT(slots_of(idx, reader), 1);

    /* Writers and gc are not blocked by it: new entries, a gc that deletes every unpinned blob, entries
     * again. */
    CHECK_EQ_INT(put_n(s, 100, 50), 0);
    sl_store_gc_report rep = {0};
    CHECK_EQ_INT(sl_store_gc(s, 0, 0, 5.0, &rep, &err), 0);
    CHECK_EQ_INT(rep.blobs_removed, 70);
    CHECK_EQ_INT(blobs_in(s), 0);
    CHECK_EQ_INT(put_n(s, 200, 30), 0);
    CHECK_EQ_INT(blobs_in(s), 30);

    /* The next open, in another process, frees the slot. */
    pid_t opener = fork();
    if (opener == 0) {
        sl_store *s2 = NULL;
        sl_err e2 = {0};
        int rc = sl_store_open(root, &s2, &e2);
        long n = rc ? -1 : blobs_in(s2);
        sl_store_close(s2);
        _exit(rc == 0 && n == 30 ? 0 : 1);
    }
    waitpid(opener, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ_INT(slots_of(idx, reader), 0);

    sl_store_close(s);
    sl_fs_remove_tree(root, &err);
    free(root);
}

static void map_grown_under_readers(void) {
    setenv("SEQLORA_INDEX_MAPSIZE", "32768", 1);
    char *root;
    sl_store *s = fresh_store("grow", 10, &root);
    if (!s) return;
    sl_err err = {0};
    const char *idx = sl_store_index_dir(s);
    char *data = sl_fs_join(idx, "data.mdb");
    struct stat sb;
    CHECK_EQ_INT(stat(data, &sb), 0);
    long long before = (long long)sb.st_size;

    /* go[]: parent -> children "the map has grown"; ready[]: children -> parent "my snapshot is open". */
    int go[2][2], ready[2];
    CHECK_EQ_INT(pipe(go[0]) | pipe(go[1]) | pipe(ready), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] != 0) continue;
        close(ready[0]);
        close(go[k][1]);
        int bad = 0;
        char c;
        if (k == 0) { /* raw LMDB: one read transaction held across the growth */
            MDB_env *env = raw_open(idx);
            MDB_txn *txn = NULL;
            MDB_envinfo info0 = {0}, info1 = {0};
            bad |= !env || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || raw_entries(txn) != 10;
            if (env) mdb_env_info(env, &info0);
            c = bad ? 'n' : 'y';
            if (write(ready[1], &c, 1) != 1 || read(go[k][0], &c, 1) != 1) _exit(2);
            if (!bad) {
                bad |= raw_entries(txn) != 10; /* the snapshot is unchanged */
                mdb_txn_abort(txn);
                int mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
                if (mrc == MDB_MAP_RESIZED) { /* adopt the size the writer set, then read again */
                    mdb_env_set_mapsize(env, 0);
                    mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
                }
                bad |= mrc || raw_entries(txn) != 410;
                if (!mrc) mdb_txn_abort(txn);
                mdb_env_info(env, &info1); /* the map this process now uses is the grown one */
                if (info1.me_mapsize <= info0.me_mapsize) bad |= 4;
            }
            if (env) mdb_env_close(env);
        } else { /* sl_store opened before the growth: must adopt it on its next read and write */
            sl_store *s2 = NULL;
            sl_err e2 = {0};
            bad |= sl_store_open(root, &s2, &e2) || blobs_in(s2) != 10;
            c = bad ? 'n' : 'y';
            if (write(ready[1], &c, 1) != 1 || read(go[k][0], &c, 1) != 1) _exit(2);
            if (!bad) {
                bad |= blobs_in(s2) != 410;
                bad |= put_n(s2, 1000, 5) != 0 || blobs_in(s2) != 415;
            }
            sl_store_close(s2);
        }
        _exit(bad);
    }
    close(ready[1]);
    for (int k = 0; k < 2; k++) {
        char c = 0;
        CHECK_EQ_INT(read(ready[0], &c, 1), 1);
        CHECK(c == 'y');
    }
    /* Fill the map while both readers are open: 400 more entries need far more than 32 KiB. */
    CHECK_EQ_INT(put_n(s, 10, 400), 0);
    CHECK(stat(data, &sb) == 0 && sb.st_size > 32768 && sb.st_size > before);
    fprintf(stderr, "data.mdb: %lld -> %lld bytes with a 32768-byte initial map\n", before,
            (long long)sb.st_size);
    CHECK_EQ_INT(blobs_in(s), 410);
    for (int k = 0; k < 2; k++) {
        char c = 'g';
        CHECK_EQ_INT(write(go[k][1], &c, 1), 1);
        close(go[k][1]);
        int st = 0;
        waitpid(kids[k], &st, 0);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            fprintf(stderr, "reader %d (%s) failed: status %d\n", k, k ? "sl_store" : "raw LMDB", st);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_EQ_INT(blobs_in(s), 415); /* the second reader's writes, seen here after its growth too */
    sl_store_verify_report vr = {0};
    CHECK_EQ_INT(sl_store_verify(s, 100, NULL, NULL, &vr, &err), 0);
    CHECK_EQ_INT(vr.bad_blobs + vr.bad_records + vr.missing, 0);
    sl_store_close(s);
    unsetenv("SEQLORA_INDEX_MAPSIZE");
    sl_fs_remove_tree(root, &err);
    free(data);
    free(root);
}

int main(void) {
    unsetenv("SEQLORA_INDEX_DIR");
    RUN_TEST(stale_reader_reclaimed);
    RUN_TEST(map_grown_under_readers);
    return TEST_RESULT();
}
