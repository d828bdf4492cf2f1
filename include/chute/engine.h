/*
 * The Chute engine: one partition of durable jobs, with no network code.
 *
 * The engine owns jobs from creation to completion. It keeps every job in
 * memory (per-type ready queues, a timer heap, an index by key) and writes
 * every change to its store (SQLite) so that a restart rebuilds exactly the
 * state that was last committed. It is single-threaded: one thread calls
 * into one engine. It does no network I/O; a transport (the gateway in
 * chuted) or an embedding program drives it.
 *
 * Jobs
 * ----
 * A job has a key (int64, (partition << 51) + counter, never reused), a type,
 * custom headers (a JSON object of strings, static metadata), variables (a
 * JSON object), retries, a priority and a state. While activated it also has
 * a worker name and a lease deadline. Jobs created for a process carry the
 * process fields; jobs created directly ("standalone") carry zeros there and
 * keep their final variables for a retention time after completion, so that
 * their creator can read the result.
 *
 *   created --> ACTIVATABLE --activate--> ACTIVATED --complete--> COMPLETED
 *   (delay) --> DELAYED --time--^    ^       |  |  \--throw error--> ERROR_THROWN (incident)
 *                    ^               |<-lease expired (retries unchanged)
 *                    |               |<-fail, retries > 0, no back-off
 *                    |   FAILED (back-off) <- fail, retries > 0, back-off > 0 (timer returns it)
 *                    |   FAILED (incident) <- fail, retries <= 0
 *                    +--- update retries (>= 1) + resolve incident
 *
 * Complete, fail and throw error are accepted in ACTIVATABLE and ACTIVATED
 * (a late worker may still finish a job whose lease ran out and that nobody
 * took since); in FAILED, ERROR_THROWN and DELAYED they are rejected with
 * CHUTE_ESTATE; an unknown, completed or cancelled key gives
 * CHUTE_ENOTFOUND.
 *
 * Batches and durability
 * ----------------------
 * Every accepted command changes memory at once and joins the open batch.
 * chute_engine_commit() writes the batch to the store in one transaction.
 * Nothing that depends on a command of the batch (a reply, an activated job
 * pushed to a worker) may leave the process before that commit returned 0:
 * this is how "an acknowledged write is durable" holds while paying one sync
 * per batch instead of one per job. If the commit fails the engine rolls the
 * batch back by reloading its state from the store, and the caller answers
 * every command of the batch with an error.
 *
 * Views
 * -----
 * Functions that hand out jobs (activate, get, list_incidents, dispatch and
 * its deliveries, run and its handlers) fill chute_job_view structs whose
 * strings point into the engine. A view stays valid until the next call of
 * one of those functions (settling or changing jobs does not end it), and
 * for a delivery callback until the callback returns. Copy what you keep.
 */
#ifndef CHUTE_ENGINE_H
#define CHUTE_ENGINE_H

#include <chute/chute.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chute_engine chute_engine;

/*
 * X(name, value): the states of a job. It generates chute_job_state
 * (CHUTE_JOB_<name>) and chute_job_state_name(). The numbers are stored on
 * disk: never renumber.
 */
#define CHUTE_JOB_STATE_MAP(X)                                                                     \
    X(ACTIVATABLE, 1)  /* in its type's ready queue */                                             \
    X(ACTIVATED, 2)    /* leased to a worker until `deadline` */                                   \
    X(FAILED, 3)       /* failed with retries left; back in the queue at `deadline` */             \
    X(INCIDENT, 4)     /* failed with no retries left; has an open incident */                     \
    X(ERROR_THROWN, 5) /* a worker threw an error nobody caught; has an open incident */           \
    X(DELAYED, 6)      /* created with a delay; activatable from `deadline` on */                  \
    X(COMPLETED, 7)    /* done; kept only for the retention time (standalone jobs) */              \
    X(CANCELED, 8)     /* removed by cancel; never visible (only used in transit) */

typedef enum chute_job_state {
#define CHUTE_JOB_STATE_ENUM_(name, value) CHUTE_JOB_##name = value,
    CHUTE_JOB_STATE_MAP(CHUTE_JOB_STATE_ENUM_)
#undef CHUTE_JOB_STATE_ENUM_
} chute_job_state;

/* The name of a state as the APIs print it ("ACTIVATABLE"), "UNKNOWN" for a
 * value that is not a state. Lives in chute_common (src/common/names.c), so
 * a codec can name states without linking the engine. */
const char *chute_job_state_name(chute_job_state state);

/*
 * X(name, value, printed): why an incident was raised. It generates
 * chute_incident_type (CHUTE_INCIDENT_<name>) and chute_incident_type_name(),
 * which returns |printed|. Stored on disk: never renumber.
 */
#define CHUTE_INCIDENT_TYPE_MAP(X)                                                                 \
    X(NONE, 0, "")                                                                                 \
    X(JOB_NO_RETRIES, 1, "JOB_NO_RETRIES")               /* failed with retries <= 0 */            \
    X(UNHANDLED_ERROR_EVENT, 2, "UNHANDLED_ERROR_EVENT") /* threw an error nothing caught */   \
    X(CONDITION_ERROR, 3, "CONDITION_ERROR")             /* no flow out of a gateway */       \
    X(EXTRACT_VALUE_ERROR, 4, "EXTRACT_VALUE_ERROR")     /* an expression failed */           \
    X(IO_MAPPING_ERROR, 5, "IO_MAPPING_ERROR")           /* an input or output mapping failed */ \
    X(UNKNOWN, 6, "UNKNOWN") /* a command moved more than CHUTE_MAX_STEPS_PER_COMMAND tokens */ \
    X(CALLED_ELEMENT_ERROR, 7, "CALLED_ELEMENT_ERROR") /* a call activity's process is unknown */ \
    X(CALLED_DECISION_ERROR, 8, "CALLED_DECISION_ERROR") /* a business rule task's decision is unknown */ \
    X(DECISION_EVALUATION_ERROR, 9, "DECISION_EVALUATION_ERROR") /* a decision failed */

typedef enum chute_incident_type {
#define CHUTE_INCIDENT_TYPE_ENUM_(name, value, printed) CHUTE_INCIDENT_##name = value,
    CHUTE_INCIDENT_TYPE_MAP(CHUTE_INCIDENT_TYPE_ENUM_)
#undef CHUTE_INCIDENT_TYPE_ENUM_
} chute_incident_type;

/* The name of an incident type as the APIs print it ("JOB_NO_RETRIES"; ""
 * for CHUTE_INCIDENT_NONE, "UNKNOWN" for a value that is not a type). Lives
 * in chute_common, like chute_job_state_name(). */
const char *chute_incident_type_name(chute_incident_type type);

/*
 * Fields a job of a process carries. A standalone job has all of them zero
 * or NULL, and the views show "" for NULL strings.
 */
typedef struct chute_process_ref {
    int64_t process_instance_key;
    int64_t process_definition_key;
    int32_t process_definition_version;
    int64_t element_instance_key;
    const char *bpmn_process_id;
    const char *element_id;
} chute_process_ref;

