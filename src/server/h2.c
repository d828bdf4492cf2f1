/*
 * h2: gRPC over h2c on libuv with nghttp2. See h2.h for the contract.
 *
 * How it is put together
 * ----------------------
 * One h2_conn per accepted socket owns one nghttp2 server session. Bytes
 * read from the socket go into nghttp2_session_mem_recv(); frames nghttp2
 * wants to send come out of nghttp2_session_mem_send() and are batched into
 * uv_write requests. One h2_call per request stream is the stream's user
 * data in nghttp2.
 *
 * nghttp2 callbacks never call the gateway. They only change the state of a
 * call and put it on its connection's "dirty" list. conn_pump(), which runs
 * only from the loop (read, write completion, timers, the server's idle
 * handle), processes dirty calls (dispatch, on_sent, on_unsent, on_close)
 * outside of nghttp2 and then pulls frames from nghttp2. So the gateway may
 * call any h2_call_* function from its callbacks without re-entering
 * nghttp2, and a call is only ever freed in one place, call_process().
 *
 * The gateway's h2_call_send()/h2_call_finish() from outside a pump (a
 * timer, a database callback) schedule the connection on the server's idle
 * handle, which pumps it in the same loop iteration without blocking in
 * poll first.
 *
 * Backpressure: a response message leaves its call's queue only in the data
 * read callback nghttp2 calls from mem_send, which it does only within the
 * peer's flow-control window; and conn_flush() stops calling mem_send while
 * more than max_output_buffer bytes sit in unfinished uv_writes. A peer that
 * stops reading therefore stops the flow of on_sent, and the gateway stops
 * sending (it sends on credit).
 */
#include "server/h2.h"

#include "codec/grpc_frame.h" /* the message reader, codec_inflate, the grpc-message escape */
#include "server/listener.h"
#include "server/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- small intrusive list ------------------------------------------------ */

typedef struct h2_link {
    struct h2_link *prev, *next;
} h2_link;

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static void list_init(h2_link *l)
{
    l->prev = l->next = l;
}

static int list_empty(const h2_link *l)
{
    return l->next == l;
}

