/*
 * Tests of the gRPC-over-h2c transport: a real h2_server listening on
 * 127.0.0.1 (ephemeral port) and a real HTTP/2 client (the shared test
 * client, tests/support/h2_test_client.h) on the same libuv loop. A test
 * "gateway" answers by path:
 *
 *   /t.T/Echo        echoes the message, OK
 *   /t.T/Empty       OK without a message (Trailers-Only)
 *   /t.T/Fail        NOT_FOUND with a message that needs percent-encoding
 *   /t.T/Stream      request = u32 count, u32 size: streams count messages
 *   /t.T/Hold        sets an observer and keeps the call (tests drive it)
 *   /t.T/HoldNoObs   keeps the call without an observer
 *   /t.T/Later       echoes from a timer 20 ms later
 *   /t.T/Feed        keeps FEED_DEPTH messages queued, refilled from on_sent
 *   /t.T/Len         answers with the length of the message it got (u32)
 *
 * Every wait is bounded (RUN_UNTIL); every test ends with the loop closed
 * (uv_loop_close() == 0) so ASan sees no leak.
 */
#include "server/h2.h"

#include "h2_test_client.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

/* ---- the loop --------------------------------------------------------------- */

typedef struct gw gw;

typedef struct T {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps UV_RUN_ONCE from blocking longer than 5 ms */
    h2_server *server;
    int done;
    gw *g;
} T;

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until |cond| holds or |ms| pass; evaluates to |cond|. */
#define RUN_UNTIL(t, cond, ms)                                                                     \
    ({                                                                                             \
        uv_update_time(&(t)->loop);                                                                \
        uint64_t dl_ = uv_now(&(t)->loop) + (ms);                                                  \
        while (!(cond) && uv_now(&(t)->loop) < dl_)                                                \
            uv_run(&(t)->loop, UV_RUN_ONCE);                                                       \
        (cond);                                                                                    \
    })

#define RUN_FOR(t, ms) ((void)RUN_UNTIL(t, 0, ms))

/* ---- the test gateway -------------------------------------------------------- */

#define MAX_HELD 512
#define MAX_TAGS 8192
#define FEED_DEPTH 32
#define FEED_SIZE (16 * 1024)

struct gw {
    T *t;
    int requests;
    char last_path[256];
    int64_t last_timeout;
    h2_call *held[MAX_HELD];
    int nheld;
    h2_call *held_noobs;
    int sent, unsent, closed;
    size_t sent_bytes;
    int reasons[4];
    uintptr_t sent_tags[MAX_TAGS];
    uintptr_t unsent_tags[MAX_TAGS];
    int send_in_unsent_rv;
    int send_in_close_rv;
    /* Feed */
    h2_call *feed;
    int feed_queued;
    int feed_total;
    int feed_stop;
    /* Later */
    h2_call *later[64];
    uint8_t later_msg[64][16];
    size_t later_len[64];
    int nlater;
    uv_timer_t later_timer;
};

static void gw_on_sent(void *ud, h2_call *call, void *tag)
{
    gw *g = ud;
    if (g->sent < MAX_TAGS)
        g->sent_tags[g->sent] = (uintptr_t)tag;
    g->sent++;
    if (call == g->feed) {
        g->sent_bytes += FEED_SIZE;
        g->feed_queued--;
        /* Refill from inside on_sent: the transport must allow it. */
        static uint8_t buf[FEED_SIZE];
        while (!g->feed_stop && g->feed_queued < FEED_DEPTH) {
            assert_int_equal(
                h2_call_send(call, buf, sizeof buf, (void *)(uintptr_t)++g->feed_total), 0);
            g->feed_queued++;
        }
    }
}

static void gw_on_unsent(void *ud, h2_call *call, void *tag)
{
    gw *g = ud;
    if (g->unsent < MAX_TAGS)
        g->unsent_tags[g->unsent] = (uintptr_t)tag;
    g->unsent++;
    g->send_in_unsent_rv = h2_call_send(call, (const uint8_t *)"x", 1, NULL);
}

static void gw_on_close(void *ud, h2_call *call, h2_close_reason reason)
{
    gw *g = ud;
    g->closed++;
    g->reasons[reason]++;
    for (int i = 0; i < g->nheld; i++)
        if (g->held[i] == call)
            g->held[i] = NULL;
    if (call == g->feed)
        g->feed = NULL;
}

static const h2_call_observer gw_observer = {gw_on_sent, gw_on_unsent, gw_on_close, NULL, NULL};

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void later_cb(uv_timer_t *timer)
{
    gw *g = timer->data;
    for (int i = 0; i < g->nlater; i++) {
        assert_int_equal(h2_call_send(g->later[i], g->later_msg[i], g->later_len[i], NULL), 0);
        assert_int_equal(h2_call_finish(g->later[i], 0, NULL), 0);
    }
    g->nlater = 0;
}

static void on_done(void *arg);

static void gw_request(void *ctx, h2_call *call, const char *path, const uint8_t *msg, size_t len)
{
    gw *g = ctx;
    g->requests++;
    snprintf(g->last_path, sizeof g->last_path, "%s", path);
    assert_string_equal(path, h2_call_path(call));
    g->last_timeout = h2_call_timeout_ms(call);
    if (strcmp(path, "/t.T/Echo") == 0) {
        assert_int_equal(h2_call_send(call, msg, len, NULL), 0);
        assert_int_equal(h2_call_finish(call, 0, NULL), 0);
    } else if (strcmp(path, "/t.T/Empty") == 0) {
        assert_int_equal(h2_call_finish(call, 0, NULL), 0);
    } else if (strcmp(path, "/t.T/Fail") == 0) {
        assert_int_equal(h2_call_finish(call, 5, "no such job: \xc3\xbc 100%"), 0);
    } else if (strcmp(path, "/t.T/Stream") == 0) {
        assert_int_equal(len, 8);
        uint32_t count = get_u32(msg), size = get_u32(msg + 4);
        assert_int_equal(h2_call_set_observer(call, &gw_observer, g), 0);
        uint8_t *buf = malloc(size + 8);
        for (uint32_t i = 0; i < count; i++) {
            uint32_t n = 4 + (size ? i % size : 0);
            put_u32(buf, i);
            for (uint32_t k = 4; k < n; k++)
                buf[k] = (uint8_t)(i + k);
            assert_int_equal(h2_call_send(call, buf, n, (void *)(uintptr_t)(i + 1)), 0);
        }
        free(buf);
        assert_int_equal(h2_call_finish(call, 0, NULL), 0);
    } else if (strcmp(path, "/t.T/Hold") == 0) {
        assert_int_equal(h2_call_set_observer(call, &gw_observer, g), 0);
        assert_true(g->nheld < MAX_HELD);
        g->held[g->nheld++] = call;
    } else if (strcmp(path, "/t.T/HoldNoObs") == 0) {
        g->held_noobs = call;
    } else if (strcmp(path, "/t.T/Later") == 0) {
        assert_true(g->nlater < 64 && len <= 16);
        g->later[g->nlater] = call;
        memcpy(g->later_msg[g->nlater], msg, len);
        g->later_len[g->nlater] = len;
        g->nlater++;
        uv_timer_start(&g->later_timer, later_cb, 20, 0);
    } else if (strcmp(path, "/t.T/Shutdown") == 0) {
        assert_int_equal(h2_call_set_observer(call, &gw_observer, g), 0);
        h2_server_shutdown(g->t->server, H2_GRPC_UNAVAILABLE, "stopping", on_done, g->t);
        assert_int_equal(h2_call_send(call, msg, len, NULL), CHUTE_ECLOSED);
    } else if (strcmp(path, "/t.T/Feed") == 0) {
        assert_int_equal(h2_call_set_observer(call, &gw_observer, g), 0);
        g->feed = call;
        static uint8_t buf[FEED_SIZE];
        while (g->feed_queued < FEED_DEPTH) {
            assert_int_equal(
                h2_call_send(call, buf, sizeof buf, (void *)(uintptr_t)++g->feed_total), 0);
            g->feed_queued++;
        }
    } else if (strcmp(path, "/t.T/Len") == 0) {
        uint8_t b[4];
        put_u32(b, (uint32_t)len);
        assert_int_equal(h2_call_send(call, b, 4, NULL), 0);
        assert_int_equal(h2_call_finish(call, 0, NULL), 0);
    } else {
        assert_int_equal(h2_call_finish(call, 12, "unknown method"), 0);
    }
}

static void on_done(void *arg)
{
    T *t = arg;
    t->done++;
}

static void t_start(T *t, gw *g, const h2_limits *lim)
{
    memset(t, 0, sizeof *t);
    memset(g, 0, sizeof *g);
    g->t = t;
    t->g = g;
    assert_int_equal(uv_loop_init(&t->loop), 0);
    uv_timer_init(&t->loop, &t->tick);
    uv_timer_start(&t->tick, tick_cb, 5, 5);
    uv_timer_init(&t->loop, &g->later_timer);
    g->later_timer.data = g;
    chute_error err = {0, ""};
    int rv = h2_server_open(&t->server, &t->loop, "127.0.0.1", 0, lim, gw_request, g, &err);
    if (rv != 0)
        fail_msg("h2_server_open: %s", err.message);
    assert_true(h2_server_port(t->server) > 0);
}

static void t_shutdown(T *t)
{
    if (!t->server)
        return;
    h2_server_shutdown(t->server, H2_GRPC_UNAVAILABLE, "server is shutting down", on_done, t);
    assert_true(RUN_UNTIL(t, t->done == 1, 5000));
    h2_server_free(t->server);
    t->server = NULL;
}

