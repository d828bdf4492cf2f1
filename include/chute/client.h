/*
 * The Chute client: a connection to a Chute broker (or any Zeebe gateway) and
 * every job, process-instance and message RPC of the gateway protocol and of
 * Chute's own service (standalone jobs, incidents, process instances, user
 * tasks).
 *
 * Connection
 * ----------
 * A client owns one HTTP/2 connection (plaintext h2c with prior knowledge)
 * and one background I/O thread that runs it. The connection is made lazily
 * by the first call and made again by the first call after it was lost, so a
 * client outlives broker restarts: calls that were in flight when the
 * connection broke fail with CHUTE_EUNAVAIL, later calls reconnect. Calls
 * from any number of threads run concurrently as separate HTTP/2 streams on
 * the one connection.
 *
 * Calls
 * -----
 * Every RPC has a blocking form, usable from any thread except the client's
 * own I/O thread (where it returns CHUTE_EINVAL: a callback must not block
 * the loop that would complete it). A few RPCs also have an asynchronous
 * form whose callback runs on the I/O thread, exactly once, unless the
 * function itself returns an error. Every call takes an optional
 * chute_call_options (NULL for the defaults) with its deadline.
 *
 * Errors
 * ------
 * The gRPC status of a failed call is mapped to a CHUTE_E* code (the client
 * column of CHUTE_GRPC_STATUS_MAP in <chute/chute.h>) and the server's
 * grpc-message (percent-decoded) is copied into the chute_error:
 *   INVALID_ARGUMENT, OUT_OF_RANGE -> CHUTE_EINVAL     NOT_FOUND -> CHUTE_ENOTFOUND
 *   FAILED_PRECONDITION, ABORTED -> CHUTE_ESTATE       ALREADY_EXISTS -> CHUTE_EEXIST
 *   RESOURCE_EXHAUSTED -> CHUTE_EBUSY                   DEADLINE_EXCEEDED -> CHUTE_ETIMEDOUT
 *   UNAVAILABLE, CANCELLED -> CHUTE_EUNAVAIL            UNIMPLEMENTED -> CHUTE_EUNIMPL
 *   PERMISSION_DENIED, UNAUTHENTICATED -> CHUTE_EPERM   DATA_LOSS -> CHUTE_ECORRUPT
 *   UNKNOWN, INTERNAL and anything else -> CHUTE_EINTERNAL
 * Failures on the client side: no connection, connection lost -> CHUTE_EUNAVAIL;
 * the call's deadline passed -> CHUTE_ETIMEDOUT; the client was closed ->
 * CHUTE_ECLOSED; a response over the size bound -> CHUTE_ETOOBIG; a response
 * that does not decode -> CHUTE_EINTERNAL.
 *
 * Ownership
 * ---------
 * Strings passed in are copied (or encoded) before the function returns.
 * Everything a call returns is owned by the caller and released with the
 * matching _free function; every _free function accepts NULL.
 */
#ifndef CHUTE_CLIENT_H
#define CHUTE_CLIENT_H

#include <chute/chute.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chute_client chute_client;

/* How a client connects. Initialise with chute_client_options_init() so
 * that fields added later get their defaults. */
typedef struct chute_client_options {
    /* Give up a connection attempt after this many ms (default 10 000). */
    int64_t connect_timeout_ms;
    /* The deadline of a call that does not set one, in ms; 0 means none (the
     * default). Long polls and streams should set their own. */
    int64_t default_deadline_ms;
    /* Bound on one received message (default 4 MiB, gRPC's default). */
    size_t max_message_size;
    /* Send an HTTP/2 PING after this many ms without reading anything while
     * calls are open; a connection that does not answer within the same
     * time is dropped. Default 45 000; negative disables. */
    int64_t keepalive_ms;
    /* TLS: not implemented yet; non-zero makes chute_client_open() fail with
     * CHUTE_EUNIMPL. */
    int tls;
    /* A PEM file of trusted CAs (TLS only; not implemented: must be NULL). */
    const char *tls_ca_file;
    /* OAuth bearer token, sent as "authorization: Bearer <token>" on every
     * call; NULL for none. Copied. */
    const char *bearer_token;
    /* Replaces the user-agent header; NULL for "chute-c/<version>". */
    const char *user_agent;
} chute_client_options;

