/*
 * raise_fully_connected.c -- turns a BATCH_MATMUL by a constant matrix into
 * FULLY_CONNECTED, as TF's converter does (Keras Dense on a [B, T, K]
 * input in TF 2 graphs is a BatchMatMulV2 by the kernel; Einsum lowers to
 * BATCH_MATMUL too).
 *
 *   z = BATCH_MATMUL(x [..., K], w [K, O])       z = FC(x, w^T [O, K])
 *   (adj_y: w [O, K])                      ==>       keep_num_dims
 *
 * Why it is exact: BATCH_MATMUL gives z[..., o] = sum_k x[..., k] w[k, o]
 * for every leading index of x when w has no batch dims of its own;
 * FULLY_CONNECTED with keep_num_dims gives the same sum with weights
 * [O, K], keeping x's leading dims (the order of the additions may differ
 * in the kernel: float rounding).
 *
 * Needs: float32, unquantized tensors; adj_x false; w a float32 constant
 * of rank >= 2 whose leading dims are all 1 (no batch broadcasting); x of
 * rank >= 2 with a static last dim K; z of shape x's leading dims + [O].
 * Changes: the op becomes FULLY_CONNECTED(x, new weights [O, K] in a new
 * buffer, no bias) with keep_num_dims set when x has rank > 2, keeping its
 * output tensor; the old constant may become dead (pass_dce).
 */
#include "passes.h"

/* w[K, O] (or w[O, K] when adj_y) as a new [O, K] float32 constant;
 * -1 when out of memory. */
static int32_t weights(ir_model_t *m, ir_subgraph_t *sg, int32_t w, const float *v, int32_t K,
                       int32_t O, int adj_y)
{
    float *d = ar_alloc(&m->arena, (size_t)K * (size_t)O * sizeof *d);
    if (!d)
        return -1;
    for (int32_t o = 0; o < O; o++)
        for (int32_t k = 0; k < K; k++)
            d[(size_t)o * K + k] = adj_y ? v[(size_t)o * K + k] : v[(size_t)k * O + o];
    int32_t shape[2] = {O, K};
    return pass_new_const(m, sg, sg->tensors[w].name, DT_FLOAT32, 2, shape, d,
                          (uint64_t)K * (uint64_t)O * sizeof *d);
}

static int raise_one(ir_model_t *m, ir_subgraph_t *sg, size_t i)
{
    ir_op_t *op = &sg->ops[i];
    if (op->builtin != OP_BATCH_MATMUL || op->opts != OPT_BatchMatMulOptions || !op->attr ||
        op->n_inputs != 2 || op->n_outputs != 1 || op->attr[OPF_BatchMatMulOptions_adj_x].i ||
        op->attr[OPF_BatchMatMulOptions_asymmetric_quantize_inputs].i)
        return 0;
    int adj_y = op->attr[OPF_BatchMatMulOptions_adj_y].i != 0;
    const ir_tensor_t *x = pass_tensor(sg, op->inputs[0]), *w = pass_tensor(sg, op->inputs[1]);
    const ir_tensor_t *z = pass_tensor(sg, op->outputs[0]);
    if (!pass_is_plain_f32(x) || !pass_is_plain_f32(w) || !pass_is_plain_f32(z) || x->rank < 2 ||
        w->rank < 2 || z->rank != x->rank)
        return 0;
    for (uint32_t d = 0; d + 2 < w->rank; d++)
        if (w->shape[d] != 1)
            return 0;
    int32_t K = w->shape[w->rank - (adj_y ? 1 : 2)], O = w->shape[w->rank - (adj_y ? 2 : 1)];
    if (K <= 0 || O <= 0 || x->shape[x->rank - 1] != K ||
        (x->shape_signature && x->shape_signature[x->rank - 1] < 0))
        return 0;
    /* z is x's leading dims and O (nothing broadcast in from w). */
    for (uint32_t d = 0; d + 1 < x->rank; d++) {
        int dx = x->shape_signature ? x->shape_signature[d] : x->shape[d];
        int dz = z->shape_signature ? z->shape_signature[d] : z->shape[d];
        if (x->shape[d] != z->shape[d] || (dx < 0) != (dz < 0))
            return 0;
    }
    if (z->shape[z->rank - 1] != O)
        return 0;
    const float *v = pass_const_f32(m, sg, op->inputs[1], (int64_t)K * O);
    if (!v)
        return 0;
    int32_t nw = weights(m, sg, op->inputs[1], v, K, O, adj_y);
    if (nw < 0)
        return -1;
    int32_t *in = ar_calloc(&m->arena, 3, sizeof *in);
    op = &sg->ops[i];
    if (!in || ir_op_set_table(m, op, OPT_FullyConnectedOptions))
        return -1;
    in[0] = op->inputs[0];
    in[1] = nw;
    in[2] = -1;
    op->builtin = OP_FULLY_CONNECTED;
    op->inputs = in;
    op->n_inputs = 3;
    op->mutating_variable_inputs = NULL;
    op->n_mutating_variable_inputs = 0;
    op->attr[OPF_FullyConnectedOptions_keep_num_dims].i = sg->tensors[in[0]].rank > 2;
    op->version = 1;
    pass_bump_version(m, sg, op);
    return 1;
}

int pass_raise_fully_connected(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    for (size_t i = 0; i < sg->n_ops; i++) {
        int r = raise_one(m, sg, i);
        if (r < 0)
            return st_oom(st, m->source), -1;
        changes += r;
    }
    return changes;
}
