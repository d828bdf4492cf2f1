/*
 * Delivery to takers (see "takers" in include/chute/engine.h): long-poll
 * waiters, one shot and FIFO per type, and streams, long-lived and served
 * round robin among those with credit, before the waiters. A type whose
 * ready queue or takers changed goes on the engine's dispatch list;
 * chute_engine_dispatch walks that list, leases jobs for the takers
 * (engine_activate_into) and calls their deliver callbacks.
 */
#include "engine/engine_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void delivery_schedule(chute_engine *e, jtype *t)
{
    if (t->dispatch_queued)
        return;
    if (!t->waiters_head && !t->streams)
        return;
    t->dispatch_queued = 1;
    t->dispatch_next = e->dispatch_head;
    e->dispatch_head = t;
}

/* ---- takers ----------------------------------------------------------------- */

static void taker_free(chute_taker *tk)
{
    for (size_t i = 0; i < tk->nfetch; i++)
        free(tk->fetch[i]);
    free(tk->fetch);
    free(tk->worker);
    free(tk);
}

void delivery_free_takers(jtype *t)
{
    while (t->waiters_head) {
        chute_taker *w = t->waiters_head;
        t->waiters_head = w->next;
        taker_free(w);
    }
    t->waiters_tail = NULL;
    if (t->streams) {
        chute_taker *s = t->streams;
        do {
            chute_taker *nx = s->next;
            taker_free(s);
            s = nx;
        } while (s != t->streams);
        t->streams = NULL;
        t->nstreams = 0;
    }
}

static int taker_new(chute_engine *e, const chute_activate_request *req, int for_stream,
                     size_t max_bytes, chute_deliver_fn deliver, void *ctx, chute_taker **out,
                     chute_error *err)
{
    int rc = engine_check_lease(e, req, for_stream, err);
    if (rc != 0)
        return rc;
    chute_taker *tk = calloc(1, sizeof *tk);
    if (!tk)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    tk->kind = for_stream ? TAKER_STREAM : TAKER_WAITER;
    tk->timeout_ms = req->timeout_ms;
    tk->max_jobs = req->max_jobs;
    tk->max_bytes = max_bytes;
    tk->deliver = deliver;
    tk->ctx = ctx;
    if (job_set_str(&tk->worker, req->worker) != 0)
        goto oom;
    if (req->fetch_variables_count) {
        tk->fetch = calloc(req->fetch_variables_count, sizeof *tk->fetch);
        if (!tk->fetch)
            goto oom;
        for (size_t i = 0; i < req->fetch_variables_count; i++) {
            tk->fetch[i] = strdup(req->fetch_variables[i] ? req->fetch_variables[i] : "");
            if (!tk->fetch[i])
                goto oom;
            tk->nfetch++;
        }
    }
    tk->type = queue_type_get(e, req->type, 1);
    if (!tk->type)
        goto oom;
    *out = tk;
    return 0;
oom:
    taker_free(tk);
    return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
}

int chute_engine_waiter_add(chute_engine *e, const chute_activate_request *req,
                            size_t max_bytes, chute_deliver_fn deliver, void *ctx,
                            chute_taker **out, chute_error *err)
{
    chute_taker *w;
    int rc = taker_new(e, req, 0, max_bytes, deliver, ctx, &w, err);
    if (rc != 0)
        return rc;
    jtype *t = w->type;
    w->prev = t->waiters_tail;
    if (t->waiters_tail)
        t->waiters_tail->next = w;
    else
        t->waiters_head = w;
    t->waiters_tail = w;
    e->stats.waiters++;
    delivery_schedule(e, t);
    *out = w;
    return 0;
}

int chute_engine_stream_add(chute_engine *e, const chute_activate_request *req, uint32_t credit,
                            size_t max_bytes, chute_deliver_fn deliver, void *ctx,
                            chute_taker **out, chute_error *err)
{
    chute_taker *s;
    int rc = taker_new(e, req, 1, max_bytes, deliver, ctx, &s, err);
    if (rc != 0)
        return rc;
    s->credit = credit;
    jtype *t = s->type;
    if (!t->streams) {
        s->next = s->prev = s;
        t->streams = s;
    } else {
        /* Insert just before the cursor: the newest stream is served last in
         * the current round. */
        s->next = t->streams;
        s->prev = t->streams->prev;
        s->prev->next = s;
        t->streams->prev = s;
    }
    t->nstreams++;
    e->stats.streams++;
    delivery_schedule(e, t);
    *out = s;
    return 0;
}

