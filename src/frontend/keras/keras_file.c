/*
 * keras_file.c -- the containers Keras saves models in.
 *
 *   .h5     (Keras 2, tf.keras, Keras 3 legacy h5): an HDF5 file whose root
 *           has the attributes model_config (JSON), keras_version and
 *           backend; the weights are under /model_weights/<layer>/, listed
 *           in order by the group's weight_names attribute (split into
 *           weight_names0, weight_names1... when it is large).
 *   .keras  (Keras 3): a zip holding config.json, metadata.json
 *           ({"keras_version": ...}) and model.weights.h5, an HDF5 file
 *           where a layer's variables are the datasets <path>/vars/0..N-1.
 *
 * Contract: keras_file_open reads the config and version strings into the
 * arena and keeps the HDF5 file open for keras_file_weights, which reads a
 * layer's weights as float32 into the arena. Every size read from the
 * file is checked before it is used; HDF5's own error printing is off
 * between open and close (and restored after). Errors name the path.
 */
#include <hdf5.h>
#include <string.h>
#include <zip.h>

#include "keras.h"

/* Limits against hostile files: text attributes and zip members. */
#define MAX_TEXT ((size_t)1 << 28)
#define MAX_WEIGHTS_FILE ((zip_uint64_t)1 << 36)
#define MAX_STRINGS 1000000

/* ---- HDF5 helpers ---- */

/* Whether loc has the object at a relative path, checking each component
 * (H5Lexists fails when an intermediate one is missing). */
static int h5_exists(hid_t loc, const char *path)
{
    char buf[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 0; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char save = buf[i];
        buf[i] = '\0';
        if (i > 0 && H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
            return 0;
        buf[i] = save;
    }
    return 1;
}

/* Reads a string or string-array attribute into ar: *out[0..*n). Returns 1
 * when read, 0 when absent, -1 when present but not strings or unreadable. */
static int h5_attr_strings(hid_t obj, const char *name, ar_t *ar, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (H5Aexists(obj, name) <= 0)
        return 0;
    int rc = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = a < 0 ? -1 : H5Aget_type(a);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a);
    hid_t mt = -1;
    void *tmp = NULL;
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING)
        goto done;
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    if (cnt < 0 || cnt > MAX_STRINGS)
        goto done;
    char **v = ar_calloc(ar, (size_t)cnt + 1, sizeof *v);
    /* The memory type keeps the file's character set: HDF5 does not
     * convert between ASCII and UTF-8 strings (h5py writes UTF-8). */
    if (!v || (mt = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0)
        goto done;
    htri_t vl = H5Tis_variable_str(ft);
    if (vl > 0) {
        char **p = tmp = mem_calloc((size_t)cnt + 1, sizeof *p);
        if (!p || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Aread(a, mt, p) < 0)
            goto done;
        int ok = 1;
        for (hssize_t i = 0; i < cnt; i++)
            if (!(v[i] = ar_strdup(ar, p[i] ? p[i] : "")))
                ok = 0;
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, p);
        if (!ok)
            goto done;
    } else if (vl == 0) {
        size_t sz = H5Tget_size(ft);
        if (sz == 0 || sz > MAX_TEXT || (size_t)cnt > MAX_TEXT / sz)
            goto done;
        char *buf = tmp = mem_alloc((size_t)cnt * sz + 1);
        if (!buf || H5Tset_size(mt, sz) < 0 || H5Tset_strpad(mt, H5T_STR_NULLPAD) < 0 ||
            H5Aread(a, mt, buf) < 0)
            goto done;
        for (hssize_t i = 0; i < cnt; i++) {
            const char *s = buf + (size_t)i * sz;
            if (!(v[i] = ar_strndup(ar, s, strnlen(s, sz))))
                goto done;
        }
    } else {
        goto done;
    }
    *out = v;
    *n = (size_t)cnt;
    rc = 1;
done:
    mem_free(tmp);
    if (mt >= 0)
        H5Tclose(mt);
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