/* Options of one call. chute_call_options_init() gives the defaults. */
typedef struct chute_call_options {
    /* The call fails with CHUTE_ETIMEDOUT after this many ms and the server
     * is told so with grpc-timeout. 0 means the client's default_deadline_ms;
     * negative means none. */
    int64_t deadline_ms;
} chute_call_options;

void chute_client_options_init(chute_client_options *opts);
void chute_call_options_init(chute_call_options *opts);

/*
 * Creates a client for |address| ("host:port"; "[v6]:port"; a bare host
 * means port 26500) and starts its I/O thread. It does not connect yet: the
 * first call does. |opts| may be NULL; it is copied. On success |*out| is
 * the client; on failure it is untouched. Returns 0, CHUTE_EINVAL (a
 * malformed address), CHUTE_EUNIMPL (TLS was asked for), CHUTE_ENOMEM or
 * CHUTE_EINTERNAL (the I/O thread could not start).
 */
int chute_client_open(chute_client **out, const char *address, const chute_client_options *opts,
                      chute_error *err);

/*
 * Fails every open call with CHUTE_ECLOSED (their callbacks run), closes the
 * connection, stops the I/O thread and frees |client|. Close every worker
 * that uses the client first. Must not be called from the I/O thread. NULL
 * is a no-op.
 */
void chute_client_close(chute_client *client);

/* The address the client was opened with. */
const char *chute_client_address(const chute_client *client);

/*
 * An activated job as a worker receives it. All strings are NUL-terminated,
 * never NULL, and owned by the struct: chute_job_free() releases them
 * together with the struct.
 *
 * The job is leased to |worker| until |deadline| (epoch ms); after that the
 * broker may give it to another worker (retries unchanged). Complete it,
 * fail it or throw an error on it before the deadline. Jobs of a process
 * carry the process fields; jobs created directly carry 0 and "".
 */
typedef struct chute_job {
    int64_t key;                        /* the job's key, unique forever */
    char *type;                         /* the job type it was activated for */
    char *custom_headers;               /* JSON object of strings, "{}" when none */
    char *variables;                    /* JSON object, "{}" when none */
    int32_t retries;                    /* retries left; FailJob sets the next value */
    int64_t deadline;                   /* end of the lease, epoch ms */
    char *worker;                       /* the worker name the lease was given to */
    char *tenant_id;                    /* "<default>" without multi-tenancy */
    int64_t process_instance_key;       /* 0 for a standalone job */
    char *bpmn_process_id;              /* "" for a standalone job */
    int32_t process_definition_version; /* 0 for a standalone job */
    int64_t process_definition_key;     /* 0 for a standalone job */
    char *element_id;                   /* "" for a standalone job */
    int64_t element_instance_key;       /* 0 for a standalone job */
} chute_job;

/* Frees |job| and its strings. NULL is a no-op. */
void chute_job_free(chute_job *job);

/* A deep copy of |job| (NULL when out of memory). */
chute_job *chute_job_dup(const chute_job *job);

/* Jobs returned by one activation: |count| pointers, each owned. */
typedef struct chute_job_list {
    chute_job **jobs;
    size_t count;
} chute_job_list;

/* Frees every job and the array, and zeroes |list|. NULL is a no-op. */
void chute_job_list_free(chute_job_list *list);

/* ---- the gateway protocol (gateway_protocol.Gateway) ------------------- */

typedef struct chute_partition_info {
    int32_t partition_id;
    int32_t role;   /* 0 LEADER, 1 FOLLOWER, 2 INACTIVE */
    int32_t health; /* 0 HEALTHY, 1 UNHEALTHY, 2 DEAD */
} chute_partition_info;

typedef struct chute_broker_info {
    int32_t node_id;
    char *host;
    int32_t port;
    char *version;
    chute_partition_info *partitions;
    size_t partition_count;
} chute_broker_info;

typedef struct chute_topology {
    chute_broker_info *brokers;
    size_t broker_count;
    int32_t cluster_size;
    int32_t partitions_count;
    int32_t replication_factor;
    char *gateway_version;
    char *cluster_id;
} chute_topology;

