/*
 * verify.c -- ir_verify and tflc_model_verify: the invariants of a model in
 * tflc's IR, checked on read models and between the stages of a conversion.
 *
 * Contract: reads the model, never changes it. Reports one message per
 * problem (code TFLC_ERR_INVALID, prefixed "where: subgraph i: tensor j
 * 'name'" or the like) and keeps going, so the user sees every problem at
 * once (st_err keeps the first ST_MAX). Returns TFLC_OK when nothing was
 * found, else TFLC_ERR_INVALID (TFLC_ERR_NOMEM if a scratch array could not
 * be allocated).
 *
 * What is checked (each is something the TFLite runtime relies on, or an
 * IR invariant the writer relies on):
 *   model       version 3; buffer 0 present and empty; at least one
 *               subgraph; buffers with a size have data
 *   metadata    names present; buffer indices in range (also the deprecated
 *               metadata_buffer list)
 *   signatures  keys present and distinct; subgraph in range; tensor maps
 *               name tensors of that subgraph, names distinct
 *   subgraphs   input/output tensor indices in range
 *   tensors     known type; dims >= -1; shape_signature agrees with shape
 *               where static; buffer index in range; constant data of a
 *               fixed-size type has exactly the bytes its static shape
 *               needs; no constant data on variable tensors; quantization
 *               vectors consistent (scale and zero_point the same length,
 *               min and max the same length, quantized_dimension in range,
 *               per-axis scale count equal to that dimension); sparsity
 *               and variant subtypes well formed
 *   operators   builtin code not negative; custom ops have a custom_code;
 *               version >= 1; input indices in range or -1, outputs and
 *               intermediates in range; mutating_variable_inputs empty or
 *               one per input; the options table is the one the op takes
 *               and has its values; options fields naming subgraphs (IF,
 *               WHILE, CALL, CALL_ONCE, StableHLO regions) name other,
 *               existing subgraphs; no tensor written by two operators, no
 *               constant tensor written, no tensor read before the operator
 *               that writes it
 */
#include <stdio.h>
#include <string.h>

#include "ir.h"

typedef struct vf {
    const ir_model_t *m;
    const char *where;
    tflc_status_t *st;
    tflc_code_t code;
    char place[256];   /* "subgraph 0: tensor 3 'x'" */
} vf_t;

static void bad(vf_t *v, const char *fmt, ...) TFLC_PRINTF(2, 3);
static void bad(vf_t *v, const char *fmt, ...)
{
    char where[512];
    if (v->place[0])
        snprintf(where, sizeof where, "%s: %s", v->where, v->place);
    else
        snprintf(where, sizeof where, "%s", v->where);
    va_list ap;
    va_start(ap, fmt);
    st_verr(v->st, TFLC_ERR_INVALID, where, fmt, ap);
    va_end(ap);
    if (v->code == TFLC_OK)
        v->code = TFLC_ERR_INVALID;
}

static void at(vf_t *v, const char *fmt, ...) TFLC_PRINTF(2, 3);
static void at(vf_t *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->place, sizeof v->place, fmt, ap);
    va_end(ap);
}

static const char *shape_str(const int32_t *d, uint32_t rank, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, n, "[");
    for (uint32_t i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%d" : "%d", (int)d[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
    return buf;
}

/* ---- Tensors ---------------------------------------------------------- */

static void check_quant(vf_t *v, const ir_tensor_t *t)
{
    const ir_quant_t *q = t->quant;
    if ((q->n_min && !q->min) || (q->n_max && !q->max) || (q->n_scale && !q->scale) ||
        (q->n_zero_point && !q->zero_point) || (q->n_custom && !q->custom))
        bad(v, "quantization vector with a length but no values");
    if (q->n_min != q->n_max)
        bad(v, "quantization has %u min values but %u max values", q->n_min, q->n_max);
    if (!q->n_scale)
        return;
    if (q->n_zero_point != q->n_scale)
        bad(v, "quantization has %u scales but %u zero points", q->n_scale, q->n_zero_point);
    int32_t qd = q->quantized_dimension;
    if (qd < 0 || (t->rank && (uint32_t)qd >= t->rank)) {
        bad(v, "quantized_dimension %d out of range for rank %u", qd, t->rank);
        return;
    }
    if (q->n_scale != 1 && t->rank && t->shape && t->shape[qd] >= 0 &&
        (uint32_t)t->shape[qd] != q->n_scale)
        bad(v, "per-axis quantization along dimension %d has %u scales, but that dimension "
               "is %d", qd, q->n_scale, t->shape[qd]);
}

