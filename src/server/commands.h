/*
 * The command layer: every command chuted serves, once, for gRPC and REST.
 *
 * A client names a command by a gRPC method ("/gateway_protocol.Gateway/
 * CompleteJob") or by a REST method and route ("POST /v2/jobs/{jobKey}/
 * completion"). command_table has one row per command with both names, its
 * load class and its two decoders; the front ends (gateway.c, http_api.c)
 * only find the row, decode into a struct command (src/codec/command.h)
 * and call command_run(). command_run() owns every rule the two front ends
 * share, so that none of them can drift apart again:
 *
 *   - admission: command_admit() asks the broker by the row's load class,
 *     before the request is decoded, so a refusal under load costs nothing;
 *   - the engine call and its arguments (a changeset for the updates, a
 *     batch for creates, the activation checks);
 *   - the error of a batch names the job that failed ("job 3 of the
 *     batch: ...");
 *   - the response budget of an activation (command_activation_budget) and
 *     the default wait of a long poll (COMMAND_DEFAULT_REQUEST_TIMEOUT_MS);
 *   - which process definition a create names, and the wait for an
 *     awaited instance (CreateProcessInstanceWithResult, awaitCompletion):
 *     its answer, its timeout (COMMAND_DEFAULT_AWAIT_TIMEOUT_MS) and its
 *     end when the client goes away;
 *   - the filters and pages of the searches (command_result_walk_*);
 *   - that a correlation (POST /v2/messages/correlation) is a publication
 *     without a time to live that must reach a subscription;
 *   - that an evaluation of a decision that fails is an answer (with
 *     the failed decision and why), as in Zeebe, and not an error;
 *   - what a reply contains: a command_result, the same for both
 *     protocols, that the front end only encodes.
 *
 * The front end embeds a command_call in its own per-call struct and gives
 * it two callbacks: answer (encode a result and queue it after the commit)
 * and, for streams, push. Protocol matters stay in the front ends: gRPC
 * framing, HTTP/2 calls and streams in gateway.c; routing, HTTP statuses
 * and problem+json in http_api.c.
 *
 * Adding a command: a kind in COMMAND_KIND_MAP (if no existing kind fits),
 * its case in command_run, a row in command_table with its gRPC and REST
 * decoders, and its encoding in each front end's answer.
 *
 * Everything runs on the loop thread, like the broker.
 */
#ifndef CHUTE_SERVER_COMMANDS_H
#define CHUTE_SERVER_COMMANDS_H

#include <chute/engine.h>

#include "command.h"
#include "server/broker.h"

/* The wait of a long poll that sends requestTimeout 0. */
#define COMMAND_DEFAULT_REQUEST_TIMEOUT_MS 10000

/* The wait for an awaited process instance that sends requestTimeout 0:
 * the same as a long poll's. Past it the call answers DEADLINE_EXCEEDED
 * and the instance runs on. */
#define COMMAND_DEFAULT_AWAIT_TIMEOUT_MS COMMAND_DEFAULT_REQUEST_TIMEOUT_MS

/* A search counts its matches up to this many past its page, so that one
 * search costs a bounded walk; beyond it page.hasMoreTotalItems is set.
 * A search of process instances reads at most COMMAND_SEARCH_SCAN_MAX
 * instances from the engine. */
#define COMMAND_SEARCH_COUNT_MAX 10000
#define COMMAND_SEARCH_SCAN_MAX 100000

/* What a REST decoder reads: the body and the query string (no '?'). */
typedef struct command_rest_in {
    const char *body;
    size_t len;
    const char *query;
    const char *content_type; /* "" when not sent */
} command_rest_in;

typedef int (*command_grpc_decode_fn)(const uint8_t *msg, size_t len, command *out,
                                      chute_error *err);
typedef int (*command_rest_decode_fn)(const command_rest_in *in, command *out, chute_error *err);

