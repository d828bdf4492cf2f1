/*
 * Regular expressions for matches(), replace(), split() and extract().
 *
 * FEEL specifies XML Schema regular expressions with XPath's flags; Zeebe
 * runs them with java.util.regex. This is a small engine of its own for the
 * common ground of the two: literals, ".", character classes with ranges
 * and negation, \d \D \w \W \s \S (ASCII, as Java has them), escapes
 * (\t \n \r \f \\ \. ... and \uXXXX), groups, non-capturing groups "(?:",
 * alternation, the quantifiers * + ? {n} {n,} {n,m} and their lazy forms,
 * the anchors ^ $ and the word boundaries \b \B (Java's, not XML Schema's),
 * and the flags i (case folding as upper case() and lower case() do it),
 * s (dot matches newlines), m (^ and $ at line ends), x (spaces and #
 * comments in the pattern are ignored).
 *
 * Not supported, and refused with a reason: backreferences, lookaround,
 * named groups, inline flags, possessive quantifiers, \p{...} categories,
 * XML Schema's \i \c and class subtraction, Java's class intersection.
 *
 * Matching is a Pike VM (Thompson's construction with capture slots):
 * time O(pattern x input), memory fixed by the pattern, leftmost-first
 * (Perl/Java) semantics for alternation and quantifiers. So no pattern,
 * however hostile, backtracks exponentially; the caller bounds the work
 * with its step budget.
 */
#include "feel/feel_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RE_MAX_PROG 8000   /* instructions after counted repetitions are expanded */
#define RE_MAX_GROUPS 20   /* capturing groups */
#define RE_MAX_REPEAT 1000 /* the largest bound of {n,m} */
#define RE_MAX_NEST 50     /* nesting of groups */
#define RE_MAX_RANGES 4096 /* ranges of all character classes together */

enum {
    I_CHAR,
    I_ANY, /* any character but a line terminator (any at all with the flag s) */
    I_CLASS,
    I_SPLIT, /* try x, then y */
    I_JMP,
    I_SAVE,
    I_MATCH,
    I_BOL,
    I_EOL,
    I_WB,
    I_NWB,
};

typedef struct rinst {
    uint8_t op;
    uint32_t x, y; /* I_CHAR: x is the code point; I_CLASS: x is the class; jumps */
} rinst;

typedef struct rclass {
    uint32_t *r; /* lo, hi pairs */
    uint32_t n;
    uint8_t neg;
} rclass;

/* The syntax tree. */
enum { R_EMPTY, R_CHAR, R_ANY, R_CLASS, R_BOL, R_EOL, R_WB, R_NWB, R_CAT, R_ALT, R_REP, R_GROUP };

typedef struct rnode rnode;
struct rnode {
    uint8_t t;
    uint8_t greedy;
    int min, max; /* R_REP; max -1: unbounded */
    uint32_t c;   /* R_CHAR; R_CLASS index; R_GROUP number (0: non-capturing) */
    rnode *a;     /* R_REP, R_GROUP */
    rnode **kids; /* R_CAT, R_ALT: flat, so that long patterns do not nest */
    uint32_t nk;
};

typedef struct rthread {
    uint32_t pc;
    int64_t *caps;
} rthread;

typedef struct rlist {
    rthread *t;
    uint32_t n;
} rlist;

struct fregex {
    rinst *prog;
    uint32_t len;
    rclass *classes;
    uint32_t nclasses;
    int groups;
    int icase, dotall, multiline;
    /* Matching state, allocated once with the program. */
    rlist lists[2];
    int64_t *capstore[2];
    uint32_t *mark;
    uint32_t gen;
    struct stk {
        uint32_t pc;
        int32_t slot; /* >= 0: restore caps[slot] to |val| */
        int64_t val;
    } * stack;
    int64_t *cur;
};

typedef struct rparse {
    const char *p;
    size_t len, i;
    falloc_fn alloc;
    void *ud;
    char *why;
    size_t whylen;
    int failed;
    int icase, extended;
    int groups;
    int nest;
    rclass *classes;
    uint32_t nclasses, capclasses;
    uint32_t ranges; /* all classes */
} rparse;

static void *ralloc(rparse *rp, size_t n)
{
    return rp->alloc(rp->ud, n);
}