/* A string attribute as one string ("" when absent); -1 when malformed. */
static int h5_attr_string(hid_t obj, const char *name, ar_t *ar, const char **out)
{
    char **v;
    size_t n;
    int r = h5_attr_strings(obj, name, ar, &v, &n);
    *out = r > 0 && n > 0 ? v[0] : "";
    return r < 0 ? -1 : 0;
}

/* Keras splits attributes that would pass HDF5's 64 KiB header limit into
 * name0, name1, ...; this reads either form. Same returns as above. */
static int h5_attr_chunked(hid_t obj, const char *name, ar_t *ar, char ***out, size_t *n)
{
    int r = h5_attr_strings(obj, name, ar, out, n);
    if (r != 0)
        return r;
    char **all = NULL;
    size_t n_all = 0, cap = 0;
    for (int k = 0;; k++) {
        char key[128];
        snprintf(key, sizeof key, "%s%d", name, k);
        char **v;
        size_t m;
        r = h5_attr_strings(obj, key, ar, &v, &m);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        for (size_t i = 0; i < m; i++)
            if (AR_PUSH(ar, all, n_all, cap, v[i]))
                return -1;
    }
    *out = all;
    *n = n_all;
    return all ? 1 : 0;
}

/* Reads dataset `name` under loc as float32 into w. */
static tflc_code_t h5_read_weight(hid_t loc, const char *name, ar_t *ar, keras_weight_t *w,
                                  const char *where, tflc_status_t *st)
{
    tflc_code_t rc = TFLC_ERR_FORMAT;
    const char *why = "cannot be read";
    memset(w, 0, sizeof *w);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t sp = ds < 0 ? -1 : H5Dget_space(ds);
    hid_t ft = ds < 0 ? -1 : H5Dget_type(ds);
    if (ds < 0 || sp < 0 || ft < 0)
        goto done;
    H5T_class_t cls = H5Tget_class(ft);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        why = "is not numeric";
        goto done;
    }
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd < 0 || nd > KERAS_MAX_RANK) {
        why = "has an unsupported rank";
        goto done;
    }
    hsize_t dims[KERAS_MAX_RANK];
    if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
        goto done;
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] > (hsize_t)INT32_MAX || (dims[i] && n > ((int64_t)1 << 34) / (int64_t)dims[i])) {
            why = "is too large";
            goto done;
        }
        n *= (int64_t)dims[i];
        w->dims[i] = (int64_t)dims[i];
    }
    /* A dataset may claim elements it does not store (fill values); Keras
     * never writes such, and a hostile file could make us allocate a lot. */
    size_t esz = H5Tget_size(ft);
    hsize_t stored = H5Dget_storage_size(ds);
    if (n > 0 && (double)n * (double)esz > (double)stored * 1024.0 + 65536.0) {
        why = "claims far more data than the file stores";
        goto done;
    }
    w->rank = (uint32_t)nd;
    w->n = n;
    float *buf = ar_alloc(ar, (size_t)(n ? n : 1) * sizeof(float));
    if (!buf) {
        rc = TFLC_ERR_NOMEM;
        why = "does not fit in memory";
        goto done;
    }
    if (n && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        goto done;
    w->data = buf;
    w->name = ar_strdup(ar, name);
    rc = w->name ? TFLC_OK : TFLC_ERR_NOMEM;
done:
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    if (ds >= 0)
        H5Dclose(ds);
    if (rc != TFLC_OK)
        return st_err(st, rc, where, "weight '%s' %s", name, why);
    return TFLC_OK;
}

/* ---- opening ---- */

static void silence_hdf5(keras_file_t *f)
{
    H5E_auto2_t func = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    f->h5_err_func = (void *)(uintptr_t)func;
    f->h5_err_data = data;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void keras_file_close(keras_file_t *f)
{
    if (!f)
        return;
    if (f->wroot >= 0)
        H5Gclose((hid_t)f->wroot);
    if (f->h5 >= 0)
        H5Fclose((hid_t)f->h5);
    f->wroot = f->h5 = -1;
    mem_free(f->zip_image);
    f->zip_image = NULL;
    if (f->h5_err_func || f->h5_err_data)
        H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)(uintptr_t)f->h5_err_func, f->h5_err_data);
    f->h5_err_func = f->h5_err_data = NULL;
}

