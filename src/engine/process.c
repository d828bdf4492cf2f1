/*
 * Process instances: the runtime half of the process engine (the deploy
 * half is deploy.c with src/model). See "processes: instances" in
 * include/chute/engine.h for the contract and engine_int.h for the model
 * in memory.
 *
 * A command that moves tokens (create, a job's completion, resolve, set
 * variables) queues work and drains the queue before it returns: activate
 * an element (input mappings, then what the element does: create its job,
 * evaluate its script, or complete at once), complete it (output mappings,
 * then the choice of outgoing flows), take a flow (a parallel join counts
 * its tokens). A step that fails raises an incident on the element and
 * keeps the stage it failed in; resolving the incident runs that stage
 * again.
 */
#include "engine/engine_int.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/json.h"
#include "common/isotime.h"
#include "common/log.h"
#include "feel/feel.h"
#include "model/bpmn.h"

/* ---- a growable byte buffer ---------------------------------------------------- */

typedef struct pbuf {
    char *p;
    size_t len, cap;
    int oom;
} pbuf;

static void pb_put(pbuf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void pb_ch(pbuf *b, char c)
{
    pb_put(b, &c, 1);
}

/* |s| as a JSON string. */
static void pb_json_str(pbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    pb_ch(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        pb_put(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; pb_put(b, esc, 2); break;
        case '\\': esc[1] = '\\'; pb_put(b, esc, 2); break;
        case '\n': esc[1] = 'n'; pb_put(b, esc, 2); break;
        case '\t': esc[1] = 't'; pb_put(b, esc, 2); break;
        case '\r': esc[1] = 'r'; pb_put(b, esc, 2); break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            pb_put(b, esc, 6);
        }
    }
    pb_put(b, s + run, n - run);
    pb_ch(b, '"');
}

/* ---- JSON object members ----------------------------------------------------------
 *
 * Documents reaching here were checked (jdoc_check_object), so the scanner
 * only has to find member names and the spans of their values; values are
 * kept as the bytes the client sent. */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* The end of the string starting at s[i] == '"' (after its closing quote). */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

static size_t skip_value(const char *s, size_t i, size_t n)
{
    if (i >= n)
        return n;
    if (s[i] == '"')
        return skip_string(s, i, n);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, i, n) - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i;
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

static void put_utf8(pbuf *b, uint32_t cp)
{
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        pb_put(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        pb_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        pb_put(b, u, 3);
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        pb_put(b, u, 4);
    }
}

static uint32_t hex4(const char *s)
{
    return (uint32_t)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

/* Decodes the JSON string s[i..end) (quotes included) into |b|. */
static void decode_string(pbuf *b, const char *s, size_t i, size_t end)
{
    b->len = 0;
    pb_put(b, "", 0);
    for (i++; i + 1 < end; i++) {
        if (s[i] != '\\') {
            pb_put(b, s + i, 1);
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'n': pb_ch(b, '\n'); break;
        case 't': pb_ch(b, '\t'); break;
        case 'r': pb_ch(b, '\r'); break;
        case 'b': pb_ch(b, '\b'); break;
        case 'f': pb_ch(b, '\f'); break;
        case 'u': {
            uint32_t cp = hex4(s + i + 1);
            i += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < end && s[i + 1] == '\\' &&
                s[i + 2] == 'u') {
                uint32_t lo = hex4(s + i + 3);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
            put_utf8(b, cp);
            break;
        }
        default: pb_ch(b, c);
        }
    }
}

typedef int (*member_fn)(void *ctx, const char *name, size_t name_len, const char *value,
                         size_t value_len);

/* Calls |fn| for each member of the checked object |s|, in order. */
static int each_member(const char *s, size_t n, member_fn fn, void *ctx)
{
    if (jdoc_blank(s, n))
        return 0;
    pbuf name = {0};
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return 0;
    i = skip_ws(s, i + 1, n);
    int rc = 0;
    while (i < n && s[i] == '"') {
        size_t kend = skip_string(s, i, n);
        decode_string(&name, s, i, kend);
        i = skip_ws(s, kend, n);
        if (i < n && s[i] == ':')
            i = skip_ws(s, i + 1, n);
        size_t v0 = i, v1 = skip_value(s, i, n);
        if (name.oom) {
            rc = CHUTE_ENOMEM;
            break;
        }
        if ((rc = fn(ctx, name.p, name.len, s + v0, v1 - v0)) != 0)
            break;
        i = skip_ws(s, v1, n);
        if (i < n && s[i] == ',')
            i = skip_ws(s, i + 1, n);
    }
    free(name.p);
    return rc;
}

/* ---- scopes and variables -------------------------------------------------------- */

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

/* The index of |name| in |s|, or where it would go (with |*found| 0). */
static uint32_t scope_pos(const pscope *s, const char *name, size_t len, int *found)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        int c = name_cmp(s->v[mid].name, s->v[mid].name_len, name, len);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static pvar *scope_find(const pscope *s, const char *name, size_t len)
{
    int found;
    uint32_t i = scope_pos(s, name, len, &found);
    return found ? &s->v[i] : NULL;
}

static void pvar_clear(pvar *v)
{
    free(v->name);
    free(v->value);
    if (v->parsed)
        json_decref(v->parsed);
}

void pscope_free(pscope *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        pvar_clear(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* Sets |name| to |value| in |s| (a new variable gets |key| if non-zero,
 * else a new key). */
int pscope_set(chute_engine *e, pscope *s, const char *name, size_t nlen, const char *value,
               size_t vlen, int64_t key)
{
    int found;
    uint32_t i = scope_pos(s, name, nlen, &found);
    char *val = malloc(vlen + 1);
    if (!val)
        return CHUTE_ENOMEM;
    memcpy(val, value, vlen);
    val[vlen] = '\0';
    if (found) {
        pvar *v = &s->v[i];
        free(v->value);
        if (v->parsed)
            json_decref(v->parsed);
        v->parsed = NULL;
        v->value = val;
        v->value_len = (uint32_t)vlen;
        return 0;
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        pvar *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) {
            free(val);
            return CHUTE_ENOMEM;
        }
        s->v = nv;
        s->cap = cap;
    }
    char *nm = malloc(nlen + 1);
    if (!nm) {
        free(val);
        return CHUTE_ENOMEM;
    }
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
    s->v[i] = (pvar){nm, val, (uint32_t)nlen, (uint32_t)vlen, key ? key : engine_next_key(e),
                     NULL};
    s->n++;
    return 0;
}

/* Where a propagated variable goes: the nearest scope from |from| up that
 * has it, else the root. */
static einst *propagation_target(einst *from, const char *name, size_t len)
{
    einst *s = from;
    for (; s; s = s->scope) {
        if (scope_find(&s->vars, name, len))
            return s;
        if (!s->scope)
            return s;
    }
    return from;
}

/* The variable |name| as seen from |ei|: its locals, then its scopes. */
static pvar *visible(einst *ei, const char *name, size_t len)
{
    for (; ei; ei = ei->scope) {
        pvar *v = scope_find(&ei->vars, name, len);
        if (v)
            return v;
    }
    return NULL;
}

static void touch(chute_engine *e, pinst *pi);

typedef struct apply_ctx {
    chute_engine *e;
    einst *ei;
    int local;
} apply_ctx;

static int apply_member(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    apply_ctx *a = ctx;
    einst *to = a->local ? a->ei : propagation_target(a->ei, name, nlen);
    return pscope_set(a->e, &to->vars, name, nlen, value, vlen, 0);
}

/* Sets the members of the checked object |doc| from |ei|: locally, or
 * propagated. */
static int apply_document(chute_engine *e, einst *ei, const char *doc, size_t len, int local)
{
    apply_ctx a = {e, ei, local};
    touch(e, ei->pi);
    return each_member(doc, len, apply_member, &a);
}

/* The variables visible from |ei| (nearest first wins) as a JSON object,
 * only |fetch| names when |nfetch| > 0. */
static int visible_document(einst *ei, char *const *fetch, size_t nfetch, pbuf *b)
{
    pb_ch(b, '{');
    int first = 1;
    if (nfetch > 0) {
        for (size_t i = 0; i < nfetch; i++) {
            size_t len = strlen(fetch[i]);
            int dup = 0;
            for (size_t k = 0; k < i && !dup; k++)
                dup = strcmp(fetch[k], fetch[i]) == 0;
            pvar *v = dup ? NULL : visible(ei, fetch[i], len);
            if (!v)
                continue;
            if (!first)
                pb_ch(b, ',');
            first = 0;
            pb_json_str(b, v->name, v->name_len);
            pb_ch(b, ':');
            pb_put(b, v->value, v->value_len);
        }
    } else {
        for (einst *s = ei; s; s = s->scope) {
            for (uint32_t i = 0; i < s->vars.n; i++) {
                pvar *v = &s->vars.v[i];
                int shadowed = 0;
                for (einst *t = ei; t != s && !shadowed; t = t->scope)
                    shadowed = scope_find(&t->vars, v->name, v->name_len) != NULL;
                if (shadowed)
                    continue;
                if (!first)
                    pb_ch(b, ',');
                first = 0;
                pb_json_str(b, v->name, v->name_len);
                pb_ch(b, ':');
                pb_put(b, v->value, v->value_len);
            }
        }
    }
    pb_ch(b, '}');
    return b->oom ? CHUTE_ENOMEM : 0;
}

/* ---- FEEL -------------------------------------------------------------------------- */

typedef struct feel_scope {
    einst *ei;
} feel_scope;

static const json_t *feel_lookup(void *ctx, const char *name, size_t len)
{
    feel_scope *fs = ctx;
    pvar *v = visible(fs->ei, name, len);
    if (!v)
        return NULL;
    if (!v->parsed) {
        v->parsed = json_loadb(v->value, v->value_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!v->parsed)
            v->parsed = json_loadb(v->value, v->value_len,
                                   JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL,
                                   NULL);
    }
    return v->parsed;
}

/* Evaluates |x| seen from |ei| into |*out| (JSON text, malloc'd). A static
 * value is a string. */
static int eval_expr(chute_engine *e, einst *ei, const model_expr *x, char **out, size_t *len,
                     feel_error *fe)
{
    if (x->is_static) {
        pbuf b = {0};
        pb_json_str(&b, x->text, x->len);
        if (b.oom) {
            snprintf(fe->message, sizeof fe->message, "out of memory");
            return -1;
        }
        *out = b.p;
        *len = b.len;
        return 0;
    }
    feel_scope fs = {ei};
    feel_env env = {feel_lookup, &fs, engine_now(e)};
    return feel_eval(x->parsed, &env, out, len, fe);
}

/* Zeebe's name of a JSON value's FEEL type, for messages. */
static const char *feel_type_of(const char *json, size_t len)
{
    size_t i = skip_ws(json, 0, len);
    if (i >= len)
        return "NULL";
    switch (json[i]) {
    case '"': return "STRING";
    case '{': return "CONTEXT";
    case '[': return "LIST";
    case 't':
    case 'f': return "BOOLEAN";
    case 'n': return "NULL";
    default: return "NUMBER";
    }
}

/* ---- instances: lifecycle helpers ---------------------------------------------------- */

static const model_element *elem_of(const einst *ei)
{
    return ei->elem == MODEL_NONE ? NULL : &ei->pi->proc->elements[ei->elem];
}

static void touch(chute_engine *e, pinst *pi)
{
    if (!pi->dirty) {
        pi->dirty = 1;
        pi->dirty_next = e->dirty_head;
        e->dirty_head = pi;
    }
    engine_batch_touch(e);
}

static void psub_free(psub *x)
{
    free(x->name);
    free(x->ckey);
    free(x);
}

void einst_free(einst *ei)
{
    if (!ei)
        return;
    pscope_free(&ei->vars);
    free(ei->incident_msg);
    free(ei->joins);
    for (ptimer *t = ei->timers, *n; t; t = n) {
        n = t->next;
        free(t);
    }
    for (psub *x = ei->subs, *n; x; x = n) {
        n = x->next;
        psub_free(x);
    }
    putask_free(ei->ut);
    if (ei->mi) {
        free(ei->mi->items);
        free(ei->mi);
    }
    free(ei);
}

void putask_free(putask *ut)
{
    if (!ut)
        return;
    free(ut->assignee);
    free(ut->candidate_groups);
    free(ut->candidate_users);
    free(ut->form_key);
    free(ut->due_date);
    free(ut->follow_up_date);
    free(ut);
}

void pinst_free(pinst *pi)
{
    if (!pi)
        return;
    einst *n;
    for (einst *ei = pi->head; ei; ei = n) {
        n = ei->next;
        einst_free(ei);
    }
    for (uint32_t i = 0; i < pi->nincs; i++)
        free(pi->incs[i].message);
    free(pi->incs);
    free(pi->hist);
    free(pi->start_ckey);
    free(pi);
}

static void link_einst(pinst *pi, einst *ei)
{
    ei->prev = pi->tail;
    ei->next = NULL;
    if (pi->tail)
        pi->tail->next = ei;
    else
        pi->head = ei;
    pi->tail = ei;
}

static void unlink_einst(pinst *pi, einst *ei)
{
    if (ei->prev)
        ei->prev->next = ei->next;
    else
        pi->head = ei->next;
    if (ei->next)
        ei->next->prev = ei->prev;
    else
        pi->tail = ei->prev;
    ei->prev = ei->next = NULL;
}

static void add_history(pinst *pi, const einst *ei, int state, int64_t now)
{
    if (pi->nhist == CHUTE_ELEMENT_HISTORY) {
        memmove(pi->hist, pi->hist + 1, (pi->nhist - 1) * sizeof *pi->hist);
        pi->nhist--;
        pi->hist_dropped++;
    }
    if (pi->nhist == pi->hist_cap) {
        uint32_t cap = pi->hist_cap ? pi->hist_cap * 2 : 8;
        phist *h = realloc(pi->hist, cap * sizeof *h);
        if (!h)
            return; /* history is best kept, never worth failing a step */
        pi->hist = h;
        pi->hist_cap = cap;
    }
    pi->hist[pi->nhist++] = (phist){ei->key, ei->scope ? ei->scope->key : 0, ei->started_at, now,
                                    ei->elem, (uint8_t)state};
}

static void keep_resolved(pinst *pi, const pinc *inc)
{
    if (pi->nincs == pi->incs_cap) {
        uint32_t cap = pi->incs_cap ? pi->incs_cap * 2 : 4;
        pinc *n = realloc(pi->incs, cap * sizeof *n);
        if (!n) {
            free(inc->message);
            return;
        }
        pi->incs = n;
        pi->incs_cap = cap;
    }
    pi->incs[pi->nincs++] = *inc;
}

static einst *einst_new(chute_engine *e, pinst *pi, einst *scope, uint32_t elem)
{
    einst *ei = calloc(1, sizeof *ei);
    if (!ei)
        return NULL;
    ei->key = engine_next_key(e);
    ei->pi = pi;
    ei->scope = scope;
    ei->elem = elem;
    ei->state = CHUTE_INSTANCE_ACTIVE;
    ei->started_at = engine_now(e);
    if (hmap_put(&e->elements, ei->key, ei) != 0) {
        free(ei);
        return NULL;
    }
    link_einst(pi, ei);
    return ei;
}

/* ---- incidents on elements ------------------------------------------------------------ */

static void raise_incident(chute_engine *e, einst *ei, int stage, int type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void raise_incident(chute_engine *e, einst *ei, int stage, int type, const char *fmt, ...)
{
    char msg[CHUTE_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ei->stage = (uint8_t)stage;
    ei->incident_type = (uint8_t)type;
    ei->incident_key = engine_next_key(e);
    ei->incident_at = engine_now(e);
    free(ei->incident_msg);
    ei->incident_msg = strdup(msg);
    if (!ei->incident_msg || hmap_put(&e->el_incidents, ei->incident_key, ei) != 0)
        engine_batch_fail(e, NULL);
    e->stats.incidents_total++;
    touch(e, ei->pi);
}

/* Closes the open incident of |ei| (resolved or terminated), keeping it in
 * the instance's history. */
static void close_incident(chute_engine *e, einst *ei)
{
    if (!ei->incident_key)
        return;
    hmap_del(&e->el_incidents, ei->incident_key);
    pinc inc = {ei->incident_key, ei->key, 0, ei->incident_at, ei->elem, ei->incident_type,
                ei->incident_msg};
    ei->incident_msg = NULL;
    keep_resolved(ei->pi, &inc);
    ei->incident_key = 0;
    ei->incident_type = 0;
}

/* ---- the work queue ------------------------------------------------------------------- */

static int queue_work(chute_engine *e, einst *scope, uint32_t index, int is_flow)
{
    if (e->nwork == e->work_cap) {
        if (e->work_head > 0) {
            memmove(e->work, e->work + e->work_head, (e->nwork - e->work_head) * sizeof *e->work);
            e->nwork -= e->work_head;
            e->work_head = 0;
        }
        if (e->nwork == e->work_cap) {
            size_t cap = e->work_cap ? e->work_cap * 2 : 32;
            pwork *w = realloc(e->work, cap * sizeof *w);
            if (!w) {
                engine_batch_fail(e, NULL);
                return CHUTE_ENOMEM;
            }
            e->work = w;
            e->work_cap = cap;
        }
    }
    e->work[e->nwork++] = (pwork){scope, index, (uint8_t)is_flow};
    scope->tokens++;
    return 0;
}

static void activate(chute_engine *e, einst *scope, uint32_t elem);
static void drain(chute_engine *e);
static void enter_body(chute_engine *e, einst *body);
static void child_ended(chute_engine *e, pinst *child);
static int is_inner(const einst *ei);
static void inner_done(chute_engine *e, einst *inner);
static void body_continue(chute_engine *e, einst *body);
static void start_call(chute_engine *e, einst *ei, const model_call *call);
static void open_user_task(chute_engine *e, einst *ei, const model_user_task *ut);
static char *user_task_headers(chute_engine *e, einst *ei, const model_job *mj,
                               const model_user_task *ut);
static void take_flow(chute_engine *e, einst *scope, uint32_t flow);
static void enter(chute_engine *e, einst *ei);
static void complete(chute_engine *e, einst *ei);
static void leave(chute_engine *e, einst *ei);
static void scope_token_done(chute_engine *e, einst *scope);

/* Drains the work queue. Items of a scope that ended meanwhile (a
 * terminate end event, a cancel) are dropped. */
static void run_queue(chute_engine *e)
{
    while (e->work_head < e->nwork) {
        pwork w = e->work[e->work_head++];
        if (w.scope->state != CHUTE_INSTANCE_ACTIVE)
            continue;
        w.scope->tokens--; /* the item's token moves on into what it does */
        if (w.is_flow)
            take_flow(e, w.scope, w.index);
        else
            activate(e, w.scope, w.index);
    }
    e->nwork = e->work_head = 0;
}

/* ---- ending instances ------------------------------------------------------------------ */

static void instance_view(chute_engine *e, pinst *pi, chute_instance_view *v);

static void awaiter_free(chute_awaiter *a)
{
    for (size_t i = 0; i < a->nfetch; i++)
        free(a->fetch[i]);
    free(a->fetch);
    free(a);
}

/* Calls the awaiters of |pi| (which just ended). */
static void notify_awaiters(chute_engine *e, pinst *pi)
{
    chute_awaiter *a = hmap_del(&e->awaiters, pi->key);
    while (a) {
        chute_awaiter *next = a->next;
        chute_instance_view v;
        instance_view(e, pi, &v);
        pbuf b = {0};
        if (a->nfetch > 0 && visible_document(pi->root, a->fetch, a->nfetch, &b) == 0) {
            v.variables = b.p;
            v.variables_len = b.len;
        }
        a->done(a->ctx, &v);
        free(b.p);
        awaiter_free(a);
        a = next;
    }
}

/* The instance's root scope ended with |state|: the instance leaves the
 * engine's maps (it stays on the dirty list until the commit wrote it). */
static void drop_timers(chute_engine *e, einst *ei);

static void end_instance(chute_engine *e, pinst *pi, int state)
{
    int64_t now = engine_now(e);
    drop_timers(e, pi->root); /* its event sub-processes' timers and subscriptions */
    pi->state = (uint8_t)state;
    pi->ended_at = now;
    pi->root->state = (uint8_t)state;
    hmap_del(&e->instances, pi->key);
    hmap_del(&e->elements, pi->root->key);
    if (pi->def->instances > 0)
        pi->def->instances--;
    if (state == CHUTE_INSTANCE_COMPLETED)
        e->stats.instances_completed_total++;
    else
        e->stats.instances_terminated_total++;
    touch(e, pi);
    notify_awaiters(e, pi);
    if (pi->parent_key && state == CHUTE_INSTANCE_COMPLETED)
        child_ended(e, pi);
}

static void drop_subs(chute_engine *e, einst *ei);

/* Cancels the pending timers and the open subscriptions of |ei|. */
static void drop_timers(chute_engine *e, einst *ei)
{
    drop_subs(e, ei);
    for (ptimer *t = ei->timers, *n; t; t = n) {
        n = t->next;
        heap_remove(&e->ptimers, t);
        free(t);
    }
    ei->timers = NULL;
}

/* |ei| leaves the instance (completed or terminated): out of the maps and
 * the list. A scope may still be named by queued work, so it is freed
 * when the command's queue is drained; anything else at once. */
static void release_einst(chute_engine *e, einst *ei, int state)
{
    drop_timers(e, ei);
    if (ei->ut)
        hmap_del(&e->user_tasks, ei->key);
    add_history(ei->pi, ei, state, engine_now(e));
    hmap_del(&e->elements, ei->key);
    unlink_einst(ei->pi, ei);
    ei->state = (uint8_t)state;
    const model_element *el = elem_of(ei);
    if (el && (el->type == MODEL_ELEMENT_SUB_PROCESS ||
               el->type == MODEL_ELEMENT_EVENT_SUB_PROCESS || ei->mi)) {
        if (e->ngrave == e->grave_cap) {
            size_t cap = e->grave_cap ? e->grave_cap * 2 : 16;
            void **g = realloc(e->graveyard, cap * sizeof *g);
            if (!g) {
                /* Leaking one element instance beats a dangling pointer. */
                engine_batch_fail(e, NULL);
                return;
            }
            e->graveyard = g;
            e->grave_cap = cap;
        }
        e->graveyard[e->ngrave++] = ei;
        return;
    }
    einst_free(ei);
}

void process_bury(chute_engine *e)
{
    for (size_t i = 0; i < e->ngrave; i++)
        einst_free(e->graveyard[i]);
    e->ngrave = 0;
}

static void terminate_children(chute_engine *e, einst *scope);

/* Terminates |ei|: its children, its job, its timers and its incident; the
 * token it held in its flow scope is the caller's business. */
static void end_instance(chute_engine *e, pinst *pi, int state);

static void terminate_element(chute_engine *e, einst *ei)
{
    terminate_children(e, ei);
    if (ei->child_key) {
        /* A call activity's instance ends with it. */
        pinst *child = hmap_get(&e->instances, ei->child_key);
        ei->child_key = 0;
        if (child) {
            child->parent_key = 0; /* nothing to report back to */
            terminate_children(e, child->root);
            end_instance(e, child, CHUTE_INSTANCE_TERMINATED);
        }
    }
    if (ei->job_key) {
        chute_error ignore;
        engine_remove_process_job(e, ei->job_key, &ignore);
        ei->job_key = 0;
    }
    close_incident(e, ei);
    release_einst(e, ei, CHUTE_INSTANCE_TERMINATED);
}

/* Terminates every element instance in |scope| (not the scope itself). */
static void terminate_children(chute_engine *e, einst *scope)
{
    pinst *pi = scope->pi;
    size_t n = 0;
    for (einst *ei = pi->head; ei; ei = ei->next)
        n += ei->scope == scope;
    if (n) {
        /* Collected first: terminating one removes its own children from
         * the list as well. */
        einst **kids = malloc(n * sizeof *kids);
        if (!kids) {
            engine_batch_fail(e, NULL);
            return;
        }
        size_t k = 0;
        for (einst *ei = pi->head; ei && k < n; ei = ei->next)
            if (ei->scope == scope)
                kids[k++] = ei;
        for (size_t i = 0; i < k; i++)
            terminate_element(e, kids[i]);
        free(kids);
    }
    if (scope->joins)
        memset(scope->joins, 0, pi->proc->flow_count * sizeof *scope->joins);
    scope->tokens = 0;
}

static void complete(chute_engine *e, einst *ei);

/* A token of |scope| ended; the scope completes when none is left: the
 * process ends, a sub-process completes (its outputs, then its way out). */
static void scope_token_done(chute_engine *e, einst *scope)
{
    assert(scope->tokens > 0);
    if (--scope->tokens > 0)
        return;
    if (!scope->scope)
        end_instance(e, scope->pi, CHUTE_INSTANCE_COMPLETED);
    else
        complete(e, scope);
}

static void child_ended(chute_engine *e, pinst *child);

/* ---- element behaviour ----------------------------------------------------------------- */

/* Sets local variable path |m->target| of |ei| (or, for outputs, of the
 * document propagated from |ei|'s flow scope) to |value|. */
static int set_target(chute_engine *e, einst *ei, const model_mapping *m, const char *value,
                      size_t vlen, int output)
{
    const char *top = m->target_path[0];
    size_t toplen = strlen(top);
    einst *owner;
    if (output) {
        einst *from = ei->scope ? ei->scope : ei;
        owner = propagation_target(from, top, toplen);
    } else {
        owner = ei;
    }
    if (m->target_depth == 1)
        return pscope_set(e, &owner->vars, top, toplen, value, vlen, 0);
    /* A nested target merges into the object the variable holds (a new one
     * when it holds none or something else). */
    pvar *cur = output ? visible(owner, top, toplen) : scope_find(&owner->vars, top, toplen);
    json_t *root = cur ? json_loadb(cur->value, cur->value_len, JSON_DECODE_ANY, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        root = json_object();
    }
    json_t *val = json_loadb(value, vlen, JSON_DECODE_ANY, NULL);
    if (!val) /* an integer past 64 bits */
        val = json_loadb(value, vlen, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    if (!root || !val) {
        json_decref(root);
        json_decref(val);
        return CHUTE_ENOMEM;
    }
    json_t *obj = root;
    for (uint32_t d = 1; d + 1 < m->target_depth; d++) {
        json_t *next = json_object_get(obj, m->target_path[d]);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(obj, m->target_path[d], next);
        }
        obj = next;
    }
    json_object_set_new(obj, m->target_path[m->target_depth - 1], val);
    char *text = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(root);
    if (!text)
        return CHUTE_ENOMEM;
    int rc = pscope_set(e, &owner->vars, top, toplen, text, strlen(text), 0);
    free(text);
    return rc;
}

/* Runs the mappings |ms| of |ei|; 0, or -1 after raising an incident. */
static int run_mappings(chute_engine *e, einst *ei, const model_mapping *ms, uint32_t n,
                        int output)
{
    for (uint32_t i = 0; i < n; i++) {
        const model_mapping *m = &ms[i];
        char *val = NULL;
        size_t vlen = 0;
        feel_error fe = {0};
        if (!m->source) {
            val = strdup("null");
            vlen = 4;
        } else if (eval_expr(e, ei, m->source, &val, &vlen, &fe) != 0) {
            raise_incident(e, ei, output ? STAGE_COMPLETE : STAGE_ACTIVATE,
                           CHUTE_INCIDENT_IO_MAPPING_ERROR,
                           "Failed to evaluate the %s mapping of '%s' ('%s'): %s",
                           output ? "output" : "input", m->target, m->source->text, fe.message);
            return -1;
        }
        int rc = val ? set_target(e, ei, m, val, vlen, output) : CHUTE_ENOMEM;
        free(val);
        if (rc != 0) {
            engine_batch_fail(e, NULL);
            return -1;
        }
    }
    touch(e, ei->pi);
    return 0;
}

/* Evaluates a job type or a retries value. */
static int eval_job_field(chute_engine *e, einst *ei, const model_expr *x, const char *what,
                          int want_number, char **text_out, int32_t *num_out)
{
    char *val = NULL;
    size_t vlen = 0;
    feel_error fe = {0};
    if (eval_expr(e, ei, x, &val, &vlen, &fe) != 0) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                       "Expected result of the expression '%s' to be '%s', but it failed: %s",
                       x->text, want_number ? "NUMBER" : "STRING", fe.message);
        return -1;
    }
    const char *kind = feel_type_of(val, vlen);
    json_t *j = json_loadb(val, vlen, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    int ok = 0;
    if (want_number && json_is_number(j)) {
        double d = json_number_value(j);
        if (d >= -2147483648.0 && d <= 2147483647.0) {
            *num_out = (int32_t)d;
            ok = 1;
        }
    } else if (!want_number && json_is_string(j)) {
        *text_out = strdup(json_string_value(j));
        ok = *text_out != NULL;
    }
    json_decref(j);
    free(val);
    if (!ok) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                       "Expected result of the expression '%s' to be '%s', but was '%s'.",
                       x->text, want_number ? "NUMBER" : "STRING", kind);
        return -1;
    }
    (void)what;
    return 0;
}

/* Creates the job of a job worker task. */
static void create_job(chute_engine *e, einst *ei, const model_job *mj)
{
    char *type = NULL;
    int32_t retries = mj->static_retries;
    if (mj->type->is_static) {
        type = strdup(mj->type->text);
        if (!type) {
            engine_batch_fail(e, NULL);
            return;
        }
    } else if (eval_job_field(e, ei, mj->type, "type", 0, &type, NULL) != 0) {
        return;
    }
    if (retries < 0 && eval_job_field(e, ei, mj->retries, "retries", 1, NULL, &retries) != 0) {
        free(type);
        return;
    }
    const model_element *el = elem_of(ei);
    char *ut_headers = NULL;
    if (el->user_task && !(ut_headers = user_task_headers(e, ei, mj, el->user_task))) {
        free(type);
        return;
    }
    chute_job_spec spec = {
        .type = type,
        .headers = ut_headers ? ut_headers : mj->headers_json,
        .headers_len = ut_headers ? strlen(ut_headers) : mj->headers_json_len,
        .retries = retries,
        .process =
            {
                .process_instance_key = ei->pi->key,
                .process_definition_key = ei->pi->def->key,
                .process_definition_version = ei->pi->def->version,
                .element_instance_key = ei->key,
                .bpmn_process_id = ei->pi->def->bpmn_process_id,
                .element_id = el->id,
            },
    };
    chute_error err;
    int64_t key = 0;
    int rc = engine_create_process_job(e, &spec, retries, &key, &err);
    free(type);
    free(ut_headers);
    if (rc == CHUTE_EINVAL) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR, "%s",
                       err.message);
        return;
    }
    if (rc != 0) {
        engine_batch_fail(e, &err);
        return;
    }
    ei->job_key = key;
    touch(e, ei->pi);
}

