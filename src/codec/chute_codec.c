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

int codec_decode_cancel_job(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    return decode_key(&chute__v1__cancel_job_request__descriptor, buf, len, out, err);
}

int codec_decode_list_incidents(const uint8_t *buf, size_t len, command *out, chute_error *err)
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
    out->processinstancekey = job->process.process_instance_key;
    out->bpmnprocessid = codec_pb_str(job->process.bpmn_process_id);
    out->elementid = codec_pb_str(job->process.element_id);
    out->elementinstancekey = job->process.element_instance_key;
    out->processdefinitionkey = job->process.process_definition_key;
    out->state = codec_pb_str("ACTIVE");
    out->createdat = job->created_at;
}

void codec_incident_from_search(Chute__V1__Incident *out, const chute_incident_view *inc,
                                const chute_job_view *job)
{
    chute__v1__incident__init(out);
    out->key = inc->key;
    out->jobkey = inc->job_key;
    out->type = codec_pb_str(chute_incident_type_name(inc->type));
    out->errormessage = codec_pb_str(inc->message);
    if (job) {
        out->jobtype = codec_pb_str(job->type);
        out->errorcode = codec_pb_str(job->error_code);
        out->retries = job->retries;
    }
    out->processinstancekey = inc->process_instance_key;
    out->bpmnprocessid = codec_pb_str(inc->bpmn_process_id);
    out->elementid = codec_pb_str(inc->element_id);
    out->elementinstancekey = inc->element_instance_key;
    out->processdefinitionkey = inc->process_definition_key;
    out->state = codec_pb_str(inc->resolved ? "RESOLVED" : "ACTIVE");
    out->createdat = inc->created_at;
}

/* ---- building a response a field at a time -------------------------------------- */

void codec_builder_init(codec_builder *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : CODEC_MAX_MESSAGE;
    if (b->max > UINT32_MAX)
        b->max = UINT32_MAX;
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

/* Makes room for |need| bytes in all (prefix included), within the bound. */
static int builder_reserve(codec_builder *b, size_t need, chute_error *err)
{
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + CODEC_FRAME_PREFIX)
        cap = b->max + CODEC_FRAME_PREFIX;
    uint8_t *n = realloc(b->buf, cap);
    if (!n)
        return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for a response");
    b->buf = n;
    b->cap = cap;
    return 0;
}

/* Appends |n| bytes of a field: its tag and length |head| (|hn| bytes),
 * then |body| packed by |m| when |m| is not NULL. */
static int builder_put(codec_builder *b, const uint8_t *head, size_t hn, const ProtobufCMessage *m,
                       size_t n, const char *what, chute_error *err)
{
    size_t used = b->len ? b->len : CODEC_FRAME_PREFIX;
    size_t need = used + hn + n;
    if (need - CODEC_FRAME_PREFIX > b->max)
        return chute_error_set(err, CHUTE_ETOOBIG,
                               "Expected a response of at most %lu bytes, but %s %lu would not fit",
                               (unsigned long)b->max, what, (unsigned long)(b->count + 1));
    int rc = builder_reserve(b, need, err);
    if (rc)
        return rc;
    memcpy(b->buf + used, head, hn);
    if (m)
        protobuf_c_message_pack(m, b->buf + used + hn);
    b->len = need;
    b->count++;
    return 0;
}

int codec_builder_add(codec_builder *b, uint32_t field, const ProtobufCMessage *m, const char *what,
                      chute_error *err)
{
    uint8_t head[10 + 10];
    size_t n = protobuf_c_message_get_packed_size(m);
    size_t hn = varint_put(head, ((uint64_t)field << 3) | 2); /* length-delimited */
    hn += varint_put(head + hn, n);
    return builder_put(b, head, hn, m, n, what, err);
}

/* A bool field set to true (false is the default and is not sent). */
static int builder_add_true(codec_builder *b, uint32_t field, chute_error *err)
{
    uint8_t head[10 + 1];
    size_t hn = varint_put(head, (uint64_t)field << 3); /* varint */
    head[hn++] = 1;
    return builder_put(b, head, hn, NULL, 0, "a flag", err);
}

int codec_builder_finish(codec_builder *b, uint8_t **out, size_t *out_len, chute_error *err)
{
    if (!b->buf) {
        int rc = builder_reserve(b, CODEC_FRAME_PREFIX, err);
        if (rc)
            return rc;
    }
    if (!b->len)
        b->len = CODEC_FRAME_PREFIX;
    codec_frame_write_prefix(b->buf, 0, (uint32_t)(b->len - CODEC_FRAME_PREFIX));
    *out = b->buf;
    *out_len = b->len;
    b->buf = NULL;
    b->len = b->cap = b->count = 0;
    return 0;
}