/* File access properties: closing the file closes every object still open
 * in it (after an error inside HDF5 some may be), so no id outlives it. */
static hid_t strong_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

static tflc_code_t open_h5(keras_file_t *f, ar_t *ar, tflc_status_t *st)
{
    hid_t fapl = strong_fapl();
    hid_t fid = fapl < 0 ? -1 : H5Fopen(f->path, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (fid < 0)
        return st_err(st, TFLC_ERR_FORMAT, f->path,
                      "not a readable HDF5 file (truncated or corrupt?)");
    f->h5 = fid;
    char **cfg;
    size_t n;
    int r = h5_attr_strings(fid, "model_config", ar, &cfg, &n);
    if (r < 0 || (r > 0 && n != 1))
        return st_err(st, TFLC_ERR_FORMAT, f->path, "the model_config attribute is not a string");
    if (r == 0)
        return st_err(st, TFLC_ERR_FORMAT, f->path,
                      "no model_config attribute: this .h5 holds weights only "
                      "(model.save_weights), not a model; save it with model.save()");
    f->config = cfg[0];
    if (h5_attr_string(fid, "keras_version", ar, &f->keras_version) < 0 ||
        h5_attr_string(fid, "backend", ar, &f->backend) < 0)
        return st_err(st, TFLC_ERR_FORMAT, f->path, "malformed keras_version or backend attribute");
    const char *grp = h5_exists(fid, "model_weights") ? "model_weights" : "/";
    f->wroot = H5Gopen2(fid, grp, H5P_DEFAULT);
    if (f->wroot < 0)
        return st_err(st, TFLC_ERR_FORMAT, f->path, "cannot open the %s group", grp);
    if (!*f->keras_version) {
        const char *v = "";
        if (h5_attr_string((hid_t)f->wroot, "keras_version", ar, &v) == 0)
            f->keras_version = v;
    }
    return TFLC_OK;
}

/* Reads zip member name into a new buffer (mem_; NUL-terminated). Returns
 * 1 when read, 0 when absent, -1 after raising an error. */
static int zip_member(zip_t *z, const char *path, const char *name, zip_uint64_t max,
                      char **out, size_t *size, tflc_status_t *st)
{
    *out = NULL;
    *size = 0;
    zip_stat_t sb;
    zip_stat_init(&sb);
    if (zip_stat(z, name, 0, &sb) < 0)
        return 0;
    if (!(sb.valid & ZIP_STAT_SIZE) || sb.size > max) {
        st_err(st, TFLC_ERR_FORMAT, path, "zip member %s has a bad size", name);
        return -1;
    }
    char *buf = mem_alloc((size_t)sb.size + 1);
    if (!buf) {
        st_oom(st, path);
        return -1;
    }
    zip_file_t *zf = zip_fopen(z, name, 0);
    zip_int64_t got = zf ? zip_fread(zf, buf, sb.size) : -1;
    if (zf)
        zip_fclose(zf);
    if (got < 0 || (zip_uint64_t)got != sb.size) {
        mem_free(buf);
        st_err(st, TFLC_ERR_FORMAT, path, "zip member %s cannot be read (truncated or corrupt?)",
               name);
        return -1;
    }
    buf[sb.size] = '\0';
    *out = buf;
    *size = (size_t)sb.size;
    return 1;
}

/* The "keras_version" of metadata.json; "" when absent. */
static const char *meta_version(ar_t *ar, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "keras_version");
    const char *s = ar_strdup(ar, cJSON_IsString(v) ? v->valuestring : "");
    cJSON_Delete(j);
    return s ? s : "";
}