/* ---- event sub-processes ---------------------------------------------------------------- */

/* Non-zero when |event| is the start event of an event sub-process. */
static int is_esp_start(const model_process *p, uint32_t event)
{
    const model_element *ev = &p->elements[event];
    return ev->type == MODEL_ELEMENT_START_EVENT && ev->scope != MODEL_NONE &&
           p->elements[ev->scope].type == MODEL_ELEMENT_EVENT_SUB_PROCESS;
}

/* The event sub-processes of scope |s| (the root or a sub-process). */
static const uint32_t *esps_of(const einst *s, uint32_t *n)
{
    const model_process *p = s->pi->proc;
    if (s->elem == MODEL_NONE) {
        *n = p->esp_count;
        return p->esps;
    }
    if (s->mi) { /* a multi-instance body holds no event sub-processes */
        *n = 0;
        return NULL;
    }
    const model_element *el = &p->elements[s->elem];
    *n = el->type == MODEL_ELEMENT_SUB_PROCESS ? el->esp_count : 0;
    return el->esps;
}

static int arm_timer(chute_engine *e, einst *ei, uint32_t event);
static int open_sub(chute_engine *e, einst *ei, uint32_t event);

/* Arms the timer and message starts of the event sub-processes of scope
 * |s| (error starts need nothing until an error is thrown). */
static int arm_esps(chute_engine *e, einst *s)
{
    uint32_t n;
    const uint32_t *esps = esps_of(s, &n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t start = s->pi->proc->elements[esps[i]].sub_start;
        if (start == MODEL_NONE)
            continue;
        model_event_type ev = s->pi->proc->elements[start].event;
        int rc = ev == MODEL_EVENT_TIMER     ? arm_timer(e, s, start)
                 : ev == MODEL_EVENT_MESSAGE ? open_sub(e, s, start)
                                             : 0;
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void terminate_children(chute_engine *e, einst *scope);
static int apply_document(chute_engine *e, einst *ei, const char *doc, size_t len, int local);
static void sub_unindex(chute_engine *e, psub *x);

/* Closes the timers and subscriptions of |s| that start its event
 * sub-processes (its boundary events, if it has any, stay). */
static void drop_esp_waits(chute_engine *e, einst *s)
{
    const model_process *p = s->pi->proc;
    for (ptimer **pp = &s->timers; *pp;) {
        ptimer *t = *pp;
        if (is_esp_start(p, t->event)) {
            *pp = t->next;
            heap_remove(&e->ptimers, t);
            free(t);
        } else {
            pp = &t->next;
        }
    }
    for (psub **pp = &s->subs; *pp;) {
        psub *x = *pp;
        if (is_esp_start(p, x->event)) {
            *pp = x->next;
            sub_unindex(e, x);
            psub_free(x);
        } else {
            pp = &x->next;
        }
    }
}

/* The start event |start| of an event sub-process of scope |s| occurred:
 * an interrupting one ends every other token of the scope first. The
 * event sub-process runs as a sub-process whose token starts at |start|. */
static void trigger_esp(chute_engine *e, einst *s, uint32_t start, const char *vars, size_t len)
{
    const model_process *p = s->pi->proc;
    const model_element *sev = &p->elements[start];
    uint32_t esp = sev->scope;
    if (sev->interrupting) {
        terminate_children(e, s);
        drop_esp_waits(e, s); /* the scope's other event sub-processes close too */
    }
    einst *ei = einst_new(e, s->pi, s, esp);
    if (!ei) {
        engine_batch_fail(e, NULL);
        return;
    }
    s->tokens++;
    touch(e, s->pi);
    if (!jdoc_blank(vars, len) && apply_document(e, ei, vars, len, sev->output_count > 0) != 0) {
        engine_batch_fail(e, NULL);
        return;
    }
    queue_work(e, ei, start, 0);
}

/* ---- timers --------------------------------------------------------------------------- */

static int timer_before(const void *a, const void *b)
{
    const ptimer *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due;
    return x->owner->key < y->owner->key;
}

static uint32_t *timer_pos(void *t)
{
    return &((ptimer *)t)->heap_pos;
}

static int msg_before(const void *a, const void *b);
static uint32_t *msg_pos(void *m);

static int dtimer_before(const void *a, const void *b)
{
    const dtimer *x = a, *y = b;
    return x->due != y->due ? x->due < y->due : x->def_key < y->def_key;
}

static uint32_t *dtimer_pos(void *t)
{
    return &((dtimer *)t)->heap_pos;
}

void process_init(chute_engine *e)
{
    heap_init(&e->ptimers, timer_before, timer_pos);
    heap_init(&e->dtimers, dtimer_before, dtimer_pos);
    hmap_init(&e->subs);
    hmap_init(&e->user_tasks);
}

int process_timer_add(chute_engine *e, ptimer *t)
{
    if (heap_push(&e->ptimers, t) != 0)
        return CHUTE_ENOMEM;
    t->next = t->owner->timers;
    t->owner->timers = t;
    return 0;
}

int64_t process_next_message_expiry(const chute_engine *e);

int64_t process_next_due(const chute_engine *e)
{
    const ptimer *t = heap_top(&e->ptimers);
    int64_t due = t ? t->due : INT64_MAX;
    const dtimer *dt = heap_top(&e->dtimers);
    if (dt && dt->due < due)
        due = dt->due;
    int64_t m = process_next_message_expiry(e);
    return m < due ? m : due;
}

/* Evaluates the timer of event |event| seen from |ei| and schedules it;
 * 0, or -1 after raising an incident on |ei|. */
static int arm_timer(chute_engine *e, einst *ei, uint32_t event)
{
    const model_element *ev = &ei->pi->proc->elements[event];
    char *text = NULL;
    size_t len = 0;
    feel_error fe = {0};
    if (ev->timer->is_static) {
        text = strdup(ev->timer->text);
        len = ev->timer->len;
    } else {
        char *val = NULL;
        size_t vlen = 0;
        if (eval_expr(e, ei, ev->timer, &val, &vlen, &fe) != 0) {
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Failed to evaluate the timer of '%s' ('%s'): %s", ev->id,
                           ev->timer->text, fe.message);
            return -1;
        }
        json_t *j = json_loadb(val, vlen, JSON_DECODE_ANY, NULL);
        if (json_is_string(j)) {
            text = strdup(json_string_value(j));
            len = text ? strlen(text) : 0;
        }
        json_decref(j);
        if (!text) {
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Expected result of the expression '%s' to be a duration, a date or a "
                           "cycle, but was '%s'.",
                           ev->timer->text, feel_type_of(val, vlen));
            free(val);
            return -1;
        }
        free(val);
    }
    ptimer *t = calloc(1, sizeof *t);
    if (!t || !text) {
        free(t);
        free(text);
        engine_batch_fail(e, NULL);
        return -1;
    }
    int64_t now = engine_now(e);
    int ok;
    if (ev->timer_kind == MODEL_TIMER_DURATION) {
        iso_duration d;
        ok = iso_parse_duration(text, len, &d) == 0;
        t->due = ok ? iso_add(now, &d) : 0;
    } else if (ev->timer_kind == MODEL_TIMER_DATE) {
        ok = iso_parse_datetime(text, len, &t->due) == 0;
    } else {
        iso_cycle c;
        iso_cron cr;
        ok = iso_parse_cycle(text, len, &c) == 0;
        if (ok) {
            t->every_ms = c.every.ms;
            t->every_months = c.every.months;
            t->due = c.start && c.start > now ? c.start : iso_add(now, &c.every);
            t->repeat = c.repeat < 0 ? -1 : c.repeat - 1;
            if (c.repeat == 0)
                ok = 0;
        } else if (iso_parse_cron(text, len, &cr) == 0 && ev->timer->is_static) {
            /* A cron cycle: every_months -1 marks it; the next firing comes
             * from the model's text each time. */
            t->every_months = -1;
            t->repeat = -1;
            t->due = iso_cron_next(&cr, now);
            ok = t->due >= 0;
        }
    }
    if (!ok) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                       "Expected the timer of '%s' to be a valid ISO 8601 %s, but it is '%s'",
                       ev->id,
                       ev->timer_kind == MODEL_TIMER_DURATION ? "duration"
                       : ev->timer_kind == MODEL_TIMER_DATE   ? "date and time"
                                                              : "repeating interval",
                       text);
        free(t);
        free(text);
        return -1;
    }
    free(text);
    t->event = event;
    t->owner = ei;
    if (process_timer_add(e, t) != 0) {
        free(t);
        engine_batch_fail(e, NULL);
        return -1;
    }
    touch(e, ei->pi);
    return 0;
}

