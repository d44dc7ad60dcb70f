/*
 * test_reader_verify.c -- ir_verify on models built with the ir_* helpers:
 * a valid model verifies clean, and each defect put into a copy of it is
 * found, with one message naming the place and the problem. Also checks
 * that problems are collected (one message each, all of them) and capped
 * at ST_MAX messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static int failures, checks;

static void fail(const char *fmt, ...) TFLC_PRINTF(1, 2);
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

#define CHECK(c, ...)                                                                          \
    do {                                                                                       \
        checks++;                                                                              \
        if (!(c))                                                                              \
            fail(__VA_ARGS__);                                                                 \
    } while (0)

#define NEED(p)                                                                                \
    do {                                                                                       \
        if (!(p)) {                                                                            \
            fprintf(stderr, "setup failed: %s\n", #p);                                          \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

static const float w_data[2] = {1.0f, 2.0f};

/* subgraph 0: out = ADD(in, w), w constant in buffer 1; signature
 * serving_default x -> in, y -> out; metadata in buffer 2. */
static ir_model_t *base(void)
{
    ir_model_t *m = ir_model_new();
    NEED(m);
    ir_subgraph_t *sg = ir_add_subgraph(m, "main");
    NEED(sg);
    int32_t shape[] = {1, 2};
    NEED(ir_add_buffer(m, w_data, sizeof w_data) == 1);
    NEED(ir_add_buffer(m, "1.5.0", 5) == 2);
    NEED(ir_add_tensor(m, sg, "in", DT_FLOAT32, 2, shape) == 0);
    NEED(ir_add_tensor(m, sg, "w", DT_FLOAT32, 2, shape) == 1);
    NEED(ir_add_tensor(m, sg, "out", DT_FLOAT32, 2, shape) == 2);
    sg->tensors[1].buffer = 1;
    ir_op_t *op = ir_add_op(m, sg, OP_ADD, 2, 1);
    NEED(op);
    op->inputs[0] = 0, op->inputs[1] = 1, op->outputs[0] = 2;
    sg->inputs = ar_calloc(&m->arena, 1, sizeof(int32_t));
    sg->outputs = ar_calloc(&m->arena, 1, sizeof(int32_t));
    NEED(sg->inputs && sg->outputs);
    sg->inputs[0] = 0, sg->n_inputs = 1;
    sg->outputs[0] = 2, sg->n_outputs = 1;
    ir_signature_t *s = ir_add_signature(m, "serving_default", 0);
    NEED(s);
    static ir_tensor_map_t si[] = {{"x", 0}}, so[] = {{"y", 2}};
    s->inputs = si, s->n_inputs = 1;
    s->outputs = so, s->n_outputs = 1;
    NEED(ir_add_metadata(m, "min_runtime_version", 2) == 0);
    return m;
}

/* Verifies m (then frees it) and expects n messages, one containing want. */
static void expect(const char *name, ir_model_t *m, size_t n, const char *want)
{
    tflc_status_t *st = tflc_status_new();
    tflc_code_t c = ir_verify(m, "t.tflite", st);
    size_t got = tflc_status_count(st);
    CHECK(c == (n ? TFLC_ERR_INVALID : TFLC_OK), "%s: code %s", name, tflc_code_name(c));
    int found = !want;
    for (size_t i = 0; i < got; i++)
        found |= want && strstr(tflc_status_message(st, i), want) != NULL;
    CHECK(got == n && found, "%s: expected %zu message(s) with '%s', got %zu:", name, n,
          want ? want : "", got);
    if (got != n || !found)
        tflc_status_print(st, stderr);
    tflc_status_free(st);
    tflc_model_free(m);
}

static ir_op_t *op0(ir_model_t *m) { return &m->subgraphs[0].ops[0]; }
static ir_tensor_t *tensor(ir_model_t *m, int i) { return &m->subgraphs[0].tensors[i]; }

