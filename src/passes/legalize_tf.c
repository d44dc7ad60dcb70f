/* legalize_tf.c -- STUB: replaced by its owner. */
#include "../pipeline.h"
tflc_code_t lg_tf_to_ir(ir_model_t *m, const tfg_graph_t *g, const tflc_convert_options_t *opt, tflc_status_t *st) { (void)m; (void)opt; return st_err(st, TFLC_ERR_UNSUPPORTED, g->source, "legalization: not implemented"); }