static int open_sub(chute_engine *e, einst *ei, uint32_t event);

/* The firing after |due| of the cycle of timer event |ev|: its interval
 * (|every_months| and |every_ms|), or its cron expression when
 * |every_months| is -1. -1 when there is none. */
static int64_t next_cycle_due(const model_element *ev, int64_t due, int64_t every_ms,
                              int64_t every_months)
{
    if (every_months == -1) {
        iso_cron cr;
        if (iso_parse_cron(ev->timer->text, ev->timer->len, &cr) != 0)
            return -1;
        return iso_cron_next(&cr, due);
    }
    iso_duration every = {every_months, every_ms};
    return iso_add(due, &every);
}

/* Schedules the timers and opens the subscriptions of the boundary events
 * of activity |ei|. */
static int arm_boundary_timers(chute_engine *e, einst *ei)
{
    const model_element *el = elem_of(ei);
    for (uint32_t i = 0; i < el->boundary_count; i++) {
        const model_element *b = &ei->pi->proc->elements[el->boundaries[i]];
        int rc = b->event == MODEL_EVENT_TIMER     ? arm_timer(e, ei, el->boundaries[i])
                 : b->event == MODEL_EVENT_MESSAGE ? open_sub(e, ei, el->boundaries[i])
                                                   : 0;
        if (rc != 0) {
            drop_timers(e, ei);
            return -1;
        }
    }
    return 0;
}

/* Arms what follows an event-based gateway: the timers and subscriptions
 * of the events its flows lead to. */
static int arm_event_gateway(chute_engine *e, einst *gw)
{
    const model_element *el = elem_of(gw);
    const model_process *p = gw->pi->proc;
    for (uint32_t i = 0; i < el->outgoing_count; i++) {
        uint32_t t = p->flows[el->outgoing[i]].target;
        const model_element *te = &p->elements[t];
        int rc = te->event == MODEL_EVENT_TIMER ? arm_timer(e, gw, t) : open_sub(e, gw, t);
        if (rc != 0) {
            drop_timers(e, gw);
            return -1;
        }
    }
    return 0;
}

/* The event |event| after event-based gateway |gw| occurred: the gateway
 * leaves by the flow to it, the others are closed, and the event completes
 * at once with |vars|. */
static void route_event_gateway(chute_engine *e, einst *gw, uint32_t event, const char *vars,
                                size_t len)
{
    einst *scope = gw->scope;
    pinst *pi = gw->pi;
    drop_timers(e, gw);
    release_einst(e, gw, CHUTE_INSTANCE_COMPLETED);
    /* The gateway's token moves to the event. */
    einst *ei = einst_new(e, pi, scope, event);
    if (!ei) {
        engine_batch_fail(e, NULL);
        return;
    }
    touch(e, pi);
    const model_element *ev = &pi->proc->elements[event];
    if (!jdoc_blank(vars, len) && apply_document(e, ei, vars, len, ev->output_count > 0) != 0) {
        engine_batch_fail(e, NULL);
        return;
    }
    if (ev->input_count && run_mappings(e, ei, ev->inputs, ev->input_count, 0) != 0)
        return;
    complete(e, ei);
}

static void activate(chute_engine *e, einst *scope, uint32_t elem);

/* Boundary event |boundary| of activity |act| occurs: an interrupting one
 * terminates the activity and takes its token; a non-interrupting one adds
 * a token. |vars| (may be blank) go to the boundary event's instance. */
static void trigger_boundary(chute_engine *e, einst *act, uint32_t boundary, const char *vars,
                             size_t len)
{
    const model_element *b = &act->pi->proc->elements[boundary];
    einst *scope = act->scope;
    if (b->interrupting) {
        terminate_element(e, act);
        scope->tokens--; /* the activity's token moves to the boundary event */
    }
    if (!jdoc_blank(vars, len)) {
        /* The error's variables are the boundary event's: entered through
         * its own element instance. */
        einst *ei = einst_new(e, scope->pi, scope, boundary);
        if (!ei) {
            engine_batch_fail(e, NULL);
            return;
        }
        scope->tokens++;
        if (apply_document(e, ei, vars, len, b->output_count > 0) != 0)
            engine_batch_fail(e, NULL);
        enter(e, ei);
        return;
    }
    activate(e, scope, boundary);
}

/* Where an error is caught: an error boundary event of an activity, or
 * the error start of an event sub-process of a scope. */
typedef struct error_catch {
    einst *act;        /* with |boundary| */
    uint32_t boundary;
    einst *scope;      /* with |start| */
    uint32_t start;
} error_catch;

/* Among |n| candidates (element indices of error events, |code_of| their
 * codes), the exact match of |code| first, then one without a code. */
static uint32_t pick_error(const model_process *p, const uint32_t *events, uint32_t n,
                           const char *code)
{
    uint32_t any = MODEL_NONE;
    for (uint32_t i = 0; i < n; i++) {
        const model_element *b = &p->elements[events[i]];
        if (b->event != MODEL_EVENT_ERROR)
            continue;
        if (!b->error_code) {
            if (any == MODEL_NONE)
                any = events[i];
        } else if (code && strcmp(b->error_code, code) == 0) {
            return events[i];
        }
    }
    return any;
}

/* The catch of error |code| thrown at |from|: from the element outwards,
 * each level's boundary events first, then the event sub-processes of its
 * flow scope. 1 when found. */
static int find_error_catch(einst *from, const char *code, error_catch *c)
{
    memset(c, 0, sizeof *c);
    const model_process *p = from->pi->proc;
    for (einst *a = from; a; a = a->scope) {
        if (a->elem != MODEL_NONE && !is_inner(a)) {
            const model_element *el = elem_of(a);
            uint32_t b = pick_error(p, el->boundaries, el->boundary_count, code);
            if (b != MODEL_NONE) {
                c->act = a;
                c->boundary = b;
                return 1;
            }
        }
        einst *s = a->scope;
        if (!s)
            break;
        uint32_t n;
        const uint32_t *esps = esps_of(s, &n);
        uint32_t starts[64], k = 0;
        for (uint32_t i = 0; i < n && k < 64; i++)
            if (p->elements[esps[i]].sub_start != MODEL_NONE)
                starts[k++] = p->elements[esps[i]].sub_start;
        uint32_t st = pick_error(p, starts, k, code);
        if (st != MODEL_NONE) {
            c->scope = s;
            c->start = st;
            return 1;
        }
    }
    return 0;
}

/* Throws error |code| at |at| (a job's element, or an error end event). 1
 * when caught. */
static int throw_from(chute_engine *e, einst *at, const char *code, const char *vars,
                      size_t len)
{
    const model_element *el = elem_of(at);
    error_catch c;
    if (!find_error_catch(at, code, &c))
        return 0;
    if (el->type == MODEL_ELEMENT_END_EVENT && c.act != at) {
        /* The end event itself is done; what it ends goes with the catch. */
        release_einst(e, at, CHUTE_INSTANCE_COMPLETED);
    }
    touch(e, (c.act ? c.act : c.scope)->pi);
    if (c.act)
        trigger_boundary(e, c.act, c.boundary, vars, len);
    else
        trigger_esp(e, c.scope, c.start, vars, len);
    return 1;
}

int process_catch_error(chute_engine *e, const job *j, const char *code, const char *vars,
                        size_t len)
{
    job_process *p = job_process_of(j);
    einst *ei = p ? hmap_get(&e->elements, p->ref.element_instance_key) : NULL;
    if (!ei || ei->job_key != j->key)
        return 0;
    error_catch c;
    if (!find_error_catch(ei, code, &c))
        return 0;
    throw_from(e, ei, code, vars, len);
    drain(e);
    return 1;
}

static void expire_messages(chute_engine *e, int64_t now);

static void fire_timer_starts(chute_engine *e, int64_t now);

void process_tick(chute_engine *e, int64_t now)
{
    expire_messages(e, now);
    fire_timer_starts(e, now);
    ptimer *t;
    while ((t = heap_top(&e->ptimers)) && t->due <= now) {
        heap_pop(&e->ptimers);
        einst *owner = t->owner;
        /* Out of the owner's list. */
        for (ptimer **pp = &owner->timers; *pp; pp = &(*pp)->next) {
            if (*pp == t) {
                *pp = t->next;
                break;
            }
        }
        t->next = NULL;
        touch(e, owner->pi);
        if (t->event == owner->elem) {
            /* A timer catch event: it completes. */
            free(t);
            drop_timers(e, owner);
            complete(e, owner);
        } else if (is_esp_start(owner->pi->proc, t->event)) {
            uint32_t event = t->event;
            const model_element *sev = &owner->pi->proc->elements[event];
            if (!sev->interrupting && t->repeat != 0) {
                t->due = next_cycle_due(&owner->pi->proc->elements[t->event], t->due,
                                        t->every_ms, t->every_months);
                if (t->repeat > 0)
                    t->repeat--;
                if (t->due < 0) {
                    free(t); /* a cron with no firing left */
                } else if (process_timer_add(e, t) != 0) {
                    free(t);
                    engine_batch_fail(e, NULL);
                }
            } else {
                free(t);
            }
            trigger_esp(e, owner, event, NULL, 0);
        } else if (owner->elem != MODEL_NONE &&
                   elem_of(owner)->type == MODEL_ELEMENT_EVENT_BASED_GATEWAY) {
            uint32_t event = t->event;
            free(t);
            route_event_gateway(e, owner, event, NULL, 0);
        } else {
            const model_element *b = &owner->pi->proc->elements[t->event];
            uint32_t event = t->event;
            if (!b->interrupting && t->repeat != 0) {
                /* The next cycle counts from this one's due time: no drift. */
                t->due = next_cycle_due(&owner->pi->proc->elements[t->event], t->due,
                                        t->every_ms, t->every_months);
                if (t->repeat > 0)
                    t->repeat--;
                if (t->due < 0) {
                    free(t); /* a cron with no firing left */
                } else if (process_timer_add(e, t) != 0) {
                    free(t);
                    engine_batch_fail(e, NULL);
                }
            } else {
                free(t);
            }
            trigger_boundary(e, owner, event, NULL, 0);
        }
        drain(e);
    }
}

/* A user task value as text: a string as it is, other JSON as written;
 * NULL for none. Lists (candidate groups and users) become a JSON array
 * of strings: a list expression's result as it is, a static "a, b" split
 * at commas. 0, or -1 after an incident. */
static int user_task_value(chute_engine *e, einst *ei, const model_expr *x, int as_list,
                           char **out)
{
    *out = NULL;
    if (!x)
        return 0;
    if (x->is_static) {
        if (!as_list) {
            *out = strdup(x->text);
            return *out ? 0 : (engine_batch_fail(e, NULL), -1);
        }
        json_t *arr = json_array();
        const char *p = x->text;
        while (arr && *p) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            const char *q = p;
            size_t m = n;
            while (m && (*q == ' ' || *q == '\t'))
                q++, m--;
            while (m && (q[m - 1] == ' ' || q[m - 1] == '\t'))
                m--;
            if (m)
                json_array_append_new(arr, json_stringn(q, m));
            p += n + (c ? 1 : 0);
        }
        *out = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        return *out ? 0 : (engine_batch_fail(e, NULL), -1);
    }
    char *val = NULL;
    size_t vlen = 0;
    feel_error fe = {0};
    if (eval_expr(e, ei, x, &val, &vlen, &fe) != 0) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                       "Failed to evaluate the expression '%s': %s", x->text, fe.message);
        return -1;
    }
    json_t *j = json_loadb(val, vlen, JSON_DECODE_ANY, NULL);
    int ok = 1;
    if (json_is_null(j)) {
        *out = NULL;
    } else if (as_list) {
        ok = json_is_array(j);
        *out = ok ? strdup(val) : NULL;
    } else if (json_is_string(j)) {
        *out = strdup(json_string_value(j));
    } else {
        *out = strdup(val);
    }
    json_decref(j);
    if (!ok) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                       "Expected result of the expression '%s' to be 'ARRAY', but was '%s'.",
                       x->text, feel_type_of(val, vlen));
        free(val);
        return -1;
    }
    free(val);
    return 0;
}

/* The assignment of user task |ut| evaluated in |ei| into |*t|. */
static int eval_user_task(chute_engine *e, einst *ei, const model_user_task *ut, putask *t)
{
    char *prio = NULL;
    if (user_task_value(e, ei, ut->assignee, 0, &t->assignee) != 0 ||
        user_task_value(e, ei, ut->candidate_groups, 1, &t->candidate_groups) != 0 ||
        user_task_value(e, ei, ut->candidate_users, 1, &t->candidate_users) != 0 ||
        user_task_value(e, ei, ut->form_key, 0, &t->form_key) != 0 ||
        user_task_value(e, ei, ut->due_date, 0, &t->due_date) != 0 ||
        user_task_value(e, ei, ut->follow_up_date, 0, &t->follow_up_date) != 0 ||
        user_task_value(e, ei, ut->priority, 0, &prio) != 0)
        return -1;
    t->priority = 50;
    if (prio) {
        char *end;
        long v = strtol(prio, &end, 10);
        int bad = *end || end == prio || v < 0 || v > 100;
        free(prio);
        if (bad) {
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Expected the priority of user task '%s' to be a whole number from 0 "
                           "to 100",
                           elem_of(ei)->id);
            return -1;
        }
        t->priority = (int32_t)v;
    }
    return 0;
}

static void open_user_task(chute_engine *e, einst *ei, const model_user_task *ut)
{
    putask *t = calloc(1, sizeof *t);
    if (!t) {
        engine_batch_fail(e, NULL);
        return;
    }
    if (eval_user_task(e, ei, ut, t) != 0) {
        putask_free(t);
        return;
    }
    ei->ut = t;
    if (hmap_put(&e->user_tasks, ei->key, ei) != 0)
        engine_batch_fail(e, NULL);
    touch(e, ei->pi);
}

/* The headers of a job-based user task: the model's, with the assignment
 * in Zeebe's header names. NULL after an incident. */
static char *user_task_headers(chute_engine *e, einst *ei, const model_job *mj,
                               const model_user_task *ut)
{
    putask t = {0};
    if (eval_user_task(e, ei, ut, &t) != 0)
        return NULL;
    json_t *h = json_loadb(mj->headers_json, mj->headers_json_len, 0, NULL);
    if (!h)
        h = json_object();
    const struct {
        const char *name;
        const char *value;
    } fields[] = {
        {"io.camunda.zeebe:assignee", t.assignee},
        {"io.camunda.zeebe:candidateGroups", t.candidate_groups},
        {"io.camunda.zeebe:candidateUsers", t.candidate_users},
        {"io.camunda.zeebe:formKey", t.form_key},
        {"io.camunda.zeebe:dueDate", t.due_date},
        {"io.camunda.zeebe:followUpDate", t.follow_up_date},
    };
    for (size_t i = 0; h && i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value)
            json_object_set_new(h, fields[i].name, json_string(fields[i].value));
    char prio[16];
    snprintf(prio, sizeof prio, "%d", t.priority);
    if (h && ut->priority)
        json_object_set_new(h, "io.camunda.zeebe:priority", json_string(prio));
    char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    free(t.assignee);
    free(t.candidate_groups);
    free(t.candidate_users);
    free(t.form_key);
    free(t.due_date);
    free(t.follow_up_date);
    if (!text)
        engine_batch_fail(e, NULL);
    return text;
}

static char *eval_key(chute_engine *e, einst *ei, const model_expr *x, const char **kind,
                      feel_error *fe);

/* A business rule task evaluates its decision; the result goes to its
 * result variable as a script's does. */
static void call_decision(chute_engine *e, einst *ei, const model_decision *md)
{
    feel_error fe = {0};
    const char *kind;
    char *id = eval_key(e, ei, md->decision_id, &kind, &fe);
    if (!id) {
        if (kind || fe.message[0])
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Expected result of the expression '%s' to be 'STRING', but %s%s",
                           md->decision_id->text, kind ? "was " : "it failed: ",
                           kind ? kind : fe.message);
        else
            engine_batch_fail(e, NULL);
        return;
    }
    const decdef *d = decide_find(e, id);
    if (!d) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_CALLED_DECISION_ERROR,
                       "Expected to evaluate decision '%s', but no decision found for id '%s'",
                       id, id);
        free(id);
        return;
    }
    free(id);
    feel_scope fs = {ei};
    feel_env env = {feel_lookup, &fs, engine_now(e)};
    char *val = NULL;
    size_t vlen = 0;
    char msg[1024];
    if (decide_eval(d, &env, &val, &vlen, msg, sizeof msg) != 0) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_DECISION_EVALUATION_ERROR, "%s",
                       msg);
        return;
    }
    const model_element *el = elem_of(ei);
    const char *rv = md->result_variable;
    int rc = el->output_count ? pscope_set(e, &ei->vars, rv, strlen(rv), val, vlen, 0)
                              : pscope_set(e, &propagation_target(ei, rv, strlen(rv))->vars, rv,
                                           strlen(rv), val, vlen, 0);
    free(val);
    if (rc != 0) {
        engine_batch_fail(e, NULL);
        return;
    }
    touch(e, ei->pi);
    complete(e, ei);
}