static void fail(rparse *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(rparse *rp, const char *fmt, ...)
{
    if (!rp->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rp->why, rp->whylen, fmt, ap);
        va_end(ap);
        rp->failed = 1;
    }
}

static rnode *node(rparse *rp, int t)
{
    rnode *n = ralloc(rp, sizeof *n);
    memset(n, 0, sizeof *n);
    n->t = (uint8_t)t;
    n->greedy = 1;
    return n;
}

/* The pattern is valid UTF-8 (FEEL strings always are). */
static int peekc(rparse *rp, uint32_t *c, size_t *next)
{
    size_t i = rp->i;
    if (i >= rp->len)
        return 0;
    int v = fu8_decode(rp->p, rp->len, &i);
    if (v < 0)
        return 0;
    *c = (uint32_t)v;
    *next = i;
    return 1;
}

static void skip_extended(rparse *rp)
{
    if (!rp->extended)
        return;
    while (rp->i < rp->len) {
        char c = rp->p[rp->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            rp->i++;
        } else if (c == '#') {
            while (rp->i < rp->len && rp->p[rp->i] != '\n')
                rp->i++;
        } else {
            break;
        }
    }
}

/* ---- character classes ------------------------------------------------- */

typedef struct rset {
    uint32_t r[2 * 512];
    uint32_t n;
} rset;

static void set_add(rparse *rp, rset *s, uint32_t lo, uint32_t hi)
{
    if (s->n >= 512) {
        fail(rp, "%s", "a character class has too many ranges");
        return;
    }
    s->r[2 * s->n] = lo;
    s->r[2 * s->n + 1] = hi;
    s->n++;
}

static const uint32_t digit_r[] = {'0', '9'};
static const uint32_t word_r[] = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};
static const uint32_t space_r[] = {'\t', '\r', ' ', ' '}; /* \t \n \v \f \r and space */

static void set_add_list(rparse *rp, rset *s, const uint32_t *r, size_t n, int neg)
{
    if (!neg) {
        for (size_t k = 0; k < n; k += 2)
            set_add(rp, s, r[k], r[k + 1]);
        return;
    }
    uint32_t lo = 0;
    for (size_t k = 0; k < n; k += 2) {
        if (r[k] > lo)
            set_add(rp, s, lo, r[k] - 1);
        lo = r[k + 1] + 1;
    }
    if (lo <= 0x10FFFF)
        set_add(rp, s, lo, 0x10FFFF);
}

/* \d \w \s and their negations: 1 when |c| names one. */
static int perl_class(rparse *rp, rset *s, uint32_t c)
{
    switch (c) {
    case 'd':
    case 'D':
        set_add_list(rp, s, digit_r, 2, c == 'D');
        return 1;
    case 'w':
    case 'W':
        set_add_list(rp, s, word_r, 8, c == 'W');
        return 1;
    case 's':
    case 'S':
        set_add_list(rp, s, space_r, 4, c == 'S');
        return 1;
    }
    return 0;
}

