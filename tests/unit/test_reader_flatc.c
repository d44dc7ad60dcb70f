/*
 * test_reader_flatc.c -- the reader against Google's flatc, field by field.
 *
 * For every TF-made .tflite under $TFLC_FIXTURES, flatc (Google's FlatBuffers
 * compiler, Debian's flatbuffers-compiler) turns the file into JSON with the
 * TFLite schema; this test compares every field tflc's reader produced with
 * that JSON: operator codes, tensors (shape, signature, type, buffer, name,
 * flags, quantization with custom details), operators (inputs, outputs,
 * intermediates, every builtin options field, custom options, mutating
 * inputs), buffer bytes, metadata and signature defs.
 *
 * It also checks tflc's op table (src/ops/tflite_schema.def), which the
 * reader decodes options with, against the schema itself: builtin codes,
 * union tags, and every options field's slot, name, kind and default.
 *
 * The schema is not part of tflc. It is taken from $TFLC_TFLITE_SCHEMA, or
 * from the tflite-micro mirror next to the checkout
 * (tensorflow/compiler/mlir/lite/schema/schema.fbs). Exits 77 (skipped)
 * without flatc, the schema or the fixtures. flatc 2.0.8 rejects
 * "(deprecated)" on enum values and tables, so those are dropped first.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"
#include "tflc.h"

static int failures, files, fields_compared;
static const char *cur_file = "";

static void fail(const char *fmt, ...) TFLC_PRINTF(1, 2);
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", cur_file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (++failures > 200) {
        fprintf(stderr, "too many failures\n");
        exit(1);
    }
}

/* ---- A small reader for the schema's enums, unions and tables --------- */

typedef struct sfield {
    char name[64], type[64], dflt[64];
    int vector, deprecated;
} sfield_t;
typedef struct stable {
    char name[64];
    sfield_t f[64];
    int n;
} stable_t;
typedef struct senum {
    char name[64], base[16];
    char names[256][64];
    long long vals[256];
    int n, is_union;
} senum_t;

static stable_t tables[400];
static int n_tables;
static senum_t enums[120];
static int n_enums;

static const char *src;
static char tok[256];

/* Next token: identifier/number, a string, or one punctuation char. */
static int next(void)
{
    for (;;) {
        while (*src && isspace((unsigned char)*src))
            src++;
        if (src[0] == '/' && src[1] == '/') {
            while (*src && *src != '\n')
                src++;
            continue;
        }
        break;
    }
    if (!*src)
        return 0;
    size_t k = 0;
    if (isalnum((unsigned char)*src) || *src == '_' || *src == '-' || *src == '.') {
        while (*src && (isalnum((unsigned char)*src) || strchr("_-.+", *src)) && k < 255)
            tok[k++] = *src++;
    } else if (*src == '"') {
        tok[k++] = *src++;
        while (*src && *src != '"' && k < 254)
            tok[k++] = *src++;
        if (*src)
            tok[k++] = *src++;
    } else {
        tok[k++] = *src++;
    }
    tok[k] = 0;
    return 1;
}

static void skip_attrs(int *deprecated)
{
    /* at "(" : read to ")" */
    while (next() && strcmp(tok, ")") != 0)
        if (deprecated && strcmp(tok, "deprecated") == 0)
            *deprecated = 1;
}

static void copy_tok(char *dst, size_t n)
{
    size_t k = strlen(tok);
    if (k >= n)
        k = n - 1;
    memcpy(dst, tok, k);
    dst[k] = 0;
}