void codec_builder_free(codec_builder *b)
{
    if (!b)
        return;
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = b->count = 0;
}

/* ---- ListIncidentsResponse ------------------------------------------------------- */

enum { LIST_INCIDENTS_INCIDENTS = 1 };

void codec_incident_list_init(codec_incident_list *l, size_t max)
{
    codec_builder_init(l, max);
}

int codec_incident_list_add(codec_incident_list *l, const chute_job_view *job, chute_error *err)
{
    Chute__V1__Incident inc;
    codec_incident_from_view(&inc, job);
    return codec_builder_add(l, LIST_INCIDENTS_INCIDENTS, &inc.base, "incident", err);
}

int codec_incident_list_add_search(codec_incident_list *l, const chute_incident_view *v,
                                   const chute_job_view *job, chute_error *err)
{
    Chute__V1__Incident inc;
    codec_incident_from_search(&inc, v, job);
    return codec_builder_add(l, LIST_INCIDENTS_INCIDENTS, &inc.base, "incident", err);
}

int codec_incident_list_finish(codec_incident_list *l, uint8_t **out, size_t *out_len,
                               chute_error *err)
{
    return codec_builder_finish(l, out, out_len, err);
}

void codec_incident_list_free(codec_incident_list *l)
{
    codec_builder_free(l);
}

/* ---- GetProcessInstance ------------------------------------------------------------ */

enum {
    DETAIL_INSTANCE = 1,
    DETAIL_ELEMENTS = 2,
    DETAIL_INCIDENTS = 3,
    DETAIL_TRUNCATED = 4,
    DETAIL_WAITS = 5,
    /* what the truncated flag takes: kept free until the end */
    DETAIL_FLAG_BYTES = 2,
};

int codec_decode_get_process_instance(const uint8_t *buf, size_t len, command *out,
                                      chute_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = codec_unpack(&chute__v1__get_process_instance_request__descriptor, buf, len, &out->msg,
                          err);
    if (rc)
        return rc;
    out->kind = COMMAND_INSTANCE_DETAILS;
    out->key = ((Chute__V1__GetProcessInstanceRequest *)out->msg)->key;
    return 0;
}

int codec_instance_detail_begin(codec_instance_detail *d, const chute_instance_view *inst,
                                size_t max, chute_error *err)
{
    Chute__V1__ProcessInstance pi = CHUTE__V1__PROCESS_INSTANCE__INIT;
    memset(d, 0, sizeof(*d));
    codec_builder_init(&d->b, max);
    d->reserved = d->b.max > DETAIL_FLAG_BYTES ? DETAIL_FLAG_BYTES : 0;
    d->b.max -= d->reserved;
    pi.key = inst->key;
    pi.bpmnprocessid = codec_pb_str(inst->bpmn_process_id);
    pi.version = inst->version;
    pi.processdefinitionkey = inst->process_definition_key;
    pi.state = codec_pb_str(chute_instance_state_name(inst->state));
    pi.hasincident = inst->has_incident ? 1 : 0;
    pi.startedat = inst->started_at;
    pi.endedat = inst->ended_at;
    pi.variables = codec_pb_doc(inst->variables, inst->variables_len);
    int rc = codec_builder_add(&d->b, DETAIL_INSTANCE, &pi.base, "the instance", err);
    if (rc == CHUTE_ETOOBIG)
        chute_error_set(err, CHUTE_ETOOBIG,
                        "Expected a GetProcessInstanceResponse of at most %lu bytes, but the "
                        "variables of process instance %lld alone take more",
                        (unsigned long)(d->b.max + d->reserved), (long long)inst->key);
    return rc;
}

/* Adds one entry; one that does not fit truncates the response. */
static int detail_add(codec_instance_detail *d, uint32_t field, const ProtobufCMessage *m,
                      chute_error *err)
{
    if (d->truncated)
        return 0;
    int rc = codec_builder_add(&d->b, field, m, "entry", err);
    if (rc == CHUTE_ETOOBIG) {
        d->truncated = 1;
        return 0;
    }
    return rc;
}

