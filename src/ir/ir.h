/*
 * ir.h -- tflc's model IR: what a .tflite holds, as plain C structs.
 *
 * A model owns one arena; every array, string and IR object of the model
 * is allocated in it and freed with the model. Constant data may instead
 * point into a file the model maps (model->maps), so weights are not copied
 * until they are written.
 *
 * Indices follow TFLite: tensors are indexed per subgraph, buffers per
 * model, buffer 0 is the empty buffer, an operator input of -1 is an
 * omitted optional input.
 *
 * Front-ends build models with the ir_* helpers; passes edit them in place;
 * the writer serialises them; ir_verify checks the invariants between steps.
 */
#ifndef TFLC_IR_H
#define TFLC_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/core.h"
#include "../ops/ops.h"

/* TFLite TensorType values. */
typedef enum ir_dtype {
    DT_FLOAT32 = 0, DT_FLOAT16 = 1, DT_INT32 = 2, DT_UINT8 = 3, DT_INT64 = 4,
    DT_STRING = 5, DT_BOOL = 6, DT_INT16 = 7, DT_COMPLEX64 = 8, DT_INT8 = 9,
    DT_FLOAT64 = 10, DT_COMPLEX128 = 11, DT_UINT64 = 12, DT_RESOURCE = 13,
    DT_VARIANT = 14, DT_UINT32 = 15, DT_UINT16 = 16, DT_INT4 = 17,
    DT_BFLOAT16 = 18, DT_INT2 = 19, DT_UINT4 = 20, DT_FLOAT8_E4M3FN = 21,
    DT_FLOAT8_E5M2 = 22,
    DT_COUNT
} ir_dtype_t;

/* "float32", "int8", ... ("?" for an unknown value). */
const char *ir_dtype_name(int dt);
/* Bits per element (4 for int4, 0 for string/resource/variant/unknown). */
int ir_dtype_bits(int dt);

typedef struct ir_buffer {
    const uint8_t *data;  /* arena, mapped file, or NULL when empty */
    uint64_t size;
} ir_buffer_t;

/* QuantizationParameters. Absent vectors have n == 0. */
typedef struct ir_quant {
    float *min, *max, *scale;
    int64_t *zero_point;
    uint32_t n_min, n_max, n_scale, n_zero_point;
    int32_t quantized_dimension;
    /* details: CustomQuantization { custom: [ubyte] } */
    bool has_custom;
    const uint8_t *custom;
    uint32_t n_custom;
} ir_quant_t;

/* SparsityParameters / DimensionMetadata. Index vectors keep their element
 * type (1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector; 0 none). */
typedef struct ir_dim_meta {
    int8_t format;          /* 0 DENSE, 1 SPARSE_CSR */
    int32_t dense_size;
    uint8_t seg_type, idx_type;
    uint32_t *segments, *indices;
    uint32_t n_segments, n_indices;
} ir_dim_meta_t;

typedef struct ir_sparsity {
    int32_t *traversal_order, *block_map;
    uint32_t n_traversal_order, n_block_map;
    ir_dim_meta_t *dims;
    uint32_t n_dims;
} ir_sparsity_t;

/* VariantSubType */
typedef struct ir_variant {
    int32_t *shape;
    uint32_t rank;
    int8_t type;
    bool has_rank;
} ir_variant_t;

typedef struct ir_tensor {
    const char *name;
    int8_t type;               /* ir_dtype_t */
    uint32_t rank;
    int32_t *shape;            /* rank entries */
    int32_t *shape_signature;  /* rank entries, -1 = dynamic; NULL if absent */
    uint32_t buffer;           /* 0: no data */
    ir_quant_t *quant;         /* NULL: not quantized */
    ir_sparsity_t *sparsity;   /* NULL: dense */
    ir_variant_t *variants;
    uint32_t n_variants;
    bool is_variable;
    bool has_rank;
} ir_tensor_t;

/* One value of an options field. Which member is used follows the field's
 * kind: i for B/I8/I32/U32/I64, f for F32, iv for VI32/VI64/VU32/VB,
 * fv for VF32, bytes for VU8, s for STR. n counts vector elements. */
typedef struct ir_val {
    int64_t i;
    double f;
    int64_t *iv;
    float *fv;
    const uint8_t *bytes;
    const char *s;
    uint32_t n;
} ir_val_t;

typedef struct ir_op {
    int32_t builtin;          /* op_code; OP_CUSTOM for custom ops */
    const char *custom_code;  /* custom ops (and Flex ops) */
    int32_t version;          /* operator version, >= 1 */
    int32_t *inputs, *outputs, *intermediates;
    uint32_t n_inputs, n_outputs, n_intermediates;
    uint16_t opts;            /* op_table_id, OPT_NONE when no options */
    ir_val_t *attr;           /* attr[slot] for each field of opts */
    const uint8_t *custom_options;
    uint64_t n_custom_options;
    int8_t custom_options_format;   /* 0 FLEXBUFFERS */
    uint8_t *mutating_variable_inputs;
    uint32_t n_mutating_variable_inputs;
    int32_t debug_metadata_index;   /* -1: none */
} ir_op_t;

