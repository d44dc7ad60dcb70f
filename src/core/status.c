/* status.c -- error lists with places. */
#include <stdio.h>
#include <string.h>

#include "core.h"

typedef struct msg {
    tflc_code_t code;
    char *text;
} msg_t;

struct tflc_status {
    msg_t *msgs;
    size_t n, cap;
    size_t dropped;   /* errors past ST_MAX */
    char *summary;    /* "... and N more errors" */
};

tflc_status_t *tflc_status_new(void) { return mem_calloc(1, sizeof(tflc_status_t)); }

void tflc_status_clear(tflc_status_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        mem_free(st->msgs[i].text);
    mem_free(st->msgs);
    mem_free(st->summary);
    memset(st, 0, sizeof *st);
}

void tflc_status_free(tflc_status_t *st)
{
    tflc_status_clear(st);
    mem_free(st);
}

tflc_code_t tflc_status_code(const tflc_status_t *st)
{
    return st && st->n ? st->msgs[0].code : TFLC_OK;
}

size_t tflc_status_count(const tflc_status_t *st)
{
    return st ? st->n + (st->dropped ? 1 : 0) : 0;
}

size_t st_errors(const tflc_status_t *st) { return st ? st->n + st->dropped : 0; }

const char *tflc_status_message(const tflc_status_t *st, size_t i)
{
    if (!st)
        return NULL;
    if (i < st->n)
        return st->msgs[i].text;
    if (i == st->n && st->dropped) {
        tflc_status_t *m = (tflc_status_t *)st;
        mem_free(m->summary);
        char buf[64];
        snprintf(buf, sizeof buf, "... and %zu more errors", st->dropped);
        m->summary = mem_strdup(buf);
        return m->summary ? m->summary : "... and more errors";
    }
    return NULL;
}

void tflc_status_print(const tflc_status_t *st, FILE *out)
{
    for (size_t i = 0; i < tflc_status_count(st); i++)
        fprintf(out, "error: %s\n", tflc_status_message(st, i));
}

const char *tflc_code_name(tflc_code_t c)
{
    switch (c) {
    case TFLC_OK: return "ok";
    case TFLC_ERR_IO: return "io";
    case TFLC_ERR_FORMAT: return "format";
    case TFLC_ERR_UNSUPPORTED: return "unsupported";
    case TFLC_ERR_INVALID: return "invalid";
    case TFLC_ERR_NOMEM: return "out of memory";
    }
    return "unknown";
}

tflc_code_t st_verr(tflc_status_t *st, tflc_code_t code, const char *where,
                    const char *fmt, va_list ap)
{
    if (!st)
        return code;
    if (st->n >= ST_MAX) {
        st->dropped++;
        return code;
    }
    char buf[1024];
    int k = 0;
    if (where && *where)
        k = snprintf(buf, sizeof buf, "%s: ", where);
    if (k < 0 || (size_t)k >= sizeof buf)
        k = 0;
    vsnprintf(buf + k, sizeof buf - (size_t)k, fmt, ap);
    if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 8;
        msg_t *nm = mem_realloc(st->msgs, nc * sizeof *nm);
        if (!nm) {
            st->dropped++;
            return code;
        }
        st->msgs = nm;
        st->cap = nc;
    }
    char *t = mem_strdup(buf);
    if (!t) {
        st->dropped++;
        return code;
    }
    st->msgs[st->n].code = code;
    st->msgs[st->n].text = t;
    st->n++;
    return code;
}

tflc_code_t st_err(tflc_status_t *st, tflc_code_t code, const char *where,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_verr(st, code, where, fmt, ap);
    va_end(ap);
    return code;
}

tflc_code_t st_oom(tflc_status_t *st, const char *where)
{
    return st_err(st, TFLC_ERR_NOMEM, where, "out of memory");
}