static void walk_print(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "left handle: %s active=%d closing=%d\n", uv_handle_type_name(h->type),
            uv_is_active(h), uv_is_closing(h));
}

static void t_stop(T *t)
{
    t_shutdown(t);
    uv_close((uv_handle_t *)&t->tick, NULL);
    uv_close((uv_handle_t *)&t->g->later_timer, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    int rv = uv_loop_close(&t->loop);
    if (rv != 0)
        uv_walk(&t->loop, walk_print, NULL);
    assert_int_equal(rv, 0);
}

/* ---- the test client ------------------------------------------------------------ */

/* The shared HTTP/2 test client (tests/support) over a libuv connection on
 * the server's own loop, so that both make progress while a test waits in
 * RUN_UNTIL. */
typedef struct tclient {
    T *t;
    uv_tcp_t tcp;
    uv_connect_t creq;
    h2tc_client h;
    int connected, connect_status;
    int eof;
    int closed;
} tclient;

static void tc_write_cb(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static int tc_write(void *ud, const uint8_t *data, size_t len)
{
    tclient *c = ud;
    if (c->closed)
        return 0;
    uv_write_t *req = malloc(sizeof *req + len);
    memcpy(req + 1, data, len);
    uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)len);
    if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, tc_write_cb) != 0) {
        free(req);
        return -1;
    }
    return 0;
}

/* A write that fails (the connection is going) is dropped, as a client's
 * would be: the tests look at what the server did with the rest. */
static void tc_flush(tclient *c)
{
    (void)h2tc_flush(&c->h);
}

static void tc_raw_write(tclient *c, const char *s)
{
    assert_int_equal(h2tc_write_raw(&c->h, s, strlen(s)), 0);
}

static void tc_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    *b = uv_buf_init(malloc(sz), (unsigned)sz);
}

static void tc_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    tclient *c = st->data;
    if (n < 0) {
        c->eof = 1;
        uv_read_stop(st);
    } else if (n > 0) {
        assert_int_equal(h2tc_recv(&c->h, (const uint8_t *)b->base, (size_t)n), 0);
        tc_flush(c);
    }
    free(b->base);
}

static void tc_connected(uv_connect_t *req, int status)
{
    tclient *c = req->data;
    c->connect_status = status;
    c->connected = 1;
}

/* tc_connect from the local address |src| (another loopback address, for
 * the per-peer cap), or from the system's choice when NULL. */
static void tc_connect_from(T *t, tclient *c, const h2tc_options *o, const char *src)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    assert_int_equal(h2tc_init(&c->h, o, tc_write, c), 0);
    uv_tcp_init(&t->loop, &c->tcp);
    c->tcp.data = c;
    if (src) {
        struct sockaddr_in from;
        uv_ip4_addr(src, 0, &from);
        assert_int_equal(uv_tcp_bind(&c->tcp, (struct sockaddr *)&from, 0), 0);
    }
    if (c->h.o.rcvbuf) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->h.o.rcvbuf, sizeof c->h.o.rcvbuf);
        assert_int_equal(uv_tcp_open(&c->tcp, fd), 0);
    }
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", h2_server_port(t->server), &addr);
    c->creq.data = c;
    assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&addr, tc_connected), 0);
    assert_true(RUN_UNTIL(t, c->connected, 2000));
    assert_int_equal(c->connect_status, 0);
    uv_read_start((uv_stream_t *)&c->tcp, tc_alloc, tc_read);
    tc_flush(c);
}

static void tc_connect(T *t, tclient *c, const h2tc_options *o)
{
    tc_connect_from(t, c, o, NULL);
}

static void tc_closed_cb(uv_handle_t *h)
{
    tclient *c = h->data;
    c->closed = 2;
}

/* Drops the connection (as a client process dying would) and frees it. */
static void tc_close(tclient *c)
{
    if (!c->closed) {
        c->closed = 1;
        uv_close((uv_handle_t *)&c->tcp, tc_closed_cb);
    }
    assert_true(RUN_UNTIL(c->t, c->closed == 2, 1000));
    h2tc_free(&c->h);
}

/* Starts a request with a raw body (the caller frames it) and sends it. */
static h2tc_call *tc_request_raw(tclient *c, const char *path, const uint8_t *body, size_t len,
                                 const h2tc_request *r)
{
    h2tc_call *st = h2tc_start_raw(&c->h, path, body, len, r);
    assert_non_null(st);
    tc_flush(c);
    return st;
}

/* Starts a request carrying one gRPC message and sends it. */
static h2tc_call *tc_request(tclient *c, const char *path, const void *msg, size_t len,
                             const h2tc_request *r)
{
    h2tc_call *st = h2tc_start(&c->h, path, msg, len, r);
    assert_non_null(st);
    tc_flush(c);
    return st;
}

/* Compresses |n| bytes with zlib: gzip (RFC 1952) when |gzip|, else the
 * zlib format gRPC calls "deflate". Returns a framed message (flag 1) in a
 * malloc'd buffer of *|framed| bytes. */
static uint8_t *zframe(const void *in, size_t n, int gzip, size_t *framed)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED,
                                  gzip ? 16 + MAX_WBITS : MAX_WBITS, 9, Z_DEFAULT_STRATEGY),
                     Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n);
    uint8_t *b = malloc(5 + cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = b + 5;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    h2tc_frame_prefix(b, 1, (uint32_t)zs.total_out);
    *framed = 5 + zs.total_out;
    deflateEnd(&zs);
    return b;
}

/* Starts a request carrying one message compressed with |enc| ("gzip" or
 * "deflate"), with grpc-encoding: |enc|. */
static h2tc_call *tc_request_z(tclient *c, const char *path, const void *msg, size_t len,
                               const char *enc)
{
    size_t n;
    uint8_t *b = zframe(msg, len, strcasecmp(enc, "gzip") == 0, &n);
    h2tc_request r = {.hname = "grpc-encoding", .hvalue = enc};
    h2tc_call *st = tc_request_raw(c, path, b, n, &r);
    free(b);
    return st;
}

static void tc_reset(tclient *c, h2tc_call *st)
{
    assert_int_equal(h2tc_reset(&c->h, st), 0);
    tc_flush(c);
}

