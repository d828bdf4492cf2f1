/*
 * The commit point of chuted; see broker.h.
 */
#include "server/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/heap.h"
#include "common/hmap.h"
#include "server/log.h"

struct broker {
    uv_loop_t *loop;
    chute_engine *e;
    uv_check_t check;
    uv_idle_t kick;
    uv_timer_t engine_timer;
    uv_timer_t poll_timer;
    uv_timer_t wait_timer;
    heap polls;  /* waiting long polls by expiry */
    heap timers; /* armed broker_timers by expiry */
    broker_pending *pending_head, *pending_tail;
    size_t npending;     /* length of the pending list */
    size_t max_inflight; /* 0: no limit */
    uint64_t rejected_inflight;
    int commit_failed;    /* the last commit failed */
    log_limit commit_log; /* a full disk fails every commit: a few lines a window */
    int closing;
    int handles_closed; /* the loop handles are closing or closed */
    int handles_open;
    void (*done)(void *);
    void *done_ctx;
};

/* ---- completions ---------------------------------------------------------- */

static void on_kick(uv_idle_t *h)
{
    /* Nothing to do here: while this handle is active the loop's poll does
     * not block, and on_check (which stops it) runs right after. Stopping it
     * here would be too early: the poll timeout is computed after the idle
     * phase. */
    (void)h;
}

void broker_kick(broker *b)
{
    /* An active idle handle makes the loop poll without blocking, so the
     * check handle (flush) runs promptly after callbacks that changed
     * state outside of I/O reads. */
    if (!b->handles_closed)
        uv_idle_start(&b->kick, on_kick);
}

void broker_after_commit(broker *b, broker_pending *p, broker_commit_fn fn)
{
    p->fn = fn;
    p->next = NULL;
    if (b->pending_tail)
        b->pending_tail->next = p;
    else
        b->pending_head = p;
    b->pending_tail = p;
    b->npending++;
    broker_kick(b);
}

/* ---- admission ------------------------------------------------------------ */

int broker_admit(broker *b, broker_load load, chute_error *err)
{
    if (load == BROKER_LOAD_DRAINS || b->max_inflight == 0 || b->npending < b->max_inflight)
        return 0;
    b->rejected_inflight++;
    return chute_error_set(err, CHUTE_EBUSY,
                           "Expected to accept the command, but %zu command%s already wait%s for "
                           "the commit, the limit (--max-inflight); retry with back-off",
                           b->npending, b->npending == 1 ? "" : "s", b->npending == 1 ? "s" : "");
}

void broker_set_max_inflight(broker *b, size_t max)
{
    b->max_inflight = max;
}

void broker_get_stats(const broker *b, broker_stats *out)
{
    out->inflight = b->npending;
    out->max_inflight = b->max_inflight;
    out->rejected_inflight = b->rejected_inflight;
}

/* ---- timers ---------------------------------------------------------------- */

static void arm_engine_timer(broker *b);

static void on_engine_timer(uv_timer_t *t)
{
    broker *b = t->data;
    chute_engine_tick(b->e);
    broker_flush(b);
}

static void arm_engine_timer(broker *b)
{
    if (b->handles_closed)
        return;
    int64_t due = chute_engine_next_due(b->e);
    if (due == INT64_MAX) {
        uv_timer_stop(&b->engine_timer);
        return;
    }
    int64_t wait = due - chute_engine_now(b->e);
    uv_timer_start(&b->engine_timer, on_engine_timer, wait < 0 ? 0 : (uint64_t)wait, 0);
}

static int poll_before(const void *a, const void *c)
{
    const broker_poll *x = a, *y = c;
    return x->expires < y->expires;
}

static uint32_t *poll_pos(void *p)
{
    return &((broker_poll *)p)->heap_pos;
}

static void on_poll_timer(uv_timer_t *t);

static void arm_poll_timer(broker *b)
{
    if (b->handles_closed)
        return;
    broker_poll *p = heap_top(&b->polls);
    if (!p) {
        uv_timer_stop(&b->poll_timer);
        return;
    }
    int64_t wait = p->expires - chute_engine_now(b->e);
    uv_timer_start(&b->poll_timer, on_poll_timer, wait < 0 ? 0 : (uint64_t)wait, 0);
}