static void check_sparsity(vf_t *v, const ir_sparsity_t *s)
{
    if (!s->n_traversal_order || !s->n_dims)
        bad(v, "sparsity without traversal_order or dim_metadata");
    if ((s->n_traversal_order && !s->traversal_order) || (s->n_block_map && !s->block_map) ||
        (s->n_dims && !s->dims))
        bad(v, "sparsity vector with a length but no values");
    for (uint32_t i = 0; s->dims && i < s->n_dims; i++) {
        const ir_dim_meta_t *d = &s->dims[i];
        if (d->format == 0)
            continue;
        if (d->format != 1) {
            bad(v, "sparsity dimension %u has unknown format %d", i, d->format);
            continue;
        }
        if (d->seg_type < 1 || d->seg_type > 3 || d->idx_type < 1 || d->idx_type > 3)
            bad(v, "sparse dimension %u lacks array_segments or array_indices", i);
        if ((d->n_segments && !d->segments) || (d->n_indices && !d->indices))
            bad(v, "sparse dimension %u has a length but no values", i);
    }
}

/* Bytes of constant data: only fixed-size dense types with a static shape
 * have a size to check. */
static void check_data_size(vf_t *v, const ir_tensor_t *t, const ir_buffer_t *b)
{
    if (t->sparsity || ir_dtype_bits(t->type) == 0)
        return;
    int64_t want = ir_tensor_bytes(t);
    if (want < 0 || (uint64_t)want == b->size)
        return;
    char s[128];
    bad(v, "buffer %u holds %llu bytes, but a %s tensor of shape %s needs %lld", t->buffer,
        (unsigned long long)b->size, ir_dtype_name(t->type), shape_str(t->shape, t->rank, s, sizeof s),
        (long long)want);
}

static void check_tensor(vf_t *v, const ir_tensor_t *t)
{
    const ir_model_t *m = v->m;
    if (t->type < 0 || t->type >= DT_COUNT)
        bad(v, "unknown tensor type %d", t->type);
    if (t->rank && !t->shape) {
        bad(v, "rank %u but no shape", t->rank);
        return;
    }
    for (uint32_t i = 0; i < t->rank; i++) {
        if (t->shape[i] < -1)
            bad(v, "shape[%u] is %d", i, t->shape[i]);
        if (!t->shape_signature)
            continue;
        int32_t s = t->shape_signature[i];
        if (s < -1)
            bad(v, "shape_signature[%u] is %d", i, s);
        else if (s != -1 && s != t->shape[i])
            bad(v, "shape_signature[%u] is %d but shape[%u] is %d", i, s, i, t->shape[i]);
    }
    if (t->buffer >= m->n_buffers) {
        bad(v, "buffer %u out of range (the model has %zu buffers)", t->buffer, m->n_buffers);
    } else if (t->buffer && m->buffers[t->buffer].size) {
        if (t->is_variable)
            bad(v, "variable tensor with constant data (buffer %u)", t->buffer);
        check_data_size(v, t, &m->buffers[t->buffer]);
    }
    if (t->quant)
        check_quant(v, t);
    if (t->sparsity)
        check_sparsity(v, t->sparsity);
    if (t->n_variants && !t->variants)
        bad(v, "variant subtypes with a count but no values");
    for (uint32_t i = 0; t->variants && i < t->n_variants; i++) {
        const ir_variant_t *x = &t->variants[i];
        if (x->type < 0 || x->type >= DT_COUNT)
            bad(v, "variant subtype %u has unknown type %d", i, x->type);
        if (x->rank && !x->shape)
            bad(v, "variant subtype %u has a rank but no shape", i);
    }
}

/* ---- Operators -------------------------------------------------------- */

static bool names_subgraph(const op_field_t *f) { return strstr(f->name, "subgraph") != NULL; }

static void check_subgraph_ref(vf_t *v, const char *table, const op_field_t *f, int64_t x,
                               size_t self)
{
    if (x < 0 || (uint64_t)x >= v->m->n_subgraphs)
        bad(v, "%s.%s names subgraph %lld, out of range (the model has %zu subgraphs)", table,
            f->name, (long long)x, v->m->n_subgraphs);
    else if ((uint64_t)x == self)
        bad(v, "%s.%s names its own subgraph %lld", table, f->name, (long long)x);
}