static uint32_t add_class(rparse *rp, rset *s, int neg)
{
    if (rp->nclasses == rp->capclasses) {
        uint32_t cap = rp->capclasses ? rp->capclasses * 2 : 8;
        rclass *nc = ralloc(rp, cap * sizeof *nc);
        if (rp->nclasses)
            memcpy(nc, rp->classes, rp->nclasses * sizeof *nc);
        rp->classes = nc;
        rp->capclasses = cap;
    }
    rp->ranges += s->n;
    if (rp->ranges > RE_MAX_RANGES)
        fail(rp, "%s", "the character classes are too large");
    rclass *k = &rp->classes[rp->nclasses];
    k->n = s->n;
    k->neg = (uint8_t)neg;
    k->r = ralloc(rp, (s->n ? s->n : 1) * 2 * sizeof(uint32_t));
    memcpy(k->r, s->r, s->n * 2 * sizeof(uint32_t));
    return rp->nclasses++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A single-character escape after the backslash (at rp->i): returns 1 with
 * the character, or 0 with the failure noted. */
static int escape_char(rparse *rp, uint32_t c, uint32_t *out)
{
    switch (c) {
    case 't':
        *out = '\t';
        return 1;
    case 'n':
        *out = '\n';
        return 1;
    case 'r':
        *out = '\r';
        return 1;
    case 'f':
        *out = '\f';
        return 1;
    case 'e':
        *out = 0x1B;
        return 1;
    case 'a':
        *out = 0x07;
        return 1;
    case 'u': {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int h = rp->i < rp->len ? hexval(rp->p[rp->i]) : -1;
            if (h < 0) {
                fail(rp, "%s", "\\u needs four hexadecimal digits");
                return 0;
            }
            v = v * 16 + (uint32_t)h;
            rp->i++;
        }
        *out = v;
        return 1;
    }
    case 'x': {
        uint32_t v = 0;
        for (int k = 0; k < 2; k++) {
            int h = rp->i < rp->len ? hexval(rp->p[rp->i]) : -1;
            if (h < 0) {
                fail(rp, "%s", "\\x needs two hexadecimal digits");
                return 0;
            }
            v = v * 16 + (uint32_t)h;
            rp->i++;
        }
        *out = v;
        return 1;
    }
    }
    if (c >= '1' && c <= '9') {
        fail(rp, "%s", "backreferences are not supported");
        return 0;
    }
    if (c == 'p' || c == 'P') {
        fail(rp, "%s", "character categories (\\p{...}) are not supported");
        return 0;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        char e[3] = {'\\', (char)c, 0};
        fail(rp, "the escape %s is not supported", e);
        return 0;
    }
    *out = c; /* an escaped symbol stands for itself */
    return 1;
}

static rnode *parse_class(rparse *rp)
{
    /* rp->i is past '['. */
    rset s;
    s.n = 0;
    int neg = 0;
    if (rp->i < rp->len && rp->p[rp->i] == '^') {
        neg = 1;
        rp->i++;
    }
    int first = 1;
    for (;;) {
        uint32_t c;
        size_t next;
        if (!peekc(rp, &c, &next)) {
            fail(rp, "%s", "a character class is not closed with ']'");
            return NULL;
        }
        if (c == ']' && !first) {
            rp->i = next;
            break;
        }
        first = 0;
        if (c == '[') {
            fail(rp, "%s", "nested character classes and class subtraction are not supported");
            return NULL;
        }
        if (c == '&' && next < rp->len && rp->p[next] == '&') {
            fail(rp, "%s", "character class intersection (&&) is not supported");
            return NULL;
        }
        rp->i = next;
        uint32_t lo = c;
        if (c == '\\') {
            if (!peekc(rp, &c, &next)) {
                fail(rp, "%s", "the pattern ends with a backslash");
                return NULL;
            }
            rp->i = next;
            if (perl_class(rp, &s, c))
                continue;
            if (c == 'b') {
                lo = '\b';
            } else if (!escape_char(rp, c, &lo)) {
                return NULL;
            }
        }
        /* A range "a-z" (a '-' before ']' is a literal). */
        uint32_t hi = lo;
        if (rp->i + 1 < rp->len && rp->p[rp->i] == '-' && rp->p[rp->i + 1] != ']') {
            rp->i++;
            if (!peekc(rp, &c, &next)) {
                fail(rp, "%s", "a character class is not closed with ']'");
                return NULL;
            }
            rp->i = next;
            hi = c;
            if (c == '\\') {
                if (!peekc(rp, &c, &next)) {
                    fail(rp, "%s", "the pattern ends with a backslash");
                    return NULL;
                }
                rp->i = next;
                if (!escape_char(rp, c, &hi))
                    return NULL;
            } else if (c == '[') {
                fail(rp, "%s", "class subtraction is not supported");
                return NULL;
            }
            if (hi < lo) {
                fail(rp, "%s", "a character range is out of order");
                return NULL;
            }
        }
        set_add(rp, &s, lo, hi);
        if (rp->icase) {
            /* Add the other case of each end point's letters: exact for
             * single characters and for ASCII ranges, which is what
             * patterns use. */
            for (uint32_t k = lo; k <= hi && k - lo < 256; k++) {
                uint32_t u = fu_upper(k), l = fu_lower(k);
                if (u != k)
                    set_add(rp, &s, u, u);
                if (l != k)
                    set_add(rp, &s, l, l);
            }
        }
        if (rp->failed)
            return NULL;
    }
    rnode *n = node(rp, R_CLASS);
    n->c = add_class(rp, &s, neg);
    return n;
}

