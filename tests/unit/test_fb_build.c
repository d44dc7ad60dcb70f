/*
 * test_fb_build.c -- the FlatBuffer builder on its own. Every buffer is read
 * back with the format's offset arithmetic written out here (root uoffset,
 * table soffset to its vtable, vtable entries, length-prefixed vectors),
 * not with the builder: alignment, default omission, vtable sharing,
 * unions, nesting, determinism, patching, the byte vectors read at emit
 * time, sticky errors and allocation failures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tflite/fb_build.h"

static int failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- A finished buffer in memory ---- */

typedef struct out {
    uint8_t *p;
    size_t n;
} out_t;

static int grow_emit(void *user, const void *data, size_t size)
{
    out_t *o = user;
    uint8_t *q = realloc(o->p, o->n + size + 1);
    if (!q)
        return -1;
    o->p = q;
    memcpy(o->p + o->n, data, size);
    o->n += size;
    return 0;
}

static out_t finish(fbb_t *b)
{
    out_t o = {NULL, 0};
    CHECK(fbb_error(b) == FBB_OK);
    CHECK(fbb_emit(b, grow_emit, &o) == 0);
    CHECK(o.n == fbb_size(b));
    return o;
}

/* ---- Reading, by the format's rules ---- */

static uint64_t rd(const out_t *o, size_t at, size_t n)
{
    if (at + n > o->n) {
        fprintf(stderr, "read past the end: %zu+%zu > %zu\n", at, n, o->n);
        failures++;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)o->p[at + i] << (8 * i);
    return v;
}

static size_t root(const out_t *o)
{
    return (size_t)rd(o, 0, 4);
}

/* Address of the vtable of the table at t. */
static size_t vtable(const out_t *o, size_t t)
{
    int32_t soff = (int32_t)(uint32_t)rd(o, t, 4);
    return (size_t)((int64_t)t - soff);
}

/* Address of field slot of table t, or 0 when absent. */
static size_t field(const out_t *o, size_t t, unsigned slot)
{
    size_t vt = vtable(o, t);
    size_t vsize = (size_t)rd(o, vt, 2);
    if (4 + 2 * slot + 2 > vsize)
        return 0;
    size_t fo = (size_t)rd(o, vt + 4 + 2 * slot, 2);
    return fo ? t + fo : 0;
}

/* The object an offset field points to. */
static size_t deref(const out_t *o, size_t at)
{
    return at + (size_t)rd(o, at, 4);
}

static size_t ref_field(const out_t *o, size_t t, unsigned slot)
{
    size_t f = field(o, t, slot);
    return f ? deref(o, f) : 0;
}

/* ---- Tests ---- */

static void test_alignment(void)
{
    fbb_t b;
    fbb_init(&b);
    static const uint64_t big[3] = {1, 0x0102030405060708ull, 3};
    static const uint8_t bytes[5] = {9, 8, 7, 6, 5};
    static const uint8_t ext[7] = {1, 2, 3, 4, 5, 6, 7};
    fbb_ref_t s = fbb_string(&b, "hello", 5);
    fbb_ref_t v64 = fbb_vec(&b, big, 3, 8, 0);
    fbb_ref_t v16 = fbb_vec(&b, bytes, 5, 1, 16);
    fbb_ref_t vx = fbb_vec_extern(&b, ext, 7, 16);
    fbb_table_start(&b);
    fbb_add_u8(&b, 0, 0xAB, 0);
    fbb_add_u64(&b, 1, 0x1122334455667788ull, 0);
    fbb_add_u16(&b, 2, 0xBEEF, 0);
    fbb_add_f64(&b, 3, 2.5, 0);
    fbb_add_u32(&b, 4, 0xDEADBEEF, 0);
    fbb_add_i8(&b, 5, -3, 0);
    fbb_add_ref(&b, 6, s);
    fbb_add_ref(&b, 7, v64);
    fbb_add_ref(&b, 8, v16);
    fbb_add_ref(&b, 9, vx);
    fbb_add_i16(&b, 10, -2, 0);
    fbb_finish(&b, fbb_table_end(&b), "ABCD");
    out_t o = finish(&b);
    CHECK(o.n % 16 == 0); /* largest alignment used */
    CHECK(memcmp(o.p + 4, "ABCD", 4) == 0);
    size_t t = root(&o);
    CHECK(t % 4 == 0);
    size_t f;
    CHECK((f = field(&o, t, 0)) && rd(&o, f, 1) == 0xAB);
    CHECK((f = field(&o, t, 1)) && f % 8 == 0 && rd(&o, f, 8) == 0x1122334455667788ull);
    CHECK((f = field(&o, t, 2)) && f % 2 == 0 && rd(&o, f, 2) == 0xBEEF);
    CHECK((f = field(&o, t, 3)) && f % 8 == 0);
    double d;
    uint64_t bits = rd(&o, f, 8);
    memcpy(&d, &bits, 8);
    CHECK(d == 2.5);
    CHECK((f = field(&o, t, 4)) && f % 4 == 0 && rd(&o, f, 4) == 0xDEADBEEF);
    CHECK((f = field(&o, t, 5)) && (int8_t)rd(&o, f, 1) == -3);
    CHECK((f = field(&o, t, 10)) && f % 2 == 0 && (int16_t)rd(&o, f, 2) == -2);
    /* offsets are 4-aligned and point forward */
    for (unsigned sl = 6; sl <= 9; sl++) {
        f = field(&o, t, sl);
        CHECK(f && f % 4 == 0 && deref(&o, f) > f);
    }
    size_t sv = ref_field(&o, t, 6);
    CHECK(sv % 4 == 0 && rd(&o, sv, 4) == 5 && memcmp(o.p + sv + 4, "hello", 6) == 0);
    size_t v = ref_field(&o, t, 7);
    CHECK(rd(&o, v, 4) == 3 && (v + 4) % 8 == 0);
    for (int i = 0; i < 3; i++)
        CHECK(rd(&o, v + 4 + 8 * (size_t)i, 8) == big[i]);
    v = ref_field(&o, t, 8);
    CHECK(rd(&o, v, 4) == 5 && (v + 4) % 16 == 0 && memcmp(o.p + v + 4, bytes, 5) == 0);
    v = ref_field(&o, t, 9);
    CHECK(rd(&o, v, 4) == 7 && (v + 4) % 16 == 0 && memcmp(o.p + v + 4, ext, 7) == 0);
    free(o.p);
    fbb_free(&b);
}

