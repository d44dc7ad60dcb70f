/*
 * op_version.c -- operator versions as TF's converter sets them.
 *
 * The TFLite runtime registers each kernel for a range of versions, and
 * TF's converter writes the lowest version that has every feature an
 * operator uses (its tensor types, some options, broadcasting of rank > 4,
 * hybrid or per-channel quantized weights). The rules below are those
 * facts, per builtin; an op not listed is version 1.
 *
 * Contract: reads types, ranks, quantization and options; writes only
 * op->version. Custom ops are left alone.
 */
#include "op_version.h"

/* Type of input/output k, or -1 (absent or an omitted optional input). */
static int in_type(const ir_subgraph_t *sg, const ir_op_t *op, uint32_t k)
{
    if (k >= op->n_inputs || op->inputs[k] < 0 || (size_t)op->inputs[k] >= sg->n_tensors)
        return -1;
    return sg->tensors[op->inputs[k]].type;
}

static int out_type(const ir_subgraph_t *sg, const ir_op_t *op, uint32_t k)
{
    if (k >= op->n_outputs || op->outputs[k] < 0 || (size_t)op->outputs[k] >= sg->n_tensors)
        return -1;
    return sg->tensors[op->outputs[k]].type;
}

static int in_rank(const ir_subgraph_t *sg, const ir_op_t *op, uint32_t k)
{
    if (k >= op->n_inputs || op->inputs[k] < 0 || (size_t)op->inputs[k] >= sg->n_tensors)
        return 0;
    return (int)sg->tensors[op->inputs[k]].rank;
}

/* Whether weights input k is quantized per channel (more than one scale). */
static int per_channel(const ir_subgraph_t *sg, const ir_op_t *op, uint32_t k)
{
    if (k >= op->n_inputs || op->inputs[k] < 0 || (size_t)op->inputs[k] >= sg->n_tensors)
        return 0;
    const ir_quant_t *q = sg->tensors[op->inputs[k]].quant;
    return q && q->n_scale > 1;
}

static int64_t opt(const ir_op_t *op, int table, int slot)
{
    return op->opts == table && op->attr ? op->attr[slot].i : 0;
}

/* Whether the two inputs differ in shape (so the kernel broadcasts). */
static int broadcasts(const ir_subgraph_t *sg, const ir_op_t *op)
{
    if (op->n_inputs < 2 || op->inputs[0] < 0 || op->inputs[1] < 0 ||
        (size_t)op->inputs[0] >= sg->n_tensors || (size_t)op->inputs[1] >= sg->n_tensors)
        return 0;
    const ir_tensor_t *a = &sg->tensors[op->inputs[0]], *b = &sg->tensors[op->inputs[1]];
    if (a->rank != b->rank)
        return 1;
    for (uint32_t i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i])
            return 1;
    return 0;
}

static int max_in_rank(const ir_subgraph_t *sg, const ir_op_t *op)
{
    int r = 0;
    for (uint32_t k = 0; k < op->n_inputs; k++)
        if (in_rank(sg, op, k) > r)
            r = in_rank(sg, op, k);
    return r;
}

/* int8 -> 2, int16 -> 3 (the common pattern), else 1. */
static int32_t by_int_type(int t)
{
    return t == DT_INT16 ? 3 : t == DT_INT8 ? 2 : 1;
}