static void list_push_back(h2_link *head, h2_link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static void list_remove(h2_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* ---- types ----------------------------------------------------------------- */

/* One queued response message, prefix included. |off| bytes were taken. */
typedef struct h2_msg {
    struct h2_msg *next;
    void *tag;
    size_t len;
    size_t off;
    uint8_t data[];
} h2_msg;

typedef struct h2_msgq {
    h2_msg *head, *tail;
} h2_msgq;

/* A request message of a client-streaming call, waiting for call_process
 * to hand it to the gateway; counted in the connection's body budget. */
typedef struct h2_inmsg {
    struct h2_inmsg *next;
    size_t len;
    uint8_t data[];
} h2_inmsg;

/* Request headers a gateway asked to keep (h2_server_keep_header). */
#define H2_KEEP_MAX 4
#define H2_KEEP_VALUE_MAX 1024

/*
 * The state of a call is two small state machines, one per direction, and a
 * few facts that are independent of them.
 *
 * The request, as the transport sees it:
 *
 *   HEADERS --(accepted)--> BODY --(one whole message)--> MESSAGE --(END_STREAM)--> DISPATCH
 *                                                                                      |
 *                                                               (call_process: on_request)
 *                                                                                      v
 *                                                RELEASED <--(h2_call_finish)-- GATEWAY
 *
 * A request not yet dispatched (HEADERS to DISPATCH) may become REJECTED:
 * the transport answers it itself (malformed, too large, shutdown) and the
 * gateway never sees it. A DISPATCH call whose stream went away is freed
 * without dispatch.
 */
typedef enum req_state {
    REQ_HEADERS = 0, /* the request header block is arriving */
    REQ_BODY,        /* the headers were accepted; the request message is arriving */
    REQ_MESSAGE,     /* one whole message arrived; END_STREAM should follow */
    REQ_DISPATCH,    /* the request ended after its message: on_request is due */
    REQ_GATEWAY,     /* on_request ran: the gateway owns the call until h2_call_finish */
    REQ_RELEASED,    /* the gateway gave the call back with h2_call_finish */
    REQ_REJECTED,    /* the transport answers the request itself */
} req_state;

/*
 * The response:
 *
 *   NONE --(h2_call_send)--> MESSAGES --(finish, messages queued)--> TRAILERS_DUE
 *    |  \                       |                                      |
 *    |   (reject)               (finish, nothing queued)      (the data provider, after
 *    |    v                      |                             the last message)
 *    |   REJECT_DUE --------+    |                                      |
 *    |                      v    v                                      |
 *    +--(finish: Trailers-Only)--> ENDED <-------------------------------+
 *                                    |
 *                        (our END_STREAM went out)
 *                                    v
 *                       END_SENT, or RST_DUE --(RST_STREAM submitted)--> END_SENT
 *
 * ENDED means the end of the response is submitted to nghttp2: trailers, a
 * HEADERS frame with END_STREAM, or a reset. RST_DUE is END_SENT while the
 * request had not ended yet: RST_STREAM(NO_ERROR) is owed (RFC 9113 8.1).
 */
typedef enum resp_state {
    RESP_NONE = 0,     /* nothing submitted */
    RESP_REJECT_DUE,   /* the transport's own answer waits for call_process */
    RESP_MESSAGES,     /* HEADERS submitted with the data provider; messages flow */
    RESP_TRAILERS_DUE, /* finished: the data provider submits the trailers after the last message */
    RESP_ENDED,        /* the end of the response is submitted */
    RESP_END_SENT,     /* our END_STREAM went out */
    RESP_RST_DUE,      /* our END_STREAM went out before the request ended: RST_STREAM is due */
} resp_state;

typedef struct h2_conn h2_conn;

struct h2_call {
    h2_server *server;
    h2_conn *conn; /* NULL once the call is a stub (see h2.h) */
    int32_t stream_id;
    req_state req;
    resp_state resp;
    h2_link link;        /* in conn->calls, or server->stubs */
    h2_link dirty_link;  /* in conn->dirty while it has work */
    h2_link arrive_link; /* in server->arriving until the request has arrived whole */
    uint64_t arrived_ms; /* uv_now when its HEADERS began */

    /* What the request headers said, judged when the header block ends. */
    unsigned method_post : 1;     /* :method was POST */
    unsigned content_type_ok : 1; /* content-type is application/grpc[+-;...] */
    unsigned headers_too_big : 1; /* the header list (or the trailers) exceeded the limit */
    /* Independent of the two states. */
    unsigned remote_ended : 1;   /* END_STREAM received */
    unsigned deferred : 1;       /* the data provider returned NGHTTP2_ERR_DEFERRED */
    unsigned stream_closed : 1;  /* the stream is gone (closed, reset or connection lost) */
    unsigned conn_lost : 1;      /* ... because its connection was lost */
    unsigned shutdown_ended : 1; /* h2_server_shutdown ended the response */
    unsigned close_notified : 1; /* on_close ran */

    /* Request. */
    char *path;
    int64_t timeout_ms;
    size_t header_bytes;
    codec_frame_reader reader; /* the request message, counted in conn->body_budget */
    const uint8_t *msg;        /* the whole message from REQ_MESSAGE on: in the reader or |plain| */
    size_t msg_len;
    uint8_t *plain;          /* the inflated message of a compressed request */
    codec_encoding encoding; /* the request's grpc-encoding */
    char encoding_name[65];  /* its value when unknown (for the error) */

    /* Transport's own answer. */
    int reject_http;
    int reject_grpc;
    char *reject_msg;

    /* Response. */
    h2_msgq queue; /* not (fully) taken by nghttp2 */
    size_t queued_bytes;
    h2_msgq taken;   /* taken, on_sent pending */
    h2_msgq dropped; /* dropped by shutdown, on_unsent pending */
    char trailer_status[12];
    char *trailer_msg; /* percent-encoded */

    const h2_call_observer *obs;
    void *ud;

    /* Client streaming (h2_server_set_streaming): the call is dispatched
     * when its headers end, and every request message that arrives after
     * is queued in |inbox| until call_process hands it on (on_message). */
    unsigned streaming : 1;
    unsigned end_told : 1; /* on_request_end ran */
    h2_inmsg *inbox, *inbox_tail;
    int req_error_status; /* non-zero: the request side broke with this status */
    char *req_error;      /* ... and this message */
    char *kept[H2_KEEP_MAX];
};

enum conn_state {
    CONN_OPEN = 0,
    CONN_DRAINING = 1,  /* GOAWAY sent; waiting for streams to end and output to flush */
    CONN_REJECTING = 2, /* not HTTP/2: answering 400 then closing */
    CONN_CLOSING = 3,   /* uv_close called */
};

/* Why the transport ended a connection with GOAWAY(ENHANCE_YOUR_CALM). */
enum conn_cut {
    CUT_NONE = 0,
    CUT_HEADER_BOMB = 1,   /* more than max_oversized_headers oversized header blocks */
    CUT_CONTROL_FLOOD = 2, /* a control frame found the budget empty */
};

/* A uv_write in flight, with its bytes. */
typedef struct h2_wreq {
    uv_write_t req;
    size_t len, cap;
    uint8_t data[];
} h2_wreq;

struct h2_conn {
    h2_server *server;
    uv_tcp_t tcp;
    uv_timer_t timer; /* idle timeout, then drain timeout */
    int handles;      /* open libuv handles; the conn is freed when 0 */
    nghttp2_session *session;
    enum conn_state state;
    h2_link link;       /* in server->conns */
    h2_link sched_link; /* in server->sched while a pump is scheduled */
    h2_link calls;
    h2_link dirty;
    uint32_t open_streams;
    size_t preface_got;
    int preface_ok;
    int busy; /* conn_pump depth */
    int shutdown_applied;
    int timer_is_drain;
    int fin_sent;            /* CONN_REJECTING: our FIN went out */
    int peer_eof;            /* CONN_REJECTING: the peer closed its side */
    enum conn_cut cut;       /* set when the connection is being ended for abuse */
    uint32_t oversized;      /* header blocks over max_header_list_size so far */
    uint64_t control_tokens; /* the control-frame budget, in thousandths of a frame */
    uint64_t control_time;   /* uv_now when it was last refilled */
    listener_peer *peer;     /* its address in the listener's per-peer count */
    uv_shutdown_t shutdown_req;
    h2_wreq *wreq;                  /* batch being filled */
    size_t out_pending;             /* bytes in uv_write not completed */
    codec_frame_budget body_budget; /* request messages held (capacity), max_request_buffer */
};

struct h2_server {
    uv_loop_t *loop;
    h2_streaming_fn streaming; /* NULL: no client-streaming methods */
    char *keep[H2_KEEP_MAX];   /* request headers kept per call */
    listener *lst;
    uv_idle_t idle;
    uv_timer_t req_timer; /* the request-timeout sweep */
    h2_link arriving;     /* calls whose request has not arrived whole, oldest first */
    h2_limits lim;
    h2_request_fn on_request;
    void *ctx;
    int port;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    h2_link conns;
    h2_link sched;
    h2_link stubs;
    h2_server_stats stats;
    log_limit cut_log, timeout_log, fail_log;
    int shutting_down;
    int listener_closed;
    int req_timer_closed;
    int idle_closing;
    int done_called;
    int shut_status;
    char *shut_msg; /* raw, encoded when used */
    void (*done)(void *);
    void *done_ctx;
    char rbuf[64 * 1024];
};

#define H2_CLIENT_MAGIC "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_CLIENT_MAGIC_LEN 24
#define H2_WRITE_CHUNK (64 * 1024)
#define H2_GRPC_MESSAGE_MAX 1024
#define H2_BODY_INITIAL (16 * 1024)

static const char http1_reply[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 70\r\n"
    "Connection: close\r\n"
    "\r\n"
    "This port speaks gRPC over HTTP/2 (h2c with prior knowledge) only.\r\n\r\n";

/* ---- forward declarations -------------------------------------------------- */

static void conn_pump(h2_conn *c);
static void conn_fail(h2_conn *c);
static void conn_schedule(h2_conn *c);
static void server_maybe_done(h2_server *s);
static void on_idle(uv_idle_t *h);
static void on_req_timer(uv_timer_t *t);

/* ---- limits ----------------------------------------------------------------- */

void h2_limits_init(h2_limits *l)
{
    memset(l, 0, sizeof *l);
    l->max_message_size = 4u * 1024 * 1024;
    l->max_concurrent_streams = 1000;
    l->max_header_list_size = 16 * 1024;
    l->idle_timeout_ms = 5 * 60 * 1000;
    l->max_output_buffer = 1024 * 1024;
    l->drain_timeout_ms = 2000;
    l->max_request_buffer = 16u * 1024 * 1024;
    l->request_timeout_ms = 30 * 1000;
    l->max_connections = 10000;
    l->max_connections_per_peer = 10000;
    l->max_oversized_headers = 8;
    l->control_burst = 1000;
    l->control_per_second = 100;
}

/* ---- grpc-message encoding ------------------------------------------------- */

size_t h2_grpc_message_encode(char *out, size_t cap, const char *msg)
{
    if (cap == 0)
        return 0;
    size_t n = codec_pct_encode(msg ? msg : "", msg ? strlen(msg) : 0, out, cap);
    return n < cap ? n : strlen(out); /* what was written: a cut leaves out whole escapes */
}

/* Encodes |msg| truncated to H2_GRPC_MESSAGE_MAX bytes on a UTF-8 boundary.
 * Returns a malloc'd string, NULL for an empty message or on ENOMEM (*oom). */
static char *encode_message(const char *msg, int *oom)
{
    *oom = 0;
    if (!msg || !*msg)
        return NULL;
    size_t n = strlen(msg);
    if (n > H2_GRPC_MESSAGE_MAX) {
        n = H2_GRPC_MESSAGE_MAX;
        while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
            n--;
    }
    char *out = malloc(3 * n + 1);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    codec_pct_encode(msg, n, out, 3 * n + 1);
    return out;
}

/* ---- grpc-timeout ------------------------------------------------------------ */

static int64_t parse_timeout(const uint8_t *v, size_t n)
{
    if (n < 2 || n > 9)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    switch (v[n - 1]) {
    case 'H':
        return x * 3600000;
    case 'M':
        return x * 60000;
    case 'S':
        return x * 1000;
    case 'm':
        return x;
    case 'u':
        return (x + 999) / 1000;
    case 'n':
        return (x + 999999) / 1000000;
    }
    return -1;
}

/* ---- message queues ---------------------------------------------------------- */

static void msgq_push(h2_msgq *q, h2_msg *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
}

static h2_msg *msgq_pop(h2_msgq *q)
{
    h2_msg *m = q->head;
    if (m) {
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
        m->next = NULL;
    }
    return m;
}

static void msgq_free(h2_msgq *q)
{
    h2_msg *m;
    while ((m = msgq_pop(q)))
        free(m);
}

/* ---- calls ------------------------------------------------------------------ */

#define MAKE_NV(n, v, vlen)                                                                        \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen), NGHTTP2_NV_FLAG_NONE                \
    }

static void call_mark_dirty(h2_call *call)
{
    h2_conn *c = call->conn;
    if (c && call->dirty_link.next == &call->dirty_link)
        list_push_back(&c->dirty, &call->dirty_link);
}

/* Releases the request message and its share of the connection's budget. */
static void call_free_body(h2_call *call)
{
    h2_inmsg *in;
    while ((in = call->inbox)) {
        call->inbox = in->next;
        if (call->conn)
            call->conn->body_budget.used -= in->len;
        free(in);
    }
    call->inbox_tail = NULL;
    codec_frame_reader_free(&call->reader);
    if (call->plain) {
        if (call->conn)
            call->conn->body_budget.used -= call->msg_len;
        free(call->plain);
        call->plain = NULL;
    }
    call->msg = NULL;
}

static void call_free(h2_call *call)
{
    call_free_body(call);
    list_remove(&call->link);
    list_remove(&call->dirty_link);
    list_remove(&call->arrive_link);
    msgq_free(&call->queue);
    msgq_free(&call->taken);
    msgq_free(&call->dropped);
    call->server->stats.calls_open--;
    free(call->path);
    free(call->reject_msg);
    free(call->trailer_msg);
    free(call->req_error);
    for (size_t i = 0; i < H2_KEEP_MAX; i++)
        free(call->kept[i]);
    free(call);
}

/* The request is not dispatched yet, so the transport may still answer it. */
static int call_can_reject(const h2_call *call)
{
    return call->req == REQ_HEADERS || call->req == REQ_BODY || call->req == REQ_MESSAGE;
}

/* The response is ended or about to be: no more messages, no other status. */
static int call_finished(const h2_call *call)
{
    return call->resp == RESP_TRAILERS_DUE || call->resp == RESP_ENDED ||
           call->resp == RESP_END_SENT || call->resp == RESP_RST_DUE;
}

/* Records that the transport answers this request itself with |grpc| (and
 * HTTP |http|, 200 for a gRPC status) and a printf message. */
static void call_reject(h2_call *call, int http, int grpc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void call_reject(h2_call *call, int http, int grpc, const char *fmt, ...)
{
    if (!call_can_reject(call))
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    call->req = REQ_REJECTED;
    call->resp = RESP_REJECT_DUE;
    list_remove(&call->arrive_link); /* answered: no deadline any more */
    call->reject_http = http;
    call->reject_grpc = grpc;
    call->reject_msg = strdup(buf); /* NULL on ENOMEM: the status alone still goes out */
    call_free_body(call);           /* of no use any more */
    call_mark_dirty(call);
}

/* Submits a response consisting of one HEADERS frame with END_STREAM. */
static int submit_headers_only(h2_call *call, int http, int grpc, const char *encoded_msg)
{
    char status[8], gs[12];
    snprintf(status, sizeof status, "%d", http);
    snprintf(gs, sizeof gs, "%d", grpc);
    nghttp2_nv nva[5];
    size_t n = 0;
    nghttp2_nv st = MAKE_NV(":status", status, strlen(status));
    nva[n++] = st;
    if (http == 200) {
        nghttp2_nv ct = MAKE_NV("content-type", "application/grpc", 16);
        nva[n++] = ct;
    }
    /* Every answer says what we read, so a client whose encoding we refused
     * (UNIMPLEMENTED) can fall back (gRPC compression spec). */
    nghttp2_nv ae =
        MAKE_NV("grpc-accept-encoding", CODEC_ACCEPT_ENCODING, sizeof CODEC_ACCEPT_ENCODING - 1);
    nva[n++] = ae;
    nghttp2_nv gsn = MAKE_NV("grpc-status", gs, strlen(gs));
    nva[n++] = gsn;
    if (encoded_msg && *encoded_msg) {
        nghttp2_nv gm = MAKE_NV("grpc-message", encoded_msg, strlen(encoded_msg));
        nva[n++] = gm;
    }
    call->resp = RESP_ENDED;
    return nghttp2_submit_response(call->conn->session, call->stream_id, nva, n, NULL);
}

static int submit_trailers(h2_call *call)
{
    nghttp2_nv nva[2];
    size_t n = 0;
    nghttp2_nv gs = MAKE_NV("grpc-status", call->trailer_status, strlen(call->trailer_status));
    nva[n++] = gs;
    if (call->trailer_msg) {
        nghttp2_nv gm = MAKE_NV("grpc-message", call->trailer_msg, strlen(call->trailer_msg));
        nva[n++] = gm;
    }
    return nghttp2_submit_trailer(call->conn->session, call->stream_id, nva, n);
}

/* The data provider: copies queued messages into DATA frames. Called by
 * nghttp2 from mem_send only when the peer's window has room. */
static ssize_t read_data_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                            size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                            void *user_data)
{
    (void)session;
    (void)stream_id;
    (void)user_data;
    h2_call *call = source->ptr;
    if (call->resp != RESP_MESSAGES && call->resp != RESP_TRAILERS_DUE)
        return NGHTTP2_ERR_DEFERRED; /* the trailers (submitted directly) end the stream */
    size_t n = 0;
    while (n < length && call->queue.head) {
        h2_msg *m = call->queue.head;
        size_t take = m->len - m->off;
        if (take > length - n)
            take = length - n;
        memcpy(buf + n, m->data + m->off, take);
        m->off += take;
        n += take;
        call->queued_bytes -= take;
        if (m->off == m->len) {
            msgq_push(&call->taken, msgq_pop(&call->queue));
            call_mark_dirty(call);
        }
    }
    if (!call->queue.head && call->resp == RESP_TRAILERS_DUE) {
        call->resp = RESP_ENDED;
        if (submit_trailers(call) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        return (ssize_t)n;
    }
    if (n == 0) {
        call->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static int start_response(h2_call *call)
{
    /* Responses are never compressed (no grpc-encoding: identity). */
    nghttp2_nv nva[] = {
        MAKE_NV(":status", "200", 3),
        MAKE_NV("content-type", "application/grpc", 16),
        MAKE_NV("grpc-accept-encoding", CODEC_ACCEPT_ENCODING, sizeof CODEC_ACCEPT_ENCODING - 1),
    };
    nghttp2_data_provider prd;
    prd.source.ptr = call;
    prd.read_callback = read_data_cb;
    int rv = nghttp2_submit_response(call->conn->session, call->stream_id, nva,
                                     sizeof nva / sizeof nva[0], &prd);
    if (rv == 0)
        call->resp = RESP_MESSAGES;
    return rv;
}

static void resume(h2_call *call)
{
    if (call->deferred) {
        call->deferred = 0;
        nghttp2_session_resume_data(call->conn->session, call->stream_id);
    }
}

/* Ends the response of a live call that is not finished with |grpc_status|
 * and the already encoded |encoded| (ownership taken). Returns 0 or an
 * nghttp2 error. */
static int call_end(h2_call *call, int grpc_status, char *encoded)
{
    int rv = 0;
    if (call->resp == RESP_NONE) {
        rv = submit_headers_only(call, 200, grpc_status, encoded);
        free(encoded);
    } else {
        snprintf(call->trailer_status, sizeof call->trailer_status, "%d", grpc_status);
        free(call->trailer_msg);
        call->trailer_msg = encoded;
        if (call->queue.head) {
            /* After the last message: the data provider submits them. */
            call->resp = RESP_TRAILERS_DUE;
            resume(call);
        } else {
            /* Nothing queued: submit now. Trailers are not flow controlled,
             * and nghttp2 does not call the data provider of a stream whose
             * window is 0, so waiting for it could wait forever. The
             * trailers' END_STREAM retires the (deferred) data provider. */
            call->resp = RESP_ENDED;
            rv = submit_trailers(call);
        }
    }
    if (rv != 0)
        nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    return rv;
}

static h2_close_reason close_reason(const h2_call *call)
{
    if (call->shutdown_ended)
        return H2_CLOSE_SHUTDOWN;
    if ((call->resp == RESP_END_SENT || call->resp == RESP_RST_DUE) && call->req != REQ_GATEWAY)
        return H2_CLOSE_DONE;
    if (call->conn_lost)
        return H2_CLOSE_CONN_LOST;
    return H2_CLOSE_CANCELLED;
}

/* Hands the queued request messages of a client-streaming call to the
 * gateway, then the end of its request side once everything before it was
 * handed on. Stops as soon as the gateway finished the call (the rest is
 * dropped). */
static void stream_deliver(h2_call *call)
{
    h2_conn *c = call->conn;
    while (call->req == REQ_GATEWAY && call->inbox && !call->close_notified) {
        h2_inmsg *in = call->inbox;
        call->inbox = in->next;
        if (!call->inbox)
            call->inbox_tail = NULL;
        c->body_budget.used -= in->len;
        if (call->obs && call->obs->on_message)
            call->obs->on_message(call->ud, call, in->data, in->len);
        free(in);
    }
    if (call->req != REQ_GATEWAY) {
        call_free_body(call);
        return;
    }
    if (call->end_told || call->close_notified || (!call->req_error_status && !call->remote_ended))
        return;
    call->end_told = 1;
    if (call->obs && call->obs->on_request_end)
        call->obs->on_request_end(call->ud, call, call->req_error_status, call->req_error);
}

/* Does the work recorded on a dirty call; the only place a call is freed
 * while its connection lives. Runs outside nghttp2; calls the gateway. */
static void call_process(h2_call *call)
{
    h2_conn *c = call->conn;
    h2_server *s = call->server;
    /* Work for the stream is only done while it lives: a call whose stream
     * went away keeps its REJECT_DUE, RST_DUE or DISPATCH and is freed (or
     * told) below. */
    int live = c->state != CONN_CLOSING && !c->cut && !call->stream_closed;

    if (call->resp == RESP_REJECT_DUE && live) {
        s->stats.requests_rejected++;
        int oom;
        char *enc = encode_message(call->reject_msg, &oom);
        if (submit_headers_only(call, call->reject_http, call->reject_grpc, enc) != 0)
            nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                      NGHTTP2_INTERNAL_ERROR);
        free(enc);
    }
    if (call->resp == RESP_RST_DUE && live) {
        call->resp = RESP_END_SENT;
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_NO_ERROR);
    }
    if (call->req == REQ_DISPATCH && live) {
        if (s->shutting_down) {
            call->req = REQ_REJECTED;
            s->stats.requests_rejected++;
            int oom;
            char *enc = encode_message(s->shut_msg, &oom);
            if (submit_headers_only(call, 200, s->shut_status, enc) != 0)
                nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                          NGHTTP2_INTERNAL_ERROR);
            free(enc);
        } else {
            call->req = REQ_GATEWAY;
            s->stats.requests_dispatched++;
            static const uint8_t empty[1];
            s->on_request(s->ctx, call, call->path, call->msg ? call->msg : empty, call->msg_len);
            /* The call cannot have been freed: only this function frees a
             * call with a live connection, and pumps do not nest. */
        }
        if (!call->streaming || call->req != REQ_GATEWAY)
            call_free_body(call);
    }
    if (call->streaming && live)
        stream_deliver(call);
    h2_msg *m;
    while ((m = msgq_pop(&call->taken))) {
        void *tag = m->tag;
        free(m);
        if (call->obs && call->obs->on_sent && !call->close_notified)
            call->obs->on_sent(call->ud, call, tag);
    }
    while ((m = msgq_pop(&call->dropped))) {
        void *tag = m->tag;
        free(m);
        if (call->obs && call->obs->on_unsent && !call->close_notified)
            call->obs->on_unsent(call->ud, call, tag);
    }
    if (!call->stream_closed || call->close_notified)
        return;

    /* The stream is gone: what is still queued will never be sent. */
    while ((m = msgq_pop(&call->queue))) {
        void *tag = m->tag;
        call->queued_bytes -= m->len - m->off;
        free(m);
        if (call->obs && call->obs->on_unsent)
            call->obs->on_unsent(call->ud, call, tag);
    }
    /* The callbacks above cannot have added to any queue: sends on a closed
     * stream are refused. So on_close really is the last callback. */
    if (call->obs) {
        call->close_notified = 1;
        if (call->obs->on_close)
            call->obs->on_close(call->ud, call, close_reason(call));
        call_free(call);
        return;
    }
    if (call->req == REQ_GATEWAY) {
        /* The gateway still holds the pointer and has no observer to learn
         * that the stream is gone: keep a stub until it finishes the call.
         * Its message went with the dispatch, so nothing of it counts in
         * the connection's budget any more (and the reader, holding no
         * buffer, never touches that budget again). */
        call_free_body(call);
        list_remove(&call->link);
        list_remove(&call->dirty_link);
        call->conn = NULL;
        list_push_back(&s->stubs, &call->link);
        return;
    }
    call_free(call);
}

static void process_dirty(h2_conn *c)
{
    while (!list_empty(&c->dirty)) {
        h2_call *call = CONTAINER_OF(c->dirty.next, h2_call, dirty_link);
        list_remove(&call->dirty_link);
        call_process(call);
    }
}

/* ---- the gateway's side of a call ------------------------------------------ */

int h2_call_send(h2_call *call, const uint8_t *msg, size_t len, void *tag)
{
    h2_conn *c = call->conn;
    if (!c || c->state == CONN_CLOSING || call->server->shutting_down || call->stream_closed ||
        call->shutdown_ended || call->req != REQ_GATEWAY || call_finished(call))
        return CHUTE_ECLOSED;
    if (len > call->server->lim.max_message_size || len > UINT32_MAX)
        return CHUTE_ETOOBIG;
    h2_msg *m = malloc(sizeof *m + CODEC_FRAME_PREFIX + len);
    if (!m)
        return CHUTE_ENOMEM;
    m->tag = tag;
    m->len = CODEC_FRAME_PREFIX + len;
    m->off = 0;
    codec_frame_write_prefix(m->data, 0, (uint32_t)len);
    if (len)
        memcpy(m->data + CODEC_FRAME_PREFIX, msg, len);
    if (call->resp == RESP_NONE) {
        int rv = start_response(call);
        if (rv != 0) {
            free(m);
            return rv == NGHTTP2_ERR_NOMEM ? CHUTE_ENOMEM : CHUTE_ECLOSED;
        }
    }
    msgq_push(&call->queue, m);
    call->queued_bytes += m->len;
    resume(call);
    conn_schedule(c);
    return 0;
}

int h2_call_finish(h2_call *call, int grpc_status, const char *message)
{
    h2_conn *c = call->conn;
    if (!c) { /* a stub: the stream went away while the gateway had no observer */
        call_free(call);
        return CHUTE_ECLOSED;
    }
    assert(call->req == REQ_GATEWAY);
    call->req = REQ_RELEASED;
    if (c->state == CONN_CLOSING || call->stream_closed || call_finished(call) ||
        call->shutdown_ended) {
        /* Released: call_process frees it (or tells the observer) when it
         * handles the close. */
        call_mark_dirty(call);
        conn_schedule(c);
        return CHUTE_ECLOSED;
    }
    int oom;
    char *enc = encode_message(message, &oom);
    int rv = oom ? CHUTE_ENOMEM : 0;
    if (oom) {
        call->resp = RESP_ENDED; /* by a reset */
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    } else if (call_end(call, grpc_status, enc) != 0) {
        rv = CHUTE_ENOMEM;
    }
    conn_schedule(c);
    return rv;
}

int h2_call_set_observer(h2_call *call, const h2_call_observer *obs, void *ud)
{
    if (!call->conn || call->close_notified)
        return CHUTE_ECLOSED;
    call->obs = obs;
    call->ud = ud;
    return 0;
}

const char *h2_call_path(const h2_call *call)
{
    return call->path ? call->path : "";
}

int64_t h2_call_timeout_ms(const h2_call *call)
{
    return call->timeout_ms;
}

size_t h2_call_queued_bytes(const h2_call *call)
{
    return call->queued_bytes;
}

/* ---- limits against a hostile client ---------------------------------------- */

/* The control-frame budget counts in thousandths of a frame, so that it can
 * regain |control_per_second| frames a second with a millisecond clock. */
#define H2_TOKEN 1000

/* A header block that decodes to more than this many times
 * max_header_list_size is not decoded further (see on_header). */
#define H2_HEADER_STOP_FACTOR 4

static void conn_peer_name(h2_conn *c, char *out, size_t cap)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        listener_peer_name(fd, out, cap);
    else
        snprintf(out, cap, "an unknown peer");
}

/* Ends the connection for abuse: GOAWAY(ENHANCE_YOUR_CALM) is queued and
 * nghttp2 reads nothing more. Runs inside an nghttp2 callback, which then
 * returns NGHTTP2_ERR_CALLBACK_FAILURE so that mem_recv stops at once (not a
 * byte more of a flood is looked at); on_read sees |cut| and lets the
 * GOAWAY go out. */
static void conn_cut(h2_conn *c, enum conn_cut why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_cut(h2_conn *c, enum conn_cut why, const char *fmt, ...)
{
    if (c->cut)
        return;
    h2_server *s = c->server;
    c->cut = why;
    nghttp2_session_terminate_session(c->session, NGHTTP2_ENHANCE_YOUR_CALM);
    if (why == CUT_HEADER_BOMB)
        s->stats.ended_header_bomb++;
    else
        s->stats.ended_control_flood++;
    char what[256], peer[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    conn_peer_name(c, peer, sizeof peer);
    chuted_log_limited(&s->cut_log, uv_now(s->loop),
                       "gRPC connection from %s ended with GOAWAY(ENHANCE_YOUR_CALM): %s", peer,
                       what);
}

/* Takes one control frame from the budget; 0 when it was empty. */
static int budget_take(h2_conn *c)
{
    const h2_limits *lim = &c->server->lim;
    if (lim->control_burst == 0)
        return 1;
    uint64_t cap = (uint64_t)lim->control_burst * H2_TOKEN;
    uint64_t now = uv_now(c->server->loop);
    if (now > c->control_time) {
        uint64_t ms = now - c->control_time;
        uint64_t add = ms > cap ? cap : ms * lim->control_per_second; /* per ms, in 1/1000 */
        c->control_tokens = add >= cap - c->control_tokens ? cap : c->control_tokens + add;
        c->control_time = now;
    }
    if (c->control_tokens < H2_TOKEN)
        return 0;
    c->control_tokens -= H2_TOKEN;
    return 1;
}

/* Work earns control frames: the window updates and pings a client sends
 * in answer to DATA, the reset or priority of a stream it opened. */
static void budget_earn(h2_conn *c, uint32_t frames)
{
    uint64_t cap = (uint64_t)c->server->lim.control_burst * H2_TOKEN;
    uint64_t add = (uint64_t)frames * H2_TOKEN;
    c->control_tokens = add >= cap - c->control_tokens ? cap : c->control_tokens + add;
}

/* One more header block over the limit. Returns -1 when that was one too
 * many: the connection is cut. */
static int conn_count_oversized(h2_conn *c)
{
    h2_server *s = c->server;
    s->stats.headers_oversized++;
    c->oversized++;
    uint32_t max = s->lim.max_oversized_headers;
    if (max == 0 || c->oversized <= max)
        return 0;
    conn_cut(c, CUT_HEADER_BOMB,
             "%" PRIu32 " header blocks over the header list limit of %" PRIu32
             " bytes (at most %" PRIu32 " on one connection)",
             c->oversized, s->lim.max_header_list_size, max);
    return -1;
}

/* The request of |call| has not arrived whole within request_timeout_ms:
 * answer it DEADLINE_EXCEEDED, saying what is missing, and free its buffer
 * (call_reject does). */
static void request_timed_out(h2_call *call)
{
    h2_conn *c = call->conn;
    h2_server *s = call->server;
    if (!c || c->state == CONN_CLOSING || c->cut || call->stream_closed || !call_can_reject(call))
        return;
    char what[160];
    size_t prefix_have = 0, have = 0, length = 0;
    switch (call->req) {
    case REQ_HEADERS:
        snprintf(what, sizeof what, "its header block did not end");
        break;
    case REQ_BODY:
        codec_frame_reader_progress(&call->reader, &prefix_have, &have, &length);
        if (prefix_have == 0)
            snprintf(what, sizeof what, "no request message arrived");
        else if (prefix_have < CODEC_FRAME_PREFIX)
            snprintf(what, sizeof what, "%zu of the 5 bytes of the message prefix arrived",
                     prefix_have);
        else
            snprintf(what, sizeof what, "%zu of the %zu bytes of the request message arrived", have,
                     length);
        break;
    default: /* REQ_MESSAGE */
        snprintf(what, sizeof what, "the request stream did not end after its message");
        break;
    }
    unsigned long long ms = (unsigned long long)s->lim.request_timeout_ms;
    call_reject(call, 200, H2_GRPC_DEADLINE_EXCEEDED,
                "the request did not arrive within %llu ms: %s", ms, what);
    s->stats.requests_timed_out++;
    char peer[64];
    conn_peer_name(c, peer, sizeof peer);
    chuted_log_limited(&s->timeout_log, uv_now(s->loop),
                       "gRPC request %s from %s ended: it did not arrive within %llu ms: %s",
                       call->path ? call->path : "(no :path yet)", peer, ms, what);
    conn_schedule(c);
}

/* The request-timeout sweep: one timer per server, armed for the oldest
 * request still arriving. Every request has the same timeout, so the list
 * is in deadline order and each run looks only at what expired, plus one. */
static void on_req_timer(uv_timer_t *t)
{
    h2_server *s = t->data;
    uint64_t now = uv_now(s->loop), limit = s->lim.request_timeout_ms;
    while (!list_empty(&s->arriving)) {
        h2_call *call = CONTAINER_OF(s->arriving.next, h2_call, arrive_link);
        if (call->arrived_ms + limit > now) {
            uv_timer_start(t, on_req_timer, call->arrived_ms + limit - now, 0);
            return;
        }
        list_remove(&call->arrive_link);
        request_timed_out(call);
    }
}

/* A request begins to arrive: its deadline is request_timeout_ms from now. */
static void arrival_start(h2_call *call)
{
    h2_server *s = call->server;
    if (s->lim.request_timeout_ms == 0 || s->shutting_down)
        return;
    call->arrived_ms = uv_now(s->loop);
    list_push_back(&s->arriving, &call->arrive_link);
    if (!uv_is_active((uv_handle_t *)&s->req_timer))
        uv_timer_start(&s->req_timer, on_req_timer, s->lim.request_timeout_ms, 0);
}

/* ---- nghttp2 callbacks -------------------------------------------------------- */

static h2_call *stream_call(nghttp2_session *session, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(session, stream_id);
}

static int check_prefix(void *ud, unsigned flags, uint32_t length, chute_error *err);

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    h2_conn *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_call *call = calloc(1, sizeof *call);
    if (!call)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    call->server = c->server;
    call->conn = c;
    call->stream_id = frame->hd.stream_id;
    call->timeout_ms = -1;
    /* The request's one message is held until dispatch (it is dispatched
     * after nghttp2 returned), judged by check_prefix before any of it is
     * buffered, and its buffer grows with what arrives (16 KiB first, never
     * past the announced length) within the connection's budget. */
    codec_frame_reader_opts ro = {
        .max_message = c->server->lim.max_message_size,
        .hold = 1,
        .first_alloc = H2_BODY_INITIAL,
        .budget = &c->body_budget,
        .on_prefix = check_prefix,
        .ud = call,
    };
    codec_frame_reader_init_opts(&call->reader, &ro);
    list_init(&call->dirty_link);
    list_init(&call->arrive_link);
    list_push_back(&c->calls, &call->link);
    c->server->stats.calls_open++;
    nghttp2_session_set_stream_user_data(session, call->stream_id, call);
    c->open_streams++;
    arrival_start(call);
    budget_earn(c, 2);
    if (!c->timer_is_drain)
        uv_timer_stop(&c->timer);
    return 0;
}

static int header_is(const uint8_t *name, size_t namelen, const char *lit)
{
    size_t n = strlen(lit);
    return namelen == n && memcmp(name, lit, n) == 0;
}

/* The slot of a kept request header named |name|, or -1. */
static int keep_index(const h2_server *s, const uint8_t *name, size_t namelen)
{
    for (int i = 0; i < H2_KEEP_MAX && s->keep[i]; i++)
        if (header_is(name, namelen, s->keep[i]))
            return i;
    return -1;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    h2_conn *c = user_data;
    (void)flags;
    h2_call *call = stream_call(session, frame->hd.stream_id);
    if (!call)
        return 0;
    size_t max = c->server->lim.max_header_list_size;
    call->header_bytes += namelen + valuelen + 32;
    if (call->header_bytes > max) {
        if (!call->headers_too_big) {
            call->headers_too_big = 1;
            if (conn_count_oversized(c) != 0)
                return NGHTTP2_ERR_CALLBACK_FAILURE; /* cut: mem_recv stops here */
        }
        if (call->header_bytes / H2_HEADER_STOP_FACTOR > max) {
            /* Far past the limit, so nothing more of the block can change
             * the answer: stop paying for it. After this nghttp2 still
             * decodes the rest of the block (the HPACK table must stay in
             * step) but calls no callback and checks no field, which is
             * what made a block of one-byte references to a large table
             * entry cost milliseconds. The stream is reset instead of
             * answered; ENHANCE_YOUR_CALM reads as RESOURCE_EXHAUSTED to a
             * gRPC client. */
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                      NGHTTP2_ENHANCE_YOUR_CALM);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        return 0;
    }
    if (call->req != REQ_HEADERS || call->headers_too_big)
        return 0; /* request trailers (or a request already refused): counted, not used */
    if (header_is(name, namelen, ":method")) {
        if (valuelen == 4 && memcmp(value, "POST", 4) == 0)
            call->method_post = 1;
    } else if (header_is(name, namelen, ":path")) {
        free(call->path);
        call->path = strndup((const char *)value, valuelen);
        if (!call->path)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    } else if (header_is(name, namelen, "content-type")) {
        static const char ct[] = "application/grpc";
        size_t n = sizeof ct - 1;
        call->content_type_ok = valuelen >= n && memcmp(value, ct, n) == 0 &&
                                (valuelen == n || value[n] == '+' || value[n] == ';');
    } else if (header_is(name, namelen, "grpc-timeout")) {
        call->timeout_ms = parse_timeout(value, valuelen);
    } else if (name[0] != ':' && valuelen <= H2_KEEP_VALUE_MAX &&
               keep_index(c->server, name, namelen) >= 0) {
        int k = keep_index(c->server, name, namelen);
        free(call->kept[k]);
        call->kept[k] = strndup((const char *)value, valuelen);
        if (!call->kept[k])
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    } else if (header_is(name, namelen, "grpc-encoding")) {
        call->encoding = codec_encoding_parse((const char *)value, valuelen);
        if (call->encoding == CODEC_ENC_UNKNOWN) {
            size_t n = valuelen < sizeof call->encoding_name - 1 ? valuelen
                                                                 : sizeof call->encoding_name - 1;
            memcpy(call->encoding_name, value, n);
            call->encoding_name[n] = '\0';
        }
    }
    return 0;
}

/* The request side of a client-streaming call broke (a message too large,
 * cut short, not inflatable): nothing more of it is read, and the gateway
 * learns why in on_request_end once the messages before it were handed
 * on. */
static void stream_error(h2_call *call, int grpc_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void stream_error(h2_call *call, int grpc_status, const char *fmt, ...)
{
    if (call->req_error_status)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    call->req_error_status = grpc_status;
    call->req_error = strdup(buf); /* NULL on ENOMEM: the status alone is told */
    codec_frame_reader_free(&call->reader);
    call_mark_dirty(call);
}

/* The request stream ended: decide between dispatch and an error. */
static void request_ended(h2_call *call)
{
    if (call->streaming) {
        /* The client half-closed: the gateway hears of it after the last
         * message. A message cut short breaks the request side instead. */
        if (!call->req_error_status && codec_frame_reader_pending(&call->reader))
            stream_error(call, H2_GRPC_INTERNAL, "the request stream ended inside a gRPC message");
        call_mark_dirty(call);
        return;
    }
    if (call->req == REQ_MESSAGE) {
        call->req = REQ_DISPATCH;
        list_remove(&call->arrive_link); /* arrived whole */
        call_mark_dirty(call);
        return;
    }
    if (call->req != REQ_BODY)
        return; /* rejected */
    size_t prefix_have, have, length;
    codec_frame_reader_progress(&call->reader, &prefix_have, &have, &length);
    if (prefix_have == 0)
        call_reject(call, 200, H2_GRPC_INTERNAL,
                    "the request stream ended without a request message");
    else if (prefix_have < CODEC_FRAME_PREFIX)
        call_reject(call, 200, H2_GRPC_INTERNAL,
                    "the request stream ended inside a gRPC message prefix (%zu of 5 bytes)",
                    prefix_have);
    else
        call_reject(call, 200, H2_GRPC_INTERNAL,
                    "the request stream ended inside a gRPC message (%zu of %zu bytes)", have,
                    length);
}

static void headers_ended(h2_call *call)
{
    h2_server *s = call->server;
    if (call->req == REQ_HEADERS)
        call->req = REQ_BODY;
    if (call->headers_too_big)
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED,
                    "request header list of more than %" PRIu32 " bytes exceeds the limit",
                    s->lim.max_header_list_size);
    else if (s->shutting_down)
        call_reject(call, 200, s->shut_status, "%s", s->shut_msg ? s->shut_msg : "");
    else if (!call->method_post)
        call_reject(call, 405, H2_GRPC_UNIMPLEMENTED, "gRPC requires the POST method");
    else if (!call->content_type_ok)
        call_reject(call, 415, H2_GRPC_INVALID_ARGUMENT,
                    "gRPC requires content-type application/grpc");
    else if (!call->path)
        call_reject(call, 200, H2_GRPC_INVALID_ARGUMENT, "the request has no :path");
    else if (call->encoding == CODEC_ENC_UNKNOWN)
        call_reject(call, 200, H2_GRPC_UNIMPLEMENTED,
                    "grpc-encoding \"%s\" is not supported (supported: %s)", call->encoding_name,
                    CODEC_ACCEPT_ENCODING);
    else if (s->streaming && s->streaming(s->ctx, call->path)) {
        /* A client-streaming call is the gateway's from its headers on:
         * its messages follow one by one. The reader hands out messages
         * without holding them (each is copied into the inbox), and the
         * request deadline no longer applies. */
        call->streaming = 1;
        call->req = REQ_DISPATCH;
        list_remove(&call->arrive_link);
        codec_frame_reader_opts ro = {
            .max_message = s->lim.max_message_size,
            .first_alloc = H2_BODY_INITIAL,
            .budget = &call->conn->body_budget,
            .on_prefix = check_prefix,
            .ud = call,
        };
        codec_frame_reader_free(&call->reader);
        codec_frame_reader_init_opts(&call->reader, &ro);
        call_mark_dirty(call);
    }
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    h2_call *call = stream_call(session, frame->hd.stream_id);
    if (!call)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && call->req == REQ_HEADERS)
        headers_ended(call);
    else if (frame->hd.type == NGHTTP2_HEADERS && call->headers_too_big)
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED,
                    "request trailers exceed the header list limit");
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        call->remote_ended = 1;
        request_ended(call);
    }
    return 0;
}

