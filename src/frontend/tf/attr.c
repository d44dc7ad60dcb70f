/*
 * attr.c -- AttrValue -> tfg_attr_t, and attribute lookup.
 *
 * Contract: every scalar kind maps to its tfg kind (s, i, f, b, type,
 * shape, tensor, func). A list keeps the kind of its elements in
 * list_kind: int/type/bool elements in list_i, floats in list_f, strings
 * and function names in list_s (NUL-terminated copies), shapes in
 * list_shape. A list of tensors is kept as its count only (list_kind
 * TENSOR, n_list elements, no values): no TF op tflc reads needs one.
 * An empty list has list_kind NONE. A placeholder ("$T" inside a generic
 * function) becomes kind NONE with s = its name.
 */
#include <string.h>

#include "tf.h"

const tfg_attr_t *tfg_attr(const tfg_node_t *n, const char *name)
{
    for (uint32_t i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

const Tf__AttrValue *tf_node_attr(const Tf__NodeDef *n, const char *name)
{
    for (size_t i = 0; i < n->n_attr; i++)
        if (n->attr[i]->key && strcmp(n->attr[i]->key, name) == 0)
            return n->attr[i]->value;
    return NULL;
}

static tflc_code_t list_from_proto(ar_t *ar, const Tf__AttrValue__ListValue *l,
                                   tfg_attr_t *out, const char *file,
                                   const char *place, tflc_status_t *st)
{
    size_t n = 0;
    if (l->n_s) {
        out->list_kind = TFGA_S;
        n = l->n_s;
        out->list_s = ar_calloc(ar, n, sizeof *out->list_s);
        if (!out->list_s)
            return st_oom(st, file);
        for (size_t i = 0; i < n; i++) {
            const ProtobufCBinaryData *b = &l->s[i];
            out->list_s[i] = ar_strndup(ar, b->data ? (const char *)b->data
                                                    : "", b->len);
            if (!out->list_s[i])
                return st_oom(st, file);
        }
    } else if (l->n_i || l->n_type || l->n_b) {
        out->list_kind = l->n_i ? TFGA_I : l->n_type ? TFGA_TYPE : TFGA_B;
        n = l->n_i ? l->n_i : l->n_type ? l->n_type : l->n_b;
        out->list_i = ar_calloc(ar, n, sizeof *out->list_i);
        if (!out->list_i)
            return st_oom(st, file);
        for (size_t i = 0; i < n; i++)
            out->list_i[i] = l->n_i      ? l->i[i]
                             : l->n_type ? (int64_t)l->type[i]
                                         : (int64_t)(l->b[i] != 0);
    } else if (l->n_f) {
        out->list_kind = TFGA_F;
        n = l->n_f;
        out->list_f = ar_memdup(ar, l->f, n * sizeof *l->f);
        if (!out->list_f)
            return st_oom(st, file);
    } else if (l->n_shape) {
        out->list_kind = TFGA_SHAPE;
        n = l->n_shape;
        out->list_shape = ar_calloc(ar, n, sizeof *out->list_shape);
        if (!out->list_shape)
            return st_oom(st, file);
        for (size_t i = 0; i < n; i++) {
            tflc_code_t rc = tf_shape_from_proto(ar, l->shape[i],
                                                 &out->list_shape[i], file,
                                                 place, st);
            if (rc != TFLC_OK)
                return rc;
        }
    } else if (l->n_func) {
        out->list_kind = TFGA_FUNC;
        n = l->n_func;
        out->list_s = ar_calloc(ar, n, sizeof *out->list_s);
        if (!out->list_s)
            return st_oom(st, file);
        for (size_t i = 0; i < n; i++) {
            out->list_s[i] = ar_strdup(ar, l->func[i]->name ? l->func[i]->name
                                                            : "");
            if (!out->list_s[i])
                return st_oom(st, file);
        }
    } else if (l->n_tensor) {
        out->list_kind = TFGA_TENSOR;
        n = l->n_tensor;
    } else {
        out->list_kind = TFGA_NONE;
    }
    if (n > UINT32_MAX)
        return st_err(st, TFLC_ERR_FORMAT, file, "%s: list of %zu", place, n);
    out->n_list = (uint32_t)n;
    return TFLC_OK;
}

tflc_code_t tf_attr_from_proto(ar_t *ar, const char *name,
                               const Tf__AttrValue *v, tfg_attr_t *out,
                               const char *file, const char *place,
                               tflc_status_t *st)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    if (!v)
        return TFLC_OK;
    switch (v->value_case) {
    case TF__ATTR_VALUE__VALUE_S:
        out->kind = TFGA_S;
        out->s_len = v->s.len;
        out->s = ar_strndup(ar, v->s.data ? (const char *)v->s.data : "",
                            v->s.len);
        return out->s ? TFLC_OK : st_oom(st, file);
    case TF__ATTR_VALUE__VALUE_I:
        out->kind = TFGA_I;
        out->i = v->i;
        return TFLC_OK;
    case TF__ATTR_VALUE__VALUE_F:
        out->kind = TFGA_F;
        out->f = v->f;
        return TFLC_OK;
    case TF__ATTR_VALUE__VALUE_B:
        out->kind = TFGA_B;
        out->i = v->b != 0;
        return TFLC_OK;
    case TF__ATTR_VALUE__VALUE_TYPE:
        out->kind = TFGA_TYPE;
        out->i = v->type;
        return TFLC_OK;
    case TF__ATTR_VALUE__VALUE_SHAPE:
        out->kind = TFGA_SHAPE;
        return tf_shape_from_proto(ar, v->shape, &out->shape, file, place, st);
    case TF__ATTR_VALUE__VALUE_TENSOR:
        out->kind = TFGA_TENSOR;
        out->tensor = ar_alloc(ar, sizeof *out->tensor);
        if (!out->tensor)
            return st_oom(st, file);
        return tf_tensor_from_proto(ar, v->tensor, out->tensor, file, place,
                                    st);
    case TF__ATTR_VALUE__VALUE_FUNC:
        out->kind = TFGA_FUNC;
        out->s = ar_strdup(ar, v->func && v->func->name ? v->func->name : "");
        out->s_len = out->s ? strlen(out->s) : 0;
        return out->s ? TFLC_OK : st_oom(st, file);
    case TF__ATTR_VALUE__VALUE_PLACEHOLDER:
        out->kind = TFGA_NONE;
        out->s = ar_strdup(ar, v->placeholder ? v->placeholder : "");
        out->s_len = out->s ? strlen(out->s) : 0;
        return out->s ? TFLC_OK : st_oom(st, file);
    case TF__ATTR_VALUE__VALUE_LIST:
        out->kind = TFGA_LIST;
        return list_from_proto(ar, v->list, out, file, place, st);
    default:
        return TFLC_OK; /* an AttrValue with nothing set */
    }
}