/* ---- the parser -------------------------------------------------------- */

static rnode *parse_alt(rparse *rp);

static rnode *parse_atom(rparse *rp)
{
    uint32_t c;
    size_t next;
    if (!peekc(rp, &c, &next))
        return NULL;
    switch (c) {
    case '(': {
        rp->i = next;
        int num = 0;
        if (rp->i < rp->len && rp->p[rp->i] == '?') {
            if (rp->i + 1 < rp->len && rp->p[rp->i + 1] == ':') {
                rp->i += 2;
            } else {
                char k = rp->i + 1 < rp->len ? rp->p[rp->i + 1] : 0;
                fail(rp, "%s",
                     k == '=' || k == '!' ? "lookahead is not supported"
                     : k == '<'           ? "lookbehind and named groups are not supported"
                                          : "inline flags and special groups are not supported");
                return NULL;
            }
        } else {
            num = ++rp->groups;
            if (num > RE_MAX_GROUPS) {
                fail(rp, "%s", "the pattern has more than 20 groups");
                return NULL;
            }
        }
        if (++rp->nest > RE_MAX_NEST) {
            fail(rp, "%s", "the groups are nested too deeply");
            return NULL;
        }
        rnode *inner = parse_alt(rp);
        rp->nest--;
        if (rp->failed)
            return NULL;
        if (rp->i >= rp->len || rp->p[rp->i] != ')') {
            fail(rp, "%s", "a group is not closed with ')'");
            return NULL;
        }
        rp->i++;
        rnode *g = node(rp, R_GROUP);
        g->c = (uint32_t)num;
        g->a = inner;
        return g;
    }
    case ')':
    case '|':
        return NULL;
    case '*':
    case '+':
    case '?':
        fail(rp, "%s", "a quantifier has nothing to repeat");
        return NULL;
    case '{':
        fail(rp, "%s", "a quantifier has nothing to repeat");
        return NULL;
    case '[':
        rp->i = next;
        return parse_class(rp);
    case '.':
        rp->i = next;
        return node(rp, R_ANY);
    case '^':
        rp->i = next;
        return node(rp, R_BOL);
    case '$':
        rp->i = next;
        return node(rp, R_EOL);
    case '\\': {
        rp->i = next;
        if (!peekc(rp, &c, &next)) {
            fail(rp, "%s", "the pattern ends with a backslash");
            return NULL;
        }
        rp->i = next;
        if (c == 'b')
            return node(rp, R_WB);
        if (c == 'B')
            return node(rp, R_NWB);
        rset s;
        s.n = 0;
        if (perl_class(rp, &s, c)) {
            rnode *n = node(rp, R_CLASS);
            n->c = add_class(rp, &s, 0);
            return n;
        }
        uint32_t v;
        if (!escape_char(rp, c, &v))
            return NULL;
        rnode *n = node(rp, R_CHAR);
        n->c = v;
        return n;
    }
    default: {
        rp->i = next;
        rnode *n = node(rp, R_CHAR);
        n->c = c;
        return n;
    }
    }
}

static int parse_int(rparse *rp, int *out)
{
    size_t start = rp->i;
    long v = 0;
    while (rp->i < rp->len && rp->p[rp->i] >= '0' && rp->p[rp->i] <= '9') {
        if (v <= RE_MAX_REPEAT)
            v = v * 10 + (rp->p[rp->i] - '0');
        rp->i++;
    }
    if (rp->i == start)
        return 0;
    *out = v > RE_MAX_REPEAT ? RE_MAX_REPEAT + 1 : (int)v;
    return 1;
}

