/*
 * keras_fold.c -- what TF's converter folds in a Keras model: a batch norm
 * (MUL and ADD by per-channel constants) into the weights and bias of the
 * FULLY_CONNECTED, CONV_2D or DEPTHWISE_CONV_2D before it, and RELU /
 * RELU6 / RELU_N1_TO_1 into the fused activation of the op before them,
 * and a flattening RESHAPE into the FULLY_CONNECTED after it (which
 * flattens its input anyway, as TF's TOCO converter used to write it).
 *
 *   y = CONV(x, w, b)                  z = CONV(x, w * s, b * s + o)
 *   u = MUL(y, s);  z = ADD(u, o)  ==>
 *
 * Needs: float32 tensors without quantization; the folded-into op has a
 * fused activation of NONE and its output is read by nothing else (nor is
 * it a subgraph output); the constant is a scalar or a vector along the
 * last (channel) axis ([C] or [1,..,1,C]). Changes: the op gets new weight
 * and bias tensors (new buffers, so weights shared with other ops are
 * untouched) and writes the folded op's output; the folded op is removed.
 * Old tensors are left for pass_dce.
 */
#include <string.h>

#include "keras.h"

typedef struct fold {
    ir_model_t *m;
    ir_subgraph_t *sg;
    uint32_t *uses;
    int32_t *producer;
    uint8_t *dead;
} fold_t;

enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };

/* Slot of op's fused_activation_function, or -1. */
static int act_slot(const ir_op_t *op)
{
    const op_table_t *t = op_table(op->opts);
    for (uint16_t i = 0; t && i < t->n_fields; i++)
        if (strcmp(t->fields[i].name, "fused_activation_function") == 0)
            return i;
    return -1;
}

/* The float32 data of constant tensor t, with its element count, or NULL. */
static const float *const_f32(fold_t *f, int32_t t, int64_t *n)
{
    const ir_tensor_t *x = ir_tensor(f->sg, t);
    if (!x || x->type != DT_FLOAT32 || x->quant || x->sparsity || !x->buffer ||
        x->buffer >= f->m->n_buffers)
        return NULL;
    const ir_buffer_t *b = &f->m->buffers[x->buffer];
    int64_t k = ir_num_elements(x);
    if (k < 0 || !b->data || b->size != (uint64_t)k * sizeof(float) ||
        ((uintptr_t)b->data % sizeof(float)))
        return NULL;
    *n = k;
    return (const float *)b->data;
}

/* A new constant float32 tensor like `like` (same shape) holding data. */
static int32_t new_const(fold_t *f, int32_t like, const char *suffix, const float *data,
                         int64_t n)
{
    const ir_tensor_t *l = &f->sg->tensors[like];
    char *name = ar_printf(&f->m->arena, "%s%s", l->name ? l->name : "", suffix);
    float *copy = ar_memdup(&f->m->arena, data, (size_t)n * sizeof(float));
    int32_t b = copy && name ? ir_add_buffer(f->m, copy, (uint64_t)n * sizeof(float)) : -1;
    if (b < 0)
        return -1;
    uint32_t rank = l->rank;
    int32_t shape[KERAS_MAX_RANK];
    if (rank > KERAS_MAX_RANK)
        return -1;
    memcpy(shape, l->shape, rank * sizeof *shape);
    int32_t t = ir_add_tensor(f->m, f->sg, name, DT_FLOAT32, rank, shape);
    if (t < 0)
        return -1;
    f->sg->tensors[t].buffer = (uint32_t)b;
    f->sg->tensors[t].has_rank = true;
    return t;
}

/* Whether tensor c is a scalar or a vector along the last axis of a
 * tensor with C channels and at most `rank` dims. */
static int per_channel(const ir_tensor_t *c, int32_t C, uint32_t rank)
{
    if (c->rank > rank)
        return 0;
    for (uint32_t i = 0; i + 1 < c->rank; i++)
        if (c->shape[i] != 1)
            return 0;
    return c->rank == 0 || c->shape[c->rank - 1] == 1 || c->shape[c->rank - 1] == C;
}

/* The op writing x, when it is an FC/conv/depthwise with no fused
 * activation whose output only x's one reader reads; else -1. */
static int32_t foldable_producer(fold_t *f, int32_t x)
{
    if (x < 0 || f->uses[x] != 1)
        return -1;
    int32_t p = f->producer[x];
    if (p < 0 || f->dead[p])
        return -1;
    const ir_op_t *op = &f->sg->ops[p];
    if (op->builtin != OP_FULLY_CONNECTED && op->builtin != OP_CONV_2D &&
        op->builtin != OP_DEPTHWISE_CONV_2D)
        return -1;
    int s = act_slot(op);
    if (s < 0 || op->attr[s].i != ACT_NONE)
        return -1;
    const ir_tensor_t *t = &f->sg->tensors[x];
    if (t->type != DT_FLOAT32 || t->quant || op->n_inputs < 2)
        return -1;
    return p;
}

