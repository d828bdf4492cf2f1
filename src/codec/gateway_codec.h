/*
 * The Zeebe gateway protocol (gateway_protocol.Gateway) as Chute serves it:
 * decoding of the requests into the engine's structs, encoding of the
 * engine's job views into responses. Pure functions: no sockets, no engine
 * calls.
 *
 * Decoding
 * --------
 * Every decoder takes the bytes of one message (without the gRPC prefix;
 * see grpc_frame.h), unpacks it with protobuf-c (unknown fields are
 * skipped, so newer clients work) and fills a small struct whose engine
 * fields point into the unpacked message: a struct command (command.h),
 * the same a REST body decodes into. The caller releases it with
 * command_free() once the engine call is done (the engine copies what it
 * keeps). On failure nothing is
 * left to free, the struct is zeroed, and |err| holds a message in the
 * Zeebe gateway's style; the code is CHUTE_EINVAL (gRPC INVALID_ARGUMENT):
 *   - bytes that are not the message: "Expected a valid ActivateJobsRequest
 *     message, but it could not be decoded";
 *   - repeated fields over their bound, checked on the wire before
 *     protobuf-c allocates anything;
 *   - what only the protocol knows about: tenantIds (multi-tenancy is
 *     off).
 * Everything else is the engine's to reject, so each rule has one place
 * and one wording: activation arguments (chute_engine_check_activate),
 * unknown keys, wrong states, bad JSON, retries < 1 for UpdateJobRetries.
 *
 * Encoding
 * --------
 * Encoders take views (chute_job_view from <chute/engine.h>) and return a
 * malloc'd buffer that already starts with the 5-byte gRPC prefix, so the
 * transport sends it as it is and frees it after. Each takes a bound on the
 * message (0 means CODEC_MAX_MESSAGE, 4 MiB) and returns CHUTE_ETOOBIG
 * rather than produce a message the peer would refuse; use the size helpers
 * to stay under it. Empty responses (CompleteJobResponse, FailJobResponse,
 * ThrowErrorResponse, UpdateJobRetriesResponse, UpdateJobTimeoutResponse,
 * ResolveIncidentResponse, CancelProcessInstanceResponse,
 * DeleteResourceResponse, ModifyProcessInstanceResponse,
 * MigrateProcessInstanceResponse) are all the same 5 bytes: codec_frame_empty().
 */
#ifndef CHUTE_CODEC_GATEWAY_CODEC_H
#define CHUTE_CODEC_GATEWAY_CODEC_H

#include <chute/engine.h>

#include "command.h"
#include "gateway.pb-c.h"
#include "grpc_frame.h"

/* Bounds on repeated fields of requests. */
#define CODEC_MAX_FETCH_VARIABLES 1000
#define CODEC_MAX_TENANT_IDS 1000 /* checked on the wire; only ["<default>"] passes */

/* The tenant of every job while multi-tenancy is off. */
#define CODEC_DEFAULT_TENANT "<default>"

/* The server's long-poll time when a request sends requestTimeout = 0. */
#define CODEC_DEFAULT_REQUEST_TIMEOUT_MS 10000

/* ---- activation ------------------------------------------------------------ */

/*
 * Decodes an ActivateJobsRequest and checks what the protocol layer owns:
 * at most CODEC_MAX_FETCH_VARIABLES fetchVariable names, tenantIds empty or
 * exactly ["<default>"]. requestTimeout takes any value. The job-level rules
 * (type not blank and not too long, timeout >= 1, maxJobsToActivate >= 1)
 * are the engine's: call chute_engine_check_activate(&out->req, 0, err)
 * next, before registering a waiter. A worker not sent is "". Returns 0 or
 * CHUTE_EINVAL.
 */