/* What the element does once its inputs are mapped. */
static void enter(chute_engine *e, einst *ei)
{
    const model_element *el = elem_of(ei);
    ei->stage = STAGE_ACTIVATE;
    if (el->input_count && run_mappings(e, ei, el->inputs, el->input_count, 0) != 0)
        return;
    if (el->boundary_count && !is_inner(ei) && !ei->timers && !ei->subs &&
        arm_boundary_timers(e, ei) != 0)
        return;
    if (el->call) {
        if (!ei->child_key)
            start_call(e, ei, el->call);
        return; /* its instance's end moves on */
    }
    if (el->type == MODEL_ELEMENT_SUB_PROCESS) {
        /* The sub-process is a scope now: its start event's token. */
        if (el->esp_count && arm_esps(e, ei) != 0)
            return;
        queue_work(e, ei, el->sub_start, 0);
        touch(e, ei->pi);
        return;
    }
    if (el->type == MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT && el->event == MODEL_EVENT_TIMER) {
        if (!ei->timers)
            arm_timer(e, ei, ei->elem);
        return; /* the timer completes it */
    }
    if ((el->type == MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT && el->event == MODEL_EVENT_MESSAGE) ||
        el->type == MODEL_ELEMENT_RECEIVE_TASK) {
        int has = 0;
        for (psub *x = ei->subs; x && !has; x = x->next)
            has = x->event == ei->elem;
        if (!has)
            open_sub(e, ei, ei->elem);
        return; /* the message completes it */
    }
    if (el->type == MODEL_ELEMENT_EVENT_BASED_GATEWAY) {
        if (!ei->timers && !ei->subs)
            arm_event_gateway(e, ei);
        return; /* the first event routes it */
    }
    if (el->user_task && el->user_task->native) {
        if (!ei->ut)
            open_user_task(e, ei, el->user_task);
        return; /* its completion moves on */
    }
    if (el->job) {
        create_job(e, ei, el->job);
        return;
    }
    if (el->decision) {
        call_decision(e, ei, el->decision);
        return;
    }
    if (el->script) {
        char *val = NULL;
        size_t vlen = 0;
        feel_error fe = {0};
        if (eval_expr(e, ei, el->script->expression, &val, &vlen, &fe) != 0) {
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Failed to evaluate the script expression '%s': %s",
                           el->script->expression->text, fe.message);
            return;
        }
        const char *rv = el->script->result_variable;
        int rc = el->output_count
                     ? pscope_set(e, &ei->vars, rv, strlen(rv), val, vlen, 0)
                     : pscope_set(e, &propagation_target(ei, rv, strlen(rv))->vars, rv,
                                  strlen(rv), val, vlen, 0);
        free(val);
        if (rc != 0) {
            engine_batch_fail(e, NULL);
            return;
        }
        touch(e, ei->pi);
    }
    complete(e, ei);
}

static void activate(chute_engine *e, einst *scope, uint32_t elem)
{
    pinst *pi = scope->pi;
    if (++e->steps > CHUTE_MAX_STEPS_PER_COMMAND) {
        /* A model that loops without waiting: park the token on an
         * incident rather than hang the engine. */
        einst *ei = einst_new(e, pi, scope, elem);
        if (!ei) {
            engine_batch_fail(e, NULL);
            return;
        }
        scope->tokens++;
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_UNKNOWN,
                       "The process instance moved more than %d tokens in one command without "
                       "waiting; the token stopped at element '%s' (resolve the incident to go "
                       "on)",
                       CHUTE_MAX_STEPS_PER_COMMAND, pi->proc->elements[elem].id);
        return;
    }
    einst *ei = einst_new(e, pi, scope, elem);
    if (!ei) {
        engine_batch_fail(e, NULL);
        return;
    }
    scope->tokens++;
    touch(e, pi);
    if (pi->proc->elements[elem].multi) {
        /* The multi-instance body; its inner instances come from it. */
        enter_body(e, ei);
        return;
    }
    enter(e, ei);
}

/* Output mappings (or the propagation of what the element produced), then
 * the way out. */
static void complete(chute_engine *e, einst *ei)
{
    const model_element *el = elem_of(ei);
    ei->stage = STAGE_COMPLETE;
    drop_timers(e, ei);
    if (!ei->mi && el->output_count && run_mappings(e, ei, el->outputs, el->output_count, 1) != 0)
        return;
    if (is_inner(ei)) {
        inner_done(e, ei);
        return;
    }
    leave(e, ei);
}

/* Chooses the flows out of a gateway; 0, or -1 after raising an incident.
 * |taken| gets the chosen flow indices. */
static int choose_flows(chute_engine *e, einst *ei, uint32_t *taken, uint32_t *ntaken)
{
    const model_element *el = elem_of(ei);
    const model_process *p = ei->pi->proc;
    int exclusive = el->type == MODEL_ELEMENT_EXCLUSIVE_GATEWAY;
    *ntaken = 0;
    for (uint32_t i = 0; i < el->outgoing_count; i++) {
        uint32_t f = el->outgoing[i];
        if (f == el->default_flow)
            continue;
        const model_flow *fl = &p->flows[f];
        int yes = 1;
        if (fl->condition) {
            feel_scope fs = {ei};
            feel_env env = {feel_lookup, &fs, engine_now(e)};
            feel_error fe = {0};
            yes = fl->condition->parsed ? feel_eval_condition(fl->condition->parsed, &env, &fe)
                                        : 0;
            if (yes < 0) {
                raise_incident(e, ei, STAGE_LEAVE, CHUTE_INCIDENT_CONDITION_ERROR, "%s",
                               fe.message);
                return -1;
            }
        }
        if (yes) {
            taken[(*ntaken)++] = f;
            if (exclusive)
                return 0;
        }
    }
    if (*ntaken == 0 && el->default_flow != MODEL_NONE) {
        taken[(*ntaken)++] = el->default_flow;
        return 0;
    }
    if (*ntaken == 0 && el->outgoing_count > 0) {
        raise_incident(e, ei, STAGE_LEAVE, CHUTE_INCIDENT_CONDITION_ERROR,
                       "Expected at least one condition to evaluate to true, or to have a "
                       "default flow");
        return -1;
    }
    return 0;
}

/* The element is done: it leaves, and its token takes the outgoing flows
 * (or ends, or ends the scope). */
static void leave(chute_engine *e, einst *ei)
{
    const model_element *el = elem_of(ei);
    einst *scope = ei->scope;
    ei->stage = STAGE_LEAVE;
    uint32_t stack_taken[16], *taken = stack_taken, ntaken = 0;
    if (el->outgoing_count > 16) {
        taken = malloc(el->outgoing_count * sizeof *taken);
        if (!taken) {
            engine_batch_fail(e, NULL);
            return;
        }
    }
    if (el->type == MODEL_ELEMENT_EXCLUSIVE_GATEWAY || el->type == MODEL_ELEMENT_INCLUSIVE_GATEWAY) {
        if (choose_flows(e, ei, taken, &ntaken) != 0)
            goto out;
    } else {
        for (uint32_t i = 0; i < el->outgoing_count; i++)
            taken[ntaken++] = el->outgoing[i];
    }
    pinst *pi = ei->pi;
    int terminate = el->type == MODEL_ELEMENT_END_EVENT && el->event == MODEL_EVENT_TERMINATE;
    if (el->type == MODEL_ELEMENT_END_EVENT && el->event == MODEL_EVENT_ERROR) {
        if (throw_from(e, ei, el->error_code, NULL, 0))
            goto out; /* caught: the catching boundary event took over */
        raise_incident(e, ei, STAGE_LEAVE, CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT,
                       "Expected to throw an error event with the code '%s', but it was not "
                       "caught. No error events are available in the scope.",
                       el->error_code);
        goto out;
    }
    release_einst(e, ei, CHUTE_INSTANCE_COMPLETED);
    touch(e, pi);
    if (terminate) {
        /* Every other token of the scope ends, and so does the scope. */
        terminate_children(e, scope);
        scope->tokens = 1;
        scope_token_done(e, scope);
        goto out;
    }
    for (uint32_t i = 0; i < ntaken; i++)
        if (queue_work(e, scope, taken[i], 1) != 0)
            goto out;
    scope_token_done(e, scope);
out:
    if (taken != stack_taken)
        free(taken);
}

static void take_flow(chute_engine *e, einst *scope, uint32_t flow)
{
    const model_process *p = scope->pi->proc;
    uint32_t target = p->flows[flow].target;
    const model_element *t = &p->elements[target];
    if (t->type == MODEL_ELEMENT_PARALLEL_GATEWAY && t->incoming_count > 1) {
        if (!scope->joins) {
            scope->joins = calloc(p->flow_count, sizeof *scope->joins);
            if (!scope->joins) {
                engine_batch_fail(e, NULL);
                return;
            }
        }
        scope->joins[flow]++;
        scope->tokens++; /* the token waits at the join */
        touch(e, scope->pi);
        for (uint32_t i = 0; i < t->incoming_count; i++)
            if (scope->joins[t->incoming[i]] == 0)
                return;
        /* Every incoming flow has a token: they merge into one. */
        for (uint32_t i = 0; i < t->incoming_count; i++)
            scope->joins[t->incoming[i]]--;
        scope->tokens -= t->incoming_count;
    }
    activate(e, scope, target);
}

/* ---- commands -------------------------------------------------------------------------- */

static void instance_view(chute_engine *e, pinst *pi, chute_instance_view *v)
{
    memset(v, 0, sizeof *v);
    v->key = pi->key;
    v->process_definition_key = pi->def->key;
    v->bpmn_process_id = pi->def->bpmn_process_id;
    v->version = pi->def->version;
    v->state = (chute_instance_state)pi->state;
    v->started_at = pi->started_at;
    v->ended_at = pi->ended_at;
    v->has_incident = process_has_incident(e, pi);
    v->process_name = pi->proc && pi->proc->name ? pi->proc->name : "";
    v->parent_process_instance_key = pi->parent_pi_key;
    v->parent_element_instance_key = pi->parent_pi_key ? pi->parent_key : 0;
    pbuf b = {0};
    if (visible_document(pi->root, NULL, 0, &b) == 0) {
        job_scratch_add(e, b.p);
        v->variables = b.p;
        v->variables_len = b.len;
    } else {
        free(b.p);
        v->variables = "{}";
        v->variables_len = 2;
    }
}

int process_has_incident(chute_engine *e, const pinst *pi)
{
    for (einst *ei = pi->head; ei; ei = ei->next) {
        if (ei->incident_key)
            return 1;
        if (ei->job_key) {
            job *j = hmap_get(&e->jobs, ei->job_key);
            if (j && job_incident_key(j))
                return 1;
        }
    }
    return 0;
}

static int add_awaiter(chute_engine *e, pinst *pi, const chute_instance_await *await,
                       chute_awaiter **out)
{
    chute_awaiter *a = calloc(1, sizeof *a);
    if (!a)
        return CHUTE_ENOMEM;
    a->instance_key = pi->key;
    a->done = await->done;
    a->ctx = await->ctx;
    if (await->fetch_variables_count) {
        a->fetch = calloc(await->fetch_variables_count, sizeof *a->fetch);
        if (!a->fetch)
            goto oom;
        for (size_t i = 0; i < await->fetch_variables_count; i++) {
            a->fetch[i] = strdup(await->fetch_variables[i] ? await->fetch_variables[i] : "");
            if (!a->fetch[i])
                goto oom;
            a->nfetch++;
        }
    }
    a->next = hmap_get(&e->awaiters, pi->key);
    if (hmap_put(&e->awaiters, pi->key, a) != 0)
        goto oom;
    *out = a;
    return 0;
oom:
    awaiter_free(a);
    return CHUTE_ENOMEM;
}

/* Runs the queued work of a command and forgets its step count. */
static void correlate_new_subs(chute_engine *e);

static void drain(chute_engine *e)
{
    run_queue(e);
    correlate_new_subs(e);
    e->steps = 0;
    process_bury(e);
}

/* Creates an instance of |d| whose token starts at |start| with |vars| in
 * its root scope; NULL with |err| set when memory ran out. The caller
 * drains the queue. */
static pinst *start_instance(chute_engine *e, procdef *d, const model_process *proc,
                             uint32_t start, const char *vars, size_t vlen, const char *ckey,
                             const chute_instance_await *await, chute_awaiter **awaiter,
                             chute_error *err)
{
    pinst *pi = calloc(1, sizeof *pi);
    if (!pi) {
        chute_error_set(err, CHUTE_ENOMEM, "out of memory creating a process instance");
        return NULL;
    }
    pi->def = d;
    pi->proc = proc;
    pi->state = CHUTE_INSTANCE_ACTIVE;
    pi->started_at = engine_now(e);
    einst *root = calloc(1, sizeof *root);
    if (!root || (ckey && *ckey && !(pi->start_ckey = strdup(ckey)))) {
        free(root);
        free(pi->start_ckey);
        free(pi);
        chute_error_set(err, CHUTE_ENOMEM, "out of memory creating a process instance");
        return NULL;
    }
    root->key = pi->key = engine_next_key(e);
    root->pi = pi;
    root->elem = MODEL_NONE;
    root->state = CHUTE_INSTANCE_ACTIVE;
    root->started_at = pi->started_at;
    pi->root = root;
    link_einst(pi, root);
    if (hmap_put(&e->instances, pi->key, pi) != 0 ||
        hmap_put(&e->elements, root->key, root) != 0 ||
        (vars && apply_document(e, root, vars, vlen, 1) != 0) ||
        (await && add_awaiter(e, pi, await, awaiter) != 0)) {
        hmap_del(&e->instances, pi->key);
        hmap_del(&e->elements, root->key);
        pinst_free(pi);
        if (awaiter)
            *awaiter = NULL;
        chute_error_set(err, CHUTE_ENOMEM, "out of memory creating a process instance");
        return NULL;
    }
    d->instances++;
    e->stats.instances_created_total++;
    touch(e, pi);
    /* The start event's token: the root holds it until it moves on. */
    queue_work(e, root, start, 0);
    if (proc->esp_count)
        arm_esps(e, root); /* a failure raised an incident on the root */
    return pi;
}

int chute_engine_create_instance(chute_engine *e, const chute_instance_spec *spec,
                                 const chute_instance_await *await, chute_instance_view *out,
                                 chute_awaiter **awaiter, chute_error *err)
{
    if (awaiter)
        *awaiter = NULL;
    procdef *d;
    if (spec->process_definition_key > 0) {
        d = hmap_get(&e->defs_by_key, spec->process_definition_key);
        if (!d)
            return chute_error_set(err, CHUTE_ENOTFOUND,
                                   "Expected to find process definition with key '%lld', but "
                                   "none found",
                                   (long long)spec->process_definition_key);
    } else {
        if (!spec->bpmn_process_id || !*spec->bpmn_process_id)
            return chute_error_set(err, CHUTE_EINVAL,
                                   "Expected either a bpmnProcessId or a processDefinitionKey, "
                                   "but none given");
        d = deploy_find(e, spec->bpmn_process_id, spec->version);
        if (!d) {
            chute_process_view pv;
            return chute_engine_find_process(e, spec->bpmn_process_id, spec->version, &pv, err);
        }
    }
    const model_process *proc = deploy_process_of(d->model);
    if (!proc)
        return chute_error_set(err, CHUTE_ESTATE,
                               "Expected to create an instance of process definition '%lld', "
                               "but its model could not be read",
                               (long long)d->key);
    size_t vlen = spec->variables && !spec->variables_len ? strlen(spec->variables)
                                                           : spec->variables_len;
    int rc = engine_check_variables(e, spec->variables, vlen, err);
    if (rc != 0)
        return rc;
    if ((rc = engine_check_room(e, err)) != 0)
        return rc;

    if (proc->start == MODEL_NONE)
        return chute_error_set(err, CHUTE_ESTATE,
                               "Expected to create instance of process with none start event, but "
                               "there is no such event");
    pinst *pi = start_instance(e, d, proc, proc->start, spec->variables, vlen, NULL, await,
                               awaiter, err);
    if (!pi)
        return err->code;
    drain(e);
    if (pi->state != CHUTE_INSTANCE_ACTIVE && awaiter)
        *awaiter = NULL; /* it was called inside this call */
    instance_view(e, pi, out);
    return 0;
}

void chute_engine_await_remove(chute_engine *e, chute_awaiter *a)
{
    if (!a)
        return;
    chute_awaiter *head = hmap_get(&e->awaiters, a->instance_key);
    if (head == a) {
        /* Deleting first leaves room for the put: it needs no growth, so
         * it cannot fail. */
        hmap_del(&e->awaiters, a->instance_key);
        if (a->next)
            hmap_put(&e->awaiters, a->instance_key, a->next);
    } else {
        for (chute_awaiter *p = head; p; p = p->next) {
            if (p->next == a) {
                p->next = a->next;
                break;
            }
        }
    }
    awaiter_free(a);
}

void process_free_awaiters(chute_engine *e)
{
    if (e->awaiters.slots) {
        for (size_t i = 0; i <= e->awaiters.mask; i++) {
            if (!e->awaiters.slots[i].key)
                continue;
            chute_awaiter *a = e->awaiters.slots[i].value, *n;
            for (; a; a = n) {
                n = a->next;
                awaiter_free(a);
            }
        }
    }
    hmap_free(&e->awaiters);
    hmap_init(&e->awaiters);
}

int chute_engine_cancel_instance(chute_engine *e, int64_t key, chute_error *err)
{
    pinst *pi = hmap_get(&e->instances, key);
    if (!pi)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Command 'CANCEL' rejected with code 'NOT_FOUND': Expected to "
                               "cancel a process instance with key '%lld', but no such process "
                               "was found",
                               (long long)key);
    if (pi->parent_key) {
        einst *parent = hmap_get(&e->elements, pi->parent_key);
        return chute_error_set(err, CHUTE_ESTATE,
                               "Command 'CANCEL' rejected with code 'INVALID_STATE': Expected to "
                               "cancel a process instance with key '%lld', but it is created by "
                               "a parent process instance (%lld); cancel the root process "
                               "instance instead",
                               (long long)key, parent ? (long long)parent->pi->key : 0LL);
    }
    terminate_children(e, pi->root);
    end_instance(e, pi, CHUTE_INSTANCE_TERMINATED);
    return 0;
}

int chute_engine_set_variables(chute_engine *e, int64_t scope_key, const char *vars, size_t len,
                               int local, int64_t *key_out, chute_error *err)
{
    einst *ei = hmap_get(&e->elements, scope_key);
    if (!ei)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Command 'UPDATE' rejected with code 'NOT_FOUND': Expected to "
                               "update variables for element with key '%lld', but no such "
                               "element was found",
                               (long long)scope_key);
    if (vars && !len)
        len = strlen(vars);
    if (jdoc_blank(vars, len))
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to set variables, but the document is empty; give a "
                               "JSON object");
    int rc = engine_check_variables(e, vars, len, err);
    if (rc != 0)
        return rc;
    if (apply_document(e, ei, vars, len, local) != 0) {
        engine_batch_fail(e, NULL);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory setting variables");
    }
    if (key_out)
        *key_out = engine_next_key(e);
    return 0;
}

int chute_engine_delete_resource(chute_engine *e, int64_t key, chute_error *err)
{
    procdef *d = hmap_get(&e->defs_by_key, key);
    if (!d)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Command 'DELETE' rejected with code 'NOT_FOUND': Expected to "
                               "delete resource but no resource found with key `%lld`",
                               (long long)key);
    if (d->instances > 0)
        return chute_error_set(err, CHUTE_ESTATE,
                               "Command 'DELETE' rejected with code 'INVALID_STATE': Expected to "
                               "delete process definition with key '%lld', but it has %u active "
                               "process instance%s; cancel or finish them first",
                               (long long)key, d->instances, d->instances == 1 ? "" : "s");
    process_timer_starts_cancel(e, key);
    return deploy_delete(e, d, err);
}

