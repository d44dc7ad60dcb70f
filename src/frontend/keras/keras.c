/* keras.c -- STUB: replaced by its owner. */
#include "../../pipeline.h"
tflc_code_t keras_import(ir_model_t *m, const tflc_convert_options_t *opt, tflc_status_t *st) { (void)m; return st_err(st, TFLC_ERR_UNSUPPORTED, opt->input_path, "Keras: not implemented"); }
tflc_code_t keras_inspect(const char *path, FILE *out, unsigned flags, tflc_status_t *st) { (void)out; (void)flags; return st_err(st, TFLC_ERR_UNSUPPORTED, path, "not implemented"); }
