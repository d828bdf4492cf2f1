/*
 * FEEL values: the arena they live in, UTF-8 and case helpers, variables
 * read from JSON (arrays and objects in place, scalars converted when they
 * are read), equality and ordering as FEEL defines them, string(), and the
 * JSON form of a result.
 */
#include "feel/feel_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------- */

struct farena_chunk {
    farena_chunk *next;
    size_t size, used;
    max_align_t data[];
};

#define ARENA_CHUNK 65536
#define ARENA_FIRST 2048

/* Chunks start small and double up to ARENA_CHUNK: a decision table keeps
 * thousands of small parsed expressions and values at once, and most of
 * them need far less than a full chunk. */
void farena_init(farena *a, size_t cap)
{
    a->head = NULL;
    a->total = 0;
    a->cap = cap;
    a->next = ARENA_FIRST;
}

void *farena_alloc(farena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    farena_chunk *c = a->head;
    if (c && c->size - c->used >= n) {
        void *p = (char *)c->data + c->used;
        c->used += n;
        return p;
    }
    size_t chunk = a->next ? a->next : ARENA_CHUNK;
    size_t size = n > chunk / 2 ? n : chunk;
    if (size > a->cap || a->total > a->cap - size)
        return NULL;
    farena_chunk *nc = malloc(sizeof *nc + size);
    if (!nc)
        return NULL;
    a->total += size;
    nc->size = size;
    nc->used = n;
    int large = size != chunk;
    if (!large && chunk < ARENA_CHUNK)
        a->next = chunk * 2;
    if (c && large) {
        /* A large block goes behind the current chunk, which keeps its
         * free space for the small allocations that follow. */
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        a->head = nc;
    }
    return nc->data;
}

void farena_free(farena *a)
{
    farena_chunk *c = a->head;
    while (c) {
        farena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->total = 0;
}

/* ---- UTF-8 ------------------------------------------------------------- */

int fu8_decode(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k = *i;
    if (k >= len)
        return -1;
    uint32_t c = p[k];
    if (c < 0x80) {
        *i = k + 1;
        return (int)c;
    }
    int n;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
        n = 1;
        c &= 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2;
        c &= 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3;
        c &= 0x07;
        min = 0x10000;
    } else {
        return -1;
    }
    if (len - k <= (size_t)n)
        return -1;
    for (int j = 1; j <= n; j++) {
        uint32_t b = p[k + (size_t)j];
        if ((b & 0xC0) != 0x80)
            return -1;
        c = (c << 6) | (b & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return -1;
    *i = k + (size_t)n + 1;
    return (int)c;
}

int fu8_valid(const char *s, size_t len, size_t *bad)
{
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t at = i;
        if (fu8_decode(s, len, &i) < 0) {
            if (bad)
                *bad = at;
            return 0;
        }
    }
    return 1;
}

size_t fu8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

size_t fu8_offset(const char *s, size_t len, size_t cp)
{
    size_t i = 0, n = 0;
    while (i < len) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == cp)
                return i;
            n++;
        }
        i++;
    }
    return len;
}