static void expect_status(T *t, h2tc_call *st, int http, int grpc)
{
    assert_true(RUN_UNTIL(t, st->closed, 3000));
    assert_int_equal(st->http_status, http);
    if (st->grpc_status != grpc)
        fail_msg("grpc-status %d (\"%s\"), expected %d", st->grpc_status, st->grpc_message, grpc);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_grpc_message_encoding(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(h2_grpc_message_encode(out, sizeof out, "plain text"), 10);
    assert_string_equal(out, "plain text");
    h2_grpc_message_encode(out, sizeof out, "a%b\n\xc3\xbc");
    assert_string_equal(out, "a%25b%0A%C3%BC");
    /* An escape that does not fit is left out whole. */
    assert_int_equal(h2_grpc_message_encode(out, 4, "ab%"), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(h2_grpc_message_encode(out, sizeof out, NULL), 0);
}

static void test_unary_echo(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    tc_connect(&t, &c, NULL);

    h2tc_request r = {.hname = "grpc-timeout", .hvalue = "1500m"};
    h2tc_call *st = tc_request(&c, "/t.T/Echo", "hello", 5, &r);
    expect_status(&t, st, 200, 0);
    assert_string_equal(st->content_type, "application/grpc");
    assert_int_equal(st->headers_frames, 2); /* headers, trailers */
    assert_string_equal(st->accept_encoding, "identity,deflate,gzip");
    assert_string_equal(st->encoding, ""); /* responses are not compressed */
    const uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(h2tc_message(st, 0, &p, &n), 1);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
    assert_int_equal(g.last_timeout, 1500);
    assert_string_equal(g.last_path, "/t.T/Echo");

    /* An empty message and an application/grpc+proto content type. */
    r = (h2tc_request){.content_type = "application/grpc+proto"};
    st = tc_request(&c, "/t.T/Echo", "", 0, &r);
    expect_status(&t, st, 200, 0);
    assert_int_equal(h2tc_message(st, 0, &p, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(g.last_timeout, -1);

    /* A 1 MiB message: many DATA frames and window updates both ways. */
    size_t big = 1024 * 1024;
    uint8_t *buf = malloc(big);
    for (size_t i = 0; i < big; i++)
        buf[i] = (uint8_t)(i * 7);
    st = tc_request(&c, "/t.T/Echo", buf, big, NULL);
    expect_status(&t, st, 200, 0);
    assert_int_equal(h2tc_message(st, 0, &p, &n), 1);
    assert_int_equal(n, big);
    assert_memory_equal(p, buf, big);
    free(buf);

    /* Trailers-Only answers: OK without message, an error with a message. */
    st = tc_request(&c, "/t.T/Empty", "x", 1, NULL);
    expect_status(&t, st, 200, 0);
    assert_int_equal(st->headers_frames, 1);
    assert_int_equal(st->len, 0);
    st = tc_request(&c, "/t.T/Fail", "x", 1, NULL);
    expect_status(&t, st, 200, 5);
    assert_int_equal(st->headers_frames, 1);
    assert_string_equal(st->grpc_message, "no such job: %C3%BC 100%25");
    /* Unknown paths reach the gateway, which answers UNIMPLEMENTED. */
    st = tc_request(&c, "/nope.Nope/Nope", "x", 1, NULL);
    expect_status(&t, st, 200, 12);
    assert_int_equal(g.requests, 6);

    /* Replies long after the request, 20 calls in flight on one connection. */
    h2tc_call *ls[20];
    for (int i = 0; i < 20; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        ls[i] = tc_request(&c, "/t.T/Later", m, strlen(m), NULL);
    }
    for (int i = 0; i < 20; i++) {
        expect_status(&t, ls[i], 200, 0);
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        assert_int_equal(h2tc_message(ls[i], 0, &p, &n), 1);
        assert_int_equal(n, strlen(m));
        assert_memory_equal(p, m, n);
    }
    h2_server_stats stats;
    h2_server_get_stats(t.server, &stats);
    assert_int_equal(stats.calls_open, 0);
    assert_int_equal(stats.requests_dispatched, 26);
    tc_close(&c);
    t_stop(&t);
}

static void test_server_streaming(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    tc_connect(&t, &c, NULL);
    uint8_t req[8];
    put_u32(req, 5000);
    put_u32(req + 4, 300);
    h2tc_call *st = tc_request(&c, "/t.T/Stream", req, 8, NULL);
    expect_status(&t, st, 200, 0);
    assert_int_equal(h2tc_message(st, 0, NULL, NULL), 5000);
    for (int i = 0; i < 5000; i++) {
        const uint8_t *p = NULL;
        size_t n = 0;
        h2tc_message(st, i, &p, &n);
        assert_int_equal(n, 4 + i % 300);
        assert_int_equal(get_u32(p), i);
        for (size_t k = 4; k < n; k++)
            assert_int_equal(p[k], (uint8_t)(i + k));
    }
    assert_true(RUN_UNTIL(&t, g.closed == 1, 1000));
    assert_int_equal(g.sent, 5000);
    assert_int_equal(g.unsent, 0);
    assert_int_equal(g.reasons[H2_CLOSE_DONE], 1);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(g.sent_tags[i], i + 1);
    tc_close(&c);
    t_stop(&t);
}

/* A client that grants a 4 KiB stream window and never returns it: nghttp2
 * takes only what fits, on_sent stops, the rest stays queued; returning
 * window lets more through; a reset then reports the rest unsent. */
static void test_flow_control_tiny_window(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    h2tc_options o = {.initial_window = 4096, .manual_window = 1};
    tc_connect(&t, &c, &o);
    h2tc_call *st = tc_request(&c, "/t.T/Hold", "x", 1, NULL);
    assert_true(RUN_UNTIL(&t, g.nheld == 1, 2000));
    h2_call *call = g.held[0];
    uint8_t msg[1000];
    memset(msg, 'j', sizeof msg);
    for (int i = 1; i <= 20; i++)
        assert_int_equal(h2_call_send(call, msg, sizeof msg, (void *)(uintptr_t)i), 0);
    RUN_FOR(&t, 300);
    /* 4096 / 1005 bytes per framed message: four whole messages fit. */
    assert_int_equal(g.sent, 4);
    assert_int_equal(st->len, 4096);
    assert_int_equal(h2_call_queued_bytes(call), 20 * 1005 - 4096);

    /* The client reads what it got: four more fit in the next 4 KiB. */
    h2tc_consume(&c.h, st, st->len);
    tc_flush(&c);
    assert_true(RUN_UNTIL(&t, g.sent == 8, 2000));
    RUN_FOR(&t, 100);
    assert_int_equal(g.sent, 8);
    assert_int_equal(st->len, 8192);

    tc_reset(&c, st);
    assert_true(RUN_UNTIL(&t, g.closed == 1, 2000));
    assert_int_equal(g.unsent, 12);
    for (int i = 0; i < 12; i++)
        assert_int_equal(g.unsent_tags[i], 9 + i);
    assert_int_equal(g.reasons[H2_CLOSE_CANCELLED], 1);
    assert_int_equal(g.send_in_unsent_rv, CHUTE_ECLOSED);
    tc_close(&c);
    t_stop(&t);
}

/* A client with an open window that stops reading the socket: the server
 * stops pulling from nghttp2 once max_output_buffer bytes wait in uv_write,
 * so on_sent stops and nothing grows without bound. */
static void test_stopped_reader_bounded(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.max_output_buffer = 256 * 1024;
    t_start(&t, &g, &lim);
    tclient c;
    h2tc_options o = {.initial_window = 0x7fffffff, .conn_window = 0x7fffffff, .rcvbuf = 64 * 1024};
    tc_connect(&t, &c, &o);
    h2tc_call *st = tc_request(&c, "/t.T/Feed", "x", 1, NULL);
    assert_true(RUN_UNTIL(&t, st->http_status == 200, 2000));
    uv_read_stop((uv_stream_t *)&c.tcp);

    /* Wait until on_sent makes no progress for 300 ms. */
    int last = -1;
    for (int i = 0; i < 40 && g.sent != last; i++) {
        last = g.sent;
        RUN_FOR(&t, 300);
    }
    assert_int_equal(g.sent, last);
    h2_server_stats stats;
    h2_server_get_stats(t.server, &stats);
    fprintf(stderr, "stopped reader: %zu bytes taken, %zu buffered, max %zu\n", g.sent_bytes,
            stats.output_buffered, stats.output_buffered_max);
    assert_true(stats.output_buffered_max <= lim.max_output_buffer + 32 * 1024);
    assert_true(stats.output_buffered >= lim.max_output_buffer / 2); /* it is the brake */
    /* What left the queue is bounded by the socket buffers + the output buffer. */
    assert_true(g.sent_bytes < 16u * 1024 * 1024);
    /* All FEED_DEPTH messages wait, the first maybe partly taken. */
    assert_true(h2_call_queued_bytes(g.feed) > (size_t)(FEED_DEPTH - 1) * (FEED_SIZE + 5));

    /* Reading again lets the flow resume. */
    int before = g.sent;
    uv_read_start((uv_stream_t *)&c.tcp, tc_alloc, tc_read);
    assert_true(RUN_UNTIL(&t, g.sent > before + 100, 3000));

    /* The client vanishes: the queued messages come back unsent. */
    g.feed_stop = 1;
    tc_close(&c);
    assert_true(RUN_UNTIL(&t, g.closed == 1, 2000));
    assert_int_equal(g.reasons[H2_CLOSE_CONN_LOST], 1);
    assert_int_equal(g.sent + g.unsent, g.feed_total);
    assert_true(g.unsent > 0);
    t_stop(&t);
}

/* A reset stream: pending tags come back unsent, also after the gateway
 * finished the call; a call without an observer stays a stub until finish. */
static void test_client_reset(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    h2tc_options o = {.initial_window = 0, .manual_window = 1}; /* nothing can be sent */
    tc_connect(&t, &c, &o);
    h2tc_call *a = tc_request(&c, "/t.T/Hold", "a", 1, NULL);
    h2tc_call *b = tc_request(&c, "/t.T/Hold", "b", 1, NULL);
    h2tc_call *d = tc_request(&c, "/t.T/HoldNoObs", "d", 1, NULL);
    assert_true(RUN_UNTIL(&t, g.nheld == 2 && g.held_noobs, 2000));
    for (int i = 1; i <= 10; i++)
        assert_int_equal(h2_call_send(g.held[0], (const uint8_t *)"job", 3, (void *)(uintptr_t)i),
                         0);
    for (int i = 11; i <= 13; i++)
        assert_int_equal(h2_call_send(g.held[1], (const uint8_t *)"job", 3, (void *)(uintptr_t)i),
                         0);
    /* b is finished by the gateway with its messages still queued. */
    assert_int_equal(h2_call_finish(g.held[1], 0, NULL), 0);
    RUN_FOR(&t, 100);
    assert_int_equal(g.sent, 0);
    assert_int_equal(a->http_status, 200); /* headers are not flow controlled */

    tc_reset(&c, a);
    assert_true(RUN_UNTIL(&t, g.closed == 1, 2000));
    assert_int_equal(g.unsent, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(g.unsent_tags[i], i + 1);
    assert_int_equal(g.reasons[H2_CLOSE_CANCELLED], 1);
    assert_int_equal(g.send_in_unsent_rv, CHUTE_ECLOSED);
    assert_null(g.held[0]);

    tc_reset(&c, b);
    assert_true(RUN_UNTIL(&t, g.closed == 2, 2000));
    assert_int_equal(g.unsent, 13);
    assert_int_equal(g.reasons[H2_CLOSE_CANCELLED], 2);

    tc_reset(&c, d);
    assert_true(RUN_UNTIL(&t, d->closed, 2000));
    RUN_FOR(&t, 50);
    h2_server_stats stats;
    h2_server_get_stats(t.server, &stats);
    assert_int_equal(stats.calls_open, 1); /* the stub */
    assert_int_equal(h2_call_send(g.held_noobs, (const uint8_t *)"x", 1, NULL), CHUTE_ECLOSED);
    assert_int_equal(h2_call_finish(g.held_noobs, 0, NULL), CHUTE_ECLOSED);
    h2_server_get_stats(t.server, &stats);
    assert_int_equal(stats.calls_open, 0);

    /* The connection still serves. */
    tc_close(&c);
    tc_connect(&t, &c, NULL);
    h2tc_call *e = tc_request(&c, "/t.T/Echo", "ok", 2, NULL);
    expect_status(&t, e, 200, 0);
    tc_close(&c);
    t_stop(&t);
}

static void test_connection_drop(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    h2tc_options o = {.initial_window = 0, .manual_window = 1};
    tc_connect(&t, &c, &o);
    tc_request(&c, "/t.T/Hold", "a", 1, NULL);
    tc_request(&c, "/t.T/Hold", "b", 1, NULL);
    tc_request(&c, "/t.T/HoldNoObs", "c", 1, NULL);
    assert_true(RUN_UNTIL(&t, g.nheld == 2 && g.held_noobs, 2000));
    for (int i = 1; i <= 6; i++)
        assert_int_equal(
            h2_call_send(g.held[i % 2], (const uint8_t *)"job", 3, (void *)(uintptr_t)i), 0);
    RUN_FOR(&t, 50);
    tc_close(&c);
    assert_true(RUN_UNTIL(&t, g.closed == 2, 2000));
    assert_int_equal(g.unsent, 6);
    assert_int_equal(g.reasons[H2_CLOSE_CONN_LOST], 2);
    assert_int_equal(g.sent, 0);
    assert_int_equal(h2_call_finish(g.held_noobs, 0, NULL), CHUTE_ECLOSED);
    h2_server_stats stats;
    assert_true(
        RUN_UNTIL(&t, (h2_server_get_stats(t.server, &stats), stats.connections_open == 0), 1000));
    assert_int_equal(stats.calls_open, 0);
    t_stop(&t);
}

static void test_oversize_message(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.max_message_size = 1024;
    t_start(&t, &g, &lim);
    tclient c;
    tc_connect(&t, &c, NULL);

    uint8_t *big = calloc(1, 2048);
    h2tc_call *st = tc_request(&c, "/t.T/Echo", big, 2048, NULL);
    expect_status(&t, st, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st->grpc_message, "2048"));
    assert_non_null(strstr(st->grpc_message, "1024"));
    free(big);

    /* A prefix announcing ~4 GiB, with the request left open: the answer
     * comes at once (nothing is buffered), then RST_STREAM(NO_ERROR). */
    uint8_t pre[5];
    h2tc_frame_prefix(pre, 0, 0xfffffff0u);
    h2tc_request hold = {.hold = 1};
    st = tc_request_raw(&c, "/t.T/Echo", pre, 5, &hold);
    expect_status(&t, st, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st->grpc_message, "4294967280"));
    assert_int_equal(st->close_code, NGHTTP2_NO_ERROR);

    /* The gateway's outgoing limit too. */
    h2tc_call *h = tc_request(&c, "/t.T/Hold", "x", 1, NULL);
    assert_true(RUN_UNTIL(&t, g.nheld == 1, 2000));
    uint8_t m[1025] = {0};
    assert_int_equal(h2_call_send(g.held[0], m, sizeof m, NULL), CHUTE_ETOOBIG);
    assert_int_equal(h2_call_finish(g.held[0], 0, NULL), 0);
    expect_status(&t, h, 200, 0);

    st = tc_request(&c, "/t.T/Echo", "next", 4, NULL);
    expect_status(&t, st, 200, 0);
    assert_int_equal(g.requests, 2);
    tc_close(&c);
    t_stop(&t);
}

/* Memory for request bodies is bounded per connection across streams. */
static void test_request_buffer_bound(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.max_message_size = 64 * 1024;
    lim.max_request_buffer = 100 * 1024;
    t_start(&t, &g, &lim);
    tclient c;
    h2tc_options o = {.initial_window = 0x7fffffff, .conn_window = 0x7fffffff};
    tc_connect(&t, &c, &o);
    size_t n = 64 * 1024;
    uint8_t *b = calloc(1, n + 5);
    h2tc_frame_prefix(b, 0, (uint32_t)n);
    h2tc_request hold = {.hold = 1};
    h2tc_call *s1 = tc_request_raw(&c, "/t.T/Echo", b, n + 5 - 10, &hold); /* 10 bytes short */
    RUN_FOR(&t, 100);
    h2tc_call *s2 = tc_request_raw(&c, "/t.T/Echo", b, n + 5, NULL);
    expect_status(&t, s2, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(s2->grpc_message, "in flight"));
    assert_false(s1->closed);
    tc_reset(&c, s1);
    assert_true(RUN_UNTIL(&t, s1->closed, 1000));
    h2tc_call *s3 = tc_request_raw(&c, "/t.T/Echo", b, n + 5, NULL);
    expect_status(&t, s3, 200, 0);
    assert_int_equal(h2tc_message(s3, 0, NULL, NULL), 1);
    free(b);
    tc_close(&c);
    t_stop(&t);
}

static void test_compressed_and_malformed(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    tc_connect(&t, &c, NULL);
    uint8_t b[32];

    /* Compressed flag without a grpc-encoding: INTERNAL (gRPC spec). */
    h2tc_frame_prefix(b, 1, 3);
    memcpy(b + 5, "abc", 3);
    h2tc_call *st = tc_request_raw(&c, "/t.T/Echo", b, 8, NULL);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);
    assert_non_null(strstr(st->grpc_message, "marked compressed"));
    assert_non_null(strstr(st->grpc_message, "no grpc-encoding"));
    assert_string_equal(st->accept_encoding, "identity,deflate,gzip");
    h2tc_request ident = {.hname = "grpc-encoding", .hvalue = "identity"};
    st = tc_request_raw(&c, "/t.T/Echo", b, 8, &ident);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);

    h2tc_frame_prefix(b, 0, 10); /* ends after 3 of 10 bytes */
    st = tc_request_raw(&c, "/t.T/Echo", b, 8, NULL);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);
    assert_non_null(strstr(st->grpc_message, "3 of 10"));

    st = tc_request_raw(&c, "/t.T/Echo", b, 3, NULL); /* ends inside the prefix */
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);

    h2tc_frame_prefix(b, 0, 1); /* two messages */
    b[5] = 'a';
    h2tc_frame_prefix(b + 6, 0, 1);
    b[11] = 'b';
    st = tc_request_raw(&c, "/t.T/Echo", b, 12, NULL);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);
    assert_non_null(strstr(st->grpc_message, "more than one"));

    h2tc_request nobody = {.no_body = 1};
    st = tc_request_raw(&c, "/t.T/Echo", NULL, 0, &nobody);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);
    assert_non_null(strstr(st->grpc_message, "without a request message"));

    h2tc_frame_prefix(b, 2, 1); /* unknown flag bits */
    st = tc_request_raw(&c, "/t.T/Echo", b, 6, NULL);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);

    h2tc_request ct = {.content_type = "application/json"};
    st = tc_request(&c, "/t.T/Echo", "{}", 2, &ct);
    expect_status(&t, st, 415, H2_GRPC_INVALID_ARGUMENT);
    h2tc_request ct2 = {.content_type = "application/grpcx"};
    st = tc_request(&c, "/t.T/Echo", "{}", 2, &ct2);
    expect_status(&t, st, 415, H2_GRPC_INVALID_ARGUMENT);

    h2tc_request get = {.method = "GET", .no_body = 1};
    st = tc_request_raw(&c, "/t.T/Echo", NULL, 0, &get);
    expect_status(&t, st, 405, H2_GRPC_UNIMPLEMENTED);

    char *huge = malloc(20000);
    memset(huge, 'h', 19999);
    huge[19999] = 0;
    h2tc_request hdr = {.hname = "x-big", .hvalue = huge};
    st = tc_request(&c, "/t.T/Echo", "x", 1, &hdr);
    expect_status(&t, st, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    free(huge);

    assert_int_equal(g.requests, 0);
    st = tc_request(&c, "/t.T/Echo", "fine", 4, NULL);
    expect_status(&t, st, 200, 0);
    assert_int_equal(g.requests, 1);
    h2_server_stats stats;
    h2_server_get_stats(t.server, &stats);
    assert_int_equal(stats.requests_rejected, 11);
    tc_close(&c);
    t_stop(&t);
}

