/* ISO 8601 durations, dates and repeating intervals; see isotime.h. */
#include "common/isotime.h"

#include <string.h>

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\n' ||
                    (*s)[*len - 1] == '\r'))
        (*len)--;
}

/* Reads digits (and, when |frac|, a fraction) at s[*i]: the whole part in
 * |*whole|, the fraction in thousandths in |*milli|. */
static int number(const char *s, size_t len, size_t *i, int frac, int64_t *whole, int64_t *milli)
{
    size_t start = *i;
    int64_t v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (v > INT64_C(100000000000))
            return -1; /* far past any timer */
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    if (*i == start)
        return -1;
    *whole = v;
    *milli = 0;
    if (frac && *i < len && (s[*i] == '.' || s[*i] == ',')) {
        (*i)++;
        int64_t scale = 100;
        size_t f0 = *i;
        while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
            *milli += (s[*i] - '0') * scale;
            scale /= 10;
            (*i)++;
        }
        if (*i == f0)
            return -1;
    }
    return 0;
}

int iso_parse_duration(const char *s, size_t len, iso_duration *out)
{
    trim(&s, &len);
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (i >= len || s[i] != 'P')
        return -1;
    i++;
    int in_time = 0, any = 0;
    while (i < len) {
        if (s[i] == 'T') {
            if (in_time)
                return -1;
            in_time = 1;
            i++;
            continue;
        }
        int64_t v, milli;
        if (number(s, len, &i, 1, &v, &milli) != 0 || i >= len)
            return -1;
        char u = s[i++];
        if (milli && !(in_time && u == 'S'))
            return -1;
        if (!in_time && u == 'Y')
            out->months += v * 12;
        else if (!in_time && u == 'M')
            out->months += v;
        else if (!in_time && u == 'W')
            out->ms += v * 7 * 86400000;
        else if (!in_time && u == 'D')
            out->ms += v * 86400000;
        else if (in_time && u == 'H')
            out->ms += v * 3600000;
        else if (in_time && u == 'M')
            out->ms += v * 60000;
        else if (in_time && u == 'S')
            out->ms += v * 1000 + milli;
        else
            return -1;
        any = 1;
    }
    return any ? 0 : -1;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_in_month(int64_t y, int64_t m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

int64_t iso_add(int64_t t, const iso_duration *d)
{
    if (d->months) {
        int64_t day = t >= 0 ? t / 86400000 : (t - 86399999) / 86400000;
        int64_t in_day = t - day * 86400000;
        int64_t y, m, dd;
        civil_from_days(day, &y, &m, &dd);
        int64_t total = y * 12 + (m - 1) + d->months;
        y = total / 12;
        m = total % 12 + 1;
        if (dd > days_in_month(y, m))
            dd = days_in_month(y, m);
        t = days_from_civil(y, m, dd) * 86400000 + in_day;
    }
    return t + d->ms;
}

static int digits(const char *s, size_t len, size_t *i, int n, int64_t *v)
{
    *v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return -1;
        *v = *v * 10 + (s[(*i)++] - '0');
    }
    return 0;
}

int iso_parse_datetime(const char *s, size_t len, int64_t *out)
{
    trim(&s, &len);
    size_t i = 0;
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, milli = 0, off = 0;
    if (digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &mo) ||
        i >= len || s[i++] != '-' || digits(s, len, &i, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    if (i < len && (s[i] == 'T' || s[i] == 't')) {
        i++;
        if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &mi))
            return -1;
        if (i < len && s[i] == ':') {
            i++;
            if (digits(s, len, &i, 2, &sec))
                return -1;
            if (i < len && s[i] == '.') {
                i++;
                int64_t scale = 100;
                size_t f0 = i;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    milli += (s[i++] - '0') * scale;
                    scale /= 10;
                }
                if (i == f0)
                    return -1;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1;
            int64_t oh, om = 0;
            if (digits(s, len, &i, 2, &oh))
                return -1;
            if (i < len && s[i] == ':')
                i++;
            if (i < len && digits(s, len, &i, 2, &om))
                return -1;
            off = sign * (oh * 60 + om) * 60000;
        }
        /* A zone name in brackets after an offset ("[Europe/Berlin]") is
         * not read: the offset says the instant already. */
        if (i < len && s[i] == '[' && s[len - 1] == ']')
            i = len;
    }
    if (i != len)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400000 + ((h * 60 + mi) * 60 + sec) * 1000 + milli - off;
    return 0;
}

int iso_parse_cycle(const char *s, size_t len, iso_cycle *out)
{
    trim(&s, &len);
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (i >= len || s[i] != 'R')
        return -1;
    i++;
    out->repeat = -1;
    if (i < len && s[i] >= '0' && s[i] <= '9') {
        int64_t v, milli;
        if (number(s, len, &i, 0, &v, &milli) != 0)
            return -1;
        out->repeat = v;
    }
    if (i >= len || s[i] != '/')
        return -1;
    i++;
    const char *rest = s + i;
    size_t rlen = len - i;
    const char *slash = memchr(rest, '/', rlen);
    if (slash) {
        /* R/start/duration */
        if (iso_parse_datetime(rest, (size_t)(slash - rest), &out->start) != 0)
            return -1;
        rest = slash + 1;
        rlen = len - (size_t)(rest - s);
    }
    if (iso_parse_duration(rest, rlen, &out->every) != 0)
        return -1;
    if (out->every.months == 0 && out->every.ms <= 0)
        return -1;
    return 0;
}

