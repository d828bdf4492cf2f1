/*
 * The client's transport: see transport.h for the model.
 *
 * Threads. Every nghttp2 and libuv object belongs to the I/O thread. Other
 * threads talk to it through two lists guarded by |mu| (calls to submit and
 * small operations to run) and a uv_async_t that wakes the loop. Callbacks
 * into the owner of a call run on the I/O thread with no lock held, so they
 * may start, cancel and release calls.
 *
 * Lifetimes. A call is reference counted (the count is guarded by |mu|):
 * one reference belongs to the I/O thread until on_done has run, one to the
 * HTTP/2 stream while nghttp2 may still read its request body (until the
 * stream closes or the connection is freed), and one to the owner when it
 * asked for a handle. A connection is freed once its two libuv handles have
 * closed; a replaced or broken connection lingers on |old| until then.
 */
#include "client/transport.h"

#include "codec/grpc_frame.h"

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNARY_WINDOW (8 * 1024 * 1024) /* per ordinary stream: > one max message */
#define CONN_WINDOW (32 * 1024 * 1024) /* the connection: never the bottleneck */
#define READ_BUF_SIZE (64 * 1024)
#define DEFAULT_PORT 26500

enum call_state { CALL_NEW, CALL_QUEUED, CALL_ACTIVE, CALL_DONE };
enum conn_state { CONN_RESOLVING, CONN_CONNECTING, CONN_READY, CONN_DEAD };

typedef struct cconn cconn;

struct ccall {
    chute_client *client;
    int refs; /* guarded by client->mu */
    char *path;
    uint8_t *body;
    size_t body_len;
    size_t body_off;
    int64_t deadline_ms;
    uint64_t deadline_at; /* monotonic ms; 0 = none */
    int flags;
    ccall_cbs cbs;
    void *user_data;

    /* Flow-control credit wanted by the owner; guarded by client->mu. */
    int fc_messages;
    uint64_t fc_seen;
    size_t fc_min;
    size_t fc_max;
    int fc_op_pending;

    /* The rest belongs to the I/O thread. */
    int state;
    cconn *conn;
    int32_t stream_id;
    int stream_ref;     /* the stream holds a reference */
    ccall *prev, *next; /* client->queued or conn->calls */
    ccall *sub_next;    /* client->submitted */
    codec_frame_reader reader;
    int http_status;
    int grpc_status;
    int have_grpc_status;
    int got_headers;
    int retried;
    int headers_sent;
    char *grpc_message;
    /* flow-controlled calls: bytes granted and received; where the message
     * boundary is (to let a started message through whole) is the reader's */
    uint64_t fc_granted;
    uint64_t fc_received;
    uint64_t fc_completed; /* messages whose last byte arrived */
};

struct cconn {
    chute_client *client;
    int state;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer; /* connect timeout, then keepalive */
    int handles;      /* initialised handles not yet closed */
    int gai_pending;
    nghttp2_session *session;
    ccall *calls; /* streams of this connection (active or finished, not yet closed) */
    cconn *next;  /* on client->old */
    int going_away;
    int ping_outstanding;
    uint64_t last_read;
    uint8_t rbuf[READ_BUF_SIZE];
};

typedef struct cop {
    void (*fn)(void *arg);
    void *arg;
    struct cop *next;
} cop;

struct chute_client {
    char *address;
    char host[256];
    char port_str[16];
    char *authority;
    char *user_agent;
    char *auth_header;
    int64_t connect_timeout_ms;
    int64_t default_deadline_ms;
    int64_t keepalive_ms;
    size_t max_message;

    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t deadlines;
    int deadline_armed;

    pthread_mutex_t mu;
    int closing;      /* guarded by mu */
    ccall *submitted; /* guarded by mu */
    ccall *submitted_tail;
    cop *ops; /* guarded by mu */
    cop *ops_tail;

