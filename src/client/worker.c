/*
 * The job worker (see <chute/worker.h> for its behaviour).
 *
 * Threads. A control thread runs the schedule (sched.h): it starts polls
 * and opens the stream, then sleeps until the next poll is due or something
 * changed. Poll and stream callbacks run on the client's I/O thread; they
 * put jobs into the buffer (a FIFO) and wake the handler threads, which
 * take jobs from the buffer and run the handler. All state is guarded by
 * |mu|; nothing calls out (handlers, metrics, error reports) with it held.
 *
 * Accounting. |s.held| counts jobs from arrival until their handler
 * returns or they are handed back; the buffer holds the unstarted ones.
 * Stream credit is recomputed whenever |held| or the poll reservation
 * changes, so the stream can only push into free room.
 */
#include <chute/worker.h>

#include "client/rpc.h"
#include "client/sched.h"
#include "client/transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct jnode {
    chute_job *job;
    struct jnode *next;
} jnode;

struct chute_job_client {
    chute_worker *w;
    const chute_job *job;
    int settled;
};

struct chute_worker {
    chute_client *client;
    chute_worker_options o; /* strings point to the copies below */
    char *type;
    char *name;
    char **fetch;
    chute_worker_metrics metrics;
    int has_metrics;

    pthread_mutex_t mu;
    pthread_cond_t ctl_cv;  /* the control thread sleeps on it */
    pthread_cond_t jobs_cv; /* handler threads wait for jobs */
    pthread_cond_t idle_cv; /* close waits for everything to stop */
    pthread_t ctl;

    csched s;
    jnode *head, *tail;
    int buffered;
    int running;
    int threads;
    int idle_threads;
    int min_threads;
    int closing;
    int job_done_pending;

    ccall *poll_call;
    ccall *stream;
    int stream_active; /* a stream call exists (until its on_done) */
    uint64_t stream_seen;
    int stream_disabled;
    int64_t stream_retry_at;
    int64_t stream_backoff;

    size_t floor_bytes, min_bytes, max_bytes;
    int handbacks; /* FailJob calls of the close in flight */
    int io_busy;   /* I/O-thread callbacks still using the worker after unlocking */
    chute_worker_stats st;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(chute_worker *w, const chute_error *err)
{
    if (w->o.on_error)
        w->o.on_error(w->o.user_data, err);
    else
        fprintf(stderr, "chute worker '%s' (%s): %s: %s\n", w->name, w->type,
                chute_err_name(err->code), err->message);
}

static int64_t backoff_next(chute_worker *w, int64_t prev)
{
    return w->o.backoff(w->o.backoff_user_data, prev);
}

/* ---- the buffer and its accounting (all with |mu| held) ------------------- */

static void note_sizes(chute_worker *w, size_t mn, size_t mx)
{
    if (mn && (!w->min_bytes || mn < w->min_bytes))
        w->min_bytes = mn;
    if (mx > w->max_bytes)
        w->max_bytes = mx;
}

static void update_credit(chute_worker *w)
{
    if (!w->stream || w->closing)
        return;
    int credit = csched_stream_credit(&w->s);
    size_t mn = w->min_bytes ? w->min_bytes : w->floor_bytes;
    size_t mx = w->max_bytes > mn ? w->max_bytes : mn;
    ccall_set_credit(w->stream, credit, w->stream_seen, mn, mx);
}

static void note_held(chute_worker *w)
{
    int held = w->buffered + w->running;
    if (held > w->st.max_held)
        w->st.max_held = held;
}

static void *handler_main(void *arg);

static void spawn_locked(chute_worker *w)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, handler_main, w) == 0) {
        w->threads++;
        if (w->threads > w->st.max_threads)
            w->st.max_threads = w->threads;
    }
    pthread_attr_destroy(&a);
}

static void grow_locked(chute_worker *w)
{
    while (csched_pool_should_grow(w->threads, w->o.concurrency, w->idle_threads, w->buffered)) {
        int before = w->threads;
        spawn_locked(w);
        if (w->threads == before)
            break;
        w->idle_threads++; /* it will be idle until it takes a job */
    }
}

