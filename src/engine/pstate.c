/*
 * A process instance as one store row: its element instances (the root
 * first), their variables and join counts, its history and its resolved
 * incidents, in a small binary format. Writing it whole at each commit
 * that touched the instance costs one row per instance per batch, whatever
 * the command did to it, and reading it back needs nothing but this file.
 *
 * Format (little endian, version 1):
 *   u8 version, u32 element count, then per element instance:
 *     i64 key, u32 element index (UINT32_MAX: the root), i64 flow scope
 *     key (0: none), u8 state, u8 stage, i64 started_at, i64 job_key,
 *     i64 incident_key, u8 incident_type, i64 incident_at, str message,
 *     u32 tokens, u32 join count + (u32 flow, u32 tokens) each,
 *     u32 variable count + (i64 key, str name, str value) each,
 *     u32 timer count + (u32 event, i64 due, i64 every_ms, i64 every_months,
 *     i64 repeat) each, u32 subscription count + (u32 event, str name, str
 *     correlation key) each, u8 has user task + (u8 present, str value) for
 *     assignee, candidate groups, candidate users, form key, due date and
 *     follow-up date, u32 priority; i64 called instance key; u8 multi-instance
 *     body + (str items, u32 n, u32 next, u32 completed)
 *   u32 history count + (i64 key, u32 element, i64 scope key, u8 state,
 *     i64 started_at, i64 ended_at) each, u32 history dropped, str the
 *     correlation key of the message that started it, i64 the call
 *     activity's element instance that started it and its instance
 *   u32 resolved incident count + (i64 key, u8 type, i64 element key,
 *     u32 element, i64 job key, i64 created_at, str message) each
 * where str is u32 length + bytes. Every read is bounds-checked: a damaged
 * row is refused with a message, never read past its end.
 */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "model/bpmn.h"

#define PSTATE_VERSION 1

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} wbuf;

