/*
 * FEEL's built-in functions (DMN 1.3 section 10.3.4 and Camunda's
 * extensions) that Zeebe models use. Each takes its arguments already
 * evaluated; an argument of a type the function does not take gives null,
 * as FEEL says. Parameter names are the ones named arguments use.
 */
#define _GNU_SOURCE /* memmem: a linear-time substring search */
#include "feel/feel_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define K(i) fv_kind(args[i])
#define NUL FV_NULL_P
#define BF(name) static const fv *name(feval *ev, const fnode *call, const fv **args, size_t n)

/* An integer argument (fractions are cut toward zero, as Zeebe does). */
static int get_int(const fv *v, int64_t *out)
{
    if (fv_kind(v) != FV_NUM)
        return -1;
    return fdec_to_i64(&v->u.num, out);
}

static int is_str(const fv *v)
{
    return fv_kind(v) == FV_STR;
}

/* ---- boolean ----------------------------------------------------------- */

BF(b_not)
{
    return K(0) == FV_BOOL ? fv_bool(!args[0]->u.b) : NUL;
}

BF(b_is_defined)
{
    return fv_bool(K(0) != FV_NULL);
}

BF(b_get_or_else)
{
    return K(0) != FV_NULL ? args[0] : args[1];
}

BF(b_assert)
{
    if (K(1) == FV_BOOL && args[1]->u.b)
        return args[0];
    if (n > 2 && is_str(args[2]))
        fe_fail(ev, call->col, "The assertion at column %d failed: %.*s", call->col,
                (int)(args[2]->u.str.len > 400 ? 400 : args[2]->u.str.len), args[2]->u.str.s);
    fe_fail(ev, call->col, "The assertion at column %d failed", call->col);
}

/* ---- conversion -------------------------------------------------------- */

BF(b_string)
{
    return fv_to_string(ev, args[0], call->col);
}

BF(b_number)
{
    if (!is_str(args[0]))
        return NUL;
    const char *s = args[0]->u.str.s;
    size_t len = args[0]->u.str.len;
    fe_charge(ev, len / 16);
    if (n == 3) {
        /* Remove the grouping separator, then read the decimal one as '.'. */
        const fv *g = args[1], *d = args[2];
        char gs = 0, ds = '.';
        if (fv_kind(g) == FV_STR) {
            if (g->u.str.len != 1 || !strchr(" ,.", g->u.str.s[0]))
                return NUL;
            gs = g->u.str.s[0];
        } else if (fv_kind(g) != FV_NULL) {
            return NUL;
        }
        if (fv_kind(d) == FV_STR) {
            if (d->u.str.len != 1 || !strchr(",.", d->u.str.s[0]))
                return NUL;
            ds = d->u.str.s[0];
        } else if (fv_kind(d) != FV_NULL) {
            return NUL;
        }
        if (gs && gs == ds)
            return NUL;
        char *t = fe_alloc(ev, len + 1);
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            if (gs && s[i] == gs)
                continue;
            if (s[i] == ds)
                t[k++] = '.';
            else if (s[i] == '.')
                return NUL;
            else
                t[k++] = s[i];
        }
        s = t;
        len = k;
    }
    fdec d;
    int rc = fdec_parse(&d, s, len, 1, 1);
    if (rc == FDEC_OVERFLOW)
        fe_fail(ev, call->col,
                "The number read at column %d is too large: Chute's numbers stay below 10^%d",
                call->col, FDEC_EMAX + 1);
    if (rc)
        return NUL;
    return fv_num(ev, &d);
}

BF(b_date)
{
    if (n >= 1 && is_str(args[0]))
        fe_charge(ev, args[0]->u.str.len / 16);
    ftemporal t = {0, 0, 0, 0};
    if (n == 3) {
        int64_t y, m, d;
        if (get_int(args[0], &y) || get_int(args[1], &m) || get_int(args[2], &d))
            return NUL;
        if (y > FT_MAX_YEAR || y < -FT_MAX_YEAR || m < 1 || m > 12 || d < 1 ||
            d > ft_days_in_month(y, (int)m))
            return NUL;
        t.days = ft_days_from_civil(y, (int)m, (int)d);
        return fv_temporal(ev, FV_DATE, &t);
    }
    switch (K(0)) {
    case FV_STR:
        if (ft_parse_date(args[0]->u.str.s, args[0]->u.str.len, &t))
            return NUL;
        return fv_temporal(ev, FV_DATE, &t);
    case FV_DATE:
        return args[0];
    case FV_DT:
        t.days = args[0]->u.t.days;
        return fv_temporal(ev, FV_DATE, &t);
    }
    return NUL;
}

BF(b_date_and_time)
{
    if (n >= 1 && is_str(args[0]))
        fe_charge(ev, args[0]->u.str.len / 16);
    ftemporal t = {0, 0, 0, 0};
    if (n == 2) {
        int kd = K(0);
        if ((kd != FV_DATE && kd != FV_DT) || K(1) != FV_TIME)
            return NUL;
        t = args[1]->u.t;
        t.days = args[0]->u.t.days;
        return fv_temporal(ev, FV_DT, &t);
    }
    switch (K(0)) {
    case FV_STR:
        if (ft_parse_date_time(args[0]->u.str.s, args[0]->u.str.len, &t))
            return NUL;
        return fv_temporal(ev, FV_DT, &t);
    case FV_DT:
        return args[0];
    case FV_DATE:
        t.days = args[0]->u.t.days;
        return fv_temporal(ev, FV_DT, &t);
    }
    return NUL;
}

BF(b_time)
{
    if (n >= 1 && is_str(args[0]))
        fe_charge(ev, args[0]->u.str.len / 16);
    ftemporal t = {0, 0, 0, 0};
    if (n >= 3) {
        int64_t h, m;
        if (get_int(args[0], &h) || get_int(args[1], &m) || K(2) != FV_NUM)
            return NUL;
        if (h < 0 || h > 23 || m < 0 || m > 59)
            return NUL;
        fdec s = args[2]->u.num, b, ns;
        fdec_from_i64(&b, 1000000000);
        int64_t nanos;
        if (s.neg || fdec_mul(&ns, &s, &b) || fdec_round(&ns, &ns, 0, FDEC_DOWN) ||
            fdec_to_i64(&ns, &nanos) || nanos >= 60000000000LL)
            return NUL;
        t.nanos = (h * 3600 + m * 60) * 1000000000LL + nanos;
        if (n == 4 && K(3) != FV_NULL) {
            if (K(3) != FV_DTD || args[3]->u.dtd.nanos || args[3]->u.dtd.secs > 18 * 3600 ||
                args[3]->u.dtd.secs < -18 * 3600)
                return NUL;
            t.has_offset = 1;
            t.offset = (int32_t)args[3]->u.dtd.secs;
        }
        return fv_temporal(ev, FV_TIME, &t);
    }
    switch (K(0)) {
    case FV_STR:
        if (ft_parse_time(args[0]->u.str.s, args[0]->u.str.len, &t))
            return NUL;
        return fv_temporal(ev, FV_TIME, &t);
    case FV_TIME:
        return args[0];
    case FV_DT:
        t = args[0]->u.t;
        t.days = 0;
        return fv_temporal(ev, FV_TIME, &t);
    case FV_DATE:
        return fv_temporal(ev, FV_TIME, &t);
    }
    return NUL;
}