static void test_http1_gets_400(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.drain_timeout_ms = 500;
    t_start(&t, &g, &lim);
    h2tc_options raw = {.raw = 1};
    tclient r;
    tc_connect(&t, &r, &raw);
    tc_raw_write(&r, "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n");
    assert_true(RUN_UNTIL(&t, r.eof, 2000));
    assert_true(strncmp(r.h.raw, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    assert_non_null(strstr(r.h.raw, "gRPC over HTTP/2"));
    /* The declared length is right. */
    const char *body = strstr(r.h.raw, "\r\n\r\n") + 4;
    assert_int_equal(strlen(body), atoi(strstr(r.h.raw, "Content-Length: ") + 16));
    tc_close(&r);

    /* A client that upgrades ("h2c" via HTTP/1.1) gets the same answer. */
    tc_connect(&t, &r, &raw);
    tc_raw_write(&r, "POST /t.T/Echo HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n");
    assert_true(RUN_UNTIL(&t, r.eof, 2000));
    assert_true(strncmp(r.h.raw, "HTTP/1.1 400", 12) == 0);
    tc_close(&r);

    tclient c;
    tc_connect(&t, &c, NULL);
    h2tc_call *st = tc_request(&c, "/t.T/Echo", "still here", 10, NULL);
    expect_status(&t, st, 200, 0);
    tc_close(&c);
    h2_server_stats stats;
    assert_true(
        RUN_UNTIL(&t, (h2_server_get_stats(t.server, &stats), stats.connections_open == 0), 1000));
    t_stop(&t);
}

/* Rapid reset: 200 streams opened and reset in one burst, then 200 reset
 * before the server saw them answered; the connection and server serve on. */
static void test_reset_burst(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    tc_connect(&t, &c, NULL);
    h2tc_call *s[200];
    for (int i = 0; i < 200; i++)
        s[i] = tc_request(&c, "/t.T/Hold", "x", 1, NULL);
    assert_true(RUN_UNTIL(&t, g.nheld == 200, 3000));
    for (int i = 0; i < 200; i++)
        assert_int_equal(h2_call_send(g.held[i], (const uint8_t *)"j", 1, NULL), 0);
    for (int i = 0; i < 200; i++)
        h2tc_reset(&c.h, s[i]);
    tc_flush(&c);
    assert_true(RUN_UNTIL(&t, g.closed == 200, 3000));
    assert_int_equal(g.sent + g.unsent, 200);

    /* Open-and-reset in the same write. */
    for (int i = 0; i < 200; i++) {
        h2tc_call *x = tc_request(&c, "/t.T/Hold", "y", 1, NULL);
        h2tc_reset(&c.h, x);
    }
    tc_flush(&c);
    RUN_FOR(&t, 200);

    h2tc_call *st = tc_request(&c, "/t.T/Echo", "alive", 5, NULL);
    expect_status(&t, st, 200, 0);
    assert_false(c.h.goaway);
    tclient c2;
    tc_connect(&t, &c2, NULL);
    st = tc_request(&c2, "/t.T/Echo", "alive", 5, NULL);
    expect_status(&t, st, 200, 0);
    h2_server_stats stats;
    h2_server_get_stats(t.server, &stats);
    assert_int_equal(g.closed, g.requests - 2);
    assert_int_equal(stats.calls_open, 0);
    tc_close(&c);
    tc_close(&c2);
    t_stop(&t);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.idle_timeout_ms = 200;
    t_start(&t, &g, &lim);

    /* A connection with an open (held) stream is not idle. */
    tclient c;
    tc_connect(&t, &c, NULL);
    h2tc_call *h = tc_request(&c, "/t.T/Hold", "x", 1, NULL);
    RUN_FOR(&t, 500);
    assert_false(c.h.goaway);
    assert_false(c.eof);
    assert_int_equal(h2_call_finish(g.held[0], 0, NULL), 0);
    expect_status(&t, h, 200, 0);

    /* Once the last stream is over, GOAWAY(NO_ERROR) then close. */
    uint64_t t0 = uv_now(&t.loop);
    assert_true(RUN_UNTIL(&t, c.eof, 2000));
    assert_true(uv_now(&t.loop) - t0 >= 150);
    assert_true(c.h.goaway);
    assert_int_equal(c.h.goaway_code, NGHTTP2_NO_ERROR);
    tc_close(&c);

    /* A connection that never says anything is closed too. */
    h2tc_options raw = {.raw = 1};
    tclient r;
    tc_connect(&t, &r, &raw);
    assert_true(RUN_UNTIL(&t, r.eof, 2000));
    assert_int_equal(r.h.rawlen, 0);
    tc_close(&r);
    t_stop(&t);
}

/* Shutdown: every open call ends with UNAVAILABLE, queued messages come back
 * unsent, a request still uploading is answered too, and the loop closes. */
static void test_shutdown(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.drain_timeout_ms = 1000;
    t_start(&t, &g, &lim);
    tclient a, b, idle;
    h2tc_options zero = {.initial_window = 0, .manual_window = 1};
    tc_connect(&t, &a, &zero);
    tc_connect(&t, &b, NULL);
    tc_connect(&t, &idle, NULL);
    h2tc_call *a1 = tc_request(&a, "/t.T/Hold", "a1", 2, NULL);
    assert_true(RUN_UNTIL(&t, g.nheld == 1, 2000)); /* so held[0] is a1 */
    h2tc_call *a2 = tc_request(&a, "/t.T/HoldNoObs", "a2", 2, NULL);
    h2tc_call *b1 = tc_request(&b, "/t.T/Hold", "b1", 2, NULL);
    uint8_t pre[5];
    h2tc_frame_prefix(pre, 0, 100);
    h2tc_request hold = {.hold = 1};
    h2tc_call *b2 = tc_request_raw(&b, "/t.T/Echo", pre, 5, &hold); /* still uploading */
    assert_true(RUN_UNTIL(&t, g.nheld == 2 && g.held_noobs, 2000));
    h2_call *ca = g.held[0], *cb = g.held[1];
    for (int i = 1; i <= 5; i++)
        assert_int_equal(h2_call_send(ca, (const uint8_t *)"job", 3, (void *)(uintptr_t)i), 0);
    assert_int_equal(h2_call_send(cb, (const uint8_t *)"b1", 2, (void *)(uintptr_t)6), 0);
    RUN_FOR(&t, 50);
    assert_int_equal(g.sent, 1);

    h2_server_shutdown(t.server, H2_GRPC_UNAVAILABLE, "server is shutting down", on_done, &t);
    /* Calls stay valid until on_close, but take nothing more. */
    assert_int_equal(h2_call_send(cb, (const uint8_t *)"x", 1, NULL), CHUTE_ECLOSED);
    assert_int_equal(g.closed, 0); /* no callback inside shutdown */

    expect_status(&t, a1, 200, H2_GRPC_UNAVAILABLE);
    assert_string_equal(a1->grpc_message, "server is shutting down");
    expect_status(&t, a2, 200, H2_GRPC_UNAVAILABLE);
    expect_status(&t, b1, 200, H2_GRPC_UNAVAILABLE);
    assert_int_equal(h2tc_message(b1, 0, NULL, NULL), 1);
    expect_status(&t, b2, 200, H2_GRPC_UNAVAILABLE);
    assert_true(RUN_UNTIL(&t, g.closed == 2, 2000));
    assert_int_equal(g.reasons[H2_CLOSE_SHUTDOWN], 2);
    assert_int_equal(g.unsent, 5);
    assert_int_equal(h2_call_finish(g.held_noobs, 0, NULL), CHUTE_ECLOSED);
    assert_true(RUN_UNTIL(&t, a.eof && b.eof && idle.eof, 2000));
    assert_true(a.h.goaway && b.h.goaway && idle.h.goaway);
    assert_true(RUN_UNTIL(&t, t.done == 1, 2000));
    h2_server_stats stats;
    h2_server_get_stats(t.server, &stats);
    assert_int_equal(stats.calls_open, 0);
    assert_int_equal(stats.connections_open, 0);
    h2_server_free(t.server);
    t.server = NULL;
    tc_close(&a);
    tc_close(&b);
    tc_close(&idle);
    t_stop(&t);
}

/* The gateway may start the shutdown from inside its own callback. */
static void test_shutdown_from_callback(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    tc_connect(&t, &c, NULL);
    h2tc_call *st = tc_request(&c, "/t.T/Shutdown", "x", 1, NULL);
    expect_status(&t, st, 200, H2_GRPC_UNAVAILABLE);
    assert_string_equal(st->grpc_message, "stopping");
    assert_true(RUN_UNTIL(&t, t.done == 1, 3000));
    assert_int_equal(g.closed, 1);
    assert_int_equal(g.reasons[H2_CLOSE_SHUTDOWN], 1);
    h2_server_free(t.server);
    t.server = NULL;
    tc_close(&c);
    t_stop(&t);
}

/* A client that does not read at all keeps the drain bounded. */
static void test_shutdown_with_stuck_client(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.drain_timeout_ms = 300;
    lim.max_output_buffer = 64 * 1024;
    t_start(&t, &g, &lim);
    tclient c;
    h2tc_options o = {.initial_window = 0x7fffffff, .conn_window = 0x7fffffff, .rcvbuf = 16 * 1024};
    tc_connect(&t, &c, &o);
    h2tc_call *st = tc_request(&c, "/t.T/Feed", "x", 1, NULL);
    assert_true(RUN_UNTIL(&t, st->http_status == 200, 2000));
    uv_read_stop((uv_stream_t *)&c.tcp);
    RUN_FOR(&t, 300);
    uint64_t t0 = uv_now(&t.loop);
    h2_server_shutdown(t.server, H2_GRPC_UNAVAILABLE, "bye", on_done, &t);
    assert_true(RUN_UNTIL(&t, t.done == 1, 3000));
    assert_true(uv_now(&t.loop) - t0 < 2000);
    assert_int_equal(g.closed, 1);
    assert_int_equal(g.sent + g.unsent, g.feed_total);
    h2_server_free(t.server);
    t.server = NULL;
    tc_close(&c);
    t_stop(&t);
}

/* ---- a real third-party client: curl (built with nghttp2) ------------------------- */

typedef struct proc {
    uv_process_t p;
    int exited;
    int64_t status;
} proc;

static void proc_exit(uv_process_t *p, int64_t status, int sig)
{
    proc *x = p->data;
    (void)sig;
    x->exited = 1;
    x->status = status;
    uv_close((uv_handle_t *)p, NULL);
}

static int run_curl(T *t, char **args)
{
    proc x = {0};
    x.p.data = &x;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t po = {
        .exit_cb = proc_exit, .file = args[0], .args = args, .stdio_count = 3, .stdio = stdio};
    assert_int_equal(uv_spawn(&t->loop, &x.p, &po), 0);
    assert_true(RUN_UNTIL(t, x.exited, 8000));
    RUN_FOR(t, 10); /* the process handle's close */
    return (int)x.status;
}

static size_t slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return n;
}

static void test_curl_interop(void **state)
{
    (void)state;
    if (access("/usr/bin/curl", X_OK) != 0)
        skip();
    T t;
    gw g;
    t_start(&t, &g, NULL);
    char dir[] = "/tmp/chute_h2_curlXXXXXX";
    assert_non_null(mkdtemp(dir));
    char req[64], out[64], hdr[64], url[64], plain[64];
    snprintf(req, sizeof req, "%s/req", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(hdr, sizeof hdr, "%s/hdr", dir);
    snprintf(plain, sizeof plain, "%s/plain", dir);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/t.T/Echo", h2_server_port(t.server));
    FILE *f = fopen(req, "wb");
    fwrite("\0\0\0\0\5hello", 1, 10, f);
    fclose(f);
    char data[80];
    snprintf(data, sizeof data, "@%s", req);

    char *a1[] = {"/usr/bin/curl",
                  "-sS",
                  "--max-time",
                  "5",
                  "--http2-prior-knowledge",
                  "-H",
                  "content-type: application/grpc",
                  "-H",
                  "te: trailers",
                  "--data-binary",
                  data,
                  "-D",
                  hdr,
                  "-o",
                  out,
                  url,
                  NULL};
    assert_int_equal(run_curl(&t, a1), 0);
    char buf[2048];
    assert_int_equal(slurp(out, buf, sizeof buf), 10);
    assert_memory_equal(buf, "\0\0\0\0\5hello", 10);
    slurp(hdr, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/2 200"));
    assert_non_null(strstr(buf, "grpc-status: 0"));
    assert_int_equal(g.requests, 1);

    char *a2[] = {"/usr/bin/curl", "-sS", "--max-time", "5", "-i", "-o", plain, url, NULL};
    assert_int_equal(run_curl(&t, a2), 0);
    slurp(plain, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request"));

    unlink(req);
    unlink(out);
    unlink(hdr);
    unlink(plain);
    rmdir(dir);
    t_stop(&t);
}

static void test_open_errors(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    h2_server *s2 = (h2_server *)0x1;
    chute_error err = {0, ""};
    /* The port is taken. */
    int rv = h2_server_open(&s2, &t.loop, "127.0.0.1", h2_server_port(t.server), NULL, gw_request,
                            &g, &err);
    assert_int_equal(rv, CHUTE_EIO);
    assert_ptr_equal(s2, (h2_server *)0x1);
    assert_non_null(strstr(err.message, "127.0.0.1"));
    rv = h2_server_open(&s2, &t.loop, "no-such-host.invalid", 0, NULL, gw_request, &g, &err);
    assert_int_equal(rv, CHUTE_EINVAL);
    h2_limits lim;
    h2_limits_init(&lim);
    lim.max_message_size = 0;
    rv = h2_server_open(&s2, &t.loop, "127.0.0.1", 0, &lim, gw_request, &g, &err);
    assert_int_equal(rv, CHUTE_EINVAL);
    h2_server_free(NULL);
    t_stop(&t);
}

static void test_compressed_requests(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    tc_connect(&t, &c, NULL);

    /* gzip (what @camunda8/sdk sends) and deflate: the gateway gets the
     * plain bytes; the response is plain and advertises what we read. */
    size_t n = 100000;
    uint8_t *plain = malloc(n);
    for (size_t i = 0; i < n; i++)
        plain[i] = (uint8_t)("variables "[i % 10] + (i / 5000));
    static const char *const encs[] = {"gzip", "deflate", "GZIP"};
    for (int e = 0; e < 3; e++) {
        h2tc_call *st = tc_request_z(&c, "/t.T/Echo", plain, n, encs[e]);
        assert_true(st->body_len < n / 10);
        expect_status(&t, st, 200, 0);
        assert_string_equal(st->accept_encoding, "identity,deflate,gzip");
        assert_string_equal(st->encoding, "");
        const uint8_t *p = NULL;
        size_t pn = 0;
        assert_int_equal(h2tc_message(st, 0, &p, &pn), 1);
        assert_int_equal(pn, n);
        assert_memory_equal(p, plain, n);
        assert_int_equal(st->data[0], 0); /* not compressed */
    }
    /* Under gzip a message may still go uncompressed (flag 0). */
    h2tc_request gz = {.hname = "grpc-encoding", .hvalue = "gzip"};
    h2tc_call *st = tc_request(&c, "/t.T/Echo", "plain", 5, &gz);
    expect_status(&t, st, 200, 0);
    const uint8_t *p = NULL;
    size_t pn = 0;
    assert_int_equal(h2tc_message(st, 0, &p, &pn), 1);
    assert_int_equal(pn, 5);
    assert_memory_equal(p, "plain", 5);
    /* An empty message: zero compressed bytes, and gzip's form of nothing. */
    uint8_t empty[5];
    h2tc_frame_prefix(empty, 1, 0);
    st = tc_request_raw(&c, "/t.T/Len", empty, 5, &gz);
    expect_status(&t, st, 200, 0);
    assert_int_equal(h2tc_message(st, 0, &p, &pn), 1);
    assert_int_equal(get_u32(p), 0);
    st = tc_request_z(&c, "/t.T/Len", "", 0, "gzip");
    expect_status(&t, st, 200, 0);
    assert_int_equal(h2tc_message(st, 0, &p, &pn), 1);
    assert_int_equal(get_u32(p), 0);
    int dispatched = g.requests;

    /* An encoding we do not read: UNIMPLEMENTED, naming it and what we
     * support, with grpc-accept-encoding so the client can fall back. */
    h2tc_request snappy = {.hname = "grpc-encoding", .hvalue = "snappy"};
    st = tc_request(&c, "/t.T/Echo", "x", 1, &snappy);
    expect_status(&t, st, 200, H2_GRPC_UNIMPLEMENTED);
    assert_non_null(strstr(st->grpc_message, "\"snappy\""));
    assert_non_null(strstr(st->grpc_message, "identity,deflate,gzip"));
    assert_string_equal(st->accept_encoding, "identity,deflate,gzip");

    /* Corrupt and truncated gzip: INTERNAL. */
    size_t zn;
    uint8_t *z = zframe(plain, 1000, 1, &zn);
    z[5] ^= 0xff; /* the gzip magic */
    st = tc_request_raw(&c, "/t.T/Echo", z, zn, &gz);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);
    assert_non_null(
        strstr(st->grpc_message, "the gzip-compressed message could not be decompressed"));
    z[5] ^= 0xff;
    h2tc_frame_prefix(z, 1, (uint32_t)(zn - 5 - 4)); /* the CRC's first half only */
    st = tc_request_raw(&c, "/t.T/Echo", z, zn - 4, &gz);
    expect_status(&t, st, 200, H2_GRPC_INTERNAL);
    assert_non_null(strstr(st->grpc_message, "truncated"));
    free(z);

    /* A zip bomb: 64 MiB of zeros in about 64 KiB of gzip, against the
     * 4 MiB message limit. RESOURCE_EXHAUSTED, and the connection serves on. */
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    st = tc_request_z(&c, "/t.T/Echo", zeros, big, "gzip");
    free(zeros);
    assert_true(st->body_len < 100 * 1024);
    expect_status(&t, st, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st->grpc_message, "maximum message size of 4194304 bytes"));
    assert_string_equal(st->accept_encoding, "identity,deflate,gzip");
    assert_int_equal(g.requests, dispatched);
    st = tc_request_z(&c, "/t.T/Echo", "still here", 10, "gzip");
    expect_status(&t, st, 200, 0);
    assert_int_equal(h2tc_message(st, 0, &p, &pn), 1);
    assert_int_equal(pn, 10);
    assert_memory_equal(p, "still here", 10);
    assert_false(c.h.goaway);

    h2_server_stats stats;
    h2_server_get_stats(t.server, &stats);
    assert_int_equal(stats.requests_rejected, 4);
    free(plain);
    tc_close(&c);
    t_stop(&t);
}

/* The inflated size counts against max_message_size exactly, and against
 * the connection's request buffer. */
static void test_compressed_bounds(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.max_message_size = 64 * 1024;
    lim.max_request_buffer = 100 * 1024;
    t_start(&t, &g, &lim);
    tclient c;
    h2tc_options o = {.initial_window = 0x7fffffff, .conn_window = 0x7fffffff};
    tc_connect(&t, &c, &o);

    size_t max = lim.max_message_size;
    uint8_t *buf = calloc(1, max + 1);
    h2tc_call *st = tc_request_z(&c, "/t.T/Len", buf, max, "gzip");
    expect_status(&t, st, 200, 0);
    const uint8_t *p = NULL;
    size_t pn = 0;
    assert_int_equal(h2tc_message(st, 0, &p, &pn), 1);
    assert_int_equal(get_u32(p), max);
    st = tc_request_z(&c, "/t.T/Len", buf, max + 1, "gzip");
    expect_status(&t, st, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st->grpc_message, "maximum message size of 65536 bytes"));

    /* 60 KiB of another request are held in the connection's buffer: a
     * message that inflates to 64 KiB no longer fits in the 100 KiB. */
    size_t hn = 60 * 1024;
    uint8_t *hb = calloc(1, hn + 5);
    h2tc_frame_prefix(hb, 0, (uint32_t)hn);
    h2tc_request hold = {.hold = 1};
    h2tc_call *held = tc_request_raw(&c, "/t.T/Echo", hb, hn + 5 - 1, &hold); /* 1 byte short */
    RUN_FOR(&t, 100);
    st = tc_request_z(&c, "/t.T/Len", buf, max, "gzip");
    expect_status(&t, st, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st->grpc_message, "in flight"));
    st = tc_request_z(&c, "/t.T/Len", buf, 1000, "gzip"); /* small ones still fit */
    expect_status(&t, st, 200, 0);
    assert_false(held->closed);
    tc_reset(&c, held);
    assert_true(RUN_UNTIL(&t, held->closed, 1000));
    st = tc_request_z(&c, "/t.T/Len", buf, max, "gzip");
    expect_status(&t, st, 200, 0);
    assert_int_equal(h2tc_message(st, 0, &p, &pn), 1);
    assert_int_equal(get_u32(p), max);
    free(hb);
    free(buf);
    tc_close(&c);
    t_stop(&t);
}