size_t fu8_encode(uint32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/*
 * Simple (one to one) case mapping for the scripts business data mostly
 * uses: ASCII, Latin-1, Latin Extended-A, Latin Extended Additional
 * (Vietnamese), Greek, Cyrillic and Armenian. Other characters keep their
 * case; upper case() maps "ß" to "SS" as Java does.
 */
static int pair_lower_odd(uint32_t c, uint32_t lo, uint32_t hi)
{
    return c >= lo && c <= hi;
}

uint32_t fu_upper(uint32_t c)
{
    if (c < 0x80)
        return c >= 'a' && c <= 'z' ? c - 32 : c;
    if (c == 0xB5)
        return 0x39C;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
        return c - 32;
    if (c == 0xFF)
        return 0x178;
    if (c == 0x131)
        return 'I';
    if (c == 0x17F)
        return 'S';
    if ((pair_lower_odd(c, 0x100, 0x137) || pair_lower_odd(c, 0x14A, 0x177) ||
         pair_lower_odd(c, 0x460, 0x481) || pair_lower_odd(c, 0x48A, 0x4BF) ||
         pair_lower_odd(c, 0x1E00, 0x1E95) || pair_lower_odd(c, 0x1EA0, 0x1EFF)) &&
        (c & 1))
        return c - 1;
    if ((pair_lower_odd(c, 0x139, 0x148) || pair_lower_odd(c, 0x179, 0x17E)) && !(c & 1))
        return c - 1;
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2)
        return c - 32;
    if (c == 0x3C2)
        return 0x3A3;
    if (c == 0x3AC)
        return 0x386;
    if (c >= 0x3AD && c <= 0x3AF)
        return c - 37;
    if (c == 0x3CC)
        return 0x38C;
    if (c == 0x3CD || c == 0x3CE)
        return c - 63;
    if (c >= 0x430 && c <= 0x44F)
        return c - 32;
    if (c >= 0x450 && c <= 0x45F)
        return c - 80;
    if (c >= 0x561 && c <= 0x586)
        return c - 48;
    return c;
}

uint32_t fu_lower(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c == 0x178)
        return 0xFF;
    if (c == 0x130)
        return 'i';
    if ((pair_lower_odd(c, 0x100, 0x137) || pair_lower_odd(c, 0x14A, 0x177) ||
         pair_lower_odd(c, 0x460, 0x481) || pair_lower_odd(c, 0x48A, 0x4BF) ||
         pair_lower_odd(c, 0x1E00, 0x1E95) || pair_lower_odd(c, 0x1EA0, 0x1EFF)) &&
        !(c & 1))
        return c + 1;
    if ((pair_lower_odd(c, 0x139, 0x148) || pair_lower_odd(c, 0x179, 0x17E)) && (c & 1))
        return c + 1;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return c + 32;
    if (c == 0x386)
        return 0x3AC;
    if (c >= 0x388 && c <= 0x38A)
        return c + 37;
    if (c == 0x38C)
        return 0x3CC;
    if (c == 0x38E || c == 0x38F)
        return c + 63;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    if (c >= 0x531 && c <= 0x556)
        return c + 48;
    return c;
}

/* ---- constructors ------------------------------------------------------ */

const fv fv_null_v = {.kind = FV_NULL};
const fv fv_true_v = {.kind = FV_BOOL, .u.b = 1};
const fv fv_false_v = {.kind = FV_BOOL, .u.b = 0};

static fv *newv(feval *ev, int kind)
{
    fv *v = fe_alloc(ev, sizeof *v);
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    return v;
}

const fv *fv_num(feval *ev, const fdec *d)
{
    fv *v = newv(ev, FV_NUM);
    v->u.num = *d;
    return v;
}

const fv *fv_num_i64(feval *ev, int64_t i)
{
    fdec d;
    fdec_from_i64(&d, i);
    return fv_num(ev, &d);
}

const fv *fv_str(feval *ev, const char *s, size_t len)
{
    fv *v = newv(ev, FV_STR);
    v->u.str.s = s;
    v->u.str.len = len;
    return v;
}

const fv *fv_str_copy(feval *ev, const char *s, size_t len)
{
    char *p = fe_alloc(ev, len + 1);
    memcpy(p, s, len);
    p[len] = 0;
    return fv_str(ev, p, len);
}

const fv *fv_temporal(feval *ev, int kind, const ftemporal *t)
{
    fv *v = newv(ev, kind);
    v->u.t = *t;
    return v;
}

const fv *fv_dtd(feval *ev, const fdtd *d)
{
    fv *v = newv(ev, FV_DTD);
    v->u.dtd = *d;
    return v;
}

const fv *fv_ymd(feval *ev, int64_t months)
{
    fv *v = newv(ev, FV_YMD);
    v->u.months = months;
    return v;
}