/* ---- cron ------------------------------------------------------------------ */

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* A value of a field: a number or, for months and days, a name. */
static int cron_value(const char *s, size_t n, size_t *i, int field, int *v)
{
    if (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        int x = 0;
        while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
            x = x * 10 + (s[*i] - '0');
            if (x > 1000)
                return -1;
            (*i)++;
        }
        *v = x;
        return 0;
    }
    const char *const *names = field == 4 ? month_names : field == 5 ? day_names : NULL;
    int count = field == 4 ? 12 : 7;
    if (!names || *i + 3 > n)
        return -1;
    for (int k = 0; k < count; k++) {
        int match = 1;
        for (int c = 0; c < 3 && match; c++) {
            char ch = s[*i + (size_t)c];
            if (ch >= 'a' && ch <= 'z')
                ch = (char)(ch - 'a' + 'A');
            match = ch == names[k][c];
        }
        if (match) {
            *i += 3;
            *v = field == 4 ? k + 1 : k;
            return 0;
        }
    }
    return -1;
}

/* One field (|lo|..|hi|) into |bits|. */
static int cron_field(const char *s, size_t n, int field, int lo, int hi, uint64_t *bits)
{
    *bits = 0;
    size_t i = 0;
    while (i < n) {
        int a = lo, b = hi, step = 1;
        if (s[i] == '*' || s[i] == '?') {
            i++;
        } else {
            if (cron_value(s, n, &i, field, &a) != 0)
                return -1;
            b = a;
            if (i < n && s[i] == '-') {
                i++;
                if (cron_value(s, n, &i, field, &b) != 0)
                    return -1;
            }
        }
        if (i < n && s[i] == '/') {
            i++;
            if (cron_value(s, n, &i, 0, &step) != 0 || step < 1)
                return -1;
            if (a == b && s[i - 1] != '*')
                b = hi; /* "5/15": from 5 on */
        }
        if (field == 5 && a == 7 && b == 7)
            a = b = 0; /* 7 is Sunday too */
        else if (field == 5 && b == 7)
            b = 6, *bits |= 1;
        if (a < lo || b > hi || a > b)
            return -1;
        for (int v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << v;
        if (i < n) {
            if (s[i] != ',')
                return -1;
            i++;
        }
    }
    return *bits ? 0 : -1;
}

int iso_parse_cron(const char *s, size_t len, iso_cron *out)
{
    trim(&s, &len);
    static const struct {
        const char *macro, *expr;
    } macros[] = {{"@yearly", "0 0 0 1 1 *"},  {"@annually", "0 0 0 1 1 *"},
                  {"@monthly", "0 0 0 1 * *"}, {"@weekly", "0 0 0 * * 0"},
                  {"@daily", "0 0 0 * * *"},   {"@midnight", "0 0 0 * * *"},
                  {"@hourly", "0 0 * * * *"}};
    for (size_t m = 0; m < sizeof macros / sizeof *macros; m++)
        if (len == strlen(macros[m].macro) && memcmp(s, macros[m].macro, len) == 0)
            return iso_parse_cron(macros[m].expr, strlen(macros[m].expr), out);
    const char *f[6];
    size_t fl[6];
    int nf = 0;
    size_t i = 0;
    while (i < len && nf < 7) {
        while (i < len && s[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t b = i;
        while (i < len && s[i] != ' ')
            i++;
        if (nf == 6)
            return -1;
        f[nf] = s + b;
        fl[nf++] = i - b;
    }
    if (nf != 6)
        return -1;
    static const int lo[] = {0, 0, 0, 1, 1, 0}, hi[] = {59, 59, 23, 31, 12, 6};
    uint64_t bits[6];
    for (int k = 0; k < 6; k++)
        if (cron_field(f[k], fl[k], k, lo[k], hi[k], &bits[k]) != 0)
            return -1;
    out->seconds = bits[0];
    out->minutes = bits[1];
    out->hours = (uint32_t)bits[2];
    out->days = (uint32_t)bits[3];
    out->months = (uint16_t)bits[4];
    out->weekdays = (uint8_t)bits[5];
    return 0;
}

int64_t iso_cron_next(const iso_cron *c, int64_t after)
{
    int64_t t = (after >= 0 ? after / 1000 : (after - 999) / 1000) + 1; /* seconds */
    int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t in_day = t - day * 86400;
    for (int64_t d = 0; d < 4 * 366; d++, day++, in_day = 0) {
        int64_t y, m, dd;
        civil_from_days(day, &y, &m, &dd);
        int64_t wd = ((day % 7) + 11) % 7; /* 1970-01-01 was a Thursday (4) */
        if (!(c->months >> m & 1) || !(c->days >> dd & 1) || !(c->weekdays >> wd & 1))
            continue;
        for (int h = (int)(in_day / 3600); h < 24; h++) {
            if (!(c->hours >> h & 1))
                continue;
            int m0 = h == in_day / 3600 ? (int)(in_day % 3600 / 60) : 0;
            for (int mi = m0; mi < 60; mi++) {
                if (!(c->minutes >> mi & 1))
                    continue;
                int s0 = (h == in_day / 3600 && mi == in_day % 3600 / 60) ? (int)(in_day % 60) : 0;
                for (int sec = s0; sec < 60; sec++)
                    if (c->seconds >> sec & 1)
                        return (day * 86400 + h * 3600 + mi * 60 + sec) * 1000;
            }
        }
    }
    return -1;
}
