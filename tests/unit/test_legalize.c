/*
 * test_legalize.c -- TF legalization (lg_tf_to_ir) on TF graphs built here
 * by hand, and shape inference of single TFLite operators.
 *
 * Expected values are worked out from TF's and TFLite's documented
 * semantics (layouts, output sizes, naming), written beside each check;
 * the numeric agreement with TensorFlow itself is tested by
 * tests/t_ops_conformance.py against TensorFlow.js and the TFLite runtime.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/lg.h"
#include "passes/shape_infer.h"
#include "pipeline.h"

static int failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- Building TF graphs ---- */

typedef struct gb {
    ir_model_t *m;
    tfg_graph_t g;
    ar_t *a;
} gb_t;

static void gb_init(gb_t *b, const char *name)
{
    b->m = ir_model_new();
    memset(&b->g, 0, sizeof b->g);
    b->a = &b->m->arena;
    b->g.name = name;
    b->g.source = "test.pb";
}

static tfg_shape_t shp(gb_t *b, int rank, const int64_t *d)
{
    tfg_shape_t s = {rank, NULL};
    if (rank > 0)
        s.dims = ar_memdup(b->a, d, (size_t)rank * sizeof *d);
    return s;
}

/* Adds a node; inputs are "node index, output index" pairs. */
static int node(gb_t *b, const char *name, const char *op, int n_in, ...)
{
    tfg_node_t n;
    memset(&n, 0, sizeof n);
    n.name = name;
    n.op = op;
    n.n_inputs = (uint32_t)n_in;
    n.inputs = ar_calloc(b->a, n_in ? (size_t)n_in : 1, sizeof *n.inputs);
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) {
        n.inputs[i].node = va_arg(ap, int);
        n.inputs[i].index = va_arg(ap, int);
    }
    va_end(ap);
    AR_PUSH(b->a, b->g.nodes, b->g.n_nodes, b->g.cap_nodes, n);
    return (int)b->g.n_nodes - 1;
}

static tfg_attr_t *new_attr(gb_t *b, int ni, const char *name, int kind)
{
    tfg_node_t *n = &b->g.nodes[ni];
    tfg_attr_t *a = ar_calloc(b->a, n->n_attrs + 1, sizeof *a);
    if (n->n_attrs)
        memcpy(a, n->attrs, n->n_attrs * sizeof *a);
    n->attrs = a;
    tfg_attr_t *x = &a[n->n_attrs++];
    x->name = name;
    x->kind = (uint8_t)kind;
    return x;
}

static void attr_i(gb_t *b, int ni, const char *name, int64_t v) { new_attr(b, ni, name, TFGA_I)->i = v; }
static void attr_b(gb_t *b, int ni, const char *name, int v) { new_attr(b, ni, name, TFGA_B)->i = v; }
static void attr_s(gb_t *b, int ni, const char *name, const char *s)
{
    tfg_attr_t *a = new_attr(b, ni, name, TFGA_S);
    a->s = s;
    a->s_len = strlen(s);
}
static void attr_list(gb_t *b, int ni, const char *name, int n, const int64_t *v)
{
    tfg_attr_t *a = new_attr(b, ni, name, TFGA_LIST);
    a->list_kind = TFGA_I;
    a->n_list = (uint32_t)n;
    a->list_i = ar_memdup(b->a, v, (size_t)n * sizeof *v);
}

static int constant(gb_t *b, const char *name, int dtype, int rank, const int64_t *dims,
                    const void *data, size_t size)
{
    int ni = node(b, name, "Const", 0);
    tfg_tensor_t *t = ar_calloc(b->a, 1, sizeof *t);
    t->dtype = dtype;
    t->shape = shp(b, rank, dims);
    t->data = ar_memdup(b->a, data, size ? size : 1);
    t->size = size;
    new_attr(b, ni, "value", TFGA_TENSOR)->tensor = t;
    new_attr(b, ni, "dtype", TFGA_TYPE)->i = dtype;
    return ni;
}

