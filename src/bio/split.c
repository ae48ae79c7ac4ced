#include "split.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmer.h"
#include "regions.h"
#include "tsv.h"
#include "util/fs.h"
#include "util/rng.h"

void sl_bio_split_opts_init(sl_bio_split_opts *o) {
    memset(o, 0, sizeof *o);
    o->test_fraction = 0.3;
    o->stratify = 1;
    o->warn_min = 50;
}

int sl_bio_augment_parse(const char *spec, sl_bio_split_opts *o, sl_err *err) {
    o->substitute = 0;
    o->revcomp = 0;
    if (!spec || !*spec || !strcmp(spec, "none")) return 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "revcomp"))
            o->revcomp = 1;
        else if (!strncmp(t, "substitute:", 11)) {
            char *end;
            double p = strtod(t + 11, &end);
            if (*end || end == t + 11 || !(p > 0 && p < 1))
                rc = sl_err_set(err, SL_EUSAGE, "augment: substitute:P needs 0 < P < 1, got '%s'", t + 11);
            else
                o->substitute = p;
        } else
            rc =
                sl_err_set(err, SL_EUSAGE, "augment: unknown '%s' (expected substitute:P and/or revcomp)", t);
    }
    free(copy);
    return rc;
}

typedef struct {
    char *line; /* the whole row (tabs intact) */
    char *id, *seq, *label, *group;
    int label_i; /* index into labels */
    int group_i;
    int test;
    int fold;
} row_t;

typedef struct {
    char *name;
    long n;
} name_count;

static int intern(name_count **v, size_t *n, const char *s) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].name, s)) {
            (*v)[i].n++;
            return (int)i;
        }
    name_count *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    if (!((*v)[*n].name = strdup(s))) return -1;
    (*v)[*n].n = 1;
    return (int)(*n)++;
}