/* ---- hostile clients ------------------------------------------------------------------ */

static h2_server_stats stats_of(T *t)
{
    h2_server_stats st;
    h2_server_get_stats(t->server, &st);
    return st;
}

/* A connection that writes HTTP/2 by hand and reads frames; its preface
 * (magic and an empty SETTINGS) is sent. */
static void raw_connect(T *t, tclient *c)
{
    h2tc_options o = {.raw = 1, .raw_frames = 1};
    tc_connect(t, c, &o);
    assert_int_equal(h2tc_raw_preface(&c->h), 0);
}

/* A gRPC request's header block in HPACK by hand, without Huffman coding
 * and without adding to the dynamic table. */
static size_t hpack_request(uint8_t *out, const char *path)
{
    size_t n = 0, pl = strlen(path);
    out[n++] = 0x83; /* :method: POST (static index 3) */
    out[n++] = 0x86; /* :scheme: http (static index 6) */
    out[n++] = 0x01; /* :authority (static name 1), literal value */
    out[n++] = 9;
    memcpy(out + n, "127.0.0.1", 9);
    n += 9;
    out[n++] = 0x04; /* :path (static name 4) */
    out[n++] = (uint8_t)pl;
    memcpy(out + n, path, pl);
    n += pl;
    out[n++] = 0x0f; /* content-type (static name 31 = 15 + 16) */
    out[n++] = 0x10;
    out[n++] = 16;
    memcpy(out + n, "application/grpc", 16);
    n += 16;
    out[n++] = 0x00; /* te: trailers, a new name */
    out[n++] = 2;
    memcpy(out + n, "te", 2);
    n += 2;
    out[n++] = 8;
    memcpy(out + n, "trailers", 8);
    n += 8;
    return n;
}

