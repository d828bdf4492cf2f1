/*
 * The FEEL evaluator: walks the parse tree over the variables of a scope.
 *
 * FEEL's rule is that an operation on values it is not defined for gives
 * null, not an error: a missing variable, "a" + 1, 1 / 0, a comparison of a
 * number with a string, a path into a number. So an evaluation fails only
 * where the engine must raise an incident: a bound is passed (steps,
 * memory, the size of a list or a string it makes), a number grows past the
 * exponent range, a result has no JSON form, or assert() fails.
 */
#include "feel/feel_int.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void fe_fail(feval *ev, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->err->message, sizeof ev->err->message, fmt, ap);
    va_end(ap);
    ev->err->column = col;
    ev->err->construct[0] = 0;
    longjmp(ev->jb, 1);
}

void *fe_alloc(feval *ev, size_t n)
{
    void *p = farena_alloc(&ev->arena, n);
    if (!p)
        fe_fail(ev, 0, "The evaluation needs more than %d MiB of memory", FEEL_MAX_MEMORY >> 20);
    return p;
}

void *fe_alloc_cb(void *ev, size_t n)
{
    return fe_alloc(ev, n);
}

void fe_charge(feval *ev, uint64_t n)
{
    ev->steps += n;
    if (ev->steps > ev->max_steps)
        fe_fail(ev, 0, "The evaluation takes more than %llu steps",
                (unsigned long long)ev->max_steps);
}

/* ---- names ------------------------------------------------------------- */

static const fv *lookup(feval *ev, const char *name, size_t len)
{
    for (fscope *s = ev->scope; s; s = s->up) {
        if (s->ctx) {
            const fv *v = fv_ctx_get(ev, s->ctx, name, len);
            if (v)
                return v;
        } else if (s->len == len && memcmp(s->name, name, len) == 0) {
            return s->val;
        }
    }
    if (!ev->env || !ev->env->lookup)
        return FV_NULL_P;
    return fv_from_json(ev, ev->env->lookup(ev->env->ctx, name, len));
}

/* ---- numbers ----------------------------------------------------------- */

static const fv *num_result(feval *ev, int rc, const fdec *d, int col)
{
    if (rc == FDEC_OVERFLOW)
        fe_fail(ev, col,
                "The number computed at column %d is too large: Chute's numbers stay below "
                "10^%d",
                col, FDEC_EMAX + 1);
    if (rc)
        return FV_NULL_P;
    return fv_num(ev, d);
}

/* Seconds (with nanoseconds as the fraction) of a duration as a number. */
static void dtd_to_dec(const fdtd *d, fdec *out)
{
    fdec s, ns, b;
    fdec_from_i64(&s, d->secs);
    fdec_from_i64(&ns, d->nanos);
    fdec_from_i64(&b, 1000000000);
    fdec_div(&ns, &ns, &b);
    fdec_add(out, &s, &ns);
}

static const fv *dec_to_dtd(feval *ev, const fdec *x)
{
    fdec r, whole, frac, b;
    if (fdec_round(&r, x, 9, FDEC_HALF_EVEN) || fdec_round(&whole, &r, 0, FDEC_DOWN))
        return FV_NULL_P;
    int64_t s, ns;
    fdec_from_i64(&b, 1000000000);
    if (fdec_to_i64(&whole, &s) || fdec_sub(&frac, &r, &whole) || fdec_mul(&frac, &frac, &b) ||
        fdec_to_i64(&frac, &ns))
        return FV_NULL_P;
    fdtd d;
    if (ft_dtd_norm(s, ns, &d))
        return FV_NULL_P;
    return fv_dtd(ev, &d);
}

/* ---- temporal arithmetic ----------------------------------------------- */

#define MAX_DAYS (FT_MAX_YEAR * 366)

static const fv *date_plus_days(feval *ev, int kind, const ftemporal *t, __int128 nanos)
{
    /* |nanos| relative to the start of t->days. */
    __int128 day = nanos >= 0 ? nanos / FT_NANOS_PER_DAY : -((-nanos - 1) / FT_NANOS_PER_DAY) - 1;
    __int128 days = (__int128)t->days + day;
    if (days > MAX_DAYS || days < -MAX_DAYS)
        return FV_NULL_P;
    ftemporal r = *t;
    r.days = (int64_t)days;
    r.nanos = (int64_t)(nanos - day * FT_NANOS_PER_DAY);
    if (kind == FV_DATE)
        r.nanos = 0;
    return fv_temporal(ev, kind, &r);
}

static __int128 dtd_nanos(const fdtd *d)
{
    return (__int128)d->secs * 1000000000 + d->nanos;
}

static const fv *dtd_from_nanos(feval *ev, __int128 ns)
{
    __int128 s = ns / 1000000000, r = ns % 1000000000;
    if (s > INT64_MAX / 2 || s < -(INT64_MAX / 2))
        return FV_NULL_P;
    fdtd d = {(int64_t)s, (int32_t)r};
    return fv_dtd(ev, &d);
}