void chute_engine_stream_credit(chute_engine *e, chute_taker *stream, uint32_t n)
{
    assert(stream->kind == TAKER_STREAM);
    uint64_t c = (uint64_t)stream->credit + n;
    stream->credit = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    if (n)
        delivery_schedule(e, stream->type);
}

static void unlink_taker(chute_engine *e, chute_taker *tk)
{
    jtype *t = tk->type;
    if (tk->kind == TAKER_WAITER) {
        assert(e->stats.waiters > 0);
        if (tk->prev)
            tk->prev->next = tk->next;
        else
            t->waiters_head = tk->next;
        if (tk->next)
            tk->next->prev = tk->prev;
        else
            t->waiters_tail = tk->prev;
        e->stats.waiters--;
    } else {
        assert(t->nstreams > 0 && e->stats.streams > 0);
        if (tk->next == tk) {
            t->streams = NULL;
        } else {
            tk->prev->next = tk->next;
            tk->next->prev = tk->prev;
            if (t->streams == tk)
                t->streams = tk->next;
        }
        t->nstreams--;
        e->stats.streams--;
    }
    queue_note_if_empty(e, t);
}

void chute_engine_taker_remove(chute_engine *e, chute_taker *taker)
{
    if (!taker)
        return;
    unlink_taker(e, taker);
    taker_free(taker);
}

/* ---- dispatch --------------------------------------------------------------- */

/* Serves the streams of |t| round robin, each taking a fair share of what is
 * ready (bounded by its credit) per turn. */
static size_t serve_streams(chute_engine *e, jtype *t)
{
    size_t total = 0;
    while (t->ready.count > 0 && t->streams) {
        uint32_t with_credit = 0;
        chute_taker *s = t->streams;
        do {
            if (s->credit > 0)
                with_credit++;
            s = s->next;
        } while (s != t->streams);
        if (with_credit == 0)
            break;
        uint32_t share = t->ready.count / with_credit;
        if (share == 0)
            share = 1;
        uint32_t turns = t->nstreams;
        for (uint32_t i = 0; i < turns && t->ready.count > 0 && t->streams; i++) {
            s = t->streams;
            t->streams = s->next; /* advance the cursor before delivering */
            if (s->credit == 0)
                continue;
            uint32_t want = share < s->credit ? share : s->credit;
            size_t n = 0;
            chute_error err;
            if (engine_activate_into(e, t, s->worker, s->timeout_ms, want, s->max_bytes, s->fetch,
                                     s->nfetch, 0, &n, &err) != 0 ||
                n == 0)
                return total;
            /* Each delivered job uses one credit: a stream never gets more
             * than it has. */
            assert(n <= want);
            s->credit -= (uint32_t)n;
            total += n;
            s->deliver(s->ctx, s, e->views, n);
        }
    }
    return total;
}

static size_t serve_waiters(chute_engine *e, jtype *t)
{
    size_t total = 0;
    while (t->ready.count > 0 && t->waiters_head) {
        chute_taker *w = t->waiters_head;
        size_t n = 0;
        chute_error err;
        if (engine_activate_into(e, t, w->worker, w->timeout_ms, (uint32_t)w->max_jobs,
                                 w->max_bytes, w->fetch, w->nfetch, 0, &n, &err) != 0 ||
            n == 0)
            break;
        assert(n <= (size_t)w->max_jobs);
        /* A waiter is served once: it leaves before its callback runs, and
         * the callback is its last call. */
        unlink_taker(e, w);
        total += n;
        w->deliver(w->ctx, w, e->views, n);
        taker_free(w);
    }
    return total;
}

size_t chute_engine_dispatch(chute_engine *e)
{
    job_scratch_release(e);
    size_t total = 0;
    while (e->dispatch_head) {
        jtype *t = e->dispatch_head;
        assert(t->dispatch_queued);
        e->dispatch_head = t->dispatch_next;
        t->dispatch_queued = 0;
        t->dispatch_next = NULL;
        total += serve_streams(e, t);
        total += serve_waiters(e, t);
    }
    return total;
}