static void handback_done(void *ud, int rc, const chute_error *err)
{
    chute_worker *w = ud;
    if (rc < 0 && rc != CHUTE_ECLOSED)
        report(w, err);
    pthread_mutex_lock(&w->mu);
    w->handbacks--;
    pthread_cond_broadcast(&w->idle_cv);
    pthread_mutex_unlock(&w->mu);
}

/* Gives an unstarted job back to the broker at once: its retries stay and
 * there is no back-off, so the next worker can take it immediately. */
static void hand_back_locked(chute_worker *w, chute_job *j)
{
    char msg[160];
    snprintf(msg, sizeof msg, "job worker '%s' closed before it started the job", w->name);
    w->handbacks++;
    w->st.handed_back++;
    chute_error e;
    if (chute_client_fail_job_async(w->client, j->key, j->retries, msg, 0, NULL, NULL,
                                    handback_done, w, &e) < 0)
        w->handbacks--;
    chute_job_free(j);
}

static void push_locked(chute_worker *w, chute_job *j)
{
    jnode *n = malloc(sizeof *n);
    if (!n) {
        /* Cannot keep it: hand it back rather than sit on its lease. */
        hand_back_locked(w, j);
        csched_job_done(&w->s);
        return;
    }
    n->job = j;
    n->next = NULL;
    if (w->tail)
        w->tail->next = n;
    else
        w->head = n;
    w->tail = n;
    w->buffered++;
}

static chute_job *pop_locked(chute_worker *w)
{
    jnode *n = w->head;
    if (!n)
        return NULL;
    w->head = n->next;
    if (!w->head)
        w->tail = NULL;
    w->buffered--;
    chute_job *j = n->job;
    free(n);
    return j;
}

typedef struct metric_calls {
    int activated, handled, failed, buffered_changed, buffered;
} metric_calls;

static void metrics_emit(chute_worker *w, const metric_calls *m)
{
    if (!w->has_metrics)
        return;
    const chute_worker_metrics *x = &w->metrics;
    if (m->activated && x->jobs_activated)
        x->jobs_activated(x->user_data, w->type, m->activated);
    if (m->handled && x->jobs_handled)
        x->jobs_handled(x->user_data, w->type, m->handled);
    if (m->failed && x->jobs_failed)
        x->jobs_failed(x->user_data, w->type, m->failed);
    if (m->buffered_changed && x->buffered)
        x->buffered(x->user_data, w->type, m->buffered);
}

/* ---- polls ------------------------------------------------------------------ */

/* The end of an I/O-thread callback that used |w| after unlocking. */
static void io_done(chute_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->io_busy--;
    pthread_cond_broadcast(&w->idle_cv);
    pthread_mutex_unlock(&w->mu);
}

static void poll_cb(void *ud, int rc, const chute_error *err, chute_job_list *jobs, size_t mn,
                    size_t mx)
{
    chute_worker *w = ud;
    metric_calls m = {0};
    chute_error e;
    int reported = 0;
    pthread_mutex_lock(&w->mu);
    ccall *pc = w->poll_call;
    w->poll_call = NULL;
    int64_t backoff = 0;
    if (rc < 0) {
        w->st.poll_errors++;
        if (!w->closing && rc != CHUTE_ECLOSED) {
            backoff = backoff_next(w, w->s.backoff_delay);
            e = *err;
            reported = 1;
        }
    } else {
        w->st.polls++;
    }
    int got = (int)jobs->count;
    if (w->closing) {
        for (size_t i = 0; i < jobs->count; i++)
            hand_back_locked(w, jobs->jobs[i]);
    } else {
        note_sizes(w, mn, mx);
        for (size_t i = 0; i < jobs->count; i++)
            push_locked(w, jobs->jobs[i]);
        csched_jobs_arrived(&w->s, got, 0);
        w->st.activated += (uint64_t)got;
        note_held(w);
        m.activated = got;
        m.buffered_changed = got > 0;
        m.buffered = w->buffered;
        grow_locked(w);
        if (got)
            pthread_cond_broadcast(&w->jobs_cv);
    }
    free(jobs->jobs);
    jobs->jobs = NULL;
    jobs->count = 0;
    csched_poll_done(&w->s, mono_ms(), rc < 0 && !w->closing ? rc : 0, got, backoff);
    update_credit(w);
    pthread_cond_signal(&w->ctl_cv);
    w->io_busy++; /* close must not free |w| before the calls below */
    pthread_mutex_unlock(&w->mu);
    ccall_release(pc);
    metrics_emit(w, &m);
    if (reported)
        report(w, &e);
    io_done(w);
}