static rnode *parse_repeat(rparse *rp)
{
    rnode *a = parse_atom(rp);
    if (!a || rp->failed)
        return a;
    for (;;) {
        skip_extended(rp);
        if (rp->i >= rp->len)
            return a;
        char c = rp->p[rp->i];
        int min, max;
        if (c == '*') {
            min = 0;
            max = -1;
            rp->i++;
        } else if (c == '+') {
            min = 1;
            max = -1;
            rp->i++;
        } else if (c == '?') {
            min = 0;
            max = 1;
            rp->i++;
        } else if (c == '{') {
            size_t save = rp->i;
            rp->i++;
            if (!parse_int(rp, &min)) {
                rp->i = save;
                fail(rp, "%s", "a '{' must start a quantifier like {2} or {1,3}");
                return NULL;
            }
            max = min;
            if (rp->i < rp->len && rp->p[rp->i] == ',') {
                rp->i++;
                if (!parse_int(rp, &max))
                    max = -1;
            }
            if (rp->i >= rp->len || rp->p[rp->i] != '}') {
                fail(rp, "%s", "a quantifier is not closed with '}'");
                return NULL;
            }
            rp->i++;
            if (min > RE_MAX_REPEAT || max > RE_MAX_REPEAT) {
                fail(rp, "%s", "a quantifier's bound is larger than 1000");
                return NULL;
            }
            if (max >= 0 && max < min) {
                fail(rp, "%s", "a quantifier's bounds are out of order");
                return NULL;
            }
        } else {
            return a;
        }
        rnode *r = node(rp, R_REP);
        r->min = min;
        r->max = max;
        r->a = a;
        if (rp->i < rp->len && rp->p[rp->i] == '?') {
            r->greedy = 0;
            rp->i++;
        } else if (rp->i < rp->len && rp->p[rp->i] == '+') {
            fail(rp, "%s", "possessive quantifiers are not supported");
            return NULL;
        }
        skip_extended(rp);
        if (rp->i < rp->len && rp->p[rp->i] && strchr("*+?{", rp->p[rp->i])) {
            fail(rp, "%s", "a quantifier follows another quantifier");
            return NULL;
        }
        return r;
    }
}

static void push_kid(rparse *rp, rnode *list, rnode *k, uint32_t *cap)
{
    if (list->nk == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 4;
        rnode **nk = ralloc(rp, nc * sizeof *nk);
        if (list->nk)
            memcpy(nk, list->kids, list->nk * sizeof *nk);
        list->kids = nk;
        *cap = nc;
    }
    list->kids[list->nk++] = k;
}

static rnode *parse_cat(rparse *rp)
{
    rnode *cat = node(rp, R_CAT);
    uint32_t cap = 0;
    for (;;) {
        skip_extended(rp);
        if (rp->i >= rp->len || rp->p[rp->i] == '|' || rp->p[rp->i] == ')')
            break;
        rnode *r = parse_repeat(rp);
        if (rp->failed)
            return NULL;
        if (!r)
            break;
        push_kid(rp, cat, r, &cap);
    }
    return cat;
}

static rnode *parse_alt(rparse *rp)
{
    rnode *a = parse_cat(rp);
    if (rp->failed || rp->i >= rp->len || rp->p[rp->i] != '|')
        return a;
    rnode *alt = node(rp, R_ALT);
    uint32_t cap = 0;
    push_kid(rp, alt, a, &cap);
    while (!rp->failed && rp->i < rp->len && rp->p[rp->i] == '|') {
        rp->i++;
        rnode *b = parse_cat(rp);
        if (rp->failed)
            return NULL;
        push_kid(rp, alt, b, &cap);
    }
    return alt;
}

/* ---- the compiler ------------------------------------------------------ */

typedef struct rcomp {
    rinst *prog;
    uint32_t len, cap;
    int failed;
    int icase;
    rparse *rp;
} rcomp;

static uint32_t emit(rcomp *c, int op, uint32_t x, uint32_t y)
{
    if (c->len >= RE_MAX_PROG) {
        c->failed = 1;
        return 0;
    }
    c->prog[c->len].op = (uint8_t)op;
    c->prog[c->len].x = x;
    c->prog[c->len].y = y;
    return c->len++;
}

