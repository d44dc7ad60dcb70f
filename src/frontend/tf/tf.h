/*
 * tf.h -- internals of the TensorFlow front-end (SavedModel and GraphDef
 * into tfg graphs). Not part of any public interface.
 *
 *   pb.c         protobuf decoding: a bounded, offset-reporting wire scan
 *                in front of protobuf-c, unpacking into an arena
 *   tensor.c     dtypes, shapes, TensorProto -> tfg_tensor_t
 *   attr.c       AttrValue -> tfg_attr_t, tfg_attr()
 *   opinfo.c     the output arguments of TF ops (count, names, dtypes)
 *   graph.c      GraphDef + function library -> one tfg_graph_t: inlining,
 *                freezing through a callback, pruning, topological order
 *   graphdef.c   tf_load_graph_def: frozen .pb and tflite_convert options
 *   savedmodel.c tf_load_saved_model: tags, signatures, variables
 *   inspect.c    tf_inspect: text and JSON
 */
#ifndef TFLC_TF_H
#define TFLC_TF_H

#include <stdio.h>

#include "../../pipeline.h"
#include "tfg.h"

#include "attr_value.pb-c.h"
#include "function.pb-c.h"
#include "graph.pb-c.h"
#include "node_def.pb-c.h"
#include "op_def.pb-c.h"
#include "saved_model.pb-c.h"
#include "saved_object_graph.pb-c.h"
#include "tensor.pb-c.h"

/* ---- pb.c ---------------------------------------------------------- */

/* Nesting deeper than this is refused (protobuf's own default limit),
 * so hostile input cannot exhaust the stack inside protobuf-c. */
#define TF_PB_MAX_DEPTH 100

/* Unpacks data[0..size) as a message of type desc into *out, with every
 * allocation in ar (nothing to free but the arena). The wire format is
 * checked first against desc: truncation, bad wire types, too deep
 * nesting are reported with the byte offset. what names the message kind
 * in messages ("GraphDef"), file the file. *out is NULL on failure. */
tflc_code_t tf_pb_unpack(ar_t *ar, const ProtobufCMessageDescriptor *desc,
                         const uint8_t *data, size_t size, const char *file,
                         const char *what, void **out, tflc_status_t *st);

/* Maps path and unpacks it (see tf_pb_unpack). The mapping is closed
 * before returning: every field is copied into ar. */
tflc_code_t tf_pb_read_file(ar_t *ar, const ProtobufCMessageDescriptor *desc,
                            const char *path, const char *what, void **out,
                            tflc_status_t *st);

/* ---- tensor.c ------------------------------------------------------ */

/* The tensor shape of a TensorShapeProto (NULL: a scalar, as an absent
 * message means in TensorFlow). Dims must be >= -1. */
tflc_code_t tf_shape_from_proto(ar_t *ar, const Tf__TensorShapeProto *p,
                                tfg_shape_t *out, const char *file,
                                const char *place, tflc_status_t *st);
/* Product of the dims, or -1 when a dim or the rank is unknown or the
 * product overflows int64. */
int64_t tf_shape_elems(const tfg_shape_t *s);
/* A copy of s in ar; 0 or -1 on OOM. */
int tf_shape_copy(ar_t *ar, tfg_shape_t *dst, const tfg_shape_t *s);
/* "[-1,8]", "[]" (scalar), "<unknown>" in buf. */
const char *tf_shape_str(const tfg_shape_t *s, char *buf, size_t size);

/* A TensorProto's value as a dense tfg_tensor_t in ar. tensor_content
 * bytes are used in place (they live in ar already); repeated *_val
 * fields are expanded, the last value filling the rest. place names the
 * node for messages. */
tflc_code_t tf_tensor_from_proto(ar_t *ar, const Tf__TensorProto *tp,
                                 tfg_tensor_t *out, const char *file,
                                 const char *place, tflc_status_t *st);

/* Largest tensor the front-end materialises from a compact form (a
 * splatted scalar), so a 100-byte file cannot ask for terabytes. */
#define TF_MAX_TENSOR_BYTES ((uint64_t)1 << 31)

/* ---- attr.c -------------------------------------------------------- */

/* Converts an AttrValue. A placeholder attr ("$T" in a generic function)
 * becomes kind TFGA_NONE with s = the placeholder's name. */
tflc_code_t tf_attr_from_proto(ar_t *ar, const char *name,
                               const Tf__AttrValue *v, tfg_attr_t *out,
                               const char *file, const char *place,
                               tflc_status_t *st);