/*
 * A job as the engine hands it out. All strings are NUL-terminated and
 * never NULL ("" or "{}" when empty); `variables_len` and `headers_len` are
 * their lengths. See "Views" above for how long it lives.
 */
typedef struct chute_job_view {
    int64_t key;
    const char *type;
    chute_job_state state;
    int32_t retries;
    int32_t priority;
    int64_t created_at; /* epoch ms */
    int64_t deadline;   /* epoch ms: lease end (ACTIVATED), or when it becomes activatable
                           (FAILED with back-off, DELAYED); 0 otherwise */
    const char *worker; /* worker of the current or last lease, "" if never activated */
    const char *headers;
    size_t headers_len;
    const char *variables; /* filtered by fetchVariable on activation */
    size_t variables_len;
    const char *error_code;    /* of a thrown error, "" otherwise */
    const char *error_message; /* of the last fail or throw error, "" if none */
    int64_t incident_key;      /* 0 when there is no open incident */
    chute_incident_type incident_type;
    int64_t completed_at; /* epoch ms, COMPLETED only */
    chute_process_ref process;
    const char *assignee; /* ZenBPM's assignment, "" for none */
} chute_job_view;

/* ---- opening and closing ------------------------------------------------ */

typedef enum chute_durability {
    CHUTE_DURABILITY_FULL = 0,   /* every commit is synced: survives power loss */
    CHUTE_DURABILITY_NORMAL = 1, /* synced at checkpoints: survives a process crash */
} chute_durability;

const char *chute_durability_name(chute_durability d);

/* Returns the current time in epoch milliseconds. */
typedef int64_t (*chute_clock_fn)(void *ctx);

/* How much a log message of the engine matters. */
typedef enum chute_log_level {
    CHUTE_LOG_ERROR = 0, /* work was lost or left out (a batch rolled back, a row skipped) */
    CHUTE_LOG_WARN = 1,  /* something runs degraded, and the engine carries on */
    CHUTE_LOG_INFO = 2,  /* for a person reading along; nothing is wrong */
} chute_log_level;

/*
 * Receives one message of the engine or of its store: a line without a
 * prefix and without a trailing newline ("store write failed, the batch
 * will be rolled back: disk I/O error"). |message| lives until the call
 * returns. The hook must not call into the engine.
 *
 * Threads: the hook is called on the thread that calls into the engine, and
 * also on the store's checkpoint thread, a thread the engine starts to copy
 * its write-ahead log into the database and that reports a checkpoint that
 * failed or could not start. So it can run concurrently with itself and with
 * the engine's thread, and must be thread-safe: writing each message with
 * one stdio call, as the default does, is. It is called from
 * chute_engine_open on (open reports rows it leaves out) until
 * chute_engine_close returns, so |ctx| must live that long.
 */
typedef void (*chute_log_fn)(void *ctx, chute_log_level level, const char *message);

typedef struct chute_engine_options {
    const char *data_dir;       /* created if missing (one level); required */
    chute_durability durability;
    int32_t partition;          /* 1..4095; 0 means 1 */
    int64_t retention_ms;       /* how long completed standalone jobs keep their result;
                                   0 means 24 h, < 0 means not at all */
    size_t max_variables_size;  /* bound on one variables document; 0 means 4 MiB */
    uint64_t max_jobs;          /* jobs the engine holds at most; 0 means no limit. See
                                   "Queue depth limit" below. */
    int accept_wal_loss;        /* open a database whose write-ahead log is damaged, losing
                                   the committed transactions after the damage; without it
                                   such an open fails with CHUTE_ECORRUPT (a copy of the log is
                                   kept either way) */
    int64_t max_job_timeout_ms; /* the longest lease a worker may ask for (activation and
                                   UpdateJobTimeout); 0 means CHUTE_DURATION_MAX_MS. A worker
                                   that takes jobs and never reads keeps them this long. */
    chute_clock_fn clock;       /* NULL means the system clock */
    void *clock_ctx;
    chute_log_fn log;           /* where the engine's messages go (see chute_log_fn); NULL
                                   means stderr, one line "chute: <message>" each */
    void *log_ctx;
} chute_engine_options;

/* Fills |opts| with the defaults (durability full, partition 1, ...). */
void chute_engine_options_init(chute_engine_options *opts);

/*
 * Opens the partition's database under |opts->data_dir| (creating it if
 * needed), checks it and rebuilds all state: ready queues, leases, timers
 * and incidents. On success sets |*out|; on failure leaves it untouched and
 * returns CHUTE_EINVAL (bad options), CHUTE_ESTORE (cannot open or create:
 * the message names the file and the reason), CHUTE_ECORRUPT (the file is
 * not a database, fails its integrity check, or has a newer schema) or
 * CHUTE_ENOMEM.
 */
int chute_engine_open(chute_engine **out, const chute_engine_options *opts, chute_error *err);

/* Commits nothing: an open batch is rolled back. Callers commit first.
 * Removes every taker without calling it. NULL is a no-op. */
void chute_engine_close(chute_engine *e);

/* The path of the database file (valid while the engine is open). */
const char *chute_engine_db_path(const chute_engine *e);

chute_durability chute_engine_durability(const chute_engine *e);

/* The engine's clock, in epoch ms. */
int64_t chute_engine_now(const chute_engine *e);

/* ---- commands ------------------------------------------------------------
 *
 * Each command validates its arguments, changes memory and joins the open
 * batch; see "Batches and durability". Strings are copied. On rejection the
 * engine is unchanged and |err| says why. Codes: CHUTE_EINVAL (bad argument),
 * CHUTE_ENOTFOUND (no such job or incident), CHUTE_ESTATE (the job's state
 * forbids it), CHUTE_ETOOBIG (a document over the configured bound),
 * CHUTE_EBUSY (creates only: the queue depth limit), CHUTE_ENOMEM.
 *
 * Queue depth limit
 * -----------------
 * With |max_jobs| > 0 in the options, the engine holds at most that many
 * jobs: every job that is not completed or cancelled counts, whatever its
 * state (activatable, activated, failed, delayed, with an incident); a
 * completed job kept only for its result (retention) does not. A create
 * that would go past the limit is rejected with CHUTE_EBUSY, as a whole for
 * a batch, before anything else is checked, so a full broker answers at
 * once. Jobs already held are never touched: a limit below what a restart
 * recovers only stops creates until enough jobs are completed or cancelled,
 * and each one that leaves makes room for one new job. The limit bounds
 * memory (every held job lives in memory: its documents plus a fixed cost
 * per job, measured by `bench_engine DIR memory` and quoted in the README's
 * figures), not throughput.
 */

typedef struct chute_job_spec {
    const char *type;      /* required, not blank, at most CHUTE_TYPE_MAX bytes */
    const char *headers;   /* JSON object of strings; NULL or blank for none */
    size_t headers_len;    /* 0 with a non-NULL headers means strlen */
    const char *variables; /* JSON object; NULL or blank for none */
    size_t variables_len;  /* 0 with a non-NULL variables means strlen */
    int32_t retries;       /* >= 1; 0 means the default, 3 */
    int32_t priority;      /* higher first; default 0 */
    int64_t delay_ms;      /* > 0: not activatable before now + delay_ms */
    chute_process_ref process; /* zeros for a standalone job */
} chute_job_spec;

