/*
 * test_reader_fixtures.c -- reads every TF-made .tflite under $TFLC_FIXTURES
 * and checks what the reader found against facts it did not produce.
 *
 * The facts come from the fixtures' INFO.txt files, written by Google's
 * flatc (2.0.8) with the TFLite schema, one section per tflite:
 *
 *   ## tflite_ref/model.tflite
 *   tflite v3 subgraphs=1 nops=3 ops=FULLY_CONNECTED meta=min_runtime_version
 *    in: serving_default_x:0:FLOAT32[-1x1]  out: Identity:0:FLOAT32[-1x1]
 *
 * i.e. the schema version, the number of subgraphs, the operators of
 * subgraph 0, the sorted names of all operator codes (CUSTOM:<code> for
 * custom ones), the metadata names in order, and subgraph 0's inputs and
 * outputs with name, type and shape (shape_signature when present).
 * Every file must also pass ir_verify: TF's own output is a valid model.
 * Files found without an INFO.txt section are read and verified only.
 *
 * Exits 77 (skipped) when the fixtures are absent.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/ir.h"
#include "tflc.h"

static int failures, files_checked, facts_checked;

#define MAX_FILES 512

static char *tflite_files[MAX_FILES];
static int n_tflite;
static char *info_files[MAX_FILES];
static int n_info;
static char *seen[MAX_FILES];   /* files checked against an INFO section */
static int n_seen;

static void fail(const char *file, const char *fmt, ...) TFLC_PRINTF(2, 3);
static void fail(const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            walk(path);
        } else if (strcmp(e->d_name, "INFO.txt") == 0 && n_info < MAX_FILES) {
            info_files[n_info++] = strdup(path);
        } else if ((ends_with(e->d_name, ".tflite") || ends_with(e->d_name, ".lite")) &&
                   n_tflite < MAX_FILES) {
            tflite_files[n_tflite++] = strdup(path);
        }
    }
    closedir(d);
}

/* ---- What we read, in INFO.txt's terms -------------------------------- */

/* strncpy that always terminates (and keeps gcc's truncation checks quiet). */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t k = strlen(src);
    if (k >= n)
        k = n - 1;
    memcpy(dst, src, k);
    dst[k] = 0;
}

static void upper(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

/* "name:TYPE[d0xd1]" of tensor i of subgraph sg. */
static void tensor_fact(const ir_subgraph_t *sg, int32_t i, char *buf, size_t n)
{
    if (i < 0 || (size_t)i >= sg->n_tensors) {
        snprintf(buf, n, "<bad index %d>", i);
        return;
    }
    const ir_tensor_t *t = &sg->tensors[i];
    char type[32];
    snprintf(type, sizeof type, "%s", ir_dtype_name(t->type));
    upper(type);
    const int32_t *d = t->shape_signature && t->rank ? t->shape_signature : t->shape;
    size_t k = (size_t)snprintf(buf, n, "%s:%s[", t->name ? t->name : "None", type);
    for (uint32_t j = 0; j < t->rank && k < n; j++)
        k += (size_t)snprintf(buf + k, n - k, j ? "x%d" : "%d", d[j]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, distinct operator names over all subgraphs, comma-joined. */
static void ops_fact(const tflc_model_t *m, char *buf, size_t n)
{
    char *names[1024];
    int k = 0;
    for (size_t s = 0; s < m->n_subgraphs; s++)
        for (size_t i = 0; i < m->subgraphs[s].n_ops && k < 1024; i++) {
            const ir_op_t *op = &m->subgraphs[s].ops[i];
            char tmp[256];
            if (op->custom_code && *op->custom_code)
                snprintf(tmp, sizeof tmp, "CUSTOM:%s", op->custom_code);
            else if (op_name(op->builtin))
                snprintf(tmp, sizeof tmp, "%s", op_name(op->builtin));
            else
                snprintf(tmp, sizeof tmp, "%d", op->builtin);
            names[k++] = strdup(tmp);
        }
    qsort(names, (size_t)k, sizeof names[0], cmp_str);
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < k; i++) {
        if (i && strcmp(names[i], names[i - 1]) == 0)
            continue;
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", used ? "," : "",
                                 names[i]);
    }
    for (int i = 0; i < k; i++)
        free(names[i]);
}

static void meta_fact(const tflc_model_t *m, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < m->n_metadata; i++)
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", i ? "," : "",
                                 m->metadata[i].name ? m->metadata[i].name : "None");
}

/* ---- Checks ----------------------------------------------------------- */

static tflc_model_t *read_and_verify(const char *path)
{
    tflc_status_t *st = tflc_status_new();
    tflc_model_t *m = NULL;
    if (tflc_model_read_file(path, &m, st) != TFLC_OK) {
        fail(path, "read failed:");
        tflc_status_print(st, stderr);
    } else if (tflc_model_verify(m, st) != TFLC_OK) {
        fail(path, "a TF-made file does not verify:");
        tflc_status_print(st, stderr);
    }
    tflc_status_free(st);
    files_checked++;
    return m;
}

static void expect_str(const char *path, const char *what, const char *want, const char *got)
{
    facts_checked++;
    if (strcmp(want, got) != 0)
        fail(path, "%s: INFO.txt says '%s', the reader found '%s'", what, want, got);
}

static void expect_int(const char *path, const char *what, long want, long got)
{
    facts_checked++;
    if (want != got)
        fail(path, "%s: INFO.txt says %ld, the reader found %ld", what, want, got);
}