/* The reader's on_prefix: judges the request message's prefix before any
 * of its bytes are buffered. The messages are the transport's own (the
 * reader's checks, which come after, then never fail). */
static int check_prefix(void *ud, unsigned flags, uint32_t length, chute_error *err)
{
    h2_call *call = ud;
    size_t max = call->server->lim.max_message_size;
    if (flags == 1 && call->encoding == CODEC_ENC_IDENTITY)
        /* The gRPC spec: a compressed message without a grpc-encoding to
         * decompress it with is a protocol error. */
        return chute_error_set(err, CHUTE_EINVAL,
                               "the request message is marked compressed, but the request has no "
                               "grpc-encoding (supported: %s)",
                               CODEC_ACCEPT_ENCODING);
    if (flags > 1)
        return chute_error_set(err, CHUTE_EINVAL, "invalid gRPC message flags 0x%02x", flags);
    if (length > max)
        return chute_error_set(err, CHUTE_ETOOBIG,
                               "request message of %" PRIu32
                               " bytes exceeds the maximum message size of %zu bytes",
                               length, max);
    return 0;
}

/* Rejects a call whose message the reader refused with |rc|. */
static void reject_message(h2_call *call, int rc, const chute_error *err)
{
    size_t length;
    switch (rc) {
    case CHUTE_EBUSY:
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED,
                    "too many request bytes in flight on this connection (limit %zu "
                    "bytes); retry the request",
                    call->server->lim.max_request_buffer);
        break;
    case CHUTE_ENOMEM:
        codec_frame_reader_progress(&call->reader, NULL, NULL, &length);
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED,
                    "out of memory for a request message of %zu bytes", length);
        break;
    case CHUTE_ETOOBIG:
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED, "%s", err->message);
        break;
    default:
        call_reject(call, 200, H2_GRPC_INTERNAL, "%s", err->message);
        break;
    }
}