#define CHUTE_TYPE_MAX 1024
#define CHUTE_WORKER_MAX 1024
#define CHUTE_ERROR_CODE_MAX 1024
#define CHUTE_ERROR_MESSAGE_LEN_MAX 65536
#define CHUTE_DEFAULT_RETRIES 3

/*
 * The longest duration the engine takes: a job's lease (timeout), a
 * create's delay, a fail's retry back-off, a long poll's wait. Ten years:
 * far beyond any real use, and far enough from INT64_MAX that now + any
 * duration never overflows. A longer one is CHUTE_EINVAL naming the field
 * and this maximum. chute_engine_options.max_job_timeout_ms lowers the
 * bound for leases.
 */
#define CHUTE_DURATION_MAX_MS INT64_C(315360000000)

/* Creates a job. Sets |*key| to its key. CHUTE_EBUSY when the engine
 * already holds |max_jobs| jobs. */
int chute_engine_create(chute_engine *e, const chute_job_spec *spec, int64_t *key,
                        chute_error *err);

/*
 * Creates |count| jobs, all or nothing: every spec is checked before any
 * job is created. If spec |i| is rejected nothing is created, |*failed| (if
 * not NULL) is set to |i| and |err| says why. On success |keys| holds the
 * |count| keys in order. Same codes as chute_engine_create; when the
 * batch does not fit under |max_jobs| it is rejected with CHUTE_EBUSY and
 * |*failed| is the first job that does not fit.
 */
int chute_engine_create_batch(chute_engine *e, const chute_job_spec *specs, size_t count,
                              int64_t *keys, size_t *failed, chute_error *err);

typedef struct chute_activate_request {
    const char *type;            /* required */
    const char *worker;          /* may be NULL or "" */
    int64_t timeout_ms;          /* lease length, >= 1 */
    int32_t max_jobs;            /* >= 1 */
    const char *const *fetch_variables; /* top-level names to return; none = all */
    size_t fetch_variables_count;
} chute_activate_request;

/* Checks an activation request without running it (for transports that
 * validate before registering a long-poll waiter or a stream; for a stream
 * max_jobs is not checked when |for_stream| is non-zero). */
int chute_engine_check_activate(const chute_activate_request *req, int for_stream,
                                chute_error *err);

/*
 * Activates up to |req->max_jobs| jobs of the type, highest priority first,
 * then in creation order: each gets deadline = now + timeout and the worker
 * name. Sets |*jobs| to an array of |*count| views (possibly 0); see "Views". Budget: if |max_bytes| > 0, stops
 * before the job whose view would push the sum of variables and headers
 * lengths past it (but always returns at least one job if any is ready, so
 * a job larger than the budget is not stuck; the transport rejects it).
 */
int chute_engine_activate(chute_engine *e, const chute_activate_request *req, size_t max_bytes,
                          const chute_job_view **jobs, size_t *count, chute_error *err);

/* Completes the job; |variables| (JSON object, may be NULL) is merged into
 * the job's variables (top level, the given values win). */
int chute_engine_complete(chute_engine *e, int64_t key, const char *variables,
                          size_t variables_len, chute_error *err);

/* Fails the job, storing exactly |retries|. retries > 0 and backoff_ms > 0:
 * activatable again at now + backoff_ms; retries > 0 and no back-off: at
 * once; retries <= 0: an incident (JOB_NO_RETRIES) with |message|, or "No
 * more retries left." when it is empty. |variables| are merged as for
 * complete. */
int chute_engine_fail(chute_engine *e, int64_t key, int32_t retries, const char *message,
                      int64_t backoff_ms, const char *variables, size_t variables_len,
                      chute_error *err);

/* Throws a business error. With no process to catch it, this raises an
 * incident (UNHANDLED_ERROR_EVENT) and the job waits in ERROR_THROWN.
 * |code| must not be blank. */
int chute_engine_throw_error(chute_engine *e, int64_t key, const char *code, const char *message,
                             const char *variables, size_t variables_len, chute_error *err);

/* A change of a job's retries, its lease, or both. */
typedef struct chute_job_update {
    int has_retries;
    int32_t retries;    /* >= 1; any state the job can be in while not completed */
    int has_timeout;
    int64_t timeout_ms; /* >= 1: the lease ends at now + timeout_ms; the job must be ACTIVATED */
} chute_job_update;

/*
 * Applies |u| to the job, all or nothing: every check (the job exists, at
 * least one field is set, each value is in range, an ACTIVATED job for a
 * timeout) runs before anything changes, so a rejected update leaves both
 * the retries and the lease as they were. CHUTE_ENOTFOUND, CHUTE_EINVAL
 * (nothing to change, or a value out of range), CHUTE_ESTATE (a timeout for
 * a job that is not ACTIVATED).
 */
int chute_engine_update(chute_engine *e, int64_t key, const chute_job_update *u,
                        chute_error *err);

/* chute_engine_update with retries only: sets the retries of a job that is
 * not completed (retries >= 1). */
int chute_engine_update_retries(chute_engine *e, int64_t key, int32_t retries, chute_error *err);

/* chute_engine_update with a timeout only: sets the lease of an ACTIVATED
 * job to end at now + timeout_ms (>= 1). */
int chute_engine_update_timeout(chute_engine *e, int64_t key, int64_t timeout_ms,
                                chute_error *err);

/* Resolves an open incident: the job becomes ACTIVATABLE again. Rejected
 * with CHUTE_ESTATE while the job has no retries left (update them first). */
int chute_engine_resolve_incident(chute_engine *e, int64_t incident_key, chute_error *err);

/* Assigns a job that is not completed to |assignee| (ZenBPM's assign;
 * NULL or "" clears it). Durable like any change of the job. */
int chute_engine_assign_job(chute_engine *e, int64_t key, const char *assignee, chute_error *err);

/* Removes a job that is not completed, and its incident if it has one. */
int chute_engine_cancel(chute_engine *e, int64_t key, chute_error *err);

/*
 * Returns a job that was handed out but could not be delivered (its
 * connection or stream is gone) to the ready queue at once, keeping its
 * retries. |deadline| is the lease deadline of the view that was handed out:
 * the job is returned only while that lease is still the current one, so a
 * job whose lease ran out and that another worker took since is left alone
 * (0 means whatever lease is current). Returns 0 and does nothing for a job
 * that is no longer ACTIVATED under that lease (completed, failed, re-leased);
 * CHUTE_ENOTFOUND for a key this engine never handed out.
 */
int chute_engine_return(chute_engine *e, int64_t key, int64_t deadline, chute_error *err);

/* Reads a job. A completed standalone job is found while it is retained
 * (state COMPLETED, with its final variables). */
int chute_engine_get(chute_engine *e, int64_t key, chute_job_view *out, chute_error *err);

/* Calls |fn| for every open incident (oldest first) until it returns
 * non-zero. The view lives until |fn| returns. */
