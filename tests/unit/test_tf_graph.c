/*
 * test_tf_graph.c -- the GraphDef front-end on hand-made graphs.
 *
 * Each case builds a GraphDef with protobuf-c, serialises it to a temp
 * file, loads it with tf_load_graph_def and checks the tfg graph against
 * TensorFlow's documented semantics written out here: Const values in
 * both encodings for every dtype (a short repeated field repeats its last
 * value), Identity/NoOp/control edges gone, pruning, topological order,
 * inputs/outputs/shapes options as tflite_convert reads them, function
 * inlining (PartitionedCall, direct calls, multi-output args such as
 * Split's "output:1" or FusedBatchNormV3's "batch_mean:0", nesting),
 * and every error case: cycles, recursion, missing nodes and functions,
 * unfrozen variables, bad tensor sizes, truncated and corrupt bytes.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/tf/tf.h"

static int failures;
static ar_t A; /* every proto built by a test */

#define CHECK(c)                                                            \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,          \
                    __LINE__, #c);                                          \
            failures++;                                                     \
        }                                                                   \
    } while (0)

/* ---- building protos --------------------------------------------------- */

static char *S(const char *s) { return ar_strdup(&A, s); }

static Tf__NodeDef *node(const char *name, const char *op, const char *ins)
{
    Tf__NodeDef *n = ar_alloc(&A, sizeof *n);
    tf__node_def__init(n);
    n->name = S(name);
    n->op = S(op);
    size_t cap = 0;
    for (const char *p = ins; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        AR_PUSH(&A, n->input, n->n_input, cap, ar_strndup(&A, p, len));
        p += len + (e ? 1 : 0);
    }
    return n;
}

static Tf__AttrValue *add_attr(Tf__NodeDef *n, const char *k)
{
    Tf__NodeDef__AttrEntry *e = ar_alloc(&A, sizeof *e);
    tf__node_def__attr_entry__init(e);
    e->key = S(k);
    e->value = ar_alloc(&A, sizeof *e->value);
    tf__attr_value__init(e->value);
    Tf__NodeDef__AttrEntry **a = ar_calloc(&A, n->n_attr + 1, sizeof *a);
    if (n->n_attr)
        memcpy(a, n->attr, n->n_attr * sizeof *a);
    a[n->n_attr++] = e;
    n->attr = a;
    return e->value;
}

static void attr_type(Tf__NodeDef *n, const char *k, int dt)
{
    Tf__AttrValue *v = add_attr(n, k);
    v->value_case = TF__ATTR_VALUE__VALUE_TYPE;
    v->type = (Tf__DataType)dt;
}

static void attr_i(Tf__NodeDef *n, const char *k, int64_t i)
{
    Tf__AttrValue *v = add_attr(n, k);
    v->value_case = TF__ATTR_VALUE__VALUE_I;
    v->i = i;
}

static Tf__TensorShapeProto *shape(int rank, const int64_t *dims)
{
    Tf__TensorShapeProto *s = ar_alloc(&A, sizeof *s);
    tf__tensor_shape_proto__init(s);
    if (rank < 0) {
        s->unknown_rank = 1;
        return s;
    }
    s->n_dim = (size_t)rank;
    s->dim = ar_calloc(&A, (size_t)rank + 1, sizeof *s->dim);
    for (int i = 0; i < rank; i++) {
        s->dim[i] = ar_alloc(&A, sizeof *s->dim[i]);
        tf__tensor_shape_proto__dim__init(s->dim[i]);
        s->dim[i]->size = dims[i];
    }
    return s;
}

static void attr_shape(Tf__NodeDef *n, const char *k, int rank,
                       const int64_t *dims)
{
    Tf__AttrValue *v = add_attr(n, k);
    v->value_case = TF__ATTR_VALUE__VALUE_SHAPE;
    v->shape = shape(rank, dims);
}

static void attr_func(Tf__NodeDef *n, const char *k, const char *f)
{
    Tf__AttrValue *v = add_attr(n, k);
    v->value_case = TF__ATTR_VALUE__VALUE_FUNC;
    v->func = ar_alloc(&A, sizeof *v->func);
    tf__name_attr_list__init(v->func);
    v->func->name = S(f);
}

static void attr_list_type(Tf__NodeDef *n, const char *k, int cnt,
                           const int *dts)
{
    Tf__AttrValue *v = add_attr(n, k);
    v->value_case = TF__ATTR_VALUE__VALUE_LIST;
    v->list = ar_alloc(&A, sizeof *v->list);
    tf__attr_value__list_value__init(v->list);
    v->list->n_type = (size_t)cnt;
    v->list->type = ar_calloc(&A, (size_t)cnt + 1, sizeof *v->list->type);
    for (int i = 0; i < cnt; i++)
        v->list->type[i] = (Tf__DataType)dts[i];
}

static void attr_list_shape(Tf__NodeDef *n, const char *k, int cnt, int rank,
                            const int64_t *dims)
{
    Tf__AttrValue *v = add_attr(n, k);
    v->value_case = TF__ATTR_VALUE__VALUE_LIST;
    v->list = ar_alloc(&A, sizeof *v->list);
    tf__attr_value__list_value__init(v->list);
    v->list->n_shape = (size_t)cnt;
    v->list->shape = ar_calloc(&A, (size_t)cnt + 1, sizeof *v->list->shape);
    for (int i = 0; i < cnt; i++)
        v->list->shape[i] = shape(rank, dims);
}

static Tf__TensorProto *tensor(int dt, int rank, const int64_t *dims)
{
    Tf__TensorProto *t = ar_alloc(&A, sizeof *t);
    tf__tensor_proto__init(t);
    t->dtype = (Tf__DataType)dt;
    t->tensor_shape = shape(rank, dims);
    return t;
}

static Tf__NodeDef *cnode(const char *name, Tf__TensorProto *t)
{
    Tf__NodeDef *n = node(name, "Const", NULL);
    attr_type(n, "dtype", t->dtype);
    Tf__AttrValue *v = add_attr(n, "value");
    v->value_case = TF__ATTR_VALUE__VALUE_TENSOR;
    v->tensor = t;
    return n;
}

/* A float32 Const holding vals (shape [n]). */
static Tf__NodeDef *fconst(const char *name, int n, const float *vals)
{
    int64_t d = n;
    Tf__TensorProto *t = tensor(TF_FLOAT, 1, &d);
    t->n_float_val = (size_t)n;
    t->float_val = ar_memdup(&A, vals, (size_t)n * sizeof *vals);
    return cnode(name, t);
}

static Tf__NodeDef *ph(const char *name, int dt, int rank, const int64_t *dims)
{
    Tf__NodeDef *n = node(name, "Placeholder", NULL);
    attr_type(n, "dtype", dt);
    if (rank >= -1)
        attr_shape(n, "shape", rank, dims);
    return n;
}

static Tf__NodeDef *op1(const char *name, const char *op, const char *ins)
{
    Tf__NodeDef *n = node(name, op, ins);
    attr_type(n, "T", TF_FLOAT);
    return n;
}

typedef struct gb {
    Tf__GraphDef g;
    size_t cap;
    Tf__FunctionDefLibrary lib;
    size_t fcap;
} gb_t;

static void gb_init(gb_t *b)
{
    memset(b, 0, sizeof *b);
    tf__graph_def__init(&b->g);
    tf__function_def_library__init(&b->lib);
}

static void add(gb_t *b, Tf__NodeDef *n) { AR_PUSH(&A, b->g.node, b->g.n_node, b->cap, n); }