int codec_decode_activate_jobs(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* The same for a StreamActivatedJobsRequest (no maxJobsToActivate, no
 * requestTimeout): then chute_engine_check_activate(&out->req, 1, err). */
int codec_decode_stream_activated_jobs(const uint8_t *buf, size_t len, command *out,
                                       chute_error *err);

/* ---- job commands ------------------------------------------------------------ */

int codec_decode_complete_job(const uint8_t *buf, size_t len, command *out, chute_error *err);
int codec_decode_fail_job(const uint8_t *buf, size_t len, command *out, chute_error *err);
int codec_decode_throw_error(const uint8_t *buf, size_t len, command *out, chute_error *err);
int codec_decode_update_job_retries(const uint8_t *buf, size_t len, command *out, chute_error *err);
int codec_decode_update_job_timeout(const uint8_t *buf, size_t len, command *out, chute_error *err);
int codec_decode_resolve_incident(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* Checks that |buf| is a TopologyRequest (it has no fields; unknown ones are
 * skipped). Returns 0 or CHUTE_EINVAL. */
int codec_decode_topology(const uint8_t *buf, size_t len, chute_error *err);

/* ---- deployment -------------------------------------------------------------------- */

/* Decodes a DeployResourceRequest into a DEPLOY command: at most
 * CHUTE_MAX_RESOURCES resources (counted on the wire first), tenantId empty
 * or "<default>". Resource contents point into the message. */
int codec_decode_deploy_resource(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* The same for the deprecated DeployProcessRequest (|legacy| set). */
int codec_decode_deploy_process(const uint8_t *buf, size_t len, command *out, chute_error *err);

/*
 * DeployResourceResponse for the deployment |key|, in Zeebe's order: its
 * |n| processes, its |ndecs| decisions (DecisionMetadata), then one
 * DecisionRequirementsMetadata per DMN resource (the decisions of one
 * resource share a requirements key and come together, in resource order).
 * With |legacy| the DeployProcessResponse, which lists processes only.
 * Framed, malloc'd. Returns 0 or CHUTE_ENOMEM.
 */
int codec_encode_deploy_response(int64_t key, const chute_process_view *procs, size_t n,
                                 const chute_decision_view *decs, size_t ndecs, int legacy,
                                 uint8_t **out, size_t *out_len, chute_error *err);

/* ---- process instances ------------------------------------------------------------ */

/* Bound on CreateProcessInstanceRequest.startInstructions, counted on the
 * wire before protobuf-c allocates them (Chute refuses any: see
 * command_run). */
#define CODEC_MAX_START_INSTRUCTIONS 1000

/* CreateProcessInstanceRequest into a CREATE_INSTANCE command: the
 * definition fields as sent (which one wins is the command layer's rule),
 * the variables, the number of start instructions; tenantId empty or
 * "<default>". */
int codec_decode_create_process_instance(const uint8_t *buf, size_t len, command *out,
                                         chute_error *err);

/* CreateProcessInstanceWithResultRequest: the same with |await| set,
 * requestTimeout and at most CODEC_MAX_FETCH_VARIABLES fetchVariables. A
 * missing request is an empty one. */
int codec_decode_create_process_instance_with_result(const uint8_t *buf, size_t len, command *out,
                                                     chute_error *err);

/* CancelProcessInstanceRequest: CANCEL_INSTANCE of processInstanceKey. */
int codec_decode_cancel_process_instance(const uint8_t *buf, size_t len, command *out,
                                         chute_error *err);

/* SetVariablesRequest: SET_VARIABLES on elementInstanceKey. */
int codec_decode_set_variables(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* DeleteResourceRequest: DELETE_RESOURCE of resourceKey. */
int codec_decode_delete_resource(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* Bound on the instructions of one modification or migration (activate,
 * terminate, variable and mapping instructions, each counted on the wire
 * before protobuf-c allocates them). */
#define CODEC_MAX_INSTRUCTIONS 1000

/* ModifyProcessInstanceRequest: MODIFY_INSTANCE of processInstanceKey with
 * its activate instructions (each with its variable instructions, as sent)
 * and the element instance keys to terminate. operationReference is
 * ignored. */
int codec_decode_modify_process_instance(const uint8_t *buf, size_t len, command *out,
                                         chute_error *err);

/* MigrateProcessInstanceRequest: MIGRATE_INSTANCE of processInstanceKey to
 * the plan's targetProcessDefinitionKey (0 when no plan was sent) with its
 * mapping instructions. */
int codec_decode_migrate_process_instance(const uint8_t *buf, size_t len, command *out,
                                          chute_error *err);

/* BroadcastSignalRequest: BROADCAST_SIGNAL with |signal_name| the signalName.
 * command_run refuses it (Chute runs no signal events). */
int codec_decode_broadcast_signal(const uint8_t *buf, size_t len, command *out, chute_error *err);

/*
 * CreateProcessInstanceResponse for |inst|, or with |with_result| the
 * CreateProcessInstanceWithResultResponse, whose variables are
 * |inst->variables| ("{}" when blank). tenantId "<default>". Framed,
 * malloc'd; |max| bounds the message (0: 4 MiB). Returns 0, CHUTE_ETOOBIG
 * or CHUTE_ENOMEM.
 */
int codec_encode_create_instance_response(const chute_instance_view *inst, int with_result,
                                          size_t max, uint8_t **out, size_t *out_len,
                                          chute_error *err);

/* SetVariablesResponse{key}, framed, malloc'd. */
int codec_encode_set_variables_response(int64_t key, uint8_t **out, size_t *out_len,
                                        chute_error *err);

/* ---- messages ------------------------------------------------------------------ */

/* PublishMessageRequest into a PUBLISH_MESSAGE command: name, correlation
 * key, time to live, message id and variables as sent ("" when not sent);
 * tenantId empty or "<default>". The bounds on them and a blank name are
 * the engine's (chute_engine_publish_message). */
int codec_decode_publish_message(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* PublishMessageResponse{key, tenantId "<default>"}, framed, malloc'd. */
int codec_encode_publish_message_response(int64_t key, uint8_t **out, size_t *out_len,
                                          chute_error *err);

/* ---- decisions ----------------------------------------------------------------- */

/* EvaluateDecisionRequest into an EVALUATE_DECISION command: decisionId
 * ("" when not sent), decisionKey into |decision_key|, variables as sent; tenantId
 * empty or "<default>". Which one wins, and everything about the
 * variables, is the engine's (chute_engine_evaluate). */
int codec_decode_evaluate_decision(const uint8_t *buf, size_t len, command *out, chute_error *err);

/*
 * EvaluateDecisionResponse for |ev|: the decision, its output (or, for an
 * evaluation that failed, failedDecisionId and failureMessage, with
 * decisionOutput "null"), every evaluated decision with its inputs and
 * matched rules, decisionInstanceKey and decisionEvaluationKey both the
 * evaluation's key, tenantId "<default>". Framed, malloc'd; |max| bounds
 * the message (0: 4 MiB). Returns 0, CHUTE_ETOOBIG or CHUTE_ENOMEM.
 */
int codec_encode_evaluate_decision_response(const chute_decision_evaluation *ev, size_t max,
                                            uint8_t **out, size_t *out_len, chute_error *err);

/* ---- encoding -------------------------------------------------------------------- */

/*
 * Fills |out| from |job|: every ActivatedJob field, with "{}" for empty
 * customHeaders and variables, tenantId "<default>", kind BPMN_ELEMENT (0)
 * and listenerEventType UNSPECIFIED (6). |out|'s strings point into |job|
 * (and static strings): nothing to free, valid as long as the view.
 */
void codec_activated_job_from_view(GatewayProtocol__ActivatedJob *out, const chute_job_view *job);

/* The packed size of the ActivatedJob for |job| (without any prefix): a
 * StreamActivatedJobs message is CODEC_FRAME_PREFIX + this. */
size_t codec_activated_job_size(const chute_job_view *job);

/* The bytes |job| adds to an ActivateJobsResponse (its field tag, its
 * length and the ActivatedJob): a response with jobs j1..jn is
 * CODEC_FRAME_PREFIX + the sum of these. */
size_t codec_activate_response_entry_size(const chute_job_view *job);

/*
 * Encodes an ActivateJobsResponse with the |count| jobs (count may be 0),
 * framed, into a new buffer (malloc'd; the caller frees it). |max| bounds
 * the message (0: 4 MiB). Returns 0, CHUTE_ETOOBIG or CHUTE_ENOMEM; on
 * failure |*out| is untouched.
 */
int codec_encode_activate_jobs_response(const chute_job_view *jobs, size_t count, size_t max,
                                        uint8_t **out, size_t *out_len, chute_error *err);

/* Encodes one ActivatedJob, framed, for StreamActivatedJobs. As above. */
int codec_encode_activated_job(const chute_job_view *job, size_t max, uint8_t **out,
                               size_t *out_len, chute_error *err);

/*
 * Encodes the TopologyResponse of a one-node cluster, framed: one broker
 * (nodeId 0, |host|, |port|, version CHUTE_VERSION) that leads the one
 * partition |partition_id| (0 means 1), HEALTHY; clusterSize,
 * partitionsCount and replicationFactor 1; gatewayVersion CHUTE_VERSION.
 * |host| is the address clients should use (not kept). Returns 0 or
 * CHUTE_ENOMEM.
 */
int codec_encode_topology(const char *host, int32_t port, int32_t partition_id, uint8_t **out,
                          size_t *out_len, chute_error *err);

#endif /* CHUTE_CODEC_GATEWAY_CODEC_H */