typedef int (*chute_job_visit_fn)(void *ctx, const chute_job_view *job);
int chute_engine_list_incidents(chute_engine *e, chute_job_visit_fn fn, void *ctx);

/* ---- batches ------------------------------------------------------------- */

/* Non-zero while the open batch holds uncommitted changes. */
int chute_engine_dirty(const chute_engine *e);

/*
 * Writes the open batch in one transaction. Returns 0 when it is durable
 * (at the configured durability). On CHUTE_ESTORE the batch is undone: the
 * engine reloads its state from the store, and the caller must answer every
 * command of the batch with an error. With nothing to commit, returns 0 at
 * once.
 */
int chute_engine_commit(chute_engine *e, chute_error *err);

/* ---- time ---------------------------------------------------------------- */

/*
 * Applies everything that is due at the engine clock's now: expired leases
 * return to the queue (retries unchanged), back-offs and delays end,
 * retention of completed jobs ends. Returns the epoch ms of the next due
 * timer, or INT64_MAX if there is none. Changes join the open batch.
 */
int64_t chute_engine_tick(chute_engine *e);

/* The epoch ms of the next due timer, or INT64_MAX (no side effects). */
int64_t chute_engine_next_due(const chute_engine *e);

/* ---- takers: long-poll waiters and streams --------------------------------
 *
 * A taker is a party waiting for jobs of one type: a long-poll waiter (one
 * shot, FIFO per type) or a stream (long-lived, served round robin among the
 * streams of the type that have credit; streams go before waiters).
 * chute_engine_dispatch() matches ready jobs to takers, activates them and
 * calls the taker's deliver callback with the views. Deliveries join the
 * open batch like any activation: the transport sends them only after the
 * commit. A waiter is removed once it got jobs (its deliver callback is its
 * last call). A stream's credit is the number of jobs it may still receive;
 * each delivered job uses one, and the transport gives credit back as the
 * jobs leave its buffers.
 */
typedef struct chute_taker chute_taker;

/* |jobs| holds |count| >= 1 views, alive until the callback returns. The
 * callback must not call into the engine. */
typedef void (*chute_deliver_fn)(void *ctx, chute_taker *taker, const chute_job_view *jobs,
                                 size_t count);

/* Registers a long-poll waiter for |req| (copied). It is served by the next
 * chute_engine_dispatch() that finds a job for it. */
int chute_engine_waiter_add(chute_engine *e, const chute_activate_request *req,
                            size_t max_bytes, chute_deliver_fn deliver, void *ctx,
                            chute_taker **out, chute_error *err);

/* Registers a stream for |req| (copied; max_jobs is ignored) with |credit|
 * jobs of initial credit. A new stream is also fed from the backlog. */
int chute_engine_stream_add(chute_engine *e, const chute_activate_request *req, uint32_t credit,
                            size_t max_bytes, chute_deliver_fn deliver, void *ctx,
                            chute_taker **out, chute_error *err);

/* Gives a stream |n| more jobs of credit. */
void chute_engine_stream_credit(chute_engine *e, chute_taker *stream, uint32_t n);

/* Unregisters a waiter or stream that has not finished (a waiter that got
 * its jobs is already gone: do not remove it). Its callback is not called
 * again. */
void chute_engine_taker_remove(chute_engine *e, chute_taker *taker);

/* Matches ready jobs to takers with capacity; see above. Returns the number
 * of jobs delivered. */
size_t chute_engine_dispatch(chute_engine *e);

/* ---- statistics ---------------------------------------------------------- */

typedef struct chute_engine_stats {
    uint64_t jobs;        /* jobs held in memory (not completed) */
    uint64_t activatable; /* ready to hand out */
    uint64_t activated;
    uint64_t failed;      /* waiting out a back-off */
    uint64_t delayed;
    uint64_t incidents;
    uint64_t waiters;
    uint64_t streams;
    uint64_t commits;
    uint64_t created_total, activated_total, completed_total, failed_total, timed_out_total,
        incidents_total;
    uint64_t rejected_max_jobs_total; /* create calls rejected by the max_jobs limit */
    uint64_t instances;               /* ACTIVE process instances (in memory) */
    uint64_t instances_created_total, instances_completed_total, instances_terminated_total;
} chute_engine_stats;

void chute_engine_get_stats(const chute_engine *e, chute_engine_stats *out);

/* Per job type: what is queued and what happened, for metrics and the
 * job-types listing. */
typedef struct chute_type_stats {
    const char *type;
    uint64_t activatable, activated, failed /* waiting out a back-off */, delayed, incidents;
    uint64_t waiters, streams;
    int64_t oldest_activatable_since; /* epoch ms the longest-waiting ACTIVATABLE job became
                                         activatable; 0 if none */
    uint64_t created_total, activated_total, completed_total, failed_total, timed_out_total,
        incidents_total;
    int64_t idle_since; /* epoch ms since the type holds no job and no worker waits for it;
                           0 while it holds or has any */
} chute_type_stats;

/* Calls |fn| for every known job type, sorted by name, until it returns
 * non-zero. The struct lives until |fn| returns. Costs a pass over each
 * type's ready queue (for the oldest waiting job): meant for scrapes, not
 * for hot paths. Returns 0 or CHUTE_ENOMEM. */
int chute_engine_list_types(chute_engine *e,
                            int (*fn)(void *ctx, const chute_type_stats *s), void *ctx);

/* Observers of the engine's work, for metrics. Both run inside the engine
 * call that did the work and must not call into the engine. */
typedef struct chute_engine_hooks {
    /* Per activated job: ms since it became activatable. */
    void (*on_activate)(void *ctx, const char *type, int64_t queued_ms);
    /* Per commit that wrote something: rows written, time the commit took. */
    void (*on_commit)(void *ctx, uint64_t changes, uint64_t duration_ns);
    void *ctx;
} chute_engine_hooks;

/* Sets the hooks (copied); NULL clears them. */
void chute_engine_set_hooks(chute_engine *e, const chute_engine_hooks *hooks);

/*
 * Lists jobs newest first (key descending), of one type (NULL for all) and
 * one state (0 for every state but COMPLETED). Completed jobs still retained
 * are listed only when |state| is CHUTE_JOB_COMPLETED. Skips |offset|
 * matches and visits at most |limit|; each view lives until |fn| returns.
 * Reads the store, so what the open batch changed is included. Returns 0,
 * CHUTE_ESTORE or CHUTE_ENOMEM.
 */
int chute_engine_list_jobs(chute_engine *e, const char *type, chute_job_state state,
                           size_t offset, size_t limit, chute_job_visit_fn fn, void *ctx);

/* ---- processes: deployment ------------------------------------------------ */

/*
 * A deployment is a set of resources (BPMN 2.0 XML documents), all or
 * nothing: every resource is parsed into an executable model first, and a
 * single error anywhere rejects the whole deployment with CHUTE_EINVAL and
 * a message in Zeebe's words ("Expected to deploy new resources, but
 * encountered the following errors:" and, per resource, the element, the
 * attribute and what is wrong). Each executable process of a resource
 * becomes a process definition with a key from the job key space and a
 * version per bpmnProcessId, starting at 1. A process whose resource name
 * and content equal those of its latest version keeps that version and key
 * (nothing new is stored). Definitions are durable in the open batch and
 * survive restarts.
 */