/* temporal + duration (|sign| -1 for minus). */
static const fv *temporal_plus(feval *ev, const fv *t, const fv *d, int sign)
{
    int k = fv_kind(t);
    if (fv_kind(d) == FV_DTD) {
        __int128 dn = dtd_nanos(&d->u.dtd) * sign;
        if (k == FV_DATE) {
            /* Whole days only: a date has no time of day. */
            __int128 days = dn / FT_NANOS_PER_DAY;
            return date_plus_days(ev, FV_DATE, &t->u.t, days * FT_NANOS_PER_DAY);
        }
        if (k == FV_DT)
            return date_plus_days(ev, FV_DT, &t->u.t, (__int128)t->u.t.nanos + dn);
        if (k == FV_TIME) {
            __int128 x = ((__int128)t->u.t.nanos + dn) % FT_NANOS_PER_DAY;
            if (x < 0)
                x += FT_NANOS_PER_DAY;
            ftemporal r = t->u.t;
            r.nanos = (int64_t)x;
            return fv_temporal(ev, FV_TIME, &r);
        }
        return FV_NULL_P;
    }
    /* years and months */
    if (k != FV_DATE && k != FV_DT)
        return FV_NULL_P;
    int64_t days;
    if (ft_add_months(t->u.t.days, d->u.months * sign, &days))
        return FV_NULL_P;
    ftemporal r = t->u.t;
    r.days = days;
    return fv_temporal(ev, k, &r);
}

static int is_temporal(int k)
{
    return k == FV_DATE || k == FV_TIME || k == FV_DT;
}

static int is_duration(int k)
{
    return k == FV_DTD || k == FV_YMD;
}

static const fv *months_times(feval *ev, int64_t months, const fdec *n, int divide)
{
    fdec m, r;
    fdec_from_i64(&m, months);
    int rc = divide ? fdec_div(&r, &m, n) : fdec_mul(&r, &m, n);
    int64_t out;
    if (rc || fdec_to_i64(&r, &out) || out > FT_MAX_YEAR * 12 || out < -FT_MAX_YEAR * 12)
        return FV_NULL_P;
    return fv_ymd(ev, out);
}

/* ---- arithmetic -------------------------------------------------------- */

static const fv *arith(feval *ev, int op, const fv *a, const fv *b, int col)
{
    int ka = fv_kind(a), kb = fv_kind(b);
    if (ka == FV_NULL || kb == FV_NULL)
        return FV_NULL_P;
    fdec r;
    if (ka == FV_NUM && kb == FV_NUM) {
        int rc;
        switch (op) {
        case OP_ADD:
            rc = fdec_add(&r, &a->u.num, &b->u.num);
            break;
        case OP_SUB:
            rc = fdec_sub(&r, &a->u.num, &b->u.num);
            break;
        case OP_MUL:
            fe_charge(ev, 1);
            rc = fdec_mul(&r, &a->u.num, &b->u.num);
            break;
        case OP_DIV:
            fe_charge(ev, 3); /* a long division */
            rc = fdec_div(&r, &a->u.num, &b->u.num);
            break;
        default: { /* OP_POW */
            int64_t n;
            if (fdec_is_int(&b->u.num) && !fdec_to_i64(&b->u.num, &n) && n <= 999999999 &&
                n >= -999999999) {
                /* Two multiplications per bit of the exponent. */
                uint64_t bits = 1;
                for (int64_t m = n < 0 ? -n : n; m; m >>= 1)
                    bits++;
                fe_charge(ev, 2 * bits);
                rc = fdec_powi(&r, &a->u.num, n);
            } else {
                /* A fractional power, in double precision as Java's Math.pow. */
                double x = pow(fdec_to_double(&a->u.num), fdec_to_double(&b->u.num));
                if (!isfinite(x))
                    return FV_NULL_P;
                rc = fdec_from_double(&r, x);
                fe_charge(ev, 4);
            }
            break;
        }
        }
        return num_result(ev, rc, &r, col);
    }
    switch (op) {
    case OP_ADD:
        if (ka == FV_STR && kb == FV_STR) {
            fsb s = {NULL, 0, 0};
            fsb_add(ev, &s, a->u.str.s, a->u.str.len, col);
            fsb_add(ev, &s, b->u.str.s, b->u.str.len, col);
            return fsb_done(ev, &s);
        }
        if (is_temporal(ka) && is_duration(kb))
            return temporal_plus(ev, a, b, 1);
        if (is_duration(ka) && is_temporal(kb))
            return temporal_plus(ev, b, a, 1);
        if (ka == FV_DTD && kb == FV_DTD)
            return dtd_from_nanos(ev, dtd_nanos(&a->u.dtd) + dtd_nanos(&b->u.dtd));
        if (ka == FV_YMD && kb == FV_YMD) {
            int64_t m = a->u.months + b->u.months;
            if (m > FT_MAX_YEAR * 12 || m < -FT_MAX_YEAR * 12)
                return FV_NULL_P;
            return fv_ymd(ev, m);
        }
        return FV_NULL_P;
    case OP_SUB:
        if (is_temporal(ka) && is_duration(kb))
            return temporal_plus(ev, a, b, -1);
        if (ka == FV_DTD && kb == FV_DTD)
            return dtd_from_nanos(ev, dtd_nanos(&a->u.dtd) - dtd_nanos(&b->u.dtd));
        if (ka == FV_YMD && kb == FV_YMD)
            return fv_ymd(ev, a->u.months - b->u.months);
        if (ka == kb && is_temporal(ka)) {
            if (a->u.t.has_offset != b->u.t.has_offset)
                return FV_NULL_P;
            ftemporal x = a->u.t, y = b->u.t;
            if (ka == FV_TIME)
                x.days = y.days = 0;
            if (ka == FV_DATE)
                x.nanos = y.nanos = 0;
            __int128 ix, iy;
            ft_instant(&x, &ix);
            ft_instant(&y, &iy);
            return dtd_from_nanos(ev, ix - iy);
        }
        return FV_NULL_P;
    case OP_MUL:
        if ((ka == FV_DTD && kb == FV_NUM) || (ka == FV_NUM && kb == FV_DTD)) {
            const fv *d = ka == FV_DTD ? a : b, *n = ka == FV_DTD ? b : a;
            fdec x;
            dtd_to_dec(&d->u.dtd, &x);
            if (fdec_mul(&x, &x, &n->u.num))
                return FV_NULL_P;
            return dec_to_dtd(ev, &x);
        }
        if ((ka == FV_YMD && kb == FV_NUM) || (ka == FV_NUM && kb == FV_YMD)) {
            const fv *d = ka == FV_YMD ? a : b, *n = ka == FV_YMD ? b : a;
            return months_times(ev, d->u.months, &n->u.num, 0);
        }
        return FV_NULL_P;
    case OP_DIV:
        if (ka == FV_DTD && kb == FV_NUM) {
            fdec x;
            dtd_to_dec(&a->u.dtd, &x);
            if (fdec_div(&x, &x, &b->u.num))
                return FV_NULL_P;
            return dec_to_dtd(ev, &x);
        }
        if (ka == FV_YMD && kb == FV_NUM)
            return months_times(ev, a->u.months, &b->u.num, 1);
        if (ka == FV_DTD && kb == FV_DTD) {
            fdec x, y;
            dtd_to_dec(&a->u.dtd, &x);
            dtd_to_dec(&b->u.dtd, &y);
            int rc = fdec_div(&r, &x, &y);
            return num_result(ev, rc, &r, col);
        }
        if (ka == FV_YMD && kb == FV_YMD) {
            fdec x, y;
            fdec_from_i64(&x, a->u.months);
            fdec_from_i64(&y, b->u.months);
            int rc = fdec_div(&r, &x, &y);
            return num_result(ev, rc, &r, col);
        }
        return FV_NULL_P;
    }
    return FV_NULL_P;
}