int codec_instance_detail_add_element(codec_instance_detail *d, const chute_element_view *el,
                                      chute_error *err)
{
    Chute__V1__ElementInstance m = CHUTE__V1__ELEMENT_INSTANCE__INIT;
    m.key = el->key;
    m.elementid = codec_pb_str(el->element_id);
    m.elementtype = codec_pb_str(el->element_type);
    m.state = codec_pb_str(chute_instance_state_name(el->state));
    m.incidentkey = el->incident_key;
    m.jobkey = el->job_key;
    m.elementname = codec_pb_str(el->element_name);
    m.flowscopekey = el->flow_scope_key;
    m.startedat = el->started_at;
    m.endedat = el->ended_at;
    return detail_add(d, DETAIL_ELEMENTS, &m.base, err);
}

int codec_instance_detail_add_incident(codec_instance_detail *d, const chute_incident_view *inc,
                                       const chute_job_view *job, chute_error *err)
{
    Chute__V1__Incident m;
    codec_incident_from_search(&m, inc, job);
    return detail_add(d, DETAIL_INCIDENTS, &m.base, err);
}

int codec_instance_detail_add_wait(codec_instance_detail *d, const chute_wait_view *w,
                                   chute_error *err)
{
    Chute__V1__Wait m = CHUTE__V1__WAIT__INIT;
    m.elementinstancekey = w->element_instance_key;
    m.elementid = codec_pb_str(w->element_id);
    m.kind = codec_pb_str(w->is_timer ? "TIMER" : "MESSAGE");
    if (w->is_timer) {
        m.due = w->due;
    } else {
        m.messagename = codec_pb_str(w->message_name);
        m.correlationkey = codec_pb_str(w->correlation_key);
    }
    return detail_add(d, DETAIL_WAITS, &m.base, err);
}

int codec_instance_detail_finish(codec_instance_detail *d, uint8_t **out, size_t *out_len,
                                 chute_error *err)
{
    if (d->truncated) {
        d->b.max += d->reserved;
        int rc = builder_add_true(&d->b, DETAIL_TRUNCATED, err);
        if (rc)
            return rc;
    }
    return codec_builder_finish(&d->b, out, out_len, err);
}

void codec_instance_detail_free(codec_instance_detail *d)
{
    if (d)
        codec_builder_free(&d->b);
}

/* ---- user tasks -------------------------------------------------------------------- */

enum {
    USER_TASKS_TASKS = 1,
    USER_TASKS_TRUNCATED = 2,
    USER_TASKS_FLAG_BYTES = 2,
};

int codec_decode_list_user_tasks(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc =
        codec_unpack(&chute__v1__list_user_tasks_request__descriptor, buf, len, &out->msg, err);
    if (rc)
        return rc;
    Chute__V1__ListUserTasksRequest *r = (Chute__V1__ListUserTasksRequest *)out->msg;
    if (r->limit < 0 || r->limit > CODEC_MAX_USER_TASK_LIMIT)
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected to list user tasks with a limit between 0 and %d, but it "
                             "was %d",
                             CODEC_MAX_USER_TASK_LIMIT, (int)r->limit);
    else if (r->unassigned && r->assignee[0])
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected to list user tasks of assignee '%.64s' or unassigned ones, "
                             "but the request asks for both",
                             r->assignee);
    if (rc) {
        command_free(out);
        return rc;
    }
    command_search *s = &out->search;
    out->kind = COMMAND_SEARCH_USER_TASKS;
    s->assignee = r->unassigned ? "" : r->assignee[0] ? r->assignee : NULL;
    s->process_instance_key = r->processinstancekey;
    s->element_id = r->elementid[0] ? r->elementid : NULL;
    s->bpmn_process_id = r->bpmnprocessid[0] ? r->bpmnprocessid : NULL;
    s->limit = r->limit ? (size_t)r->limit : CODEC_DEFAULT_USER_TASK_LIMIT;
    return 0;
}

int codec_decode_assign_user_task(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc =
        codec_unpack(&chute__v1__assign_user_task_request__descriptor, buf, len, &out->msg, err);
    if (rc)
        return rc;
    Chute__V1__AssignUserTaskRequest *r = (Chute__V1__AssignUserTaskRequest *)out->msg;
    out->kind = COMMAND_ASSIGN_USER_TASK;
    out->key = r->key;
    out->assignee = r->assignee;
    out->no_override = r->nooverride ? 1 : 0;
    return 0;
}

