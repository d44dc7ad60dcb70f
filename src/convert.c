/*
 * convert.c -- tflc_convert: the whole conversion as plain calls.
 *
 *   detect      ik_detect                       what the input path holds
 *   import      tflc_model_read_file (tfl_read)         .tflite
 *             | tf_load_saved_model -> lg_tf_to_ir      SavedModel, per signature
 *             | tf_load_graph_def   -> lg_tf_to_ir      GraphDef
 *             | keras_import                            .h5 / .keras
 *   verify      ir_verify                       the front-end's IR is sound
 *   optimize    pass_optimize                   fold, fuse, dead code
 *   verify      ir_verify                       the passes kept it sound
 *   metadata    md_add_conversion_metadata      not for a .tflite input,
 *                                               which keeps its own
 *   export      tflc_model_write_file           the caller's step
 *
 * Contract: on success *out is the converted model (the caller frees it);
 * on failure *out is NULL, st holds one message per problem (every
 * unsupported op of every graph, not just the first), and the first error's
 * code is returned. Nothing is written to disk here.
 */
#include <string.h>

#include "inspect/detect.h"
#include "pipeline.h"

void tflc_convert_options_init(tflc_convert_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->input_kind = TFLC_INPUT_AUTO;
}

/* SavedModel / GraphDef: load the graphs, then legalize each into its own
 * subgraph and signature. All graphs are legalized even after one fails,
 * so the user sees every unsupported op at once. */
static tflc_code_t import_tf(ir_model_t *m, const tflc_convert_options_t *opt,
                             tflc_input_kind_t kind, tflc_status_t *st)
{
    tfg_graph_t *graphs = NULL;
    size_t n = 0;
    tflc_code_t rc = kind == TFLC_INPUT_SAVED_MODEL
                         ? tf_load_saved_model(m, opt, &graphs, &n, st)
                         : tf_load_graph_def(m, opt, &graphs, &n, st);
    if (rc != TFLC_OK)
        return rc;
    if (n == 0 || !graphs)
        return st_err(st, TFLC_ERR_INVALID, opt->input_path,
                      "no graph to convert");
    for (size_t i = 0; i < n; i++) {
        tflc_code_t r = lg_tf_to_ir(m, &graphs[i], opt, st);
        if (rc == TFLC_OK)
            rc = r;
    }
    return rc;
}

/* The directory part of path, in the arena: "a/b/saved_model.pb" -> "a/b". */
static char *dir_name(ar_t *ar, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ar_strdup(ar, ".");
    return ar_strndup(ar, path, slash == path ? 1 : (size_t)(slash - path));
}

/* Reads the input into a new model (*out; NULL on failure). For the
 * front-ends that build a model, o->input_path is moved into the model's
 * arena (as its directory when dir_of_file), so that whatever they keep
 * pointing at it lives as long as the model. */
static tflc_code_t import(tflc_convert_options_t *o, int dir_of_file,
                          ir_model_t **out, tflc_status_t *st)
{
    *out = NULL;
    if (o->input_kind == TFLC_INPUT_TFLITE)
        return tflc_model_read_file(o->input_path, out, st);

    ir_model_t *m = ir_model_new();
    char *path = !m ? NULL
                 : dir_of_file ? dir_name(&m->arena, o->input_path)
                               : ar_strdup(&m->arena, o->input_path);
    if (!path) {
        tflc_model_free(m);
        return st_oom(st, o->input_path);
    }
    m->source = path;
    o->input_path = path;
    tflc_code_t rc = o->input_kind == TFLC_INPUT_KERAS
                         ? keras_import(m, o, st)
                         : import_tf(m, o, o->input_kind, st);
    if (rc != TFLC_OK) {
        tflc_model_free(m);
        return rc;
    }
    *out = m;
    return TFLC_OK;
}

/* ir_verify, its messages prefixed with the input and the stage. */
static tflc_code_t verify(ir_model_t *m, const char *path, const char *stage,
                          tflc_status_t *st)
{
    char where[1024];
    snprintf(where, sizeof where, "%s: IR %s", path, stage);
    return ir_verify(m, where, st);
}

/* The pipeline after import, in order; stops at the first failing stage. */
static tflc_code_t run_stages(ir_model_t *m, const tflc_convert_options_t *opt,
                              tflc_input_kind_t kind, tflc_status_t *st)
{
    const char *path = opt->input_path;
    tflc_code_t rc = verify(m, path, "after import", st);
    if (rc == TFLC_OK)
        rc = pass_optimize(m, opt, st);
    if (rc == TFLC_OK)
        rc = verify(m, path, "after optimization", st);
    if (rc == TFLC_OK && kind != TFLC_INPUT_TFLITE)
        rc = md_add_conversion_metadata(m, opt, st);
    return rc;
}

tflc_code_t tflc_convert(const tflc_convert_options_t *opt,
                         tflc_model_t **out, tflc_status_t *st)
{
    if (out)
        *out = NULL;
    if (!opt || !out)
        return st_err(st, TFLC_ERR_INVALID, NULL, "tflc_convert: no options or no output");
    if (!opt->input_path || !*opt->input_path)
        return st_err(st, TFLC_ERR_INVALID, NULL, "no input model given");

    /* A local copy: detection fills in the kind, and import moves the path
     * into the model's arena. */
    tflc_convert_options_t o = *opt;
    int dir_of_file = 0;
    tflc_code_t rc = TFLC_OK;
    if (o.input_kind == TFLC_INPUT_AUTO)
        rc = ik_detect(opt->input_path, &o.input_kind, &dir_of_file, st);
    else
        rc = ik_exists(opt->input_path, st);
    if (rc != TFLC_OK)
        return rc;
    ir_model_t *m = NULL;
    rc = import(&o, dir_of_file, &m, st);
    if (rc == TFLC_OK)
        rc = run_stages(m, &o, o.input_kind, st);
    if (rc != TFLC_OK) {
        tflc_model_free(m);
        return rc;
    }
    *out = m;
    return TFLC_OK;
}