static void comp(rcomp *c, const rnode *n)
{
    if (c->failed)
        return;
    switch (n->t) {
    case R_EMPTY:
        break;
    case R_CHAR:
        if (c->icase && (fu_upper(n->c) != n->c || fu_lower(n->c) != n->c)) {
            rset s;
            s.n = 0;
            set_add(c->rp, &s, n->c, n->c);
            uint32_t u = fu_upper(n->c), l = fu_lower(n->c);
            if (u != n->c)
                set_add(c->rp, &s, u, u);
            if (l != n->c)
                set_add(c->rp, &s, l, l);
            emit(c, I_CLASS, add_class(c->rp, &s, 0), 0);
        } else {
            emit(c, I_CHAR, n->c, 0);
        }
        break;
    case R_ANY:
        emit(c, I_ANY, 0, 0);
        break;
    case R_CLASS:
        emit(c, I_CLASS, n->c, 0);
        break;
    case R_BOL:
        emit(c, I_BOL, 0, 0);
        break;
    case R_EOL:
        emit(c, I_EOL, 0, 0);
        break;
    case R_WB:
        emit(c, I_WB, 0, 0);
        break;
    case R_NWB:
        emit(c, I_NWB, 0, 0);
        break;
    case R_CAT:
        for (uint32_t k = 0; k < n->nk && !c->failed; k++)
            comp(c, n->kids[k]);
        break;
    case R_ALT: {
        /* split L1, L2; L1: a; jmp end; L2: split ...; last; end: the
         * jumps are chained through |x| until the end is known. */
        uint32_t chain = UINT32_MAX;
        for (uint32_t k = 0; k + 1 < n->nk && !c->failed; k++) {
            uint32_t split = emit(c, I_SPLIT, 0, 0);
            comp(c, n->kids[k]);
            uint32_t jmp = emit(c, I_JMP, chain, 0);
            if (c->failed)
                return;
            chain = jmp;
            c->prog[split].x = split + 1;
            c->prog[split].y = c->len;
        }
        comp(c, n->kids[n->nk - 1]);
        if (c->failed)
            return;
        while (chain != UINT32_MAX) {
            uint32_t prev = c->prog[chain].x;
            c->prog[chain].x = c->len;
            chain = prev;
        }
        break;
    }
    case R_GROUP:
        if (n->c)
            emit(c, I_SAVE, 2 * n->c, 0);
        comp(c, n->a);
        if (n->c)
            emit(c, I_SAVE, 2 * n->c + 1, 0);
        break;
    case R_REP: {
        for (int k = 0; k < n->min && !c->failed; k++)
            comp(c, n->a);
        if (n->max < 0) {
            /* L: split body, out; body; jmp L */
            uint32_t split = emit(c, I_SPLIT, 0, 0);
            comp(c, n->a);
            emit(c, I_JMP, split, 0);
            if (c->failed)
                return;
            if (n->greedy) {
                c->prog[split].x = split + 1;
                c->prog[split].y = c->len;
            } else {
                c->prog[split].x = c->len;
                c->prog[split].y = split + 1;
            }
        } else {
            /* (body (body (...)?)?)? for the optional copies: each split
             * leaves for the end; the splits are chained through |y| until
             * the end is known. */
            uint32_t chain = UINT32_MAX;
            for (int k = n->min; k < n->max && !c->failed; k++) {
                uint32_t sp = emit(c, I_SPLIT, 0, chain);
                chain = sp;
                comp(c, n->a);
            }
            if (c->failed)
                return;
            while (chain != UINT32_MAX) {
                uint32_t prev = c->prog[chain].y;
                if (n->greedy) {
                    c->prog[chain].x = chain + 1;
                    c->prog[chain].y = c->len;
                } else {
                    c->prog[chain].x = c->len;
                    c->prog[chain].y = chain + 1;
                }
                chain = prev;
            }
        }
        break;
    }
    }
}

