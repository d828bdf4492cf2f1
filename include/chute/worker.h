/*
 * The Chute job worker: activates jobs of one type through a chute_client
 * and runs a handler for each on a pool of threads.
 *
 * Schedule (the one the Zeebe Go client documents):
 *  - it polls (ActivateJobs, long polling up to request_timeout_ms) as soon
 *    as it is opened, for max_jobs_active jobs;
 *  - a poll that activated nothing is followed by the next one after
 *    poll_interval_ms;
 *  - jobs are handed to the handler threads; every time one is handled the
 *    worker looks at the number of jobs it holds (activated, not yet
 *    handled) and when that number has come down to the poll threshold,
 *    ceil(poll_threshold * max_jobs_active), it polls for
 *    max_jobs_active minus what it holds. With max_jobs_active 3 and
 *    poll_threshold 0.3 (threshold 1): it takes 3 jobs, and after two of
 *    them are handled polls for up to 2 more;
 *  - a poll that fails (RESOURCE_EXHAUSTED, UNAVAILABLE, a lost connection,
 *    any error) is retried after the delay of the back-off supplier, which
 *    gets the previous delay (0 after a success) and returns the next one.
 *
 * Streaming (stream_enabled): the worker also keeps a StreamActivatedJobs
 * stream open, re-opened when it breaks (after a back-off) or when
 * stream_timeout_ms has passed (at once). The worker never holds more than
 * max_jobs_active + concurrency jobs: it grants the stream HTTP/2 credit
 * only for the jobs it has room for, so a full worker makes the broker stop
 * pushing. Polls continue as occasional backfill, without long polling, and
 * less often while they come back empty.
 *
 * Closing is graceful: no new jobs are taken, handlers that run finish, and
 * jobs that were activated but not started are handed back at once
 * (FailJob with their retries unchanged and no back-off), so another worker
 * can take them without waiting for their lease to run out.
 */
#ifndef CHUTE_WORKER_H
#define CHUTE_WORKER_H

#include <chute/client.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chute_worker chute_worker;

/*
 * What a handler uses to settle its job. Valid only during the handler
 * call, on the handler's thread. The calls block until the broker answers.
 */
typedef struct chute_job_client chute_job_client;

/* Completes the job with |variables| (a JSON object text, or NULL).
 * Returns 0 or the error of CompleteJob. */
int chute_job_complete(chute_job_client *jc, const char *variables, chute_error *err);

/* Fails the job: it keeps |retries| (pass job->retries - 1 to count this
 * attempt); with retries > 0 it comes back after |retry_backoff_ms|, with
 * retries <= 0 it gets an incident showing |error_message|. */
int chute_job_fail(chute_job_client *jc, int32_t retries, const char *error_message,
                   int64_t retry_backoff_ms, const char *variables, chute_error *err);

/* Throws a BPMN error with |error_code| on the job. */
int chute_job_throw_error(chute_job_client *jc, const char *error_code, const char *error_message,
                          const char *variables, chute_error *err);

/* The client of the worker, for other calls from a handler (for example
 * chute_client_update_job_timeout() on a long job). */
chute_client *chute_job_client_client(chute_job_client *jc);

/*
 * Handles one job, on one of the worker's handler threads. |job| is valid
 * until the handler returns. Settle the job with |jc|; with auto_complete
 * the worker completes it (no variables) if the handler did not.
 */
typedef void (*chute_job_handler)(chute_job_client *jc, const chute_job *job, void *user_data);

/*
 * A back-off supplier: given the previous delay (0 when the last poll
 * succeeded), returns the delay before the next attempt, in ms.
 */
typedef int64_t (*chute_backoff_fn)(void *user_data, int64_t previous_delay_ms);

/* The default supplier's policy: exponential between |min_delay_ms| and
 * |max_delay_ms|, multiplied by |factor| each time, plus or minus a random
 * |jitter| fraction. */
typedef struct chute_backoff_policy {
    int64_t min_delay_ms; /* default 50 */
    int64_t max_delay_ms; /* default 5000 */
    double factor;        /* default 1.6 */
    double jitter;        /* default 0.1 */
} chute_backoff_policy;

void chute_backoff_policy_init(chute_backoff_policy *policy);

/* The next delay of |policy| after |previous_delay_ms|, with |random01| a
 * number in [0, 1) choosing the jitter (0.5 means none). Pure: for tests
 * and for suppliers of your own. */
int64_t chute_backoff_next(const chute_backoff_policy *policy, int64_t previous_delay_ms,
                           double random01);