static void start_poll_locked(chute_worker *w, int n, int64_t now)
{
    chute_client_activate_request req = {0};
    req.type = w->type;
    req.worker = w->name;
    req.timeout_ms = w->o.timeout_ms;
    req.max_jobs = n;
    /* With a stream open, polls only backfill: no long polling, so that
     * they never hold room the stream could use. */
    req.request_timeout_ms = w->s.stream_open ? -1 : w->o.request_timeout_ms;
    req.fetch_variables = (const char *const *)w->fetch;
    req.fetch_variable_count = w->o.fetch_variable_count;
    int64_t lp = req.request_timeout_ms > 0 ? req.request_timeout_ms : 0;
    csched_poll_started(&w->s, n);
    chute_error e;
    int r = crpc_activate_start(w->client, &req, lp + 10000, poll_cb, w, &w->poll_call, &e);
    if (r < 0) {
        w->st.poll_errors++;
        csched_poll_done(&w->s, now, r, 0, backoff_next(w, w->s.backoff_delay));
        if (!w->closing)
            report(w, &e);
    }
    update_credit(w);
}

/* ---- the stream ------------------------------------------------------------- */

static int stream_job_cb(void *ud, chute_job *j, size_t bytes)
{
    chute_worker *w = ud;
    metric_calls m = {0};
    pthread_mutex_lock(&w->mu);
    w->stream_seen++;
    if (w->closing) {
        hand_back_locked(w, j);
    } else {
        note_sizes(w, bytes, bytes);
        push_locked(w, j);
        csched_jobs_arrived(&w->s, 1, 1);
        w->st.activated++;
        w->st.stream_jobs++;
        note_held(w);
        m.activated = 1;
        m.buffered_changed = 1;
        m.buffered = w->buffered;
        grow_locked(w);
        pthread_cond_signal(&w->jobs_cv);
        update_credit(w);
    }
    w->io_busy++;
    pthread_mutex_unlock(&w->mu);
    metrics_emit(w, &m);
    io_done(w);
    return 0;
}

static void stream_done_cb(void *ud, int rc, const chute_error *err)
{
    chute_worker *w = ud;
    chute_error e;
    int reported = 0;
    pthread_mutex_lock(&w->mu);
    ccall *sc = w->stream;
    w->stream = NULL;
    w->stream_active = 0;
    w->s.stream_open = 0;
    w->s.stream_allowance = 0;
    int64_t now = mono_ms();
    if (!w->closing) {
        if (rc == 0 || rc == CHUTE_ETIMEDOUT) {
            /* StreamTimeout reached (or the server ended it): renew now. */
            w->stream_backoff = 0;
            w->stream_retry_at = now;
        } else if (rc == CHUTE_EUNIMPL) {
            w->stream_disabled = 1;
            e = *err;
            reported = 1;
        } else {
            w->stream_backoff = backoff_next(w, w->stream_backoff);
            w->stream_retry_at = now + w->stream_backoff;
            e = *err;
            reported = 1;
        }
    }
    pthread_cond_signal(&w->ctl_cv);
    w->io_busy++;
    pthread_mutex_unlock(&w->mu);
    ccall_release(sc);
    if (reported)
        report(w, &e);
    io_done(w);
}

static void open_stream_locked(chute_worker *w, int64_t now)
{
    chute_client_activate_request req = {0};
    req.type = w->type;
    req.worker = w->name;
    req.timeout_ms = w->o.timeout_ms;
    req.fetch_variables = (const char *const *)w->fetch;
    req.fetch_variable_count = w->o.fetch_variable_count;
    chute_error e;
    w->st.streams_opened++;
    w->stream_seen = 0;
    w->s.stream_allowance = 0;
    int r =
        crpc_stream_start(w->client, &req, w->o.stream_timeout_ms > 0 ? w->o.stream_timeout_ms : 0,
                          stream_job_cb, stream_done_cb, w, &w->stream, &e);
    if (r < 0) {
        w->stream = NULL;
        w->stream_backoff = backoff_next(w, w->stream_backoff);
        w->stream_retry_at = now + w->stream_backoff;
        if (!w->closing)
            report(w, &e);
        return;
    }
    w->stream_active = 1;
    w->s.stream_open = 1;
    w->s.backfill_delay = 0;
    update_credit(w);
}