static tflc_code_t open_zip(keras_file_t *f, ar_t *ar, tflc_status_t *st)
{
    int zerr = 0;
    zip_t *z = zip_open(f->path, ZIP_RDONLY, &zerr);
    if (!z) {
        zip_error_t e;
        zip_error_init_with_code(&e, zerr);
        tflc_code_t rc = st_err(st, TFLC_ERR_FORMAT, f->path, "not a readable .keras zip: %s",
                                zip_error_strerror(&e));
        zip_error_fini(&e);
        return rc;
    }
    tflc_code_t rc = TFLC_OK;
    char *text = NULL, *image = NULL;
    size_t size = 0;
    int r = zip_member(z, f->path, "config.json", MAX_TEXT, &text, &size, st);
    if (r <= 0) {
        rc = r < 0 ? TFLC_ERR_FORMAT
                   : st_err(st, TFLC_ERR_FORMAT, f->path, "no config.json in the .keras archive");
        goto done;
    }
    if (!(f->config = ar_strdup(ar, text))) {
        rc = st_oom(st, f->path);
        goto done;
    }
    mem_free(text);
    text = NULL;
    f->keras_version = "";
    f->backend = "";
    r = zip_member(z, f->path, "metadata.json", MAX_TEXT, &text, &size, st);
    if (r < 0) {
        rc = TFLC_ERR_FORMAT;
        goto done;
    }
    if (r > 0)
        f->keras_version = meta_version(ar, text);
    r = zip_member(z, f->path, "model.weights.h5", MAX_WEIGHTS_FILE, &image, &size, st);
    if (r <= 0) {
        rc = r < 0 ? TFLC_ERR_FORMAT
                   : st_err(st, TFLC_ERR_FORMAT, f->path,
                            "no model.weights.h5 in the .keras archive");
        goto done;
    }
    /* HDF5 opens the weights from memory: the core driver with a file
     * image (copied by HDF5, so ours is freed right after). */
    hid_t fapl = strong_fapl();
    hid_t fid = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
        H5Pset_file_image(fapl, image, size) >= 0) {
        char name[64];
        snprintf(name, sizeof name, "tflc-keras-%p.h5", (void *)f);
        fid = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (fid < 0) {
        rc = st_err(st, TFLC_ERR_FORMAT, f->path,
                    "model.weights.h5 in the archive is not a readable HDF5 file");
        goto done;
    }
    f->h5 = fid;
    f->wroot = H5Gopen2(fid, "/", H5P_DEFAULT);
    if (f->wroot < 0)
        rc = st_err(st, TFLC_ERR_FORMAT, f->path, "model.weights.h5 has no root group");
done:
    mem_free(text);
    mem_free(image);
    zip_discard(z);
    return rc;
}

tflc_code_t keras_file_open(keras_file_t *f, ar_t *ar, const char *path, tflc_status_t *st)
{
    memset(f, 0, sizeof *f);
    f->h5 = f->wroot = -1;
    f->path = path;
    f->keras_version = f->backend = "";
    unsigned char magic[8] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return st_err(st, TFLC_ERR_IO, path, "cannot open the file");
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    silence_hdf5(f);
    tflc_code_t rc;
    if (got >= 4 && memcmp(magic, "PK\003\004", 4) == 0) {
        f->format = KERAS_FMT_ZIP;
        rc = open_zip(f, ar, st);
    } else if (got == 8 && memcmp(magic, hdf5_sig, 8) == 0) {
        f->format = KERAS_FMT_H5;
        rc = open_h5(f, ar, st);
    } else {
        rc = st_err(st, TFLC_ERR_FORMAT, path,
                    "neither an HDF5 (.h5) nor a zip (.keras) file");
    }
    if (rc != TFLC_OK)
        keras_file_close(f);
    return rc;
}

/* ---- weights ---- */

int keras_file_has_group(keras_file_t *f, const char *group)
{
    return f->wroot >= 0 && h5_exists((hid_t)f->wroot, group);
}

/* Whether one of name's path segments, other than the last, is seg. */
static int has_segment(const char *name, const char *seg)
{
    size_t k = strlen(seg);
    for (const char *p = name; *p;) {
        const char *e = strchr(p, '/');
        if (!e)
            return 0;
        if ((size_t)(e - p) == k && strncmp(p, seg, k) == 0)
            return 1;
        p = e + 1;
    }
    return 0;
}

