/*
 * opinfo.c -- the output arguments of TensorFlow ops: how many tensors a
 * node produces, under which argument names, with which dtypes.
 *
 * Why: inside a function body an input names a tensor as
 * "node:out_arg:index", which must become a flat output number, and the
 * front-end fills in the dtype of every output it can. Both need the op's
 * output argument list, which is not in the GraphDef.
 *
 * The table holds facts of TF's op registry as one row per op: a spec of
 * comma-separated output args "name:type", where type is a dtype name
 * ("float", "int32", "bool", ...), the attr holding the dtype ("T"), an
 * attr with its default after '|' ("out_type|int32": SavedModels strip
 * attributes that hold their default) or a type-list attr ("[Tout]");
 * "*attr" after it multiplies the arg by an int attr (Split's num_split).
 * An arg without "name:" is called "output". "-" means no outputs.
 * Rows are sorted by op name (strcmp) for bsearch; tf_opinfo_check()
 * lets a unit test hold that.
 */
#include <stdlib.h>
#include <string.h>

#include "tf.h"

typedef struct opspec {
    const char *op;
    const char *spec;
} opspec_t;

static const opspec_t ops[] = {
    {"Abs", "T"},
    {"Acos", "T"},
    {"Acosh", "T"},
    {"Add", "T"},
    {"AddN", "T"},
    {"AddV2", "T"},
    {"All", "bool"},
    {"Angle", "Tout|float"},
    {"Any", "bool"},
    {"ApproximateEqual", "bool"},
    {"ArgMax", "output_type|int64"},
    {"ArgMin", "output_type|int64"},
    {"AsString", "string"},
    {"Asin", "T"},
    {"Asinh", "T"},
    {"Assert", "-"},
    {"AssignAddVariableOp", "-"},
    {"AssignSubVariableOp", "-"},
    {"AssignVariableOp", "-"},
    {"Atan", "T"},
    {"Atan2", "T"},
    {"Atanh", "T"},
    {"AudioSpectrogram", "float"},
    {"AvgPool", "T"},
    {"AvgPool3D", "T"},
    {"BatchMatMul", "T"},
    {"BatchMatMulV2", "T"},
    {"BatchMatMulV3", "Tout"},
    {"BatchNormWithGlobalNormalization", "T"},
    {"BatchToSpace", "T"},
    {"BatchToSpaceND", "T"},
    {"BiasAdd", "T"},
    {"BiasAddV1", "T"},
    {"Bitcast", "type"},
    {"BitwiseAnd", "T"},
    {"BitwiseOr", "T"},
    {"BitwiseXor", "T"},
    {"BlockLSTM", "i:T,cs:T,f:T,o:T,ci:T,co:T,h:T"},
    {"BlockLSTMV2", "i:T,cs:T,f:T,o:T,ci:T,co:T,h:T"},
    {"BroadcastArgs", "T"},
    {"BroadcastGradientArgs", "r0:T,r1:T"},
    {"BroadcastTo", "T"},
    {"Bucketize", "int32"},
    {"Cast", "DstT"},
    {"Ceil", "T"},
    {"CheckNumerics", "T"},
    {"Cholesky", "T"},
    {"ClipByValue", "T"},
    {"CombinedNonMaxSuppression", "nmsed_boxes:float,nmsed_scores:float,nmsed_classes:float,valid_detections:int32"},
    {"Complex", "Tout|complex64"},
    {"ComplexAbs", "Tout|float"},
    {"Concat", "T"},
    {"ConcatV2", "T"},
    {"Const", "dtype"},
    {"Conv2D", "T"},
    {"Conv2DBackpropInput", "T"},
    {"Conv3D", "T"},
    {"Conv3DBackpropInputV2", "T"},
    {"Cos", "T"},
    {"Cosh", "T"},
    {"CropAndResize", "float"},
    {"CudnnRNN", "output:T,output_h:T,output_c:T,reserve_space:T"},
    {"CudnnRNNV2", "output:T,output_h:T,output_c:T,reserve_space:T,host_reserved:int8"},
    {"CudnnRNNV3", "output:T,output_h:T,output_c:T,reserve_space:T,host_reserved:int8"},
    {"Cumprod", "T"},
    {"Cumsum", "T"},
    {"DecodeWav", "audio:float,sample_rate:int32"},
    {"DepthToSpace", "T"},
    {"DepthwiseConv2dNative", "T"},
    {"DepthwiseConv2dNativeBackpropInput", "T"},
    {"Dequantize", "dtype|float"},
    {"Diag", "T"},
    {"DiagPart", "T"},
    {"Div", "T"},
    {"DivNoNan", "T"},
    {"DynamicPartition", "outputs:T*num_partitions"},
    {"DynamicStitch", "T"},
    {"Einsum", "T"},
    {"Elu", "T"},
    {"EmptyTensorList", "variant"},
    {"EnsureShape", "T"},
    {"Enter", "T"},
    {"Equal", "bool"},
    {"Erf", "T"},
    {"Erfc", "T"},
    {"Exit", "T"},
    {"Exp", "T"},
    {"ExpandDims", "T"},
    {"Expm1", "T"},
    {"ExtractImagePatches", "T"},
    {"FakeQuantWithMinMaxArgs", "float"},
    {"FakeQuantWithMinMaxVars", "float"},
    {"FakeQuantWithMinMaxVarsPerChannel", "float"},
    {"Fill", "T"},
    {"Floor", "T"},
    {"FloorDiv", "T"},
    {"FloorMod", "T"},
    {"FusedBatchNorm", "y:T,batch_mean:T,batch_variance:T,reserve_space_1:T,reserve_space_2:T"},
    {"FusedBatchNormV2", "y:T,batch_mean:U,batch_variance:U,reserve_space_1:U,reserve_space_2:U"},
    {"FusedBatchNormV3", "y:T,batch_mean:U,batch_variance:U,reserve_space_1:U,reserve_space_2:U,reserve_space_3:U"},
    {"GRUBlockCell", "r:T,u:T,c:T,h:T"},
    {"Gather", "Tparams"},
    {"GatherNd", "Tparams"},
    {"GatherV2", "Tparams"},
    {"Greater", "bool"},
    {"GreaterEqual", "bool"},
    {"HashTableV2", "resource"},
    {"Identity", "T"},
    {"IdentityN", "[T]"},
    {"If", "[Tout]"},
    {"Imag", "Tout|float"},
    {"InTopKV2", "bool"},
    {"Invert", "T"},
    {"InvertPermutation", "T"},
    {"IsFinite", "bool"},
    {"IsInf", "bool"},
    {"IsNan", "bool"},
    {"L2Loss", "T"},
    {"LRN", "T"},
    {"LSTMBlockCell", "i:T,cs:T,f:T,o:T,ci:T,co:T,h:T"},
    {"LeakyRelu", "T"},
    {"LeftShift", "T"},
    {"Less", "bool"},
    {"LessEqual", "bool"},
    {"LinSpace", "T"},
    {"ListDiff", "out:T,idx:out_idx|int32"},
    {"Log", "T"},
    {"Log1p", "T"},
    {"LogSoftmax", "T"},
    {"LogicalAnd", "bool"},
    {"LogicalNot", "bool"},
    {"LogicalOr", "bool"},
    {"LookupTableFindV2", "Tout"},
    {"LookupTableSizeV2", "int64"},
    {"LoopCond", "bool"},
    {"MatMul", "T"},
    {"MatrixBandPart", "T"},
    {"MatrixDiag", "T"},
    {"MatrixDiagPart", "T"},
    {"MatrixDiagPartV2", "T"},
    {"MatrixDiagPartV3", "T"},
    {"MatrixDiagV2", "T"},
    {"MatrixDiagV3", "T"},
    {"MatrixInverse", "T"},
    {"MatrixSetDiag", "T"},
    {"MatrixSetDiagV2", "T"},
    {"MatrixSetDiagV3", "T"},
    {"Max", "T"},
    {"MaxPool", "T"},
    {"MaxPool3D", "T"},
    {"MaxPoolV2", "T"},
    {"MaxPoolWithArgmax", "output:T,argmax:Targmax|int64"},
    {"Maximum", "T"},
    {"Mean", "T"},
    {"Merge", "output:T,value_index:int32"},
    {"Mfcc", "float"},
    {"Min", "T"},
    {"Minimum", "T"},
    {"MirrorPad", "T"},
    {"Mod", "T"},
    {"Mul", "T"},
    {"MulNoNan", "T"},
    {"Multinomial", "output_dtype|int64"},
    {"Neg", "T"},
    {"NextIteration", "T"},
    {"NoOp", "-"},
    {"NonMaxSuppression", "int32"},
    {"NonMaxSuppressionV2", "int32"},
    {"NonMaxSuppressionV3", "int32"},
    {"NonMaxSuppressionV4", "selected_indices:int32,valid_outputs:int32"},
    {"NonMaxSuppressionV5", "selected_indices:int32,selected_scores:T,valid_outputs:int32"},
    {"NotEqual", "bool"},
    {"OneHot", "T"},
    {"OnesLike", "T"},
    {"Pack", "T"},
    {"Pad", "T"},
    {"PadV2", "T"},
    {"ParseExample", "sparse_indices:int64*Nsparse,sparse_values:[sparse_types],sparse_shapes:int64*Nsparse,dense_values:[Tdense]"},
    {"ParseExampleV2", "sparse_indices:int64*num_sparse,sparse_values:[sparse_types],sparse_shapes:int64*num_sparse,dense_values:[Tdense],ragged_values:[ragged_value_types],ragged_row_splits:[ragged_split_types]"},
    {"ParseSingleExample", "sparse_indices:int64*num_sparse,sparse_values:[sparse_types],sparse_shapes:int64*num_sparse,dense_values:[Tdense]"},
    {"PartitionedCall", "[Tout]"},
    {"Placeholder", "dtype"},
    {"PlaceholderV2", "dtype"},
    {"PlaceholderWithDefault", "dtype"},
    {"Pow", "T"},
    {"PreventGradient", "T"},
    {"Prod", "T"},
    {"Qr", "q:T,r:T"},
    {"QuantizeV2", "output:T,output_min:float,output_max:float"},
    {"RandomStandardNormal", "dtype"},
    {"RandomUniform", "dtype"},
    {"RandomUniformInt", "Tout"},
    {"Range", "Tidx|int32"},
    {"Rank", "int32"},
    {"ReadVariableOp", "dtype"},
    {"Real", "Tout|float"},
    {"RealDiv", "T"},
    {"Reciprocal", "T"},
    {"Relu", "T"},
    {"Relu6", "T"},
    {"Reshape", "T"},
    {"ResizeBicubic", "float"},
    {"ResizeBilinear", "float"},
    {"ResizeNearestNeighbor", "T"},
    {"ResourceGather", "dtype"},
    {"RestoreV2", "[dtypes]"},
    {"Reverse", "T"},
    {"ReverseSequence", "T"},
    {"ReverseV2", "T"},
    {"RightShift", "T"},
    {"Rint", "T"},
    {"Roll", "T"},
    {"Round", "T"},
    {"Rsqrt", "T"},
    {"SaveV2", "-"},
    {"ScatterNd", "T"},
    {"SegmentMax", "T"},
    {"SegmentMean", "T"},
    {"SegmentMin", "T"},
    {"SegmentProd", "T"},
    {"SegmentSum", "T"},
    {"Select", "T"},
    {"SelectV2", "T"},
    {"SelfAdjointEigV2", "e:T,v:T"},
    {"Selu", "T"},
    {"Shape", "out_type|int32"},
    {"ShapeN", "output:out_type|int32*N"},
    {"Sigmoid", "T"},
    {"Sign", "T"},
    {"Sin", "T"},
    {"Sinh", "T"},
    {"Size", "out_type|int32"},
    {"Slice", "T"},
    {"Snapshot", "T"},
    {"Softmax", "T"},
    {"SoftmaxCrossEntropyWithLogits", "loss:T,backprop:T"},
    {"Softplus", "T"},
    {"Softsign", "T"},
    {"SpaceToBatch", "T"},
    {"SpaceToBatchND", "T"},
    {"SpaceToDepth", "T"},
    {"SparseSoftmaxCrossEntropyWithLogits", "loss:T,backprop:T"},
    {"SparseToDense", "T"},
    {"Split", "output:T*num_split"},
    {"SplitV", "output:T*num_split"},
    {"Sqrt", "T"},
    {"Square", "T"},
    {"SquaredDifference", "T"},
    {"Squeeze", "T"},
    {"StatefulPartitionedCall", "[Tout]"},
    {"StatelessIf", "[Tout]"},
    {"StatelessWhile", "[T]"},
    {"StopGradient", "T"},
    {"StridedSlice", "T"},
    {"StringJoin", "string"},
    {"StringSplitV2", "indices:int64,values:string,shape:int64"},
    {"StringToNumber", "out_type|float"},
    {"Sub", "T"},
    {"Sum", "T"},
    {"Svd", "s:T,u:T,v:T"},
    {"Switch", "output_false:T,output_true:T"},
    {"Tan", "T"},
    {"Tanh", "T"},
    {"TensorArrayGatherV3", "dtype"},
    {"TensorArrayReadV3", "dtype"},
    {"TensorArrayScatterV3", "float"},
    {"TensorArraySizeV3", "int32"},
    {"TensorArrayV3", "handle:resource,flow:float"},
    {"TensorArrayWriteV3", "float"},
    {"TensorListFromTensor", "variant"},
    {"TensorListGetItem", "element_dtype"},
    {"TensorListLength", "int32"},
    {"TensorListPopBack", "output_handle:variant,tensor:element_dtype"},
    {"TensorListReserve", "variant"},
    {"TensorListSetItem", "variant"},
    {"TensorListStack", "element_dtype"},
    {"TensorScatterAdd", "T"},
    {"TensorScatterUpdate", "T"},
    {"Tile", "T"},
    {"TopKV2", "values:T,indices:index_type|int32"},
    {"Transpose", "T"},
    {"TruncateDiv", "T"},
    {"TruncateMod", "T"},
    {"TruncatedNormal", "dtype"},
    {"Unique", "y:T,idx:out_idx|int32"},
    {"UniqueV2", "y:T,idx:out_idx|int32"},
    {"UniqueWithCounts", "y:T,idx:out_idx|int32,count:out_idx|int32"},
    {"Unpack", "output:T*num"},
    {"UnsortedSegmentMax", "T"},
    {"UnsortedSegmentMin", "T"},
    {"UnsortedSegmentProd", "T"},
    {"UnsortedSegmentSum", "T"},
    {"VarHandleOp", "resource"},
    {"VarIsInitializedOp", "bool"},
    {"Variable", "dtype"},
    {"VariableV2", "dtype"},
    {"Where", "int64"},
    {"While", "[T]"},
    {"Xdivy", "T"},
    {"XlaCallModule", "[Tout]"},
    {"Xlogy", "T"},
    {"ZerosLike", "T"},
};