static void test_defaults(void)
{
    fbb_t b;
    fbb_init(&b);
    fbb_table_start(&b);
    fbb_add_i32(&b, 0, 0, 0);        /* equal to default: omitted */
    fbb_add_i32(&b, 1, 5, 5);        /* equal to a non-zero default */
    fbb_add_f32(&b, 2, -0.0f, 0.0f); /* -0.0 == 0.0, as FlatBuffers */
    fbb_add_f32(&b, 3, NAN, 0.0f);   /* NaN is never the default */
    fbb_add_bool(&b, 4, 0, 0);
    fbb_add_bool(&b, 5, 0, 1); /* false against default true */
    fbb_add_i8(&b, 6, 7, 7);
    fbb_add_ref(&b, 7, 0);      /* no object */
    fbb_add_union(&b, 9, 0, 0); /* NONE */
    fbb_finish(&b, fbb_table_end(&b), NULL);
    out_t o = finish(&b);
    size_t t = root(&o);
    CHECK(!field(&o, t, 0));
    CHECK(!field(&o, t, 1));
    CHECK(!field(&o, t, 2));
    size_t f = field(&o, t, 3);
    float x;
    uint32_t bits = (uint32_t)rd(&o, f, 4);
    memcpy(&x, &bits, 4);
    CHECK(f && isnan(x));
    CHECK(!field(&o, t, 4));
    CHECK((f = field(&o, t, 5)) && rd(&o, f, 1) == 0);
    CHECK(!field(&o, t, 6) && !field(&o, t, 7) && !field(&o, t, 8) && !field(&o, t, 9));
    /* the vtable ends at the last present field (slot 5) */
    CHECK(rd(&o, vtable(&o, t), 2) == 4 + 2 * 6);
    free(o.p);
    fbb_free(&b);

    /* An empty table: a 4-byte vtable, a 4-byte table. */
    fbb_init(&b);
    fbb_table_start(&b);
    fbb_finish(&b, fbb_table_end(&b), NULL);
    o = finish(&b);
    t = root(&o);
    CHECK(rd(&o, vtable(&o, t), 2) == 4 && rd(&o, vtable(&o, t) + 2, 2) == 4);
    free(o.p);
    fbb_free(&b);
}

static fbb_ref_t point(fbb_t *b, int32_t x, int32_t y)
{
    fbb_table_start(b);
    fbb_add_i32(b, 0, x, 0);
    fbb_add_i32(b, 1, y, 0);
    return fbb_table_end(b);
}