void chute_topology_free(chute_topology *topology);

/* Topology: the brokers and partitions behind the gateway. On success
 * |*out| is a new chute_topology (free it with chute_topology_free()). */
int chute_client_topology(chute_client *client, chute_topology **out, const chute_call_options *co,
                          chute_error *err);

/* What ActivateJobs and StreamActivatedJobs ask for. Arrays may be NULL
 * when their count is 0. */
typedef struct chute_client_activate_request {
    const char *type;                   /* required */
    const char *worker;                 /* the worker name recorded with the lease; NULL = "" */
    int64_t timeout_ms;                 /* the lease, >= 1 */
    int32_t max_jobs;                   /* ActivateJobs only: >= 1 */
    int64_t request_timeout_ms;         /* ActivateJobs only: long poll; 0 server default
                                           (10 s), < 0 answer at once */
    const char *const *fetch_variables; /* names to fetch; none = all */
    size_t fetch_variable_count;
    const char *const *tenant_ids;
    size_t tenant_id_count;
} chute_client_activate_request;

/*
 * ActivateJobs: activates up to |req->max_jobs| jobs of |req->type|, long
 * polling up to |req->request_timeout_ms| when none is ready. On success
 * |*out| holds the jobs (possibly none); free it with chute_job_list_free().
 * When |co| sets no deadline the call gets request_timeout_ms + 10 s (as the
 * Java client does). On failure |*out| is left empty.
 */
int chute_client_activate_jobs(chute_client *client, const chute_client_activate_request *req,
                               chute_job_list *out, const chute_call_options *co, chute_error *err);

/* The callback of an asynchronous call without a result. |err| holds the
 * detail when |rc| < 0. Runs on the I/O thread; it must not block. */
typedef void (*chute_done_cb)(void *user_data, int rc, const chute_error *err);

/* The callback of chute_client_activate_jobs_async(). |jobs| is owned by the
 * callback (free it with chute_job_list_free()); it is empty when |rc| < 0. */
typedef void (*chute_activate_cb)(void *user_data, int rc, const chute_error *err,
                                  chute_job_list *jobs);

/* ActivateJobs without blocking: |cb| runs once on the I/O thread. Returns 0
 * (then |cb| runs) or an error (then it does not). */
int chute_client_activate_jobs_async(chute_client *client, const chute_client_activate_request *req,
                                     const chute_call_options *co, chute_activate_cb cb,
                                     void *user_data, chute_error *err);

/*
 * A job pushed on a StreamActivatedJobs stream. |job| is owned by the
 * callback (free it with chute_job_free()). Return 0 to go on, non-zero to
 * end the stream (it then ends with rc 0).
 */
typedef int (*chute_stream_job_cb)(void *user_data, chute_job *job);

/*
 * StreamActivatedJobs, blocking: opens a long-lived stream and calls |on_job|
 * on the calling thread for each job pushed, until |on_job| returns
 * non-zero (returns 0), the deadline of |co| passes (CHUTE_ETIMEDOUT) or the
 * stream breaks (its error). The stream is flow controlled: the server can
 * only push more jobs while |on_job| keeps up.
 */
int chute_client_stream_jobs(chute_client *client, const chute_client_activate_request *req,
                             chute_stream_job_cb on_job, void *user_data,
                             const chute_call_options *co, chute_error *err);

/* CompleteJob. |variables| is a JSON object text or NULL. */
int chute_client_complete_job(chute_client *client, int64_t job_key, const char *variables,
                              const chute_call_options *co, chute_error *err);

/* FailJob: stores exactly |retries| (subtract one yourself); with retries
 * > 0 the job is activatable again after |retry_backoff_ms| (0: at once),
 * with retries <= 0 it gets an incident. Strings may be NULL. */
int chute_client_fail_job(chute_client *client, int64_t job_key, int32_t retries,
                          const char *error_message, int64_t retry_backoff_ms,
                          const char *variables, const chute_call_options *co, chute_error *err);

/* ThrowError: a BPMN error |error_code|; without a catching element (always,
 * for standalone jobs) the job gets an incident. Strings may be NULL
 * except |error_code|. */