fregex *fre_compile(const char *pat, size_t len, const char *flags, size_t flen, falloc_fn alloc,
                    void *ud, char *why, size_t whylen)
{
    rparse rp;
    memset(&rp, 0, sizeof rp);
    rp.p = pat;
    rp.len = len;
    rp.alloc = alloc;
    rp.ud = ud;
    rp.why = why;
    rp.whylen = whylen;
    int dotall = 0, multiline = 0;
    for (size_t k = 0; k < flen; k++) {
        switch (flags[k]) {
        case 'i':
            rp.icase = 1;
            break;
        case 's':
            dotall = 1;
            break;
        case 'm':
            multiline = 1;
            break;
        case 'x':
            rp.extended = 1;
            break;
        default: {
            char f[2] = {flags[k], 0};
            snprintf(why, whylen, "the flag '%s' is not one of i, s, m, x", f);
            return NULL;
        }
        }
    }
    if (len > 8192) {
        snprintf(why, whylen, "%s", "the pattern is longer than 8192 bytes");
        return NULL;
    }
    rnode *root = parse_alt(&rp);
    if (!rp.failed && rp.i < rp.len)
        fail(&rp, "%s", "a ')' has no matching '('");
    if (rp.failed)
        return NULL;

    rcomp c;
    memset(&c, 0, sizeof c);
    c.prog = alloc(ud, RE_MAX_PROG * sizeof(rinst));
    c.icase = rp.icase;
    c.rp = &rp;
    emit(&c, I_SAVE, 0, 0);
    comp(&c, root);
    emit(&c, I_SAVE, 1, 0);
    emit(&c, I_MATCH, 0, 0);
    if (c.failed) {
        snprintf(why, whylen, "the pattern is too large (more than %d steps once expanded)",
                 RE_MAX_PROG);
        return NULL;
    }
    if (rp.failed)
        return NULL;

    fregex *re = alloc(ud, sizeof *re);
    memset(re, 0, sizeof *re);
    re->prog = c.prog;
    re->len = c.len;
    re->classes = rp.classes;
    re->nclasses = rp.nclasses;
    re->groups = rp.groups;
    re->icase = rp.icase;
    re->dotall = dotall;
    re->multiline = multiline;
    size_t ncap = 2 * ((size_t)re->groups + 1);
    for (int k = 0; k < 2; k++) {
        re->lists[k].t = alloc(ud, re->len * sizeof(rthread));
        re->capstore[k] = alloc(ud, re->len * ncap * sizeof(int64_t));
    }
    re->mark = alloc(ud, re->len * sizeof(uint32_t));
    memset(re->mark, 0, re->len * sizeof(uint32_t));
    re->stack = alloc(ud, (2 * (size_t)re->len + 4) * sizeof(*re->stack));
    re->cur = alloc(ud, ncap * sizeof(int64_t));
    return re;
}

int fre_groups(const fregex *re)
{
    return re->groups;
}

/* ---- matching ---------------------------------------------------------- */

