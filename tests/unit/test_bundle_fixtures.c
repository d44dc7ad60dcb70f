/*
 * test_bundle_fixtures.c -- the TensorBundle reader on every checkpoint
 * TensorFlow wrote under ../shared/fixtures (each saved_model/variables/).
 *
 * For each: open, read every tensor (so every crc32c TF stored is checked,
 * and every string tensor decoded); TF2 checkpoints must hold their
 * object graph as a scalar string. Then, on copies in a temp dir:
 * - the TF-made index re-packed with snappy, small blocks and short
 *   restart intervals must give the same tensors, byte for byte;
 * - every truncation and byte flip of a real index must fail cleanly or
 *   (flips the format does not cover) still read; never crash (ASan);
 * - a flipped byte inside any tensor's data must fail that tensor's
 *   checksum, naming the shard, the offset and the key.
 * Values are checked against other TF-made files in tests/t_bundle_values.py,
 * which uses this program's dump mode:
 *
 *   test_bundle_fixtures dump PREFIX OUTDIR
 *       writes OUTDIR/keys.tsv (index, key, dtype, shape) and
 *       OUTDIR/<index>.npy for every numeric tensor of the bundle.
 *
 * Exits 77 (skipped) when the fixtures are absent.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_bundle_util.h"

static char g_tmp[256];

/* ---- dump mode ---- */

static int dump(const char *prefix, const char *outdir)
{
    tflc_status_t *st = tflc_status_new();
    ir_model_t *m = ir_model_new();
    tf_bundle_t *b = NULL;
    int rc = 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/keys.tsv", outdir);
    FILE *keys = fopen(path, "w");
    if (!keys || tf_bundle_open(m, prefix, &b, st) != TFLC_OK) {
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < tf_bundle_count(b); i++) {
        tfg_tensor_t t;
        const char *key = tf_bundle_key(b, i);
        if (tf_bundle_get(b, key, &t, st) != TFLC_OK) {
            rc = 1;
            continue;
        }
        fprintf(keys, "%zu\t%s\t%d\t", i, key, (int)t.dtype);
        for (int32_t k = 0; k < t.shape.rank; k++)
            fprintf(keys, "%s%lld", k ? "," : "", (long long)t.shape.dims[k]);
        fprintf(keys, "\n");
        snprintf(path, sizeof path, "%s/%zu.npy", outdir, i);
        if (tb_npy_descr(t.dtype) && tb_write_npy(path, &t) != 0)
            rc = 1;
    }
out:
    if (keys)
        fclose(keys);
    tflc_status_print(st, stderr);
    tflc_model_free(m);
    tflc_status_free(st);
    return rc;
}

/* ---- helpers ---- */

/* st holds a message containing a and b. */
static int has_msg(const tflc_status_t *st, const char *a, const char *b)
{
    for (size_t i = 0; i < tflc_status_count(st); i++) {
        const char *msg = tflc_status_message(st, i);
        if (strstr(msg, a) && (!b || strstr(msg, b)))
            return 1;
    }
    return 0;
}

/* Links (or copies) the data shards of prefix next to dst_prefix. */
static void link_shards(const char *prefix, const char *dst_prefix, int copy)
{
    const char *slash = strrchr(prefix, '/');
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - prefix), prefix);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *p = strstr(de->d_name, ".data-");
        if (!p || strncmp(de->d_name, slash + 1, (size_t)(p - de->d_name)) != 0)
            continue;
        char src[2048], dst[2048];
        snprintf(src, sizeof src, "%s/%s", dir, de->d_name);
        snprintf(dst, sizeof dst, "%s%s", dst_prefix, p);
        unlink(dst);
        if (copy) {
            tb_buf_t b;
            CHECK(tb_read_file(src, &b) == 0 && tb_write_file(dst, b.p, b.n) == 0);
            tb_free(&b);
        } else {
            CHECK(symlink(src, dst) == 0);
        }
    }
    if (d)
        closedir(d);
}

typedef struct kvs {
    tb_kv_t *kv;
    size_t n, cap;
} kvs_t;

static tflc_code_t keep_kv(void *user, const char *key, size_t key_len,
                           const uint8_t *val, size_t val_len, uint64_t off)
{
    (void)off;
    kvs_t *k = user;
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->kv = realloc(k->kv, k->cap * sizeof *k->kv);
    }
    char *kc = malloc(key_len + 1);
    uint8_t *vc = malloc(val_len + 1);
    memcpy(kc, key, key_len + 1);
    memcpy(vc, val, val_len);
    k->kv[k->n++] = (tb_kv_t){kc, key_len, vc, val_len};
    return TFLC_OK;
}

