/*
 * keras_inspect.c -- `tflc inspect` of a Keras .h5 / .keras file: the
 * Keras version and backend, the model's class and name, its inputs and
 * outputs, and every layer call with its class, output shape (as tflc
 * computes it while lowering), parameter count and inputs; then what
 * would stop a conversion, if anything.
 *
 * Contract: prints text (or one JSON object with TFLC_INSPECT_JSON) to
 * out. Returns an error only when the file cannot be read or its config
 * parsed; conversion problems are printed as part of the report.
 */
#include <string.h>

#include "../../pipeline.h"
#include "keras.h"

static const char *shape_text(const keras_val_t *v, char *buf, size_t n)
{
    return keras_dims_str(v->dims, v->rank, buf, n);
}

/* A layer's parameter count, from the file (-1: unreadable). */
static int64_t params_of(keras_file_t *f, const keras_layer_t *l)
{
    if (l->sub) {
        int64_t n = 0;
        for (uint32_t i = 0; i < l->sub->n_layers; i++) {
            int64_t k = params_of(f, &l->sub->layers[i]);
            if (k < 0)
                return -1;
            n += k;
        }
        return n;
    }
    if (strcmp(l->cls, "InputLayer") == 0)
        return 0;
    return keras_file_count(f, l->wgroup, l->winner);
}

static void inputs_text(const keras_layer_t *l, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (uint32_t c = 0; c < l->n_calls && c < 1; c++)
        for (uint32_t i = 0; i < l->calls[c].n_in && k < n; i++)
            k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", l->calls[c].in[i].layer);
}

static void print_text(FILE *out, keras_file_t *f, const keras_config_t *cfg,
                       const keras_walk_t *w, const tflc_status_t *problems)
{
    const keras_model_t *m = cfg->model;
    char buf[256], ib[256];
    fprintf(out, "Keras model '%s' (%s)\n", m->name, m->cls);
    fprintf(out, "file: %s (%s), Keras %s%s%s\n", f->path,
            f->format == KERAS_FMT_ZIP ? "Keras 3 .keras archive" : "HDF5",
            *f->keras_version ? f->keras_version : "version unknown",
            *f->backend ? ", backend " : "", f->backend);
    fprintf(out, "\ninputs:\n");
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        const keras_val_t *v = &w->inputs[i];
        fprintf(out, "  %-24s %s%s\n", m->inputs[i].layer, ir_dtype_name(v->dtype),
                v->t >= 0 || v->rank ? shape_text(v, buf, sizeof buf) : "");
    }
    fprintf(out, "outputs:\n");
    for (uint32_t i = 0; i < m->n_outputs; i++) {
        const keras_val_t *v = &w->outputs[i];
        fprintf(out, "  %-24s %s%s\n", m->outputs[i].layer, v->t >= 0 ? ir_dtype_name(v->dtype) : "?",
                v->t >= 0 ? shape_text(v, buf, sizeof buf) : "");
    }
    fprintf(out, "\nlayers:\n  %-28s %-22s %-20s %10s  %s\n", "name", "class", "output shape",
            "params", "inputs");
    int64_t total = 0;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const keras_layer_t *l = &m->layers[i];
        const keras_layer_info_t *li = NULL;
        for (size_t k = 0; k < w->n_info && !li; k++)
            if (w->info[k].layer == l)
                li = &w->info[k];
        const char *shape = "?";
        if (strcmp(l->cls, "InputLayer") == 0) {
            for (uint32_t k = 0; k < m->n_inputs; k++)
                if (strcmp(m->inputs[k].layer, l->name) == 0)
                    shape = shape_text(&w->inputs[k], buf, sizeof buf);
        } else if (li && li->ok && li->n_out) {
            shape = shape_text(&li->out[0], buf, sizeof buf);
        } else if (li || l->reported) {
            shape = "(not converted)";
        }
        int64_t p = params_of(f, l);
        if (p > 0)
            total += p;
        inputs_text(l, ib, sizeof ib);
        char ps[32];
        snprintf(ps, sizeof ps, p < 0 ? "?" : "%lld", (long long)p);
        fprintf(out, "  %-28s %-22s %-20s %10s  %s\n", l->name, l->cls, shape, ps, ib);
    }
    fprintf(out, "\ntotal params: %lld\n", (long long)total);
    size_t n = tflc_status_count(problems);
    if (n) {
        fprintf(out, "\nconversion problems (%zu):\n", n);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "  %s\n", tflc_status_message(problems, i));
    } else {
        fprintf(out, "\nconverts: yes\n");
    }
}

