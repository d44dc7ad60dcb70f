/*
 * test_writer.c -- the .tflite writer and the conversion metadata, read back
 * byte by byte with the FlatBuffer offset arithmetic written out here (not
 * with tflc's reader): operator code dedup and deprecated_builtin_code,
 * generic options (both unions, vectors, defaults left out), 16-byte data
 * alignment, the external-buffer layout, determinism, errors that leave no
 * output (bad directory, failing emitter, a write that fails half way, a
 * broken model, out of memory), and min_runtime_version /
 * CONVERSION_METADATA with the versions of TF's table.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline.h"
#include "test_writer_models.h"
#include "tflite/fb_build.h"
#include "tflite/writer.h"

static int failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- Output in memory ---- */

typedef struct out {
    uint8_t *p;
    size_t n;
    int calls, fail_at; /* fail_at > 0: the fail_at-th call fails */
} out_t;

static int out_emit(void *user, const void *data, size_t size)
{
    out_t *o = user;
    if (o->fail_at && ++o->calls == o->fail_at)
        return 1;
    uint8_t *q = realloc(o->p, o->n + size + 1);
    if (!q)
        return -1;
    o->p = q;
    memcpy(o->p + o->n, data, size);
    o->n += size;
    return 0;
}

/* Writes m (then frees it) to memory; limit 0 means the real limit. */
static out_t write_mem(ir_model_t *m, const tflc_write_options_t *opt, uint64_t limit)
{
    out_t o = {NULL, 0, 0, 0};
    tflc_status_t *st = tflc_status_new();
    CHECK(m != NULL);
    tflc_code_t c = m ? tfl_write(m, out_emit, &o, opt, limit ? limit : FBB_MAX_SIZE, "memory", st)
                      : TFLC_ERR_NOMEM;
    if (c)
        tflc_status_print(st, stderr);
    CHECK(c == TFLC_OK);
    tflc_status_free(st);
    tflc_model_free(m);
    return o;
}

/* ---- Reading, by the format's rules ---- */

static uint64_t rd(const out_t *o, size_t at, size_t n)
{
    if (at + n > o->n || at + n < at) {
        fprintf(stderr, "read past the end: %zu+%zu > %zu\n", at, n, o->n);
        failures++;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)o->p[at + i] << (8 * i);
    return v;
}

static size_t field(const out_t *o, size_t t, unsigned slot)
{
    size_t vt = (size_t)((int64_t)t - (int32_t)(uint32_t)rd(o, t, 4));
    if (4 + 2 * slot + 2 > rd(o, vt, 2))
        return 0;
    size_t fo = (size_t)rd(o, vt + 4 + 2 * slot, 2);
    return fo ? t + fo : 0;
}

static uint64_t scalar(const out_t *o, size_t t, unsigned slot, size_t n, uint64_t dflt)
{
    size_t f = field(o, t, slot);
    return f ? rd(o, f, n) : dflt;
}

static size_t ref(const out_t *o, size_t t, unsigned slot)
{
    size_t f = field(o, t, slot);
    return f ? f + (size_t)rd(o, f, 4) : 0;
}

static size_t vec_len(const out_t *o, size_t v)
{
    return v ? (size_t)rd(o, v, 4) : 0;
}

static size_t vec_table(const out_t *o, size_t v, size_t i)
{
    size_t e = v + 4 + 4 * i;
    return e + (size_t)rd(o, e, 4);
}

static int str_eq(const out_t *o, size_t s, const char *want)
{
    size_t n = strlen(want);
    return s && rd(o, s, 4) == n && memcmp(o->p + s + 4, want, n) == 0 && o->p[s + 4 + n] == 0;
}

/* Model fields */
enum { M_VERSION, M_CODES, M_SUBGRAPHS, M_DESC, M_BUFFERS, M_MBUF, M_METADATA, M_SIGS };

static size_t model(const out_t *o)
{
    CHECK(o->n >= 8 && memcmp(o->p + 4, "TFL3", 4) == 0);
    size_t root = (size_t)rd(o, 0, 4);
    CHECK(scalar(o, root, M_VERSION, 4, 0) == 3);
    return root;
}

static size_t first_op(const out_t *o, size_t root, size_t k)
{
    size_t sg = vec_table(o, ref(o, root, M_SUBGRAPHS), 0);
    return vec_table(o, ref(o, sg, 3), k);
}

/* ---- Tests ---- */

