/* ops.c -- lookup tables expanded from tflite_schema.def. */
#include <string.h>

#include "ops.h"

#define OPK_STR_ OPK_STR
#define K(kind) OPK_##kind

/* Field arrays, one per options table. */
#define TFL_FIELD(table, slot, name, kind, dflt) {#name, K(kind), (double)(dflt)},
#define TFL_TABLE(table, which, type, nfields)
static const op_field_t all_fields[] = {
#include "tflite_schema.def"
};

/* Each table's first field in all_fields: fields of a table are contiguous
 * and in slot order in the .def, which the counts below check. */
static const uint16_t table_nfields[OPT_COUNT] = {
    0,
#define TFL_TABLE(table, which, type, nfields) nfields,
#include "tflite_schema.def"
};

static const op_table_t tables_init[OPT_COUNT] = {
    {NULL, 0, 0, 0, NULL},
#define TFL_TABLE(table, which, type, nfields) {#table, which, type, nfields, NULL},
#include "tflite_schema.def"
};

/* Count fields per table from the FIELD rows, to check against TABLE rows. */
enum {
#define TFL_FIELD(table, slot, name, kind, dflt) FIELDNO_##table##_##name,
#include "tflite_schema.def"
    FIELD_TOTAL
};
_Static_assert(FIELD_TOTAL == sizeof(all_fields) / sizeof(all_fields[0]),
               "field table and enum disagree");

static op_table_t tables[OPT_COUNT];
static int tables_ready;

static void init_tables(void)
{
    if (tables_ready)
        return;
    size_t at = 0;
    for (int t = 0; t < OPT_COUNT; t++) {
        tables[t] = tables_init[t];
        tables[t].fields = table_nfields[t] ? &all_fields[at] : NULL;
        at += table_nfields[t];
    }
    tables_ready = 1;
}

const op_table_t *op_table(int t)
{
    if (t <= OPT_NONE || t >= OPT_COUNT)
        return NULL;
    init_tables();
    return &tables[t];
}

int op_table_by_union(int which, int type)
{
    for (int t = 1; t < OPT_COUNT; t++)
        if (tables_init[t].which == which && tables_init[t].type == type)
            return t;
    return OPT_NONE;
}

typedef struct op_row {
    const char *name;
    int32_t code;
    int table;
} op_row_t;

static const op_row_t op_rows[] = {
#define TFL_OP(name, code, opts) {#name, code, OPT_##opts},
#include "tflite_schema.def"
};

const char *op_name(int32_t builtin)
{
    for (size_t i = 0; i < sizeof op_rows / sizeof op_rows[0]; i++)
        if (op_rows[i].code == builtin)
            return op_rows[i].name;
    return NULL;
}

int32_t op_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof op_rows / sizeof op_rows[0]; i++)
        if (strcmp(op_rows[i].name, name) == 0)
            return op_rows[i].code;
    return -1;
}

int op_default_table(int32_t builtin)
{
    for (size_t i = 0; i < sizeof op_rows / sizeof op_rows[0]; i++)
        if (op_rows[i].code == builtin)
            return op_rows[i].table;
    return OPT_NONE;
}

int32_t op_max_code(void)
{
    int32_t m = 0;
    for (size_t i = 0; i < sizeof op_rows / sizeof op_rows[0]; i++)
        if (op_rows[i].code > m)
            m = op_rows[i].code;
    return m;
}

const char *opk_name(int kind)
{
    static const char *names[] = {"bool", "int8", "int32", "uint32", "int64",
                                  "float32", "string", "[int32]", "[int64]",
                                  "[uint32]", "[uint8]", "[float32]", "[bool]"};
    return kind >= 0 && kind <= OPK_VB ? names[kind] : "?";
}