static int placeholder(gb_t *b, const char *name, const char *tensor, int rank,
                       const int64_t *dims)
{
    int ni = node(b, name, "Placeholder", 0);
    tfg_io_t io;
    memset(&io, 0, sizeof io);
    io.name = name;
    io.tensor_name = tensor;
    io.edge.node = ni;
    io.dtype = TF_FLOAT;
    io.shape = shp(b, rank, dims);
    tfg_io_t *in = ar_calloc(b->a, b->g.n_inputs + 1, sizeof *in);
    if (b->g.n_inputs)
        memcpy(in, b->g.inputs, b->g.n_inputs * sizeof *in);
    in[b->g.n_inputs++] = io;
    b->g.inputs = in;
    return ni;
}

static void output(gb_t *b, const char *name, const char *tensor, int ni, int k)
{
    tfg_io_t io;
    memset(&io, 0, sizeof io);
    io.name = name;
    io.tensor_name = tensor;
    io.edge.node = ni;
    io.edge.index = k;
    tfg_io_t *o = ar_calloc(b->a, b->g.n_outputs + 1, sizeof *o);
    if (b->g.n_outputs)
        memcpy(o, b->g.outputs, b->g.n_outputs * sizeof *o);
    o[b->g.n_outputs++] = io;
    b->g.outputs = o;
}

static tflc_code_t legalize(gb_t *b, int kind, int custom, tflc_status_t *st)
{
    tflc_convert_options_t opt;
    tflc_convert_options_init(&opt);
    opt.input_kind = kind;
    opt.allow_custom_ops = custom;
    return lg_tf_to_ir(b->m, &b->g, &opt, st);
}

static int has_dims(const ir_tensor_t *t, int rank, ...)
{
    if ((int)t->rank != rank)
        return 0;
    va_list ap;
    va_start(ap, rank);
    int ok = 1;
    for (int i = 0; i < rank; i++)
        ok &= si_dims(t)[i] == va_arg(ap, int);
    va_end(ap);
    return ok;
}

static const float *fdata(const ir_model_t *m, const ir_tensor_t *t)
{
    return (const float *)(const void *)m->buffers[t->buffer].data;
}

/* ---- Tests ---- */

/* MatMul + BiasAdd + Relu, dynamic batch, as a GraphDef:
 * FULLY_CONNECTED with weights transposed to [out, in], ADD, RELU; tensor
 * names without ":0"; no signature def (TF writes none for GraphDefs). */
static void test_dense(void)
{
    gb_t b;
    gb_init(&b, "main");
    const int64_t xd[2] = {-1, 3}, wd[2] = {3, 2}, bd[1] = {2};
    const float w[6] = {1, 2, 3, 4, 5, 6}, bias[2] = {0.5f, -0.5f};
    int x = placeholder(&b, "X", "X:0", 2, xd);
    int wn = constant(&b, "W", TF_FLOAT, 2, wd, w, sizeof w);
    int bn = constant(&b, "b", TF_FLOAT, 1, bd, bias, sizeof bias);
    int mm = node(&b, "dense/MatMul", "MatMul", 2, x, 0, wn, 0);
    attr_b(&b, mm, "transpose_a", 0);
    attr_b(&b, mm, "transpose_b", 0);
    int ba = node(&b, "dense/BiasAdd", "BiasAdd", 2, mm, 0, bn, 0);
    attr_s(&b, ba, "data_format", "NHWC");
    int id = node(&b, "dense/Identity", "Identity", 1, ba, 0);
    int r = node(&b, "out", "Relu", 1, id, 0);
    output(&b, "out", "out:0", r, 0);
    tflc_status_t *st = tflc_status_new();
    CHECK(legalize(&b, TFLC_INPUT_GRAPH_DEF, 0, st) == TFLC_OK);
    tflc_status_print(st, stderr);
    ir_model_t *m = b.m;
    CHECK(m->n_subgraphs == 1 && m->n_signatures == 0);
    ir_subgraph_t *sg = &m->subgraphs[0];
    CHECK(strcmp(sg->name, "main") == 0);
    CHECK(sg->n_ops == 3);
    if (sg->n_ops == 3) {
        CHECK(sg->ops[0].builtin == OP_FULLY_CONNECTED && sg->ops[1].builtin == OP_ADD &&
              sg->ops[2].builtin == OP_RELU);
        const ir_op_t *fc = &sg->ops[0];
        CHECK(fc->n_inputs == 3 && fc->inputs[2] == -1 && fc->version == 1);
        const ir_tensor_t *wt = &sg->tensors[fc->inputs[1]];
        CHECK(has_dims(wt, 2, 2, 3));
        /* W^T of [[1,2],[3,4],[5,6]] is [[1,3,5],[2,4,6]]. */
        const float *wv = fdata(m, wt);
        CHECK(wv[0] == 1 && wv[1] == 3 && wv[2] == 5 && wv[3] == 2 && wv[4] == 4 && wv[5] == 6);
        CHECK(strcmp(wt->name, "dense/MatMul") == 0);
        const ir_tensor_t *y = &sg->tensors[sg->ops[2].outputs[0]];
        CHECK(has_dims(y, 2, -1, 2) && y->shape[0] == 1 && y->shape_signature[0] == -1);
    }
    CHECK(sg->n_inputs == 1 && strcmp(sg->tensors[sg->inputs[0]].name, "X") == 0);
    CHECK(sg->n_outputs == 1 && strcmp(sg->tensors[sg->outputs[0]].name, "out") == 0);
    CHECK(ir_verify(m, "test", st) == TFLC_OK);
    tflc_status_free(st);
    tflc_model_free(m);
}

