/*
 * fuse_reshape_fc.c -- drops the RESHAPEs TF writes around a matrix
 * multiply of a tensor of rank > 2 (Keras Dense on [B, T, K], tf.tensordot):
 * FULLY_CONNECTED flattens its input itself and, with keep_num_dims, gives
 * back the leading dims, as TF's converter writes it.
 *
 *   r = RESHAPE(x [..., K]) [M, K]          z = FC(x, w, b) keep_num_dims
 *   f = FC(r, w, b)         [M, O]    ==>
 *   z = RESHAPE(f) [..., O]
 *
 * and without the second RESHAPE (or when it is not the inverse):
 *
 *   r = RESHAPE(x [..., K]) [M, K]          f = FC(x, w, b)
 *   f = FC(r, w, b)                   ==>
 *
 * Why it is exact: FULLY_CONNECTED without keep_num_dims reads its input
 * as [elements / K, K] with K its last dim, which is r when r keeps x's
 * last dim; with keep_num_dims its output is x's leading dims and O, which
 * is z when z has x's leading dims (at most one of them dynamic, the same
 * in both, so that the element count fixes it).
 *
 * Needs: float32, unquantized x, r, f (and z) and weights; r of rank 2 whose last dim
 * equals x's (static, > 0), read only by the FC as its input 0; the FC has
 * keep_num_dims false and the default weights format, weights [O, K]; for
 * the first form f read only by the RESHAPE to z. Changes: the FC reads x
 * (and writes z with keep_num_dims set, the second RESHAPE removed); the
 * first RESHAPE becomes dead (pass_dce removes it).
 */
#include "passes.h"

/* Whether z has x's leading dims and last dim O. With one dynamic dim
 * (the same in both) the element count still fixes it; with more, a
 * RESHAPE could split them differently, so that is not matched. */
static int restores(const ir_tensor_t *x, const ir_tensor_t *z, int32_t O)
{
    if (!pass_is_plain_f32(z) || z->rank != x->rank || z->shape[z->rank - 1] != O ||
        (z->shape_signature && z->shape_signature[z->rank - 1] < 0))
        return 0;
    int dynamic = 0;
    for (uint32_t i = 0; i + 1 < x->rank; i++) {
        int dx = x->shape_signature ? x->shape_signature[i] : x->shape[i];
        int dz = z->shape_signature ? z->shape_signature[i] : z->shape[i];
        if (x->shape[i] != z->shape[i] || (dx < 0) != (dz < 0))
            return 0;
        dynamic += dx < 0;
    }
    return dynamic <= 1;
}

static int fuse_one(ir_model_t *m, ir_subgraph_t *sg, const pass_info_t *g, size_t fi)
{
    ir_op_t *fc = &sg->ops[fi];
    if (fc->builtin != OP_FULLY_CONNECTED || fc->opts != OPT_FullyConnectedOptions ||
        !fc->attr || fc->n_inputs < 2 || fc->n_outputs != 1 ||
        fc->attr[OPF_FullyConnectedOptions_keep_num_dims].i ||
        fc->attr[OPF_FullyConnectedOptions_weights_format].i)
        return 0;
    int32_t ri = pass_only_input(sg, g, fc->inputs[0], OP_RESHAPE);
    if (ri < 0 || sg->ops[ri].n_inputs < 1)
        return 0;
    int32_t xt = sg->ops[ri].inputs[0];
    const ir_tensor_t *x = pass_tensor(sg, xt), *r = pass_tensor(sg, fc->inputs[0]);
    const ir_tensor_t *w = pass_tensor(sg, fc->inputs[1]), *f = pass_tensor(sg, fc->outputs[0]);
    if (!pass_is_plain_f32(x) || x->rank < 2 || !pass_is_plain_f32(r) || r->rank != 2 ||
        !pass_is_plain_f32(w) || w->rank != 2 || !pass_is_plain_f32(f) || f->rank != 2)
        return 0;
    int32_t K = x->shape[x->rank - 1];
    if (K <= 0 || r->shape[1] != K || w->shape[1] != K ||
        (x->shape_signature && x->shape_signature[x->rank - 1] < 0) ||
        (r->shape_signature && r->shape_signature[1] < 0))
        return 0;
    int32_t zi = pass_sole_consumer(sg, g->uses, fc->outputs[0]);
    const ir_op_t *zr = zi >= 0 ? &sg->ops[zi] : NULL;
    if (zr && zr->builtin == OP_RESHAPE && zr->n_outputs == 1 && zr->inputs[0] == fc->outputs[0] &&
        restores(x, pass_tensor(sg, zr->outputs[0]), f->shape[1])) {
        fc->inputs[0] = xt;
        fc->outputs[0] = zr->outputs[0];
        fc->attr[OPF_FullyConnectedOptions_keep_num_dims].i = 1;
        pass_bump_version(m, sg, fc);
        pass_remove_op(sg, (size_t)zi);
        return 1;
    }
    fc->inputs[0] = xt;
    return 1;
}

int pass_fuse_reshape_fc(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    pass_info_t g;
    if (pass_info_init(m, sg, &g))
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        if (!fuse_one(m, sg, &g, i))
            continue;
        changes++;
        pass_info_free(&g);
        if (pass_info_init(m, sg, &g))
            return st_oom(st, m->source), -1;
    }
    pass_info_free(&g);
    return changes;
}