static Tf__OpDef__ArgDef *arg(const char *name, int dt)
{
    Tf__OpDef__ArgDef *a = ar_alloc(&A, sizeof *a);
    tf__op_def__arg_def__init(a);
    a->name = S(name);
    a->type = (Tf__DataType)dt;
    return a;
}

/* A function: "x:1,y:20" args (name:dtype), outputs likewise, body
 * nodes, rets "out=node:arg:0,..." */
static Tf__FunctionDef *func(gb_t *b, const char *name, const char *ins,
                             const char *outs, Tf__NodeDef **body, size_t nb,
                             const char *rets)
{
    Tf__FunctionDef *f = ar_alloc(&A, sizeof *f);
    tf__function_def__init(f);
    f->signature = ar_alloc(&A, sizeof *f->signature);
    tf__op_def__init(f->signature);
    f->signature->name = S(name);
    for (int side = 0; side < 2; side++) {
        size_t cap = 0, *n = side ? &f->signature->n_output_arg
                                  : &f->signature->n_input_arg;
        Tf__OpDef__ArgDef ***v = side ? &f->signature->output_arg
                                      : &f->signature->input_arg;
        for (const char *p = side ? outs : ins; p && *p;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char *s = ar_strndup(&A, p, len), *c = strchr(s, ':');
            *c = 0;
            AR_PUSH(&A, *v, *n, cap, arg(s, atoi(c + 1)));
            p += len + (e ? 1 : 0);
        }
    }
    f->node_def = body;
    f->n_node_def = nb;
    size_t cap = 0;
    for (const char *p = rets; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *s = ar_strndup(&A, p, len), *eq = strchr(s, '=');
        *eq = 0;
        Tf__FunctionDef__RetEntry *r = ar_alloc(&A, sizeof *r);
        tf__function_def__ret_entry__init(r);
        r->key = s;
        r->value = eq + 1;
        AR_PUSH(&A, f->ret, f->n_ret, cap, r);
        p += len + (e ? 1 : 0);
    }
    AR_PUSH(&A, b->lib.function, b->lib.n_function, b->fcap, f);
    b->g.library = &b->lib;
    return f;
}

/* ---- loading ---------------------------------------------------------- */

static char g_path[64];

static void write_bytes(const void *p, size_t n)
{
    FILE *f = fopen(g_path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        perror(g_path);
        exit(2);
    }
}

static void write_graph(gb_t *b)
{
    size_t n = tf__graph_def__get_packed_size(&b->g);
    uint8_t *buf = ar_alloc(&A, n + 1);
    tf__graph_def__pack(&b->g, buf);
    write_bytes(buf, n);
}

typedef struct res {
    ir_model_t *m;
    tflc_status_t *st;
    tfg_graph_t *g;
    tflc_code_t rc;
} res_t;

static long g_fail_at; /* > 0: fail that allocation of the load */

static res_t load_file(const char *ins, const char *outs, const char *shapes)
{
    res_t r;
    tflc_convert_options_t o;
    tflc_convert_options_init(&o);
    o.input_path = g_path;
    o.input_arrays = ins;
    o.output_arrays = outs;
    o.input_shapes = shapes;
    r.m = ir_model_new();
    r.st = tflc_status_new();
    size_t n = 0;
    r.g = NULL;
    mem_fail_after(g_fail_at);
    r.rc = tf_load_graph_def(r.m, &o, &r.g, &n, r.st);
    mem_fail_after(0);
    CHECK(r.rc != TFLC_OK || (n == 1 && r.g));
    return r;
}

static res_t load(gb_t *b, const char *ins, const char *outs,
                  const char *shapes)
{
    write_graph(b);
    return load_file(ins, outs, shapes);
}

static void done(res_t *r)
{
    tflc_model_free(r->m);
    tflc_status_free(r->st);
}

static int has_msg(const res_t *r, const char *s)
{
    for (size_t i = 0; i < tflc_status_count(r->st); i++)
        if (strstr(tflc_status_message(r->st, i), s))
            return 1;
    fprintf(stderr, "  expected an error with '%s'; got:\n", s);
    tflc_status_print(r->st, stderr);
    return 0;
}

static int find(const tfg_graph_t *g, const char *name)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return (int)i;
    return -1;
}

static int count_op(const tfg_graph_t *g, const char *op)
{
    int n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n += !strcmp(g->nodes[i].op, op);
    return n;
}

static const tfg_tensor_t *value_of(const tfg_graph_t *g, const char *name)
{
    int i = find(g, name);
    if (i < 0)
        return NULL;
    const tfg_attr_t *v = tfg_attr(&g->nodes[i], "value");
    return v && v->kind == TFGA_TENSOR ? v->tensor : NULL;
}

/* Every node's inputs come earlier. */
static int topo_ok(const tfg_graph_t *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (uint32_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k].node < 0 ||
                (size_t)g->nodes[i].inputs[k].node >= i)
                return 0;
    return 1;
}

/* ---- Const values ----------------------------------------------------- */

/* Loads a graph whose output is Const "c" holding t; returns its value. */
static const tfg_tensor_t *load_const(res_t *r, Tf__TensorProto *t)
{
    gb_t b;
    gb_init(&b);
    add(&b, cnode("c", t));
    *r = load(&b, NULL, "c", NULL);
    if (r->rc != TFLC_OK)
        return NULL;
    return value_of(r->g, "c");
}