/* Conv2D: HWIO filter -> OHWI, zero bias, SAME and VALID output sizes
 * (SAME: ceil(5/2) = 3; VALID: ceil((5-3+1)/2) = 2). */
static void test_conv(int valid)
{
    gb_t b;
    gb_init(&b, "main");
    const int64_t xd[4] = {1, 5, 5, 2}, fd[4] = {3, 3, 2, 4};
    float f[72];
    for (int i = 0; i < 72; i++)
        f[i] = (float)i;
    int x = placeholder(&b, "x", "x", 4, xd);
    int fn = constant(&b, "f", TF_FLOAT, 4, fd, f, sizeof f);
    int cv = node(&b, "conv", "Conv2D", 2, x, 0, fn, 0);
    const int64_t strides[4] = {1, 2, 2, 1}, dil[4] = {1, 1, 1, 1};
    attr_list(&b, cv, "strides", 4, strides);
    attr_list(&b, cv, "dilations", 4, dil);
    attr_s(&b, cv, "padding", valid ? "VALID" : "SAME");
    attr_s(&b, cv, "data_format", "NHWC");
    output(&b, "y", "y", cv, 0);
    tflc_status_t *st = tflc_status_new();
    CHECK(legalize(&b, TFLC_INPUT_GRAPH_DEF, 0, st) == TFLC_OK);
    tflc_status_print(st, stderr);
    ir_subgraph_t *sg = &b.m->subgraphs[0];
    CHECK(sg->n_ops == 1 && sg->ops[0].builtin == OP_CONV_2D);
    if (sg->n_ops == 1) {
        const ir_op_t *op = &sg->ops[0];
        CHECK(op->attr[OPF_Conv2DOptions_padding].i == (valid ? 1 : 0));
        CHECK(op->attr[OPF_Conv2DOptions_stride_w].i == 2 && op->attr[OPF_Conv2DOptions_stride_h].i == 2);
        const ir_tensor_t *ft = &sg->tensors[op->inputs[1]];
        CHECK(has_dims(ft, 4, 4, 3, 3, 2));
        /* OHWI[o][h][w][i] = HWIO[h][w][i][o]: o=3,h=1,w=2,i=1 is
         * HWIO index ((1*3+2)*2+1)*4+3 = 47. */
        CHECK(fdata(b.m, ft)[((3 * 3 + 1) * 3 + 2) * 2 + 1] == 47.0f);
        const ir_tensor_t *bt = &sg->tensors[op->inputs[2]];
        CHECK(has_dims(bt, 1, 4) && fdata(b.m, bt)[3] == 0.0f);
        int o = valid ? 2 : 3;
        CHECK(has_dims(&sg->tensors[op->outputs[0]], 4, 1, o, o, 4));
    }
    tflc_status_free(st);
    tflc_model_free(b.m);
}

/* Shape -> StridedSlice -> Pack -> Reshape (a Keras Flatten): with a
 * static input the shape arithmetic folds to a constant [2, 12]; with a
 * dynamic batch it stays, and the output is [-1, 12]. */