static void free_kvs(kvs_t *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free((void *)k->kv[i].key);
        free((void *)k->kv[i].val);
    }
    free(k->kv);
    memset(k, 0, sizeof *k);
}

/* ---- the checks ---- */

/* Reads every tensor of prefix; returns the bundle (in m) or NULL. */
static tf_bundle_t *read_all(ir_model_t *m, const char *prefix, size_t *bytes,
                             tflc_status_t *st)
{
    tf_bundle_t *b = NULL;
    if (tf_bundle_open(m, prefix, &b, st) != TFLC_OK)
        return NULL;
    for (size_t i = 0; i < tf_bundle_count(b); i++) {
        tfg_tensor_t t;
        const char *key = tf_bundle_key(b, i);
        if (tf_bundle_get(b, key, &t, st) != TFLC_OK)
            return NULL;
        const tf_bundle_entry_t *e = tf_bundle_entry(b, i);
        if (t.dtype != e->dtype || (uint64_t)e->size != t.size)
            return NULL;
        *bytes += t.size;
    }
    return b;
}

/* The TF-made index re-packed with snappy and other block layouts reads
 * the same tensors. */
static void check_repack(const char *prefix, tf_bundle_t *orig, ir_model_t *om)
{
    (void)om;
    char ipath[1100];
    snprintf(ipath, sizeof ipath, "%s.index", prefix);
    tb_buf_t idx;
    CHECK(tb_read_file(ipath, &idx) == 0);
    kvs_t k = {0};
    CHECK(sst_scan(idx.p, idx.n, ipath, keep_kv, &k, NULL) == TFLC_OK);
    tb_table_opts_t opts[] = {{1, 0, 0}, {1, 3, 1}, {0, 2, 5}};
    for (size_t o = 0; o < ARRAY_LEN(opts); o++) {
        char rp[512], path[600];
        snprintf(rp, sizeof rp, "%s/repack%zu", g_tmp, o);
        snprintf(path, sizeof path, "%s.index", rp);
        tb_buf_t t = {0};
        tb_table(&t, k.kv, k.n, &opts[o]);
        CHECK(tb_write_file(path, t.p, t.n) == 0);
        tb_free(&t);
        link_shards(prefix, rp, 0);
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        tf_bundle_t *b = NULL;
        CHECK(tf_bundle_open(m, rp, &b, st) == TFLC_OK);
        CHECK(b && tf_bundle_count(b) == tf_bundle_count(orig));
        for (size_t i = 0; b && i < tf_bundle_count(b); i++) {
            tfg_tensor_t x, y;
            const char *key = tf_bundle_key(orig, i);
            CHECK(strcmp(key, tf_bundle_key(b, i)) == 0);
            CHECK(tf_bundle_get(b, key, &x, st) == TFLC_OK);
            CHECK(tf_bundle_get(orig, key, &y, st) == TFLC_OK);
            CHECK(x.size == y.size && x.n_strings == y.n_strings &&
                  (x.size == 0 || memcmp(x.data, y.data, x.size) == 0));
        }
        tflc_status_print(st, stderr);
        tflc_model_free(m);
        tflc_status_free(st);
    }
    free_kvs(&k);
    tb_free(&idx);
}

