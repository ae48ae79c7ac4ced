#include "tsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <htslib/hts.h>
#include <htslib/kstring.h>

int sl_bio_tsv_open(const char *path, sl_bio_tsv **out, sl_err *err) {
    *out = NULL;
    sl_bio_tsv *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    hts_set_log_level(HTS_LOG_OFF);
    htsFile *fp = hts_open(path, "r");
    if (!fp) {
        int e = errno;
        sl_bio_tsv_close(t);
        return sl_err_errno(err, SL_EIO, e, "%s: cannot open", path);
    }
    t->fp = fp;
    *out = t;
    return 0;
}

int sl_bio_tsv_next(sl_bio_tsv *t, sl_err *err) {
    kstring_t line = {0, t->buf_cap, t->buf};
    while (1) {
        line.l = 0;
        int ret = hts_getline((htsFile *)t->fp, '\n', &line);
        t->buf = line.s;
        t->buf_cap = line.m;
        if (ret == -1) return 0;
        if (ret < -1)
            return sl_err_set(err, SL_EDATA, "%s: read error after line %ld (truncated or corrupt file?)",
                              t->path, t->lineno);
        t->lineno++;
        if (line.l && line.s[line.l - 1] == '\r') line.s[--line.l] = 0;
        if (line.l == 0) continue;
        if (memchr(line.s, 0, line.l))
            return sl_err_set(err, SL_EDATA, "%s:%ld: a NUL byte (binary file?)", t->path, t->lineno);
        size_t n = 1;
        for (size_t i = 0; i < line.l; i++) n += line.s[i] == '\t';
        if (n > t->fields_cap) {
            char **f = realloc(t->fields, n * sizeof *f);
            if (!f) return sl_err_set(err, SL_ENOMEM, "out of memory");
            t->fields = f;
            t->fields_cap = n;
        }
        t->nfields = 0;
        t->fields[t->nfields++] = line.s;
        for (size_t i = 0; i < line.l; i++)
            if (line.s[i] == '\t') {
                line.s[i] = 0;
                t->fields[t->nfields++] = line.s + i + 1;
            }
        return 1;
    }
}

int sl_bio_tsv_find(const sl_bio_tsv *t, const char *name) {
    for (size_t i = 0; i < t->nfields; i++)
        if (!strcasecmp(t->fields[i], name)) return (int)i;
    return -1;
}

void sl_bio_tsv_close(sl_bio_tsv *t) {
    if (!t) return;
    if (t->fp) hts_close((htsFile *)t->fp);
    free(t->buf);
    free(t->fields);
    free(t->path);
    free(t);
}