    /* I/O thread only */
    ccall *queued; /* calls waiting for a connection */
    cconn *conn;   /* the connection new calls go to */
    cconn *old;    /* connections going away or closing */
    int shut;
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void list_push(ccall **head, ccall *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void list_unlink(ccall **head, ccall *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (*head == c)
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Calls wait for a connection in the order they were made. */
static void queue_append(chute_client *c, ccall *call)
{
    call->next = NULL;
    call->prev = NULL;
    if (!c->queued) {
        c->queued = call;
        return;
    }
    ccall *t = c->queued;
    while (t->next)
        t = t->next;
    t->next = call;
    call->prev = t;
}

static void call_ref(ccall *call)
{
    pthread_mutex_lock(&call->client->mu);
    call->refs++;
    pthread_mutex_unlock(&call->client->mu);
}

static void call_unref(ccall *call)
{
    chute_client *c = call->client;
    pthread_mutex_lock(&c->mu);
    int left = --call->refs;
    pthread_mutex_unlock(&c->mu);
    if (left > 0)
        return;
    codec_frame_reader_free(&call->reader);
    free(call->grpc_message);
    free(call->path);
    free(call->body);
    free(call);
}

void ccall_release(ccall *call)
{
    if (call)
        call_unref(call);
}

int ctransport_grpc_to_chute(int s)
{
    switch (s) {
#define X(name, value, client)                                                                     \
    case value:                                                                                    \
        return client;
        CHUTE_GRPC_STATUS_MAP(X)
#undef X
    }
    /* A status newer than the list counts as UNKNOWN. */
    return ctransport_grpc_to_chute(CHUTE_GRPC_UNKNOWN);
}

int ctransport_http_to_grpc(int http)
{
    switch (http) {
    case 400:
        return CHUTE_GRPC_INTERNAL;
    case 401:
        return CHUTE_GRPC_UNAUTHENTICATED;
    case 403:
        return CHUTE_GRPC_PERMISSION_DENIED;
    case 404:
        return CHUTE_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return CHUTE_GRPC_UNAVAILABLE;
    default:
        return CHUTE_GRPC_UNKNOWN;
    }
}

int ctransport_parse_address(const char *address, char *host, size_t host_cap, int *port,
                             chute_error *err)
{
    if (!address || !*address)
        return chute_error_set(err, CHUTE_EINVAL, "empty address: expected HOST:PORT");
    const char *h = address, *hend, *p = NULL;
    if (*address == '[') {
        h = address + 1;
        hend = strchr(h, ']');
        if (!hend)
            return chute_error_set(err, CHUTE_EINVAL,
                                   "malformed address '%s': missing ']' after an IPv6 host",
                                   address);
        if (hend[1] == ':')
            p = hend + 2;
        else if (hend[1] != '\0')
            return chute_error_set(err, CHUTE_EINVAL,
                                   "malformed address '%s': expected ':PORT' after ']'", address);
    } else {
        const char *colon = strrchr(address, ':');
        if (colon && strchr(address, ':') != colon)
            return chute_error_set(err, CHUTE_EINVAL,
                                   "malformed address '%s': write IPv6 hosts as [HOST]:PORT",
                                   address);
        hend = colon ? colon : address + strlen(address);
        if (colon)
            p = colon + 1;
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0 || hlen >= host_cap)
        return chute_error_set(err, CHUTE_EINVAL, "malformed address '%s': bad host", address);
    int pv = DEFAULT_PORT;
    if (p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (*p == '\0' || *end != '\0' || errno || v < 1 || v > 65535)
            return chute_error_set(err, CHUTE_EINVAL,
                                   "malformed address '%s': the port must be 1..65535", address);
        pv = (int)v;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = pv;
    return 0;
}

void ctransport_grpc_timeout(int64_t ms, char *out, size_t cap)
{
    /* At most 8 digits are allowed; pick the finest unit that fits. */
    if (ms < 1)
        ms = 1;
    if (ms < 100000000)
        snprintf(out, cap, "%" PRId64 "m", ms);
    else if (ms / 1000 < 100000000)
        snprintf(out, cap, "%" PRId64 "S", ms / 1000);
    else
        snprintf(out, cap, "%" PRId64 "H", ms / 3600000 < 100000000 ? ms / 3600000 : 99999999);
}

/* ---- ending calls -------------------------------------------------------- */

static void flush_all(chute_client *c);
static void conn_fail(cconn *conn, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pump(chute_client *c);

/* Runs on_done once and drops the I/O thread's reference. The call stays on
 * its connection's list until its stream closes. */
static void call_finish(ccall *call, int rc, const chute_error *err)
{
    if (call->state == CALL_DONE)
        return;
    if (call->state == CALL_QUEUED)
        list_unlink(&call->client->queued, call);
    call->state = CALL_DONE;
    if (call->cbs.on_done) {
        chute_error e;
        if (rc < 0 && !err) {
            chute_error_set(&e, rc, "%s", chute_strerror(rc));
            err = &e;
        }
        call->cbs.on_done(call->user_data, rc, rc < 0 ? err : NULL);
    }
    call_unref(call);
}

static void call_finishf(ccall *call, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_finishf(ccall *call, int rc, const char *fmt, ...)
{
    chute_error e;
    va_list ap;
    va_start(ap, fmt);
    e.code = rc;
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    call_finish(call, rc, &e);
}

/* Ends a call early: resets its stream if it has one. */
static void call_abort(ccall *call, int rc, const chute_error *err)
{
    if (call->state == CALL_DONE)
        return;
    if (call->state == CALL_ACTIVE && call->conn && call->conn->state == CONN_READY &&
        call->stream_id > 0)
        nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_CANCEL);
    call_finish(call, rc, err);
}

/* The stream of |call| is gone: drop its reference. */
static void call_detach(ccall *call)
{
    if (!call->stream_ref)
        return;
    list_unlink(&call->conn->calls, call);
    call->stream_ref = 0;
    call->conn = NULL;
    call_unref(call);
}

/* ---- flow control of flow-controlled calls ------------------------------- */

/* Grants the server what the owner asked for, if that is more than it has. */
static void fc_apply(ccall *call)
{
    chute_client *c = call->client;
    if (call->state != CALL_ACTIVE || !call->headers_sent || !call->conn ||
        call->conn->state != CONN_READY)
        return;
    pthread_mutex_lock(&c->mu);
    int64_t messages = call->fc_messages;
    uint64_t seen = call->fc_seen;
    size_t mn = call->fc_min, mx = call->fc_max;
    pthread_mutex_unlock(&c->mu);
    /* Messages that arrived after the owner computed its credit take room
     * it did not know about yet. */
    if (call->fc_completed > seen)
        messages -= (int64_t)(call->fc_completed - seen);

    uint64_t need = 0; /* to finish a message that has begun */
    size_t prefix_have, have, length;
    codec_frame_reader_progress(&call->reader, &prefix_have, &have, &length);
    if (prefix_have > 0) {
        need = prefix_have < CODEC_FRAME_PREFIX
                   ? (CODEC_FRAME_PREFIX - prefix_have) +
                         (mn > CODEC_FRAME_PREFIX ? mn - CODEC_FRAME_PREFIX : 0)
                   : length - have;
        messages--;
    }
    uint64_t target = need;
    if (messages > 0) {
        uint64_t w = (uint64_t)messages * mn;
        if (w < mx)
            w = mx;
        target += w;
    }
    uint64_t remaining = call->fc_granted - call->fc_received;
    if (target <= remaining)
        return;
    uint64_t delta = target - remaining;
    if (delta > 0x7fffffff - 1)
        delta = 0x7fffffff - 1;
    if (nghttp2_submit_window_update(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                     (int32_t)delta) == 0)
        call->fc_granted += delta;
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static ccall *stream_call(nghttp2_session *s, int32_t id)
{
    ccall *call = nghttp2_session_get_stream_user_data(s, id);
    return call;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    ccall *call = stream_call(s, frame->hd.stream_id);
    if (!call || call->state != CALL_ACTIVE)
        return 0;
    call->got_headers = 1;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        char buf[8] = {0};
        memcpy(buf, value, valuelen < 7 ? valuelen : 7);
        call->http_status = atoi(buf);
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        char buf[8] = {0};
        memcpy(buf, value, valuelen < 7 ? valuelen : 7);
        call->grpc_status = atoi(buf);
        call->have_grpc_status = 1;
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        size_t n = valuelen < CHUTE_ERROR_MESSAGE_MAX * 3 ? valuelen : CHUTE_ERROR_MESSAGE_MAX * 3;
        char *m = malloc(n + 1);
        if (m) {
            codec_pct_decode((const char *)value, n, m, n + 1);
            free(call->grpc_message);
            call->grpc_message = m;
        }
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    nghttp2_session_consume_connection(s, len);
    ccall *call = stream_call(s, id);
    if (!call)
        return 0;
    if (call->flags & CCALL_FLOW_CONTROLLED)
        call->fc_received += len;
    else
        nghttp2_session_consume_stream(s, id, len);
    while (len > 0 && call->state == CALL_ACTIVE) {
        size_t used = 0;
        codec_frame m;
        chute_error e;
        int r = codec_frame_reader_feed(&call->reader, data, len, &used, &m, &e);
        if (r < 0) {
            call_abort(call, r, &e);
            return 0;
        }
        data += used;
        len -= used;
        if (r == 0)
            break;
        call->fc_completed++;
        if (m.compressed) {
            chute_error_set(&e, CHUTE_EINTERNAL,
                            "the server sent a compressed message; this client does not "
                            "negotiate compression");
            call_abort(call, CHUTE_EINTERNAL, &e);
            return 0;
        }
        if (call->cbs.on_message) {
            r = call->cbs.on_message(call->user_data, m.data, m.len, &e);
            if (r < 0) {
                call_abort(call, r, &e);
                return 0;
            }
        }
    }
    if ((call->flags & CCALL_FLOW_CONTROLLED) && call->state == CALL_ACTIVE)
        fc_apply(call);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    cconn *conn = ud;
    switch (frame->hd.type) {
    case NGHTTP2_GOAWAY:
        /* The server takes no new streams: new calls go to a new
         * connection while this one finishes what it has. */
        conn->going_away = 1;
        break;
    case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            conn->ping_outstanding = 0;
        break;
    default:
        break;
    }
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    ccall *call = stream_call(s, frame->hd.stream_id);
    if (!call)
        return 0;
    call->headers_sent = 1;
    if (call->flags & CCALL_FLOW_CONTROLLED)
        fc_apply(call);
    else
        nghttp2_submit_window_update(s, NGHTTP2_FLAG_NONE, frame->hd.stream_id, UNARY_WINDOW);
    return 0;
}

static int on_frame_not_send(nghttp2_session *s, const nghttp2_frame *frame, int lib_error,
                             void *ud)
{
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    ccall *call = stream_call(s, frame->hd.stream_id);
    if (call && call->state == CALL_ACTIVE)
        call_finishf(call, CHUTE_EUNAVAIL, "request to %s not sent: %s", call->client->address,
                     nghttp2_strerror(lib_error));
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *ud)
{
    ccall *call = stream_call(s, id);
    if (!call)
        return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    chute_client *c = call->client;
    if (call->state == CALL_ACTIVE) {
        if (call->have_grpc_status) {
            int rc = ctransport_grpc_to_chute(call->grpc_status);
            if (rc == 0 && codec_frame_reader_pending(&call->reader))
                call_finishf(call, CHUTE_EINTERNAL,
                             "the server ended the stream in the middle of a message");
            else if (rc == 0)
                call_finish(call, 0, NULL);
            else if (call->grpc_message && *call->grpc_message)
                call_finishf(call, rc, "%s", call->grpc_message);
            else
                call_finishf(call, rc, "the server answered with gRPC status %d",
                             call->grpc_status);
        } else if (error_code == NGHTTP2_REFUSED_STREAM && !call->got_headers && !call->retried) {
            /* The server did not process it (GOAWAY or a stream limit):
             * safe to send again on a new connection. */
            call_detach(call);
            call->retried = 1;
            call->state = CALL_QUEUED;
            call->headers_sent = 0;
            call->body_off = 0;
            list_push(&c->queued, call);
            return 0;
        } else if (error_code != NGHTTP2_NO_ERROR) {
            call_finishf(call, CHUTE_EUNAVAIL, "the server reset the stream (%s)",
                         nghttp2_http2_strerror(error_code));
        } else if (call->http_status && call->http_status != 200) {
            int g = ctransport_http_to_grpc(call->http_status);
            call_finishf(call, ctransport_grpc_to_chute(g),
                         "the server answered with HTTP status %d, not gRPC", call->http_status);
        } else {
            call_finishf(call, CHUTE_EINTERNAL,
                         "the server ended the stream without a grpc-status");
        }
    }
    call_detach(call);
    return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *ud)
{
    ccall *call = source->ptr;
    size_t n = call->body_len - call->body_off;
    if (n > length)
        n = length;
    memcpy(buf, call->body + call->body_off, n);
    call->body_off += n;
    if (call->body_off == call->body_len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_handle_closed(uv_handle_t *h)
{
    cconn *conn = h->data;
    if (--conn->handles > 0 || conn->gai_pending)
        return;
    chute_client *c = conn->client;
    /* unlink from the old list */
    for (cconn **pp = &c->old; *pp; pp = &(*pp)->next)
        if (*pp == conn) {
            *pp = conn->next;
            break;
        }
    while (conn->calls)
        call_detach(conn->calls);
    if (conn->session)
        nghttp2_session_del(conn->session);
    free(conn);
}

static void conn_close_handles(cconn *conn)
{
    if (!uv_is_closing((uv_handle_t *)&conn->tcp))
        uv_close((uv_handle_t *)&conn->tcp, conn_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&conn->timer))
        uv_close((uv_handle_t *)&conn->timer, conn_handle_closed);
}

static void conn_fail(cconn *conn, int rc, const char *fmt, ...)
{
    if (conn->state == CONN_DEAD)
        return;
    chute_client *c = conn->client;
    int was_ready = conn->state == CONN_READY;
    conn->state = CONN_DEAD;
    chute_error e;
    e.code = rc;
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (c->conn == conn) {
        c->conn = NULL;
        conn->next = c->old;
        c->old = conn;
    }
    snprintf(e.message, sizeof e.message, "%s %s: %s",
             was_ready ? "lost the connection to" : "cannot connect to", c->address, reason);
    for (ccall *call = conn->calls; call; call = call->next)
        call_finish(call, rc, &e);
    if (!was_ready) {
        /* Everyone waiting for this connection learns it failed; the next
         * call tries again (that is the reconnection). */
        while (c->queued)
            call_finish(c->queued, rc, &e);
    }
    if (conn->gai_pending)
        uv_cancel((uv_req_t *)&conn->gai);
    conn_close_handles(conn);
}

static ssize_t send_cb_unused(nghttp2_session *s, const uint8_t *d, size_t l, int f, void *u)
{
    return NGHTTP2_ERR_CALLBACK_FAILURE; /* mem_send is used instead */
}

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
} wreq;

static void write_done(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    cconn *conn = req->data;
    free(w->buf.base);
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        conn_fail(conn, CHUTE_EUNAVAIL, "write failed: %s", uv_strerror(status));
    else
        flush_all(conn->client);
}

static void conn_flush(cconn *conn)
{
    if (conn->state != CONN_READY)
        return;
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);
        if (n < 0) {
            free(out);
            conn_fail(conn, CHUTE_EUNAVAIL, "HTTP/2 error: %s", nghttp2_strerror((int)n));
            return;
        }
        if (n == 0)
            break;
        if (len + (size_t)n > cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            while (ncap < len + (size_t)n)
                ncap *= 2;
            uint8_t *nb = realloc(out, ncap);
            if (!nb) {
                free(out);
                conn_fail(conn, CHUTE_ENOMEM, "out of memory");
                return;
            }
            out = nb;
            cap = ncap;
        }
        memcpy(out + len, data, (size_t)n);
        len += (size_t)n;
        /* Keep a single write bounded; the write callback flushes again. */
        if (len >= 1024 * 1024)
            break;
    }
    if (len > 0) {
        /* Most batches fit the socket's buffer: written at once they need no
         * write request and no poll for writability (libuv returns EAGAIN
         * while earlier writes are queued, so order is kept). What is left
         * goes through uv_write. */
        uv_buf_t b = uv_buf_init((char *)out, (unsigned)len);
        int t = uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
        if (t == (int)len) {
            free(out);
            if (len >= 1024 * 1024) { /* stopped at the bound: there may be more */
                conn_flush(conn);
                return;
            }
            len = 0;
        } else if (t > 0) {
            memmove(out, out + t, len - (size_t)t);
            len -= (size_t)t;
        } else if (t != UV_EAGAIN) {
            free(out);
            conn_fail(conn, CHUTE_EUNAVAIL, "write failed: %s", uv_strerror(t));
            return;
        }
    }
    if (len > 0) {
        wreq *w = malloc(sizeof *w);
        if (!w) {
            free(out);
            conn_fail(conn, CHUTE_ENOMEM, "out of memory");
            return;
        }
        w->buf = uv_buf_init((char *)out, (unsigned)len);
        w->req.data = conn;
        int r = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &w->buf, 1, write_done);
        if (r < 0) {
            free(out);
            free(w);
            conn_fail(conn, CHUTE_EUNAVAIL, "write failed: %s", uv_strerror(r));
            return;
        }
    }
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))
        conn_fail(conn, CHUTE_EUNAVAIL, "the server closed the connection");
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cconn *conn = h->data;
    *buf = uv_buf_init((char *)conn->rbuf, sizeof conn->rbuf);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    cconn *conn = stream->data;
    chute_client *c = conn->client;
    if (nread == 0)
        return;
    if (nread < 0) {
        conn_fail(conn, CHUTE_EUNAVAIL, "%s",
                  nread == UV_EOF ? "the server closed the connection" : uv_strerror((int)nread));
        pump(c);
        flush_all(c);
        return;
    }
    conn->last_read = now_ms();
    conn->ping_outstanding = 0;
    ssize_t r = nghttp2_session_mem_recv(conn->session, (const uint8_t *)buf->base, (size_t)nread);
    if (r < 0)
        conn_fail(conn, CHUTE_EUNAVAIL, "HTTP/2 protocol error: %s", nghttp2_strerror((int)r));
    if (conn->going_away && c->conn == conn) {
        c->conn = NULL;
        conn->next = c->old;
        c->old = conn;
    }
    pump(c);
    flush_all(c);
}

static void keepalive_cb(uv_timer_t *t)
{
    cconn *conn = t->data;
    chute_client *c = conn->client;
    if (conn->state != CONN_READY)
        return;
    if (conn->ping_outstanding) {
        conn_fail(conn, CHUTE_EUNAVAIL, "no answer to a keepalive ping within %" PRId64 " ms",
                  c->keepalive_ms);
        pump(c);
        flush_all(c);
        return;
    }
    if (conn->calls && now_ms() - conn->last_read >= (uint64_t)c->keepalive_ms) {
        nghttp2_submit_ping(conn->session, NGHTTP2_FLAG_NONE, NULL);
        conn->ping_outstanding = 1;
        conn_flush(conn);
    }
}

static void connect_timeout_cb(uv_timer_t *t)
{
    cconn *conn = t->data;
    conn_fail(conn, CHUTE_EUNAVAIL, "no connection within %" PRId64 " ms",
              conn->client->connect_timeout_ms);
    flush_all(conn->client);
}

static int conn_session_start(cconn *conn)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return CHUTE_ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb_unused);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        return CHUTE_ENOMEM;
    }
    /* Window updates are ours to send: that is how a worker's stream is
     * held back while its buffer is full. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int r = nghttp2_session_client_new2(&conn->session, cbs, conn, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (r != 0)
        return CHUTE_ENOMEM;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0},
    };
    if (nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) !=
            0)
        return CHUTE_ENOMEM;
    return 0;
}

static void connect_cb(uv_connect_t *req, int status)
{
    cconn *conn = req->data;
    chute_client *c = conn->client;
    if (conn->state == CONN_DEAD)
        return;
    if (status < 0) {
        conn_fail(conn, CHUTE_EUNAVAIL, "%s", uv_strerror(status));
        pump(c);
        flush_all(c);
        return;
    }
    uv_timer_stop(&conn->timer);
    uv_tcp_nodelay(&conn->tcp, 1);
    if (conn_session_start(conn) != 0) {
        conn_fail(conn, CHUTE_ENOMEM, "out of memory");
        return;
    }
    conn->state = CONN_READY;
    conn->last_read = now_ms();
    int r = uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb);
    if (r < 0) {
        conn_fail(conn, CHUTE_EUNAVAIL, "%s", uv_strerror(r));
        return;
    }
    if (c->keepalive_ms > 0)
        uv_timer_start(&conn->timer, keepalive_cb, (uint64_t)c->keepalive_ms,
                       (uint64_t)c->keepalive_ms);
    pump(c);
    flush_all(c);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    cconn *conn = req->data;
    chute_client *c = conn->client;
    conn->gai_pending = 0;
    if (conn->state == CONN_DEAD) {
        uv_freeaddrinfo(res);
        if (conn->handles == 0)
            conn_handle_closed((uv_handle_t *)&conn->tcp); /* frees */
        return;
    }
    if (status < 0) {
        conn_fail(conn, CHUTE_EUNAVAIL, "cannot resolve '%s': %s", c->host, uv_strerror(status));
        pump(c);
        flush_all(c);
        return;
    }
    /* Prefer IPv4: "localhost" often lists ::1 first while servers listen
     * on 127.0.0.1. */
    struct addrinfo *pick = res;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    conn->state = CONN_CONNECTING;
    conn->creq.data = conn;
    int r = uv_tcp_connect(&conn->creq, &conn->tcp, pick->ai_addr, connect_cb);
    uv_freeaddrinfo(res);
    if (r < 0) {
        conn_fail(conn, CHUTE_EUNAVAIL, "%s", uv_strerror(r));
        pump(c);
        flush_all(c);
    }
}

