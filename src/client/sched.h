/*
 * The job worker's decisions, as pure functions of its state: when to poll
 * and for how many jobs, how much the stream may push, when to re-open the
 * stream, and when the dynamic pool grows. No threads, no clock (times are
 * passed in, monotonic ms), so tests/client/test_sched.c checks the
 * schedule of the seed directly.
 *
 * Vocabulary: a job is "held" from the moment it arrives until its handler
 * returns (or it is handed back); "buffered" ones have not started yet.
 * "capacity" is the most jobs the worker may hold: max_jobs_active when it
 * only polls, max_jobs_active + concurrency when it streams.
 */
#ifndef CHUTE_CLIENT_SCHED_H
#define CHUTE_CLIENT_SCHED_H

#include <stddef.h>
#include <stdint.h>

typedef struct csched {
    /* configuration */
    int max_jobs_active;
    int concurrency;
    int threshold; /* ceil(poll_threshold * max_jobs_active) */
    int streaming; /* stream_enabled */
    int64_t poll_interval;
    int64_t backfill_max; /* longest pause between backfill polls */

    /* state */
    int held;
    int poll_in_flight;
    int poll_reserved; /* jobs asked for by the poll in flight */
    int stream_open;
    int stream_allowance;   /* jobs the stream may still push under its credit */
    int64_t next_poll_at;   /* a poll is due from then on */
    int64_t backoff_delay;  /* the last back-off delay; 0 after a success */
    int64_t backfill_delay; /* the current pause between backfill polls */
    int threshold_armed;    /* held was above the threshold since the last poll */
} csched;

/* ceil(|threshold| * |max|), clamped to 0..max. */
int csched_threshold_count(double threshold, int max);

/* Sets up |s| for a worker; the first poll is due at |now|. */
void csched_init(csched *s, int max_jobs_active, int concurrency, double poll_threshold,
                 int streaming, int64_t poll_interval, int64_t now);

/* The most jobs the worker may hold. */
int csched_capacity(const csched *s);

/*
 * How many jobs to poll for at |now|, or 0 when no poll should start.
 * |job_done| says the call follows a handled job (the threshold check of
 * the seed); otherwise only a due timer starts a poll.
 */
int csched_poll_size(const csched *s, int64_t now, int job_done);

/* A poll for |n| jobs started. */
void csched_poll_started(csched *s, int n);

/* The poll ended: |rc| 0 with |got| jobs (already added with
 * csched_jobs_arrived), or an error; |backoff| is the supplier's next delay,
 * used when |rc| < 0. */
void csched_poll_done(csched *s, int64_t now, int rc, int got, int64_t backoff);

/* |n| jobs arrived (|from_stream|: on the stream). */
void csched_jobs_arrived(csched *s, int n, int from_stream);

/* A held job was handled or handed back. */
void csched_job_done(csched *s);

/* How many jobs the stream may be credited for now (>= 0). Records them as
 * the stream's allowance. */
int csched_stream_credit(csched *s);

/* When the next poll is due (for the control thread's sleep); INT64_MAX
 * when a poll is in flight. */
int64_t csched_next_wakeup(const csched *s);

/* Dynamic pool: non-zero when a handler thread should be added. */
int csched_pool_should_grow(int threads, int max_threads, int idle_threads, int buffered);

#endif /* CHUTE_CLIENT_SCHED_H */
