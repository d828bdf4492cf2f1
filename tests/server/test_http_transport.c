/*
 * Edge cases of the HTTP/1.1 transport (src/server/http.c): a real
 * http_server on 127.0.0.1 in a loop thread, driven by plain blocking
 * sockets from the test thread. The handler answers by path:
 *   /echo   at once, with method, path, query and body
 *   /slow   after 150 ms (from a timer)
 *   /hold   never; counts the abort when the connection goes
 *   /big    at once, with 256 KiB
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "server/http.h"

#include "rest.h" /* rest_problem, the error bodies chuted gives the transport */

typedef struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    http_server *s;
    int port;
    atomic_int dispatched;
    atomic_int aborted;
    atomic_int down;
    http_request *held[64];
    int nheld;
    http_server_stats last; /* the server's counters as it went down */
} fixture;

typedef struct slow {
    uv_timer_t t;
    http_request *req;
} slow;

static void slow_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_slow(uv_timer_t *t)
{
    slow *s = t->data;
    char *b = strdup("slow");
    http_respond(s->req, 200, "text/plain", NULL, b, 4, NULL, NULL);
    t->data = s;
    uv_close((uv_handle_t *)t, slow_closed);
}

static void on_abort(void *ud, http_request *req)
{
    fixture *f = ud;
    for (int i = 0; i < f->nheld; i++) {
        if (f->held[i] == req) {
            f->held[i] = f->held[--f->nheld];
            break;
        }
    }
    atomic_fetch_add(&f->aborted, 1);
}

static void on_request(void *ctx, http_request *req)
{
    fixture *f = ctx;
    atomic_fetch_add(&f->dispatched, 1);
    if (strcmp(req->path, "/echo") == 0) {
        char *b = malloc(256 + req->body_len);
        int n = snprintf(b, 256, "%s %s ?%s ", req->method_name, req->path, req->query);
        memcpy(b + n, req->body, req->body_len);
        http_respond(req, 200, "text/plain", "X-Test: 1\r\n", b, (size_t)n + req->body_len, NULL,
                     NULL);
    } else if (strcmp(req->path, "/slow") == 0) {
        slow *s = calloc(1, sizeof *s);
        s->req = req;
        uv_timer_init(&f->loop, &s->t);
        s->t.data = s;
        uv_timer_start(&s->t, on_slow, 150, 0);
    } else if (strcmp(req->path, "/hold") == 0) {
        http_request_on_abort(req, on_abort, f);
        if (f->nheld < 64)
            f->held[f->nheld++] = req;
    } else if (strcmp(req->path, "/big") == 0) {
        size_t n = 256 << 10;
        char *b = malloc(n);
        memset(b, 'x', n);
        http_respond(req, 200, "text/plain", NULL, b, n, NULL, NULL);
    } else {
        char *b = strdup("nope");
        http_respond(req, 404, "text/plain", NULL, b, 4, NULL, NULL);
    }
}

static void on_down(void *ctx)
{
    fixture *f = ctx;
    http_server_get_stats(f->s, &f->last);
    uv_close((uv_handle_t *)&f->stop, NULL);
    atomic_store(&f->down, 1);
}

static void on_stop(uv_async_t *a)
{
    fixture *f = a->data;
    http_server_shutdown(f->s, on_down, f);
}

