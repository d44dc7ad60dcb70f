/*
 * bundle.h -- reading a TensorBundle: the checkpoint format of a
 * SavedModel's variables/ folder (TF's "V2" checkpoints).
 *
 * A bundle with prefix P is
 *   P.index                    a LevelDB-format table: key "" holds a
 *                              BundleHeaderProto, every other key (a
 *                              variable's checkpoint name) a BundleEntryProto
 *   P.data-00000-of-0000N ...  the tensors' bytes, one file per shard
 *
 *     tf_bundle_t *b;
 *     if (tf_bundle_open(m, "sm/variables/variables", &b, st) == TFLC_OK) {
 *         tfg_tensor_t t;
 *         if (tf_bundle_get(b, "dense/kernel/.ATTRIBUTES/VARIABLE_VALUE",
 *                           &t, st) == TFLC_OK)
 *             ... t.data points into the mapped shard ...
 *     }
 *
 * Memory: everything lives in m->arena, and the shards are mapped and kept
 * by m (ir_model_keep_map), so a bundle and the tensors it gives stay valid
 * until the model is freed; there is no close function.
 *
 * Errors name the file and the place (key, byte offset). Hostile input
 * (truncated or corrupt index, sizes or offsets that lie, bad checksums,
 * missing shards) gives an error, never a read outside a file.
 *
 * Not supported (an error saying so): partitioned variables (entries with
 * slices), big-endian bundles, DT_VARIANT and DT_RESOURCE tensors.
 */
#ifndef TFLC_TF_BUNDLE_H
#define TFLC_TF_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../ir/ir.h"
#include "tfg.h"

typedef struct tf_bundle tf_bundle_t;

/* What the index says about one tensor, before its bytes are read. */
typedef struct tf_bundle_entry {
    const char *key;
    int32_t dtype;        /* tf_dtype_t value, unchecked */
    tfg_shape_t shape;    /* rank -1 when the index says unknown rank */
    int32_t shard_id;
    int64_t offset, size; /* bytes in the shard, unchecked */
    uint32_t crc32c;      /* masked crc32c of the bytes, as stored */
    uint32_t n_slices;    /* > 0: a partitioned variable */
} tf_bundle_entry_t;

/* Opens the bundle with the given prefix (".../variables/variables"):
 * reads and checks prefix.index (footer, block checksums, entry encoding,
 * key order, header), then maps every data shard the header announces and
 * hands the mappings to m. A missing or unreadable shard is an error
 * naming the file. *out is NULL on failure. */
tflc_code_t tf_bundle_open(ir_model_t *m, const char *prefix, tf_bundle_t **out,
                           tflc_status_t *st);

/* Number of tensors (the header entry excluded), and the i-th key in the
 * index's (sorted) order. */
size_t tf_bundle_count(const tf_bundle_t *b);
const char *tf_bundle_key(const tf_bundle_t *b, size_t i);
/* Entry i (i < count), for listing without reading data. */
const tf_bundle_entry_t *tf_bundle_entry(const tf_bundle_t *b, size_t i);
/* The index of key, or -1 when the bundle has no such key. Raises nothing. */
long tf_bundle_find(const tf_bundle_t *b, const char *key);

/* Reads tensor key into *out: dtype, shape (a copy in the arena), and
 * - for fixed-size dtypes, data pointing into the mapped shard (no copy;
 *   not necessarily aligned: read it with memcpy) and size in bytes;
 * - for DT_STRING, n_strings strings copied into the arena, each also
 *   NUL-terminated (string_lens excludes the NUL); data/size give the
 *   encoded bytes in the shard.
 * Checks the bytes lie inside their shard, match dtype and shape, and
 * match the stored crc32c (verified once per entry, then remembered).
 * An unknown key is an error naming only the key, in the index file. */
tflc_code_t tf_bundle_get(tf_bundle_t *b, const char *key, tfg_tensor_t *out,
                          tflc_status_t *st);

/* The prefix, the index file name and shard k's file name (NULL when k is
 * out of range), for messages. */
const char *tf_bundle_prefix(const tf_bundle_t *b);
const char *tf_bundle_index_path(const tf_bundle_t *b);
const char *tf_bundle_shard_path(const tf_bundle_t *b, int32_t k);

#endif /* TFLC_TF_BUNDLE_H */