static void test_flatten(int dynamic)
{
    gb_t b;
    gb_init(&b, "main");
    const int64_t xd[3] = {dynamic ? -1 : 2, 3, 4}, one[1] = {1};
    int32_t z = 0, o = 1, m1 = -1;
    int x = placeholder(&b, "x", "x", 3, xd);
    int sh = node(&b, "flat/Shape", "Shape", 1, x, 0);
    int c0 = constant(&b, "flat/b", TF_INT32, 1, one, &z, 4);
    int c1 = constant(&b, "flat/e", TF_INT32, 1, one, &o, 4);
    int c2 = constant(&b, "flat/s", TF_INT32, 1, one, &o, 4);
    int ss = node(&b, "flat/strided_slice", "StridedSlice", 4, sh, 0, c0, 0, c1, 0, c2, 0);
    attr_i(&b, ss, "shrink_axis_mask", 1);
    int cm = constant(&b, "flat/m1", TF_INT32, 0, NULL, &m1, 4);
    int pk = node(&b, "flat/Pack", "Pack", 2, ss, 0, cm, 0);
    attr_i(&b, pk, "axis", 0);
    int rs = node(&b, "flat/Reshape", "Reshape", 2, x, 0, pk, 0);
    output(&b, "y", "y", rs, 0);
    tflc_status_t *st = tflc_status_new();
    CHECK(legalize(&b, TFLC_INPUT_GRAPH_DEF, 0, st) == TFLC_OK);
    tflc_status_print(st, stderr);
    ir_subgraph_t *sg = &b.m->subgraphs[0];
    CHECK(sg->n_ops == (dynamic ? 4u : 1u));
    if (sg->n_ops) {
        const ir_op_t *r = &sg->ops[sg->n_ops - 1];
        CHECK(r->builtin == OP_RESHAPE);
        CHECK(has_dims(&sg->tensors[r->outputs[0]], 2, dynamic ? -1 : 2, 12));
        if (!dynamic) {
            const ir_tensor_t *s = &sg->tensors[r->inputs[1]];
            const int32_t *v = (const int32_t *)(const void *)b.m->buffers[s->buffer].data;
            CHECK(s->type == DT_INT32 && v && v[0] == 2 && v[1] == -1);
        }
    }
    CHECK(ir_verify(b.m, "test", st) == TFLC_OK);
    tflc_status_free(st);
    tflc_model_free(b.m);
}

/* Unsupported ops: one error naming each op with its count and nodes,
 * and the options; with allow_custom_ops, CUSTOM ops named after them. */
static void test_unsupported(int custom)
{
    gb_t b;
    gb_init(&b, "serving_default");
    const int64_t xd[1] = {4};
    int x = placeholder(&b, "x", "serving_default_x:0", 1, xd);
    int f1 = node(&b, "f1", "Frobnicate", 1, x, 0);
    int f2 = node(&b, "f2", "Frobnicate", 1, f1, 0);
    int q = node(&b, "q", "Quux", 1, f2, 0);
    b.g.nodes[q].n_outputs = 1;
    b.g.nodes[q].out_dtypes = ar_calloc(b.a, 1, sizeof(int32_t));
    b.g.nodes[q].out_dtypes[0] = TF_FLOAT;
    b.g.nodes[q].out_shapes = ar_calloc(b.a, 1, sizeof(tfg_shape_t));
    b.g.nodes[q].out_shapes[0] = shp(&b, 1, xd);
    int r = node(&b, "r", "Relu", 1, q, 0);
    output(&b, "output_0", "StatefulPartitionedCall:0", r, 0);
    tflc_status_t *st = tflc_status_new();
    tflc_code_t rc = legalize(&b, TFLC_INPUT_SAVED_MODEL, custom, st);
    if (!custom) {
        CHECK(rc == TFLC_ERR_UNSUPPORTED);
        CHECK(tflc_status_count(st) == 1);
        const char *msg = tflc_status_message(st, 0);
        CHECK(msg && strstr(msg, "Frobnicate x2 ('f1', 'f2')") && strstr(msg, "Quux x1 ('q')") &&
              strstr(msg, "--allow_custom_ops"));
    } else {
        tflc_status_print(st, stderr);
        CHECK(rc == TFLC_OK);
        ir_subgraph_t *sg = &b.m->subgraphs[0];
        CHECK(sg->n_ops == 4 && sg->ops[0].builtin == OP_CUSTOM &&
              strcmp(sg->ops[0].custom_code, "Frobnicate") == 0);
        CHECK(b.m->n_signatures == 1 && strcmp(b.m->signatures[0].key, "serving_default") == 0);
        CHECK(strcmp(b.m->signatures[0].inputs[0].name, "x") == 0);
        CHECK(strcmp(sg->tensors[sg->inputs[0]].name, "serving_default_x:0") == 0);
        CHECK(strcmp(sg->tensors[sg->outputs[0]].name, "StatefulPartitionedCall:0") == 0);
        CHECK(has_dims(&sg->tensors[sg->outputs[0]], 1, 4));
    }
    tflc_status_free(st);
    tflc_model_free(b.m);
}