/* Compares " in: a b  out: c d" with subgraph 0's inputs and outputs. */
static void check_io_line(const char *path, const tflc_model_t *m, const char *line)
{
    const char *in = strstr(line, "in:"), *out = strstr(line, " out:");
    if (!in || !out) {
        fail(path, "cannot parse INFO line '%s'", line);
        return;
    }
    const ir_subgraph_t *sg = &m->subgraphs[0];
    for (int pass = 0; pass < 2; pass++) {
        const char *p = pass ? out + 5 : in + 3;
        const char *end = pass ? p + strlen(p) : out;
        const int32_t *idx = pass ? sg->outputs : sg->inputs;
        uint32_t n = pass ? sg->n_outputs : sg->n_inputs;
        uint32_t k = 0;
        while (p < end) {
            while (p < end && isspace((unsigned char)*p))
                p++;
            if (p >= end)
                break;
            const char *q = p;
            while (q < end && !isspace((unsigned char)*q))
                q++;
            char want[512], got[512];
            snprintf(want, sizeof want, "%.*s", (int)(q - p), p);
            if (k < n) {
                tensor_fact(sg, idx[k], got, sizeof got);
                expect_str(path, pass ? "output" : "input", want, got);
            }
            k++;
            p = q;
        }
        expect_int(path, pass ? "number of outputs" : "number of inputs", (long)k, (long)n);
    }
}

/* INFO.txt lists every operator code of the file; the IR keeps the codes
 * operators use. So each kind the reader found must be listed, and a listed
 * kind may be missing only when the file has unused operator codes, which
 * the count check (nops) and this list make visible. */
static void check_ops(const char *path, const char *want, const char *got)
{
    char w[4096], g[4096];
    copy_str(w, sizeof w, want);
    copy_str(g, sizeof g, got);
    facts_checked++;
    int missing = 0;
    for (char *save = NULL, *tok = strtok_r(g, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char pat[300];
        snprintf(pat, sizeof pat, ",%s,", tok);
        char wl[4200];
        snprintf(wl, sizeof wl, ",%s,", w);
        if (!strstr(wl, pat)) {
            fail(path, "operator kind %s is not among INFO.txt's '%s'", tok, want);
            missing++;
        }
    }
    if (!missing && strcmp(want, got) != 0)
        printf("note %s: operator codes '%s' in the file, '%s' used by operators\n", path, want,
               got);
}

/* One INFO.txt section: header line "tflite v..." and the I/O line. */
static void check_section(const char *path, const char *head, const char *io)
{
    unsigned version, nsg, nops;
    char ops[4096] = "", meta[1024] = "";
    if (sscanf(head, "tflite v%u subgraphs=%u nops=%u", &version, &nsg, &nops) != 3) {
        fail(path, "cannot parse INFO line '%s'", head);
        return;
    }
    const char *o = strstr(head, " ops="), *md = strstr(head, " meta=");
    if (!o || !md) {
        fail(path, "cannot parse INFO line '%s'", head);
        return;
    }
    snprintf(ops, sizeof ops, "%.*s", (int)(md - o - 5), o + 5);
    copy_str(meta, sizeof meta, md + 6);
    meta[strcspn(meta, "\r\n")] = 0;

    tflc_model_t *m = read_and_verify(path);
    if (!m)
        return;
    expect_int(path, "schema version", version, m->version);
    expect_int(path, "subgraphs", nsg, (long)m->n_subgraphs);
    if (m->n_subgraphs) {
        expect_int(path, "operators in subgraph 0", nops, (long)m->subgraphs[0].n_ops);
        check_io_line(path, m, io);
    }
    char got[4096];
    ops_fact(m, got, sizeof got);
    check_ops(path, ops, got);
    meta_fact(m, got, sizeof got);
    expect_str(path, "metadata names", meta, got);
    tflc_model_free(m);
}

static void check_info(const char *info)
{
    FILE *f = fopen(info, "r");
    if (!f)
        return;
    char dir[4096];
    copy_str(dir, sizeof dir, info);
    *strrchr(dir, '/') = 0;
    char line[4096], rel[1024] = "", head[4096] = "";
    int state = 0; /* 1: after "## x", 2: after its "tflite v" line */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, "## ", 3) == 0) {
            copy_str(rel, sizeof rel, line + 3);
            state = 1;
        } else if (state == 1 && strncmp(line, "tflite v", 8) == 0) {
            copy_str(head, sizeof head, line);
            state = 2;
        } else if (state == 2) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, rel);
            if (n_seen < MAX_FILES)
                seen[n_seen++] = strdup(path);
            check_section(path, head, line);
            state = 0;
        } else {
            state = 0;
        }
    }
    fclose(f);
}

int main(void)
{
    const char *fx = getenv("TFLC_FIXTURES");
    struct stat sb;
    if (!fx || stat(fx, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("SKIP: fixtures not found (TFLC_FIXTURES=%s)\n", fx ? fx : "(unset)");
        return 77;
    }
    walk(fx);
    if (!n_info && !n_tflite) {
        printf("SKIP: no .tflite files or INFO.txt under %s\n", fx);
        return 77;
    }
    for (int i = 0; i < n_info; i++)
        check_info(info_files[i]);
    int extra = 0;
    for (int i = 0; i < n_tflite; i++) {
        bool done = false;
        for (int j = 0; j < n_seen && !done; j++)
            done = strcmp(seen[j], tflite_files[i]) == 0;
        if (!done) {
            tflc_model_free(read_and_verify(tflite_files[i]));
            extra++;
        }
    }
    printf("%d files read (%d checked against INFO.txt, %d read and verified only), "
           "%d facts compared, %d failures\n",
           files_checked, files_checked - extra, extra, facts_checked, failures);
    if (files_checked - extra < 20) {
        printf("FAIL: expected at least 20 INFO.txt-described tflite files\n");
        return 1;
    }
    return failures ? 1 : 0;
}
