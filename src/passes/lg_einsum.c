/*
 * lg_einsum.c -- Einsum as TRANSPOSE / RESHAPE / BATCH_MATMUL / SUM, the way
 * TF's converter unfolds it.
 *
 * Two operands, "lhs,rhs->out": each label is a batch label (in lhs, rhs
 * and out), a contracted label (lhs and rhs, not out) or a free label (one
 * operand and out). lhs is transposed to [batch, lhs-free, contracted] and
 * reshaped to [batch, L, K]; rhs to [batch, contracted, rhs-free] and
 * [batch, K, R]; BATCH_MATMUL gives [batch, L, R], reshaped to
 * [batch, lhs-free, rhs-free] and transposed to out's order. Batch dims
 * stay separate, so they may be dynamic and may broadcast. Steps that
 * change nothing are left out.
 * One operand, "in->out": SUM over the labels out lacks, then TRANSPOSE.
 *
 * Not supported (reported): ellipsis, a label repeated within an operand
 * (traces, diagonals), a label summed within one operand only, more than
 * two operands, dynamic free or contracted dims.
 *
 * Contract (see lg.h): emits ops for node n and records its output, or
 * reports an error naming n and returns -1.
 */
#include <string.h>

#include "lg.h"

#define EQ_MAX SI_MAX_RANK

typedef struct term {
    char l[EQ_MAX + 1];  /* labels, NUL-terminated */
    int n;
} term_t;

/* Parses one term: letters only. */
static int parse_term(const char *s, size_t len, term_t *t)
{
    t->n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return -1;
        if (t->n == EQ_MAX || memchr(t->l, ch, (size_t)t->n))
            return -1;
        t->l[t->n++] = ch;
    }
    t->l[t->n] = 0;
    return 0;
}

static int pos(const term_t *t, char ch)
{
    const char *p = memchr(t->l, ch, (size_t)t->n);
    return p ? (int)(p - t->l) : -1;
}

/* TRANSPOSE by perm unless it is the identity. */
static int32_t permute(lg_t *c, int32_t x, const int32_t *perm, int r, const char *name)
{
    int id = 1;
    for (int i = 0; i < r; i++)
        id &= perm[i] == i;
    if (id)
        return x;
    int32_t pd = r;
    int32_t p = lg_const_i32(c, lg_name(c, name, "perm"), 1, &pd, perm);
    return p < 0 ? -1 : lg_binary(c, OP_TRANSPOSE, x, p, name);
}

/* RESHAPE to dims (one may be -1) unless x already has them. */
static int32_t reshape(lg_t *c, int32_t x, const int32_t *dims, int r, const char *name)
{
    int32_t d[SI_MAX_RANK];
    int rx = lg_dims(c, x, d);
    if (rx == r && !memcmp(d, dims, (size_t)r * sizeof *d))
        return x;
    int32_t sd = r;
    int32_t s = lg_const_i32(c, lg_name(c, name, "shape"), 1, &sd, dims);
    return s < 0 ? -1 : lg_binary(c, OP_RESHAPE, x, s, name);
}

/* Batch dims of a reshape target: the operand's own sizes, at most one of
 * them dynamic (-1 in the target). */
static int batch_dims(lg_t *c, const int32_t *d, const int *axes, int nb, int32_t *out)
{
    int dyn = 0;
    for (int i = 0; i < nb; i++) {
        out[i] = d[axes[i]];
        dyn += out[i] < 0;
    }
    return dyn > 1 ? lg_unsupported(c, "more than one dynamic batch dim") : 0;
}

