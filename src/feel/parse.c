/*
 * The FEEL lexer and parser. Runs at deploy time: everything Chute cannot
 * evaluate is refused here with the column it starts at, so a model fails
 * when it is deployed, not when an instance reaches the element.
 *
 * Grammar (lowest precedence first):
 *   expression  = disjunction
 *   disjunction = conjunction { "or" conjunction }
 *   conjunction = comparison { "and" comparison }
 *   comparison  = additive [ ("=" | "!=" | "<" | "<=" | ">" | ">=") additive
 *                          | "between" additive "and" additive
 *                          | "in" tests ]
 *   additive    = multiplicative { ("+" | "-") multiplicative }
 *   multiplicative = power { ("*" | "/") power }
 *   power       = unary { "**" unary }
 *   unary       = "-" unary | postfix
 *   postfix     = primary { "." name | "[" expression "]" }
 *   primary     = number | string | true | false | null | "@" string
 *               | name | builtin "(" arguments ")" | "(" expression ")"
 *               | list | context | interval
 *               | "if" e "then" e "else" e | "for" ... "return" e
 *               | ("some" | "every") ... "satisfies" e
 *   tests       = test | "(" test { "," test } ")"
 *   test        = ("<" | "<=" | ">" | ">=" | "=" | "!=") additive | additive
 * and, for feel_parse_unary_tests (DMN 1.3 rules 14 to 17),
 *   unary tests = "-" | "not" "(" positive tests ")" | positive tests
 *   positive tests = positive test { "," positive test }
 *   positive test  = ("<" | "<=" | ">" | ">=" | "=" | "!=") additive | expression
 * Chains of the same binary operators become one node with many operands,
 * so that a long sum nests no deeper than one addition.
 *
 * Columns are 1-based and count characters (code points) from the start of
 * the expression, across lines.
 */
#include "feel/feel_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tkind {
    T_EOF,
    T_NUM,
    T_STR,
    T_NAME,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_LC,
    T_RC,
    T_COMMA,
    T_DOT,
    T_DOTDOT,
    T_COLON,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_POW,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_AT,
    T_BAD,
};

typedef struct ftok {
    uint8_t kind;
    uint8_t quoted; /* a `backtick` name: never a keyword */
    int col;
    size_t off, len; /* the token's bytes in the source */
} ftok;

typedef struct fparser {
    const char *src;
    size_t len;
    ftok *toks;
    size_t ntok, cap, pos;
    farena *arena;
    farena scratch; /* for checking regular expressions */
    jmp_buf jb;
    feel_error *err;
    int depth;
    int stop_lb; /* parsing an interval's end: a '[' closes it, it starts no filter */
} fparser;

#define MAX_NAME 256 /* bytes of a multi-word name once joined */

static _Noreturn void perr(fparser *p, int col, const char *construct, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static _Noreturn void perr(fparser *p, int col, const char *construct, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
    p->err->column = col;
    snprintf(p->err->construct, sizeof p->err->construct, "%s", construct ? construct : "");
    longjmp(p->jb, 1);
}

static void *palloc(fparser *p, size_t n)
{
    void *m = farena_alloc(p->arena, n);
    if (!m)
        perr(p, 0, NULL, "The expression needs more memory than its parse may take");
    return m;
}

/* ---- lexer ------------------------------------------------------------- */

static void push_tok(fparser *p, int kind, size_t off, size_t len, int col, int quoted)
{
    if (p->ntok == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        ftok *t = realloc(p->toks, cap * sizeof *t);
        if (!t)
            perr(p, 0, NULL, "The expression could not be parsed: out of memory");
        p->toks = t;
        p->cap = cap;
    }
    ftok *t = &p->toks[p->ntok++];
    t->kind = (uint8_t)kind;
    t->quoted = (uint8_t)quoted;
    t->off = off;
    t->len = len;
    t->col = col;
}

static int name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '?' || c == '$' ||
           c >= 0x80;
}

static int name_part(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void lex(fparser *p)
{
    const char *s = p->src;
    size_t n = p->len, i = 0;
    int col = 1;
/* Advances over |k| bytes, counting characters for the column. */
#define ADV(k)                                                                                     \
    do {                                                                                           \
        for (size_t a_ = 0; a_ < (size_t)(k); a_++, i++)                                           \
            col += ((unsigned char)s[i] & 0xC0) != 0x80;                                           \
    } while (0)
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            ADV(1);
            continue;
        }
        /* Non-breaking and other Unicode spaces separate tokens too. */
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) {
            ADV(2);
            continue;
        }
        if (c == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n')
                ADV(1);
            continue;
        }
        if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            int start = col;
            ADV(2);
            while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/'))
                ADV(1);
            if (i >= n)
                perr(p, start, NULL,
                     "Expected '*/' to close the comment that starts at column %d, but found the "
                     "end of the expression",
                     start);
            ADV(2);
            continue;
        }
        int tcol = col;
        size_t start = i;
        if (is_digit((char)c) ||
            (c == '.' && i + 1 < n && is_digit(s[i + 1]) &&
             !(p->ntok &&
               (p->toks[p->ntok - 1].kind == T_NAME || p->toks[p->ntok - 1].kind == T_RP ||
                p->toks[p->ntok - 1].kind == T_RB || p->toks[p->ntok - 1].kind == T_RC)))) {
            while (i < n && is_digit(s[i]))
                ADV(1);
            if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
                ADV(1);
                while (i < n && is_digit(s[i]))
                    ADV(1);
            }
            push_tok(p, T_NUM, start, i - start, tcol, 0);
            continue;
        }
        if (c == '"') {
            ADV(1);
            while (i < n && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < n)
                    ADV(1);
                ADV(1);
            }
            if (i >= n)
                perr(p, tcol, NULL,
                     "Expected '\"' to close the string that starts at column %d, but found the "
                     "end of the expression",
                     tcol);
            ADV(1);
            push_tok(p, T_STR, start, i - start, tcol, 0);
            continue;
        }
        if (c == '`') {
            ADV(1);
            while (i < n && s[i] != '`')
                ADV(1);
            if (i >= n)
                perr(p, tcol, NULL,
                     "Expected '`' to close the name that starts at column %d, but found the end "
                     "of the expression",
                     tcol);
            if (i == start + 1)
                perr(p, tcol, NULL, "Expected a name between the backticks at column %d", tcol);
            push_tok(p, T_NAME, start + 1, i - start - 1, tcol, 1);
            ADV(1);
            continue;
        }
        if (name_start(c)) {
            while (i < n && name_part((unsigned char)s[i])) {
                /* A non-breaking space ends a name. */
                if ((unsigned char)s[i] == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0)
                    break;
                ADV(1);
            }
            push_tok(p, T_NAME, start, i - start, tcol, 0);
            continue;
        }
        int kind = T_BAD;
        size_t k = 1;
        char d = i + 1 < n ? s[i + 1] : 0;
        switch (c) {
        case '(':
            kind = T_LP;
            break;
        case ')':
            kind = T_RP;
            break;
        case '[':
            kind = T_LB;
            break;
        case ']':
            kind = T_RB;
            break;
        case '{':
            kind = T_LC;
            break;
        case '}':
            kind = T_RC;
            break;
        case ',':
            kind = T_COMMA;
            break;
        case ':':
            kind = T_COLON;
            break;
        case '+':
            kind = T_PLUS;
            break;
        case '-':
            kind = T_MINUS;
            break;
        case '/':
            kind = T_SLASH;
            break;
        case '@':
            kind = T_AT;
            break;
        case '=':
            kind = T_EQ;
            break;
        case '.':
            kind = d == '.' ? T_DOTDOT : T_DOT;
            k = d == '.' ? 2 : 1;
            break;
        case '*':
            kind = d == '*' ? T_POW : T_STAR;
            k = d == '*' ? 2 : 1;
            break;
        case '!':
            if (d == '=') {
                kind = T_NE;
                k = 2;
            }
            break;
        case '<':
            kind = d == '=' ? T_LE : T_LT;
            k = d == '=' ? 2 : 1;
            break;
        case '>':
            kind = d == '=' ? T_GE : T_GT;
            k = d == '=' ? 2 : 1;
            break;
        }
        if (kind == T_BAD) {
            /* One character, so that the message can show it. */
            size_t j = i;
            if (fu8_decode(s, n, &j) < 0)
                j = i + 1;
            k = j - i;
        }
        ADV(k);
        push_tok(p, kind, start, i - start, tcol, 0);
    }
