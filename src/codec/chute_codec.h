/*
 * Chute's own service (chute.v1.Chute, proto/chute.proto): standalone jobs,
 * the reads of process instances the gateway protocol lacks
 * (GetProcessInstance), and native user tasks (ListUserTasks,
 * AssignUserTask, CompleteUserTask); ListIncidents covers processes too.
 * Same conventions as gateway_codec.h: decoders fill a struct command
 * (command.h) that points into the unpacked message, freed with
 * command_free(); encoders return framed, malloc'd buffers.
 * CancelJobResponse is empty: codec_frame_empty(). The encoders of Job and
 * Incident name states and incident types with chute_job_state_name() and
 * chute_incident_type_name(), generated in chute_common from the engine
 * header's X-macros.
 */
#ifndef CHUTE_CODEC_CHUTE_CODEC_H
#define CHUTE_CODEC_CHUTE_CODEC_H

#include <chute/engine.h>

#include "chute.pb-c.h"
#include "gateway_codec.h"
#include "grpc_frame.h"

/* At most this many jobs in one CreateJobsRequest (checked on the wire). */
#define CODEC_MAX_CREATE_JOBS 10000

/* ListIncidents: the limit when the request sends 0, and the largest one. */
#define CODEC_DEFAULT_INCIDENT_LIMIT 1000
#define CODEC_MAX_INCIDENT_LIMIT 10000

/*
 * Decodes a CreateJobRequest into one chute_job_spec: type, variables,
 * customHeaders (blank = none), retries (0 = default), priority, delay
 * (ms). Process fields are zero. The engine validates the values. Returns 0,
 * CHUTE_EINVAL or CHUTE_ENOMEM.
 */