int chute_client_throw_error(chute_client *client, int64_t job_key, const char *error_code,
                             const char *error_message, const char *variables,
                             const chute_call_options *co, chute_error *err);

/* UpdateJobRetries (|retries| >= 1, or the server answers CHUTE_EINVAL). */
int chute_client_update_job_retries(chute_client *client, int64_t job_key, int32_t retries,
                                    const chute_call_options *co, chute_error *err);

/* UpdateJobTimeout: the lease of an activated job now ends |timeout_ms| from now. */
int chute_client_update_job_timeout(chute_client *client, int64_t job_key, int64_t timeout_ms,
                                    const chute_call_options *co, chute_error *err);

/* ResolveIncident (update the job's retries first). */
int chute_client_resolve_incident(chute_client *client, int64_t incident_key,
                                  const chute_call_options *co, chute_error *err);

/* The asynchronous forms of the three job commands; |cb| may be NULL. */
int chute_client_complete_job_async(chute_client *client, int64_t job_key, const char *variables,
                                    const chute_call_options *co, chute_done_cb cb, void *user_data,
                                    chute_error *err);
int chute_client_fail_job_async(chute_client *client, int64_t job_key, int32_t retries,
                                const char *error_message, int64_t retry_backoff_ms,
                                const char *variables, const chute_call_options *co,
                                chute_done_cb cb, void *user_data, chute_error *err);
int chute_client_throw_error_async(chute_client *client, int64_t job_key, const char *error_code,
                                   const char *error_message, const char *variables,
                                   const chute_call_options *co, chute_done_cb cb, void *user_data,
                                   chute_error *err);

/* ---- Chute's own service (chute.v1.Chute): standalone jobs ------------- */

/* A job to create. Strings may be NULL (none). */
typedef struct chute_client_job_spec {
    const char *type;           /* required */
    const char *variables;      /* JSON object */
    const char *custom_headers; /* JSON object of strings */
    int32_t retries;            /* >= 1; 0 = the default (3) */
    int32_t priority;           /* higher is handed out first */
    int64_t delay_ms;           /* activatable only after this long; 0 = at once */
} chute_client_job_spec;

/* CreateJob: on success |*key| is the new job's key. */
int chute_client_create_job(chute_client *client, const chute_client_job_spec *spec, int64_t *key,
                            const chute_call_options *co, chute_error *err);

/* CreateJobs: creates |count| jobs in one commit (all or none, at most
 * 10 000); |keys| (room for |count|) receives their keys in order. */
int chute_client_create_jobs(chute_client *client, const chute_client_job_spec *specs, size_t count,
                             int64_t *keys, const chute_call_options *co, chute_error *err);

/* A standalone job as GetJob reports it. Strings owned, never NULL. */
typedef struct chute_job_info {
    int64_t key;
    char *type;
    char *state; /* ACTIVATABLE, ACTIVATED, FAILED, INCIDENT, ERROR_THROWN, DELAYED, COMPLETED */
    int32_t retries;
    int32_t priority;
    char *worker;     /* of the current or last lease, "" if never activated */
    int64_t deadline; /* epoch ms: lease end, end of a back-off or of a delay; 0 otherwise */
    char *variables;  /* for COMPLETED: the result */
    char *custom_headers;
    char *error_code;
    char *error_message;
    int64_t incident_key; /* 0 without an open incident */
    int64_t created_at;   /* epoch ms */
    int64_t completed_at; /* epoch ms, COMPLETED only */
} chute_job_info;

void chute_job_info_free(chute_job_info *info);

/* GetJob: on success |*out| is a new chute_job_info. */
int chute_client_get_job(chute_client *client, int64_t key, chute_job_info **out,
                         const chute_call_options *co, chute_error *err);

/*
 * An incident of a standalone job or of a process. Strings owned, never
 * NULL. The job fields are 0 and "" when the element itself failed (a
 * gateway with no flow to take, an expression or a mapping that failed);
 * the process fields are 0 and "" for an incident of a standalone job.
 */
