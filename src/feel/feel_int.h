/*
 * Internals of the FEEL module, shared by its files:
 *
 *   decimal.c   numbers: a 34-digit decimal (FEEL's, Java's DECIMAL128)
 *   value.c     the arena, values, variables from JSON, results as JSON,
 *               equality and ordering, string()
 *   temporal.c  dates, times, date-times and durations: parse, print, add
 *   regex.c     the regular expressions of matches(), replace(), split()
 *   parse.c     the lexer and the parser (deploy time)
 *   eval.c      the evaluator (run time) and the public entry points
 *   builtins.c  the built-in functions
 *
 * Memory: a parsed expression owns one arena (its nodes and literals); an
 * evaluation owns another, freed as a whole when it returns, so values are
 * never freed one by one and an error can unwind with longjmp from any
 * depth without leaking (nothing an evaluation allocates lives outside its
 * arena until the result is written out).
 */
#ifndef CHUTE_FEEL_INT_H
#define CHUTE_FEEL_INT_H

#include "feel/feel.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

/* ---- arena ------------------------------------------------------------- */

typedef struct farena_chunk farena_chunk;
typedef struct farena {
    farena_chunk *head;
    size_t total; /* bytes taken from malloc so far */
    size_t cap;   /* the most it may take */
    size_t next;  /* the size of the next chunk: small first, doubling to 64 KiB */
} farena;

void farena_init(farena *a, size_t cap);
/* |n| bytes aligned for any type, or NULL when the cap is reached or malloc
 * fails. */
void *farena_alloc(farena *a, size_t n);
void farena_free(farena *a);

/* ---- decimal numbers --------------------------------------------------- */

typedef unsigned __int128 fu128;

/* (-1)^neg * coef * 10^exp with coef < 10^34 and no trailing zero in coef
 * (so equal numbers have equal representations); zero is {0, 0, 0}. */
typedef struct fdec {
    fu128 coef;
    int32_t exp;
    uint8_t neg;
} fdec;

#define FDEC_DIGITS 34
/* The largest decimal exponent a number may reach (|x| < 10^(FDEC_EMAX+1));
 * past it an operation fails (an incident: "too large"). Numbers smaller
 * than 10^-FDEC_EMAX become 0. */
#define FDEC_EMAX 9999

enum { FDEC_OK = 0, FDEC_OVERFLOW = -1, FDEC_DIVZERO = -2, FDEC_INVALID = -3 };

enum fdec_round {
    FDEC_FLOOR,
    FDEC_CEILING,
    FDEC_UP,        /* away from zero */
    FDEC_DOWN,      /* toward zero */
    FDEC_HALF_UP,   /* ties away from zero */
    FDEC_HALF_DOWN, /* ties toward zero */
    FDEC_HALF_EVEN,
};

void fdec_from_i64(fdec *r, int64_t v);
/* A double as the shortest decimal that reads back as the same double (the
 * way Java's Double.toString and jansson's real numbers print). */
int fdec_from_double(fdec *r, double d);
/* Parses |len| bytes: an optional sign when |allow_sign|, digits with an
 * optional fraction (".5" and "5." too), and an exponent ("1e5") when
 * |allow_exp|. More than 34 digits are rounded half even. Returns FDEC_OK,
 * FDEC_INVALID or FDEC_OVERFLOW. */
int fdec_parse(fdec *r, const char *s, size_t len, int allow_sign, int allow_exp);
int fdec_add(fdec *r, const fdec *a, const fdec *b);
int fdec_sub(fdec *r, const fdec *a, const fdec *b);
int fdec_mul(fdec *r, const fdec *a, const fdec *b);
int fdec_div(fdec *r, const fdec *a, const fdec *b); /* FDEC_DIVZERO for b = 0 */
/* a modulo b with the sign of b (FEEL's modulo). */
int fdec_mod(fdec *r, const fdec *a, const fdec *b);
/* a ** n for an integer n, rounded at each step. */
int fdec_powi(fdec *r, const fdec *a, int64_t n);
int fdec_sqrt(fdec *r, const fdec *a); /* FDEC_INVALID for a < 0 */
/* Rounds to |scale| digits after the point. */
int fdec_round(fdec *r, const fdec *a, int64_t scale, enum fdec_round mode);
int fdec_cmp(const fdec *a, const fdec *b);
int fdec_is_int(const fdec *a);
int fdec_is_zero(const fdec *a);
/* The integer part when it fits in an int64 (truncated toward zero);
 * returns -1 when it does not fit. */