static void run_loop(void *arg)
{
    fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static fixture *start(const http_limits *lim)
{
    fixture *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    chute_error err;
    assert_int_equal(http_server_open(&f->s, &f->loop, "127.0.0.1", 0, lim, on_request, f, &err),
                     0);
    http_server_set_error_body(f->s, "application/problem+json", rest_problem); /* as chuted */
    f->port = http_server_port(f->s);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    uv_thread_create(&f->thread, run_loop, f);
    return f;
}

static void stop(fixture *f)
{
    uv_async_send(&f->stop);
    uv_thread_join(&f->thread);
    assert_true(atomic_load(&f->down));
    http_server_free(f->s);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

static http_limits limits(void)
{
    http_limits l;
    http_limits_init(&l);
    l.max_body_size = 1024;
    l.max_header_size = 2048;
    l.drain_timeout_ms = 300;
    return l;
}

/* A connection from the local address |src| (another loopback address, for
 * the per-peer cap). */
static int connect_from(fixture *f, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &from.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof from), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int connect_to(fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the server may have closed already */
        s += k;
        n -= (size_t)k;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Reads until the peer closes or |want| bytes or the timeout; returns the
 * bytes (NUL-terminated, malloc'd) and sets |*closed|. */
static char *recv_some(int fd, size_t want, int *closed)
{
    size_t cap = 1 << 20, len = 0;
    char *b = malloc(cap + 1);
    *closed = 0;
    while (len < want && len < cap) {
        ssize_t k = recv(fd, b + len, cap - len, 0);
        if (k == 0) {
            *closed = 1;
            break;
        }
        if (k < 0)
            break;
        len += (size_t)k;
    }
    b[len] = '\0';
    return b;
}

/* Reads until the peer closes (or 3 s). */
static char *recv_all(int fd, int *closed)
{
    return recv_some(fd, SIZE_MAX, closed);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_pipelined_answers_in_order(void **state)
{
    (void)state;
    http_limits l = limits();
    fixture *f = start(&l);
    int fd = connect_to(f);
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                 "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    int closed;
    char *r = recv_all(fd, &closed);
    assert_true(closed);
    const char *p1 = strstr(r, "\r\n\r\nslow");
    const char *p2 = strstr(r, "POST /echo ?a=1 hello");
    const char *p3 = strstr(r, "POST /echo ? abcde");
    const char *p4 = strstr(r, "HTTP/1.1 404");
    assert_non_null(p1);
    assert_non_null(p2);
    assert_non_null(p3);
    assert_non_null(p4);
    assert_true(p1 < p2 && p2 < p3 && p3 < p4);
    assert_non_null(strstr(r, "X-Test: 1\r\n"));
    assert_int_equal(count(r, "Connection: close"), 1);
    free(r);
    close(fd);
    stop(f);
}

static void expect_reject(fixture *f, const char *req, const char *status)
{
    int fd = connect_to(f);
    send_str(fd, req);
    int closed;
    char *r = recv_all(fd, &closed);
    if (strncmp(r, status, strlen(status)) != 0) {
        char got[256];
        snprintf(got, sizeof got, "%.200s", r);
        free(r);
        fail_msg("expected %s for %.60s..., got %s", status, req, got);
    }
    assert_true(closed); /* every transport error closes the connection */
    assert_non_null(strstr(r, "application/problem+json"));
    free(r);
    close(fd);
}

static void test_malformed_and_bounds(void **state)
{
    (void)state;
    http_limits l = limits();
    fixture *f = start(&l);
    expect_reject(f, "GARBAGE\r\n\r\n", "HTTP/1.1 400");
    expect_reject(f, "GET / HTTP/9.9\r\n\r\n", "HTTP/1.1 505");
    expect_reject(f, "GET /echo HTTP/1.1\r\nNo colon here\r\n\r\n", "HTTP/1.1 400");
    expect_reject(f, "GET /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                  "HTTP/1.1 400");
    expect_reject(f, "GET http//bad HTTP/1.1\r\n\r\n", "HTTP/1.1 400");
    expect_reject(f, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                  "HTTP/1.1 400");
    /* The body is refused from its Content-Length, before it is sent. */
    expect_reject(f, "POST /echo HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", "HTTP/1.1 413");
    expect_reject(f, "POST /echo HTTP/1.1\r\nContent-Length: 1025\r\n\r\n", "HTTP/1.1 413");
    /* Chunked bodies are counted as they come. */
    {
        char req[4096];
        int n = snprintf(req, sizeof req,
                         "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n");
        memset(req + n, 'a', 1024);
        n += 1024;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
        expect_reject(f, req, "HTTP/1.1 413");
    }
    {
        char req[8192];
        int n = snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nX-Big: ");
        memset(req + n, 'h', 3000);
        n += 3000;
        snprintf(req + n, sizeof req - (size_t)n, "\r\n\r\n");
        expect_reject(f, req, "HTTP/1.1 431");
        n = snprintf(req, sizeof req, "GET /");
        memset(req + n, 'u', 3000);
        n += 3000;
        snprintf(req + n, sizeof req - (size_t)n, " HTTP/1.1\r\n\r\n");
        expect_reject(f, req, "HTTP/1.1 414");
    }
    expect_reject(f, "POST /echo HTTP/1.1\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx",
                  "HTTP/1.1 417");
    /* Errors after good pipelined requests come after their answers. */
    {
        int fd = connect_to(f);
        send_str(fd, "GET /echo HTTP/1.1\r\n\r\nBROKEN\r\n\r\n");
        int closed;
        char *r = recv_all(fd, &closed);
        assert_true(closed);
        const char *ok = strstr(r, "HTTP/1.1 200");
        const char *bad = strstr(r, "HTTP/1.1 400");
        assert_non_null(ok);
        assert_non_null(bad);
        assert_true(ok < bad);
        free(r);
        close(fd);
    }
    /* The server still serves. */
    {
        int fd = connect_to(f);
        send_str(fd, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n");
        int closed;
        char *r = recv_all(fd, &closed);
        assert_memory_equal(r, "HTTP/1.1 200", 12);
        free(r);
        close(fd);
    }
    stop(f);
}

static void test_head_http10_expect(void **state)
{
    (void)state;
    http_limits l = limits();
    fixture *f = start(&l);
    int fd = connect_to(f);
    send_str(fd, "HEAD /echo HTTP/1.1\r\nConnection: close\r\n\r\n");
    int closed;
    char *r = recv_all(fd, &closed);
    assert_memory_equal(r, "HTTP/1.1 200", 12);
    assert_non_null(strstr(r, "Content-Length: "));
    assert_null(strstr(r, "HEAD /echo")); /* no body */
    free(r);
    close(fd);

    fd = connect_to(f);
    send_str(fd, "GET /echo HTTP/1.0\r\n\r\n");
    r = recv_all(fd, &closed);
    assert_true(closed);
    assert_memory_equal(r, "HTTP/1.1 200", 12);
    free(r);
    close(fd);

    fd = connect_to(f);
    send_str(fd, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    r = recv_some(fd, 10, &closed);
    sleep_ms(100);
    free(r);
    r = recv_some(fd, 1, &closed); /* times out quietly or reads the rest */
    free(r);
    send_str(fd, "GET /echo HTTP/1.0\r\n\r\n");
    r = recv_all(fd, &closed);
    assert_true(closed);
    free(r);
    close(fd);

    fd = connect_to(f);
    send_str(fd, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    r = recv_some(fd, 25, &closed);
    assert_memory_equal(r, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    free(r);
    send_str(fd, "abc");
    r = recv_some(fd, 60, &closed);
    assert_memory_equal(r, "HTTP/1.1 200", 12);
    free(r);
    close(fd);
    stop(f);
}

static void test_timeouts(void **state)
{
    (void)state;
    http_limits l = limits();
    l.idle_timeout_ms = 200;
    l.request_timeout_ms = 300;
    fixture *f = start(&l);
    /* A request that never completes: 408, closed. */
    int fd = connect_to(f);
    send_str(fd, "GET /echo HTTP/1.1\r\nHost: slowloris");
    int closed;
    char *r = recv_all(fd, &closed);
    assert_true(closed);
    assert_memory_equal(r, "HTTP/1.1 408", 12);
    free(r);
    close(fd);
    /* An idle keep-alive connection is closed quietly. */
    fd = connect_to(f);
    send_str(fd, "GET /echo HTTP/1.1\r\n\r\n");
    r = recv_all(fd, &closed);
    assert_true(closed);
    assert_int_equal(count(r, "HTTP/1.1 200"), 1);
    free(r);
    close(fd);
    /* A connection that never sends anything is closed too. */
    fd = connect_to(f);
    r = recv_all(fd, &closed);
    assert_true(closed);
    assert_string_equal(r, "");
    free(r);
    close(fd);
    stop(f);
}

static void test_abort_when_client_leaves(void **state)
{
    (void)state;
    http_limits l = limits();
    fixture *f = start(&l);
    int fd = connect_to(f);
    send_str(fd, "GET /hold HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 100 && atomic_load(&f->dispatched) < 1; i++)
        sleep_ms(10);
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&f->aborted) < 1; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&f->aborted), 1);
    /* Held at shutdown: aborted after the drain time. */
    fd = connect_to(f);
    send_str(fd, "GET /hold HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 100 && atomic_load(&f->dispatched) < 2; i++)
        sleep_ms(10);
    stop(f);
    close(fd);
}

static void test_client_that_never_reads(void **state)
{
    (void)state;
    http_limits l = limits();
    l.max_pipeline = 8;
    l.max_output_buffer = 512 << 10;
    l.idle_timeout_ms = 1000;
    fixture *f = start(&l);
    int fd = connect_to(f);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const char *one = "GET /big HTTP/1.1\r\n\r\n";
    /* Send up to 2000 requests without reading a byte; sending blocks once
     * the server stops reading. */
    int sent = 0;
    for (; sent < 2000; sent++) {
        ssize_t k = send(fd, one, strlen(one), MSG_NOSIGNAL);
        if (k != (ssize_t)strlen(one))
            break;
    }
    sleep_ms(300);
    int d = atomic_load(&f->dispatched);
    /* Bounded by the pipeline and output limits plus what the kernel's
     * socket buffers absorbed (a few MiB at most: 256 KiB per answer). */
    if (d > 64)
        fail_msg("dispatched %d of %d requests to a client that reads nothing", d, sent);
    /* It stops reading for good: the stalled connection is closed after the
     * idle time, and the server serves others meanwhile. */
    int fd2 = connect_to(f);
    send_str(fd2, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n");
    int closed;
    char *r = recv_all(fd2, &closed);
    assert_memory_equal(r, "HTTP/1.1 200", 12);
    free(r);
    close(fd2);
    close(fd);
    stop(f);
}

static void test_many_keepalive_requests(void **state)
{
    (void)state;
    http_limits l = limits();
    fixture *f = start(&l);
    int fd = connect_to(f);
    for (int i = 0; i < 200; i++) {
        send_str(fd, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
        int closed;
        char *r = recv_some(fd, 1, &closed);
        assert_false(closed);
        free(r);
    }
    close(fd);
    stop(f);
}

/* The server's counters once it is down (read on its thread in on_down). */
static http_server_stats stop_with_stats(fixture *f)
{
    uv_async_send(&f->stop);
    uv_thread_join(&f->thread);
    assert_true(atomic_load(&f->down));
    http_server_stats st = f->last;
    http_server_free(f->s);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return st;
}

/* A keep-alive GET /echo on |fd| is answered 200. */
static void echo_ok(int fd)
{
    send_str(fd, "GET /echo HTTP/1.1\r\n\r\n");
    int closed;
    char *r = recv_some(fd, 12, &closed);
    assert_memory_equal(r, "HTTP/1.1 200", 12);
    free(r);
    /* the rest of the answer */
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
    tv = (struct timeval){.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* A connection over a cap gets no answer: it is closed at once. */
static void refused(int fd)
{
    send_str(fd, "GET /echo HTTP/1.1\r\n\r\n");
    int closed;
    char *r = recv_all(fd, &closed);
    assert_string_equal(r, "");
    free(r);
}

/* max_connections: connection N works, N+1 is closed at once, and once one
 * closes there is room again; max_connections_per_peer likewise for one
 * address while another still gets in. */
static void test_connection_caps(void **state)
{
    (void)state;
    http_limits l = limits();
    l.max_connections = 2;
    fixture *f = start(&l);
    int a = connect_to(f), b = connect_to(f);
    echo_ok(a);
    echo_ok(b);
    int c = connect_to(f);
    refused(c);
    close(c);
    echo_ok(b); /* N still works */
    close(a);
    int d = -1;
    for (int i = 0; i < 100; i++) { /* the server sees a's close soon */
        d = connect_to(f);
        send_str(d, "GET /echo HTTP/1.1\r\n\r\n");
        int closed;
        char *r = recv_some(d, 12, &closed);
        int ok = strncmp(r, "HTTP/1.1 200", 12) == 0;
        free(r);
        if (ok)
            break;
        close(d);
        d = -1;
        sleep_ms(10);
    }
    assert_true(d >= 0);
    close(d);
    close(b);
    http_server_stats st = stop_with_stats(f);
    assert_true(st.refused_max >= 1);
    assert_int_equal(st.refused_peer, 0);

    l = limits();
    l.max_connections = 10;
    l.max_connections_per_peer = 1;
    f = start(&l);
    a = connect_from(f, "127.0.0.1");
    echo_ok(a);
    b = connect_from(f, "127.0.0.1");
    refused(b);
    close(b);
    c = connect_from(f, "127.0.0.2");
    echo_ok(c);
    echo_ok(a);
    close(a);
    close(c);
    st = stop_with_stats(f);
    assert_int_equal(st.refused_peer, 1);
    assert_int_equal(st.refused_max, 0);
}

/* A request that does not arrive whole within request_timeout_ms is
 * answered 408 and counted. */
static void test_request_timeout_counted(void **state)
{
    (void)state;
    http_limits l = limits();
    l.request_timeout_ms = 200;
    fixture *f = start(&l);
    int fd = connect_to(f);
    send_str(fd, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly part");
    int closed;
    char *r = recv_all(fd, &closed);
    assert_true(closed);
    assert_memory_equal(r, "HTTP/1.1 408", 12);
    free(r);
    close(fd);
    http_server_stats st = stop_with_stats(f);
    assert_int_equal(st.requests_timed_out, 1);
    assert_int_equal(st.requests_dispatched, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_answers_in_order),
        cmocka_unit_test(test_malformed_and_bounds),
        cmocka_unit_test(test_head_http10_expect),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_abort_when_client_leaves),
        cmocka_unit_test(test_client_that_never_reads),
        cmocka_unit_test(test_many_keepalive_requests),
        cmocka_unit_test(test_connection_caps),
        cmocka_unit_test(test_request_timeout_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