static void test_const_repeated(void)
{
    res_t r;
    int64_t d3[] = {3}, d22[] = {2, 2};
    /* float: [1.5, 2.5] for 3 elements repeats the last. */
    Tf__TensorProto *t = tensor(TF_FLOAT, 1, d3);
    float fv[] = {1.5f, 2.5f};
    t->n_float_val = 2;
    t->float_val = fv;
    const tfg_tensor_t *v = load_const(&r, t);
    CHECK(v && v->dtype == TF_FLOAT && v->size == 12);
    if (v) {
        float got[3];
        memcpy(got, v->data, 12);
        CHECK(got[0] == 1.5f && got[1] == 2.5f && got[2] == 2.5f);
        CHECK(v->shape.rank == 1 && v->shape.dims[0] == 3);
    }
    done(&r);

    /* int8 from int_val: narrowed to one byte each, negative kept. */
    t = tensor(TF_INT8, 2, d22);
    int32_t iv[] = {-3, 7};
    t->n_int_val = 2;
    t->int_val = iv;
    v = load_const(&r, t);
    CHECK(v && v->size == 4);
    if (v)
        CHECK(memcmp(v->data, (int8_t[]){-3, 7, 7, 7}, 4) == 0);
    done(&r);

    /* uint16 and int16 from int_val */
    t = tensor(TF_UINT16, 1, d3);
    int32_t uv[] = {65535, 1, 2};
    t->n_int_val = 3;
    t->int_val = uv;
    v = load_const(&r, t);
    CHECK(v && v->size == 6);
    if (v)
        CHECK(memcmp(v->data, (uint16_t[]){65535, 1, 2}, 6) == 0);
    done(&r);

    /* half: bits in half_val (1.0 = 0x3c00), one value splatted */
    t = tensor(TF_HALF, 1, d3);
    int32_t hv[] = {0x3c00};
    t->n_half_val = 1;
    t->half_val = hv;
    v = load_const(&r, t);
    CHECK(v && v->size == 6);
    if (v)
        CHECK(memcmp(v->data, (uint16_t[]){0x3c00, 0x3c00, 0x3c00}, 6) == 0);
    done(&r);

    /* bfloat16: also half_val (2.0 = 0x4000) */
    t = tensor(TF_BFLOAT16, 1, d3);
    int32_t bv[] = {0x4000, 0x3f80};
    t->n_half_val = 2;
    t->half_val = bv;
    v = load_const(&r, t);
    CHECK(v && v->dtype == TF_BFLOAT16 && v->size == 6);
    if (v)
        CHECK(memcmp(v->data, (uint16_t[]){0x4000, 0x3f80, 0x3f80}, 6) == 0);
    done(&r);

    /* int64 beyond 32 bits */
    t = tensor(TF_INT64, 1, d3);
    int64_t lv[] = {-5000000000ll, 3};
    t->n_int64_val = 2;
    t->int64_val = lv;
    v = load_const(&r, t);
    CHECK(v && v->size == 24);
    if (v)
        CHECK(memcmp(v->data, (int64_t[]){-5000000000ll, 3, 3}, 24) == 0);
    done(&r);

    /* bool: one byte per element */
    t = tensor(TF_BOOL, 2, d22);
    protobuf_c_boolean bo[] = {1, 0, 1};
    t->n_bool_val = 3;
    t->bool_val = bo;
    v = load_const(&r, t);
    CHECK(v && v->size == 4);
    if (v)
        CHECK(memcmp(v->data, (uint8_t[]){1, 0, 1, 1}, 4) == 0);
    done(&r);

    /* uint32 / uint64 / double / complex64 */
    t = tensor(TF_UINT32, 1, d3);
    uint32_t u32[] = {4000000000u};
    t->n_uint32_val = 1;
    t->uint32_val = u32;
    v = load_const(&r, t);
    CHECK(v && v->size == 12);
    if (v)
        CHECK(memcmp(v->data, (uint32_t[]){4000000000u, 4000000000u,
                                           4000000000u}, 12) == 0);
    done(&r);

    t = tensor(TF_UINT64, 1, d3);
    uint64_t u64[] = {1, 18000000000000000000ull};
    t->n_uint64_val = 2;
    t->uint64_val = u64;
    v = load_const(&r, t);
    CHECK(v && v->size == 24);
    if (v)
        CHECK(memcmp(v->data, (uint64_t[]){1, 18000000000000000000ull,
                                           18000000000000000000ull}, 24) == 0);
    done(&r);

    t = tensor(TF_DOUBLE, 0, NULL);
    double dv[] = {0.1};
    t->n_double_val = 1;
    t->double_val = dv;
    v = load_const(&r, t);
    CHECK(v && v->size == 8 && v->shape.rank == 0);
    if (v)
        CHECK(memcmp(v->data, dv, 8) == 0);
    done(&r);

    t = tensor(TF_COMPLEX64, 1, (int64_t[]){2});
    float cv[] = {1, 2};
    t->n_scomplex_val = 2;
    t->scomplex_val = cv;
    v = load_const(&r, t);
    CHECK(v && v->size == 16);
    if (v)
        CHECK(memcmp(v->data, (float[]){1, 2, 1, 2}, 16) == 0);
    done(&r);

    /* No values at all: zeros. */
    t = tensor(TF_INT32, 1, d3);
    v = load_const(&r, t);
    CHECK(v && v->size == 12);
    if (v)
        CHECK(memcmp(v->data, (int32_t[]){0, 0, 0}, 12) == 0);
    done(&r);

    /* string: pointers and lengths, last one repeated */
    t = tensor(TF_STRING, 1, d3);
    ProtobufCBinaryData sv[2] = {{2, (uint8_t *)"ab"}, {3, (uint8_t *)"x\0y"}};
    t->n_string_val = 2;
    t->string_val = sv;
    v = load_const(&r, t);
    CHECK(v && v->n_strings == 3);
    if (v && v->n_strings == 3) {
        CHECK(v->string_lens[0] == 2 && !memcmp(v->strings[0], "ab", 2));
        CHECK(v->string_lens[1] == 3 && !memcmp(v->strings[1], "x\0y", 3));
        CHECK(v->string_lens[2] == 3 && !memcmp(v->strings[2], "x\0y", 3));
    }
    done(&r);
}

static void test_const_content(void)
{
    res_t r;
    int64_t d[] = {2, 3};
    /* tensor_content: raw little-endian bytes, used as they are */
    static const float f6[] = {1, 2, 3, 4, 5, 6};
    Tf__TensorProto *t = tensor(TF_FLOAT, 2, d);
    t->tensor_content.len = sizeof f6;
    t->tensor_content.data = (uint8_t *)f6;
    const tfg_tensor_t *v = load_const(&r, t);
    CHECK(v && v->size == 24 && memcmp(v->data, f6, 24) == 0);
    CHECK(r.g && r.g->nodes[0].n_outputs == 1 &&
          r.g->nodes[0].out_dtypes[0] == TF_FLOAT &&
          r.g->nodes[0].out_shapes[0].rank == 2 &&
          r.g->nodes[0].out_shapes[0].dims[1] == 3);
    done(&r);

    static const uint16_t h6[] = {1, 2, 3, 4, 5, 0xffff};
    t = tensor(TF_HALF, 2, d);
    t->tensor_content.len = sizeof h6;
    t->tensor_content.data = (uint8_t *)h6;
    v = load_const(&r, t);
    CHECK(v && v->size == 12 && memcmp(v->data, h6, 12) == 0);
    done(&r);

    static const int64_t l6[] = {1, -2, 3, 4, 5, 6};
    t = tensor(TF_INT64, 2, d);
    t->tensor_content.len = sizeof l6;
    t->tensor_content.data = (uint8_t *)l6;
    v = load_const(&r, t);
    CHECK(v && v->size == 48 && memcmp(v->data, l6, 48) == 0);
    done(&r);

    static const uint8_t b6[] = {1, 0, 0, 1, 1, 0};
    t = tensor(TF_BOOL, 2, d);
    t->tensor_content.len = sizeof b6;
    t->tensor_content.data = (uint8_t *)b6;
    v = load_const(&r, t);
    CHECK(v && v->size == 6 && memcmp(v->data, b6, 6) == 0);
    done(&r);

    /* wrong size: an error naming the node */
    t = tensor(TF_FLOAT, 2, d);
    t->tensor_content.len = 20;
    t->tensor_content.data = (uint8_t *)f6;
    v = load_const(&r, t);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "node 'c'") &&
          has_msg(&r, "tensor_content has 20 bytes"));
    done(&r);

    /* more values than elements */
    t = tensor(TF_FLOAT, 1, (int64_t[]){1});
    t->n_float_val = 2;
    t->float_val = (float *)f6;
    v = load_const(&r, t);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "2 values"));
    done(&r);

    /* a huge splat from a tiny file is refused, not allocated */
    t = tensor(TF_FLOAT, 2, (int64_t[]){1 << 20, 1 << 20});
    t->n_float_val = 1;
    t->float_val = (float *)f6;
    v = load_const(&r, t);
    CHECK(r.rc == TFLC_ERR_UNSUPPORTED && has_msg(&r, "too large"));
    done(&r);

    /* negative dim in a value */
    t = tensor(TF_FLOAT, 1, (int64_t[]){-1});
    v = load_const(&r, t);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "unknown dim"));
    done(&r);
}

/* ---- graph structure ---------------------------------------------------- */