#undef ADV
    push_tok(p, T_EOF, n, 0, col, 0);
}

/* ---- helpers ----------------------------------------------------------- */

static const ftok *tok(fparser *p)
{
    return &p->toks[p->pos];
}

static const ftok *tok_at(fparser *p, size_t k)
{
    size_t i = p->pos + k;
    return i < p->ntok ? &p->toks[i] : &p->toks[p->ntok - 1];
}

static int is_word(const fparser *p, const ftok *t, const char *w)
{
    size_t n = strlen(w);
    return t->kind == T_NAME && !t->quoted && t->len == n && memcmp(p->src + t->off, w, n) == 0;
}

static const char *const keywords[] = {"true", "false", "null",    "if",       "then",  "else",
                                       "for",  "in",    "return",  "some",     "every", "satisfies",
                                       "and",  "or",    "between", "instance", "of",    "function"};

static int is_keyword(const fparser *p, const ftok *t)
{
    if (t->kind != T_NAME || t->quoted)
        return 0;
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
        if (is_word(p, t, keywords[k]))
            return 1;
    }
    return 0;
}

/* "'text'" or "the end of the expression", for messages. */
static const char *found(fparser *p, const ftok *t, char *buf, size_t n)
{
    if (t->kind == T_EOF)
        return "the end of the expression";
    unsigned char c0 = (unsigned char)p->src[t->off];
    if (t->kind == T_BAD && (c0 < 0x20 || c0 == 0x7F)) {
        /* A control character would not show in a message. */
        snprintf(buf, n, "the character U+%04X", c0);
        return buf;
    }
    size_t len = t->len, keep = len;
    size_t off = t->off;
    if (t->quoted) {
        off--;
        len += 2;
        keep = len;
    }
    if (keep > 40) {
        keep = 40;
        while (keep > 0 && ((unsigned char)p->src[off + keep] & 0xC0) == 0x80)
            keep--;
    }
    snprintf(buf, n, "'%.*s%s'", (int)keep, p->src + off, keep < len ? "..." : "");
    return buf;
}

static _Noreturn void expected(fparser *p, const char *what)
{
    char b[80];
    const ftok *t = tok(p);
    perr(p, t->col, NULL, "Expected %s at column %d, but found %s", what, t->col,
         found(p, t, b, sizeof b));
}

static void expect(fparser *p, int kind, const char *what)
{
    if (tok(p)->kind != kind)
        expected(p, what);
    p->pos++;
}

static void expect_word(fparser *p, const char *w, const char *what)
{
    if (!is_word(p, tok(p), w))
        expected(p, what);
    p->pos++;
}

static void enter(fparser *p, int col)
{
    if (++p->depth > FEEL_MAX_DEPTH)
        perr(p, col, NULL, "The expression is nested more than %d levels deep at column %d",
             FEEL_MAX_DEPTH, col);
}

