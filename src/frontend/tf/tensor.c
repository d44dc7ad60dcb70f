/*
 * tensor.c -- TensorFlow dtypes, shapes and TensorProto values.
 *
 * Contract: tf_tensor_from_proto turns a TensorProto into a dense
 * little-endian tfg_tensor_t (strings as pointer/length pairs). It accepts
 * both encodings TF writes: tensor_content (raw bytes, used in place) and
 * the typed repeated fields, where fewer values than elements means the
 * last value fills the rest (no values: zeros), as TensorFlow reads them.
 * Every size is checked: a tensor_content of the wrong length, more
 * values than elements, negative dims, or a tensor over
 * TF_MAX_TENSOR_BYTES is an error naming the node. Assumes a
 * little-endian host, as TF's own files do.
 */
#include <string.h>

#include "tf.h"

const char *tf_dtype_name(int dt)
{
    static const char *const names[] = {
        [TF_INVALID] = "invalid", [TF_FLOAT] = "float32",
        [TF_DOUBLE] = "float64", [TF_INT32] = "int32", [TF_UINT8] = "uint8",
        [TF_INT16] = "int16", [TF_INT8] = "int8", [TF_STRING] = "string",
        [TF_COMPLEX64] = "complex64", [TF_INT64] = "int64",
        [TF_BOOL] = "bool", [TF_QINT8] = "qint8", [TF_QUINT8] = "quint8",
        [TF_QINT32] = "qint32", [TF_BFLOAT16] = "bfloat16",
        [TF_QINT16] = "qint16", [TF_QUINT16] = "quint16",
        [TF_UINT16] = "uint16", [TF_COMPLEX128] = "complex128",
        [TF_HALF] = "float16", [TF_RESOURCE] = "resource",
        [TF_VARIANT] = "variant", [TF_UINT32] = "uint32",
        [TF_UINT64] = "uint64",
    };
    /* Reference types (dtype + 100) print as their base type with "_ref". */
    static const char *const refs[] = {
        [TF_FLOAT] = "float32_ref", [TF_DOUBLE] = "float64_ref",
        [TF_INT32] = "int32_ref", [TF_INT64] = "int64_ref",
        [TF_BOOL] = "bool_ref", [TF_STRING] = "string_ref",
    };
    if (dt >= 0 && (size_t)dt < ARRAY_LEN(names) && names[dt])
        return names[dt];
    if (dt > 100 && (size_t)(dt - 100) < ARRAY_LEN(refs) && refs[dt - 100])
        return refs[dt - 100];
    return "unknown";
}

int tf_dtype_size(int dt)
{
    switch (dt) {
    case TF_FLOAT: case TF_INT32: case TF_QINT32: case TF_UINT32:
        return 4;
    case TF_DOUBLE: case TF_INT64: case TF_UINT64: case TF_COMPLEX64:
        return 8;
    case TF_UINT8: case TF_INT8: case TF_BOOL: case TF_QINT8: case TF_QUINT8:
        return 1;
    case TF_INT16: case TF_UINT16: case TF_QINT16: case TF_QUINT16:
    case TF_BFLOAT16: case TF_HALF:
        return 2;
    case TF_COMPLEX128:
        return 16;
    default:
        return 0;
    }
}

tflc_code_t tf_shape_from_proto(ar_t *ar, const Tf__TensorShapeProto *p,
                                tfg_shape_t *out, const char *file,
                                const char *place, tflc_status_t *st)
{
    out->rank = 0;
    out->dims = NULL;
    if (!p)
        return TFLC_OK;
    if (p->unknown_rank) {
        out->rank = -1;
        return TFLC_OK;
    }
    if (p->n_dim > 254)
        return st_err(st, TFLC_ERR_FORMAT, file, "%s: shape of rank %zu",
                      place, p->n_dim);
    out->dims = ar_calloc(ar, p->n_dim ? p->n_dim : 1, sizeof *out->dims);
    if (!out->dims)
        return st_oom(st, file);
    for (size_t i = 0; i < p->n_dim; i++) {
        int64_t d = p->dim[i]->size;
        if (d < -1)
            return st_err(st, TFLC_ERR_FORMAT, file,
                          "%s: shape dim %zu is %lld", place, i, (long long)d);
        out->dims[i] = d;
    }
    out->rank = (int32_t)p->n_dim;
    return TFLC_OK;
}