/* NCHW is refused with a message naming the node and the layout. */
static void test_nchw(void)
{
    gb_t b;
    gb_init(&b, "main");
    const int64_t xd[4] = {1, 2, 5, 5}, fd[4] = {1, 1, 2, 2};
    float f[4] = {1, 2, 3, 4};
    int x = placeholder(&b, "x", "x", 4, xd);
    int fn = constant(&b, "f", TF_FLOAT, 4, fd, f, sizeof f);
    int cv = node(&b, "conv", "Conv2D", 2, x, 0, fn, 0);
    attr_s(&b, cv, "padding", "SAME");
    attr_s(&b, cv, "data_format", "NCHW");
    output(&b, "y", "y", cv, 0);
    tflc_status_t *st = tflc_status_new();
    CHECK(legalize(&b, TFLC_INPUT_GRAPH_DEF, 0, st) == TFLC_ERR_UNSUPPORTED);
    const char *msg = tflc_status_message(st, 0);
    CHECK(msg && strstr(msg, "node 'conv' (Conv2D)") && strstr(msg, "NCHW"));
    tflc_status_free(st);
    tflc_model_free(b.m);
}

/* FusedBatchNorm in inference: MUL by scale/sqrt(var+eps), ADD
 * offset - mean*scale'. scale 2, var 3, eps 1: s = 1; offset 5, mean 4:
 * b = 5 - 4 = 1. */
static void test_batch_norm(void)
{
    gb_t b;
    gb_init(&b, "main");
    const int64_t xd[4] = {1, 2, 2, 1}, cd[1] = {1};
    const float sc = 2, off = 5, mean = 4, var = 3;
    int x = placeholder(&b, "x", "x", 4, xd);
    int k[4] = {constant(&b, "sc", TF_FLOAT, 1, cd, &sc, 4), constant(&b, "off", TF_FLOAT, 1, cd, &off, 4),
                constant(&b, "mean", TF_FLOAT, 1, cd, &mean, 4), constant(&b, "var", TF_FLOAT, 1, cd, &var, 4)};
    int bn = node(&b, "bn", "FusedBatchNormV3", 5, x, 0, k[0], 0, k[1], 0, k[2], 0, k[3], 0);
    new_attr(&b, bn, "epsilon", TFGA_F)->f = 1.0f;
    attr_b(&b, bn, "is_training", 0);
    output(&b, "y", "y", bn, 0);
    tflc_status_t *st = tflc_status_new();
    CHECK(legalize(&b, TFLC_INPUT_GRAPH_DEF, 0, st) == TFLC_OK);
    tflc_status_print(st, stderr);
    ir_subgraph_t *sg = &b.m->subgraphs[0];
    CHECK(sg->n_ops == 2 && sg->ops[0].builtin == OP_MUL && sg->ops[1].builtin == OP_ADD);
    if (sg->n_ops == 2) {
        CHECK(fdata(b.m, &sg->tensors[sg->ops[0].inputs[1]])[0] == 1.0f);
        CHECK(fdata(b.m, &sg->tensors[sg->ops[1].inputs[1]])[0] == 1.0f);
    }
    tflc_status_free(st);
    tflc_model_free(b.m);
}


/* Hostile graphs: each conversion fails with a message naming the node,
 * never a crash (run under ASan in the sanitizer build). */
typedef void (*hostile_fn)(gb_t *b, int x);

