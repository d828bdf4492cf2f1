/*
 * Dates, times, date-times and durations: the ISO 8601 forms FEEL reads
 * and writes, and the calendar arithmetic (proleptic Gregorian calendar,
 * days counted from 1970-01-01 with Howard Hinnant's civil-from-days
 * algorithms, which hold for any year).
 *
 * Time zones: a pure module has no time zone database, so a zoned value
 * carries a fixed offset ("+01:00", "Z"). Zone names that mean UTC ("UTC",
 * "Etc/UTC", "GMT", "Z") are read as offset zero; other names ("@Europe/
 * Berlin") are not understood, and the string is then not a valid time.
 */
#include "feel/feel_int.h"

#include <stdio.h>
#include <string.h>

int64_t ft_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ft_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int ft_days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

int ft_weekday(int64_t days)
{
    int64_t w = (days % 7 + 7 + 3) % 7; /* 1970-01-01 was a Thursday */
    return (int)w + 1;
}

/* ---- parsing ----------------------------------------------------------- */

/* Exactly |n| digits at |*i|. */
static int digits(const char *s, size_t len, size_t *i, int n, int64_t *out)
{
    int64_t v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return 0;
}

static int parse_date_part(const char *s, size_t len, size_t *i, int64_t *days)
{
    int neg = 0;
    if (*i < len && (s[*i] == '-' || s[*i] == '+')) {
        neg = s[*i] == '-';
        (*i)++;
    }
    size_t start = *i;
    int64_t y = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (*i - start >= 9)
            return -1;
        y = y * 10 + (s[(*i)++] - '0');
    }
    if (*i - start < 4)
        return -1;
    if (neg)
        y = -y;
    int64_t mo, d;
    if (*i >= len || s[(*i)++] != '-' || digits(s, len, i, 2, &mo) || *i >= len ||
        s[(*i)++] != '-' || digits(s, len, i, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > ft_days_in_month(y, (int)mo))
        return -1;
    *days = ft_days_from_civil(y, (int)mo, (int)d);
    return 0;
}

static int is_utc_name(const char *s, size_t n)
{
    static const char *names[] = {"UTC",     "Z",    "Etc/UTC",  "GMT",       "Etc/GMT",      "UCT",
                                  "Etc/UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0)
            return 1;
    }
    return 0;
}

static int parse_time_part(const char *s, size_t len, size_t *i, ftemporal *t)
{
    int64_t h, mi, sec = 0, frac = 0;
    if (digits(s, len, i, 2, &h) || *i >= len || s[(*i)++] != ':' || digits(s, len, i, 2, &mi))
        return -1;
    if (*i < len && s[*i] == ':') {
        (*i)++;
        if (digits(s, len, i, 2, &sec))
            return -1;
        if (*i < len && s[*i] == '.') {
            (*i)++;
            int nd = 0;
            while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
                if (nd < 9) {
                    frac = frac * 10 + (s[*i] - '0');
                    nd++;
                }
                (*i)++;
            }
            if (nd == 0)
                return -1;
            while (nd++ < 9)
                frac *= 10;
        }
    }
    if (h > 23 || mi > 59 || sec > 59)
        return -1;
    t->nanos = ((h * 60 + mi) * 60 + sec) * 1000000000LL + frac;
    t->has_offset = 0;
    t->offset = 0;
    if (*i < len && s[*i] == 'Z') {
        (*i)++;
        t->has_offset = 1;
    } else if (*i < len && (s[*i] == '+' || s[*i] == '-')) {
        int neg = s[(*i)++] == '-';
        int64_t oh, om = 0, os = 0;
        if (digits(s, len, i, 2, &oh))
            return -1;
        if (*i < len && s[*i] == ':') {
            (*i)++;
            if (digits(s, len, i, 2, &om))
                return -1;
            if (*i < len && s[*i] == ':') {
                (*i)++;
                if (digits(s, len, i, 2, &os))
                    return -1;
            }
        }
        if (oh > 18 || om > 59 || os > 59 || (oh == 18 && (om || os)))
            return -1;
        t->offset = (int32_t)((oh * 3600 + om * 60 + os) * (neg ? -1 : 1));
        t->has_offset = 1;
    }
    if (*i < len && s[*i] == '@') {
        (*i)++;
        if (!is_utc_name(s + *i, len - *i))
            return -1;
        if (t->has_offset && t->offset != 0)
            return -1;
        t->has_offset = 1;
        t->offset = 0;
        *i = len;
    }
    return 0;
}

int ft_parse_date(const char *s, size_t len, ftemporal *out)
{
    size_t i = 0;
    ftemporal t = {0, 0, 0, 0};
    if (parse_date_part(s, len, &i, &t.days) || i != len)
        return -1;
    *out = t;
    return 0;
}

