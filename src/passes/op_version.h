/*
 * op_version.h -- the operator version TF's converter writes for a TFLite
 * operator, from its builtin code, tensor types and options (the facts of
 * TF's op_version.cc; see op_version.c).
 */
#ifndef TFLC_OP_VERSION_H
#define TFLC_OP_VERSION_H

#include "../ir/ir.h"

/* The version of op in sg (>= 1). Custom ops keep their version. */
int32_t pass_op_version(const ir_model_t *m, const ir_subgraph_t *sg, const ir_op_t *op);

/* Sets every builtin operator's version in sg. Run again after passes that
 * change types, inputs or options (fusion). */
void pass_set_op_versions(const ir_model_t *m, ir_subgraph_t *sg);

#endif /* TFLC_OP_VERSION_H */
