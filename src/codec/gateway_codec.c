/* The Zeebe gateway protocol: requests to engine structs, views to responses.
 * See gateway_codec.h. */
#include "gateway_codec.h"

#include "common/json.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- activation ------------------------------------------------------------ */

/* Field numbers the pre-scan counts, per request type. */
enum {
    ACTIVATE_FETCH_VARIABLE = 5,
    ACTIVATE_TENANT_IDS = 7,
    STREAM_FETCH_VARIABLE = 5,
    STREAM_TENANT_IDS = 6,
};

/*
 * With multi-tenancy off, the only tenant a request may name is the default
 * one. The message lists what was sent, as Zeebe's does, cut to fit.
 */
static int check_tenants(const char *rpc, char **ids, size_t n, chute_error *err)
{
    if (n == 0 || (n == 1 && strcmp(ids[0], CODEC_DEFAULT_TENANT) == 0))
        return 0;
    char list[256];
    size_t w = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && w < sizeof(list); i++) {
        int k = snprintf(list + w, sizeof(list) - w, "%s%s", i ? ", " : "", ids[i]);
        if (k < 0)
            break;
        w += (size_t)k;
    }
    if (w >= sizeof(list))
        memcpy(list + sizeof(list) - 4, "...", 4);
    return chute_error_set(err, CHUTE_EINVAL,
                           "Expected to handle gRPC request %s with tenant identifiers [%s], but "
                           "multi-tenancy is disabled",
                           rpc, list);
}

static int prescan_activation(const ProtobufCMessageDescriptor *desc, const char *what,
                              const uint8_t *buf, size_t len, uint32_t fetch_field,
                              uint32_t tenant_field, chute_error *err)
{
    const uint32_t fields[2] = {fetch_field, tenant_field};
    size_t counts[2];
    if (codec_wire_count(buf, len, fields, counts, 2))
        return codec_decode_error(desc, err);
    if (counts[0] > CODEC_MAX_FETCH_VARIABLES)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to %s with at most %d fetchVariable names, but got %lu",
                               what, CODEC_MAX_FETCH_VARIABLES, (unsigned long)counts[0]);
    if (counts[1] > CODEC_MAX_TENANT_IDS)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to %s with at most %d tenantIds, but got %lu", what,
                               CODEC_MAX_TENANT_IDS, (unsigned long)counts[1]);
    return 0;
}

int codec_decode_activate_jobs(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    const ProtobufCMessageDescriptor *desc = &gateway_protocol__activate_jobs_request__descriptor;
    static const char what[] = "activate jobs";
    ProtobufCMessage *m = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc =
        prescan_activation(desc, what, buf, len, ACTIVATE_FETCH_VARIABLE, ACTIVATE_TENANT_IDS, err);
    if (rc)
        return rc;
    rc = codec_unpack(desc, buf, len, &m, err);
    if (rc)
        return rc;
    GatewayProtocol__ActivateJobsRequest *r = (GatewayProtocol__ActivateJobsRequest *)m;
    rc = check_tenants("ActivateJobs", r->tenantids, r->n_tenantids, err);
    if (rc) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    out->kind = COMMAND_ACTIVATE;
    out->msg = m;
    out->req.type = r->type;
    out->req.worker = r->worker;
    out->req.timeout_ms = r->timeout;
    out->req.max_jobs = r->maxjobstoactivate;
    out->req.fetch_variables = (const char *const *)r->fetchvariable;
    out->req.fetch_variables_count = r->n_fetchvariable;
    out->request_timeout_ms = r->requesttimeout;
    return 0;
}

int codec_decode_stream_activated_jobs(const uint8_t *buf, size_t len, command *out,
                                       chute_error *err)
{
    const ProtobufCMessageDescriptor *desc =
        &gateway_protocol__stream_activated_jobs_request__descriptor;
    static const char what[] = "stream activated jobs";
    ProtobufCMessage *m = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = prescan_activation(desc, what, buf, len, STREAM_FETCH_VARIABLE, STREAM_TENANT_IDS, err);
    if (rc)
        return rc;
    rc = codec_unpack(desc, buf, len, &m, err);
    if (rc)
        return rc;
    GatewayProtocol__StreamActivatedJobsRequest *r =
        (GatewayProtocol__StreamActivatedJobsRequest *)m;
    rc = check_tenants("StreamActivatedJobs", r->tenantids, r->n_tenantids, err);
    if (rc) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    out->kind = COMMAND_STREAM;
    out->msg = m;
    out->req.type = r->type;
    out->req.worker = r->worker;
    out->req.timeout_ms = r->timeout;
    out->req.max_jobs = 0;
    out->req.fetch_variables = (const char *const *)r->fetchvariable;
    out->req.fetch_variables_count = r->n_fetchvariable;
    return 0;
}

/* ---- job commands ------------------------------------------------------------ */

static int unpack_command(command_kind kind, const ProtobufCMessageDescriptor *desc,
                          const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = codec_unpack(desc, buf, len, &out->msg, err);
    if (rc == 0)
        out->kind = kind;
    return rc;
}