/* Ends every poll due by |now| (all of them with INT64_MAX) through on_expire. */
static void expire_polls(broker *b, int64_t now)
{
    broker_poll *p;
    while ((p = heap_top(&b->polls)) && p->expires <= now) {
        heap_pop(&b->polls);
        chute_engine_taker_remove(b->e, p->waiter);
        p->waiter = NULL;
        p->on_expire(p);
    }
}

static void on_poll_timer(uv_timer_t *t)
{
    broker *b = t->data;
    expire_polls(b, chute_engine_now(b->e));
    arm_poll_timer(b);
}

/* ---- call timers (broker_timer) ------------------------------------------------- */

static int timer_before(const void *a, const void *c)
{
    const broker_timer *x = a, *y = c;
    return x->expires < y->expires;
}

static uint32_t *timer_pos(void *t)
{
    return &((broker_timer *)t)->heap_pos;
}

static void on_wait_timer(uv_timer_t *h);

static void arm_wait_timer(broker *b)
{
    if (b->handles_closed)
        return;
    broker_timer *t = heap_top(&b->timers);
    if (!t) {
        uv_timer_stop(&b->wait_timer);
        return;
    }
    int64_t wait = t->expires - chute_engine_now(b->e);
    uv_timer_start(&b->wait_timer, on_wait_timer, wait < 0 ? 0 : (uint64_t)wait, 0);
}

/* Runs every timer due by |now| (all of them with INT64_MAX). */
static void expire_timers(broker *b, int64_t now)
{
    broker_timer *t;
    while ((t = heap_top(&b->timers)) && t->expires <= now) {
        heap_pop(&b->timers);
        t->armed = 0;
        t->fn(t);
    }
}

static void on_wait_timer(uv_timer_t *h)
{
    broker *b = h->data;
    expire_timers(b, chute_engine_now(b->e));
    arm_wait_timer(b);
}

int broker_timer_start(broker *b, broker_timer *t, int64_t wait_ms, broker_timer_fn fn,
                       chute_error *err)
{
    t->armed = 0;
    t->heap_pos = HEAP_NONE;
    t->fn = fn;
    if (b->closing)
        return chute_error_set(err, CHUTE_EUNAVAIL, "chuted is shutting down");
    t->expires = chute_engine_now(b->e) + wait_ms;
    if (heap_push(&b->timers, t) != 0)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    t->armed = 1;
    if (heap_top(&b->timers) == t)
        arm_wait_timer(b);
    return 0;
}

int broker_timer_armed(const broker_timer *t)
{
    return t->armed;
}

void broker_timer_cancel(broker *b, broker_timer *t)
{
    if (!t->armed)
        return;
    heap_remove(&b->timers, t);
    t->armed = 0;
}

/* ---- long polls ------------------------------------------------------------- */

static void poll_deliver(void *ctx, chute_taker *taker, const chute_job_view *jobs, size_t n)
{
    broker_poll *p = ctx;
    (void)taker;
    /* The engine removes a served waiter itself. */
    p->waiter = NULL;
    heap_remove(&p->owner->polls, p);
    p->on_jobs(p, jobs, n);
}

int broker_poll_start(broker *b, broker_poll *p, const chute_activate_request *req,
                      size_t max_bytes, int64_t wait_ms, broker_poll_jobs_fn on_jobs,
                      broker_poll_expire_fn on_expire, chute_error *err)
{
    p->owner = b;
    p->heap_pos = HEAP_NONE;
    p->on_jobs = on_jobs;
    p->on_expire = on_expire;
    p->waiter = NULL;
    if (b->closing)
        return chute_error_set(err, CHUTE_EUNAVAIL, "chuted is shutting down");
    if (heap_reserve(&b->polls, 1) != 0)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    int rc = chute_engine_waiter_add(b->e, req, max_bytes, poll_deliver, p, &p->waiter, err);
    if (rc != 0)
        return rc;
    p->expires = chute_engine_now(b->e) + wait_ms;
    heap_push(&b->polls, p); /* room reserved above */
    if (heap_top(&b->polls) == p)
        arm_poll_timer(b);
    return 0;
}