int fdec_to_i64(const fdec *a, int64_t *out);
double fdec_to_double(const fdec *a);
/* Writes the number into |buf| (at least FDEC_BUF bytes when |plain| is 0;
 * plain notation may need up to FDEC_EMAX + 40 bytes, see fdec_plain_len).
 * |plain|: always positional notation ("1000000", "0.001"), as string()
 * prints; otherwise positional for ordinary magnitudes and exponent
 * notation ("1e+100") beyond, as the JSON results print. Returns the
 * length. */
#define FDEC_BUF 64
size_t fdec_format(const fdec *a, int plain, char *buf);
size_t fdec_plain_len(const fdec *a);

/* ---- temporal values --------------------------------------------------- */

#define FT_NANOS_PER_DAY 86400000000000LL

/* A date is |days| since 1970-01-01; a time is |nanos| of the day; a date
 * and time is both. |has_offset| tells a zoned value (its fields are local
 * to |offset| seconds east of UTC) from a local one. */
typedef struct ftemporal {
    int64_t days;
    int64_t nanos;
    int32_t offset;
    uint8_t has_offset;
} ftemporal;

/* A days-time duration: |secs| and |nanos| have the same sign. */
typedef struct fdtd {
    int64_t secs;
    int32_t nanos;
} fdtd;

#define FT_MAX_YEAR 999999999LL

int64_t ft_days_from_civil(int64_t y, int m, int d);
void ft_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int ft_days_in_month(int64_t y, int m);
int ft_weekday(int64_t days); /* 1 = Monday ... 7 = Sunday */
int ft_parse_date(const char *s, size_t len, ftemporal *out);
int ft_parse_time(const char *s, size_t len, ftemporal *out);
int ft_parse_date_time(const char *s, size_t len, ftemporal *out);
/* Either kind of duration; returns 1 for days-time (|dtd|), 2 for
 * years-months (|months|), 0 when |s| is not a duration. */
int ft_parse_duration(const char *s, size_t len, fdtd *dtd, int64_t *months);
/* Printers write ISO 8601 into |buf| (FT_BUF bytes) and return the length. */
#define FT_BUF 80
size_t ft_format_date(const ftemporal *t, char *buf);
size_t ft_format_time(const ftemporal *t, char *buf);
size_t ft_format_date_time(const ftemporal *t, char *buf);
size_t ft_format_dtd(const fdtd *d, char *buf);
size_t ft_format_ymd(int64_t months, char *buf);
/* Date arithmetic; 0 or -1 when the result leaves the supported years. */
int ft_add_months(int64_t days, int64_t months, int64_t *out);
int ft_dtd_norm(int64_t secs, int64_t nanos, fdtd *out);
/* The instant of a date and time in nanoseconds-since-epoch terms, split as
 * (seconds, nanos); for comparisons and differences. */
void ft_instant(const ftemporal *t, __int128 *nanos);

/* ---- regular expressions ----------------------------------------------- */

typedef struct fregex fregex;
typedef void *(*falloc_fn)(void *ud, size_t n); /* never returns NULL */

enum { FRE_OK = 0, FRE_NOMATCH = 1, FRE_STEPS = -1 };

/* Compiles |pat| (a Java-style pattern, through PCRE2: see regex.c) with
 * |flags| ("i", "s", "m", "x" in any combination). Returns NULL with a
 * reason in |why| when the pattern is invalid, uses a construct Chute does
 * not support, or is too large. All memory comes from |alloc|. */