static void set_variables(command *c, const char *variables)
{
    c->variables = variables;
    c->variables_len = strlen(variables);
}

int codec_decode_complete_job(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc = unpack_command(COMMAND_COMPLETE, &gateway_protocol__complete_job_request__descriptor,
                            buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__CompleteJobRequest *r = (GatewayProtocol__CompleteJobRequest *)out->msg;
    out->key = r->jobkey;
    set_variables(out, r->variables);
    return 0;
}

int codec_decode_fail_job(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc = unpack_command(COMMAND_FAIL, &gateway_protocol__fail_job_request__descriptor, buf, len,
                            out, err);
    if (rc)
        return rc;
    GatewayProtocol__FailJobRequest *r = (GatewayProtocol__FailJobRequest *)out->msg;
    out->key = r->jobkey;
    out->retries = r->retries;
    out->error_message = r->errormessage;
    out->backoff_ms = r->retrybackoff;
    set_variables(out, r->variables);
    return 0;
}

int codec_decode_throw_error(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc = unpack_command(COMMAND_THROW_ERROR, &gateway_protocol__throw_error_request__descriptor,
                            buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__ThrowErrorRequest *r = (GatewayProtocol__ThrowErrorRequest *)out->msg;
    out->key = r->jobkey;
    out->error_code = r->errorcode;
    out->error_message = r->errormessage;
    set_variables(out, r->variables);
    return 0;
}

int codec_decode_update_job_retries(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc =
        unpack_command(COMMAND_UPDATE, &gateway_protocol__update_job_retries_request__descriptor,
                       buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__UpdateJobRetriesRequest *r =
        (GatewayProtocol__UpdateJobRetriesRequest *)out->msg;
    out->key = r->jobkey;
    out->retries = r->retries;
    out->has_retries = 1;
    return 0;
}

int codec_decode_update_job_timeout(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc =
        unpack_command(COMMAND_UPDATE, &gateway_protocol__update_job_timeout_request__descriptor,
                       buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__UpdateJobTimeoutRequest *r =
        (GatewayProtocol__UpdateJobTimeoutRequest *)out->msg;
    out->key = r->jobkey;
    out->timeout_ms = r->timeout;
    out->has_timeout = 1;
    return 0;
}

int codec_decode_resolve_incident(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc =
        unpack_command(COMMAND_RESOLVE_INCIDENT,
                       &gateway_protocol__resolve_incident_request__descriptor, buf, len, out, err);
    if (rc)
        return rc;
    out->key = ((GatewayProtocol__ResolveIncidentRequest *)out->msg)->incidentkey;
    return 0;
}

int codec_decode_topology(const uint8_t *buf, size_t len, chute_error *err)
{
    ProtobufCMessage *m = NULL;
    int rc = codec_unpack(&gateway_protocol__topology_request__descriptor, buf, len, &m, err);
    if (rc)
        return rc;
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

/* ---- encoding -------------------------------------------------------------------- */

void codec_activated_job_from_view(GatewayProtocol__ActivatedJob *out, const chute_job_view *job)
{
    gateway_protocol__activated_job__init(out);
    out->key = job->key;
    out->type = codec_pb_str(job->type);
    out->processinstancekey = job->process.process_instance_key;
    out->bpmnprocessid = codec_pb_str(job->process.bpmn_process_id);
    out->processdefinitionversion = job->process.process_definition_version;
    out->processdefinitionkey = job->process.process_definition_key;
    out->elementid = codec_pb_str(job->process.element_id);
    out->elementinstancekey = job->process.element_instance_key;
    out->customheaders = codec_pb_doc(job->headers, job->headers_len);
    out->worker = codec_pb_str(job->worker);
    out->retries = job->retries;
    out->deadline = job->deadline;
    out->variables = codec_pb_doc(job->variables, job->variables_len);
    out->tenantid = (char *)CODEC_DEFAULT_TENANT;
    out->kind = GATEWAY_PROTOCOL__ACTIVATED_JOB__JOB_KIND__BPMN_ELEMENT;
    out->listenereventtype = GATEWAY_PROTOCOL__ACTIVATED_JOB__LISTENER_EVENT_TYPE__UNSPECIFIED;
}

size_t codec_activated_job_size(const chute_job_view *job)
{
    GatewayProtocol__ActivatedJob j;
    codec_activated_job_from_view(&j, job);
    return gateway_protocol__activated_job__get_packed_size(&j);
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t codec_activate_response_entry_size(const chute_job_view *job)
{
    size_t n = codec_activated_job_size(job);
    return 1 + varint_size(n) + n; /* tag of field 1 (0x0a), length, message */
}

int codec_encode_activate_jobs_response(const chute_job_view *jobs, size_t count, size_t max,
                                        uint8_t **out, size_t *out_len, chute_error *err)
{
    GatewayProtocol__ActivateJobsResponse resp = GATEWAY_PROTOCOL__ACTIVATE_JOBS_RESPONSE__INIT;
    GatewayProtocol__ActivatedJob *items = NULL;
    GatewayProtocol__ActivatedJob **ptrs = NULL;
    int rc;

    /* Each job needs at least 2 bytes on the wire, so a count this large
     * could never fit; it also keeps the multiplications below exact. */
    if (count > CODEC_MAX_MESSAGE)
        return chute_error_set(err, CHUTE_ETOOBIG, "Expected at most %u jobs in a response",
                               CODEC_MAX_MESSAGE);
    if (count) {
        items = malloc(count * sizeof(*items));
        ptrs = malloc(count * sizeof(*ptrs));
        if (!items || !ptrs) {
            free(items);
            free(ptrs);
            return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for %lu activated jobs",
                                   (unsigned long)count);
        }
        for (size_t i = 0; i < count; i++) {
            codec_activated_job_from_view(&items[i], &jobs[i]);
            ptrs[i] = &items[i];
        }
    }
    resp.n_jobs = count;
    resp.jobs = ptrs;
    rc = codec_pack_framed(&resp.base, max, out, out_len, err);
    free(items);
    free(ptrs);
    return rc;
}

int codec_encode_activated_job(const chute_job_view *job, size_t max, uint8_t **out,
                               size_t *out_len, chute_error *err)
{
    GatewayProtocol__ActivatedJob j;
    codec_activated_job_from_view(&j, job);
    return codec_pack_framed(&j.base, max, out, out_len, err);
}

int codec_encode_topology(const char *host, int32_t port, int32_t partition_id, uint8_t **out,
                          size_t *out_len, chute_error *err)
{
    GatewayProtocol__Partition partition = GATEWAY_PROTOCOL__PARTITION__INIT;
    GatewayProtocol__Partition *partitions[1] = {&partition};
    GatewayProtocol__BrokerInfo broker = GATEWAY_PROTOCOL__BROKER_INFO__INIT;
    GatewayProtocol__BrokerInfo *brokers[1] = {&broker};
    GatewayProtocol__TopologyResponse resp = GATEWAY_PROTOCOL__TOPOLOGY_RESPONSE__INIT;

    partition.partitionid = partition_id ? partition_id : 1;
    partition.role = GATEWAY_PROTOCOL__PARTITION__PARTITION_BROKER_ROLE__LEADER;
    partition.health = GATEWAY_PROTOCOL__PARTITION__PARTITION_BROKER_HEALTH__HEALTHY;
    broker.nodeid = 0;
    broker.host = codec_pb_str(host);
    broker.port = port;
    broker.n_partitions = 1;
    broker.partitions = partitions;
    broker.version = (char *)CHUTE_VERSION;
    resp.n_brokers = 1;
    resp.brokers = brokers;
    resp.clustersize = 1;
    resp.partitionscount = 1;
    resp.replicationfactor = 1;
    resp.gatewayversion = (char *)CHUTE_VERSION;
    return codec_pack_framed(&resp.base, 0, out, out_len, err);
}

/* ---- deployment -------------------------------------------------------------------- */

enum { DEPLOY_RESOURCE_RESOURCES = 1, DEPLOY_PROCESS_PROCESSES = 1 };

/* Counts the repeated field on the wire before protobuf-c allocates one
 * block per element. */
static int prescan_resources(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                             uint32_t field, chute_error *err)
{
    size_t n;
    if (codec_wire_count(buf, len, &field, &n, 1))
        return codec_decode_error(desc, err);
    if (n > CHUTE_MAX_RESOURCES)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to deploy at most %d resources at once, but got %lu",
                               CHUTE_MAX_RESOURCES, (unsigned long)n);
    return 0;
}

int codec_decode_deploy_resource(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    const ProtobufCMessageDescriptor *desc = &gateway_protocol__deploy_resource_request__descriptor;
    memset(out, 0, sizeof(*out));
    int rc = prescan_resources(desc, buf, len, DEPLOY_RESOURCE_RESOURCES, err);
    if (rc == 0)
        rc = codec_unpack(desc, buf, len, &out->msg, err);
    if (rc)
        return rc;
    GatewayProtocol__DeployResourceRequest *r = (GatewayProtocol__DeployResourceRequest *)out->msg;
    if (r->tenantid[0] && strcmp(r->tenantid, CODEC_DEFAULT_TENANT) != 0) {
        char *ids[1] = {r->tenantid};
        rc = check_tenants("DeployResource", ids, 1, err);
        command_free(out);
        return rc;
    }
    out->kind = COMMAND_DEPLOY;
    out->resources = calloc(r->n_resources ? r->n_resources : 1, sizeof *out->resources);
    if (!out->resources) {
        command_free(out);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n_resources; i++) {
        out->resources[i].name = r->resources[i]->name;
        out->resources[i].content = r->resources[i]->content.data;
        out->resources[i].len = r->resources[i]->content.len;
    }
    out->nresources = r->n_resources;
    return 0;
}

int codec_decode_deploy_process(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    const ProtobufCMessageDescriptor *desc = &gateway_protocol__deploy_process_request__descriptor;
    memset(out, 0, sizeof(*out));
    int rc = prescan_resources(desc, buf, len, DEPLOY_PROCESS_PROCESSES, err);
    if (rc == 0)
        rc = codec_unpack(desc, buf, len, &out->msg, err);
    if (rc)
        return rc;
    GatewayProtocol__DeployProcessRequest *r = (GatewayProtocol__DeployProcessRequest *)out->msg;
    out->kind = COMMAND_DEPLOY;
    out->legacy = 1;
    out->resources = calloc(r->n_processes ? r->n_processes : 1, sizeof *out->resources);
    if (!out->resources) {
        command_free(out);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n_processes; i++) {
        out->resources[i].name = r->processes[i]->name;
        out->resources[i].content = r->processes[i]->definition.data;
        out->resources[i].len = r->processes[i]->definition.len;
    }
    out->nresources = r->n_processes;
    return 0;
}

/* How many DMN resources |decs| come from: a new one starts where the
 * requirements key changes. */
static size_t count_requirements(const chute_decision_view *decs, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || decs[i].requirements_key != decs[i - 1].requirements_key)
            k++;
    return k;
}

int codec_encode_deploy_response(int64_t key, const chute_process_view *procs, size_t n,
                                 const chute_decision_view *decs, size_t ndecs, int legacy,
                                 uint8_t **out, size_t *out_len, chute_error *err)
{
    size_t nreq = legacy ? 0 : count_requirements(decs, ndecs);
    size_t ndec = legacy ? 0 : ndecs;
    size_t total = n + ndec + nreq;
    GatewayProtocol__ProcessMetadata *meta = calloc(n ? n : 1, sizeof *meta);
    GatewayProtocol__ProcessMetadata **metas = calloc(n ? n : 1, sizeof *metas);
    GatewayProtocol__DecisionMetadata *dmeta = calloc(ndec ? ndec : 1, sizeof *dmeta);
    GatewayProtocol__DecisionRequirementsMetadata *rmeta = calloc(nreq ? nreq : 1, sizeof *rmeta);
    GatewayProtocol__Deployment *deps = calloc(total ? total : 1, sizeof *deps);
    GatewayProtocol__Deployment **depps = calloc(total ? total : 1, sizeof *depps);
    int rc;
    if (!meta || !metas || !dmeta || !rmeta || !deps || !depps) {
        rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        goto done;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        gateway_protocol__process_metadata__init(&meta[i]);
        meta[i].bpmnprocessid = codec_pb_str(procs[i].bpmn_process_id);
        meta[i].version = procs[i].version;
        meta[i].processdefinitionkey = procs[i].key;
        meta[i].resourcename = codec_pb_str(procs[i].resource_name);
        meta[i].tenantid = (char *)CODEC_DEFAULT_TENANT;
        metas[i] = &meta[i];
        gateway_protocol__deployment__init(&deps[w]);
        deps[w].metadata_case = GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_PROCESS;
        deps[w].process = &meta[i];
        depps[w] = &deps[w];
        w++;
    }
    for (size_t i = 0; i < ndec; i++) {
        gateway_protocol__decision_metadata__init(&dmeta[i]);
        dmeta[i].dmndecisionid = codec_pb_str(decs[i].decision_id);
        dmeta[i].dmndecisionname = codec_pb_str(decs[i].name);
        dmeta[i].version = decs[i].version;
        dmeta[i].decisionkey = decs[i].key;
        dmeta[i].dmndecisionrequirementsid = codec_pb_str(decs[i].requirements_id);
        dmeta[i].decisionrequirementskey = decs[i].requirements_key;
        dmeta[i].tenantid = (char *)CODEC_DEFAULT_TENANT;
        gateway_protocol__deployment__init(&deps[w]);
        deps[w].metadata_case = GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_DECISION;
        deps[w].decision = &dmeta[i];
        depps[w] = &deps[w];
        w++;
    }
    for (size_t i = 0, k = 0; i < ndec; i++) {
        if (i > 0 && decs[i].requirements_key == decs[i - 1].requirements_key)
            continue;
        GatewayProtocol__DecisionRequirementsMetadata *m = &rmeta[k++];
        gateway_protocol__decision_requirements_metadata__init(m);
        m->dmndecisionrequirementsid = codec_pb_str(decs[i].requirements_id);
        m->dmndecisionrequirementsname = codec_pb_str(decs[i].requirements_name);
        m->version = decs[i].requirements_version;
        m->decisionrequirementskey = decs[i].requirements_key;
        m->resourcename = codec_pb_str(decs[i].resource_name);
        m->tenantid = (char *)CODEC_DEFAULT_TENANT;
        gateway_protocol__deployment__init(&deps[w]);
        deps[w].metadata_case = GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_DECISION_REQUIREMENTS;
        deps[w].decisionrequirements = m;
        depps[w] = &deps[w];
        w++;
    }
    if (legacy) {
        GatewayProtocol__DeployProcessResponse r = GATEWAY_PROTOCOL__DEPLOY_PROCESS_RESPONSE__INIT;
        r.key = key;
        r.n_processes = n;
        r.processes = metas;
        rc = codec_pack_framed(&r.base, 0, out, out_len, err);
    } else {
        GatewayProtocol__DeployResourceResponse r =
            GATEWAY_PROTOCOL__DEPLOY_RESOURCE_RESPONSE__INIT;
        r.key = key;
        r.n_deployments = w;
        r.deployments = depps;
        r.tenantid = (char *)CODEC_DEFAULT_TENANT;
        rc = codec_pack_framed(&r.base, 0, out, out_len, err);
    }
done:
    free(meta);
    free(metas);
    free(dmeta);
    free(rmeta);
    free(deps);
    free(depps);
    return rc;
}

/* ---- process instances ------------------------------------------------------------ */

enum {
    CREATE_START_INSTRUCTIONS = 5,
    WITH_RESULT_REQUEST = 1,
    WITH_RESULT_FETCH_VARIABLES = 3,
};

static int too_many_start_instructions(size_t n, chute_error *err)
{
    return chute_error_set(err, CHUTE_EINVAL,
                           "Expected to create a process instance with at most %d "
                           "startInstructions, but got %lu",
                           CODEC_MAX_START_INSTRUCTIONS, (unsigned long)n);
}

/* Fills the CREATE_INSTANCE fields of |out| from |r| (NULL: nothing sent). */
static int create_from_request(const GatewayProtocol__CreateProcessInstanceRequest *r,
                               const char *rpc, command *out, chute_error *err)
{
    out->kind = COMMAND_CREATE_INSTANCE;
    out->bpmn_process_id = "";
    out->variables = "";
    if (!r)
        return 0;
    if (r->tenantid[0] && strcmp(r->tenantid, CODEC_DEFAULT_TENANT) != 0) {
        char *ids[1] = {r->tenantid};
        return check_tenants(rpc, ids, 1, err);
    }
    out->process_definition_key = r->processdefinitionkey;
    out->bpmn_process_id = r->bpmnprocessid;
    out->version = r->version;
    set_variables(out, r->variables);
    out->start_instructions = r->n_startinstructions;
    return 0;
}

int codec_decode_create_process_instance(const uint8_t *buf, size_t len, command *out,
                                         chute_error *err)
{
    const ProtobufCMessageDescriptor *desc =
        &gateway_protocol__create_process_instance_request__descriptor;
    const uint32_t field = CREATE_START_INSTRUCTIONS;
    size_t n;
    memset(out, 0, sizeof(*out));
    if (codec_wire_count(buf, len, &field, &n, 1))
        return codec_decode_error(desc, err);
    if (n > CODEC_MAX_START_INSTRUCTIONS)
        return too_many_start_instructions(n, err);
    int rc = codec_unpack(desc, buf, len, &out->msg, err);
    if (rc)
        return rc;
    rc = create_from_request((GatewayProtocol__CreateProcessInstanceRequest *)out->msg,
                             "CreateProcessInstance", out, err);
    if (rc)
        command_free(out);
    return rc;
}

int codec_decode_create_process_instance_with_result(const uint8_t *buf, size_t len, command *out,
                                                     chute_error *err)
{
    const ProtobufCMessageDescriptor *desc =
        &gateway_protocol__create_process_instance_with_result_request__descriptor;
    const uint32_t top = WITH_RESULT_FETCH_VARIABLES, inner = CREATE_START_INSTRUCTIONS;
    size_t nfetch, nstart;
    memset(out, 0, sizeof(*out));
    if (codec_wire_count(buf, len, &top, &nfetch, 1) ||
        codec_wire_count_in(buf, len, WITH_RESULT_REQUEST, &inner, &nstart, 1))
        return codec_decode_error(desc, err);
    if (nfetch > CODEC_MAX_FETCH_VARIABLES)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to create a process instance with at most %d "
                               "fetchVariables names, but got %lu",
                               CODEC_MAX_FETCH_VARIABLES, (unsigned long)nfetch);
    if (nstart > CODEC_MAX_START_INSTRUCTIONS)
        return too_many_start_instructions(nstart, err);
    int rc = codec_unpack(desc, buf, len, &out->msg, err);
    if (rc)
        return rc;
    GatewayProtocol__CreateProcessInstanceWithResultRequest *r =
        (GatewayProtocol__CreateProcessInstanceWithResultRequest *)out->msg;
    rc = create_from_request(r->request, "CreateProcessInstanceWithResult", out, err);
    if (rc) {
        command_free(out);
        return rc;
    }
    out->await = 1;
    out->request_timeout_ms = r->requesttimeout;
    out->fetch_names = (const char *const *)r->fetchvariables;
    out->nfetch = r->n_fetchvariables;
    return 0;
}

int codec_decode_cancel_process_instance(const uint8_t *buf, size_t len, command *out,
                                         chute_error *err)
{
    int rc = unpack_command(COMMAND_CANCEL_INSTANCE,
                            &gateway_protocol__cancel_process_instance_request__descriptor, buf,
                            len, out, err);
    if (rc)
        return rc;
    out->key = ((GatewayProtocol__CancelProcessInstanceRequest *)out->msg)->processinstancekey;
    return 0;
}

int codec_decode_set_variables(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc =
        unpack_command(COMMAND_SET_VARIABLES, &gateway_protocol__set_variables_request__descriptor,
                       buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__SetVariablesRequest *r = (GatewayProtocol__SetVariablesRequest *)out->msg;
    out->key = r->elementinstancekey;
    set_variables(out, r->variables);
    out->local = r->local != 0;
    return 0;
}

int codec_decode_delete_resource(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc =
        unpack_command(COMMAND_DELETE_RESOURCE,
                       &gateway_protocol__delete_resource_request__descriptor, buf, len, out, err);
    if (rc)
        return rc;
    out->key = ((GatewayProtocol__DeleteResourceRequest *)out->msg)->resourcekey;
    return 0;
}

/* ---- modification and migration ------------------------------------------------------- */

enum {
    MODIFY_ACTIVATE = 2,
    MODIFY_TERMINATE = 3,
    ACTIVATE_VARIABLES = 3,
    MIGRATE_PLAN = 2,
    PLAN_MAPPINGS = 2,
};

static int too_many(const char *what, const char *field, size_t n, chute_error *err)
{
    return chute_error_set(err, CHUTE_EINVAL, "Expected to %s with at most %d %s, but got %lu",
                           what, CODEC_MAX_INSTRUCTIONS, field, (unsigned long)n);
}

int codec_decode_modify_process_instance(const uint8_t *buf, size_t len, command *out,
                                         chute_error *err)
{
    const ProtobufCMessageDescriptor *desc =
        &gateway_protocol__modify_process_instance_request__descriptor;
    static const char what[] = "modify a process instance";
    const uint32_t top[2] = {MODIFY_ACTIVATE, MODIFY_TERMINATE}, inner = ACTIVATE_VARIABLES;
    size_t counts[2], nvars;
    memset(out, 0, sizeof(*out));
    if (codec_wire_count(buf, len, top, counts, 2) ||
        codec_wire_count_in(buf, len, MODIFY_ACTIVATE, &inner, &nvars, 1))
        return codec_decode_error(desc, err);
    if (counts[0] > CODEC_MAX_INSTRUCTIONS)
        return too_many(what, "activateInstructions", counts[0], err);
    if (counts[1] > CODEC_MAX_INSTRUCTIONS)
        return too_many(what, "terminateInstructions", counts[1], err);
    if (nvars > CODEC_MAX_INSTRUCTIONS)
        return too_many(what, "variableInstructions", nvars, err);
    int rc = unpack_command(COMMAND_MODIFY_INSTANCE, desc, buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__ModifyProcessInstanceRequest *r =
        (GatewayProtocol__ModifyProcessInstanceRequest *)out->msg;
    out->key = r->processinstancekey;
    size_t total = 0;
    for (size_t i = 0; i < r->n_activateinstructions; i++)
        total += r->activateinstructions[i]->n_variableinstructions;
    out->activate =
        calloc(r->n_activateinstructions ? r->n_activateinstructions : 1, sizeof *out->activate);
    out->var_instructions = calloc(total ? total : 1, sizeof *out->var_instructions);
    out->terminate =
        calloc(r->n_terminateinstructions ? r->n_terminateinstructions : 1, sizeof *out->terminate);
    if (!out->activate || !out->var_instructions || !out->terminate) {
        command_free(out);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    size_t v = 0;
    for (size_t i = 0; i < r->n_activateinstructions; i++) {
        const GatewayProtocol__ModifyProcessInstanceRequest__ActivateInstruction *a =
            r->activateinstructions[i];
        command_activation *c = &out->activate[i];
        c->element_id = a->elementid;
        c->ancestor_key = a->ancestorelementinstancekey;
        c->vars = &out->var_instructions[v];
        c->nvars = a->n_variableinstructions;
        for (size_t k = 0; k < a->n_variableinstructions; k++, v++) {
            out->var_instructions[v].variables = a->variableinstructions[k]->variables;
            out->var_instructions[v].variables_len = strlen(a->variableinstructions[k]->variables);
            out->var_instructions[v].scope_id = a->variableinstructions[k]->scopeid;
        }
    }
    out->nactivate = r->n_activateinstructions;
    for (size_t i = 0; i < r->n_terminateinstructions; i++)
        out->terminate[i] = r->terminateinstructions[i]->elementinstancekey;
    out->nterminate = r->n_terminateinstructions;
    return 0;
}

int codec_decode_migrate_process_instance(const uint8_t *buf, size_t len, command *out,
                                          chute_error *err)
{
    const ProtobufCMessageDescriptor *desc =
        &gateway_protocol__migrate_process_instance_request__descriptor;
    const uint32_t inner = PLAN_MAPPINGS;
    size_t n;
    memset(out, 0, sizeof(*out));
    if (codec_wire_count_in(buf, len, MIGRATE_PLAN, &inner, &n, 1))
        return codec_decode_error(desc, err);
    if (n > CODEC_MAX_INSTRUCTIONS)
        return too_many("migrate a process instance", "mappingInstructions", n, err);
    int rc = unpack_command(COMMAND_MIGRATE_INSTANCE, desc, buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__MigrateProcessInstanceRequest *r =
        (GatewayProtocol__MigrateProcessInstanceRequest *)out->msg;
    out->key = r->processinstancekey;
    const GatewayProtocol__MigrateProcessInstanceRequest__MigrationPlan *plan = r->migrationplan;
    size_t nmap = plan ? plan->n_mappinginstructions : 0;
    out->mappings = calloc(nmap ? nmap : 1, sizeof *out->mappings);
    if (!out->mappings) {
        command_free(out);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    out->process_definition_key = plan ? plan->targetprocessdefinitionkey : 0;
    for (size_t i = 0; i < nmap; i++) {
        out->mappings[i].source_element_id = plan->mappinginstructions[i]->sourceelementid;
        out->mappings[i].target_element_id = plan->mappinginstructions[i]->targetelementid;
    }
    out->nmappings = nmap;
    return 0;
}

int codec_decode_broadcast_signal(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc =
        unpack_command(COMMAND_BROADCAST_SIGNAL,
                       &gateway_protocol__broadcast_signal_request__descriptor, buf, len, out, err);
    if (rc)
        return rc;
    out->signal_name = ((GatewayProtocol__BroadcastSignalRequest *)out->msg)->signalname;
    return 0;
}

int codec_encode_create_instance_response(const chute_instance_view *inst, int with_result,
                                          size_t max, uint8_t **out, size_t *out_len,
                                          chute_error *err)
{
    if (with_result) {
        GatewayProtocol__CreateProcessInstanceWithResultResponse r =
            GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_WITH_RESULT_RESPONSE__INIT;
        r.processdefinitionkey = inst->process_definition_key;
        r.bpmnprocessid = codec_pb_str(inst->bpmn_process_id);
        r.version = inst->version;
        r.processinstancekey = inst->key;
        r.variables = codec_pb_doc(inst->variables, inst->variables_len);
        r.tenantid = (char *)CODEC_DEFAULT_TENANT;
        return codec_pack_framed(&r.base, max, out, out_len, err);
    }
    GatewayProtocol__CreateProcessInstanceResponse r =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_RESPONSE__INIT;
    r.processdefinitionkey = inst->process_definition_key;
    r.bpmnprocessid = codec_pb_str(inst->bpmn_process_id);
    r.version = inst->version;
    r.processinstancekey = inst->key;
    r.tenantid = (char *)CODEC_DEFAULT_TENANT;
    return codec_pack_framed(&r.base, max, out, out_len, err);
}

int codec_encode_set_variables_response(int64_t key, uint8_t **out, size_t *out_len,
                                        chute_error *err)
{
    GatewayProtocol__SetVariablesResponse r = GATEWAY_PROTOCOL__SET_VARIABLES_RESPONSE__INIT;
    r.key = key;
    return codec_pack_framed(&r.base, 0, out, out_len, err);
}

/* ---- messages ------------------------------------------------------------------ */

int codec_decode_publish_message(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc =
        unpack_command(COMMAND_PUBLISH_MESSAGE,
                       &gateway_protocol__publish_message_request__descriptor, buf, len, out, err);
    if (rc)
        return rc;
    GatewayProtocol__PublishMessageRequest *r = (GatewayProtocol__PublishMessageRequest *)out->msg;
    if (r->tenantid[0] && strcmp(r->tenantid, CODEC_DEFAULT_TENANT) != 0) {
        char *ids[1] = {r->tenantid};
        rc = check_tenants("PublishMessage", ids, 1, err);
        command_free(out);
        return rc;
    }
    out->message_name = r->name;
    out->correlation_key = r->correlationkey;
    out->message_id = r->messageid;
    out->ttl_ms = r->timetolive;
    set_variables(out, r->variables);
    return 0;
}

int codec_encode_publish_message_response(int64_t key, uint8_t **out, size_t *out_len,
                                          chute_error *err)
{
    GatewayProtocol__PublishMessageResponse r = GATEWAY_PROTOCOL__PUBLISH_MESSAGE_RESPONSE__INIT;
    r.key = key;
    r.tenantid = (char *)CODEC_DEFAULT_TENANT;
    return codec_pack_framed(&r.base, 0, out, out_len, err);
}

/* ---- decisions ----------------------------------------------------------------- */

int codec_decode_evaluate_decision(const uint8_t *buf, size_t len, command *out, chute_error *err)
{
    int rc = unpack_command(COMMAND_EVALUATE_DECISION,
                            &gateway_protocol__evaluate_decision_request__descriptor, buf, len, out,
                            err);
    if (rc)
        return rc;
    GatewayProtocol__EvaluateDecisionRequest *r =
        (GatewayProtocol__EvaluateDecisionRequest *)out->msg;
    if (r->tenantid[0] && strcmp(r->tenantid, CODEC_DEFAULT_TENANT) != 0) {
        char *ids[1] = {r->tenantid};
        rc = check_tenants("EvaluateDecision", ids, 1, err);
        command_free(out);
        return rc;
    }
    out->decision_key = r->decisionkey;
    out->decision_id = r->decisionid;
    set_variables(out, r->variables);
    return 0;
}

int codec_encode_evaluate_decision_response(const chute_decision_evaluation *ev, size_t max,
                                            uint8_t **out, size_t *out_len, chute_error *err)
{
    size_t nd = ev->nevaluated, ni = 0, nr = 0, no = 0;
    for (size_t k = 0; k < nd; k++) {
        ni += ev->evaluated[k].ninputs;
        nr += ev->evaluated[k].nrules;
        for (size_t r = 0; r < ev->evaluated[k].nrules; r++)
            no += ev->evaluated[k].rules[r].noutputs;
    }
    GatewayProtocol__EvaluatedDecision *ds = calloc(nd + 1, sizeof *ds);
    GatewayProtocol__EvaluatedDecision **dps = calloc(nd + 1, sizeof *dps);
    GatewayProtocol__EvaluatedDecisionInput *is = calloc(ni + 1, sizeof *is);
    GatewayProtocol__EvaluatedDecisionInput **ips = calloc(ni + 1, sizeof *ips);
    GatewayProtocol__MatchedDecisionRule *rs = calloc(nr + 1, sizeof *rs);
    GatewayProtocol__MatchedDecisionRule **rps = calloc(nr + 1, sizeof *rps);
    GatewayProtocol__EvaluatedDecisionOutput *os = calloc(no + 1, sizeof *os);
    GatewayProtocol__EvaluatedDecisionOutput **ops = calloc(no + 1, sizeof *ops);
    char(*ikeys)[48] = calloc(nd + 1, sizeof *ikeys);
    int rc;
    if (!ds || !dps || !is || !ips || !rs || !rps || !os || !ops || !ikeys) {
        rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        goto done;
    }
    size_t wi = 0, wr = 0, wo = 0;
    for (size_t k = 0; k < nd; k++) {
        const chute_evaluated_decision *e = &ev->evaluated[k];
        GatewayProtocol__EvaluatedDecision *d = &ds[k];
        gateway_protocol__evaluated_decision__init(d);
        d->decisionkey = e->key;
        d->decisionid = codec_pb_str(e->decision_id);
        d->decisionname = codec_pb_str(e->name);
        d->decisionversion = e->version;
        d->decisiontype = codec_pb_str(e->type);
        d->decisionoutput = codec_pb_str(e->output);
        d->tenantid = (char *)CODEC_DEFAULT_TENANT;
        /* Zeebe's instance key of one evaluated decision: the
         * evaluation's key and its 1-based place. */
        snprintf(ikeys[k], sizeof ikeys[k], "%lld-%zu", (long long)ev->key, k + 1);
        d->decisionevaluationinstancekey = ikeys[k];
        d->evaluatedinputs = &ips[wi];
        d->n_evaluatedinputs = e->ninputs;
        for (size_t i = 0; i < e->ninputs; i++, wi++) {
            gateway_protocol__evaluated_decision_input__init(&is[wi]);
            is[wi].inputid = codec_pb_str(e->inputs[i].id);
            is[wi].inputname = codec_pb_str(e->inputs[i].name);
            is[wi].inputvalue = codec_pb_str(e->inputs[i].value);
            ips[wi] = &is[wi];
        }
        d->matchedrules = &rps[wr];
        d->n_matchedrules = e->nrules;
        for (size_t r = 0; r < e->nrules; r++, wr++) {
            const chute_matched_rule *mr = &e->rules[r];
            gateway_protocol__matched_decision_rule__init(&rs[wr]);
            rs[wr].ruleid = codec_pb_str(mr->id);
            rs[wr].ruleindex = mr->index;
            rs[wr].evaluatedoutputs = &ops[wo];
            rs[wr].n_evaluatedoutputs = mr->noutputs;
            for (size_t o = 0; o < mr->noutputs; o++, wo++) {
                gateway_protocol__evaluated_decision_output__init(&os[wo]);
                os[wo].outputid = codec_pb_str(mr->outputs[o].id);
                os[wo].outputname = codec_pb_str(mr->outputs[o].name);
                os[wo].outputvalue = codec_pb_str(mr->outputs[o].value);
                ops[wo] = &os[wo];
            }
            rps[wr] = &rs[wr];
        }
        dps[k] = d;
    }
    GatewayProtocol__EvaluateDecisionResponse r =
        GATEWAY_PROTOCOL__EVALUATE_DECISION_RESPONSE__INIT;
    r.decisionkey = ev->decision.key;
    r.decisionid = codec_pb_str(ev->decision.decision_id);
    r.decisionname = codec_pb_str(ev->decision.name);
    r.decisionversion = ev->decision.version;
    r.decisionrequirementsid = codec_pb_str(ev->decision.requirements_id);
    r.decisionrequirementskey = ev->decision.requirements_key;
    r.decisionoutput = codec_pb_str(ev->output);
    r.evaluateddecisions = dps;
    r.n_evaluateddecisions = nd;
    r.faileddecisionid = codec_pb_str(ev->failed_decision_id);
    r.failuremessage = codec_pb_str(ev->failure_message);
    r.tenantid = (char *)CODEC_DEFAULT_TENANT;
    r.decisioninstancekey = ev->key;
    r.decisionevaluationkey = ev->key;
    rc = codec_pack_framed(&r.base, max, out, out_len, err);
done:
    free(ds);
    free(dps);
    free(is);
    free(ips);
    free(rs);
    free(rps);
    free(os);
    free(ops);
    free(ikeys);
    return rc;
}