#define CHUTE_MAX_RESOURCES 100          /* resources in one deployment */
#define CHUTE_RESOURCE_NAME_MAX 1024     /* bytes of a resource name */

typedef struct chute_resource {
    const char *name;       /* e.g. "order-process.bpmn"; not blank */
    const uint8_t *content; /* the document's bytes */
    size_t len;
} chute_resource;

/* A deployed process definition. Strings are the engine's: valid until the
 * next engine call. */
typedef struct chute_process_view {
    int64_t key;             /* processDefinitionKey */
    const char *bpmn_process_id;
    int32_t version;
    const char *resource_name;
    int64_t deployment_key;  /* the deployment that stored this version */
} chute_process_view;

/*
 * Deploys |n| resources (1..CHUTE_MAX_RESOURCES; contents are copied).
 * Sets |*deployment_key| (a new key, also when every process was
 * unchanged) and |*procs|/|*nprocs| to the processes of the deployment, in
 * resource order (views valid until the next engine call). Returns 0,
 * CHUTE_EINVAL (the deployment is rejected; nothing changed), CHUTE_ENOMEM
 * or CHUTE_ESTORE.
 */
int chute_engine_deploy(chute_engine *e, const chute_resource *res, size_t n,
                        int64_t *deployment_key, const chute_process_view **procs, size_t *nprocs,
                        chute_error *err);

/* The definition of |key|, with its resource's XML in |*xml|/|*xml_len|
 * (the engine's, valid until the next engine call; NULL not wanted).
 * CHUTE_ENOTFOUND when there is none. */
int chute_engine_get_process(chute_engine *e, int64_t key, chute_process_view *out,
                             const uint8_t **xml, size_t *xml_len, chute_error *err);

/* The latest version of |bpmn_process_id|, or of |version| when >= 0.
 * CHUTE_ENOTFOUND when there is none. */
int chute_engine_find_process(chute_engine *e, const char *bpmn_process_id, int32_t version,
                              chute_process_view *out, chute_error *err);

/* ---- decisions ---------------------------------------------------------------
 *
 * A deployment may carry DMN resources beside BPMN ones (one deployment,
 * all or nothing). Each decision of a DMN resource becomes a decision
 * definition with a key and a version per decisionId; the resource itself
 * is a decision requirements graph with a key of its own. An unchanged
 * resource redeployed keeps its versions and keys. Business rule tasks
 * with zeebe:calledDecision evaluate the latest version of their
 * decision; chute_engine_evaluate_decision evaluates one on demand.
 */
typedef struct chute_decision_view {
    int64_t key; /* decisionKey */
    const char *decision_id;
    const char *name; /* "" when none */
    int32_t version;
    int64_t requirements_key;      /* decisionRequirementsKey: the resource's */
    const char *requirements_id;   /* the DMN definitions' id */
    const char *requirements_name; /* "" when none */
    /* The requirements graph's version: per requirements id, from 1, one
     * more for every changed resource deployed with that id. */
    int32_t requirements_version;
    const char *resource_name;
    int64_t deployment_key;
} chute_decision_view;

/* The decisions the last successful chute_engine_deploy stored or kept, in
 * resource order (valid until the next engine call). */
void chute_engine_deployed_decisions(chute_engine *e, const chute_decision_view **out, size_t *n);

/*
 * Evaluates the latest version of |decision_id| or, when that is NULL or
 * empty, the decision |key| (> 0), against the JSON object |vars| (see
 * chute_engine_evaluate; this form is for the result alone, and spends a
 * key like it). Sets |*which| (may be
 * NULL) to the decision and |*result| to its result as Zeebe gives it to a
 * business rule task (malloc'd JSON text, |*result_len| bytes; the caller
 * frees it). CHUTE_ENOTFOUND, CHUTE_EINVAL (variables; an evaluation that
 * fails, with the decision's message), CHUTE_ENOMEM.
 */
int chute_engine_evaluate_decision(chute_engine *e, int64_t key, const char *decision_id,
                                   const char *vars, size_t len, chute_decision_view *which,
                                   char **result, size_t *result_len, chute_error *err);

/* An input of a decision table, or an output of a rule, as an evaluation
 * saw it. */
typedef struct chute_decision_value {
    const char *id;    /* the input's or output's id; "" when none */
    const char *name;  /* an input's label, an output's name; "" when none */
    const char *value; /* JSON text */
} chute_decision_value;

/* A rule that matched, with the outputs the evaluation computed for it. */
typedef struct chute_matched_rule {
    const char *id;
    int32_t index; /* 1-based, in the table's order */
    const chute_decision_value *outputs;
    size_t noutputs;
} chute_matched_rule;

/* One decision an evaluation evaluated: the one asked for, or one it
 * requires. */
typedef struct chute_evaluated_decision {
    int64_t key; /* the decision definition of the same resource version */
    const char *decision_id;
    const char *name;
    int32_t version;
    const char *type;                   /* "DECISION_TABLE" or "LITERAL_EXPRESSION" */
    const char *output;                 /* JSON text; "null" for the decision that failed */
    const chute_decision_value *inputs; /* a table's inputs */
    size_t ninputs;
    const chute_matched_rule *rules;
    size_t nrules;
} chute_evaluated_decision;

/*
 * What chute_engine_evaluate answers, as Zeebe's DecisionEvaluation
 * record: the decision asked for, a new key for the evaluation, and either
 * its output or, when the evaluation failed, the decision that failed and
 * why (an evaluation that fails is an answer, not an error, in Zeebe as
 * here). |evaluated| lists the decisions evaluated, a requirement before
 * what requires it, the failed one last. Everything lives until
 * chute_decision_evaluation_free.
 */
typedef struct chute_decision_evaluation {
    int64_t key; /* decisionEvaluationKey (Camunda's decisionInstanceKey) */
    chute_decision_view decision;
    const char *output;             /* JSON text; "null" when the evaluation failed */
    const char *failed_decision_id; /* "" unless it failed */
    const char *failure_message;    /* "" unless it failed */
    const chute_evaluated_decision *evaluated;
    size_t nevaluated;
} chute_decision_evaluation;

/*
 * Evaluates the latest version of |decision_id| or, when that is NULL or
 * empty, the decision |key| (> 0), as Zeebe chooses, against the JSON
 * object |vars| (|len|
 * bytes, 0: strlen; NULL, empty or blank: no variables), as Zeebe's
 * EvaluateDecision does. Sets |*out| to a new evaluation (free it with
 * chute_decision_evaluation_free) also when the evaluation failed: that is
 * in the evaluation's failure fields. The evaluation's key comes from the
 * key space and is stored with the open batch, so answer after the commit.
 * Returns 0, CHUTE_ENOTFOUND (no such decision), CHUTE_EINVAL (neither a
 * key nor an id; variables that are not a JSON object within the engine's
 * bounds) or CHUTE_ENOMEM; |*out| is untouched then.
 */
