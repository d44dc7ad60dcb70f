/*
 * writer.h -- internals of the .tflite writer (writer.c) that tests use.
 * The public entry points are tflc_model_write and tflc_model_write_file.
 */
#ifndef TFLC_TFLITE_WRITER_H
#define TFLC_TFLITE_WRITER_H

#include "../ir/ir.h"

/* tflc_model_write with the FlatBuffer size limit as a parameter (the public
 * call uses FBB_MAX_SIZE). A small limit lets a test take the path that
 * moves buffer data after the FlatBuffer, as for a model over 2 GiB.
 * where names the output in messages. */
tflc_code_t tfl_write(const ir_model_t *m, tflc_emit_fn emit, void *user,
                      const tflc_write_options_t *opt, uint64_t fbb_limit, const char *where,
                      tflc_status_t *st);

/* Bytes placed after the FlatBuffer after the last external buffer: 16
 * zero bytes (XNNPack may read up to 16 bytes past a weight), then padding
 * to 16, as TF's exporter does. */
#define TFL_EXT_TAIL 16

#endif /* TFLC_TFLITE_WRITER_H */
