/*
 * ZenBPM's JobStream (grpc.ZenBpm/JobStream) against a real chuted, with a
 * client written here: the raw HTTP/2 client of tests/support sends the
 * stream's messages one by one on an open request (h2tc_send) and reads
 * what the server pushes, and the messages are ZenBPM's, packed with the
 * code protoc-c made from proto/zenbpm.proto. Each test starts its own
 * chuted (temp dir, ephemeral port); the C client creates, reads and
 * deploys.
 *
 *   - subscribe: jobs created before and after the subscription arrive;
 *     a complete with variables completes the job (its result kept), a fail
 *     raises an incident, a fail with an error_code throws an error, a
 *     second completion is answered in the stream and the stream stays
 *     open; the worker of a job is the client_id, or a generated id;
 *   - a process: the pushed job carries its instance key, element id and
 *     the instance's variables; completing it with variables moves the
 *     instance to the next task, whose job carries them;
 *   - two clients on one type share its jobs round robin;
 *   - unsubscribe stops the jobs of a type; withdrawing a type the stream
 *     does not have is answered in the stream;
 *   - a client that stops reading stops getting jobs (the other client gets
 *     them), and when it goes away the jobs it held come back at once;
 *   - a client that read its jobs and goes away without settling them: they
 *     come back at once too, not after the 30 s lock;
 *   - bad messages (not protobuf, nothing set, no job_type, an unknown
 *     subscription type, an unknown key) are answered in the stream; a
 *     message over the size limit ends only its own stream;
 *   - a client that half-closes gets OK.
 *
 * When this tree has no chuted the test SKIPs (exit 77).
 */
#define _GNU_SOURCE /* memmem */
#include "chuted_fixture.h"
#include "h2_test_client.h"

#include <chute/client.h>

#include "gateway.pb-c.h"
#include "zenbpm.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define JOBSTREAM "/grpc.ZenBpm/JobStream"
#define WAIT_MS 10000

typedef struct fx {
    chuted_proc d;
    chute_client *client;
} fx;

static int start(void **state, const char *const *args)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || chuted_start_args(&f->d, args) != 0) {
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
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return start(state, NULL);
}

/* Stream credit 2: a client that stops reading holds few jobs. */
static const char *const slow_args[] = {"--stream-credit", "2", NULL};
static int setup_slow(void **state)
{
    return start(state, slow_args);
}

/* Stops chuted and fails when its log has a sanitizer report (in an ASan
 * build chuted checks itself for leaks as it exits). */
static int teardown(void **state)
{
    fx *f = *state;
    chute_client_close(f->client);
    chuted_stop(&f->d);
    int bad = 0;
    FILE *log = fopen(f->d.log, "r");
    char line[1024];
    while (log && fgets(line, sizeof line, log)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:")) {
            fprintf(stderr, "chuted: %s", line);
            bad = 1;
        }
    }
    if (log)
        fclose(log);
    chuted_cleanup(&f->d);
    free(f);
    return bad ? -1 : 0;
}

/* ---- the client's messages ------------------------------------------------------- */

static void send_request(h2tc_client *c, h2tc_call *call, Grpc__JobStreamRequest *r)
{
    size_t n = protobuf_c_message_get_packed_size(&r->base);
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    protobuf_c_message_pack(&r->base, b);
    assert_int_equal(h2tc_send(c, call, b, n), 0);
    free(b);
}

static void subscription(h2tc_client *c, h2tc_call *call, const char *type, int kind)
{
    Grpc__StreamSubscriptionRequest s = GRPC__STREAM_SUBSCRIPTION_REQUEST__INIT;
    Grpc__JobStreamRequest r = GRPC__JOB_STREAM_REQUEST__INIT;
    s.job_type = (char *)type;
    s.type = (Grpc__StreamSubscriptionRequest__Type)kind;
    r.request_case = GRPC__JOB_STREAM_REQUEST__REQUEST_SUBSCRIPTION;
    r.subscription = &s;
    send_request(c, call, &r);
}

static void subscribe(h2tc_client *c, h2tc_call *call, const char *type)
{
    subscription(c, call, type, GRPC__STREAM_SUBSCRIPTION_REQUEST__TYPE__TYPE_SUBSCRIBE);
}