static const fv *negate(feval *ev, const fv *v)
{
    switch (fv_kind(v)) {
    case FV_NUM: {
        fdec r = v->u.num;
        if (r.coef)
            r.neg ^= 1;
        return fv_num(ev, &r);
    }
    case FV_DTD: {
        fdtd d = {-v->u.dtd.secs, -v->u.dtd.nanos};
        return fv_dtd(ev, &d);
    }
    case FV_YMD:
        return fv_ymd(ev, -v->u.months);
    }
    return FV_NULL_P;
}

/* ---- comparisons ------------------------------------------------------- */

/* true, false or null for "a op b". */
static const fv *compare(feval *ev, int op, const fv *a, const fv *b)
{
    if (op == OP_EQ || op == OP_NE) {
        int e = fv_equal(ev, a, b);
        if (e < 0)
            return FV_NULL_P;
        return fv_bool(op == OP_EQ ? e : !e);
    }
    int c;
    if (fv_order(ev, a, b, &c))
        return FV_NULL_P;
    switch (op) {
    case OP_LT:
        return fv_bool(c < 0);
    case OP_LE:
        return fv_bool(c <= 0);
    case OP_GT:
        return fv_bool(c > 0);
    default:
        return fv_bool(c >= 0);
    }
}

/* 1 true, 0 false, -1 null, for three-valued logic. */
static int tri(const fv *v)
{
    if (fv_kind(v) != FV_BOOL)
        return -1;
    return v->u.b;
}

static int in_range(feval *ev, const fv *x, const fv *r)
{
    int res = 1, c;
    if (r->u.range.lo) {
        if (fv_order(ev, x, r->u.range.lo, &c))
            return -1;
        if (c < 0 || (c == 0 && !r->u.range.lo_closed))
            res = 0;
    }
    if (r->u.range.hi) {
        if (fv_order(ev, x, r->u.range.hi, &c))
            return -1;
        if (c > 0 || (c == 0 && !r->u.range.hi_closed))
            res = 0;
    }
    return res;
}

static int list_has(feval *ev, const fv *l, const fv *x)
{
    size_t n = fv_list_len(l);
    fe_charge(ev, n);
    for (size_t i = 0; i < n; i++) {
        if (fv_equal(ev, fv_list_at(ev, l, i), x) == 1)
            return 1;
    }
    return 0;
}

/* One positive unary test of "x in ...". */
static int unary_test(feval *ev, const fv *x, const fnode *t)
{
    if (t->kind == N_UT_CMP)
        return tri(compare(ev, t->op, x, fe_eval(ev, t->kids[0])));
    const fv *v = fe_eval(ev, t);
    switch (fv_kind(v)) {
    case FV_RANGE:
        return in_range(ev, x, v);
    case FV_LIST:
        if (fv_kind(x) == FV_LIST && fv_equal(ev, x, v) == 1)
            return 1;
        return list_has(ev, v, x);
    default: {
        int e = fv_equal(ev, x, v);
        return e;
    }
    }
}

/* ---- iteration --------------------------------------------------------- */

typedef struct iter_state {
    const fnode *n;
    int kind;
    fvlist out;
    int result; /* some/every: decided */
    int done;
} iter_state;

static void iterate(feval *ev, iter_state *st, unsigned k);

static void iter_bind(feval *ev, iter_state *st, unsigned k, const fv *item)
{
    fscope s = {ev->scope, st->n->names[k], st->n->lens[k], item, NULL};
    fscope *saved = ev->scope;
    ev->scope = &s;
    iterate(ev, st, k + 1);
    ev->scope = saved;
}