int32_t pass_op_version(const ir_model_t *m, const ir_subgraph_t *sg, const ir_op_t *op)
{
    (void)m;
    int i0 = in_type(sg, op, 0), i1 = in_type(sg, op, 1), o0 = out_type(sg, op, 0);
    switch (op->builtin) {
    case OP_CONV_2D: {
        if (in_rank(sg, op, 0) == 4 && in_rank(sg, op, 1) == 4) {
            const ir_tensor_t *x = &sg->tensors[op->inputs[0]], *w = &sg->tensors[op->inputs[1]];
            int dyn = x->shape_signature && x->shape_signature[3] < 0;
            if (!dyn && w->shape[3] > 0 && x->shape[3] != w->shape[3])
                return 6;  /* grouped convolution */
        }
        if (i0 == DT_INT16 && i1 == DT_INT16)
            return 4;
        if (i0 == DT_INT8 && i1 == DT_INT8 && o0 == DT_INT8)
            return 3;
        if (i0 == DT_INT8 && i1 == DT_INT4 && o0 == DT_INT8)
            return 7;
        if (i0 == DT_FLOAT32 && i1 == DT_INT8 && o0 == DT_FLOAT32)
            return per_channel(sg, op, 1) ? 5 : 2;
        return 1;
    }
    case OP_DEPTHWISE_CONV_2D:
        if (i0 == DT_INT16 && i1 == DT_INT16)
            return 5;
        if (i0 == DT_FLOAT32 && i1 == DT_INT8 && o0 == DT_FLOAT32)
            return per_channel(sg, op, 1) ? 6 : 4;
        if (i0 == DT_INT8 && i1 == DT_INT8 && o0 == DT_INT8)
            return 3;
        if (i0 == DT_INT8 && i1 == DT_INT4 && o0 == DT_INT8)
            return 7;
        if (opt(op, OPT_DepthwiseConv2DOptions, OPF_DepthwiseConv2DOptions_dilation_w_factor) != 1 ||
            opt(op, OPT_DepthwiseConv2DOptions, OPF_DepthwiseConv2DOptions_dilation_h_factor) != 1)
            return 2;
        return 1;
    case OP_FULLY_CONNECTED:
        if (i0 == DT_FLOAT32 && i1 == DT_INT8 && o0 == DT_FLOAT32 && per_channel(sg, op, 1))
            return 12;
        if (i0 == DT_INT16 && i1 == DT_INT16 && o0 == DT_INT16)
            return 7;
        if (op->n_inputs == 2)
            return 6;
        if (opt(op, OPT_FullyConnectedOptions, OPF_FullyConnectedOptions_keep_num_dims))
            return 5;
        if (i0 == DT_INT8 && i1 == DT_INT8 && o0 == DT_INT8)
            return 4;
        if (i0 == DT_INT8 && i1 == DT_INT4 && o0 == DT_INT8)
            return 10;
        if (i0 == DT_FLOAT32 && i1 == DT_INT8 && o0 == DT_FLOAT32)
            return opt(op, OPT_FullyConnectedOptions,
                       OPF_FullyConnectedOptions_asymmetric_quantize_inputs) ? 9 : 3;
        if (opt(op, OPT_FullyConnectedOptions, OPF_FullyConnectedOptions_weights_format))
            return 2;
        return 1;
    case OP_GATHER:
        if (i0 == DT_INT4)
            return 7;
        if (i1 == DT_INT16)
            return 6;
        if (opt(op, OPT_GatherOptions, OPF_GatherOptions_batch_dims))
            return 5;
        if (i0 == DT_INT16)
            return 4;
        if (i0 == DT_BOOL)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_SIGN:
        return i0 == DT_INT32 ? 2 : 1;
    case OP_MUL:
        if (i0 == DT_INT16 || i0 == DT_UINT32)
            return 7;  /* unquantized int16 / uint32 */
        if (i0 == DT_COMPLEX64)
            return 6;
        if (i0 == DT_INT64)
            return 5;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_MAX_POOL_2D:
    case OP_AVERAGE_POOL_2D:
        if (i0 == DT_INT16 && o0 == DT_INT16)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_TRANSPOSE:
        if (in_rank(sg, op, 0) > 5)
            return 6;
        if (i0 == DT_INT16)
            return 5;
        if (in_rank(sg, op, 0) > 4)
            return 4;
        if (i0 == DT_BOOL)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_TRANSPOSE_CONV:
        if (opt(op, OPT_TransposeConvOptions, OPF_TransposeConvOptions_fused_activation_function))
            return 4;
        if (op->n_inputs == 4 && op->inputs[3] >= 0)
            return 3;
        return i1 == DT_INT8 ? 2 : 1;
    case OP_SPLIT: {
        int t = in_type(sg, op, 1);
        return t == DT_INT16 ? 4 : t == DT_INT32 ? 3 : t == DT_INT8 ? 2 : 1;
    }
    case OP_SLICE:
        if (i0 == DT_UINT32)
            return 6;
        if (in_rank(sg, op, 0) > 4)
            return 5;
        if (i0 == DT_INT16)
            return 4;
        if (i0 == DT_STRING)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_UNPACK:
        if (i0 == DT_INT8 || i0 == DT_UINT8)
            return 2;
        if (i0 == DT_BOOL)
            return 3;
        return i0 == DT_INT16 && o0 == DT_INT16 ? 4 : 1;
    case OP_DEQUANTIZE:
        if (i0 == DT_INT4)
            return 6;
        if (i0 == DT_INT16 || i0 == DT_FLOAT16)
            return 3;
        if (i0 == DT_INT8)
            return per_channel(sg, op, 0) ? 5 : 2;
        return 1;
    case OP_FLOOR_DIV:
        if (i0 == DT_INT16 || i0 == DT_INT8)
            return 3;
        return i0 == DT_FLOAT32 ? 2 : 1;
    case OP_FLOOR_MOD:
        return i0 == DT_INT16 || i0 == DT_INT8 ? 2 : 1;
    case OP_L2_NORMALIZATION:
        return o0 == DT_INT8 ? 2 : 1;
    case OP_ABS:
        if (i0 == DT_INT32)
            return 5;
        if (i0 == DT_INT16)
            return sg->tensors[op->inputs[0]].quant ? 3 : 4;
        return i0 == DT_INT8 || i0 == DT_UINT8 ? 2 : 1;
    case OP_RELU:
        if (i0 == DT_INT16)
            return 3;
        return i0 == DT_INT8 || i0 == DT_UINT8 ? 2 : 1;
    case OP_STRIDED_SLICE:
        if (opt(op, OPT_StridedSliceOptions, OPF_StridedSliceOptions_offset))
            return 8;
        if (i0 == DT_UINT32)
            return 7;
        if (opt(op, OPT_StridedSliceOptions, OPF_StridedSliceOptions_ellipsis_mask) ||
            opt(op, OPT_StridedSliceOptions, OPF_StridedSliceOptions_new_axis_mask))
            return 6;
        if (i0 == DT_STRING)
            return 5;
        if (in_rank(sg, op, 0) > 4)
            return 4;
        if (i0 == DT_BOOL)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_REVERSE_V2:
        return i0 == DT_INT8 ? 3 : i0 == DT_BOOL ? 2 : 1;
    case OP_RESIZE_BILINEAR:
        if (i0 == DT_INT16)
            return 4;
        if (opt(op, OPT_ResizeBilinearOptions, OPF_ResizeBilinearOptions_half_pixel_centers))
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_RESIZE_NEAREST_NEIGHBOR:
        if (i0 == DT_INT16)
            return 4;
        if (opt(op, OPT_ResizeNearestNeighborOptions,
                OPF_ResizeNearestNeighborOptions_half_pixel_centers) ||
            opt(op, OPT_ResizeNearestNeighborOptions,
                OPF_ResizeNearestNeighborOptions_align_corners))
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_MAXIMUM:
    case OP_MINIMUM:
        if (i0 == DT_INT16 && o0 == DT_INT16)
            return 4;
        if (broadcasts(sg, op) && max_in_rank(sg, op) > 4)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_PACK:
        if (i0 == DT_INT8)
            return 2;
        if (i0 == DT_INT16 && o0 == DT_INT16)
            return 3;
        return i0 == DT_UINT32 ? 4 : 1;
    case OP_TILE:
        return i0 == DT_INT8 ? 3 : i0 == DT_STRING ? 2 : 1;
    case OP_SQUEEZE:
        return i0 == DT_STRING ? 2 : 1;
    case OP_SPACE_TO_BATCH_ND:
    case OP_BATCH_TO_SPACE_ND:
        if (i0 == DT_INT16)
            return 4;
        if (in_rank(sg, op, 0) != 4)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_ADD:
        if (i0 == DT_INT16 && !sg->tensors[op->inputs[0]].quant)
            return 5;
        if (i0 == DT_INT64)
            return 4;
        if (i0 == DT_INT16 && o0 == DT_INT16 &&
            !opt(op, OPT_AddOptions, OPF_AddOptions_pot_scale_int16))
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_SUB:
        if (i0 == DT_INT16 && o0 == DT_INT16 &&
            !opt(op, OPT_SubOptions, OPF_SubOptions_pot_scale_int16))
            return 5;
        if (i0 == DT_INT64)
            return 4;
        if (broadcasts(sg, op) && max_in_rank(sg, op) > 4)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_GATHER_ND:
        if (i0 == DT_BOOL)
            return 5;
        if (i1 == DT_INT16)
            return 4;
        if (i0 == DT_INT16)
            return 3;
        return i0 == DT_STRING ? 2 : 1;
    case OP_DIV:
        return broadcasts(sg, op) && max_in_rank(sg, op) > 4 ? 2 : 1;
    case OP_TANH:
    case OP_LOGISTIC:
        if (i0 == DT_INT16 && o0 == DT_INT16)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_FILL:
        if (i1 == DT_FLOAT16)
            return 4;
        if (i1 == DT_INT8 || i1 == DT_INT16)
            return 3;
        return i1 == DT_BOOL || i1 == DT_STRING ? 2 : 1;
    case OP_EQUAL:
        return i0 == DT_INT16 ? 4 : i0 == DT_STRING ? 3 : i0 == DT_INT8 ? 2 : 1;
    case OP_NOT_EQUAL:
        return i0 == DT_STRING ? 3 : i0 == DT_INT8 ? 2 : 1;
    case OP_LEAKY_RELU:
        return i0 == DT_INT16 ? 2 : 1;
    case OP_RANGE:
        return i0 == DT_INT64 ? 2 : 1;
    case OP_BATCH_MATMUL:
        if (i0 == DT_INT16)
            return 3;
        if (i0 == DT_INT8)
            return 2;
        if (i0 == DT_FLOAT32 && i1 == DT_INT8 && o0 == DT_FLOAT32 &&
            opt(op, OPT_BatchMatMulOptions, OPF_BatchMatMulOptions_asymmetric_quantize_inputs))
            return 4;
        return 1;
    case OP_PAD:
    case OP_PADV2:
        if (in_rank(sg, op, 0) > 4)
            return 4;
        return by_int_type(i0);
    case OP_CONCATENATION:
        if (i0 == DT_UINT32)
            return 4;
        return by_int_type(i0);
    case OP_SOFTMAX:
    case OP_MEAN:
    case OP_MIRROR_PAD:
    case OP_REDUCE_MAX:
    case OP_REDUCE_MIN:
    case OP_RELU6:
    case OP_RSQRT:
    case OP_LESS:
    case OP_GREATER_EQUAL:
        return by_int_type(i0);
    case OP_ARG_MAX:
    case OP_ARG_MIN:
        return i0 == DT_BOOL ? 3 : i0 == DT_INT8 ? 2 : 1;
    case OP_SELECT:
        if (i0 == DT_UINT32)
            return 4;
        if (in_rank(sg, op, 0) == 5 || in_rank(sg, op, 1) == 5 || in_rank(sg, op, 2) == 5)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_SELECT_V2:
        return i0 == DT_UINT32 ? 2 : 1;
    case OP_SPACE_TO_DEPTH:
    case OP_SPLIT_V:
    case OP_SUM:
    case OP_LOG_SOFTMAX:
    case OP_GREATER:
    case OP_LESS_EQUAL:
    case OP_SQUARED_DIFFERENCE:
    case OP_DEPTH_TO_SPACE:
        return i0 == DT_INT8 ? 2 : 1;
    case OP_TOPK_V2:
        if (i0 == DT_INT16 || i1 == DT_INT16 || out_type(sg, op, 1) == DT_INT16)
            return 3;
        return i0 == DT_INT8 ? 2 : 1;
    case OP_EXP:
    case OP_LOG:
    case OP_REDUCE_PROD:
        return i0 == DT_INT8 || i0 == DT_INT16 ? 2 : 1;
    case OP_BROADCAST_TO:
        return i0 == DT_INT8 || i0 == DT_INT16 ? 3 : 2;
    case OP_CAST:
        if (i0 == DT_BFLOAT16 || o0 == DT_BFLOAT16)
            return 7;
        if (i0 == DT_INT4 && o0 == DT_FLOAT32)
            return 6;
        if (i0 == DT_FLOAT64 || o0 == DT_FLOAT64 || i0 == DT_FLOAT16 || o0 == DT_FLOAT16)
            return 5;
        if (i0 == DT_UINT16 || o0 == DT_UINT16)
            return 4;
        if (i0 == DT_INT8 || o0 == DT_INT8)
            return 3;
        return i0 == DT_UINT32 || o0 == DT_UINT32 ? 2 : 1;
    case OP_WHERE:
        return i0 == DT_BOOL ? 1 : 2;
    case OP_GELU:
        return i0 == DT_INT8 || i0 == DT_UINT8 ? 2 : 1;
    case OP_FAKE_QUANT:
        return opt(op, OPT_FakeQuantOptions, OPF_FakeQuantOptions_narrow_range) ? 2 : 1;
    }
    return 1;
}

void pass_set_op_versions(const ir_model_t *m, ir_subgraph_t *sg)
{
    for (size_t i = 0; i < sg->n_ops; i++)
        if (sg->ops[i].builtin != OP_CUSTOM)
            sg->ops[i].version = pass_op_version(m, sg, &sg->ops[i]);
}