static void test_opcodes(void)
{
    out_t o = write_mem(wm_add_mul_add(), NULL, 0);
    size_t root = model(&o);
    size_t codes = ref(&o, root, M_CODES);
    CHECK(vec_len(&o, codes) == 2);
    size_t c0 = vec_table(&o, codes, 0), c1 = vec_table(&o, codes, 1);
    CHECK(scalar(&o, c0, 3, 4, 0) == 0 && !field(&o, c0, 0)); /* ADD: defaults */
    CHECK(scalar(&o, c1, 3, 4, 0) == 18 && scalar(&o, c1, 0, 1, 0) == 18);
    static const uint32_t want[3] = {0, 1, 0};
    for (size_t k = 0; k < 3; k++)
        CHECK(scalar(&o, first_op(&o, root, k), 0, 4, 0) == want[k]);
    free(o.p);

    /* GELU is 150: the old byte field says 127 (PLACEHOLDER_FOR_GREATER_OP_CODES). */
    o = write_mem(wm_gelu_reshape(), NULL, 0);
    root = model(&o);
    codes = ref(&o, root, M_CODES);
    c0 = vec_table(&o, codes, 0);
    CHECK(scalar(&o, c0, 0, 1, 0) == 127 && scalar(&o, c0, 3, 4, 0) == 150);
    CHECK(scalar(&o, c0, 2, 4, 1) == 1 && !field(&o, c0, 2)); /* version 1: default */
    /* RESHAPE's new_shape vector [2, 3] in ReshapeOptions (type 17). */
    size_t op = first_op(&o, root, 1);
    CHECK(scalar(&o, op, 3, 1, 0) == 17);
    size_t opts = ref(&o, op, 4), ns = ref(&o, opts, 0);
    CHECK(vec_len(&o, ns) == 2 && rd(&o, ns + 4, 4) == 2 && rd(&o, ns + 8, 4) == 3);
    free(o.p);
}

static void test_options(void)
{
    out_t o = write_mem(wm_conv_same(), NULL, 0);
    size_t root = model(&o);
    size_t op = first_op(&o, root, 0);
    CHECK(scalar(&o, op, 3, 1, 0) == 1); /* Conv2DOptions */
    size_t t = ref(&o, op, 4);
    CHECK(t && !field(&o, t, 0)); /* padding SAME = default */
    CHECK(scalar(&o, t, 1, 4, 0) == 2 && scalar(&o, t, 2, 4, 0) == 2);
    CHECK(!field(&o, t, 4) && !field(&o, t, 5));     /* dilations 1 = default */
    CHECK(!field(&o, op, 11) && !field(&o, op, 12)); /* no builtin_options_2 */
    CHECK(!field(&o, op, 13));                       /* debug_metadata_index -1 */
    /* Buffer data start 16-byte aligned. */
    size_t bufs = ref(&o, root, M_BUFFERS);
    CHECK(vec_len(&o, bufs) == 3 && !field(&o, vec_table(&o, bufs, 0), 0));
    for (size_t i = 1; i < 3; i++) {
        size_t d = ref(&o, vec_table(&o, bufs, i), 0);
        CHECK(d && (d + 4) % 16 == 0);
    }
    CHECK(vec_len(&o, ref(&o, vec_table(&o, bufs, 1), 0)) == 3 * 3 * 3 * 2 * 4);
    free(o.p);

    /* A builtin_options_2 table: STABLEHLO_CONCATENATE (dimension 1). */
    ir_model_t *m = wm_add();
    ir_subgraph_t *sg = &m->subgraphs[0];
    int32_t s[2] = {2, 4};
    int32_t cat = wm_tensor(m, sg, "cat", DT_FLOAT32, 2, s);
    ir_op_t *c = ir_add_op(m, sg, OP_STABLEHLO_CONCATENATE, 2, 1);
    c->inputs[0] = sg->ops[0].inputs[0];
    c->inputs[1] = sg->ops[0].inputs[1];
    c->outputs[0] = cat;
    c->attr[OPF_StablehloConcatenateOptions_dimension].i = 1;
    sg->outputs[0] = cat;
    o = write_mem(m, NULL, 0);
    root = model(&o);
    op = first_op(&o, root, 1);
    CHECK(!field(&o, op, 3) && !field(&o, op, 4));
    CHECK(scalar(&o, op, 11, 1, 0) == 1);
    t = ref(&o, op, 12);
    CHECK(t && scalar(&o, t, 0, 8, 0) == 1);
    size_t code = vec_table(&o, ref(&o, root, M_CODES), 1);
    CHECK(scalar(&o, code, 0, 1, 0) == 127 && scalar(&o, code, 3, 4, 0) == 169);
    free(o.p);

    /* An empty vector option is written (it differs from an absent one). */
    m = wm_gelu_reshape();
    m->subgraphs[0].ops[1].attr[OPF_ReshapeOptions_new_shape].n = 0;
    o = write_mem(m, NULL, 0);
    t = ref(&o, first_op(&o, model(&o), 1), 4);
    CHECK(field(&o, t, 0) && vec_len(&o, ref(&o, t, 0)) == 0);
    free(o.p);
    m = wm_gelu_reshape();
    m->subgraphs[0].ops[1].attr[OPF_ReshapeOptions_new_shape].iv = NULL;
    m->subgraphs[0].ops[1].attr[OPF_ReshapeOptions_new_shape].n = 0;
    o = write_mem(m, NULL, 0);
    t = ref(&o, first_op(&o, model(&o), 1), 4);
    CHECK(!field(&o, t, 0));
    free(o.p);
}

