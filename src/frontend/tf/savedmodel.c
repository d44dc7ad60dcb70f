/* savedmodel.c -- STUB: replaced by its owner. */
#include "../../pipeline.h"
tflc_code_t tf_load_saved_model(ir_model_t *m, const tflc_convert_options_t *opt, tfg_graph_t **g, size_t *n, tflc_status_t *st) { (void)m; (void)g; (void)n; return st_err(st, TFLC_ERR_UNSUPPORTED, opt->input_path, "SavedModel: not implemented"); }
tflc_code_t tf_load_graph_def(ir_model_t *m, const tflc_convert_options_t *opt, tfg_graph_t **g, size_t *n, tflc_status_t *st) { (void)m; (void)g; (void)n; return st_err(st, TFLC_ERR_UNSUPPORTED, opt->input_path, "GraphDef: not implemented"); }
tflc_code_t tf_inspect(const char *path, FILE *out, unsigned flags, tflc_status_t *st) { (void)out; (void)flags; return st_err(st, TFLC_ERR_UNSUPPORTED, path, "not implemented"); }
