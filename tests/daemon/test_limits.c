/*
 * chuted's load limits over gRPC, against a real daemon started per test
 * (temp dir, ephemeral port) with the limit under test:
 *
 *   --max-jobs 3: the C client's CreateJob and CreateJobs get
 *     RESOURCE_EXHAUSTED (CHUTE_EBUSY) with the server's message, a refused
 *     batch creates nothing, and a completed job makes room again.
 *   --max-inflight 4: 200 CreateJob calls and 20 CompleteJob calls go out in
 *     one write on one HTTP/2 connection (a raw nghttp2 client, so that they
 *     arrive in one read and wait for one commit): some creates are refused
 *     with gRPC status 8, the others succeed, every complete succeeds (a
 *     worker settling jobs is never refused for load), and the jobs that
 *     exist afterwards are exactly those whose creates were answered OK.
 *
 * When this tree has no chuted the test SKIPs (exit 77).
 */
#include "chuted_fixture.h"

#include <chute/client.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct limits_fx {
    chuted_proc d;
    chute_client *client;
} limits_fx;

static int start(void **state, const char *const *args)
{
    limits_fx *f = calloc(1, sizeof *f);
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

static const char *const max_jobs_args[] = {"--max-jobs", "3", NULL};
static const char *const max_inflight_args[] = {"--max-inflight", "4", NULL};

static int setup_max_jobs(void **state)
{
    return start(state, max_jobs_args);
}

static int setup_max_inflight(void **state)
{
    return start(state, max_inflight_args);
}

static int teardown(void **state)
{
    limits_fx *f = *state;
    if (f) {
        chute_client_close(f->client);
        chuted_cleanup(&f->d);
        free(f);
    }
    return 0;
}

/* Activates (no long poll) up to |max| jobs of |type|, completes them if
 * |complete|, and returns how many there were; their keys go to |keys|. */
static size_t take_all(chute_client *c, const char *type, int32_t max, int complete, int64_t *keys)
{
    chute_client_activate_request req = {.type = type,
                                         .worker = "limits",
                                         .timeout_ms = 60000,
                                         .max_jobs = max,
                                         .request_timeout_ms = -1};
    chute_job_list jobs;
    chute_error err;
    int rc = chute_client_activate_jobs(c, &req, &jobs, NULL, &err);
    if (rc != 0)
        fail_msg("ActivateJobs: %s", err.message);
    size_t n = jobs.count;
    for (size_t i = 0; i < n; i++) {
        if (keys)
            keys[i] = jobs.jobs[i]->key;
        if (complete && chute_client_complete_job(c, jobs.jobs[i]->key, NULL, NULL, &err) != 0)
            fail_msg("CompleteJob: %s", err.message);
    }
    chute_job_list_free(&jobs);
    return n;
}

/* ---- --max-jobs through the C client ----------------------------------------- */

static void test_max_jobs(void **state)
{
    limits_fx *f = *state;
    chute_error err;
    chute_client_job_spec spec = {.type = "lim"};
    int64_t key;
    for (int i = 0; i < 3; i++)
        assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), 0);

    /* The fourth: RESOURCE_EXHAUSTED (the client's CHUTE_EBUSY) with what
     * the limit is and what to do. */
    memset(&err, 0, sizeof err);
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), CHUTE_EBUSY);
    assert_int_equal(err.code, CHUTE_EBUSY);
    printf("# CreateJob over --max-jobs: %s\n", err.message);
    assert_non_null(strstr(err.message, "the broker holds 3 jobs and its limit is 3"));
    assert_non_null(strstr(err.message, "complete or cancel jobs, or raise the limit"));

    /* Completing one makes room for one; a batch of two does not fit and
     * creates nothing. */
    int64_t done;
    assert_int_equal(take_all(f->client, "lim", 1, 1, &done), 1);
    chute_client_job_spec two[2] = {{.type = "lim"}, {.type = "lim"}};
    int64_t keys[2];
    memset(&err, 0, sizeof err);
    assert_int_equal(chute_client_create_jobs(f->client, two, 2, keys, NULL, &err), CHUTE_EBUSY);
    printf("# CreateJobs over --max-jobs: %s\n", err.message);
    assert_non_null(strstr(err.message, "job 1 of the batch"));
    assert_non_null(strstr(err.message, "Expected to create 2 jobs, but the broker holds 2 jobs"));
    assert_int_equal(take_all(f->client, "lim", 100, 0, NULL), 2);

    /* The room is there for exactly one job. */
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), 0);
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), CHUTE_EBUSY);

    /* Everything else is still served at the limit. */
    chute_job_info *info = NULL;
    assert_int_equal(chute_client_get_job(f->client, done, &info, NULL, &err), 0);
    assert_string_equal(info->state, "COMPLETED");
    chute_job_info_free(info);
}

