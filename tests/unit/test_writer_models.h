/*
 * test_writer_models.h -- small models built by hand with the ir_* helpers,
 * for the writer's tests (test_writer.c reads them back byte by byte,
 * test_writer_models.c writes them for t_writer_runtime.py, which runs them
 * in the TFLite runtime and checks the outputs against numpy).
 *
 * Constant data follow simple formulas that t_writer_runtime.py repeats:
 *   fc:   W[o][i] = 0.25 * ((o * 3 + i) % 7) - 0.75   (4 x 3), bias[o] = 0.5 * o - 0.6
 *   conv: F[o][y][x][c] = 0.1 * ((o + 2*y + 3*x + 5*c) % 5) - 0.2   (3 x 3 x 3 x 2),
 *         bias[o] = 0.1 * o
 * Each builder returns NULL when out of memory.
 */
#ifndef TEST_WRITER_MODELS_H
#define TEST_WRITER_MODELS_H

#include <string.h>

#include "ir/ir.h"

static int32_t wm_tensor(ir_model_t *m, ir_subgraph_t *sg, const char *name, int dt, uint32_t rank,
                         const int32_t *shape)
{
    int32_t t = ir_add_tensor(m, sg, name, dt, rank, shape);
    if (t >= 0)
        sg->tensors[t].has_rank = true;
    return t;
}

/* A constant tensor holding a copy of data. */
static int32_t wm_const(ir_model_t *m, ir_subgraph_t *sg, const char *name, int dt, uint32_t rank,
                        const int32_t *shape, const void *data, size_t size)
{
    int32_t t = wm_tensor(m, sg, name, dt, rank, shape);
    int32_t b = t < 0 ? -1 : ir_add_buffer_copy(m, data, size);
    if (b < 0)
        return -1;
    sg->tensors[t].buffer = (uint32_t)b;
    return t;
}

static int wm_io(ir_model_t *m, ir_subgraph_t *sg, const int32_t *in, uint32_t n_in,
                 const int32_t *out, uint32_t n_out)
{
    sg->inputs = ar_memdup(&m->arena, in, n_in * sizeof *in);
    sg->outputs = ar_memdup(&m->arena, out, n_out * sizeof *out);
    sg->n_inputs = n_in;
    sg->n_outputs = n_out;
    return sg->inputs && sg->outputs ? 0 : -1;
}

/* out = a + b, all float32 [1, 4]. */
static ir_model_t *wm_add(void)
{
    ir_model_t *m = ir_model_new();
    ir_subgraph_t *sg = m ? ir_add_subgraph(m, "main") : NULL;
    if (!sg)
        goto oom;
    int32_t s[2] = {1, 4};
    int32_t a = wm_tensor(m, sg, "a", DT_FLOAT32, 2, s);
    int32_t b = wm_tensor(m, sg, "b", DT_FLOAT32, 2, s);
    int32_t o = wm_tensor(m, sg, "out", DT_FLOAT32, 2, s);
    ir_op_t *op = ir_add_op(m, sg, OP_ADD, 2, 1);
    if (a < 0 || b < 0 || o < 0 || !op)
        goto oom;
    op->inputs[0] = a;
    op->inputs[1] = b;
    op->outputs[0] = o;
    int32_t in[2] = {a, b};
    if (wm_io(m, sg, in, 2, &o, 1))
        goto oom;
    return m;
oom:
    tflc_model_free(m);
    return NULL;
}

/* out = (a + b) * a + b: operator codes ADD, MUL (ADD used twice). */
static ir_model_t *wm_add_mul_add(void)
{
    ir_model_t *m = ir_model_new();
    ir_subgraph_t *sg = m ? ir_add_subgraph(m, "main") : NULL;
    if (!sg)
        goto oom;
    int32_t s[1] = {6};
    int32_t a = wm_tensor(m, sg, "a", DT_FLOAT32, 1, s);
    int32_t b = wm_tensor(m, sg, "b", DT_FLOAT32, 1, s);
    int32_t t1 = wm_tensor(m, sg, "sum", DT_FLOAT32, 1, s);
    int32_t t2 = wm_tensor(m, sg, "prod", DT_FLOAT32, 1, s);
    int32_t o = wm_tensor(m, sg, "out", DT_FLOAT32, 1, s);
    if (a < 0 || b < 0 || t1 < 0 || t2 < 0 || o < 0)
        goto oom;
    int32_t ops[3][3] = {{OP_ADD, a, b}, {OP_MUL, t1, a}, {OP_ADD, t2, b}};
    int32_t outs[3] = {t1, t2, o};
    for (int i = 0; i < 3; i++) {
        ir_op_t *op = ir_add_op(m, sg, ops[i][0], 2, 1);
        if (!op)
            goto oom;
        op->inputs[0] = ops[i][1];
        op->inputs[1] = ops[i][2];
        op->outputs[0] = outs[i];
    }
    int32_t in[2] = {a, b};
    if (wm_io(m, sg, in, 2, &o, 1))
        goto oom;
    return m;
oom:
    tflc_model_free(m);
    return NULL;
}