fregex *fre_compile(const char *pat, size_t len, const char *flags, size_t flen, falloc_fn alloc,
                    void *ud, char *why, size_t whylen);
int fre_groups(const fregex *re);
/* Finds the leftmost match in |s| at or after |start|. On FRE_OK,
 * caps[2*i], caps[2*i+1] are the byte offsets of group i (group 0 is the
 * whole match; -1 when a group did not take part); |caps| holds
 * 2 * (fre_groups + 1) entries. |steps| is charged with the work done and
 * FRE_STEPS returned once it passes |max_steps|. */
int fre_search(fregex *re, const char *s, size_t len, size_t start, int64_t *caps, uint64_t *steps,
               uint64_t max_steps);

/* ---- values ------------------------------------------------------------ */

enum fv_kinds {
    FV_NULL,
    FV_BOOL,
    FV_NUM,
    FV_STR,
    FV_LIST,
    FV_CTX,
    FV_DATE,
    FV_TIME,
    FV_DT,
    FV_DTD,
    FV_YMD,
    FV_RANGE,
    FV_FUNC,
    FV_JSON, /* a variable's JSON array or object, read in place */
};

typedef struct fv fv;
typedef struct fnode fnode;
typedef struct fscope fscope;

typedef struct fentry {
    const char *key;
    size_t klen;
    const fv *val;
} fentry;

struct fv {
    uint8_t kind;
    union {
        int b;
        fdec num;
        struct {
            const char *s;
            size_t len;
        } str;
        struct {
            const fv **items;
            size_t n;
        } list;
        struct {
            fentry *e;
            size_t n;
        } ctx;
        ftemporal t;
        fdtd dtd;
        int64_t months;
        struct {
            const fv *lo, *hi; /* NULL: unbounded */
            uint8_t lo_closed, hi_closed;
        } range;
        struct {
            const fnode *lambda;
            fscope *scope;
        } func;
        const struct json_t *json;
    } u;
};

/* Names bound while evaluating: an iteration variable (|name|) or the
 * members of a context (|ctx|: a filter's item, a context literal's
 * entries so far). */
struct fscope {
    fscope *up;
    const char *name;
    size_t len;
    const fv *val;
    const fv *ctx;
};

/* One evaluation. */
typedef struct feval {
    const feel_env *env;
    const feel_expr *expr;
    farena arena;
    jmp_buf jb;
    feel_error *err;
    uint64_t steps;
    uint64_t max_steps; /* FEEL_MAX_STEPS, or less under a feel_budget */
    fscope *scope;
    /* The last compiled patterns, so a pattern used in a loop compiles once. */
    struct fre_cache {
        const char *pat, *flags;
        size_t plen, flen;
        fregex *re;
    } recache[4];
    unsigned renext;
} feval;

/* Fails the evaluation: fills the error (|col| is the column it concerns,
 * 0 for none) and unwinds to feel_eval. */