/* ---- the control thread ------------------------------------------------------ */

static void *control_main(void *arg)
{
    chute_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->closing) {
        int64_t now = mono_ms();
        if (w->o.stream_enabled && !w->stream_disabled && !w->stream_active &&
            now >= w->stream_retry_at)
            open_stream_locked(w, now);
        int n = csched_poll_size(&w->s, now, w->job_done_pending);
        w->job_done_pending = 0;
        if (n > 0)
            start_poll_locked(w, n, now);
        int64_t wake = csched_next_wakeup(&w->s);
        if (w->o.stream_enabled && !w->stream_disabled && !w->stream_active &&
            w->stream_retry_at < wake)
            wake = w->stream_retry_at;
        if (w->job_done_pending || w->closing)
            continue;
        /* Nothing due in the future: every change that could start a poll
         * (a handled job, an ended poll or stream) signals ctl_cv. */
        if (wake == INT64_MAX || wake <= now) {
            pthread_cond_wait(&w->ctl_cv, &w->mu);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t d = wake - now;
            ts.tv_sec += d / 1000;
            ts.tv_nsec += (d % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&w->ctl_cv, &w->mu, &ts);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- handler threads ----------------------------------------------------------- */

static int settle(chute_job_client *jc, chute_error *err)
{
    if (!jc || !jc->w)
        return chute_error_set(err, CHUTE_EINVAL, "no job client");
    return 0;
}

int chute_job_complete(chute_job_client *jc, const char *variables, chute_error *err)
{
    int r = settle(jc, err);
    if (r < 0)
        return r;
    r = chute_client_complete_job(jc->w->client, jc->job->key, variables, NULL, err);
    jc->settled = 1;
    pthread_mutex_lock(&jc->w->mu);
    if (r == 0)
        jc->w->st.completed++;
    pthread_mutex_unlock(&jc->w->mu);
    return r;
}

static void count_failed(chute_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->st.failed++;
    pthread_mutex_unlock(&w->mu);
    if (w->has_metrics && w->metrics.jobs_failed)
        w->metrics.jobs_failed(w->metrics.user_data, w->type, 1);
}

int chute_job_fail(chute_job_client *jc, int32_t retries, const char *error_message,
                   int64_t retry_backoff_ms, const char *variables, chute_error *err)
{
    int r = settle(jc, err);
    if (r < 0)
        return r;
    r = chute_client_fail_job(jc->w->client, jc->job->key, retries, error_message, retry_backoff_ms,
                              variables, NULL, err);
    jc->settled = 1;
    if (r == 0)
        count_failed(jc->w);
    return r;
}

int chute_job_throw_error(chute_job_client *jc, const char *error_code, const char *error_message,
                          const char *variables, chute_error *err)
{
    int r = settle(jc, err);
    if (r < 0)
        return r;
    r = chute_client_throw_error(jc->w->client, jc->job->key, error_code, error_message, variables,
                                 NULL, err);
    jc->settled = 1;
    if (r == 0)
        count_failed(jc->w);
    return r;
}

chute_client *chute_job_client_client(chute_job_client *jc)
{
    return jc->w->client;
}

static void *handler_main(void *arg)
{
    chute_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    /* spawn_locked counted this thread idle */
    w->idle_threads--;
    for (;;) {
        int timed_out = 0;
        while (!w->head && !w->closing) {
            w->idle_threads++;
            if (w->threads > w->min_threads) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += w->o.pool_idle_ms / 1000;
                ts.tv_nsec += (w->o.pool_idle_ms % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                timed_out = pthread_cond_timedwait(&w->jobs_cv, &w->mu, &ts) == ETIMEDOUT;
            } else {
                pthread_cond_wait(&w->jobs_cv, &w->mu);
            }
            w->idle_threads--;
            if (timed_out && !w->head && w->threads > w->min_threads)
                goto out; /* the pool shrinks */
        }
        if (w->closing)
            break; /* unstarted jobs are handed back by close */
        chute_job *j = pop_locked(w);
        w->running++;
        metric_calls m = {0};
        m.buffered_changed = 1;
        m.buffered = w->buffered;
        pthread_mutex_unlock(&w->mu);
        metrics_emit(w, &m);

        chute_job_client jc = {w, j, 0};
        w->o.handler(&jc, j, w->o.user_data);
        if (!jc.settled && w->o.auto_complete) {
            chute_error e;
            if (chute_job_complete(&jc, NULL, &e) < 0)
                report(w, &e);
        }
        chute_job_free(j);

        pthread_mutex_lock(&w->mu);
        w->running--;
        w->st.handled++;
        csched_job_done(&w->s);
        w->job_done_pending = 1;
        update_credit(w);
        pthread_cond_signal(&w->ctl_cv);
        if (w->has_metrics && w->metrics.jobs_handled) {
            pthread_mutex_unlock(&w->mu);
            w->metrics.jobs_handled(w->metrics.user_data, w->type, 1);
            pthread_mutex_lock(&w->mu);
        }
    }
out:
    w->threads--;
    pthread_cond_broadcast(&w->idle_cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- open and close -------------------------------------------------------------- */

void chute_worker_options_init(chute_worker_options *o)
{
    memset(o, 0, sizeof *o);
    o->name = "default";
    o->timeout_ms = 300000;
    o->poll_interval_ms = 100;
    o->max_jobs_active = 32;
    o->poll_threshold = 0.3;
    o->concurrency = 4;
    o->pool_idle_ms = 10000;
    o->request_timeout_ms = 10000;
    o->stream_timeout_ms = 3600000;
}

static void worker_free(chute_worker *w)
{
    if (w->fetch) {
        for (size_t i = 0; i < w->o.fetch_variable_count; i++)
            free(w->fetch[i]);
        free(w->fetch);
    }
    free(w->type);
    free(w->name);
    free(w);
}

int chute_worker_open(chute_worker **out, chute_client *client, const chute_worker_options *opts,
                      chute_error *err)
{
    if (!client || !opts)
        return chute_error_set(err, CHUTE_EINVAL, "a worker needs a client and options");
    if (!opts->type || !*opts->type)
        return chute_error_set(err, CHUTE_EINVAL, "the worker's job type is missing");
    if (!opts->handler)
        return chute_error_set(err, CHUTE_EINVAL, "the worker's handler is missing");
    if (opts->max_jobs_active < 1)
        return chute_error_set(err, CHUTE_EINVAL, "max_jobs_active must be >= 1 (got %d)",
                               opts->max_jobs_active);
    if (opts->concurrency < 1)
        return chute_error_set(err, CHUTE_EINVAL, "concurrency must be >= 1 (got %d)",
                               opts->concurrency);
    if (opts->concurrency_min < 0 || opts->concurrency_min > opts->concurrency)
        return chute_error_set(err, CHUTE_EINVAL,
                               "concurrency_min must be between 0 and concurrency (got %d)",
                               opts->concurrency_min);
    if (opts->timeout_ms < 1)
        return chute_error_set(err, CHUTE_EINVAL, "timeout_ms must be >= 1 (got %lld)",
                               (long long)opts->timeout_ms);
    if (!(opts->poll_threshold >= 0 && opts->poll_threshold <= 1))
        return chute_error_set(err, CHUTE_EINVAL, "poll_threshold must be between 0 and 1");
    if (opts->poll_interval_ms < 0)
        return chute_error_set(err, CHUTE_EINVAL, "poll_interval_ms must be >= 0");

    chute_worker *w = calloc(1, sizeof *w);
    if (!w)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    w->client = client;
    w->o = *opts;
    w->type = strdup(opts->type);
    w->name = strdup(opts->name && *opts->name ? opts->name : "default");
    int ok = w->type && w->name;
    if (ok && opts->fetch_variable_count) {
        w->fetch = calloc(opts->fetch_variable_count, sizeof *w->fetch);
        ok = w->fetch != NULL;
        for (size_t i = 0; ok && i < opts->fetch_variable_count; i++)
            ok = (w->fetch[i] = strdup(opts->fetch_variables[i])) != NULL;
    } else {
        w->o.fetch_variable_count = 0;
    }
    if (!ok) {
        worker_free(w);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    w->o.type = w->type;
    w->o.name = w->name;
    w->o.fetch_variables = NULL;
    if (!w->o.backoff) {
        w->o.backoff = chute_backoff_exponential;
        w->o.backoff_user_data = NULL;
    }
    if (w->o.pool_idle_ms <= 0)
        w->o.pool_idle_ms = 10000;
    if (opts->metrics) {
        w->metrics = *opts->metrics;
        w->has_metrics = 1;
    }
    w->o.metrics = NULL;
    w->floor_bytes = crpc_min_job_bytes(w->type, w->name);
    w->min_threads = opts->concurrency_min >= 1 ? opts->concurrency_min : opts->concurrency;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->ctl_cv, &ca);
    pthread_cond_init(&w->jobs_cv, &ca);
    pthread_cond_init(&w->idle_cv, &ca);
    pthread_condattr_destroy(&ca);

    csched_init(&w->s, w->o.max_jobs_active, w->o.concurrency, w->o.poll_threshold,
                w->o.stream_enabled, w->o.poll_interval_ms, mono_ms());
    w->stream_retry_at = 0;

    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->min_threads; i++) {
        spawn_locked(w);
        w->idle_threads++;
    }
    int started = w->threads;
    pthread_mutex_unlock(&w->mu);
    if (started < w->min_threads || pthread_create(&w->ctl, NULL, control_main, w) != 0) {
        pthread_mutex_lock(&w->mu);
        w->closing = 1;
        pthread_cond_broadcast(&w->jobs_cv);
        while (w->threads > 0)
            pthread_cond_wait(&w->idle_cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        pthread_cond_destroy(&w->ctl_cv);
        pthread_cond_destroy(&w->jobs_cv);
        pthread_cond_destroy(&w->idle_cv);
        pthread_mutex_destroy(&w->mu);
        worker_free(w);
        return chute_error_set(err, CHUTE_EINTERNAL, "cannot start the worker's threads");
    }
    *out = w;
    return 0;
}

void chute_worker_close(chute_worker *w)
{
    if (!w)
        return;
    metric_calls m = {0};
    pthread_mutex_lock(&w->mu);
    w->closing = 1;
    /* No new jobs: stop the poll and the stream. Jobs they still deliver
     * are handed back by their callbacks. */
    if (w->poll_call)
        ccall_cancel(w->poll_call);
    if (w->stream)
        ccall_cancel(w->stream);
    /* Unstarted jobs go back at once. */
    chute_job *j;
    while ((j = pop_locked(w)) != NULL) {
        hand_back_locked(w, j);
        csched_job_done(&w->s);
        m.buffered_changed = 1;
    }
    m.buffered = 0;
    pthread_cond_broadcast(&w->jobs_cv);
    pthread_cond_signal(&w->ctl_cv);
    pthread_mutex_unlock(&w->mu);
    metrics_emit(w, &m);
    pthread_join(w->ctl, NULL);

    /* Running handlers finish; the calls of the I/O thread end. */
    pthread_mutex_lock(&w->mu);
    while (w->threads > 0 || w->s.poll_in_flight || w->stream_active || w->handbacks > 0 ||
           w->io_busy > 0)
        pthread_cond_wait(&w->idle_cv, &w->mu);
    pthread_mutex_unlock(&w->mu);

    pthread_cond_destroy(&w->ctl_cv);
    pthread_cond_destroy(&w->jobs_cv);
    pthread_cond_destroy(&w->idle_cv);
    pthread_mutex_destroy(&w->mu);
    worker_free(w);
}

void chute_worker_get_stats(chute_worker *w, chute_worker_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->buffered = w->buffered;
    out->running = w->running;
    out->threads = w->threads;
    pthread_mutex_unlock(&w->mu);
}