const fv *fv_list(feval *ev, const fv **items, size_t n)
{
    fv *v = newv(ev, FV_LIST);
    v->u.list.items = items;
    v->u.list.n = n;
    return v;
}

const fv *fv_ctx(feval *ev, fentry *e, size_t n)
{
    fv *v = newv(ev, FV_CTX);
    v->u.ctx.e = e;
    v->u.ctx.n = n;
    return v;
}

/* ---- JSON variables ---------------------------------------------------- */

const fv *fv_from_json(feval *ev, const json_t *j)
{
    if (!j)
        return FV_NULL_P;
    switch (json_typeof(j)) {
    case JSON_NULL:
        return FV_NULL_P;
    case JSON_TRUE:
        return FV_TRUE_P;
    case JSON_FALSE:
        return FV_FALSE_P;
    case JSON_INTEGER:
        return fv_num_i64(ev, (int64_t)json_integer_value(j));
    case JSON_REAL: {
        fdec d;
        fe_charge(ev, 3); /* printing and reading back the double */
        if (fdec_from_double(&d, json_real_value(j)))
            return FV_NULL_P;
        return fv_num(ev, &d);
    }
    case JSON_STRING:
        /* Borrowed: the variable outlives the evaluation. */
        return fv_str(ev, json_string_value(j), json_string_length(j));
    case JSON_ARRAY:
    case JSON_OBJECT: {
        fv *v = newv(ev, FV_JSON);
        v->u.json = j;
        return v;
    }
    }
    return FV_NULL_P;
}

int fv_kind(const fv *v)
{
    if (v->kind != FV_JSON)
        return v->kind;
    return json_is_array(v->u.json) ? FV_LIST : FV_CTX;
}

size_t fv_list_len(const fv *l)
{
    if (l->kind == FV_LIST)
        return l->u.list.n;
    return json_array_size(l->u.json);
}

const fv *fv_list_at(feval *ev, const fv *l, size_t i)
{
    if (l->kind == FV_LIST)
        return l->u.list.items[i];
    return fv_from_json(ev, json_array_get(l->u.json, i));
}

size_t fv_ctx_len(const fv *c)
{
    if (c->kind == FV_CTX)
        return c->u.ctx.n;
    return json_object_size(c->u.json);
}

const fv *fv_ctx_get(feval *ev, const fv *c, const char *key, size_t len)
{
    if (c->kind == FV_CTX) {
        fe_charge(ev, c->u.ctx.n / 8);
        for (size_t i = 0; i < c->u.ctx.n; i++) {
            const fentry *e = &c->u.ctx.e[i];
            if (e->klen == len && memcmp(e->key, key, len) == 0)
                return e->val;
        }
        return NULL;
    }
    const json_t *m = json_object_getn(c->u.json, key, len);
    return m ? fv_from_json(ev, m) : NULL;
}

fentry *fv_ctx_entries(feval *ev, const fv *c, size_t *n)
{
    if (c->kind == FV_CTX) {
        *n = c->u.ctx.n;
        return c->u.ctx.e;
    }
    size_t cnt = json_object_size(c->u.json);
    fe_charge(ev, cnt);
    fentry *e = fe_alloc(ev, (cnt ? cnt : 1) * sizeof *e);
    size_t i = 0;
    const char *key;
    size_t klen;
    json_t *val;
    json_t *obj = (json_t *)c->u.json; /* jansson's iterator takes no const */
    json_object_keylen_foreach(obj, key, klen, val)
    {
        if (i == cnt)
            break;
        e[i].key = key;
        e[i].klen = klen;
        e[i].val = fv_from_json(ev, val);
        i++;
    }
    *n = i;
    return e;
}

/* ---- builders ---------------------------------------------------------- */