static void parse_enum(int is_union)
{
    senum_t *e = &enums[n_enums++];
    memset(e, 0, sizeof *e);
    e->is_union = is_union;
    next();
    copy_tok(e->name, sizeof e->name);
    next();
    if (strcmp(tok, ":") == 0) {
        next();
        copy_tok(e->base, sizeof e->base);
        next();
    }
    /* tok is "{" */
    long long v = is_union ? 1 : 0;
    if (is_union) {
        snprintf(e->names[0], sizeof e->names[0], "NONE");
        e->vals[0] = 0;
        e->n = 1;
    }
    while (next() && strcmp(tok, "}") != 0) {
        if (strcmp(tok, ",") == 0)
            continue;
        if (strcmp(tok, "(") == 0) {
            skip_attrs(NULL);
            continue;
        }
        copy_tok(e->names[e->n], sizeof e->names[0]);
        const char *save = src;
        next();
        if (strcmp(tok, "=") == 0) {
            next();
            v = strtoll(tok, NULL, 0);
        } else {
            src = save;
        }
        e->vals[e->n++] = v++;
    }
}

static void parse_table(void)
{
    stable_t *t = &tables[n_tables++];
    memset(t, 0, sizeof *t);
    next();
    copy_tok(t->name, sizeof t->name);
    while (next() && strcmp(tok, "{") != 0)
        if (strcmp(tok, "(") == 0)
            skip_attrs(NULL);
    while (next() && strcmp(tok, "}") != 0) {
        sfield_t *f = &t->f[t->n++];
        copy_tok(f->name, sizeof f->name);
        next(); /* : */
        next();
        if (strcmp(tok, "[") == 0) {
            f->vector = 1;
            next();
            copy_tok(f->type, sizeof f->type);
            next(); /* ] */
        } else {
            copy_tok(f->type, sizeof f->type);
        }
        while (next() && strcmp(tok, ";") != 0) {
            if (strcmp(tok, "=") == 0) {
                next();
                copy_tok(f->dflt, sizeof f->dflt);
            } else if (strcmp(tok, "(") == 0) {
                skip_attrs(&f->deprecated);
            }
        }
    }
}

static void parse_schema(const char *text)
{
    src = text;
    while (next()) {
        if (strcmp(tok, "enum") == 0)
            parse_enum(0);
        else if (strcmp(tok, "union") == 0)
            parse_enum(1);
        else if (strcmp(tok, "table") == 0)
            parse_table();
        else
            while (strcmp(tok, ";") != 0 && next())
                ;
    }
}

static const stable_t *find_table(const char *name)
{
    for (int i = 0; i < n_tables; i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}
static const senum_t *find_enum(const char *name)
{
    for (int i = 0; i < n_enums; i++)
        if (strcmp(enums[i].name, name) == 0)
            return &enums[i];
    return NULL;
}
static const sfield_t *find_field(const stable_t *t, const char *name)
{
    for (int i = 0; t && i < t->n; i++)
        if (strcmp(t->f[i].name, name) == 0)
            return &t->f[i];
    return NULL;
}
static int enum_value(const senum_t *e, const char *name, long long *v)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->names[i], name) == 0) {
            *v = e->vals[i];
            return 1;
        }
    return 0;
}

/* ---- The op table against the schema ---------------------------------- */

/* The scalar/vector type a def kind stands for, given the schema type. */
static int kind_matches(int kind, const sfield_t *f)
{
    const senum_t *e = find_enum(f->type);
    const char *t = e ? e->base : f->type;
    if (f->vector) {
        switch (kind) {
        case OPK_VI32: return strcmp(t, "int") == 0 || strcmp(t, "int32") == 0;
        case OPK_VI64: return strcmp(t, "long") == 0 || strcmp(t, "int64") == 0;
        case OPK_VU32: return strcmp(t, "uint") == 0 || strcmp(t, "uint32") == 0;
        case OPK_VU8: return strcmp(t, "ubyte") == 0 || strcmp(t, "uint8") == 0;
        case OPK_VF32: return strcmp(t, "float") == 0;
        case OPK_VB: return strcmp(t, "bool") == 0;
        default: return 0;
        }
    }
    switch (kind) {
    case OPK_B: return strcmp(t, "bool") == 0;
    case OPK_I8: return strcmp(t, "byte") == 0 || strcmp(t, "int8") == 0;
    case OPK_I32: return strcmp(t, "int") == 0 || strcmp(t, "int32") == 0;
    case OPK_U32: return strcmp(t, "uint") == 0 || strcmp(t, "uint32") == 0;
    case OPK_I64: return strcmp(t, "long") == 0 || strcmp(t, "int64") == 0;
    case OPK_F32: return strcmp(t, "float") == 0;
    case OPK_STR: return strcmp(t, "string") == 0;
    default: return 0;
    }
}

