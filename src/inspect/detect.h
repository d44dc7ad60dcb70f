/*
 * detect.h -- ik_: telling what kind of model a path holds.
 *
 * Shared by tflc_convert (convert.c) and tflc_inspect_path (inspect.c) so
 * that both agree on what a path is.
 */
#ifndef TFLC_DETECT_H
#define TFLC_DETECT_H

#include "../core/core.h"

/* Decides the kind of model at path, by content where that is cheap and
 * certain (a directory holding saved_model.pb, the HDF5 signature, a zip
 * "PK" header, "TFL3" at offset 4) and by extension otherwise (.pb,
 * .h5/.hdf5/.keras, .tflite). A path naming a saved_model.pb file counts
 * as that SavedModel's directory: *dir_of_file is then set to 1 (else 0).
 * Sets *kind to a definite kind (never TFLC_INPUT_AUTO) and returns TFLC_OK,
 * or returns an error naming path (missing, unreadable, unknown kind). */
tflc_code_t ik_detect(const char *path, tflc_input_kind_t *kind,
                      int *dir_of_file, tflc_status_t *st);

/* TFLC_OK if path exists (file or directory), else an I/O error naming it:
 * the same message for every input kind, before any front-end runs. */
tflc_code_t ik_exists(const char *path, tflc_status_t *st);

/* "SavedModel", "GraphDef", ... for messages. */
const char *ik_name(tflc_input_kind_t kind);

#endif /* TFLC_DETECT_H */