static void test_identity_pruning_order(void)
{
    gb_t b;
    gb_init(&b);
    int64_t d[] = {-1, 2};
    /* Listed consumers first: the result must still be sorted. */
    add(&b, op1("out", "Relu", "id2"));
    add(&b, op1("id2", "Identity", "add:0,^noop"));
    add(&b, node("noop", "NoOp", "^w"));
    add(&b, op1("add", "AddV2", "x,id1"));
    add(&b, op1("id1", "Identity", "w"));
    add(&b, fconst("w", 2, (float[]){1, 2}));
    add(&b, ph("x", TF_FLOAT, 2, d));
    add(&b, ph("unused", TF_FLOAT, 2, d));
    add(&b, op1("dead", "Neg", "x"));
    res_t r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK) {
        const tfg_graph_t *g = r.g;
        CHECK(g->n_nodes == 4); /* x, w, add, out */
        CHECK(count_op(g, "Identity") == 0 && count_op(g, "NoOp") == 0);
        CHECK(find(g, "dead") < 0 && find(g, "unused") < 0);
        CHECK(topo_ok(g));
        int add_i = find(g, "add"), out_i = find(g, "out");
        CHECK(add_i >= 0 && out_i >= 0);
        if (add_i >= 0 && out_i >= 0) {
            const tfg_node_t *a = &g->nodes[add_i];
            CHECK(a->n_inputs == 2 && a->inputs[0].node == find(g, "x") &&
                  a->inputs[1].node == find(g, "w"));
            CHECK(g->nodes[out_i].n_inputs == 1 &&
                  g->nodes[out_i].inputs[0].node == add_i);
            CHECK(a->n_outputs == 1 && a->out_dtypes[0] == TF_FLOAT);
        }
        /* default inputs: the Placeholders the outputs need */
        CHECK(g->n_inputs == 1 && !strcmp(g->inputs[0].name, "x") &&
              !strcmp(g->inputs[0].tensor_name, "x:0") &&
              g->inputs[0].dtype == TF_FLOAT && g->inputs[0].shape.rank == 2 &&
              g->inputs[0].shape.dims[0] == -1);
        CHECK(g->n_outputs == 1 && !strcmp(g->outputs[0].name, "out") &&
              g->outputs[0].edge.node == out_i);
    }
    done(&r);

    /* Outputs inferred: nodes nobody consumes ("dead" and "out"), not
     * the unused Placeholder or the NoOp. */
    r = load(&b, NULL, NULL, NULL);
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK) {
        CHECK(r.g->n_outputs == 2 && !strcmp(r.g->outputs[0].name, "out") &&
              !strcmp(r.g->outputs[1].name, "dead"));
        CHECK(r.g->n_nodes == 5 && topo_ok(r.g));
    }
    done(&r);
}

static void test_io_options(void)
{
    gb_t b;
    gb_init(&b);
    int64_t d[] = {-1, 4};
    add(&b, ph("x", TF_FLOAT, 2, d));
    add(&b, op1("a", "Relu", "x"));
    Tf__NodeDef *sp = node("sp", "Split", "dim,a");
    attr_type(sp, "T", TF_FLOAT);
    attr_i(sp, "num_split", 2);
    attr_list_shape(sp, "_output_shapes", 2, 2, (int64_t[]){-1, 2});
    add(&b, sp);
    Tf__TensorProto *dimt = tensor(TF_INT32, 0, NULL);
    dimt->n_int_val = 1;
    dimt->int_val = (int32_t[]){1};
    add(&b, cnode("dim", dimt));
    add(&b, op1("b", "Tanh", "sp:1"));
    Tf__NodeDef *pd = node("pd", "PlaceholderWithDefault", "a");
    attr_type(pd, "dtype", TF_FLOAT);
    add(&b, pd);
    add(&b, op1("c", "Sigmoid", "pd"));

    /* A cut at an intermediate tensor, with a shape, and two outputs
     * including output 1 of a multi-output op. */
    res_t r = load(&b, "a", "b,sp:1,c", "1,4");
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK) {
        const tfg_graph_t *g = r.g;
        CHECK(find(g, "x") < 0 && count_op(g, "Relu") == 0);
        CHECK(g->n_inputs == 1 && !strcmp(g->inputs[0].name, "a") &&
              g->inputs[0].shape.rank == 2 && g->inputs[0].shape.dims[0] == 1 &&
              g->inputs[0].dtype == TF_FLOAT);
        int ai = find(g, "a");
        CHECK(ai >= 0 && !strcmp(g->nodes[ai].op, "Placeholder"));
        CHECK(g->n_outputs == 3);
        int si = find(g, "sp");
        CHECK(si >= 0 && g->outputs[1].edge.node == si &&
              g->outputs[1].edge.index == 1 &&
              !strcmp(g->outputs[1].name, "sp:1"));
        if (si >= 0) {
            const tfg_node_t *s = &g->nodes[si];
            CHECK(s->n_outputs == 2 && s->out_dtypes[1] == TF_FLOAT &&
                  s->out_shapes[1].rank == 2 && s->out_shapes[1].dims[1] == 2);
            CHECK(s->n_inputs == 2 && s->inputs[1].node == ai);
        }
        /* PlaceholderWithDefault, not an input: its default flows on */
        int ci = find(g, "c");
        CHECK(ci >= 0 && g->nodes[ci].inputs[0].node == ai);
        CHECK(topo_ok(g));
    }
    done(&r);

    /* PlaceholderWithDefault as an input */
    r = load(&b, "pd", "c", NULL);
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK)
        CHECK(r.g->n_nodes == 2 && r.g->n_inputs == 1 &&
              !strcmp(r.g->nodes[0].op, "Placeholder") &&
              r.g->inputs[0].dtype == TF_FLOAT);
    done(&r);

    /* errors in the options */
    r = load(&b, "nope", "b", NULL);
    CHECK(r.rc == TFLC_ERR_INVALID && has_msg(&r, "no node 'nope'"));
    done(&r);
    r = load(&b, "x", "b", "1,4:2");
    CHECK(r.rc == TFLC_ERR_INVALID && has_msg(&r, "2 shapes for 1 input"));
    done(&r);
    r = load(&b, "x", "b", "1,z");
    CHECK(r.rc == TFLC_ERR_INVALID && has_msg(&r, "not a dimension"));
    done(&r);
    r = load(&b, NULL, "b:x", NULL);
    CHECK(r.rc == TFLC_ERR_INVALID && has_msg(&r, "not a tensor name"));
    done(&r);
    r = load(&b, NULL, "a:3", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "reads output 3 of 'a'") &&
          has_msg(&r, "which has 1"));
    done(&r);
    /* an op tflc does not know: output indices are bounded, not trusted */
    gb_t u;
    gb_init(&u);
    add(&u, ph("x", TF_FLOAT, -1, NULL));
    add(&u, node("mystery", "SomeCustomOp", "x"));
    add(&u, op1("y", "Relu", "mystery:2"));
    add(&u, op1("z", "Relu", "mystery:999999999"));
    r = load(&u, NULL, "y", NULL);
    CHECK(r.rc == TFLC_OK && r.g->nodes[find(r.g, "mystery")].n_outputs == 3);
    done(&r);
    r = load(&u, NULL, "z", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "fewer than 4096"));
    done(&r);
}