/* ---- --max-inflight: a raw burst on one connection -------------------------------- */

#define BURST_CREATES 200
#define BURST_COMPLETES 20
#define BURST_CALLS (BURST_CREATES + BURST_COMPLETES)

typedef struct rcall {
    int32_t id;
    uint8_t body[32];
    size_t body_len, body_off;
    int grpc_status; /* -1 until seen */
    char grpc_message[512];
    uint8_t data[64]; /* the response message (small: a key or nothing) */
    size_t data_len;
    int closed;
} rcall;

typedef struct rclient {
    nghttp2_session *sess;
    int fd;
    rcall calls[BURST_CALLS];
    int ncalls, nclosed;
} rclient;

static rcall *call_of(rclient *c, int32_t id)
{
    for (int i = 0; i < c->ncalls; i++)
        if (c->calls[i].id == id)
            return &c->calls[i];
    return NULL;
}

static int rc_on_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    (void)s;
    (void)flags;
    rcall *call = call_of(ud, fr->hd.stream_id);
    if (!call)
        return 0;
    if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        call->grpc_status = atoi((const char *)value);
    else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
        snprintf(call->grpc_message, sizeof call->grpc_message, "%.*s", (int)valuelen,
                 (const char *)value);
    return 0;
}

static int rc_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                      size_t len, void *ud)
{
    (void)s;
    (void)flags;
    rcall *call = call_of(ud, id);
    if (call && call->data_len + len <= sizeof call->data) {
        memcpy(call->data + call->data_len, data, len);
        call->data_len += len;
    }
    return 0;
}

static int rc_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    (void)code;
    rclient *c = ud;
    rcall *call = call_of(c, id);
    if (call && !call->closed) {
        call->closed = 1;
        c->nclosed++;
    }
    return 0;
}

static ssize_t rc_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                       nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    rcall *call = src->ptr;
    size_t n = call->body_len - call->body_off;
    if (n > length)
        n = length;
    memcpy(buf, call->body + call->body_off, n);
    call->body_off += n;
    if (call->body_off == call->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void put_varint(uint8_t *p, size_t *len, uint64_t v)
{
    while (v >= 0x80) {
        p[(*len)++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[(*len)++] = (uint8_t)v;
}

/* Queues one unary call carrying |msg| (protobuf), framed for gRPC. */
static void rc_submit(rclient *c, const char *path, const uint8_t *msg, size_t len)
{
    assert_true(c->ncalls < BURST_CALLS && len + 5 <= sizeof c->calls[0].body);
    rcall *call = &c->calls[c->ncalls++];
    memset(call, 0, sizeof *call);
    call->grpc_status = -1;
    call->body[0] = 0;
    call->body[1] = call->body[2] = call->body[3] = 0;
    call->body[4] = (uint8_t)len;
    memcpy(call->body + 5, msg, len);
    call->body_len = len + 5;
    nghttp2_nv nva[6];
    size_t n = 0;
#define NV(a, b)                                                                                   \
    nva[n++] =                                                                                     \
        (nghttp2_nv){(uint8_t *)(a), (uint8_t *)(b), strlen(a), strlen(b), NGHTTP2_NV_FLAG_NONE}
    NV(":method", "POST");
    NV(":scheme", "http");
    NV(":authority", "127.0.0.1");
    NV(":path", path);
    NV("content-type", "application/grpc");
    NV("te", "trailers");
#undef NV
    nghttp2_data_provider dp = {.source.ptr = call, .read_callback = rc_body};
    call->id = nghttp2_submit_request(c->sess, NULL, nva, n, &dp, call);
    assert_true(call->id > 0);
}

/* Everything nghttp2 has to send, in one write. */
static void rc_send_all(rclient *c)
{
    size_t cap = 1 << 20, len = 0;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->sess, &data);
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_true(len + (size_t)n <= cap);
        memcpy(out + len, data, (size_t)n);
        len += (size_t)n;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(c->fd, out + off, len - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    free(out);
}

static void rc_open(rclient *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    nghttp2_session_callbacks *cb;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, rc_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, rc_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, rc_on_close);
    assert_int_equal(nghttp2_session_client_new(&c->sess, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    assert_int_equal(nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 1), 0);
}

/* Reads and answers (SETTINGS ack, window updates) until every call closed
 * or 20 s passed. */
static void rc_run(rclient *c)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint8_t buf[65536];
    while (c->nclosed < c->ncalls) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20)
            fail_msg("only %d of %d calls ended within 20 s", c->nclosed, c->ncalls);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(c->fd, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(nghttp2_session_mem_recv(c->sess, buf, (size_t)n), n);
        rc_send_all(c);
    }
}

static void rc_close(rclient *c)
{
    nghttp2_session_del(c->sess);
    close(c->fd);
}

/* The key in a framed CreateJobResponse (field 1, varint). */
static int64_t response_key(const rcall *call)
{
    assert_true(call->data_len >= 7 && call->data[5] == 0x08);
    uint64_t v = 0;
    for (size_t i = 6, shift = 0; i < call->data_len && shift < 64; i++, shift += 7) {
        v |= (uint64_t)(call->data[i] & 0x7f) << shift;
        if (!(call->data[i] & 0x80))
            break;
    }
    return (int64_t)v;
}

static int has_key(const int64_t *keys, size_t n, int64_t k)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i] == k)
            return 1;
    return 0;
}