int codec_decode_create_job(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* Decodes a CreateJobsRequest: at most CODEC_MAX_CREATE_JOBS jobs ("Expected
 * at most 10000 jobs in CreateJobsRequest, but got N"); an empty list is
 * valid and creates nothing. */
int codec_decode_create_jobs(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* GetJobRequest and CancelJobRequest: only |key| is set. Free with
 * command_free(). */
int codec_decode_get_job(const uint8_t *buf, size_t len, command *out, chute_error *err);
int codec_decode_cancel_job(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* Decodes a ListIncidentsRequest. A limit < 0 or over the maximum is
 * CHUTE_EINVAL. */
int codec_decode_list_incidents(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* ---- encoding ------------------------------------------------------------------ */

/* CreateJobResponse{key}, framed, malloc'd. 0 or CHUTE_ENOMEM. */
int codec_encode_create_job_response(int64_t key, uint8_t **out, size_t *out_len, chute_error *err);

/* CreateJobsResponse{keys} (in request order), framed, malloc'd. */
int codec_encode_create_jobs_response(const int64_t *keys, size_t count, uint8_t **out,
                                      size_t *out_len, chute_error *err);

/* Fills |out| from |job| (state named by chute_job_state_name; "{}" for
 * empty documents). Strings point into |job| and static strings. */
void codec_job_from_view(Chute__V1__Job *out, const chute_job_view *job);

/* GetJobResponse{job}, framed, malloc'd. |max| as in gateway_codec.h.
 * 0, CHUTE_ETOOBIG or CHUTE_ENOMEM. */
int codec_encode_get_job_response(const chute_job_view *job, size_t max, uint8_t **out,
                                  size_t *out_len, chute_error *err);

/* Fills |out| with the incident of |job| (a job with an open incident):
 * key = incident_key, jobKey, type JOB_NO_RETRIES | UNHANDLED_ERROR_EVENT,
 * jobType, errorMessage, errorCode, retries, state ACTIVE, and the job's
 * process fields. */
void codec_incident_from_view(Chute__V1__Incident *out, const chute_job_view *job);

/* Fills |out| from an incident of a process or of a standalone job
 * (chute_engine_search_incidents) and, when it has one, its job: jobType,
 * errorCode and retries come from |job|, which may be NULL (the element
 * itself failed, or the job of a resolved incident is gone). Strings point
 * into |inc|, |job| and static strings. */
void codec_incident_from_search(Chute__V1__Incident *out, const chute_incident_view *inc,
                                const chute_job_view *job);

/*
 * A response built one field at a time, for reads whose engine views only
 * live during a callback (chute_engine_search_incidents,
 * chute_engine_list_elements): each added submessage is encoded at once
 * into a growing buffer, so nothing of the view is kept.
 *
 *   codec_builder b; codec_builder_init(&b, 0);
 *   ... in the callback: rc = codec_builder_add(&b, 1, &msg.base, "incident", &err);
 *   codec_builder_finish(&b, &buf, &len, &err);  // buf is framed
 *   codec_builder_free(&b);
 */
typedef struct codec_builder {
    uint8_t *buf; /* prefix space + encoded fields */
    size_t len;
    size_t cap;
    size_t max;   /* bound on the message */
    size_t count; /* fields added */
} codec_builder;

/* |max| bounds the message (0: 4 MiB). Allocates nothing. */
void codec_builder_init(codec_builder *b, size_t max);

/* Appends |m| as the length-delimited field |field|. CHUTE_ETOOBIG when it
 * would push the message past the bound (the message is unchanged: stop
 * adding and finish; |what| names the entry in the message), CHUTE_ENOMEM. */
int codec_builder_add(codec_builder *b, uint32_t field, const ProtobufCMessage *m, const char *what,
                      chute_error *err);

/* Hands the framed message to the caller (|*out| malloc'd, the caller
 * frees it) and empties |b|. 0 or CHUTE_ENOMEM. */
int codec_builder_finish(codec_builder *b, uint8_t **out, size_t *out_len, chute_error *err);

/* Frees what |b| still holds. NULL is a no-op. */
void codec_builder_free(codec_builder *b);

/*
 * A ListIncidentsResponse built one incident at a time (a codec_builder of
 * field 1): for chute_engine_list_incidents (job views) and
 * chute_engine_search_incidents (incident views).
 *
 *   codec_incident_list l; codec_incident_list_init(&l, 0);
 *   ... in the callback: rc = codec_incident_list_add(&l, job, &err);
 *   codec_incident_list_finish(&l, &buf, &len, &err);  // buf is framed
 *   codec_incident_list_free(&l);
 */
typedef codec_builder codec_incident_list;

/* |max| bounds the message (0: 4 MiB). Allocates nothing. */
void codec_incident_list_init(codec_incident_list *l, size_t max);

/* Appends the incident of |job|. CHUTE_ETOOBIG when it would push the
 * message past the bound (the list is unchanged: stop adding and finish),
 * CHUTE_ENOMEM. */
int codec_incident_list_add(codec_incident_list *l, const chute_job_view *job, chute_error *err);

/* Appends an incident of chute_engine_search_incidents with its job (or
 * NULL), as codec_incident_from_search. Errors as codec_incident_list_add. */
int codec_incident_list_add_search(codec_incident_list *l, const chute_incident_view *inc,
                                   const chute_job_view *job, chute_error *err);

/* Hands the framed message to the caller (|*out| malloc'd, the caller
 * frees it) and empties |l|. 0 or CHUTE_ENOMEM. */
int codec_incident_list_finish(codec_incident_list *l, uint8_t **out, size_t *out_len,
                               chute_error *err);

/* Frees what |l| still holds. NULL is a no-op. */
void codec_incident_list_free(codec_incident_list *l);

/* ---- GetProcessInstance -------------------------------------------------------- */

/* GetProcessInstanceRequest: |key| is the process instance. Free with
 * command_free(). */
int codec_decode_get_process_instance(const uint8_t *buf, size_t len, command *out,
                                      chute_error *err);

/*
 * A GetProcessInstanceResponse, built in the order the engine hands out its
 * parts, each view encoded at once: the instance (chute_engine_get_instance),
 * then its element instances (chute_engine_list_elements), its incidents
 * (chute_engine_search_incidents) and what it waits on
 * (chute_engine_list_waits). Entries that would push the response past its
 * bound are left out and the response says truncated. Free with codec_instance_detail_free().
 */
typedef struct codec_instance_detail {
    codec_builder b;
    int truncated;
    size_t reserved; /* bytes of the bound kept for the truncated flag */
} codec_instance_detail;

/* Starts the response with |inst| (state named by
 * chute_instance_state_name; "{}" for an empty scope). |max| bounds it (0:
 * 4 MiB). CHUTE_ETOOBIG when the instance alone does not fit (its
 * variables are too large for one message), CHUTE_ENOMEM. */
int codec_instance_detail_begin(codec_instance_detail *d, const chute_instance_view *inst,
                                size_t max, chute_error *err);

/* Appends an element instance, or an incident with its job (NULL when it
 * has none). 0 also when it did not fit (the response is then truncated);
 * CHUTE_ENOMEM. */
int codec_instance_detail_add_element(codec_instance_detail *d, const chute_element_view *el,
                                      chute_error *err);
int codec_instance_detail_add_incident(codec_instance_detail *d, const chute_incident_view *inc,
                                       const chute_job_view *job, chute_error *err);

/* Appends a Wait: kind TIMER with its due time, or MESSAGE with its name
 * and correlation key. As codec_instance_detail_add_element. */
int codec_instance_detail_add_wait(codec_instance_detail *d, const chute_wait_view *w,
                                   chute_error *err);

/* The framed response (|*out| malloc'd, the caller frees it). 0 or
 * CHUTE_ENOMEM. */
int codec_instance_detail_finish(codec_instance_detail *d, uint8_t **out, size_t *out_len,
                                 chute_error *err);

/* Frees what |d| still holds. NULL is a no-op. */
void codec_instance_detail_free(codec_instance_detail *d);

/* ---- user tasks -------------------------------------------------------------- */

/* ListUserTasks: the limit when the request sends 0, and the largest one. */
#define CODEC_DEFAULT_USER_TASK_LIMIT 1000
#define CODEC_MAX_USER_TASK_LIMIT 10000

/*
 * ListUserTasksRequest into a SEARCH_USER_TASKS command: its filter in
 * command.search (assignee, or "" with unassigned; processInstanceKey,
 * elementId, bpmnProcessId; "" and 0 are "any") and its limit as the page
 * (from 0). A limit < 0 or over CODEC_MAX_USER_TASK_LIMIT is CHUTE_EINVAL;
 * so are an assignee together with unassigned.
 */
int codec_decode_list_user_tasks(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* AssignUserTaskRequest into ASSIGN_USER_TASK (|key|, |assignee| "" to
 * unassign, |no_override|); CompleteUserTaskRequest into
 * COMPLETE_USER_TASK (|key|, |variables| NULL when blank). The engine
 * checks the rest. Free with command_free(). */
int codec_decode_assign_user_task(const uint8_t *buf, size_t len, command *out, chute_error *err);
int codec_decode_complete_user_task(const uint8_t *buf, size_t len, command *out, chute_error *err);

/* Fills |out| from |t|. The candidate lists are copied out of their JSON
 * text into |strings| (malloc'd; free it with codec_user_task_clear),
 * other strings point into |t|. 0 or CHUTE_ENOMEM. */
int codec_user_task_from_view(Chute__V1__UserTask *out, const chute_user_task_view *t,
                              chute_error *err);
void codec_user_task_clear(Chute__V1__UserTask *out);

/*
 * A ListUserTasksResponse built one task at a time, as the engine's views
 * only live during its callback. A task that would push the response past
 * its bound is left out and the response says truncated; the caller also
 * sets |truncated| when the limit left tasks out.
 */
typedef struct codec_user_task_list {
    codec_builder b;
    int truncated;
    size_t reserved; /* bytes of the bound kept for the truncated flag */
} codec_user_task_list;

/* |max| bounds the message (0: 4 MiB). Allocates nothing. */
void codec_user_task_list_init(codec_user_task_list *l, size_t max);

/* Appends |t|: 1 when it did not fit (the list is then truncated: stop
 * adding), 0 when it was added, CHUTE_ENOMEM. */
int codec_user_task_list_add(codec_user_task_list *l, const chute_user_task_view *t,
                             chute_error *err);

/* The framed response (|*out| malloc'd, the caller frees it). 0 or
 * CHUTE_ENOMEM. */
int codec_user_task_list_finish(codec_user_task_list *l, uint8_t **out, size_t *out_len,
                                chute_error *err);

/* Frees what |l| still holds. NULL is a no-op. */
void codec_user_task_list_free(codec_user_task_list *l);

#endif /* CHUTE_CODEC_CHUTE_CODEC_H */