/* The AttrValue named name in a NodeDef, or NULL. */
const Tf__AttrValue *tf_node_attr(const Tf__NodeDef *n, const char *name);

/* ---- opinfo.c ------------------------------------------------------ */

/* One output argument of an op: a name, a count and element dtypes. */
typedef struct tf_outarg {
    const char *name;  /* points into a static table: NOT terminated, */
    size_t name_len;   /* so compare name_len bytes */
    int count;         /* tensors in this argument; -1 unknown */
    int32_t dtype;     /* one dtype for every tensor, 0 unknown; */
    const int64_t *dtypes; /* or one per tensor (type lists), else NULL */
} tf_outarg_t;

#define TF_MAX_OUTARGS 12

/* Fills args[] with the output arguments of op (a TF op name) for a node
 * with the given attributes; returns their number, or -1 when the op is
 * not in the table. Counts and dtypes that depend on a missing attribute
 * are -1 / 0. */
int tf_op_outputs(const char *op, const tfg_attr_t *attrs, uint32_t n_attrs,
                  tf_outarg_t args[TF_MAX_OUTARGS]);

/* ---- graph.c ------------------------------------------------------- */

/* A requested graph input or output: a tensor of the main graph. */
typedef struct tf_io_req {
    const char *name;        /* the io name (signature key, tensor name) */
    const char *tensor;      /* "node:0", "node:1", or "node" (= :0) */
    int32_t dtype;           /* inputs: 0 = from the graph */
    const tfg_shape_t *shape;/* inputs: NULL = from the graph */
} tf_io_req_t;

/* How variables of the main graph get their values. value() is called for
 * every VarHandleOp / VariableV2 / Variable node of the main graph the
 * outputs need; it fills *out (data may point into mapped checkpoint
 * shards) or returns an error. NULL freezer: a variable that is needed is
 * an error (a GraphDef must be frozen). */
typedef struct tf_freezer {
    tflc_code_t (*value)(void *user, const Tf__NodeDef *var,
                         tfg_tensor_t *out, tflc_status_t *st);
    void *user;
} tf_freezer_t;

typedef struct tf_build_opts {
    const char *file;          /* for messages */
    const char *graph_name;    /* tfg_graph_t.name */
    const Tf__GraphDef *gd;
    const tf_io_req_t *inputs; /* NULL: every Placeholder the outputs need */
    size_t n_inputs;
    const tf_io_req_t *outputs;/* NULL: the nodes nobody consumes */
    size_t n_outputs;
    const tf_freezer_t *freezer;
} tf_build_opts_t;

/* Builds g (memory in ar) from o->gd: function calls inlined at any depth,
 * variables frozen, Identity and friends dropped, pruned to what the
 * outputs need, topologically sorted. Every problem found is reported. */
tflc_code_t tf_graph_build(ar_t *ar, const tf_build_opts_t *o, tfg_graph_t *g,
                           tflc_status_t *st);

/* Splits "node:3" into the node name (in ar) and index; "node" gives 0.
 * A leading '^' is refused. Returns -1 on a malformed name. */
int tf_split_tensor_name(ar_t *ar, const char *t, const char **node,
                         int *index);

/* ---- savedmodel.c ------------------------------------------------- */

/* Reads path/saved_model.pb (path may also name the file itself) into ar.
 * *dir receives the SavedModel's directory (in ar). */
tflc_code_t tf_sm_read(ar_t *ar, const char *path, Tf__SavedModel **out,
                       const char **dir, const char **pb_path,
                       tflc_status_t *st);

/* The MetaGraph whose tag set is tags (comma-separated; NULL: "serve"):
 * the one with exactly these tags, else the only one holding them all.
 * An error lists the tag sets there are. */
tflc_code_t tf_sm_metagraph(const Tf__SavedModel *sm, const char *tags,
                            const char *file, Tf__MetaGraphDef **out,
                            tflc_status_t *st);

/* ---- inspect helpers (inspect.c) ----------------------------------- */

/* A count of ops by name, for histograms. */
typedef struct tf_hist {
    const char **ops;
    size_t *counts;
    size_t n, cap;
} tf_hist_t;
int tf_hist_add(ar_t *ar, tf_hist_t *h, const char *op);
/* Sorts by count (descending), then name. */
void tf_hist_sort(tf_hist_t *h);

#endif /* TFLC_TF_H */