BF(b_duration)
{
    if (n >= 1 && is_str(args[0]))
        fe_charge(ev, args[0]->u.str.len / 16);
    if (!is_str(args[0]))
        return NUL;
    fdtd d;
    int64_t months;
    switch (ft_parse_duration(args[0]->u.str.s, args[0]->u.str.len, &d, &months)) {
    case 1:
        return fv_dtd(ev, &d);
    case 2:
        return fv_ymd(ev, months);
    }
    return NUL;
}

BF(b_ym_duration)
{
    int a = K(0), b = K(1);
    if ((a != FV_DATE && a != FV_DT) || (b != FV_DATE && b != FV_DT))
        return NUL;
    int64_t y1, y2;
    int m1, d1, m2, d2;
    ft_civil_from_days(args[0]->u.t.days, &y1, &m1, &d1);
    ft_civil_from_days(args[1]->u.t.days, &y2, &m2, &d2);
    int64_t months = (y2 - y1) * 12 + (m2 - m1);
    /* Whole months only, as Java's Period.between counts them. */
    int64_t t1 = a == FV_DT ? args[0]->u.t.nanos : 0, t2 = b == FV_DT ? args[1]->u.t.nanos : 0;
    if (months > 0 && (d2 < d1 || (d2 == d1 && t2 < t1)))
        months--;
    else if (months < 0 && (d2 > d1 || (d2 == d1 && t2 > t1)))
        months++;
    return fv_ymd(ev, months);
}

BF(b_now)
{
    int64_t ms = ev->env ? ev->env->now_ms : 0;
    int64_t day = ms >= 0 ? ms / 86400000 : -((-ms - 1) / 86400000) - 1;
    ftemporal t = {day, (ms - day * 86400000) * 1000000, 0, 1};
    return fv_temporal(ev, FV_DT, &t);
}

BF(b_today)
{
    int64_t ms = ev->env ? ev->env->now_ms : 0;
    int64_t day = ms >= 0 ? ms / 86400000 : -((-ms - 1) / 86400000) - 1;
    ftemporal t = {day, 0, 0, 0};
    return fv_temporal(ev, FV_DATE, &t);
}

static int date_arg(const fv *v, int64_t *days)
{
    int k = fv_kind(v);
    if (k != FV_DATE && k != FV_DT)
        return -1;
    *days = v->u.t.days;
    return 0;
}

BF(b_day_of_week)
{
    static const char *names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                  "Friday", "Saturday", "Sunday"};
    int64_t d;
    if (date_arg(args[0], &d))
        return NUL;
    const char *s = names[ft_weekday(d) - 1];
    return fv_str(ev, s, strlen(s));
}

BF(b_month_of_year)
{
    static const char *names[] = {"January",   "February", "March",    "April",
                                  "May",       "June",     "July",     "August",
                                  "September", "October",  "November", "December"};
    int64_t d, y;
    int m, dd;
    if (date_arg(args[0], &d))
        return NUL;
    ft_civil_from_days(d, &y, &m, &dd);
    return fv_str(ev, names[m - 1], strlen(names[m - 1]));
}

BF(b_day_of_year)
{
    int64_t d, y;
    int m, dd;
    if (date_arg(args[0], &d))
        return NUL;
    ft_civil_from_days(d, &y, &m, &dd);
    return fv_num_i64(ev, d - ft_days_from_civil(y, 1, 1) + 1);
}

BF(b_week_of_year)
{
    int64_t d, y;
    int m, dd;
    if (date_arg(args[0], &d))
        return NUL;
    /* ISO 8601: the week belongs to the year of its Thursday. */
    int64_t thu = d - ft_weekday(d) + 4;
    ft_civil_from_days(thu, &y, &m, &dd);
    return fv_num_i64(ev, (thu - ft_days_from_civil(y, 1, 1)) / 7 + 1);
}

BF(b_last_day_of_month)
{
    int64_t d, y;
    int m, dd;
    if (date_arg(args[0], &d))
        return NUL;
    ft_civil_from_days(d, &y, &m, &dd);
    ftemporal t = {ft_days_from_civil(y, m, ft_days_in_month(y, m)), 0, 0, 0};
    return fv_temporal(ev, FV_DATE, &t);
}

/* ---- strings ----------------------------------------------------------- */

BF(b_string_length)
{
    if (!is_str(args[0]))
        return NUL;
    fe_charge(ev, args[0]->u.str.len / 64);
    return fv_num_i64(ev, (int64_t)fu8_count(args[0]->u.str.s, args[0]->u.str.len));
}

BF(b_substring)
{
    int64_t start, length = -1;
    if (!is_str(args[0]) || get_int(args[1], &start))
        return NUL;
    if (n > 2 && K(2) != FV_NULL && (get_int(args[2], &length) || length < 0))
        return NUL;
    const char *s = args[0]->u.str.s;
    size_t len = args[0]->u.str.len;
    fe_charge(ev, len / 64);
    int64_t cps = (int64_t)fu8_count(s, len);
    /* 1-based; a negative start counts from the end. */
    int64_t from = start > 0 ? start - 1 : cps + start;
    if (from < 0)
        from = 0;
    if (from > cps)
        from = cps;
    int64_t to = length < 0 || length > cps - from ? cps : from + length;
    size_t a = fu8_offset(s, len, (size_t)from), b = fu8_offset(s, len, (size_t)to);
    return fv_str(ev, s + a, b - a);
}

static const fv *map_case(feval *ev, const fnode *call, const fv *v, int upper)
{
    if (!is_str(v))
        return NUL;
    const char *s = v->u.str.s;
    size_t len = v->u.str.len, i = 0;
    fe_charge(ev, len / 16);
    fsb b = {NULL, 0, 0};
    while (i < len) {
        int c = fu8_decode(s, len, &i);
        if (c < 0)
            return NUL;
        char o[4];
        if (upper && c == 0xDF) {
            fsb_add(ev, &b, "SS", 2, call->col);
            continue;
        }
        uint32_t m = upper ? fu_upper((uint32_t)c) : fu_lower((uint32_t)c);
        fsb_add(ev, &b, o, fu8_encode(m, o), call->col);
    }
    return fsb_done(ev, &b);
}

BF(b_upper_case)
{
    return map_case(ev, call, args[0], 1);
}

BF(b_lower_case)
{
    return map_case(ev, call, args[0], 0);
}

static const char *find(const char *h, size_t hl, const char *n, size_t nl)
{
    if (nl == 0)
        return h;
    return memmem(h, hl, n, nl);
}

BF(b_contains)
{
    if (!is_str(args[0]) || !is_str(args[1]))
        return NUL;
    fe_charge(ev, args[0]->u.str.len / 16);
    return fv_bool(
        find(args[0]->u.str.s, args[0]->u.str.len, args[1]->u.str.s, args[1]->u.str.len) != NULL);
}

BF(b_starts_with)
{
    if (!is_str(args[0]) || !is_str(args[1]))
        return NUL;
    size_t a = args[0]->u.str.len, b = args[1]->u.str.len;
    fe_charge(ev, b / 64);
    return fv_bool(b <= a && memcmp(args[0]->u.str.s, args[1]->u.str.s, b) == 0);
}

BF(b_ends_with)
{
    if (!is_str(args[0]) || !is_str(args[1]))
        return NUL;
    size_t a = args[0]->u.str.len, b = args[1]->u.str.len;
    fe_charge(ev, b / 64);
    return fv_bool(b <= a && memcmp(args[0]->u.str.s + a - b, args[1]->u.str.s, b) == 0);
}