/* One command as clients name it. */
typedef struct command_def {
    const char *name;  /* the gRPC method, or the REST operation's name */
    command_kind kind; /* what command_run does with it */
    broker_load load;  /* for command_admit */
    /* gRPC: "/gateway_protocol.Gateway/" or "/chute.v1.Chute/" and the
     * method; NULL when not served over gRPC. */
    const char *grpc_service;
    command_grpc_decode_fn grpc_decode;
    /* REST: method and route; a segment "{name}" is a key, parsed from the
     * path and named so in errors. NULL when not served over REST. A NULL
     * decoder means the command carries nothing but its key. */
    const char *rest_method;
    const char *rest_route;
    command_rest_decode_fn rest_decode;
    int rest_status; /* of a success */
} command_def;

extern const command_def command_table[];
extern const size_t command_table_len;

/* The row of a gRPC path ("/gateway_protocol.Gateway/CompleteJob"), or
 * NULL. */
const command_def *command_find_grpc(const char *path);

/* The methods the gRPC services serve, for UNIMPLEMENTED messages:
 * "Topology, ActivateJobs, ..." of |service|, into |buf|. BroadcastSignal
 * has a row only for its own refusal: it is not listed. */
void command_grpc_methods(const char *service, char *buf, size_t cap);

/* Asks the broker whether a command of |d| may run now: 0, or CHUTE_EBUSY
 * with the message for the client (answer it at once, not after a commit:
 * see broker_admit). */
int command_admit(broker *b, const command_def *d, chute_error *err);

/* How many bytes of variables and headers the jobs of one activation may
 * carry in an answer bounded by |max_response|: room is kept per job for
 * the rest of its encoding (JSON may escape its type and worker 6 times). */
size_t command_activation_budget(size_t max_response, const chute_activate_request *req);

/* ---- running a command ---------------------------------------------------- */

typedef struct command_call command_call;

/* What a command answers, the same for both protocols. Views and keys are
 * valid only while the answer callback runs: encode them there. */
typedef struct command_result {
    command_kind kind;
    int rc; /* 0, or the error to answer with, in *err */
    const chute_error *err;
    const command *cmd; /* the command; NULL for the end of a long poll */
    /* ACTIVATE: the jobs activated (0 when a poll found none); their leases
     * go back to the queue if the answer never reaches the client. */
    const chute_job_view *jobs;
    size_t njobs;
    /* CREATE: the keys, in request order. */
    const int64_t *keys;
    size_t nkeys;
    /* GET_JOB */
    chute_job_view job;
    /* GET_PROCESS_XML: the definition and its resource's bytes. */
    chute_process_view process;
    const uint8_t *xml;
    size_t xml_len;
    /* DEPLOY: the deployment's key, its processes and its decisions
     * (chute_engine_deployed_decisions: in resource order, the decisions
     * of one DMN resource together). */
    int64_t deployment_key;
    const chute_process_view *procs;
    size_t nprocs;
    const chute_decision_view *decs;
    size_t ndecs;
    /* EVALUATE_DECISION: the evaluation, also one that failed (its
     * failure fields say so); freed after the answer. */
    const chute_decision_evaluation *evaluation;
    /* CREATE_INSTANCE, GET_INSTANCE, INSTANCE_DETAILS: the instance. With
     * |awaited| it ended (COMPLETED) and its variables are the root scope,
     * filtered by the fetch names; |cmd| is then NULL when it ended after
     * command_run. Its strings live until the next engine call: for
     * INSTANCE_DETAILS encode it before command_result_walk_instance. */
    chute_instance_view instance;
    int awaited;
    /* GET_USER_TASK: the task; its strings live until the next engine
     * call. */
    chute_user_task_view user_task;
    /* SET_VARIABLES: the key of the change. */
    int64_t key;
    /* PUBLISH_MESSAGE, CORRELATE_MESSAGE: the message's key, and what it
     * reached now (a CORRELATE_MESSAGE that reached nothing is an error:
     * NOT_FOUND, in Zeebe's words). */
    chute_message_result message;
    /* TOPOLOGY: the gRPC address clients should use. */
    const char *host;
    int port;
    /* LIST_JOBS, LIST_INCIDENTS, JOB_TYPES, SEARCH_*, INSTANCE_DETAILS:
     * walked by the encoder with command_result_walk,
     * command_result_walk_incidents_open, command_result_walk_types,
     * command_result_walk_{instances,elements,variables,incidents} and
     * command_result_walk_instance. */
    chute_engine *engine;
} command_result;

