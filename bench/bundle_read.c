/*
 * bundle_read.c -- benchmark driver: what a conversion must at least do
 * with a checkpoint. Opens the TensorBundle at PREFIX in a model (shards
 * mapped, not copied), reads every tensor (every byte's crc32c checked),
 * and, given OUT, writes all tensor bytes one after another to OUT (as the
 * .tflite writer streams weights). Prints the tensor count and bytes.
 *
 *   bundle_read PREFIX [OUT]
 *
 * Built by bench/run.sh against the library's internal headers; not part
 * of the library or the CLI. Exit 0 on success, 1 with the errors printed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "frontend/tf/bundle.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bundle_read PREFIX [OUT]\n");
        return 2;
    }
    tflc_status_t *st = tflc_status_new();
    ir_model_t *m = ir_model_new();
    FILE *out = NULL;
    tf_bundle_t *b = NULL;
    int rc = 1;
    uint64_t bytes = 0;
    if (!st || !m || tf_bundle_open(m, argv[1], &b, st) != TFLC_OK)
        goto done;
    if (argc == 3 && !(out = fopen(argv[2], "wb"))) {
        perror(argv[2]);
        goto done;
    }
    for (size_t i = 0; i < tf_bundle_count(b); i++) {
        tfg_tensor_t t;
        if (tf_bundle_get(b, tf_bundle_key(b, i), &t, st) != TFLC_OK)
            goto done;
        if (out && t.size && fwrite(t.data, 1, (size_t)t.size, out) != t.size) {
            perror(argv[2]);
            goto done;
        }
        bytes += t.size;
    }
    if (out) {
        int e = fclose(out);
        out = NULL;
        if (e) {
            perror(argv[2]);
            goto done;
        }
    }
    printf("%zu tensors, %llu bytes\n", tf_bundle_count(b),
           (unsigned long long)bytes);
    rc = 0;
done:
    if (out)
        fclose(out);
    tflc_status_print(st, stderr);
    tflc_model_free(m);
    tflc_status_free(st);
    return rc;
}