int chute_engine_evaluate(chute_engine *e, int64_t key, const char *decision_id, const char *vars,
                          size_t len, chute_decision_evaluation **out, chute_error *err);

/* Frees an evaluation; NULL is a no-op. */
void chute_decision_evaluation_free(chute_decision_evaluation *ev);

/* ---- processes: instances -------------------------------------------------
 *
 * A process instance runs one deployed definition. Its element instances
 * (the process itself, then every element a token reaches) have keys from
 * the job key space; the process instance's key is the key of its root
 * element instance. The engine moves tokens at once, inside the command
 * that moved them (create, a job's completion, resolve, set variables),
 * until every token waits: at a job (service, send, business rule and
 * script tasks with zeebe:taskDefinition), at a parallel join, or at an
 * incident. Every change joins the open batch with the jobs it touches.
 *
 * Variables live in scopes: the process instance's root scope and each
 * element instance's local scope. Names are JSON object member names,
 * values JSON texts kept as given. Zeebe's rules apply:
 *   - reading sees the element's local scope, then its flow scopes up to
 *     the root (the nearest definition wins);
 *   - propagating a document (a completed job's variables without output
 *     mappings, SetVariables without local) sets each variable in the
 *     nearest scope, from the given one up, that has it, or else in the
 *     root scope;
 *   - input mappings set local variables of the element when it is
 *     activated; with output mappings, a completed job's variables become
 *     local variables of the element, the outputs are evaluated there and
 *     only they are propagated from the element's flow scope.
 * Jobs of a process carry the process fields (chute_process_ref) and, when
 * activated, the variables visible from their element (filtered by
 * fetchVariables).
 *
 * A failure at run time that a worker did not cause (a condition no flow
 * satisfies, an expression that fails, a mapping that fails) raises an
 * incident on the element: the token waits there until the incident is
 * resolved (chute_engine_resolve_incident), which tries the failed step
 * again, typically after chute_engine_set_variables fixed its input.
 *
 * Ended instances (COMPLETED, TERMINATED) leave memory and stay readable
 * from the store (chute_engine_get_instance, the lists) for the retention
 * time of the options, like completed standalone jobs.
 */

/* X(name, value): states of a process instance (stored on disk: never
 * renumber). */
#define CHUTE_INSTANCE_STATE_MAP(X)                                                                \
    X(ACTIVE, 1)                                                                                   \
    X(COMPLETED, 2)                                                                                \
    X(TERMINATED, 3)

typedef enum chute_instance_state {
#define CHUTE_INSTANCE_STATE_ENUM_(name, value) CHUTE_INSTANCE_##name = value,
    CHUTE_INSTANCE_STATE_MAP(CHUTE_INSTANCE_STATE_ENUM_)
#undef CHUTE_INSTANCE_STATE_ENUM_
} chute_instance_state;

/* "ACTIVE", "COMPLETED", "TERMINATED"; "UNKNOWN" otherwise. The same
 * words name the states of element instances. In chute_common. */
const char *chute_instance_state_name(chute_instance_state state);

/* The most a command may move tokens before it stops: a process that
 * loops without ever waiting gets an incident instead of hanging the
 * engine. */
#define CHUTE_MAX_STEPS_PER_COMMAND 100000

typedef struct chute_instance_spec {
    int64_t process_definition_key; /* > 0: this definition; else by id and version */
    const char *bpmn_process_id;
    int32_t version;                /* < 0: the latest */
    const char *variables;          /* JSON object, NULL or blank for none */
    size_t variables_len;           /* 0 with non-NULL variables means strlen */
} chute_instance_spec;

/* A process instance. Strings are the engine's: valid until the next
 * engine call (or, in a callback, until it returns). */
typedef struct chute_instance_view {
    int64_t key; /* processInstanceKey */
    int64_t process_definition_key;
    const char *bpmn_process_id;
    int32_t version;
    chute_instance_state state;
    int has_incident; /* an open incident on any of its elements or jobs */
    int64_t started_at, ended_at; /* epoch ms; ended_at 0 while ACTIVE */
    const char *variables;        /* the root scope, a JSON object */
    size_t variables_len;
    const char *process_name;     /* the process's name in its model, "" when none */
    int64_t parent_process_instance_key; /* started by a call activity of this instance; 0 if not */
    int64_t parent_element_instance_key; /* ... at this element instance */
} chute_instance_view;

/* Called once when an awaited instance ends (COMPLETED or TERMINATED),
 * from inside the engine call that ended it; it must not call into the
 * engine. |inst->variables| holds the root scope filtered by the fetch
 * names the await was given. The same rule as for deliveries holds: what
 * depends on it leaves the process only after the commit. */
typedef void (*chute_instance_done_fn)(void *ctx, const chute_instance_view *inst);

typedef struct chute_awaiter chute_awaiter;

typedef struct chute_instance_await {
    chute_instance_done_fn done;
    void *ctx;
    const char *const *fetch_variables; /* names of root variables to return; none = all */
    size_t fetch_variables_count;
} chute_instance_await;

/*
 * Creates an instance of the definition |spec| names (NOT_FOUND when there
 * is none) with |spec->variables| in its root scope, and runs it until it
 * waits. Fills |*out| (state ACTIVE, or COMPLETED if it already ended).
 * With |await| non-NULL the instance's end is reported to await->done:
 * inside this call when it ended here (then |*awaiter| is NULL), or later
 * (then |*awaiter| is the handle to give chute_engine_await_remove if the
 * caller stops waiting first). CHUTE_EINVAL (variables), CHUTE_ENOTFOUND,
 * CHUTE_EBUSY (max_jobs reached by the jobs it would create), CHUTE_ENOMEM.
 */
int chute_engine_create_instance(chute_engine *e, const chute_instance_spec *spec,
                                 const chute_instance_await *await, chute_instance_view *out,
                                 chute_awaiter **awaiter, chute_error *err);

/* Stops waiting: |a|'s callback is not called. Only for a handle whose
 * callback has not run. */
void chute_engine_await_remove(chute_engine *e, chute_awaiter *a);

/* Terminates an active instance: every element instance is terminated,
 * its jobs are removed (a worker's complete then answers NOT_FOUND) and
 * its incidents are resolved. CHUTE_ENOTFOUND for an unknown or ended
 * instance. */
int chute_engine_cancel_instance(chute_engine *e, int64_t key, chute_error *err);

/*
 * Sets the variables of the JSON object |vars| on the scope of the active
 * element instance |scope_key| (the process instance's key for its root
 * scope): as local variables of that scope when |local|, else propagated
 * from it. Sets |*key_out| (may be NULL) to a new key for the change.
 * CHUTE_ENOTFOUND (no such active element instance), CHUTE_EINVAL (not an
 * object), CHUTE_ETOOBIG.
 */
int chute_engine_set_variables(chute_engine *e, int64_t scope_key, const char *vars, size_t len,
                               int local, int64_t *key_out, chute_error *err);

/* Deletes the process definition |key|: it can no longer be started and
 * its id's latest version becomes the one before it. CHUTE_ENOTFOUND;
 * CHUTE_ESTATE while instances of it are active. */
int chute_engine_delete_resource(chute_engine *e, int64_t key, chute_error *err);