void fvl_push(feval *ev, fvlist *l, const fv *v, int col)
{
    if (l->n == l->cap) {
        if (l->n >= FEEL_MAX_LIST)
            fe_fail(ev, col, "A list would have more than %d items at column %d", FEEL_MAX_LIST,
                    col);
        size_t cap = l->cap ? l->cap * 2 : 8;
        if (cap > FEEL_MAX_LIST)
            cap = FEEL_MAX_LIST;
        const fv **items = fe_alloc(ev, cap * sizeof *items);
        if (l->n)
            memcpy(items, l->items, l->n * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = v;
}

const fv *fvl_done(feval *ev, fvlist *l)
{
    return fv_list(ev, l->items, l->n);
}

void fsb_add(feval *ev, fsb *b, const char *s, size_t n, int col)
{
    if (n > FEEL_MAX_STRING || b->len > FEEL_MAX_STRING - n)
        fe_fail(ev, col, "A string would be longer than %d bytes at column %d", FEEL_MAX_STRING,
                col);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = fe_alloc(ev, cap);
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    fe_charge(ev, n / 64);
}

void fsb_addc(feval *ev, fsb *b, char c, int col)
{
    fsb_add(ev, b, &c, 1, col);
}

const fv *fsb_done(feval *ev, fsb *b)
{
    if (!b->p)
        return fv_str(ev, "", 0);
    return fv_str(ev, b->p, b->len);
}

/* ---- equality and order ------------------------------------------------ */

static int temporal_comparable(const fv *a, const fv *b)
{
    return a->u.t.has_offset == b->u.t.has_offset;
}

static int cmp128(__int128 x, __int128 y)
{
    return x < y ? -1 : (x > y ? 1 : 0);
}

static int order_same(const fv *a, const fv *b, int *out)
{
    switch (a->kind) {
    case FV_NUM:
        *out = fdec_cmp(&a->u.num, &b->u.num);
        return 0;
    case FV_STR: {
        size_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
        int c = n ? memcmp(a->u.str.s, b->u.str.s, n) : 0;
        if (c == 0)
            c = a->u.str.len < b->u.str.len ? -1 : (a->u.str.len > b->u.str.len ? 1 : 0);
        *out = c < 0 ? -1 : (c > 0 ? 1 : 0);
        return 0;
    }
    case FV_DATE:
        *out = a->u.t.days < b->u.t.days ? -1 : (a->u.t.days > b->u.t.days ? 1 : 0);
        return 0;
    case FV_TIME:
    case FV_DT: {
        if (!temporal_comparable(a, b))
            return -1;
        ftemporal x = a->u.t, y = b->u.t;
        if (a->kind == FV_TIME)
            x.days = y.days = 0;
        __int128 ix, iy;
        ft_instant(&x, &ix);
        ft_instant(&y, &iy);
        *out = cmp128(ix, iy);
        return 0;
    }
    case FV_DTD: {
        __int128 x = (__int128)a->u.dtd.secs * 1000000000 + a->u.dtd.nanos;
        __int128 y = (__int128)b->u.dtd.secs * 1000000000 + b->u.dtd.nanos;
        *out = cmp128(x, y);
        return 0;
    }
    case FV_YMD:
        *out = a->u.months < b->u.months ? -1 : (a->u.months > b->u.months ? 1 : 0);
        return 0;
    }
    return -1;
}

/* Comparing strings reads them: paid by length. */
static void charge_strings(feval *ev, const fv *a, const fv *b)
{
    if (a->kind == FV_STR && b->kind == FV_STR)
        fe_charge(ev, (a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len) / 64);
}

int fv_order(feval *ev, const fv *a, const fv *b, int *out)
{
    if (fv_kind(a) != fv_kind(b))
        return -1;
    charge_strings(ev, a, b);
    return order_same(a, b, out);
}

static int equal_depth(feval *ev, const fv *a, const fv *b, int depth)
{
    int ka = fv_kind(a), kb = fv_kind(b);
    if (ka == FV_NULL || kb == FV_NULL)
        return ka == kb;
    if (ka != kb)
        return -1;
    fe_charge(ev, 1);
    charge_strings(ev, a, b);
    if (depth > 2100)
        fe_fail(ev, 0, "A value is nested more than 2100 levels deep");
    switch (ka) {
    case FV_BOOL:
        return a->u.b == b->u.b;
    case FV_LIST: {
        size_t n = fv_list_len(a);
        if (n != fv_list_len(b))
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (equal_depth(ev, fv_list_at(ev, a, i), fv_list_at(ev, b, i), depth + 1) != 1)
                return 0;
        }
        return 1;
    }
    case FV_CTX: {
        size_t n;
        fentry *e = fv_ctx_entries(ev, a, &n);
        if (n != fv_ctx_len(b))
            return 0;
        for (size_t i = 0; i < n; i++) {
            const fv *o = fv_ctx_get(ev, b, e[i].key, e[i].klen);
            if (!o || equal_depth(ev, e[i].val, o, depth + 1) != 1)
                return 0;
        }
        return 1;
    }
    case FV_RANGE:
    case FV_FUNC:
        return -1;
    default: {
        int c;
        if (order_same(a, b, &c))
            return -1;
        return c == 0;
    }
    }
}

int fv_equal(feval *ev, const fv *a, const fv *b)
{
    return equal_depth(ev, a, b, 0);
}

/* ---- names of kinds ---------------------------------------------------- */

const char *fv_kind_name(int kind)
{
    switch (kind) {
    case FV_NULL:
        return "null";
    case FV_BOOL:
        return "boolean";
    case FV_NUM:
        return "number";
    case FV_STR:
        return "string";
    case FV_LIST:
        return "list";
    case FV_CTX:
        return "context";
    case FV_DATE:
        return "date";
    case FV_TIME:
        return "time";
    case FV_DT:
        return "date and time";
    case FV_DTD:
        return "days and time duration";
    case FV_YMD:
        return "years and months duration";
    case FV_RANGE:
        return "range";
    case FV_FUNC:
        return "function";
    }
    return "value";
}

const char *fv_zeebe_type(const fv *v)
{
    switch (fv_kind(v)) {
    case FV_NULL:
        return "NIL";
    case FV_BOOL:
        return "BOOLEAN";
    case FV_NUM:
        return "NUMBER";
    case FV_LIST:
        return "ARRAY";
    case FV_CTX:
        return "OBJECT";
    case FV_RANGE:
    case FV_FUNC:
        return "UNKNOWN";
    default:
        return "STRING"; /* strings, and temporal values, which Zeebe writes as strings */
    }
}

/* ---- string() ---------------------------------------------------------- */

static void str_value(feval *ev, fsb *b, const fv *v, int quote, int col, int depth);

static void str_quoted(feval *ev, fsb *b, const char *s, size_t n, int col)
{
    fsb_addc(ev, b, '"', col);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            fsb_addc(ev, b, '\\', col);
        fsb_addc(ev, b, s[i], col);
    }
    fsb_addc(ev, b, '"', col);
}