static void conn_start(chute_client *c)
{
    cconn *conn = calloc(1, sizeof *conn);
    if (!conn) {
        chute_error e;
        chute_error_set(&e, CHUTE_ENOMEM, "out of memory");
        while (c->queued)
            call_finish(c->queued, CHUTE_ENOMEM, &e);
        return;
    }
    conn->client = c;
    conn->state = CONN_RESOLVING;
    uv_tcp_init(&c->loop, &conn->tcp);
    uv_timer_init(&c->loop, &conn->timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->handles = 2;
    c->conn = conn;
    if (c->connect_timeout_ms > 0)
        uv_timer_start(&conn->timer, connect_timeout_cb, (uint64_t)c->connect_timeout_ms, 0);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    conn->gai.data = conn;
    conn->gai_pending = 1;
    int r = uv_getaddrinfo(&c->loop, &conn->gai, gai_cb, c->host, c->port_str, &hints);
    if (r < 0) {
        conn->gai_pending = 0;
        conn_fail(conn, CHUTE_EUNAVAIL, "cannot resolve '%s': %s", c->host, uv_strerror(r));
    }
}

/* Sends one queued call on |conn|. */
static void conn_submit(cconn *conn, ccall *call)
{
    chute_client *c = conn->client;
    char timeout[32];
    nghttp2_nv nva[10];
    size_t n = 0;
#define NV(nm, val)                                                                                \
    do {                                                                                           \
        nva[n].name = (uint8_t *)(nm);                                                             \
        nva[n].namelen = strlen(nm);                                                               \
        nva[n].value = (uint8_t *)(val);                                                           \
        nva[n].valuelen = strlen(val);                                                             \
        nva[n].flags = NGHTTP2_NV_FLAG_NONE;                                                       \
        n++;                                                                                       \
    } while (0)
    NV(":method", "POST");
    NV(":scheme", "http");
    NV(":path", call->path);
    NV(":authority", c->authority);
    NV("te", "trailers");
    NV("content-type", "application/grpc");
    NV("user-agent", c->user_agent);
    if (call->deadline_at) {
        uint64_t now = now_ms();
        int64_t left = call->deadline_at > now ? (int64_t)(call->deadline_at - now) : 1;
        ctransport_grpc_timeout(left, timeout, sizeof timeout);
        NV("grpc-timeout", timeout);
    }
    if (c->auth_header)
        NV("authorization", c->auth_header);
#undef NV
    nghttp2_data_provider dp;
    dp.source.ptr = call;
    dp.read_callback = read_body;
    list_unlink(&c->queued, call);
    codec_frame_reader_free(&call->reader);
    codec_frame_reader_init(&call->reader, c->max_message);
    int32_t id = nghttp2_submit_request(conn->session, NULL, nva, n, &dp, call);
    if (id < 0) {
        call->state = CALL_ACTIVE; /* so that finish does not unlink from queued */
        call_finishf(call, CHUTE_EUNAVAIL, "cannot send the request to %s: %s", c->address,
                     nghttp2_strerror(id));
        return;
    }
    call->state = CALL_ACTIVE;
    call->conn = conn;
    call->stream_id = id;
    call->stream_ref = 1;
    call_ref(call);
    list_push(&conn->calls, call);
}

/* Moves queued calls onto the current connection, making one if needed. */
static void pump(chute_client *c)
{
    if (c->shut || !c->queued)
        return;
    if (c->conn && (c->conn->going_away || c->conn->state == CONN_DEAD)) {
        cconn *conn = c->conn;
        c->conn = NULL;
        conn->next = c->old;
        c->old = conn;
    }
    if (!c->conn) {
        conn_start(c);
        return;
    }
    if (c->conn->state != CONN_READY)
        return;
    while (c->queued)
        conn_submit(c->conn, c->queued);
}

static void flush_all(chute_client *c)
{
    if (c->conn)
        conn_flush(c->conn);
    for (cconn *o = c->old; o; o = o->next)
        conn_flush(o);
}

/* ---- deadlines ------------------------------------------------------------ */

static void deadlines_cb(uv_timer_t *t);

static void deadline_scan(chute_client *c, uint64_t now, uint64_t *earliest)
{
    /* Collect expired calls first: finishing one may change the lists. */
    for (;;) {
        ccall *hit = NULL;
        uint64_t min = 0;
        for (ccall *k = c->queued; k && !hit; k = k->next) {
            if (!k->deadline_at)
                continue;
            if (k->deadline_at <= now)
                hit = k;
            else if (!min || k->deadline_at < min)
                min = k->deadline_at;
        }
        cconn *conns[2] = {c->conn, c->old};
        for (int i = 0; i < 2 && !hit; i++)
            for (cconn *cn = conns[i]; cn && !hit; cn = i ? cn->next : NULL)
                for (ccall *k = cn->calls; k && !hit; k = k->next) {
                    if (k->state != CALL_ACTIVE || !k->deadline_at)
                        continue;
                    if (k->deadline_at <= now)
                        hit = k;
                    else if (!min || k->deadline_at < min)
                        min = k->deadline_at;
                }
        if (!hit) {
            *earliest = min;
            return;
        }
        chute_error e;
        chute_error_set(&e, CHUTE_ETIMEDOUT, "deadline of %" PRId64 " ms exceeded",
                        hit->deadline_ms);
        call_abort(hit, CHUTE_ETIMEDOUT, &e);
    }
}

static void deadlines_rearm(chute_client *c)
{
    uint64_t now = now_ms(), earliest = 0;
    deadline_scan(c, now, &earliest);
    if (earliest) {
        uv_timer_start(&c->deadlines, deadlines_cb, earliest - now, 0);
    } else {
        uv_timer_stop(&c->deadlines);
    }
}

static void deadlines_cb(uv_timer_t *t)
{
    chute_client *c = t->data;
    deadlines_rearm(c);
    flush_all(c);
}

/* ---- the wake-up: submitted calls and posted operations ------------------- */

static void shut_down(chute_client *c)
{
    c->shut = 1;
    chute_error e;
    chute_error_set(&e, CHUTE_ECLOSED, "the client was closed");
    while (c->queued)
        call_finish(c->queued, CHUTE_ECLOSED, &e);
    cconn *conns[2] = {c->conn, c->old};
    for (int i = 0; i < 2; i++)
        for (cconn *cn = conns[i]; cn; cn = i ? cn->next : NULL) {
            for (ccall *k = cn->calls; k; k = k->next)
                call_finish(k, CHUTE_ECLOSED, &e);
            if (cn->state == CONN_READY) {
                nghttp2_session_terminate_session(cn->session, NGHTTP2_NO_ERROR);
                conn_flush(cn);
            }
            cn->state = CONN_DEAD;
            if (cn->gai_pending)
                uv_cancel((uv_req_t *)&cn->gai);
            conn_close_handles(cn);
        }
    if (c->conn) {
        c->conn->next = c->old;
        c->old = c->conn;
        c->conn = NULL;
    }
    uv_close((uv_handle_t *)&c->wake, NULL);
    uv_close((uv_handle_t *)&c->deadlines, NULL);
}

static void wake_cb(uv_async_t *a)
{
    chute_client *c = a->data;
    if (c->shut)
        return;
    pthread_mutex_lock(&c->mu);
    ccall *sub = c->submitted;
    cop *ops = c->ops;
    int closing = c->closing;
    c->submitted = c->submitted_tail = NULL;
    c->ops = c->ops_tail = NULL;
    pthread_mutex_unlock(&c->mu);

    uint64_t now = now_ms();
    while (sub) {
        ccall *next = sub->sub_next;
        sub->sub_next = NULL;
        sub->state = CALL_QUEUED;
        if (sub->deadline_ms > 0)
            sub->deadline_at = now + (uint64_t)sub->deadline_ms;
        queue_append(c, sub);
        sub = next;
    }
    while (ops) {
        cop *next = ops->next;
        ops->fn(ops->arg);
        free(ops);
        ops = next;
    }
    if (closing) {
        shut_down(c);
        return;
    }
    pump(c);
    deadlines_rearm(c);
    flush_all(c);
}

static void io_main(void *arg)
{
    chute_client *c = arg;
    /* A write to a connection the broker already closed raises SIGPIPE in
     * the writing thread, and its default action ends the process. A
     * library must not ask its program to ignore SIGPIPE, so the I/O thread
     * (the only one that writes to sockets) blocks it: the write then just
     * fails with EPIPE, which the transport handles as a lost connection. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

int ctransport_post(chute_client *c, void (*fn)(void *arg), void *arg)
{
    cop *op = malloc(sizeof *op);
    if (!op)
        return CHUTE_ENOMEM;
    op->fn = fn;
    op->arg = arg;
    op->next = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        free(op);
        return CHUTE_ECLOSED;
    }
    if (c->ops_tail)
        c->ops_tail->next = op;
    else
        c->ops = op;
    c->ops_tail = op;
    /* Sent under the lock: once |closing| is set the handle may be closed. */
    uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int ctransport_call_start(chute_client *c, const char *path, const uint8_t *body, size_t len,
                          int64_t deadline_ms, int flags, const ccall_cbs *cbs, void *user_data,
                          ccall **out, chute_error *err)
{
    ccall *call = calloc(1, sizeof *call);
    if (!call)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    call->client = c;
    call->path = strdup(path);
    call->body = malloc(len ? len : 1);
    if (!call->path || !call->body) {
        free(call->path);
        free(call->body);
        free(call);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    memcpy(call->body, body, len);
    call->body_len = len;
    call->deadline_ms = deadline_ms;
    call->flags = flags;
    call->cbs = *cbs;
    call->user_data = user_data;
    call->state = CALL_NEW;
    call->refs = out ? 2 : 1;
    codec_frame_reader_init(&call->reader, c->max_message);
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        codec_frame_reader_free(&call->reader);
        free(call->path);
        free(call->body);
        free(call);
        return chute_error_set(err, CHUTE_ECLOSED, "the client is closed");
    }
    if (c->submitted_tail)
        c->submitted_tail->sub_next = call;
    else
        c->submitted = call;
    c->submitted_tail = call;
    uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    if (out)
        *out = call;
    return 0;
}

static void op_cancel(void *arg)
{
    ccall *call = arg;
    chute_error e;
    chute_error_set(&e, CHUTE_ECLOSED, "the call was cancelled");
    call_abort(call, CHUTE_ECLOSED, &e);
    call_unref(call);
}

void ccall_cancel(ccall *call)
{
    call_ref(call);
    if (ctransport_post(call->client, op_cancel, call) != 0)
        call_unref(call);
}

static void op_credit(void *arg)
{
    ccall *call = arg;
    pthread_mutex_lock(&call->client->mu);
    call->fc_op_pending = 0;
    pthread_mutex_unlock(&call->client->mu);
    fc_apply(call);
    call_unref(call);
}

void ccall_set_credit(ccall *call, int messages, uint64_t seen, size_t min_bytes, size_t max_bytes)
{
    chute_client *c = call->client;
    pthread_mutex_lock(&c->mu);
    call->fc_messages = messages;
    call->fc_seen = seen;
    call->fc_min = min_bytes ? min_bytes : 1;
    call->fc_max = max_bytes;
    int post = !call->fc_op_pending;
    if (post) {
        call->fc_op_pending = 1;
        call->refs++;
    }
    pthread_mutex_unlock(&c->mu);
    if (post && ctransport_post(c, op_credit, call) != 0) {
        pthread_mutex_lock(&c->mu);
        call->fc_op_pending = 0;
        pthread_mutex_unlock(&c->mu);
        call_unref(call);
    }
}

int ctransport_on_io_thread(const chute_client *c)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &c->thread);
}