/* Truncations and flips of a real index; flips in each tensor's data. */
static void check_hostile(const char *prefix)
{
    char ipath[1100], cp[512], cpath[600];
    snprintf(ipath, sizeof ipath, "%s.index", prefix);
    snprintf(cp, sizeof cp, "%s/hostile", g_tmp);
    snprintf(cpath, sizeof cpath, "%s.index", cp);
    tb_buf_t idx;
    CHECK(tb_read_file(ipath, &idx) == 0);
    link_shards(prefix, cp, 1);
    size_t bad_truncations = 0;
    for (size_t r = 0; r < 2 * idx.n; r++) {
        size_t i = r % idx.n, n = r < idx.n ? i : idx.n;
        if (r >= idx.n)
            idx.p[i] ^= 0x81;
        CHECK(tb_write_file(cpath, idx.p, n) == 0);
        if (r >= idx.n)
            idx.p[i] ^= 0x81;
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        size_t bytes = 0;
        tf_bundle_t *b = read_all(m, cp, &bytes, st);
        if (r < idx.n && b)
            bad_truncations++;
        if (!b && tflc_status_count(st) == 0)
            CHECK(!"an error without a message");
        tflc_model_free(m);
        tflc_status_free(st);
    }
    CHECK(bad_truncations == 0);
    CHECK(tb_write_file(cpath, idx.p, idx.n) == 0);
    tb_free(&idx);

    /* A flipped byte in the middle of each tensor. */
    tflc_status_t *st = tflc_status_new();
    ir_model_t *m = ir_model_new();
    tf_bundle_t *b = NULL;
    CHECK(tf_bundle_open(m, cp, &b, st) == TFLC_OK);
    for (size_t i = 0; b && i < tf_bundle_count(b); i++) {
        const tf_bundle_entry_t *e = tf_bundle_entry(b, i);
        if (e->size == 0)
            continue;
        const char *sp = tf_bundle_shard_path(b, e->shard_id);
        tb_buf_t d;
        CHECK(sp != NULL);
        if (!sp)
            break;
        CHECK(tb_read_file(sp, &d) == 0);
        size_t at = (size_t)e->offset + (size_t)e->size / 2;
        d.p[at] ^= 0x04;
        CHECK(tb_write_file(sp, d.p, d.n) == 0);
        tflc_status_t *st2 = tflc_status_new();
        ir_model_t *m2 = ir_model_new();
        tf_bundle_t *b2 = NULL;
        tfg_tensor_t t;
        CHECK(tf_bundle_open(m2, cp, &b2, st2) == TFLC_OK);
        CHECK(b2 && tf_bundle_get(b2, e->key, &t, st2) == TFLC_ERR_FORMAT);
        char want[1024];
        snprintf(want, sizeof want, "%s: offset %lld: ", sp, (long long)e->offset);
        CHECK(has_msg(st2, want, e->key));
        if (!has_msg(st2, "checksum mismatch", NULL))
            CHECK(e->dtype == TF_STRING);  /* may trip a string check first */
        tflc_model_free(m2);
        tflc_status_free(st2);
        d.p[at] ^= 0x04;
        CHECK(tb_write_file(sp, d.p, d.n) == 0);
        tb_free(&d);
    }
    tflc_model_free(m);
    tflc_status_free(st);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "dump") == 0)
        return dump(argv[2], argv[3]);
    const char *fix = getenv("TFLC_FIXTURES");
    DIR *d = fix ? opendir(fix) : NULL;
    if (!d) {
        printf("SKIP: no fixtures (TFLC_FIXTURES=%s)\n", fix ? fix : "");
        return 77;
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tflc_bundle_fix_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char *names[512];
    size_t n_names = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n_names < ARRAY_LEN(names))
        if (de->d_name[0] != '.')
            names[n_names++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n_names, sizeof names[0], by_name);
    size_t n_bundles = 0, n_tensors = 0, n_tf2 = 0;
    int hostile_done = 0;
    for (size_t i = 0; i < n_names; i++) {
        char prefix[1024], ipath[1100];
        snprintf(prefix, sizeof prefix, "%s/%s/saved_model/variables/variables",
                 fix, names[i]);
        snprintf(ipath, sizeof ipath, "%s.index", prefix);
        if (access(ipath, R_OK) != 0)
            continue;
        n_bundles++;
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        size_t bytes = 0;
        tf_bundle_t *b = read_all(m, prefix, &bytes, st);
        if (!b) {
            fprintf(stderr, "%s: FAILED\n", names[i]);
            tflc_status_print(st, stderr);
            tb_failures++;
        } else {
            n_tensors += tf_bundle_count(b);
            long g = tf_bundle_find(b, "_CHECKPOINTABLE_OBJECT_GRAPH");
            if (g >= 0) {
                tfg_tensor_t t;
                n_tf2++;
                CHECK(tf_bundle_get(b, "_CHECKPOINTABLE_OBJECT_GRAPH", &t, st) ==
                      TFLC_OK);
                CHECK(t.dtype == TF_STRING && t.shape.rank == 0 &&
                      t.n_strings == 1 && t.string_lens[0] > 0);
            }
            printf("%-45s %4zu tensors %9zu bytes%s\n", names[i],
                   tf_bundle_count(b), bytes, g >= 0 ? " (TF2)" : "");
            check_repack(prefix, b, m);
            /* The hostile pass on one small TF2 checkpoint and one TF1. */
            if ((hostile_done & (g >= 0 ? 1 : 2)) == 0 && bytes < 200000) {
                check_hostile(prefix);
                hostile_done |= g >= 0 ? 1 : 2;
            }
        }
        tflc_model_free(m);
        tflc_status_free(st);
    }
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    printf("%zu bundles, %zu tensors, %zu TF2 object graphs\n", n_bundles,
           n_tensors, n_tf2);
    CHECK(n_bundles > 0);
    CHECK(hostile_done == 3);
    if (tb_failures) {
        fprintf(stderr, "test_bundle_fixtures: %d failure(s)\n", tb_failures);
        return 1;
    }
    return 0;
}