/* Replaces the complete compressed message by its decompressed bytes, so
 * the gateway only ever sees plain messages. The inflated size is bounded
 * by max_message_size and by what is left of the connection's
 * max_request_buffer (the compressed bytes still count while inflating);
 * the output grows with what the data really inflates to, so a "zip bomb"
 * is refused at the bound without allocating beyond it. Returns 0, or -1
 * after rejecting the call. */
static int call_inflate_body(h2_call *call)
{
    h2_conn *c = call->conn;
    const h2_limits *lim = &call->server->lim;
    size_t max = lim->max_message_size;
    size_t used = c->body_budget.used;
    size_t room = lim->max_request_buffer > used ? lim->max_request_buffer - used : 0;
    size_t bound = max < room ? max : room;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    chute_error err = {0, ""};
    int rc = bound ? codec_inflate(call->encoding, call->msg, call->msg_len, bound, &plain,
                                   &plain_len, &err)
                   : CHUTE_ETOOBIG;
    if (rc == CHUTE_ETOOBIG && bound == max) {
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED, "%s", err.message);
        return -1;
    }
    if (rc == CHUTE_ETOOBIG) {
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED,
                    "too many request bytes in flight on this connection to decompress the "
                    "request message (limit %zu bytes); retry the request",
                    lim->max_request_buffer);
        return -1;
    }
    if (rc == CHUTE_ENOMEM) {
        call_reject(call, 200, H2_GRPC_RESOURCE_EXHAUSTED,
                    "out of memory decompressing a request message of %zu bytes", call->msg_len);
        return -1;
    }
    if (rc != 0) {
        call_reject(call, 200, H2_GRPC_INTERNAL, "%s", err.message);
        return -1;
    }
    call_free_body(call);
    call->plain = plain;
    call->msg = plain;
    call->msg_len = plain_len;
    c->body_budget.used += plain_len;
    return 0;
}