static void iterate(feval *ev, iter_state *st, unsigned k)
{
    const fnode *n = st->n;
    unsigned nn = n->op;
    if (st->done)
        return;
    if (k == nn) {
        const fv *v = fe_eval(ev, n->kids[2 * nn]);
        if (st->kind == N_FOR) {
            fvl_push(ev, &st->out, v, n->col);
        } else if (st->kind == N_SOME) {
            if (tri(v) == 1) {
                st->result = 1;
                st->done = 1;
            }
        } else if (tri(v) != 1) {
            st->result = 0;
            st->done = 1;
        }
        return;
    }
    const fv *src = fe_eval(ev, n->kids[2 * k]);
    if (n->flags & (1u << k)) {
        /* for x in a..b: the integers from a to b, either way. */
        const fv *hi = fe_eval(ev, n->kids[2 * k + 1]);
        int64_t a, b;
        if (fv_kind(src) != FV_NUM || fv_kind(hi) != FV_NUM || !fdec_is_int(&src->u.num) ||
            !fdec_is_int(&hi->u.num) || fdec_to_i64(&src->u.num, &a) ||
            fdec_to_i64(&hi->u.num, &b)) {
            st->done = 2; /* null */
            return;
        }
        __int128 cnt = (__int128)(a <= b ? b - (__int128)a : a - (__int128)b) + 1;
        if (cnt > FEEL_MAX_LIST)
            fe_fail(ev, n->kids[2 * k]->col, "A range at column %d would have more than %d items",
                    n->kids[2 * k]->col, FEEL_MAX_LIST);
        int step = a <= b ? 1 : -1;
        for (int64_t i = a;; i += step) {
            iter_bind(ev, st, k, fv_num_i64(ev, i));
            if (i == b || st->done)
                break;
        }
        return;
    }
    switch (fv_kind(src)) {
    case FV_NULL:
        if (st->kind == N_FOR)
            st->done = 2;
        return;
    case FV_LIST: {
        size_t cnt = fv_list_len(src);
        for (size_t i = 0; i < cnt && !st->done; i++)
            iter_bind(ev, st, k, fv_list_at(ev, src, i));
        return;
    }
    case FV_RANGE: {
        const fv *lo = src->u.range.lo, *hi = src->u.range.hi;
        int64_t a, b;
        if (!lo || !hi || fv_kind(lo) != FV_NUM || fv_kind(hi) != FV_NUM ||
            !fdec_is_int(&lo->u.num) || !fdec_is_int(&hi->u.num) || fdec_to_i64(&lo->u.num, &a) ||
            fdec_to_i64(&hi->u.num, &b)) {
            st->done = 2;
            return;
        }
        if (!src->u.range.lo_closed)
            a++;
        if (!src->u.range.hi_closed)
            b--;
        if (a > b)
            return;
        if ((__int128)b - a + 1 > FEEL_MAX_LIST)
            fe_fail(ev, n->kids[2 * k]->col, "A range at column %d would have more than %d items",
                    n->kids[2 * k]->col, FEEL_MAX_LIST);
        for (int64_t i = a; i <= b && !st->done; i++)
            iter_bind(ev, st, k, fv_num_i64(ev, i));
        return;
    }
    default:
        /* A single value iterates as a list of one. */
        iter_bind(ev, st, k, src);
        return;
    }
}

/* ---- paths and filters ------------------------------------------------- */

static const fv *temporal_prop(feval *ev, const fv *v, const char *name, size_t len)
{
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    int k = fv_kind(v);
    if (k == FV_DATE || k == FV_DT) {
        int64_t y;
        int m, d;
        ft_civil_from_days(v->u.t.days, &y, &m, &d);
        if (IS("year"))
            return fv_num_i64(ev, y);
        if (IS("month"))
            return fv_num_i64(ev, m);
        if (IS("day"))
            return fv_num_i64(ev, d);
        if (IS("weekday"))
            return fv_num_i64(ev, ft_weekday(v->u.t.days));
    }
    if (k == FV_TIME || k == FV_DT) {
        int64_t s = v->u.t.nanos / 1000000000LL;
        if (IS("hour"))
            return fv_num_i64(ev, s / 3600);
        if (IS("minute"))
            return fv_num_i64(ev, s / 60 % 60);
        if (IS("second")) {
            if (v->u.t.nanos % 1000000000LL == 0)
                return fv_num_i64(ev, s % 60);
            fdec a, b, r;
            fdec_from_i64(&a, v->u.t.nanos % 60000000000LL);
            fdec_from_i64(&b, 1000000000);
            fdec_div(&r, &a, &b);
            return fv_num(ev, &r);
        }
        if (IS("time offset")) {
            if (!v->u.t.has_offset)
                return FV_NULL_P;
            fdtd d = {v->u.t.offset, 0};
            return fv_dtd(ev, &d);
        }
        if (IS("timezone"))
            return v->u.t.has_offset && v->u.t.offset == 0 ? fv_str(ev, "Z", 1) : FV_NULL_P;
    }
    if (k == FV_DTD) {
        int64_t s = v->u.dtd.secs;
        if (IS("days"))
            return fv_num_i64(ev, s / 86400);
        if (IS("hours"))
            return fv_num_i64(ev, s / 3600 % 24);
        if (IS("minutes"))
            return fv_num_i64(ev, s / 60 % 60);
        if (IS("seconds"))
            return fv_num_i64(ev, s % 60);
    }
    if (k == FV_YMD) {
        if (IS("years"))
            return fv_num_i64(ev, v->u.months / 12);
        if (IS("months"))
            return fv_num_i64(ev, v->u.months % 12);
    }
    if (k == FV_RANGE) {
        if (IS("start"))
            return v->u.range.lo ? v->u.range.lo : FV_NULL_P;
        if (IS("end"))
            return v->u.range.hi ? v->u.range.hi : FV_NULL_P;
        if (IS("start included"))
            return fv_bool(v->u.range.lo_closed);
        if (IS("end included"))
            return fv_bool(v->u.range.hi_closed);
    }
    return FV_NULL_P;
#undef IS
}