static void h_add_one_input(gb_t *b, int x) { output(b, "y", "y", node(b, "bad", "Add", 1, x, 0), 0); }
static void h_later_input(gb_t *b, int x)
{
    (void)x;
    int n = node(b, "bad", "Relu", 1, 5, 0);
    output(b, "y", "y", n, 0);
}
static void h_conv_rank3_filter(gb_t *b, int x)
{
    const int64_t fd[3] = {1, 1, 4};
    float f[4] = {1, 2, 3, 4};
    int fn = constant(b, "f", TF_FLOAT, 3, fd, f, sizeof f);
    int cv = node(b, "bad", "Conv2D", 2, x, 0, fn, 0);
    attr_s(b, cv, "padding", "SAME");
    output(b, "y", "y", cv, 0);
}
static void h_reshape_two_minus1(gb_t *b, int x)
{
    const int64_t sd[1] = {3};
    int32_t s[3] = {-1, -1, 2};
    int sn = constant(b, "s", TF_INT32, 1, sd, s, sizeof s);
    output(b, "y", "y", node(b, "bad", "Reshape", 2, x, 0, sn, 0), 0);
}
static void h_tile_negative(gb_t *b, int x)
{
    const int64_t sd[1] = {4};
    int32_t s[4] = {1, -3, 1, 1};
    int sn = constant(b, "m", TF_INT32, 1, sd, s, sizeof s);
    output(b, "y", "y", node(b, "bad", "Tile", 2, x, 0, sn, 0), 0);
}
static void h_const_short(gb_t *b, int x)
{
    const int64_t cd[2] = {100, 100};
    float v[2] = {1, 2};
    int cn = constant(b, "c", TF_FLOAT, 2, cd, v, sizeof v);
    output(b, "y", "y", node(b, "bad", "Add", 2, x, 0, cn, 0), 0);
}
static void h_transpose_dup(gb_t *b, int x)
{
    const int64_t pd[1] = {4};
    int32_t p[4] = {0, 1, 1, 3};
    int pn = constant(b, "p", TF_INT32, 1, pd, p, sizeof p);
    output(b, "y", "y", node(b, "bad", "Transpose", 2, x, 0, pn, 0), 0);
}
static void h_stranger_placeholder(gb_t *b, int x)
{
    int p = node(b, "stray", "Placeholder", 0);
    output(b, "y", "y", node(b, "bad", "Add", 2, x, 0, p, 0), 0);
}
static void h_concat_axis(gb_t *b, int x)
{
    int32_t a = 9;
    int an = constant(b, "a", TF_INT32, 0, NULL, &a, 4);
    output(b, "y", "y", node(b, "bad", "ConcatV2", 3, x, 0, x, 0, an, 0), 0);
}
static void h_bcast_mismatch(gb_t *b, int x)
{
    const int64_t cd[1] = {3};
    float v[3] = {1, 2, 3};
    int cn = constant(b, "c", TF_FLOAT, 1, cd, v, sizeof v);
    output(b, "y", "y", node(b, "bad", "Mul", 2, x, 0, cn, 0), 0);
}
static void h_strided_huge(gb_t *b, int x)
{
    const int64_t d[1] = {4};
    int32_t bg[4] = {0, 0, 0, INT32_MAX}, en[4] = {1, 1, 1, INT32_MIN}, st[4] = {1, 1, 1, INT32_MIN};
    int b1 = constant(b, "b", TF_INT32, 1, d, bg, sizeof bg);
    int e1 = constant(b, "e", TF_INT32, 1, d, en, sizeof en);
    int s1 = constant(b, "s", TF_INT32, 1, d, st, sizeof st);
    int ss = node(b, "ss", "StridedSlice", 4, x, 0, b1, 0, e1, 0, s1, 0);
    attr_i(b, ss, "shrink_axis_mask", 8);
    output(b, "y", "y", ss, 0);
}