typedef struct ir_subgraph {
    const char *name;
    ir_tensor_t *tensors;
    size_t n_tensors, cap_tensors;
    ir_op_t *ops;             /* in execution order */
    size_t n_ops, cap_ops;
    int32_t *inputs, *outputs;
    uint32_t n_inputs, n_outputs;
    int32_t debug_metadata_index;
} ir_subgraph_t;

typedef struct ir_tensor_map {
    const char *name;
    uint32_t tensor;
} ir_tensor_map_t;

typedef struct ir_signature {
    const char *key;
    uint32_t subgraph;
    ir_tensor_map_t *inputs, *outputs;
    uint32_t n_inputs, n_outputs;
} ir_signature_t;

typedef struct ir_metadata {
    const char *name;
    uint32_t buffer;
} ir_metadata_t;

/* The model. This is the public opaque tflc_model_t. */
struct tflc_model {
    ar_t arena;
    const char *source;        /* the file it was read from, for messages */
    uint32_t version;          /* schema version, 3 */
    const char *description;
    ir_buffer_t *buffers;      /* buffers[0] is the empty buffer */
    size_t n_buffers, cap_buffers;
    ir_subgraph_t *subgraphs;
    size_t n_subgraphs, cap_subgraphs;
    ir_signature_t *signatures;
    size_t n_signatures, cap_signatures;
    ir_metadata_t *metadata;
    size_t n_metadata, cap_metadata;
    int32_t *metadata_buffer;  /* the deprecated Model.metadata_buffer */
    uint32_t n_metadata_buffer;
    mf_t *maps;                /* files whose bytes buffers may point into */
    size_t n_maps, cap_maps;
};
typedef struct tflc_model ir_model_t;

/* ---- Building ---- (all return NULL / -1 only when out of memory) */

/* A new model with version 3 and the empty buffer 0. */
ir_model_t *ir_model_new(void);
/* Keeps f mapped for the model's lifetime (takes ownership). */
int ir_model_keep_map(ir_model_t *m, mf_t *f);
/* Tells the kernel that the bytes [p, p+size) of a file m maps are not
 * needed for now: their pages leave memory and are read again from the file
 * if touched later. Does nothing for memory that is not such a mapping. */
void ir_model_release(const ir_model_t *m, const void *p, uint64_t size);
/* Adds a buffer whose bytes stay where they are (arena or mapped file). */
int32_t ir_add_buffer(ir_model_t *m, const void *data, uint64_t size);
/* Adds a buffer with a copy of the bytes in the arena. */
int32_t ir_add_buffer_copy(ir_model_t *m, const void *data, uint64_t size);
ir_subgraph_t *ir_add_subgraph(ir_model_t *m, const char *name);
/* Adds a tensor, copying name and shape; returns its index. */
int32_t ir_add_tensor(ir_model_t *m, ir_subgraph_t *sg, const char *name,
                      int dtype, uint32_t rank, const int32_t *shape);
/* Adds an operator of builtin code with n_in inputs and n_out outputs
 * (filled with -1), version 1, and its default options table holding the
 * schema defaults. The pointer is valid until the next ir_add_op. */
ir_op_t *ir_add_op(ir_model_t *m, ir_subgraph_t *sg, int32_t builtin,
                   uint32_t n_in, uint32_t n_out);
/* Gives op the options table t (OPT_NONE to drop options), filled with
 * defaults. Returns 0 or -1. */
int ir_op_set_table(ir_model_t *m, ir_op_t *op, int t);
ir_signature_t *ir_add_signature(ir_model_t *m, const char *key, uint32_t sg);
int ir_add_metadata(ir_model_t *m, const char *name, uint32_t buffer);

/* ---- Reading ---- */

static inline ir_tensor_t *ir_tensor(ir_subgraph_t *sg, int32_t i)
{
    return (i >= 0 && (size_t)i < sg->n_tensors) ? &sg->tensors[i] : NULL;
}
/* Number of elements of a static shape (1 for a scalar), -1 if a dim is
 * negative, -2 on overflow. */
int64_t ir_num_elements(const ir_tensor_t *t);
/* Bytes the tensor's data should have, -1 if unknown (strings, dynamic). */
int64_t ir_tensor_bytes(const ir_tensor_t *t);

/* ---- Checking ---- */

/* Checks every invariant; one message per problem, with where as prefix. */
tflc_code_t ir_verify(const ir_model_t *m, const char *where, tflc_status_t *st);

#endif /* TFLC_IR_H */
