/*
 * Chute's own service (chute.v1.Chute, proto/chute.proto): standalone jobs.
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
int codec_decode_cancel_job(const uint8_t *buf, size_t len, command *out,
                            chute_error *err);

/* Decodes a ListIncidentsRequest. A limit < 0 or over the maximum is
 * CHUTE_EINVAL. */
int codec_decode_list_incidents(const uint8_t *buf, size_t len, command *out,
                                chute_error *err);

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
 * jobType, errorMessage, errorCode, retries. */
void codec_incident_from_view(Chute__V1__Incident *out, const chute_job_view *job);

/*
 * A ListIncidentsResponse built one incident at a time, for
 * chute_engine_list_incidents(), whose views only live during its callback:
 * each added incident is encoded at once into a growing buffer, so nothing
 * of the view is kept.
 *
 *   codec_incident_list l; codec_incident_list_init(&l, 0);
 *   ... in the callback: rc = codec_incident_list_add(&l, job, &err);
 *   codec_incident_list_finish(&l, &buf, &len, &err);  // buf is framed
 *   codec_incident_list_free(&l);
 */
typedef struct codec_incident_list {
    uint8_t *buf; /* prefix space + encoded entries */
    size_t len;
    size_t cap;
    size_t max; /* bound on the message */
    size_t count;
} codec_incident_list;

/* |max| bounds the message (0: 4 MiB). Allocates nothing. */
void codec_incident_list_init(codec_incident_list *l, size_t max);

/* Appends the incident of |job|. CHUTE_ETOOBIG when it would push the
 * message past the bound (the list is unchanged: stop adding and finish),
 * CHUTE_ENOMEM. */
int codec_incident_list_add(codec_incident_list *l, const chute_job_view *job, chute_error *err);

/* Hands the framed message to the caller (|*out| malloc'd, the caller
 * frees it) and empties |l|. 0 or CHUTE_ENOMEM. */
int codec_incident_list_finish(codec_incident_list *l, uint8_t **out, size_t *out_len,
                               chute_error *err);

/* Frees what |l| still holds. NULL is a no-op. */
void codec_incident_list_free(codec_incident_list *l);

#endif /* CHUTE_CODEC_CHUTE_CODEC_H */