static double schema_default(const sfield_t *f)
{
    if (!f->dflt[0])
        return 0;
    if (strcmp(f->dflt, "true") == 0)
        return 1;
    if (strcmp(f->dflt, "false") == 0)
        return 0;
    const senum_t *e = find_enum(f->type);
    long long v;
    if (e && enum_value(e, f->dflt, &v))
        return (double)v;
    return strtod(f->dflt, NULL);
}

static void check_op_table(void)
{
    cur_file = "src/ops/tflite_schema.def";
    const senum_t *ops = find_enum("BuiltinOperator");
    const senum_t *u1 = find_enum("BuiltinOptions"), *u2 = find_enum("BuiltinOptions2");
    if (!ops || !u1 || !u2) {
        fail("schema lacks BuiltinOperator / BuiltinOptions / BuiltinOptions2");
        return;
    }
    for (int i = 0; i < ops->n; i++) {
        const char *n = op_name((int32_t)ops->vals[i]);
        if (strcmp(ops->names[i], "PLACEHOLDER_FOR_GREATER_OP_CODES") == 0)
            continue;
        fields_compared++;
        if (!n || strcmp(n, ops->names[i]) != 0)
            fail("BuiltinOperator %s = %lld: op table says %s", ops->names[i], ops->vals[i],
                 n ? n : "(unknown)");
    }
    for (int t = 1; t < OPT_COUNT; t++) {
        const op_table_t *tab = op_table(t);
        const senum_t *u = tab->which == 1 ? u1 : u2;
        long long tag;
        fields_compared++;
        if (!enum_value(u, tab->name, &tag) || tag != tab->type)
            fail("%s: union %s tag %d, schema says %lld", tab->name, u->name, tab->type,
                 enum_value(u, tab->name, &tag) ? tag : -1);
        const stable_t *st = find_table(tab->name);
        if (!st) {
            fail("%s: no such table in the schema", tab->name);
            continue;
        }
        if (st->n != tab->n_fields)
            fail("%s: %u fields, schema has %d", tab->name, tab->n_fields, st->n);
        for (int i = 0; i < st->n && i < tab->n_fields; i++) {
            const op_field_t *f = &tab->fields[i];
            const sfield_t *sf = &st->f[i];
            fields_compared++;
            if (strcmp(f->name, sf->name) != 0)
                fail("%s slot %d: field %s, schema has %s", tab->name, i, f->name, sf->name);
            else if (!kind_matches(f->kind, sf))
                fail("%s.%s: kind %s, schema type %s%s%s", tab->name, f->name, opk_name(f->kind),
                     sf->vector ? "[" : "", sf->type, sf->vector ? "]" : "");
            else if (!opk_is_vector(f->kind) && f->kind != OPK_STR &&
                     schema_default(sf) != f->dflt)
                fail("%s.%s: default %g, schema says %s", tab->name, f->name, f->dflt, sf->dflt);
        }
    }
}

/* ---- Comparing a model with flatc's JSON ------------------------------ */

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* A scalar of JSON value j, for a field of schema type type (enum names are
 * resolved). Absent (NULL) gives dflt. */
