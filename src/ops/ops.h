/*
 * ops.h -- the op table: TFLite builtin operators and their options tables,
 * expanded from tflite_schema.def. Nothing here is kept by hand per op.
 *
 *   OP_<NAME>             builtin code of an operator (OP_CONV_2D == 3)
 *   OPT_<Table>           id of a builtin options table (0 = none)
 *   OPF_<Table>_<field>   slot of a field in its table
 */
#ifndef TFLC_OPS_H
#define TFLC_OPS_H

#include <stdint.h>

enum op_code {
#define TFL_OP(name, code, opts) OP_##name = code,
#include "tflite_schema.def"
};

enum op_table_id {
    OPT_NONE = 0,
#define TFL_TABLE(table, which, type, nfields) OPT_##table,
#include "tflite_schema.def"
    OPT_COUNT
};

#define TFL_FIELD(table, slot, name, kind, dflt) OPF_##table##_##name = slot,
enum op_field_slot {
#include "tflite_schema.def"
};

/* Kinds of option fields (V = vector). */
typedef enum op_kind {
    OPK_B, OPK_I8, OPK_I32, OPK_U32, OPK_I64, OPK_F32, OPK_STR,
    OPK_VI32, OPK_VI64, OPK_VU32, OPK_VU8, OPK_VF32, OPK_VB
} op_kind_t;

static inline int opk_is_vector(int k) { return k >= OPK_VI32; }

typedef struct op_field {
    const char *name;
    uint8_t kind;       /* op_kind_t */
    double dflt;        /* default of a scalar field */
} op_field_t;

typedef struct op_table {
    const char *name;   /* "Conv2DOptions" */
    uint8_t which;      /* 1: builtin_options, 2: builtin_options_2 */
    uint8_t type;       /* the union type tag */
    uint16_t n_fields;
    const op_field_t *fields;
} op_table_t;

/* The table with id t, or NULL for OPT_NONE or an id out of range. */
const op_table_t *op_table(int t);
/* The table id for a union tag, or OPT_NONE when unknown. */
int op_table_by_union(int which, int type);
/* "CONV_2D", or NULL for a code the table does not know. */
const char *op_name(int32_t builtin);
/* The builtin code of a name, or -1. */
int32_t op_by_name(const char *name);
/* The options table TF writes for a builtin, or OPT_NONE. */
int op_default_table(int32_t builtin);
/* Largest builtin code known. */
int32_t op_max_code(void);
/* "int8" etc. for a kind, for dumps. */
const char *opk_name(int kind);

#endif /* TFLC_OPS_H */