static void test_hostile(void)
{
    static const struct { const char *what; hostile_fn fn; } cases[] = {
        {"Add with one input", h_add_one_input},
        {"input from a later node", h_later_input},
        {"Conv2D with a rank-3 filter", h_conv_rank3_filter},
        {"Reshape with two -1", h_reshape_two_minus1},
        {"Tile by a negative multiple", h_tile_negative},
        {"Const with too few bytes", h_const_short},
        {"Transpose with a repeated axis", h_transpose_dup},
        {"a placeholder that is not an input", h_stranger_placeholder},
        {"ConcatV2 axis out of range", h_concat_axis},
        {"shapes that do not broadcast", h_bcast_mismatch},
        {"StridedSlice with extreme bounds", h_strided_huge},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        gb_t b;
        gb_init(&b, "main");
        const int64_t xd[4] = {1, 4, 4, 2};
        int x = placeholder(&b, "x", "x", 4, xd);
        cases[i].fn(&b, x);
        tflc_status_t *st = tflc_status_new();
        tflc_code_t rc = legalize(&b, TFLC_INPUT_GRAPH_DEF, 0, st);
        const char *msg = tflc_status_count(st) ? tflc_status_message(st, 0) : "";
        if (rc == TFLC_OK || !strstr(msg, "test.pb"))
            fprintf(stderr, "hostile case '%s': rc %d, message '%s'\n", cases[i].what, rc, msg);
        CHECK(rc != TFLC_OK && strstr(msg, "test.pb"));
        tflc_status_free(st);
        tflc_model_free(b.m);
    }
}


/* Allocation failures: with the n-th allocation failing, legalization of a
 * graph that uses most helpers (constants, folding, multi-op handlers)
 * returns an error (never crashes or leaks, checked under ASan), for every
 * n until it succeeds. */
static void build_mix(gb_t *b)
{
    const int64_t xd[4] = {-1, 4, 4, 2}, fd[4] = {3, 3, 2, 3}, bd[1] = {3}, one[1] = {1};
    float f[54], bias[3] = {1, 2, 3};
    for (int i = 0; i < 54; i++)
        f[i] = (float)i / 10;
    int32_t z = 0, o = 1, m1 = -1;
    int x = placeholder(b, "x", "x", 4, xd);
    int fn = constant(b, "f", TF_FLOAT, 4, fd, f, sizeof f);
    int cv = node(b, "conv", "Conv2D", 2, x, 0, fn, 0);
    attr_s(b, cv, "padding", "SAME");
    int bn = constant(b, "b", TF_FLOAT, 1, bd, bias, sizeof bias);
    int ba = node(b, "ba", "BiasAdd", 2, cv, 0, bn, 0);
    int sh = node(b, "sh", "Shape", 1, ba, 0);
    int c0 = constant(b, "c0", TF_INT32, 1, one, &z, 4);
    int c1 = constant(b, "c1", TF_INT32, 1, one, &o, 4);
    int ss = node(b, "ss", "StridedSlice", 4, sh, 0, c0, 0, c1, 0, c1, 0);
    attr_i(b, ss, "shrink_axis_mask", 1);
    int cm = constant(b, "m1", TF_INT32, 0, NULL, &m1, 4);
    int pk = node(b, "pk", "Pack", 2, ss, 0, cm, 0);
    int rs = node(b, "rs", "Reshape", 2, ba, 0, pk, 0);
    int sp = node(b, "sp", "Softplus", 1, rs, 0);
    output(b, "y", "y", sp, 0);
}

static void test_oom(void)
{
    int ok = 0;
    for (long k = 1; k < 2000 && !ok; k++) {
        gb_t b;
        gb_init(&b, "main");
        build_mix(&b);
        tflc_status_t *st = tflc_status_new();
        mem_fail_after(k);
        tflc_code_t rc = legalize(&b, TFLC_INPUT_GRAPH_DEF, 0, st);
        mem_fail_after(0);
        if (rc == TFLC_OK)
            ok = 1;
        else
            CHECK(tflc_status_count(st) >= 1 || tflc_status_code(st) == TFLC_ERR_NOMEM);
        tflc_status_free(st);
        tflc_model_free(b.m);
    }
    CHECK(ok);
}

/* The op table is sorted (the lookup is a binary search). */
static void test_table_sorted(void)
{
    for (size_t i = 1; i < lg_table_size(); i++)
        CHECK(strcmp(lg_table_name(i - 1), lg_table_name(i)) < 0);
    CHECK(lg_table_size() > 100);
}

/* ---- Shape inference of single TFLite ops ---- */

typedef struct sib {
    ir_model_t *m;
    ir_subgraph_t *sg;
} sib_t;

static int32_t si_tensor(sib_t *s, int dt, int rank, const int32_t *dims)
{
    int32_t t = ir_add_tensor(s->m, s->sg, "t", dt, 0, NULL);
    si_set_shape(s->m, &s->sg->tensors[t], (uint32_t)rank, dims);
    return t;
}