static tflc_code_t weights_h5(keras_file_t *f, ar_t *ar, const char *group, const char *inner,
                              keras_weight_t **out, size_t *n, const char *where,
                              tflc_status_t *st)
{
    if (!h5_exists((hid_t)f->wroot, group))
        return TFLC_OK;
    hid_t g = H5Gopen2((hid_t)f->wroot, group, H5P_DEFAULT);
    if (g < 0)
        return st_err(st, TFLC_ERR_FORMAT, where, "cannot open weight group '%s'", group);
    char **names;
    size_t k;
    tflc_code_t rc = TFLC_OK;
    int r = h5_attr_chunked(g, "weight_names", ar, &names, &k);
    if (r < 0) {
        rc = st_err(st, TFLC_ERR_FORMAT, where, "malformed weight_names in group '%s'", group);
    } else if (k) {
        keras_weight_t *w = ar_calloc(ar, k, sizeof *w);
        size_t m = 0;
        if (!w)
            rc = st_oom(st, where);
        for (size_t i = 0; rc == TFLC_OK && i < k; i++) {
            if (inner && !has_segment(names[i], inner))
                continue;
            if (!h5_exists(g, names[i]))
                rc = st_err(st, TFLC_ERR_FORMAT, where,
                            "weight '%s' is listed in weight_names but missing from the file",
                            names[i]);
            else
                rc = h5_read_weight(g, names[i], ar, &w[m++], where, st);
        }
        *out = w;
        *n = rc == TFLC_OK ? m : 0;
    }
    H5Gclose(g);
    return rc;
}

static tflc_code_t weights_zip(keras_file_t *f, ar_t *ar, const char *group,
                               keras_weight_t **out, size_t *n, const char *where,
                               tflc_status_t *st)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/vars", group);
    if (!h5_exists((hid_t)f->wroot, path))
        return TFLC_OK;
    hid_t g = H5Gopen2((hid_t)f->wroot, path, H5P_DEFAULT);
    if (g < 0)
        return st_err(st, TFLC_ERR_FORMAT, where, "cannot open weight group '%s'", path);
    keras_weight_t *w = NULL;
    size_t m = 0, cap = 0;
    tflc_code_t rc = TFLC_OK;
    for (int i = 0; rc == TFLC_OK && i < 4096; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
            break;
        keras_weight_t x;
        rc = h5_read_weight(g, name, ar, &x, where, st);
        if (rc == TFLC_OK && AR_PUSH(ar, w, m, cap, x))
            rc = st_oom(st, where);
    }
    H5Gclose(g);
    *out = w;
    *n = rc == TFLC_OK ? m : 0;
    return rc;
}

typedef struct count_ctx {
    const char *inner;
    int64_t n;
} count_ctx_t;

static herr_t count_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    count_ctx_t *cc = data;
    (void)info;
    if (cc->inner && !has_segment(name, cc->inner))
        return 0;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);   /* fails quietly on groups */
    if (ds < 0)
        return 0;
    hid_t sp = H5Dget_space(ds);
    hssize_t k = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (k > 0)
        cc->n += k;
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(ds);
    return cc->n > ((int64_t)1 << 50) ? 1 : 0;
}

int64_t keras_file_count(keras_file_t *f, const char *group, const char *inner)
{
    if (f->wroot < 0 || !group || !h5_exists((hid_t)f->wroot, group))
        return 0;
    hid_t g = H5Gopen2((hid_t)f->wroot, group, H5P_DEFAULT);
    if (g < 0)
        return -1;
    count_ctx_t cc = {inner, 0};
    herr_t r = H5Lvisit(g, H5_INDEX_NAME, H5_ITER_NATIVE, count_cb, &cc);
    H5Gclose(g);
    return r < 0 ? -1 : cc.n;
}

tflc_code_t keras_file_weights(keras_file_t *f, ar_t *ar, const char *group, const char *inner,
                               keras_weight_t **out, size_t *n, const char *where,
                               tflc_status_t *st)
{
    *out = NULL;
    *n = 0;
    if (f->wroot < 0 || !group || !*group)
        return TFLC_OK;
    return f->format == KERAS_FMT_ZIP ? weights_zip(f, ar, group, out, n, where, st)
                                      : weights_h5(f, ar, group, inner, out, n, where, st);
}