typedef struct chute_incident {
    int64_t key;
    int64_t job_key;
    /* JOB_NO_RETRIES, UNHANDLED_ERROR_EVENT, CONDITION_ERROR,
     * EXTRACT_VALUE_ERROR, IO_MAPPING_ERROR or UNKNOWN */
    char *type;
    char *job_type;
    char *error_message;
    char *error_code;
    int32_t retries;
    int64_t process_instance_key;
    int64_t process_definition_key;
    char *bpmn_process_id;
    char *element_id;
    int64_t element_instance_key;
    char *state;        /* ACTIVE or RESOLVED */
    int64_t created_at; /* epoch ms */
} chute_incident;

typedef struct chute_incident_list {
    chute_incident *items;
    size_t count;
} chute_incident_list;

void chute_incident_list_free(chute_incident_list *list);

/* ListIncidents: open incidents of standalone jobs and of processes,
 * oldest first; of jobs of |job_type| only unless it is NULL or "" (an
 * incident without a job is then left out), at most |limit| (0 = 1000). */
int chute_client_list_incidents(chute_client *client, const char *job_type, int32_t limit,
                                chute_incident_list *out, const chute_call_options *co,
                                chute_error *err);

/* CancelJob: removes a job that is not completed. */
int chute_client_cancel_job(chute_client *client, int64_t key, const chute_call_options *co,
                            chute_error *err);

/* ---- process instances ------------------------------------------------------ */

/* What CreateProcessInstance (or CreateProcessInstanceWithResult) starts.
 * Strings may be NULL (none); arrays may be NULL when their count is 0. */
typedef struct chute_client_instance_spec {
    /* The process by its id, at |version| (-1: the latest)... */
    const char *bpmn_process_id;
    int32_t version;
    /* ... or, when bpmn_process_id is NULL or "", by its definition key. */
    int64_t process_definition_key;
    const char *variables; /* JSON object for the root scope */
    /* Non-zero: CreateProcessInstanceWithResult, which answers once the
     * instance completed, with its root variables (those named in
     * fetch_variables; none = all). The server waits |request_timeout_ms|
     * (0: its default, 10 s), then answers CHUTE_ETIMEDOUT while the
     * instance runs on. */
    int with_result;
    const char *const *fetch_variables;
    size_t fetch_variable_count;
    int64_t request_timeout_ms;
} chute_client_instance_spec;

/* A process instance just created. Strings owned, never NULL. */
typedef struct chute_created_instance {
    int64_t key; /* processInstanceKey */
    int64_t process_definition_key;
    char *bpmn_process_id;
    int32_t version;
    /* with_result: the root variables it completed with (filtered by
     * fetch_variables); "{}" otherwise */
    char *variables;
} chute_created_instance;

void chute_created_instance_free(chute_created_instance *inst);

/*
 * CreateProcessInstance, or with |spec->with_result|
 * CreateProcessInstanceWithResult: starts an instance of the process
 * |spec| names and, on success, sets |*out| to a new chute_created_instance
 * (free it with chute_created_instance_free). With a result and no
 * deadline in |co| the call gets request_timeout_ms (0: 10 s) + 10 s.
 * CHUTE_ENOTFOUND (no such process or version), CHUTE_EINVAL (variables
 * that are not a JSON object), CHUTE_ETIMEDOUT (with a result: the
 * instance did not end in time), CHUTE_EBUSY, and the errors of every call.
 */
int chute_client_create_instance(chute_client *client, const chute_client_instance_spec *spec,
                                 chute_created_instance **out, const chute_call_options *co,
                                 chute_error *err);

/* CancelProcessInstance: terminates an active instance, its jobs and its
 * incidents. CHUTE_ENOTFOUND for an unknown or ended instance. */
int chute_client_cancel_instance(chute_client *client, int64_t process_instance_key,
                                 const chute_call_options *co, chute_error *err);

/*
 * SetVariables: sets the variables of the JSON object |variables| on the
 * scope of the element instance |element_instance_key| (a process
 * instance's key for its root scope): as local variables of that scope
 * when |local|, else each in the nearest scope up from it that has it, or
 * the root. On success |*key| (may be NULL) is the key of the change.
 * CHUTE_ENOTFOUND (no such active element instance), CHUTE_EINVAL.
 */