static ir_quant_t *quant(ir_model_t *m, uint32_t n_scale, uint32_t n_zp, int32_t qd)
{
    ir_quant_t *q = ar_calloc(&m->arena, 1, sizeof *q);
    NEED(q);
    q->scale = ar_calloc(&m->arena, n_scale + 1, sizeof(float));
    q->zero_point = ar_calloc(&m->arena, n_zp + 1, sizeof(int64_t));
    NEED(q->scale && q->zero_point);
    for (uint32_t i = 0; i < n_scale; i++)
        q->scale[i] = 0.5f;
    q->n_scale = n_scale, q->n_zero_point = n_zp, q->quantized_dimension = qd;
    return q;
}

static void tensor_cases(void)
{
    ir_model_t *m;
    expect("valid model", base(), 0, NULL);

    m = base();
    tensor(m, 1)->buffer = 9;
    expect("buffer out of range", m, 1, "tensor 1 'w': buffer 9 out of range");

    m = base();
    tensor(m, 0)->type = 99;
    expect("unknown type", m, 1, "tensor 0 'in': unknown tensor type 99");

    m = base();
    tensor(m, 0)->shape[1] = -3;
    expect("negative dim", m, 1, "shape[1] is -3");

    m = base();
    static int32_t sig[] = {-1, 3};
    tensor(m, 0)->shape_signature = sig;
    expect("shape_signature", m, 1, "shape_signature[1] is 3 but shape[1] is 2");

    m = base();
    static int32_t sig_ok[] = {-1, 2};
    tensor(m, 0)->shape_signature = sig_ok;
    expect("shape_signature dynamic", m, 0, NULL);

    m = base();
    tensor(m, 1)->shape[1] = 3;
    expect("data size", m, 1,
           "buffer 1 holds 8 bytes, but a float32 tensor of shape [1,3] needs 12");

    m = base();
    tensor(m, 1)->type = DT_INT4; /* 2 x 4 bits = 1 byte, not 8 */
    expect("int4 data size", m, 1, "needs 1");

    m = base();
    tensor(m, 1)->type = DT_INT4;
    tensor(m, 1)->shape[1] = 16; /* 16 x 4 bits = 8 bytes */
    expect("int4 packed", m, 0, NULL);

    m = base();
    tensor(m, 1)->type = DT_STRING; /* strings have no fixed size */
    expect("string data", m, 0, NULL);

    m = base();
    tensor(m, 1)->shape[0] = -1; /* dynamic: size unknown */
    expect("dynamic constant", m, 0, NULL);

    m = base();
    tensor(m, 1)->is_variable = true;
    expect("variable with data", m, 1, "variable tensor with constant data");

    m = base();
    tensor(m, 1)->quant = quant(m, 2, 1, 1);
    expect("scale/zero_point", m, 1, "2 scales but 1 zero points");

    m = base();
    tensor(m, 1)->quant = quant(m, 2, 2, 2);
    expect("quantized_dimension", m, 1, "quantized_dimension 2 out of range for rank 2");

    m = base();
    tensor(m, 1)->quant = quant(m, 3, 3, 1);
    expect("per-axis count", m, 1, "has 3 scales, but that dimension is 2");

    m = base();
    tensor(m, 1)->quant = quant(m, 2, 2, 1);
    expect("per-axis ok", m, 0, NULL);

    m = base();
    tensor(m, 1)->quant = quant(m, 1, 1, 0);
    tensor(m, 1)->quant->n_min = 1;
    tensor(m, 1)->quant->min = tensor(m, 1)->quant->scale;
    expect("min/max", m, 1, "1 min values but 0 max values");

    m = base();
    tensor(m, 1)->sparsity = ar_calloc(&m->arena, 1, sizeof(ir_sparsity_t));
    expect("sparsity", m, 1, "sparsity without traversal_order");
}