int broker_poll_waiting(const broker_poll *p)
{
    return p->waiter != NULL;
}

void broker_poll_cancel(broker *b, broker_poll *p)
{
    if (!p->waiter)
        return;
    chute_engine_taker_remove(b->e, p->waiter);
    p->waiter = NULL;
    heap_remove(&b->polls, p);
}

size_t broker_polls_waiting(const broker *b)
{
    return b->polls.count;
}

/* ---- flush: dispatch, commit, release -------------------------------------------- */

void broker_flush(broker *b)
{
    chute_engine_dispatch(b->e);
    chute_error err;
    err.code = 0;
    err.message[0] = '\0';
    int rc = chute_engine_commit(b->e, &err);
    if (rc != 0)
        chuted_log_limited(&b->commit_log, uv_now(b->loop),
                           "commit failed, answering the batch with an error: %s", err.message);
    b->commit_failed = rc != 0;
    /* Releasing can queue more (returned jobs): take the list first. */
    broker_pending *p = b->pending_head;
    b->pending_head = b->pending_tail = NULL;
    b->npending = 0;
    while (p) {
        broker_pending *next = p->next;
        p->fn(p, rc == 0, &err);
        p = next;
    }
    arm_engine_timer(b);
    arm_poll_timer(b);
    arm_wait_timer(b);
}

static void on_check(uv_check_t *h)
{
    broker *b = h->data;
    uv_idle_stop(&b->kick);
    if (b->pending_head || chute_engine_dirty(b->e) || chute_engine_dispatch(b->e) > 0)
        broker_flush(b);
}

/* ---- life cycle -------------------------------------------------------------------- */

int broker_open(broker **out, uv_loop_t *loop, chute_engine *e, chute_error *err)
{
    broker *b = calloc(1, sizeof *b);
    if (!b)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    b->loop = loop;
    b->e = e;
    b->max_inflight = BROKER_DEFAULT_MAX_INFLIGHT;
    heap_init(&b->polls, poll_before, poll_pos);
    heap_init(&b->timers, timer_before, timer_pos);
    uv_check_init(loop, &b->check);
    uv_idle_init(loop, &b->kick);
    uv_timer_init(loop, &b->engine_timer);
    uv_timer_init(loop, &b->poll_timer);
    uv_timer_init(loop, &b->wait_timer);
    b->check.data = b->kick.data = b->engine_timer.data = b->poll_timer.data = b;
    b->wait_timer.data = b;
    uv_check_start(&b->check, on_check);
    b->handles_open = 5;
    arm_engine_timer(b);
    *out = b;
    return 0;
}

chute_engine *broker_engine(const broker *b)
{
    return b->e;
}

int broker_ready(const broker *b)
{
    return !b->commit_failed && !b->closing;
}

static void on_handle_closed(uv_handle_t *h)
{
    broker *b = h->data;
    if (--b->handles_open == 0 && b->done)
        b->done(b->done_ctx);
}

void broker_close(broker *b, void (*done)(void *), void *ctx)
{
    if (b->closing)
        return;
    b->closing = 1;
    b->done = done;
    b->done_ctx = ctx;
    broker_flush(b);
    expire_polls(b, INT64_MAX);
    expire_timers(b, INT64_MAX);
    broker_flush(b);
    b->handles_closed = 1;
    uv_close((uv_handle_t *)&b->check, on_handle_closed);
    uv_close((uv_handle_t *)&b->kick, on_handle_closed);
    uv_close((uv_handle_t *)&b->engine_timer, on_handle_closed);
    uv_close((uv_handle_t *)&b->poll_timer, on_handle_closed);
    uv_close((uv_handle_t *)&b->wait_timer, on_handle_closed);
}

void broker_free(broker *b)
{
    if (!b)
        return;
    heap_free(&b->polls);
    heap_free(&b->timers);
    free(b);
}