static void test_signature_quant(void)
{
    out_t o = write_mem(wm_sig_int8(), NULL, 0);
    size_t root = model(&o);
    size_t sigs = ref(&o, root, M_SIGS);
    CHECK(vec_len(&o, sigs) == 1);
    size_t sd = vec_table(&o, sigs, 0);
    CHECK(str_eq(&o, ref(&o, sd, 2), "serving_default"));
    size_t outs = ref(&o, sd, 1);
    CHECK(vec_len(&o, outs) == 2);
    size_t tm = vec_table(&o, outs, 1);
    CHECK(str_eq(&o, ref(&o, tm, 0), "restored") && scalar(&o, tm, 1, 4, 0) == 2);
    size_t sg = vec_table(&o, ref(&o, root, M_SUBGRAPHS), 0);
    size_t q = vec_table(&o, ref(&o, sg, 0), 1);
    CHECK(scalar(&o, q, 1, 1, 0) == DT_INT8);
    size_t qp = ref(&o, q, 4);
    size_t sc = ref(&o, qp, 2), zp = ref(&o, qp, 3);
    float scale;
    uint32_t bits = (uint32_t)rd(&o, sc + 4, 4);
    memcpy(&scale, &bits, 4);
    CHECK(vec_len(&o, sc) == 1 && scale == WM_Q_SCALE);
    CHECK(vec_len(&o, zp) == 1 && (int64_t)rd(&o, zp + 4, 8) == WM_Q_ZERO && (zp + 4) % 8 == 0);
    CHECK(str_eq(&o, ref(&o, q, 3), "StatefulPartitionedCall:0"));
    CHECK(scalar(&o, q, 8, 1, 0) == 1); /* has_rank */
    free(o.p);
}

/* Checks the layout of fc_relu written with its weights after the
 * FlatBuffer: Buffer tables with offset/size and no data, 16-aligned
 * blocks holding the bytes, a 16-byte zero tail. */
static void check_external(const out_t *o)
{
    size_t root = model(o);
    size_t bufs = ref(o, root, M_BUFFERS);
    CHECK(vec_len(o, bufs) == 3);
    float w[12], bias[4];
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 3; i++)
            w[k * 3 + i] = 0.25f * (float)((k * 3 + i) % 7) - 0.75f;
        bias[k] = 0.5f * (float)k - 0.6f;
    }
    const void *want[3] = {NULL, w, bias};
    uint64_t end = 0;
    for (size_t i = 1; i < 3; i++) {
        size_t b = vec_table(o, bufs, i);
        uint64_t off = scalar(o, b, 1, 8, 0), size = scalar(o, b, 2, 8, 0);
        CHECK(!field(o, b, 0));
        CHECK(off > 1 && off % 16 == 0 && off + size <= o->n);
        CHECK(size == (i == 1 ? sizeof w : sizeof bias));
        CHECK(off + size <= o->n && memcmp(o->p + off, want[i], (size_t)size) == 0);
        end = off + size;
    }
    CHECK(o->n % 16 == 0 && o->n >= end + TFL_EXT_TAIL);
    for (size_t i = (size_t)end; i < o->n; i++)
        CHECK(o->p[i] == 0);
}

