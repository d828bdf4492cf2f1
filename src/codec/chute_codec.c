/* chute.v1.Chute: standalone jobs. See chute_codec.h. */
#include "chute_codec.h"

#include "common/json.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

enum { CREATE_JOBS_JOBS = 1 };

static void spec_from_request(chute_job_spec *s, const Chute__V1__CreateJobRequest *r)
{
    memset(s, 0, sizeof(*s));
    s->type = r->type;
    s->headers = r->customheaders;
    s->headers_len = strlen(r->customheaders);
    s->variables = r->variables;
    s->variables_len = strlen(r->variables);
    s->retries = r->retries;
    s->priority = r->priority;
    s->delay_ms = r->delay;
}

int codec_decode_create_job(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    ProtobufCMessage *m = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = codec_unpack(&chute__v1__create_job_request__descriptor, buf, len, &m, err);
    if (rc)
        return rc;
    chute_job_spec *specs = malloc(sizeof(*specs));
    if (!specs) {
        protobuf_c_message_free_unpacked(m, NULL);
        return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for a job");
    }
    spec_from_request(&specs[0], (Chute__V1__CreateJobRequest *)m);
    out->kind = COMMAND_CREATE;
    out->msg = m;
    out->specs = specs;
    out->count = 1;
    return 0;
}

int codec_decode_create_jobs(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    const ProtobufCMessageDescriptor *desc = &chute__v1__create_jobs_request__descriptor;
    const uint32_t field = CREATE_JOBS_JOBS;
    ProtobufCMessage *m = NULL;
    size_t n;
    int rc;

    memset(out, 0, sizeof(*out));
    if (codec_wire_count(buf, len, &field, &n, 1))
        return codec_decode_error(desc, err);
    if (n > CODEC_MAX_CREATE_JOBS)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected at most %d jobs in CreateJobsRequest, but got %lu",
                               CODEC_MAX_CREATE_JOBS, (unsigned long)n);
    rc = codec_unpack(desc, buf, len, &m, err);
    if (rc)
        return rc;
    Chute__V1__CreateJobsRequest *r = (Chute__V1__CreateJobsRequest *)m;
    chute_job_spec *specs = NULL;
    if (r->n_jobs) {
        specs = malloc(r->n_jobs * sizeof(*specs));
        if (!specs) {
            protobuf_c_message_free_unpacked(m, NULL);
            return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for %lu jobs",
                                   (unsigned long)r->n_jobs);
        }
    }
    for (size_t i = 0; i < r->n_jobs; i++)
        spec_from_request(&specs[i], r->jobs[i]);
    out->kind = COMMAND_CREATE;
    out->msg = m;
    out->specs = specs;
    out->count = r->n_jobs;
    out->is_array = 1;
    return 0;
}

static int decode_key(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                      command *out, chute_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = codec_unpack(desc, buf, len, &out->msg, err);
    if (rc)
        return rc;
    /* Both requests are { int64 key = 1; }. */
    if (desc == &chute__v1__get_job_request__descriptor) {
        out->kind = COMMAND_GET_JOB;
        out->key = ((Chute__V1__GetJobRequest *)out->msg)->key;
    } else {
        out->kind = COMMAND_CANCEL_JOB;
        out->key = ((Chute__V1__CancelJobRequest *)out->msg)->key;
    }
    return 0;
}

int codec_decode_get_job(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    return decode_key(&chute__v1__get_job_request__descriptor, buf, len, out, err);
}

int codec_decode_cancel_job(const uint8_t *buf, size_t len, command *out,
                            chute_error *err)
{
    return decode_key(&chute__v1__cancel_job_request__descriptor, buf, len, out, err);
}

int codec_decode_list_incidents(const uint8_t *buf, size_t len, command *out,
                                chute_error *err)
{
    ProtobufCMessage *m = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = codec_unpack(&chute__v1__list_incidents_request__descriptor, buf, len, &m, err);
    if (rc)
        return rc;
    Chute__V1__ListIncidentsRequest *r = (Chute__V1__ListIncidentsRequest *)m;
    if (r->limit < 0 || r->limit > CODEC_MAX_INCIDENT_LIMIT) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected to list incidents with a limit between 0 and %d, but it "
                             "was %d",
                             CODEC_MAX_INCIDENT_LIMIT, (int)r->limit);
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    out->kind = COMMAND_LIST_INCIDENTS;
    out->msg = m;
    out->type = r->type[0] ? r->type : NULL;
    out->limit = r->limit ? (size_t)r->limit : CODEC_DEFAULT_INCIDENT_LIMIT;
    return 0;
}

/* ---- encoding ------------------------------------------------------------------ */