static void test_vtable_sharing(void)
{
    fbb_t b;
    fbb_init(&b);
    fbb_ref_t refs[4];
    refs[0] = point(&b, 1, 2);
    refs[1] = point(&b, 3, 4); /* same layout as refs[0] */
    refs[2] = point(&b, 0, 4); /* x omitted: another layout */
    refs[3] = point(&b, 5, 6);
    fbb_ref_t v = fbb_vec_refs(&b, refs, 4);
    fbb_table_start(&b);
    fbb_add_ref(&b, 0, v);
    fbb_finish(&b, fbb_table_end(&b), NULL);
    out_t o = finish(&b);
    size_t vec = ref_field(&o, root(&o), 0);
    CHECK(rd(&o, vec, 4) == 4);
    size_t p[4];
    for (size_t i = 0; i < 4; i++)
        p[i] = deref(&o, vec + 4 + 4 * i);
    CHECK(vtable(&o, p[0]) == vtable(&o, p[1]));
    CHECK(vtable(&o, p[0]) == vtable(&o, p[3]));
    CHECK(vtable(&o, p[0]) != vtable(&o, p[2]));
    static const int32_t want[4][2] = {{1, 2}, {3, 4}, {0, 4}, {5, 6}};
    for (size_t i = 0; i < 4; i++) {
        size_t fx = field(&o, p[i], 0), fy = field(&o, p[i], 1);
        CHECK((fx ? (int32_t)rd(&o, fx, 4) : 0) == want[i][0]);
        CHECK(fy && (int32_t)rd(&o, fy, 4) == want[i][1]);
    }
    free(o.p);
    fbb_free(&b);
}

static void test_union_nesting(void)
{
    fbb_t b;
    fbb_init(&b);
    fbb_table_start(&b); /* outer, left open */
    fbb_add_i32(&b, 0, 42, 0);
    fbb_ref_t inner = point(&b, 7, 8); /* built while outer is open */
    fbb_add_union(&b, 4, 3, inner);    /* type at slot 3, value at 4 */
    fbb_finish(&b, fbb_table_end(&b), "TFL3");
    out_t o = finish(&b);
    size_t t = root(&o), f;
    CHECK((f = field(&o, t, 0)) && rd(&o, f, 4) == 42);
    CHECK((f = field(&o, t, 3)) && rd(&o, f, 1) == 3);
    size_t in = ref_field(&o, t, 4);
    CHECK(in && (f = field(&o, in, 1)) && rd(&o, f, 4) == 8);
    free(o.p);
    fbb_free(&b);
}

/* The same content built with the fields added in another order. */
static out_t build_sample(int reverse)
{
    fbb_t b;
    fbb_init(&b);
    static const uint8_t blob[3] = {1, 2, 3};
    fbb_ref_t names[2] = {fbb_cstring(&b, "a"), fbb_cstring(&b, "bc")};
    fbb_ref_t nv = fbb_vec_refs(&b, names, 2);
    fbb_ref_t x = fbb_vec_extern(&b, blob, 3, 16);
    fbb_table_start(&b);
    if (reverse) {
        fbb_add_ref(&b, 3, x);
        fbb_add_ref(&b, 2, nv);
        fbb_add_i64(&b, 1, -9, 0);
        fbb_add_u8(&b, 0, 1, 0);
    } else {
        fbb_add_u8(&b, 0, 1, 0);
        fbb_add_i64(&b, 1, -9, 0);
        fbb_add_ref(&b, 2, nv);
        fbb_add_ref(&b, 3, x);
    }
    fbb_finish(&b, fbb_table_end(&b), "TEST");
    out_t o = finish(&b);
    fbb_free(&b);
    return o;
}