static void w_bytes(wbuf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void w_u8(wbuf *b, uint8_t v)
{
    w_bytes(b, &v, 1);
}

static void w_u32(wbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    w_bytes(b, x, 4);
}

static void w_i64(wbuf *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(u >> (8 * i));
    w_bytes(b, x, 8);
}

static void w_str(wbuf *b, const char *s, size_t n)
{
    w_u32(b, (uint32_t)n);
    w_bytes(b, s, n);
}

int pstate_encode(const pinst *pi, uint8_t **out, size_t *len)
{
    wbuf b = {0};
    w_u8(&b, PSTATE_VERSION);
    uint32_t n = 0;
    for (const einst *ei = pi->head; ei; ei = ei->next)
        n++;
    w_u32(&b, n);
    uint32_t nflows = pi->proc ? pi->proc->flow_count : 0;
    for (const einst *ei = pi->head; ei; ei = ei->next) {
        w_i64(&b, ei->key);
        w_u32(&b, ei->elem);
        w_i64(&b, ei->scope ? ei->scope->key : 0);
        w_u8(&b, ei->state);
        w_u8(&b, ei->stage);
        w_i64(&b, ei->started_at);
        w_i64(&b, ei->job_key);
        w_i64(&b, ei->incident_key);
        w_u8(&b, ei->incident_type);
        w_i64(&b, ei->incident_at);
        w_str(&b, ei->incident_msg ? ei->incident_msg : "",
              ei->incident_msg ? strlen(ei->incident_msg) : 0);
        w_u32(&b, ei->tokens);
        uint32_t nj = 0;
        for (uint32_t f = 0; ei->joins && f < nflows; f++)
            nj += ei->joins[f] != 0;
        w_u32(&b, nj);
        for (uint32_t f = 0; ei->joins && f < nflows; f++) {
            if (ei->joins[f]) {
                w_u32(&b, f);
                w_u32(&b, ei->joins[f]);
            }
        }
        w_u32(&b, ei->vars.n);
        for (uint32_t i = 0; i < ei->vars.n; i++) {
            const pvar *v = &ei->vars.v[i];
            w_i64(&b, v->key);
            w_str(&b, v->name, v->name_len);
            w_str(&b, v->value, v->value_len);
        }
        uint32_t nt = 0;
        for (const ptimer *t = ei->timers; t; t = t->next)
            nt++;
        w_u32(&b, nt);
        for (const ptimer *t = ei->timers; t; t = t->next) {
            w_u32(&b, t->event);
            w_i64(&b, t->due);
            w_i64(&b, t->every_ms);
            w_i64(&b, t->every_months);
            w_i64(&b, t->repeat);
        }
        uint32_t ns = 0;
        for (const psub *x = ei->subs; x; x = x->next)
            ns++;
        w_u32(&b, ns);
        for (const psub *x = ei->subs; x; x = x->next) {
            w_u32(&b, x->event);
            w_str(&b, x->name, strlen(x->name));
            w_str(&b, x->ckey, strlen(x->ckey));
        }
        w_u8(&b, ei->ut != NULL);
        if (ei->ut) {
            const char *f[] = {ei->ut->assignee,  ei->ut->candidate_groups, ei->ut->candidate_users,
                               ei->ut->form_key,  ei->ut->due_date,         ei->ut->follow_up_date};
            for (int i = 0; i < 6; i++) {
                w_u8(&b, f[i] != NULL);
                w_str(&b, f[i] ? f[i] : "", f[i] ? strlen(f[i]) : 0);
            }
            w_u32(&b, (uint32_t)ei->ut->priority);
        }
        w_i64(&b, ei->child_key);
        w_u8(&b, ei->mi != NULL);
        if (ei->mi) {
            w_str(&b, ei->mi->items, strlen(ei->mi->items));
            w_u32(&b, ei->mi->n);
            w_u32(&b, ei->mi->next);
            w_u32(&b, ei->mi->completed);
        }
    }
    w_u32(&b, pi->nhist);
    for (uint32_t i = 0; i < pi->nhist; i++) {
        const phist *h = &pi->hist[i];
        w_i64(&b, h->key);
        w_u32(&b, h->elem);
        w_i64(&b, h->scope_key);
        w_u8(&b, h->state);
        w_i64(&b, h->started_at);
        w_i64(&b, h->ended_at);
    }
    w_u32(&b, pi->hist_dropped);
    w_str(&b, pi->start_ckey ? pi->start_ckey : "", pi->start_ckey ? strlen(pi->start_ckey) : 0);
    w_i64(&b, pi->parent_key);
    w_i64(&b, pi->parent_pi_key);
    w_u32(&b, pi->nincs);
    for (uint32_t i = 0; i < pi->nincs; i++) {
        const pinc *x = &pi->incs[i];
        w_i64(&b, x->key);
        w_u8(&b, x->type);
        w_i64(&b, x->element_key);
        w_u32(&b, x->elem);
        w_i64(&b, x->job_key);
        w_i64(&b, x->created_at);
        w_str(&b, x->message ? x->message : "", x->message ? strlen(x->message) : 0);
    }
    if (b.oom) {
        free(b.p);
        return CHUTE_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---- reading ---------------------------------------------------------------------- */

typedef struct rbuf {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} rbuf;

static int r_need(rbuf *b, size_t n)
{
    if (b->bad || b->len - b->pos < n) {
        b->bad = 1;
        return 0;
    }
    return 1;
}

static uint8_t r_u8(rbuf *b)
{
    return r_need(b, 1) ? b->p[b->pos++] : 0;
}

static uint32_t r_u32(rbuf *b)
{
    if (!r_need(b, 4))
        return 0;
    const uint8_t *x = b->p + b->pos;
    b->pos += 4;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

static int64_t r_i64(rbuf *b)
{
    if (!r_need(b, 8))
        return 0;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)b->p[b->pos + i] << (8 * i);
    b->pos += 8;
    return (int64_t)u;
}

/* A string of the row, pointing into it (not NUL-terminated). */
static const char *r_str(rbuf *b, uint32_t *n)
{
    *n = r_u32(b);
    if (!r_need(b, *n))
        return NULL;
    const char *s = (const char *)b->p + b->pos;
    b->pos += *n;
    return s;
}

static char *dup_n(const char *s, uint32_t n)
{
    char *p = malloc((size_t)n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

pinst *pstate_decode(chute_engine *e, int64_t key, procdef *def, const void *data, size_t len,
                     chute_error *err)
{
    rbuf b = {data, len, 0, 0};
    err->code = 0;
    err->message[0] = '\0';
    if (r_u8(&b) != PSTATE_VERSION) {
        chute_error_set(err, CHUTE_ECORRUPT, "unknown state format");
        return NULL;
    }
    pinst *pi = calloc(1, sizeof *pi);
    if (!pi)
        goto oom;
    pi->key = key;
    pi->def = def;
    pi->proc = def ? deploy_process_of(def->model) : NULL;
    pi->state = CHUTE_INSTANCE_ACTIVE;
    uint32_t nelem = pi->proc ? pi->proc->element_count : 0;
    uint32_t nflows = pi->proc ? pi->proc->flow_count : 0;
    uint32_t n = r_u32(&b);
    for (uint32_t i = 0; i < n && !b.bad; i++) {
        einst *ei = calloc(1, sizeof *ei);
        if (!ei)
            goto oom;
        ei->pi = pi;
        ei->prev = pi->tail;
        if (pi->tail)
            pi->tail->next = ei;
        else
            pi->head = ei;
        pi->tail = ei;
        ei->key = r_i64(&b);
        ei->elem = r_u32(&b);
        int64_t scope_key = r_i64(&b);
        ei->state = r_u8(&b);
        ei->stage = r_u8(&b);
        ei->started_at = r_i64(&b);
        ei->job_key = r_i64(&b);
        ei->incident_key = r_i64(&b);
        ei->incident_type = r_u8(&b);
        ei->incident_at = r_i64(&b);
        uint32_t ml;
        const char *msg = r_str(&b, &ml);
        if (msg && ml && !(ei->incident_msg = dup_n(msg, ml)))
            goto oom;
        ei->tokens = r_u32(&b);
        uint32_t nj = r_u32(&b);
        for (uint32_t k = 0; k < nj && !b.bad; k++) {
            uint32_t f = r_u32(&b), c = r_u32(&b);
            if (pi->proc && f >= nflows) {
                b.bad = 1;
                break;
            }
            if (!pi->proc)
                continue;
            if (!ei->joins && !(ei->joins = calloc(nflows, sizeof *ei->joins)))
                goto oom;
            ei->joins[f] = c;
        }
        uint32_t nv = r_u32(&b);
        for (uint32_t k = 0; k < nv && !b.bad; k++) {
            int64_t vkey = r_i64(&b);
            uint32_t nl, vl;
            const char *name = r_str(&b, &nl);
            const char *value = r_str(&b, &vl);
            if (b.bad)
                break;
            if (pscope_set(e, &ei->vars, name, nl, value, vl, vkey) != 0)
                goto oom;
        }
        uint32_t nt = r_u32(&b);
        for (uint32_t k = 0; k < nt && !b.bad; k++) {
            ptimer *t = calloc(1, sizeof *t);
            if (!t)
                goto oom;
            t->owner = ei;
            t->next = ei->timers;
            ei->timers = t;
            t->event = r_u32(&b);
            t->due = r_i64(&b);
            t->every_ms = r_i64(&b);
            t->every_months = r_i64(&b);
            t->repeat = r_i64(&b);
            if (pi->proc && t->event >= nelem)
                b.bad = 1;
        }
        uint32_t ns = r_u32(&b);
        for (uint32_t k = 0; k < ns && !b.bad; k++) {
            uint32_t event = r_u32(&b), nl, kl;
            const char *name = r_str(&b, &nl);
            const char *ck_text = r_str(&b, &kl);
            if (b.bad || (pi->proc && event >= nelem)) {
                b.bad = 1;
                break;
            }
            psub *x = calloc(1, sizeof *x);
            if (!x)
                goto oom;
            x->owner = ei;
            x->event = event;
            x->next = ei->subs;
            ei->subs = x;
            if (!(x->name = dup_n(name, nl)) || !(x->ckey = dup_n(ck_text, kl)))
                goto oom;
        }
        if (r_u8(&b)) {
            if (!(ei->ut = calloc(1, sizeof *ei->ut)))
                goto oom;
            char **f[] = {&ei->ut->assignee,  &ei->ut->candidate_groups, &ei->ut->candidate_users,
                          &ei->ut->form_key,  &ei->ut->due_date,         &ei->ut->follow_up_date};
            for (int k = 0; k < 6 && !b.bad; k++) {
                int has = r_u8(&b);
                uint32_t fl;
                const char *fv = r_str(&b, &fl);
                if (has && fv && !(*f[k] = dup_n(fv, fl)))
                    goto oom;
            }
            ei->ut->priority = (int32_t)r_u32(&b);
        }
        ei->child_key = r_i64(&b);
        if (r_u8(&b)) {
            if (!(ei->mi = calloc(1, sizeof *ei->mi)))
                goto oom;
            uint32_t il;
            const char *items = r_str(&b, &il);
            if (items && !(ei->mi->items = dup_n(items, il)))
                goto oom;
            ei->mi->n = r_u32(&b);
            ei->mi->next = r_u32(&b);
            ei->mi->completed = r_u32(&b);
            if (!ei->mi->items)
                b.bad = 1;
        }
        if (i == 0) {
            if (ei->elem != MODEL_NONE || scope_key != 0 || ei->key != key) {
                b.bad = 1;
                break;
            }
            pi->root = ei;
        } else {
            /* Scopes come before their children (activation order). */
            einst *s = NULL;
            for (einst *c = pi->head; c != ei && !s; c = c->next)
                if (c->key == scope_key)
                    s = c;
            if (!s || (pi->proc && ei->elem >= nelem)) {
                b.bad = 1;
                break;
            }
            ei->scope = s;
        }
    }
    uint32_t nh = r_u32(&b);
    if (!b.bad && nh > CHUTE_ELEMENT_HISTORY)
        b.bad = 1;
    if (!b.bad && nh) {
        pi->hist = calloc(nh, sizeof *pi->hist);
        if (!pi->hist)
            goto oom;
        pi->hist_cap = nh;
    }
    for (uint32_t i = 0; i < nh && !b.bad; i++) {
        phist *h = &pi->hist[pi->nhist++];
        h->key = r_i64(&b);
        h->elem = r_u32(&b);
        h->scope_key = r_i64(&b);
        h->state = r_u8(&b);
        h->started_at = r_i64(&b);
        h->ended_at = r_i64(&b);
    }
    pi->hist_dropped = r_u32(&b);
    uint32_t ckl;
    const char *ck = r_str(&b, &ckl);
    if (ck && ckl && !(pi->start_ckey = dup_n(ck, ckl)))
        goto oom;
    pi->parent_key = r_i64(&b);
    pi->parent_pi_key = r_i64(&b);
    uint32_t ni = r_u32(&b);
    if (!b.bad && ni > b.len) /* each takes bytes: a count past the row is damage */
        b.bad = 1;
    for (uint32_t i = 0; i < ni && !b.bad; i++) {
        pinc x = {0};
        x.key = r_i64(&b);
        x.type = r_u8(&b);
        x.element_key = r_i64(&b);
        x.elem = r_u32(&b);
        x.job_key = r_i64(&b);
        x.created_at = r_i64(&b);
        uint32_t ml;
        const char *msg = r_str(&b, &ml);
        if (b.bad)
            break;
        if (pi->nincs == pi->incs_cap) {
            uint32_t cap = pi->incs_cap ? pi->incs_cap * 2 : 4;
            pinc *nn = realloc(pi->incs, cap * sizeof *nn);
            if (!nn)
                goto oom;
            pi->incs = nn;
            pi->incs_cap = cap;
        }
        if (!(x.message = dup_n(msg, ml)))
            goto oom;
        pi->incs[pi->nincs++] = x;
    }
    if (b.bad || !pi->root) {
        pinst_free(pi);
        chute_error_set(err, CHUTE_ECORRUPT, "the state of the instance is damaged");
        return NULL;
    }
    return pi;
oom:
    pinst_free(pi);
    chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    return NULL;
}
