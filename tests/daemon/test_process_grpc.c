/*
 * The process-instance RPCs of gateway_protocol.Gateway against a real
 * chuted (temp dir, ephemeral port), through the raw HTTP/2 client of
 * tests/support, so that a test can hold a call open, reset it, and read
 * every status and message the gateway sent:
 *
 *   - CreateProcessInstance by id and by key, its errors (unknown process,
 *     bad variables, neither id nor key), CancelProcessInstance,
 *     SetVariables and DeleteResource with their answers;
 *   - CreateProcessInstanceWithResult: answered when the instance ends
 *     (at once, or when a worker completes its job), with the fetched
 *     variables; DEADLINE_EXCEEDED past requestTimeout while the instance
 *     runs on; a client that resets the call while it waits leaves nothing
 *     behind (the job's completion later answers nobody, and the daemon,
 *     built with AddressSanitizer in the test run, keeps serving).
 *
 * Deployments and jobs go through the C client. When this tree has no
 * chuted the test SKIPs (exit 77).
 */
#include "chuted_fixture.h"
#include "h2_test_client.h"

#include <chute/client.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "gateway.pb-c.h"

#define GW "/gateway_protocol.Gateway/"

typedef struct pfx {
    chuted_proc d;
    chute_client *client;
    int64_t pay_key; /* the definition of "grpc-pay" */
} pfx;

static const char pay_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<process id=\"grpc-pay\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>"
    "<serviceTask id=\"t\"><extensionElements><zeebe:taskDefinition type=\"grpc-pay\"/>"
    "</extensionElements></serviceTask>"
    "<sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/><endEvent id=\"e\"/>"
    "</process></definitions>";

static const char straight_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
    "<process id=\"grpc-straight\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"e\"/><endEvent id=\"e\"/>"
    "</process></definitions>";

static int setup(void **state)
{
    pfx *f = calloc(1, sizeof *f);
    if (!f || chuted_start(&f->d) != 0) {
        free(f);
        return -1;
    }
    chute_error err;
    if (chute_client_open(&f->client, f->d.address, NULL, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.message);
        chuted_cleanup(&f->d);
        free(f);
        return -1;
    }
    chute_client_resource res[2] = {
        {.name = "pay.bpmn", .content = (const uint8_t *)pay_xml, .len = sizeof pay_xml - 1},
        {.name = "straight.bpmn",
         .content = (const uint8_t *)straight_xml,
         .len = sizeof straight_xml - 1},
    };
    chute_deployment *dep;
    if (chute_client_deploy(f->client, res, 2, &dep, NULL, &err) != 0) {
        fprintf(stderr, "deploy: %s\n", err.message);
        chute_client_close(f->client);
        chuted_cleanup(&f->d);
        free(f);
        return -1;
    }
    f->pay_key = dep->processes[0].key;
    chute_deployment_free(dep);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    pfx *f = *state;
    if (f) {
        chute_client_close(f->client);
        chuted_cleanup(&f->d);
        free(f);
    }
    return 0;
}

/* A packed message (malloc'd). */
typedef struct packed {
    uint8_t *p;
    size_t n;
} packed;

static packed pack(const ProtobufCMessage *m)
{
    packed b = {NULL, protobuf_c_message_get_packed_size(m)};
    b.p = malloc(b.n ? b.n : 1);
    assert_non_null(b.p);
    protobuf_c_message_pack(m, b.p);
    return b;
}

/* Runs one call to the end on a connection of its own; the caller frees
 * |c| with h2tc_free. */
static h2tc_call *call_once(pfx *f, h2tc_client *c, const char *rpc, const ProtobufCMessage *m)
{
    char path[128];
    snprintf(path, sizeof path, GW "%s", rpc);
    packed b = pack(m);
    assert_int_equal(h2tc_connect(c, f->d.port, NULL), 0);
    h2tc_call *call = h2tc_start(c, path, b.p, b.n, NULL);
    free(b.p);
    assert_non_null(call);
    assert_int_equal(h2tc_run(c, 20000), 0);
    return call;
}