static const fv *path(feval *ev, const fv *base, const fnode *n)
{
    switch (fv_kind(base)) {
    case FV_CTX: {
        const fv *v = fv_ctx_get(ev, base, n->name, n->nlen);
        return v ? v : FV_NULL_P;
    }
    case FV_LIST: {
        /* A path on a list is the path on each of its items. */
        size_t cnt = fv_list_len(base);
        fvlist out = {0};
        fe_charge(ev, cnt);
        for (size_t i = 0; i < cnt; i++) {
            const fv *it = fv_list_at(ev, base, i);
            const fv *v = NULL;
            if (fv_kind(it) == FV_CTX)
                v = fv_ctx_get(ev, it, n->name, n->nlen);
            else if (fv_kind(it) != FV_LIST)
                v = temporal_prop(ev, it, n->name, n->nlen);
            fvl_push(ev, &out, v ? v : FV_NULL_P, n->col);
        }
        return fvl_done(ev, &out);
    }
    default:
        return temporal_prop(ev, base, n->name, n->nlen);
    }
}

static const fv *filter(feval *ev, const fnode *n)
{
    const fv *base = fe_eval(ev, n->kids[0]);
    int kb = fv_kind(base);
    if (kb == FV_NULL)
        return FV_NULL_P;
    const fv *one[1];
    const fv *list = base;
    if (kb != FV_LIST) {
        one[0] = base;
        list = fv_list(ev, one, 1);
    }
    size_t cnt = fv_list_len(list);
    const fnode *f = n->kids[1];
    /* A number selects an item (1-based, negative from the end); anything
     * else is a condition on each item. A filter shaped as a condition is
     * one; other shapes are evaluated once, outside the items, to see
     * whether they give a number ("xs[i + 1]"). */
    int numeric = f->kind == N_NUM;
    const fv *idx = numeric ? &f->u.lit : NULL;
    int is_condition = f->kind == N_CMP || f->kind == N_BETWEEN || f->kind == N_IN ||
                       f->kind == N_AND || f->kind == N_OR || f->kind == N_BOOL ||
                       f->kind == N_SOME || f->kind == N_EVERY;
    if (!numeric && !is_condition) {
        idx = fe_eval(ev, f);
        numeric = fv_kind(idx) == FV_NUM;
    }
    if (numeric) {
        int64_t i;
        if (!fdec_is_int(&idx->u.num) || fdec_to_i64(&idx->u.num, &i))
            return FV_NULL_P;
        if (i > 0 && (uint64_t)i <= cnt)
            return fv_list_at(ev, list, (size_t)i - 1);
        if (i < 0 && (uint64_t)(-(i + 1)) + 1 <= cnt)
            return fv_list_at(ev, list, cnt - ((size_t)(-(i + 1)) + 1));
        return FV_NULL_P;
    }
    fvlist out = {0};
    for (size_t i = 0; i < cnt; i++) {
        const fv *it = fv_list_at(ev, list, i);
        fscope s_item = {ev->scope, "item", 4, it, NULL};
        fscope s_ctx = {&s_item, NULL, 0, NULL, it};
        fscope *saved = ev->scope;
        ev->scope = fv_kind(it) == FV_CTX ? &s_ctx : &s_item;
        const fv *keep = fe_eval(ev, f);
        ev->scope = saved;
        if (tri(keep) == 1)
            fvl_push(ev, &out, it, n->col);
    }
    return fvl_done(ev, &out);
}

/* ---- literals ---------------------------------------------------------- */

static const fv *context_literal(feval *ev, const fnode *n)
{
    fentry *e = fe_alloc(ev, (n->n ? n->n : 1) * sizeof *e);
    fv *ctx = (fv *)fv_ctx(ev, e, 0);
    /* Later entries see the earlier ones. */
    fscope s = {ev->scope, NULL, 0, NULL, ctx};
    fscope *saved = ev->scope;
    ev->scope = &s;
    for (uint32_t i = 0; i < n->n; i++) {
        const fv *v = fe_eval(ev, n->kids[i]);
        uint32_t j = n->slots[i];
        e[j].key = n->names[i];
        e[j].klen = n->lens[i];
        e[j].val = v;
        if (j == ctx->u.ctx.n)
            ctx->u.ctx.n++;
    }
    ev->scope = saved;
    return ctx;
}

static const fv *interval(feval *ev, const fnode *n)
{
    fv *r = fe_alloc(ev, sizeof *r);
    memset(r, 0, sizeof *r);
    r->kind = FV_RANGE;
    const fv *lo = fe_eval(ev, n->kids[0]);
    const fv *hi = fe_eval(ev, n->kids[1]);
    r->u.range.lo = fv_kind(lo) == FV_NULL ? NULL : lo;
    r->u.range.hi = fv_kind(hi) == FV_NULL ? NULL : hi;
    r->u.range.lo_closed = (n->flags & NF_LO_CLOSED) != 0;
    r->u.range.hi_closed = (n->flags & NF_HI_CLOSED) != 0;
    return r;
}

