/* reader.c -- STUB: replaced by its owner. */
#include "../pipeline.h"
tflc_code_t tfl_read(ir_model_t *m, const uint8_t *data, size_t size, const char *name, tflc_status_t *st) { (void)m; (void)data; (void)size; return st_err(st, TFLC_ERR_UNSUPPORTED, name, "not implemented"); }