static void test_graph_errors(void)
{
    gb_t b;
    gb_init(&b);
    add(&b, ph("x", TF_FLOAT, -2, NULL));
    add(&b, op1("a", "Add", "x,b"));
    add(&b, op1("b", "Mul", "a,x"));
    add(&b, op1("out", "Relu", "b"));
    res_t r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_UNSUPPORTED && has_msg(&r, "cycle"));
    done(&r);

    gb_init(&b);
    add(&b, op1("out", "Relu", "missing:0"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "node 'out'") &&
          has_msg(&r, "names no node"));
    done(&r);

    gb_init(&b);
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    add(&b, op1("x", "Relu", "x"));
    r = load(&b, NULL, NULL, NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "two nodes named 'x'"));
    done(&r);

    /* An unfrozen variable */
    gb_init(&b);
    Tf__NodeDef *v = node("v", "VariableV2", NULL);
    attr_type(v, "dtype", TF_FLOAT);
    add(&b, v);
    add(&b, op1("r", "Identity", "v"));
    add(&b, op1("out", "Relu", "r"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_UNSUPPORTED && has_msg(&r, "not frozen"));
    done(&r);

    /* Identity forwarding in a loop */
    gb_init(&b);
    add(&b, op1("i1", "Identity", "i2"));
    add(&b, op1("i2", "Identity", "i1"));
    add(&b, op1("out", "Relu", "i1"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "cycle"));
    done(&r);

    /* Reading output 1 of an Identity */
    gb_init(&b);
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    add(&b, op1("i", "Identity", "x"));
    add(&b, op1("out", "Relu", "i:1"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "output 1 of 'i'"));
    done(&r);
}

/* ---- functions ---------------------------------------------------------- */

static void test_functions(void)
{
    gb_t b;
    gb_init(&b);
    int64_t d[] = {-1, 4};
    /* inner(v): Split v in two, FusedBatchNormV3 on half 1, returns
     * (split:output:0, bn:batch_mean:0, bn:y:0) */
    Tf__NodeDef *dim = cnode("dim", tensor(TF_INT32, 0, NULL));
    Tf__NodeDef *sp = node("split", "Split", "dim:output:0,v");
    attr_type(sp, "T", TF_FLOAT);
    attr_i(sp, "num_split", 2);
    Tf__NodeDef *bn = node("bn", "FusedBatchNormV3",
                           "split:output:1,s,s,s,s");
    attr_type(bn, "T", TF_FLOAT);
    attr_type(bn, "U", TF_FLOAT);
    Tf__NodeDef *inner_body[] = {dim, sp, bn};
    func(&b, "inner", "v:1,s:1", "a:1,m:1,y:1", inner_body, 3,
         "a=split:output:0,m=bn:batch_mean:0,y=bn:y:0");

    /* outer(p, s): calls inner directly (op = function name) and through
     * PartitionedCall; returns the Add of their results. */
    Tf__NodeDef *c1 = node("c1", "inner", "p,s");
    Tf__NodeDef *c2 = node("c2", "PartitionedCall", "p,s");
    attr_func(c2, "f", "inner");
    attr_list_type(c2, "Tout", 3, (int[]){1, 1, 1});
    Tf__NodeDef *sum = op1("sum", "AddV2", "c1:m:0,c2:output:1");
    Tf__NodeDef *id = op1("id", "Identity", "sum:z:0");
    Tf__NodeDef *outer_body[] = {c1, c2, sum, id};
    func(&b, "outer", "p:1,s:1", "r:1,q:1", outer_body, 4,
         "r=id:output:0,q=c1:y:0");

    add(&b, ph("x", TF_FLOAT, 2, d));
    Tf__TensorProto *st = tensor(TF_FLOAT, 1, (int64_t[]){2});
    add(&b, cnode("scale", st));
    Tf__NodeDef *call = node("call", "StatefulPartitionedCall", "x,scale");
    attr_func(call, "f", "outer");
    attr_list_type(call, "Tout", 2, (int[]){1, 1});
    add(&b, call);
    add(&b, op1("o1", "Relu", "call"));
    add(&b, op1("o2", "Relu", "call:1"));
    res_t r = load(&b, NULL, "o1,o2", NULL);
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK) {
        const tfg_graph_t *g = r.g;
        CHECK(topo_ok(g));
        CHECK(count_op(g, "PartitionedCall") == 0 &&
              count_op(g, "StatefulPartitionedCall") == 0 &&
              count_op(g, "inner") == 0 && count_op(g, "Identity") == 0);
        /* two instances of inner, each with one Split and one BN */
        CHECK(count_op(g, "Split") == 2 && count_op(g, "FusedBatchNormV3") == 2);
        int s1 = find(g, "call/c1/split"), b1 = find(g, "call/c1/bn");
        int b2 = find(g, "call/c2/bn"), su = find(g, "call/sum");
        CHECK(s1 >= 0 && b1 >= 0 && b2 >= 0 && su >= 0);
        if (s1 >= 0 && b1 >= 0 && b2 >= 0 && su >= 0) {
            /* bn reads split:output:1 = flat output 1 */
            CHECK(g->nodes[b1].inputs[0].node == s1 &&
                  g->nodes[b1].inputs[0].index == 1);
            /* the other inputs are the outer graph's "scale" */
            CHECK(g->nodes[b1].inputs[1].node == find(g, "scale"));
            /* sum = c1's m (batch_mean = flat 1) + c2's output 1 (= m) */
            CHECK(g->nodes[su].inputs[0].node == b1 &&
                  g->nodes[su].inputs[0].index == 1);
            CHECK(g->nodes[su].inputs[1].node == b2 &&
                  g->nodes[su].inputs[1].index == 1);
            CHECK(g->nodes[b1].n_outputs == 6 &&
                  g->nodes[b1].out_dtypes[5] == TF_FLOAT);
            /* the split's first input, through the body's Const */
            CHECK(!strcmp(g->nodes[g->nodes[s1].inputs[0].node].name,
                          "call/c1/dim"));
            /* o1 = Relu(sum), o2 = Relu(c1's y = bn flat 0) */
            int o1 = find(g, "o1"), o2 = find(g, "o2");
            CHECK(o1 >= 0 && g->nodes[o1].inputs[0].node == su);
            CHECK(o2 >= 0 && g->nodes[o2].inputs[0].node == b1 &&
                  g->nodes[o2].inputs[0].index == 0);
        }
        /* c2's split output 0 and c2/bn's y are not needed: c2's split
         * is, through bn; nothing else of c2 */
        CHECK(find(g, "call/c2/split") >= 0);
    }
    done(&r);

    /* recursion: f calls g calls f */
    gb_init(&b);
    Tf__NodeDef *fa = node("cg", "PartitionedCall", "x");
    attr_func(fa, "f", "g");
    Tf__NodeDef *fbody[] = {fa};
    func(&b, "f", "x:1", "y:1", fbody, 1, "y=cg:output:0");
    Tf__NodeDef *gbn = node("cf", "f", "x");
    Tf__NodeDef *gbody[] = {gbn};
    func(&b, "g", "x:1", "y:1", gbody, 1, "y=cf:y:0");
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    Tf__NodeDef *top = node("top", "PartitionedCall", "x");
    attr_func(top, "f", "f");
    add(&b, top);
    add(&b, op1("out", "Relu", "top"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_UNSUPPORTED && has_msg(&r, "calls itself"));
    done(&r);

    /* a missing function */
    gb_init(&b);
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    Tf__NodeDef *mc = node("call", "PartitionedCall", "x");
    attr_func(mc, "f", "nowhere");
    add(&b, mc);
    add(&b, op1("out", "Relu", "call"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "'nowhere'") &&
          has_msg(&r, "not in the function library"));
    done(&r);

    /* a body naming an output arg its op does not have */
    gb_init(&b);
    Tf__NodeDef *sp2 = node("split", "Split", "d,v");
    attr_type(sp2, "T", TF_FLOAT);
    attr_i(sp2, "num_split", 2);
    Tf__NodeDef *bn2 = node("bn", "FusedBatchNormV3", "split:output:0,v,v,v,v");
    attr_type(bn2, "T", TF_FLOAT);
    attr_type(bn2, "U", TF_FLOAT);
    Tf__NodeDef *bad = op1("bad", "Relu", "bn:nonsense:0");
    Tf__NodeDef *bbody[] = {cnode("d", tensor(TF_INT32, 0, NULL)), sp2, bn2,
                            bad};
    func(&b, "h", "v:1", "y:1", bbody, 4, "y=bad:activations:0");
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    Tf__NodeDef *hc = node("call", "PartitionedCall", "x");
    attr_func(hc, "f", "h");
    add(&b, hc);
    add(&b, op1("out", "Relu", "call"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "no output 'nonsense:0'"));
    done(&r);

    /* wrong argument count */
    gb_init(&b);
    Tf__NodeDef *ibody[] = {op1("r", "Relu", "v")};
    func(&b, "one", "v:1", "y:1", ibody, 1, "y=r:activations:0");
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    Tf__NodeDef *wc = node("call", "PartitionedCall", "x,x");
    attr_func(wc, "f", "one");
    add(&b, wc);
    add(&b, op1("out", "Relu", "call"));
    r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "with 2 inputs, it takes 1"));
    done(&r);
}