/* Queues one whole message of a client-streaming call, inflated if it is
 * compressed, within the connection's body budget. */
static void stream_queue(h2_call *call, const codec_frame *m)
{
    h2_conn *c = call->conn;
    const h2_limits *lim = &call->server->lim;
    const uint8_t *bytes = m->data;
    size_t n = m->len;
    uint8_t *plain = NULL;
    if (m->compressed && m->len > 0) {
        size_t used = c->body_budget.used;
        size_t room = lim->max_request_buffer > used ? lim->max_request_buffer - used : 0;
        size_t bound = lim->max_message_size < room ? lim->max_message_size : room;
        chute_error err = {0, ""};
        int rc = bound ? codec_inflate(call->encoding, m->data, m->len, bound, &plain, &n, &err)
                       : CHUTE_ETOOBIG;
        if (rc == CHUTE_ETOOBIG) {
            stream_error(call, H2_GRPC_RESOURCE_EXHAUSTED,
                         "a request message inflates past %zu bytes (the message size limit, or "
                         "what is left of the connection's request buffer)",
                         bound);
            return;
        }
        if (rc != 0) {
            stream_error(call, rc == CHUTE_ENOMEM ? H2_GRPC_RESOURCE_EXHAUSTED : H2_GRPC_INTERNAL,
                         "%s", rc == CHUTE_ENOMEM ? "out of memory" : err.message);
            return;
        }
        bytes = plain;
    }
    if (c->body_budget.used + n > c->body_budget.max) {
        free(plain);
        stream_error(call, H2_GRPC_RESOURCE_EXHAUSTED,
                     "too many request bytes in flight on this connection (limit %zu bytes)",
                     lim->max_request_buffer);
        return;
    }
    h2_inmsg *in = malloc(sizeof *in + n);
    if (!in) {
        free(plain);
        stream_error(call, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory for a request message");
        return;
    }
    in->next = NULL;
    in->len = n;
    if (n)
        memcpy(in->data, bytes, n);
    free(plain);
    c->body_budget.used += n;
    if (call->inbox_tail)
        call->inbox_tail->next = in;
    else
        call->inbox = in;
    call->inbox_tail = in;
    call_mark_dirty(call);
}

/* The DATA of a client-streaming call: each message is queued whole as it
 * completes; after an error, or once the gateway finished the call, the
 * rest is discarded (nghttp2 still returns the window). */
static int stream_data(h2_call *call, const uint8_t *data, size_t len)
{
    while (len > 0 && !call->req_error_status &&
           (call->req == REQ_DISPATCH || call->req == REQ_GATEWAY)) {
        size_t used = 0;
        codec_frame m;
        chute_error err = {0, ""};
        int rc = codec_frame_reader_feed(&call->reader, data, len, &used, &m, &err);
        if (rc < 0) {
            stream_error(call, rc == CHUTE_EINVAL ? H2_GRPC_INTERNAL : H2_GRPC_RESOURCE_EXHAUSTED,
                         "%s", err.message);
            return 0;
        }
        data += used;
        len -= used;
        if (rc == 0)
            return 0;
        stream_queue(call, &m);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    (void)user_data;
    (void)flags;
    h2_call *call = stream_call(session, stream_id);
    if (!call || call->req == REQ_REJECTED)
        return 0; /* discarded; nghttp2 still returns the flow-control window */
    if (call->streaming)
        return stream_data(call, data, len);
    while (len > 0) {
        if (call->req != REQ_BODY) {
            call_reject(call, 200, H2_GRPC_INTERNAL,
                        "more than one request message on a unary or server-streaming call");
            return 0;
        }
        size_t used = 0;
        codec_frame m;
        chute_error err = {0, ""};
        int rc = codec_frame_reader_feed(&call->reader, data, len, &used, &m, &err);
        if (rc < 0) {
            reject_message(call, rc, &err);
            return 0;
        }
        data += used;
        len -= used;
        if (rc == 0)
            return 0; /* every byte is in the reader */
        call->req = REQ_MESSAGE;
        call->msg = m.data;
        call->msg_len = m.len;
        /* An empty message is empty in any encoding. */
        if (m.compressed && m.len > 0 && call_inflate_body(call) != 0)
            return 0; /* rejected */
    }
    return 0;
}

/* Every frame header that arrives: control frames take from the budget. */
static int on_begin_frame(nghttp2_session *session, const nghttp2_frame_hd *hd, void *user_data)
{
    h2_conn *c = user_data;
    (void)session;
    const char *what;
    switch (hd->type) {
    case NGHTTP2_DATA:
        if (hd->length > 0 || (hd->flags & NGHTTP2_FLAG_END_STREAM))
            return 0;
        what = "an empty DATA";
        break;
    case NGHTTP2_PRIORITY:
        what = "a PRIORITY";
        break;
    case NGHTTP2_RST_STREAM:
        what = "a RST_STREAM";
        break;
    case NGHTTP2_SETTINGS:
        what = "a SETTINGS";
        break;
    case NGHTTP2_PING:
        what = "a PING";
        break;
    case NGHTTP2_WINDOW_UPDATE:
        what = "a WINDOW_UPDATE";
        break;
    default:
        return 0;
    }
    if (!c->cut && budget_take(c))
        return 0;
    const h2_limits *lim = &c->server->lim;
    conn_cut(c, CUT_CONTROL_FLOOD,
             "%s frame found its budget of control frames empty (%" PRIu32 " at once, %" PRIu32
             " a second, more with the work it brings)",
             what, lim->control_burst, lim->control_per_second);
    return NGHTTP2_ERR_CALLBACK_FAILURE; /* mem_recv stops here */
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    if (frame->hd.type == NGHTTP2_DATA)
        budget_earn(user_data, 3); /* up to two window updates and a ping in answer */
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    h2_call *call = stream_call(session, frame->hd.stream_id);
    if (!call)
        return 0;
    if (call->remote_ended) {
        call->resp = RESP_END_SENT;
    } else {
        /* Answered before the request ended (an error): ask the client to
         * stop sending, as RFC 9113 8.1 allows. */
        call->resp = RESP_RST_DUE;
        call_mark_dirty(call);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    h2_conn *c = user_data;
    (void)error_code;
    h2_call *call = stream_call(session, stream_id);
    if (!call)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    call->stream_closed = 1;
    list_remove(&call->arrive_link);
    if (c->open_streams > 0)
        c->open_streams--;
    call_mark_dirty(call);
    return 0;
}

/* ---- connections ---------------------------------------------------------------- */

static void conn_schedule(h2_conn *c)
{
    if (c->busy || c->state == CONN_CLOSING || c->sched_link.next != &c->sched_link)
        return;
    h2_server *s = c->server;
    list_push_back(&s->sched, &c->sched_link);
    if (!s->idle_closing)
        uv_idle_start(&s->idle, on_idle);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    h2_conn *c = h->data;
    if (--c->handles > 0)
        return;
    h2_server *s = c->server;
    assert(list_empty(&c->calls));
    nghttp2_session_del(c->session);
    free(c->wreq);
    list_remove(&c->link);
    list_remove(&c->sched_link);
    s->stats.connections_open--;
    listener_release(s->lst, c->peer);
    free(c);
    server_maybe_done(s);
}

/* Every call still open learns it lost its stream (on_unsent, on_close). */
static void conn_end_calls(h2_conn *c)
{
    /* Mark every call first, so a gateway callback for one of them sees all
     * of them closed. */
    for (h2_link *l = c->calls.next; l != &c->calls; l = l->next) {
        h2_call *call = CONTAINER_OF(l, h2_call, link);
        if (!call->stream_closed) {
            call->stream_closed = 1;
            call->conn_lost = 1;
            call_mark_dirty(call);
        }
    }
    c->open_streams = 0;
    c->busy++;
    process_dirty(c);
    c->busy--;
    assert(list_empty(&c->calls));
}

/* Closes the connection now. */
static void conn_fail(h2_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    list_remove(&c->sched_link);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    conn_end_calls(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_reject_shutdown(uv_shutdown_t *req, int status)
{
    h2_conn *c = req->data;
    c->fin_sent = 1;
    if (c->state == CONN_REJECTING && (status < 0 || c->peer_eof))
        conn_fail(c);
}

static void on_write(uv_write_t *req, int status)
{
    h2_wreq *w = CONTAINER_OF(req, h2_wreq, req);
    h2_conn *c = req->data;
    h2_server *s = c->server;
    c->out_pending -= w->len;
    s->stats.output_buffered -= w->len;
    free(w);
    if (c->state == CONN_CLOSING)
        return;
    if (status < 0) {
        conn_fail(c);
        return;
    }
    if (c->state == CONN_REJECTING) {
        /* The 400 is written: send FIN, and close once the peer has closed
         * too (or the drain timer fires), so the answer is not lost to a
         * reset caused by unread input. */
        if (c->out_pending == 0 &&
            uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_reject_shutdown) != 0)
            conn_fail(c);
        return;
    }
    conn_pump(c);
}

static int write_batch(h2_conn *c)
{
    h2_wreq *w = c->wreq;
    if (!w || w->len == 0)
        return 0;
    /* Most batches fit the socket's buffer: written at once they cost no
     * write request, no poll for writability and no callback an iteration
     * later (libuv toggles the poll with one epoll_ctl each way). Only when
     * nothing is queued, so bytes stay in order; a rejected HTTP/1.1
     * connection goes through on_write, which ends it. */
    if (c->out_pending == 0 && c->state != CONN_REJECTING) {
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)w->len) {
            c->wreq = NULL; /* not kept: idle connections hold no buffer */
            free(w);
            return 0;
        }
        if (n < 0 && n != UV_EAGAIN)
            return n;
        if (n > 0) {
            memmove(w->data, w->data + n, w->len - (size_t)n);
            w->len -= (size_t)n;
        }
    }
    c->wreq = NULL;
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);
    w->req.data = c;
    int rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rv != 0) {
        free(w);
        return rv;
    }
    h2_server *s = c->server;
    c->out_pending += w->len;
    s->stats.output_buffered += w->len;
    if (c->out_pending > s->stats.output_buffered_max)
        s->stats.output_buffered_max = c->out_pending;
    return 0;
}