int tf_opinfo_check(void);
/* Index of the first row out of order, or -1. */
int tf_opinfo_check(void)
{
    for (size_t i = 1; i < ARRAY_LEN(ops); i++)
        if (strcmp(ops[i - 1].op, ops[i].op) >= 0)
            return (int)i;
    return -1;
}

static int cmp_op(const void *key, const void *row)
{
    return strcmp(key, ((const opspec_t *)row)->op);
}

static const tfg_attr_t *find(const tfg_attr_t *a, uint32_t n, const char *s,
                              size_t len)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i].name && strlen(a[i].name) == len &&
            memcmp(a[i].name, s, len) == 0)
            return &a[i];
    return NULL;
}

static const struct {
    const char *name;
    int32_t dt;
} dtype_names[] = {
    {"float", TF_FLOAT}, {"double", TF_DOUBLE}, {"int32", TF_INT32},
    {"int64", TF_INT64}, {"int8", TF_INT8}, {"uint8", TF_UINT8},
    {"int16", TF_INT16}, {"uint16", TF_UINT16}, {"bool", TF_BOOL},
    {"string", TF_STRING}, {"resource", TF_RESOURCE},
    {"variant", TF_VARIANT}, {"half", TF_HALF}, {"bfloat16", TF_BFLOAT16},
    {"uint32", TF_UINT32}, {"uint64", TF_UINT64},
    {"complex64", TF_COMPLEX64}, {"complex128", TF_COMPLEX128},
};