typedef struct command_call_ops {
    /* Encodes |res| and queues the answer (broker_after_commit). Runs once
     * per command_run: inside it, or later for a long poll (its jobs or its
     * expiry) and an awaited instance (its end, its timeout, or the front
     * end closing); it may then run inside an engine call (the one that
     * ended the instance), so it must not call into the engine for a
     * CREATE_INSTANCE. For a stream it runs only for an error. */
    void (*answer)(command_call *call, const command_result *res);
    /* STREAM: jobs activated for the stream (queue one message each). Runs
     * inside the engine's dispatch: it must not call into the engine. NULL
     * for a front end that serves no stream (a STREAM command is then
     * answered UNIMPLEMENTED). */
    void (*push)(command_call *call, const chute_job_view *jobs, size_t n);
} command_call_ops;

/* Embedded in the front end's per-call struct; set the public part with
 * command_call_init before command_run. */
struct command_call {
    const command_call_ops *ops;
    broker *b;
    size_t max_response; /* bound on one answer, for the activation budget */
    const char *host;    /* TOPOLOGY's answer */
    int port;
    uint32_t stream_credit; /* STREAM: jobs it may hold beyond its window */
    int no_wait;            /* the front end is closing: polls answer at once */
    /* The command layer's own. */
    broker_poll bp;     /* a long poll, while it waits */
    chute_taker *taker; /* a stream's */
    /* An awaited process instance, while it runs: the engine's handle and
     * the timer of its requestTimeout. */
    int awaiting;
    chute_awaiter *awaiter;
    broker_timer await_timer;
    int64_t await_key;
    int64_t await_timeout_ms;
};

void command_call_init(command_call *c, const command_call_ops *ops, broker *b,
                       size_t max_response);

/* Runs |cmd| (decoded, still owned by the caller, who frees it after) on
 * the engine and answers through |call|'s ops. */
void command_run(command_call *call, const command *cmd);

/* Non-zero while |call| is a long poll waiting for jobs or waits for an
 * awaited process instance to end. */
int command_call_waiting(const command_call *call);

/* The client went away: a waiting poll ends without an answer, an awaited
 * instance is no longer awaited (it runs on), a stream leaves the engine.
 * Anything else is left alone. */
void command_call_cancel(command_call *call);

/* The front end closes: a waiting poll ends now, answered with no jobs as
 * at its expiry; an awaited instance is answered UNAVAILABLE (it runs on). */
void command_call_expire(command_call *call);

/* A stream takes |n| more jobs (its messages went out). */
void command_call_credit(command_call *call, uint32_t n);

/* Visits the entries of a LIST_JOBS result, filtered and paged as the
 * command asked; |fn| returns non-zero to stop (the answer is full).
 * Returns 0 or the engine's error code. */
int command_result_walk(const command_result *res, chute_job_visit_fn fn, void *ctx);

/* What a search found: |total| matches (counted up to
 * COMMAND_SEARCH_COUNT_MAX past the page), |more| when there are more than
 * that. */
typedef struct command_page {
    size_t total;
    int more;
} command_page;

