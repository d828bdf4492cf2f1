/*
 * HTTP/1.1 transport on libuv with http_parser; see http.h.
 *
 * A connection keeps its requests in one FIFO, in arrival order: requests
 * handed to the API, and error answers the transport made itself (they
 * close the connection after they are written). Responses are written
 * strictly from the head of the FIFO, so pipelined requests are answered in
 * order however late the API answers one of them.
 *
 * Back-pressure: when the FIFO holds max_pipeline requests, or the
 * answered-but-unwritten bytes exceed max_output_buffer, the parser is
 * paused (http_parser_pause) and reading stops; the bytes of the last read
 * that were not parsed yet are kept (at most one read buffer) and parsed
 * when the FIFO drains.
 *
 * A callback of http_parser may end a connection (a reject, or the API
 * answering at once and the write failing); the connection is then only
 * marked and closed once http_parser_execute returned (c->in_feed), so
 * nothing the parser still uses is freed under it.
 */
#include "server/http.h"

#include "codec/http_reason.h"
#include "server/listener.h"
#include "server/log.h"

#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF_SIZE 65536
#define LINGER_MS 2000

typedef struct conn conn;

typedef struct req {
    http_request pub;
    struct req *next;
    conn *c; /* NULL once the connection is gone (a stub) */
    char *url;
    size_t url_len;
    char *pathq; /* path NUL query NUL */
    char *body;
    size_t body_len, body_cap;
    char ctype[128];
    int head_only;   /* HEAD: no body in the response */
    int close_after; /* close the connection after this response */
    int answered;
    int writing;
    char *resp_head;
    size_t resp_head_len;
    char *resp_body;
    size_t resp_len;
    http_sent_fn sent;
    void *sent_ud;
    void (*on_abort)(void *, http_request *);
    void *abort_ud;
    uv_write_t wr;
} req;

enum hdr_kind { HDR_OTHER, HDR_CONTENT_TYPE, HDR_EXPECT };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    http_server *s;
    http_parser parser;
    conn *prev, *next;
    req *head, *tail; /* the FIFO */
    req *cur;         /* being parsed */
    uint32_t inflight;
    size_t out_bytes;
    size_t header_bytes;
    int url_done;
    char hname[32];
    size_t hname_len;
    int in_value;
    enum hdr_kind hkind;
    int expect_continue;
    int expect_other;
    char *leftover;
    size_t left_len;
    int paused;
    int reading;
    int no_more; /* parse nothing more; close once the FIFO is written */
    int in_feed;
    int close_pending;
    int closing;
    int lingering;
    int reject_status;
    char reject_detail[160];
    int handles;
    listener_peer *peer; /* its address in the listener's per-peer count */
};

struct http_server {
    uv_loop_t *loop;
    listener *lst;
    int port;
    uv_timer_t drain;
    http_limits lim;
    http_request_fn on_request;
    void *ctx;
    http_error_body_fn error_body; /* NULL: text/plain */
    const char *error_type;
    conn *conns;
    http_server_stats st;
    log_limit timeout_log, fail_log;
    int closing;
    int listener_closed;
    int drain_closed;
    void (*done)(void *);
    void *done_ctx;
    char rbuf[READ_BUF_SIZE];
};

static http_parser_settings settings;

void http_limits_init(http_limits *l)
{
    l->max_header_size = 16 << 10;
    l->max_body_size = 4 << 20;
    l->idle_timeout_ms = 5 * 60 * 1000;
    l->request_timeout_ms = 30 * 1000;
    l->max_pipeline = 16;
    l->max_output_buffer = 1 << 20;
    l->max_connections = 10000;
    l->max_connections_per_peer = 10000;
    l->drain_timeout_ms = 2000;
}

/* ---- requests ------------------------------------------------------------- */

static void req_free(req *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->pathq);
    free(r->body);
    free(r->resp_head);
    free(r->resp_body);
    free(r);
}