static int einsum_one(lg_t *c, const tfg_node_t *n, const term_t *in, const term_t *out)
{
    int32_t x = lg_in(c, n, 0);
    if (x < 0)
        return -1;
    int32_t red[EQ_MAX], perm[EQ_MAX];
    int nr = 0;
    term_t kept = {{0}, 0};
    for (int i = 0; i < in->n; i++) {
        if (pos(out, in->l[i]) < 0)
            red[nr++] = i;
        else
            kept.l[kept.n++] = in->l[i];
    }
    for (int i = 0; i < out->n; i++)
        if ((perm[i] = pos(&kept, out->l[i])) < 0)
            return lg_unsupported(c, "output label '%c' is not in the input", out->l[i]);
    if (nr) {
        int32_t ax = lg_const_i32(c, lg_name(c, n->name, "axes"), 1, &nr, red);
        ir_op_t *op = ax < 0 ? NULL : lg_op(c, OP_SUM, 2, 1, lg_name(c, n->name, "sum"));
        if (!op)
            return -1;
        op->inputs[0] = x;
        op->inputs[1] = ax;
        if ((x = lg_finish(c)) < 0)
            return -1;
    }
    return lg_set_out(c, 0, permute(c, x, perm, out->n, n->name));
}

int lg_einsum(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    const tfg_attr_t *eq = lg_attr(n, "equation");
    if (!eq || eq->kind != TFGA_S || !eq->s)
        return lg_err(c, "no equation");
    const char *s = eq->s, *end = s + eq->s_len;
    const char *arrow = NULL, *comma = NULL;
    for (const char *p = s; p + 1 < end; p++)
        if (p[0] == '-' && p[1] == '>')
            arrow = p;
    if (!arrow || memchr(s, '.', eq->s_len))
        return lg_unsupported(c, "equation '%s': needs '->' and no ellipsis",
                              lg_attr_str(c, n, "equation"));
    comma = memchr(s, ',', (size_t)(arrow - s));
    term_t a, b, o;
    if (parse_term(arrow + 2, (size_t)(end - arrow - 2), &o))
        return lg_unsupported(c, "bad or repeated labels in '%s'", lg_attr_str(c, n, "equation"));
    if (!comma) {
        if (n->n_inputs != 1 || parse_term(s, (size_t)(arrow - s), &a))
            return lg_unsupported(c, "bad equation '%s'", lg_attr_str(c, n, "equation"));
        return einsum_one(c, n, &a, &o);
    }
    if (n->n_inputs != 2 || memchr(comma + 1, ',', (size_t)(arrow - comma - 1)) ||
        parse_term(s, (size_t)(comma - s), &a) ||
        parse_term(comma + 1, (size_t)(arrow - comma - 1), &b))
        return lg_unsupported(c, "equation '%s': two operands with distinct labels each "
                              "are supported", lg_attr_str(c, n, "equation"));
    int32_t x = lg_in(c, n, 0), y = x < 0 ? -1 : lg_in(c, n, 1);
    if (y < 0)
        return -1;
    int32_t dx[SI_MAX_RANK], dy[SI_MAX_RANK];
    if (lg_dims(c, x, dx) != a.n || lg_dims(c, y, dy) != b.n)
        return lg_err(c, "operand ranks do not match the equation");
    /* Classify labels. */
    int bx[EQ_MAX], by[EQ_MAX], fx[EQ_MAX], fy[EQ_MAX], kx[EQ_MAX], ky[EQ_MAX];
    int nb = 0, nfx = 0, nfy = 0, nk = 0;
    term_t bo = {{0}, 0};
    for (int i = 0; i < a.n; i++) {
        char ch = a.l[i];
        int inb = pos(&b, ch), ino = pos(&o, ch);
        if (inb >= 0 && ino >= 0) {
            bx[nb] = i, by[nb] = inb, bo.l[bo.n++] = ch, nb++;
        } else if (inb >= 0) {
            kx[nk] = i, ky[nk] = inb, nk++;
        } else if (ino >= 0) {
            fx[nfx++] = i;
        } else {
            return lg_unsupported(c, "label '%c' is summed within one operand", ch);
        }
    }
    for (int i = 0; i < b.n; i++) {
        char ch = b.l[i];
        if (pos(&a, ch) >= 0)
            continue;
        if (pos(&o, ch) < 0)
            return lg_unsupported(c, "label '%c' is summed within one operand", ch);
        fy[nfy++] = i;
    }
    for (int i = 0; i < o.n; i++)
        if (pos(&a, o.l[i]) < 0 && pos(&b, o.l[i]) < 0)
            return lg_unsupported(c, "output label '%c' is in no operand", o.l[i]);
    /* Sizes of the flattened groups. */
    int64_t L = 1, R = 1, K = 1;
    for (int i = 0; i < nfx; i++)
        L *= dx[fx[i]];
    for (int i = 0; i < nfy; i++)
        R *= dy[fy[i]];
    for (int i = 0; i < nk; i++) {
        if (dx[kx[i]] >= 0 && dy[ky[i]] >= 0 && dx[kx[i]] != dy[ky[i]])
            return lg_err(c, "label '%c' has size %d and %d", a.l[kx[i]], dx[kx[i]], dy[ky[i]]);
        K *= dx[kx[i]];
    }
    for (int i = 0; i < nfx; i++)
        if (dx[fx[i]] < 0)
            return lg_unsupported(c, "free dims must be static");
    for (int i = 0; i < nfy; i++)
        if (dy[fy[i]] < 0)
            return lg_unsupported(c, "free dims must be static");
    for (int i = 0; i < nk; i++)
        if (dx[kx[i]] < 0)
            return lg_unsupported(c, "contracted dims must be static");
    if (L > INT32_MAX || R > INT32_MAX || K > INT32_MAX)
        return lg_unsupported(c, "dims too large");
    /* lhs -> [batch, L, K] */
    int32_t perm[EQ_MAX], shp[EQ_MAX];
    int k = 0;
    for (int i = 0; i < nb; i++) perm[k++] = bx[i];
    for (int i = 0; i < nfx; i++) perm[k++] = fx[i];
    for (int i = 0; i < nk; i++) perm[k++] = kx[i];
    x = permute(c, x, perm, a.n, lg_name(c, n->name, "lhs_t"));
    if (x < 0 || batch_dims(c, dx, bx, nb, shp))
        return -1;
    shp[nb] = (int32_t)L, shp[nb + 1] = (int32_t)K;
    if ((x = reshape(c, x, shp, nb + 2, lg_name(c, n->name, "lhs"))) < 0)
        return -1;
    /* rhs -> [batch, K, R] */
    k = 0;
    for (int i = 0; i < nb; i++) perm[k++] = by[i];
    for (int i = 0; i < nk; i++) perm[k++] = ky[i];
    for (int i = 0; i < nfy; i++) perm[k++] = fy[i];
    y = permute(c, y, perm, b.n, lg_name(c, n->name, "rhs_t"));
    if (y < 0 || batch_dims(c, dy, by, nb, shp))
        return -1;
    shp[nb] = (int32_t)K, shp[nb + 1] = (int32_t)R;
    if ((y = reshape(c, y, shp, nb + 2, lg_name(c, n->name, "rhs"))) < 0)
        return -1;
    int32_t z = lg_binary(c, OP_BATCH_MATMUL, x, y, lg_name(c, n->name, "matmul"));
    if (z < 0)
        return -1;
    /* [batch, L, R] -> [batch, lhs-free, rhs-free] -> out order */
    int32_t dz[SI_MAX_RANK];
    int rz = lg_dims(c, z, dz);
    term_t mid = bo;
    k = 0;
    for (int i = 0; i < nb; i++) shp[k++] = dz[i];
    int dyn = 0;
    for (int i = 0; i < nb; i++) dyn += shp[i] < 0;
    if (dyn > 1 || rz != nb + 2)
        return lg_unsupported(c, "more than one dynamic batch dim");
    for (int i = 0; i < nfx; i++) shp[k++] = dx[fx[i]], mid.l[mid.n++] = a.l[fx[i]];
    for (int i = 0; i < nfy; i++) shp[k++] = dy[fy[i]], mid.l[mid.n++] = b.l[fy[i]];
    const char *last = lg_name(c, n->name, "out");
    for (int i = 0; i < o.n; i++)
        if ((perm[i] = pos(&mid, o.l[i])) < 0)
            return lg_err(c, "label '%c' lost", o.l[i]);
    int id = 1;
    for (int i = 0; i < o.n; i++)
        id &= perm[i] == i;
    if ((z = reshape(c, z, shp, k, id ? n->name : last)) < 0)
        return -1;
    return lg_set_out(c, 0, permute(c, z, perm, o.n, n->name));
}