static void str_value(feval *ev, fsb *b, const fv *v, int quote, int col, int depth)
{
    char buf[FT_BUF];
    size_t n;
    if (depth > 2100)
        fe_fail(ev, col, "A value is nested more than 2100 levels deep at column %d", col);
    switch (fv_kind(v)) {
    case FV_NULL:
        fsb_add(ev, b, "null", 4, col);
        return;
    case FV_BOOL:
        if (v->u.b)
            fsb_add(ev, b, "true", 4, col);
        else
            fsb_add(ev, b, "false", 5, col);
        return;
    case FV_NUM: {
        size_t need = fdec_plain_len(&v->u.num) + 1;
        char *p = need <= sizeof buf ? buf : fe_alloc(ev, need);
        n = fdec_format(&v->u.num, 1, p);
        fsb_add(ev, b, p, n, col);
        return;
    }
    case FV_STR:
        if (quote)
            str_quoted(ev, b, v->u.str.s, v->u.str.len, col);
        else
            fsb_add(ev, b, v->u.str.s, v->u.str.len, col);
        return;
    case FV_DATE:
        n = ft_format_date(&v->u.t, buf);
        break;
    case FV_TIME:
        n = ft_format_time(&v->u.t, buf);
        break;
    case FV_DT:
        n = ft_format_date_time(&v->u.t, buf);
        break;
    case FV_DTD:
        n = ft_format_dtd(&v->u.dtd, buf);
        break;
    case FV_YMD:
        n = ft_format_ymd(v->u.months, buf);
        break;
    case FV_LIST: {
        size_t cnt = fv_list_len(v);
        fsb_addc(ev, b, '[', col);
        for (size_t i = 0; i < cnt; i++) {
            if (i)
                fsb_add(ev, b, ", ", 2, col);
            str_value(ev, b, fv_list_at(ev, v, i), 1, col, depth + 1);
        }
        fsb_addc(ev, b, ']', col);
        return;
    }
    case FV_CTX: {
        size_t cnt;
        fentry *e = fv_ctx_entries(ev, v, &cnt);
        fsb_addc(ev, b, '{', col);
        for (size_t i = 0; i < cnt; i++) {
            if (i)
                fsb_add(ev, b, ", ", 2, col);
            fsb_add(ev, b, e[i].key, e[i].klen, col);
            fsb_addc(ev, b, ':', col);
            str_value(ev, b, e[i].val, 1, col, depth + 1);
        }
        fsb_addc(ev, b, '}', col);
        return;
    }
    case FV_RANGE:
        fsb_addc(ev, b, v->u.range.lo_closed ? '[' : '(', col);
        if (v->u.range.lo)
            str_value(ev, b, v->u.range.lo, 1, col, depth + 1);
        fsb_add(ev, b, "..", 2, col);
        if (v->u.range.hi)
            str_value(ev, b, v->u.range.hi, 1, col, depth + 1);
        fsb_addc(ev, b, v->u.range.hi_closed ? ']' : ')', col);
        return;
    default:
        fsb_add(ev, b, "function", 8, col);
        return;
    }
    fsb_add(ev, b, buf, n, col);
}