/* Folds op i (a MUL or ADD by a per-channel constant) into its producer.
 * Returns 1 when folded, 0 when not applicable, -1 on OOM. */
static int fold_affine(fold_t *f, size_t i)
{
    ir_op_t *op = &f->sg->ops[i];
    if (op->n_inputs != 2 || op->n_outputs != 1)
        return 0;
    int64_t nk = 0, tmp;
    int k = const_f32(f, op->inputs[1], &nk) ? 1 : const_f32(f, op->inputs[0], &nk) ? 0 : -1;
    if (k < 0 || const_f32(f, op->inputs[1 - k], &tmp))
        return 0;
    int32_t x = op->inputs[1 - k];
    int32_t p = foldable_producer(f, x);
    if (p < 0)
        return 0;
    ir_op_t *P = &f->sg->ops[p];
    const ir_tensor_t *xt = &f->sg->tensors[x];
    if (xt->rank == 0)
        return 0;
    int32_t C = xt->shape[xt->rank - 1];
    const float *kv = const_f32(f, op->inputs[k], &nk);
    if (!per_channel(&f->sg->tensors[op->inputs[k]], C, xt->rank))
        return 0;
    int64_t nw = 0, nb = 0;
    const float *w = const_f32(f, P->inputs[1], &nw);
    int32_t bt = P->n_inputs > 2 ? P->inputs[2] : -1;
    const float *b = bt >= 0 ? const_f32(f, bt, &nb) : NULL;
    if (!w || (bt >= 0 && (!b || nb != C)) || nw % C)
        return 0;
    ar_t *ar = &f->m->arena;
    int mul = op->builtin == OP_MUL;
    float *nbias = ar_alloc(ar, (size_t)C * sizeof(float));
    if (!nbias)
        return -1;
    for (int32_t ch = 0; ch < C; ch++) {
        float kc = kv[nk == 1 ? 0 : ch];
        float b0 = b ? b[ch] : 0.0f;
        nbias[ch] = mul ? b0 * kc : b0 + kc;
    }
    if (mul) {
        float *nw_ = ar_alloc(ar, (size_t)nw * sizeof(float));
        if (!nw_)
            return -1;
        /* FC [C, in] and conv [C, kh, kw, in]: channel is the outer index;
         * depthwise [1, kh, kw, C]: the inner one. */
        int64_t inner = nw / C;
        for (int64_t j = 0; j < nw; j++) {
            int64_t ch = P->builtin == OP_DEPTHWISE_CONV_2D ? j % C : j / inner;
            nw_[j] = w[j] * kv[nk == 1 ? 0 : ch];
        }
        int32_t wt = new_const(f, P->inputs[1], "_folded", nw_, nw);
        if (wt < 0)
            return -1;
        P = &f->sg->ops[p];
        P->inputs[1] = wt;
    }
    if (b || !mul) {
        if (bt < 0) {
            /* FC without bias: give it one. The tensor is shaped [C]. */
            int32_t shape[1] = {C};
            char *name = ar_printf(ar, "%s_bias", f->sg->tensors[x].name ? f->sg->tensors[x].name : "");
            int32_t buf = name ? ir_add_buffer(f->m, nbias, (uint64_t)C * sizeof(float)) : -1;
            int32_t t = buf >= 0 ? ir_add_tensor(f->m, f->sg, name, DT_FLOAT32, 1, shape) : -1;
            if (t < 0)
                return -1;
            f->sg->tensors[t].buffer = (uint32_t)buf;
            f->sg->tensors[t].has_rank = true;
            P = &f->sg->ops[p];
            if (P->n_inputs < 3)
                return 0;   /* cannot happen: FC/conv ops are built with 3 inputs */
            P->inputs[2] = t;
        } else {
            int32_t t = new_const(f, bt, "_folded", nbias, C);
            if (t < 0)
                return -1;
            P = &f->sg->ops[p];
            P->inputs[2] = t;
        }
    }
    op = &f->sg->ops[i];
    int sa = act_slot(op), sp = act_slot(P);
    if (sa >= 0 && sp >= 0)
        P->attr[sp].i = op->attr[sa].i;
    P->outputs[0] = op->outputs[0];
    f->producer[op->outputs[0]] = p;
    f->uses[x] = 0;
    f->dead[i] = 1;
    return 1;
}

/* Folds op i (RELU, RELU6, RELU_N1_TO_1) into its producer's fused
 * activation. */