/* ---- calls ------------------------------------------------------------- */

static const fv *call(feval *ev, const fnode *n)
{
    const fv *stack_args[FB_MAX_PARAMS];
    const fv **args = stack_args;
    if (n->n > FB_MAX_PARAMS)
        args = fe_alloc(ev, n->n * sizeof *args);
    for (uint32_t i = 0; i < n->n; i++) {
        const fnode *a = n->kids[i];
        if (a->kind == N_LAMBDA) {
            fv *f = fe_alloc(ev, sizeof *f);
            memset(f, 0, sizeof *f);
            f->kind = FV_FUNC;
            f->u.func.lambda = a;
            f->u.func.scope = ev->scope;
            args[i] = f;
        } else {
            args[i] = fe_eval(ev, a);
        }
    }
    return n->u.fn->fn(ev, n, args, n->n);
}

const fv *fb_call_lambda(feval *ev, const fv *fn, const fv **args, size_t n)
{
    const fnode *l = fn->u.func.lambda;
    fscope s[8];
    fscope *saved = ev->scope;
    fscope *up = fn->u.func.scope;
    for (unsigned i = 0; i < l->op; i++) {
        s[i].up = up;
        s[i].name = l->names[i];
        s[i].len = l->lens[i];
        s[i].val = i < n ? args[i] : FV_NULL_P;
        s[i].ctx = NULL;
        up = &s[i];
    }
    ev->scope = up;
    const fv *r = fe_eval(ev, l->kids[0]);
    ev->scope = saved;
    return r;
}

/* ---- the evaluator ----------------------------------------------------- */

const fv *fe_eval(feval *ev, const fnode *n)
{
    fe_charge(ev, 1);
    switch (n->kind) {
    case N_NULL:
        return FV_NULL_P;
    case N_BOOL:
    case N_NUM:
    case N_STR:
    case N_TEMPORAL:
        return &n->u.lit;
    case N_NAME:
        return lookup(ev, n->name, n->nlen);
    case N_LIST: {
        const fv **items = fe_alloc(ev, (n->n ? n->n : 1) * sizeof *items);
        for (uint32_t i = 0; i < n->n; i++)
            items[i] = fe_eval(ev, n->kids[i]);
        return fv_list(ev, items, n->n);
    }
    case N_CTX:
        return context_literal(ev, n);
    case N_INTERVAL:
        return interval(ev, n);
    case N_NEG:
        return negate(ev, fe_eval(ev, n->kids[0]));
    case N_ARITH: {
        const fv *acc = fe_eval(ev, n->kids[0]);
        for (uint32_t i = 1; i < n->n; i++) {
            const fv *b = fe_eval(ev, n->kids[i]);
            acc = arith(ev, n->ops[i - 1], acc, b, n->kids[i]->col);
        }
        return acc;
    }
    case N_CMP:
        return compare(ev, n->op, fe_eval(ev, n->kids[0]), fe_eval(ev, n->kids[1]));
    case N_BETWEEN: {
        const fv *x = fe_eval(ev, n->kids[0]);
        int a = tri(compare(ev, OP_GE, x, fe_eval(ev, n->kids[1])));
        int b = tri(compare(ev, OP_LE, x, fe_eval(ev, n->kids[2])));
        if (a == 0 || b == 0)
            return FV_FALSE_P;
        if (a == 1 && b == 1)
            return FV_TRUE_P;
        return FV_NULL_P;
    }
    case N_IN: {
        const fv *x = fe_eval(ev, n->kids[0]);
        int any_null = 0;
        for (uint32_t i = 1; i < n->n; i++) {
            int r = unary_test(ev, x, n->kids[i]);
            if (r == 1)
                return FV_TRUE_P;
            if (r < 0)
                any_null = 1;
        }
        return any_null ? FV_NULL_P : FV_FALSE_P;
    }
    case N_UT_CMP:
        /* Only inside "in"; on its own it compares with null. */
        return FV_NULL_P;
    case N_AND: {
        int any_null = 0;
        for (uint32_t i = 0; i < n->n; i++) {
            int r = tri(fe_eval(ev, n->kids[i]));
            if (r == 0)
                return FV_FALSE_P;
            if (r < 0)
                any_null = 1;
        }
        return any_null ? FV_NULL_P : FV_TRUE_P;
    }
    case N_OR: {
        int any_null = 0;
        for (uint32_t i = 0; i < n->n; i++) {
            int r = tri(fe_eval(ev, n->kids[i]));
            if (r == 1)
                return FV_TRUE_P;
            if (r < 0)
                any_null = 1;
        }
        return any_null ? FV_NULL_P : FV_FALSE_P;
    }
    case N_IF:
        return tri(fe_eval(ev, n->kids[0])) == 1 ? fe_eval(ev, n->kids[1])
                                                 : fe_eval(ev, n->kids[2]);
    case N_FOR:
    case N_SOME:
    case N_EVERY: {
        iter_state st;
        memset(&st, 0, sizeof st);
        st.n = n;
        st.kind = n->kind;
        st.result = n->kind == N_EVERY;
        iterate(ev, &st, 0);
        if (n->kind == N_FOR)
            return st.done == 2 ? FV_NULL_P : fvl_done(ev, &st.out);
        if (st.done == 2)
            return FV_NULL_P;
        return fv_bool(st.result);
    }
    case N_PATH:
        return path(ev, fe_eval(ev, n->kids[0]), n);
    case N_FILTER:
        return filter(ev, n);
    case N_CALL:
        return call(ev, n);
    case N_LAMBDA:
        return FV_NULL_P;
    case N_UT_ANY:
    case N_UT_LIST:
    case N_UT_NOT:
    case N_UT_EXPR:
        /* Unary tests are evaluated by feel_eval_unary_tests only, which
         * never gets here with them; the entry points refuse them. */
        return FV_NULL_P;
    }
    return FV_NULL_P;
}