static void op_cases(void)
{
    ir_model_t *m;

    m = base();
    op0(m)->inputs[1] = 7;
    expect("input range", m, 1, "operator 0 (ADD): input 1 is tensor 7, out of range");

    m = base();
    op0(m)->inputs[1] = -1;
    expect("omitted input", m, 0, NULL);

    m = base();
    op0(m)->inputs[1] = -2;
    expect("input -2", m, 1, "input 1 is tensor -2");

    m = base();
    op0(m)->outputs[0] = -1;
    expect("output -1", m, 1, "output 0 is tensor -1");

    m = base();
    op0(m)->builtin = OP_CUSTOM;
    NEED(ir_op_set_table(m, op0(m), OPT_NONE) == 0);
    expect("custom without code", m, 1, "custom operator without a custom_code");

    m = base();
    op0(m)->builtin = 4000; /* unknown to tflc: the runtime judges */
    expect("unknown builtin", m, 0, NULL);

    m = base();
    op0(m)->version = 0;
    expect("version", m, 1, "operator version 0");

    m = base();
    NEED(ir_op_set_table(m, op0(m), OPT_Conv2DOptions) == 0);
    expect("wrong table", m, 1, "has Conv2DOptions, but ADD takes AddOptions");

    m = base();
    NEED(ir_op_set_table(m, op0(m), OPT_NONE) == 0);
    expect("options left out", m, 0, NULL);

    m = base();
    op0(m)->attr = NULL;
    expect("table without values", m, 1, "options AddOptions without values");

    m = base();
    static uint8_t mv[3];
    op0(m)->mutating_variable_inputs = mv, op0(m)->n_mutating_variable_inputs = 3;
    expect("mutating length", m, 1, "mutating_variable_inputs has 3 entries for 2 inputs");

    m = base();
    ir_op_t *o = ir_add_op(m, &m->subgraphs[0], OP_RELU, 1, 1);
    NEED(o);
    o->inputs[0] = 0, o->outputs[0] = 2;
    expect("two writers", m, 1, "operator 1: writes tensor 2, already written by operator 0");

    m = base();
    o = ir_add_op(m, &m->subgraphs[0], OP_RELU, 1, 1);
    NEED(o);
    o->inputs[0] = 2, o->outputs[0] = 1;
    /* also read by operator 0 before this write: two messages */
    expect("constant written", m, 2, "writes tensor 1, which is constant (buffer 1)");

    m = base();
    NEED(ir_add_tensor(m, &m->subgraphs[0], "t", DT_FLOAT32, 0, NULL) == 3);
    o = ir_add_op(m, &m->subgraphs[0], OP_RELU, 1, 1);
    NEED(o);
    o->inputs[0] = 0, o->outputs[0] = 3;
    op0(m)->inputs[0] = 3;
    expect("read before write", m, 1, "operator 0: reads tensor 3 before operator 1 writes it");
}

/* Control flow: subgraph 1 is a body/branch for ops in subgraph 0. */
static ir_model_t *with_sub(int32_t builtin)
{
    ir_model_t *m = base();
    NEED(ir_add_subgraph(m, "branch"));
    ir_op_t *o = ir_add_op(m, &m->subgraphs[0], builtin, 1, 0);
    NEED(o);
    o->inputs[0] = 2;
    return m;
}

static void control_flow_cases(void)
{
    ir_model_t *m = with_sub(OP_IF);
    ir_op_t *o = &m->subgraphs[0].ops[1];
    o->attr[OPF_IfOptions_then_subgraph_index].i = 1;
    o->attr[OPF_IfOptions_else_subgraph_index].i = 1;
    expect("IF valid", m, 0, NULL);

    m = with_sub(OP_IF);
    o = &m->subgraphs[0].ops[1];
    o->attr[OPF_IfOptions_then_subgraph_index].i = 3;
    o->attr[OPF_IfOptions_else_subgraph_index].i = 1;
    expect("IF range", m, 1, "IfOptions.then_subgraph_index names subgraph 3, out of range");

    m = with_sub(OP_WHILE);
    o = &m->subgraphs[0].ops[1];
    o->attr[OPF_WhileOptions_cond_subgraph_index].i = 1;
    o->attr[OPF_WhileOptions_body_subgraph_index].i = 0;
    expect("WHILE self", m, 1, "WhileOptions.body_subgraph_index names its own subgraph 0");

    m = with_sub(OP_WHILE);
    NEED(ir_op_set_table(m, &m->subgraphs[0].ops[1], OPT_NONE) == 0);
    expect("WHILE without options", m, 1, "has no WhileOptions to name its subgraphs");

    m = with_sub(OP_CALL_ONCE);
    m->subgraphs[0].ops[1].attr[OPF_CallOnceOptions_init_subgraph_index].i = -1;
    expect("CALL_ONCE", m, 1, "CallOnceOptions.init_subgraph_index names subgraph -1");

    m = with_sub(OP_CALL);
    m->subgraphs[0].ops[1].attr[OPF_CallOptions_subgraph].i = 1;
    expect("CALL valid", m, 0, NULL);

    m = with_sub(OP_STABLEHLO_CASE);
    ir_val_t *v = &m->subgraphs[0].ops[1].attr[OPF_StablehloCaseOptions_branch_subgraph_indices];
    static int64_t br[] = {1, 2};
    v->iv = br, v->n = 2;
    expect("CASE branches", m, 1, "branch_subgraph_indices names subgraph 2, out of range");
}