static double num(const cJSON *j, const char *type, double dflt)
{
    if (!j)
        return dflt;
    if (cJSON_IsBool(j))
        return cJSON_IsTrue(j);
    if (cJSON_IsString(j)) {
        const senum_t *e = find_enum(type);
        long long v;
        if (e && enum_value(e, j->valuestring, &v))
            return (double)v;
        fail("cannot resolve '%s' of %s", j->valuestring, type);
        return dflt;
    }
    return j->valuedouble;
}

static void cmp_num(const char *what, double want, double got)
{
    fields_compared++;
    if (want != got && !(isnan(want) && isnan(got)))
        fail("%s: flatc says %.9g, tflc read %.9g", what, want, got);
}

/* flatc prints floats with 6 significant decimals at most. */
static void cmp_float(const char *what, double want, double got)
{
    fields_compared++;
    if (fabs(want - got) > 5e-7 + 1e-5 * fabs(want) && !(isnan(want) && isnan(got)))
        fail("%s: flatc says %.9g, tflc read %.9g", what, want, got);
}

static void cmp_cstr(const char *what, const char *want, const char *got)
{
    fields_compared++;
    if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
        fail("%s: flatc says '%s', tflc read '%s'", what, want ? want : "(none)",
             got ? got : "(none)");
}

static void cmp_str(const char *what, const cJSON *j, const char *got)
{
    fields_compared++;
    const char *want = j && cJSON_IsString(j) ? j->valuestring : NULL;
    if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
        fail("%s: flatc says '%s', tflc read '%s'", what, want ? want : "(none)",
             got ? got : "(none)");
}

/* A JSON array (or absence = empty) against n values expr(i), walking the
 * array's list (cJSON_GetArrayItem is linear). Stops at the first
 * difference. */
