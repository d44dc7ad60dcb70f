/*
 * detect.c -- ik_detect: what kind of model a path holds.
 *
 * Contract: looks at the path (stat, the first 8 bytes, the name) and
 * nothing more; never parses the model. Content wins over the extension
 * where the content is certain: a file named .pb that starts with the HDF5
 * signature is a Keras file. Errors name the path.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "detect.h"

static const uint8_t hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

const char *ik_name(tflc_input_kind_t kind)
{
    switch (kind) {
    case TFLC_INPUT_AUTO: return "auto";
    case TFLC_INPUT_TFLITE: return "TFLite";
    case TFLC_INPUT_SAVED_MODEL: return "SavedModel";
    case TFLC_INPUT_GRAPH_DEF: return "GraphDef";
    case TFLC_INPUT_KERAS: return "Keras";
    }
    return "?";
}

/* Case-insensitive test of the name's extension (ext includes the dot). */
static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), k = strlen(ext);
    if (n < k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        char a = path[n - k + i], b = ext[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int dir_has_saved_model(const char *dir)
{
    char buf[4096];
    struct stat sb;
    int n = snprintf(buf, sizeof buf, "%s/saved_model.pb", dir);
    if (n < 0 || (size_t)n >= sizeof buf)
        return 0;
    return stat(buf, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Reads up to 8 bytes of the file's head; returns how many, or -1. */
static int read_head(const char *path, uint8_t head[8], tflc_status_t *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        st_err(st, TFLC_ERR_IO, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    size_t n = fread(head, 1, 8, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        st_err(st, TFLC_ERR_IO, path, "cannot read");
        return -1;
    }
    return (int)n;
}

tflc_code_t ik_exists(const char *path, tflc_status_t *st)
{
    struct stat sb;
    if (!path || !*path)
        return st_err(st, TFLC_ERR_INVALID, NULL, "no input path given");
    if (stat(path, &sb) != 0)
        return st_err(st, TFLC_ERR_IO, path, "cannot open: %s", strerror(errno));
    return TFLC_OK;
}

tflc_code_t ik_detect(const char *path, tflc_input_kind_t *kind,
                      int *dir_of_file, tflc_status_t *st)
{
    struct stat sb;
    *kind = TFLC_INPUT_AUTO;
    *dir_of_file = 0;
    if (!path || !*path)
        return st_err(st, TFLC_ERR_INVALID, NULL, "no input path given");
    if (stat(path, &sb) != 0)
        return st_err(st, TFLC_ERR_IO, path, "cannot open: %s", strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        if (!dir_has_saved_model(path))
            return st_err(st, TFLC_ERR_FORMAT, path,
                          "a directory without saved_model.pb is not a SavedModel");
        *kind = TFLC_INPUT_SAVED_MODEL;
        return TFLC_OK;
    }
    if (!S_ISREG(sb.st_mode))
        return st_err(st, TFLC_ERR_IO, path, "not a regular file or directory");

    uint8_t head[8] = {0};
    int n = read_head(path, head, st);
    if (n < 0)
        return TFLC_ERR_IO;
    if (n == 8 && memcmp(head, hdf5_sig, 8) == 0)
        *kind = TFLC_INPUT_KERAS;
    else if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
        *kind = TFLC_INPUT_KERAS;   /* a Keras 3 .keras file is a zip */
    else if (n == 8 && memcmp(head + 4, "TFL3", 4) == 0)
        *kind = TFLC_INPUT_TFLITE;
    else if (strcmp(base_name(path), "saved_model.pb") == 0) {
        *kind = TFLC_INPUT_SAVED_MODEL;
        *dir_of_file = 1;
    } else if (has_ext(path, ".pb"))
        *kind = TFLC_INPUT_GRAPH_DEF;
    else if (has_ext(path, ".h5") || has_ext(path, ".hdf5") || has_ext(path, ".keras"))
        *kind = TFLC_INPUT_KERAS;
    else if (has_ext(path, ".tflite"))
        *kind = TFLC_INPUT_TFLITE;
    else if (n == 0)
        return st_err(st, TFLC_ERR_FORMAT, path, "empty file");
    else
        return st_err(st, TFLC_ERR_FORMAT, path,
                      "cannot tell what kind of model this is: not a SavedModel "
                      "directory, and neither a .tflite (no \"TFL3\" at byte 4), "
                      "an HDF5 or zip Keras file, nor named .pb, .h5, .keras or "
                      ".tflite");
    return TFLC_OK;
}