/* The HPACK indexed-header bomb: one header of 4000 bytes goes into the
 * dynamic table, then blocks of 16 KiB of one-byte references to it (each
 * block decodes to 66 MB). The connection is ended with
 * GOAWAY(ENHANCE_YOUR_CALM) at the first oversized block past the
 * allowance, and another connection is served meanwhile. Oversized headers
 * of a normal client are answered, and do not end its connection. */
static void test_header_bomb(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    t_start(&t, &g, &lim);
    tclient good;
    tc_connect(&t, &good, NULL);
    h2tc_call *st = tc_request(&good, "/t.T/Echo", "before", 6, NULL);
    expect_status(&t, st, 200, 0);

    /* Over the 16 KiB limit: RESOURCE_EXHAUSTED. Past 4 times the limit
     * (100 000 bytes that Huffman-code to 62 500, within what the client
     * sends in one block): the stream is reset with ENHANCE_YOUR_CALM. */
    char *big = malloc(100001);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    h2tc_request r = {.hname = "x-big", .hvalue = big};
    st = tc_request(&good, "/t.T/Echo", "x", 1, &r);
    expect_status(&t, st, 200, H2_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st->grpc_message, "header list"));
    memset(big, 'a', 100000);
    big[100000] = '\0';
    st = tc_request(&good, "/t.T/Echo", "x", 1, &r);
    assert_true(RUN_UNTIL(&t, st->closed, 3000));
    assert_int_equal(st->close_code, NGHTTP2_ENHANCE_YOUR_CALM);
    free(big);
    assert_int_equal(stats_of(&t).headers_oversized, 2);

    tclient bomb;
    raw_connect(&t, &bomb);
    uint8_t b1[4100];
    size_t n = 0;
    b1[n++] = 0x40; /* literal with incremental indexing, new name */
    b1[n++] = 6;
    memcpy(b1 + n, "x-bomb", 6);
    n += 6;
    b1[n++] = 0x7f; /* value length 4000 = 127 + 3873, 3873 = 33 + 30 * 128 */
    b1[n++] = 0x80 | 33;
    b1[n++] = 30;
    memset(b1 + n, 'b', 4000);
    n += 4000;
    assert_int_equal(h2tc_raw_frame(&bomb.h, NGHTTP2_HEADERS,
                                    NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, b1, n),
                     0);
    uint8_t *refs = malloc(16384);
    memset(refs, 0x80 | 62, 16384); /* indexed: dynamic table entry 62 */
    for (int i = 0; i < 40; i++)
        assert_int_equal(h2tc_raw_frame(&bomb.h, NGHTTP2_HEADERS,
                                        NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM,
                                        3 + 2 * i, refs, 16384),
                         0);
    free(refs);
    st = tc_request(&good, "/t.T/Echo", "during", 6, NULL);
    expect_status(&t, st, 200, 0);
    assert_true(RUN_UNTIL(&t, bomb.h.goaway, 5000));
    assert_int_equal(bomb.h.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    h2_server_stats stats = stats_of(&t);
    assert_int_equal(stats.ended_header_bomb, 1);
    /* Cut at the first block past the allowance: nothing after it was
     * decoded. */
    assert_int_equal(stats.headers_oversized, 2 + lim.max_oversized_headers + 1);
    assert_true(bomb.h.frames[NGHTTP2_RST_STREAM] <= (int)lim.max_oversized_headers + 1);

    st = tc_request(&good, "/t.T/Echo", "after", 5, NULL);
    expect_status(&t, st, 200, 0);
    assert_false(good.h.goaway);
    assert_int_equal(stats_of(&t).ended_control_flood, 0);
    tc_close(&bomb);
    tc_close(&good);
    t_stop(&t);
}