const fv *fv_to_string(feval *ev, const fv *v, int col)
{
    int k = fv_kind(v);
    if (k == FV_NULL)
        return FV_NULL_P;
    if (k == FV_STR)
        return v;
    fsb b = {NULL, 0, 0};
    str_value(ev, &b, v, 0, col, 0);
    return fsb_done(ev, &b);
}

/* ---- JSON out ---------------------------------------------------------- */

typedef struct jout {
    char *p;
    size_t len, cap;
    int failed;
    feel_error *err;
} jout;

static void jfail(jout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jfail(jout *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    o->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->err->message, sizeof o->err->message, fmt, ap);
    va_end(ap);
}

static void jadd(jout *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (n > FEEL_MAX_RESULT || o->len > FEEL_MAX_RESULT - n) {
        jfail(o, "The result is larger than %d bytes of JSON", FEEL_MAX_RESULT);
        return;
    }
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            jfail(o, "%s", "The result could not be written: out of memory");
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

static void jstr(jout *o, const char *s, size_t n)
{
    jadd(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        }
        if (esc) {
            jadd(o, s + run, i - run);
            jadd(o, esc, strlen(esc));
            run = i + 1;
        }
    }
    jadd(o, s + run, n - run);
    jadd(o, "\"", 1);
}

static void jnum(jout *o, const fdec *d)
{
    char buf[FDEC_BUF];
    size_t n = fdec_format(d, 0, buf);
    jadd(o, buf, n);
}