BF(b_substring_before)
{
    if (!is_str(args[0]) || !is_str(args[1]))
        return NUL;
    fe_charge(ev, args[0]->u.str.len / 16);
    const char *s = args[0]->u.str.s;
    const char *at = find(s, args[0]->u.str.len, args[1]->u.str.s, args[1]->u.str.len);
    if (!at)
        return fv_str(ev, "", 0);
    return fv_str(ev, s, (size_t)(at - s));
}

BF(b_substring_after)
{
    if (!is_str(args[0]) || !is_str(args[1]))
        return NUL;
    fe_charge(ev, args[0]->u.str.len / 16);
    const char *s = args[0]->u.str.s;
    size_t len = args[0]->u.str.len;
    const char *at = find(s, len, args[1]->u.str.s, args[1]->u.str.len);
    if (!at)
        return fv_str(ev, "", 0);
    size_t off = (size_t)(at - s) + args[1]->u.str.len;
    return fv_str(ev, s + off, len - off);
}

static int is_space(char c)
{
    return (unsigned char)c <= ' ';
}

BF(b_trim)
{
    if (!is_str(args[0]))
        return NUL;
    fe_charge(ev, args[0]->u.str.len / 64);
    const char *s = args[0]->u.str.s;
    size_t a = 0, b = args[0]->u.str.len;
    while (a < b && is_space(s[a]))
        a++;
    while (b > a && is_space(s[b - 1]))
        b--;
    return fv_str(ev, s + a, b - a);
}

BF(b_is_blank)
{
    if (!is_str(args[0]))
        return NUL;
    fe_charge(ev, args[0]->u.str.len / 64);
    for (size_t i = 0; i < args[0]->u.str.len; i++) {
        if (!is_space(args[0]->u.str.s[i]))
            return FV_FALSE_P;
    }
    return FV_TRUE_P;
}

/* A compiled pattern, from the evaluation's small cache; NULL when the
 * pattern is not valid (the function then gives null). */
static fregex *regex(feval *ev, const fv *pat, const fv *flags)
{
    if (!is_str(pat))
        return NULL;
    const char *fs = "";
    size_t fl = 0;
    if (flags && fv_kind(flags) == FV_STR) {
        fs = flags->u.str.s;
        fl = flags->u.str.len;
    } else if (flags && fv_kind(flags) != FV_NULL) {
        return NULL;
    }
    for (int i = 0; i < 4; i++) {
        struct fre_cache *c = &ev->recache[i];
        if (c->re && c->plen == pat->u.str.len && c->flen == fl &&
            memcmp(c->pat, pat->u.str.s, c->plen) == 0 && memcmp(c->flags, fs, fl) == 0)
            return c->re;
    }
    fe_charge(ev, 100 + pat->u.str.len * 8);
    char why[160];
    fregex *re =
        fre_compile(pat->u.str.s, pat->u.str.len, fs, fl, fe_alloc_cb, ev, why, sizeof why);
    if (!re)
        return NULL;
    struct fre_cache *c = &ev->recache[ev->renext++ % 4];
    c->pat = pat->u.str.s;
    c->plen = pat->u.str.len;
    c->flags = fs;
    c->flen = fl;
    c->re = re;
    return re;
}

#define MAX_CAPS (2 * 21)

static int search(feval *ev, fregex *re, const char *s, size_t len, size_t from, int64_t *caps)
{
    int rc = fre_search(re, s, len, from, caps, &ev->steps, ev->max_steps);
    if (rc == FRE_STEPS)
        fe_charge(ev, 0); /* fails: the steps are over the bound */
    return rc;
}

BF(b_matches)
{
    if (!is_str(args[0]))
        return NUL;
    fregex *re = regex(ev, args[1], n > 2 ? args[2] : NULL);
    if (!re)
        return NUL;
    int64_t caps[MAX_CAPS];
    return fv_bool(search(ev, re, args[0]->u.str.s, args[0]->u.str.len, 0, caps) == FRE_OK);
}

/* Java's replacement syntax: $n is group n (as many digits as make a
 * group), \x is x. Returns -1 for an invalid replacement. */
static int add_replacement(feval *ev, fsb *b, const fv *rep, const char *s, const int64_t *caps,
                           int groups, int col)
{
    const char *r = rep->u.str.s;
    size_t rl = rep->u.str.len;
    for (size_t i = 0; i < rl; i++) {
        if (r[i] == '\\') {
            if (++i >= rl)
                return -1;
            fsb_addc(ev, b, r[i], col);
        } else if (r[i] == '$') {
            if (++i >= rl || r[i] < '0' || r[i] > '9')
                return -1;
            int g = r[i] - '0';
            if (g > groups)
                return -1;
            while (i + 1 < rl && r[i + 1] >= '0' && r[i + 1] <= '9' &&
                   g * 10 + (r[i + 1] - '0') <= groups) {
                g = g * 10 + (r[i + 1] - '0');
                i++;
            }
            if (caps[2 * g] >= 0)
                fsb_add(ev, b, s + caps[2 * g], (size_t)(caps[2 * g + 1] - caps[2 * g]), col);
        } else {
            fsb_addc(ev, b, r[i], col);
        }
    }
    return 0;
}