static void check_options(vf_t *v, const ir_op_t *op, size_t si)
{
    const op_table_t *tab = op_table(op->opts);
    if (op->opts != OPT_NONE && !tab) {
        bad(v, "unknown options table id %u", op->opts);
        return;
    }
    /* Converters may leave options out (the runtime then uses the
     * defaults), but a table of another kind would be silently ignored by
     * the runtime, and defaults are no use where options name subgraphs. */
    if (op_name(op->builtin) && op->builtin != OP_CUSTOM) {
        int want = op_default_table(op->builtin);
        const op_table_t *w = op_table(want);
        if (op->opts != OPT_NONE && want != op->opts)
            bad(v, "has %s, but %s takes %s", tab->name, op_name(op->builtin),
                w ? w->name : "no options");
        for (uint16_t i = 0; op->opts == OPT_NONE && w && i < w->n_fields; i++)
            if (names_subgraph(&w->fields[i])) {
                bad(v, "has no %s to name its subgraphs", w->name);
                break;
            }
    }
    if (!tab || !tab->n_fields)
        return;
    if (!op->attr) {
        bad(v, "options %s without values", tab->name);
        return;
    }
    for (uint16_t i = 0; i < tab->n_fields; i++) {
        const op_field_t *f = &tab->fields[i];
        const ir_val_t *a = &op->attr[i];
        if (opk_is_vector(f->kind) && a->n &&
            !(f->kind == OPK_VU8 ? (const void *)a->bytes
              : f->kind == OPK_VF32 ? (const void *)a->fv : (const void *)a->iv))
            bad(v, "%s.%s has %u values but no data", tab->name, f->name, a->n);
        if (!names_subgraph(f))
            continue;
        if (!opk_is_vector(f->kind))
            check_subgraph_ref(v, tab->name, f, a->i, si);
        for (uint32_t k = 0; opk_is_vector(f->kind) && a->iv && k < a->n; k++)
            check_subgraph_ref(v, tab->name, f, a->iv[k], si);
    }
}

static void check_op(vf_t *v, const ir_subgraph_t *sg, const ir_op_t *op, size_t si)
{
    int64_t nt = (int64_t)sg->n_tensors;
    if (op->builtin < 0)
        bad(v, "invalid builtin code %d", op->builtin);
    if (op->builtin == OP_CUSTOM && !op->custom_code)
        bad(v, "custom operator without a custom_code");
    if (op->version < 1)
        bad(v, "operator version %d (must be >= 1)", op->version);
    if ((op->n_inputs && !op->inputs) || (op->n_outputs && !op->outputs) ||
        (op->n_intermediates && !op->intermediates) ||
        (op->n_mutating_variable_inputs && !op->mutating_variable_inputs) ||
        (op->n_custom_options && !op->custom_options))
        bad(v, "a list with a length but no values");
    for (uint32_t i = 0; op->inputs && i < op->n_inputs; i++)
        if (op->inputs[i] < -1 || op->inputs[i] >= nt)
            bad(v, "input %u is tensor %d, out of range (the subgraph has %zu tensors)", i,
                op->inputs[i], sg->n_tensors);
    for (uint32_t i = 0; op->outputs && i < op->n_outputs; i++)
        if (op->outputs[i] < 0 || op->outputs[i] >= nt)
            bad(v, "output %u is tensor %d, out of range (the subgraph has %zu tensors)", i,
                op->outputs[i], sg->n_tensors);
    for (uint32_t i = 0; op->intermediates && i < op->n_intermediates; i++)
        if (op->intermediates[i] < 0 || op->intermediates[i] >= nt)
            bad(v, "intermediate %u is tensor %d, out of range (the subgraph has %zu tensors)",
                i, op->intermediates[i], sg->n_tensors);
    if (op->n_mutating_variable_inputs && op->n_mutating_variable_inputs != op->n_inputs)
        bad(v, "mutating_variable_inputs has %u entries for %u inputs",
            op->n_mutating_variable_inputs, op->n_inputs);
    if (op->debug_metadata_index < -1)
        bad(v, "debug_metadata_index %d", op->debug_metadata_index);
    check_options(v, op, si);
}

