/*
 * fold_constants.c -- constant folding: an operator whose inputs are all
 * constants is computed now, by the reference kernels in ref/, and its
 * output becomes a constant tensor (TF's converter does the same).
 *
 *   y = TRANSPOSE(w, perm)     ==>     y = <constant: w transposed>
 *
 * SHAPE folds when its input's shape is static, whether or not the input
 * is constant.
 *
 * Needs: a builtin with a reference kernel (ref_has) and one output; every
 * input present is a dense, unquantized constant whose buffer holds
 * exactly its static shape's bytes; the output is dense, unquantized, not
 * a variable, has a static shape and is not part of the subgraph's or a
 * signature's interface (a constant output would change the interface).
 * The kernel itself declines ops it cannot compute exactly (unsupported
 * types or options, undefined results, a shape in the IR that differs from
 * what the op computes).
 * Empty results are not folded (an empty buffer means "no data").
 * Size cap: the result is folded only when it has at most FOLD_SMALL
 * elements or no more bytes than the constant inputs together (so TILE or
 * FILL of a scalar into a large tensor stays an operator), and never more
 * than FOLD_MAX_BYTES.
 * Changes: the output tensor gets a new buffer with the result (keeping
 * its name); the operator is removed; inputs nothing else reads become
 * dead (pass_dce removes them).
 */
#include <stdint.h>
#include <string.h>

#include "passes.h"
#include "ref/ref.h"

#define FOLD_SMALL 1024
#define FOLD_MAX_BYTES ((int64_t)64 << 20)

/* Scratch copies made for misaligned input data, freed after each op. */
typedef struct scratch {
    void *p[16];
    uint32_t n;
} scratch_t;

static void scratch_free(scratch_t *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        mem_free(s->p[i]);
    s->n = 0;
}

/* Fills v with tensor t's shape (and data when want_data). Returns 0, or
 * -1 when t does not qualify; -2 when out of memory. */
static int view(const ir_model_t *m, const ir_subgraph_t *sg, int32_t t, int want_data,
                ref_val_t *v, int64_t *bytes, scratch_t *s)
{
    if (t < 0 || (size_t)t >= sg->n_tensors)
        return -1;
    const ir_tensor_t *x = &sg->tensors[t];
    if (x->quant || x->sparsity || x->is_variable || x->rank > REF_MAX_RANK ||
        !pass_is_static(x))
        return -1;
    memset(v, 0, sizeof *v);
    v->dtype = x->type;
    v->rank = x->rank;
    if (x->rank)
        memcpy(v->shape, x->shape, x->rank * sizeof *x->shape);
    v->n = ir_num_elements(x);
    if (v->n < 0)
        return -1;
    if (!want_data)
        return 0;
    int es = ref_elem_size(x->type);
    if (!es || !pass_is_const(m, sg, t))
        return -1;
    /* Exactly the bytes of the shape (divide: the product could wrap). */
    uint64_t size = m->buffers[x->buffer].size;
    if (size % (uint64_t)es || size / (uint64_t)es != (uint64_t)v->n)
        return -1;
    const uint8_t *d = m->buffers[x->buffer].data;
    *bytes += v->n * es;
    if ((uintptr_t)d % (uintptr_t)es) {
        /* Mapped files need not align elements: read from a copy. */
        if (s->n == ARRAY_LEN(s->p))
            return -1;
        void *c = mem_alloc((size_t)(v->n * es));
        if (!c)
            return -2;
        memcpy(c, d, (size_t)(v->n * es));
        s->p[s->n++] = c;
        d = c;
    }
    v->data = (void *)(uintptr_t)d;
    return 0;
}

/* 1 when op i was folded, 0 when not, -1 when out of memory. */
static int fold_one(ir_model_t *m, ir_subgraph_t *sg, size_t i, tflc_status_t *st)
{
    const ir_op_t *op = &sg->ops[i];
    if (op->builtin == OP_CUSTOM || !ref_has(op->builtin) || op->n_outputs != 1 ||
        op->n_intermediates || !op->n_inputs || op->n_inputs > 64)
        return 0;
    int32_t y = op->outputs[0];
    if (y < 0 || pass_is_const(m, sg, y) || pass_is_interface(m, sg, y))
        return 0;
    ref_val_t in[64], out;
    scratch_t s = {.n = 0};
    int64_t in_bytes = 0;
    int rc = 0;
    for (uint32_t k = 0; k < op->n_inputs && rc == 0; k++) {
        if (op->inputs[k] < 0) {
            memset(&in[k], 0, sizeof in[k]);
            continue;
        }
        int want = !(op->builtin == OP_SHAPE && k == 0);
        rc = view(m, sg, op->inputs[k], want, &in[k], &in_bytes, &s);
    }
    int64_t ob = 0;
    if (rc == 0)
        rc = view(m, sg, y, 0, &out, &ob, &s);
    int es = rc == 0 ? ref_elem_size(out.dtype) : 0;
    /* (A hostile shape may have more elements than any buffer: compare
     * counts before multiplying.) */
    int64_t bytes = es && out.n <= FOLD_MAX_BYTES / es ? out.n * es : 0;
    if (rc == 0 && (!bytes || (out.n > FOLD_SMALL && bytes > in_bytes)))
        rc = -1;
    void *res = NULL;
    if (rc == 0 && !(res = mem_alloc((size_t)bytes)))
        rc = -2;
    if (rc == 0) {
        out.data = res;
        rc = ref_run(op, in, op->n_inputs, &out, 1) == REF_OK ? 1 : -1;
    }
    scratch_free(&s);
    if (rc == 1) {
        void *keep = ar_memdup(&m->arena, res, (size_t)bytes);
        int32_t b = keep ? ir_add_buffer(m, keep, (uint64_t)bytes) : -1;
        if (b < 0) {
            rc = -2;
        } else {
            sg->tensors[y].buffer = (uint32_t)b;
            pass_remove_op(sg, i);
        }
    }
    mem_free(res);
    if (rc == -2)
        return st_oom(st, m->source), -1;
    return rc == 1;
}

int pass_fold_constants(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    for (size_t i = 0; i < sg->n_ops;) {
        int r = fold_one(m, sg, i, st);
        if (r < 0)
            return -1;
        if (r)
            changes++;  /* op i is gone: the next one moved into its place */
        else
            i++;
    }
    return changes;
}
