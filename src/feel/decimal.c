/*
 * FEEL numbers: decimals with 34 significant digits, rounded half even,
 * as DMN specifies and Zeebe computes (Java BigDecimal with
 * MathContext.DECIMAL128). A number is a 128-bit coefficient below 10^34
 * and a base-10 exponent. Every operation computes the exact result in a
 * 256-bit integer (wide enough for a product of two coefficients, for a sum
 * whose operands are aligned, and for a dividend scaled for 35 quotient
 * digits) and then rounds it once, so +, -, * and / are correctly rounded.
 */
#include "feel/feel_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- 256-bit unsigned integers, little-endian 64-bit words ------------- */

typedef struct u256 {
    uint64_t w[4];
} u256;

static fu128 p10(int k)
{
    static const uint64_t t[20] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};
    if (k <= 19)
        return t[k];
    return (fu128)t[19] * t[k - 19]; /* k <= 38 */
}

static void u_set(u256 *r, fu128 v)
{
    r->w[0] = (uint64_t)v;
    r->w[1] = (uint64_t)(v >> 64);
    r->w[2] = r->w[3] = 0;
}

static int u_fits128(const u256 *a)
{
    return a->w[2] == 0 && a->w[3] == 0;
}

static fu128 u_get(const u256 *a)
{
    return ((fu128)a->w[1] << 64) | a->w[0];
}

static int u_zero(const u256 *a)
{
    return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

/* a *= m; the callers keep products below 2^256. */
static void u_mul64(u256 *a, uint64_t m)
{
    fu128 carry = 0;
    for (int i = 0; i < 4; i++) {
        fu128 cur = (fu128)a->w[i] * m + carry;
        a->w[i] = (uint64_t)cur;
        carry = cur >> 64;
    }
}

static void u_mul_p10(u256 *a, int k)
{
    while (k > 19) {
        u_mul64(a, (uint64_t)p10(19));
        k -= 19;
    }
    if (k > 0)
        u_mul64(a, (uint64_t)p10(k));
}

/* a /= d, returns a % d. */
static uint64_t u_div64(u256 *a, uint64_t d)
{
    fu128 rem = 0;
    for (int i = 3; i >= 0; i--) {
        fu128 cur = (rem << 64) | a->w[i];
        a->w[i] = (uint64_t)(cur / d);
        rem = cur % d;
    }
    return (uint64_t)rem;
}

static void u_add(u256 *r, const u256 *a, const u256 *b)
{
    fu128 carry = 0;
    for (int i = 0; i < 4; i++) {
        fu128 cur = (fu128)a->w[i] + b->w[i] + carry;
        r->w[i] = (uint64_t)cur;
        carry = cur >> 64;
    }
}

/* r = a - b for a >= b. */
static void u_sub(u256 *r, const u256 *a, const u256 *b)
{
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = a->w[i], y = b->w[i];
        uint64_t d = x - y - borrow;
        borrow = (x < y) || (x == y && borrow) ? 1 : 0;
        r->w[i] = d;
    }
}

static int u_cmp(const u256 *a, const u256 *b)
{
    for (int i = 3; i >= 0; i--) {
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    }
    return 0;
}

static void u_mul128(u256 *r, fu128 a, fu128 b)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
    uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    fu128 p00 = (fu128)a0 * b0, p01 = (fu128)a0 * b1;
    fu128 p10_ = (fu128)a1 * b0, p11 = (fu128)a1 * b1;
    fu128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10_;
    r->w[0] = (uint64_t)p00;
    r->w[1] = (uint64_t)mid;
    fu128 hi = p11 + (p01 >> 64) + (p10_ >> 64) + (mid >> 64);
    r->w[2] = (uint64_t)hi;
    r->w[3] = (uint64_t)(hi >> 64);
}

/*
 * q = n / d and whether the remainder is nonzero, for a quotient below
 * 2^128 (what fdec_div needs): Knuth's algorithm D on 64-bit limbs, with a
 * one-limb divisor done by u_div64.
 */