static const char *op_label(const ir_op_t *op, char *buf, size_t n)
{
    const char *s = op_name(op->builtin);
    if (op->builtin == OP_CUSTOM && op->custom_code)
        snprintf(buf, n, "CUSTOM '%.60s'", op->custom_code);
    else if (s)
        snprintf(buf, n, "%s", s);
    else
        snprintf(buf, n, "builtin %ld", (long)op->builtin);
    return buf;
}

/* Dataflow: each tensor written once, by an operator that runs before its
 * readers, and never a constant. producer[t] is the writing op + 1. */
static void check_dataflow(vf_t *v, const ir_subgraph_t *sg, size_t si)
{
    if (!sg->n_tensors)
        return;
    uint32_t *producer = mem_calloc(sg->n_tensors, sizeof *producer);
    if (!producer) {
        st_oom(v->st, v->where);
        v->code = TFLC_ERR_NOMEM;
        return;
    }
    const ir_model_t *m = v->m;
    for (size_t oi = 0; oi < sg->n_ops; oi++) {
        const ir_op_t *op = &sg->ops[oi];
        for (uint32_t k = 0; op->outputs && k < op->n_outputs; k++) {
            int32_t t = op->outputs[k];
            if (t < 0 || (size_t)t >= sg->n_tensors)
                continue;
            at(v, "subgraph %zu: operator %zu", si, oi);
            if (producer[t])
                bad(v, "writes tensor %d, already written by operator %u", t, producer[t] - 1);
            else
                producer[t] = (uint32_t)oi + 1;
            uint32_t b = sg->tensors[t].buffer;
            if (b && b < m->n_buffers && m->buffers[b].size)
                bad(v, "writes tensor %d, which is constant (buffer %u)", t, b);
        }
    }
    for (size_t oi = 0; oi < sg->n_ops; oi++) {
        const ir_op_t *op = &sg->ops[oi];
        for (uint32_t k = 0; op->inputs && k < op->n_inputs; k++) {
            int32_t t = op->inputs[k];
            if (t < 0 || (size_t)t >= sg->n_tensors || producer[t] <= oi + 1)
                continue;
            at(v, "subgraph %zu: operator %zu", si, oi);
            bad(v, "reads tensor %d before operator %u writes it", t, producer[t] - 1);
        }
    }
    mem_free(producer);
}

/* ---- Subgraphs, signatures, the model --------------------------------- */

static void check_io(vf_t *v, const ir_subgraph_t *sg, const int32_t *idx, uint32_t n,
                     const char *what)
{
    if (n && !idx) {
        bad(v, "%s: a length but no values", what);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if (idx[i] < 0 || (size_t)idx[i] >= sg->n_tensors)
            bad(v, "%s %u is tensor %d, out of range (the subgraph has %zu tensors)", what, i,
                idx[i], sg->n_tensors);
}

static void check_subgraph(vf_t *v, const ir_subgraph_t *sg, size_t si)
{
    at(v, "subgraph %zu", si);
    if ((sg->n_tensors && !sg->tensors) || (sg->n_ops && !sg->ops)) {
        bad(v, "a list with a length but no values");
        return;
    }
    check_io(v, sg, sg->inputs, sg->n_inputs, "input");
    check_io(v, sg, sg->outputs, sg->n_outputs, "output");
    for (size_t ti = 0; ti < sg->n_tensors; ti++) {
        const ir_tensor_t *t = &sg->tensors[ti];
        at(v, "subgraph %zu: tensor %zu%s%.80s%s", si, ti, t->name ? " '" : "",
           t->name ? t->name : "", t->name ? "'" : "");
        check_tensor(v, t);
    }
    for (size_t oi = 0; oi < sg->n_ops; oi++) {
        char label[96];
        at(v, "subgraph %zu: operator %zu (%s)", si, oi, op_label(&sg->ops[oi], label, sizeof label));
        check_op(v, sg, &sg->ops[oi], si);
    }
    check_dataflow(v, sg, si);
}

static void check_tensor_maps(vf_t *v, const ir_signature_t *s, const ir_tensor_map_t *tm,
                              uint32_t n, const char *what)
{
    const ir_model_t *m = v->m;
    if (n && !tm) {
        bad(v, "%s: a length but no values", what);
        return;
    }
    const ir_subgraph_t *sg = s->subgraph < m->n_subgraphs ? &m->subgraphs[s->subgraph] : NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (!tm[i].name) {
            bad(v, "%s %u has no name", what, i);
            continue;
        }
        if (sg && tm[i].tensor >= sg->n_tensors)
            bad(v, "%s '%s' is tensor %u, out of range (subgraph %u has %zu tensors)", what,
                tm[i].name, tm[i].tensor, s->subgraph, sg->n_tensors);
        for (uint32_t j = 0; j < i; j++)
            if (tm[j].name && strcmp(tm[j].name, tm[i].name) == 0) {
                bad(v, "two %ss named '%s'", what, tm[i].name);
                break;
            }
    }
}