#define CMP_ARRAY(what, j, n, expr, type, isfloat)                                            \
    do {                                                                                       \
        const cJSON *arr_ = (j);                                                               \
        int len_ = arr_ ? cJSON_GetArraySize(arr_) : 0;                                        \
        cmp_num(what " length", len_, (double)(n));                                            \
        const cJSON *it_ = arr_ ? arr_->child : NULL;                                          \
        for (int i = 0; it_ && (uint64_t)i < (uint64_t)(n); i++, it_ = it_->next) {           \
            double w_ = num(it_, type, 0);                                                     \
            if (isfloat)                                                                       \
                cmp_float(what, w_, (double)(expr));                                          \
            else if (w_ != (double)(expr)) {                                                   \
                cmp_num(what, w_, (double)(expr));                                             \
                break;                                                                         \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static void cmp_options(const cJSON *jop, const ir_op_t *op, const char *where)
{
    const cJSON *t1 = get(jop, "builtin_options_type"), *t2 = get(jop, "builtin_options_2_type");
    const char *tn = t1 && cJSON_IsString(t1) && strcmp(t1->valuestring, "NONE") != 0
                         ? t1->valuestring
                     : t2 && cJSON_IsString(t2) && strcmp(t2->valuestring, "NONE") != 0
                         ? t2->valuestring
                         : NULL;
    const op_table_t *tab = op_table(op->opts);
    char what[256];
    snprintf(what, sizeof what, "%s options table", where);
    cmp_cstr(what, tn, tab ? tab->name : NULL);
    if (!tab || !tn || strcmp(tab->name, tn) != 0)
        return;
    const cJSON *o = get(jop, t1 && strcmp(t1->valuestring, "NONE") != 0 ? "builtin_options"
                                                                          : "builtin_options_2");
    const stable_t *st = find_table(tab->name);
    for (uint16_t fi = 0; fi < tab->n_fields; fi++) {
        const op_field_t *f = &tab->fields[fi];
        const sfield_t *sf = find_field(st, f->name);
        if (!sf || sf->deprecated)
            continue;
        const cJSON *j = o ? get(o, f->name) : NULL;
        const ir_val_t *a = &op->attr[fi];
        snprintf(what, sizeof what, "%s %s.%s", where, tab->name, f->name);
        switch (f->kind) {
        case OPK_F32: cmp_float(what, num(j, sf->type, schema_default(sf)), a->f); break;
        case OPK_STR: cmp_str(what, j, a->s); break;
        case OPK_VU8: CMP_ARRAY("[ubyte] option", j, a->n, a->bytes[i], sf->type, 0); break;
        case OPK_VF32: CMP_ARRAY("[float] option", j, a->n, a->fv[i], sf->type, 1); break;
        case OPK_VI32: case OPK_VI64: case OPK_VU32: case OPK_VB:
            CMP_ARRAY("vector option", j, a->n, a->iv[i], sf->type, 0);
            break;
        default: cmp_num(what, num(j, sf->type, schema_default(sf)), (double)a->i); break;
        }
    }
}

static void cmp_quant(const cJSON *q, const ir_tensor_t *t, const char *where)
{
    char what[256];
    snprintf(what, sizeof what, "%s quantization", where);
    const ir_quant_t *x = t->quant;
    const cJSON *mn = q ? get(q, "min") : NULL, *mx = q ? get(q, "max") : NULL;
    const cJSON *sc = q ? get(q, "scale") : NULL, *zp = q ? get(q, "zero_point") : NULL;
    if (!x) {
        /* No quantization in the IR: the table must be absent or empty. */
        fields_compared++;
        if (cJSON_GetArraySize(mn) + cJSON_GetArraySize(mx) + cJSON_GetArraySize(sc) +
                cJSON_GetArraySize(zp) != 0)
            fail("%s: flatc has quantization values, tflc read none", what);
        return;
    }
    CMP_ARRAY("quantization min", mn, x->n_min, x->min[i], "float", 1);
    CMP_ARRAY("quantization max", mx, x->n_max, x->max[i], "float", 1);
    CMP_ARRAY("quantization scale", sc, x->n_scale, x->scale[i], "float", 1);
    CMP_ARRAY("quantization zero_point", zp, x->n_zero_point, x->zero_point[i], "long", 0);
    cmp_num(what, num(get(q, "quantized_dimension"), "int", 0), x->quantized_dimension);
    const cJSON *dt = get(q, "details_type");
    int custom = dt && cJSON_IsString(dt) && strcmp(dt->valuestring, "CustomQuantization") == 0;
    cmp_num("has custom quantization", custom, x->has_custom);
    if (custom) {
        const cJSON *c = get(get(q, "details"), "custom");
        CMP_ARRAY("custom quantization", c, x->n_custom, x->custom[i], "ubyte", 0);
    }
}

static void cmp_tensor(const cJSON *jt, const ir_tensor_t *t, const char *where)
{
    char what[300];
    snprintf(what, sizeof what, "%s name", where);
    cmp_str(what, get(jt, "name"), t->name);
    const cJSON *ty = get(jt, "type");
    snprintf(what, sizeof what, "%s type", where);
    cmp_num(what, num(ty, "TensorType", 0), t->type);
    snprintf(what, sizeof what, "%s buffer", where);
    cmp_num(what, num(get(jt, "buffer"), "uint", 0), t->buffer);
    snprintf(what, sizeof what, "%s is_variable", where);
    cmp_num(what, num(get(jt, "is_variable"), "bool", 0), t->is_variable);
    snprintf(what, sizeof what, "%s has_rank", where);
    cmp_num(what, num(get(jt, "has_rank"), "bool", 0), t->has_rank);
    CMP_ARRAY("tensor shape", get(jt, "shape"), t->rank, t->shape[i], "int", 0);
    const cJSON *sig = get(jt, "shape_signature");
    if (cJSON_GetArraySize(sig) || t->shape_signature)
        CMP_ARRAY("tensor shape_signature", sig, t->shape_signature ? t->rank : 0,
                  t->shape_signature[i], "int", 0);
    cmp_quant(get(jt, "quantization"), t, where);
    fields_compared++;
    if ((get(jt, "sparsity") != NULL) != (t->sparsity != NULL))
        fail("%s: sparsity presence differs", where);
}

static void cmp_op(const cJSON *m, const cJSON *jop, const ir_op_t *op, const char *where)
{
    int idx = (int)num(get(jop, "opcode_index"), "uint", 0);
    const cJSON *code = cJSON_GetArrayItem(get(m, "operator_codes"), idx);
    char what[300];
    if (!code) {
        fail("%s: flatc shows opcode index %d out of range", where, idx);
        return;
    }
    double dep = num(get(code, "deprecated_builtin_code"), "byte", 0);
    double b = num(get(code, "builtin_code"), "BuiltinOperator", 0);
    snprintf(what, sizeof what, "%s builtin code", where);
    cmp_num(what, dep > b ? dep : b, op->builtin);
    snprintf(what, sizeof what, "%s version", where);
    cmp_num(what, num(get(code, "version"), "int", 1), op->version);
    snprintf(what, sizeof what, "%s custom_code", where);
    cmp_str(what, get(code, "custom_code"), op->custom_code);
    CMP_ARRAY("operator inputs", get(jop, "inputs"), op->n_inputs, op->inputs[i], "int", 0);
    CMP_ARRAY("operator outputs", get(jop, "outputs"), op->n_outputs, op->outputs[i], "int", 0);
    CMP_ARRAY("operator intermediates", get(jop, "intermediates"), op->n_intermediates,
              op->intermediates[i], "int", 0);
    CMP_ARRAY("custom options", get(jop, "custom_options"), op->n_custom_options,
              op->custom_options[i], "ubyte", 0);
    CMP_ARRAY("mutating_variable_inputs", get(jop, "mutating_variable_inputs"),
              op->n_mutating_variable_inputs, op->mutating_variable_inputs[i], "bool", 0);
    snprintf(what, sizeof what, "%s debug_metadata_index", where);
    cmp_num(what, num(get(jop, "debug_metadata_index"), "int", -1), op->debug_metadata_index);
    snprintf(what, sizeof what, "%s custom_options_format", where);
    cmp_num(what, num(get(jop, "custom_options_format"), "CustomOptionsFormat", 0),
            op->custom_options_format);
    cmp_options(jop, op, where);
}

static void cmp_model(const cJSON *j, const tflc_model_t *m)
{
    char where[200];
    cmp_num("version", num(get(j, "version"), "uint", 0), m->version);
    cmp_str("description", get(j, "description"), m->description);

    const cJSON *bufs = get(j, "buffers");
    cmp_num("buffers", cJSON_GetArraySize(bufs) ? cJSON_GetArraySize(bufs) : 1,
            (double)m->n_buffers);
    for (int b = 1; b < cJSON_GetArraySize(bufs) && (size_t)b < m->n_buffers; b++) {
        const cJSON *d = get(cJSON_GetArrayItem(bufs, b), "data");
        const ir_buffer_t *x = &m->buffers[b];
        CMP_ARRAY("buffer data", d, x->size, x->data[i], "ubyte", 0);
    }

    const cJSON *sgs = get(j, "subgraphs");
    cmp_num("subgraphs", cJSON_GetArraySize(sgs), (double)m->n_subgraphs);
    for (int s = 0; s < cJSON_GetArraySize(sgs) && (size_t)s < m->n_subgraphs; s++) {
        const cJSON *js = cJSON_GetArrayItem(sgs, s);
        const ir_subgraph_t *sg = &m->subgraphs[s];
        snprintf(where, sizeof where, "subgraph %d name", s);
        cmp_str(where, get(js, "name"), sg->name);
        CMP_ARRAY("subgraph inputs", get(js, "inputs"), sg->n_inputs, sg->inputs[i], "int", 0);
        CMP_ARRAY("subgraph outputs", get(js, "outputs"), sg->n_outputs, sg->outputs[i], "int", 0);
        const cJSON *ts = get(js, "tensors");
        cmp_num("tensors", cJSON_GetArraySize(ts), (double)sg->n_tensors);
        for (int t = 0; t < cJSON_GetArraySize(ts) && (size_t)t < sg->n_tensors; t++) {
            snprintf(where, sizeof where, "subgraph %d tensor %d", s, t);
            cmp_tensor(cJSON_GetArrayItem(ts, t), &sg->tensors[t], where);
        }
        const cJSON *ops = get(js, "operators");
        cmp_num("operators", cJSON_GetArraySize(ops), (double)sg->n_ops);
        for (int o = 0; o < cJSON_GetArraySize(ops) && (size_t)o < sg->n_ops; o++) {
            snprintf(where, sizeof where, "subgraph %d operator %d", s, o);
            cmp_op(j, cJSON_GetArrayItem(ops, o), &sg->ops[o], where);
        }
    }

    const cJSON *md = get(j, "metadata");
    cmp_num("metadata", cJSON_GetArraySize(md), (double)m->n_metadata);
    for (int i = 0; i < cJSON_GetArraySize(md) && (size_t)i < m->n_metadata; i++) {
        cmp_str("metadata name", get(cJSON_GetArrayItem(md, i), "name"), m->metadata[i].name);
        cmp_num("metadata buffer", num(get(cJSON_GetArrayItem(md, i), "buffer"), "uint", 0),
                m->metadata[i].buffer);
    }
    CMP_ARRAY("metadata_buffer", get(j, "metadata_buffer"), m->n_metadata_buffer,
              m->metadata_buffer[i], "int", 0);

    const cJSON *sd = get(j, "signature_defs");
    cmp_num("signature defs", cJSON_GetArraySize(sd), (double)m->n_signatures);
    for (int i = 0; i < cJSON_GetArraySize(sd) && (size_t)i < m->n_signatures; i++) {
        const cJSON *js = cJSON_GetArrayItem(sd, i);
        const ir_signature_t *s = &m->signatures[i];
        cmp_str("signature key", get(js, "signature_key"), s->key);
        cmp_num("signature subgraph", num(get(js, "subgraph_index"), "uint", 0), s->subgraph);
        for (int io = 0; io < 2; io++) {
            const cJSON *maps = get(js, io ? "outputs" : "inputs");
            const ir_tensor_map_t *tm = io ? s->outputs : s->inputs;
            uint32_t n = io ? s->n_outputs : s->n_inputs;
            cmp_num("signature tensor maps", cJSON_GetArraySize(maps), n);
            for (int k = 0; k < cJSON_GetArraySize(maps) && (uint32_t)k < n; k++) {
                const cJSON *e = cJSON_GetArrayItem(maps, k);
                cmp_str("signature tensor name", get(e, "name"), tm[k].name);
                cmp_num("signature tensor index", num(get(e, "tensor_index"), "uint", 0),
                        tm[k].tensor);
            }
        }
    }
}

/* ---- Driving flatc ---------------------------------------------------- */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)(len > 0 ? len : 0) + 1);
    size_t got = len > 0 ? fread(p, 1, (size_t)len, f) : 0;
    p[got] = 0;
    if (n)
        *n = got;
    fclose(f);
    return p;
}