int ft_parse_time(const char *s, size_t len, ftemporal *out)
{
    size_t i = 0;
    ftemporal t = {0, 0, 0, 0};
    if (len && s[0] == 'T')
        i = 1;
    if (parse_time_part(s, len, &i, &t) || i != len)
        return -1;
    *out = t;
    return 0;
}

int ft_parse_date_time(const char *s, size_t len, ftemporal *out)
{
    size_t i = 0;
    ftemporal t = {0, 0, 0, 0};
    if (parse_date_part(s, len, &i, &t.days))
        return -1;
    if (i < len) {
        if (s[i++] != 'T' || parse_time_part(s, len, &i, &t) || i != len)
            return -1;
    }
    *out = t;
    return 0;
}

/* A duration component: digits (and for seconds a fraction) then a
 * designator. */
static int component(const char *s, size_t len, size_t *i, int64_t *v, int64_t *frac, char *des)
{
    size_t start = *i;
    int64_t x = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (*i - start >= 18)
            return -1;
        x = x * 10 + (s[(*i)++] - '0');
    }
    if (*i == start)
        return -1;
    *frac = 0;
    if (*i < len && s[*i] == '.') {
        (*i)++;
        int nd = 0;
        while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
            if (nd < 9) {
                *frac = *frac * 10 + (s[*i] - '0');
                nd++;
            }
            (*i)++;
        }
        if (nd == 0)
            return -1;
        while (nd++ < 9)
            *frac *= 10;
        if (*i >= len || s[*i] != 'S')
            return -1;
    }
    if (*i >= len)
        return -1;
    *des = s[(*i)++];
    *v = x;
    return 0;
}

int ft_parse_duration(const char *s, size_t len, fdtd *dtd, int64_t *months)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= len || s[i++] != 'P' || i >= len)
        return 0;
    int64_t y = 0, mo = 0, w = 0, d = 0, h = 0, mi = 0, sec = 0, ns = 0;
    int has_ym = 0, has_dt = 0, in_time = 0, any = 0;
    const char *order = "YMWD";
    size_t pos = 0; /* designators must come in order */
    while (i < len) {
        if (s[i] == 'T') {
            if (in_time)
                return 0;
            in_time = 1;
            pos = 0;
            i++;
            if (i >= len)
                return 0;
            order = "HMS";
            continue;
        }
        int64_t v, frac;
        char des;
        if (component(s, len, &i, &v, &frac, &des))
            return 0;
        const char *p = strchr(order + pos, des);
        if (!des || !p)
            return 0;
        pos = (size_t)(p - order) + 1;
        any = 1;
        if (!in_time) {
            switch (des) {
            case 'Y':
                y = v;
                has_ym = 1;
                break;
            case 'M':
                mo = v;
                has_ym = 1;
                break;
            case 'W':
                w = v;
                has_dt = 1;
                break;
            case 'D':
                d = v;
                has_dt = 1;
                break;
            }
        } else {
            has_dt = 1;
            switch (des) {
            case 'H':
                h = v;
                break;
            case 'M':
                mi = v;
                break;
            case 'S':
                sec = v;
                ns = frac;
                break;
            }
        }
    }
    if (!any || (has_ym && has_dt))
        return 0;
    if (has_ym) {
        __int128 m = (__int128)y * 12 + mo;
        if (m > (__int128)FT_MAX_YEAR * 12)
            return 0;
        *months = neg ? -(int64_t)m : (int64_t)m;
        return 2;
    }
    __int128 total = (((__int128)(w * 7 + d) * 24 + h) * 60 + mi) * 60 + sec;
    if (total > (__int128)INT64_MAX / 2)
        return 0;
    dtd->secs = neg ? -(int64_t)total : (int64_t)total;
    dtd->nanos = (int32_t)(neg ? -ns : ns);
    return 1;
}

/* ---- printing ---------------------------------------------------------- */

size_t ft_format_date(const ftemporal *t, char *buf)
{
    int64_t y;
    int m, d;
    ft_civil_from_days(t->days, &y, &m, &d);
    if (y < 0)
        return (size_t)snprintf(buf, FT_BUF, "-%04lld-%02d-%02d", (long long)-y, m, d);
    return (size_t)snprintf(buf, FT_BUF, "%04lld-%02d-%02d", (long long)y, m, d);
}

static size_t format_fraction(int64_t ns, char *buf)
{
    if (ns == 0)
        return 0;
    char f[24]; /* ns is below 10^9: nine digits, room for any int64 */
    snprintf(f, sizeof f, "%09lld", (long long)(ns % 1000000000));
    int n = 9;
    while (n > 0 && f[n - 1] == '0')
        n--;
    buf[0] = '.';
    memcpy(buf + 1, f, (size_t)n);
    return (size_t)n + 1;
}