static void jjson(jout *o, const json_t *j, int depth)
{
    if (depth > 2100) {
        jfail(o, "%s", "The result is nested more than 2100 levels deep");
        return;
    }
    switch (json_typeof(j)) {
    case JSON_NULL:
        jadd(o, "null", 4);
        return;
    case JSON_TRUE:
        jadd(o, "true", 4);
        return;
    case JSON_FALSE:
        jadd(o, "false", 5);
        return;
    case JSON_INTEGER: {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(j));
        jadd(o, buf, (size_t)n);
        return;
    }
    case JSON_REAL: {
        fdec d;
        if (fdec_from_double(&d, json_real_value(j)))
            jadd(o, "null", 4);
        else
            jnum(o, &d);
        return;
    }
    case JSON_STRING:
        jstr(o, json_string_value(j), json_string_length(j));
        return;
    case JSON_ARRAY: {
        jadd(o, "[", 1);
        for (size_t i = 0; i < json_array_size(j) && !o->failed; i++) {
            if (i)
                jadd(o, ",", 1);
            jjson(o, json_array_get(j, i), depth + 1);
        }
        jadd(o, "]", 1);
        return;
    }
    case JSON_OBJECT: {
        jadd(o, "{", 1);
        const char *key;
        size_t klen;
        json_t *val;
        int first = 1;
        json_object_keylen_foreach((json_t *)j, key, klen, val)
        {
            if (o->failed)
                break;
            if (!first)
                jadd(o, ",", 1);
            first = 0;
            jstr(o, key, klen);
            jadd(o, ":", 1);
            jjson(o, val, depth + 1);
        }
        jadd(o, "}", 1);
        return;
    }
    }
}

static void jvalue(jout *o, const fv *v, int depth)
{
    char buf[FT_BUF];
    size_t n;
    if (o->failed)
        return;
    if (depth > 2100) {
        jfail(o, "%s", "The result is nested more than 2100 levels deep");
        return;
    }
    switch (v->kind) {
    case FV_NULL:
        jadd(o, "null", 4);
        return;
    case FV_BOOL:
        if (v->u.b)
            jadd(o, "true", 4);
        else
            jadd(o, "false", 5);
        return;
    case FV_NUM:
        jnum(o, &v->u.num);
        return;
    case FV_STR:
        jstr(o, v->u.str.s, v->u.str.len);
        return;
    case FV_JSON:
        jjson(o, v->u.json, depth);
        return;
    case FV_LIST:
        jadd(o, "[", 1);
        for (size_t i = 0; i < v->u.list.n && !o->failed; i++) {
            if (i)
                jadd(o, ",", 1);
            jvalue(o, v->u.list.items[i], depth + 1);
        }
        jadd(o, "]", 1);
        return;
    case FV_CTX:
        jadd(o, "{", 1);
        for (size_t i = 0; i < v->u.ctx.n && !o->failed; i++) {
            if (i)
                jadd(o, ",", 1);
            jstr(o, v->u.ctx.e[i].key, v->u.ctx.e[i].klen);
            jadd(o, ":", 1);
            jvalue(o, v->u.ctx.e[i].val, depth + 1);
        }
        jadd(o, "}", 1);
        return;
    case FV_DATE:
        n = ft_format_date(&v->u.t, buf);
        break;
    case FV_TIME:
        n = ft_format_time(&v->u.t, buf);
        break;
    case FV_DT:
        n = ft_format_date_time(&v->u.t, buf);
        break;
    case FV_DTD:
        n = ft_format_dtd(&v->u.dtd, buf);
        break;
    case FV_YMD:
        n = ft_format_ymd(v->u.months, buf);
        break;
    case FV_RANGE:
        jfail(o, "%s", "The result is a range, which has no JSON form");
        return;
    default:
        jfail(o, "%s", "The result is a function, which has no JSON form");
        return;
    }
    jstr(o, buf, n);
}

int fv_write_json(const fv *v, char **out, size_t *out_len, feel_error *err)
{
    jout o = {NULL, 0, 0, 0, err};
    jvalue(&o, v, 0);
    if (o.failed) {
        free(o.p);
        err->column = 0;
        err->construct[0] = 0;
        return -1;
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}
