/*
 * fuzz_tflite.c -- libFuzzer target for the TFLite reader and the verifier.
 *
 * Each input is read as a .tflite in place (no copy, so ASan sees any read
 * past its end); a model that reads is verified. Any crash, hang, leak or
 * sanitizer report is a bug. With TFLC_FUZZ_WRITE=1 in the environment, a
 * model that verifies clean is also written, and what the writer produces
 * (when it accepts the model) must read and verify again; if not, the
 * target aborts with the messages.
 *
 * Build: cmake -DTFLC_FUZZ=ON -DTFLC_SANITIZE=ON with CC=clang; run e.g.
 *   mkdir corpus; copy the fixture .tflite files into it (not committed)
 *   ./tests/fuzz/fuzz_tflite corpus -max_total_time=300 -rss_limit_mb=2048
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tflc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
    uint8_t *p;
    size_t n, cap;
} sink_t;

static int collect(void *user, const void *p, size_t n)
{
    sink_t *s = user;
    if (s->n + n > s->cap) {
        size_t cap = (s->n + n) * 2;
        uint8_t *q = realloc(s->p, cap);
        if (!q)
            return -1;
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    return 0;
}

/* The writer's output for a model it accepted must read and verify. */
static void round_trip(const tflc_model_t *m)
{
    sink_t s = {NULL, 0, 0};
    tflc_status_t *st = tflc_status_new();
    if (tflc_model_write(m, collect, &s, NULL, st) == TFLC_OK) {
        tflc_model_t *back = NULL;
        if (tflc_model_read_memory(s.p, s.n, "written.tflite", 0, &back, st) != TFLC_OK ||
            tflc_model_verify(back, st) != TFLC_OK) {
            tflc_status_print(st, stderr);
            abort();
        }
        tflc_model_free(back);
    }
    tflc_status_free(st);
    free(s.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int write_too = -1;
    if (write_too < 0) {
        const char *w = getenv("TFLC_FUZZ_WRITE");
        write_too = w && *w == '1';
    }
    tflc_status_t *st = tflc_status_new();
    tflc_model_t *m = NULL;
    if (tflc_model_read_memory(data, size, "fuzz.tflite", 0, &m, st) == TFLC_OK &&
        tflc_model_verify(m, st) == TFLC_OK && write_too)
        round_trip(m);
    /* Format every message, as a user would see them. */
    for (size_t i = 0; i < tflc_status_count(st); i++)
        (void)tflc_status_message(st, i);
    tflc_model_free(m);
    tflc_status_free(st);
    return 0;
}