/* ---- the job side ------------------------------------------------------------------------ */

void process_job_completed(chute_engine *e, int64_t element_key, const char *vars, size_t len)
{
    einst *ei = hmap_get(&e->elements, element_key);
    if (!ei || ei->elem == MODEL_NONE)
        return; /* a standalone job that carries process fields of its own */
    const model_element *el = elem_of(ei);
    ei->job_key = 0;
    if (!jdoc_blank(vars, len) &&
        apply_document(e, ei, vars, len, el->output_count > 0) != 0) {
        engine_batch_fail(e, NULL);
        return;
    }
    touch(e, ei->pi);
    complete(e, ei);
    drain(e);
}

void process_job_variables(chute_engine *e, int64_t element_key, const char *vars, size_t len)
{
    einst *ei = hmap_get(&e->elements, element_key);
    if (!ei)
        return;
    if (!jdoc_blank(vars, len) && apply_document(e, ei, vars, len, 1) != 0)
        engine_batch_fail(e, NULL);
    touch(e, ei->pi);
}

void process_touch_job(chute_engine *e, const job *j)
{
    job_process *p = job_process_of(j);
    einst *ei = p ? hmap_get(&e->elements, p->ref.element_instance_key) : NULL;
    if (ei)
        touch(e, ei->pi);
}

int process_job_view_variables(chute_engine *e, int64_t element_key, char *const *fetch,
                               size_t nfetch, char **out, size_t *out_len)
{
    einst *ei = hmap_get(&e->elements, element_key);
    pbuf b = {0};
    int rc;
    if (ei) {
        rc = visible_document(ei, fetch, nfetch, &b);
    } else {
        pb_put(&b, "{}", 2);
        rc = b.oom ? CHUTE_ENOMEM : 0;
    }
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

int process_is_job_of_element(chute_engine *e, const job *j)
{
    job_process *p = job_process_of(j);
    einst *ei = p ? hmap_get(&e->elements, p->ref.element_instance_key) : NULL;
    return ei && ei->job_key == j->key;
}

int process_resolve_incident(chute_engine *e, int64_t key, int *rc, chute_error *err)
{
    einst *ei = hmap_get(&e->el_incidents, key);
    if (!ei)
        return 0;
    (void)err;
    int stage = ei->stage;
    close_incident(e, ei);
    touch(e, ei->pi);
    const model_element *iel = elem_of(ei);
    if (iel && iel->multi && !is_inner(ei)) {
        /* A multi-instance body: its collection, or its completion
         * condition, once more. */
        if (stage == STAGE_ACTIVATE)
            enter_body(e, ei);
        else if (ei->mi)
            body_continue(e, ei);
    } else if (stage == STAGE_ACTIVATE) {
        enter(e, ei);
    } else if (stage == STAGE_COMPLETE) {
        complete(e, ei);
    } else {
        leave(e, ei);
    }
    drain(e);
    *rc = 0;
    return 1;
}

void process_job_incident_resolved(chute_engine *e, const job *j, int64_t incident_key,
                                   int type, const char *message, int64_t created_at)
{
    job_process *p = job_process_of(j);
    einst *ei = p ? hmap_get(&e->elements, p->ref.element_instance_key) : NULL;
    if (!ei)
        return;
    pinc inc = {incident_key, ei->key, j->key, created_at, ei->elem, (uint8_t)type,
                strdup(message ? message : "")};
    if (inc.message)
        keep_resolved(ei->pi, &inc);
    touch(e, ei->pi);
}

/* ---- persistence --------------------------------------------------------------------------- */

void process_flush(chute_engine *e)
{
    pinst *pi = e->dirty_head, *next;
    e->dirty_head = NULL;
    for (; pi; pi = next) {
        next = pi->dirty_next;
        pi->dirty = 0;
        pi->dirty_next = NULL;
        int ended = pi->state != CHUTE_INSTANCE_ACTIVE;
        if (ended && e->opts.retention_ms < 0) {
            engine_delete_instance_row(e, pi->key);
        } else {
            uint8_t *data = NULL;
            size_t len = 0;
            if (pstate_encode(pi, &data, &len) != 0) {
                engine_batch_fail(e, NULL);
            } else {
                store_instance r = {
                    .key = pi->key,
                    .definition_key = pi->def->key,
                    .bpmn_process_id = pi->def->bpmn_process_id,
                    .version = pi->def->version,
                    .state = pi->state,
                    .has_incident = ended ? 0 : process_has_incident(e, pi),
                    .started_at = pi->started_at,
                    .ended_at = pi->ended_at,
                    .data = data,
                    .len = len,
                };
                engine_persist_instance(e, &r);
                free(data);
            }
            if (ended && e->opts.retention_ms > 0 &&
                pi->ended_at + e->opts.retention_ms < e->next_instance_sweep)
                e->next_instance_sweep = pi->ended_at + e->opts.retention_ms;
        }
        if (ended)
            pinst_free(pi);
    }
}

void process_clear(chute_engine *e)
{
    /* The heap and the index point into the element instances freed
     * below; the timer starts come back from the store with them. */
    dtimer *dt;
    while ((dt = heap_pop(&e->dtimers)) != NULL)
        free(dt);
    heap_free(&e->dtimers);
    heap_free(&e->ptimers);
    hmap_free(&e->subs);
    hmap_free(&e->user_tasks);
    process_init(e);
    e->nnew_subs = 0;
    process_bury(e);
    /* Ended instances are only on the dirty list; active ones are in the
     * map (and maybe on the list too). */
    for (pinst *pi = e->dirty_head, *next; pi; pi = next) {
        next = pi->dirty_next;
        if (pi->state != CHUTE_INSTANCE_ACTIVE)
            pinst_free(pi);
    }
    e->dirty_head = NULL;
    if (e->instances.slots) {
        for (size_t i = 0; i <= e->instances.mask; i++)
            if (e->instances.slots[i].key)
                pinst_free(e->instances.slots[i].value);
    }
    hmap_free(&e->instances);
    hmap_free(&e->elements);
    hmap_free(&e->el_incidents);
    hmap_init(&e->instances);
    hmap_init(&e->elements);
    hmap_init(&e->el_incidents);
    for (size_t i = 0; i < e->ndefs; i++)
        e->defs[i]->instances = 0;
    free(e->work);
    e->work = NULL;
    e->nwork = e->work_head = e->work_cap = 0;
}

/* Puts a decoded active instance into the engine's maps. */
static int attach_loaded(chute_engine *e, pinst *pi)
{
    if (hmap_put(&e->instances, pi->key, pi) != 0)
        return CHUTE_ENOMEM;
    for (einst *ei = pi->head; ei; ei = ei->next) {
        if (hmap_put(&e->elements, ei->key, ei) != 0)
            return CHUTE_ENOMEM;
        for (ptimer *t = ei->timers; t; t = t->next)
            if (heap_push(&e->ptimers, t) != 0)
                return CHUTE_ENOMEM;
        if (process_index_subs(e, ei) != 0)
            return CHUTE_ENOMEM;
        if (ei->ut && hmap_put(&e->user_tasks, ei->key, ei) != 0)
            return CHUTE_ENOMEM;
        if (ei->incident_key && hmap_put(&e->el_incidents, ei->incident_key, ei) != 0)
            return CHUTE_ENOMEM;
    }
    pi->def->instances++;
    return 0;
}

static int load_instance(void *ctx, const store_instance *r)
{
    chute_engine *e = ctx;
    procdef *d = hmap_get(&e->defs_by_key, r->definition_key);
    if (!d || !deploy_process_of(d->model)) {
        chute_log_emit(e->opts.log, e->opts.log_ctx, CHUTE_LOG_ERROR,
                       "%s: process instance %lld runs definition %lld, which is %s; left out",
                       e->db_path, (long long)r->key, (long long)r->definition_key,
                       d ? "not readable" : "missing");
        return 0;
    }
    chute_error err;
    pinst *pi = pstate_decode(e, r->key, d, r->data, r->len, &err);
    if (!pi) {
        if (err.code == CHUTE_ENOMEM)
            return CHUTE_ENOMEM;
        chute_log_emit(e->opts.log, e->opts.log_ctx, CHUTE_LOG_ERROR,
                       "%s: process instance %lld cannot be read (%s); left out", e->db_path,
                       (long long)r->key, err.message);
        return 0;
    }
    pi->started_at = r->started_at;
    int rc = attach_loaded(e, pi);
    if (rc != 0) {
        hmap_del(&e->instances, pi->key);
        pinst_free(pi);
    }
    return rc;
}

int process_load(chute_engine *e, chute_error *err)
{
    int rc = store_load_instances(e->st, load_instance, e, err);
    if (rc == CHUTE_ENOMEM)
        return chute_error_set(err, rc, "%s: out of memory while loading process instances",
                               e->db_path);
    e->next_instance_sweep = INT64_MAX;
    if (rc == 0 && e->opts.retention_ms > 0) {
        int64_t oldest = store_oldest_ended_instance(e->st);
        if (oldest != INT64_MAX)
            e->next_instance_sweep = oldest + e->opts.retention_ms;
    }
    return rc;
}

void process_sweep(chute_engine *e, int64_t now)
{
    if (e->next_instance_sweep > now || e->opts.retention_ms <= 0)
        return;
    int deleted = 0;
    if (engine_sweep_instance_rows(e, now - e->opts.retention_ms, &deleted) != 0)
        return;
    int64_t oldest = store_oldest_ended_instance(e->st);
    e->next_instance_sweep = oldest == INT64_MAX ? INT64_MAX : oldest + e->opts.retention_ms;
    if (e->next_instance_sweep <= now)
        e->next_instance_sweep = now + 1;
}

/* ---- reads ----------------------------------------------------------------------------------- */

/* An instance to read: the active one in memory, or an ended one rebuilt
 * from its row (|*owned| then says the caller frees it). */
typedef struct read_ctx {
    chute_engine *e;
    pinst *pi;
    store_instance row;
    chute_error *err;
} read_ctx;

static int read_row(void *ctx, const store_instance *r)
{
    read_ctx *rc = ctx;
    procdef *d = hmap_get(&rc->e->defs_by_key, r->definition_key);
    rc->pi = pstate_decode(rc->e, r->key, d, r->data, r->len, rc->err);
    if (!rc->pi)
        return rc->err->code ? rc->err->code : CHUTE_ECORRUPT;
    rc->pi->state = (uint8_t)r->state;
    rc->pi->started_at = r->started_at;
    rc->pi->ended_at = r->ended_at;
    return 0;
}

static int find_instance(chute_engine *e, int64_t key, pinst **out, int *owned, chute_error *err)
{
    *owned = 0;
    pinst *pi = hmap_get(&e->instances, key);
    if (pi) {
        *out = pi;
        return 0;
    }
    process_flush(e); /* ended instances of the open batch reach the store */
    read_ctx rc = {e, NULL, {0}, err};
    int r = store_get_instance(e->st, key, read_row, &rc, err);
    if (r == CHUTE_ENOTFOUND)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to find process instance with key '%lld', but none "
                               "found",
                               (long long)key);
    if (r != 0)
        return r;
    *out = rc.pi;
    *owned = 1;
    return 0;
}

int chute_engine_get_instance(chute_engine *e, int64_t key, chute_instance_view *out,
                              chute_error *err)
{
    job_scratch_release(e);
    pinst *pi;
    int owned;
    int rc = find_instance(e, key, &pi, &owned, err);
    if (rc != 0)
        return rc;
    if (!pi->def) {
        pinst_free(pi);
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to find process instance with key '%lld', but its "
                               "process definition was deleted",
                               (long long)key);
    }
    instance_view(e, pi, out);
    if (owned)
        pinst_free(pi);
    return 0;
}

typedef struct list_ctx {
    chute_engine *e;
    chute_instance_visit_fn fn;
    void *ctx;
} list_ctx;

static int list_row(void *ctx, const store_instance *r)
{
    list_ctx *lc = ctx;
    chute_engine *e = lc->e;
    chute_instance_view v;
    pinst *live = hmap_get(&e->instances, r->key);
    if (live) {
        instance_view(e, live, &v);
        return lc->fn(lc->ctx, &v);
    }
    memset(&v, 0, sizeof v);
    v.key = r->key;
    v.process_definition_key = r->definition_key;
    v.bpmn_process_id = r->bpmn_process_id;
    v.version = r->version;
    v.state = (chute_instance_state)r->state;
    v.has_incident = r->has_incident;
    v.started_at = r->started_at;
    v.ended_at = r->ended_at;
    procdef *d = hmap_get(&e->defs_by_key, r->definition_key);
    const model_process *proc = d ? deploy_process_of(d->model) : NULL;
    v.process_name = proc && proc->name ? proc->name : "";
    chute_error err;
    pinst *pi = pstate_decode(e, r->key, NULL, r->data, r->len, &err);
    if (pi) {
        v.parent_process_instance_key = pi->parent_pi_key;
        v.parent_element_instance_key = pi->parent_pi_key ? pi->parent_key : 0;
    }
    pbuf b = {0};
    if (pi && visible_document(pi->root, NULL, 0, &b) == 0) {
        v.variables = b.p;
        v.variables_len = b.len;
    } else {
        v.variables = "{}";
        v.variables_len = 2;
    }
    int rc = lc->fn(lc->ctx, &v);
    free(b.p);
    pinst_free(pi);
    return rc;
}

int chute_engine_list_instances(chute_engine *e, const chute_instance_filter *f, size_t offset,
                                size_t limit, chute_instance_visit_fn fn, void *ctx)
{
    job_scratch_release(e);
    process_flush(e);
    store_instance_filter sf = {0};
    if (f) {
        sf.key = f->key;
        sf.definition_key = f->process_definition_key;
        sf.bpmn_process_id = f->bpmn_process_id && *f->bpmn_process_id ? f->bpmn_process_id
                                                                        : NULL;
        sf.state = f->state;
        sf.has_incident = f->has_incident;
    }
    list_ctx lc = {e, fn, ctx};
    chute_error err;
    int rc = store_list_instances(e->st, &sf, offset, limit, list_row, &lc, &err);
    return rc > 0 ? 0 : rc;
}

static void element_view(const pinst *pi, int64_t key, uint32_t elem, int64_t scope_key,
                         int state, int64_t started, int64_t ended, chute_element_view *v)
{
    memset(v, 0, sizeof *v);
    v->key = key;
    v->process_instance_key = pi->key;
    v->process_definition_key = pi->def ? pi->def->key : 0;
    v->bpmn_process_id = pi->def ? pi->def->bpmn_process_id : "";
    v->state = (chute_instance_state)state;
    v->flow_scope_key = scope_key;
    v->started_at = started;
    v->ended_at = ended;
    if (elem == MODEL_NONE) {
        v->element_id = v->bpmn_process_id;
        v->element_name = pi->proc && pi->proc->name ? pi->proc->name : "";
        v->element_type = "PROCESS";
    } else if (pi->proc && elem < pi->proc->element_count) {
        const model_element *el = &pi->proc->elements[elem];
        v->element_id = el->id;
        v->element_name = el->name ? el->name : "";
        v->element_type = model_element_type_name(el->type);
    } else {
        v->element_id = v->element_name = v->element_type = "";
    }
}

static int el_cmp(const void *a, const void *b)
{
    int64_t x = ((const chute_element_view *)a)->key, y = ((const chute_element_view *)b)->key;
    return x < y ? -1 : x > y;
}

int chute_engine_list_elements(chute_engine *e, int64_t key, chute_element_visit_fn fn,
                               void *ctx, chute_error *err)
{
    job_scratch_release(e);
    pinst *pi;
    int owned;
    int rc = find_instance(e, key, &pi, &owned, err);
    if (rc != 0)
        return rc;
    /* Ended and active element instances in key order, which is the order
     * of activation. */
    size_t n = pi->nhist;
    for (einst *a = pi->head; a; a = a->next)
        n++;
    chute_element_view *vs = malloc((n ? n : 1) * sizeof *vs);
    if (!vs) {
        if (owned)
            pinst_free(pi);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory listing element instances");
    }
    size_t k = 0;
    for (einst *a = pi->head; a; a = a->next) {
        chute_element_view *v = &vs[k++];
        int root = a == pi->root;
        element_view(pi, a->key, a->elem, a->scope ? a->scope->key : 0,
                     root ? pi->state : a->state, a->started_at, root ? pi->ended_at : 0, v);
        v->job_key = a->job_key;
        v->incident_key = a->incident_key;
        if (!v->incident_key && a->job_key) {
            job *j = hmap_get(&e->jobs, a->job_key);
            v->incident_key = j ? job_incident_key(j) : 0;
        }
    }
    for (uint32_t h = 0; h < pi->nhist; h++) {
        const phist *x = &pi->hist[h];
        element_view(pi, x->key, x->elem, x->scope_key, x->state, x->started_at, x->ended_at,
                     &vs[k++]);
    }
    if (k > 1)
        qsort(vs, k, sizeof *vs, el_cmp);
    for (size_t i = 0; i < k && rc == 0; i++)
        rc = fn(ctx, &vs[i]);
    free(vs);
    if (owned)
        pinst_free(pi);
    return rc > 0 ? 0 : rc;
}

int chute_engine_list_variables(chute_engine *e, int64_t key, int64_t scope_key,
                                chute_variable_visit_fn fn, void *ctx, chute_error *err)
{
    job_scratch_release(e);
    pinst *pi;
    int owned;
    int rc = find_instance(e, key, &pi, &owned, err);
    if (rc != 0)
        return rc;
    for (einst *ei = pi->head; ei && rc == 0; ei = ei->next) {
        if (scope_key && ei->key != scope_key)
            continue;
        for (uint32_t i = 0; i < ei->vars.n && rc == 0; i++) {
            const pvar *pv = &ei->vars.v[i];
            chute_variable_view v = {pv->key, pv->name, pv->value, pv->value_len, ei->key,
                                     pi->key};
            rc = fn(ctx, &v);
        }
    }
    if (owned)
        pinst_free(pi);
    return rc > 0 ? 0 : rc;
}

/* ---- incidents ----------------------------------------------------------------------------- */

static int inc_cmp(const void *a, const void *b)
{
    int64_t x = ((const chute_incident_view *)a)->key, y = ((const chute_incident_view *)b)->key;
    return x < y ? -1 : x > y;
}

typedef struct inc_list {
    chute_incident_view *v;
    size_t n, cap;
} inc_list;

static int inc_push(inc_list *l, const chute_incident_view *v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        chute_incident_view *n = realloc(l->v, cap * sizeof *n);
        if (!n)
            return CHUTE_ENOMEM;
        l->v = n;
        l->cap = cap;
    }
    l->v[l->n++] = *v;
    return 0;
}