static int append_out(h2_conn *c, const uint8_t *data, size_t n)
{
    h2_wreq *w = c->wreq;
    if (w && w->len + n > w->cap) {
        int rv = write_batch(c);
        if (rv != 0)
            return rv;
        w = NULL;
    }
    if (!w) {
        size_t cap = n > H2_WRITE_CHUNK ? n : H2_WRITE_CHUNK;
        w = malloc(sizeof *w + cap);
        if (!w)
            return UV_ENOMEM;
        w->len = 0;
        w->cap = cap;
        c->wreq = w;
    }
    memcpy(w->data + w->len, data, n);
    w->len += n;
    return 0;
}

/* Pulls frames from nghttp2 into uv_writes while the output buffer has
 * room. Marks calls whose messages were taken dirty (their on_sent runs in
 * the next process_dirty). */
static void conn_flush(h2_conn *c)
{
    if (c->state == CONN_CLOSING || c->state == CONN_REJECTING || !c->preface_ok)
        return;
    size_t max = c->server->lim.max_output_buffer;
    while (c->out_pending + (c->wreq ? c->wreq->len : 0) < max) {
        /* After a cut's GOAWAY nghttp2 would still hand out what is queued. */
        if (c->cut && !nghttp2_session_want_write(c->session))
            break;
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->session, &data);
        if (n < 0) {
            conn_fail(c);
            return;
        }
        if (n == 0)
            break;
        if (append_out(c, data, (size_t)n) != 0) {
            conn_fail(c);
            return;
        }
    }
    if (write_batch(c) != 0)
        conn_fail(c);
}