static void test_determinism(void)
{
    out_t a = build_sample(0), b = build_sample(0), c = build_sample(1);
    CHECK(a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
    CHECK(a.n == c.n && memcmp(a.p, c.p, a.n) == 0);
    size_t t = root(&a);
    size_t nv = ref_field(&a, t, 2);
    CHECK(rd(&a, nv, 4) == 2);
    size_t s1 = deref(&a, nv + 8);
    CHECK(rd(&a, s1, 4) == 2 && memcmp(a.p + s1 + 4, "bc", 3) == 0);
    free(a.p);
    free(b.p);
    free(c.p);
}

static void test_patch(void)
{
    fbb_t b;
    fbb_init(&b);
    static const uint8_t blob[40] = {0};
    fbb_ref_t x = fbb_vec_extern(&b, blob, sizeof blob, 16); /* a hole below */
    fbb_table_start(&b);
    fbb_add_ref(&b, 0, x);
    fbb_add_u64(&b, 1, 1, 0);
    fbb_add_u64(&b, 2, 1, 0);
    fbb_ref_t t = fbb_table_end(&b);
    fbb_finish(&b, t, NULL);
    CHECK(fbb_patch(&b, t, 1, 0x123456789ull, 8) == 0);
    CHECK(fbb_patch(&b, t, 2, 77, 8) == 0);
    CHECK(fbb_patch(&b, t, 3, 1, 8) == -1); /* absent */
    CHECK(fbb_patch(&b, t, 1, 1, 4) == 0);  /* a smaller size fits */
    CHECK(fbb_patch(&b, t, 1, 0x123456789ull, 8) == 0);
    out_t o = finish(&b);
    size_t r = root(&o), f;
    CHECK((f = field(&o, r, 1)) && rd(&o, f, 8) == 0x123456789ull);
    CHECK((f = field(&o, r, 2)) && rd(&o, f, 8) == 77);
    free(o.p);
    fbb_free(&b);
}

static void test_many_fields(void)
{
    /* More fields and slots than the builder's small on-stack arrays. */
    fbb_t b;
    fbb_init(&b);
    fbb_table_start(&b);
    for (unsigned i = 0; i < 100; i++)
        fbb_add_i32(&b, i * 2, (int32_t)i + 1, 0);
    fbb_finish(&b, fbb_table_end(&b), NULL);
    out_t o = finish(&b);
    size_t t = root(&o);
    for (unsigned i = 0; i < 100; i++) {
        size_t f = field(&o, t, i * 2);
        CHECK(f && rd(&o, f, 4) == i + 1);
        CHECK(!field(&o, t, i * 2 + 1));
    }
    free(o.p);
    fbb_free(&b);
}

static int fail_emit(void *user, const void *data, size_t size)
{
    (void)user;
    (void)data;
    (void)size;
    return 5;
}

static void test_errors(void)
{
    fbb_t b;
    /* Too big: the error sticks, later calls do nothing. */
    fbb_init(&b);
    b.max_size = 64;
    static const uint8_t blob[100] = {0};
    CHECK(fbb_vec_extern(&b, blob, 100, 16) == 0);
    CHECK(fbb_error(&b) == FBB_ERR_TOO_BIG);
    CHECK(fbb_string(&b, "x", 1) == 0);
    fbb_free(&b);

    /* Misuse: a slot twice, end without start, ref 0 in a vector. */
    fbb_init(&b);
    fbb_table_start(&b);
    fbb_add_i32(&b, 1, 1, 0);
    fbb_add_i32(&b, 1, 2, 0);
    CHECK(fbb_table_end(&b) == 0 && fbb_error(&b) == FBB_ERR_MISUSE);
    fbb_free(&b);
    fbb_init(&b);
    CHECK(fbb_table_end(&b) == 0 && fbb_error(&b) == FBB_ERR_MISUSE);
    fbb_free(&b);
    fbb_init(&b);
    fbb_ref_t zero = 0;
    CHECK(fbb_vec_refs(&b, &zero, 1) == 0 && fbb_error(&b) == FBB_ERR_MISUSE);
    fbb_free(&b);

    /* The emitter's failure is returned. */
    fbb_init(&b);
    fbb_table_start(&b);
    fbb_finish(&b, fbb_table_end(&b), NULL);
    CHECK(fbb_emit(&b, fail_emit, NULL) == 5);
    fbb_free(&b);

    /* Allocation failures: each one is reported, none crashes or leaks
     * (the sanitizer build checks the leaks). */
    int saw_nomem = 0;
    for (long n = 1; n < 40; n++) {
        mem_fail_after(n);
        out_t o = {NULL, 0};
        fbb_init(&b);
        fbb_ref_t s = fbb_cstring(&b, "name");
        fbb_ref_t r[2] = {point(&b, 1, 2), point(&b, 3, 0)};
        fbb_ref_t v = fbb_vec_refs(&b, r, 2);
        fbb_table_start(&b);
        fbb_add_ref(&b, 0, s);
        fbb_add_ref(&b, 1, v);
        fbb_finish(&b, fbb_table_end(&b), NULL);
        mem_fail_after(0);
        if (fbb_error(&b)) {
            CHECK(fbb_error(&b) == FBB_ERR_NOMEM);
            saw_nomem = 1;
        } else {
            CHECK(fbb_emit(&b, grow_emit, &o) == 0);
            size_t t = root(&o);
            CHECK(rd(&o, ref_field(&o, t, 1), 4) == 2);
        }
        free(o.p);
        fbb_free(&b);
    }
    CHECK(saw_nomem);
}

int main(void)
{
    test_alignment();
    test_defaults();
    test_vtable_sharing();
    test_union_nesting();
    test_determinism();
    test_patch();
    test_many_fields();
    test_errors();
    if (failures) {
        fprintf(stderr, "test_fb_build: %d failures\n", failures);
        return 1;
    }
    printf("test_fb_build: ok\n");
    return 0;
}
