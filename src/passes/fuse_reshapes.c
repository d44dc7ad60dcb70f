/*
 * fuse_reshapes.c -- collapses chains of reshapes and drops reshapes that
 * change nothing, as TF's converter canonicalises them (the Squeeze,
 * Reshape, Softmax, Reshape tail of MobileNet's classifier, Flatten of a
 * tensor that is already flat).
 *
 *   r = RESHAPE|SQUEEZE|EXPAND_DIMS(x)        z = RESHAPE(x, s)
 *   z = RESHAPE(r, s)                  ==>
 *
 *   y = OP(...)                               z = OP(...)
 *   z = RESHAPE(y) with z's shape == y's ==>
 *
 * Why it is exact: all three ops keep the elements in row-major order and
 * only relabel the dims, so a RESHAPE of any of them is a RESHAPE of x
 * (its target comes from its own shape input or options; a -1 in it is
 * inferred from the element count, the same for x); a reshape to the same
 * dims is the identity.
 *
 * Needs, chains: the second op is RESHAPE; r is read only by it and is no
 * interface tensor. Identities: the op is RESHAPE, SQUEEZE or EXPAND_DIMS;
 * input and output have the same type, no quantization or sparsity, and
 * the same dims, at most one of them dynamic (then the element count fixes
 * it). The identity is removed by making its readers read the input when
 * its output is no interface tensor, else by making the input's producer
 * write the output (when the input is read only by the reshape and is no
 * interface tensor itself); otherwise it stays.
 * Changes: operators read or write other tensors as above; the first op of
 * a chain becomes dead (pass_dce removes it), an identity is removed.
 */
#include "passes.h"

static int is_reshape_like(int32_t b)
{
    return b == OP_RESHAPE || b == OP_SQUEEZE || b == OP_EXPAND_DIMS;
}

/* z = RESHAPE(r = RESHAPE-like(x)) -> z = RESHAPE(x). */
static int chain(const ir_model_t *m, ir_subgraph_t *sg, const pass_info_t *g, ir_op_t *op)
{
    if (op->builtin != OP_RESHAPE || op->n_inputs < 1 || op->n_outputs != 1)
        return 0;
    int32_t ri = pass_only_input(sg, g, op->inputs[0], -1);
    if (ri < 0 || !is_reshape_like(sg->ops[ri].builtin) || sg->ops[ri].n_inputs < 1 ||
        pass_is_interface(m, sg, op->inputs[0]))
        return 0;
    op->inputs[0] = sg->ops[ri].inputs[0];
    return 1;
}

/* Whether out is in with nothing changed. */
static int same_tensor_shape(const ir_tensor_t *in, const ir_tensor_t *out)
{
    if (!in || !out || in->type != out->type || in->quant || out->quant || in->sparsity ||
        out->sparsity || in->is_variable || out->is_variable || !pass_same_shape(in, out))
        return 0;
    int dynamic = 0;
    for (uint32_t i = 0; i < in->rank; i++)
        dynamic += in->shape_signature && in->shape_signature[i] < 0;
    return dynamic <= 1;
}

/* Removes identity op i; 1 when done. */
static int identity(const ir_model_t *m, ir_subgraph_t *sg, const pass_info_t *g, size_t i)
{
    const ir_op_t *op = &sg->ops[i];
    if (!is_reshape_like(op->builtin) || op->n_inputs < 1 || op->n_outputs != 1)
        return 0;
    int32_t x = op->inputs[0], z = op->outputs[0];
    if (!same_tensor_shape(pass_tensor(sg, x), pass_tensor(sg, z)))
        return 0;
    if (!pass_is_interface(m, sg, z)) {
        pass_replace_uses(sg, z, x);
        pass_remove_op(sg, i);
        return 1;
    }
    /* z names the output: let x's producer write it instead. */
    int32_t p = pass_only_input(sg, g, x, -1);
    if (p < 0 || pass_is_interface(m, sg, x) || pass_is_const(m, sg, x))
        return 0;
    sg->ops[p].outputs[0] = z;
    pass_remove_op(sg, i);
    return 1;
}

int pass_fuse_reshapes(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    pass_info_t g;
    if (pass_info_init(m, sg, &g))
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        if (!chain(m, sg, &g, &sg->ops[i]) && !identity(m, sg, &g, i))
            continue;
        /* Reads changed (or an op went): count again, and look at the op
         * now at i again. */
        changes++;
        pass_info_free(&g);
        if (pass_info_init(m, sg, &g))
            return st_oom(st, m->source), -1;
        i--;
    }
    pass_info_free(&g);
    return changes;
}