static void on_conn_timer(uv_timer_t *t);

/* Sends GOAWAY (NO_ERROR) and lets the connection close once its streams
 * end, bounded by drain_timeout_ms. */
static void conn_drain(h2_conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    if (!c->preface_ok) {
        conn_fail(c);
        return;
    }
    c->state = CONN_DRAINING;
    nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
    c->timer_is_drain = 1;
    uv_timer_start(&c->timer, on_conn_timer, c->server->lim.drain_timeout_ms, 0);
}

/* Shutdown on one connection: end every open call with the shutdown status
 * and GOAWAY. Runs inside a pump. */
static void conn_apply_shutdown(h2_conn *c)
{
    h2_server *s = c->server;
    c->shutdown_applied = 1;
    if (c->state == CONN_REJECTING || c->state == CONN_CLOSING || c->cut)
        return; /* a cut connection closes by itself, bounded by its drain timer */
    if (!c->preface_ok) {
        conn_fail(c);
        return;
    }
    for (h2_link *l = c->calls.next; l != &c->calls; l = l->next) {
        h2_call *call = CONTAINER_OF(l, h2_call, link);
        if (call->stream_closed)
            continue;
        if (call->req == REQ_GATEWAY && !call_finished(call)) {
            call->shutdown_ended = 1;
            /* Drop what nghttp2 has not started on; a message it has begun
             * must be completed or the stream would carry a torn message. */
            h2_msgq keep = {NULL, NULL};
            h2_msg *m;
            while ((m = msgq_pop(&call->queue))) {
                if (m->off > 0) {
                    msgq_push(&keep, m);
                } else {
                    call->queued_bytes -= m->len;
                    msgq_push(&call->dropped, m);
                }
            }
            call->queue = keep;
            int oom;
            char *enc = encode_message(s->shut_msg, &oom);
            call_end(call, s->shut_status, enc);
            call_mark_dirty(call);
        } else if (call_can_reject(call) || call->req == REQ_DISPATCH) {
            if (call->req == REQ_DISPATCH)
                call->req = REQ_MESSAGE; /* not dispatched after all */
            call_reject(call, 200, s->shut_status, "%s", s->shut_msg ? s->shut_msg : "");
        }
    }
    conn_drain(c);
}

/* After a pump: close when done, keep the idle timer right. */
static void conn_check(h2_conn *c)
{
    if (c->state == CONN_CLOSING || c->state == CONN_REJECTING || !c->preface_ok)
        return;
    /* A cut connection is finished once its GOAWAY went out (nghttp2 then
     * wants neither to read nor to write): it is closed at once, unread
     * input and all. Lingering would keep the kernel's receive buffer of
     * every cut connection full (a reconnecting client can make many), and
     * the GOAWAY is in the client's receive queue before our reset. */
    int want_read = nghttp2_session_want_read(c->session);
    int want_write = nghttp2_session_want_write(c->session);
    int finished = (!want_read && !want_write) ||
                   (c->state == CONN_DRAINING && c->open_streams == 0 && !want_write);
    if (finished) {
        if (c->out_pending == 0)
            conn_fail(c); /* no calls are open, so nobody is told anything */
        return;           /* else on_write pumps again */
    }
    if (c->state == CONN_OPEN && c->open_streams == 0 && c->server->lim.idle_timeout_ms > 0 &&
        !uv_is_active((uv_handle_t *)&c->timer))
        uv_timer_start(&c->timer, on_conn_timer, c->server->lim.idle_timeout_ms, 0);
}

static void conn_pump(h2_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    h2_server *s = c->server;
    list_remove(&c->sched_link);
    c->busy++;
    for (;;) {
        if (s->shutting_down && !c->shutdown_applied)
            conn_apply_shutdown(c);
        process_dirty(c);
        if (c->state == CONN_CLOSING)
            break;
        conn_flush(c);
        if (c->state == CONN_CLOSING)
            break;
        /* Another round if flushing made work (on_sent, a reset to send) or
         * a callback started a shutdown (this busy conn was not scheduled). */
        if (list_empty(&c->dirty) && !(s->shutting_down && !c->shutdown_applied))
            break;
    }
    c->busy--;
    conn_check(c);
}

static void on_conn_timer(uv_timer_t *t)
{
    h2_conn *c = t->data;
    if (c->timer_is_drain || c->state != CONN_OPEN) {
        conn_fail(c);
        return;
    }
    if (c->open_streams > 0)
        return;
    c->busy++;
    conn_drain(c);
    c->busy--;
    conn_pump(c);
}

static void conn_reject_http1(h2_conn *c)
{
    c->state = CONN_REJECTING;
    /* Nothing of nghttp2's went out yet: it waits for a verified preface. */
    assert(c->wreq == NULL && c->out_pending == 0);
    if (append_out(c, (const uint8_t *)http1_reply, sizeof http1_reply - 1) != 0 ||
        write_batch(c) != 0) {
        conn_fail(c);
        return;
    }
    c->timer_is_drain = 1;
    uv_timer_start(&c->timer, on_conn_timer, c->server->lim.drain_timeout_ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    h2_conn *c = h->data;
    (void)suggested;
    /* Reads are consumed synchronously in on_read, so one buffer per server
     * serves every connection. */
    *buf = uv_buf_init(c->server->rbuf, sizeof c->server->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    h2_conn *c = st->data;
    if (nread < 0) {
        if (c->state == CONN_REJECTING && !c->fin_sent) {
            c->peer_eof = 1; /* the 400 is still being written */
            uv_read_stop(st);
            return;
        }
        conn_fail(c);
        return;
    }
    if (nread == 0 || c->state == CONN_CLOSING || c->state == CONN_REJECTING || c->cut)
        return;
    const uint8_t *data = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;
    if (!c->preface_ok) {
        size_t k = H2_CLIENT_MAGIC_LEN - c->preface_got;
        if (k > n)
            k = n;
        if (memcmp(data, &H2_CLIENT_MAGIC[c->preface_got], k) != 0) {
            conn_reject_http1(c);
            return;
        }
        c->preface_got += k;
        if (c->preface_got == H2_CLIENT_MAGIC_LEN)
            c->preface_ok = 1; /* our SETTINGS may go out now */
    }
    ssize_t rv = nghttp2_session_mem_recv(c->session, data, n);
    if (c->cut) {
        /* A callback cut the connection (and made mem_recv stop): read
         * nothing more, let the GOAWAY go out within the drain timeout. */
        uv_read_stop(st);
        if (c->state == CONN_OPEN)
            c->state = CONN_DRAINING;
        c->timer_is_drain = 1;
        uv_timer_start(&c->timer, on_conn_timer, c->server->lim.drain_timeout_ms, 0);
        conn_pump(c);
        return;
    }
    if (rv < 0) {
        /* Fatal (out of memory, a flood, a bad preface). Protocol errors are
         * not fatal here: nghttp2 queues GOAWAY and stops wanting to read,
         * which conn_check turns into a graceful close. */
        if (rv == NGHTTP2_ERR_FLOODED) {
            /* nghttp2's own limit: too many answers (SETTINGS and PING
             * acknowledgements, resets) queued for a peer that sends but
             * does not read. */
            h2_server *s = c->server;
            char peer[64];
            conn_peer_name(c, peer, sizeof peer);
            s->stats.ended_control_flood++;
            chuted_log_limited(&s->cut_log, uv_now(s->loop),
                               "gRPC connection from %s closed: it sends control frames "
                               "without reading their answers (nghttp2's flood limit)",
                               peer);
        }
        conn_fail(c);
        return;
    }
    conn_pump(c);
}

/* Setting up an accepted connection failed (out of memory, or libuv
 * refused the socket). */
static void setup_failed(h2_server *s, const char *what)
{
    chuted_log_limited(&s->fail_log, uv_now(s->loop),
                       "gRPC listener: a connection could not be set up: %s", what);
}

/* A connection the listener admitted (see listener.h). */
static void on_accept(void *ctx, int fd, listener_peer *peer)
{
    h2_server *s = ctx;
    h2_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        listener_release(s->lst, peer);
        setup_failed(s, "out of memory");
        return;
    }
    c->server = s;
    c->peer = peer;
    c->body_budget.max = s->lim.max_request_buffer;
    c->control_tokens = (uint64_t)s->lim.control_burst * H2_TOKEN;
    c->control_time = uv_now(s->loop);
    list_init(&c->calls);
    list_init(&c->dirty);
    list_init(&c->sched_link);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->shutdown_req.data = c;
    c->handles = 2;
    list_push_back(&s->conns, &c->link);
    s->stats.connections_open++;
    int rv = uv_tcp_open(&c->tcp, fd);
    if (rv != 0) {
        close(fd); /* not the handle's */
        setup_failed(s, uv_strerror(rv));
        conn_fail(c);
        return;
    }
    s->stats.connections_accepted++;
    uv_tcp_nodelay(&c->tcp, 1);
    if (nghttp2_session_server_new2(&c->session, s->cbs, c, s->opt) != 0) {
        setup_failed(s, "out of memory");
        conn_fail(c);
        return;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->lim.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, s->lim.max_header_list_size},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    /* Queued; it goes out once the client preface is verified, so an
     * HTTP/1.1 client gets a readable 400 and no binary frame before it. */
    if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_fail(c);
        return;
    }
    if (s->lim.idle_timeout_ms > 0)
        uv_timer_start(&c->timer, on_conn_timer, s->lim.idle_timeout_ms, 0);
}