/* The default supplier: |user_data| is a chute_backoff_policy * or NULL
 * for the defaults. */
int64_t chute_backoff_exponential(void *user_data, int64_t previous_delay_ms);

/*
 * Metrics callbacks, each optional. They run on the worker's threads (the
 * I/O thread or a handler thread) without any worker lock held, and must
 * not block. |count| is always the change, except for |buffered|.
 */
typedef struct chute_worker_metrics {
    void (*jobs_activated)(void *user_data, const char *type, int count);
    void (*jobs_handled)(void *user_data, const char *type, int count);
    void (*jobs_failed)(void *user_data, const char *type, int count);
    /* the number of jobs activated and not yet handed to a handler changed */
    void (*buffered)(void *user_data, const char *type, int count);
    void *user_data;
} chute_worker_metrics;

/* Counters kept by every worker; read with chute_worker_get_stats(). */
typedef struct chute_worker_stats {
    uint64_t activated;      /* jobs received (polls and stream) */
    uint64_t handled;        /* handler calls that returned */
    uint64_t completed;      /* completed by the handler or by auto-completion */
    uint64_t failed;         /* failed or errors thrown by the handler */
    uint64_t handed_back;    /* returned unstarted on close */
    uint64_t polls;          /* ActivateJobs calls answered */
    uint64_t poll_errors;    /* ActivateJobs calls that failed */
    uint64_t streams_opened; /* StreamActivatedJobs calls made */
    uint64_t stream_jobs;    /* jobs that came through a stream */
    int buffered;            /* activated, not yet started */
    int running;             /* in a handler now */
    int max_held;            /* the most jobs held at once (buffered + running) */
    int threads;             /* handler threads now */
    int max_threads;         /* the most handler threads at once */
} chute_worker_stats;

typedef struct chute_worker_options {
    const char *type;          /* the job type; required */
    chute_job_handler handler; /* required */
    void *user_data;           /* passed to |handler| */
    const char *name;          /* the worker name recorded with leases; default "default" */
    int64_t timeout_ms;        /* the lease of an activated job; default 300 000 (5 min) */
    int64_t poll_interval_ms;  /* default 100 */
    int max_jobs_active;       /* default 32 */
    double poll_threshold;     /* default 0.3 */
    int concurrency;           /* handler threads (the maximum with a dynamic pool); default 4 */
    /* Dynamic pool: when 1 <= concurrency_min < concurrency, the worker
     * starts concurrency_min threads, adds one (up to concurrency) while
     * jobs wait with every thread busy, and a thread above the minimum that
     * stayed idle for pool_idle_ms ends. 0 = a fixed pool. */
    int concurrency_min;
    int64_t pool_idle_ms;       /* default 10 000 */
    int64_t request_timeout_ms; /* long polling of ActivateJobs; default 10 000; < 0: none */
    const char *const *fetch_variables; /* NULL: all variables */
    size_t fetch_variable_count;
    int stream_enabled;        /* also keep a job stream open */
    int64_t stream_timeout_ms; /* re-open the stream after this long; default 1 h; < 0 never */
    chute_backoff_fn backoff;  /* NULL: chute_backoff_exponential */
    void *backoff_user_data;
    const chute_worker_metrics *metrics; /* copied; NULL for none */
    int auto_complete;                   /* complete jobs the handler did not settle */
    /* Errors the worker meets on its own (failed polls, a broken stream, a
     * failed auto-completion). NULL: printed to stderr. */
    void (*on_error)(void *user_data, const chute_error *err);
} chute_worker_options;

/* Fills |opts| with the defaults above (type and handler unset). */
void chute_worker_options_init(chute_worker_options *opts);

/*
 * Opens a worker on |client| and starts it: it polls at once. |opts| and its
 * strings are copied. |client| must outlive the worker. On success |*out| is
 * the worker; on failure it is untouched. Returns 0, CHUTE_EINVAL (a missing
 * type or handler, a value out of range; the message names it) or
 * CHUTE_ENOMEM / CHUTE_EINTERNAL.
 */
int chute_worker_open(chute_worker **out, chute_client *client, const chute_worker_options *opts,
                      chute_error *err);

/*
 * Closes |worker| gracefully (see the top of this file) and frees it. Returns
 * when every handler has returned and every unstarted job was handed back.
 * Must not be called from a handler or from the I/O thread. NULL is a no-op.
 */
void chute_worker_close(chute_worker *worker);

/* A snapshot of the counters of |worker|. */
void chute_worker_get_stats(chute_worker *worker, chute_worker_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* CHUTE_WORKER_H */