/* Reads an instance, active (from memory) or ended and retained (from the
 * store). CHUTE_ENOTFOUND. */
int chute_engine_get_instance(chute_engine *e, int64_t key, chute_instance_view *out,
                              chute_error *err);

/* What chute_engine_list_instances keeps: zero fields match anything. */
typedef struct chute_instance_filter {
    int64_t key;
    int64_t process_definition_key;
    const char *bpmn_process_id;
    chute_instance_state state;
    int has_incident; /* 1: only with, -1: only without, 0: any */
} chute_instance_filter;

typedef int (*chute_instance_visit_fn)(void *ctx, const chute_instance_view *inst);

/* Visits the instances that match |f| (NULL: all), newest first, skipping
 * |offset| and at most |limit|, until |fn| returns non-zero. Reads the
 * store and memory, so the open batch is included. CHUTE_ESTORE,
 * CHUTE_ENOMEM. */
int chute_engine_list_instances(chute_engine *e, const chute_instance_filter *f, size_t offset,
                                size_t limit, chute_instance_visit_fn fn, void *ctx);

/* An element instance. The process itself is one (type "PROCESS", its
 * element id the bpmnProcessId, flow scope 0). */
typedef struct chute_element_view {
    int64_t key;
    int64_t process_instance_key;
    int64_t process_definition_key;
    const char *bpmn_process_id;
    const char *element_id;
    const char *element_name; /* "" when none */
    const char *element_type; /* Zeebe's BpmnElementType: "SERVICE_TASK", "PROCESS", ... */
    chute_instance_state state;
    int64_t flow_scope_key; /* 0 for the process */
    int64_t started_at, ended_at;
    int64_t incident_key; /* an open incident on it or on its job; 0 for none */
    int64_t job_key;      /* its job, while it waits for one; 0 otherwise */
} chute_element_view;

typedef int (*chute_element_visit_fn)(void *ctx, const chute_element_view *el);

/* Visits the element instances of instance |key| in the order they were
 * activated: the active ones and the last CHUTE_ELEMENT_HISTORY ended
 * ones. CHUTE_ENOTFOUND. */
#define CHUTE_ELEMENT_HISTORY 1000
int chute_engine_list_elements(chute_engine *e, int64_t key, chute_element_visit_fn fn,
                               void *ctx, chute_error *err);

/* What an active element instance waits on: a pending timer (a timer
 * catch event, a timer boundary event, an event sub-process's timer start)
 * or an open message subscription (a message catch event, a receive task, a
 * message boundary event, an event after an event-based gateway, an event
 * sub-process's message start). Strings are the engine's: valid until the
 * callback returns. */
typedef struct chute_wait_view {
    int64_t element_instance_key; /* the element instance that waits (the process for its
                                     event sub-processes) */
    const char *element_id;       /* the waiting event */
    int is_timer;                 /* 1: a timer; 0: a message subscription */
    int64_t due;                  /* timers: epoch ms */
    /* subscriptions: the message name and the correlation key */
    const char *message_name, *correlation_key;
} chute_wait_view;

typedef int (*chute_wait_visit_fn)(void *ctx, const chute_wait_view *w);

/* Visits what instance |key| waits on, element instance by element
 * instance in activation order, its timers before its subscriptions, until
 * |fn| returns non-zero. An ended instance waits on nothing (no visit).
 * CHUTE_ENOTFOUND. */
int chute_engine_list_waits(chute_engine *e, int64_t key, chute_wait_visit_fn fn, void *ctx,
                            chute_error *err);

/* The process instance an active element instance |key| belongs to (the
 * instance's own key for its root). CHUTE_ENOTFOUND when no active element
 * instance has that key. */
int chute_engine_element_instance(chute_engine *e, int64_t key, int64_t *process_instance_key,
                                  chute_error *err);

typedef struct chute_variable_view {
    int64_t key; /* the variable's, given when it was first set */
    const char *name;
    const char *value; /* JSON text */
    size_t value_len;
    int64_t scope_key;
    int64_t process_instance_key;
} chute_variable_view;

typedef int (*chute_variable_visit_fn)(void *ctx, const chute_variable_view *v);

/* Visits the variables of instance |key| (every scope, or only
 * |scope_key| when non-zero), scope by scope, by name within one.
 * CHUTE_ENOTFOUND. */
int chute_engine_list_variables(chute_engine *e, int64_t key, int64_t scope_key,
                                chute_variable_visit_fn fn, void *ctx, chute_error *err);

/* An incident, of a process element (with or without a job) or of a
 * standalone job (process fields 0 and ""). */
typedef struct chute_incident_view {
    int64_t key;
    chute_incident_type type;
    const char *message;
    int resolved; /* 0: ACTIVE; 1: RESOLVED (kept in its instance's history) */
    int64_t created_at;
    int64_t job_key; /* 0 when the element itself failed */
    int64_t process_instance_key;
    int64_t process_definition_key;
    const char *bpmn_process_id;
    const char *element_id;
    int64_t element_instance_key;
} chute_incident_view;

typedef int (*chute_incident_visit_fn)(void *ctx, const chute_incident_view *inc);

/* Visits incidents oldest first: with |process_instance_key| 0 every open
 * one (of processes and of standalone jobs); else those of that instance,
 * open and resolved. */
int chute_engine_search_incidents(chute_engine *e, int64_t process_instance_key,
                                  chute_incident_visit_fn fn, void *ctx);

/* ---- processes: modification and migration -----------------------------------
 *
 * Operations people ask for on a running instance. Both are all or
 * nothing: every instruction is checked before anything changes.
 */
typedef struct chute_activate_instruction {
    const char *element_id;     /* the element to activate a token at */
    int64_t ancestor_key;       /* the flow scope's element instance, 0: the only one there is
                                   (the process itself for a top-level element) */
    const char *variables;      /* JSON object set as local variables of that flow scope, or
                                   NULL */
    size_t variables_len;
} chute_activate_instruction;

/*
 * Terminates the element instances |terminate| (with their jobs, timers and
 * children) and activates tokens at the elements |activate|. An instance
 * left with no token is terminated. CHUTE_ENOTFOUND (the instance, an
 * element instance of another instance), CHUTE_EINVAL (an unknown element,
 * one that cannot be activated, an ambiguous flow scope).
 */
int chute_engine_modify_instance(chute_engine *e, int64_t key,
                                 const chute_activate_instruction *activate, size_t nactivate,
                                 const int64_t *terminate, size_t nterminate, chute_error *err);

typedef struct chute_mapping_instruction {
    const char *source_element_id;
    const char *target_element_id;
} chute_mapping_instruction;

/*
 * Moves the active instance |key| to the process definition |target_key|:
 * every active element instance is mapped by |map| to an element of the
 * same type in the target (its jobs get the new process fields). Refused
 * (CHUTE_EINVAL) when an active element has no mapping, maps to another
 * type, or waits on a timer, message or join (not migrated yet).
 */
int chute_engine_migrate_instance(chute_engine *e, int64_t key, int64_t target_key,
                                  const chute_mapping_instruction *map, size_t nmap,
                                  chute_error *err);

