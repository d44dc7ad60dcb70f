/*
 * graphdef.c -- tf_load_graph_def: a frozen GraphDef .pb into one graph.
 *
 * Contract: reads opt->input_path as a GraphDef (the parsed message lives
 * in m's arena, so Const values are used in place) and builds one
 * tfg_graph_t named "main" with tf_graph_build. The options follow
 * tflite_convert:
 *   input_arrays   "a,b:1"  tensors to feed; default: every Placeholder
 *                           the outputs need, in graph order
 *   input_shapes   "1,224,224,3:1,10"  one group per input array (a dim
 *                           may be -1 or ?; an empty group is a scalar)
 *   output_arrays  "y,z:1"  tensors to fetch; default: the nodes nobody
 *                           consumes (placeholders, constants and
 *                           bookkeeping ops excluded)
 * Input and output io names are the tensor names without a ":0" suffix.
 * A variable the outputs need is an error: the graph must be frozen.
 */
#include <stdlib.h>
#include <string.h>

#include "tf.h"

/* Splits s at sep into trimmed, non-empty-checked parts in ar. */
static tflc_code_t split_list(ar_t *ar, const char *s, char sep,
                              const char ***parts, size_t *n,
                              int allow_empty, const char *file,
                              const char *what, tflc_status_t *st)
{
    *parts = NULL;
    *n = 0;
    size_t cap = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (!len && !allow_empty)
            return st_err(st, TFLC_ERR_INVALID, file,
                          "%s '%s': empty element", what, s);
        char *part = ar_strndup(ar, p, len);
        if (!part || AR_PUSH(ar, *parts, *n, cap, (const char *)part))
            return st_oom(st, file);
        if (!e)
            break;
        p = e + 1;
    }
    return TFLC_OK;
}

/* "1,224,224,3" -> shape; "" -> scalar; "-1" or "?" -> unknown dim. */
static tflc_code_t parse_shape(ar_t *ar, const char *s, tfg_shape_t *out,
                               const char *file, tflc_status_t *st)
{
    const char **dims;
    size_t n;
    out->rank = 0;
    out->dims = NULL;
    if (!*s)
        return TFLC_OK;
    tflc_code_t rc = split_list(ar, s, ',', &dims, &n, 0, file,
                                "input_shapes", st);
    if (rc != TFLC_OK)
        return rc;
    if (n > 254)
        return st_err(st, TFLC_ERR_INVALID, file,
                      "input_shapes '%s': too many dims", s);
    out->dims = ar_calloc(ar, n, sizeof *out->dims);
    if (!out->dims)
        return st_oom(st, file);
    for (size_t i = 0; i < n; i++) {
        char *end;
        long long v = strcmp(dims[i], "?") == 0 ? -1
                                                 : strtoll(dims[i], &end, 10);
        if (strcmp(dims[i], "?") != 0 && (*end || v < -1 || v > INT32_MAX))
            return st_err(st, TFLC_ERR_INVALID, file,
                          "input_shapes: '%s' is not a dimension", dims[i]);
        out->dims[i] = v;
    }
    out->rank = (int32_t)n;
    return TFLC_OK;
}

/* The io name of a tensor: "x:0" -> "x", "x:1" stays. */
static const char *io_name(ar_t *ar, const char *t)
{
    size_t n = strlen(t);
    if (n > 2 && strcmp(t + n - 2, ":0") == 0)
        return ar_strndup(ar, t, n - 2);
    return t;
}

static tflc_code_t io_reqs(ar_t *ar, const char *list, const char *shapes,
                           tf_io_req_t **reqs, size_t *n, const char *file,
                           const char *what, tflc_status_t *st)
{
    const char **names, **groups = NULL;
    size_t ng = 0;
    tflc_code_t rc = split_list(ar, list, ',', &names, n, 0, file, what, st);
    if (rc != TFLC_OK)
        return rc;
    if (shapes) {
        rc = split_list(ar, shapes, ':', &groups, &ng, 1, file,
                        "input_shapes", st);
        if (rc != TFLC_OK)
            return rc;
        if (ng != *n)
            return st_err(st, TFLC_ERR_INVALID, file,
                          "input_shapes has %zu shapes for %zu input arrays",
                          ng, *n);
    }
    *reqs = ar_calloc(ar, *n, sizeof **reqs);
    if (!*reqs)
        return st_oom(st, file);
    for (size_t i = 0; i < *n; i++) {
        tf_io_req_t *q = &(*reqs)[i];
        q->tensor = names[i];
        q->name = io_name(ar, names[i]);
        if (!q->name)
            return st_oom(st, file);
        if (groups) {
            tfg_shape_t *sh = ar_calloc(ar, 1, sizeof *sh);
            if (!sh)
                return st_oom(st, file);
            if ((rc = parse_shape(ar, groups[i], sh, file, st)) != TFLC_OK)
                return rc;
            q->shape = sh;
        }
    }
    return TFLC_OK;
}

tflc_code_t tf_load_graph_def(ir_model_t *m, const tflc_convert_options_t *opt,
                              tfg_graph_t **graphs, size_t *n_graphs,
                              tflc_status_t *st)
{
    *graphs = NULL;
    *n_graphs = 0;
    const char *file = opt->input_path;
    if (!file)
        return st_err(st, TFLC_ERR_INVALID, NULL, "no input path");
    ar_t *ar = &m->arena;
    tf_build_opts_t o = {0};
    o.file = file;
    o.graph_name = "main";
    tflc_code_t rc;
    if (opt->input_shapes && !opt->input_arrays)
        return st_err(st, TFLC_ERR_INVALID, file,
                      "input_shapes needs input_arrays (one shape per "
                      "input array)");
    if (opt->input_arrays &&
        (rc = io_reqs(ar, opt->input_arrays, opt->input_shapes,
                      (tf_io_req_t **)&o.inputs, &o.n_inputs, file,
                      "input_arrays", st)) != TFLC_OK)
        return rc;
    if (opt->output_arrays &&
        (rc = io_reqs(ar, opt->output_arrays, NULL,
                      (tf_io_req_t **)&o.outputs, &o.n_outputs, file,
                      "output_arrays", st)) != TFLC_OK)
        return rc;
    void *gd;
    if ((rc = tf_pb_read_file(ar, &tf__graph_def__descriptor, file,
                              "GraphDef", &gd, st)) != TFLC_OK)
        return rc;
    o.gd = gd;
    tfg_graph_t *g = ar_calloc(ar, 1, sizeof *g);
    if (!g)
        return st_oom(st, file);
    if ((rc = tf_graph_build(ar, &o, g, st)) != TFLC_OK)
        return rc;
    *graphs = g;
    *n_graphs = 1;
    return TFLC_OK;
}