static size_t format_offset(const ftemporal *t, char *buf)
{
    if (!t->has_offset)
        return 0;
    if (t->offset == 0) {
        buf[0] = 'Z';
        return 1;
    }
    int32_t o = t->offset < 0 ? -t->offset : t->offset;
    char sign = t->offset < 0 ? '-' : '+';
    if (o % 60)
        return (size_t)snprintf(buf, 16, "%c%02d:%02d:%02d", sign, o / 3600, o / 60 % 60, o % 60);
    return (size_t)snprintf(buf, 16, "%c%02d:%02d", sign, o / 3600, o / 60 % 60);
}

size_t ft_format_time(const ftemporal *t, char *buf)
{
    int64_t s = t->nanos / 1000000000LL;
    size_t n = (size_t)snprintf(buf, FT_BUF, "%02lld:%02lld:%02lld", (long long)(s / 3600),
                                (long long)(s / 60 % 60), (long long)(s % 60));
    n += format_fraction(t->nanos % 1000000000LL, buf + n);
    n += format_offset(t, buf + n);
    buf[n] = 0;
    return n;
}

size_t ft_format_date_time(const ftemporal *t, char *buf)
{
    size_t n = ft_format_date(t, buf);
    buf[n++] = 'T';
    n += ft_format_time(t, buf + n);
    return n;
}

size_t ft_format_dtd(const fdtd *d, char *buf)
{
    int neg = d->secs < 0 || d->nanos < 0;
    uint64_t s = d->secs < 0 ? (uint64_t)(-(d->secs + 1)) + 1 : (uint64_t)d->secs;
    int64_t ns = d->nanos < 0 ? -(int64_t)d->nanos : d->nanos;
    uint64_t days = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    size_t n = 0;
    if (neg)
        buf[n++] = '-';
    buf[n++] = 'P';
    if (days)
        n += (size_t)snprintf(buf + n, 24, "%lluD", (unsigned long long)days);
    if (h || m || sec || ns || !days) {
        buf[n++] = 'T';
        if (h)
            n += (size_t)snprintf(buf + n, 24, "%lluH", (unsigned long long)h);
        if (m)
            n += (size_t)snprintf(buf + n, 24, "%lluM", (unsigned long long)m);
        if (sec || ns || (!h && !m)) {
            n += (size_t)snprintf(buf + n, 24, "%llu", (unsigned long long)sec);
            n += format_fraction(ns, buf + n);
            buf[n++] = 'S';
        }
    }
    buf[n] = 0;
    return n;
}

size_t ft_format_ymd(int64_t months, char *buf)
{
    uint64_t m = months < 0 ? (uint64_t)(-(months + 1)) + 1 : (uint64_t)months;
    size_t n = 0;
    if (months < 0)
        buf[n++] = '-';
    buf[n++] = 'P';
    if (m / 12)
        n += (size_t)snprintf(buf + n, 24, "%lluY", (unsigned long long)(m / 12));
    if (m % 12 || m / 12 == 0)
        n += (size_t)snprintf(buf + n, 24, "%lluM", (unsigned long long)(m % 12));
    buf[n] = 0;
    return n;
}

/* ---- arithmetic -------------------------------------------------------- */

int ft_add_months(int64_t days, int64_t months, int64_t *out)
{
    int64_t y;
    int m, d;
    ft_civil_from_days(days, &y, &m, &d);
    __int128 total = (__int128)y * 12 + (m - 1) + months;
    __int128 ny = total >= 0 ? total / 12 : (total - 11) / 12;
    int nm = (int)(total - ny * 12) + 1;
    if (ny > FT_MAX_YEAR || ny < -FT_MAX_YEAR)
        return -1;
    int dim = ft_days_in_month((int64_t)ny, nm);
    *out = ft_days_from_civil((int64_t)ny, nm, d > dim ? dim : d);
    return 0;
}

int ft_dtd_norm(int64_t secs, int64_t nanos, fdtd *out)
{
    int64_t s;
    if (__builtin_add_overflow(secs, nanos / 1000000000LL, &s))
        return -1;
    int64_t ns = nanos % 1000000000LL;
    if (s > 0 && ns < 0) {
        s--;
        ns += 1000000000LL;
    } else if (s < 0 && ns > 0) {
        s++;
        ns -= 1000000000LL;
    }
    if (s > INT64_MAX / 2 || s < -(INT64_MAX / 2))
        return -1;
    out->secs = s;
    out->nanos = (int32_t)ns;
    return 0;
}

void ft_instant(const ftemporal *t, __int128 *nanos)
{
    *nanos = (__int128)t->days * FT_NANOS_PER_DAY + t->nanos -
             (__int128)(t->has_offset ? t->offset : 0) * 1000000000LL;
}