/* What a connection over a cap gets before it is closed: the server
 * preface (an empty SETTINGS) and GOAWAY(last stream 0, ENHANCE_YOUR_CALM),
 * written without any session: a client learns why, at the cost of one
 * send(). */
/* clang-format off */
static const uint8_t refuse_frames[] = {
    0, 0, 0, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0, /* length 0, no flags, stream 0 */
    0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0,   /* length 8, no flags, stream 0 */
    0, 0, 0, 0,                               /* last stream: none */
    0, 0, 0, NGHTTP2_ENHANCE_YOUR_CALM,       /* error code */
};
/* clang-format on */

_Static_assert(sizeof refuse_frames == 9 + 9 + 8, "SETTINGS and GOAWAY frames");

static void on_refuse(void *ctx, int fd, listener_refusal why)
{
    (void)ctx;
    (void)why;
    (void)!send(fd, refuse_frames, sizeof refuse_frames, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* ---- the server ---------------------------------------------------------------- */

static void on_idle(uv_idle_t *h)
{
    h2_server *s = h->data;
    while (!list_empty(&s->sched)) {
        h2_conn *c = CONTAINER_OF(s->sched.next, h2_conn, sched_link);
        list_remove(&c->sched_link);
        conn_pump(c);
    }
    uv_idle_stop(&s->idle);
}

static void on_idle_closed(uv_handle_t *h)
{
    h2_server *s = h->data;
    s->done_called = 1;
    if (s->done)
        s->done(s->done_ctx); /* may free s: nothing after this */
}

static void server_maybe_done(h2_server *s)
{
    if (!s->shutting_down || !s->listener_closed || !s->req_timer_closed ||
        !list_empty(&s->conns) || s->idle_closing)
        return;
    s->idle_closing = 1;
    uv_idle_stop(&s->idle);
    uv_close((uv_handle_t *)&s->idle, on_idle_closed);
}

static void on_listener_closed(void *arg)
{
    h2_server *s = arg;
    s->listener_closed = 1;
    server_maybe_done(s);
}

static void on_req_timer_closed(uv_handle_t *h)
{
    h2_server *s = h->data;
    s->req_timer_closed = 1;
    server_maybe_done(s);
}

static int open_listen_socket(const char *host, int port, int *fd_out, chute_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
    if (gai != 0)
        return chute_error_set(err, CHUTE_EINVAL, "cannot resolve gRPC listen host '%s': %s",
                               host ? host : "", gai_strerror(gai));
    int last = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0) {
            freeaddrinfo(res);
            *fd_out = fd;
            return 0;
        }
        last = errno;
        close(fd);
    }
    freeaddrinfo(res);
    return chute_error_set(err, CHUTE_EIO, "cannot listen for gRPC on %s:%d: %s", host ? host : "*",
                           port, strerror(last ? last : EADDRNOTAVAIL));
}

static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int h2_server_open(h2_server **out, uv_loop_t *loop, const char *host, int port,
                   const h2_limits *limits, h2_request_fn on_request, void *ctx, chute_error *err)
{
    h2_limits lim;
    if (limits)
        lim = *limits;
    else
        h2_limits_init(&lim);
    if (!out || !loop || !on_request || port < 0 || port > 65535)
        return chute_error_set(err, CHUTE_EINVAL, "invalid argument to h2_server_open");
    if (lim.max_message_size == 0 || lim.max_message_size > UINT32_MAX ||
        lim.max_concurrent_streams == 0 || lim.max_header_list_size < 256 ||
        lim.max_output_buffer == 0 || lim.max_request_buffer < lim.max_message_size ||
        (lim.control_burst > 0 && lim.control_per_second == 0))
        return chute_error_set(err, CHUTE_EINVAL, "invalid gRPC listener limits");
    if (lim.drain_timeout_ms == 0)
        lim.drain_timeout_ms = 1;

    h2_server *s = calloc(1, sizeof *s);
    if (!s)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    s->loop = loop;
    s->lim = lim;
    s->on_request = on_request;
    s->ctx = ctx;
    list_init(&s->conns);
    list_init(&s->sched);
    list_init(&s->stubs);
    list_init(&s->arriving);

    if (nghttp2_session_callbacks_new(&s->cbs) != 0 || nghttp2_option_new(&s->opt) != 0) {
        nghttp2_session_callbacks_del(s->cbs);
        free(s);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    nghttp2_session_callbacks_set_on_begin_frame_callback(s->cbs, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(s->cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(s->cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(s->cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(s->cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(s->cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(s->cbs, on_stream_close);
    /* Closed streams are not kept for the RFC 7540 priority tree (we
     * advertise NO_RFC7540_PRIORITIES). Ping ACKs, the rapid-reset limit,
     * the CONTINUATION limit and the outbound-ACK flood limit stay at
     * nghttp2's defaults, which are on. */
    nghttp2_option_set_no_closed_streams(s->opt, 1);

    int fd = -1;
    int rv = open_listen_socket(host, port, &fd, err);
    if (rv != 0) {
        nghttp2_session_callbacks_del(s->cbs);
        nghttp2_option_del(s->opt);
        free(s);
        return rv;
    }
    s->port = local_port(fd);
    listener_config lc = {
        .name = "gRPC",
        .max_connections = lim.max_connections,
        .max_per_peer = lim.max_connections_per_peer,
        .on_accept = on_accept,
        .on_refuse = on_refuse,
        .ctx = s,
    };
    rv = listener_open(&s->lst, loop, fd, &lc, err);
    if (rv != 0) {
        close(fd);
        nghttp2_session_callbacks_del(s->cbs);
        nghttp2_option_del(s->opt);
        free(s);
        return rv;
    }
    uv_idle_init(loop, &s->idle);
    uv_timer_init(loop, &s->req_timer);
    s->idle.data = s;
    s->req_timer.data = s;
    *out = s;
    return 0;
}

void h2_server_set_streaming(h2_server *s, h2_streaming_fn fn)
{
    s->streaming = fn;
}

int h2_server_keep_header(h2_server *s, const char *name)
{
    for (int i = 0; i < H2_KEEP_MAX; i++) {
        if (s->keep[i] && strcmp(s->keep[i], name) == 0)
            return 0;
        if (!s->keep[i]) {
            s->keep[i] = strdup(name);
            return s->keep[i] ? 0 : CHUTE_ENOMEM;
        }
    }
    return CHUTE_EINVAL;
}

const char *h2_call_header(const h2_call *call, const char *name)
{
    for (int i = 0; i < H2_KEEP_MAX && call->server->keep[i]; i++)
        if (strcmp(call->server->keep[i], name) == 0)
            return call->kept[i];
    return NULL;
}

int h2_server_port(const h2_server *s)
{
    return s->port;
}

void h2_server_get_stats(const h2_server *s, h2_server_stats *out)
{
    *out = s->stats;
    out->request_buffered = 0;
    for (const h2_link *l = s->conns.next; l != &s->conns; l = l->next)
        out->request_buffered += CONTAINER_OF(l, h2_conn, link)->body_budget.used;
    listener_stats ls;
    listener_get_stats(s->lst, &ls);
    out->refused_max = ls.refused[LISTENER_REFUSED_MAX];
    out->refused_peer = ls.refused[LISTENER_REFUSED_PEER];
    out->accept_failures = ls.accept_failures;
}

void h2_server_shutdown(h2_server *s, int grpc_status, const char *message, void (*done)(void *),
                        void *done_ctx)
{
    if (s->shutting_down)
        return;
    s->shutting_down = 1;
    s->shut_status = grpc_status;
    s->shut_msg = message ? strdup(message) : NULL; /* NULL on ENOMEM: no message then */
    s->done = done;
    s->done_ctx = done_ctx;
    listener_stop(s->lst, on_listener_closed, s);
    uv_close((uv_handle_t *)&s->req_timer, on_req_timer_closed);
    for (h2_link *l = s->conns.next; l != &s->conns; l = l->next)
        conn_schedule(CONTAINER_OF(l, h2_conn, link));
}

void h2_server_free(h2_server *s)
{
    if (!s)
        return;
    assert(s->done_called && list_empty(&s->conns));
    while (!list_empty(&s->stubs))
        call_free(CONTAINER_OF(s->stubs.next, h2_call, link));
    listener_free(s->lst);
    nghttp2_session_callbacks_del(s->cbs);
    nghttp2_option_del(s->opt);
    free(s->shut_msg);
    for (int i = 0; i < H2_KEEP_MAX; i++)
        free(s->keep[i]);
    free(s);
}
