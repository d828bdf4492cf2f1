/*
 * Job types and where a job waits (see engine_int.h): the type table, each
 * type's ready heap (priority, then creation order), the order of the
 * engine's timer heap, and attach/detach, which move a job between those
 * heaps as its state says and keep the counters by state. The per-type
 * statistics and the metrics hooks read and report those counters.
 */
#include "engine/engine_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- heaps ------------------------------------------------------------------ */

static int ready_before(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority;
    return x->key < y->key;
}

/* Both heaps keep a job's position in the same field: a job is in at most
 * one of them (see engine_int.h). */
static uint32_t *heap_pos(void *item)
{
    return &((job *)item)->heap_pos;
}

static int timer_before(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->deadline != y->deadline)
        return x->deadline < y->deadline;
    return x->key < y->key;
}

void queue_init_timers(chute_engine *e)
{
    heap_init(&e->timers, timer_before, heap_pos);
}

/* The heap a job in |state| sits in, or NULL for a state that has none. */
static heap *heap_for(chute_engine *e, const job *j, int state)
{
    switch (state) {
    case CHUTE_JOB_ACTIVATABLE:
        return &j->type->ready;
    case CHUTE_JOB_ACTIVATED:
    case CHUTE_JOB_FAILED:
    case CHUTE_JOB_DELAYED:
        return &e->timers;
    }
    return NULL;
}

/* ---- types ------------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

jtype *queue_type_get(chute_engine *e, const char *name, int create)
{
    uint64_t h = hash_str(name);
    if (e->types_cap) {
        for (jtype *t = e->types[h & (e->types_cap - 1)]; t; t = t->hnext) {
            if (strcmp(t->name, name) == 0)
                return t;
        }
    }
    if (!create)
        return NULL;
    if (e->ntypes + 1 > e->types_cap / 2) {
        size_t cap = e->types_cap ? e->types_cap * 2 : 16;
        jtype **n = calloc(cap, sizeof *n);
        if (!n)
            return NULL;
        for (size_t i = 0; i < e->types_cap; i++) {
            jtype *t = e->types[i];
            while (t) {
                jtype *next = t->hnext;
                size_t b = hash_str(t->name) & (cap - 1);
                t->hnext = n[b];
                n[b] = t;
                t = next;
            }
        }
        free(e->types);
        e->types = n;
        e->types_cap = cap;
    }
    jtype *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    heap_init(&t->ready, ready_before, heap_pos);
    t->emptied_at = engine_now(e);
    size_t b = h & (e->types_cap - 1);
    t->hnext = e->types[b];
    e->types[b] = t;
    e->ntypes++;
    return t;
}

void queue_free_types(chute_engine *e)
{
    for (size_t i = 0; i < e->types_cap; i++) {
        jtype *t = e->types[i];
        while (t) {
            jtype *next = t->hnext;
            delivery_free_takers(t);
            heap_free(&t->ready);
            free((char *)t->handler_opts.worker);
            free(t->name);
            free(t);
            t = next;
        }
    }
    free(e->types);
    e->types = NULL;
    e->ntypes = e->types_cap = 0;
}

/* ---- state bookkeeping ------------------------------------------------------ */

static uint64_t *state_counter(chute_engine *e, int state)
{
    switch (state) {
    case CHUTE_JOB_ACTIVATABLE:
        return &e->stats.activatable;
    case CHUTE_JOB_ACTIVATED:
        return &e->stats.activated;
    case CHUTE_JOB_FAILED:
        return &e->stats.failed;
    case CHUTE_JOB_DELAYED:
        return &e->stats.delayed;
    case CHUTE_JOB_INCIDENT:
    case CHUTE_JOB_ERROR_THROWN:
        return &e->stats.incidents;
    }
    return NULL;
}

/* A job that is in no heap although its state wants one (its attach ran out
 * of memory) has HEAP_NONE there. */
void queue_detach(chute_engine *e, job *j)
{
    /* Memory holds jobs in these states only: a completed or cancelled job
     * has left it (load skips rows in any other state). */
    assert(j->state >= CHUTE_JOB_ACTIVATABLE && j->state <= CHUTE_JOB_DELAYED);
    heap *h = heap_for(e, j, j->state);
    /* Which heap a job is in follows from its state; heap_remove checks the
     * job is where its position says. */
    assert(j->heap_pos == HEAP_NONE || h != NULL);
    if (j->heap_pos != HEAP_NONE)
        heap_remove(h, j);
    uint64_t *c = state_counter(e, j->state);
    assert(!c || *c > 0);
    assert(j->type->count[j->state] > 0);
    if (c)
        (*c)--;
    if (--j->type->count[j->state] == 0)
        queue_note_if_empty(e, j->type);
}