static size_t next_char(const char *s, size_t len, size_t i)
{
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

BF(b_replace)
{
    if (!is_str(args[0]) || !is_str(args[2]))
        return NUL;
    fregex *re = regex(ev, args[1], n > 3 ? args[3] : NULL);
    if (!re)
        return NUL;
    const char *s = args[0]->u.str.s;
    size_t len = args[0]->u.str.len, pos = 0;
    int64_t caps[MAX_CAPS];
    fsb b = {NULL, 0, 0};
    while (pos <= len) {
        if (search(ev, re, s, len, pos, caps) != FRE_OK)
            break;
        size_t ms = (size_t)caps[0], me = (size_t)caps[1];
        fsb_add(ev, &b, s + pos, ms - pos, call->col);
        if (add_replacement(ev, &b, args[2], s, caps, fre_groups(re), call->col))
            return NUL;
        if (me > ms) {
            pos = me;
            continue;
        }
        /* An empty match: keep the next character and go on after it. */
        if (ms >= len) {
            pos = len + 1;
            break;
        }
        size_t nc = next_char(s, len, ms);
        fsb_add(ev, &b, s + ms, nc - ms, call->col);
        pos = nc;
    }
    if (pos <= len)
        fsb_add(ev, &b, s + pos, len - pos, call->col);
    return fsb_done(ev, &b);
}

BF(b_split)
{
    if (!is_str(args[0]))
        return NUL;
    fregex *re = regex(ev, args[1], NULL);
    if (!re)
        return NUL;
    const char *s = args[0]->u.str.s;
    size_t len = args[0]->u.str.len, pos = 0, from = 0;
    int64_t caps[MAX_CAPS];
    fvlist out = {0};
    while (from <= len && search(ev, re, s, len, from, caps) == FRE_OK) {
        size_t ms = (size_t)caps[0], me = (size_t)caps[1];
        if (me == ms) {
            /* An empty match splits nothing. */
            if (ms >= len)
                break;
            from = next_char(s, len, ms);
            continue;
        }
        fvl_push(ev, &out, fv_str(ev, s + pos, ms - pos), call->col);
        pos = from = me;
    }
    fvl_push(ev, &out, fv_str(ev, s + pos, len - pos), call->col);
    return fvl_done(ev, &out);
}

BF(b_extract)
{
    if (!is_str(args[0]))
        return NUL;
    fregex *re = regex(ev, args[1], NULL);
    if (!re)
        return NUL;
    const char *s = args[0]->u.str.s;
    size_t len = args[0]->u.str.len, from = 0;
    int64_t caps[MAX_CAPS];
    fvlist out = {0};
    while (from <= len && search(ev, re, s, len, from, caps) == FRE_OK) {
        size_t ms = (size_t)caps[0], me = (size_t)caps[1];
        fvl_push(ev, &out, fv_str(ev, s + ms, me - ms), call->col);
        from = me > ms ? me : (ms >= len ? len + 1 : next_char(s, len, ms));
    }
    return fvl_done(ev, &out);
}

BF(b_string_join)
{
    if (K(0) != FV_LIST)
        return NUL;
    const fv *delim = n > 1 ? args[1] : NUL;
    if (fv_kind(delim) != FV_NULL && !is_str(delim))
        return NUL;
    for (size_t k = 2; k < n; k++) {
        if (K(k) != FV_NULL && !is_str(args[k]))
            return NUL;
    }
    fsb b = {NULL, 0, 0};
    if (n > 2 && is_str(args[2]))
        fsb_add(ev, &b, args[2]->u.str.s, args[2]->u.str.len, call->col);
    size_t cnt = fv_list_len(args[0]);
    fe_charge(ev, cnt);
    int first = 1;
    for (size_t i = 0; i < cnt; i++) {
        const fv *it = fv_list_at(ev, args[0], i);
        if (fv_kind(it) == FV_NULL)
            continue; /* nulls are left out */
        if (!is_str(it))
            return NUL;
        if (!first && is_str(delim))
            fsb_add(ev, &b, delim->u.str.s, delim->u.str.len, call->col);
        first = 0;
        fsb_add(ev, &b, it->u.str.s, it->u.str.len, call->col);
    }
    if (n > 3 && is_str(args[3]))
        fsb_add(ev, &b, args[3]->u.str.s, args[3]->u.str.len, call->col);
    return fsb_done(ev, &b);
}

/* ---- lists ------------------------------------------------------------- */

/* The items of f(list) or of f(a, b, c). */
static const fv *items_of(feval *ev, const fv **args, size_t n)
{
    if (n == 1 && K(0) == FV_LIST)
        return args[0];
    if (n == 1 && K(0) == FV_NULL)
        return NULL;
    const fv **items = fe_alloc(ev, n * sizeof *items);
    memcpy(items, args, n * sizeof *items);
    return fv_list(ev, items, n);
}

BF(b_list_contains)
{
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (fv_equal(ev, fv_list_at(ev, args[0], i), args[1]) == 1)
            return FV_TRUE_P;
    }
    return FV_FALSE_P;
}

BF(b_count)
{
    if (K(0) != FV_LIST)
        return NUL;
    return fv_num_i64(ev, (int64_t)fv_list_len(args[0]));
}

static const fv *extreme(feval *ev, const fv **args, size_t n, int want)
{
    const fv *l = items_of(ev, args, n);
    if (!l)
        return NUL;
    size_t cnt = fv_list_len(l);
    if (cnt == 0)
        return NUL;
    fe_charge(ev, cnt);
    const fv *best = fv_list_at(ev, l, 0);
    for (size_t i = 1; i < cnt; i++) {
        const fv *it = fv_list_at(ev, l, i);
        int c;
        if (fv_order(ev, it, best, &c))
            return NUL;
        if (c == want)
            best = it;
    }
    /* A single item must be orderable too. */
    int c;
    if (fv_order(ev, best, best, &c))
        return NUL;
    return best;
}

BF(b_min)
{
    return extreme(ev, args, n, -1);
}

BF(b_max)
{
    return extreme(ev, args, n, 1);
}

/* The numbers of a list, or -1 when an item is not a number. */
static int numbers(feval *ev, const fv **args, size_t n, fdec **out, size_t *cnt)
{
    const fv *l = items_of(ev, args, n);
    if (!l)
        return -1;
    *cnt = fv_list_len(l);
    fe_charge(ev, *cnt);
    *out = fe_alloc(ev, (*cnt ? *cnt : 1) * sizeof **out);
    for (size_t i = 0; i < *cnt; i++) {
        const fv *it = fv_list_at(ev, l, i);
        if (fv_kind(it) != FV_NUM)
            return -1;
        (*out)[i] = it->u.num;
    }
    return 0;
}

static const fv *checked(feval *ev, const fnode *call, int rc, const fdec *d)
{
    if (rc == FDEC_OVERFLOW)
        fe_fail(ev, call->col,
                "The number computed at column %d is too large: Chute's numbers stay below "
                "10^%d",
                call->col, FDEC_EMAX + 1);
    if (rc)
        return NUL;
    return fv_num(ev, d);
}

BF(b_sum)
{
    fdec *x;
    size_t cnt;
    if (numbers(ev, args, n, &x, &cnt) || cnt == 0)
        return NUL;
    fdec acc = x[0];
    int rc = 0;
    for (size_t i = 1; i < cnt && !rc; i++)
        rc = fdec_add(&acc, &acc, &x[i]);
    return checked(ev, call, rc, &acc);
}

BF(b_product)
{
    fdec *x;
    size_t cnt;
    if (numbers(ev, args, n, &x, &cnt) || cnt == 0)
        return NUL;
    fdec acc = x[0];
    int rc = 0;
    for (size_t i = 1; i < cnt && !rc; i++)
        rc = fdec_mul(&acc, &acc, &x[i]);
    return checked(ev, call, rc, &acc);
}

static int mean_of(const fdec *x, size_t cnt, fdec *out)
{
    fdec acc = x[0], c;
    for (size_t i = 1; i < cnt; i++) {
        int rc = fdec_add(&acc, &acc, &x[i]);
        if (rc)
            return rc;
    }
    fdec_from_i64(&c, (int64_t)cnt);
    return fdec_div(out, &acc, &c);
}

BF(b_mean)
{
    fdec *x, m;
    size_t cnt;
    if (numbers(ev, args, n, &x, &cnt) || cnt == 0)
        return NUL;
    return checked(ev, call, mean_of(x, cnt, &m), &m);
}

static void sort_decs(feval *ev, fdec *x, size_t cnt)
{
    /* Insertion sort is enough for the short lists this sees; bigger ones
     * pay in steps. */
    fe_charge(ev, cnt < 64 ? cnt * cnt : 64 * cnt);
    if (cnt > 64) {
        /* Shell sort keeps big lists near n log n. */
        for (size_t gap = cnt / 2; gap > 0; gap /= 2) {
            for (size_t i = gap; i < cnt; i++) {
                fdec t = x[i];
                size_t j = i;
                while (j >= gap && fdec_cmp(&x[j - gap], &t) > 0) {
                    x[j] = x[j - gap];
                    j -= gap;
                }
                x[j] = t;
            }
        }
        return;
    }
    for (size_t i = 1; i < cnt; i++) {
        fdec t = x[i];
        size_t j = i;
        while (j > 0 && fdec_cmp(&x[j - 1], &t) > 0) {
            x[j] = x[j - 1];
            j--;
        }
        x[j] = t;
    }
}

BF(b_median)
{
    fdec *x;
    size_t cnt;
    if (numbers(ev, args, n, &x, &cnt) || cnt == 0)
        return NUL;
    sort_decs(ev, x, cnt);
    if (cnt % 2)
        return fv_num(ev, &x[cnt / 2]);
    fdec two[2] = {x[cnt / 2 - 1], x[cnt / 2]}, m;
    return checked(ev, call, mean_of(two, 2, &m), &m);
}

