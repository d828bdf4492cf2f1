/*
 * In-process handlers: jobs of a registered type are run inside the engine's
 * thread by a plain function, the way a remote worker would run them but
 * with no network in between (ZenBPM calls these internal jobs).
 *
 * A round of chute_engine_run: apply due timers, lease ready jobs of every
 * handled type, commit the leases (so a crash while a handler runs leaves
 * the job leased, and it is retried after its timeout, as for any worker),
 * call the handlers, commit what they did.
 */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int chute_engine_register_handler(chute_engine *e, const char *type, chute_handler_fn fn,
                                  void *ctx, const chute_handler_options *opts,
                                  chute_error *err)
{
    size_t blank_prefix = type ? strspn(type, " \t\r\n\f\v") : 0;
    if (!type || type[blank_prefix] == '\0')
        return chute_error_set(err, CHUTE_EINVAL, "a handler needs a job type that is not blank");
    if (strlen(type) > CHUTE_TYPE_MAX)
        return chute_error_set(err, CHUTE_EINVAL, "job type longer than %d bytes",
                               CHUTE_TYPE_MAX);
    if (!fn)
        return chute_error_set(err, CHUTE_EINVAL, "a handler needs a function");
    jtype *t = queue_type_get(e, type, 1);
    if (!t)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    if (t->handler)
        return chute_error_set(err, CHUTE_EEXIST, "job type '%s' already has a handler", type);
    chute_handler_options o = {"in-process", 30000, 32};
    if (opts) {
        if (opts->worker && *opts->worker)
            o.worker = opts->worker;
        if (opts->timeout_ms > 0)
            o.timeout_ms = opts->timeout_ms;
        if (opts->max_jobs > 0)
            o.max_jobs = opts->max_jobs;
    }
    o.worker = strdup(o.worker);
    if (!o.worker)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    t->handler = fn;
    t->handler_ctx = ctx;
    t->handler_opts = o;
    return 0;
}

void chute_engine_stop(chute_engine *e)
{
    e->stop = 1;
}

/* Leases ready jobs of every handled type into e->views; returns the count. */
static int lease_for_handlers(chute_engine *e, size_t *count, chute_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < e->types_cap; i++) {
        for (jtype *t = e->types[i]; t; t = t->hnext) {
            if (!t->handler || t->ready.count == 0)
                continue;
            size_t n = 0;
            int rc = engine_activate_into(e, t, t->handler_opts.worker,
                                          t->handler_opts.timeout_ms, t->handler_opts.max_jobs,
                                          0, NULL, 0, total, &n, err);
            if (rc != 0)
                return rc;
            total += n;
        }
    }
    *count = total;
    return 0;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int chute_engine_run(chute_engine *e, int64_t until_ms, chute_error *err)
{
    e->stop = 0;
    for (;;) {
        if (e->stop)
            return 0;
        job_scratch_release(e);
        chute_engine_tick(e);
        size_t n = 0;
        int rc = lease_for_handlers(e, &n, err);
        if (rc != 0)
            return rc;
        if ((rc = chute_engine_commit(e, err)) != 0)
            return rc;
        if (n > 0) {
            /* Handlers may call into the engine, which reuses e->views, so
             * they run from a copy. The strings stay valid: a settled job
             * is only retired, and freed in the next round. */
            chute_job_view *views = malloc(n * sizeof *views);
            if (!views)
                return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
            memcpy(views, e->views, n * sizeof *views);
            for (size_t i = 0; i < n; i++) {
                jtype *t = queue_type_get(e, views[i].type, 0);
                if (t && t->handler)
                    t->handler(t->handler_ctx, e, &views[i]);
            }
            free(views);
            if ((rc = chute_engine_commit(e, err)) != 0)
                return rc;
            continue;
        }
        /* Nothing ready for a handler: wait for the next timer, if any comes
         * before |until_ms|. */
        int64_t now = engine_now(e);
        /* Only job timers count: the sweep of retained results is due far
         * ahead and must not keep an otherwise idle run alive. */
        job *next = heap_top(&e->timers);
        int64_t due = next ? next->deadline : INT64_MAX;
        if (now >= until_ms || due == INT64_MAX || due > until_ms)
            return 0;
        int64_t wait = due - now;
        sleep_ms(wait > 100 ? 100 : wait);
    }
}