/* The one response message of |call|, unpacked with |desc|. */
static ProtobufCMessage *response(const h2tc_call *call, const ProtobufCMessageDescriptor *desc)
{
    const uint8_t *p;
    size_t n;
    if (call->grpc_status != 0)
        fail_msg("grpc-status %d: %s", call->grpc_status, call->grpc_message);
    assert_int_equal(h2tc_message(call, 0, &p, &n), 1);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, n, p);
    assert_non_null(m);
    return m;
}

/* Starts an instance of "grpc-pay"; returns its key. */
static int64_t create_pay(pfx *f, const char *vars)
{
    GatewayProtocol__CreateProcessInstanceRequest r =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    r.bpmnprocessid = (char *)"grpc-pay";
    r.version = -1;
    r.variables = (char *)(vars ? vars : "");
    r.tenantid = (char *)"<default>";
    h2tc_client c;
    h2tc_call *call = call_once(f, &c, "CreateProcessInstance", &r.base);
    GatewayProtocol__CreateProcessInstanceResponse *resp =
        (GatewayProtocol__CreateProcessInstanceResponse *)response(
            call, &gateway_protocol__create_process_instance_response__descriptor);
    assert_string_equal(resp->bpmnprocessid, "grpc-pay");
    assert_int_equal(resp->version, 1);
    assert_int_equal(resp->processdefinitionkey, f->pay_key);
    assert_string_equal(resp->tenantid, "<default>");
    int64_t key = resp->processinstancekey;
    assert_true(key > 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    h2tc_free(&c);
    return key;
}

/* Activates the jobs of "grpc-pay" and completes them with |vars|; returns
 * how many there were. */
static size_t complete_pay(pfx *f, const char *vars)
{
    chute_client_activate_request req = {.type = "grpc-pay",
                                         .worker = "grpc-test",
                                         .timeout_ms = 60000,
                                         .max_jobs = 10,
                                         .request_timeout_ms = -1};
    chute_job_list jobs;
    chute_error err;
    if (chute_client_activate_jobs(f->client, &req, &jobs, NULL, &err) != 0)
        fail_msg("ActivateJobs: %s", err.message);
    size_t n = jobs.count;
    for (size_t i = 0; i < n; i++)
        if (chute_client_complete_job(f->client, jobs.jobs[i]->key, vars, NULL, &err) != 0)
            fail_msg("CompleteJob: %s", err.message);
    chute_job_list_free(&jobs);
    return n;
}

static int cancel(pfx *f, int64_t key, char *msg, size_t cap)
{
    GatewayProtocol__CancelProcessInstanceRequest r =
        GATEWAY_PROTOCOL__CANCEL_PROCESS_INSTANCE_REQUEST__INIT;
    r.processinstancekey = key;
    h2tc_client c;
    h2tc_call *call = call_once(f, &c, "CancelProcessInstance", &r.base);
    int status = call->grpc_status;
    if (msg)
        snprintf(msg, cap, "%s", call->grpc_message);
    h2tc_free(&c);
    return status;
}

static void test_create_cancel_set_delete(void **state)
{
    pfx *f = *state;
    int64_t key = create_pay(f, "{\"a\":1}");

    /* By key, with no id. */
    GatewayProtocol__CreateProcessInstanceRequest r =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    r.processdefinitionkey = f->pay_key;
    h2tc_client c;
    h2tc_call *call = call_once(f, &c, "CreateProcessInstance", &r.base);
    GatewayProtocol__CreateProcessInstanceResponse *resp =
        (GatewayProtocol__CreateProcessInstanceResponse *)response(
            call, &gateway_protocol__create_process_instance_response__descriptor);
    assert_string_equal(resp->bpmnprocessid, "grpc-pay");
    int64_t key2 = resp->processinstancekey;
    assert_true(key2 != key);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    h2tc_free(&c);

    /* Unknown process: NOT_FOUND in Zeebe's words. */
    r.processdefinitionkey = 0;
    r.bpmnprocessid = (char *)"nope";
    r.version = -1;
    call = call_once(f, &c, "CreateProcessInstance", &r.base);
    assert_int_equal(call->grpc_status, 5);
    printf("# unknown process: %s\n", call->grpc_message);
    assert_non_null(strstr(call->grpc_message, "Expected to find process definition with process "
                                               "ID 'nope', but none found"));
    h2tc_free(&c);
    /* Variables that are not a JSON object: INVALID_ARGUMENT. */
    r.bpmnprocessid = (char *)"grpc-pay";
    r.variables = (char *)"[1]";
    call = call_once(f, &c, "CreateProcessInstance", &r.base);
    assert_int_equal(call->grpc_status, 3);
    h2tc_free(&c);
    r.variables = (char *)"{\"a\":";
    call = call_once(f, &c, "CreateProcessInstance", &r.base);
    assert_int_equal(call->grpc_status, 3);
    h2tc_free(&c);
    /* Neither an id nor a key. */
    GatewayProtocol__CreateProcessInstanceRequest empty =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    call = call_once(f, &c, "CreateProcessInstance", &empty.base);
    assert_int_equal(call->grpc_status, 3);
    assert_non_null(strstr(call->grpc_message, "Expected at least a bpmnProcessId or a key "
                                               "greater than -1, but none given"));
    h2tc_free(&c);

    /* SetVariables answers the key of the change. */
    GatewayProtocol__SetVariablesRequest sv = GATEWAY_PROTOCOL__SET_VARIABLES_REQUEST__INIT;
    sv.elementinstancekey = key;
    sv.variables = (char *)"{\"b\":2}";
    call = call_once(f, &c, "SetVariables", &sv.base);
    GatewayProtocol__SetVariablesResponse *svr = (GatewayProtocol__SetVariablesResponse *)response(
        call, &gateway_protocol__set_variables_response__descriptor);
    assert_true(svr->key > 0);
    protobuf_c_message_free_unpacked(&svr->base, NULL);
    h2tc_free(&c);
    sv.elementinstancekey = key + 100000;
    call = call_once(f, &c, "SetVariables", &sv.base);
    assert_int_equal(call->grpc_status, 5);
    h2tc_free(&c);

    /* The definition stays while instances of it run. */
    GatewayProtocol__DeleteResourceRequest del = GATEWAY_PROTOCOL__DELETE_RESOURCE_REQUEST__INIT;
    del.resourcekey = f->pay_key;
    call = call_once(f, &c, "DeleteResource", &del.base);
    assert_int_equal(call->grpc_status, 9);
    h2tc_free(&c);

    char msg[1024];
    assert_int_equal(cancel(f, key, NULL, 0), 0);
    assert_int_equal(cancel(f, key, msg, sizeof msg), 5);
    assert_int_equal(cancel(f, key2, NULL, 0), 0);
    /* The cancelled instances' jobs are gone. */
    assert_int_equal(complete_pay(f, NULL), 0);

    call = call_once(f, &c, "DeleteResource", &del.base);
    assert_int_equal(call->grpc_status, 0);
    assert_int_equal(h2tc_message(call, 0, NULL, NULL), 1); /* an empty response */
    h2tc_free(&c);
    call = call_once(f, &c, "DeleteResource", &del.base);
    assert_int_equal(call->grpc_status, 5);
    h2tc_free(&c);
}

static void test_with_result(void **state)
{
    pfx *f = *state;
    /* An instance that ends at once is answered at once. */
    GatewayProtocol__CreateProcessInstanceRequest inner =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    inner.bpmnprocessid = (char *)"grpc-straight";
    inner.version = -1;
    inner.variables = (char *)"{\"x\":1,\"y\":2}";
    GatewayProtocol__CreateProcessInstanceWithResultRequest r =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_WITH_RESULT_REQUEST__INIT;
    r.request = &inner;
    char *fetch[] = {(char *)"x"};
    r.fetchvariables = fetch;
    r.n_fetchvariables = 1;
    h2tc_client c;
    h2tc_call *call = call_once(f, &c, "CreateProcessInstanceWithResult", &r.base);
    GatewayProtocol__CreateProcessInstanceWithResultResponse *resp =
        (GatewayProtocol__CreateProcessInstanceWithResultResponse *)response(
            call, &gateway_protocol__create_process_instance_with_result_response__descriptor);
    assert_string_equal(resp->bpmnprocessid, "grpc-straight");
    assert_string_equal(resp->variables, "{\"x\":1}");
    assert_string_equal(resp->tenantid, "<default>");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    h2tc_free(&c);

    /* One that waits for a job: the answer comes when a worker completes
     * it, with the job's variables in the root scope. */
    inner.bpmnprocessid = (char *)"grpc-pay";
    inner.variables = (char *)"{\"a\":1}";
    r.fetchvariables = NULL;
    r.n_fetchvariables = 0;
    r.requesttimeout = 20000;
    packed b = pack(&r.base);
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    call = h2tc_start(&c, GW "CreateProcessInstanceWithResult", b.p, b.n, NULL);
    free(b.p);
    assert_int_equal(h2tc_run(&c, 300), -1); /* still waiting */
    assert_int_equal(complete_pay(f, "{\"paid\":true}"), 1);
    assert_int_equal(h2tc_run(&c, 20000), 0);
    resp = (GatewayProtocol__CreateProcessInstanceWithResultResponse *)response(
        call, &gateway_protocol__create_process_instance_with_result_response__descriptor);
    assert_non_null(strstr(resp->variables, "\"a\":1"));
    assert_non_null(strstr(resp->variables, "\"paid\":true"));
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    h2tc_free(&c);
}

static void test_with_result_timeout_and_reset(void **state)
{
    pfx *f = *state;
    GatewayProtocol__CreateProcessInstanceRequest inner =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    inner.bpmnprocessid = (char *)"grpc-pay";
    inner.version = -1;
    GatewayProtocol__CreateProcessInstanceWithResultRequest r =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_WITH_RESULT_REQUEST__INIT;
    r.request = &inner;
    r.requesttimeout = 300;
    h2tc_client c;
    h2tc_call *call = call_once(f, &c, "CreateProcessInstanceWithResult", &r.base);
    assert_int_equal(call->grpc_status, 4);
    printf("# await past requestTimeout: %s\n", call->grpc_message);
    assert_non_null(strstr(call->grpc_message, "requestTimeout of 300 ms"));
    assert_non_null(strstr(call->grpc_message, "keeps running"));
    h2tc_free(&c);
    /* It ran on: its job is there. */
    assert_int_equal(complete_pay(f, NULL), 1);

    /* A client that goes away while it waits. */
    r.requesttimeout = 60000;
    packed b = pack(&r.base);
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    call = h2tc_start(&c, GW "CreateProcessInstanceWithResult", b.p, b.n, NULL);
    free(b.p);
    assert_int_equal(h2tc_run(&c, 300), -1);
    assert_int_equal(h2tc_reset(&c, call), 0);
    assert_int_equal(h2tc_run(&c, 5000), 0);
    h2tc_free(&c);
    /* The instance's end now answers nobody; the daemon serves on. */
    assert_int_equal(complete_pay(f, NULL), 1);
    int64_t key = create_pay(f, NULL);
    assert_int_equal(cancel(f, key, NULL, 0), 0);

    /* A whole connection that closes while it waits. */
    b = pack(&r.base);
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    call = h2tc_start(&c, GW "CreateProcessInstanceWithResult", b.p, b.n, NULL);
    free(b.p);
    assert_int_equal(h2tc_run(&c, 300), -1);
    h2tc_free(&c);
    assert_int_equal(complete_pay(f, NULL), 1);
    key = create_pay(f, NULL);
    assert_int_equal(cancel(f, key, NULL, 0), 0);
}

static void test_with_result_cancelled(void **state)
{
    pfx *f = *state;
    GatewayProtocol__CreateProcessInstanceRequest inner =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    inner.bpmnprocessid = (char *)"grpc-pay";
    inner.version = -1;
    GatewayProtocol__CreateProcessInstanceWithResultRequest r =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_WITH_RESULT_REQUEST__INIT;
    r.request = &inner;
    r.requesttimeout = 20000;
    packed b = pack(&r.base);
    h2tc_client c;
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    h2tc_call *call = h2tc_start(&c, GW "CreateProcessInstanceWithResult", b.p, b.n, NULL);
    free(b.p);
    assert_int_equal(h2tc_run(&c, 300), -1);
    /* Its instance is the one whose job waits: cancel it through the job's
     * process fields. */
    chute_client_activate_request req = {.type = "grpc-pay",
                                         .worker = "grpc-test",
                                         .timeout_ms = 60000,
                                         .max_jobs = 1,
                                         .request_timeout_ms = -1};
    chute_job_list jobs;
    chute_error err;
    assert_int_equal(chute_client_activate_jobs(f->client, &req, &jobs, NULL, &err), 0);
    assert_int_equal(jobs.count, 1);
    int64_t key = jobs.jobs[0]->process_instance_key;
    chute_job_list_free(&jobs);
    assert_int_equal(cancel(f, key, NULL, 0), 0);
    assert_int_equal(h2tc_run(&c, 20000), 0);
    assert_int_equal(call->grpc_status, 9);
    printf("# awaited instance cancelled: %s\n", call->grpc_message);
    assert_non_null(strstr(call->grpc_message, "terminated"));
    h2tc_free(&c);
}

/* SIGTERM while a call waits: the call ends UNAVAILABLE, the instance is
 * left to the next start, and chuted exits 0 (a sanitizer report would
 * not). */
static void test_with_result_shutdown(void **state)
{
    pfx *f = *state;
    GatewayProtocol__CreateProcessInstanceRequest inner =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    inner.bpmnprocessid = (char *)"grpc-pay";
    inner.version = -1;
    GatewayProtocol__CreateProcessInstanceWithResultRequest r =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_WITH_RESULT_REQUEST__INIT;
    r.request = &inner;
    r.requesttimeout = 60000;
    packed b = pack(&r.base);
    h2tc_client c;
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    h2tc_call *call = h2tc_start(&c, GW "CreateProcessInstanceWithResult", b.p, b.n, NULL);
    free(b.p);
    assert_int_equal(h2tc_run(&c, 300), -1);
    assert_int_equal(kill(f->d.pid, SIGTERM), 0);
    int run = h2tc_run(&c, 10000);
    assert_true(run == 0 || run == -2);
    assert_int_equal(call->grpc_status, 14);
    h2tc_free(&c);
    int st = 0;
    assert_int_equal(waitpid(f->d.pid, &st, 0), f->d.pid);
    f->d.pid = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* After a restart the instance is still there, waiting for its job. */
    assert_int_equal(chuted_restart(&f->d), 0);
    chute_client_close(f->client);
    chute_error err;
    assert_int_equal(chute_client_open(&f->client, f->d.address, NULL, &err), 0);
    assert_int_equal(complete_pay(f, NULL), 1);
}

int main(void)
{
    if (!chuted_path()) {
        fprintf(stderr, "# SKIPPED: test_process_grpc needs chuted, which this tree did not "
                        "build\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_cancel_set_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_result_timeout_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_result_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_result_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