BF(b_stddev)
{
    fdec *x, m, acc, d, c, r;
    size_t cnt;
    if (numbers(ev, args, n, &x, &cnt) || cnt < 2)
        return NUL;
    int rc = mean_of(x, cnt, &m);
    fdec_from_i64(&acc, 0);
    for (size_t i = 0; i < cnt && !rc; i++) {
        rc = fdec_sub(&d, &x[i], &m);
        if (!rc)
            rc = fdec_mul(&d, &d, &d);
        if (!rc)
            rc = fdec_add(&acc, &acc, &d);
    }
    fdec_from_i64(&c, (int64_t)cnt - 1);
    if (!rc)
        rc = fdec_div(&r, &acc, &c);
    if (!rc)
        rc = fdec_sqrt(&r, &r);
    return checked(ev, call, rc, &r);
}

BF(b_mode)
{
    fdec *x;
    size_t cnt;
    if (numbers(ev, args, n, &x, &cnt))
        return NUL;
    sort_decs(ev, x, cnt);
    size_t best = 0;
    for (size_t i = 0; i < cnt;) {
        size_t j = i;
        while (j < cnt && fdec_cmp(&x[j], &x[i]) == 0)
            j++;
        if (j - i > best)
            best = j - i;
        i = j;
    }
    fvlist out = {0};
    for (size_t i = 0; i < cnt;) {
        size_t j = i;
        while (j < cnt && fdec_cmp(&x[j], &x[i]) == 0)
            j++;
        if (j - i == best)
            fvl_push(ev, &out, fv_num(ev, &x[i]), call->col);
        i = j;
    }
    return fvl_done(ev, &out);
}

static const fv *all_any(feval *ev, const fv **args, size_t n, int want)
{
    const fv *l = items_of(ev, args, n);
    if (!l)
        return NUL;
    size_t cnt = fv_list_len(l);
    fe_charge(ev, cnt);
    int any_other = 0;
    for (size_t i = 0; i < cnt; i++) {
        const fv *it = fv_list_at(ev, l, i);
        if (fv_kind(it) != FV_BOOL)
            any_other = 1;
        else if (it->u.b == want)
            return fv_bool(want);
    }
    return any_other ? NUL : fv_bool(!want);
}

BF(b_all)
{
    return all_any(ev, args, n, 0);
}

BF(b_any)
{
    return all_any(ev, args, n, 1);
}

/* A list made of |cnt| items of |l| from |from| on. */
static const fv *slice(feval *ev, const fv *l, size_t from, size_t cnt)
{
    const fv **items = fe_alloc(ev, (cnt ? cnt : 1) * sizeof *items);
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++)
        items[i] = fv_list_at(ev, l, from + i);
    return fv_list(ev, items, cnt);
}

/* A 1-based or negative position in a list of |cnt| items, or -1. */
static int64_t position(const fv *v, size_t cnt)
{
    int64_t p;
    if (get_int(v, &p))
        return -1;
    if (p > 0 && (uint64_t)p <= cnt)
        return p - 1;
    if (p < 0 && (uint64_t)(-(p + 1)) + 1 <= cnt)
        return (int64_t)cnt + p;
    return -1;
}

BF(b_sublist)
{
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    int64_t from = position(args[1], cnt);
    if (from < 0)
        return NUL;
    size_t take = cnt - (size_t)from;
    if (n > 2 && K(2) != FV_NULL) {
        int64_t len;
        if (get_int(args[2], &len) || len < 0 || (uint64_t)len > take)
            return NUL;
        take = (size_t)len;
    }
    return slice(ev, args[0], (size_t)from, take);
}

BF(b_append)
{
    if (K(0) != FV_LIST)
        return NUL;
    fvlist out = {0};
    size_t cnt = fv_list_len(args[0]);
    fe_charge(ev, cnt + n);
    for (size_t i = 0; i < cnt; i++)
        fvl_push(ev, &out, fv_list_at(ev, args[0], i), call->col);
    for (size_t k = 1; k < n; k++)
        fvl_push(ev, &out, args[k], call->col);
    return fvl_done(ev, &out);
}

BF(b_concatenate)
{
    fvlist out = {0};
    for (size_t k = 0; k < n; k++) {
        if (K(k) != FV_LIST)
            return NUL;
        size_t cnt = fv_list_len(args[k]);
        fe_charge(ev, cnt);
        for (size_t i = 0; i < cnt; i++)
            fvl_push(ev, &out, fv_list_at(ev, args[k], i), call->col);
    }
    return fvl_done(ev, &out);
}

BF(b_insert_before)
{
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    int64_t at = position(args[1], cnt);
    if (at < 0)
        return NUL;
    fvlist out = {0};
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++) {
        if ((int64_t)i == at)
            fvl_push(ev, &out, args[2], call->col);
        fvl_push(ev, &out, fv_list_at(ev, args[0], i), call->col);
    }
    return fvl_done(ev, &out);
}

BF(b_remove)
{
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    int64_t at = position(args[1], cnt);
    if (at < 0)
        return NUL;
    fvlist out = {0};
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++) {
        if ((int64_t)i != at)
            fvl_push(ev, &out, fv_list_at(ev, args[0], i), call->col);
    }
    return fvl_done(ev, &out);
}

BF(b_reverse)
{
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    const fv **items = fe_alloc(ev, (cnt ? cnt : 1) * sizeof *items);
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++)
        items[cnt - 1 - i] = fv_list_at(ev, args[0], i);
    return fv_list(ev, items, cnt);
}

BF(b_index_of)
{
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    fvlist out = {0};
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (fv_equal(ev, fv_list_at(ev, args[0], i), args[1]) == 1)
            fvl_push(ev, &out, fv_num_i64(ev, (int64_t)i + 1), call->col);
    }
    return fvl_done(ev, &out);
}

/*
 * A set of values for union(), distinct values() and duplicate values():
 * scalars (numbers, strings, booleans, dates, durations, zoned or local
 * times) are hashed, so big lists stay linear; lists and contexts are
 * compared one by one (paid in steps). Each member keeps a count.
 */
typedef struct vset {
    const fv **slot; /* hash table of scalars, NULL empty */
    uint32_t *count;
    size_t cap, n;
    const fv **other; /* the rest */
    uint32_t *ocount;
    size_t on, ocap;
} vset;

static int hash_value(const fv *v, uint64_t *h)
{
    uint64_t x = 1469598103934665603ull;
#define MIX(b) (x = (x ^ (uint64_t)(b)) * 1099511628211ull)
    int k = fv_kind(v);
    MIX(k);
    switch (k) {
    case FV_NULL:
        break;
    case FV_BOOL:
        MIX(v->u.b);
        break;
    case FV_NUM:
        /* Numbers are kept without trailing zeros: equal numbers, equal
         * fields. */
        MIX((uint64_t)v->u.num.coef);
        MIX((uint64_t)(v->u.num.coef >> 64));
        MIX((uint32_t)v->u.num.exp);
        MIX(v->u.num.neg);
        break;
    case FV_STR:
        for (size_t i = 0; i < v->u.str.len; i++)
            MIX((unsigned char)v->u.str.s[i]);
        break;
    case FV_DATE:
        MIX((uint64_t)v->u.t.days);
        break;
    case FV_TIME:
    case FV_DT: {
        ftemporal t = v->u.t;
        if (k == FV_TIME)
            t.days = 0;
        __int128 ns;
        ft_instant(&t, &ns);
        MIX((uint64_t)ns);
        MIX((uint64_t)(ns >> 64));
        MIX(t.has_offset);
        break;
    }
    case FV_DTD:
        MIX((uint64_t)v->u.dtd.secs);
        MIX((uint32_t)v->u.dtd.nanos);
        break;
    case FV_YMD:
        MIX((uint64_t)v->u.months);
        break;
    default:
        return -1;
    }
#undef MIX
    *h = x;
    return 0;
}