/* Functions named by While/If attributes become g->funcs: every argument
 * an input, every result an output, calls inside inlined; a body naming
 * further functions (or itself) adds them once. */
static void test_function_graphs(void)
{
    gb_t b;
    gb_init(&b);
    /* sq(v) = v * v, called from the loop body */
    Tf__NodeDef *sq_body[] = {op1("m", "Mul", "v,v")};
    func(&b, "sq", "v:1", "y:1", sq_body, 1, "y=m:z:0");
    /* body(i, x) = (i + 1, sq(x)); an If on a bool it makes names th/el */
    Tf__NodeDef *one = cnode("one", tensor(TF_INT32, 0, NULL));
    Tf__NodeDef *inc = node("inc", "AddV2", "i,one:output:0");
    attr_type(inc, "T", TF_INT32);
    Tf__NodeDef *c = node("c", "PartitionedCall", "x");
    attr_func(c, "f", "sq");
    attr_list_type(c, "Tout", 1, (int[]){TF_FLOAT});
    Tf__NodeDef *iff = node("iff", "StatelessIf", "i,x");
    attr_func(iff, "then_branch", "th");
    attr_func(iff, "else_branch", "el");
    attr_func(iff, "unknown_fn", "not_in_library");
    attr_list_type(iff, "Tout", 1, (int[]){TF_FLOAT});
    Tf__NodeDef *w2 = node("w2", "While", "i,x");
    attr_func(w2, "cond", "cond");
    attr_func(w2, "body", "body"); /* itself: built once */
    attr_list_type(w2, "T", 2, (int[]){TF_INT32, TF_FLOAT});
    Tf__NodeDef *addn = op1("add", "AddV2", "c:output:0,iff:output:0");
    Tf__NodeDef *add2 = op1("add2", "AddV2", "add:z:0,w2:output:1");
    Tf__NodeDef *body_nodes[] = {one, inc, c, iff, w2, addn, add2};
    func(&b, "body", "i:3,x:1", "i2:3,x2:1", body_nodes, 7,
         "i2=inc:z:0,x2=add2:z:0");
    Tf__NodeDef *less = node("less", "Less", "i,i");
    attr_type(less, "T", TF_INT32);
    Tf__NodeDef *cond_nodes[] = {less};
    func(&b, "cond", "i:3,x:1", "ok:10", cond_nodes, 1, "ok=less:z:0");
    Tf__NodeDef *th_nodes[] = {op1("n", "Neg", "x")};
    func(&b, "th", "p:3,x:1", "y:1", th_nodes, 1, "y=n:y:0");
    func(&b, "el", "p:3,x:1", "y:1", NULL, 0, "y=x");

    add(&b, ph("x", TF_FLOAT, 1, (int64_t[]){4}));
    add(&b, cnode("i0", tensor(TF_INT32, 0, NULL)));
    Tf__NodeDef *w = node("w", "StatelessWhile", "i0,x");
    attr_func(w, "cond", "cond");
    attr_func(w, "body", "body");
    attr_list_type(w, "T", 2, (int[]){TF_INT32, TF_FLOAT});
    add(&b, w);
    add(&b, op1("out", "Relu", "w:1"));
    res_t r = load(&b, NULL, "out", NULL);
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK) {
        const tfg_graph_t *g = r.g;
        int wi = find(g, "w");
        CHECK(wi >= 0 && g->nodes[wi].n_outputs == 2 &&
              g->nodes[wi].out_dtypes[0] == TF_INT32 &&
              g->nodes[wi].out_dtypes[1] == TF_FLOAT);
        CHECK(g->n_funcs == 4);
        const char *want[] = {"cond", "body", "th", "el"};
        for (size_t i = 0; i < 4 && i < g->n_funcs; i++)
            CHECK(!strcmp(g->funcs[i].name, want[i]) &&
                  g->funcs[i].n_funcs == 0 && topo_ok(&g->funcs[i]));
        if (g->n_funcs == 4) {
            const tfg_graph_t *bd = &g->funcs[1];
            CHECK(bd->n_inputs == 2 && !strcmp(bd->inputs[0].name, "i") &&
                  bd->inputs[0].dtype == TF_INT32 &&
                  bd->inputs[1].dtype == TF_FLOAT);
            CHECK(bd->n_outputs == 2 && !strcmp(bd->outputs[1].name, "x2") &&
                  bd->outputs[0].edge.node == find(bd, "inc"));
            /* the call to sq is inlined */
            CHECK(count_op(bd, "PartitionedCall") == 0 &&
                  find(bd, "c/m") >= 0 && count_op(bd, "StatelessIf") == 1 &&
                  count_op(bd, "While") == 1);
            /* cond: the unused x is still an input */
            CHECK(g->funcs[0].n_inputs == 2 && g->funcs[0].n_outputs == 1);
            /* el returns its argument */
            const tfg_graph_t *el = &g->funcs[3];
            CHECK(el->n_nodes == 2 && el->n_outputs == 1 &&
                  el->outputs[0].edge.node == find(el, "x"));
        }
    }
    done(&r);

    /* A body that cannot be built fails the load, naming the function. */
    gb_init(&b);
    Tf__NodeDef *bad[] = {op1("n", "Neg", "nowhere")};
    func(&b, "badbody", "x:1", "y:1", bad, 1, "y=n:y:0");
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    Tf__NodeDef *w3 = node("w", "While", "x");
    attr_func(w3, "body", "badbody");
    add(&b, w3);
    r = load(&b, NULL, "w", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "function 'badbody'") &&
          has_msg(&r, "input 'nowhere'"));
    done(&r);
}

/* ---- freezing ------------------------------------------------------------ */

static int g_freeze_calls;

/* A freezer that gives every variable the value [1, 2, 3, 4] (2x2 float)
 * and records what it was asked for. */
static tflc_code_t test_value(void *user, const Tf__NodeDef *var,
                              tfg_tensor_t *out, tflc_status_t *st)
{
    (void)user;
    static const float v[4] = {1, 2, 3, 4};
    static int64_t dims[2] = {2, 2};
    g_freeze_calls++;
    if (!strcmp(var->name, "broken"))
        return st_err(st, TFLC_ERR_FORMAT, "ckpt", "no entry for '%s'",
                      var->name);
    memset(out, 0, sizeof *out);
    out->dtype = TF_FLOAT;
    out->shape.rank = 2;
    out->shape.dims = dims;
    out->data = (const uint8_t *)v;
    out->size = sizeof v;
    return TFLC_OK;
}

