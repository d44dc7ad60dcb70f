/* optimize.c -- STUB: replaced by its owner. */
#include "../pipeline.h"
tflc_code_t pass_optimize(ir_model_t *m, const tflc_convert_options_t *opt, tflc_status_t *st) { (void)m; (void)opt; (void)st; return TFLC_OK; }