/* ---- unary tests (DMN 1.3 section 10.3.2.9) ------------------------------ */

/*
 * One positive unary test against the input value |x|: 1 satisfied, 0 not,
 * -1 null (the input and the test's value cannot be compared). What a test
 * that is an expression means depends on what it gives:
 *   a range       the input is in it ("[1..10]", "(a..b]", "]a..b[");
 *   a list        the input is one of its items, or is that very list;
 *   a boolean     the verdict itself when the expression names '?' ("? > 5",
 *                 "starts with(?, \"a\")") or when the input is no boolean
 *                 (a condition on other variables); otherwise the input must
 *                 equal it ("true" matches only true);
 *   anything else the input must equal it ("\"gold\"", 42, date("2024-01-31"), null).
 */
static int positive_test(feval *ev, const fv *x, const fnode *t)
{
    if (t->kind == N_UT_CMP)
        return tri(compare(ev, t->op, x, fe_eval(ev, t->kids[0])));
    const fv *v = fe_eval(ev, t->kids[0]);
    switch (fv_kind(v)) {
    case FV_RANGE:
        return in_range(ev, x, v);
    case FV_LIST:
        if (fv_kind(x) == FV_LIST && fv_equal(ev, x, v) == 1)
            return 1;
        return list_has(ev, v, x);
    case FV_BOOL:
        if ((t->flags & NF_USES_INPUT) || fv_kind(x) != FV_BOOL)
            return v->u.b;
        return fv_equal(ev, x, v);
    default:
        return fv_equal(ev, x, v);
    }
}

/* The tests of a list or a negation, any of them satisfied: 1, 0, or -1
 * when none is and one of them was null. */
static int any_test(feval *ev, const fv *x, const fnode *n)
{
    int any_null = 0;
    for (uint32_t i = 0; i < n->n; i++) {
        int r = positive_test(ev, x, n->kids[i]);
        if (r == 1)
            return 1;
        if (r < 0)
            any_null = 1;
    }
    return any_null ? -1 : 0;
}

/* ---- entry points ------------------------------------------------------ */

typedef struct eval_box {
    feval ev;
    const fv *result;
} eval_box;

/* Runs the evaluation; on success the value is in box->result and the
 * arena is still alive. */
static uint64_t step_limit(const feel_budget *budget)
{
    return budget && budget->steps < FEEL_MAX_STEPS ? budget->steps : FEEL_MAX_STEPS;
}

/* Takes what an evaluation used off its budget. */
static void charge_budget(feel_budget *budget, uint64_t steps)
{
    if (budget)
        budget->steps = steps < budget->steps ? budget->steps - steps : 0;
}

static int run(eval_box *box, const feel_expr *e, const feel_env *env, feel_budget *budget,
               feel_error *err)
{
    feval *ev = &box->ev;
    memset(ev, 0, sizeof *ev);
    memset(err, 0, sizeof *err);
    ev->env = env;
    ev->expr = e;
    ev->err = err;
    ev->max_steps = step_limit(budget);
    farena_init(&ev->arena, FEEL_MAX_MEMORY);
    if (setjmp(ev->jb)) {
        charge_budget(budget, ev->steps);
        farena_free(&ev->arena);
        return -1;
    }
    box->result = fe_eval(ev, e->root);
    charge_budget(budget, ev->steps);
    return 0;
}

/* The entry points for expressions refuse unary tests (and the other way
 * around): each form has its own meaning of a boolean. */
static int wrong_form(const feel_expr *e, int want_unary, feel_error *err)
{
    if (e->unary == want_unary)
        return 0;
    memset(err, 0, sizeof *err);
    snprintf(err->message, sizeof err->message,
             want_unary ? "Expected unary tests, but the expression was parsed as an expression "
                          "(feel_parse); parse it with feel_parse_unary_tests"
                        : "Expected an expression, but it was parsed as unary tests "
                          "(feel_parse_unary_tests); evaluate it with feel_eval_unary_tests");
    return -1;
}

int feel_eval(const feel_expr *e, const feel_env *env, char **out, size_t *out_len, feel_error *err)
{
    return feel_eval_budget(e, env, NULL, out, out_len, err);
}

int feel_eval_budget(const feel_expr *e, const feel_env *env, feel_budget *budget, char **out,
                     size_t *out_len, feel_error *err)
{
    feel_error dummy;
    if (!err)
        err = &dummy;
    if (wrong_form(e, 0, err))
        return -1;
    eval_box *box = malloc(sizeof *box);
    if (!box) {
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "The evaluation ran out of memory");
        return -1;
    }
    int rc = run(box, e, env, budget, err);
    if (rc == 0) {
        size_t len = 0;
        char *text = NULL;
        rc = fv_write_json(box->result, &text, &len, err);
        farena_free(&box->ev.arena);
        if (rc == 0) {
            *out = text;
            if (out_len)
                *out_len = len;
        }
    }
    free(box);
    return rc;
}