static void test_max_inflight_burst(void **state)
{
    limits_fx *f = *state;
    chute_error err;

    /* Jobs a worker holds, to settle inside the burst. */
    chute_client_job_spec specs[BURST_COMPLETES];
    int64_t held[BURST_COMPLETES];
    for (int i = 0; i < BURST_COMPLETES; i++)
        specs[i] = (chute_client_job_spec){.type = "held"};
    assert_int_equal(chute_client_create_jobs(f->client, specs, BURST_COMPLETES, held, NULL, &err),
                     0);
    assert_int_equal(take_all(f->client, "held", 100, 0, NULL), BURST_COMPLETES);

    rclient c;
    rc_open(&c, f->d.port);
    static const uint8_t create[] = {0x0a, 5, 'b', 'u', 'r', 's', 't'};
    for (int i = 0; i < BURST_CREATES; i++)
        rc_submit(&c, "/chute.v1.Chute/CreateJob", create, sizeof create);
    /* The completes come last, when the commit's list is long full. */
    for (int i = 0; i < BURST_COMPLETES; i++) {
        uint8_t m[16] = {0x08};
        size_t len = 1;
        put_varint(m, &len, (uint64_t)held[i]);
        rc_submit(&c, "/gateway_protocol.Gateway/CompleteJob", m, len);
    }
    rc_send_all(&c);
    rc_run(&c);

    int ok = 0, exhausted = 0;
    int64_t ok_keys[BURST_CREATES];
    for (int i = 0; i < BURST_CREATES; i++) {
        rcall *call = &c.calls[i];
        if (call->grpc_status == 0) {
            ok_keys[ok++] = response_key(call);
        } else if (call->grpc_status == 8) {
            if (!exhausted)
                printf("# CreateJob over --max-inflight: %s\n", call->grpc_message);
            exhausted++;
            /* Percent-encoding (gRPC's grpc-message) leaves this text as it is. */
            assert_non_null(strstr(call->grpc_message, "the limit (--max-inflight)"));
        } else {
            fail_msg("CreateJob %d: grpc-status %d (%s)", i, call->grpc_status, call->grpc_message);
        }
    }
    for (int i = BURST_CREATES; i < BURST_CALLS; i++) {
        if (c.calls[i].grpc_status != 0)
            fail_msg("CompleteJob %d was refused: grpc-status %d (%s)", i - BURST_CREATES,
                     c.calls[i].grpc_status, c.calls[i].grpc_message);
    }
    rc_close(&c);
    printf("# burst of %d CreateJob with --max-inflight 4: %d OK, %d RESOURCE_EXHAUSTED\n",
           BURST_CREATES, ok, exhausted);
    assert_true(exhausted > 0);
    assert_true(ok >= 4);
    assert_int_equal(ok + exhausted, BURST_CREATES);

    /* Exactly the jobs whose creates were answered OK exist; the completed
     * ones are gone. */
    int64_t got[BURST_CREATES + 1];
    size_t n = take_all(f->client, "burst", BURST_CREATES + 1, 0, got);
    assert_int_equal(n, (size_t)ok);
    for (size_t i = 0; i < n; i++)
        assert_true(has_key(ok_keys, (size_t)ok, got[i]));
    assert_int_equal(take_all(f->client, "held", 100, 0, NULL), 0);
    chute_job_info *info = NULL;
    assert_int_equal(chute_client_get_job(f->client, held[0], &info, NULL, &err), 0);
    assert_string_equal(info->state, "COMPLETED");
    chute_job_info_free(info);
}

int main(void)
{
    if (!chuted_path()) {
        fprintf(stderr, "# SKIPPED: test_client_limits needs chuted, which this tree did not "
                        "build\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_max_jobs, setup_max_jobs, teardown),
        cmocka_unit_test_setup_teardown(test_max_inflight_burst, setup_max_inflight, teardown),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
