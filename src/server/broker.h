/*
 * broker: the commit point shared by chuted's front ends (the gRPC gateway
 * and the HTTP API).
 *
 * A front end runs a command on the engine at once (the engine validates it
 * and changes memory), but its answer must not leave the process before the
 * batch that command joined is committed (invariant 1). So instead of
 * replying, a front end queues a completion with broker_after_commit(). Once
 * per loop iteration (a libuv check handle) the broker flushes: it
 * dispatches ready jobs to long polls and streams, commits the batch in one
 * transaction, and then runs every queued completion in the order they
 * were queued, telling each whether its batch is durable (ok) or was undone
 * (the commit failed: answer with the error). Completions queued while the
 * list is being released (a returned job, say) wait for the next flush.
 *
 * The broker is also where load is refused (broker_admit): the queued
 * completions are the commands waiting for the open batch's commit, and a
 * command that would make them more than max_inflight is answered
 * RESOURCE_EXHAUSTED at once, before it touches the engine, by gRPC and
 * REST alike. (The other limit, the number of jobs held, is a job rule and
 * lives in the engine: chute_engine_options.max_jobs.)
 *
 * The broker also owns what every front end needs around the engine's
 * clock: the engine timer (leases, back-offs, delays) and the long polls
 * (broker_poll): an engine waiter plus an entry in one timer heap, so that a
 * poll ends either with jobs or at its expiry, whichever comes first, for
 * gRPC ActivateJobs and REST activation alike.
 *
 * Everything runs on one libuv loop; no function may be called from another
 * thread. Callbacks never run inside the broker_* call that caused them,
 * except in broker_flush() and broker_close(), whose whole purpose is to run
 * them.
 */
#ifndef CHUTE_SERVER_BROKER_H
#define CHUTE_SERVER_BROKER_H

#include <chute/engine.h>
#include <uv.h>

typedef struct broker broker;

/* ---- completions after commit ---------------------------------------------- */

typedef struct broker_pending broker_pending;

/* Runs once, after the commit of the batch that was open when the pending
 * was queued: |ok| non-zero when it is durable; otherwise |err| says why the
 * commit failed (the engine already undid the batch). */
typedef void (*broker_commit_fn)(broker_pending *p, int ok, const chute_error *err);

/* Embed this in the front end's own reply struct; the broker links it. */
struct broker_pending {
    broker_pending *next;
    broker_commit_fn fn;
};

/* Queues |p| (owned by the caller until |fn| runs) and makes sure a flush
 * happens in this loop iteration. */
void broker_after_commit(broker *b, broker_pending *p, broker_commit_fn fn);

/* Makes the loop flush promptly (after the engine changed outside of a
 * queued command, e.g. a job returned to the queue or a new stream). */
void broker_kick(broker *b);

/* Dispatches, commits and releases the queued completions now. */
void broker_flush(broker *b);

/* ---- admission (load rejection) ---------------------------------------------------- */

/* The default of max_inflight: see broker_set_max_inflight. */
#define BROKER_DEFAULT_MAX_INFLIGHT 10000

/*
 * What a command does to the broker's load. Only commands that bring work
 * are refused: a worker taking or settling jobs makes room, and refusing it
 * would only turn finished work into lease time-outs and redeliveries
 * (Zeebe never rejects Complete or Fail for load either).
 */
typedef enum broker_load {
    /* Creates, updates, resolves, cancels or reads jobs: refused while
     * max_inflight commands wait for the commit. */
    BROKER_LOAD_ADDS,
    /* Activates (polls and streams), completes, fails or throws an error:
     * always admitted; it still counts as waiting once queued. */
    BROKER_LOAD_DRAINS,
} broker_load;

/*
 * Decides, before a front end runs a command on the engine, whether it may
 * run: returns 0, or CHUTE_EBUSY with a message for the client when |load|
 * is BROKER_LOAD_ADDS and max_inflight completions are already queued (the
 * rejection is counted). A rejected command must be answered at once, not
 * through broker_after_commit (its answer depends on no commit, and queueing
 * it would add to the very list that is full). Long polls and streams that
 * wait for jobs are not queued completions and do not count; only their
 * answers do, once they have jobs.
 */
int broker_admit(broker *b, broker_load load, chute_error *err);

