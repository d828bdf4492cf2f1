/* The job worker's decisions; see sched.h. */
#include "client/sched.h"

#include <chute/worker.h>

#include <math.h>
#include <stdint.h>

int csched_threshold_count(double threshold, int max)
{
    if (!(threshold > 0))
        return 0;
    double t = ceil(threshold * (double)max - 1e-9);
    if (t > max)
        return max;
    return (int)t;
}

void csched_init(csched *s, int max_jobs_active, int concurrency, double poll_threshold,
                 int streaming, int64_t poll_interval, int64_t now)
{
    *s = (csched){0};
    s->max_jobs_active = max_jobs_active;
    s->concurrency = concurrency;
    s->threshold = csched_threshold_count(poll_threshold, max_jobs_active);
    s->streaming = streaming;
    s->poll_interval = poll_interval;
    s->backfill_max = poll_interval > 10000 ? poll_interval : 10000;
    s->next_poll_at = now; /* poll on open */
}

int csched_capacity(const csched *s)
{
    return s->streaming ? s->max_jobs_active + s->concurrency : s->max_jobs_active;
}

int csched_poll_size(const csched *s, int64_t now, int job_done)
{
    if (s->poll_in_flight)
        return 0;
    /* Backing off after an error: nothing starts a poll early. */
    if (s->backoff_delay > 0 && now < s->next_poll_at)
        return 0;
    int room = s->max_jobs_active - s->held;
    if (s->streaming && s->stream_open) {
        /* Backfill: never ask for more than the stream leaves room for, and
         * only on the timer (the stream brings the jobs). */
        int left = csched_capacity(s) - s->held - s->stream_allowance;
        if (left < room)
            room = left;
        if (room <= 0)
            return 0;
        return now >= s->next_poll_at ? room : 0;
    }
    if (room <= 0 || s->held > s->threshold)
        return 0;
    /* At or below the threshold: the first handled job that brought us
     * here polls at once; otherwise the poll interval decides. */
    if (job_done && s->threshold_armed)
        return room;
    return now >= s->next_poll_at ? room : 0;
}

void csched_poll_started(csched *s, int n)
{
    s->poll_in_flight = 1;
    s->poll_reserved = n;
    s->threshold_armed = 0;
}

void csched_poll_done(csched *s, int64_t now, int rc, int got, int64_t backoff)
{
    s->poll_in_flight = 0;
    s->poll_reserved = 0;
    if (rc < 0) {
        s->backoff_delay = backoff > 0 ? backoff : 1;
        s->next_poll_at = now + s->backoff_delay;
        return;
    }
    s->backoff_delay = 0;
    if (s->streaming && s->stream_open) {
        /* Backfill polls thin out while they find nothing. */
        if (got > 0 || s->backfill_delay <= 0)
            s->backfill_delay = s->poll_interval > 0 ? s->poll_interval : 1;
        else if (s->backfill_delay < s->backfill_max)
            s->backfill_delay =
                s->backfill_delay * 2 < s->backfill_max ? s->backfill_delay * 2 : s->backfill_max;
        s->next_poll_at = now + s->backfill_delay;
        return;
    }
    s->next_poll_at = now + s->poll_interval;
}

void csched_jobs_arrived(csched *s, int n, int from_stream)
{
    s->held += n;
    if (from_stream) {
        s->stream_allowance -= n;
        if (s->stream_allowance < 0)
            s->stream_allowance = 0;
    }
    if (s->held > s->threshold)
        s->threshold_armed = 1;
}

void csched_job_done(csched *s)
{
    if (s->held > 0)
        s->held--;
}

int csched_stream_credit(csched *s)
{
    int credit = csched_capacity(s) - s->held - s->poll_reserved;
    if (credit < 0)
        credit = 0;
    /* The window never shrinks on the wire: what was granted stays. */
    if (credit > s->stream_allowance)
        s->stream_allowance = credit;
    return credit;
}

int64_t csched_next_wakeup(const csched *s)
{
    return s->poll_in_flight ? INT64_MAX : s->next_poll_at;
}

int csched_pool_should_grow(int threads, int max_threads, int idle_threads, int buffered)
{
    return threads < max_threads && buffered > idle_threads;
}

/* ---- back-off ------------------------------------------------------------- */

void chute_backoff_policy_init(chute_backoff_policy *p)
{
    p->min_delay_ms = 50;
    p->max_delay_ms = 5000;
    p->factor = 1.6;
    p->jitter = 0.1;
}

int64_t chute_backoff_next(const chute_backoff_policy *p, int64_t previous, double random01)
{
    double mn = (double)(p->min_delay_ms > 0 ? p->min_delay_ms : 1);
    double mx = (double)(p->max_delay_ms > p->min_delay_ms ? p->max_delay_ms : mn);
    double base = previous <= 0 ? mn : (double)previous * (p->factor > 1 ? p->factor : 1);
    if (base < mn)
        base = mn;
    if (base > mx)
        base = mx;
    double j = p->jitter > 0 ? p->jitter : 0;
    double d = base + base * j * (2.0 * random01 - 1.0);
    if (d < 1)
        d = 1;
    return (int64_t)llround(d);
}

static uint64_t rng_next(void)
{
    /* xorshift64*, shared and racy on purpose: jitter needs no quality,
     * and a lost update only repeats a value. */
    static _Atomic uint64_t state = 0x9e3779b97f4a7c15ull;
    uint64_t x = state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state = x;
    return x * 0x2545f4914f6cdd1dull;
}

int64_t chute_backoff_exponential(void *user_data, int64_t previous)
{
    chute_backoff_policy def;
    const chute_backoff_policy *p = user_data;
    if (!p) {
        chute_backoff_policy_init(&def);
        p = &def;
    }
    double r = (double)(rng_next() >> 11) / (double)(1ull << 53);
    return chute_backoff_next(p, previous, r);
}
