/*
 * test_passes_models -- writes pairs of models before and after
 * pass_optimize, for tests/t_passes.py to run both in the TFLite runtime.
 *
 * usage: test_passes_models OUTDIR
 * For each case it writes OUTDIR/<case>.orig.tflite and <case>.opt.tflite
 * and prints one line "<case> <ops before> <ops after>".
 * Without an argument (as ctest runs it) it only checks that every case
 * builds, verifies and optimises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "passes/passes.h"
#include "pipeline.h"

static ir_model_t *m;
static ir_subgraph_t *sg;
static unsigned seed = 1;

static float frand(void)
{
    seed = seed * 1103515245u + 12345u;
    return ((float)((seed >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

static int32_t act(const char *name, uint32_t rank, const int32_t *shape)
{
    int32_t t = ir_add_tensor(m, sg, name, DT_FLOAT32, rank, shape);
    if (t < 0) abort();
    return t;
}

static int32_t cst(const char *name, uint32_t rank, const int32_t *shape)
{
    int32_t t = act(name, rank, shape);
    int64_t n = ir_num_elements(&sg->tensors[t]);
    float *d = ar_alloc(&m->arena, (size_t)n * sizeof *d);
    for (int64_t i = 0; i < n; i++)
        d[i] = frand();
    int32_t b = ir_add_buffer(m, d, (uint64_t)n * sizeof *d);
    if (b < 0) abort();
    sg->tensors[t].buffer = (uint32_t)b;
    return t;
}

static ir_op_t *op(int32_t code, uint32_t nin, const int32_t *in, int32_t out)
{
    ir_op_t *o = ir_add_op(m, sg, code, nin, 1);
    if (!o) abort();
    memcpy(o->inputs, in, nin * sizeof *in);
    o->outputs[0] = out;
    return o;
}

static void io(int32_t in, int32_t out)
{
    sg->inputs = ar_memdup(&m->arena, &in, sizeof in);
    sg->n_inputs = 1;
    sg->outputs = ar_memdup(&m->arena, &out, sizeof out);
    sg->n_outputs = 1;
}

static void start(void)
{
    m = ir_model_new();
    sg = ir_add_subgraph(m, "main");
    if (!m || !sg) abort();
}

/* FC without bias, then ADD of a [8] constant, then RELU. */
static void case_fc_add_relu(void)
{
    int32_t x = act("x", 2, (int32_t[]){1, 16});
    int32_t w = cst("w", 2, (int32_t[]){8, 16});
    int32_t y = act("y", 2, (int32_t[]){1, 8});
    int32_t c = cst("c", 1, (int32_t[]){8});
    int32_t z = act("z", 2, (int32_t[]){1, 8});
    int32_t r = act("r", 2, (int32_t[]){1, 8});
    ir_op_t *f = op(OP_FULLY_CONNECTED, 3, (int32_t[]){x, w, -1}, y);
    (void)f;
    op(OP_ADD, 2, (int32_t[]){c, y}, z);
    op(OP_RELU, 1, (int32_t[]){z}, r);
    io(x, r);
}

/* CONV_2D with a bias, then ADD of a [1,1,1,4] constant, then RELU6. */
static void case_conv_bias_add_relu6(void)
{
    int32_t x = act("x", 4, (int32_t[]){1, 6, 6, 3});
    int32_t w = cst("w", 4, (int32_t[]){4, 3, 3, 3});
    int32_t b = cst("b", 1, (int32_t[]){4});
    int32_t y = act("y", 4, (int32_t[]){1, 6, 6, 4});
    int32_t c = cst("c", 4, (int32_t[]){1, 1, 1, 4});
    int32_t z = act("z", 4, (int32_t[]){1, 6, 6, 4});
    int32_t r = act("r", 4, (int32_t[]){1, 6, 6, 4});
    ir_op_t *o = op(OP_CONV_2D, 3, (int32_t[]){x, w, b}, y);
    o->attr[OPF_Conv2DOptions_padding].i = 0; /* SAME */
    o->attr[OPF_Conv2DOptions_stride_w].i = 1;
    o->attr[OPF_Conv2DOptions_stride_h].i = 1;
    op(OP_ADD, 2, (int32_t[]){y, c}, z);
    op(OP_RELU6, 1, (int32_t[]){z}, r);
    io(x, r);
}