/* ---- processes: messages ---------------------------------------------------
 *
 * A message has a name, a correlation key, a time to live, an optional id
 * and variables. Publishing correlates it at once to every open
 * subscription with the same name and correlation key (a message catch
 * event, a receive task, a message boundary event, an event-based
 * gateway waiting for it), at most once per process instance; and it
 * starts an instance of every latest process definition with a message
 * start event of that name (at most once per definition per message, and
 * not while an instance started by a message with the same correlation key
 * is active). A message with a time to live is kept that long (buffered):
 * a subscription opened later correlates to the oldest buffered message
 * first (FIFO per name and correlation key), never twice to instances of
 * one process (bpmnProcessId). A second message with the same id, name
 * and correlation key within the first one's life is CHUTE_EEXIST.
 * Messages survive restarts; one that expires is removed.
 */
#define CHUTE_MESSAGE_NAME_MAX 1024
#define CHUTE_CORRELATION_KEY_MAX 1024
#define CHUTE_MESSAGE_ID_MAX 1024

typedef struct chute_message_spec {
    const char *name;            /* required, not blank */
    const char *correlation_key; /* NULL or "" for none (message start events only) */
    int64_t ttl_ms;              /* >= 0; 0: correlated now or never */
    const char *message_id;      /* NULL or "" for none */
    const char *variables;       /* JSON object, NULL or blank for none */
    size_t variables_len;        /* 0 with non-NULL variables means strlen */
} chute_message_spec;

typedef struct chute_message_result {
    int64_t key;                  /* the message's */
    uint32_t correlated;          /* subscriptions and start events it went to now */
    int64_t process_instance_key; /* the first instance it reached now, 0 for none */
} chute_message_result;

/*
 * Publishes a message and correlates it; fills |*out|. CHUTE_EINVAL (a
 * blank name, a bound, variables not an object, a negative time to live),
 * CHUTE_EEXIST (a message with the same id, name and correlation key is
 * alive), CHUTE_ENOMEM. (Camunda's "correlate message" is a publish with
 * no time to live whose caller answers NOT_FOUND when |correlated| is 0.)
 */
int chute_engine_publish_message(chute_engine *e, const chute_message_spec *spec,
                                 chute_message_result *out, chute_error *err);

/* ---- processes: user tasks --------------------------------------------------
 *
 * A userTask with zeebe:userTask is a native user task: the engine keeps
 * it (no job) until it is completed through the calls below, as Camunda's
 * v2 user-task API does. Its key is the key of its element instance. A
 * userTask without zeebe:userTask is job-based, as in Zeebe: a job of type
 * "io.camunda.zeebe:userTask" whose custom headers carry the assignment
 * (io.camunda.zeebe:assignee, candidateGroups, candidateUsers, formKey,
 * dueDate, followUpDate); workers complete it like any job.
 *
 * Only open (CREATED) native user tasks are listed and read; a completed
 * or cancelled one is gone (CHUTE_ENOTFOUND), its element in its
 * instance's history.
 */
typedef struct chute_user_task_view {
    int64_t key; /* userTaskKey: the element instance's key */
    int64_t process_instance_key;
    int64_t process_definition_key;
    const char *bpmn_process_id;
    const char *element_id;
    const char *name;             /* the element's name, "" when none */
    const char *assignee;         /* "" when unassigned */
    const char *candidate_groups; /* JSON array of strings, "[]" when none */
    const char *candidate_users;  /* JSON array of strings, "[]" when none */
    const char *form_key;         /* "" when none */
    const char *due_date;         /* ISO 8601, "" when none */
    const char *follow_up_date;   /* ISO 8601, "" when none */
    int32_t priority;             /* 0..100, default 50 */
    int64_t created_at;           /* epoch ms */
} chute_user_task_view;

typedef struct chute_user_task_filter {
    int64_t process_instance_key; /* 0: any */
    const char *assignee;         /* NULL: any; "": unassigned only */
    const char *element_id;       /* NULL: any */
    const char *bpmn_process_id;  /* NULL: any */
} chute_user_task_filter;

typedef int (*chute_user_task_visit_fn)(void *ctx, const chute_user_task_view *t);

/* Visits the open native user tasks matching |f| (NULL: all), oldest
 * first, until |fn| returns non-zero. Views live until |fn| returns. */
int chute_engine_list_user_tasks(chute_engine *e, const chute_user_task_filter *f,
                                 chute_user_task_visit_fn fn, void *ctx);

/* Reads the open native user task |key| into |*out| (valid until the next
 * engine call). CHUTE_ENOTFOUND. */
int chute_engine_get_user_task(chute_engine *e, int64_t key, chute_user_task_view *out,
                               chute_error *err);

/* Assigns the task to |assignee| ("" or NULL: unassigns it). A task that
 * has another assignee is CHUTE_ESTATE unless |allow_override|. */
int chute_engine_assign_user_task(chute_engine *e, int64_t key, const char *assignee,
                                  int allow_override, chute_error *err);

/* Completes the task with |vars| (a JSON object, may be NULL), merged as a
 * completed job's variables are; the instance moves on. */
int chute_engine_complete_user_task(chute_engine *e, int64_t key, const char *vars, size_t len,
                                    chute_error *err);

/* ---- in-process handlers (embedding) ------------------------------------- */

/*
 * An in-process handler runs jobs of one type inside the engine's thread,
 * the way a worker would but without a network (ZenBPM's internal jobs).
 * It is called with the activated job and must settle it by calling
 * chute_engine_complete, chute_engine_fail or chute_engine_throw_error on
 * |e| with the job's key before it returns; if it does not, the job stays
 * leased until its timeout and is then handed out again.
 */
typedef void (*chute_handler_fn)(void *ctx, chute_engine *e, const chute_job_view *job);

typedef struct chute_handler_options {
    const char *worker;     /* default "in-process" */
    int64_t timeout_ms;     /* lease while the handler runs; default 30 s */
    uint32_t max_jobs;      /* jobs taken per round; default 32 */
} chute_handler_options;

/* Registers |fn| for |type| (one handler per type; CHUTE_EEXIST otherwise).
 * |opts| may be NULL for the defaults. */
int chute_engine_register_handler(chute_engine *e, const char *type, chute_handler_fn fn,
                                  void *ctx, const chute_handler_options *opts,
                                  chute_error *err);

/*
 * Runs the engine for embedding programs: repeatedly applies due timers,
 * leases ready jobs of the handled types and commits the leases, calls the
 * handlers, and commits what they did. Returns 0 when it is idle (no job a
 * handler could take is ready, and no timer is due before |until_ms|, epoch
 * ms), when the clock passes |until_ms|, or after chute_engine_stop; returns
 * the error of a failed commit. While a timer is pending before |until_ms|
 * it sleeps until then.
 */
int chute_engine_run(chute_engine *e, int64_t until_ms, chute_error *err);

/* Makes a running chute_engine_run return after its current round. Safe to
 * call from a handler or a signal handler. */
void chute_engine_stop(chute_engine *e);

#ifdef __cplusplus
}
#endif

#endif /* CHUTE_ENGINE_H */