static int fold_act(fold_t *f, size_t i, int act)
{
    ir_op_t *op = &f->sg->ops[i];
    if (op->n_inputs != 1 || op->n_outputs != 1)
        return 0;
    int32_t x = op->inputs[0];
    if (x < 0 || f->uses[x] != 1)
        return 0;
    int32_t p = f->producer[x];
    if (p < 0 || f->dead[p])
        return 0;
    ir_op_t *P = &f->sg->ops[p];
    const ir_tensor_t *xt = &f->sg->tensors[x];
    /* The ops TF's converter fuses activations into (TRANSPOSE_CONV's and
     * the pools' fused activations are newer or unused by TF). */
    switch (P->builtin) {
    case OP_FULLY_CONNECTED: case OP_CONV_2D: case OP_DEPTHWISE_CONV_2D:
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
        break;
    default:
        return 0;
    }
    int s = act_slot(P);
    if (s < 0 || P->attr[s].i != ACT_NONE || xt->type != DT_FLOAT32 || xt->quant ||
        P->n_outputs != 1)
        return 0;
    P->attr[s].i = act;
    P->outputs[0] = op->outputs[0];
    f->producer[op->outputs[0]] = p;
    f->uses[x] = 0;
    f->dead[i] = 1;
    return 1;
}

/* A FULLY_CONNECTED (without keep_num_dims) flattens its input itself:
 * a RESHAPE to [batch, in] before it, read by nothing else, is dropped. */
static int fold_flatten(fold_t *f, size_t i)
{
    ir_op_t *op = &f->sg->ops[i];
    if (op->n_inputs < 2 || op->attr[OPF_FullyConnectedOptions_keep_num_dims].i)
        return 0;
    int32_t x = op->inputs[0];
    if (x < 0 || f->uses[x] != 1)
        return 0;
    int32_t p = f->producer[x];
    if (p < 0 || f->dead[p] || f->sg->ops[p].builtin != OP_RESHAPE || f->sg->ops[p].n_inputs < 1)
        return 0;
    const ir_tensor_t *xt = &f->sg->tensors[x], *w = ir_tensor(f->sg, op->inputs[1]);
    if (!w || w->rank != 2 || xt->rank != 2 || xt->shape[1] != w->shape[1])
        return 0;
    op->inputs[0] = f->sg->ops[p].inputs[0];
    f->uses[x] = 0;
    f->dead[p] = 1;
    return 1;
}

int keras_fold(ir_model_t *m, ir_subgraph_t *sg)
{
    ar_t *ar = &m->arena;
    fold_t f = {m, sg, ar_calloc(ar, sg->n_tensors + 1, sizeof(uint32_t)),
                ar_calloc(ar, sg->n_tensors + 1, sizeof(int32_t)), ar_calloc(ar, sg->n_ops + 1, 1)};
    if (!f.uses || !f.producer || !f.dead)
        return -1;
    for (size_t t = 0; t < sg->n_tensors; t++)
        f.producer[t] = -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        const ir_op_t *op = &sg->ops[i];
        for (uint32_t j = 0; j < op->n_inputs; j++)
            if (op->inputs[j] >= 0 && (size_t)op->inputs[j] < sg->n_tensors)
                f.uses[op->inputs[j]]++;
        for (uint32_t j = 0; j < op->n_outputs; j++)
            if (op->outputs[j] >= 0 && (size_t)op->outputs[j] < sg->n_tensors)
                f.producer[op->outputs[j]] = (int32_t)i;
    }
    for (uint32_t j = 0; j < sg->n_outputs; j++)
        if (sg->outputs[j] >= 0 && (size_t)sg->outputs[j] < sg->n_tensors)
            f.uses[sg->outputs[j]]++;
    /* The tensor arrays grow as new constants are added; the per-tensor
     * tables only cover the tensors that existed, which are all any op
     * reads or writes here. */
    size_t n_tensors = sg->n_tensors;
    for (size_t i = 0; i < sg->n_ops; i++) {
        const ir_op_t *op = &sg->ops[i];
        int ok = 1;
        for (uint32_t j = 0; j < op->n_inputs; j++)
            ok &= op->inputs[j] < (int32_t)n_tensors;
        for (uint32_t j = 0; j < op->n_outputs; j++)
            ok &= op->outputs[j] >= 0 && op->outputs[j] < (int32_t)n_tensors;
        if (!ok)
            continue;
        int r = 0;
        switch (op->builtin) {
        case OP_MUL:
        case OP_ADD: r = fold_affine(&f, i); break;
        case OP_FULLY_CONNECTED: r = fold_flatten(&f, i); break;
        case OP_RELU: r = fold_act(&f, i, ACT_RELU); break;
        case OP_RELU6: r = fold_act(&f, i, ACT_RELU6); break;
        case OP_RELU_N1_TO_1: r = fold_act(&f, i, ACT_RELU_N1_TO_1); break;
        }
        if (r < 0)
            return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < sg->n_ops; i++)
        if (!f.dead[i])
            sg->ops[k++] = sg->ops[i];
    sg->n_ops = k;
    return 0;
}