/* Adds |v|; returns its count's address (1 for a new member). */
static uint32_t *vset_add(feval *ev, vset *s, const fv *v)
{
    uint64_t h;
    fe_charge(ev, 1);
    if (hash_value(v, &h)) {
        fe_charge(ev, s->on);
        for (size_t i = 0; i < s->on; i++) {
            if (fv_equal(ev, s->other[i], v) == 1) {
                s->ocount[i]++;
                return &s->ocount[i];
            }
        }
        if (s->on == s->ocap) {
            size_t cap = s->ocap ? s->ocap * 2 : 8;
            const fv **o = fe_alloc(ev, cap * sizeof *o);
            uint32_t *c = fe_alloc(ev, cap * sizeof *c);
            if (s->on) {
                memcpy(o, s->other, s->on * sizeof *o);
                memcpy(c, s->ocount, s->on * sizeof *c);
            }
            s->other = o;
            s->ocount = c;
            s->ocap = cap;
        }
        s->other[s->on] = v;
        s->ocount[s->on] = 1;
        return &s->ocount[s->on++];
    }
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const fv **slot = fe_alloc(ev, cap * sizeof *slot);
        uint32_t *count = fe_alloc(ev, cap * sizeof *count);
        memset(slot, 0, cap * sizeof *slot);
        fe_charge(ev, s->cap);
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i])
                continue;
            uint64_t hh;
            hash_value(s->slot[i], &hh);
            size_t at = (size_t)hh & (cap - 1);
            while (slot[at])
                at = (at + 1) & (cap - 1);
            slot[at] = s->slot[i];
            count[at] = s->count[i];
        }
        s->slot = slot;
        s->count = count;
        s->cap = cap;
    }
    size_t at = (size_t)h & (s->cap - 1);
    while (s->slot[at]) {
        if (fv_equal(ev, s->slot[at], v) == 1) {
            s->count[at]++;
            return &s->count[at];
        }
        at = (at + 1) & (s->cap - 1);
    }
    s->slot[at] = v;
    s->count[at] = 1;
    s->n++;
    return &s->count[at];
}

BF(b_union)
{
    fvlist out = {0};
    vset set;
    memset(&set, 0, sizeof set);
    for (size_t k = 0; k < n; k++) {
        if (K(k) != FV_LIST)
            return NUL;
        size_t cnt = fv_list_len(args[k]);
        for (size_t i = 0; i < cnt; i++) {
            const fv *it = fv_list_at(ev, args[k], i);
            if (*vset_add(ev, &set, it) == 1)
                fvl_push(ev, &out, it, call->col);
        }
    }
    return fvl_done(ev, &out);
}

BF(b_distinct_values)
{
    if (K(0) != FV_LIST)
        return NUL;
    return b_union(ev, call, args, 1);
}

BF(b_duplicate_values)
{
    /* The items that occur more than once, in the order they first occur. */
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    vset set;
    memset(&set, 0, sizeof set);
    const fv **items = fe_alloc(ev, (cnt ? cnt : 1) * sizeof *items);
    for (size_t i = 0; i < cnt; i++)
        items[i] = fv_list_at(ev, args[0], i);
    for (size_t i = 0; i < cnt; i++)
        vset_add(ev, &set, items[i]);
    /* No member is new in this second pass, so the table does not move. */
    fvlist out = {0};
    vset emitted;
    memset(&emitted, 0, sizeof emitted);
    for (size_t i = 0; i < cnt; i++) {
        uint32_t *c = vset_add(ev, &set, items[i]); /* count + 1 */
        (*c)--;
        if (*c > 1 && *vset_add(ev, &emitted, items[i]) == 1)
            fvl_push(ev, &out, items[i], call->col);
    }
    return fvl_done(ev, &out);
}

static void flatten_into(feval *ev, fvlist *out, const fv *l, int col, int depth)
{
    if (depth > 2100)
        fe_fail(ev, col, "A list at column %d is nested more than 2100 levels deep", col);
    size_t cnt = fv_list_len(l);
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++) {
        const fv *it = fv_list_at(ev, l, i);
        if (fv_kind(it) == FV_LIST)
            flatten_into(ev, out, it, col, depth + 1);
        else
            fvl_push(ev, out, it, col);
    }
}

BF(b_flatten)
{
    if (K(0) != FV_LIST)
        return NUL;
    fvlist out = {0};
    flatten_into(ev, &out, args[0], call->col, 0);
    return fvl_done(ev, &out);
}

BF(b_is_empty)
{
    if (K(0) != FV_LIST)
        return NUL;
    return fv_bool(fv_list_len(args[0]) == 0);
}

BF(b_partition)
{
    int64_t size;
    if (K(0) != FV_LIST || get_int(args[1], &size) || size <= 0)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    fvlist out = {0};
    for (size_t i = 0; i < cnt; i += (size_t)size) {
        size_t take = cnt - i < (uint64_t)size ? cnt - i : (size_t)size;
        fvl_push(ev, &out, slice(ev, args[0], i, take), call->col);
    }
    return fvl_done(ev, &out);
}

/* sort(list, precedes): a stable merge sort with the function definition
 * as the order. */
static int precedes(feval *ev, const fv *fn, const fv *a, const fv *b)
{
    const fv *pair[2] = {a, b};
    const fv *r = fb_call_lambda(ev, fn, pair, 2);
    return fv_kind(r) == FV_BOOL && r->u.b;
}

BF(b_sort)
{
    if (K(0) != FV_LIST || K(1) != FV_FUNC)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    const fv **a = fe_alloc(ev, (cnt ? cnt : 1) * sizeof *a);
    const fv **tmp = fe_alloc(ev, (cnt ? cnt : 1) * sizeof *tmp);
    for (size_t i = 0; i < cnt; i++)
        a[i] = fv_list_at(ev, args[0], i);
    for (size_t w = 1; w < cnt; w *= 2) {
        for (size_t lo = 0; lo < cnt; lo += 2 * w) {
            size_t mid = lo + w < cnt ? lo + w : cnt;
            size_t hi = lo + 2 * w < cnt ? lo + 2 * w : cnt;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (precedes(ev, args[1], a[j], a[i]))
                    tmp[k++] = a[j++];
                else
                    tmp[k++] = a[i++];
            }
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        const fv **t = a;
        a = tmp;
        tmp = t;
    }
    return fv_list(ev, a, cnt);
}

/* ---- numbers ----------------------------------------------------------- */

static const fv *rounded(feval *ev, const fnode *call, const fv **args, size_t n,
                         enum fdec_round mode)
{
    int64_t scale = 0;
    if (K(0) != FV_NUM)
        return NUL;
    if (n > 1 && K(1) != FV_NULL) {
        if (get_int(args[1], &scale) || scale > 6176 || scale < -6111)
            return NUL;
    } else if (n > 1) {
        return NUL;
    }
    fdec r;
    return checked(ev, call, fdec_round(&r, &args[0]->u.num, scale, mode), &r);
}

BF(b_decimal)
{
    return rounded(ev, call, args, n, FDEC_HALF_EVEN);
}

BF(b_floor)
{
    return rounded(ev, call, args, n, FDEC_FLOOR);
}