static fu128 u_div128(const u256 *n, fu128 d, int *rem_nonzero)
{
    if ((d >> 64) == 0) {
        u256 t = *n;
        *rem_nonzero = u_div64(&t, (uint64_t)d) != 0;
        return ((fu128)t.w[1] << 64) | t.w[0];
    }
    int s = __builtin_clzll((uint64_t)(d >> 64));
    fu128 dn = d << s;
    uint64_t d1 = (uint64_t)(dn >> 64), d0 = (uint64_t)dn;
    uint64_t u[5];
    u[4] = s ? n->w[3] >> (64 - s) : 0;
    for (int i = 3; i > 0; i--)
        u[i] = (n->w[i] << s) | (s ? n->w[i - 1] >> (64 - s) : 0);
    u[0] = n->w[0] << s;
    uint64_t q[3];
    for (int j = 2; j >= 0; j--) {
        fu128 num = ((fu128)u[j + 2] << 64) | u[j + 1];
        fu128 qhat = num / d1, rhat = num % d1;
        while ((qhat >> 64) || qhat * d0 > ((rhat << 64) | u[j])) {
            qhat--;
            rhat += d1;
            if (rhat >> 64)
                break;
        }
        uint64_t qh = (uint64_t)qhat;
        fu128 p0 = (fu128)qh * d0;
        fu128 p1 = (fu128)qh * d1 + (p0 >> 64);
        uint64_t t0 = (uint64_t)p0, t1 = (uint64_t)p1, t2 = (uint64_t)(p1 >> 64);
        uint64_t x = u[j], borrow = x < t0;
        u[j] = x - t0;
        x = u[j + 1];
        uint64_t y = x - t1 - borrow;
        borrow = x < t1 || (x == t1 && borrow);
        u[j + 1] = y;
        x = u[j + 2];
        y = x - t2 - borrow;
        borrow = x < t2 || (x == t2 && borrow);
        u[j + 2] = y;
        if (borrow) {
            /* qhat was one too large: add the divisor back. */
            qh--;
            fu128 c = (fu128)u[j] + d0;
            u[j] = (uint64_t)c;
            c = (fu128)u[j + 1] + d1 + (c >> 64);
            u[j + 1] = (uint64_t)c;
            u[j + 2] += (uint64_t)(c >> 64);
        }
        q[j] = qh;
    }
    *rem_nonzero = (u[0] | u[1]) != 0;
    return ((fu128)q[1] << 64) | q[0];
}

static int digits128(fu128 v)
{
    int n = 1;
    while (n < 39 && v >= p10(n))
        n++;
    return n;
}

/* ---- rounding ---------------------------------------------------------- */

/*
 * Rounds |m| * 10^exp to 34 digits, half even; |sticky| says that the
 * exact value has more nonzero digits below |m|'s last one. Then strips
 * trailing zeros and checks the exponent range.
 */
static int u256_digits(const u256 *m)
{
    /* digits(m) = 19 + digits(m / 10^19) while m has more than 38. */
    u256 t = *m;
    int n = 0;
    while (!u_fits128(&t)) {
        u_div64(&t, (uint64_t)p10(19));
        n += 19;
    }
    return n + digits128(u_get(&t));
}

static int finish(fdec *r, u256 m, int64_t exp, int sticky, int neg)
{
    /* |last| is the most significant digit dropped (-1: none), |sticky|
     * whether anything below it is nonzero. Digits go in chunks of up to
     * 19, one division each. */
    int last = -1;
    fu128 lim = p10(FDEC_DIGITS);
    if (!u_fits128(&m) || u_get(&m) >= lim) {
        int drop = u256_digits(&m) - FDEC_DIGITS;
        while (drop > 0) {
            int k = drop > 19 ? 19 : drop;
            uint64_t rem = u_div64(&m, (uint64_t)p10(k));
            uint64_t top = rem / (uint64_t)p10(k - 1);
            if (last > 0 || rem % (uint64_t)p10(k - 1))
                sticky = 1;
            last = (int)top;
            exp += k;
            drop -= k;
        }
    }
    fu128 c = u_get(&m);
    if (last >= 0) {
        if (last > 5 || (last == 5 && (sticky || (c & 1))))
            c++;
        if (c == lim) {
            c = p10(FDEC_DIGITS - 1);
            exp++;
        }
    } else if (sticky) {
        /* Sticky digits below an exact coefficient only happen for sums
         * whose small operand lies below half a unit: the value rounds to
         * |m| itself. */
    }
    if (c == 0) {
        r->coef = 0;
        r->exp = 0;
        r->neg = 0;
        return FDEC_OK;
    }
    while (c % 100000000 == 0) {
        c /= 100000000;
        exp += 8;
    }
    while (c % 10 == 0) {
        c /= 10;
        exp++;
    }
    int64_t adj = exp + digits128(c) - 1;
    if (adj > FDEC_EMAX)
        return FDEC_OVERFLOW;
    if (adj < -FDEC_EMAX) {
        r->coef = 0;
        r->exp = 0;
        r->neg = 0;
        return FDEC_OK;
    }
    r->coef = c;
    r->exp = (int32_t)exp;
    r->neg = (uint8_t)(neg ? 1 : 0);
    return FDEC_OK;
}