int chute_client_set_variables(chute_client *client, int64_t element_instance_key,
                               const char *variables, int local, int64_t *key,
                               const chute_call_options *co, chute_error *err);

/* An element instance: the process itself (element_type "PROCESS"), or an
 * element a token reached. Strings owned, never NULL. */
typedef struct chute_element_instance {
    int64_t key;
    char *element_id;
    char *element_name; /* "" when the element has none */
    char *element_type; /* Zeebe's BpmnElementType: "SERVICE_TASK", ... */
    char *state;        /* ACTIVE, COMPLETED or TERMINATED */
    int64_t flow_scope_key;
    int64_t started_at, ended_at; /* epoch ms; ended_at 0 while ACTIVE */
    int64_t incident_key;         /* an open incident on it or its job; 0 for none */
    int64_t job_key;              /* its job while it waits for one; 0 otherwise */
} chute_element_instance;

/* What an active element instance waits on: a pending timer or an open
 * message subscription. Strings owned, never NULL. */
typedef struct chute_instance_wait {
    int64_t element_instance_key; /* the element instance that waits */
    char *element_id;             /* the waiting event */
    int is_timer;                 /* 1: a timer; 0: a message subscription */
    int64_t due;                  /* timers: epoch ms */
    char *message_name;           /* subscriptions; "" for a timer */
    char *correlation_key;        /* subscriptions; "" for a timer */
} chute_instance_wait;

/* A process instance as Chute's GetProcessInstance reports it. */
typedef struct chute_instance_info {
    int64_t key;
    char *bpmn_process_id;
    int32_t version;
    int64_t process_definition_key;
    char *state; /* ACTIVE, COMPLETED or TERMINATED */
    int has_incident;
    int64_t started_at, ended_at; /* epoch ms; ended_at 0 while ACTIVE */
    char *variables;              /* the root scope, a JSON object */
    /* in activation order: the active ones and the last 1000 ended ones */
    chute_element_instance *elements;
    size_t element_count;
    /* oldest first, open and resolved */
    chute_incident *incidents;
    size_t incident_count;
    /* elements, incidents or waits were left out to fit one response */
    int truncated;
    /* what it waits on while active: timers and message subscriptions */
    chute_instance_wait *waits;
    size_t wait_count;
} chute_instance_info;

void chute_instance_info_free(chute_instance_info *info);

/* GetProcessInstance (chute.v1): an active instance, or an ended one while
 * it is retained, with its element instances and incidents. On success
 * |*out| is a new chute_instance_info. CHUTE_ENOTFOUND; CHUTE_EUNIMPL from
 * a gateway that is not Chute. */
int chute_client_get_instance(chute_client *client, int64_t process_instance_key,
                              chute_instance_info **out, const chute_call_options *co,
                              chute_error *err);

/* ---- messages ---------------------------------------------------------------- */

/* A message to publish. Strings may be NULL (none). */
typedef struct chute_client_message_spec {
    const char *name;            /* required: the message name of the BPMN model */
    const char *correlation_key; /* matched against each subscription's; NULL or "" for
                                  * none (a message start event) */
    int64_t ttl_ms;              /* kept this long for subscriptions opened later;
                                  * 0: correlated now or never */
    const char *message_id;      /* a second message with this id is refused while the
                                  * first one lives */
    const char *variables;       /* a JSON object */
} chute_client_message_spec;

/*
 * PublishMessage: publishes the message |spec| describes; it correlates at
 * once to every open subscription with its name and correlation key (at
 * most once per process instance), starts instances of processes with a
 * message start event of its name, and is kept for its time to live for
 * subscriptions opened later. On success |*key| (may be NULL) is the
 * message's key. CHUTE_EINVAL (a blank name, a negative time to live,
 * variables that are not a JSON object), CHUTE_EEXIST (a message with the
 * same id is still alive), CHUTE_EBUSY, and the errors of every call.
 */
int chute_client_publish_message(chute_client *client, const chute_client_message_spec *spec,
                                 int64_t *key, const chute_call_options *co, chute_error *err);

/* ---- user tasks ------------------------------------------------------------ */