static char schema_path[600], tmpdir[512];

static void check_file(const char *path)
{
    cur_file = path;
    char cmd[8192], out[600], json_path[1200];
    snprintf(out, sizeof out, "%.500s/out", tmpdir);
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir '%s' && flatc --json --strict-json --raw-binary "
             "--defaults-json -o '%s' '%s' -- '%.4000s' 2>/dev/null && ls '%s'/*.json > '%s/list'",
             out, out, out, schema_path, path, out, tmpdir);
    /* paths are at most 4096 + 5 * 600 bytes: cmd holds them */
    if (system(cmd) != 0) {
        fail("flatc could not read it");
        return;
    }
    char list[1100];
    snprintf(list, sizeof list, "%s/list", tmpdir);
    char *name = slurp(list, NULL);
    if (!name)
        return;
    name[strcspn(name, "\n")] = 0;
    snprintf(json_path, sizeof json_path, "%s", name);
    free(name);
    char *text = slurp(json_path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!j) {
        fail("cannot parse flatc's JSON");
        return;
    }
    tflc_status_t *st = tflc_status_new();
    tflc_model_t *m = NULL;
    if (tflc_model_read_file(path, &m, st) != TFLC_OK) {
        fail("tflc cannot read it");
        tflc_status_print(st, stderr);
    } else {
        cmp_model(j, m);
    }
    files++;
    tflc_model_free(m);
    tflc_status_free(st);
    cJSON_Delete(j);
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%.3000s/%.255s", dir, e->d_name) >= sizeof path)
            continue;
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        size_t n = strlen(e->d_name);
        if (S_ISDIR(sb.st_mode))
            walk(path);
        else if ((n > 7 && strcmp(e->d_name + n - 7, ".tflite") == 0) ||
                 (n > 5 && strcmp(e->d_name + n - 5, ".lite") == 0))
            check_file(path);
    }
    closedir(d);
}