static int finish128(fdec *r, fu128 c, int64_t exp, int neg)
{
    u256 m;
    u_set(&m, c);
    return finish(r, m, exp, 0, neg);
}

/* ---- construction ------------------------------------------------------ */

void fdec_from_i64(fdec *r, int64_t v)
{
    fu128 mag = v < 0 ? (fu128)(-(v + 1)) + 1 : (fu128)v;
    finish128(r, mag, 0, v < 0);
}

int fdec_parse(fdec *r, const char *s, size_t len, int allow_sign, int allow_exp)
{
    size_t i = 0;
    int neg = 0;
    if (allow_sign && i < len && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    u256 m = {{0, 0, 0, 0}};
    int ndig = 0; /* significant digits kept in m */
    int any = 0, sticky = 0;
    int64_t exp = 0;
    int seen_point = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (seen_point)
                return FDEC_INVALID;
            seen_point = 1;
            continue;
        }
        if (c < '0' || c > '9')
            break;
        any = 1;
        int d = c - '0';
        if (ndig == 0 && d == 0) {
            if (seen_point)
                exp--;
            continue;
        }
        if (ndig < 70) {
            u_mul64(&m, 10);
            u256 dd;
            u_set(&dd, (fu128)d);
            u_add(&m, &m, &dd);
            ndig++;
            if (seen_point)
                exp--;
        } else {
            /* Digits past 70 only decide the rounding. */
            if (d)
                sticky = 1;
            if (!seen_point)
                exp++;
        }
        if (exp < -1000000 || exp > 1000000)
            return FDEC_INVALID;
    }
    if (!any)
        return FDEC_INVALID;
    if (i < len && allow_exp && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i == len || s[i] < '0' || s[i] > '9')
            return FDEC_INVALID;
        int64_t e = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (e < 100000000)
                e = e * 10 + (s[i] - '0');
        }
        exp += eneg ? -e : e;
    }
    if (i != len)
        return FDEC_INVALID;
    if (u_zero(&m)) {
        r->coef = 0;
        r->exp = 0;
        r->neg = 0;
        return FDEC_OK;
    }
    /* Exponents far outside the range: decide before rounding loops. */
    if (exp + ndig - 1 > FDEC_EMAX + 100)
        return FDEC_OVERFLOW;
    if (exp + ndig - 1 < -FDEC_EMAX - 100) {
        r->coef = 0;
        r->exp = 0;
        r->neg = 0;
        return FDEC_OK;
    }
    return finish(r, m, exp, sticky, neg);
}

int fdec_from_double(fdec *r, double d)
{
    if (!isfinite(d))
        return FDEC_INVALID;
    /* The shortest form has at most 17 digits; when it has at most 15,
     * printing 15 (with %g dropping trailing zeros) gives exactly it, since
     * the double is far closer to it than half a unit of the 15th digit. */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (prec == 17 || strtod(buf, NULL) == d)
            break;
    }
    return fdec_parse(r, buf, strlen(buf), 1, 1);
}

/* ---- arithmetic -------------------------------------------------------- */

int fdec_is_zero(const fdec *a)
{
    return a->coef == 0;
}

static int64_t adjusted(const fdec *a)
{
    return (int64_t)a->exp + digits128(a->coef) - 1;
}