static int type_empty(const jtype *t)
{
    for (int s = CHUTE_JOB_ACTIVATABLE; s <= CHUTE_JOB_DELAYED; s++)
        if (t->count[s])
            return 0;
    return !t->waiters_head && t->nstreams == 0;
}

void queue_note_if_empty(chute_engine *e, jtype *t)
{
    if (type_empty(t))
        t->emptied_at = engine_now(e);
}

int queue_attach(chute_engine *e, job *j, int state)
{
    assert(state >= CHUTE_JOB_ACTIVATABLE && state <= CHUTE_JOB_DELAYED);
    /* A job is in at most one heap: it comes here detached (or new). */
    assert(j->heap_pos == HEAP_NONE);
    j->state = (uint8_t)state;
    uint64_t *c = state_counter(e, state);
    if (c)
        (*c)++;
    j->type->count[state]++;
    if (state == CHUTE_JOB_ACTIVATABLE) {
        /* While a job is ready its deadline field holds when it became
         * ready (views show 0): the time in queue, and the oldest waiting
         * job per type, come from it. */
        j->deadline = engine_now(e);
    }
    heap *h = heap_for(e, j, state);
    int rc = h ? heap_push(h, j) : 0;
    if (state == CHUTE_JOB_ACTIVATABLE)
        delivery_schedule(e, j->type);
    return rc ? CHUTE_ENOMEM : 0;
}

void queue_clear(chute_engine *e)
{
    e->timers.count = 0;
    for (size_t i = 0; i < e->types_cap; i++) {
        for (jtype *t = e->types[i]; t; t = t->hnext) {
            t->ready.count = 0;
            memset(t->count, 0, sizeof t->count);
        }
    }
    e->stats.activatable = e->stats.activated = e->stats.failed = e->stats.delayed =
        e->stats.incidents = 0;
}

/* ---- statistics and hooks --------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp((*(jtype *const *)a)->name, (*(jtype *const *)b)->name);
}

int chute_engine_list_types(chute_engine *e,
                            int (*fn)(void *ctx, const chute_type_stats *s), void *ctx)
{
    if (e->ntypes == 0)
        return 0;
    jtype **all = malloc(e->ntypes * sizeof *all);
    if (!all)
        return CHUTE_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < e->types_cap; i++) {
        for (jtype *t = e->types[i]; t; t = t->hnext)
            all[n++] = t;
    }
    assert(n == e->ntypes);
    qsort(all, n, sizeof *all, by_name);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        jtype *t = all[i];
        chute_type_stats s = {.type = t->name};
        s.activatable = t->count[CHUTE_JOB_ACTIVATABLE];
        s.activated = t->count[CHUTE_JOB_ACTIVATED];
        s.failed = t->count[CHUTE_JOB_FAILED];
        s.delayed = t->count[CHUTE_JOB_DELAYED];
        s.incidents = t->count[CHUTE_JOB_INCIDENT] + t->count[CHUTE_JOB_ERROR_THROWN];
        for (chute_taker *w = t->waiters_head; w; w = w->next)
            s.waiters++;
        s.streams = t->nstreams;
        for (uint32_t k = 0; k < t->ready.count; k++) {
            const job *j = t->ready.items[k];
            if (s.oldest_activatable_since == 0 || j->deadline < s.oldest_activatable_since)
                s.oldest_activatable_since = j->deadline;
        }
        s.created_total = t->created_total;
        s.activated_total = t->activated_total;
        s.completed_total = t->completed_total;
        s.failed_total = t->failed_total;
        s.timed_out_total = t->timed_out_total;
        s.incidents_total = t->incidents_total;
        s.idle_since = type_empty(t) ? t->emptied_at : 0;
        rc = fn(ctx, &s);
    }
    free(all);
    return 0;
}

void chute_engine_get_stats(const chute_engine *e, chute_engine_stats *out)
{
    *out = e->stats;
    out->jobs = e->jobs.count;
    out->instances = e->instances.count;
}

void chute_engine_set_hooks(chute_engine *e, const chute_engine_hooks *hooks)
{
    if (hooks)
        e->hooks = *hooks;
    else
        memset(&e->hooks, 0, sizeof e->hooks);
}