int codec_decode_complete_user_task(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc =
        codec_unpack(&chute__v1__complete_user_task_request__descriptor, buf, len, &out->msg, err);
    if (rc)
        return rc;
    Chute__V1__CompleteUserTaskRequest *r = (Chute__V1__CompleteUserTaskRequest *)out->msg;
    out->kind = COMMAND_COMPLETE_USER_TASK;
    out->key = r->key;
    if (!jdoc_blank(r->variables, strlen(r->variables))) {
        out->variables = r->variables;
        out->variables_len = strlen(r->variables);
    }
    return 0;
}

/* The strings of a JSON array, copied: for the repeated fields. */
typedef struct string_list {
    char **items;
    size_t n;
} string_list;

static int list_push(void *ctx, const char *s, size_t n)
{
    string_list *l = ctx;
    char **items = realloc(l->items, (l->n + 1) * sizeof(*items));
    if (!items)
        return CHUTE_ENOMEM;
    l->items = items;
    if (!(items[l->n] = malloc(n + 1)))
        return CHUTE_ENOMEM;
    memcpy(items[l->n], s, n);
    items[l->n++][n] = '\0';
    return 0;
}

static void list_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* |text| as repeated strings; a list that is not a JSON array (the engine
 * keeps only arrays) is sent empty. */
static int list_of(const char *text, char ***items, size_t *n, chute_error *err)
{
    string_list l = {0};
    int rc = jdoc_strings_each(text, text ? strlen(text) : 0, list_push, &l);
    if (rc == CHUTE_ENOMEM) {
        list_free(l.items, l.n);
        return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for a user task");
    }
    *items = l.items;
    *n = l.n;
    return 0;
}

void codec_user_task_clear(Chute__V1__UserTask *out)
{
    list_free(out->candidategroups, out->n_candidategroups);
    list_free(out->candidateusers, out->n_candidateusers);
    out->candidategroups = out->candidateusers = NULL;
    out->n_candidategroups = out->n_candidateusers = 0;
}

int codec_user_task_from_view(Chute__V1__UserTask *out, const chute_user_task_view *t,
                              chute_error *err)
{
    chute__v1__user_task__init(out);
    out->key = t->key;
    out->processinstancekey = t->process_instance_key;
    out->processdefinitionkey = t->process_definition_key;
    out->bpmnprocessid = codec_pb_str(t->bpmn_process_id);
    out->elementid = codec_pb_str(t->element_id);
    out->name = codec_pb_str(t->name);
    out->assignee = codec_pb_str(t->assignee);
    out->formkey = codec_pb_str(t->form_key);
    out->duedate = codec_pb_str(t->due_date);
    out->followupdate = codec_pb_str(t->follow_up_date);
    out->priority = t->priority;
    out->createdat = t->created_at;
    if (list_of(t->candidate_groups, &out->candidategroups, &out->n_candidategroups, err) ||
        list_of(t->candidate_users, &out->candidateusers, &out->n_candidateusers, err)) {
        codec_user_task_clear(out);
        return CHUTE_ENOMEM;
    }
    return 0;
}

void codec_user_task_list_init(codec_user_task_list *l, size_t max)
{
    memset(l, 0, sizeof(*l));
    codec_builder_init(&l->b, max);
    l->reserved = l->b.max > USER_TASKS_FLAG_BYTES ? USER_TASKS_FLAG_BYTES : 0;
    l->b.max -= l->reserved;
}

int codec_user_task_list_add(codec_user_task_list *l, const chute_user_task_view *t,
                             chute_error *err)
{
    Chute__V1__UserTask m;
    if (l->truncated)
        return 1;
    int rc = codec_user_task_from_view(&m, t, err);
    if (rc)
        return rc;
    rc = codec_builder_add(&l->b, USER_TASKS_TASKS, &m.base, "user task", err);
    codec_user_task_clear(&m);
    if (rc == CHUTE_ETOOBIG) {
        l->truncated = 1;
        return 1;
    }
    return rc;
}

int codec_user_task_list_finish(codec_user_task_list *l, uint8_t **out, size_t *out_len,
                                chute_error *err)
{
    if (l->truncated) {
        l->b.max += l->reserved;
        l->reserved = 0;
        int rc = builder_add_true(&l->b, USER_TASKS_TRUNCATED, err);
        if (rc)
            return rc;
    }
    return codec_builder_finish(&l->b, out, out_len, err);
}

void codec_user_task_list_free(codec_user_task_list *l)
{
    if (l)
        codec_builder_free(&l->b);
}