static void job_incident_view(const job *j, chute_incident_view *v)
{
    memset(v, 0, sizeof *v);
    v->key = job_incident_key(j);
    v->type = (chute_incident_type)j->ext->incident_type;
    v->message = j->ext->error_message ? j->ext->error_message : "";
    v->created_at = j->created_at;
    v->job_key = j->key;
    job_process *p = j->ext->process;
    v->bpmn_process_id = "";
    v->element_id = "";
    if (p) {
        v->process_instance_key = p->ref.process_instance_key;
        v->process_definition_key = p->ref.process_definition_key;
        v->bpmn_process_id = p->ref.bpmn_process_id ? p->ref.bpmn_process_id : "";
        v->element_id = p->ref.element_id ? p->ref.element_id : "";
        v->element_instance_key = p->ref.element_instance_key;
    }
}

static void el_incident_view(const einst *ei, chute_incident_view *v)
{
    const pinst *pi = ei->pi;
    memset(v, 0, sizeof *v);
    v->key = ei->incident_key;
    v->type = (chute_incident_type)ei->incident_type;
    v->message = ei->incident_msg ? ei->incident_msg : "";
    v->created_at = ei->incident_at;
    v->process_instance_key = pi->key;
    v->process_definition_key = pi->def ? pi->def->key : 0;
    v->bpmn_process_id = pi->def ? pi->def->bpmn_process_id : "";
    v->element_id = pi->proc && ei->elem < pi->proc->element_count
                        ? pi->proc->elements[ei->elem].id
                        : "";
    v->element_instance_key = ei->key;
}

/* The incidents of one instance: open ones of its elements and jobs, and
 * the resolved ones it keeps. */
static int instance_incidents(chute_engine *e, pinst *pi, inc_list *l)
{
    chute_incident_view v;
    for (einst *ei = pi->head; ei; ei = ei->next) {
        if (ei->incident_key) {
            el_incident_view(ei, &v);
            if (inc_push(l, &v) != 0)
                return CHUTE_ENOMEM;
        }
        job *j = ei->job_key ? hmap_get(&e->jobs, ei->job_key) : NULL;
        if (j && job_incident_key(j)) {
            job_incident_view(j, &v);
            if (inc_push(l, &v) != 0)
                return CHUTE_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < pi->nincs; i++) {
        const pinc *x = &pi->incs[i];
        memset(&v, 0, sizeof v);
        v.key = x->key;
        v.type = (chute_incident_type)x->type;
        v.message = x->message;
        v.resolved = 1;
        v.created_at = x->created_at;
        v.job_key = x->job_key;
        v.process_instance_key = pi->key;
        v.process_definition_key = pi->def ? pi->def->key : 0;
        v.bpmn_process_id = pi->def ? pi->def->bpmn_process_id : "";
        v.element_id = pi->proc && x->elem < pi->proc->element_count
                           ? pi->proc->elements[x->elem].id
                           : "";
        v.element_instance_key = x->element_key;
        if (inc_push(l, &v) != 0)
            return CHUTE_ENOMEM;
    }
    return 0;
}

int chute_engine_search_incidents(chute_engine *e, int64_t process_instance_key,
                                  chute_incident_visit_fn fn, void *ctx)
{
    job_scratch_release(e);
    inc_list l = {0};
    int rc = 0;
    pinst *owned_pi = NULL;
    if (process_instance_key) {
        pinst *pi;
        int owned;
        chute_error err;
        rc = find_instance(e, process_instance_key, &pi, &owned, &err);
        if (rc == CHUTE_ENOTFOUND)
            return 0;
        if (rc != 0)
            return rc;
        if (owned)
            owned_pi = pi;
        rc = instance_incidents(e, pi, &l);
    } else {
        if (e->incidents.slots) {
            for (size_t i = 0; rc == 0 && i <= e->incidents.mask; i++) {
                if (!e->incidents.slots[i].key)
                    continue;
                chute_incident_view v;
                job_incident_view(e->incidents.slots[i].value, &v);
                rc = inc_push(&l, &v);
            }
        }
        if (e->el_incidents.slots) {
            for (size_t i = 0; rc == 0 && i <= e->el_incidents.mask; i++) {
                if (!e->el_incidents.slots[i].key)
                    continue;
                chute_incident_view v;
                el_incident_view(e->el_incidents.slots[i].value, &v);
                rc = inc_push(&l, &v);
            }
        }
    }
    if (rc == 0) {
        if (l.n > 1) /* qsort's array may not be NULL, even for 0 entries */
            qsort(l.v, l.n, sizeof *l.v, inc_cmp);
        for (size_t i = 0; i < l.n; i++)
            if (fn(ctx, &l.v[i]) != 0)
                break;
    }
    free(l.v);
    pinst_free(owned_pi);
    return rc;
}

int chute_engine_element_instance(chute_engine *e, int64_t key, int64_t *process_instance_key,
                                  chute_error *err)
{
    einst *ei = hmap_get(&e->elements, key);
    if (!ei)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to find an active element instance with key '%lld', but "
                               "none found",
                               (long long)key);
    *process_instance_key = ei->pi->key;
    return 0;
}


/* ---- messages ----------------------------------------------------------------------- */

static int64_t msg_hash(const char *name, const char *ckey)
{
    static const unsigned char sep = 0xff; /* a byte no UTF-8 text holds */
    uint64_t h = chute_fnv1a(CHUTE_FNV1A_INIT, name, strlen(name));
    h = chute_fnv1a(h, &sep, 1);
    h = chute_fnv1a(h, ckey ? ckey : "", ckey ? strlen(ckey) : 0);
    return (int64_t)(h & (uint64_t)INT64_MAX) | 1; /* hmap keys are never 0 */
}

static void sub_unindex(chute_engine *e, psub *x)
{
    if (x->hprev) {
        x->hprev->hnext = x->hnext;
    } else {
        /* The head of its chain: the map points at the next one. Deleting
         * first leaves room for the put, which then cannot fail. */
        hmap_del(&e->subs, (int64_t)x->hash);
        if (x->hnext)
            hmap_put(&e->subs, (int64_t)x->hash, x->hnext);
    }
    if (x->hnext)
        x->hnext->hprev = x->hprev;
    x->hprev = x->hnext = NULL;
}

static int sub_index(chute_engine *e, psub *x)
{
    psub *head = hmap_get(&e->subs, (int64_t)x->hash);
    x->hprev = NULL;
    x->hnext = head;
    if (hmap_put(&e->subs, (int64_t)x->hash, x) != 0)
        return CHUTE_ENOMEM;
    if (head)
        head->hprev = x;
    return 0;
}

static void drop_subs(chute_engine *e, einst *ei)
{
    for (psub *x = ei->subs, *n; x; x = n) {
        n = x->next;
        sub_unindex(e, x);
        psub_free(x);
    }
    ei->subs = NULL;
}

int process_index_subs(chute_engine *e, einst *ei)
{
    for (psub *x = ei->subs; x; x = x->next) {
        x->hash = (uint64_t)msg_hash(x->name, x->ckey);
        if (sub_index(e, x) != 0)
            return CHUTE_ENOMEM;
    }
    return 0;
}

/* A message name or correlation key as text: a string as it is, a number
 * in its decimal form. NULL with |*kind| set to what it was otherwise. */
static char *eval_key(chute_engine *e, einst *ei, const model_expr *x, const char **kind,
                      feel_error *fe)
{
    *kind = NULL;
    if (x->is_static)
        return strdup(x->text);
    char *val = NULL;
    size_t vlen = 0;
    if (eval_expr(e, ei, x, &val, &vlen, fe) != 0)
        return NULL;
    json_t *j = json_loadb(val, vlen, JSON_DECODE_ANY, NULL);
    char *out = NULL;
    if (json_is_string(j)) {
        out = strdup(json_string_value(j));
    } else if (json_is_number(j)) {
        out = malloc(vlen + 1); /* FEEL's text of the number, as exact as it computed it */
        if (out) {
            memcpy(out, val, vlen);
            out[vlen] = '\0';
        }
    } else {
        *kind = feel_type_of(val, vlen);
    }
    json_decref(j);
    free(val);
    return out;
}

/* Opens the subscription of message event |event| for |ei| (its own, a
 * boundary's, or one after a gateway); 0, or -1 after an incident. */
static int open_sub(chute_engine *e, einst *ei, uint32_t event)
{
    const model_element *ev = &ei->pi->proc->elements[event];
    feel_error fe = {0};
    const char *kind;
    char *name = eval_key(e, ei, ev->message_name, &kind, &fe);
    if (!name) {
        if (kind || fe.message[0])
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Expected result of the expression '%s' to be 'STRING', but %s%s",
                           ev->message_name->text, kind ? "was " : "it failed: ",
                           kind ? kind : fe.message);
        else
            engine_batch_fail(e, NULL);
        return -1;
    }
    char *ckey = eval_key(e, ei, ev->correlation_key, &kind, &fe);
    if (!ckey) {
        if (kind || fe.message[0])
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Failed to extract the correlation key for '%s': The value must be "
                           "either a string or a number, but was '%s'.",
                           ev->correlation_key->text, kind ? kind : fe.message);
        else
            engine_batch_fail(e, NULL);
        free(name);
        return -1;
    }
    psub *x = calloc(1, sizeof *x);
    if (!x || strlen(name) > CHUTE_MESSAGE_NAME_MAX || strlen(ckey) > CHUTE_CORRELATION_KEY_MAX) {
        int too_long = x != NULL;
        free(x);
        free(name);
        free(ckey);
        if (too_long)
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Expected a message name and correlation key of at most %d bytes",
                           CHUTE_MESSAGE_NAME_MAX);
        else
            engine_batch_fail(e, NULL);
        return -1;
    }
    x->name = name;
    x->ckey = ckey;
    x->hash = (uint64_t)msg_hash(name, ckey);
    x->event = event;
    x->owner = ei;
    x->next = ei->subs;
    ei->subs = x;
    if (sub_index(e, x) != 0) {
        engine_batch_fail(e, NULL);
        return -1;
    }
    /* Checked against the buffered messages once the command's work is
     * done (a message may be waiting already). */
    if (e->nnew_subs == e->new_subs_cap) {
        size_t cap = e->new_subs_cap ? e->new_subs_cap * 2 : 16;
        psub **n = realloc(e->new_subs, cap * sizeof *n);
        if (!n) {
            engine_batch_fail(e, NULL);
            return -1;
        }
        e->new_subs = n;
        e->new_subs_cap = cap;
    }
    e->new_subs[e->nnew_subs++] = x;
    touch(e, ei->pi);
    return 0;
}

/* Message |vars| reached subscription |x|: what its event does. */
static void deliver(chute_engine *e, psub *x, const char *vars, size_t len)
{
    einst *owner = x->owner;
    uint32_t event = x->event;
    const model_element *el = elem_of(owner);
    touch(e, owner->pi);
    if (is_esp_start(owner->pi->proc, event)) {
        trigger_esp(e, owner, event, vars, len);
        return;
    }
    if (event == owner->elem) {
        /* A message catch event or a receive task: it completes. */
        drop_timers(e, owner);
        if (!jdoc_blank(vars, len) &&
            apply_document(e, owner, vars, len, el->output_count > 0) != 0) {
            engine_batch_fail(e, NULL);
            return;
        }
        complete(e, owner);
    } else if (el->type == MODEL_ELEMENT_EVENT_BASED_GATEWAY) {
        route_event_gateway(e, owner, event, vars, len);
    } else {
        trigger_boundary(e, owner, event, vars, len);
    }
}

static int msg_correlated_to(const pmsg *m, const char *bpmn_process_id)
{
    for (uint32_t i = 0; i < m->nprocs; i++)
        if (strcmp(m->procs[i], bpmn_process_id) == 0)
            return 1;
    return 0;
}

static int msg_note_process(pmsg *m, const char *bpmn_process_id)
{
    if (msg_correlated_to(m, bpmn_process_id))
        return 0;
    char **n = realloc(m->procs, (m->nprocs + 1) * sizeof *n);
    if (!n)
        return CHUTE_ENOMEM;
    m->procs = n;
    if (!(m->procs[m->nprocs] = strdup(bpmn_process_id)))
        return CHUTE_ENOMEM;
    m->nprocs++;
    return 0;
}

static void msg_persist(chute_engine *e, const pmsg *m)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < m->nprocs; i++)
        json_array_append_new(arr, json_string(m->procs[i]));
    char *procs = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!procs) {
        engine_batch_fail(e, NULL);
        return;
    }
    store_message r = {m->key, m->name, m->ckey, m->id, m->expires, m->vars, m->vars_len, procs};
    engine_persist_message(e, &r);
    free(procs);
}

static void msg_free(pmsg *m)
{
    for (uint32_t i = 0; i < m->nprocs; i++)
        free(m->procs[i]);
    free(m->procs);
    free(m->name);
    free(m->ckey);
    free(m->id);
    free(m->vars);
    free(m);
}

static void msg_unindex(chute_engine *e, pmsg *m)
{
    if (m->hprev) {
        m->hprev->hnext = m->hnext;
    } else {
        hmap_del(&e->msgs, (int64_t)m->hash);
        if (m->hnext)
            hmap_put(&e->msgs, (int64_t)m->hash, m->hnext);
    }
    if (m->hnext)
        m->hnext->hprev = m->hprev;
    m->hprev = m->hnext = NULL;
}

/* Appends |m| to its chain (oldest first) and the expiry heap. */
static int msg_index(chute_engine *e, pmsg *m)
{
    pmsg *head = hmap_get(&e->msgs, (int64_t)m->hash);
    if (!head) {
        if (hmap_put(&e->msgs, (int64_t)m->hash, m) != 0)
            return CHUTE_ENOMEM;
    } else {
        pmsg *t = head;
        while (t->hnext)
            t = t->hnext;
        t->hnext = m;
        m->hprev = t;
    }
    if (heap_push(&e->msg_expiry, m) != 0) {
        msg_unindex(e, m);
        return CHUTE_ENOMEM;
    }
    return 0;
}

static int msg_before(const void *a, const void *b)
{
    const pmsg *x = a, *y = b;
    return x->expires != y->expires ? x->expires < y->expires : x->key < y->key;
}

static uint32_t *msg_pos(void *m)
{
    return &((pmsg *)m)->heap_pos;
}

/* The new subscriptions of the command meet the buffered messages: each
 * takes the oldest live message of its name and correlation key that has
 * not gone to an instance of its process yet. */
static void correlate_new_subs(chute_engine *e)
{
    int64_t now = engine_now(e);
    while (e->nnew_subs > 0) {
        psub *x = e->new_subs[--e->nnew_subs];
        /* Still open? (its owner may have left meanwhile) */
        int open = 0;
        for (size_t i = 0; !open && e->subs.slots && i == 0; i++) {
            for (psub *c = hmap_get(&e->subs, (int64_t)x->hash); c && !open; c = c->hnext)
                open = c == x;
        }
        if (!open)
            continue;
        const char *pid = x->owner->pi->def->bpmn_process_id;
        for (pmsg *m = hmap_get(&e->msgs, (int64_t)x->hash); m; m = m->hnext) {
            if (m->expires <= now || strcmp(m->name, x->name) != 0 ||
                strcmp(m->ckey, x->ckey) != 0 || msg_correlated_to(m, pid))
                continue;
            if (msg_note_process(m, pid) != 0) {
                engine_batch_fail(e, NULL);
                return;
            }
            msg_persist(e, m);
            deliver(e, x, m->vars, m->vars_len);
            run_queue(e);
            break;
        }
    }
}

typedef struct target {
    int64_t owner_key;
    uint32_t event;
} target;

int chute_engine_publish_message(chute_engine *e, const chute_message_spec *spec,
                                 chute_message_result *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    const char *name = spec->name, *ckey = spec->correlation_key ? spec->correlation_key : "";
    const char *id = spec->message_id && *spec->message_id ? spec->message_id : NULL;
    if (!name || !*name)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to publish a message with a name, but the name is blank");
    if (strlen(name) > CHUTE_MESSAGE_NAME_MAX || strlen(ckey) > CHUTE_CORRELATION_KEY_MAX ||
        (id && strlen(id) > CHUTE_MESSAGE_ID_MAX))
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a message name, correlation key and message id of at "
                               "most %d bytes each",
                               CHUTE_MESSAGE_NAME_MAX);
    if (spec->ttl_ms < 0 || spec->ttl_ms > CHUTE_DURATION_MAX_MS)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a time to live between 0 and %lld ms, but it is %lld",
                               (long long)CHUTE_DURATION_MAX_MS, (long long)spec->ttl_ms);
    size_t vlen = spec->variables && !spec->variables_len ? strlen(spec->variables)
                                                           : spec->variables_len;
    int rc = engine_check_variables(e, spec->variables, vlen, err);
    if (rc != 0)
        return rc;
    int64_t now = engine_now(e);
    int64_t hash = msg_hash(name, ckey);
    if (id) {
        for (pmsg *m = hmap_get(&e->msgs, hash); m; m = m->hnext)
            if (m->expires > now && m->id && strcmp(m->id, id) == 0 &&
                strcmp(m->name, name) == 0 && strcmp(m->ckey, ckey) == 0)
                return chute_error_set(err, CHUTE_EEXIST,
                                       "Command 'PUBLISH' rejected with code 'ALREADY_EXISTS': "
                                       "Expected to publish a new message with id '%s', but a "
                                       "message with that id was already published",
                                       id);
    }
    const char *vars = jdoc_blank(spec->variables, vlen) ? NULL : spec->variables;
    pmsg *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name)) || !(m->ckey = strdup(ckey)) ||
        (id && !(m->id = strdup(id))) || (vars && !(m->vars = malloc(vlen + 1)))) {
        if (m)
            msg_free(m);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory publishing a message");
    }
    if (vars) {
        memcpy(m->vars, vars, vlen);
        m->vars[vlen] = '\0';
        m->vars_len = (uint32_t)vlen;
    }
    m->key = out->key = engine_next_key(e);
    m->expires = now + spec->ttl_ms;
    m->hash = (uint64_t)hash;

    /* The open subscriptions: each instance once. */
    target *ts = NULL;
    size_t nt = 0, cap = 0;
    for (psub *x = hmap_get(&e->subs, hash); x; x = x->hnext) {
        if (strcmp(x->name, name) != 0 || strcmp(x->ckey, ckey) != 0)
            continue;
        int dup = 0;
        for (size_t i = 0; i < nt && !dup; i++) {
            einst *o = hmap_get(&e->elements, ts[i].owner_key);
            dup = o && o->pi == x->owner->pi;
        }
        if (dup)
            continue;
        if (nt == cap) {
            cap = cap ? cap * 2 : 8;
            target *n = realloc(ts, cap * sizeof *n);
            if (!n) {
                free(ts);
                msg_free(m);
                return chute_error_set(err, CHUTE_ENOMEM, "out of memory publishing a message");
            }
            ts = n;
        }
        ts[nt++] = (target){x->owner->key, x->event};
    }
    for (size_t i = 0; i < nt; i++) {
        einst *o = hmap_get(&e->elements, ts[i].owner_key);
        psub *x = NULL;
        for (psub *c = o ? o->subs : NULL; c && !x; c = c->next)
            if (c->event == ts[i].event)
                x = c;
        if (!x)
            continue; /* an earlier delivery closed it */
        if (!out->process_instance_key)
            out->process_instance_key = o->pi->key;
        out->correlated++;
        if (msg_note_process(m, o->pi->def->bpmn_process_id) != 0)
            engine_batch_fail(e, NULL);
        deliver(e, x, m->vars, m->vars_len);
        run_queue(e);
    }
    free(ts);

    /* Message start events of the latest definitions. */
    for (size_t i = e->ndefs; i-- > 0;) {
        procdef *d = e->defs[i];
        if (deploy_find(e, d->bpmn_process_id, -1) != d || msg_correlated_to(m, d->bpmn_process_id))
            continue;
        const model_process *proc = deploy_process_of(d->model);
        if (!proc)
            continue;
        uint32_t start = MODEL_NONE;
        for (uint32_t k = 0; k < proc->element_count && start == MODEL_NONE; k++) {
            const model_element *el = &proc->elements[k];
            if (el->type == MODEL_ELEMENT_START_EVENT && el->scope == MODEL_NONE &&
                el->message_name && strcmp(el->message_name->text, name) == 0)
                start = k;
        }
        if (start == MODEL_NONE)
            continue;
        if (*ckey) {
            /* Not while an instance this correlation key started is active. */
            int busy = 0;
            for (size_t k = 0; !busy && e->instances.slots && k <= e->instances.mask; k++) {
                pinst *pi = e->instances.slots[k].key ? e->instances.slots[k].value : NULL;
                busy = pi && pi->def->bpmn_process_id == d->bpmn_process_id && pi->start_ckey &&
                       strcmp(pi->start_ckey, ckey) == 0;
                if (pi && !busy && pi->start_ckey && strcmp(pi->start_ckey, ckey) == 0)
                    busy = strcmp(pi->def->bpmn_process_id, d->bpmn_process_id) == 0;
            }
            if (busy)
                continue;
        }
        pinst *pi = start_instance(e, d, proc, start, m->vars, m->vars_len, ckey, NULL, NULL, err);
        if (!pi) {
            engine_batch_fail(e, err);
            continue;
        }
        if (!out->process_instance_key)
            out->process_instance_key = pi->key;
        out->correlated++;
        if (msg_note_process(m, d->bpmn_process_id) != 0)
            engine_batch_fail(e, NULL);
        run_queue(e);
    }
    drain(e);
    if (spec->ttl_ms > 0) {
        if (msg_index(e, m) != 0) {
            msg_free(m);
            engine_batch_fail(e, NULL);
            return chute_error_set(err, CHUTE_ENOMEM, "out of memory publishing a message");
        }
        msg_persist(e, m);
    } else {
        msg_free(m);
    }
    return 0;
}