int64_t tf_shape_elems(const tfg_shape_t *s)
{
    if (s->rank < 0)
        return -1;
    int64_t n = 1;
    for (int32_t i = 0; i < s->rank; i++) {
        int64_t d = s->dims[i];
        if (d < 0)
            return -1;
        if (d && n > INT64_MAX / d)
            return -1;
        n *= d;
    }
    return n;
}

int tf_shape_copy(ar_t *ar, tfg_shape_t *dst, const tfg_shape_t *s)
{
    dst->rank = s->rank;
    dst->dims = NULL;
    if (s->rank > 0) {
        dst->dims = ar_memdup(ar, s->dims, (size_t)s->rank * sizeof *s->dims);
        if (!dst->dims)
            return -1;
    }
    return 0;
}

const char *tf_shape_str(const tfg_shape_t *s, char *buf, size_t size)
{
    if (s->rank < 0) {
        snprintf(buf, size, "<unknown>");
        return buf;
    }
    size_t k = 0;
    buf[0] = 0;
    k += (size_t)snprintf(buf + k, size - k, "[");
    for (int32_t i = 0; i < s->rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? "," : "",
                              (long long)s->dims[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

/* Copies n_val values of width w from vals into n elements at dst,
 * repeating the last value (zeros when there is none). */
static void splat(uint8_t *dst, const void *vals, size_t n_val, uint64_t n,
                  size_t w)
{
    if (n_val == 0)
        return; /* the arena handed out zeroed memory */
    memcpy(dst, vals, (size_t)(n_val < n ? n_val : n) * w);
    for (uint64_t i = n_val; i < n; i++)
        memcpy(dst + i * w, (const uint8_t *)vals + (n_val - 1) * w, w);
}

/* The number of values in the repeated field that holds dtype dt, and a
 * pointer to them with their width in the proto's C struct (which is
 * wider than the element for int8/int16/half/bool). */
static size_t values_of(const Tf__TensorProto *tp, int dt, const void **v,
                        size_t *vw)
{
    switch (dt) {
    case TF_FLOAT:
        *v = tp->float_val, *vw = sizeof(float);
        return tp->n_float_val;
    case TF_DOUBLE:
        *v = tp->double_val, *vw = sizeof(double);
        return tp->n_double_val;
    case TF_INT32: case TF_INT16: case TF_INT8: case TF_UINT8:
    case TF_UINT16: case TF_QINT8: case TF_QUINT8: case TF_QINT16:
    case TF_QUINT16: case TF_QINT32:
        *v = tp->int_val, *vw = sizeof(int32_t);
        return tp->n_int_val;
    case TF_INT64:
        *v = tp->int64_val, *vw = sizeof(int64_t);
        return tp->n_int64_val;
    case TF_BOOL:
        *v = tp->bool_val, *vw = sizeof(protobuf_c_boolean);
        return tp->n_bool_val;
    case TF_HALF: case TF_BFLOAT16:
        *v = tp->half_val, *vw = sizeof(int32_t);
        return tp->n_half_val;
    case TF_UINT32:
        *v = tp->uint32_val, *vw = sizeof(uint32_t);
        return tp->n_uint32_val;
    case TF_UINT64:
        *v = tp->uint64_val, *vw = sizeof(uint64_t);
        return tp->n_uint64_val;
    case TF_COMPLEX64: /* (re, im) pairs: one value is two floats */
        *v = tp->scomplex_val, *vw = 2 * sizeof(float);
        return tp->n_scomplex_val / 2;
    case TF_COMPLEX128:
        *v = tp->dcomplex_val, *vw = 2 * sizeof(double);
        return tp->n_dcomplex_val / 2;
    default:
        *v = NULL, *vw = 0;
        return 0;
    }
}

/* Narrows the proto's values (vw bytes each) to elements of w bytes:
 * int32 -> int8/int16, int32 -> 16-bit half bits (little-endian: the low
 * bytes come first), protobuf_c_boolean -> one 0/1 byte. */
static uint8_t *narrow(ar_t *ar, const void *v, size_t n_val, size_t vw,
                       size_t w, int is_bool)
{
    uint8_t *out = ar_alloc(ar, n_val ? n_val * w : 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n_val; i++) {
        const uint8_t *s = (const uint8_t *)v + i * vw;
        if (is_bool) {
            protobuf_c_boolean b;
            memcpy(&b, s, sizeof b);
            out[i] = b ? 1 : 0;
        } else {
            memcpy(out + i * w, s, w);
        }
    }
    return out;
}

static tflc_code_t strings_from_proto(ar_t *ar, const Tf__TensorProto *tp,
                                      uint64_t n, tfg_tensor_t *out,
                                      const char *file, const char *place,
                                      tflc_status_t *st)
{
    size_t nv = tp->n_string_val;
    if (nv > n)
        return st_err(st, TFLC_ERR_FORMAT, file,
                      "%s: %zu string values for %llu elements", place, nv,
                      (unsigned long long)n);
    if (tp->tensor_content.len)
        return st_err(st, TFLC_ERR_UNSUPPORTED, file,
                      "%s: string tensor in tensor_content encoding", place);
    if (n > TF_MAX_TENSOR_BYTES / 16)
        return st_err(st, TFLC_ERR_UNSUPPORTED, file,
                      "%s: string tensor of %llu elements is too large",
                      place, (unsigned long long)n);
    out->strings = ar_calloc(ar, n ? n : 1, sizeof *out->strings);
    out->string_lens = ar_calloc(ar, n ? n : 1, sizeof *out->string_lens);
    if (!out->strings || !out->string_lens)
        return st_oom(st, file);
    for (uint64_t i = 0; i < n; i++) {
        if (nv == 0) {
            out->strings[i] = "";
            continue;
        }
        const ProtobufCBinaryData *b = &tp->string_val[i < nv ? i : nv - 1];
        out->strings[i] = b->data ? (const char *)b->data : "";
        out->string_lens[i] = b->len;
    }
    out->n_strings = n;
    return TFLC_OK;
}

tflc_code_t tf_tensor_from_proto(ar_t *ar, const Tf__TensorProto *tp,
                                 tfg_tensor_t *out, const char *file,
                                 const char *place, tflc_status_t *st)
{
    memset(out, 0, sizeof *out);
    out->dtype = (int32_t)tp->dtype;
    tflc_code_t rc = tf_shape_from_proto(ar, tp->tensor_shape, &out->shape,
                                         file, place, st);
    if (rc != TFLC_OK)
        return rc;
    for (int32_t i = 0; i < out->shape.rank; i++)
        if (out->shape.dims[i] < 0)
            return st_err(st, TFLC_ERR_FORMAT, file,
                          "%s: tensor value with unknown dim %d", place, i);
    int64_t n = tf_shape_elems(&out->shape);
    if (n < 0)
        return st_err(st, TFLC_ERR_FORMAT, file,
                      "%s: tensor value of unknown or overflowing size",
                      place);
    if (out->dtype == TF_STRING)
        return strings_from_proto(ar, tp, (uint64_t)n, out, file, place, st);
    size_t w = (size_t)tf_dtype_size(out->dtype);
    if (!w)
        return st_err(st, TFLC_ERR_UNSUPPORTED, file,
                      "%s: tensor value of dtype %s (%d)", place,
                      tf_dtype_name(out->dtype), out->dtype);
    if ((uint64_t)n > TF_MAX_TENSOR_BYTES / w)
        return st_err(st, TFLC_ERR_UNSUPPORTED, file,
                      "%s: tensor of %lld %s elements is too large", place,
                      (long long)n, tf_dtype_name(out->dtype));
    uint64_t bytes = (uint64_t)n * w;
    out->size = bytes;
    if (tp->tensor_content.len) {
        if (tp->tensor_content.len != bytes)
            return st_err(st, TFLC_ERR_FORMAT, file,
                          "%s: tensor_content has %zu bytes, %s%s needs "
                          "%llu",
                          place, tp->tensor_content.len,
                          tf_dtype_name(out->dtype),
                          tf_shape_str(&out->shape, (char[96]){0}, 96),
                          (unsigned long long)bytes);
        out->data = tp->tensor_content.data;
        return TFLC_OK;
    }
    const void *v;
    size_t vw;
    size_t nv = values_of(tp, out->dtype, &v, &vw);
    if (nv > (uint64_t)n)
        return st_err(st, TFLC_ERR_FORMAT, file,
                      "%s: %zu values for a %s tensor of %lld elements",
                      place, nv, tf_dtype_name(out->dtype), (long long)n);
    if (vw != w) {
        v = narrow(ar, v, nv, vw, w, out->dtype == TF_BOOL);
        if (!v)
            return st_oom(st, file);
    }
    uint8_t *data = ar_alloc(ar, bytes ? (size_t)bytes : 1);
    if (!data)
        return st_oom(st, file);
    splat(data, v, nv, (uint64_t)n, w);
    out->data = data;
    return TFLC_OK;
}
