/*
 * The REST codec: JSON request bodies into the engine's structs, the
 * engine's views into JSON response bodies, errors as problem+json
 * (RFC 9457). Pure functions: no sockets, no engine calls.
 *
 * Two APIs share it: Camunda's v2 job endpoints (the facts are in
 * ../shared/reference/zeebe-gateway-protocol.md, "Camunda 8 REST (v2)") and
 * Chute's own /v1 endpoints for standalone jobs. Keys are strings in every
 * body, so that JavaScript clients do not lose int64 precision.
 *
 * Decoding
 * --------
 * Like the gRPC codec, a decoder checks only what the wire format owns:
 * the body is one JSON object, each member has the JSON type the API
 * documents (a number where a number is due, integral and in range), and
 * tenantIds is empty or ["<default>"] (multi-tenancy is off). Every rule on
 * values (blank type, timeout < 1, retries < 1 for an update, variables
 * that are not an object, unknown keys, states) is the engine's, so each
 * has one place and one wording for gRPC and REST alike: variables and
 * custom headers are handed on as JSON text whatever their JSON type, and
 * the engine rejects a non-object with the same message as over gRPC.
 * Decoders fill a struct command (command.h), the same the gRPC codec
 * fills, pointing into a parsed document it owns; free it with
 * command_free() (a zeroed struct is fine). On failure nothing is
 * left to free and |err| holds CHUTE_EINVAL with a message that names the
 * member, or CHUTE_ENOMEM.
 *
 * Encoding
 * --------
 * Responses are built in a rest_buf: a growable buffer with a hard maximum
 * checked before each allocation. Documents that the engine keeps as JSON
 * text (variables, custom headers) are copied in as they are: they were
 * validated when they entered, and copying keeps large integers exact.
 */
#ifndef CHUTE_CODEC_REST_H
#define CHUTE_CODEC_REST_H

#include <chute/engine.h>

#include <stdarg.h>

#include "command.h"

/* ---- buffer ------------------------------------------------------------------ */

typedef struct rest_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* hard bound on len */
    int failed; /* 0, CHUTE_ENOMEM or CHUTE_ETOOBIG: sticky, appends become no-ops */
} rest_buf;