int codec_encode_create_job_response(int64_t key, uint8_t **out, size_t *out_len, chute_error *err)
{
    Chute__V1__CreateJobResponse resp = CHUTE__V1__CREATE_JOB_RESPONSE__INIT;
    resp.key = key;
    return codec_pack_framed(&resp.base, 0, out, out_len, err);
}

int codec_encode_create_jobs_response(const int64_t *keys, size_t count, uint8_t **out,
                                      size_t *out_len, chute_error *err)
{
    Chute__V1__CreateJobsResponse resp = CHUTE__V1__CREATE_JOBS_RESPONSE__INIT;
    resp.n_keys = count;
    resp.keys = (int64_t *)keys;
    return codec_pack_framed(&resp.base, 0, out, out_len, err);
}

void codec_job_from_view(Chute__V1__Job *out, const chute_job_view *job)
{
    chute__v1__job__init(out);
    out->key = job->key;
    out->type = codec_pb_str(job->type);
    out->state = codec_pb_str(chute_job_state_name(job->state));
    out->retries = job->retries;
    out->priority = job->priority;
    out->worker = codec_pb_str(job->worker);
    out->deadline = job->deadline;
    out->variables = codec_pb_doc(job->variables, job->variables_len);
    out->customheaders = codec_pb_doc(job->headers, job->headers_len);
    out->errorcode = codec_pb_str(job->error_code);
    out->errormessage = codec_pb_str(job->error_message);
    out->incidentkey = job->incident_key;
    out->createdat = job->created_at;
    out->completedat = job->completed_at;
}

int codec_encode_get_job_response(const chute_job_view *job, size_t max, uint8_t **out,
                                  size_t *out_len, chute_error *err)
{
    Chute__V1__Job j;
    Chute__V1__GetJobResponse resp = CHUTE__V1__GET_JOB_RESPONSE__INIT;
    codec_job_from_view(&j, job);
    resp.job = &j;
    return codec_pack_framed(&resp.base, max, out, out_len, err);
}

void codec_incident_from_view(Chute__V1__Incident *out, const chute_job_view *job)
{
    chute__v1__incident__init(out);
    out->key = job->incident_key;
    out->jobkey = job->key;
    out->type = codec_pb_str(chute_incident_type_name(job->incident_type));
    out->jobtype = codec_pb_str(job->type);
    out->errormessage = codec_pb_str(job->error_message);
    out->errorcode = codec_pb_str(job->error_code);
    out->retries = job->retries;
}

void codec_incident_list_init(codec_incident_list *l, size_t max)
{
    memset(l, 0, sizeof(*l));
    l->max = max ? max : CODEC_MAX_MESSAGE;
    if (l->max > UINT32_MAX)
        l->max = UINT32_MAX;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int codec_incident_list_add(codec_incident_list *l, const chute_job_view *job, chute_error *err)
{
    Chute__V1__Incident inc;
    uint8_t head[1 + 10];
    size_t used = l->len ? l->len : CODEC_FRAME_PREFIX;

    codec_incident_from_view(&inc, job);
    size_t n = chute__v1__incident__get_packed_size(&inc);
    head[0] = 0x0a; /* field 1 (incidents), length-delimited */
    size_t hn = 1 + varint_put(head + 1, n);
    size_t need = used + hn + n;
    if (need - CODEC_FRAME_PREFIX > l->max)
        return chute_error_set(err, CHUTE_ETOOBIG,
                               "Expected a ListIncidentsResponse of at most %lu bytes, but "
                               "incident %lu would not fit",
                               (unsigned long)l->max, (unsigned long)(l->count + 1));
    if (need > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > l->max + CODEC_FRAME_PREFIX)
            cap = l->max + CODEC_FRAME_PREFIX;
        uint8_t *b = realloc(l->buf, cap);
        if (!b)
            return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for the incident list");
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + used, head, hn);
    chute__v1__incident__pack(&inc, l->buf + used + hn);
    l->len = need;
    l->count++;
    return 0;
}

int codec_incident_list_finish(codec_incident_list *l, uint8_t **out, size_t *out_len,
                               chute_error *err)
{
    if (!l->buf) {
        uint8_t *b = malloc(CODEC_FRAME_PREFIX);
        if (!b)
            return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for the incident list");
        l->buf = b;
        l->cap = CODEC_FRAME_PREFIX;
        l->len = CODEC_FRAME_PREFIX;
    }
    codec_frame_write_prefix(l->buf, 0, (uint32_t)(l->len - CODEC_FRAME_PREFIX));
    *out = l->buf;
    *out_len = l->len;
    l->buf = NULL;
    l->len = l->cap = l->count = 0;
    return 0;
}

void codec_incident_list_free(codec_incident_list *l)
{
    if (!l)
        return;
    free(l->buf);
    l->buf = NULL;
    l->len = l->cap = l->count = 0;
}