int fdec_add(fdec *r, const fdec *a, const fdec *b)
{
    if (a->coef == 0) {
        *r = *b;
        return FDEC_OK;
    }
    if (b->coef == 0) {
        *r = *a;
        return FDEC_OK;
    }
    /* An operand more than 35 digits below the other's leading digit is
     * less than half a unit of the 34th digit: the sum rounds to the larger
     * operand. */
    int64_t aa = adjusted(a), ab = adjusted(b);
    if (aa - ab >= 36) {
        *r = *a;
        return FDEC_OK;
    }
    if (ab - aa >= 36) {
        *r = *b;
        return FDEC_OK;
    }
    int64_t e = a->exp < b->exp ? a->exp : b->exp;
    u256 x, y;
    u_set(&x, a->coef);
    u_set(&y, b->coef);
    u_mul_p10(&x, (int)(a->exp - e));
    u_mul_p10(&y, (int)(b->exp - e));
    u256 s;
    int neg;
    if (a->neg == b->neg) {
        u_add(&s, &x, &y);
        neg = a->neg;
    } else if (u_cmp(&x, &y) >= 0) {
        u_sub(&s, &x, &y);
        neg = a->neg;
    } else {
        u_sub(&s, &y, &x);
        neg = b->neg;
    }
    return finish(r, s, e, 0, neg);
}

int fdec_sub(fdec *r, const fdec *a, const fdec *b)
{
    fdec nb = *b;
    if (nb.coef)
        nb.neg ^= 1;
    return fdec_add(r, a, &nb);
}

int fdec_mul(fdec *r, const fdec *a, const fdec *b)
{
    u256 p;
    u_mul128(&p, a->coef, b->coef);
    return finish(r, p, (int64_t)a->exp + b->exp, 0, a->neg ^ b->neg);
}

int fdec_div(fdec *r, const fdec *a, const fdec *b)
{
    if (b->coef == 0)
        return FDEC_DIVZERO;
    if (a->coef == 0) {
        *r = *a;
        return FDEC_OK;
    }
    /* Scale the dividend so that the quotient has at least 35 digits. */
    int k = 35 + digits128(b->coef) - digits128(a->coef);
    u256 n, q;
    u_set(&n, a->coef);
    u_mul_p10(&n, k);
    int rem;
    /* The quotient has 35 or 36 digits: below 2^128. */
    u_set(&q, u_div128(&n, b->coef, &rem));
    return finish(r, q, (int64_t)a->exp - b->exp - k, rem, a->neg ^ b->neg);
}

int fdec_cmp(const fdec *a, const fdec *b)
{
    int sa = a->coef == 0 ? 0 : (a->neg ? -1 : 1);
    int sb = b->coef == 0 ? 0 : (b->neg ? -1 : 1);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    int64_t aa = adjusted(a), ab = adjusted(b);
    int mag;
    if (aa != ab) {
        mag = aa < ab ? -1 : 1;
    } else {
        /* Same leading position: pad both coefficients to 34 digits. */
        fu128 x = a->coef * p10(FDEC_DIGITS - digits128(a->coef));
        fu128 y = b->coef * p10(FDEC_DIGITS - digits128(b->coef));
        mag = x < y ? -1 : (x > y ? 1 : 0);
    }
    return sa > 0 ? mag : -mag;
}

int fdec_is_int(const fdec *a)
{
    return a->exp >= 0;
}

int fdec_round(fdec *r, const fdec *a, int64_t scale, enum fdec_round mode)
{
    if (scale > 1000000 || scale < -1000000)
        return FDEC_INVALID;
    if (a->coef == 0 || (int64_t)a->exp >= -scale) {
        *r = *a;
        return FDEC_OK;
    }
    int64_t drop = -scale - a->exp; /* digits to remove, > 0 */
    fu128 c = a->coef;
    int last = 0, sticky = 0;
    if (drop > 38) {
        /* Every digit goes; the value is below one unit of the scale
         * (and below half of it, as it has at most 34 digits). */
        sticky = 1;
        c = 0;
        last = 0;
    } else {
        for (int64_t i = 0; i < drop; i++) {
            if (last)
                sticky = 1;
            last = (int)(c % 10);
            c /= 10;
        }
    }
    int frac = last || sticky; /* anything dropped */
    int up = 0;
    switch (mode) {
    case FDEC_FLOOR:
        up = frac && a->neg;
        break;
    case FDEC_CEILING:
        up = frac && !a->neg;
        break;
    case FDEC_UP:
        up = frac;
        break;
    case FDEC_DOWN:
        up = 0;
        break;
    case FDEC_HALF_UP:
        up = last >= 5;
        break;
    case FDEC_HALF_DOWN:
        up = last > 5 || (last == 5 && sticky);
        break;
    case FDEC_HALF_EVEN:
        up = last > 5 || (last == 5 && (sticky || (c & 1)));
        break;
    }
    if (up)
        c++;
    /* finish128 turns a result past the exponent range into an overflow. */
    return finish128(r, c, -scale, a->neg);
}