/* Requests that never finish arriving are ended at request_timeout_ms with
 * DEADLINE_EXCEEDED, saying what was missing, and their buffers are freed
 * at once; a call that arrived whole and waits in the gateway is not. */
static void test_request_timeout(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.request_timeout_ms = 300;
    t_start(&t, &g, &lim);
    tclient c;
    tc_connect(&t, &c, NULL);

    h2tc_call *held = tc_request(&c, "/t.T/Hold", "x", 1, NULL);
    assert_true(RUN_UNTIL(&t, g.nheld == 1, 2000));

    /* 4 MiB announced, 1 MiB sent. */
    size_t total = 4u << 20, part = 1u << 20;
    uint8_t *b = calloc(1, part + 5);
    h2tc_frame_prefix(b, 0, (uint32_t)total);
    h2tc_request hold = {.hold = 1};
    h2tc_call *partial = tc_request_raw(&c, "/t.T/Echo", b, part + 5, &hold);
    free(b);
    h2_server_stats stats;
    assert_true(RUN_UNTIL(
        &t, (h2_server_get_stats(t.server, &stats), stats.request_buffered >= part), 3000));
    /* Headers, and no message at all. */
    h2tc_call *nomsg = tc_request_raw(&c, "/t.T/Echo", NULL, 0, &hold);

    expect_status(&t, partial, 200, H2_GRPC_DEADLINE_EXCEEDED);
    assert_non_null(strstr(partial->grpc_message, "did not arrive within 300 ms"));
    assert_non_null(strstr(partial->grpc_message, "of the 4194304 bytes of the request message"));
    expect_status(&t, nomsg, 200, H2_GRPC_DEADLINE_EXCEEDED);
    assert_non_null(strstr(nomsg->grpc_message, "no request message arrived"));
    stats = stats_of(&t);
    assert_int_equal(stats.request_buffered, 0);
    assert_int_equal(stats.requests_timed_out, 2);
    assert_int_equal(g.requests, 1); /* only the Hold */

    /* A header block that never ends (no END_HEADERS, no CONTINUATION). */
    tclient r;
    raw_connect(&t, &r);
    uint8_t hb[128];
    size_t hn = hpack_request(hb, "/t.T/Echo");
    assert_int_equal(h2tc_raw_frame(&r.h, NGHTTP2_HEADERS, 0, 1, hb, hn), 0);
    assert_true(RUN_UNTIL(&t, r.h.frames[NGHTTP2_RST_STREAM] == 1, 3000));
    assert_int_equal(r.h.frames[NGHTTP2_HEADERS], 1); /* the DEADLINE_EXCEEDED answer */
    assert_int_equal(stats_of(&t).requests_timed_out, 3);

    /* The waiting call outlived all of them and is answered as usual; the
     * connection serves on. */
    assert_false(held->closed);
    assert_int_equal(h2_call_finish(g.held[0], 0, NULL), 0);
    expect_status(&t, held, 200, 0);
    h2tc_call *st = tc_request(&c, "/t.T/Echo", "on", 2, NULL);
    expect_status(&t, st, 200, 0);
    tc_close(&r);
    tc_close(&c);
    t_stop(&t);
}

/* Writes |count| copies of one frame in one write. */
static void raw_flood(tclient *c, uint8_t type, uint8_t flags, int32_t stream,
                      const uint8_t *payload, size_t len, int count)
{
    size_t one = 9 + len;
    uint8_t *buf = malloc(one * (size_t)count);
    for (int i = 0; i < count; i++) {
        h2tc_frame_header(buf + one * (size_t)i, (uint32_t)len, type, flags, stream);
        if (len)
            memcpy(buf + one * (size_t)i + 9, payload, len);
    }
    assert_int_equal(h2tc_write_raw(&c->h, buf, one * (size_t)count), 0);
    free(buf);
}

/* WINDOW_UPDATE(+1) and PRIORITY floods are cut with
 * GOAWAY(ENHANCE_YOUR_CALM) by the default budget. */
