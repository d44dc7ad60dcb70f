/*
 * test_keras_oom.c -- the Keras front-end when memory runs out: keras_import
 * of real Keras files (.h5 and .keras, from the shared fixtures) with the
 * n-th allocation failing, for n = 1, 2, ... up to the number of
 * allocations a clean import makes (counted through the allocator hook;
 * every one at first, then sparser). Every run must end in TFLC_OK or an
 * error in the
 * status (never a crash, a leak or an error without a message); run it
 * under ASan to check the cleanup paths. Skips (exit 0 with a message)
 * without the fixtures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "pipeline.h"

static long g_allocs;
static void *count_malloc(size_t n, void *u) { (void)u; g_allocs++; return malloc(n); }
static void *count_realloc(void *p, size_t n, void *u) { (void)u; g_allocs++; return realloc(p, n); }
static void count_free(void *p, void *u) { (void)u; free(p); }

/* One import; returns its code. */
static tflc_code_t import(const char *path, ir_model_t **out, tflc_status_t *st)
{
    *out = ir_model_new();
    if (!*out)
        return TFLC_ERR_NOMEM;
    tflc_convert_options_t opt;
    tflc_convert_options_init(&opt);
    opt.input_path = path;
    opt.input_kind = TFLC_INPUT_KERAS;
    return keras_import(*out, &opt, st);
}

static int check_file(const char *path, long max_runs)
{
    int bad = 0;
    long n = 1, runs = 0;
    /* A clean import, counting its allocations. */
    tflc_allocator_t counting = {count_malloc, count_realloc, count_free, NULL};
    tflc_set_allocator(&counting);
    g_allocs = 0;
    tflc_status_t *st0 = tflc_status_new();
    ir_model_t *m0 = NULL;
    tflc_code_t rc0 = import(path, &m0, st0);
    long total = g_allocs;
    tflc_set_allocator(NULL);
    tflc_model_free(m0);
    tflc_status_free(st0);
    if (rc0 != TFLC_OK) {
        fprintf(stderr, "%s: does not import without failures (%d)\n", path, rc0);
        return 1;
    }
    for (; n <= total && runs < max_runs; runs++) {
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = NULL;
        tflc_code_t rc = TFLC_ERR_NOMEM;
        mem_fail_after(n);
        if (st)
            rc = import(path, &m, st);
        mem_fail_after(0);
        if (rc != TFLC_OK && m && tflc_status_count(st) == 0) {
            fprintf(stderr, "%s: failing allocation %ld: error %d without a message\n", path, n, rc);
            bad = 1;
        }
        if (rc == TFLC_OK && m) {
            /* A model that imported must be sound. */
            tflc_status_t *v = tflc_status_new();
            if (v && ir_verify(m, path, v) != TFLC_OK) {
                fprintf(stderr, "%s: failing allocation %ld: the imported model does not verify\n", path, n);
                tflc_status_print(v, stderr);
                bad = 1;
            }
            tflc_status_free(v);
        }
        tflc_model_free(m);
        tflc_status_free(st);
        /* Every allocation early on, then sparser. */
        n = n < 300 ? n + 1 : n + n / 20;
    }
    printf("%s: %ld allocations, %ld runs with one failing, %s\n", path, total, runs,
           bad ? "FAILED" : "ok");
    return bad;
}

int main(void)
{
    const char *fix = getenv("TFLC_FIXTURES");
    if (!fix || !*fix) {
        printf("skip: TFLC_FIXTURES is not set\n");
        return 0;
    }
    static const char *const files[] = {
        "h5_diabetes_mlp_keras/model/linear.h5",
        "keras3_mnist_cnn_gowtham/model/mnist_model.keras",
        "h5_tiny_ic_resnet8/model/pretrainedResnet.h5",
        "keras3_lstm_temp_pitdagosti/model/model_50_sens.keras",
    };
    int bad = 0, seen = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", fix, files[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fclose(f);
        seen++;
        bad |= check_file(path, 3000);
    }
    if (!seen)
        printf("skip: no Keras fixtures under %s\n", fix);
    return bad;
}