int fdec_mod(fdec *r, const fdec *a, const fdec *b)
{
    if (b->coef == 0)
        return FDEC_DIVZERO;
    /* a - b * floor(a / b), with the quotient taken exactly when it is
     * small enough to be an integer of at most 34 digits. */
    int64_t aa = adjusted(a), ab = adjusted(b);
    if (a->coef == 0) {
        *r = *a;
        return FDEC_OK;
    }
    if (aa - ab > FDEC_DIGITS)
        return FDEC_INVALID; /* the quotient's integer part is not exact */
    fdec q, fq, p;
    int rc = fdec_div(&q, a, b);
    if (rc)
        return rc;
    rc = fdec_round(&fq, &q, 0, FDEC_FLOOR);
    if (rc)
        return rc;
    rc = fdec_mul(&p, b, &fq);
    if (rc)
        return rc;
    rc = fdec_sub(r, a, &p);
    if (rc)
        return rc;
    /* A rounded quotient may leave a remainder of the wrong sign. */
    if (r->coef && r->neg != b->neg)
        rc = fdec_add(r, r, b);
    return rc;
}

int fdec_powi(fdec *r, const fdec *a, int64_t n)
{
    fdec one;
    fdec_from_i64(&one, 1);
    if (n == 0) {
        *r = one;
        return FDEC_OK;
    }
    uint64_t e = n < 0 ? (uint64_t)(-(n + 1)) + 1 : (uint64_t)n;
    fdec base = *a, acc = one;
    int rc;
    while (e) {
        if (e & 1) {
            if ((rc = fdec_mul(&acc, &acc, &base)))
                return rc;
        }
        e >>= 1;
        if (e && (rc = fdec_mul(&base, &base, &base)))
            return rc;
    }
    if (n < 0) {
        rc = fdec_div(&acc, &one, &acc);
        if (rc == FDEC_DIVZERO)
            return FDEC_DIVZERO;
        if (rc)
            return rc;
    }
    *r = acc;
    return FDEC_OK;
}

/*
 * Newton's iteration ends within a unit of the last digit; this moves |x|
 * to the correctly rounded square root of |m| by comparing m with the
 * exact squares of the midpoints x - ulp/2 and x + ulp/2.
 */
static int mid_cmp(fu128 X, int up, int64_t e, const fdec *m)
{
    /* (2X +- 1)^2 * 10^(2e) against 4M * 10^f */
    fu128 y = 2 * X + (up ? 1 : 0) - (up ? 0 : 1);
    u256 l, r;
    u_mul128(&l, y, y);
    u_set(&r, m->coef);
    u_mul64(&r, 4);
    int64_t t = 2 * e - m->exp;
    if (t >= 0) {
        if (t > 7)
            return 2;
        u_mul_p10(&l, (int)t);
    } else {
        if (digits128(m->coef) + 1 - t > 76)
            return 2;
        u_mul_p10(&r, (int)-t);
    }
    int c = u_cmp(&l, &r);
    return c;
}

static int sqrt_round(fdec *x, const fdec *m)
{
    for (int iter = 0; iter < 4; iter++) {
        int d = digits128(x->coef);
        fu128 X = x->coef * p10(FDEC_DIGITS - d);
        int64_t e = (int64_t)x->exp - (FDEC_DIGITS - d);
        int lo = mid_cmp(X, 0, e, m); /* (x - ulp/2)^2 vs m */
        int hi = mid_cmp(X, 1, e, m); /* (x + ulp/2)^2 vs m */
        if (lo == 2 || hi == 2)
            return 0; /* out of the exact range: keep Newton's result */
        if (lo > 0 || (lo == 0 && (X & 1))) {
            X--;
        } else if (hi < 0 || (hi == 0 && (X & 1))) {
            X++;
        } else {
            return 0;
        }
        if (finish128(x, X, e, 0))
            return -1;
    }
    return 0;
}