size_t ctransport_max_message(const chute_client *c)
{
    return c->max_message;
}

int64_t ctransport_default_deadline(const chute_client *c)
{
    return c->default_deadline_ms;
}

/* ---- the public client object --------------------------------------------- */

void chute_client_options_init(chute_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 10000;
    o->max_message_size = CODEC_MAX_MESSAGE;
    o->keepalive_ms = 45000;
}

void chute_call_options_init(chute_call_options *o)
{
    memset(o, 0, sizeof *o);
}

const char *chute_client_address(const chute_client *c)
{
    return c->address;
}

static void client_free(chute_client *c)
{
    free(c->address);
    free(c->authority);
    free(c->user_agent);
    free(c->auth_header);
    free(c);
}

int chute_client_open(chute_client **out, const char *address, const chute_client_options *opts,
                      chute_error *err)
{
    chute_client_options defaults;
    if (!opts) {
        chute_client_options_init(&defaults);
        opts = &defaults;
    }
    if (opts->tls || opts->tls_ca_file)
        return chute_error_set(err, CHUTE_EUNIMPL,
                               "TLS is not implemented yet: connect with plaintext h2c");
    chute_client *c = calloc(1, sizeof *c);
    if (!c)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    int port;
    int r = ctransport_parse_address(address, c->host, sizeof c->host, &port, err);
    if (r < 0) {
        free(c);
        return r;
    }
    snprintf(c->port_str, sizeof c->port_str, "%d", port);
    c->address = strdup(address);
    size_t alen = strlen(c->host) + 16;
    c->authority = malloc(alen + 2);
    if (c->authority) {
        if (strchr(c->host, ':'))
            snprintf(c->authority, alen + 2, "[%s]:%d", c->host, port);
        else
            snprintf(c->authority, alen + 2, "%s:%d", c->host, port);
    }
    c->user_agent = strdup(opts->user_agent ? opts->user_agent : "chute-c/" CHUTE_VERSION);
    if (opts->bearer_token) {
        size_t n = strlen(opts->bearer_token) + 8;
        c->auth_header = malloc(n);
        if (c->auth_header)
            snprintf(c->auth_header, n, "Bearer %s", opts->bearer_token);
    }
    if (!c->address || !c->authority || !c->user_agent || (opts->bearer_token && !c->auth_header)) {
        client_free(c);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    c->default_deadline_ms = opts->default_deadline_ms;
    c->keepalive_ms = opts->keepalive_ms == 0 ? 45000 : opts->keepalive_ms;
    c->max_message = opts->max_message_size ? opts->max_message_size : CODEC_MAX_MESSAGE;
    pthread_mutex_init(&c->mu, NULL);
    if (uv_loop_init(&c->loop) != 0) {
        pthread_mutex_destroy(&c->mu);
        client_free(c);
        return chute_error_set(err, CHUTE_EINTERNAL, "cannot create the event loop");
    }
    uv_async_init(&c->loop, &c->wake, wake_cb);
    c->wake.data = c;
    uv_timer_init(&c->loop, &c->deadlines);
    c->deadlines.data = c;
    if (uv_thread_create(&c->thread, io_main, c) != 0) {
        uv_close((uv_handle_t *)&c->wake, NULL);
        uv_close((uv_handle_t *)&c->deadlines, NULL);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
        pthread_mutex_destroy(&c->mu);
        client_free(c);
        return chute_error_set(err, CHUTE_EINTERNAL, "cannot start the I/O thread");
    }
    *out = c;
    return 0;
}

void chute_client_close(chute_client *c)
{
    if (!c)
        return;
    assert(!ctransport_on_io_thread(c));
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    uv_thread_join(&c->thread);
    /* Operations posted before the close may remain: run them so that the
     * references they hold are dropped. */
    while (c->ops) {
        cop *op = c->ops;
        c->ops = op->next;
        op->fn(op->arg);
        free(op);
    }
    uv_loop_close(&c->loop);
    pthread_mutex_destroy(&c->mu);
    client_free(c);
}
