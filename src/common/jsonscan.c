/*
 * A non-allocating JSON validator that accepts and rejects exactly what
 * jansson 2.14's json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL) does,
 * and reports the same reason, line and column when it rejects. It builds no
 * document: one left-to-right pass with an explicit bit stack for nesting.
 *
 * jansson's observable behaviour that this reproduces (see tests/unit/
 * test_jsonscan.c, which checks it against jansson itself):
 *  - It reads the input one character at a time and validates UTF-8 as it
 *    reads (anywhere, not only in strings): a byte that does not start a
 *    well-formed, shortest-form, non-surrogate, <= U+10FFFF sequence is
 *    "unable to decode byte 0x..", reported where it is read.
 *  - The first error wins; an error's context is the current token's text
 *    so far ("near '...'", omitted beyond 20 bytes; "near end of file" when
 *    empty) and its position is where the reader stands (after the token,
 *    minus the one character of lookahead it puts back). The column counts
 *    characters (not bytes) since the last newline; lines start at 1.
 *  - Strings: control characters < 0x20 are errors, escapes are checked on
 *    a first pass and \u surrogates are paired on a second pass (so a bad
 *    surrogate is reported at the end of the string). \u0000 is allowed in
 *    values but not in object keys.
 *  - Numbers: integers must fit in a long long ("too big integer"), reals
 *    that round to infinity are "real number overflow" (underflow is fine).
 *  - Every value, scalars included, counts one level of depth; more than
 *    2048 is "maximum parsing depth reached".
 *  - Duplicate keys are accepted; the later value replaces the earlier one
 *    in the earlier key's place (which matters for the strings-only check).
 */
#include "common/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 2048     /* jansson's JSON_PARSER_MAX_DEPTH */
#define CONTEXT_MAX 20     /* longest token text jansson quotes in an error */
#define NAME_MAX_BYTES 100 /* longest member name quoted in a strings-only error */

enum {
    T_ERROR = -1, /* the lexer failed and has filled in the result */
    T_EOF,
    T_INVALID, /* not a token; the parser reports it */
    T_STRING,
    T_INTEGER,
    T_REAL,
    T_TRUE,
    T_FALSE,
    T_NULL,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COLON,
    T_COMMA,
};

typedef struct lexer {
    const unsigned char *s;
    size_t len;
    size_t pos; /* where the reader stands */
    size_t tok; /* current token's text: [tok, tok_end) */
    size_t tok_end;
    int has_nul; /* the current string token decodes to a NUL somewhere */
    jdoc_scan_result *r;
} lexer;

/* ---- character classes ------------------------------------------------------ */

/* 0: a byte a string copies as is; 1: '"', '\\', a control character or a
 * byte >= 0x80 (needs a closer look). */