int fdec_sqrt(fdec *r, const fdec *a)
{
    if (a->neg && a->coef)
        return FDEC_INVALID;
    if (a->coef == 0) {
        *r = *a;
        return FDEC_OK;
    }
    /* Newton's iteration from a double estimate; the scale is split off
     * first so that the estimate never overflows a double. */
    int64_t e = a->exp;
    int64_t half = (e >= 0 ? e : e - 1) / 2; /* floor(e / 2) */
    fdec m = *a;
    m.exp = (int32_t)(e - 2 * half); /* 0 or 1 */
    double g = sqrt(fdec_to_double(&m));
    fdec x, two;
    if (fdec_from_double(&x, g))
        return FDEC_INVALID;
    fdec_from_i64(&two, 2);
    for (int i = 0; i < 20; i++) {
        fdec q, s, nx;
        if (fdec_div(&q, &m, &x) || fdec_add(&s, &x, &q) || fdec_div(&nx, &s, &two))
            return FDEC_INVALID;
        if (fdec_cmp(&nx, &x) == 0)
            break;
        x = nx;
    }
    if (sqrt_round(&x, &m))
        return FDEC_INVALID;
    x.exp = (int32_t)(x.exp + half);
    return finish128(r, x.coef, x.exp, 0);
}

int fdec_to_i64(const fdec *a, int64_t *out)
{
    fdec t;
    if (fdec_round(&t, a, 0, FDEC_DOWN))
        return -1;
    if (t.coef == 0) {
        *out = 0;
        return 0;
    }
    if (t.exp > 19)
        return -1;
    fu128 v = t.coef;
    for (int i = 0; i < t.exp; i++) {
        v *= 10;
        if (v > (fu128)INT64_MAX + 1)
            return -1;
    }
    if (t.neg) {
        if (v > (fu128)INT64_MAX + 1)
            return -1;
        *out = v == (fu128)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (fu128)INT64_MAX)
            return -1;
        *out = (int64_t)v;
    }
    return 0;
}

double fdec_to_double(const fdec *a)
{
    char buf[FDEC_BUF];
    size_t n = fdec_format(a, 0, buf);
    buf[n] = 0;
    return strtod(buf, NULL);
}

/* ---- printing ---------------------------------------------------------- */

static int coef_digits(fu128 c, char *d)
{
    char tmp[40];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(c % 10));
        c /= 10;
    } while (c);
    for (int i = 0; i < n; i++)
        d[i] = tmp[n - 1 - i];
    return n;
}

size_t fdec_plain_len(const fdec *a)
{
    int nd = digits128(a->coef);
    size_t n = (size_t)a->neg;
    if (a->exp >= 0)
        return n + (size_t)nd + (size_t)a->exp;
    int64_t pos = nd + (int64_t)a->exp;
    if (pos <= 0)
        return n + 2 + (size_t)(-pos) + (size_t)nd;
    return n + (size_t)nd + 1;
}

size_t fdec_format(const fdec *a, int plain, char *buf)
{
    char d[40];
    int nd = coef_digits(a->coef, d);
    int64_t adj = (int64_t)a->exp + nd - 1;
    size_t o = 0;
    if (a->neg && a->coef)
        buf[o++] = '-';
    if (!plain && (adj > 40 || adj < -20)) {
        buf[o++] = d[0];
        if (nd > 1) {
            buf[o++] = '.';
            memcpy(buf + o, d + 1, (size_t)nd - 1);
            o += (size_t)nd - 1;
        }
        o += (size_t)snprintf(buf + o, 16, "e%s%lld", adj < 0 ? "-" : "+",
                              (long long)(adj < 0 ? -adj : adj));
        return o;
    }
    if (a->exp >= 0) {
        memcpy(buf + o, d, (size_t)nd);
        o += (size_t)nd;
        memset(buf + o, '0', (size_t)a->exp);
        o += (size_t)a->exp;
        return o;
    }
    int64_t pos = nd + (int64_t)a->exp; /* digits before the point */
    if (pos <= 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        memset(buf + o, '0', (size_t)(-pos));
        o += (size_t)(-pos);
        memcpy(buf + o, d, (size_t)nd);
        o += (size_t)nd;
    } else {
        memcpy(buf + o, d, (size_t)pos);
        o += (size_t)pos;
        buf[o++] = '.';
        memcpy(buf + o, d + pos, (size_t)(nd - pos));
        o += (size_t)(nd - pos);
    }
    return o;
}