/* Loads the schema text; NULL when none is available. */
static char *load_schema(void)
{
    const char *env = getenv("TFLC_TFLITE_SCHEMA");
    if (env)
        return slurp(env, NULL);
    const char *srcdir = getenv("TFLC_SOURCE_DIR");
    char cmd[2048], tmp[600];
    snprintf(tmp, sizeof tmp, "%s/raw.fbs", tmpdir);
    snprintf(cmd, sizeof cmd,
             "git --git-dir='%s/../.mirror/tensorflow+tflite-micro/repo' show "
             "HEAD:tensorflow/compiler/mlir/lite/schema/schema.fbs > '%s' 2>/dev/null",
             srcdir ? srcdir : ".", tmp);
    if (system(cmd) != 0)
        return NULL;
    return slurp(tmp, NULL);
}

/* Drops "(deprecated)" where flatc 2.0.8 rejects it: on enum values,
 * union members and tables (anywhere it is not followed by ';'). */
static void strip_deprecated(char *s)
{
    const char *key = " (deprecated)";
    size_t k = strlen(key);
    for (char *p = strstr(s, key); p; p = strstr(p, key)) {
        const char *q = p + k;
        while (*q == ' ')
            q++;
        if (*q == ';') {
            p += k;
            continue;
        }
        memmove(p, p + k, strlen(p + k) + 1);
    }
}