static void model_cases(void)
{
    ir_model_t *m = base();
    m->signatures[0].subgraph = 5;
    expect("signature subgraph", m, 1, "signature def 0 'serving_default': subgraph 5 out of range");

    m = base();
    static ir_tensor_map_t bad_out[] = {{"y", 9}};
    m->signatures[0].outputs = bad_out;
    expect("signature tensor", m, 1, "output 'y' is tensor 9, out of range");

    m = base();
    NEED(ir_add_signature(m, "serving_default", 0));
    expect("signature key twice", m, 1, "also used by signature def 0");

    m = base();
    m->metadata[0].buffer = 9;
    expect("metadata buffer", m, 1, "metadata 0 'min_runtime_version': buffer 9 out of range");

    m = base();
    static int32_t mb[] = {1, 12};
    m->metadata_buffer = mb, m->n_metadata_buffer = 2;
    expect("metadata_buffer", m, 1, "metadata_buffer[1] is 12");

    m = base();
    m->version = 2;
    expect("version", m, 1, "schema version 2");

    m = base();
    m->buffers[0].data = (const uint8_t *)w_data, m->buffers[0].size = 4;
    expect("buffer 0", m, 1, "buffer 0 holds 4 bytes");

    m = base();
    m->subgraphs[0].inputs[0] = 3;
    expect("subgraph input", m, 1, "subgraph 0: input 0 is tensor 3, out of range");

    m = ir_model_new();
    NEED(m);
    expect("no subgraphs", m, 1, "no subgraphs");
}

static void collecting_cases(void)
{
    /* Three independent problems: three messages. */
    ir_model_t *m = base();
    tensor(m, 0)->type = 99;
    op0(m)->inputs[0] = 50;
    m->metadata[0].buffer = 9;
    expect("three problems", m, 3, "unknown tensor type 99");

    /* 300 problems: 300 counted, ST_MAX kept plus a summary line. */
    m = base();
    ir_op_t *o = op0(m);
    o->inputs = ar_calloc(&m->arena, 300, sizeof(int32_t));
    NEED(o->inputs);
    o->n_inputs = 300;
    for (int i = 0; i < 300; i++)
        o->inputs[i] = 1000 + i;
    tflc_status_t *st = tflc_status_new();
    CHECK(ir_verify(m, "t.tflite", st) == TFLC_ERR_INVALID, "300 problems: code");
    CHECK(st_errors(st) == 300, "300 problems: %zu counted", st_errors(st));
    CHECK(tflc_status_count(st) == ST_MAX + 1, "300 problems: %zu messages",
          tflc_status_count(st));
    const char *last = tflc_status_message(st, ST_MAX);
    CHECK(last && strstr(last, "100 more"), "300 problems: summary '%s'", last ? last : "");
    tflc_status_free(st);
    tflc_model_free(m);
}

int main(void)
{
    tensor_cases();
    op_cases();
    control_flow_cases();
    model_cases();
    collecting_cases();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