static int32_t literal_dtype(const char *s, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(dtype_names); i++)
        if (strlen(dtype_names[i].name) == len &&
            memcmp(dtype_names[i].name, s, len) == 0)
            return dtype_names[i].dt;
    return 0;
}

/* Parses one "name:type*count" arg spec s[0..len). */
static void parse_arg(const char *s, size_t len, const tfg_attr_t *attrs,
                      uint32_t n_attrs, tf_outarg_t *a)
{
    static const char *const names[] = {"output"};
    const char *colon = memchr(s, ':', len);
    a->name = names[0];
    a->name_len = 6;
    a->count = 1;
    a->dtype = 0;
    a->dtypes = NULL;
    if (colon) {
        a->name = s;
        a->name_len = (size_t)(colon - s);
        len -= (size_t)(colon + 1 - s);
        s = colon + 1;
    }
    const char *star = memchr(s, '*', len);
    size_t tlen = star ? (size_t)(star - s) : len;
    if (star) {
        const tfg_attr_t *c = find(attrs, n_attrs, star + 1,
                                   len - tlen - 1);
        a->count = c && c->kind == TFGA_I && c->i >= 0 && c->i < (1 << 20)
                       ? (int)c->i
                       : -1;
    }
    if (tlen > 2 && s[0] == '[') {
        const tfg_attr_t *l = find(attrs, n_attrs, s + 1, tlen - 2);
        if (l && l->kind == TFGA_LIST &&
            (l->list_kind == TFGA_TYPE || l->n_list == 0)) {
            a->count = (int)l->n_list;
            a->dtypes = l->list_i;
        } else {
            a->count = -1;
        }
        return;
    }
    const char *bar = memchr(s, '|', tlen);
    size_t alen = bar ? (size_t)(bar - s) : tlen;
    int32_t dt = literal_dtype(s, alen);
    if (!dt) {
        const tfg_attr_t *t = find(attrs, n_attrs, s, alen);
        if (t && t->kind == TFGA_TYPE)
            dt = (int32_t)t->i;
        else if (bar)
            dt = literal_dtype(bar + 1, tlen - alen - 1);
    }
    a->dtype = dt;
}

int tf_op_outputs(const char *op, const tfg_attr_t *attrs, uint32_t n_attrs,
                  tf_outarg_t args[TF_MAX_OUTARGS])
{
    const opspec_t *r = bsearch(op, ops, ARRAY_LEN(ops), sizeof ops[0],
                                cmp_op);
    if (!r)
        return -1;
    if (strcmp(r->spec, "-") == 0)
        return 0;
    int n = 0;
    const char *s = r->spec;
    while (*s && n < TF_MAX_OUTARGS) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        parse_arg(s, len, attrs, n_attrs, &args[n++]);
        s += len + (e ? 1 : 0);
    }
    return n;
}
