/*
 * test_writer_models.c -- writes the models of test_writer_models.h as
 * .tflite files into a directory (argv[1], else $TFLC_TEST_OUT), for
 * t_writer_runtime.py to run in the TFLite runtime:
 *
 *   add.tflite            ADD of two float inputs
 *   add_mul_add.tflite    ADD, MUL, ADD (operator codes shared)
 *   fc_relu.tflite        FULLY_CONNECTED, constant weights and bias, RELU
 *   conv_same.tflite      CONV_2D, stride 2, padding SAME
 *   sig_int8.tflite       signature def, int8 quantization parameters
 *   gelu_reshape.tflite   builtin code > 127, a vector option
 *   fc_metadata.tflite    fc_relu with min_runtime_version and
 *                         CONVERSION_METADATA (md_add_conversion_metadata)
 *   fc_external.tflite    fc_relu with every weight after the FlatBuffer
 *                         (external_buffer_threshold = 8)
 *   fc_external_auto.tflite  fc_relu written as if over 2 GiB (the
 *                         FlatBuffer limit lowered to just below the size
 *                         it has with its data inline)
 *
 * On its own (ctest) it also checks that each file is what tflc_model_write
 * sends to an emitter, byte for byte, so the file path adds nothing.
 *
 *   test_writer_models --external IN.tflite OUT.tflite BYTES
 * reads IN and writes it to OUT with every buffer larger than BYTES placed
 * after the FlatBuffer (for t_writer_fixtures.py, on real models).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "test_writer_models.h"
#include "tflite/fb_build.h"
#include "tflite/writer.h"

static int failures;

typedef struct mem {
    uint8_t *p;
    size_t n;
} mem_t;

static int mem_emit(void *user, const void *data, size_t size)
{
    mem_t *o = user;
    uint8_t *q = realloc(o->p, o->n + size + 1);
    if (!q)
        return -1;
    o->p = q;
    memcpy(o->p + o->n, data, size);
    o->n += size;
    return 0;
}

static int file_emit(void *user, const void *data, size_t size)
{
    return fwrite(data, 1, size, user) == size ? 0 : -1;
}

/* Compares path's bytes with what the writer emits for m. */
static void same_as_emitted(const ir_model_t *m, const char *path, const tflc_write_options_t *opt,
                            uint64_t limit)
{
    mem_t o = {NULL, 0};
    tflc_status_t *st = tflc_status_new();
    if (tfl_write(m, mem_emit, &o, opt, limit, "memory", st)) {
        tflc_status_print(st, stderr);
        failures++;
    }
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(o.n + 1);
    size_t n = f && buf ? fread(buf, 1, o.n + 1, f) : 0;
    if (n != o.n || memcmp(buf, o.p, n) != 0) {
        fprintf(stderr, "%s: differs from the emitted bytes\n", path);
        failures++;
    }
    if (f)
        fclose(f);
    free(buf);
    free(o.p);
    tflc_status_free(st);
}

/* Writes m to dir/name with the public call, or with tfl_write and a
 * lowered FlatBuffer limit when limit != 0. Frees m. */
static void write_model(ir_model_t *m, const char *dir, const char *name,
                        const tflc_write_options_t *opt, uint64_t limit)
{
    if (!m) {
        fprintf(stderr, "%s: out of memory building the model\n", name);
        failures++;
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tflc_status_t *st = tflc_status_new();
    tflc_code_t c;
    if (limit) {
        FILE *f = fopen(path, "wb");
        c = f ? tfl_write(m, file_emit, f, opt, limit, path, st) : TFLC_ERR_IO;
        if (f && fclose(f))
            c = TFLC_ERR_IO;
    } else {
        c = tflc_model_write_file(m, path, opt, st);
    }
    if (c) {
        fprintf(stderr, "%s: write failed (%s)\n", path, tflc_code_name(c));
        tflc_status_print(st, stderr);
        failures++;
    } else {
        same_as_emitted(m, path, opt, limit ? limit : FBB_MAX_SIZE);
        printf("wrote %s\n", path);
    }
    tflc_status_free(st);
    tflc_model_free(m);
}

/* --external IN OUT BYTES */
static int rewrite_external(const char *in, const char *out, const char *bytes)
{
    tflc_status_t *st = tflc_status_new();
    tflc_model_t *m = NULL;
    tflc_write_options_t opt = {strtoull(bytes, NULL, 10)};
    tflc_code_t c = tflc_model_read_file(in, &m, st);
    if (!c)
        c = tflc_model_write_file(m, out, &opt, st);
    tflc_status_print(st, stderr);
    tflc_model_free(m);
    tflc_status_free(st);
    return c ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--external") == 0)
        return rewrite_external(argv[2], argv[3], argv[4]);
    const char *dir = argc > 1 ? argv[1] : getenv("TFLC_TEST_OUT");
    if (!dir) {
        fprintf(stderr, "usage: test_writer_models OUTDIR (or set TFLC_TEST_OUT)\n");
        return 2;
    }
    tflc_write_options_t ext = {8};
    write_model(wm_add(), dir, "add.tflite", NULL, 0);
    write_model(wm_add_mul_add(), dir, "add_mul_add.tflite", NULL, 0);
    write_model(wm_fc_relu(), dir, "fc_relu.tflite", NULL, 0);
    write_model(wm_conv_same(), dir, "conv_same.tflite", NULL, 0);
    write_model(wm_sig_int8(), dir, "sig_int8.tflite", NULL, 0);
    write_model(wm_gelu_reshape(), dir, "gelu_reshape.tflite", NULL, 0);
    ir_model_t *md = wm_fc_relu();
    tflc_convert_options_t copt;
    tflc_convert_options_init(&copt);
    copt.input_path = "model.h5";
    if (md && md_add_conversion_metadata(md, &copt, NULL)) {
        fprintf(stderr, "fc_metadata: md_add_conversion_metadata failed\n");
        failures++;
    }
    write_model(md, dir, "fc_metadata.tflite", NULL, 0);
    write_model(wm_fc_relu(), dir, "fc_external.tflite", &ext, 0);
    /* The size of fc_relu with its data inline, less one: too big. */
    mem_t inl = {NULL, 0};
    ir_model_t *fc = wm_fc_relu();
    if (!fc || tflc_model_write(fc, mem_emit, &inl, NULL, NULL) || inl.n < 2) {
        fprintf(stderr, "fc_relu: cannot write to memory\n");
        failures++;
    }
    tflc_model_free(fc);
    write_model(wm_fc_relu(), dir, "fc_external_auto.tflite", NULL, inl.n - 1);
    free(inl.p);
    if (failures) {
        fprintf(stderr, "test_writer_models: %d failures\n", failures);
        return 1;
    }
    return 0;
}