static void test_external(void)
{
    tflc_write_options_t opt = {8};
    out_t o = write_mem(wm_fc_relu(), &opt, 0);
    check_external(&o);
    free(o.p);

    /* Threshold above the weights: inline; bias (16 bytes) only if > 16. */
    opt.external_buffer_threshold = 16;
    o = write_mem(wm_fc_relu(), &opt, 0);
    size_t bufs = ref(&o, model(&o), M_BUFFERS);
    CHECK(!field(&o, vec_table(&o, bufs, 1), 0) && field(&o, vec_table(&o, bufs, 2), 0));
    free(o.p);

    /* Automatic: the FlatBuffer with data inline would pass the limit. */
    out_t inl = write_mem(wm_fc_relu(), NULL, 0);
    o = write_mem(wm_fc_relu(), NULL, inl.n - 1);
    check_external(&o);
    free(o.p);
    free(inl.p);

    /* Not even the structure fits: a clear error, nothing emitted. */
    out_t none = {NULL, 0, 0, 0};
    tflc_status_t *st = tflc_status_new();
    ir_model_t *m = wm_fc_relu();
    CHECK(tfl_write(m, out_emit, &none, NULL, 64, "memory", st) == TFLC_ERR_UNSUPPORTED);
    CHECK(none.n == 0 && tflc_status_count(st) == 1);
    tflc_model_free(m);
    tflc_status_free(st);

    /* Metadata buffers stay inline: the runtime reads them through data. */
    m = wm_fc_relu();
    CHECK(md_add_conversion_metadata(m, NULL, NULL) == TFLC_OK);
    opt.external_buffer_threshold = 1;
    o = write_mem(m, &opt, 0);
    size_t root = model(&o);
    size_t md = ref(&o, root, M_METADATA);
    CHECK(vec_len(&o, md) == 2);
    bufs = ref(&o, root, M_BUFFERS);
    for (size_t i = 0; i < vec_len(&o, md); i++) {
        size_t b = vec_table(&o, bufs, (size_t)scalar(&o, vec_table(&o, md, i), 1, 4, 0));
        CHECK(field(&o, b, 0) && !field(&o, b, 1));
    }
    CHECK(!field(&o, vec_table(&o, bufs, 1), 0)); /* weights moved */
    free(o.p);
}

static void test_determinism(void)
{
    out_t a = write_mem(wm_conv_same(), NULL, 0), b = write_mem(wm_conv_same(), NULL, 0);
    CHECK(a.n == b.n && a.n && memcmp(a.p, b.p, a.n) == 0);
    free(a.p);
    free(b.p);
    tflc_write_options_t opt = {8};
    a = write_mem(wm_fc_relu(), &opt, 0);
    b = write_mem(wm_fc_relu(), &opt, 0);
    CHECK(a.n == b.n && a.n && memcmp(a.p, b.p, a.n) == 0);
    free(a.p);
    free(b.p);
}

/* ---- No partial output ---- */

static char tmpdir[256];

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int exists(const char *p)
{
    struct stat s;
    return stat(p, &s) == 0;
}

static void test_no_partial_output(void)
{
    char path[512];
    tflc_status_t *st = tflc_status_new();

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s/no/such/dir/m.tflite", tmpdir);
    ir_model_t *m = wm_add();
    CHECK(tflc_model_write_file(m, path, NULL, st) == TFLC_ERR_IO);
    CHECK(tflc_status_count(st) >= 1 && strstr(tflc_status_message(st, 0), "no/such/dir"));
    CHECK(!exists(path));
    tflc_status_clear(st);

    /* A good write, then a broken model over it: the old file stays, no
     * temporary file is left. */
    snprintf(path, sizeof path, "%s/m.tflite", tmpdir);
    CHECK(tflc_model_write_file(m, path, NULL, st) == TFLC_OK);
    struct stat before;
    CHECK(stat(path, &before) == 0 && before.st_size > 0);
    m->subgraphs[0].ops[0].inputs[0] = 99; /* no such tensor */
    CHECK(tflc_model_write_file(m, path, NULL, st) == TFLC_ERR_INVALID);
    CHECK(tflc_status_count(st) >= 1);
    struct stat after;
    CHECK(stat(path, &after) == 0 && after.st_size == before.st_size);
    CHECK(count_entries(tmpdir) == 1);
    tflc_status_clear(st);
    unlink(path);

    /* A broken model and no old file: nothing at path. */
    CHECK(tflc_model_write_file(m, path, NULL, st) == TFLC_ERR_INVALID);
    CHECK(!exists(path) && count_entries(tmpdir) == 0);
    tflc_status_clear(st);
    tflc_model_free(m);

    /* The emitter fails on its 2nd call: the failure comes back. */
    for (int k = 1; k <= 3; k++) {
        out_t o = {NULL, 0, 0, k};
        m = wm_fc_relu();
        CHECK(tflc_model_write(m, out_emit, &o, NULL, st) == TFLC_ERR_IO);
        CHECK(tflc_status_count(st) == 1);
        tflc_status_clear(st);
        tflc_model_free(m);
        free(o.p);
    }

    /* The file system refuses half way (file size limit): an error, no
     * file, no temporary left. */
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
        lim = old;
        lim.rlim_cur = 200;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            m = wm_conv_same(); /* 784 bytes */
            CHECK(tflc_model_write_file(m, path, NULL, st) == TFLC_ERR_IO);
            setrlimit(RLIMIT_FSIZE, &old);
            CHECK(tflc_status_count(st) >= 1);
            CHECK(!exists(path) && count_entries(tmpdir) == 0);
            tflc_status_clear(st);
            tflc_model_free(m);
        }
        signal(SIGXFSZ, prev);
    }
    tflc_status_free(st);
}