/* An open native user task (a userTask with zeebe:userTask). Its key is the
 * key of its element instance. Strings owned, never NULL. */
typedef struct chute_user_task {
    int64_t key;
    int64_t process_instance_key;
    int64_t process_definition_key;
    char *bpmn_process_id;
    char *element_id;
    char *name;     /* "" when the element has none */
    char *assignee; /* "" when unassigned */
    char **candidate_groups;
    size_t candidate_group_count;
    char **candidate_users;
    size_t candidate_user_count;
    char *form_key;       /* "" when none */
    char *due_date;       /* ISO 8601, "" when none */
    char *follow_up_date; /* ISO 8601, "" when none */
    int32_t priority;     /* 0..100 */
    int64_t created_at;   /* epoch ms */
} chute_user_task;

typedef struct chute_user_task_list {
    chute_user_task *items;
    size_t count;
    int truncated; /* more tasks matched than the limit or one response held */
} chute_user_task_list;

void chute_user_task_list_free(chute_user_task_list *list);

/* Which tasks ListUserTasks answers; NULL, "" and 0 mean any. */
typedef struct chute_client_user_task_filter {
    const char *assignee;
    int unassigned; /* only tasks nobody is assigned to (no |assignee| then) */
    int64_t process_instance_key;
    const char *element_id;
    const char *bpmn_process_id;
    int32_t limit; /* at most this many, 0 = 1000, at most 10 000 */
} chute_client_user_task_filter;

/* ListUserTasks (chute.v1): the open user tasks matching |filter| (NULL:
 * all), oldest first. On success |*out| holds them (free it with
 * chute_user_task_list_free). CHUTE_EINVAL for a bad limit or an assignee
 * with |unassigned|; CHUTE_EUNIMPL from a gateway that is not Chute. */
int chute_client_list_user_tasks(chute_client *client, const chute_client_user_task_filter *filter,
                                 chute_user_task_list *out, const chute_call_options *co,
                                 chute_error *err);

/* AssignUserTask: assigns the task |key| to |assignee|. A task that has
 * another assignee is reassigned unless |allow_override| is 0, which makes
 * that CHUTE_ESTATE (unassign it first). CHUTE_ENOTFOUND: no open user
 * task |key|. */
int chute_client_assign_user_task(chute_client *client, int64_t key, const char *assignee,
                                  int allow_override, const chute_call_options *co,
                                  chute_error *err);

/* Removes the assignee of the task |key| (AssignUserTask with none). */
int chute_client_unassign_user_task(chute_client *client, int64_t key, const chute_call_options *co,
                                    chute_error *err);

/* CompleteUserTask: completes the task |key| with the JSON object
 * |variables| (NULL: none), merged into its scope as a completed job's
 * are; its process instance moves on. CHUTE_ENOTFOUND, CHUTE_EINVAL. */
int chute_client_complete_user_task(chute_client *client, int64_t key, const char *variables,
                                    const chute_call_options *co, chute_error *err);

/* ---- deployment ------------------------------------------------------------ */

typedef struct chute_client_resource {
    const char *name;       /* the resource name, e.g. "order-process.bpmn" */
    const uint8_t *content; /* its bytes (copied into the request) */
    size_t len;
} chute_client_resource;

typedef struct chute_deployed_process {
    char *bpmn_process_id;
    char *resource_name;
    int32_t version;
    int64_t key; /* processDefinitionKey */
} chute_deployed_process;

typedef struct chute_deployment {
    int64_t key;
    chute_deployed_process *processes;
    size_t nprocesses;
} chute_deployment;

/*
 * DeployResource: deploys |n| resources (BPMN documents) all or nothing.
 * On success |*out| is a new chute_deployment (free it with
 * chute_deployment_free) listing each process with its version and key. A
 * rejected deployment is CHUTE_EINVAL with the broker's message, which
 * names every element and what is wrong.
 */
int chute_client_deploy(chute_client *client, const chute_client_resource *res, size_t n,
                        chute_deployment **out, const chute_call_options *co, chute_error *err);

void chute_deployment_free(chute_deployment *d);

#ifdef __cplusplus
}
#endif

#endif /* CHUTE_CLIENT_H */