static void shuffle(size_t *idx, size_t n, sl_rng *r) {
    for (size_t i = n; i > 1; i--) {
        size_t j = sl_rng_below(r, (uint32_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* Decode the sequence text into bases; *kind 0 raw, 1 k-mers (k in *k), 2 NT 6-mers. */
static char *decode(const char *text, int *kind, int *k) {
    size_t n = strlen(text);
    if (!strchr(text, ' ')) {
        *kind = 0;
        return strdup(text);
    }
    /* words */
    size_t nw = 1;
    for (size_t i = 0; i < n; i++) nw += text[i] == ' ';
    const char *w = text;
    size_t wl = strcspn(text, " ");
    int overlapping = wl >= 2;
    const char *prev = NULL;
    size_t prevl = 0;
    for (size_t i = 0; i < nw && overlapping; i++) {
        size_t l = strcspn(w, " ");
        if (l != wl)
            overlapping = 0;
        else if (prev && memcmp(prev + 1, w, l - 1))
            overlapping = 0;
        prev = w;
        prevl = l;
        w += l + (w[l] == ' ');
    }
    (void)prevl;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    if (overlapping) {
        *kind = 1;
        *k = (int)wl;
        w = text;
        const char *last = text;
        for (size_t i = 0; i < nw; i++) {
            last = w;
            out[o++] = w[0];
            w += wl + 1;
        }
        for (size_t i = 1; i < wl; i++) out[o++] = last[i];
    } else {
        *kind = 2;
        for (size_t i = 0; i < n; i++)
            if (text[i] != ' ') out[o++] = text[i];
    }
    out[o] = 0;
    return out;
}

static char *encode(const char *bases, int kind, int k, sl_err *err) {
    char *out = NULL;
    sl_bio_tokenize(bases, strlen(bases),
                    kind == 0   ? SL_BIO_TOK_RAW
                    : kind == 1 ? SL_BIO_TOK_KMER
                                : SL_BIO_TOK_NT6,
                    kind == 1 ? k : 6, &out, err);
    return out;
}

/* Write a row as it is. */
static void write_row(FILE *f, const row_t *r, size_t ncols) {
    const char *p = r->line;
    for (size_t i = 0; i < ncols; i++) {
        if (i) fputc('\t', f);
        fputs(p, f);
        p += strlen(p) + 1;
    }
    fputc('\n', f);
}

/* Write one row with a new id and sequence (and ref_sequence reverse-complemented when rc_ref_col >= 0). */
static int write_aug(FILE *f, const row_t *r, size_t ncols, const char *suffix, const char *seq,
                     int rc_ref_col) {
    const char **fields = calloc(ncols, sizeof *fields);
    if (!fields) return -1;
    size_t nf = 0;
    for (const char *p = r->line; nf < ncols; p += strlen(p) + 1) fields[nf++] = p;
    fprintf(f, "%s%s\t%s", fields[0], suffix, seq);
    for (size_t i = 2; i < nf; i++) {
        if ((int)i == rc_ref_col) {
            int kind, k = 6;
            char *b = decode(fields[i], &kind, &k);
            if (b) {
                sl_bio_revcomp(b, strlen(b));
                sl_err e;
                char *t = encode(b, kind, k, &e);
                fprintf(f, "\t%s", t ? t : fields[i]);
                free(t);
                free(b);
                continue;
            }
        }
        fprintf(f, "\t%s", fields[i]);
    }
    fputc('\n', f);
    free(fields);
    return 0;
}

int sl_bio_split(const char *dataset, const char *train_path, const char *test_path, const char *folds_path,
                 const sl_bio_split_opts *o, json_t *summary, sl_err *err) {
    if (!(o->test_fraction > 0 && o->test_fraction < 1) && o->folds <= 1)
        return sl_err_set(err, SL_EUSAGE, "split: test fraction must be in (0, 1), got %g", o->test_fraction);
    if (o->folds > 1 && (o->fold < 0 || o->fold >= o->folds))
        return sl_err_set(err, SL_EUSAGE, "split: fold must be in 0..%d", o->folds - 1);
    sl_bio_tsv *t = NULL;
    int rc = sl_bio_tsv_open(dataset, &t, err);
    if (rc) return rc;
    row_t *rows = NULL;
    size_t n = 0, cap = 0;
    name_count *labels = NULL, *groups = NULL;
    size_t nl = 0, ng = 0;
    char *header = NULL;
    size_t *idx = NULL;
    char *tb = NULL, *sb = NULL, *fb = NULL;
    size_t tl = 0, sl = 0, fl = 0;
    FILE *tf = NULL, *sf = NULL, *ff = NULL;
    json_t *warnings = json_array();
    rc = sl_bio_tsv_next(t, err);
    if (rc == 0)
        rc = sl_err_set(err, SL_EDATA, "%s: empty file (expected the header id, sequence, label, ...)",
                        dataset);
    if (rc < 0) goto done;
    size_t ncols = t->nfields;
    if (ncols < 3 || strcmp(t->fields[0], "id") || strcmp(t->fields[1], "sequence") ||
        strcmp(t->fields[2], "label")) {
        rc =
            sl_err_set(err, SL_EDATA, "%s:1: a dataset starts with the columns id, sequence, label", dataset);
        goto done;
    }
    int gcol = -1, refcol = sl_bio_tsv_find(t, "ref_sequence");
    if (o->group_by) {
        gcol = sl_bio_tsv_find(t, o->group_by);
        if (gcol < 0) {
            rc = sl_err_set(err, SL_EUSAGE, "%s:1: no column named '%s' to group by", dataset, o->group_by);
            goto done;
        }
    }
    {
        size_t hl = 0;
        for (size_t i = 0; i < ncols; i++) hl += strlen(t->fields[i]) + 1;
        header = malloc(hl + 1);
        if (!header) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        header[0] = 0;
        for (size_t i = 0; i < ncols; i++) {
            if (i) strcat(header, "\t");
            strcat(header, t->fields[i]);
        }
    }
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        if (t->nfields != ncols) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: %zu columns, the header has %zu", dataset, t->lineno,
                            t->nfields, ncols);
            goto done;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            row_t *nr = realloc(rows, cap * sizeof *nr);
            if (!nr) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            rows = nr;
        }
        row_t *r = &rows[n];
        memset(r, 0, sizeof *r);
        /* keep the fields as one allocation: rebuild the line */
        size_t ll = 0;
        for (size_t i = 0; i < ncols; i++) ll += strlen(t->fields[i]) + 1;
        r->line = malloc(ll + 1);
        if (!r->line) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        n++;
        char *w = r->line;
        for (size_t i = 0; i < ncols; i++) {
            size_t l = strlen(t->fields[i]);
            memcpy(w, t->fields[i], l);
            if (i == 0) r->id = w;
            if (i == 1) r->seq = w;
            if (i == 2) r->label = w;
            if ((int)i == gcol) r->group = w;
            w += l;
            *w++ = 0;
        }
        r->label_i = intern(&labels, &nl, t->fields[2]);
        r->group_i = gcol >= 0 ? intern(&groups, &ng, t->fields[gcol]) : (int)(n - 1);
        if (r->label_i < 0 || r->group_i < 0) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        if (!*t->fields[0] || !*t->fields[2]) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: empty id or label", dataset, t->lineno);
            goto done;
        }
    }
    if (rc < 0) goto done;
    rc = 0;
    if (n < 2) {
        rc = sl_err_set(err, SL_EDATA, "%s: %zu row(s): nothing to split", dataset, n);
        goto done;
    }
    for (size_t i = 0; i < nl; i++) {
        if (o->hard_min > 0 && labels[i].n < o->hard_min) {
            rc = sl_err_set(err, SL_EDATA, "%s: label '%s' has %ld rows, below the minimum of %ld", dataset,
                            labels[i].name, labels[i].n, o->hard_min);
            goto done;
        }
        if (labels[i].n < o->warn_min) {
            char msg[512];
            snprintf(msg, sizeof msg, "label '%s' has %ld rows, fewer than %ld", labels[i].name, labels[i].n,
                     o->warn_min);
            json_array_append_new(warnings, json_string(msg));
        }
    }
    idx = malloc(n * sizeof *idx);
    if (!idx) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    sl_rng rng;
    sl_rng_init(&rng, o->seed, 1);
    int kfold = o->folds > 1;
    if (gcol < 0) {
        /* rows are the units: stratified or not */
        size_t nstrata = o->stratify ? nl : 1;
        long offset = 0;
        for (size_t s = 0; s < nstrata; s++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (!o->stratify || rows[i].label_i == (int)s) idx[m++] = i;
            shuffle(idx, m, &rng);
            size_t ntest = (size_t)llround(o->test_fraction * (double)m);
            for (size_t j = 0; j < m; j++) {
                if (kfold)
                    rows[idx[j]].fold = (int)((j + (size_t)offset) % (size_t)o->folds);
                else
                    rows[idx[j]].test = j < ntest;
            }
            offset += (long)m;
        }
    } else {
        /* groups are the units */
        size_t *gidx = malloc(ng * sizeof *gidx);
        long *fold_size = calloc((size_t)(o->folds > 1 ? o->folds : 1), sizeof *fold_size);
        int *gside = calloc(ng, sizeof *gside);
        if (!gidx || !fold_size || !gside) {
            free(gidx);
            free(fold_size);
            free(gside);
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t g = 0; g < ng; g++) gidx[g] = g;
        shuffle(gidx, ng, &rng);
        if (kfold) {
            /* larger groups first (stable on the shuffled order), each to the smallest fold */
            for (size_t a = 1; a < ng; a++)
                for (size_t b = a; b > 0 && groups[gidx[b]].n > groups[gidx[b - 1]].n; b--) {
                    size_t tmp = gidx[b];
                    gidx[b] = gidx[b - 1];
                    gidx[b - 1] = tmp;
                }
            for (size_t a = 0; a < ng; a++) {
                int best = 0;
                for (int f = 1; f < o->folds; f++)
                    if (fold_size[f] < fold_size[best]) best = f;
                gside[gidx[a]] = best;
                fold_size[best] += groups[gidx[a]].n;
            }
        } else {
            double target = o->test_fraction * (double)n;
            long in_test = 0;
            for (size_t a = 0; a < ng; a++) {
                long gn = groups[gidx[a]].n;
                if (fabs((double)(in_test + gn) - target) < fabs((double)in_test - target)) {
                    gside[gidx[a]] = 1;
                    in_test += gn;
                }
            }
            if (in_test == 0 || in_test == (long)n) {
                free(gidx);
                free(fold_size);
                free(gside);
                rc = sl_err_set(err, SL_EDATA, "%s: %zu group(s) of '%s' cannot be split into train and test",
                                dataset, ng, o->group_by);
                goto done;
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (kfold)
                rows[i].fold = gside[rows[i].group_i];
            else
                rows[i].test = gside[rows[i].group_i];
        }
        free(gidx);
        free(fold_size);
        free(gside);
    }
    if (kfold)
        for (size_t i = 0; i < n; i++) rows[i].test = rows[i].fold == o->fold;
    /* write */
    tf = open_memstream(&tb, &tl);
    sf = open_memstream(&sb, &sl);
    if (kfold && folds_path) ff = open_memstream(&fb, &fl);
    if (!tf || !sf || (kfold && folds_path && !ff)) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    fprintf(tf, "%s\n", header);
    fprintf(sf, "%s\n", header);
    if (ff) fputs("id\tfold\n", ff);
    long ntrain = 0, ntest = 0, naug = 0;
    long *train_by = calloc(nl, sizeof *train_by), *test_by = calloc(nl, sizeof *test_by);
    if (!train_by || !test_by) {
        free(train_by);
        free(test_by);
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    static const char bases[] = "ACGT";
    for (size_t i = 0; i < n; i++) {
        row_t *r = &rows[i];
        if (ff) fprintf(ff, "%s\t%d\n", r->id, r->fold);
        if (r->test) {
            write_row(sf, r, ncols);
            ntest++;
            test_by[r->label_i]++;
            continue;
        }
        write_row(tf, r, ncols);
        ntrain++;
        train_by[r->label_i]++;
        if (!o->substitute && !o->revcomp) continue;
        int kind, k = 6;
        char *b = decode(r->seq, &kind, &k);
        if (!b) {
            free(train_by);
            free(test_by);
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        size_t bl = strlen(b);
        if (o->substitute > 0) {
            char *s = strdup(b);
            /* one Philox stream per row (stream = 2 + row index): independent of the order of other rows */
            sl_rng ar;
            sl_rng_init(&ar, o->seed, 2 + (uint64_t)i);
            for (size_t j = 0; s && j < bl; j++) {
                double u = sl_rng_uniform(&ar);
                uint32_t pick = sl_rng_below(&ar, 3);
                if (u < o->substitute && strchr(bases, s[j])) {
                    char c[3];
                    int m = 0;
                    for (int q = 0; q < 4; q++)
                        if (bases[q] != s[j]) c[m++] = bases[q];
                    s[j] = c[pick];
                }
            }
            char *txt = s ? encode(s, kind, k, err) : NULL;
            if (!txt || write_aug(tf, r, ncols, "#sub", txt, -1)) {
                free(s);
                free(txt);
                free(b);
                free(train_by);
                free(test_by);
                rc = err->code ? err->code : sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            free(s);
            free(txt);
            naug++;
            train_by[r->label_i]++;
            ntrain++;
        }
        if (o->revcomp) {
            sl_bio_revcomp(b, bl);
            char *txt = encode(b, kind, k, err);
            if (!txt || write_aug(tf, r, ncols, "#rc", txt, refcol)) {
                free(txt);
                free(b);
                free(train_by);
                free(test_by);
                rc = err->code ? err->code : sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            free(txt);
            naug++;
            train_by[r->label_i]++;
            ntrain++;
        }
        free(b);
    }
    if (ntest == 0 || ntrain == 0) {
        free(train_by);
        free(test_by);
        rc = sl_err_set(err, SL_EDATA, "%s: the split leaves the %s set empty (%zu rows)", dataset,
                        ntest == 0 ? "test" : "training", n);
        goto done;
    }
    fclose(tf);
    tf = NULL;
    fclose(sf);
    sf = NULL;
    if (ff) {
        fclose(ff);
        ff = NULL;
    }
    if ((rc = sl_fs_write_atomic(train_path, tb, tl, err)) ||
        (rc = sl_fs_write_atomic(test_path, sb, sl, err)) ||
        (fb && (rc = sl_fs_write_atomic(folds_path, fb, fl, err)))) {
        free(train_by);
        free(test_by);
        goto done;
    }
    if (summary) {
        json_object_set_new(summary, "rows", json_integer((json_int_t)n));
        json_object_set_new(summary, "train", json_integer(ntrain));
        json_object_set_new(summary, "test", json_integer(ntest));
        json_object_set_new(summary, "augmented", json_integer(naug));
        json_object_set_new(summary, "test_fraction_actual", json_real((double)ntest / (double)n));
        json_t *tr = json_object(), *te = json_object();
        for (size_t i = 0; i < nl; i++) {
            json_object_set_new(tr, labels[i].name, json_integer(train_by[i]));
            json_object_set_new(te, labels[i].name, json_integer(test_by[i]));
        }
        json_object_set_new(summary, "train_label_counts", tr);
        json_object_set_new(summary, "test_label_counts", te);
        if (gcol >= 0) json_object_set_new(summary, "groups", json_integer((json_int_t)ng));
        json_object_set_new(summary, "seed", json_integer((json_int_t)o->seed));
        if (kfold) {
            json_object_set_new(summary, "folds", json_integer(o->folds));
            json_object_set_new(summary, "fold", json_integer(o->fold));
        }
        json_t *aug = json_object();
        json_object_set_new(aug, "substitute", json_real(o->substitute));
        json_object_set_new(aug, "revcomp", json_boolean(o->revcomp));
        json_object_set_new(summary, "augment", aug);
        json_object_set(summary, "warnings", warnings);
    }
    free(train_by);
    free(test_by);
done:
    if (tf) fclose(tf);
    if (sf) fclose(sf);
    if (ff) fclose(ff);
    free(tb);
    free(sb);
    free(fb);
    for (size_t i = 0; i < n; i++) free(rows[i].line);
    free(rows);
    for (size_t i = 0; i < nl; i++) free(labels[i].name);
    free(labels);
    for (size_t i = 0; i < ng; i++) free(groups[i].name);
    free(groups);
    free(header);
    free(idx);
    json_decref(warnings);
    sl_bio_tsv_close(t);
    return rc;
}