/* |max| 0 means 64 MiB. Allocates nothing. */
void rest_buf_init(rest_buf *b, size_t max);
void rest_buf_append(rest_buf *b, const void *s, size_t n);
void rest_buf_puts(rest_buf *b, const char *s);
void rest_buf_printf(rest_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends |s| (|n| bytes) as a JSON string, quotes included. */
void rest_buf_json_string(rest_buf *b, const char *s, size_t n);
/* Hands the NUL-terminated contents to the caller (malloc'd) and empties
 * |b|; or returns the sticky error (and frees). */
int rest_buf_finish(rest_buf *b, char **out, size_t *len);
void rest_buf_free(rest_buf *b);

/* ---- errors -------------------------------------------------------------------- */

/* The HTTP status for a Chute error code: the http column of
 * CHUTE_ERRNO_MAP in <chute/chute.h> (EINVAL 400, ENOTFOUND 404, ESTATE and
 * EEXIST 409, ETOOBIG 413, EBUSY 503, ...); 200 for 0, 500 for a code not in
 * the list. */
int rest_http_status(int code);

/* The problem title for a Chute error code, in Camunda's words: the title
 * column of CHUTE_ERRNO_MAP (INVALID_ARGUMENT, NOT_FOUND, INVALID_STATE,
 * ...); INTERNAL_ERROR for 0 and for a code not in the list. */
const char *rest_problem_title(int code);

/* The reason phrase of an HTTP status ("Not Found"); "Unknown" otherwise.
 * The same as codec_http_reason() (http_reason.h). */
const char *rest_reason(int status);

/*
 * An application/problem+json body: {"type":"about:blank","title":...,
 * "status":...,"detail":...,"instance":...}. |title| NULL means the reason
 * phrase. Returns 0 or CHUTE_ENOMEM.
 */
int rest_problem(int status, const char *title, const char *detail, const char *instance,
                 char **out, size_t *out_len);

/* ---- keys and query strings ----------------------------------------------------- */

/* Parses a key given as a path segment: decimal digits only, 1..INT64_MAX.
 * Returns 0 or CHUTE_EINVAL ("Expected jobKey to be a positive integer
 * key, but got 'abc'"); |what| names it. */
int rest_parse_key(const char *s, size_t n, const char *what, int64_t *key, chute_error *err);

/* Finds |name| in a query string "a=1&b=2" (no leading '?') and
 * percent-decodes its value into |out| (|cap| bytes, NUL-terminated).
 * Returns 1 when found, 0 when absent, CHUTE_EINVAL when the value is too
 * long or badly encoded. */
int rest_query_get(const char *query, const char *name, char *out, size_t cap, chute_error *err);

/* ---- decoding -------------------------------------------------------------------- */

/* POST /v2/jobs/activation. */

/* Bound on fetchVariable names. */
#define REST_MAX_FETCH_VARIABLES 1000

int rest_decode_activate(const char *body, size_t len, command *out, chute_error *err);

/* The body of a command on one job: completion, failure, error, update.
 * The key comes from the path (rest_parse_key); the caller sets it. */
/* POST /v2/jobs/{key}/completion: {variables?}. An empty body is {}. */
int rest_decode_completion(const char *body, size_t len, command *out, chute_error *err);
/* POST /v2/jobs/{key}/failure: {retries?, errorMessage?, retryBackOff?, variables?}. */
int rest_decode_failure(const char *body, size_t len, command *out, chute_error *err);
/* POST /v2/jobs/{key}/error: {errorCode, errorMessage?, variables?}. */
int rest_decode_error(const char *body, size_t len, command *out, chute_error *err);
/* PATCH /v2/jobs/{key}: {changeset: {retries?, timeout?}}, at least one of them. */
int rest_decode_job_update(const char *body, size_t len, command *out, chute_error *err);

/* POST /v1/jobs: one job object or an array of them (is_array). */
/* Bound on the jobs of one POST /v1/jobs (as CreateJobs over gRPC). */
#define REST_MAX_CREATE_JOBS 10000

/* Each job: {type, variables?, customHeaders?, retries?, priority?, delay? (ms)}. */
int rest_decode_create(const char *body, size_t len, command *out, chute_error *err);

/* GET /v1/jobs?type=&state=&page=&size=: page from 1, size from 1 to
 * REST_LIST_MAX_SIZE (default REST_LIST_DEFAULT_SIZE), state one of the job
 * states by name (any case). */
#define REST_LIST_DEFAULT_SIZE 100
#define REST_LIST_MAX_SIZE 1000
int rest_decode_list_jobs(const char *query, command *out, chute_error *err);

/* GET /v1/incidents?type=&limit=: limit from 1 to REST_INCIDENT_MAX_LIMIT
 * (default REST_INCIDENT_DEFAULT_LIMIT). */
#define REST_INCIDENT_DEFAULT_LIMIT 1000
#define REST_INCIDENT_MAX_LIMIT 10000
int rest_decode_list_incidents(const char *query, command *out, chute_error *err);

/* POST /v2/deployments: multipart/form-data with one part per resource
 * (named "resources", its filename the resource name) and an optional
 * "tenantId" part (empty or "<default>"). Resource contents point into
 * |body|, which must outlive the command. */
int rest_decode_deployment(const char *content_type, const char *body, size_t len, command *out,
                           chute_error *err);

/* ---- process instances -------------------------------------------------------------- */

/*
 * POST /v2/process-instances: {processDefinitionId, processDefinitionVersion
 * (absent: -1, the latest), processDefinitionKey (a key string or an
 * integer), variables, tenantId, startInstructions (counted),
 * awaitCompletion, fetchVariables (at most REST_MAX_FETCH_VARIABLES),
 * requestTimeout (ms)}. Which of id and key wins is the command layer's
 * rule; operationReference and unknown members are ignored.
 */
int rest_decode_create_instance(const char *body, size_t len, command *out, chute_error *err);

/* PUT /v2/element-instances/{key}/variables: {variables, local?}. */
int rest_decode_set_variables(const char *body, size_t len, command *out, chute_error *err);

/* Bound on the instructions of one modification or migration, per list
 * (as over gRPC). */
#define REST_MAX_INSTRUCTIONS 1000

/*
 * POST /v2/process-instances/{key}/modification:
 * {activateInstructions?: [{elementId, ancestorElementInstanceKey? (a key,
 * or -1 / "-1" for none), variableInstructions?: [{variables, scopeId?}]}],
 * terminateInstructions?: [{elementInstanceKey}], operationReference?}.
 * Keys are strings of digits or integers. Instructions Chute does not run
 * (Camunda 8.9's moveInstructions, a terminate instruction by elementId)
 * are refused, not ignored. The key comes from the path.
 */
int rest_decode_modification(const char *body, size_t len, command *out, chute_error *err);

/* POST /v2/process-instances/{key}/migration: {targetProcessDefinitionKey,
 * mappingInstructions: [{sourceElementId, targetElementId}],
 * operationReference?}. */
int rest_decode_migration(const char *body, size_t len, command *out, chute_error *err);

/* POST /v2/signals/broadcast: {signalName, variables?, tenantId?} into a
 * BROADCAST_SIGNAL (which command_run refuses). */
int rest_decode_signal(const char *body, size_t len, command *out, chute_error *err);

/*
 * POST /v2/{process-instances,element-instances,variables,incidents}/search:
 * {filter?, page?: {from, limit}, sort?} into command.search. A filter
 * field is a value or {"$eq": value}; fields the search does not read, the
 * other operators and cursors (after, before) are refused with a message
 * naming them. sort is accepted and not applied: answers come in Chute's
 * order (see docs/openapi.yaml). An empty body searches everything.
 */
#define REST_SEARCH_DEFAULT_LIMIT 100
#define REST_SEARCH_MAX_LIMIT 10000
#define REST_SEARCH_MAX_FROM 1000000
int rest_decode_search_instances(const char *body, size_t len, command *out, chute_error *err);
int rest_decode_search_elements(const char *body, size_t len, command *out, chute_error *err);
int rest_decode_search_variables(const char *body, size_t len, command *out, chute_error *err);
int rest_decode_search_incidents(const char *body, size_t len, command *out, chute_error *err);

/* ---- messages -------------------------------------------------------------------- */

/*
 * POST /v2/messages/publication: {name, correlationKey, timeToLive (ms),
 * messageId, variables, tenantId} into a PUBLISH_MESSAGE command. Strings
 * not sent are ""; timeToLive not sent is 0. Bounds, a blank name, a
 * negative time to live and variables that are not an object are the
 * engine's to refuse. Unknown members are ignored.
 */
int rest_decode_publish_message(const char *body, size_t len, command *out, chute_error *err);

/* POST /v2/messages/correlation: {name, correlationKey, variables,
 * tenantId} into a CORRELATE_MESSAGE command. */
int rest_decode_correlate_message(const char *body, size_t len, command *out, chute_error *err);

/* The answer of a publication, {messageKey, tenantId}, or with
 * |correlation| that of a correlation, {messageKey, tenantId,
 * processInstanceKey} (the first instance the message reached). */
void rest_encode_message(rest_buf *b, int64_t message_key, int correlation,
                         int64_t process_instance_key);

/*
 * POST /v2/user-tasks/search: the filter of Camunda's UserTaskFilter that
 * Chute reads: state (CREATED matches every task Chute keeps, which are
 * the open ones; any other of Camunda's states matches nothing), assignee
 * (a name, or {"$exists": false} for unassigned tasks, true for assigned
 * ones), processInstanceKey, processDefinitionKey, processDefinitionId,
 * elementId, elementInstanceKey, userTaskKey (the same key in Chute),
 * name, candidateGroup, candidateUser, priority and tenantId.
 */
int rest_decode_search_user_tasks(const char *body, size_t len, command *out, chute_error *err);

/* POST /v2/user-tasks/{key}/assignment: {assignee (required, not empty:
 * "No assignee provided."), allowOverride (default true), action}. */
int rest_decode_user_task_assignment(const char *body, size_t len, command *out, chute_error *err);

/* POST /v2/user-tasks/{key}/completion: {variables, action}; an empty
 * body is {}. action is checked to be a string and not used: Chute has no
 * task listeners. */
int rest_decode_user_task_completion(const char *body, size_t len, command *out, chute_error *err);

/* Epoch ms as a quoted ISO-8601 UTC date with milliseconds
 * ("2023-11-14T22:13:20.000Z"). */
void rest_buf_iso_time(rest_buf *b, int64_t ms);

/* The answer of POST /v2/process-instances: processDefinitionId,
 * processDefinitionVersion, tenantId, variables ({} unless
 * |with_variables|), processDefinitionKey, processInstanceKey. */
void rest_encode_created_instance(rest_buf *b, const chute_instance_view *inst, int with_variables);

/* A process instance (GET and search items): processInstanceKey,
 * processDefinitionId, processDefinitionVersion, processDefinitionKey,
 * state, hasIncident, startDate, endDate (once ended), tenantId. Chute does
 * not know a definition's name: processDefinitionName is left out. */
void rest_encode_instance(rest_buf *b, const chute_instance_view *inst);

/* An element instance: elementInstanceKey, processInstanceKey,
 * processDefinitionKey, processDefinitionId, elementId, elementName, type,
 * state, startDate, endDate (once ended), incidentKey (when open),
 * hasIncident, tenantId. */
void rest_encode_element(rest_buf *b, const chute_element_view *el);

/* A variable: variableKey, name, value (its JSON text, as a string),
 * scopeKey, processInstanceKey, tenantId, isTruncated (false). */
void rest_encode_variable(rest_buf *b, const chute_variable_view *v);

/* An incident of the v2 search: incidentKey, processDefinitionKey,
 * processDefinitionId, processInstanceKey, errorType, errorMessage,
 * elementId, elementInstanceKey, jobKey (when a job failed), creationTime,
 * state (ACTIVE, RESOLVED), tenantId. */
void rest_encode_process_incident(rest_buf *b, const chute_incident_view *inc);

/* A user task (GET and search items): userTaskKey, name (when the
 * element has one), state CREATED, assignee (when assigned), elementId,
 * elementInstanceKey (= userTaskKey), candidateGroups, candidateUsers,
 * processDefinitionId, processDefinitionKey, processInstanceKey, formKey
 * (a form's key: digits) or externalFormReference (any other form
 * reference), creationDate, dueDate and followUpDate (when set), priority,
 * tenantId. */
void rest_encode_user_task(rest_buf *b, const chute_user_task_view *t);

/* ---- encoding -------------------------------------------------------------------- */

/* The tenant of every job while multi-tenancy is off. */
#define REST_DEFAULT_TENANT "<default>"

/* A v2 activated job: jobKey, type, processInstanceKey, processDefinitionId,
 * processDefinitionVersion, processDefinitionKey, elementId,
 * elementInstanceKey, customHeaders, worker, retries, deadline, variables,
 * tenantId, kind, listenerEventType. */
void rest_encode_activated_job(rest_buf *b, const chute_job_view *job);

/* The bytes rest_encode_activated_job adds beyond variables and headers,
 * at most: for response budgets. */
size_t rest_activated_job_overhead(const chute_job_view *job);

/* A Chute job (GET /v1/jobs/{key}, list entries): key, type, state,
 * retries, priority, createdAt, deadline, worker, customHeaders, variables,
 * errorCode, errorMessage, incidentKey, incidentType, completedAt, and the
 * process fields when it belongs to a process. */
void rest_encode_job(rest_buf *b, const chute_job_view *job);

/* An incident of a standalone job or of a process (GET /v1/incidents):
 * incidentKey, type, state (ACTIVE, RESOLVED), errorMessage, createdAt;
 * jobKey when a job failed; jobType, errorCode, retries from |job| (NULL:
 * none); processInstanceKey, processDefinitionKey, processDefinitionId,
 * elementId, elementInstanceKey for an incident of a process. */
void rest_encode_incident(rest_buf *b, const chute_incident_view *inc, const chute_job_view *job);

/* One entry of GET /v1/job-types; |now| in epoch ms for the oldest age. */
void rest_encode_type_stats(rest_buf *b, const chute_type_stats *s, int64_t now);

/* The answer of POST /v2/deployments: {deploymentKey, tenantId,
 * deployments: [...]}, Camunda 8.8's items in Zeebe's order: one
 * processDefinition per process, one decisionDefinition per decision, one
 * decisionRequirements per DMN resource (where the requirements key of
 * |decs| changes). */
void rest_encode_deployment(rest_buf *b, int64_t key, const chute_process_view *procs, size_t n,
                            const chute_decision_view *decs, size_t ndecs);

/* ---- decisions ------------------------------------------------------------------------ */

/* POST /v2/decision-definitions/evaluation: {decisionDefinitionId or
 * decisionDefinitionKey (a key string or an integer; exactly one of the
 * two, as Camunda 8.8 validates), variables (an object), tenantId (empty
 * or "<default>")}. */
int rest_decode_evaluate_decision(const char *body, size_t len, command *out, chute_error *err);

/* Camunda 8.8's EvaluateDecisionResult for |ev|: decisionDefinitionId,
 * -Name, -Version, -Key, decisionRequirementsId, -Key, output (JSON text as
 * a string), failedDecisionDefinitionId and failureMessage ("" unless it
 * failed), tenantId, decisionInstanceKey and decisionEvaluationKey (both
 * the evaluation's), evaluatedDecisions with their inputs and matched
 * rules. Keys are strings. */
void rest_encode_decision_evaluation(rest_buf *b, const chute_decision_evaluation *ev);

/* GET /v2/topology of a one-node cluster with one partition. */
void rest_encode_topology(rest_buf *b, const char *host, int port);

/* ---- ZenBPM's job endpoints (/zenbpm/v1) -----------------------------------------------
 *
 * ZenBPM's REST job API as Chute serves it under /zenbpm/v1 (ZenBPM's own
 * prefix, /v1, is Chute's own API). Keys are JSON numbers, as ZenBPM's
 * int64 fields are; errors are ZenBPM's {"code", "message"}. See
 * docs/protocol.md for the choices where ZenBPM's documents are silent. */

#define REST_ZEN_DEFAULT_SIZE 10
#define REST_ZEN_MAX_SIZE 1000

/* GET /zenbpm/v1/jobs: jobType, state (active, completed, terminated,
 * failed), processInstanceKey, assignee, page (from 1), size (1..1000,
 * default 10), sortBy (createdAt, key, type, state), sortOrder (asc,
 * desc). An unknown parameter is no error (ZenBPM's clients may send
 * more); a bad value of a known one is CHUTE_EINVAL. */
int rest_decode_zen_list_jobs(const char *query, command *out, chute_error *err);

/* POST /zenbpm/v1/jobs/{jobKey}/complete: {"variables": {...}} (a blank
 * body means none). */
int rest_decode_zen_complete(const char *body, size_t len, command *out, chute_error *err);

/* POST /zenbpm/v1/jobs/{jobKey}/fail: {"message", "errorCode",
 * "variables"}: without errorCode a FAIL with retries 0 (an incident),
 * with one a THROW_ERROR. */
int rest_decode_zen_fail(const char *body, size_t len, command *out, chute_error *err);

/* POST /zenbpm/v1/jobs/{jobKey}/assign: {"assignee": "name"} (required,
 * not blank, at most CHUTE_WORKER_MAX bytes). */
int rest_decode_zen_assign(const char *body, size_t len, command *out, chute_error *err);

/* One ZenBPM job item: key, type, state (command_zen_state_name),
 * elementId, elementInstanceKey, processInstanceKey, variables, createdAt
 * (RFC 3339), assignee (|assignee|, else the job's last worker; null when
 * neither), and errorMessage when it has one. */
void rest_encode_zen_job(rest_buf *b, const chute_job_view *job, const char *assignee);

/* ZenBPM's error body {"code": |code|, "message": |message|} into a new
 * buffer. 0 or CHUTE_ENOMEM. */
int rest_zen_error(const char *code, const char *message, char **out, size_t *len);

#endif /* CHUTE_CODEC_REST_H */