static void fifo_push(conn *c, req *r)
{
    r->next = NULL;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->inflight++;
    c->s->st.requests_in_flight++;
}

static void fifo_remove(conn *c, req *r)
{
    req **pp = &c->head;
    req *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = r->next;
    if (c->tail == r)
        c->tail = prev;
    c->inflight--;
    c->s->st.requests_in_flight--;
}

/* ---- connection life --------------------------------------------------------- */

static void maybe_done(http_server *s);
static void pump(conn *c);
static void update_timer(conn *c);
static void feed(conn *c, const char *data, size_t len);

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles == 0) {
        http_server *s = c->s;
        listener_release(s->lst, c->peer);
        free(c);
        maybe_done(s);
    }
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    if (c->in_feed) {
        c->close_pending = 1;
        return;
    }
    c->closing = 1;
    http_server *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->st.connections_open--;
    free(c->leftover);
    c->leftover = NULL;
    req_free(c->cur);
    c->cur = NULL;
    req *r = c->head;
    c->head = c->tail = NULL;
    while (r) {
        req *next = r->next;
        r->next = NULL;
        if (r->writing) {
            /* Its write callback runs (cancelled) before the close callback. */
        } else {
            s->st.requests_in_flight--;
            if (r->answered) {
                if (r->sent)
                    r->sent(r->sent_ud, 0);
                req_free(r);
            } else if (r->on_abort) {
                r->on_abort(r->abort_ud, &r->pub);
                req_free(r);
            } else {
                r->c = NULL; /* a stub until the API answers */
            }
        }
        r = next;
    }
    c->inflight = 0;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_linger_timer(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    conn *c = sr->data;
    if (c->closing)
        return;
    if (status != 0) {
        conn_close(c);
        return;
    }
    /* Read and drop what the peer still sends until it closes, so that the
     * kernel does not answer unread data with a reset that could destroy
     * our last response before the peer read it. */
    c->lingering = 1;
    uv_timer_start(&c->timer, on_linger_timer, LINGER_MS, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Closes after the last response: FIN first, then linger. */
static void conn_finish(conn *c)
{
    if (c->closing || c->lingering || c->shut.data)
        return;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    if (!c->reading) {
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

static void stop_reading(conn *c)
{
    if (c->reading && !c->lingering) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* ---- responses -------------------------------------------------------------- */

static int build_head(req *r, int status, const char *ctype, const char *extra, size_t len)
{
    const char *conn_hdr = "";
    if (r->close_after || (r->c && r->c->s->closing))
        conn_hdr = "Connection: close\r\n";
    else if (r->c && r->c->parser.http_major == 1 && r->c->parser.http_minor == 0)
        conn_hdr = "Connection: keep-alive\r\n";
    size_t cap = 256 + (ctype ? strlen(ctype) : 0) + (extra ? strlen(extra) : 0);
    char *h = malloc(cap);
    if (!h)
        return CHUTE_ENOMEM;
    /* RFC 9110: no Content-Length in a 204. */
    char clen[48] = "";
    if (status != 204)
        snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", len);
    int n = snprintf(h, cap, "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s\r\n", status,
                     codec_http_reason(status), ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", clen, extra ? extra : "", conn_hdr);
    if (n < 0 || (size_t)n >= cap) {
        free(h);
        return CHUTE_ENOMEM;
    }
    r->resp_head = h;
    r->resp_head_len = (size_t)n;
    return 0;
}

static int answer(req *r, int status, const char *ctype, const char *extra, char *body, size_t len,
                  http_sent_fn sent, void *ud)
{
    conn *c = r->c;
    /* The request's own buffers are no longer needed. */
    free(r->url);
    free(r->pathq);
    free(r->body);
    r->url = r->pathq = r->body = NULL;
    if (build_head(r, status, ctype, extra, len) != 0) {
        free(body);
        fifo_remove(c, r);
        req_free(r);
        conn_close(c);
        return CHUTE_ENOMEM;
    }
    if (r->head_only) {
        free(body);
        body = NULL;
        len = 0;
    }
    r->resp_body = body;
    r->resp_len = len;
    r->sent = sent;
    r->sent_ud = ud;
    r->answered = 1;
    c->out_bytes += r->resp_head_len + r->resp_len;
    pump(c);
    return 0;
}

int http_respond(http_request *pub, int status, const char *content_type, const char *extra_headers,
                 char *body, size_t len, http_sent_fn sent, void *sent_ud)
{
    req *r = (req *)pub;
    if (!r->c || r->c->closing) {
        free(body);
        req_free(r);
        return CHUTE_ECLOSED;
    }
    return answer(r, status, content_type, extra_headers, body, len, sent, sent_ud);
}

void http_request_on_abort(http_request *pub, void (*fn)(void *, http_request *), void *ud)
{
    req *r = (req *)pub;
    r->on_abort = fn;
    r->abort_ud = ud;
}

static void maybe_resume(conn *c);

static void on_write(uv_write_t *wr, int status)
{
    req *r = wr->data;
    conn *c = r->c;
    size_t bytes = r->resp_head_len + r->resp_len;
    if (c->closing) {
        /* conn_close left it to us. */
        c->s->st.requests_in_flight--;
        if (r->sent)
            r->sent(r->sent_ud, 0);
        req_free(r);
        return;
    }
    fifo_remove(c, r);
    c->out_bytes -= bytes;
    int close_after = r->close_after;
    if (r->sent)
        r->sent(r->sent_ud, status == 0);
    req_free(r);
    if (status != 0) {
        conn_close(c);
        return;
    }
    if (close_after || (c->no_more && !c->head && !c->cur)) {
        conn_finish(c);
        return;
    }
    maybe_resume(c);
    if (!c->closing)
        update_timer(c);
}

static void pump(conn *c)
{
    for (req *r = c->head; r; r = r->next) {
        if (r->writing)
            continue;
        if (!r->answered)
            break;
        uv_buf_t bufs[2];
        unsigned n = 0;
        bufs[n++] = uv_buf_init(r->resp_head, (unsigned)r->resp_head_len);
        if (r->resp_len)
            bufs[n++] = uv_buf_init(r->resp_body, (unsigned)r->resp_len);
        r->writing = 1;
        r->wr.data = r;
        if (uv_write(&r->wr, (uv_stream_t *)&c->tcp, bufs, n, on_write) != 0) {
            r->writing = 0;
            conn_close(c);
            return;
        }
        if (r->close_after)
            break;
    }
    update_timer(c);
}

/* The body of an answer of the transport's own, and its content type: the
 * API's words when it set them, else the detail as plain text. Returns 0 or
 * CHUTE_ENOMEM. */
static int error_body(http_server *s, int status, const char *title, const char *detail,
                      const char *instance, char **out, size_t *len, const char **ctype)
{
    if (s->error_body) {
        *ctype = s->error_type;
        return s->error_body(status, title, detail, instance, out, len);
    }
    *ctype = "text/plain; charset=utf-8";
    size_t n = strlen(detail);
    char *b = malloc(n + 2);
    if (!b)
        return CHUTE_ENOMEM;
    memcpy(b, detail, n);
    b[n] = '\n';
    b[n + 1] = '\0';
    *out = b;
    *len = n + 1;
    return 0;
}

/* Queues an answer of the transport's own (after what is already queued),
 * and stops parsing: the connection closes once it is written. */
static void reject(conn *c, int status, const char *detail, const char *extra)
{
    http_server *s = c->s;
    req_free(c->cur);
    c->cur = NULL;
    c->no_more = 1;
    stop_reading(c);
    free(c->leftover);
    c->leftover = NULL;
    req *r = calloc(1, sizeof *r);
    char *body = NULL;
    size_t len = 0;
    const char *ctype;
    if (!r || error_body(s, status, NULL, detail, "", &body, &len, &ctype) != 0) {
        free(r);
        conn_close(c);
        return;
    }
    r->c = c;
    r->close_after = 1;
    fifo_push(c, r);
    s->st.requests_rejected++;
    answer(r, status, ctype, extra, body, len, NULL, NULL);
}

/* ---- timers ------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->lingering) {
        conn_close(c);
        return;
    }
    if (c->cur) {
        http_server *s = c->s;
        char d[128], peer[64];
        unsigned long long ms = (unsigned long long)s->lim.request_timeout_ms;
        snprintf(d, sizeof d, "The request did not arrive completely within %llu ms", ms);
        s->st.requests_timed_out++;
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            listener_peer_name(fd, peer, sizeof peer);
        else
            snprintf(peer, sizeof peer, "an unknown peer");
        chuted_log_limited(&s->timeout_log, uv_now(s->loop),
                           "HTTP request from %s ended with 408: it did not arrive completely "
                           "within %llu ms (--request-timeout); the connection is closed",
                           peer, ms);
        reject(c, 408, d, NULL);
        return;
    }
    /* Idle keep-alive, or a peer that stopped reading its responses. */
    conn_close(c);
}

static void update_timer(conn *c)
{
    if (c->closing || c->lingering || c->cur)
        return; /* a request being received keeps its own deadline */
    uint64_t idle = c->s->lim.idle_timeout_ms;
    int waiting_on_peer = c->inflight == 0 || c->out_bytes > 0;
    if (waiting_on_peer && idle > 0)
        uv_timer_start(&c->timer, on_timer, idle, 0);
    else
        uv_timer_stop(&c->timer);
}

/* ---- parsing ---------------------------------------------------------------------- */

static int fail_cb(conn *c, int status, const char *detail)
{
    c->reject_status = status;
    snprintf(c->reject_detail, sizeof c->reject_detail, "%s", detail);
    return -1;
}

static int count_header(conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->s->lim.max_header_size) {
        char d[160];
        snprintf(d, sizeof d, "The request %s is larger than %zu bytes",
                 c->url_done ? "header" : "line", c->s->lim.max_header_size);
        return fail_cb(c, c->url_done ? 431 : 414, d);
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    conn *c = p->data;
    c->cur = calloc(1, sizeof *c->cur);
    if (!c->cur)
        return fail_cb(c, 503, "out of memory");
    c->cur->c = c;
    c->header_bytes = 0;
    c->url_done = 0;
    c->hname_len = 0;
    c->in_value = 0;
    c->hkind = HDR_OTHER;
    c->expect_continue = c->expect_other = 0;
    if (c->s->lim.request_timeout_ms)
        uv_timer_start(&c->timer, on_timer, c->s->lim.request_timeout_ms, 0);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    req *r = c->cur;
    if (count_header(c, n) != 0)
        return -1;
    char *u = realloc(r->url, r->url_len + n + 1);
    if (!u)
        return fail_cb(c, 503, "out of memory");
    memcpy(u + r->url_len, at, n);
    r->url = u;
    r->url_len += n;
    u[r->url_len] = '\0';
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    c->url_done = 1;
    if (count_header(c, n) != 0)
        return -1;
    if (c->in_value) {
        c->in_value = 0;
        c->hname_len = 0;
    }
    for (size_t i = 0; i < n && c->hname_len + 1 < sizeof c->hname; i++)
        c->hname[c->hname_len++] = (char)((at[i] >= 'A' && at[i] <= 'Z') ? at[i] + 32 : at[i]);
    c->hname[c->hname_len] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    req *r = c->cur;
    if (count_header(c, n) != 0)
        return -1;
    if (!c->in_value) {
        c->in_value = 1;
        if (strcmp(c->hname, "content-type") == 0) {
            c->hkind = HDR_CONTENT_TYPE;
            r->ctype[0] = '\0';
        } else if (strcmp(c->hname, "expect") == 0) {
            c->hkind = HDR_EXPECT;
            if (n >= 12 && strncasecmp(at, "100-continue", 12) == 0)
                c->expect_continue = 1;
            else
                c->expect_other = 1;
        } else {
            c->hkind = HDR_OTHER;
        }
    }
    if (c->hkind == HDR_CONTENT_TYPE) {
        size_t have = strlen(r->ctype);
        size_t room = sizeof r->ctype - 1 - have;
        size_t k = n < room ? n : room;
        memcpy(r->ctype + have, at, k);
        r->ctype[have + k] = '\0';
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    conn *c = p->data;
    req *r = c->cur;
    c->url_done = 1;
    size_t max = c->s->lim.max_body_size;
    if (p->http_major != 1)
        return fail_cb(c, 505, "Only HTTP/1.0 and HTTP/1.1 are served here");
    if (c->expect_other)
        return fail_cb(c, 417, "Only 'Expect: 100-continue' is supported");
    if (p->content_length != ULLONG_MAX && p->content_length > 0) {
        if (p->content_length > max) {
            char d[160];
            snprintf(d, sizeof d,
                     "The request body of %llu bytes is larger than the limit of %zu bytes",
                     (unsigned long long)p->content_length, max);
            return fail_cb(c, 413, d);
        }
        /* Known and bounded: one allocation. */
        r->body = malloc((size_t)p->content_length + 1);
        if (!r->body)
            return fail_cb(c, 503, "out of memory");
        r->body_cap = (size_t)p->content_length + 1;
        if (c->expect_continue && c->head == NULL) {
            static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init(cont, sizeof cont - 1);
            uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        }
    }
    r->head_only = p->method == HTTP_HEAD;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    req *r = c->cur;
    size_t max = c->s->lim.max_body_size;
    if (n > max - r->body_len) {
        char d[160];
        snprintf(d, sizeof d, "The request body is larger than the limit of %zu bytes", max);
        return fail_cb(c, 413, d);
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        char *b = realloc(r->body, cap);
        if (!b)
            return fail_cb(c, 503, "out of memory");
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn *c = p->data;
    http_server *s = c->s;
    req *r = c->cur;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (!r->url || http_parser_parse_url(r->url, r->url_len, 0, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH)) || r->url[u.field_data[UF_PATH].off] != '/')
        return fail_cb(c, 400, "The request target is not a valid origin-form URL");
    size_t pl = u.field_data[UF_PATH].len;
    size_t ql = (u.field_set & (1 << UF_QUERY)) ? u.field_data[UF_QUERY].len : 0;
    r->pathq = malloc(pl + ql + 2);
    if (!r->pathq)
        return fail_cb(c, 503, "out of memory");
    memcpy(r->pathq, r->url + u.field_data[UF_PATH].off, pl);
    r->pathq[pl] = '\0';
    if (ql)
        memcpy(r->pathq + pl + 1, r->url + u.field_data[UF_QUERY].off, ql);
    r->pathq[pl + 1 + ql] = '\0';
    if (memchr(r->pathq, '\0', pl))
        return fail_cb(c, 400, "The request target contains a NUL byte");
    if (!r->body) {
        r->body = malloc(1);
        if (!r->body)
            return fail_cb(c, 503, "out of memory");
    }
    r->body[r->body_len] = '\0';
    r->pub.method = (int)p->method;
    r->pub.method_name = http_method_str((enum http_method)p->method);
    r->pub.path = r->pathq;
    r->pub.query = r->pathq + pl + 1;
    r->pub.body = r->body;
    r->pub.body_len = r->body_len;
    r->pub.content_type = r->ctype;
    c->cur = NULL;
    if (!http_should_keep_alive(p) || s->closing) {
        r->close_after = 1;
        c->no_more = 1;
    }
    fifo_push(c, r);
    uv_timer_stop(&c->timer);
    if (s->closing) {
        char *body = NULL;
        size_t len = 0;
        const char *ctype;
        s->st.requests_rejected++;
        if (error_body(s, 503, "UNAVAILABLE", "chuted is shutting down", r->pathq, &body, &len,
                       &ctype) != 0) {
            body = NULL;
            len = 0;
        }
        answer(r, 503, ctype, NULL, body, len, NULL, NULL);
    } else {
        s->st.requests_dispatched++;
        s->on_request(s->ctx, &r->pub);
    }
    if (c->no_more || c->closing || c->close_pending || c->inflight >= s->lim.max_pipeline ||
        c->out_bytes > s->lim.max_output_buffer)
        http_parser_pause(p, 1);
    return 0;
}

static void feed(conn *c, const char *data, size_t len)
{
    if (len == 0 || c->no_more)
        return;
    c->in_feed = 1;
    size_t n = http_parser_execute(&c->parser, &settings, data, len);
    c->in_feed = 0;
    if (c->close_pending) {
        c->close_pending = 0;
        conn_close(c);
        return;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        stop_reading(c);
        c->paused = 1;
        if (!c->no_more && n < len) {
            c->leftover = malloc(len - n);
            if (!c->leftover) {
                conn_close(c);
                return;
            }
            memcpy(c->leftover, data + n, len - n);
            c->left_len = len - n;
        }
        if (c->no_more && !c->head && !c->cur)
            conn_finish(c);
        return;
    }
    if (e != HPE_OK) {
        int status = c->reject_status ? c->reject_status : 400;
        char d[256];
        if (c->reject_status)
            snprintf(d, sizeof d, "%s", c->reject_detail);
        else
            snprintf(d, sizeof d, "Malformed HTTP request: %s (%s)", http_errno_description(e),
                     http_errno_name(e));
        reject(c, status, d, NULL);
        return;
    }
    if (c->parser.upgrade) {
        /* Protocol upgrades (and CONNECT) are not served: what follows is
         * not HTTP/1.1 any more. */
        c->no_more = 1;
        stop_reading(c);
        if (!c->head)
            conn_finish(c);
    }
}

static void maybe_resume(conn *c)
{
    http_server *s = c->s;
    if (!c->paused || c->no_more || c->closing)
        return;
    if (c->inflight >= s->lim.max_pipeline || c->out_bytes > s->lim.max_output_buffer)
        return;
    c->paused = 0;
    http_parser_pause(&c->parser, 0);
    if (c->leftover) {
        char *buf = c->leftover;
        size_t len = c->left_len;
        c->leftover = NULL;
        c->left_len = 0;
        feed(c, buf, len);
        free(buf);
        if (c->closing || c->paused || c->no_more)
            return;
    }
    if (!c->reading) {
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

/* ---- reading and accepting ---------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)suggested;
    /* One buffer for the whole server: a read is parsed completely (or
     * what is left is copied out) before the next read starts. */
    *buf = uv_buf_init(c->s->rbuf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = st->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        /* EOF or an error. A peer that only half-closed could still read
         * answers, but HTTP/1.1 clients close both ways, and a request held
         * for a gone client (a long poll) must end at once: its waiter
         * would otherwise take a job nobody receives. */
        conn_close(c);
        return;
    }
    if (c->lingering)
        return;
    feed(c, buf->base, (size_t)nread);
    if (!c->closing && !c->cur && !c->head && !c->lingering)
        update_timer(c);
}

/* A connection the listener admitted (see listener.h). */
static void on_accept(void *ctx, int fd, listener_peer *peer)
{
    http_server *s = ctx;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        listener_release(s->lst, peer);
        chuted_log_limited(&s->fail_log, uv_now(s->loop),
                           "HTTP listener: a connection could not be set up: out of memory");
        return;
    }
    c->s = s;
    c->peer = peer;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc != 0) {
        close(fd); /* not the handle's */
        chuted_log_limited(&s->fail_log, uv_now(s->loop),
                           "HTTP listener: a connection could not be set up: %s", uv_strerror(rc));
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        uv_close((uv_handle_t *)&c->timer, on_conn_closed);
        return;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->st.connections_accepted++;
    s->st.connections_open++;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    update_timer(c);
}

/* ---- server ---------------------------------------------------------------------------- */

/* A listening socket on |addr|, as uv_tcp_bind() and uv_listen() would
 * make it. 0 or a negated errno (libuv's error codes on Unix). */
static int listen_socket(const struct sockaddr_storage *addr, int *out)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    socklen_t len =
        addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *out = fd;
    return 0;
}

static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int http_server_open(http_server **out, uv_loop_t *loop, const char *host, int port,
                     const http_limits *limits, http_request_fn on_request, void *ctx,
                     chute_error *err)
{
    if (!on_request || port < 0 || port > 65535)
        return chute_error_set(err, CHUTE_EINVAL, "bad HTTP server arguments");
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
        if (strcmp(host, "localhost") != 0 ||
            uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)&addr) != 0)
            return chute_error_set(err, CHUTE_EINVAL,
                                   "'%s' is not an IP address (write e.g. 127.0.0.1 or ::1)", host);
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    s->loop = loop;
    if (limits)
        s->lim = *limits;
    else
        http_limits_init(&s->lim);
    if (s->lim.max_pipeline == 0)
        s->lim.max_pipeline = 1;
    s->on_request = on_request;
    s->ctx = ctx;
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    int fd = -1;
    int rc = listen_socket(&addr, &fd);
    if (rc != 0) {
        chute_error_set(err, CHUTE_EIO, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        free(s);
        return CHUTE_EIO;
    }
    s->port = local_port(fd);
    listener_config lc = {
        .name = "HTTP",
        .max_connections = s->lim.max_connections,
        .max_per_peer = s->lim.max_connections_per_peer,
        .on_accept = on_accept,
        .ctx = s,
    };
    rc = listener_open(&s->lst, loop, fd, &lc, err);
    if (rc != 0) {
        close(fd);
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->drain);
    s->drain.data = s;
    *out = s;
    return 0;
}

void http_server_set_error_body(http_server *s, const char *content_type, http_error_body_fn fn)
{
    s->error_body = fn;
    s->error_type = content_type;
}

int http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_get_stats(const http_server *s, http_server_stats *out)
{
    *out = s->st;
    listener_stats ls;
    listener_get_stats(s->lst, &ls);
    out->refused_max = ls.refused[LISTENER_REFUSED_MAX];
    out->refused_peer = ls.refused[LISTENER_REFUSED_PEER];
    out->accept_failures = ls.accept_failures;
}

static void on_drain_closed(uv_handle_t *h)
{
    http_server *s = h->data;
    s->drain_closed = 1;
    if (s->done)
        s->done(s->done_ctx);
}

static void maybe_done(http_server *s)
{
    if (!s->closing || !s->listener_closed || s->conns || s->drain_closed ||
        uv_is_closing((uv_handle_t *)&s->drain))
        return;
    uv_close((uv_handle_t *)&s->drain, on_drain_closed);
}

static void on_listener_closed(void *arg)
{
    http_server *s = arg;
    s->listener_closed = 1;
    maybe_done(s);
}

static void on_drain_timer(uv_timer_t *t)
{
    http_server *s = t->data;
    while (s->conns)
        conn_close(s->conns);
}

void http_server_shutdown(http_server *s, void (*done)(void *), void *ctx)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->done = done;
    s->done_ctx = ctx;
    listener_stop(s->lst, on_listener_closed, s);
    for (conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        c->no_more = 1;
        stop_reading(c);
        if (!c->head)
            conn_close(c);
    }
    if (s->conns)
        uv_timer_start(&s->drain, on_drain_timer, s->lim.drain_timeout_ms, 0);
}

void http_server_free(http_server *s)
{
    if (!s)
        return;
    listener_free(s->lst);
    free(s);
}
