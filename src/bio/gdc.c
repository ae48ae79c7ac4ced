#include "gdc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

enum { COL_ID, COL_FILENAME, COL_MD5, COL_SIZE, NCOLS };
static const char *const col_names[NCOLS] = {"id", "filename", "md5", "size"};
enum { MAX_FIELDS = 64 };

int sl_bio_gdc_is_uuid(const char *s) {
    size_t i = 0;
    for (; s[i]; i++) {
        int want_dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (want_dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return 0;
    }
    return i == 36;
}

void sl_bio_gdc_manifest_free(sl_bio_gdc_manifest *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) free(m->files[i].filename);
    free(m->files);
    m->files = NULL;
    m->n = 0;
}

/* Split one line (no line end) at tabs into fields (pointers into the line, which is modified). */
static int split_tabs(char *line, char **fields, int max) {
    int n = 0;
    for (char *p = line;;) {
        if (n == max) return -1;
        fields[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

static int parse_row(char **f, const int *col, const char *name, int lineno, sl_bio_gdc_file *out,
                     sl_err *err) {
    const char *id = f[col[COL_ID]], *fn = f[col[COL_FILENAME]], *md5 = f[col[COL_MD5]],
               *size = f[col[COL_SIZE]];
    if (!sl_bio_gdc_is_uuid(id))
        return sl_err_set(err, SL_EDATA,
                          "%s:%d: field 'id': expected a file UUID (8-4-4-4-12 hex digits), got '%s'", name,
                          lineno, id);
    if (!*fn || !strcmp(fn, ".") || !strcmp(fn, "..") || strchr(fn, '/'))
        return sl_err_set(err, SL_EDATA, "%s:%d: field 'filename': expected a plain file name, got '%s'",
                          name, lineno, fn);
    for (const char *p = fn; *p; p++)
        if ((unsigned char)*p < 32)
            return sl_err_set(err, SL_EDATA, "%s:%d: field 'filename': control character in the name", name,
                              lineno);
    size_t ml = 0;
    while (isxdigit((unsigned char)md5[ml])) ml++;
    if (ml != 32 || md5[ml])
        return sl_err_set(err, SL_EDATA, "%s:%d: field 'md5': expected 32 hex digits, got '%s'", name, lineno,
                          md5);
    char *end = NULL;
    errno = 0;
    long long sz = strtoll(size, &end, 10);
    if (!isdigit((unsigned char)size[0]) || errno || !end || *end || sz < 0)
        return sl_err_set(err, SL_EDATA, "%s:%d: field 'size': expected a non-negative integer, got '%s'",
                          name, lineno, size);
    for (int i = 0; i < 36; i++) out->id[i] = (char)tolower((unsigned char)id[i]);
    out->id[36] = '\0';
    for (int i = 0; i < 32; i++) out->md5[i] = (char)tolower((unsigned char)md5[i]);
    out->md5[32] = '\0';
    out->size = sz;
    out->line = lineno;
    out->filename = strdup(fn);
    if (!out->filename) return sl_err_set(err, SL_ENOMEM, "out of memory reading %s", name);
    return 0;
}

static int cmp_by_name(const void *a, const void *b) {
    const sl_bio_gdc_file *x = *(const sl_bio_gdc_file *const *)a, *y = *(const sl_bio_gdc_file *const *)b;
    return strcmp(x->filename, y->filename);
}

static int cmp_by_id(const void *a, const void *b) {
    const sl_bio_gdc_file *x = *(const sl_bio_gdc_file *const *)a, *y = *(const sl_bio_gdc_file *const *)b;
    return strcmp(x->id, y->id);
}

static int check_unique(const sl_bio_gdc_manifest *m, const char *name, sl_err *err) {
    if (m->n < 2) return 0;
    const sl_bio_gdc_file **v = malloc(m->n * sizeof *v);
    if (!v) return sl_err_set(err, SL_ENOMEM, "out of memory reading %s", name);
    for (size_t i = 0; i < m->n; i++) v[i] = &m->files[i];
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        qsort(v, m->n, sizeof *v, pass ? cmp_by_id : cmp_by_name);
        for (size_t i = 1; i < m->n && !rc; i++) {
            const sl_bio_gdc_file *a = v[i - 1], *b = v[i];
            if ((pass ? cmp_by_id : cmp_by_name)(&a, &b)) continue;
            if (a->line > b->line) {
                const sl_bio_gdc_file *t = a;
                a = b;
                b = t;
            }
            rc = sl_err_set(err, SL_EDATA, "%s:%d: field '%s': '%s' is already listed on line %d", name,
                            b->line, pass ? "id" : "filename", pass ? b->id : b->filename, a->line);
        }
    }
    free(v);
    return rc;
}

int sl_bio_gdc_manifest_parse(const char *text, size_t len, const char *name, sl_bio_gdc_manifest *m,
                              sl_err *err) {
    m->files = NULL;
    m->n = 0;
    char *buf = malloc(len + 1);
    if (!buf) return sl_err_set(err, SL_ENOMEM, "out of memory reading %s", name);
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return sl_err_set(err, SL_EDATA, "%s: contains a NUL byte; expected a tab-separated text manifest",
                          name);
    }
    int rc = 0, lineno = 0, ncols = 0, col[NCOLS] = {-1, -1, -1, -1};
    size_t cap = 0;
    char *fields[MAX_FIELDS];
    char *save = buf;
    while (!rc && save) {
        char *line = save;
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            save = nl + 1;
        } else {
            save = NULL;
        }
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
        if (!ll) continue;
        int nf = split_tabs(line, fields, MAX_FIELDS);
        if (!ncols) { /* the header */
            if (nf < 0) {
                rc = sl_err_set(err, SL_EDATA, "%s:%d: header: more than %d columns", name, lineno,
                                MAX_FIELDS);
                break;
            }
            for (int i = 0; i < nf; i++)
                for (int c = 0; c < NCOLS; c++)
                    if (!strcmp(fields[i], col_names[c]) && col[c] < 0) col[c] = i;
            for (int c = 0; c < NCOLS && !rc; c++)
                if (col[c] < 0)
                    rc = sl_err_set(err, SL_EDATA,
                                    "%s:%d: header: no '%s' column (expected a GDC manifest header "
                                    "'id<TAB>filename<TAB>md5<TAB>size<TAB>state')",
                                    name, lineno, col_names[c]);
            ncols = nf;
            continue;
        }
        if (nf != ncols) {
            rc = sl_err_set(err, SL_EDATA, "%s:%d: expected %d tab-separated fields as in the header, got %d",
                            name, lineno, ncols, nf < 0 ? MAX_FIELDS + 1 : nf);
            break;
        }
        if (m->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            sl_bio_gdc_file *t = realloc(m->files, nc * sizeof *t);
            if (!t) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory reading %s", name);
                break;
            }
            m->files = t;
            cap = nc;
        }
        if (!(rc = parse_row(fields, col, name, lineno, &m->files[m->n], err))) m->n++;
    }
    free(buf);
    if (!rc && !ncols) rc = sl_err_set(err, SL_EDATA, "%s: empty manifest (expected a header line)", name);
    if (!rc && m->n == 0) rc = sl_err_set(err, SL_EDATA, "%s: the manifest lists no files", name);
    if (!rc) rc = check_unique(m, name, err);
    if (rc) sl_bio_gdc_manifest_free(m);
    return rc;
}

int sl_bio_gdc_manifest_read(const char *path, sl_bio_gdc_manifest *m, sl_err *err) {
    char *data = NULL;
    size_t len = 0;
    m->files = NULL;
    m->n = 0;
    int rc = sl_fs_read_all(path, &data, &len, err);
    if (rc) return rc;
    rc = sl_bio_gdc_manifest_parse(data, len, path, m, err);
    free(data);
    return rc;
}

char *sl_bio_gdc_data_url(const char *api, const char *id) {
    size_t al = strlen(api);
    while (al && api[al - 1] == '/') al--;
    size_t n = al + strlen("/data/") + strlen(id) + 1;
    char *url = malloc(n);
    if (url) snprintf(url, n, "%.*s/data/%s", (int)al, api, id);
    return url;
}