BF(b_ceiling)
{
    return rounded(ev, call, args, n, FDEC_CEILING);
}

BF(b_round_up)
{
    return rounded(ev, call, args, n, FDEC_UP);
}

BF(b_round_down)
{
    return rounded(ev, call, args, n, FDEC_DOWN);
}

BF(b_round_half_up)
{
    return rounded(ev, call, args, n, FDEC_HALF_UP);
}

BF(b_round_half_down)
{
    return rounded(ev, call, args, n, FDEC_HALF_DOWN);
}

BF(b_abs)
{
    switch (K(0)) {
    case FV_NUM: {
        fdec r = args[0]->u.num;
        r.neg = 0;
        return fv_num(ev, &r);
    }
    case FV_DTD: {
        fdtd d = args[0]->u.dtd;
        if (d.secs < 0 || d.nanos < 0) {
            d.secs = -d.secs;
            d.nanos = -d.nanos;
        }
        return fv_dtd(ev, &d);
    }
    case FV_YMD:
        return fv_ymd(ev, args[0]->u.months < 0 ? -args[0]->u.months : args[0]->u.months);
    }
    return NUL;
}

BF(b_modulo)
{
    if (K(0) != FV_NUM || K(1) != FV_NUM)
        return NUL;
    fdec r;
    return checked(ev, call, fdec_mod(&r, &args[0]->u.num, &args[1]->u.num), &r);
}

BF(b_sqrt)
{
    if (K(0) != FV_NUM)
        return NUL;
    fdec r;
    fe_charge(ev, 50);
    return checked(ev, call, fdec_sqrt(&r, &args[0]->u.num), &r);
}

static const fv *from_double(feval *ev, double x)
{
    fdec r;
    if (!isfinite(x) || fdec_from_double(&r, x))
        return NUL;
    return fv_num(ev, &r);
}

BF(b_log)
{
    if (K(0) != FV_NUM || args[0]->u.num.neg || fdec_is_zero(&args[0]->u.num))
        return NUL;
    return from_double(ev, log(fdec_to_double(&args[0]->u.num)));
}

BF(b_exp)
{
    if (K(0) != FV_NUM)
        return NUL;
    return from_double(ev, exp(fdec_to_double(&args[0]->u.num)));
}

static const fv *parity(feval *ev, const fv *v, int want_odd)
{
    if (fv_kind(v) != FV_NUM || !fdec_is_int(&v->u.num))
        return NUL;
    fdec two, r;
    fdec_from_i64(&two, 2);
    if (fdec_mod(&r, &v->u.num, &two))
        return NUL;
    (void)ev;
    return fv_bool(fdec_is_zero(&r) != want_odd);
}

BF(b_odd)
{
    return parity(ev, args[0], 1);
}

BF(b_even)
{
    return parity(ev, args[0], 0);
}

/* ---- contexts ---------------------------------------------------------- */

BF(b_get_value)
{
    const fv *c = args[0];
    if (fv_kind(c) != FV_CTX)
        return NUL;
    if (is_str(args[1])) {
        const fv *v = fv_ctx_get(ev, c, args[1]->u.str.s, args[1]->u.str.len);
        return v ? v : NUL;
    }
    if (K(1) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[1]);
    const fv *cur = c;
    for (size_t i = 0; i < cnt; i++) {
        const fv *k = fv_list_at(ev, args[1], i);
        if (!is_str(k) || fv_kind(cur) != FV_CTX)
            return NUL;
        cur = fv_ctx_get(ev, cur, k->u.str.s, k->u.str.len);
        if (!cur)
            return NUL;
    }
    return cur;
}

static const fv *entry_ctx(feval *ev, const char *k, size_t kl, const fv *v)
{
    fentry *e = fe_alloc(ev, 2 * sizeof *e);
    e[0].key = "key";
    e[0].klen = 3;
    e[0].val = fv_str(ev, k, kl);
    e[1].key = "value";
    e[1].klen = 5;
    e[1].val = v;
    return fv_ctx(ev, e, 2);
}

BF(b_get_entries)
{
    if (K(0) != FV_CTX)
        return NUL;
    size_t cnt;
    fentry *e = fv_ctx_entries(ev, args[0], &cnt);
    fvlist out = {0};
    fe_charge(ev, cnt);
    for (size_t i = 0; i < cnt; i++)
        fvl_push(ev, &out, entry_ctx(ev, e[i].key, e[i].klen, e[i].val), call->col);
    return fvl_done(ev, &out);
}

/* A copy of |c| with |key| set to |v| (added at the end when new). */
static const fv *put(feval *ev, const fv *c, const char *key, size_t klen, const fv *v)
{
    size_t cnt;
    fentry *e = fv_ctx_entries(ev, c, &cnt);
    fentry *ne = fe_alloc(ev, (cnt + 1) * sizeof *ne);
    fe_charge(ev, cnt);
    size_t k = 0;
    int replaced = 0;
    for (size_t i = 0; i < cnt; i++) {
        ne[k] = e[i];
        if (e[i].klen == klen && memcmp(e[i].key, key, klen) == 0) {
            ne[k].val = v;
            replaced = 1;
        }
        k++;
    }
    if (!replaced) {
        ne[k].key = key;
        ne[k].klen = klen;
        ne[k].val = v;
        k++;
    }
    return fv_ctx(ev, ne, k);
}

static const fv *put_path(feval *ev, const fv *c, const fv *keys, size_t i, const fv *v)
{
    const fv *k = fv_list_at(ev, keys, i);
    if (!is_str(k))
        return NULL;
    if (i + 1 == fv_list_len(keys))
        return put(ev, c, k->u.str.s, k->u.str.len, v);
    const fv *inner = fv_ctx_get(ev, c, k->u.str.s, k->u.str.len);
    if (!inner || fv_kind(inner) != FV_CTX)
        inner = fv_ctx(ev, NULL, 0);
    const fv *ni = put_path(ev, inner, keys, i + 1, v);
    if (!ni)
        return NULL;
    return put(ev, c, k->u.str.s, k->u.str.len, ni);
}

BF(b_context_put)
{
    if (K(0) != FV_CTX)
        return NUL;
    if (is_str(args[1]))
        return put(ev, args[0], args[1]->u.str.s, args[1]->u.str.len, args[2]);
    if (K(1) != FV_LIST || fv_list_len(args[1]) == 0 || fv_list_len(args[1]) > 64)
        return NUL;
    const fv *r = put_path(ev, args[0], args[1], 0, args[2]);
    return r ? r : NUL;
}

BF(b_context_merge)
{
    const fv *l = items_of(ev, args, n);
    if (!l)
        return NUL;
    size_t cnt = fv_list_len(l);
    const fv *acc = fv_ctx(ev, NULL, 0);
    for (size_t i = 0; i < cnt; i++) {
        const fv *c = fv_list_at(ev, l, i);
        if (fv_kind(c) != FV_CTX)
            return NUL;
        size_t m;
        fentry *e = fv_ctx_entries(ev, c, &m);
        for (size_t j = 0; j < m; j++)
            acc = put(ev, acc, e[j].key, e[j].klen, e[j].val);
    }
    return acc;
}

BF(b_context)
{
    if (K(0) != FV_LIST)
        return NUL;
    size_t cnt = fv_list_len(args[0]);
    const fv *acc = fv_ctx(ev, NULL, 0);
    for (size_t i = 0; i < cnt; i++) {
        const fv *en = fv_list_at(ev, args[0], i);
        if (fv_kind(en) != FV_CTX)
            return NUL;
        const fv *k = fv_ctx_get(ev, en, "key", 3);
        const fv *v = fv_ctx_get(ev, en, "value", 5);
        if (!k || !is_str(k) || !v)
            return NUL;
        acc = put(ev, acc, k->u.str.s, k->u.str.len, v);
    }
    return acc;
}