/* y = relu(x W^T + bias): x [2, 3], W [4, 3], bias [4], y [2, 4]. */
static ir_model_t *wm_fc_relu(void)
{
    ir_model_t *m = ir_model_new();
    ir_subgraph_t *sg = m ? ir_add_subgraph(m, "main") : NULL;
    if (!sg)
        goto oom;
    float w[12], bias[4];
    for (int o = 0; o < 4; o++) {
        for (int i = 0; i < 3; i++)
            w[o * 3 + i] = 0.25f * (float)((o * 3 + i) % 7) - 0.75f;
        bias[o] = 0.5f * (float)o - 0.6f;
    }
    int32_t sx[2] = {2, 3}, sw[2] = {4, 3}, sb[1] = {4}, sy[2] = {2, 4};
    int32_t x = wm_tensor(m, sg, "x", DT_FLOAT32, 2, sx);
    int32_t wt = wm_const(m, sg, "weights", DT_FLOAT32, 2, sw, w, sizeof w);
    int32_t bt = wm_const(m, sg, "bias", DT_FLOAT32, 1, sb, bias, sizeof bias);
    int32_t y = wm_tensor(m, sg, "y", DT_FLOAT32, 2, sy);
    ir_op_t *op = ir_add_op(m, sg, OP_FULLY_CONNECTED, 3, 1);
    if (x < 0 || wt < 0 || bt < 0 || y < 0 || !op)
        goto oom;
    op->inputs[0] = x;
    op->inputs[1] = wt;
    op->inputs[2] = bt;
    op->outputs[0] = y;
    op->attr[OPF_FullyConnectedOptions_fused_activation_function].i = 1; /* RELU */
    if (wm_io(m, sg, &x, 1, &y, 1))
        goto oom;
    return m;
oom:
    tflc_model_free(m);
    return NULL;
}

/* CONV_2D, stride 2, padding SAME: x [1, 5, 5, 2], filter [3, 3, 3, 2]
 * (OHWI), bias [3] -> y [1, 3, 3, 3]. */
static ir_model_t *wm_conv_same(void)
{
    ir_model_t *m = ir_model_new();
    ir_subgraph_t *sg = m ? ir_add_subgraph(m, "main") : NULL;
    if (!sg)
        goto oom;
    float f[3 * 3 * 3 * 2], bias[3];
    for (int o = 0; o < 3; o++) {
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                for (int c = 0; c < 2; c++)
                    f[((o * 3 + y) * 3 + x) * 2 + c] =
                        0.1f * (float)((o + 2 * y + 3 * x + 5 * c) % 5) - 0.2f;
        bias[o] = 0.1f * (float)o;
    }
    int32_t sx[4] = {1, 5, 5, 2}, sf[4] = {3, 3, 3, 2}, sb[1] = {3}, sy[4] = {1, 3, 3, 3};
    int32_t x = wm_tensor(m, sg, "x", DT_FLOAT32, 4, sx);
    int32_t ft = wm_const(m, sg, "filter", DT_FLOAT32, 4, sf, f, sizeof f);
    int32_t bt = wm_const(m, sg, "bias", DT_FLOAT32, 1, sb, bias, sizeof bias);
    int32_t y = wm_tensor(m, sg, "y", DT_FLOAT32, 4, sy);
    ir_op_t *op = ir_add_op(m, sg, OP_CONV_2D, 3, 1);
    if (x < 0 || ft < 0 || bt < 0 || y < 0 || !op)
        goto oom;
    op->inputs[0] = x;
    op->inputs[1] = ft;
    op->inputs[2] = bt;
    op->outputs[0] = y;
    op->attr[OPF_Conv2DOptions_padding].i = 0; /* SAME */
    op->attr[OPF_Conv2DOptions_stride_w].i = 2;
    op->attr[OPF_Conv2DOptions_stride_h].i = 2;
    if (wm_io(m, sg, &x, 1, &y, 1))
        goto oom;
    return m;
oom:
    tflc_model_free(m);
    return NULL;
}

/* A signature "serving_default" with names that differ from the tensors'
 * names, and int8 quantization: x (float [1, 8]) -> QUANTIZE -> q (int8,
 * scale 0.05, zero point -3) -> DEQUANTIZE -> y (float). Signature inputs
 * {"input": x}, outputs {"quantized": q, "restored": y}. */