static int32_t si_const_i32(sib_t *s, int n, const int32_t *v)
{
    int32_t t = si_tensor(s, DT_INT32, 1, &n);
    s->sg->tensors[t].buffer = (uint32_t)ir_add_buffer_copy(s->m, v, (uint64_t)n * 4);
    return t;
}

/* STRIDED_SLICE x[1:, ..., ::-2, tf.newaxis] on [5,6,7,8]:
 * dim0 4, dims 1-2 kept (ellipsis), dim3 reversed by 2 = 4, new axis 1. */
static void test_si_strided_slice(void)
{
    sib_t s = {ir_model_new(), NULL};
    s.sg = ir_add_subgraph(s.m, "t");
    const int32_t xd[4] = {5, 6, 7, 8};
    const int32_t bg[4] = {1, 0, 0, 0}, en[4] = {0, 0, 0, 0}, sp[4] = {1, 1, -2, 1};
    int32_t x = si_tensor(&s, DT_FLOAT32, 4, xd);
    int32_t b = si_const_i32(&s, 4, bg), e = si_const_i32(&s, 4, en), p = si_const_i32(&s, 4, sp);
    int32_t y = si_tensor(&s, DT_FLOAT32, 0, NULL);
    ir_op_t *op = ir_add_op(s.m, s.sg, OP_STRIDED_SLICE, 4, 1);
    op->inputs[0] = x, op->inputs[1] = b, op->inputs[2] = e, op->inputs[3] = p;
    op->outputs[0] = y;
    op->attr[OPF_StridedSliceOptions_end_mask].i = 1 | 4;
    op->attr[OPF_StridedSliceOptions_begin_mask].i = 4;
    op->attr[OPF_StridedSliceOptions_ellipsis_mask].i = 2;
    op->attr[OPF_StridedSliceOptions_new_axis_mask].i = 8;
    tflc_status_t *st = tflc_status_new();
    CHECK(pass_infer_shapes(s.m, s.sg, "t", st) == 0);
    tflc_status_print(st, stderr);
    CHECK(has_dims(&s.sg->tensors[y], 5, 4, 6, 7, 4, 1));
    tflc_status_free(st);
    tflc_model_free(s.m);
}

/* Broadcasting with a dynamic dim, and a mismatch error. */
static void test_si_broadcast(void)
{
    sib_t s = {ir_model_new(), NULL};
    s.sg = ir_add_subgraph(s.m, "t");
    const int32_t ad[3] = {-1, 1, 3}, bd[2] = {4, 1}, cd[1] = {5};
    int32_t a = si_tensor(&s, DT_FLOAT32, 3, ad), b = si_tensor(&s, DT_FLOAT32, 2, bd);
    int32_t c = si_tensor(&s, DT_FLOAT32, 1, cd);
    int32_t y = si_tensor(&s, DT_FLOAT32, 0, NULL), z = si_tensor(&s, DT_FLOAT32, 0, NULL);
    ir_op_t *op = ir_add_op(s.m, s.sg, OP_ADD, 2, 1);
    op->inputs[0] = a, op->inputs[1] = b, op->outputs[0] = y;
    tflc_status_t *st = tflc_status_new();
    CHECK(pass_infer_shapes(s.m, s.sg, "t", st) == 0);
    CHECK(has_dims(&s.sg->tensors[y], 3, -1, 4, 3));
    op = ir_add_op(s.m, s.sg, OP_ADD, 2, 1);
    op->inputs[0] = y, op->inputs[1] = c, op->outputs[0] = z;
    CHECK(pass_infer_shapes(s.m, s.sg, "t", st) == -1);
    CHECK(tflc_status_count(st) == 1 && strstr(tflc_status_message(st, 0), "broadcast"));
    tflc_status_free(st);
    tflc_model_free(s.m);
}

int main(void)
{
    test_dense();
    test_conv(0);
    test_conv(1);
    test_flatten(0);
    test_flatten(1);
    test_unsupported(0);
    test_unsupported(1);
    test_nchw();
    test_batch_norm();
    test_table_sorted();
    test_hostile();
    test_oom();
    test_si_strided_slice();
    test_si_broadcast();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_legalize: ok\n");
    return 0;
}