static void check_signatures(vf_t *v)
{
    const ir_model_t *m = v->m;
    for (size_t i = 0; i < m->n_signatures; i++) {
        const ir_signature_t *s = &m->signatures[i];
        at(v, "signature def %zu%s%.80s%s", i, s->key ? " '" : "", s->key ? s->key : "",
           s->key ? "'" : "");
        if (!s->key)
            bad(v, "no signature key");
        for (size_t j = 0; s->key && j < i; j++)
            if (m->signatures[j].key && strcmp(m->signatures[j].key, s->key) == 0) {
                bad(v, "the key is also used by signature def %zu", j);
                break;
            }
        if (s->subgraph >= m->n_subgraphs)
            bad(v, "subgraph %u out of range (the model has %zu subgraphs)", s->subgraph,
                m->n_subgraphs);
        check_tensor_maps(v, s, s->inputs, s->n_inputs, "input");
        check_tensor_maps(v, s, s->outputs, s->n_outputs, "output");
    }
}

static void check_model(vf_t *v)
{
    const ir_model_t *m = v->m;
    at(v, "%s", "");
    if (m->version != 3)
        bad(v, "schema version %u (tflc writes version 3)", m->version);
    if (!m->n_buffers || !m->buffers)
        bad(v, "no buffer 0 (the empty buffer)");
    else if (m->buffers[0].size)
        bad(v, "buffer 0 holds %llu bytes; it must be empty",
            (unsigned long long)m->buffers[0].size);
    for (size_t i = 0; m->buffers && i < m->n_buffers; i++)
        if (m->buffers[i].size && !m->buffers[i].data)
            bad(v, "buffer %zu has %llu bytes but no data", i,
                (unsigned long long)m->buffers[i].size);
    if (!m->n_subgraphs)
        bad(v, "no subgraphs");
    for (size_t i = 0; i < m->n_metadata; i++) {
        const ir_metadata_t *md = &m->metadata[i];
        at(v, "metadata %zu%s%.80s%s", i, md->name ? " '" : "", md->name ? md->name : "",
           md->name ? "'" : "");
        if (!md->name)
            bad(v, "no name");
        if (md->buffer >= m->n_buffers)
            bad(v, "buffer %u out of range (the model has %zu buffers)", md->buffer,
                m->n_buffers);
    }
    at(v, "%s", "");
    for (uint32_t i = 0; i < m->n_metadata_buffer; i++)
        if (!m->metadata_buffer || m->metadata_buffer[i] < 0 ||
            (size_t)m->metadata_buffer[i] >= m->n_buffers)
            bad(v, "metadata_buffer[%u] is %d, out of range (the model has %zu buffers)", i,
                m->metadata_buffer ? m->metadata_buffer[i] : -1, m->n_buffers);
}

tflc_code_t ir_verify(const ir_model_t *m, const char *where, tflc_status_t *st)
{
    vf_t v;
    memset(&v, 0, sizeof v);
    v.m = m;
    v.where = where ? where : (m && m->source ? m->source : "model");
    v.st = st;
    if (!m)
        return st_err(st, TFLC_ERR_INVALID, v.where, "no model");
    check_model(&v);
    if (m->n_subgraphs && !m->subgraphs)
        bad(&v, "subgraphs: a length but no values");
    for (size_t i = 0; m->subgraphs && i < m->n_subgraphs; i++)
        check_subgraph(&v, &m->subgraphs[i], i);
    check_signatures(&v);
    return v.code;
}

tflc_code_t tflc_model_verify(const tflc_model_t *m, tflc_status_t *st)
{
    return ir_verify(m, NULL, st);
}