static void test_out_of_range(void)
{
    ir_model_t *m = wm_conv_same();
    m->subgraphs[0].ops[0].attr[OPF_Conv2DOptions_stride_w].i = (int64_t)1 << 40;
    tflc_status_t *st = tflc_status_new();
    out_t o = {NULL, 0, 0, 0};
    CHECK(tflc_model_write(m, out_emit, &o, NULL, st) == TFLC_ERR_INVALID);
    CHECK(o.n == 0);
    CHECK(tflc_status_count(st) == 1 && strstr(tflc_status_message(st, 0), "stride_w") &&
          strstr(tflc_status_message(st, 0), "operator 0"));
    tflc_status_free(st);
    tflc_model_free(m);
}

static void test_out_of_memory(void)
{
    int saw = 0, ok = 0;
    for (long n = 1; n < 400 && !ok; n++) {
        ir_model_t *m = wm_sig_int8();
        CHECK(m != NULL);
        tflc_status_t *st = tflc_status_new();
        out_t o = {NULL, 0, 0, 0};
        mem_fail_after(n);
        tflc_code_t c = tflc_model_write(m, out_emit, &o, NULL, st);
        mem_fail_after(0);
        if (c) {
            CHECK(c == TFLC_ERR_NOMEM || !st);
            saw = 1;
        } else {
            ok = 1;
            out_t ref_out = write_mem(wm_sig_int8(), NULL, 0);
            CHECK(o.n == ref_out.n && memcmp(o.p, ref_out.p, o.n) == 0);
            free(ref_out.p);
        }
        free(o.p);
        tflc_status_free(st);
        tflc_model_free(m);
    }
    CHECK(saw && ok);
}

/* ---- Metadata ---- */

/* The metadata entry `name` of a written model: its buffer's data, or 0. */
static size_t metadata(const out_t *o, const char *name, size_t *len)
{
    size_t root = model(o);
    size_t md = ref(o, root, M_METADATA), bufs = ref(o, root, M_BUFFERS);
    size_t found = 0;
    int count = 0;
    for (size_t i = 0; i < vec_len(o, md); i++) {
        size_t e = vec_table(o, md, i);
        if (!str_eq(o, ref(o, e, 0), name))
            continue;
        count++;
        size_t d = ref(o, vec_table(o, bufs, (size_t)scalar(o, e, 1, 4, 0)), 0);
        *len = vec_len(o, d);
        found = d + 4;
    }
    CHECK(count <= 1);
    return found;
}

/* min_runtime_version after setting the ops' versions. */
static void check_runtime(ir_model_t *m, const char *want)
{
    CHECK(m && md_add_conversion_metadata(m, NULL, NULL) == TFLC_OK);
    size_t nbuf = m->n_buffers;
    /* Again: the entries are replaced, their buffers reused. */
    CHECK(md_add_conversion_metadata(m, NULL, NULL) == TFLC_OK);
    CHECK(m->n_buffers == nbuf && m->n_metadata == 2);
    out_t o = write_mem(m, NULL, 0);
    size_t len = 0, d = metadata(&o, "min_runtime_version", &len);
    char got[17] = {0};
    CHECK(d && len == 16);
    if (d && len == 16)
        memcpy(got, o.p + d, 16);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "min_runtime_version: got '%s', want '%s'\n", got, want);
        failures++;
    }
    for (size_t i = strlen(want); d && i < 16; i++)
        CHECK(o.p[d + i] == 0);
    free(o.p);
}

