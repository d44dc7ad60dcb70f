/*
 * dce.c -- dead code removal.
 *
 * pass_dce (per subgraph): removes operators none of whose outputs is read
 * by a live operator or is a subgraph output, unless they have effects of
 * their own (variables, calls, control flow, custom ops); then drops the
 * tensors nothing refers to and renumbers the rest (operator inputs and
 * outputs, subgraph inputs and outputs, signature defs).
 * pass_compact_buffers (per model): drops buffers no tensor or metadata
 * entry refers to, keeping buffer 0, and renumbers.
 */
#include <string.h>

#include "passes.h"

static int has_effects(const ir_op_t *op)
{
    switch (op->builtin) {
    case OP_ASSIGN_VARIABLE:
    case OP_VAR_HANDLE:
    case OP_CALL:
    case OP_CALL_ONCE:
    case OP_IF:
    case OP_WHILE:
    case OP_CUSTOM:
    case OP_HASHTABLE:
    case OP_HASHTABLE_IMPORT:
    case OP_STABLEHLO_CUSTOM_CALL:
        return 1;
    }
    return op->n_outputs == 0;
}

static int remove_dead_ops(ir_subgraph_t *sg, uint8_t *live)
{
    int removed = 0;
    for (uint32_t k = 0; k < sg->n_outputs; k++)
        if (sg->outputs[k] >= 0)
            live[sg->outputs[k]] = 1;
    for (size_t i = sg->n_ops; i-- > 0;) {
        ir_op_t *op = &sg->ops[i];
        int keep = has_effects(op);
        for (uint32_t k = 0; k < op->n_outputs && !keep; k++)
            keep = op->outputs[k] >= 0 && live[op->outputs[k]];
        if (!keep) {
            pass_remove_op(sg, i);
            removed++;
            continue;
        }
        for (uint32_t k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] >= 0)
                live[op->inputs[k]] = 1;
    }
    return removed;
}

static void remap(int32_t *v, uint32_t n, const int32_t *map)
{
    for (uint32_t k = 0; k < n; k++)
        if (v[k] >= 0)
            v[k] = map[v[k]];
}

int pass_dce(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    size_t nt = sg->n_tensors;
    uint8_t *live = mem_calloc(nt ? nt : 1, 1);
    int32_t *map = mem_calloc(nt ? nt : 1, sizeof *map);
    if (!live || !map) {
        mem_free(live);
        mem_free(map);
        return st_oom(st, m->source), -1;
    }
    int changes = remove_dead_ops(sg, live);

    /* Referenced tensors: operators, subgraph interface, signatures. */
    memset(live, 0, nt);
    for (size_t i = 0; i < sg->n_ops; i++) {
        const ir_op_t *op = &sg->ops[i];
        for (uint32_t k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] >= 0) live[op->inputs[k]] = 1;
        for (uint32_t k = 0; k < op->n_outputs; k++)
            if (op->outputs[k] >= 0) live[op->outputs[k]] = 1;
        for (uint32_t k = 0; k < op->n_intermediates; k++)
            if (op->intermediates[k] >= 0) live[op->intermediates[k]] = 1;
    }
    for (uint32_t k = 0; k < sg->n_inputs; k++)
        if (sg->inputs[k] >= 0) live[sg->inputs[k]] = 1;
    for (uint32_t k = 0; k < sg->n_outputs; k++)
        if (sg->outputs[k] >= 0) live[sg->outputs[k]] = 1;
    size_t sgi = (size_t)(sg - m->subgraphs);
    for (size_t s = 0; s < m->n_signatures; s++) {
        const ir_signature_t *sig = &m->signatures[s];
        if (sig->subgraph != sgi)
            continue;
        for (uint32_t k = 0; k < sig->n_inputs; k++)
            if (sig->inputs[k].tensor < nt) live[sig->inputs[k].tensor] = 1;
        for (uint32_t k = 0; k < sig->n_outputs; k++)
            if (sig->outputs[k].tensor < nt) live[sig->outputs[k].tensor] = 1;
    }

    size_t kept = 0;
    for (size_t t = 0; t < nt; t++) {
        map[t] = live[t] ? (int32_t)kept : -1;
        if (live[t])
            sg->tensors[kept++] = sg->tensors[t];
    }
    if (kept != nt) {
        changes += (int)(nt - kept);
        sg->n_tensors = kept;
        for (size_t i = 0; i < sg->n_ops; i++) {
            ir_op_t *op = &sg->ops[i];
            remap(op->inputs, op->n_inputs, map);
            remap(op->outputs, op->n_outputs, map);
            remap(op->intermediates, op->n_intermediates, map);
        }
        remap(sg->inputs, sg->n_inputs, map);
        remap(sg->outputs, sg->n_outputs, map);
        for (size_t s = 0; s < m->n_signatures; s++) {
            ir_signature_t *sig = &m->signatures[s];
            if (sig->subgraph != sgi)
                continue;
            for (uint32_t k = 0; k < sig->n_inputs; k++)
                if (sig->inputs[k].tensor < nt) sig->inputs[k].tensor = (uint32_t)map[sig->inputs[k].tensor];
            for (uint32_t k = 0; k < sig->n_outputs; k++)
                if (sig->outputs[k].tensor < nt) sig->outputs[k].tensor = (uint32_t)map[sig->outputs[k].tensor];
        }
    }
    mem_free(live);
    mem_free(map);
    return changes;
}

int pass_compact_buffers(ir_model_t *m, tflc_status_t *st)
{
    size_t nb = m->n_buffers;
    int32_t *map = mem_calloc(nb ? nb : 1, sizeof *map);
    if (!map)
        return st_oom(st, m->source), -1;
    for (size_t b = 0; b < nb; b++)
        map[b] = -1;
    map[0] = 0;
    for (size_t s = 0; s < m->n_subgraphs; s++)
        for (size_t t = 0; t < m->subgraphs[s].n_tensors; t++)
            if (m->subgraphs[s].tensors[t].buffer < nb)
                map[m->subgraphs[s].tensors[t].buffer] = 0;
    for (size_t i = 0; i < m->n_metadata; i++)
        if (m->metadata[i].buffer < nb)
            map[m->metadata[i].buffer] = 0;
    for (uint32_t i = 0; i < m->n_metadata_buffer; i++)
        if (m->metadata_buffer[i] >= 0 && (size_t)m->metadata_buffer[i] < nb)
            map[m->metadata_buffer[i]] = 0;
    size_t kept = 0;
    for (size_t b = 0; b < nb; b++) {
        if (map[b] < 0)
            continue;
        map[b] = (int32_t)kept;
        m->buffers[kept++] = m->buffers[b];
    }
    int changes = (int)(nb - kept);
    if (changes) {
        m->n_buffers = kept;
        for (size_t s = 0; s < m->n_subgraphs; s++)
            for (size_t t = 0; t < m->subgraphs[s].n_tensors; t++) {
                ir_tensor_t *x = &m->subgraphs[s].tensors[t];
                if (x->buffer < nb)
                    x->buffer = (uint32_t)map[x->buffer];
            }
        for (size_t i = 0; i < m->n_metadata; i++)
            if (m->metadata[i].buffer < nb)
                m->metadata[i].buffer = (uint32_t)map[m->metadata[i].buffer];
        for (uint32_t i = 0; i < m->n_metadata_buffer; i++)
            if (m->metadata_buffer[i] >= 0 && (size_t)m->metadata_buffer[i] < nb)
                m->metadata_buffer[i] = map[m->metadata_buffer[i]];
    }
    mem_free(map);
    return changes;
}