static const unsigned char string_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(int c)
{
    return is_alpha(c) || is_digit(c);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Length (2-4) of the well-formed UTF-8 sequence starting at s[i] (a byte
 * >= 0x80), or 0 when it is not one: a stray continuation byte, an overlong
 * form, a surrogate, a code point above U+10FFFF or a sequence cut short.
 */
static size_t utf8_length(const unsigned char *s, size_t len, size_t i)
{
    unsigned c = s[i];
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len - i < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        unsigned b = s[i + k];
        if ((b & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* ---- errors ------------------------------------------------------------------ */

/*
 * Line and column of the reader standing at |pos|, as jansson counts them:
 * characters, not bytes, and not the NUL bytes it skips (see skip_nul) --
 * the NULs right after a digit or letter, unless |last_read| says the byte
 * before |pos| was read as part of the failing token.
 */
static void locate(const unsigned char *s, size_t pos, int last_read, int *line, int *column)
{
    long l = 1, c = 0;
    for (size_t i = 0; i < pos; i++) {
        if (s[i] == '\n') {
            l++;
            c = 0;
        } else if (s[i] == 0 && i > 0 && is_alnum(s[i - 1]) && !(last_read && i + 1 == pos)) {
            continue;
        } else if ((s[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l > INT32_MAX ? INT32_MAX : (int)l;
    *column = c > INT32_MAX ? INT32_MAX : (int)c;
}

enum {
    F_DECODE = 1,    /* a UTF-8 error: no "near end of file" */
    F_LAST_READ = 2, /* the byte before the reader belongs to the token */
};

/* Records a syntax error: reader at |pos|, token text [ctx, ctx_end). */
__attribute__((format(printf, 6, 7))) static int
fail(lexer *lx, size_t pos, size_t ctx, size_t ctx_end, int flags, const char *fmt, ...)
{
    jdoc_scan_result *r = lx->r;
    char reason[100]; /* the longest is 50-odd bytes */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);

    /* The token text is printed as a C string: it stops at a NUL byte. */
    const unsigned char *text = lx->s + ctx;
    size_t n = ctx_end - ctx;
    const void *nul = n ? memchr(text, 0, n) : NULL;
    size_t shown = nul ? (size_t)((const unsigned char *)nul - text) : n;
    if (n > 0 && shown > 0) {
        if (n <= CONTEXT_MAX) {
            char quoted[CONTEXT_MAX + 1];
            memcpy(quoted, text, shown);
            quoted[shown] = '\0';
            snprintf(r->text, sizeof r->text, "%s near '%s'", reason, quoted);
        } else {
            snprintf(r->text, sizeof r->text, "%s", reason);
        }
    } else if (flags & F_DECODE) {
        snprintf(r->text, sizeof r->text, "%s", reason);
    } else {
        snprintf(r->text, sizeof r->text, "%s near end of file", reason);
    }
    locate(lx->s, pos, flags & F_LAST_READ, &r->line, &r->column);
    r->status = CJSON_SCAN_SYNTAX;
    r->kind = NULL;
    return T_ERROR;
}

/* A byte at |at| that is not UTF-8, read while the token began at |ctx|. */
static int decode_error(lexer *lx, size_t at, size_t ctx)
{
    return fail(lx, at, ctx, at, F_DECODE, "unable to decode byte 0x%x", lx->s[at]);
}

/* The parser's complaint about the current token. */
static int unexpected(lexer *lx, const char *what)
{
    return fail(lx, lx->pos, lx->tok, lx->tok_end, 0, "%s", what);
}

/* ---- the lexer ----------------------------------------------------------------- */

/* Reads a lookahead character at |i|: returns -1 at the end of the input,
 * -2 after recording a UTF-8 error, else the byte (checking a sequence). */
static int peek(lexer *lx, size_t i)
{
    if (i >= lx->len)
        return -1;
    int c = lx->s[i];
    if (c >= 0x80 && !utf8_length(lx->s, lx->len, i)) {
        decode_error(lx, i, lx->tok);
        return -2;
    }
    return c;
}

static int token_at(lexer *lx, size_t end, int tok)
{
    lx->pos = lx->tok_end = end;
    return tok;
}

/*
 * A number or a literal ends at |end|. jansson reads one character past it
 * and puts it back; a NUL byte put back is lost (its reader takes a zero in
 * its buffer for "empty"), so "[1\0]" is [1]. Do the same.
 */
static int skip_nul(lexer *lx, size_t end, int tok)
{
    lx->tok_end = end;
    lx->pos = end < lx->len && lx->s[end] == 0 ? end + 1 : end;
    return tok;
}

/* Whether the rest of the input at |i| is \u and four hex digits; the code
 * unit goes to |*unit|. */
static int unicode_escape_at(const lexer *lx, size_t i, uint32_t *unit)
{
    if (lx->len - i < 6 || lx->s[i] != '\\' || lx->s[i + 1] != 'u')
        return 0;
    uint32_t v = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hex_value(lx->s[i + k]);
        if (h < 0)
            return 0;
        v = (v << 4) | (uint32_t)h;
    }
    *unit = v;
    return 1;
}

static int lex_string(lexer *lx, size_t t)
{
    const unsigned char *s = lx->s;
    const size_t n = lx->len;
    size_t i = t + 1;
    /* The first surrogate problem (1: lone, 2: bad pair), reported only once
     * the whole string has scanned cleanly, as jansson's second pass does. */
    int bad_surrogate = 0;
    uint32_t bad1 = 0, bad2 = 0;
    lx->has_nul = 0;
    for (;;) {
        while (i < n && !string_special[s[i]])
            i++;
        if (i >= n)
            return fail(lx, n, t, n, 0, "premature end of input");
        unsigned c = s[i];
        if (c == '"')
            break;
        if (c >= 0x80) {
            size_t k = utf8_length(s, n, i);
            if (!k)
                return decode_error(lx, i, t);
            i += k;
            continue;
        }
        if (c < 0x20) {
            if (c == '\n')
                return fail(lx, i, t, i, 0, "unexpected newline");
            return fail(lx, i, t, i, 0, "control character 0x%x", c);
        }
        /* A backslash. The character after it is read (and quoted) even
         * when it is wrong. */
        i++;
        if (i >= n)
            return fail(lx, n, t, n, 0, "invalid escape");
        c = s[i];
        if (c != 'u') {
            if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
                c == 't') {
                i++;
                continue;
            }
            if (c >= 0x80 && !utf8_length(s, n, i))
                return decode_error(lx, i, t);
            return fail(lx, i + 1, t, i + 1, F_LAST_READ, "invalid escape");
        }
        i++;
        uint32_t unit = 0;
        for (int k = 0; k < 4; k++, i++) {
            if (i >= n)
                return fail(lx, n, t, n, 0, "invalid escape");
            int h = hex_value(s[i]);
            if (h < 0) {
                if (s[i] >= 0x80 && !utf8_length(s, n, i))
                    return decode_error(lx, i, t);
                return fail(lx, i + 1, t, i + 1, F_LAST_READ, "invalid escape");
            }
            unit = (unit << 4) | (uint32_t)h;
        }
        if (unit == 0)
            lx->has_nul = 1;
        if (bad_surrogate || unit < 0xD800 || unit > 0xDFFF)
            continue;
        if (unit >= 0xDC00) {
            bad_surrogate = 1;
            bad1 = unit;
            continue;
        }
        /* A high surrogate: the next escape must be a low one. When the next
         * escape is malformed, the first pass fails on it anyway. */
        uint32_t low;
        if (unicode_escape_at(lx, i, &low)) {
            if (low >= 0xDC00 && low <= 0xDFFF) {
                i += 6;
            } else {
                bad_surrogate = 2;
                bad1 = unit;
                bad2 = low;
            }
        } else if (!(n - i >= 2 && s[i] == '\\' && s[i + 1] == 'u')) {
            bad_surrogate = 1;
            bad1 = unit;
        }
    }
    i++; /* the closing quote */
    if (bad_surrogate == 1)
        return fail(lx, i, t, i, 0, "invalid Unicode '\\u%04X'", (unsigned)bad1);
    if (bad_surrogate == 2)
        return fail(lx, i, t, i, 0, "invalid Unicode '\\u%04X\\u%04X'", (unsigned)bad1,
                    (unsigned)bad2);
    return token_at(lx, i, T_STRING);
}

/* 2^1024 - 2^970: the smallest decimal that strtod rounds to infinity (the
 * tie rounds to even, up). */
static const char overflow_digits[] =
    "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797"
    "75872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548"
    "45817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711"
    "559699508093042880177904174497792";

/*
 * Whether the real with integer digits [i0, i1), fraction digits [f0, f1)
 * and decimal exponent |e| (saturated) rounds to infinity.
 */
static int real_overflows(const unsigned char *s, size_t i0, size_t i1, size_t f0, size_t f1,
                          long long e)
{
    /* The first significant digit and its power of ten. */
    size_t first;
    long long power;
    if (s[i0] != '0') {
        first = i0;
        power = (long long)(i1 - i0 - 1) + e;
    } else {
        first = f0;
        while (first < f1 && s[first] == '0')
            first++;
        if (first >= f1)
            return 0; /* zero */
        power = e - (long long)(first - f0 + 1);
    }
    if (power != 308)
        return power > 308;
    /* Same magnitude as the threshold: compare the digits. */
    size_t k = 0;
    for (size_t i = first; i < f1; i++) {
        if (i == i1) {
            i = f0;
            if (i >= f1)
                break;
        }
        int d = s[i];
        if (k < sizeof overflow_digits - 1) {
            if (d != overflow_digits[k])
                return d > overflow_digits[k];
            k++;
        } else if (d != '0') {
            return 1;
        }
    }
    return k == sizeof overflow_digits - 1; /* equal: the tie overflows */
}

static int lex_number(lexer *lx, size_t t)
{
    const unsigned char *s = lx->s;
    size_t i = t;
    int c = s[i];
    int negative = c == '-';
    if (negative) {
        i++;
        c = peek(lx, i);
        if (c == -2)
            return T_ERROR;
    }
    size_t i0 = i;
    if (c == '0') {
        i++;
        c = peek(lx, i);
        if (c == -2)
            return T_ERROR;
        if (is_digit(c))
            return token_at(lx, i, T_INVALID); /* a leading zero */
    } else if (is_digit(c)) {
        do {
            i++;
            c = peek(lx, i);
        } while (is_digit(c));
        if (c == -2)
            return T_ERROR;
    } else {
        return token_at(lx, i, T_INVALID); /* a lone minus */
    }
    size_t i1 = i;
    if (c != '.' && c != 'e' && c != 'E') {
        size_t ndigits = i1 - i0;
        const char *limit = negative ? "9223372036854775808" : "9223372036854775807";
        if (ndigits > 19 || (ndigits == 19 && memcmp(s + i0, limit, 19) > 0)) {
            lx->tok_end = i;
            return fail(lx, i, t, i, 0, negative ? "too big negative integer" : "too big integer");
        }
        return skip_nul(lx, i, T_INTEGER);
    }
    size_t f0 = i, f1 = i;
    if (c == '.') {
        i++;
        c = peek(lx, i);
        if (c == -2)
            return T_ERROR;
        if (!is_digit(c))
            return token_at(lx, i, T_INVALID); /* "1." */
        f0 = i;
        do {
            i++;
            c = peek(lx, i);
        } while (is_digit(c));
        if (c == -2)
            return T_ERROR;
        f1 = i;
    }
    long long e = 0;
    if (c == 'e' || c == 'E') {
        i++;
        c = peek(lx, i);
        if (c == -2)
            return T_ERROR;
        int eneg = 0;
        if (c == '+' || c == '-') {
            eneg = c == '-';
            i++;
            c = peek(lx, i);
            if (c == -2)
                return T_ERROR;
        }
        if (!is_digit(c))
            return token_at(lx, i, T_INVALID); /* "1e", "1e+" */
        do {
            if (e < 1000000000LL)
                e = e * 10 + (c - '0');
            i++;
            c = peek(lx, i);
        } while (is_digit(c));
        if (c == -2)
            return T_ERROR;
        if (eneg)
            e = -e;
    }
    if (real_overflows(s, i0, i1, f0, f1, e)) {
        lx->tok_end = i;
        return fail(lx, i, t, i, 0, "real number overflow");
    }
    return skip_nul(lx, i, T_REAL);
}

static int lex(lexer *lx)
{
    const unsigned char *s = lx->s;
    size_t i = lx->pos;
    int c;
    for (;;) {
        if (i >= lx->len) {
            lx->pos = lx->tok = lx->tok_end = i;
            return T_EOF;
        }
        c = s[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        i++;
    }
    lx->tok = i;
    switch (c) {
    case '{':
        return token_at(lx, i + 1, T_LBRACE);
    case '}':
        return token_at(lx, i + 1, T_RBRACE);
    case '[':
        return token_at(lx, i + 1, T_LBRACKET);
    case ']':
        return token_at(lx, i + 1, T_RBRACKET);
    case ':':
        return token_at(lx, i + 1, T_COLON);
    case ',':
        return token_at(lx, i + 1, T_COMMA);
    case '"':
        return lex_string(lx, i);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return lex_number(lx, i);
    default:
        break;
    }
    if (is_alpha(c)) {
        size_t t = i;
        do {
            i++;
            c = peek(lx, i);
        } while (is_alpha(c));
        if (c == -2)
            return T_ERROR;
        size_t n = i - t;
        int tok = T_INVALID;
        if (n == 4 && memcmp(s + t, "true", 4) == 0)
            tok = T_TRUE;
        else if (n == 5 && memcmp(s + t, "false", 5) == 0)
            tok = T_FALSE;
        else if (n == 4 && memcmp(s + t, "null", 4) == 0)
            tok = T_NULL;
        return tok == T_INVALID ? token_at(lx, i, tok) : skip_nul(lx, i, tok);
    }
    if (c >= 0x80) {
        size_t k = utf8_length(s, lx->len, i);
        if (!k)
            return decode_error(lx, i, i);
        return token_at(lx, i + k, T_INVALID); /* the whole character is quoted */
    }
    return token_at(lx, i + 1, T_INVALID);
}

/* ---- value kinds and member names ------------------------------------------------ */

static const char *kind_of_token(int tok)
{
    switch (tok) {
    case T_LBRACE:
        return "an object";
    case T_LBRACKET:
        return "an array";
    case T_STRING:
        return "a string";
    case T_INTEGER:
    case T_REAL:
        return "a number";
    case T_TRUE:
    case T_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static const char *kind_of_byte(int c)
{
    switch (c) {
    case '{':
        return "an object";
    case '[':
        return "an array";
    case '"':
        return "a string";
    case 't':
    case 'f':
        return "a boolean";
    case 'n':
        return "null";
    default:
        return "a number";
    }
}

/*
 * Next code point of a string already checked by the lexer, from |*i| (inside
 * the quotes); -1 at the closing quote.
 */
static int32_t next_code_point(const unsigned char *s, size_t *i)
{
    size_t p = *i;
    unsigned c = s[p];
    if (c == '"')
        return -1;
    if (c == '\\') {
        unsigned e = s[p + 1];
        *i = p + 2;
        switch (e) {
        case 'b':
            return '\b';
        case 'f':
            return '\f';
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        case 'u':
            break;
        default:
            return (int32_t)e; /* '"', '\\', '/' */
        }
        int32_t v = 0;
        for (size_t k = 0; k < 4; k++)
            v = (v << 4) | hex_value(s[p + 2 + k]);
        *i = p + 6;
        if (v >= 0xD800 && v <= 0xDBFF) {
            int32_t low = 0;
            for (size_t k = 0; k < 4; k++)
                low = (low << 4) | hex_value(s[p + 8 + k]);
            *i = p + 12;
            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
        }
        return v;
    }
    if (c < 0x80) {
        *i = p + 1;
        return (int32_t)c;
    }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    int32_t v = (int32_t)(c & (0x7F >> n));
    for (size_t k = 1; k < n; k++)
        v = (v << 6) | (s[p + k] & 0x3F);
    *i = p + n;
    return v;
}

static size_t utf8_encode(int32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The decoded name of the key whose opening quote is at |q|, shortened to
 * NAME_MAX_BYTES (on a character boundary) with "..." when longer. */
static void copy_name(const unsigned char *s, size_t q, jdoc_scan_result *r)
{
    size_t i = q + 1, n = 0;
    int32_t cp;
    while ((cp = next_code_point(s, &i)) >= 0) {
        char buf[4];
        size_t k = utf8_encode(cp, buf);
        if (n + k > NAME_MAX_BYTES) {
            memcpy(r->name + n, "...", 4);
            return;
        }
        memcpy(r->name + n, buf, k);
        n += k;
    }
    r->name[n] = '\0';
}

static int keys_equal(const unsigned char *s, size_t a, size_t b, size_t *budget)
{
    size_t i = a + 1, j = b + 1;
    for (;;) {
        if (*budget == 0)
            return -1;
        (*budget)--;
        int32_t x = next_code_point(s, &i), y = next_code_point(s, &j);
        if (x != y)
            return 0;
        if (x < 0)
            return 1;
    }
}

static uint32_t key_hash(const unsigned char *s, size_t q)
{
    uint32_t h = 2166136261u;
    size_t i = q + 1;
    int32_t cp;
    while ((cp = next_code_point(s, &i)) >= 0)
        h = (h ^ (uint32_t)cp) * 16777619u;
    return h;
}

/* In a document already known to be valid: skips the string at |i| (its
 * opening quote) and returns the index after its closing quote. */
static size_t skip_string(const unsigned char *s, size_t i)
{
    i++;
    for (;;) {
        if (s[i] == '"')
            return i + 1;
        i += s[i] == '\\' ? 2 : 1;
    }
}

static size_t skip_space(const unsigned char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* In a valid document: skips the value at |i|. */
static size_t skip_value(const unsigned char *s, size_t len, size_t i)
{
    if (s[i] == '"')
        return skip_string(s, i);
    if (s[i] != '{' && s[i] != '[') {
        while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
               s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            i++;
        return i;
    }
    size_t depth = 0;
    do {
        if (s[i] == '"') {
            i = skip_string(s, i);
            continue;
        }
        if (s[i] == '{' || s[i] == '[')
            depth++;
        else if (s[i] == '}' || s[i] == ']')
            depth--;
        i++;
    } while (depth > 0);
    return i;
}

#define MEMBERS_MAX 256
#define FILTER_BITS 4096

/*
 * The strings-only verdict for a valid top-level object with a non-string
 * member (the first one, in document order, has its key at |first_bad| and
 * is of |bad_kind|). Keys may repeat: a repeated key keeps its first place
 * and takes its last value, so "{"a":1,"a":"x"}" is fine. When no two keys
 * can be equal (a Bloom filter of their hashes says so), the first non-string
 * member is the answer; otherwise keys are compared for real, up to
 * MEMBERS_MAX members and a work budget linear in the document, beyond which
 * the result is CJSON_SCAN_UNDECIDED (the caller then asks jansson).
 */
__attribute__((noinline)) static int resolve_members(const unsigned char *s, size_t len,
                                                     size_t first_bad, const char *bad_kind,
                                                     jdoc_scan_result *r)
{
    uint32_t key_at[MEMBERS_MAX];
    uint32_t hash[MEMBERS_MAX];
    unsigned char value_byte[MEMBERS_MAX];
    unsigned char filter[FILTER_BITS / 8];
    memset(filter, 0, sizeof filter);
    int repeated = 0;
    size_t m = 0;
    size_t i = skip_space(s, len, 0) + 1; /* past '{' */
    for (;;) {
        i = skip_space(s, len, i);
        if (s[i] == '}')
            break;
        if (s[i] == ',')
            i = skip_space(s, len, i + 1);
        uint32_t h = key_hash(s, i);
        unsigned bit = h % FILTER_BITS;
        if (filter[bit / 8] & (1u << (bit % 8)))
            repeated = 1;
        filter[bit / 8] |= (unsigned char)(1u << (bit % 8));
        size_t key = i;
        i = skip_space(s, len, skip_string(s, i));
        i = skip_space(s, len, i + 1); /* past ':' */
        if (m < MEMBERS_MAX) {
            key_at[m] = (uint32_t)key;
            hash[m] = h;
            value_byte[m] = s[i];
        }
        m++;
        i = skip_value(s, len, i);
    }
    if (!repeated) {
        r->kind = bad_kind;
        copy_name(s, first_bad, r);
        return r->status = CJSON_SCAN_NOT_STRINGS;
    }
    if (m > MEMBERS_MAX || len > UINT32_MAX)
        return r->status = CJSON_SCAN_UNDECIDED;
    size_t budget = 8 * len + 4096;
    for (size_t a = 0; a < m; a++) {
        int first = 1;
        for (size_t b = 0; b < a && first; b++) {
            if (hash[b] != hash[a])
                continue;
            int eq = keys_equal(s, key_at[a], key_at[b], &budget);
            if (eq < 0)
                return r->status = CJSON_SCAN_UNDECIDED;
            first = !eq;
        }
        if (!first)
            continue;
        size_t last = a;
        for (size_t b = m - 1; b > a; b--) {
            if (hash[b] != hash[a])
                continue;
            int eq = keys_equal(s, key_at[a], key_at[b], &budget);
            if (eq < 0)
                return r->status = CJSON_SCAN_UNDECIDED;
            if (eq) {
                last = b;
                break;
            }
        }
        if (value_byte[last] != '"') {
            r->kind = kind_of_byte(value_byte[last]);
            copy_name(s, key_at[a], r);
            return r->status = CJSON_SCAN_NOT_STRINGS;
        }
    }
    return r->status = CJSON_SCAN_OK;
}

/* ---- the parser ---------------------------------------------------------------------- */

#define NEXT()                                                                                     \
    do {                                                                                           \
        tok = lex(&lx);                                                                            \
        if (tok == T_ERROR)                                                                        \
            return r->status;                                                                      \
    } while (0)

#define FAIL(reason)                                                                               \
    do {                                                                                           \
        unexpected(&lx, reason);                                                                   \
        return r->status;                                                                          \
    } while (0)

/* Pushes a container; the byte holding its bit is written whole the first
 * time, so no bit is ever read before it is set. */
#define PUSH(is_object)                                                                            \
    do {                                                                                           \
        unsigned char bit_ = (unsigned char)(1u << (open % 8));                                    \
        if (open % 8 == 0)                                                                         \
            in_object[open / 8] = (is_object) ? bit_ : 0;                                          \
        else if (is_object)                                                                        \
            in_object[open / 8] |= bit_;                                                           \
        else                                                                                       \
            in_object[open / 8] &= (unsigned char)~bit_;                                           \
        open++;                                                                                    \
    } while (0)

int jdoc_scan(const char *doc, size_t len, int strings_only, jdoc_scan_result *r)
{
    lexer lx;
    lx.s = (const unsigned char *)doc;
    lx.len = doc ? len : 0;
    lx.pos = lx.tok = lx.tok_end = 0;
    lx.has_nul = 0;
    lx.r = r;
    r->status = CJSON_SCAN_OK;
    r->kind = NULL;
    r->line = r->column = 0;
    r->text[0] = '\0';
    r->name[0] = '\0';

    /* Open containers: bit set for an object. */
    unsigned char in_object[MAX_DEPTH / 8];
    size_t open = 0;
    int top_is_object = 0;
    const char *top_kind = NULL;
    /* Strings-only: the first top-level member that is not a string. */
    size_t key_at = 0, first_bad_key = 0;
    const char *first_bad_kind = NULL;
    int tok;

    NEXT();
value:
    if (open >= MAX_DEPTH)
        FAIL("maximum parsing depth reached");
    if (open == 0) {
        top_kind = kind_of_token(tok);
        top_is_object = tok == T_LBRACE;
    } else if (open == 1 && strings_only && top_is_object && tok != T_STRING && !first_bad_kind) {
        first_bad_kind = kind_of_token(tok);
        first_bad_key = key_at;
    }
    switch (tok) {
    case T_STRING:
    case T_INTEGER:
    case T_REAL:
    case T_TRUE:
    case T_FALSE:
    case T_NULL:
        goto value_done;
    case T_LBRACE:
        PUSH(1);
        NEXT();
        if (tok == T_RBRACE) {
            open--;
            goto value_done;
        }
        goto member;
    case T_LBRACKET:
        PUSH(0);
        NEXT();
        if (tok == T_RBRACKET) {
            open--;
            goto value_done;
        }
        if (tok == T_EOF)
            FAIL("']' expected");
        goto value;
    case T_INVALID:
        FAIL("invalid token");
    default:
        FAIL("unexpected token");
    }

member:
    if (tok != T_STRING)
        FAIL("string or '}' expected");
    if (lx.has_nul)
        FAIL("NUL byte in object key not supported");
    if (open == 1)
        key_at = lx.tok;
    NEXT();
    if (tok != T_COLON)
        FAIL("':' expected");
    NEXT();
    goto value;

value_done:
    if (open == 0) {
        NEXT();
        if (tok != T_EOF)
            FAIL("end of file expected");
        goto done;
    }
    NEXT();
    if (in_object[(open - 1) / 8] & (1u << ((open - 1) % 8))) {
        if (tok == T_COMMA) {
            NEXT();
            goto member;
        }
        if (tok != T_RBRACE)
            FAIL("'}' expected");
    } else {
        if (tok == T_COMMA) {
            NEXT();
            if (tok == T_EOF)
                FAIL("']' expected");
            goto value;
        }
        if (tok != T_RBRACKET)
            FAIL("']' expected");
    }
    open--;
    goto value_done;

done:
    if (!top_is_object) {
        r->kind = top_kind;
        return r->status = CJSON_SCAN_NOT_OBJECT;
    }
    if (!first_bad_kind)
        return r->status = CJSON_SCAN_OK;
    return resolve_members(lx.s, lx.len, first_bad_key, first_bad_kind, r);
}