int main(void)
{
    const char *fx = getenv("TFLC_FIXTURES");
    struct stat sb;
    if (!fx || stat(fx, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("SKIP: fixtures not found (TFLC_FIXTURES=%s)\n", fx ? fx : "(unset)");
        return 77;
    }
    if (system("flatc --version > /dev/null 2>&1") != 0) {
        printf("SKIP: flatc not found (apt-get install flatbuffers-compiler)\n");
        return 77;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tflc_flatc_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("cannot make a temporary directory\n");
        return 1;
    }
    char *schema = load_schema();
    if (!schema) {
        printf("SKIP: no TFLite schema (set TFLC_TFLITE_SCHEMA to schema.fbs)\n");
        return 77;
    }
    parse_schema(schema);
    strip_deprecated(schema);
    snprintf(schema_path, sizeof schema_path, "%.500s/schema.fbs", tmpdir);
    FILE *f = fopen(schema_path, "w");
    fputs(schema, f);
    fclose(f);
    free(schema);

    check_op_table();
    int table_failures = failures;
    walk(fx);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("op table: %d failures; %d files compared with flatc, %d fields, %d failures\n",
           table_failures, files, fields_compared, failures);
    if (files < 20) {
        printf("FAIL: expected at least 20 .tflite files\n");
        return 1;
    }
    return failures ? 1 : 0;
}