static void test_control_floods(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    static const uint8_t inc1[4] = {0, 0, 0, 1};
    static const uint8_t prio[5] = {0, 0, 0, 0, 15};
    tclient a;
    raw_connect(&t, &a);
    raw_flood(&a, NGHTTP2_WINDOW_UPDATE, 0, 0, inc1, sizeof inc1, 5000);
    assert_true(RUN_UNTIL(&t, a.h.goaway, 3000));
    assert_int_equal(a.h.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    tclient b;
    raw_connect(&t, &b);
    raw_flood(&b, NGHTTP2_PRIORITY, 0, 1, prio, sizeof prio, 5000);
    assert_true(RUN_UNTIL(&t, b.h.goaway, 3000));
    assert_int_equal(b.h.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    h2_server_stats stats = stats_of(&t);
    assert_int_equal(stats.ended_control_flood, 2);
    assert_int_equal(stats.ended_header_bomb, 0);
    tc_close(&a);
    tc_close(&b);
    t_stop(&t);
}

/* Every kind of control frame counts: PING, SETTINGS, RST_STREAM and empty
 * DATA floods are cut too (with a small budget, so that the transport's
 * budget, not one of nghttp2's own limits, is what cuts them). */
static void test_control_budget_kinds(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.control_burst = 50;
    lim.control_per_second = 10;
    t_start(&t, &g, &lim);
    uint8_t hb[128];
    size_t hn = hpack_request(hb, "/t.T/Echo");
    static const uint8_t ping[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t cancel[4] = {0, 0, 0, NGHTTP2_CANCEL};
    for (int kind = 0; kind < 4; kind++) {
        tclient c;
        raw_connect(&t, &c);
        switch (kind) {
        case 0:
            raw_flood(&c, NGHTTP2_PING, 0, 0, ping, sizeof ping, 200);
            break;
        case 1:
            raw_flood(&c, NGHTTP2_SETTINGS, 0, 0, NULL, 0, 200);
            break;
        case 2: /* a stream ended at once, then resets of it */
            assert_int_equal(h2tc_raw_frame(&c.h, NGHTTP2_HEADERS,
                                            NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
                                            hb, hn),
                             0);
            raw_flood(&c, NGHTTP2_RST_STREAM, 0, 1, cancel, sizeof cancel, 200);
            break;
        case 3: /* a request whose body is empty DATA frames */
            assert_int_equal(
                h2tc_raw_frame(&c.h, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, hb, hn), 0);
            raw_flood(&c, NGHTTP2_DATA, 0, 1, NULL, 0, 200);
            break;
        }
        assert_true(RUN_UNTIL(&t, c.h.goaway, 3000));
        if (c.h.goaway_code != NGHTTP2_ENHANCE_YOUR_CALM)
            fail_msg("flood %d: GOAWAY code %u", kind, c.h.goaway_code);
        assert_int_equal(stats_of(&t).ended_control_flood, (uint64_t)kind + 1);
        tc_close(&c);
    }
    t_stop(&t);
}

/* A normal client doing a lot of normal work under the default budget: a
 * stream of 3000 messages through a 128-byte window (a window update for
 * every few DATA frames), 300 unary calls, 50 pings. It is not cut. */
static void test_control_budget_normal_client(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient c;
    h2tc_options o = {.initial_window = 128};
    tc_connect(&t, &c, &o);
    uint8_t req[8];
    put_u32(req, 3000);
    put_u32(req + 4, 16);
    h2tc_call *stream = tc_request(&c, "/t.T/Stream", req, sizeof req, NULL);
    h2tc_call *calls[300];
    for (int i = 0; i < 300; i++) {
        calls[i] = tc_request(&c, "/t.T/Echo", "work", 4, NULL);
        if (i % 6 == 0) {
            assert_int_equal(nghttp2_submit_ping(c.h.sess, NGHTTP2_FLAG_NONE, NULL), 0);
            tc_flush(&c);
        }
        RUN_FOR(&t, 1);
    }
    expect_status(&t, stream, 200, 0);
    assert_int_equal(h2tc_message(stream, 0, NULL, NULL), 3000);
    for (int i = 0; i < 300; i++)
        expect_status(&t, calls[i], 200, 0);
    assert_false(c.h.goaway);
    assert_int_equal(stats_of(&t).ended_control_flood, 0);
    tc_close(&c);
    t_stop(&t);
}

/* max_connections: connection N works, N+1 gets GOAWAY(ENHANCE_YOUR_CALM)
 * and is closed, and once one closes there is room again.
 * max_connections_per_peer: the same per remote address, while another
 * address still gets in. */
static void test_connection_caps(void **state)
{
    (void)state;
    T t;
    gw g;
    h2_limits lim;
    h2_limits_init(&lim);
    lim.max_connections = 3;
    t_start(&t, &g, &lim);
    tclient a[3];
    for (int i = 0; i < 3; i++) {
        tc_connect(&t, &a[i], NULL);
        h2tc_call *st = tc_request(&a[i], "/t.T/Echo", "in", 2, NULL);
        expect_status(&t, st, 200, 0);
    }
    tclient over;
    tc_connect(&t, &over, NULL);
    assert_true(RUN_UNTIL(&t, over.eof, 3000));
    assert_true(over.h.goaway);
    assert_int_equal(over.h.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    h2_server_stats stats = stats_of(&t);
    assert_int_equal(stats.refused_max, 1);
    assert_int_equal(stats.connections_open, 3);
    h2tc_call *st = tc_request(&a[2], "/t.T/Echo", "N", 1, NULL); /* N still works */
    expect_status(&t, st, 200, 0);
    tc_close(&over);
    tc_close(&a[0]);
    assert_true(
        RUN_UNTIL(&t, (h2_server_get_stats(t.server, &stats), stats.connections_open == 2), 2000));
    tclient again;
    tc_connect(&t, &again, NULL);
    st = tc_request(&again, "/t.T/Echo", "again", 5, NULL);
    expect_status(&t, st, 200, 0);
    tc_close(&again);
    tc_close(&a[1]);
    tc_close(&a[2]);
    t_stop(&t);

    h2_limits_init(&lim);
    lim.max_connections = 100;
    lim.max_connections_per_peer = 2;
    t_start(&t, &g, &lim);
    tclient p[2];
    for (int i = 0; i < 2; i++) {
        tc_connect_from(&t, &p[i], NULL, "127.0.0.1");
        st = tc_request(&p[i], "/t.T/Echo", "in", 2, NULL);
        expect_status(&t, st, 200, 0);
    }
    tc_connect_from(&t, &over, NULL, "127.0.0.1");
    assert_true(RUN_UNTIL(&t, over.eof, 3000));
    assert_true(over.h.goaway);
    assert_int_equal(over.h.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    tclient other;
    tc_connect_from(&t, &other, NULL, "127.0.0.2");
    st = tc_request(&other, "/t.T/Echo", "other peer", 10, NULL);
    expect_status(&t, st, 200, 0);
    st = tc_request(&p[1], "/t.T/Echo", "N", 1, NULL);
    expect_status(&t, st, 200, 0);
    stats = stats_of(&t);
    assert_int_equal(stats.refused_peer, 1);
    assert_int_equal(stats.refused_max, 0);
    tc_close(&over);
    tc_close(&other);
    tc_close(&p[0]);
    tc_close(&p[1]);
    t_stop(&t);
}

/* Descriptors run out: the connection the listener cannot take is closed
 * at once with its spare descriptor (the client sees the close, not a
 * hang), the failure is counted, a connection already open is served
 * meanwhile, and accepting goes on once descriptors are free again. */
static void test_descriptors_run_out(void **state)
{
    (void)state;
    T t;
    gw g;
    t_start(&t, &g, NULL);
    tclient ok;
    tc_connect(&t, &ok, NULL);
    h2tc_call *st = tc_request(&ok, "/t.T/Echo", "before", 6, NULL);
    expect_status(&t, st, 200, 0);

    /* Use up every descriptor under a lowered soft limit, then free one:
     * the client's socket takes it, and the server has none to accept. */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int top = open("/dev/null", O_RDONLY);
    assert_true(top >= 0);
    close(top);
    low = old;
    low.rlim_cur = (rlim_t)top + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[128], n = 0;
    while (n < 128) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            break;
        fds[n++] = fd;
    }
    assert_true(n > 0 && n < 128);
    close(fds[--n]);
    tclient starved;
    tc_connect(&t, &starved, NULL);
    assert_true(RUN_UNTIL(&t, starved.eof, 3000));
    assert_int_equal(stats_of(&t).accept_failures, 1);
    st = tc_request(&ok, "/t.T/Echo", "during", 6, NULL); /* open connections need none */
    expect_status(&t, st, 200, 0);
    tc_close(&starved);

    while (n > 0)
        close(fds[--n]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    tclient after;
    tc_connect(&t, &after, NULL); /* waits in the backlog through the pause */
    st = tc_request(&after, "/t.T/Echo", "after", 5, NULL);
    expect_status(&t, st, 200, 0);
    assert_int_equal(stats_of(&t).accept_failures, 1);
    tc_close(&after);
    tc_close(&ok);
    t_stop(&t);
}

int main(void)
{
    /* A client writing to a connection the server closed (a refused one)
     * gets EPIPE, as in chuted, not the signal. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc_message_encoding),
        cmocka_unit_test(test_unary_echo),
        cmocka_unit_test(test_server_streaming),
        cmocka_unit_test(test_flow_control_tiny_window),
        cmocka_unit_test(test_stopped_reader_bounded),
        cmocka_unit_test(test_client_reset),
        cmocka_unit_test(test_connection_drop),
        cmocka_unit_test(test_oversize_message),
        cmocka_unit_test(test_request_buffer_bound),
        cmocka_unit_test(test_compressed_and_malformed),
        cmocka_unit_test(test_compressed_requests),
        cmocka_unit_test(test_compressed_bounds),
        cmocka_unit_test(test_http1_gets_400),
        cmocka_unit_test(test_reset_burst),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_shutdown_from_callback),
        cmocka_unit_test(test_shutdown_with_stuck_client),
        cmocka_unit_test(test_curl_interop),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_header_bomb),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_control_floods),
        cmocka_unit_test(test_control_budget_kinds),
        cmocka_unit_test(test_control_budget_normal_client),
        cmocka_unit_test(test_connection_caps),
        cmocka_unit_test(test_descriptors_run_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
