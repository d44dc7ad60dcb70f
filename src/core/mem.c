/* mem.c -- the allocator hook, failure injection, and DIE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void *std_malloc(size_t n, void *u) { (void)u; return malloc(n); }
static void *std_realloc(void *p, size_t n, void *u) { (void)u; return realloc(p, n); }
static void std_free(void *p, void *u) { (void)u; free(p); }

static tflc_allocator_t g_alloc = {std_malloc, std_realloc, std_free, NULL};
static long g_fail_after; /* 0: never; else fail when it counts down to 0 */

void tflc_set_allocator(const tflc_allocator_t *a)
{
    if (a)
        g_alloc = *a;
    else
        g_alloc = (tflc_allocator_t){std_malloc, std_realloc, std_free, NULL};
}

void mem_fail_after(long n) { g_fail_after = n; }

static int should_fail(void)
{
    if (g_fail_after <= 0)
        return 0;
    return --g_fail_after == 0;
}

void *mem_alloc(size_t size)
{
    if (should_fail())
        return NULL;
    return g_alloc.malloc_fn(size ? size : 1, g_alloc.user);
}

void *mem_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = mem_alloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *mem_realloc(void *p, size_t size)
{
    if (should_fail())
        return NULL;
    if (!p)
        return g_alloc.malloc_fn(size ? size : 1, g_alloc.user);
    return g_alloc.realloc_fn(p, size ? size : 1, g_alloc.user);
}

void mem_free(void *p)
{
    if (p)
        g_alloc.free_fn(p, g_alloc.user);
}

char *mem_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = mem_alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

_Noreturn void tflc_die(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tflc: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