/* DEPTHWISE_CONV_2D then SUB of a constant; a dead MUL branch. */
static void case_dw_sub_dead(void)
{
    int32_t x = act("x", 4, (int32_t[]){1, 5, 5, 2});
    int32_t w = cst("w", 4, (int32_t[]){1, 3, 3, 4});
    int32_t b = cst("b", 1, (int32_t[]){4});
    int32_t y = act("y", 4, (int32_t[]){1, 3, 3, 4});
    int32_t c = cst("c", 1, (int32_t[]){4});
    int32_t z = act("z", 4, (int32_t[]){1, 3, 3, 4});
    int32_t dead = act("dead", 4, (int32_t[]){1, 5, 5, 2});
    ir_op_t *o = op(OP_DEPTHWISE_CONV_2D, 3, (int32_t[]){x, w, b}, y);
    o->attr[OPF_DepthwiseConv2DOptions_padding].i = 1; /* VALID */
    o->attr[OPF_DepthwiseConv2DOptions_stride_w].i = 1;
    o->attr[OPF_DepthwiseConv2DOptions_stride_h].i = 1;
    o->attr[OPF_DepthwiseConv2DOptions_depth_multiplier].i = 2;
    op(OP_MUL, 2, (int32_t[]){x, x}, dead);
    op(OP_SUB, 2, (int32_t[]){y, c}, z);
    io(x, z);
}

/* The FC output is read twice: nothing may be fused into it. */
static void case_fc_shared(void)
{
    int32_t x = act("x", 2, (int32_t[]){1, 4});
    int32_t w = cst("w", 2, (int32_t[]){4, 4});
    int32_t y = act("y", 2, (int32_t[]){1, 4});
    int32_t c = cst("c", 1, (int32_t[]){4});
    int32_t z = act("z", 2, (int32_t[]){1, 4});
    int32_t r = act("r", 2, (int32_t[]){1, 4});
    int32_t s = act("s", 2, (int32_t[]){1, 4});
    op(OP_FULLY_CONNECTED, 3, (int32_t[]){x, w, -1}, y);
    op(OP_ADD, 2, (int32_t[]){y, c}, z);
    op(OP_RELU, 1, (int32_t[]){y}, r);
    op(OP_MUL, 2, (int32_t[]){z, r}, s);
    io(x, s);
}

static const struct {
    const char *name;
    void (*build)(void);
} cases[] = {
    {"fc_add_relu", case_fc_add_relu},
    {"conv_bias_add_relu6", case_conv_bias_add_relu6},
    {"dw_sub_dead", case_dw_sub_dead},
    {"fc_shared", case_fc_shared},
};

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    tflc_status_t *st = tflc_status_new();
    int fail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096];
        start();
        cases[i].build();
        if (ir_verify(m, cases[i].name, st) != TFLC_OK)
            fail = 1;
        if (dir) {
            snprintf(path, sizeof path, "%s/%s.orig.tflite", dir, cases[i].name);
            if (tflc_model_write_file(m, path, NULL, st) != TFLC_OK)
                fail = 1;
        }
        size_t before = sg->n_ops;
        if (pass_optimize(m, NULL, st) != TFLC_OK || ir_verify(m, cases[i].name, st) != TFLC_OK)
            fail = 1;
        if (dir) {
            snprintf(path, sizeof path, "%s/%s.opt.tflite", dir, cases[i].name);
            if (tflc_model_write_file(m, path, NULL, st) != TFLC_OK)
                fail = 1;
        }
        printf("%s %zu %zu\n", cases[i].name, before, m->subgraphs[0].n_ops);
        tflc_model_free(m);
    }
    tflc_status_print(st, stderr);
    tflc_status_free(st);
    return fail;
}