/* Buffered messages whose time ran out leave. */
static void expire_messages(chute_engine *e, int64_t now)
{
    pmsg *m;
    while ((m = heap_top(&e->msg_expiry)) && m->expires <= now) {
        heap_pop(&e->msg_expiry);
        msg_unindex(e, m);
        engine_delete_message_row(e, m->key);
        msg_free(m);
    }
}

int64_t process_next_message_expiry(const chute_engine *e)
{
    const pmsg *m = heap_top(&e->msg_expiry);
    return m ? m->expires : INT64_MAX;
}

static int load_message(void *ctx, const store_message *r)
{
    chute_engine *e = ctx;
    pmsg *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(r->name)) || !(m->ckey = strdup(r->correlation_key)) ||
        (r->message_id && !(m->id = strdup(r->message_id))) ||
        (r->variables && !(m->vars = malloc(r->variables_len + 1)))) {
        if (m)
            msg_free(m);
        return CHUTE_ENOMEM;
    }
    if (r->variables) {
        memcpy(m->vars, r->variables, r->variables_len);
        m->vars[r->variables_len] = '\0';
        m->vars_len = (uint32_t)r->variables_len;
    }
    m->key = r->key;
    m->expires = r->expires_at;
    m->hash = (uint64_t)msg_hash(m->name, m->ckey);
    json_t *procs = json_loads(r->correlated ? r->correlated : "[]", 0, NULL);
    size_t i;
    json_t *v;
    json_array_foreach(procs, i, v)
    {
        if (json_is_string(v) && msg_note_process(m, json_string_value(v)) != 0) {
            json_decref(procs);
            msg_free(m);
            return CHUTE_ENOMEM;
        }
    }
    json_decref(procs);
    if (msg_index(e, m) != 0) {
        msg_free(m);
        return CHUTE_ENOMEM;
    }
    return 0;
}

int process_load_messages(chute_engine *e, chute_error *err)
{
    process_clear_messages(e);
    int rc = store_load_messages(e->st, load_message, e, err);
    if (rc == CHUTE_ENOMEM)
        return chute_error_set(err, rc, "%s: out of memory while loading messages", e->db_path);
    return rc;
}

void process_clear_messages(chute_engine *e)
{
    pmsg *m;
    while ((m = heap_pop(&e->msg_expiry)) != NULL)
        msg_free(m);
    heap_free(&e->msg_expiry);
    heap_init(&e->msg_expiry, msg_before, msg_pos);
    hmap_free(&e->msgs);
    hmap_init(&e->msgs);
}


/* ---- native user tasks ------------------------------------------------------------------ */

static void user_task_view(const einst *ei, chute_user_task_view *v)
{
    const putask *t = ei->ut;
    const model_element *el = elem_of(ei);
    memset(v, 0, sizeof *v);
    v->key = ei->key;
    v->process_instance_key = ei->pi->key;
    v->process_definition_key = ei->pi->def->key;
    v->bpmn_process_id = ei->pi->def->bpmn_process_id;
    v->element_id = el->id;
    v->name = el->name ? el->name : "";
    v->assignee = t->assignee ? t->assignee : "";
    v->candidate_groups = t->candidate_groups ? t->candidate_groups : "[]";
    v->candidate_users = t->candidate_users ? t->candidate_users : "[]";
    v->form_key = t->form_key ? t->form_key : "";
    v->due_date = t->due_date ? t->due_date : "";
    v->follow_up_date = t->follow_up_date ? t->follow_up_date : "";
    v->priority = t->priority;
    v->created_at = ei->started_at;
}

static int ut_cmp(const void *a, const void *b)
{
    int64_t x = (*(einst *const *)a)->key, y = (*(einst *const *)b)->key;
    return x < y ? -1 : x > y;
}

int chute_engine_list_user_tasks(chute_engine *e, const chute_user_task_filter *f,
                                 chute_user_task_visit_fn fn, void *ctx)
{
    job_scratch_release(e);
    size_t n = e->user_tasks.count, k = 0;
    if (n == 0)
        return 0;
    einst **all = malloc(n * sizeof *all);
    if (!all)
        return CHUTE_ENOMEM;
    for (size_t i = 0; i <= e->user_tasks.mask && k < n; i++)
        if (e->user_tasks.slots[i].key)
            all[k++] = e->user_tasks.slots[i].value;
    if (k > 1)
        qsort(all, k, sizeof *all, ut_cmp);
    for (size_t i = 0; i < k; i++) {
        const einst *ei = all[i];
        if (f) {
            const char *a = ei->ut->assignee ? ei->ut->assignee : "";
            if ((f->process_instance_key && ei->pi->key != f->process_instance_key) ||
                (f->assignee && strcmp(f->assignee, a) != 0) ||
                (f->element_id && strcmp(f->element_id, elem_of(ei)->id) != 0) ||
                (f->bpmn_process_id && strcmp(f->bpmn_process_id, ei->pi->def->bpmn_process_id)))
                continue;
        }
        chute_user_task_view v;
        user_task_view(ei, &v);
        if (fn(ctx, &v) != 0)
            break;
    }
    free(all);
    return 0;
}

static int no_user_task(chute_error *err, const char *verb, int64_t key)
{
    return chute_error_set(err, CHUTE_ENOTFOUND,
                           "Command '%s' rejected with code 'NOT_FOUND': Expected to %s user task "
                           "with key '%lld', but no such user task was found",
                           verb[0] == 'c' ? "COMPLETE" : verb[0] == 'a' ? "ASSIGN" : "GET", verb,
                           (long long)key);
}

int chute_engine_get_user_task(chute_engine *e, int64_t key, chute_user_task_view *out,
                               chute_error *err)
{
    einst *ei = hmap_get(&e->user_tasks, key);
    if (!ei)
        return no_user_task(err, "get", key);
    if (out)
        user_task_view(ei, out);
    return 0;
}

int chute_engine_assign_user_task(chute_engine *e, int64_t key, const char *assignee,
                                  int allow_override, chute_error *err)
{
    einst *ei = hmap_get(&e->user_tasks, key);
    if (!ei)
        return no_user_task(err, "assign", key);
    if (assignee && strlen(assignee) > CHUTE_WORKER_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected an assignee of at most %d bytes, but it is %zu bytes",
                               CHUTE_WORKER_MAX, strlen(assignee));
    const char *cur = ei->ut->assignee;
    int unassign = !assignee || !*assignee;
    if (!unassign && cur && !allow_override && strcmp(cur, assignee) != 0)
        return chute_error_set(err, CHUTE_ESTATE,
                               "Command 'ASSIGN' rejected with code 'INVALID_STATE': Expected to "
                               "assign user task with key '%lld' to '%s', but it is assigned to "
                               "'%s' and overriding was not allowed",
                               (long long)key, assignee, cur);
    char *n = unassign ? NULL : strdup(assignee);
    if (!unassign && !n)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory assigning a user task");
    free(ei->ut->assignee);
    ei->ut->assignee = n;
    touch(e, ei->pi);
    return 0;
}

int chute_engine_complete_user_task(chute_engine *e, int64_t key, const char *vars, size_t len,
                                    chute_error *err)
{
    einst *ei = hmap_get(&e->user_tasks, key);
    if (!ei)
        return no_user_task(err, "complete", key);
    if (vars && !len)
        len = strlen(vars);
    int rc = engine_check_variables(e, vars, len, err);
    if (rc != 0)
        return rc;
    hmap_del(&e->user_tasks, key);
    putask_free(ei->ut);
    ei->ut = NULL;
    const model_element *el = elem_of(ei);
    if (!jdoc_blank(vars, len) && apply_document(e, ei, vars, len, el->output_count > 0) != 0) {
        engine_batch_fail(e, NULL);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory completing a user task");
    }
    touch(e, ei->pi);
    complete(e, ei);
    drain(e);
    return 0;
}

/* ---- call activities ---------------------------------------------------------------------- */

static void start_call(chute_engine *e, einst *ei, const model_call *call)
{
    feel_error fe = {0};
    const char *kind;
    char *id = eval_key(e, ei, call->process_id, &kind, &fe);
    if (!id) {
        if (kind || fe.message[0])
            raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Expected result of the expression '%s' to be 'STRING', but %s%s",
                           call->process_id->text, kind ? "was " : "it failed: ",
                           kind ? kind : fe.message);
        else
            engine_batch_fail(e, NULL);
        return;
    }
    procdef *d = deploy_find(e, id, -1);
    const model_process *proc = d ? deploy_process_of(d->model) : NULL;
    if (!d || !proc || proc->start == MODEL_NONE) {
        raise_incident(e, ei, STAGE_ACTIVATE, CHUTE_INCIDENT_CALLED_ELEMENT_ERROR,
                       d ? "Expected process with BPMN process id '%s' to have a none start "
                           "event, but it has none"
                         : "Expected process with BPMN process id '%s' to be deployed, but not "
                           "found.",
                       id);
        free(id);
        return;
    }
    free(id);
    /* The child sees the parent's variables (or only the call activity's
     * input mappings). */
    pbuf b = {0};
    if (call->propagate_parent) {
        visible_document(ei, NULL, 0, &b);
    } else {
        einst only = *ei;
        only.scope = NULL;
        visible_document(&only, NULL, 0, &b);
    }
    if (b.oom) {
        free(b.p);
        engine_batch_fail(e, NULL);
        return;
    }
    chute_error err;
    pinst *child = start_instance(e, d, proc, proc->start, b.p, b.len, NULL, NULL, NULL, &err);
    free(b.p);
    if (!child) {
        engine_batch_fail(e, &err);
        return;
    }
    child->parent_key = ei->key;
    child->parent_pi_key = ei->pi->key;
    ei->child_key = child->key;
    touch(e, ei->pi);
}

/* A called instance completed: its call activity takes its variables
 * (all of them, or as its output mappings say) and completes. */
static void child_ended(chute_engine *e, pinst *child)
{
    einst *ei = hmap_get(&e->elements, child->parent_key);
    child->parent_key = 0;
    if (!ei || ei->child_key != child->key)
        return;
    ei->child_key = 0;
    const model_element *el = elem_of(ei);
    pbuf b = {0};
    if (el->output_count || el->call->propagate_child) {
        if (visible_document(child->root, NULL, 0, &b) != 0 ||
            apply_document(e, ei, b.p, b.len, el->output_count > 0) != 0)
            engine_batch_fail(e, NULL);
    }
    free(b.p);
    touch(e, ei->pi);
    complete(e, ei);
}

/* ---- multi-instance ------------------------------------------------------------------------ */

static int is_inner(const einst *ei)
{
    return ei->scope && ei->scope->mi && ei->scope->elem == ei->elem;
}

/* The span of item |i| of the JSON array |a| (checked JSON). */
static int array_item(const char *a, size_t n, uint32_t i, const char **v, size_t *vlen)
{
    size_t k = skip_ws(a, 0, n);
    if (k >= n || a[k] != '[')
        return -1;
    k = skip_ws(a, k + 1, n);
    for (uint32_t idx = 0; k < n && a[k] != ']'; idx++) {
        size_t end = skip_value(a, k, n);
        if (idx == i) {
            *v = a + k;
            *vlen = end - k;
            return 0;
        }
        k = skip_ws(a, end, n);
        if (k < n && a[k] == ',')
            k = skip_ws(a, k + 1, n);
    }
    return -1;
}

static void set_count(chute_engine *e, einst *body, const char *name, uint32_t v)
{
    char num[16];
    int n = snprintf(num, sizeof num, "%u", v);
    if (pscope_set(e, &body->vars, name, strlen(name), num, (size_t)n, 0) != 0)
        engine_batch_fail(e, NULL);
}

static void start_inner(chute_engine *e, einst *body)
{
    const model_element *el = elem_of(body);
    uint32_t i = body->mi->next++;
    einst *ei = einst_new(e, body->pi, body, body->elem);
    if (!ei) {
        engine_batch_fail(e, NULL);
        return;
    }
    body->tokens++;
    const char *item;
    size_t ilen;
    char counter[16];
    int cn = snprintf(counter, sizeof counter, "%u", i + 1);
    if (pscope_set(e, &ei->vars, "loopCounter", 11, counter, (size_t)cn, 0) != 0 ||
        (el->multi->input_element &&
         (array_item(body->mi->items, strlen(body->mi->items), i, &item, &ilen) != 0 ||
          pscope_set(e, &ei->vars, el->multi->input_element, strlen(el->multi->input_element),
                     item, ilen, 0) != 0))) {
        engine_batch_fail(e, NULL);
        return;
    }
    touch(e, body->pi);
    enter(e, ei);
}

/* The body ends: its output collection goes to its flow scope, and it
 * leaves like the activity would. */
static void finish_body(chute_engine *e, einst *body)
{
    const model_element *el = elem_of(body);
    terminate_children(e, body);
    const char *oc = el->multi->output_collection;
    pvar *v = oc ? scope_find(&body->vars, oc, strlen(oc)) : NULL;
    if (v) {
        einst *to = propagation_target(body->scope, oc, strlen(oc));
        if (pscope_set(e, &to->vars, oc, strlen(oc), v->value, v->value_len, 0) != 0)
            engine_batch_fail(e, NULL);
    }
    complete(e, body);
}