static cJSON *shape_json(const keras_val_t *v)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < v->rank; i++)
        cJSON_AddItemToArray(a, v->dims[i] < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)v->dims[i]));
    return a;
}

static int print_json(FILE *out, keras_file_t *f, const keras_config_t *cfg,
                      const keras_walk_t *w, const tflc_status_t *problems)
{
    const keras_model_t *m = cfg->model;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return -1;
    cJSON_AddStringToObject(j, "format", f->format == KERAS_FMT_ZIP ? "keras" : "h5");
    cJSON_AddStringToObject(j, "keras_version", f->keras_version);
    cJSON_AddStringToObject(j, "backend", f->backend);
    cJSON_AddStringToObject(j, "model_class", m->cls);
    cJSON_AddStringToObject(j, "model_name", m->name);
    cJSON *ins = cJSON_AddArrayToObject(j, "inputs"), *outs = cJSON_AddArrayToObject(j, "outputs");
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->inputs[i].layer);
        cJSON_AddStringToObject(o, "dtype", ir_dtype_name(w->inputs[i].dtype));
        cJSON_AddItemToObject(o, "shape", shape_json(&w->inputs[i]));
        cJSON_AddItemToArray(ins, o);
    }
    for (uint32_t i = 0; i < m->n_outputs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->outputs[i].layer);
        if (w->outputs[i].t >= 0) {
            cJSON_AddStringToObject(o, "dtype", ir_dtype_name(w->outputs[i].dtype));
            cJSON_AddItemToObject(o, "shape", shape_json(&w->outputs[i]));
        }
        cJSON_AddItemToArray(outs, o);
    }
    cJSON *layers = cJSON_AddArrayToObject(j, "layers");
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const keras_layer_t *l = &m->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->name);
        cJSON_AddStringToObject(o, "class", l->cls);
        for (size_t k = 0; k < w->n_info; k++)
            if (w->info[k].layer == l && w->info[k].ok && w->info[k].n_out) {
                cJSON_AddItemToObject(o, "output_shape", shape_json(&w->info[k].out[0]));
                break;
            }
        int64_t p = params_of(f, l);
        if (p >= 0)
            cJSON_AddNumberToObject(o, "params", (double)p);
        cJSON *in = cJSON_AddArrayToObject(o, "inputs");
        for (uint32_t k = 0; l->n_calls && k < l->calls[0].n_in; k++)
            cJSON_AddItemToArray(in, cJSON_CreateString(l->calls[0].in[k].layer));
        cJSON_AddItemToArray(layers, o);
    }
    cJSON *pr = cJSON_AddArrayToObject(j, "problems");
    for (size_t i = 0; i < tflc_status_count(problems); i++)
        cJSON_AddItemToArray(pr, cJSON_CreateString(tflc_status_message(problems, i)));
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s)
        return -1;
    fprintf(out, "%s\n", s);
    cJSON_free(s);
    return 0;
}

tflc_code_t keras_inspect(const char *path, FILE *out, unsigned flags, tflc_status_t *st)
{
    keras_json_hooks();
    ir_model_t *m = ir_model_new();
    tflc_status_t *problems = tflc_status_new();
    if (!m || !problems) {
        tflc_model_free(m);
        tflc_status_free(problems);
        return st_oom(st, path);
    }
    keras_file_t f;
    keras_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    tflc_code_t rc = keras_file_open(&f, &m->arena, path, st);
    if (rc == TFLC_OK) {
        rc = keras_config_parse(&cfg, &f, &m->arena, st);
        if (rc == TFLC_OK) {
            keras_ctx_t c;
            keras_walk_t w;
            memset(&c, 0, sizeof c);
            memset(&w, 0, sizeof w);
            c.m = m;
            c.file = &f;
            c.cfg = &cfg;
            c.st = problems;
            keras_lower_model(&c, &w);
            if (!w.inputs || !w.outputs) {
                rc = st_err(st, c.first ? c.first : TFLC_ERR_NOMEM, path, "cannot inspect the model");
                for (size_t i = 0; i < tflc_status_count(problems); i++)
                    st_err(st, c.first, NULL, "%s", tflc_status_message(problems, i));
            } else if (flags & TFLC_INSPECT_JSON) {
                if (print_json(out, &f, &cfg, &w, problems))
                    rc = st_oom(st, path);
            } else {
                print_text(out, &f, &cfg, &w, problems);
            }
        }
        keras_config_free(&cfg);
        keras_file_close(&f);
    }
    tflc_status_free(problems);
    tflc_model_free(m);
    return rc;
}
