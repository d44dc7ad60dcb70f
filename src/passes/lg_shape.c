/*
 * lg_shape.c -- TF ops that move, slice, gather and build tensors: Reshape,
 * Squeeze, ExpandDims, Concat, Pack, Unpack, Shape, StridedSlice, Slice,
 * Transpose, Pad, Tile, Gather, Fill, Range, Split, ... and the reductions.
 *
 * Inputs that TFLite reads as small integer tensors (shapes, axes,
 * permutations, paddings) become int32 constants when their values are
 * known at conversion time (as TF's converter makes them), and are cast
 * to int32 when they are int64 tensors computed at run time.
 *
 * Contract (every handler, see lg.h): emits ops for node n into c->sg and
 * records each output of n, or reports an error naming n and returns -1.
 */
#include <string.h>

#include "lg.h"

/* x = input 0, p = input i as int32; then OP(x, p). */
static int with_i32(lg_t *c, const tfg_node_t *n, int32_t builtin, uint32_t i,
                    const char *what, ir_op_t **opp)
{
    int32_t x = lg_in(c, n, 0);
    int32_t p = x < 0 ? -1 : lg_in_i32(c, n, i, lg_name(c, n->name, what));
    ir_op_t *op = p < 0 ? NULL : lg_op(c, builtin, 2, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->inputs[1] = p;
    *opp = op;
    return 0;
}

int lg_reshape(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    ir_op_t *op;
    if (with_i32(c, n, OP_RESHAPE, 1, "shape", &op))
        return -1;
    /* TF's converter writes RESHAPE with the shape as an input only. */
    if (ir_op_set_table(c->m, op, OPT_NONE))
        return lg_oom(c);
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_squeeze(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int64_t v[SI_MAX_RANK];
    uint32_t cnt;
    lg_attr_ints(n, "squeeze_dims", v, SI_MAX_RANK, &cnt);
    if (!cnt)
        lg_attr_ints(n, "axis", v, SI_MAX_RANK, &cnt);
    if (cnt > SI_MAX_RANK)
        return lg_unsupported(c, "too many squeeze dims");
    int32_t x = lg_in(c, n, 0);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, OP_SQUEEZE, 1, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    ir_val_t *sd = &op->attr[OPF_SqueezeOptions_squeeze_dims];
    if (cnt && !(sd->iv = ar_memdup(&c->m->arena, v, cnt * sizeof *v)))
        return lg_oom(c);
    sd->n = cnt;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_expand_dims(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    ir_op_t *op;
    if (with_i32(c, n, OP_EXPAND_DIMS, 1, "axis", &op))
        return -1;
    return lg_set_out(c, 0, lg_finish(c));
}

/* ConcatV2(values..., axis) (arg 0) or Concat(axis, values...) (arg 1). */
int lg_concat(lg_t *c, const tfg_node_t *n, int v1)
{
    if (n->n_inputs < 2)
        return lg_err(c, "needs values and an axis");
    uint32_t nv = n->n_inputs - 1, first = v1 ? 1 : 0, ai = v1 ? 0 : nv;
    int64_t axis;
    uint32_t cnt;
    if (!lg_ints_in(c, n, ai, &axis, 1, &cnt) || cnt != 1)
        return lg_unsupported(c, "the axis must be a constant scalar");
    int32_t in[256];
    if (nv > ARRAY_LEN(in))
        return lg_unsupported(c, "concatenation of %u tensors (at most %zu)", nv, ARRAY_LEN(in));
    int rank = -1;
    for (uint32_t i = 0; i < nv; i++) {
        int32_t d[SI_MAX_RANK];
        if ((in[i] = lg_in(c, n, first + i)) < 0)
            return -1;
        rank = lg_dims(c, in[i], d);
    }
    if (axis < 0)
        axis += rank;
    ir_op_t *op = lg_op(c, OP_CONCATENATION, nv, 1, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, nv * sizeof *in);
    op->attr[OPF_ConcatenationOptions_axis].i = axis;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_pack(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t in[256];
    if (n->n_inputs == 0 || n->n_inputs > ARRAY_LEN(in))
        return lg_unsupported(c, "Pack of %u tensors", n->n_inputs);
    for (uint32_t i = 0; i < n->n_inputs; i++)
        if ((in[i] = lg_in(c, n, i)) < 0)
            return -1;
    ir_op_t *op = lg_op(c, OP_PACK, n->n_inputs, 1, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, n->n_inputs * sizeof *in);
    op->attr[OPF_PackOptions_values_count].i = n->n_inputs;
    op->attr[OPF_PackOptions_axis].i = lg_attr_i(n, "axis", 0);
    return lg_set_out(c, 0, lg_finish(c));
}

/* Records outputs of the last op before lg_finish may fold it. */
static int finish_multi(lg_t *c, ir_op_t *op, uint32_t n_out)
{
    int32_t *outs = ar_memdup(&c->m->arena, op->outputs, n_out * sizeof *outs);
    if (!outs)
        return lg_oom(c);
    if (lg_finish(c) < 0)
        return -1;
    for (uint32_t k = 0; k < n_out; k++)
        if (lg_set_out(c, k, outs[k]))
            return -1;
    return 0;
}

int lg_unpack(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int64_t num = lg_attr_i(n, "num", -1);
    if (num < 1 || num > LG_MAX_OUTPUTS)
        return lg_unsupported(c, "Unpack into %lld tensors (1 to %d supported)", (long long)num,
                              LG_MAX_OUTPUTS);
    int32_t x = lg_in(c, n, 0);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, OP_UNPACK, 1, (uint32_t)num, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->attr[OPF_UnpackOptions_num].i = num;
    op->attr[OPF_UnpackOptions_axis].i = lg_attr_i(n, "axis", 0);
    return finish_multi(c, op, (uint32_t)num);
}

/* Shape(x): SHAPE, a constant when x's shape is static. */
int lg_shape(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, OP_SHAPE, 1, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->attr[OPF_ShapeOptions_out_type].i =
        lg_attr_i(n, "out_type", TF_INT32) == TF_INT64 ? DT_INT64 : DT_INT32;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_rank(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    return x < 0 ? -1 : lg_set_out(c, 0, lg_unary(c, OP_RANK, x, n->name));
}

/* Size(x) = REDUCE_PROD(SHAPE(x), [0]). */
int lg_size(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, OP_SHAPE, 1, 1, lg_name(c, n->name, "shape"));
    if (!op)
        return -1;
    op->inputs[0] = x;
    int dt = lg_attr_i(n, "out_type", TF_INT32) == TF_INT64 ? DT_INT64 : DT_INT32;
    op->attr[OPF_ShapeOptions_out_type].i = dt;
    int32_t s = lg_finish(c);
    int32_t zero = 0, one = 1;
    int32_t ax = s < 0 ? -1 : lg_const_i32(c, lg_name(c, n->name, "axis"), 1, &one, &zero);
    op = ax < 0 ? NULL : lg_op(c, OP_REDUCE_PROD, 2, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = s;
    op->inputs[1] = ax;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_strided_slice(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    if (x < 0)
        return -1;
    int32_t in[4] = {x, -1, -1, -1};
    static const char *const what[4] = {"", "begin", "end", "strides"};
    for (uint32_t i = 1; i < 4; i++)
        if ((in[i] = lg_in_i32(c, n, i, lg_name(c, n->name, what[i]))) < 0)
            return -1;
    ir_op_t *op = lg_op(c, OP_STRIDED_SLICE, 4, 1, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, sizeof in);
    op->attr[OPF_StridedSliceOptions_begin_mask].i = lg_attr_i(n, "begin_mask", 0);
    op->attr[OPF_StridedSliceOptions_end_mask].i = lg_attr_i(n, "end_mask", 0);
    op->attr[OPF_StridedSliceOptions_ellipsis_mask].i = lg_attr_i(n, "ellipsis_mask", 0);
    op->attr[OPF_StridedSliceOptions_new_axis_mask].i = lg_attr_i(n, "new_axis_mask", 0);
    op->attr[OPF_StridedSliceOptions_shrink_axis_mask].i = lg_attr_i(n, "shrink_axis_mask", 0);
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_slice(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    int32_t b = x < 0 ? -1 : lg_in_i32(c, n, 1, lg_name(c, n->name, "begin"));
    int32_t s = b < 0 ? -1 : lg_in_i32(c, n, 2, lg_name(c, n->name, "size"));
    ir_op_t *op = s < 0 ? NULL : lg_op(c, OP_SLICE, 3, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->inputs[1] = b;
    op->inputs[2] = s;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_transpose(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    ir_op_t *op;
    if (with_i32(c, n, OP_TRANSPOSE, 1, "perm", &op))
        return -1;
    return lg_set_out(c, 0, lg_finish(c));
}

/* Pad(x, paddings), PadV2(x, paddings, value), MirrorPad(x, paddings). */
int lg_pad(lg_t *c, const tfg_node_t *n, int builtin)
{
    int32_t x = lg_in(c, n, 0);
    int32_t p = x < 0 ? -1 : lg_in_i32(c, n, 1, lg_name(c, n->name, "paddings"));
    int32_t v = builtin == OP_PADV2 && p >= 0 ? lg_in(c, n, 2) : 0;
    if (p < 0 || v < 0)
        return -1;
    int reflect = lg_attr_is(n, "mode", "REFLECT");
    if (builtin == OP_MIRROR_PAD && !reflect && !lg_attr_is(n, "mode", "SYMMETRIC"))
        return lg_unsupported(c, "mode must be REFLECT or SYMMETRIC");
    ir_op_t *op = lg_op(c, builtin, builtin == OP_PADV2 ? 3 : 2, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->inputs[1] = p;
    if (builtin == OP_PADV2)
        op->inputs[2] = v;
    if (builtin == OP_MIRROR_PAD)
        op->attr[OPF_MirrorPadOptions_mode].i = reflect ? 0 : 1;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_tile(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    ir_op_t *op;
    if (with_i32(c, n, OP_TILE, 1, "multiples", &op))
        return -1;
    return lg_set_out(c, 0, lg_finish(c));
}

/* Gather(params, indices) (arg 0) or GatherV2(params, indices, axis). */
int lg_gather(lg_t *c, const tfg_node_t *n, int v2)
{
    int64_t axis = 0;
    uint32_t cnt;
    if (v2 && (!lg_ints_in(c, n, 2, &axis, 1, &cnt) || cnt != 1))
        return lg_unsupported(c, "the axis must be a constant scalar");
    int32_t p = lg_in(c, n, 0), ix = p < 0 ? -1 : lg_in(c, n, 1);
    ir_op_t *op = ix < 0 ? NULL : lg_op(c, OP_GATHER, 2, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = p;
    op->inputs[1] = ix;
    op->attr[OPF_GatherOptions_axis].i = axis;
    op->attr[OPF_GatherOptions_batch_dims].i = lg_attr_i(n, "batch_dims", 0);
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_gather_nd(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    return lg_binary_op(c, n, OP_GATHER_ND);
}

/* ScatterNd(indices, updates, shape). */
int lg_scatter_nd(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t ix = lg_in(c, n, 0), up = ix < 0 ? -1 : lg_in(c, n, 1);
    int32_t sh = up < 0 ? -1 : lg_in(c, n, 2);
    ir_op_t *op = sh < 0 ? NULL : lg_op(c, OP_SCATTER_ND, 3, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = ix;
    op->inputs[1] = up;
    op->inputs[2] = sh;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_fill(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t d = lg_in(c, n, 0), v = d < 0 ? -1 : lg_in(c, n, 1);
    return v < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, OP_FILL, d, v, n->name));
}

int lg_range(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t in[3];
    for (uint32_t i = 0; i < 3; i++)
        if ((in[i] = lg_in(c, n, i)) < 0)
            return -1;
    ir_op_t *op = lg_op(c, OP_RANGE, 3, 1, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, sizeof in);
    return lg_set_out(c, 0, lg_finish(c));
}

/* Split(axis, value) -> SPLIT(axis, value). */
int lg_split(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int64_t k = lg_attr_i(n, "num_split", -1);
    if (k < 1 || k > LG_MAX_OUTPUTS)
        return lg_unsupported(c, "num_split %lld (1 to %d supported)", (long long)k, LG_MAX_OUTPUTS);
    int32_t ax = lg_in_i32(c, n, 0, lg_name(c, n->name, "axis"));
    int32_t x = ax < 0 ? -1 : lg_in(c, n, 1);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, OP_SPLIT, 2, (uint32_t)k, n->name);
    if (!op)
        return -1;
    op->inputs[0] = ax;
    op->inputs[1] = x;
    op->attr[OPF_SplitOptions_num_splits].i = k;
    return finish_multi(c, op, (uint32_t)k);
}

/* SplitV(value, size_splits, axis) -> SPLIT_V. */
int lg_split_v(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int64_t k = lg_attr_i(n, "num_split", -1);
    if (k < 1 || k > LG_MAX_OUTPUTS)
        return lg_unsupported(c, "num_split %lld (1 to %d supported)", (long long)k, LG_MAX_OUTPUTS);
    int32_t x = lg_in(c, n, 0);
    int32_t sz = x < 0 ? -1 : lg_in_i32(c, n, 1, lg_name(c, n->name, "size_splits"));
    int32_t ax = sz < 0 ? -1 : lg_in_i32(c, n, 2, lg_name(c, n->name, "axis"));
    ir_op_t *op = ax < 0 ? NULL : lg_op(c, OP_SPLIT_V, 3, (uint32_t)k, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->inputs[1] = sz;
    op->inputs[2] = ax;
    op->attr[OPF_SplitVOptions_num_splits].i = k;
    return finish_multi(c, op, (uint32_t)k);
}

int lg_broadcast_to(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    ir_op_t *op;
    if (with_i32(c, n, OP_BROADCAST_TO, 1, "shape", &op))
        return -1;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_where(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    if (n->n_inputs != 1)
        return lg_unsupported(c, "only the one-input Where is supported");
    return lg_unary_op(c, n, OP_WHERE);
}

/* OneHot(indices, depth, on_value, off_value). */
int lg_one_hot(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t in[4];
    in[0] = lg_in(c, n, 0);
    in[1] = in[0] < 0 ? -1 : lg_in_i32(c, n, 1, lg_name(c, n->name, "depth"));
    for (uint32_t i = 2; i < 4 && in[1] >= 0; i++)
        if ((in[i] = lg_in(c, n, i)) < 0)
            return -1;
    ir_op_t *op = in[1] < 0 ? NULL : lg_op(c, OP_ONE_HOT, 4, 1, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, sizeof in);
    op->attr[OPF_OneHotOptions_axis].i = lg_attr_i(n, "axis", -1);
    return lg_set_out(c, 0, lg_finish(c));
}

/* ReverseV2(x, axes): the TFLite kernel takes only contiguous axes, so
 * the axes are sorted and each contiguous run gets its own REVERSE_V2. */
int lg_reverse(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int64_t ax[SI_MAX_RANK];
    uint32_t cnt;
    int32_t x = lg_in(c, n, 0), d[SI_MAX_RANK];
    if (x < 0)
        return -1;
    int r = lg_dims(c, x, d);
    if (!lg_ints_in(c, n, 1, ax, SI_MAX_RANK, &cnt) || cnt > (uint32_t)r) {
        ir_op_t *op;
        if (with_i32(c, n, OP_REVERSE_V2, 1, "axis", &op))
            return -1;
        return lg_set_out(c, 0, lg_finish(c));
    }
    uint8_t rev[SI_MAX_RANK] = {0};
    for (uint32_t i = 0; i < cnt; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r)
            return lg_err(c, "axis %lld out of range for rank %d", (long long)ax[i], r);
        rev[a] = 1;
    }
    int32_t y = x;
    for (int a = 0; a < r; a++) {
        if (!rev[a] || (a > 0 && rev[a - 1]))
            continue;
        int32_t run[SI_MAX_RANK], len = 0;
        for (int b = a; b < r && rev[b]; b++)
            run[len++] = b;
        int last = a + len >= r || !memchr(rev + a + len, 1, (size_t)(r - a - len));
        const char *name = last ? n->name : lg_name(c, n->name, "part");
        int32_t at = lg_const_i32(c, lg_name(c, name, "axis"), 1, &len, run);
        if (at < 0 || (y = lg_binary(c, OP_REVERSE_V2, y, at, name)) < 0)
            return -1;
    }
    return lg_set_out(c, 0, y);
}

/* SpaceToDepth / DepthToSpace(block_size). */
int lg_depth_space(lg_t *c, const tfg_node_t *n, int builtin)
{
    if (lg_need_nhwc(c, n))
        return -1;
    int32_t x = lg_in(c, n, 0);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, builtin, 1, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    int64_t b = lg_attr_i(n, "block_size", 0);
    if (builtin == OP_SPACE_TO_DEPTH)
        op->attr[OPF_SpaceToDepthOptions_block_size].i = b;
    else
        op->attr[OPF_DepthToSpaceOptions_block_size].i = b;
    return lg_set_out(c, 0, lg_finish(c));
}

/* SpaceToBatchND(x, block_shape, paddings) / BatchToSpaceND(x, block, crops). */
int lg_space_batch(lg_t *c, const tfg_node_t *n, int builtin)
{
    int32_t x = lg_in(c, n, 0);
    int32_t b = x < 0 ? -1 : lg_in_i32(c, n, 1, lg_name(c, n->name, "block_shape"));
    int32_t p = b < 0 ? -1 : lg_in_i32(c, n, 2, lg_name(c, n->name, "paddings"));
    ir_op_t *op = p < 0 ? NULL : lg_op(c, builtin, 3, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->inputs[1] = b;
    op->inputs[2] = p;
    return lg_set_out(c, 0, lg_finish(c));
}

/* ResizeBilinear / ResizeNearestNeighbor(images, size). */
int lg_resize(lg_t *c, const tfg_node_t *n, int builtin)
{
    ir_op_t *op;
    if (with_i32(c, n, builtin, 1, "size", &op))
        return -1;
    int ac = lg_attr_b(n, "align_corners", 0), hp = lg_attr_b(n, "half_pixel_centers", 0);
    if (builtin == OP_RESIZE_BILINEAR) {
        op->attr[OPF_ResizeBilinearOptions_align_corners].i = ac;
        op->attr[OPF_ResizeBilinearOptions_half_pixel_centers].i = hp;
    } else {
        op->attr[OPF_ResizeNearestNeighborOptions_align_corners].i = ac;
        op->attr[OPF_ResizeNearestNeighborOptions_half_pixel_centers].i = hp;
    }
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_cumsum(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    ir_op_t *op;
    if (with_i32(c, n, OP_CUMSUM, 1, "axis", &op))
        return -1;
    op->attr[OPF_CumsumOptions_exclusive].i = lg_attr_b(n, "exclusive", 0);
    op->attr[OPF_CumsumOptions_reverse].i = lg_attr_b(n, "reverse", 0);
    return lg_set_out(c, 0, lg_finish(c));
}

/* TopKV2(input, k) -> TOPK_V2: values and int32 indices. */
int lg_topk(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    if (!lg_attr_b(n, "sorted", 1))
        return lg_unsupported(c, "sorted=false is not supported");
    if (lg_attr_i(n, "index_type", TF_INT32) != TF_INT32)
        return lg_unsupported(c, "only int32 indices are supported");
    int32_t x = lg_in(c, n, 0);
    int32_t k = x < 0 ? -1 : lg_in_i32(c, n, 1, lg_name(c, n->name, "k"));
    ir_op_t *op = k < 0 ? NULL : lg_op(c, OP_TOPK_V2, 2, 2, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->inputs[1] = k;
    return finish_multi(c, op, 2);
}

/* UnsortedSegment{Sum,Max,Min,Prod}(data, segment_ids, num_segments). */
int lg_unsorted_segment(lg_t *c, const tfg_node_t *n, int builtin)
{
    int32_t d = lg_in(c, n, 0), ids = d < 0 ? -1 : lg_in(c, n, 1);
    int32_t ns = ids < 0 ? -1 : lg_in_i32(c, n, 2, lg_name(c, n->name, "num_segments"));
    ir_op_t *op = ns < 0 ? NULL : lg_op(c, builtin, 3, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = d;
    op->inputs[1] = ids;
    op->inputs[2] = ns;
    return lg_set_out(c, 0, lg_finish(c));
}

/* Mean, Sum, Prod, Max, Min, Any, All (input, reduction_indices). */
int lg_reduce(lg_t *c, const tfg_node_t *n, int builtin)
{
    ir_op_t *op;
    if (with_i32(c, n, builtin, 1, "axes", &op))
        return -1;
    op->attr[OPF_ReducerOptions_keep_dims].i = lg_attr_b(n, "keep_dims", 0);
    return lg_set_out(c, 0, lg_finish(c));
}

/* ArgMax / ArgMin(input, dimension) with output_type int32 or int64. */
int lg_arg_minmax(lg_t *c, const tfg_node_t *n, int builtin)
{
    ir_op_t *op;
    if (with_i32(c, n, builtin, 1, "axis", &op))
        return -1;
    int dt = lg_attr_i(n, "output_type", TF_INT64) == TF_INT32 ? DT_INT32 : DT_INT64;
    if (builtin == OP_ARG_MAX)
        op->attr[OPF_ArgMaxOptions_output_type].i = dt;
    else
        op->attr[OPF_ArgMinOptions_output_type].i = dt;
    return lg_set_out(c, 0, lg_finish(c));
}

/* ReverseSequence(input, seq_lengths) -> REVERSE_SEQUENCE. */
int lg_reverse_sequence(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0), l = x < 0 ? -1 : lg_in(c, n, 1);
    ir_op_t *op = l < 0 ? NULL : lg_op(c, OP_REVERSE_SEQUENCE, 2, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->inputs[1] = l;
    op->attr[OPF_ReverseSequenceOptions_seq_dim].i = lg_attr_i(n, "seq_dim", 0);
    op->attr[OPF_ReverseSequenceOptions_batch_dim].i = lg_attr_i(n, "batch_dim", 0);
    return lg_set_out(c, 0, lg_finish(c));
}

/* NonMaxSuppressionV4(boxes, scores, max_output_size, iou, score_threshold)
 * and V5 (+ soft_nms_sigma). TFLite's kernels always pad the selected
 * indices to max_output_size, which is TF's pad_to_max_output_size=true. */
int lg_nms(lg_t *c, const tfg_node_t *n, int version)
{
    if (!lg_attr_b(n, "pad_to_max_output_size", 0))
        return lg_unsupported(c, "pad_to_max_output_size must be true: TFLite's kernel always "
                              "pads the selected indices");
    uint32_t n_in = version == 5 ? 6 : 5, n_out = version == 5 ? 3 : 2;
    int32_t in[6];
    for (uint32_t i = 0; i < n_in; i++) {
        in[i] = i == 2 ? lg_in_i32(c, n, 2, lg_name(c, n->name, "max_output_size")) : lg_in(c, n, i);
        if (in[i] < 0)
            return -1;
    }
    ir_op_t *op = lg_op(c, version == 5 ? OP_NON_MAX_SUPPRESSION_V5 : OP_NON_MAX_SUPPRESSION_V4,
                        n_in, n_out, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, n_in * sizeof *in);
    return finish_multi(c, op, n_out);
}