_Noreturn void fe_fail(feval *ev, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *fe_alloc(feval *ev, size_t n);
/* Charges |n| steps of work; fails the evaluation past its max_steps. */
void fe_charge(feval *ev, uint64_t n);
/* The regular-expression allocator over the evaluation's arena. */
void *fe_alloc_cb(void *ev, size_t n);

extern const fv fv_null_v, fv_true_v, fv_false_v;
#define FV_NULL_P (&fv_null_v)
#define FV_TRUE_P (&fv_true_v)
#define FV_FALSE_P (&fv_false_v)
static inline const fv *fv_bool(int b)
{
    return b ? FV_TRUE_P : FV_FALSE_P;
}

/* The FEEL kind of a value: a JSON array is a list, a JSON object a
 * context. */
int fv_kind(const fv *v);
/* Turns a JSON scalar into its FEEL value; arrays and objects stay JSON and
 * are read through the accessors below. Anything else is returned as is. */
const fv *fv_force(feval *ev, const fv *v);
const fv *fv_from_json(feval *ev, const struct json_t *j);

const fv *fv_num(feval *ev, const fdec *d);
const fv *fv_num_i64(feval *ev, int64_t i);
/* |s| is not copied: it must live as long as the evaluation. */
const fv *fv_str(feval *ev, const char *s, size_t len);
const fv *fv_str_copy(feval *ev, const char *s, size_t len);
const fv *fv_temporal(feval *ev, int kind, const ftemporal *t);
const fv *fv_dtd(feval *ev, const fdtd *d);
const fv *fv_ymd(feval *ev, int64_t months);
/* |items| is not copied. */
const fv *fv_list(feval *ev, const fv **items, size_t n);
const fv *fv_ctx(feval *ev, fentry *e, size_t n);

size_t fv_list_len(const fv *l);
const fv *fv_list_at(feval *ev, const fv *l, size_t i); /* forced */
size_t fv_ctx_len(const fv *c);
/* The member |key| (forced), or NULL when the context has none. */
const fv *fv_ctx_get(feval *ev, const fv *c, const char *key, size_t len);
/* The i-th member in order (forced value); for JSON objects this walks
 * the object, so use fv_ctx_entries to visit all. */
fentry *fv_ctx_entries(feval *ev, const fv *c, size_t *n);

/* A list builder in the arena, bounded by FEEL_MAX_LIST. */
typedef struct fvlist {
    const fv **items;
    size_t n, cap;
} fvlist;
void fvl_push(feval *ev, fvlist *l, const fv *v, int col);
const fv *fvl_done(feval *ev, fvlist *l);

/* A string builder in the arena, bounded by FEEL_MAX_STRING. */
typedef struct fsb {
    char *p;
    size_t len, cap;
} fsb;
void fsb_add(feval *ev, fsb *b, const char *s, size_t n, int col);
void fsb_addc(feval *ev, fsb *b, char c, int col);
const fv *fsb_done(feval *ev, fsb *b);

/* Equality as FEEL's '=': 1 equal, 0 not equal, -1 not comparable (the
 * kinds differ; '=' is then null). null equals only null. */
int fv_equal(feval *ev, const fv *a, const fv *b);
/* Ordering for '<' and friends: sets |*out| to -1, 0 or 1 and returns 0,
 * or returns -1 when the two are not ordered (null, different kinds,
 * booleans, lists, contexts, a zoned and a local time). */
int fv_order(feval *ev, const fv *a, const fv *b, int *out);
/* FEEL's string(): null for null. */
const fv *fv_to_string(feval *ev, const fv *v, int col);
/* "NUMBER", "STRING", "BOOLEAN", "ARRAY", "OBJECT", "NULL": the type
 * names Zeebe's messages use for a result. */
const char *fv_zeebe_type(const fv *v);
/* A kind's FEEL name ("number", "date and time"), for messages. */
const char *fv_kind_name(int kind);

/* Writes a value as JSON into a malloc'd buffer bounded by
 * FEEL_MAX_RESULT. It never allocates from the arena, so it may run after
 * the evaluation's unwinding point is gone. Returns 0, or -1 with |err|
 * filled. */
int fv_write_json(const fv *v, char **out, size_t *out_len, feel_error *err);

/* Simple one-to-one case mapping (see value.c for the scripts covered). */
uint32_t fu_upper(uint32_t c);
uint32_t fu_lower(uint32_t c);

/* UTF-8 helpers. */
size_t fu8_count(const char *s, size_t len);             /* code points */
size_t fu8_offset(const char *s, size_t len, size_t cp); /* byte offset of a code point */
int fu8_decode(const char *s, size_t len, size_t *i);    /* -1 on invalid */
size_t fu8_encode(uint32_t c, char *out);                /* 1..4 bytes */
int fu8_valid(const char *s, size_t len, size_t *bad);   /* 1 when valid */

/* ---- the parse tree ---------------------------------------------------- */

enum fnode_kinds {
    N_NULL,
    N_BOOL,
    N_NUM,
    N_STR,
    N_TEMPORAL, /* @"..." */
    N_NAME,
    N_LIST,
    N_CTX,
    N_INTERVAL, /* [a..b], (a..b), ]a..b[ ... */
    N_NEG,
    N_ARITH, /* a chain: kids[0] op[0] kids[1] op[1] ... */
    N_CMP,   /* kids[0] op kids[1] */
    N_BETWEEN,
    N_IN,     /* kids[0] in kids[1..]: a list of tests, any of them true */
    N_UT_CMP, /* a unary test "< e" inside "in": op, kids[0] */
    N_AND,
    N_OR,
    N_IF,
    N_FOR,
    N_SOME,
    N_EVERY,
    N_PATH,   /* kids[0] . name */
    N_FILTER, /* kids[0] [ kids[1] ] */
    N_CALL,
    N_LAMBDA, /* function(a, b) body: only as an argument of sort() */
    /* Unary tests (DMN 1.3 chapter 10, feel_parse_unary_tests): only ever
     * the root of an expression parsed as unary tests and their direct
     * children. */
    N_UT_ANY,  /* "-": every input value matches */
    N_UT_LIST, /* t1, t2, ...: kids are N_UT_CMP or N_UT_EXPR, any of them true */
    N_UT_NOT,  /* not(t1, t2, ...): kids as N_UT_LIST, none of them true */
    N_UT_EXPR, /* an expression as a test: kids[0]; flags NF_USES_INPUT when it names '?' */
};

enum fop {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_POW,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
};

typedef struct fbuiltin fbuiltin;

struct fnode {
    uint8_t kind;
    uint8_t op;
    uint8_t depth;
    uint8_t flags;
    int col;
    uint32_t n; /* kids */
    const fnode **kids;
    uint8_t *ops;       /* N_ARITH: n - 1 operators */
    const char **names; /* N_CTX keys, N_FOR/N_SOME/N_EVERY variables, N_LAMBDA parameters */
    size_t *lens;
    uint32_t *slots;  /* N_CTX: the entry each key fills (repeated keys share one) */
    const char *name; /* N_NAME, N_PATH */
    size_t nlen;
    union {
        fv lit;             /* N_NUM, N_STR, N_TEMPORAL: the value, made at deploy time */
        const fbuiltin *fn; /* N_CALL */
    } u;
};

/* N_INTERVAL flags, N_FOR flags (which iteration has a "..": bit i). */
#define NF_LO_CLOSED 1
#define NF_HI_CLOSED 2
/* N_UT_EXPR flags: the expression names the input value '?', so a boolean
 * it gives is the verdict itself, not a value to compare the input with. */
#define NF_USES_INPUT 1

struct feel_expr {
    farena arena;
    const fnode *root;
    char *src;
    size_t len;
    int unary; /* parsed by feel_parse_unary_tests: root is N_UT_ANY, N_UT_LIST or N_UT_NOT */
};

/* ---- built-in functions ------------------------------------------------ */

typedef const fv *(*fbuiltin_fn)(feval *ev, const fnode *call, const fv **args, size_t n);

#define FB_VARARGS 255
#define FB_MAX_PARAMS 8

struct fbuiltin {
    const char *name;
    const char *params; /* the parameter names for named arguments, comma separated */
    uint8_t min, max;   /* positional arguments taken; max FB_VARARGS: any number */
    fbuiltin_fn fn;
    uint8_t regex_arg;  /* 1-based position of a pattern checked at deploy time, 0 none */
    uint8_t flags_arg;  /* 1-based position of the pattern's flags, 0 none */
    uint8_t lambda_arg; /* 1-based position of a function definition argument, 0 none */
};

/* The table, ended by an entry with a NULL name. Entries with the same
 * name are overloads, chosen at parse time by the number (or the names) of
 * the arguments. */
const fbuiltin *fb_table(void);
const fv *fb_call_lambda(feval *ev, const fv *fn, const fv **args, size_t n);

/* Evaluates a node (eval.c). */
const fv *fe_eval(feval *ev, const fnode *n);

#endif