static void complete(h2tc_client *c, h2tc_call *call, int64_t key, const char *vars)
{
    Grpc__JobCompleteRequest m = GRPC__JOB_COMPLETE_REQUEST__INIT;
    Grpc__JobStreamRequest r = GRPC__JOB_STREAM_REQUEST__INIT;
    m.key = key;
    m.variables.data = (uint8_t *)vars;
    m.variables.len = vars ? strlen(vars) : 0;
    r.request_case = GRPC__JOB_STREAM_REQUEST__REQUEST_COMPLETE;
    r.complete = &m;
    send_request(c, call, &r);
}

static void fail_job(h2tc_client *c, h2tc_call *call, int64_t key, const char *msg,
                     const char *code)
{
    Grpc__JobFailRequest m = GRPC__JOB_FAIL_REQUEST__INIT;
    Grpc__JobStreamRequest r = GRPC__JOB_STREAM_REQUEST__INIT;
    m.key = key;
    m.message = (char *)msg;
    m.error_code = (char *)(code ? code : "");
    r.request_case = GRPC__JOB_STREAM_REQUEST__REQUEST_FAIL;
    r.fail = &m;
    send_request(c, call, &r);
}

/* Opens a JobStream, with client_id |id| unless it is NULL. */
static h2tc_call *open_stream(h2tc_client *c, const char *id)
{
    h2tc_request rq = {.hold = 1, .hname = id ? "client_id" : NULL, .hvalue = id};
    h2tc_call *call = h2tc_start_raw(c, JOBSTREAM, NULL, 0, &rq);
    assert_non_null(call);
    return call;
}

/* ---- what the server sent ------------------------------------------------------- */

/* Response |i| of |call|, unpacked (free with ..._free_unpacked). */
static Grpc__JobStreamResponse *response(const h2tc_call *call, int i)
{
    const uint8_t *p;
    size_t n;
    assert_true(h2tc_message(call, i, &p, &n) > i);
    Grpc__JobStreamResponse *r = grpc__job_stream_response__unpack(NULL, n, p);
    assert_non_null(r);
    return r;
}

typedef struct want {
    const h2tc_call *call;
    int n;
} want;

static int has_messages(void *ud)
{
    want *w = ud;
    return h2tc_message(w->call, -1, NULL, NULL) >= w->n || w->call->closed;
}

/* Reads until |call| has |n| messages; fails the test otherwise. */
static void wait_messages(h2tc_client *c, const h2tc_call *call, int n)
{
    want w = {call, n};
    int rc = h2tc_wait(c, has_messages, &w, WAIT_MS);
    if (rc != 0 || h2tc_message(call, -1, NULL, NULL) < n)
        fail_msg("expected %d messages on stream %d, got %d (wait %d, closed %d, status %d %s)", n,
                 call->id, h2tc_message(call, -1, NULL, NULL), rc, call->closed, call->grpc_status,
                 call->grpc_message);
}

static int count(const h2tc_call *call)
{
    return h2tc_message(call, -1, NULL, NULL);
}

/* The key of the job pushed as message |i| (0 when it is an error). */
static int64_t job_at(const h2tc_call *call, int i)
{
    Grpc__JobStreamResponse *r = response(call, i);
    int64_t key = r->error ? 0 : r->job ? r->job->key : 0;
    grpc__job_stream_response__free_unpacked(r, NULL);
    return key;
}

/* Message |i| must be an error with |code| about |key|, its message
 * containing |part|. */
static void assert_error_at(const h2tc_call *call, int i, uint32_t code, int64_t key,
                            const char *part)
{
    Grpc__JobStreamResponse *r = response(call, i);
    assert_non_null(r->error);
    if (r->error->code != code || !strstr(r->error->message, part))
        fail_msg("error %u '%s', expected %u with '%s'", r->error->code, r->error->message, code,
                 part);
    if (key)
        assert_true(r->job && r->job->key == key);
    else
        assert_true(!r->job || r->job->key == 0);
    grpc__job_stream_response__free_unpacked(r, NULL);
}

/* ---- the C client's side ------------------------------------------------------------ */

static int64_t create(fx *f, const char *type, const char *vars)
{
    chute_client_job_spec spec = {.type = type, .variables = vars};
    int64_t key = 0;
    chute_error err;
    if (chute_client_create_job(f->client, &spec, &key, NULL, &err) != 0)
        fail_msg("create: %s", err.message);
    return key;
}

static chute_job_info *get(fx *f, int64_t key)
{
    chute_job_info *info = NULL;
    chute_error err;
    if (chute_client_get_job(f->client, key, &info, NULL, &err) != 0)
        fail_msg("get %lld: %s", (long long)key, err.message);
    return info;
}