/*
 * Visits the entries of a SEARCH_INSTANCES, SEARCH_ELEMENTS,
 * SEARCH_VARIABLES or SEARCH_INCIDENTS result that match its filter and
 * fall in its page (from, limit), in the engine's order: instances newest
 * first, element instances in activation order, variables scope by scope
 * and by name, incidents oldest first. |fn| returns non-zero when the
 * answer is full: no entry is visited after it, but matches are still
 * counted into |page|. Returns 0 or the engine's error code (an unknown
 * process instance is no error: it has no entries).
 */
int command_result_walk_instances(const command_result *res, chute_instance_visit_fn fn, void *ctx,
                                  command_page *page);
int command_result_walk_elements(const command_result *res, chute_element_visit_fn fn, void *ctx,
                                 command_page *page);
int command_result_walk_variables(const command_result *res, chute_variable_visit_fn fn, void *ctx,
                                  command_page *page);
int command_result_walk_incidents(const command_result *res, chute_incident_visit_fn fn, void *ctx,
                                  command_page *page);

/* Visits the open user tasks of a SEARCH_USER_TASKS result that match its
 * filter and fall in its page, oldest first, as the walks above. The
 * engine filters by instance, assignee, element and process; the rest of
 * the filter (keys, name, candidates, priority) is checked here. */
int command_result_walk_user_tasks(const command_result *res, chute_user_task_visit_fn fn,
                                   void *ctx, command_page *page);

/* An incident as the lists answer it, with |job|, its job (for the job
 * type, retries and error code), or NULL when the element itself failed or
 * the job of a resolved incident is gone. Both views live until it
 * returns; non-zero stops the walk. */
typedef int (*command_incident_fn)(void *ctx, const chute_incident_view *inc,
                                   const chute_job_view *job);

/* Visits the open incidents of a LIST_INCIDENTS result, of processes and of
 * standalone jobs, oldest first, filtered by job type (an incident without
 * a job has no type: a filter leaves it out) and limited as the command
 * asked. Returns 0 or the engine's error code. */
int command_result_walk_incidents_open(const command_result *res, command_incident_fn fn,
                                       void *ctx);

/* Visits what an INSTANCE_DETAILS result shows beyond res->instance (encode
 * that first: this walk ends its view): the element instances of the
 * instance in activation order (chute_engine_list_elements), then its
 * incidents, open and resolved, oldest first, then what it waits on
 * (chute_engine_list_waits: timers and message subscriptions). A callback
 * returns non-zero to stop the walk. Returns 0 or the engine's error
 * code. */
int command_result_walk_instance(const command_result *res, chute_element_visit_fn element_fn,
                                 command_incident_fn incident_fn, chute_wait_visit_fn wait_fn,
                                 void *ctx);

/* Visits the page of a ZEN_LIST_JOBS result (ZenBPM's job list) in its
 * order, each job with its assignee (broker_assignee, NULL for none) from
 * |b|; |page->total| counts every match (the scan reads at most
 * COMMAND_SEARCH_SCAN_MAX jobs a state group: |page->more| says it was
 * cut). |fn| returns non-zero when the answer is full. Returns 0 or the
 * engine's error code. */
typedef int (*command_zen_visit_fn)(void *ctx, const chute_job_view *job, const char *assignee);
int command_result_walk_zen_jobs(const command_result *res, command_zen_visit_fn fn, void *ctx,
                                 broker *b, command_page *page);

/* Visits the job types of a JOB_TYPES result. */
int command_result_walk_types(const command_result *res,
                              int (*fn)(void *ctx, const chute_type_stats *s), void *ctx);

/* A lease an answer carries: given back if the answer never reaches the
 * client (invariant 4). */
typedef struct command_lease {
    int64_t key;
    int64_t deadline;
} command_lease;

/* Copies the leases of |n| views into |out|. */
void command_leases_of(const chute_job_view *jobs, size_t n, command_lease *out);

/* Gives leased jobs back to the queue (their answer never reached the
 * client) and makes the broker flush. */
void command_return_jobs(broker *b, const command_lease *jobs, size_t n);

#endif