static tflc_code_t build_with_freezer(gb_t *b, const char *out, res_t *r)
{
    static tf_freezer_t fz = {test_value, NULL};
    tf_io_req_t q = {out, out, 0, NULL};
    tf_build_opts_t o = {0};
    o.file = "g.pb";
    o.gd = &b->g;
    o.outputs = &q;
    o.n_outputs = 1;
    o.freezer = &fz;
    r->m = ir_model_new();
    r->st = tflc_status_new();
    r->g = ar_calloc(&r->m->arena, 1, sizeof *r->g);
    g_freeze_calls = 0;
    return r->rc = tf_graph_build(&r->m->arena, &o, r->g, r->st);
}

static Tf__NodeDef *var(const char *name)
{
    Tf__NodeDef *n = node(name, "VarHandleOp", NULL);
    attr_type(n, "dtype", TF_FLOAT);
    return n;
}

static void test_freezing(void)
{
    gb_t b;
    gb_init(&b);
    add(&b, var("v"));
    add(&b, var("unused"));
    add(&b, ph("x", TF_FLOAT, 2, (int64_t[]){-1, 2}));
    Tf__NodeDef *rd = node("rd", "ReadVariableOp", "v");
    attr_type(rd, "dtype", TF_FLOAT);
    add(&b, rd);
    add(&b, op1("mm", "MatMul", "x,rd"));
    /* ResourceGather reads rows of the variable */
    add(&b, ph("idx", TF_INT32, 1, (int64_t[]){3}));
    Tf__NodeDef *rg = node("rg", "ResourceGather", "v,idx");
    attr_type(rg, "dtype", TF_FLOAT);
    attr_type(rg, "Tindices", TF_INT32);
    add(&b, rg);
    /* a write: only reachable through a control edge, so harmless */
    add(&b, node("assign", "AssignVariableOp", "v,mm"));
    add(&b, op1("out", "Relu", "mm,^assign"));
    /* a write whose result is used as data: refused */
    Tf__NodeDef *ra = node("ra", "AssignAddVariableOp", "v,mm");
    add(&b, ra);
    add(&b, op1("bad", "Relu", "v"));
    Tf__NodeDef *brd = node("brd", "ReadVariableOp", "broken");
    attr_type(brd, "dtype", TF_FLOAT);
    add(&b, var("broken"));
    add(&b, brd);

    res_t r;
    build_with_freezer(&b, "out", &r);
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK) {
        const tfg_graph_t *g = r.g;
        CHECK(g_freeze_calls == 1); /* only v, once */
        CHECK(count_op(g, "VarHandleOp") == 0 &&
              count_op(g, "ReadVariableOp") == 0 &&
              count_op(g, "AssignVariableOp") == 0);
        int vi = find(g, "v"), mi = find(g, "mm");
        CHECK(vi >= 0 && !strcmp(g->nodes[vi].op, "Const") && mi >= 0 &&
              g->nodes[mi].inputs[1].node == vi);
        const tfg_tensor_t *t = value_of(g, "v");
        CHECK(t && t->size == 16 && ((const float *)t->data)[3] == 4);
        CHECK(g->nodes[vi].n_outputs == 1 && g->nodes[vi].out_dtypes[0] ==
              TF_FLOAT && g->nodes[vi].out_shapes[0].rank == 2);
    }
    done(&r);

    build_with_freezer(&b, "rg", &r);
    CHECK(r.rc == TFLC_OK);
    if (r.rc == TFLC_OK) {
        const tfg_graph_t *g = r.g;
        int gi = find(g, "rg");
        CHECK(gi >= 0 && !strcmp(g->nodes[gi].op, "GatherV2") &&
              g->nodes[gi].n_inputs == 3);
        if (gi >= 0 && g->nodes[gi].n_inputs == 3) {
            const tfg_node_t *ax = &g->nodes[g->nodes[gi].inputs[2].node];
            const tfg_attr_t *v = tfg_attr(ax, "value");
            CHECK(!strcmp(ax->op, "Const") && v && v->tensor->dtype == TF_INT32 &&
                  v->tensor->size == 4 && *(const int32_t *)v->tensor->data == 0);
            CHECK(g->nodes[g->nodes[gi].inputs[0].node].op[0] == 'C');
        }
    }
    done(&r);

    build_with_freezer(&b, "bad", &r);
    CHECK(r.rc == TFLC_ERR_UNSUPPORTED &&
          has_msg(&r, "uses variable 'v' other than by reading it"));
    done(&r);
    build_with_freezer(&b, "ra", &r); /* an op without outputs */
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "which has 0"));
    done(&r);
    build_with_freezer(&b, "brd", &r);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "no entry for 'broken'"));
    done(&r);
}

/* ---- bytes ---------------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Writes a length-delimited field (tag, length, payload) at dst. */
static size_t put_ld(uint8_t *dst, int field, const uint8_t *payload,
                     size_t len)
{
    size_t n = put_varint(dst, (uint64_t)field << 3 | 2);
    n += put_varint(dst + n, len);
    memmove(dst + n, payload, len);
    return n + len;
}

static void test_corrupt_bytes(void)
{
    gb_t b;
    gb_init(&b);
    add(&b, ph("x", TF_FLOAT, -1, NULL));
    add(&b, fconst("w", 3, (float[]){1, 2, 3}));
    add(&b, op1("out", "Mul", "x,w"));
    size_t n = tf__graph_def__get_packed_size(&b.g);
    uint8_t *buf = ar_alloc(&A, n);
    tf__graph_def__pack(&b.g, buf);
    /* Every truncation either fails with a message or (when it cuts
     * between fields) loads; never crashes. Cutting inside the first
     * node's length-delimited field must name a byte offset. */
    int failed = 0;
    for (size_t k = 1; k < n; k++) {
        write_bytes(buf, k);
        res_t r = load_file(NULL, "out", NULL);
        if (r.rc != TFLC_OK) {
            failed++;
            CHECK(tflc_status_count(r.st) > 0);
        }
        done(&r);
    }
    CHECK(failed > 0);
    write_bytes(buf, 5);
    res_t r = load_file(NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "byte 0") &&
          has_msg(&r, "GraphDef"));
    done(&r);
    /* every single-byte flip: no crash */
    for (size_t k = 0; k < n; k++) {
        uint8_t *c = ar_memdup(&A, buf, n);
        c[k] ^= 0xff;
        write_bytes(c, n);
        r = load_file(NULL, "out", NULL);
        done(&r);
    }
    /* Deep nesting is refused before protobuf-c recurses:
     * AttrValue.func (10) -> NameAttrList.attr (2) -> entry.value (2)
     * -> AttrValue ..., 300 levels, in one node attribute. */
    uint8_t *msg = ar_alloc(&A, 1 << 16), *t1 = ar_alloc(&A, 1 << 16),
            *t2 = ar_alloc(&A, 1 << 16);
    size_t len = 0;
    for (int lvl = 0; lvl < 300; lvl++) {
        size_t e = put_ld(t1, 1, (const uint8_t *)"k", 1);
        e += put_ld(t1 + e, 2, msg, len);        /* entry {key, value} */
        size_t l = put_ld(t2, 2, t1, e);         /* NameAttrList.attr */
        len = put_ld(msg, 10, t2, l);            /* AttrValue.func */
    }
    size_t e = put_ld(t1, 1, (const uint8_t *)"a", 1);
    e += put_ld(t1 + e, 2, msg, len);            /* attr entry */
    size_t l = put_ld(t2, 1, (const uint8_t *)"n", 1);
    l += put_ld(t2 + l, 2, (const uint8_t *)"Const", 5);
    l += put_ld(t2 + l, 5, t1, e);               /* NodeDef */
    len = put_ld(msg, 1, t2, l);                 /* GraphDef.node */
    write_bytes(msg, len);
    r = load_file(NULL, "n", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "nested more than"));
    done(&r);
    /* an empty file and a missing file */
    write_bytes("", 0);
    r = load_file(NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_FORMAT && has_msg(&r, "empty file"));
    done(&r);
    unlink(g_path);
    r = load_file(NULL, "out", NULL);
    CHECK(r.rc == TFLC_ERR_IO && has_msg(&r, g_path));
    done(&r);
}