static void assert_state(fx *f, int64_t key, const char *state)
{
    chute_job_info *info = get(f, key);
    if (strcmp(info->state, state) != 0)
        fail_msg("job %lld is %s, expected %s", (long long)key, info->state, state);
    chute_job_info_free(info);
}

/* Waits (reading |c|) until job |key| is in |state|. */
static void wait_state(fx *f, h2tc_client *c, int64_t key, const char *state)
{
    for (int i = 0; i < 100; i++) {
        chute_job_info *info = get(f, key);
        int ok = strcmp(info->state, state) == 0;
        chute_job_info_free(info);
        if (ok)
            return;
        h2tc_pump(c, 50);
    }
    assert_state(f, key, state);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_subscribe_complete_fail(void **state)
{
    fx *f = *state;
    int64_t before = create(f, "zen-a", "{\"n\":1}");
    h2tc_client c;
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    h2tc_call *s = open_stream(&c, "worker-1");
    subscribe(&c, s, "zen-a");
    subscribe(&c, s, "zen-a"); /* a repeat changes nothing */
    wait_messages(&c, s, 1);
    Grpc__JobStreamResponse *r = response(s, 0);
    assert_null(r->error);
    assert_non_null(r->job);
    assert_true(r->job->key == before);
    assert_string_equal(r->job->type, "zen-a");
    assert_true(r->job->created_at > 0);
    assert_true(r->job->input_variables.len > 0 &&
                memmem(r->job->input_variables.data, r->job->input_variables.len, "\"n\"", 3));
    grpc__job_stream_response__free_unpacked(r, NULL);

    int64_t after = create(f, "zen-a", NULL);
    int64_t thrown = create(f, "zen-a", NULL);
    wait_messages(&c, s, 3);
    assert_true(job_at(s, 1) == after);
    assert_true(job_at(s, 2) == thrown);
    chute_job_info *info = get(f, after);
    assert_string_equal(info->state, "ACTIVATED");
    assert_string_equal(info->worker, "worker-1");
    /* Locked for ZenBPM's 30 s. */
    assert_true(info->deadline - info->created_at > 25000);
    chute_job_info_free(info);

    complete(&c, s, before, "{\"result\":42}");
    fail_job(&c, s, after, "it broke", NULL);
    fail_job(&c, s, thrown, "not in stock", "OUT_OF_STOCK");
    wait_state(f, &c, before, "COMPLETED");
    info = get(f, before);
    assert_non_null(strstr(info->variables, "\"result\":42"));
    chute_job_info_free(info);
    wait_state(f, &c, after, "INCIDENT");
    info = get(f, after);
    assert_string_equal(info->error_message, "it broke");
    assert_int_equal(info->retries, 0);
    assert_true(info->incident_key != 0);
    chute_job_info_free(info);
    wait_state(f, &c, thrown, "ERROR_THROWN");
    info = get(f, thrown);
    assert_string_equal(info->error_code, "OUT_OF_STOCK");
    chute_job_info_free(info);

    /* A second completion cannot be applied: answered in the stream, which
     * stays open and keeps delivering. */
    complete(&c, s, before, NULL);
    wait_messages(&c, s, 4);
    assert_error_at(s, 3, 5 /* NOT_FOUND */, before, "");
    int64_t later = create(f, "zen-a", NULL);
    wait_messages(&c, s, 5);
    assert_true(job_at(s, 4) == later);
    assert_false(s->closed);

    /* Half-closing ends the call with OK. */
    assert_int_equal(h2tc_end(&c, s), 0);
    assert_int_equal(h2tc_run(&c, WAIT_MS), 0);
    assert_int_equal(s->grpc_status, 0);
    h2tc_free(&c);
    /* The job it held and did not settle came back at once. */
    assert_state(f, later, "ACTIVATABLE");

    /* Without a client_id the server names the client. */
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    s = open_stream(&c, NULL);
    subscribe(&c, s, "zen-a");
    wait_messages(&c, s, 1);
    assert_true(job_at(s, 0) == later);
    info = get(f, later);
    assert_true(strncmp(info->worker, "zen-", 4) == 0);
    chute_job_info_free(info);
    h2tc_free(&c);
}

#define NS                                                                                         \
    "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                                  \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\""
#define TASK(id, type)                                                                             \
    "<bpmn:serviceTask id=\"" id "\"><bpmn:extensionElements><zeebe:taskDefinition type=\"" type   \
    "\"/></bpmn:extensionElements></bpmn:serviceTask>"
#define FLOW(id, from, to)                                                                         \
    "<bpmn:sequenceFlow id=\"" id "\" sourceRef=\"" from "\" targetRef=\"" to "\"/>"

static const char two_tasks[] =
    "<bpmn:definitions " NS " id=\"d\"><bpmn:process id=\"zen-p\" isExecutable=\"true\">"
    "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "pick") TASK("pick", "zen-pick")
        FLOW("f1", "pick", "ship") TASK("ship", "zen-ship")
            FLOW("f2", "ship", "e") "<bpmn:endEvent id=\"e\"/></bpmn:process></bpmn:definitions>";

/* CreateProcessInstance over gRPC (the C client has no call for it). */
static int64_t create_instance(fx *f, const char *vars)
{
    GatewayProtocol__CreateProcessInstanceRequest rq =
        GATEWAY_PROTOCOL__CREATE_PROCESS_INSTANCE_REQUEST__INIT;
    rq.bpmnprocessid = "zen-p";
    rq.version = -1;
    rq.variables = (char *)vars;
    uint8_t buf[512];
    size_t n = protobuf_c_message_pack(&rq.base, buf);
    h2tc_client c;
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    h2tc_call *call =
        h2tc_start(&c, "/gateway_protocol.Gateway/CreateProcessInstance", buf, n, NULL);
    assert_int_equal(h2tc_run(&c, WAIT_MS), 0);
    assert_int_equal(call->grpc_status, 0);
    const uint8_t *p;
    size_t len;
    assert_int_equal(h2tc_message(call, 0, &p, &len), 1);
    GatewayProtocol__CreateProcessInstanceResponse *r =
        gateway_protocol__create_process_instance_response__unpack(NULL, len, p);
    assert_non_null(r);
    int64_t key = r->processinstancekey;
    gateway_protocol__create_process_instance_response__free_unpacked(r, NULL);
    h2tc_free(&c);
    return key;
}

static void test_process_jobs(void **state)
{
    fx *f = *state;
    chute_client_resource res = {"zen.bpmn", (const uint8_t *)two_tasks, strlen(two_tasks)};
    chute_deployment *dep = NULL;
    chute_error err;
    if (chute_client_deploy(f->client, &res, 1, &dep, NULL, &err) != 0)
        fail_msg("deploy: %s", err.message);
    chute_deployment_free(dep);

    h2tc_client c;
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    h2tc_call *s = open_stream(&c, "picker");
    subscribe(&c, s, "zen-pick"); /* one stream, several types */
    subscribe(&c, s, "zen-ship");
    int64_t pi = create_instance(f, "{\"order\":7}");
    wait_messages(&c, s, 1);
    Grpc__JobStreamResponse *r = response(s, 0);
    assert_non_null(r->job);
    assert_true(r->job->instance_key == pi);
    assert_string_equal(r->job->element_id, "pick");
    assert_string_equal(r->job->type, "zen-pick");
    assert_non_null(
        memmem(r->job->input_variables.data, r->job->input_variables.len, "\"order\":7", 9));
    int64_t pick = r->job->key;
    grpc__job_stream_response__free_unpacked(r, NULL);

    complete(&c, s, pick, "{\"box\":\"large\"}");
    wait_messages(&c, s, 2);
    r = response(s, 1);
    assert_non_null(r->job);
    assert_true(r->job->instance_key == pi);
    assert_string_equal(r->job->element_id, "ship");
    assert_non_null(
        memmem(r->job->input_variables.data, r->job->input_variables.len, "\"box\":\"large\"", 13));
    int64_t ship = r->job->key;
    grpc__job_stream_response__free_unpacked(r, NULL);

    /* A fail without an error code: an incident on the process's job. */
    fail_job(&c, s, ship, "no truck", NULL);
    wait_state(f, &c, ship, "INCIDENT");
    chute_incident_list incidents;
    if (chute_client_list_incidents(f->client, "zen-ship", 0, &incidents, NULL, &err) != 0)
        fail_msg("incidents: %s", err.message);
    assert_int_equal(incidents.count, 1);
    assert_true(incidents.items[0].job_key == ship);
    assert_string_equal(incidents.items[0].type, "JOB_NO_RETRIES");
    chute_incident_list_free(&incidents);
    h2tc_free(&c);
}

static void test_round_robin(void **state)
{
    fx *f = *state;
    h2tc_client a, b;
    assert_int_equal(h2tc_connect(&a, f->d.port, NULL), 0);
    assert_int_equal(h2tc_connect(&b, f->d.port, NULL), 0);
    h2tc_call *sa = open_stream(&a, "client-a");
    h2tc_call *sb = open_stream(&b, "client-b");
    subscribe(&a, sa, "zen-rr");
    subscribe(&b, sb, "zen-rr");
    h2tc_flush(&a);
    h2tc_flush(&b);
    h2tc_pump(&a, 200);
    h2tc_pump(&b, 200);
    int64_t keys[10];
    for (int i = 0; i < 10; i++)
        keys[i] = create(f, "zen-rr", NULL);
    for (int i = 0; i < 100 && count(sa) + count(sb) < 10; i++) {
        h2tc_pump(&a, 20);
        h2tc_pump(&b, 20);
    }
    assert_int_equal(count(sa) + count(sb), 10);
    /* Round robin: every other job. */
    assert_int_equal(count(sa), 5);
    assert_int_equal(count(sb), 5);
    for (int i = 0; i < count(sa); i++) {
        chute_job_info *info = get(f, job_at(sa, i));
        assert_string_equal(info->worker, "client-a");
        chute_job_info_free(info);
    }
    for (int i = 0; i < count(sb); i++) {
        chute_job_info *info = get(f, job_at(sb, i));
        assert_string_equal(info->worker, "client-b");
        chute_job_info_free(info);
    }
    (void)keys;
    h2tc_free(&a);
    h2tc_free(&b);
}

static void test_unsubscribe(void **state)
{
    fx *f = *state;
    h2tc_client c;
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    h2tc_call *s = open_stream(&c, "leaver");
    subscribe(&c, s, "zen-u");
    subscribe(&c, s, "zen-v");
    int64_t first = create(f, "zen-u", NULL);
    wait_messages(&c, s, 1);
    assert_true(job_at(s, 0) == first);
    subscription(&c, s, "zen-u", GRPC__STREAM_SUBSCRIPTION_REQUEST__TYPE__TYPE_UNSUBSCRIBE);
    h2tc_pump(&c, 200);
    int64_t left = create(f, "zen-u", NULL);
    int64_t other = create(f, "zen-v", NULL);
    wait_messages(&c, s, 2);
    assert_true(job_at(s, 1) == other); /* zen-v still comes, zen-u no more */
    h2tc_pump(&c, 500);
    assert_int_equal(count(s), 2);
    assert_state(f, left, "ACTIVATABLE");
    /* Withdrawing a type the stream does not have: answered in the stream. */
    subscription(&c, s, "zen-u", GRPC__STREAM_SUBSCRIPTION_REQUEST__TYPE__TYPE_UNSUBSCRIBE);
    wait_messages(&c, s, 3);
    assert_error_at(s, 2, 5, 0, "not subscribed");
    /* And back again: the backlog comes. */
    subscribe(&c, s, "zen-u");
    wait_messages(&c, s, 4);
    assert_true(job_at(s, 3) == left);
    h2tc_free(&c);
}

static void test_slow_reader_and_disconnect(void **state)
{
    fx *f = *state;
    /* The slow client reads frames but gives no window back: once the
     * little window it announced and its credit of 2 are spent, it gets
     * nothing more. */
    h2tc_options slow_o = {.initial_window = 64, .manual_window = 1};
    h2tc_client slow, fast;
    assert_int_equal(h2tc_connect(&slow, f->d.port, &slow_o), 0);
    assert_int_equal(h2tc_connect(&fast, f->d.port, NULL), 0);
    h2tc_call *ss = open_stream(&slow, "slow");
    subscribe(&slow, ss, "zen-slow");
    h2tc_flush(&slow);
    h2tc_pump(&slow, 300);
    enum { N = 20 };
    for (int i = 0; i < N; i++)
        create(f, "zen-slow", NULL);
    h2tc_pump(&slow, 300);
    /* The fast client joins; the jobs the slow one cannot take go to it. */
    h2tc_call *sf = open_stream(&fast, "fast");
    subscribe(&fast, sf, "zen-slow");
    for (int i = 0; i < 100 && count(sf) < N - 6; i++) {
        h2tc_pump(&fast, 20);
        h2tc_pump(&slow, 5);
    }
    int held = N - count(sf);
    assert_true(count(sf) >= N - 6);
    assert_true(held >= 1); /* the slow client holds some: credit and window */
    assert_true(count(ss) <= held);
    /* The slow client goes away: what it held (queued for it or received)
     * comes back at once and goes to the fast one, long before the lock
     * of 30 s runs out. */
    h2tc_free(&slow);
    wait_messages(&fast, sf, N);
    assert_int_equal(count(sf), N);
    h2tc_free(&fast);
}

static void test_disconnect_returns_read_jobs(void **state)
{
    fx *f = *state;
    h2tc_client d, e;
    assert_int_equal(h2tc_connect(&d, f->d.port, NULL), 0);
    h2tc_call *sd = open_stream(&d, "dropper");
    subscribe(&d, sd, "zen-drop");
    int64_t k[3];
    for (int i = 0; i < 3; i++)
        k[i] = create(f, "zen-drop", NULL);
    wait_messages(&d, sd, 3);
    for (int i = 0; i < 3; i++)
        assert_state(f, k[i], "ACTIVATED");
    /* It read them, settles none and goes away. */
    h2tc_free(&d);
    assert_int_equal(h2tc_connect(&e, f->d.port, NULL), 0);
    h2tc_call *se = open_stream(&e, "taker");
    subscribe(&e, se, "zen-drop");
    wait_messages(&e, se, 3);
    for (int i = 0; i < 3; i++) {
        chute_job_info *info = get(f, job_at(se, i));
        assert_string_equal(info->worker, "taker");
        chute_job_info_free(info);
    }
    h2tc_free(&e);
}

static void test_bad_messages(void **state)
{
    fx *f = *state;
    h2tc_client c, other;
    assert_int_equal(h2tc_connect(&c, f->d.port, NULL), 0);
    assert_int_equal(h2tc_connect(&other, f->d.port, NULL), 0);
    h2tc_call *bad = open_stream(&c, "bad");
    h2tc_call *good = open_stream(&c, "good"); /* same connection */
    h2tc_call *far = open_stream(&other, "far");
    subscribe(&c, good, "zen-ok");
    subscribe(&other, far, "zen-far");

    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    assert_int_equal(h2tc_send(&c, bad, garbage, sizeof garbage), 0);
    assert_int_equal(h2tc_send(&c, bad, NULL, 0), 0); /* nothing set */
    subscription(&c, bad, "", GRPC__STREAM_SUBSCRIPTION_REQUEST__TYPE__TYPE_SUBSCRIBE);
    subscription(&c, bad, "zen-x", GRPC__STREAM_SUBSCRIPTION_REQUEST__TYPE__TYPE_UNDEFINED);
    complete(&c, bad, 123456789, NULL);
    wait_messages(&c, bad, 5);
    assert_error_at(bad, 0, 3, 0, "could not be decoded");
    assert_error_at(bad, 1, 3, 0, "none is set");
    assert_error_at(bad, 2, 3, 0, "job_type");
    assert_error_at(bad, 3, 3, 0, "TYPE_SUBSCRIBE");
    assert_error_at(bad, 4, 5, 123456789, "");
    assert_false(bad->closed);

    /* A message over the size limit ends its own stream only. */
    h2tc_call *huge = open_stream(&c, "huge");
    uint8_t prefix[5];
    h2tc_frame_prefix(prefix, 0, 100u << 20);
    assert_int_equal(h2tc_send_raw(&c, huge, prefix, sizeof prefix), 0);
    want w = {huge, 1 << 30};
    assert_int_equal(h2tc_wait(&c, has_messages, &w, WAIT_MS), 0);
    assert_int_equal(huge->grpc_status, 8 /* RESOURCE_EXHAUSTED */);

    int64_t k1 = create(f, "zen-ok", NULL);
    int64_t k2 = create(f, "zen-far", NULL);
    wait_messages(&c, good, 1);
    wait_messages(&other, far, 1);
    assert_true(job_at(good, 0) == k1);
    assert_true(job_at(far, 0) == k2);
    /* The bad stream still works too. */
    subscribe(&c, bad, "zen-ok");
    int64_t k3 = create(f, "zen-ok", NULL);
    for (int i = 0; i < 100 && count(bad) + count(good) < 7; i++)
        h2tc_pump(&c, 20);
    assert_int_equal(count(bad) + count(good), 7);
    (void)k3;
    h2tc_free(&c);
    h2tc_free(&other);
}

int main(void)
{
    if (!chuted_path()) {
        fprintf(stderr, "# SKIPPED: test_zenbpm_stream needs chuted, which this tree did not "
                        "build\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe_complete_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_and_disconnect, setup_slow, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_returns_read_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
    };
    return cmocka_run_group_tests_name("zenbpm_stream", tests, NULL, NULL);
}
