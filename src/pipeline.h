/*
 * pipeline.h -- the stages of a conversion, as tflc_convert (convert.c)
 * calls them in order:
 *
 *   import      tfl_read | tf_load_saved_model, tf_load_graph_def -> lg_tf_to_ir
 *               | keras_import                      (front-ends: IR out)
 *   verify      ir_verify
 *   optimize    pass_optimize                       (fold, fuse, dead code)
 *   verify      ir_verify
 *   metadata    md_add_conversion_metadata
 *   export      tflc_model_write_file               (the caller)
 *
 * Every stage appends its errors to st and returns the first code.
 */
#ifndef TFLC_PIPELINE_H
#define TFLC_PIPELINE_H

#include <stdio.h>

#include "frontend/tf/tfg.h"
#include "ir/ir.h"

/* TFLite reader (tflite/reader.c): parses a .tflite held in data[0..size)
 * into m, which must be new (ir_model_new). Buffers point into data, so
 * data must outlive m (keep it with ir_model_keep_map). name is for
 * messages. */
tflc_code_t tfl_read(ir_model_t *m, const uint8_t *data, size_t size,
                     const char *name, tflc_status_t *st);

/* TF front-end (frontend/tf/): loads the signatures asked for in opt as
 * graphs in m's arena; checkpoint shards are mapped and kept by m. */
tflc_code_t tf_load_saved_model(ir_model_t *m, const tflc_convert_options_t *opt,
                                tfg_graph_t **graphs, size_t *n_graphs,
                                tflc_status_t *st);
tflc_code_t tf_load_graph_def(ir_model_t *m, const tflc_convert_options_t *opt,
                              tfg_graph_t **graphs, size_t *n_graphs,
                              tflc_status_t *st);
/* tflc inspect of a SavedModel directory or a GraphDef .pb. */
tflc_code_t tf_inspect(const char *path, FILE *out, unsigned flags,
                       tflc_status_t *st);

/* Legalization (passes/legalize_tf.c): adds one subgraph and one signature
 * def for graph g to m. Lists every unsupported op at once. */
tflc_code_t lg_tf_to_ir(ir_model_t *m, const tfg_graph_t *g,
                        const tflc_convert_options_t *opt, tflc_status_t *st);

/* Keras front-end (frontend/keras/): reads an .h5 or .keras file into m
 * as one subgraph with the serving_default signature. */
tflc_code_t keras_import(ir_model_t *m, const tflc_convert_options_t *opt,
                         tflc_status_t *st);
tflc_code_t keras_inspect(const char *path, FILE *out, unsigned flags,
                          tflc_status_t *st);

/* Optimisation passes (passes/optimize.c): constant folding, fusion, dead
 * code and identity removal, in order, until nothing changes. */
tflc_code_t pass_optimize(ir_model_t *m, const tflc_convert_options_t *opt,
                          tflc_status_t *st);

/* Metadata (convert.c): min_runtime_version and CONVERSION_METADATA. */
tflc_code_t md_add_conversion_metadata(ir_model_t *m,
                                       const tflc_convert_options_t *opt,
                                       tflc_status_t *st);

#endif /* TFLC_PIPELINE_H */