static void enter_body(chute_engine *e, einst *body)
{
    const model_element *el = elem_of(body);
    const model_multi *m = el->multi;
    if (!body->timers && !body->subs && el->boundary_count && arm_boundary_timers(e, body) != 0)
        return;
    char *val = NULL;
    size_t vlen = 0;
    feel_error fe = {0};
    if (eval_expr(e, body, m->input_collection, &val, &vlen, &fe) != 0) {
        raise_incident(e, body, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                       "Failed to evaluate the input collection '%s': %s",
                       m->input_collection->text, fe.message);
        return;
    }
    json_t *arr = json_loadb(val, vlen, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    if (!json_is_array(arr)) {
        raise_incident(e, body, STAGE_ACTIVATE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                       "Expected result of the expression '%s' to be 'ARRAY', but was '%s'.",
                       m->input_collection->text, feel_type_of(val, vlen));
        json_decref(arr);
        free(val);
        return;
    }
    uint32_t n = (uint32_t)json_array_size(arr);
    json_decref(arr);
    body->mi = calloc(1, sizeof *body->mi);
    if (!body->mi) {
        free(val);
        engine_batch_fail(e, NULL);
        return;
    }
    body->mi->items = val;
    body->mi->n = n;
    if (m->output_collection) {
        /* A list of nulls, one per item, filled as inner instances end. */
        pbuf b = {0};
        pb_ch(&b, '[');
        for (uint32_t i = 0; i < n; i++)
            pb_put(&b, i ? ",null" : "null", i ? 5 : 4);
        pb_ch(&b, ']');
        if (b.oom || pscope_set(e, &body->vars, m->output_collection, strlen(m->output_collection),
                                b.p, b.len, 0) != 0)
            engine_batch_fail(e, NULL);
        free(b.p);
    }
    touch(e, body->pi);
    if (n == 0) {
        finish_body(e, body);
        return;
    }
    if (el->loop == MODEL_LOOP_SEQUENTIAL) {
        start_inner(e, body);
    } else {
        while (body->mi->next < n && body->state == CHUTE_INSTANCE_ACTIVE)
            start_inner(e, body);
    }
}

/* An inner instance completed: its output element goes into the body's
 * collection; then the next one starts, or the body ends. */
static void inner_done(chute_engine *e, einst *inner)
{
    einst *body = inner->scope;
    const model_element *el = elem_of(body);
    const model_multi *m = el->multi;
    pvar *lc = scope_find(&inner->vars, "loopCounter", 11);
    uint32_t idx = lc ? (uint32_t)strtoul(lc->value, NULL, 10) : 0;
    if (m->output_element && idx >= 1) {
        char *val = NULL;
        size_t vlen = 0;
        feel_error fe = {0};
        if (eval_expr(e, inner, m->output_element, &val, &vlen, &fe) != 0) {
            raise_incident(e, inner, STAGE_COMPLETE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Failed to evaluate the output element '%s': %s",
                           m->output_element->text, fe.message);
            return;
        }
        pvar *oc = scope_find(&body->vars, m->output_collection, strlen(m->output_collection));
        json_t *list = oc ? json_loadb(oc->value, oc->value_len, JSON_DECODE_ANY, NULL) : NULL;
        json_t *item = json_loadb(val, vlen, JSON_DECODE_ANY, NULL);
        if (!item)
            item = json_loadb(val, vlen, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
        free(val);
        char *text = NULL;
        if (json_is_array(list) && item && json_array_set_new(list, idx - 1, item) == 0) {
            item = NULL;
            text = json_dumps(list, JSON_COMPACT);
        }
        json_decref(item);
        json_decref(list);
        if (!text || pscope_set(e, &body->vars, m->output_collection, strlen(m->output_collection),
                                text, strlen(text), 0) != 0)
            engine_batch_fail(e, NULL);
        free(text);
    }
    release_einst(e, inner, CHUTE_INSTANCE_COMPLETED);
    body->tokens--;
    body->mi->completed++;
    touch(e, body->pi);
    body_continue(e, body);
}

/* After an inner instance ended (or the incident of the body's completion
 * condition was resolved): the body ends, or the next inner starts. */
static void body_continue(chute_engine *e, einst *body)
{
    const model_element *el = elem_of(body);
    const model_multi *m = el->multi;
    int done = body->mi->completed >= body->mi->n;
    if (!done && m->completion_condition) {
        set_count(e, body, "numberOfInstances", body->mi->n);
        set_count(e, body, "numberOfCompletedInstances", body->mi->completed);
        set_count(e, body, "numberOfActiveInstances", body->tokens);
        feel_scope fs = {body};
        feel_env env = {feel_lookup, &fs, engine_now(e)};
        feel_error fe = {0};
        int yes = feel_eval_condition(m->completion_condition->parsed, &env, &fe);
        if (yes < 0) {
            raise_incident(e, body, STAGE_COMPLETE, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR,
                           "Failed to evaluate the completion condition '%s': %s",
                           m->completion_condition->text, fe.message);
            return;
        }
        done = yes;
    }
    if (done) {
        finish_body(e, body);
        return;
    }
    if (el->loop == MODEL_LOOP_SEQUENTIAL && body->mi->next < body->mi->n)
        start_inner(e, body);
}

/* ---- timer start events --------------------------------------------------------------- */

/* The first firing of timer start |event| of |proc| from |now|; 0, or -1
 * when its (static, deploy-checked) text does not read. */
static int first_due(const model_process *proc, uint32_t event, int64_t now, dtimer *t)
{
    const model_element *ev = &proc->elements[event];
    const char *txt = ev->timer->text;
    size_t len = ev->timer->len;
    t->repeat = 0;
    if (ev->timer_kind == MODEL_TIMER_DURATION) {
        iso_duration d;
        if (iso_parse_duration(txt, len, &d) != 0)
            return -1;
        t->due = iso_add(now, &d);
    } else if (ev->timer_kind == MODEL_TIMER_DATE) {
        if (iso_parse_datetime(txt, len, &t->due) != 0)
            return -1;
    } else {
        iso_cycle c;
        iso_cron cr;
        if (iso_parse_cycle(txt, len, &c) == 0 && c.repeat != 0) {
            t->every_ms = c.every.ms;
            t->every_months = c.every.months;
            t->due = c.start ? c.start : iso_add(now, &c.every);
            t->repeat = c.repeat < 0 ? -1 : c.repeat - 1;
        } else if (iso_parse_cron(txt, len, &cr) == 0) {
            t->every_months = -1;
            t->repeat = -1;
            t->due = iso_cron_next(&cr, now);
            if (t->due < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

void process_timer_starts_cancel(chute_engine *e, int64_t def_key)
{
    /* Rare (a new version or a deletion): a scan of the heap. */
    for (uint32_t i = 0; i < e->dtimers.count;) {
        dtimer *t = e->dtimers.items[i];
        if (t->def_key == def_key) {
            heap_remove(&e->dtimers, t);
            engine_persist_timer_start(e, t, 1);
            free(t);
            i = 0; /* the heap moved */
        } else {
            i++;
        }
    }
}

void process_timer_starts_deployed(chute_engine *e, procdef *d, procdef *prev)
{
    if (prev)
        process_timer_starts_cancel(e, prev->key);
    const model_process *proc = deploy_process_of(d->model);
    if (!proc)
        return;
    int64_t now = engine_now(e);
    for (uint32_t k = 0; k < proc->element_count; k++) {
        const model_element *el = &proc->elements[k];
        if (el->type != MODEL_ELEMENT_START_EVENT || el->scope != MODEL_NONE ||
            el->event != MODEL_EVENT_TIMER)
            continue;
        dtimer *t = calloc(1, sizeof *t);
        if (!t || first_due(proc, k, now, t) != 0) {
            free(t);
            if (!t)
                engine_batch_fail(e, NULL);
            continue;
        }
        t->def_key = d->key;
        t->event = k;
        if (heap_push(&e->dtimers, t) != 0) {
            free(t);
            engine_batch_fail(e, NULL);
            continue;
        }
        engine_persist_timer_start(e, t, 0);
    }
}

static void fire_timer_starts(chute_engine *e, int64_t now)
{
    dtimer *t;
    while ((t = heap_top(&e->dtimers)) && t->due <= now) {
        heap_pop(&e->dtimers);
        procdef *d = hmap_get(&e->defs_by_key, t->def_key);
        const model_process *proc = d ? deploy_process_of(d->model) : NULL;
        if (proc) {
            chute_error err;
            if (!start_instance(e, d, proc, t->event, NULL, 0, NULL, NULL, NULL, &err))
                engine_batch_fail(e, &err);
            drain(e);
        }
        if (proc && t->repeat != 0) {
            /* The next firing counts from this one's due time: no drift. */
            t->due = next_cycle_due(&proc->elements[t->event], t->due, t->every_ms,
                                    t->every_months);
            if (t->repeat > 0)
                t->repeat--;
            if (t->due < 0 || heap_push(&e->dtimers, t) != 0) {
                engine_persist_timer_start(e, t, 1);
                free(t);
                engine_batch_fail(e, NULL);
                continue;
            }
            engine_persist_timer_start(e, t, 0);
        } else {
            engine_persist_timer_start(e, t, 1);
            free(t);
        }
    }
}

static int load_timer_start(void *ctx, int64_t def_key, uint32_t event, int64_t due,
                            int64_t repeat)
{
    chute_engine *e = ctx;
    procdef *d = hmap_get(&e->defs_by_key, def_key);
    const model_process *proc = d ? deploy_process_of(d->model) : NULL;
    if (!proc || event >= proc->element_count ||
        proc->elements[event].event != MODEL_EVENT_TIMER)
        return 0; /* its definition is gone: nothing to start */
    dtimer *t = calloc(1, sizeof *t);
    if (!t)
        return CHUTE_ENOMEM;
    dtimer tmp;
    if (first_due(proc, event, 0, &tmp) == 0) {
        t->every_ms = tmp.every_ms;
        t->every_months = tmp.every_months;
    }
    t->def_key = def_key;
    t->event = event;
    t->due = due;
    t->repeat = repeat;
    if (heap_push(&e->dtimers, t) != 0) {
        free(t);
        return CHUTE_ENOMEM;
    }
    return 0;
}

int process_load_timer_starts(chute_engine *e, chute_error *err)
{
    int rc = store_load_timer_starts(e->st, load_timer_start, e, err);
    if (rc == CHUTE_ENOMEM)
        return chute_error_set(err, rc, "%s: out of memory while loading timer starts",
                               e->db_path);
    return rc;
}

/* ---- modification and migration ---------------------------------------------------------- */

/* Whether a token may be put at |el|: not inside an event sub-process or a
 * multi-instance body, not a boundary event or a start event of one. */
static const char *why_not_activatable(const model_process *p, const model_element *el)
{
    if (el->type == MODEL_ELEMENT_BOUNDARY_EVENT)
        return "it is a boundary event";
    if (el->type == MODEL_ELEMENT_EVENT_SUB_PROCESS)
        return "it is an event sub-process (its start event triggers it)";
    for (uint32_t s = el->scope; s != MODEL_NONE; s = p->elements[s].scope) {
        if (p->elements[s].type == MODEL_ELEMENT_EVENT_SUB_PROCESS)
            return "it is inside an event sub-process";
        if (p->elements[s].multi)
            return "it is inside a multi-instance activity";
    }
    return NULL;
}

/* The flow scope for a token at |el|: |ancestor| when given, else the one
 * active instance of its scope element. */
static einst *flow_scope_for(chute_engine *e, pinst *pi, const model_element *el,
                             int64_t ancestor, chute_error *err)
{
    if (el->scope == MODEL_NONE) {
        if (ancestor && ancestor != pi->key) {
            chute_error_set(err, CHUTE_EINVAL,
                            "Expected to activate element '%s' in the process instance itself, "
                            "but the ancestor '%lld' was given",
                            el->id, (long long)ancestor);
            return NULL;
        }
        return pi->root;
    }
    einst *found = NULL;
    int count = 0;
    for (einst *x = pi->head; x; x = x->next) {
        if (x->elem != el->scope || (ancestor && x->key != ancestor))
            continue;
        found = x;
        count++;
    }
    if (count != 1) {
        chute_error_set(err, CHUTE_EINVAL,
                        count ? "Expected to activate element '%s', but its flow scope '%s' is "
                                "active more than once; give its element instance key as the "
                                "ancestor"
                              : "Expected to activate element '%s', but its flow scope '%s' is "
                                "not active (activate the scope itself instead)",
                        el->id, pi->proc->elements[el->scope].id);
        return NULL;
    }
    return found;
}

int chute_engine_modify_instance(chute_engine *e, int64_t key,
                                 const chute_activate_instruction *activate, size_t nactivate,
                                 const int64_t *terminate, size_t nterminate, chute_error *err)
{
    pinst *pi = hmap_get(&e->instances, key);
    if (!pi)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Command 'MODIFY' rejected with code 'NOT_FOUND': Expected to "
                               "modify process instance but no process instance found with key "
                               "'%lld'",
                               (long long)key);
    /* Everything is checked before anything changes. */
    for (size_t i = 0; i < nterminate; i++) {
        einst *x = hmap_get(&e->elements, terminate[i]);
        if (!x || x->pi != pi || x == pi->root)
            return chute_error_set(err, CHUTE_ENOTFOUND,
                                   "Expected to modify instance of process '%s' but it contains "
                                   "one or more terminate instructions with an element instance "
                                   "that could not be found: '%lld'",
                                   pi->def->bpmn_process_id, (long long)terminate[i]);
    }
    einst **scopes = nactivate ? calloc(nactivate, sizeof *scopes) : NULL;
    uint32_t *elems = nactivate ? calloc(nactivate, sizeof *elems) : NULL;
    if (nactivate && (!scopes || !elems)) {
        free(scopes);
        free(elems);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory modifying an instance");
    }
    int rc = 0;
    for (size_t i = 0; i < nactivate && rc == 0; i++) {
        const char *id = activate[i].element_id ? activate[i].element_id : "";
        uint32_t idx = model_process_find(pi->proc, id, strlen(id));
        if (idx == MODEL_NONE) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected to modify instance of process '%s' but it contains one "
                                 "or more activate instructions with an element that could not "
                                 "be found: '%s'",
                                 pi->def->bpmn_process_id, id);
            break;
        }
        const model_element *el = &pi->proc->elements[idx];
        const char *why = why_not_activatable(pi->proc, el);
        if (why) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected to activate element '%s', but %s", id, why);
            break;
        }
        scopes[i] = flow_scope_for(e, pi, el, activate[i].ancestor_key, err);
        if (!scopes[i]) {
            rc = err->code;
            break;
        }
        size_t vl = activate[i].variables && !activate[i].variables_len
                        ? strlen(activate[i].variables)
                        : activate[i].variables_len;
        if ((rc = engine_check_variables(e, activate[i].variables, vl, err)) != 0)
            break;
        elems[i] = idx;
    }
    if (rc != 0) {
        free(scopes);
        free(elems);
        return rc;
    }
    /* Activations first (their scopes must still be there), then the
     * terminations. */
    for (size_t i = 0; i < nactivate; i++) {
        size_t vl = activate[i].variables && !activate[i].variables_len
                        ? strlen(activate[i].variables)
                        : activate[i].variables_len;
        if (!jdoc_blank(activate[i].variables, vl) &&
            apply_document(e, scopes[i], activate[i].variables, vl, 1) != 0)
            engine_batch_fail(e, NULL);
        queue_work(e, scopes[i], elems[i], 0);
    }
    free(scopes);
    free(elems);
    for (size_t i = 0; i < nterminate; i++) {
        einst *x = hmap_get(&e->elements, terminate[i]);
        if (!x)
            continue; /* ended with an ancestor terminated before it */
        einst *scope = x->scope;
        terminate_element(e, x);
        if (scope->tokens > 0)
            scope->tokens--;
    }
    touch(e, pi);
    drain(e);
    if (pi->state == CHUTE_INSTANCE_ACTIVE && pi->root->tokens == 0) {
        /* Nothing left to do: the instance ends as Zeebe ends it. */
        terminate_children(e, pi->root);
        end_instance(e, pi, CHUTE_INSTANCE_TERMINATED);
    }
    return 0;
}

int chute_engine_migrate_instance(chute_engine *e, int64_t key, int64_t target_key,
                                  const chute_mapping_instruction *map, size_t nmap,
                                  chute_error *err)
{
    pinst *pi = hmap_get(&e->instances, key);
    if (!pi)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to migrate process instance but no process instance "
                               "found with key '%lld'",
                               (long long)key);
    procdef *d = hmap_get(&e->defs_by_key, target_key);
    const model_process *to = d ? deploy_process_of(d->model) : NULL;
    if (!to)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to migrate process instance to process definition but "
                               "no process definition found with key '%lld'",
                               (long long)target_key);
    if (pi->parent_key)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to migrate process instance '%lld', but it was started "
                               "by a call activity (migrate the root instead)",
                               (long long)key);
    /* Every active element maps to an element of the same type. */
    size_t n = 0;
    for (einst *x = pi->head; x; x = x->next)
        n++;
    uint32_t *dest = calloc(n ? n : 1, sizeof *dest);
    if (!dest)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory migrating an instance");
    size_t k = 0;
    int rc = 0;
    for (einst *x = pi->head; x && rc == 0; x = x->next, k++) {
        if (x == pi->root) {
            dest[k] = MODEL_NONE;
            continue;
        }
        const model_element *el = elem_of(x);
        const char *tid = NULL;
        for (size_t m = 0; m < nmap && !tid; m++)
            if (map[m].source_element_id && strcmp(map[m].source_element_id, el->id) == 0)
                tid = map[m].target_element_id ? map[m].target_element_id : "";
        if (!tid) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected to migrate process instance '%lld' but no mapping "
                                 "instruction is defined for active element with id '%s'. "
                                 "Elements cannot be migrated without a mapping.",
                                 (long long)key, el->id);
            break;
        }
        uint32_t t = model_process_find(to, tid, strlen(tid));
        if (t == MODEL_NONE || to->elements[t].type != el->type) {
            if (t == MODEL_NONE)
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected to migrate process instance '%lld' but active "
                                     "element with id '%s' is mapped to element with id '%s' "
                                     "that does not exist in the target process definition",
                                     (long long)key, el->id, tid);
            else
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected to migrate process instance '%lld' but active "
                                     "element with id '%s' and type '%s' is mapped to element "
                                     "'%s' of another type",
                                     (long long)key, el->id, model_element_type_name(el->type),
                                     tid);
            break;
        }
        if (x->timers || x->subs || x->joins || x->mi || x->child_key || x->ut) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected to migrate process instance '%lld' but active element "
                                 "'%s' waits on a timer, a message, a join, a called instance, "
                                 "a user task or inner instances; Chute migrates job tasks and "
                                 "plain elements only",
                                 (long long)key, el->id);
            break;
        }
        dest[k] = t;
    }
    if (rc == 0 && (pi->root->timers || pi->root->subs || pi->root->joins))
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected to migrate process instance '%lld' but it waits on an "
                             "event sub-process or a join; not migrated yet",
                             (long long)key);
    if (rc != 0) {
        free(dest);
        return rc;
    }
    /* Apply: the instance, its element instances, their jobs, the history
     * (by element id: what the target lacks shows no id). */
    const model_process *from = pi->proc;
    k = 0;
    for (einst *x = pi->head; x; x = x->next, k++) {
        if (x == pi->root)
            continue;
        x->elem = dest[k];
        if (x->job_key) {
            job *j = hmap_get(&e->jobs, x->job_key);
            if (j && j->ext && j->ext->process) {
                chute_process_ref ref = j->ext->process->ref;
                ref.process_definition_key = d->key;
                ref.process_definition_version = d->version;
                ref.bpmn_process_id = d->bpmn_process_id;
                ref.element_id = to->elements[x->elem].id;
                if (job_ext_set_process(j->ext, &ref) != 0)
                    engine_batch_fail(e, NULL);
                engine_persist_job(e, j);
            }
        }
    }
    for (uint32_t h = 0; h < pi->nhist; h++) {
        uint32_t old = pi->hist[h].elem;
        if (old == MODEL_NONE || old >= from->element_count)
            continue;
        const char *id = from->elements[old].id;
        pi->hist[h].elem = model_process_find(to, id, strlen(id));
    }
    for (uint32_t i = 0; i < pi->nincs; i++) {
        uint32_t old = pi->incs[i].elem;
        if (old < from->element_count) {
            const char *id = from->elements[old].id;
            pi->incs[i].elem = model_process_find(to, id, strlen(id));
        }
    }
    free(dest);
    if (pi->def->instances > 0)
        pi->def->instances--;
    pi->def = d;
    pi->proc = to;
    d->instances++;
    touch(e, pi);
    return 0;
}

/* ---- what an instance waits on ----------------------------------------------------------- */

int chute_engine_list_waits(chute_engine *e, int64_t key, chute_wait_visit_fn fn, void *ctx,
                            chute_error *err)
{
    job_scratch_release(e);
    pinst *pi;
    int owned;
    int rc = find_instance(e, key, &pi, &owned, err);
    if (rc != 0)
        return rc;
    /* Only an active instance has timers and subscriptions; one read back
     * from the store has none. */
    const model_process *p = pi->proc;
    for (einst *a = pi->head; a && rc == 0 && p; a = a->next) {
        for (ptimer *t = a->timers; t && rc == 0; t = t->next) {
            chute_wait_view w = {.element_instance_key = a->key,
                                 .element_id =
                                     t->event < p->element_count ? p->elements[t->event].id : "",
                                 .is_timer = 1,
                                 .due = t->due,
                                 .message_name = "",
                                 .correlation_key = ""};
            rc = fn(ctx, &w);
        }
        for (psub *s = a->subs; s && rc == 0; s = s->next) {
            chute_wait_view w = {.element_instance_key = a->key,
                                 .element_id =
                                     s->event < p->element_count ? p->elements[s->event].id : "",
                                 .message_name = s->name ? s->name : "",
                                 .correlation_key = s->ckey ? s->ckey : ""};
            rc = fn(ctx, &w);
        }
    }
    if (owned)
        pinst_free(pi);
    return rc > 0 ? 0 : rc;
}