/* ---- the table --------------------------------------------------------- */

#define V FB_VARARGS

static const fbuiltin table[] = {
    /* boolean */
    {"not", "negand", 1, 1, b_not, 0, 0, 0},
    {"is defined", "value", 1, 1, b_is_defined, 0, 0, 0},
    {"get or else", "value,default", 2, 2, b_get_or_else, 0, 0, 0},
    {"assert", "value,condition,cause", 2, 3, b_assert, 0, 0, 0},
    /* conversion */
    {"string", "from", 1, 1, b_string, 0, 0, 0},
    {"number", "from", 1, 1, b_number, 0, 0, 0},
    {"number", "from,grouping separator,decimal separator", 3, 3, b_number, 0, 0, 0},
    {"date", "from", 1, 1, b_date, 0, 0, 0},
    {"date", "year,month,day", 3, 3, b_date, 0, 0, 0},
    {"date and time", "from", 1, 1, b_date_and_time, 0, 0, 0},
    {"date and time", "date,time", 2, 2, b_date_and_time, 0, 0, 0},
    {"time", "from", 1, 1, b_time, 0, 0, 0},
    {"time", "hour,minute,second,offset", 3, 4, b_time, 0, 0, 0},
    {"duration", "from", 1, 1, b_duration, 0, 0, 0},
    {"years and months duration", "from,to", 2, 2, b_ym_duration, 0, 0, 0},
    /* temporal */
    {"now", "", 0, 0, b_now, 0, 0, 0},
    {"today", "", 0, 0, b_today, 0, 0, 0},
    {"day of week", "date", 1, 1, b_day_of_week, 0, 0, 0},
    {"day of year", "date", 1, 1, b_day_of_year, 0, 0, 0},
    {"week of year", "date", 1, 1, b_week_of_year, 0, 0, 0},
    {"month of year", "date", 1, 1, b_month_of_year, 0, 0, 0},
    {"last day of month", "date", 1, 1, b_last_day_of_month, 0, 0, 0},
    /* strings */
    {"string length", "string", 1, 1, b_string_length, 0, 0, 0},
    {"substring", "string,start position,length", 2, 3, b_substring, 0, 0, 0},
    {"upper case", "string", 1, 1, b_upper_case, 0, 0, 0},
    {"lower case", "string", 1, 1, b_lower_case, 0, 0, 0},
    {"substring before", "string,match", 2, 2, b_substring_before, 0, 0, 0},
    {"substring after", "string,match", 2, 2, b_substring_after, 0, 0, 0},
    {"contains", "string,match", 2, 2, b_contains, 0, 0, 0},
    {"starts with", "string,match", 2, 2, b_starts_with, 0, 0, 0},
    {"ends with", "string,match", 2, 2, b_ends_with, 0, 0, 0},
    {"matches", "input,pattern,flags", 2, 3, b_matches, 2, 3, 0},
    {"replace", "input,pattern,replacement,flags", 3, 4, b_replace, 2, 4, 0},
    {"split", "string,delimiter", 2, 2, b_split, 2, 0, 0},
    {"extract", "string,pattern", 2, 2, b_extract, 2, 0, 0},
    {"string join", "list,delimiter", 1, 2, b_string_join, 0, 0, 0},
    {"string join", "list,delimiter,prefix,suffix", 4, 4, b_string_join, 0, 0, 0},
    {"trim", "string", 1, 1, b_trim, 0, 0, 0},
    {"is blank", "string", 1, 1, b_is_blank, 0, 0, 0},
    /* lists */
    {"list contains", "list,element", 2, 2, b_list_contains, 0, 0, 0},
    {"count", "list", 1, 1, b_count, 0, 0, 0},
    {"min", "list", 1, V, b_min, 0, 0, 0},
    {"max", "list", 1, V, b_max, 0, 0, 0},
    {"sum", "list", 1, V, b_sum, 0, 0, 0},
    {"product", "list", 1, V, b_product, 0, 0, 0},
    {"mean", "list", 1, V, b_mean, 0, 0, 0},
    {"median", "list", 1, V, b_median, 0, 0, 0},
    {"stddev", "list", 1, V, b_stddev, 0, 0, 0},
    {"mode", "list", 1, V, b_mode, 0, 0, 0},
    {"all", "list", 1, V, b_all, 0, 0, 0},
    {"any", "list", 1, V, b_any, 0, 0, 0},
    {"sublist", "list,start position,length", 2, 3, b_sublist, 0, 0, 0},
    {"append", "list,item", 2, V, b_append, 0, 0, 0},
    {"concatenate", "list", 1, V, b_concatenate, 0, 0, 0},
    {"insert before", "list,position,newItem", 3, 3, b_insert_before, 0, 0, 0},
    {"remove", "list,position", 2, 2, b_remove, 0, 0, 0},
    {"reverse", "list", 1, 1, b_reverse, 0, 0, 0},
    {"index of", "list,match", 2, 2, b_index_of, 0, 0, 0},
    {"union", "list", 1, V, b_union, 0, 0, 0},
    {"distinct values", "list", 1, 1, b_distinct_values, 0, 0, 0},
    {"duplicate values", "list", 1, 1, b_duplicate_values, 0, 0, 0},
    {"flatten", "list", 1, 1, b_flatten, 0, 0, 0},
    {"sort", "list,precedes", 2, 2, b_sort, 0, 0, 2},
    {"is empty", "list", 1, 1, b_is_empty, 0, 0, 0},
    {"partition", "list,size", 2, 2, b_partition, 0, 0, 0},
    /* numbers */
    {"decimal", "n,scale", 2, 2, b_decimal, 0, 0, 0},
    {"floor", "n,scale", 1, 2, b_floor, 0, 0, 0},
    {"ceiling", "n,scale", 1, 2, b_ceiling, 0, 0, 0},
    {"round up", "n,scale", 2, 2, b_round_up, 0, 0, 0},
    {"round down", "n,scale", 2, 2, b_round_down, 0, 0, 0},
    {"round half up", "n,scale", 2, 2, b_round_half_up, 0, 0, 0},
    {"round half down", "n,scale", 2, 2, b_round_half_down, 0, 0, 0},
    {"abs", "n", 1, 1, b_abs, 0, 0, 0},
    {"modulo", "dividend,divisor", 2, 2, b_modulo, 0, 0, 0},
    {"sqrt", "number", 1, 1, b_sqrt, 0, 0, 0},
    {"log", "number", 1, 1, b_log, 0, 0, 0},
    {"exp", "number", 1, 1, b_exp, 0, 0, 0},
    {"odd", "number", 1, 1, b_odd, 0, 0, 0},
    {"even", "number", 1, 1, b_even, 0, 0, 0},
    /* contexts */
    {"get value", "context,key", 2, 2, b_get_value, 0, 0, 0},
    {"get entries", "context", 1, 1, b_get_entries, 0, 0, 0},
    {"context put", "context,key,value", 3, 3, b_context_put, 0, 0, 0},
    {"context merge", "contexts", 1, V, b_context_merge, 0, 0, 0},
    {"context", "entries", 1, 1, b_context, 0, 0, 0},
    {NULL, NULL, 0, 0, NULL, 0, 0, 0},
};

const fbuiltin *fb_table(void)
{
    return table;
}