int feel_eval_condition(const feel_expr *e, const feel_env *env, feel_error *err)
{
    feel_error dummy;
    if (!err)
        err = &dummy;
    if (wrong_form(e, 0, err))
        return -1;
    eval_box *box = malloc(sizeof *box);
    if (!box) {
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "The evaluation ran out of memory");
        return -1;
    }
    int rc = run(box, e, env, NULL, err);
    if (rc == 0) {
        const fv *v = box->result;
        int k = fv_kind(v);
        if (k == FV_BOOL) {
            rc = v->u.b;
        } else if (k == FV_NULL) {
            rc = 0;
        } else {
            /* Zeebe's words; the expression is shortened to fit. */
            const char *type = fv_zeebe_type(v);
            size_t room = sizeof err->message - 80 - strlen(type);
            size_t keep = e->len;
            const char *dots = "";
            if (keep > room) {
                keep = room;
                while (keep > 0 && ((unsigned char)e->src[keep] & 0xC0) == 0x80)
                    keep--;
                dots = "...";
            }
            snprintf(err->message, sizeof err->message,
                     "Expected result of the expression '%.*s%s' to be 'BOOLEAN', but was '%s'.",
                     (int)keep, e->src, dots, type);
            err->column = 0;
            rc = -1;
        }
        farena_free(&box->ev.arena);
    }
    free(box);
    return rc;
}

typedef struct tests_box {
    feval ev;
    fscope input; /* '?' */
} tests_box;

/* The unary tests over the input |json| or, when |value| is given, over
 * that value of an earlier evaluation. */
static int eval_tests(const feel_expr *tests, const struct json_t *json, const fv *value,
                      const feel_env *env, feel_budget *budget, feel_error *err)
{
    feel_error dummy;
    if (!err)
        err = &dummy;
    if (wrong_form(tests, 1, err))
        return -1;
    const fnode *root = tests->root;
    if (root->kind == N_UT_ANY) {
        memset(err, 0, sizeof *err);
        return 1;
    }
    tests_box *box = malloc(sizeof *box);
    if (!box) {
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "The evaluation ran out of memory");
        return -1;
    }
    feval *ev = &box->ev;
    memset(ev, 0, sizeof *ev);
    memset(err, 0, sizeof *err);
    ev->env = env;
    ev->expr = tests;
    ev->err = err;
    ev->max_steps = step_limit(budget);
    farena_init(&ev->arena, FEEL_MAX_MEMORY);
    int rc;
    if (setjmp(ev->jb)) {
        rc = -1;
    } else {
        /* The input value is the name '?', in a scope of its own below
         * everything the tests bind (so "some ? in ..." would shadow it). */
        box->input.up = NULL;
        box->input.name = "?";
        box->input.len = 1;
        box->input.val = value ? value : fv_from_json(ev, json);
        box->input.ctx = NULL;
        ev->scope = &box->input;
        int r = any_test(ev, box->input.val, root);
        if (root->kind == N_UT_NOT)
            rc = r == 0 ? 1 : 0; /* a null stays no match */
        else
            rc = r == 1;
    }
    charge_budget(budget, ev->steps);
    farena_free(&ev->arena);
    free(box);
    return rc;
}

int feel_eval_unary_tests(const feel_expr *tests, const struct json_t *input, const feel_env *env,
                          feel_error *err)
{
    return eval_tests(tests, input, NULL, env, NULL, err);
}

/* ---- values kept across evaluations ------------------------------------------ */

struct feel_value {
    farena arena; /* the evaluation's, kept alive */
    const fv *v;
};

int feel_eval_value(const feel_expr *e, const feel_env *env, feel_budget *budget, feel_value **out,
                    feel_error *err)
{
    feel_error dummy;
    if (!err)
        err = &dummy;
    if (wrong_form(e, 0, err))
        return -1;
    eval_box *box = malloc(sizeof *box);
    feel_value *val = malloc(sizeof *val);
    if (!box || !val) {
        free(box);
        free(val);
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "The evaluation ran out of memory");
        return -1;
    }
    int rc = run(box, e, env, budget, err);
    if (rc == 0) {
        /* The values point into the arena's chunks, never at the arena
         * itself, so it moves with a copy of its head. */
        val->arena = box->ev.arena;
        val->v = box->result;
        *out = val;
    } else {
        free(val);
    }
    free(box);
    return rc;
}

void feel_value_free(feel_value *v)
{
    if (!v)
        return;
    farena_free(&v->arena);
    free(v);
}

size_t feel_value_size(const feel_value *v)
{
    return v ? v->arena.total + sizeof *v : 0;
}

int feel_value_json(const feel_value *v, char **out, size_t *out_len, feel_error *err)
{
    feel_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    size_t len = 0;
    char *text = NULL;
    int rc = fv_write_json(v ? v->v : FV_NULL_P, &text, &len, err);
    if (rc == 0) {
        *out = text;
        if (out_len)
            *out_len = len;
    }
    return rc;
}

int feel_eval_unary_tests_value(const feel_expr *tests, const feel_value *input,
                                const feel_env *env, feel_budget *budget, feel_error *err)
{
    return eval_tests(tests, NULL, input ? input->v : FV_NULL_P, env, budget, err);
}