static void test_metadata(void)
{
    /* Versions from TF's runtime_version.cc table. */
    check_runtime(wm_conv_same(), "1.5.0"); /* CONV_2D v1 */
    ir_model_t *m = wm_add_mul_add();
    m->subgraphs[0].ops[1].version = 2; /* MUL v2: 1.14.0 > 1.5.0 */
    check_runtime(m, "1.14.0");
    m = wm_fc_relu();
    m->subgraphs[0].ops[0].version = 7; /* FULLY_CONNECTED v7 */
    check_runtime(m, "2.3.0");
    m = wm_gelu_reshape(); /* GELU v1 2.9.0, RESHAPE v1 1.5.0 */
    check_runtime(m, "2.9.0");
    m = wm_conv_same();
    m->subgraphs[0].ops[0].version = 99; /* not in the table */
    check_runtime(m, "");

    /* CONVERSION_METADATA: the ConversionMetadata table. */
    m = wm_fc_relu();
    tflc_convert_options_t opt;
    tflc_convert_options_init(&opt);
    opt.input_path = "model.h5";
    opt.allow_custom_ops = 1;
    CHECK(md_add_conversion_metadata(m, &opt, NULL) == TFLC_OK);
    out_t o = write_mem(m, NULL, 0);
    size_t len = 0, d = metadata(&o, "CONVERSION_METADATA", &len);
    CHECK(d && len > 8);
    if (d) {
        out_t cm = {o.p + d, len, 0, 0};
        size_t root = (size_t)rd(&cm, 0, 4);
        size_t env = ref(&cm, root, 0), opts = ref(&cm, root, 1);
        CHECK(str_eq(&cm, ref(&cm, env, 0), "tflc " TFLC_VERSION_STRING));
        CHECK(scalar(&cm, env, 1, 4, 0) == 2);  /* api_version: TF2 */
        CHECK(scalar(&cm, env, 2, 4, 0) == 2);  /* model_type: KERAS_MODEL */
        CHECK(field(&cm, env, 3) != 0);         /* model_hash */
        CHECK(scalar(&cm, opts, 1, 1, 0) == 1); /* allow_custom_ops */
        CHECK(!field(&cm, opts, 2) && !field(&cm, opts, 3));
    }
    free(o.p);

    /* Excluded: no CONVERSION_METADATA, and an existing one is removed. */
    m = wm_fc_relu();
    CHECK(md_add_conversion_metadata(m, &opt, NULL) == TFLC_OK);
    opt.exclude_conversion_metadata = 1;
    CHECK(md_add_conversion_metadata(m, &opt, NULL) == TFLC_OK);
    o = write_mem(m, NULL, 0);
    CHECK(metadata(&o, "CONVERSION_METADATA", &len) == 0);
    CHECK(metadata(&o, "min_runtime_version", &len) != 0);
    free(o.p);
}

/* Allocation failures in md_add_conversion_metadata: reported, and the
 * model stays valid (it can still be verified and written). */
static void test_metadata_out_of_memory(void)
{
    int saw = 0, ok = 0;
    for (long n = 1; n < 200 && !ok; n++) {
        ir_model_t *m = wm_fc_relu();
        CHECK(m && md_add_conversion_metadata(m, NULL, NULL) == TFLC_OK);
        mem_fail_after(n);
        tflc_code_t c = md_add_conversion_metadata(m, NULL, NULL);
        mem_fail_after(0);
        if (c) {
            CHECK(c == TFLC_ERR_NOMEM);
            saw = 1;
        } else {
            ok = 1;
        }
        CHECK(ir_verify(m, "oom", NULL) == TFLC_OK);
        out_t o = write_mem(m, NULL, 0);
        free(o.p);
    }
    CHECK(saw && ok);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tflc-test-writer-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_opcodes();
    test_options();
    test_signature_quant();
    test_external();
    test_determinism();
    test_no_partial_output();
    test_out_of_range();
    test_out_of_memory();
    test_metadata();
    test_metadata_out_of_memory();
    rmdir(tmpdir);
    if (failures) {
        fprintf(stderr, "test_writer: %d failures\n", failures);
        return 1;
    }
    printf("test_writer: ok\n");
    return 0;
}