static int is_word(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_line_end(uint32_t c)
{
    return c == '\n' || c == '\r' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static int class_has(const rclass *k, uint32_t c)
{
    int in = 0;
    for (uint32_t i = 0; i < k->n; i++) {
        if (c >= k->r[2 * i] && c <= k->r[2 * i + 1]) {
            in = 1;
            break;
        }
    }
    return in != k->neg;
}

/* The character before and at byte |pos| (or -1). */
static int64_t char_before(const char *s, size_t pos)
{
    if (pos == 0)
        return -1;
    size_t i = pos - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    size_t j = i;
    return fu8_decode(s, pos, &j);
}

static int64_t char_at(const char *s, size_t len, size_t pos)
{
    if (pos >= len)
        return -1;
    size_t j = pos;
    return fu8_decode(s, len, &j);
}

static int assert_ok(const fregex *re, int op, const char *s, size_t len, size_t pos)
{
    int64_t prev = char_before(s, pos), next = char_at(s, len, pos);
    switch (op) {
    case I_BOL:
        return pos == 0 || (re->multiline && prev == '\n');
    case I_EOL:
        if (pos == len)
            return 1;
        if (re->multiline)
            return next == '\n';
        return next == '\n' && pos + 1 == len;
    case I_WB:
    case I_NWB: {
        int a = prev >= 0 && is_word((uint32_t)prev);
        int b = next >= 0 && is_word((uint32_t)next);
        return (a != b) == (op == I_WB);
    }
    }
    return 0;
}

/* Adds the thread at |pc0| with the captures in re->cur to |l|, following
 * jumps, splits, saves and assertions (in priority order) with an explicit
 * stack; a save is undone when its branch is done. */
static void addthread(fregex *re, rlist *l, int64_t *store, uint32_t pc0, const char *s, size_t len,
                      size_t pos, uint64_t *steps)
{
    size_t ncap = 2 * ((size_t)re->groups + 1);
    size_t sp = 0;
    re->stack[sp].pc = pc0;
    re->stack[sp].slot = -1;
    sp++;
    while (sp) {
        struct stk e = re->stack[--sp];
        if (e.slot >= 0) {
            re->cur[e.slot] = e.val;
            continue;
        }
        uint32_t pc = e.pc;
        for (;;) {
            (*steps)++;
            if (re->mark[pc] == re->gen)
                break;
            re->mark[pc] = re->gen;
            const rinst *in = &re->prog[pc];
            if (in->op == I_JMP) {
                pc = in->x;
                continue;
            }
            if (in->op == I_SPLIT) {
                re->stack[sp].pc = in->y;
                re->stack[sp].slot = -1;
                sp++;
                pc = in->x;
                continue;
            }
            if (in->op == I_SAVE) {
                re->stack[sp].slot = (int32_t)in->x;
                re->stack[sp].val = re->cur[in->x];
                sp++;
                re->cur[in->x] = (int64_t)pos;
                pc++;
                continue;
            }
            if (in->op == I_BOL || in->op == I_EOL || in->op == I_WB || in->op == I_NWB) {
                if (!assert_ok(re, in->op, s, len, pos))
                    break;
                pc++;
                continue;
            }
            rthread *t = &l->t[l->n];
            t->pc = pc;
            t->caps = store + (size_t)l->n * ncap;
            memcpy(t->caps, re->cur, ncap * sizeof(int64_t));
            l->n++;
            break;
        }
    }
}

int fre_search(fregex *re, const char *s, size_t len, size_t start, int64_t *caps, uint64_t *steps,
               uint64_t max_steps)
{
    size_t ncap = 2 * ((size_t)re->groups + 1);
    rlist *cl = &re->lists[0], *nl = &re->lists[1];
    int64_t *cstore = re->capstore[0], *nstore = re->capstore[1];
    cl->n = nl->n = 0;
    int matched = 0;
    size_t pos = start;
    if (++re->gen == 0) {
        memset(re->mark, 0, re->len * sizeof(uint32_t));
        re->gen = 1;
    }
    for (;;) {
        if (!matched) {
            /* A new attempt starting here, with the lowest priority; the
             * marks of this position's generation keep it from repeating a
             * state the list already has. */
            for (size_t k = 0; k < ncap; k++)
                re->cur[k] = -1;
            addthread(re, cl, cstore, 0, s, len, pos, steps);
        }
        if (cl->n == 0)
            break;
        if (*steps > max_steps)
            return FRE_STEPS;
        int64_t c = char_at(s, len, pos);
        size_t npos = pos;
        if (c >= 0) {
            size_t j = pos;
            fu8_decode(s, len, &j);
            npos = j;
        }
        if (++re->gen == 0) {
            memset(re->mark, 0, re->len * sizeof(uint32_t));
            re->gen = 1;
        }
        nl->n = 0;
        for (uint32_t k = 0; k < cl->n; k++) {
            rthread *t = &cl->t[k];
            const rinst *in = &re->prog[t->pc];
            (*steps)++;
            int ok = 0;
            switch (in->op) {
            case I_MATCH:
                matched = 1;
                memcpy(caps, t->caps, ncap * sizeof(int64_t));
                k = cl->n; /* lower-priority threads are cut */
                continue;
            case I_CHAR:
                ok = c >= 0 && (uint32_t)c == in->x;
                break;
            case I_ANY:
                ok = c >= 0 && (re->dotall || !is_line_end((uint32_t)c));
                break;
            case I_CLASS:
                ok = c >= 0 && class_has(&re->classes[in->x], (uint32_t)c);
                break;
            }
            if (ok) {
                memcpy(re->cur, t->caps, ncap * sizeof(int64_t));
                addthread(re, nl, nstore, t->pc + 1, s, len, npos, steps);
            }
        }
        if (c < 0) {
            /* End of input: the threads in nl cannot exist (nothing was
             * consumed), so only a match found above remains. */
            break;
        }
        rlist *tl = cl;
        cl = nl;
        nl = tl;
        int64_t *ts = cstore;
        cstore = nstore;
        nstore = ts;
        pos = npos;
        if (matched && cl->n == 0)
            break;
    }
    /* Keep the lists where the next search expects them. */
    re->lists[0] = *cl;
    re->lists[1] = *nl;
    re->capstore[0] = cstore;
    re->capstore[1] = nstore;
    return matched ? FRE_OK : FRE_NOMATCH;
}