#define WM_Q_SCALE 0.05f
#define WM_Q_ZERO (-3)
static ir_model_t *wm_sig_int8(void)
{
    ir_model_t *m = ir_model_new();
    ir_subgraph_t *sg = m ? ir_add_subgraph(m, "main") : NULL;
    if (!sg)
        goto oom;
    int32_t s[2] = {1, 8};
    int32_t x = wm_tensor(m, sg, "serving_x:0", DT_FLOAT32, 2, s);
    int32_t q = wm_tensor(m, sg, "StatefulPartitionedCall:0", DT_INT8, 2, s);
    int32_t y = wm_tensor(m, sg, "StatefulPartitionedCall:1", DT_FLOAT32, 2, s);
    if (x < 0 || q < 0 || y < 0)
        goto oom;
    ir_quant_t *qp = ar_calloc(&m->arena, 1, sizeof *qp);
    float *scale = ar_calloc(&m->arena, 1, sizeof *scale);
    int64_t *zp = ar_calloc(&m->arena, 1, sizeof *zp);
    if (!qp || !scale || !zp)
        goto oom;
    *scale = WM_Q_SCALE;
    *zp = WM_Q_ZERO;
    qp->scale = scale;
    qp->zero_point = zp;
    qp->n_scale = qp->n_zero_point = 1;
    sg->tensors[q].quant = qp;
    ir_op_t *op = ir_add_op(m, sg, OP_QUANTIZE, 1, 1);
    if (!op)
        goto oom;
    op->inputs[0] = x;
    op->outputs[0] = q;
    if (!(op = ir_add_op(m, sg, OP_DEQUANTIZE, 1, 1)))
        goto oom;
    op->inputs[0] = q;
    op->outputs[0] = y;
    int32_t out[2] = {q, y};
    if (wm_io(m, sg, &x, 1, out, 2))
        goto oom;
    ir_signature_t *sig = ir_add_signature(m, "serving_default", 0);
    if (!sig)
        goto oom;
    sig->inputs = ar_calloc(&m->arena, 1, sizeof *sig->inputs);
    sig->outputs = ar_calloc(&m->arena, 2, sizeof *sig->outputs);
    if (!sig->inputs || !sig->outputs)
        goto oom;
    sig->n_inputs = 1;
    sig->n_outputs = 2;
    sig->inputs[0].name = "input";
    sig->inputs[0].tensor = (uint32_t)x;
    sig->outputs[0].name = "quantized";
    sig->outputs[0].tensor = (uint32_t)q;
    sig->outputs[1].name = "restored";
    sig->outputs[1].tensor = (uint32_t)y;
    return m;
oom:
    tflc_model_free(m);
    return NULL;
}

/* GELU (builtin code 150 > 127: deprecated_builtin_code 127) then RESHAPE
 * [1, 6] -> [2, 3] with the ReshapeOptions new_shape vector. */
static ir_model_t *wm_gelu_reshape(void)
{
    ir_model_t *m = ir_model_new();
    ir_subgraph_t *sg = m ? ir_add_subgraph(m, "main") : NULL;
    if (!sg)
        goto oom;
    int32_t s[2] = {1, 6}, s2[2] = {2, 3}, sn[1] = {2};
    int32_t x = wm_tensor(m, sg, "x", DT_FLOAT32, 2, s);
    int32_t g = wm_tensor(m, sg, "gelu", DT_FLOAT32, 2, s);
    int32_t shape = wm_const(m, sg, "new_shape", DT_INT32, 1, sn, s2, sizeof s2);
    int32_t y = wm_tensor(m, sg, "y", DT_FLOAT32, 2, s2);
    ir_op_t *op = ir_add_op(m, sg, OP_GELU, 1, 1);
    if (x < 0 || g < 0 || shape < 0 || y < 0 || !op)
        goto oom;
    op->inputs[0] = x;
    op->outputs[0] = g;
    if (!(op = ir_add_op(m, sg, OP_RESHAPE, 2, 1)))
        goto oom;
    op->inputs[0] = g;
    op->inputs[1] = shape;
    op->outputs[0] = y;
    ir_val_t *ns = &op->attr[OPF_ReshapeOptions_new_shape];
    if (!(ns->iv = ar_calloc(&m->arena, 2, sizeof *ns->iv)))
        goto oom;
    ns->iv[0] = 2;
    ns->iv[1] = 3;
    ns->n = 2;
    if (wm_io(m, sg, &x, 1, &y, 1))
        goto oom;
    return m;
oom:
    tflc_model_free(m);
    return NULL;
}

#endif /* TEST_WRITER_MODELS_H */