static fnode *mk(fparser *p, int kind, int col, size_t nkids)
{
    fnode *n = palloc(p, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->col = col;
    n->n = (uint32_t)nkids;
    if (nkids)
        n->kids = palloc(p, nkids * sizeof *n->kids);
    n->depth = 1;
    return n;
}

/* Sets the node's depth from its children, and checks the bound. */
static fnode *done(fparser *p, fnode *n)
{
    int d = 0;
    for (uint32_t i = 0; i < n->n; i++) {
        if (n->kids[i] && n->kids[i]->depth > d)
            d = n->kids[i]->depth;
    }
    if (d + 1 > FEEL_MAX_DEPTH)
        perr(p, n->col, NULL, "The expression is nested more than %d levels deep at column %d",
             FEEL_MAX_DEPTH, n->col);
    n->depth = (uint8_t)(d + 1);
    return n;
}

/* A growable array of nodes while a chain or a list is parsed. */
typedef struct nvec {
    const fnode **v;
    size_t n, cap;
} nvec;

static void nv_push(fparser *p, nvec *a, const fnode *x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        const fnode **v = palloc(p, cap * sizeof *v);
        if (a->n)
            memcpy(v, a->v, a->n * sizeof *v);
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
}

static fnode *from_vec(fparser *p, int kind, int col, nvec *a)
{
    fnode *n = mk(p, kind, col, 0);
    n->n = (uint32_t)a->n;
    n->kids = a->v;
    return n;
}

static char *pcopy(fparser *p, const char *s, size_t n)
{
    char *c = palloc(p, n + 1);
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

/* ---- literals ---------------------------------------------------------- */

static int hex4(const char *s, size_t n, size_t i, uint32_t *out)
{
    uint32_t v = 0;
    if (i + 4 > n)
        return -1;
    for (int k = 0; k < 4; k++) {
        char c = s[i + (size_t)k];
        int h = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (h < 0)
            return -1;
        v = v * 16 + (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* The string token's text without quotes, with escapes resolved: \" \\ \'
 * \n \r \t \b \f \/ and \uXXXX (surrogate pairs combined); any other
 * backslash stays as it is, so "\d" in a pattern means \d. */
static void unescape(fparser *p, const ftok *t, const char **out, size_t *olen)
{
    const char *s = p->src + t->off + 1;
    size_t n = t->len - 2;
    char *o = palloc(p, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            o[k++] = s[i];
            continue;
        }
        char e = s[i + 1];
        char r = 0;
        switch (e) {
        case '"':
            r = '"';
            break;
        case '\\':
            r = '\\';
            break;
        case '\'':
            r = '\'';
            break;
        case 'n':
            r = '\n';
            break;
        case 'r':
            r = '\r';
            break;
        case 't':
            r = '\t';
            break;
        case 'b':
            r = '\b';
            break;
        case 'f':
            r = '\f';
            break;
        case '/':
            r = '/';
            break;
        case 'u': {
            uint32_t c, lo;
            int col = t->col + 1 + (int)fu8_count(s, i);
            if (hex4(s, n, i + 2, &c))
                perr(p, col, NULL,
                     "Expected four hexadecimal digits after \\u at column %d in the string", col);
            size_t used = 6;
            if (c >= 0xD800 && c <= 0xDBFF) {
                if (i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' && !hex4(s, n, i + 8, &lo) &&
                    lo >= 0xDC00 && lo <= 0xDFFF) {
                    c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                    used = 12;
                } else {
                    perr(p, col, NULL,
                         "Expected a low surrogate \\uDC00-\\uDFFF after the high surrogate at "
                         "column %d in the string",
                         col);
                }
            } else if (c >= 0xDC00 && c <= 0xDFFF) {
                perr(p, col, NULL,
                     "Expected a character at column %d in the string, but found a lone low "
                     "surrogate",
                     col);
            }
            /* \u escapes never need more bytes than they take: 6 for up to 3. */
            k += fu8_encode(c, o + k);
            i += used - 1;
            continue;
        }
        default:
            o[k++] = '\\';
            continue;
        }
        o[k++] = r;
        i++;
    }
    o[k] = 0;
    *out = o;
    *olen = k;
}

/* ---- built-in names ---------------------------------------------------- */

/* The built-in whose (possibly multi-word) name starts at the current
 * token and is followed by "(": sets |*ntoks| to its words. */
static const fbuiltin *match_builtin(fparser *p, size_t *ntoks)
{
    const fbuiltin *best = NULL;
    size_t best_n = 0;
    for (const fbuiltin *b = fb_table(); b->name; b++) {
        if (best && strcmp(b->name, best->name) == 0)
            continue;
        const char *w = b->name;
        size_t k = 0;
        int ok = 1;
        while (*w) {
            const char *e = strchr(w, ' ');
            size_t wl = e ? (size_t)(e - w) : strlen(w);
            const ftok *t = tok_at(p, k);
            if (t->kind != T_NAME || t->quoted || t->len != wl ||
                memcmp(p->src + t->off, w, wl) != 0) {
                ok = 0;
                break;
            }
            k++;
            w += wl;
            if (*w == ' ')
                w++;
        }
        if (ok && tok_at(p, k)->kind == T_LP && k > best_n) {
            best = b;
            best_n = k;
        }
    }
    *ntoks = best_n;
    return best;
}

static void arity_text(const char *name, char *buf, size_t n, int *is_one)
{
    /* Which argument counts the overloads of |name| take, as words. */
    int counts[FB_MAX_PARAMS + 2] = {0};
    int varargs_from = -1;
    for (const fbuiltin *b = fb_table(); b->name; b++) {
        if (strcmp(b->name, name) != 0)
            continue;
        if (b->max == FB_VARARGS) {
            if (varargs_from < 0 || b->min < varargs_from)
                varargs_from = b->min;
        } else {
            for (int k = b->min; k <= b->max && k <= FB_MAX_PARAMS; k++)
                counts[k] = 1;
        }
    }
    if (varargs_from >= 0) {
        int lo = varargs_from;
        for (int k = 0; k < varargs_from; k++) {
            if (counts[k]) {
                lo = k;
                break;
            }
        }
        snprintf(buf, n, "at least %d argument%s", lo, lo == 1 ? "" : "s");
        *is_one = 0;
        return;
    }
    int list[FB_MAX_PARAMS + 1], m = 0;
    for (int k = 0; k <= FB_MAX_PARAMS; k++) {
        if (counts[k])
            list[m++] = k;
    }
    size_t o = 0;
    for (int k = 0; k < m; k++) {
        const char *sep = k == 0 ? "" : (k == m - 1 ? " or " : ", ");
        o += (size_t)snprintf(buf + o, n - o, "%s%d", sep, list[k]);
        if (o >= n)
            break;
    }
    *is_one = m == 1 && list[0] == 1;
    if (o < n)
        snprintf(buf + o, n - o, " argument%s", *is_one ? "" : "s");
}

static int param_index(const fbuiltin *b, const char *name, size_t len)
{
    const char *w = b->params;
    int idx = 0;
    while (*w) {
        const char *e = strchr(w, ',');
        size_t wl = e ? (size_t)(e - w) : strlen(w);
        if (wl == len && memcmp(w, name, len) == 0)
            return idx;
        idx++;
        w += wl;
        if (*w == ',')
            w++;
    }
    return -1;
}

/* ---- the grammar ------------------------------------------------------- */

static const fnode *parse_expr(fparser *p);
static const fnode *parse_additive(fparser *p);
static const fnode *parse_interval_end(fparser *p, fnode *n);

static const fnode *parse_number(fparser *p)
{
    const ftok *t = tok(p);
    fnode *n = mk(p, N_NUM, t->col, 0);
    n->u.lit.kind = FV_NUM;
    int rc = fdec_parse(&n->u.lit.u.num, p->src + t->off, t->len, 0, 0);
    if (rc == FDEC_OVERFLOW)
        perr(p, t->col, NULL, "The number at column %d is too large (more than %d digits)", t->col,
             FDEC_EMAX + 1);
    if (rc)
        expected(p, "a number");
    p->pos++;
    return n;
}

static const fnode *parse_string(fparser *p)
{
    const ftok *t = tok(p);
    fnode *n = mk(p, N_STR, t->col, 0);
    n->u.lit.kind = FV_STR;
    unescape(p, t, &n->u.lit.u.str.s, &n->u.lit.u.str.len);
    p->pos++;
    return n;
}

static const fnode *parse_temporal(fparser *p)
{
    int col = tok(p)->col;
    p->pos++; /* @ */
    if (tok(p)->kind != T_STR)
        expected(p, "a string after '@'");
    const ftok *t = tok(p);
    const char *s;
    size_t len;
    unescape(p, t, &s, &len);
    fnode *n = mk(p, N_TEMPORAL, col, 0);
    fv *v = &n->u.lit;
    int k;
    if (len && (s[0] == 'P' || (s[0] == '-' && len > 1 && s[1] == 'P'))) {
        k = ft_parse_duration(s, len, &v->u.dtd, &v->u.months);
        v->kind = k == 1 ? FV_DTD : FV_YMD;
        if (k == 0)
            goto bad;
    } else if (memchr(s, 'T', len) && !ft_parse_date_time(s, len, &v->u.t)) {
        v->kind = FV_DT;
    } else if (!ft_parse_date(s, len, &v->u.t)) {
        v->kind = FV_DATE;
    } else if (!ft_parse_time(s, len, &v->u.t)) {
        v->kind = FV_TIME;
    } else {
        goto bad;
    }
    p->pos++;
    return n;
bad : {
    char b[80];
    perr(p, col, NULL,
         "Expected a date, a time, a date and time or a duration at column %d, but found @%s", col,
         found(p, t, b, sizeof b));
}
}

/* name: a single word (a keyword is no name). */
static void take_name(fparser *p, const char **name, size_t *len, const char *what)
{
    const ftok *t = tok(p);
    if (t->kind != T_NAME || is_keyword(p, t))
        expected(p, what);
    *name = pcopy(p, p->src + t->off, t->len);
    *len = t->len;
    p->pos++;
}

/* Iteration contexts of for/some/every: name "in" expression [".." expression]. */
static const fnode *parse_iteration(fparser *p, int kind, int col)
{
    int is_for = kind == N_FOR;
    nvec kids = {0};
    const char *names[64];
    size_t lens[64];
    size_t nn = 0;
    uint8_t ranges = 0;
    p->pos++; /* for / some / every */
    for (;;) {
        if (nn == 8)
            perr(p, tok(p)->col, NULL, "Expected at most 8 iteration variables at column %d",
                 tok(p)->col);
        take_name(p, &names[nn], &lens[nn], "a variable name");
        expect_word(p, "in", "'in'");
        nv_push(p, &kids, parse_expr(p));
        if (tok(p)->kind == T_DOTDOT) {
            p->pos++;
            ranges |= (uint8_t)(1u << nn);
            nv_push(p, &kids, parse_expr(p));
        } else {
            nv_push(p, &kids, NULL);
        }
        nn++;
        if (tok(p)->kind != T_COMMA)
            break;
        p->pos++;
    }
    if (is_for)
        expect_word(p, "return", "'return'");
    else
        expect_word(p, "satisfies", "'satisfies'");
    nv_push(p, &kids, parse_expr(p));
    fnode *n = from_vec(p, kind, col, &kids);
    n->flags = ranges;
    n->names = palloc(p, nn * sizeof *n->names);
    n->lens = palloc(p, nn * sizeof *n->lens);
    memcpy(n->names, names, nn * sizeof *names);
    memcpy(n->lens, lens, nn * sizeof *lens);
    n->op = (uint8_t)nn;
    return done(p, n);
}

static const fnode *parse_if(fparser *p)
{
    int col = tok(p)->col;
    p->pos++;
    fnode *n = mk(p, N_IF, col, 3);
    n->kids[0] = parse_expr(p);
    expect_word(p, "then", "'then'");
    n->kids[1] = parse_expr(p);
    expect_word(p, "else", "'else'");
    n->kids[2] = parse_expr(p);
    return done(p, n);
}

static const fnode *parse_lambda(fparser *p)
{
    int col = tok(p)->col;
    p->pos++; /* function */
    expect(p, T_LP, "'('");
    const char *names[8];
    size_t lens[8];
    size_t nn = 0;
    if (tok(p)->kind != T_RP) {
        for (;;) {
            if (nn == 8)
                expected(p, "')'");
            take_name(p, &names[nn], &lens[nn], "a parameter name");
            nn++;
            if (tok(p)->kind != T_COMMA)
                break;
            p->pos++;
        }
    }
    expect(p, T_RP, "')'");
    fnode *n = mk(p, N_LAMBDA, col, 1);
    n->kids[0] = parse_expr(p);
    n->names = palloc(p, (nn ? nn : 1) * sizeof *n->names);
    n->lens = palloc(p, (nn ? nn : 1) * sizeof *n->lens);
    memcpy(n->names, names, nn * sizeof *names);
    memcpy(n->lens, lens, nn * sizeof *lens);
    n->op = (uint8_t)nn;
    return done(p, n);
}

/* Compiles a literal pattern at deploy time, so that a model with a
 * pattern Chute cannot run is refused. */
static void *scratch_alloc(void *ud, size_t n)
{
    fparser *p = ud;
    void *m = farena_alloc(&p->scratch, n);
    if (!m)
        perr(p, 0, NULL, "The regular expression needs more memory than a parse may take");
    return m;
}

static void check_regex(fparser *p, const fbuiltin *b, const fnode **args, size_t n)
{
    if (!b->regex_arg || b->regex_arg > n)
        return;
    const fnode *pat = args[b->regex_arg - 1];
    const fnode *fl = b->flags_arg && b->flags_arg <= n ? args[b->flags_arg - 1] : NULL;
    if (!pat || pat->kind != N_STR || (fl && fl->kind != N_STR))
        return;
    char why[160];
    fregex *re = fre_compile(pat->u.lit.u.str.s, pat->u.lit.u.str.len, fl ? fl->u.lit.u.str.s : "",
                             fl ? fl->u.lit.u.str.len : 0, scratch_alloc, p, why, sizeof why);
    farena_free(&p->scratch);
    if (!re)
        perr(p, pat->col, NULL,
             "Expected a regular expression Chute supports at column %d for '%s', but %s", pat->col,
             b->name, why);
}

static const fnode *parse_call(fparser *p, const fbuiltin *first, size_t nwords, int col)
{
    const char *name = first->name;
    p->pos += nwords;
    int lp_col = tok(p)->col;
    expect(p, T_LP, "'('");
    enter(p, lp_col);
    const fnode *args[FB_MAX_PARAMS + 32];
    const char *anames[FB_MAX_PARAMS + 32];
    size_t alens[FB_MAX_PARAMS + 32];
    int acols[FB_MAX_PARAMS + 32];
    nvec many = {0};
    size_t n = 0;
    int named = -1;
    /* Which argument positions may be a function definition. */
    int lambda_pos = 0;
    for (const fbuiltin *b = first; b->name && strcmp(b->name, name) == 0; b++)
        lambda_pos = b->lambda_arg ? b->lambda_arg : lambda_pos;
    if (tok(p)->kind != T_RP) {
        for (;;) {
            /* A named argument: words, then ':'. */
            size_t k = 0;
            while (tok_at(p, k)->kind == T_NAME)
                k++;
            int is_named = k > 0 && tok_at(p, k)->kind == T_COLON;
            if (named >= 0 && named != is_named)
                perr(p, tok(p)->col, NULL,
                     "Expected only positional or only named arguments for '%s' at column %d", name,
                     tok(p)->col);
            named = is_named;
            int acol = tok(p)->col;
            if (is_named) {
                char buf[MAX_NAME];
                size_t bl = 0;
                for (size_t j = 0; j < k; j++) {
                    const ftok *t = tok_at(p, j);
                    if (bl + t->len + 1 >= sizeof buf)
                        perr(p, acol, NULL, "The parameter name at column %d is too long", acol);
                    if (j)
                        buf[bl++] = ' ';
                    memcpy(buf + bl, p->src + t->off, t->len);
                    bl += t->len;
                }
                if (n >= FB_MAX_PARAMS)
                    perr(p, acol, NULL, "Expected at most %d arguments for '%s' at column %d",
                         FB_MAX_PARAMS, name, acol);
                anames[n] = pcopy(p, buf, bl);
                alens[n] = bl;
                p->pos += k + 1;
            }
            const fnode *a;
            if (is_word(p, tok(p), "function") && lambda_pos == (int)n + 1)
                a = parse_lambda(p);
            else
                a = parse_expr(p);
            if (n < sizeof args / sizeof args[0]) {
                args[n] = a;
                acols[n] = acol;
            }
            nv_push(p, &many, a);
            n++;
            if (tok(p)->kind != T_COMMA)
                break;
            p->pos++;
        }
    }
    expect(p, T_RP, "',' or ')'");
    p->depth--;

    const fbuiltin *chosen = NULL;
    const fnode **final = many.v;
    size_t nfinal = n;
    if (named == 1) {
        /* The first overload that has every given name and gets all of its
         * required parameters. */
        const char *bad = NULL;
        int badcol = 0;
        for (const fbuiltin *b = first; b->name && strcmp(b->name, name) == 0; b++) {
            const fnode *slot[FB_MAX_PARAMS] = {0};
            int ok = 1;
            size_t hi = 0;
            for (size_t i = 0; i < n && ok; i++) {
                int idx = param_index(b, anames[i], alens[i]);
                if (idx < 0 || slot[idx]) {
                    ok = 0;
                    if (!bad) {
                        bad = anames[i];
                        badcol = acols[i];
                    }
                    break;
                }
                slot[idx] = args[i];
                if ((size_t)idx + 1 > hi)
                    hi = (size_t)idx + 1;
            }
            for (int r = 0; ok && r < b->min; r++)
                ok = slot[r] != NULL;
            if (ok && b->max != FB_VARARGS && hi > b->max)
                ok = 0;
            if (ok) {
                chosen = b;
                const fnode **v = palloc(p, (hi ? hi : 1) * sizeof *v);
                for (size_t i = 0; i < hi; i++) {
                    if (slot[i]) {
                        v[i] = slot[i];
                    } else {
                        fnode *nul = mk(p, N_NULL, col, 0);
                        v[i] = nul;
                    }
                }
                final = v;
                nfinal = hi;
                break;
            }
        }
        if (!chosen) {
            const fbuiltin *b = first;
            if (bad && param_index(b, bad, strlen(bad)) < 0)
                perr(p, badcol, NULL,
                     "Expected a parameter of '%s' (%s) at column %d, but found '%s'", name,
                     b->params, badcol, bad);
            perr(p, col, NULL,
                 "Expected the named arguments of '%s' to give its parameters (%s) once each at "
                 "column %d",
                 name, b->params, col);
        }
    } else {
        for (const fbuiltin *b = first; b->name && strcmp(b->name, name) == 0; b++) {
            if (n >= b->min && (b->max == FB_VARARGS || n <= b->max)) {
                chosen = b;
                break;
            }
        }
        if (!chosen) {
            char want[96];
            int one;
            arity_text(name, want, sizeof want, &one);
            perr(p, col, NULL, "Expected %s for the function '%s' at column %d, but found %zu",
                 want, name, col, n);
        }
    }
    for (size_t i = 0; i < nfinal; i++) {
        if (final[i] && final[i]->kind == N_LAMBDA && (int)i + 1 != chosen->lambda_arg)
            perr(p, final[i]->col, "function definition",
                 "The construct 'function definition' at column %d is not supported",
                 final[i]->col);
    }
    if (chosen->lambda_arg && chosen->lambda_arg <= nfinal &&
        final[chosen->lambda_arg - 1]->kind != N_LAMBDA)
        perr(p, final[chosen->lambda_arg - 1]->col, NULL,
             "Expected a function definition such as 'function(x, y) x < y' at column %d",
             final[chosen->lambda_arg - 1]->col);
    check_regex(p, chosen, final, nfinal);
    fnode *c = mk(p, N_CALL, col, 0);
    c->kids = final;
    c->n = (uint32_t)nfinal;
    c->u.fn = chosen;
    return done(p, c);
}

/* "(" ... after it: a parenthesized expression or an interval with an
 * open start "(a..b)", "(a..b]". */
static const fnode *parse_paren(fparser *p)
{
    int col = tok(p)->col;
    p->pos++;
    const fnode *e = parse_expr(p);
    if (tok(p)->kind == T_DOTDOT) {
        fnode *n = mk(p, N_INTERVAL, col, 2);
        n->kids[0] = e;
        return parse_interval_end(p, n);
    }
    expect(p, T_RP, "')'");
    return e;
}

static const fnode *parse_interval_end(fparser *p, fnode *n)
{
    p->pos++; /* .. */
    int saved = p->stop_lb;
    p->stop_lb = 1;
    n->kids[1] = parse_expr(p);
    p->stop_lb = saved;
    int k = tok(p)->kind;
    if (k == T_RB)
        n->flags |= NF_HI_CLOSED;
    else if (k != T_RP && k != T_LB)
        expected(p, "']' or ')' to end the interval");
    p->pos++;
    return done(p, n);
}

static const fnode *parse_list(fparser *p)
{
    int col = tok(p)->col;
    p->pos++; /* [ */
    nvec items = {0};
    if (tok(p)->kind == T_RB) {
        p->pos++;
        return from_vec(p, N_LIST, col, &items);
    }
    const fnode *first = parse_expr(p);
    if (tok(p)->kind == T_DOTDOT) {
        fnode *n = mk(p, N_INTERVAL, col, 2);
        n->kids[0] = first;
        n->flags = NF_LO_CLOSED;
        return parse_interval_end(p, n);
    }
    nv_push(p, &items, first);
    while (tok(p)->kind == T_COMMA) {
        p->pos++;
        nv_push(p, &items, parse_expr(p));
    }
    expect(p, T_RB, "',' or ']'");
    return done(p, from_vec(p, N_LIST, col, &items));
}

/* Where each entry of a context literal goes: a repeated key takes the
 * slot of its first occurrence (the later value wins), so the evaluator
 * needs no search. A hash set keeps this linear for big literals. */
static uint32_t *context_slots(fparser *p, const char **keys, const size_t *lens, size_t n)
{
    uint32_t *slot = palloc(p, (n ? n : 1) * sizeof *slot);
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *table = palloc(p, cap * sizeof *table); /* entry index + 1, 0 empty */
    memset(table, 0, cap * sizeof *table);
    uint32_t next = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = 1469598103934665603ull;
        for (size_t k = 0; k < lens[i]; k++)
            h = (h ^ (unsigned char)keys[i][k]) * 1099511628211ull;
        size_t at = (size_t)h & (cap - 1);
        for (;;) {
            uint32_t t = table[at];
            if (t == 0) {
                table[at] = (uint32_t)i + 1;
                slot[i] = next++;
                break;
            }
            if (lens[t - 1] == lens[i] && memcmp(keys[t - 1], keys[i], lens[i]) == 0) {
                slot[i] = slot[t - 1];
                break;
            }
            at = (at + 1) & (cap - 1);
        }
    }
    return slot;
}

static const fnode *parse_context(fparser *p)
{
    int col = tok(p)->col;
    p->pos++; /* { */
    nvec vals = {0};
    const char **keys = NULL;
    size_t *klens = NULL, kcap = 0;
    if (tok(p)->kind != T_RC) {
        for (;;) {
            const char *key;
            size_t klen;
            const ftok *t = tok(p);
            if (t->kind == T_STR) {
                unescape(p, t, &key, &klen);
                p->pos++;
            } else if (t->kind == T_NAME) {
                char buf[MAX_NAME];
                size_t bl = 0;
                while (tok(p)->kind == T_NAME) {
                    const ftok *w = tok(p);
                    if (bl + w->len + 1 >= sizeof buf)
                        perr(p, t->col, NULL, "The context key at column %d is too long", t->col);
                    if (bl)
                        buf[bl++] = ' ';
                    memcpy(buf + bl, p->src + w->off, w->len);
                    bl += w->len;
                    p->pos++;
                }
                key = pcopy(p, buf, bl);
                klen = bl;
            } else {
                expected(p, "a context key (a name or a string)");
            }
            expect(p, T_COLON, "':'");
            if (vals.n == kcap) {
                size_t nc = kcap ? kcap * 2 : 4;
                const char **nk = palloc(p, nc * sizeof *nk);
                size_t *nl = palloc(p, nc * sizeof *nl);
                if (vals.n) {
                    memcpy(nk, keys, vals.n * sizeof *nk);
                    memcpy(nl, klens, vals.n * sizeof *nl);
                }
                keys = nk;
                klens = nl;
                kcap = nc;
            }
            keys[vals.n] = key;
            klens[vals.n] = klen;
            nv_push(p, &vals, parse_expr(p));
            if (tok(p)->kind != T_COMMA)
                break;
            p->pos++;
        }
    }
    expect(p, T_RC, "',' or '}'");
    fnode *n = from_vec(p, N_CTX, col, &vals);
    n->names = keys;
    n->lens = klens;
    n->slots = context_slots(p, keys, klens, vals.n);
    return done(p, n);
}

static const fnode *parse_primary_inner(fparser *p);

/* Inside brackets a '[' is a filter again. */
static const fnode *parse_primary(fparser *p)
{
    int saved = p->stop_lb;
    int k = tok(p)->kind;
    if (k == T_LP || k == T_LB || k == T_LC || k == T_RB || k == T_NAME)
        p->stop_lb = 0;
    const fnode *n = parse_primary_inner(p);
    p->stop_lb = saved;
    return n;
}

static int starts_expression(int kind)
{
    return kind == T_NUM || kind == T_STR || kind == T_NAME || kind == T_LP || kind == T_LB ||
           kind == T_RB || kind == T_LC || kind == T_MINUS || kind == T_AT;
}

static const fnode *parse_primary_inner(fparser *p)
{
    const ftok *t = tok(p);
    switch (t->kind) {
    case T_NUM:
        return parse_number(p);
    case T_STR:
        return parse_string(p);
    case T_AT:
        return parse_temporal(p);
    case T_LP:
        return parse_paren(p);
    case T_LB:
        return parse_list(p);
    case T_RB: {
        /* "]a..b]": an interval with an open start. */
        if (!starts_expression(tok_at(p, 1)->kind))
            expected(p, "an expression");
        fnode *n = mk(p, N_INTERVAL, t->col, 2);
        p->pos++;
        n->kids[0] = parse_expr(p);
        if (tok(p)->kind != T_DOTDOT)
            expected(p, "'..'");
        return parse_interval_end(p, n);
    }
    case T_LC:
        return parse_context(p);
    case T_NAME:
        break;
    default:
        expected(p, "an expression");
    }
    if (!t->quoted) {
        if (is_word(p, t, "true") || is_word(p, t, "false")) {
            fnode *n = mk(p, N_BOOL, t->col, 0);
            n->u.lit.kind = FV_BOOL;
            n->u.lit.u.b = is_word(p, t, "true");
            p->pos++;
            return n;
        }
        if (is_word(p, t, "null")) {
            p->pos++;
            return mk(p, N_NULL, t->col, 0);
        }
        if (is_word(p, t, "if"))
            return parse_if(p);
        if (is_word(p, t, "for"))
            return parse_iteration(p, N_FOR, t->col);
        if (is_word(p, t, "some"))
            return parse_iteration(p, N_SOME, t->col);
        if (is_word(p, t, "every"))
            return parse_iteration(p, N_EVERY, t->col);
        if (is_word(p, t, "function"))
            perr(p, t->col, "function definition",
                 "The construct 'function definition' at column %d is not supported", t->col);
        size_t nw;
        const fbuiltin *b = match_builtin(p, &nw);
        if (b)
            return parse_call(p, b, nw, t->col);
        if (is_keyword(p, t))
            expected(p, "an expression");
        /* Words followed by "(": a function Chute does not know. */
        size_t k = 0;
        while (tok_at(p, k)->kind == T_NAME && !is_keyword(p, tok_at(p, k)))
            k++;
        if (tok_at(p, k)->kind == T_LP) {
            const ftok *last = tok_at(p, k - 1);
            size_t len = last->off + last->len - t->off;
            perr(p, t->col, NULL,
                 "Expected a built-in function at column %d, but found the unknown function "
                 "'%.*s'",
                 t->col, (int)(len > 100 ? 100 : len), p->src + t->off);
        }
    }
    fnode *n = mk(p, N_NAME, t->col, 0);
    n->name = pcopy(p, p->src + t->off, t->len);
    n->nlen = t->len;
    p->pos++;
    return n;
}

static const fnode *parse_postfix(fparser *p)
{
    const fnode *e = parse_primary(p);
    for (;;) {
        const ftok *t = tok(p);
        if (t->kind == T_DOT) {
            p->pos++;
            const ftok *nt = tok(p);
            if (nt->kind != T_NAME)
                expected(p, "a name after '.'");
            /* A name of several words ("time offset"): the words that
             * follow, up to a keyword. */
            size_t k = 1;
            while (!nt->quoted && tok_at(p, k)->kind == T_NAME && !tok_at(p, k)->quoted &&
                   !is_keyword(p, tok_at(p, k)))
                k++;
            char buf[MAX_NAME];
            size_t bl = 0;
            for (size_t j = 0; j < k; j++) {
                const ftok *w = tok_at(p, j);
                if (bl + w->len + 1 >= sizeof buf)
                    perr(p, nt->col, NULL, "The name at column %d is too long", nt->col);
                if (j)
                    buf[bl++] = ' ';
                memcpy(buf + bl, p->src + w->off, w->len);
                bl += w->len;
            }
            fnode *n = mk(p, N_PATH, t->col, 1);
            n->kids[0] = e;
            n->name = pcopy(p, buf, bl);
            n->nlen = bl;
            p->pos += k;
            e = done(p, n);
        } else if (t->kind == T_LB && !p->stop_lb) {
            p->pos++;
            enter(p, t->col);
            fnode *n = mk(p, N_FILTER, t->col, 2);
            n->kids[0] = e;
            n->kids[1] = parse_expr(p);
            expect(p, T_RB, "']'");
            p->depth--;
            e = done(p, n);
        } else if (t->kind == T_LP) {
            perr(p, t->col, "function invocation",
                 "The construct 'function invocation' at column %d is not supported: only "
                 "built-in functions can be called, by name",
                 t->col);
        } else {
            return e;
        }
    }
}

static const fnode *parse_unary(fparser *p)
{
    const ftok *t = tok(p);
    if (t->kind != T_MINUS)
        return parse_postfix(p);
    p->pos++;
    enter(p, t->col);
    const fnode *x = parse_unary(p);
    p->depth--;
    if (x->kind == N_NUM) {
        /* Fold "-5" into the literal. */
        fnode *c = mk(p, N_NUM, t->col, 0);
        c->u.lit = x->u.lit;
        if (c->u.lit.u.num.coef)
            c->u.lit.u.num.neg ^= 1;
        return c;
    }
    fnode *n = mk(p, N_NEG, t->col, 1);
    n->kids[0] = x;
    return done(p, n);
}

/* One level of a left-associative chain of arithmetic operators. */
typedef const fnode *(*subparse)(fparser *p);

static const fnode *parse_chain(fparser *p, subparse sub, int k1, int op1, int k2, int op2)
{
    int col = tok(p)->col;
    const fnode *first = sub(p);
    int k = tok(p)->kind;
    if (k != k1 && k != k2)
        return first;
    nvec kids = {0};
    size_t ocap = 0, on = 0;
    uint8_t *ops = NULL;
    nv_push(p, &kids, first);
    while ((k = tok(p)->kind) == k1 || k == k2) {
        p->pos++;
        if (on == ocap) {
            size_t nc = ocap ? ocap * 2 : 4;
            uint8_t *no = palloc(p, nc);
            if (on)
                memcpy(no, ops, on);
            ops = no;
            ocap = nc;
        }
        ops[on++] = (uint8_t)(k == k1 ? op1 : op2);
        nv_push(p, &kids, sub(p));
    }
    fnode *n = from_vec(p, N_ARITH, col, &kids);
    n->ops = ops;
    return done(p, n);
}

static const fnode *parse_power(fparser *p)
{
    return parse_chain(p, parse_unary, T_POW, OP_POW, T_POW, OP_POW);
}

static const fnode *parse_multiplicative(fparser *p)
{
    return parse_chain(p, parse_power, T_STAR, OP_MUL, T_SLASH, OP_DIV);
}

static const fnode *parse_additive(fparser *p)
{
    return parse_chain(p, parse_multiplicative, T_PLUS, OP_ADD, T_MINUS, OP_SUB);
}

static int cmp_op(int kind)
{
    switch (kind) {
    case T_EQ:
        return OP_EQ;
    case T_NE:
        return OP_NE;
    case T_LT:
        return OP_LT;
    case T_LE:
        return OP_LE;
    case T_GT:
        return OP_GT;
    case T_GE:
        return OP_GE;
    }
    return -1;
}

/* A positive unary test after "in". */
static const fnode *parse_test(fparser *p)
{
    const ftok *t = tok(p);
    int op = cmp_op(t->kind);
    if (op < 0)
        return parse_additive(p);
    p->pos++;
    fnode *n = mk(p, N_UT_CMP, t->col, 1);
    n->op = (uint8_t)op;
    n->kids[0] = parse_additive(p);
    return done(p, n);
}

static const fnode *parse_in(fparser *p, const fnode *left, int col)
{
    p->pos++; /* in */
    nvec kids = {0};
    nv_push(p, &kids, left);
    if (tok(p)->kind == T_LP) {
        /* "(t1, t2, ...)", or an interval "(a..b)", or "(e)". */
        const ftok *lp = tok(p);
        p->pos++;
        enter(p, lp->col);
        const fnode *first = parse_test(p);
        if (first->kind != N_UT_CMP && tok(p)->kind == T_DOTDOT) {
            fnode *n = mk(p, N_INTERVAL, lp->col, 2);
            n->kids[0] = first;
            nv_push(p, &kids, parse_interval_end(p, n));
        } else {
            nv_push(p, &kids, first);
            while (tok(p)->kind == T_COMMA) {
                p->pos++;
                nv_push(p, &kids, parse_test(p));
            }
            expect(p, T_RP, "',' or ')'");
        }
        p->depth--;
    } else {
        nv_push(p, &kids, parse_test(p));
    }
    return done(p, from_vec(p, N_IN, col, &kids));
}

static const fnode *parse_comparison(fparser *p)
{
    int col = tok(p)->col;
    const fnode *left = parse_additive(p);
    const ftok *t = tok(p);
    int op = cmp_op(t->kind);
    if (op >= 0) {
        p->pos++;
        fnode *n = mk(p, N_CMP, t->col, 2);
        n->op = (uint8_t)op;
        n->kids[0] = left;
        n->kids[1] = parse_additive(p);
        return done(p, n);
    }
    if (is_word(p, t, "between")) {
        p->pos++;
        fnode *n = mk(p, N_BETWEEN, t->col, 3);
        n->kids[0] = left;
        n->kids[1] = parse_additive(p);
        expect_word(p, "and", "'and'");
        n->kids[2] = parse_additive(p);
        return done(p, n);
    }
    if (is_word(p, t, "in"))
        return parse_in(p, left, t->col);
    if (is_word(p, t, "instance") && is_word(p, tok_at(p, 1), "of"))
        perr(p, t->col, "instance of", "The construct 'instance of' at column %d is not supported",
             t->col);
    (void)col;
    return left;
}

static const fnode *parse_logic(fparser *p, int kind, const char *word)
{
    int col = tok(p)->col;
    const fnode *first = kind == N_OR ? parse_logic(p, N_AND, "and") : parse_comparison(p);
    if (!is_word(p, tok(p), word))
        return first;
    nvec kids = {0};
    nv_push(p, &kids, first);
    while (is_word(p, tok(p), word)) {
        p->pos++;
        nv_push(p, &kids, kind == N_OR ? parse_logic(p, N_AND, "and") : parse_comparison(p));
    }
    return done(p, from_vec(p, kind, col, &kids));
}

static const fnode *parse_expr(fparser *p)
{
    enter(p, tok(p)->col);
    const fnode *e = parse_logic(p, N_OR, "or");
    p->depth--;
    return e;
}

/* ---- unary tests ------------------------------------------------------ */

/* Whether the tokens [from, to) name the input value '?'. */
static int names_input(const fparser *p, size_t from, size_t to)
{
    for (size_t i = from; i < to && i < p->ntok; i++) {
        const ftok *t = &p->toks[i];
        if (t->kind == T_NAME && !t->quoted && t->len == 1 && p->src[t->off] == '?')
            return 1;
    }
    return 0;
}

/* A positive unary test: a comparison with the input ("< 10", ">= x"), or
 * an expression (a value, a list, an interval, a condition on '?'). */
static const fnode *parse_positive_test(fparser *p)
{
    const ftok *t = tok(p);
    if (cmp_op(t->kind) >= 0)
        return parse_test(p);
    size_t from = p->pos;
    fnode *n = mk(p, N_UT_EXPR, t->col, 1);
    n->kids[0] = parse_expr(p);
    if (names_input(p, from, p->pos))
        n->flags |= NF_USES_INPUT;
    return done(p, n);
}

/* positive tests = test { "," test }, into a node of |kind|. */
static const fnode *parse_positive_tests(fparser *p, int kind, int col)
{
    nvec kids = {0};
    nv_push(p, &kids, parse_positive_test(p));
    while (tok(p)->kind == T_COMMA) {
        p->pos++;
        nv_push(p, &kids, parse_positive_test(p));
    }
    return done(p, from_vec(p, kind, col, &kids));
}

/*
 * unary tests = "-"
 *             | "not" "(" positive tests ")"
 *             | positive tests
 * as DMN 1.3 section 10.3.1 gives them (rules 14 to 17). A "not(" at the
 * start is always the negation, as the grammar reads it.
 */
static const fnode *parse_unary_tests(fparser *p)
{
    const ftok *t = tok(p);
    if (t->kind == T_MINUS && tok_at(p, 1)->kind == T_EOF) {
        p->pos++;
        return mk(p, N_UT_ANY, t->col, 0);
    }
    if (is_word(p, t, "not") && tok_at(p, 1)->kind == T_LP) {
        int lp_col = tok_at(p, 1)->col;
        p->pos += 2;
        enter(p, lp_col);
        if (tok(p)->kind == T_RP)
            expected(p, "a unary test");
        const fnode *n = parse_positive_tests(p, N_UT_NOT, t->col);
        expect(p, T_RP, "',' or ')'");
        p->depth--;
        return n;
    }
    return parse_positive_tests(p, N_UT_LIST, t->col);
}

/* ---- entry point ------------------------------------------------------- */

static int parse_any(const char *src, size_t len, int unary, feel_expr **out, feel_error *err)
{
    feel_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    if (len > FEEL_MAX_SOURCE) {
        snprintf(err->message, sizeof err->message,
                 "The expression is %zu bytes long, more than the %d bytes an expression may have",
                 len, FEEL_MAX_SOURCE);
        return -1;
    }
    if (!src)
        src = "";
    size_t bad;
    if (!fu8_valid(src, len, &bad)) {
        err->column = (int)fu8_count(src, bad) + 1;
        snprintf(err->message, sizeof err->message,
                 "Expected UTF-8 text at column %d, but found the byte 0x%02x", err->column,
                 (unsigned char)src[bad]);
        return -1;
    }
    feel_expr *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err->message, sizeof err->message,
                 "The expression could not be parsed: out of memory");
        return -1;
    }
    /* Nodes take a bounded multiple of the source: a few hundred bytes
     * per token at most. */
    farena_init(&e->arena, 512 * (size_t)FEEL_MAX_SOURCE);
    fparser *p = calloc(1, sizeof *p);
    if (!p) {
        free(e);
        snprintf(err->message, sizeof err->message,
                 "The expression could not be parsed: out of memory");
        return -1;
    }
    p->err = err;
    p->arena = &e->arena;
    /* The source is copied before setjmp: nothing the parser reads after a
     * longjmp may be a local changed since (the caller's |src| was). */
    e->src = farena_alloc(&e->arena, len + 1);
    if (!e->src) {
        free(p);
        farena_free(&e->arena);
        free(e);
        snprintf(err->message, sizeof err->message, "The expression could not be parsed: out of memory");
        return -1;
    }
    memcpy(e->src, src, len);
    e->src[len] = 0;
    e->len = len;
    farena_init(&p->scratch, 16u << 20);
    if (setjmp(p->jb)) {
        free(p->toks);
        farena_free(&p->scratch);
        free(p);
        farena_free(&e->arena);
        free(e);
        return -1;
    }
    p->src = e->src;
    p->len = len;
    lex(p);
    if (tok(p)->kind == T_EOF)
        expected(p, unary ? "unary tests" : "an expression");
    e->root = unary ? parse_unary_tests(p) : parse_expr(p);
    e->unary = unary;
    if (tok(p)->kind != T_EOF)
        expected(p, !unary                      ? "an operator or the end of the expression"
                    : e->root->kind == N_UT_NOT ? "the end of the unary tests after 'not(...)'"
                                                : "',', an operator or the end of the unary tests");
    free(p->toks);
    farena_free(&p->scratch);
    free(p);
    *out = e;
    return 0;
}

int feel_parse(const char *src, size_t len, feel_expr **out, feel_error *err)
{
    return parse_any(src, len, 0, out, err);
}

int feel_parse_unary_tests(const char *src, size_t len, feel_expr **out, feel_error *err)
{
    return parse_any(src, len, 1, out, err);
}

void feel_expr_free(feel_expr *e)
{
    if (!e)
        return;
    farena_free(&e->arena);
    free(e);
}