/* Sets how many completions may wait for one commit before commands that
 * add load are refused; 0 means no limit. Default
 * BROKER_DEFAULT_MAX_INFLIGHT. */
void broker_set_max_inflight(broker *b, size_t max);

typedef struct broker_stats {
    size_t inflight;            /* completions waiting for the commit now */
    size_t max_inflight;        /* 0: no limit */
    uint64_t rejected_inflight; /* commands refused by broker_admit */
} broker_stats;

void broker_get_stats(const broker *b, broker_stats *out);

/* ---- long polls ---------------------------------------------------------------- */

typedef struct broker_poll broker_poll;

/* The poll got |n| >= 1 jobs (activated in the open batch: queue the answer
 * with broker_after_commit). Runs inside the engine's dispatch: it must not
 * call into the engine. The poll is over when it runs. */
typedef void (*broker_poll_jobs_fn)(broker_poll *p, const chute_job_view *jobs, size_t n);

/* The poll reached its expiry without a job; it is over. */
typedef void (*broker_poll_expire_fn)(broker_poll *p);

/* Embed this in the front end's own poll struct. */
struct broker_poll {
    broker *owner;
    chute_taker *waiter; /* while waiting */
    int64_t expires;     /* epoch ms */
    uint32_t heap_pos;
    broker_poll_jobs_fn on_jobs;
    broker_poll_expire_fn on_expire;
};

/*
 * Registers |p| as an engine waiter for |req| (copied by the engine) with
 * the response budget |max_bytes|, ending at now + |wait_ms|. Returns 0, or
 * the engine's error (then no callback runs) or CHUTE_ENOMEM.
 */
int broker_poll_start(broker *b, broker_poll *p, const chute_activate_request *req,
                      size_t max_bytes, int64_t wait_ms, broker_poll_jobs_fn on_jobs,
                      broker_poll_expire_fn on_expire, chute_error *err);

/* Non-zero while |p| waits. */
int broker_poll_waiting(const broker_poll *p);

/* Ends a waiting poll without calling it (its client went away). A poll
 * that is not waiting is left alone. */
void broker_poll_cancel(broker *b, broker_poll *p);

/* ---- timers ---------------------------------------------------------------------- */

/*
 * A deadline on the engine's clock for a call that waits for something
 * other than jobs (an awaited process instance): its callback runs from
 * the loop once the engine's clock passes |expires|, unless it was
 * cancelled first. Like long polls, the timers share one heap and one
 * libuv timer, so an idle waiting call costs no CPU.
 */
typedef struct broker_timer broker_timer;

/* The timer expired; it is over. Runs from the loop, not inside an engine
 * call, so it may call into the engine. */
typedef void (*broker_timer_fn)(broker_timer *t);

/* Embed this in the caller's struct; zeroed means "not armed". */
struct broker_timer {
    int64_t expires; /* epoch ms */
    uint32_t heap_pos;
    int armed;
    broker_timer_fn fn;
};

/* Arms |t| to expire at now + |wait_ms|. Returns 0, CHUTE_EUNAVAIL while
 * the broker closes, or CHUTE_ENOMEM (then no callback runs). */
int broker_timer_start(broker *b, broker_timer *t, int64_t wait_ms, broker_timer_fn fn,
                       chute_error *err);

/* Non-zero while |t| is armed. */
int broker_timer_armed(const broker_timer *t);

/* Disarms |t| without calling it; an unarmed timer is left alone. */
void broker_timer_cancel(broker *b, broker_timer *t);

/* ---- life cycle ---------------------------------------------------------------- */

int broker_open(broker **out, uv_loop_t *loop, chute_engine *e, chute_error *err);

chute_engine *broker_engine(const broker *b);

/* Non-zero while the store takes commits: no commit has failed since the
 * last one that succeeded, and the broker is not closing. */
int broker_ready(const broker *b);

/* Number of long polls waiting now. */
size_t broker_polls_waiting(const broker *b);

/*
 * Flushes, ends the long polls that still wait (through their on_expire, so
 * front ends answer them) and the timers still armed (through their fn),
 * flushes again and closes the loop handles;
 * |done|(|ctx|) runs from the loop once they are closed. Call it after the
 * front ends stopped taking requests.
 */
void broker_close(broker *b, void (*done)(void *), void *ctx);

/* After |done|. NULL is a no-op. */
void broker_free(broker *b);

#endif