/* ---- size ------------------------------------------------------------- */

/* Long chains (ops, Identities, ReadVariableOps of ReadVariableOps) are
 * walked without recursion: no stack overflow, and quickly. */
static void test_deep(void)
{
    enum { N = 100000 };
    const char *kinds[] = {"Relu", "Identity", "ReadVariableOp"};
    for (int k = 0; k < 3; k++) {
        gb_t b;
        gb_init(&b);
        add(&b, ph("n0", TF_FLOAT, -1, NULL));
        char name[32], prev[32];
        for (int i = 1; i <= N; i++) {
            snprintf(name, sizeof name, "n%d", i);
            snprintf(prev, sizeof prev, "n%d", i - 1);
            Tf__NodeDef *n = node(name, kinds[k], prev);
            attr_type(n, k == 2 ? "dtype" : "T", TF_FLOAT);
            add(&b, n);
        }
        add(&b, op1("out", "Neg", name));
        res_t r = load(&b, NULL, "out", NULL);
        CHECK(r.rc == TFLC_OK);
        if (r.rc == TFLC_OK) {
            /* Relu: all kept; Identity: all gone; ReadVariableOps of no
             * variable: ops like any other, all kept. */
            size_t want = k == 1 ? 2 : N + 2;
            CHECK(r.g->n_nodes == want && topo_ok(r.g));
        }
        done(&r);
    }
}

/* ---- out of memory ------------------------------------------------------ */

/* Fails the n-th allocation for every n until a load needs fewer: each
 * run must fail cleanly with an out-of-memory error (or succeed), never
 * crash or leak (ASan). */
static void test_oom(void)
{
    gb_t b;
    gb_init(&b);
    add(&b, ph("x", TF_FLOAT, 2, (int64_t[]){-1, 3}));
    add(&b, fconst("w", 3, (float[]){1, 2, 3}));
    add(&b, op1("m", "Mul", "x,w"));
    Tf__NodeDef *body[] = {op1("r", "Relu", "v")};
    func(&b, "f", "v:1", "y:1", body, 1, "y=r:activations:0");
    Tf__NodeDef *call = node("call", "PartitionedCall", "m");
    attr_func(call, "f", "f");
    add(&b, call);
    add(&b, op1("out", "Identity", "call"));
    write_graph(&b);
    int ok_at = 0;
    for (long n = 1; n < 2000 && !ok_at; n++) {
        g_fail_at = n;
        res_t r = load_file(NULL, "out", NULL);
        g_fail_at = 0;
        if (r.rc == TFLC_OK)
            ok_at = (int)n;
        else
            CHECK(r.rc == TFLC_ERR_NOMEM);
        done(&r);
    }
    CHECK(ok_at > 1);
}

/* ---- small pieces ----------------------------------------------------- */

int tf_opinfo_check(void);

static void test_tables(void)
{
    CHECK(tf_opinfo_check() < 0);
    CHECK(!strcmp(tf_dtype_name(TF_FLOAT), "float32") &&
          !strcmp(tf_dtype_name(TF_HALF), "float16") &&
          !strcmp(tf_dtype_name(TF_BFLOAT16), "bfloat16") &&
          !strcmp(tf_dtype_name(999), "unknown"));
    CHECK(tf_dtype_size(TF_FLOAT) == 4 && tf_dtype_size(TF_COMPLEX128) == 16 &&
          tf_dtype_size(TF_BOOL) == 1 && tf_dtype_size(TF_STRING) == 0 &&
          tf_dtype_size(TF_RESOURCE) == 0);
    /* Op output args: flat positions depend on attrs */
    tfg_attr_t at[2] = {{.name = "T", .kind = TFGA_TYPE, .i = TF_HALF},
                        {.name = "U", .kind = TFGA_TYPE, .i = TF_FLOAT}};
    tf_outarg_t a[TF_MAX_OUTARGS];
    CHECK(tf_op_outputs("FusedBatchNormV3", at, 2, a) == 6 &&
          a[0].dtype == TF_HALF && a[1].dtype == TF_FLOAT &&
          a[1].name_len == 10 && !memcmp(a[1].name, "batch_mean", 10));
    CHECK(tf_op_outputs("Shape", NULL, 0, a) == 1 && a[0].dtype == TF_INT32);
    CHECK(tf_op_outputs("Equal", at, 2, a) == 1 && a[0].dtype == TF_BOOL);
    CHECK(tf_op_outputs("NoSuchOp", NULL, 0, a) == -1);
    CHECK(tf_op_outputs("NoOp", NULL, 0, a) == 0);
    int64_t tl[] = {TF_INT32, TF_FLOAT};
    tfg_attr_t tout = {.name = "Tout", .kind = TFGA_LIST,
                       .list_kind = TFGA_TYPE, .n_list = 2, .list_i = tl};
    CHECK(tf_op_outputs("PartitionedCall", &tout, 1, a) == 1 &&
          a[0].count == 2 && a[0].dtypes == tl);
    tfg_attr_t ns[2] = {{.name = "T", .kind = TFGA_TYPE, .i = TF_FLOAT},
                        {.name = "num_split", .kind = TFGA_I, .i = 3}};
    CHECK(tf_op_outputs("SplitV", ns, 2, a) == 1 && a[0].count == 3);
    ar_t ar;
    ar_init(&ar);
    const char *nm;
    int idx;
    CHECK(tf_split_tensor_name(&ar, "a/b:12", &nm, &idx) == 0 &&
          !strcmp(nm, "a/b") && idx == 12);
    CHECK(tf_split_tensor_name(&ar, "a", &nm, &idx) == 0 && idx == 0);
    CHECK(tf_split_tensor_name(&ar, "^a", &nm, &idx) < 0);
    CHECK(tf_split_tensor_name(&ar, "a:x", &nm, &idx) < 0);
    CHECK(tf_split_tensor_name(&ar, ":1", &nm, &idx) < 0);
    ar_free(&ar);
}

int main(void)
{
    ar_init(&A);
    snprintf(g_path, sizeof g_path, "/tmp/tflc_tfgraph_XXXXXX");
    int fd = mkstemp(g_path);
    if (fd < 0) {
        perror("mkstemp");
        return 2;
    }
    close(fd);
    test_tables();
    test_const_repeated();
    test_const_content();
    test_identity_pruning_order();
    test_io_options();
    test_graph_errors();
    test_functions();
    test_function_graphs();
    test_freezing();
    test_corrupt_bytes();
    test_oom();
    test_deep();
    unlink(g_path);
    ar_free(&A);
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
