/* The raw HTTP/2 gRPC test client: see h2_test_client.h. */
#include "h2_test_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "h2_test_client: out of memory\n");
        abort();
    }
    return q;
}

static h2tc_call *find_call(h2tc_client *c, int32_t id)
{
    for (int i = 0; i < c->ncalls; i++)
        if (c->calls[i]->id == id)
            return c->calls[i];
    return NULL;
}

/* ---- nghttp2 callbacks -------------------------------------------------------- */

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)s;
    (void)flags;
    h2tc_call *call = find_call(ud, f->hd.stream_id);
    if (!call)
        return 0;
    char v[1024];
    snprintf(v, sizeof v, "%.*s", (int)valuelen, (const char *)value);
    if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        call->http_status = atoi(v);
    else if (namelen == 12 && memcmp(name, "content-type", 12) == 0)
        snprintf(call->content_type, sizeof call->content_type, "%.*s", 60, v);
    else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        call->grpc_status = atoi(v);
    else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
        snprintf(call->grpc_message, sizeof call->grpc_message, "%s", v);
    else if (namelen == 20 && memcmp(name, "grpc-accept-encoding", 20) == 0)
        snprintf(call->accept_encoding, sizeof call->accept_encoding, "%.*s", 60, v);
    else if (namelen == 13 && memcmp(name, "grpc-encoding", 13) == 0)
        snprintf(call->encoding, sizeof call->encoding, "%.*s", 60, v);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    h2tc_client *c = ud;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = 1;
        c->goaway_code = f->goaway.error_code;
    }
    h2tc_call *call = find_call(c, f->hd.stream_id);
    if (!call)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS)
        call->headers_frames++;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        call->end_stream = 1;
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
    (void)s;
    (void)flags;
    h2tc_call *call = find_call(ud, id);
    if (!call)
        return 0;
    if (call->len + len > call->cap) {
        call->cap = (call->len + len) * 2;
        call->data = xrealloc(call->data, call->cap);
    }
    memcpy(call->data + call->len, data, len);
    call->len += len;
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    h2tc_client *c = ud;
    h2tc_call *call = find_call(c, id);
    if (call && !call->closed) {
        call->closed = 1;
        call->close_code = code;
        c->nclosed++;
    }
    return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    h2tc_call *call = src->ptr;
    size_t n = call->body_len - call->body_off;
    if (n > length)
        n = length;
    memcpy(buf, call->body + call->body_off, n);
    call->body_off += n;
    if (call->body_off == call->body_len) {
        if (call->body_hold && n == 0)
            return NGHTTP2_ERR_DEFERRED;
        if (!call->body_hold)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
}

/* ---- the connection ------------------------------------------------------------ */

int h2tc_init(h2tc_client *c, const h2tc_options *o, h2tc_write_fn write, void *ud)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    if (o)
        c->o = *o;
    c->write = write;
    c->write_ud = ud;
    if (c->o.raw)
        return 0;

    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -1;
    }
    if (c->o.manual_window)
        nghttp2_option_set_no_auto_window_update(opt, 1);
    /* Tests send header blocks larger than nghttp2's default bound of
     * 64 KiB (which it checks against the uncompressed size). */
    nghttp2_option_set_max_send_header_block_length(opt, 256 * 1024);
    int rv = nghttp2_session_client_new2(&c->sess, cb, c, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (rv != 0) {
        c->sess = NULL;
        return -1;
    }
    nghttp2_settings_entry iv[2];
    size_t niv = 0;
    iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
    if (c->o.initial_window || c->o.manual_window)
        iv[niv++] =
            (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, c->o.initial_window};
    if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, niv) != 0)
        return -1;
    if (c->o.conn_window && nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0,
                                                                  (int32_t)c->o.conn_window) != 0)
        return -1;
    return 0;
}

static int fd_write(void *ud, const uint8_t *data, size_t len)
{
    h2tc_client *c = ud;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(c->fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

int h2tc_connect(h2tc_client *c, int port, const h2tc_options *o)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (o && o->rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    if (h2tc_init(c, o, fd_write, c) != 0) {
        h2tc_free(c);
        close(fd);
        return -1;
    }
    c->fd = fd;
    return 0;
}

void h2tc_free(h2tc_client *c)
{
    nghttp2_session_del(c->sess);
    c->sess = NULL;
    for (int i = 0; i < c->ncalls; i++) {
        free(c->calls[i]->data);
        free(c->calls[i]->body);
        free(c->calls[i]);
    }
    free(c->calls);
    c->calls = NULL;
    c->ncalls = c->nclosed = c->calls_cap = 0;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int h2tc_flush(h2tc_client *c)
{
    if (!c->sess)
        return 0;
    /* Over the caller's transport each frame goes out as nghttp2 hands it
     * over; over our own socket everything goes in one write, so that calls
     * started together reach the server in one read. */
    int gather = c->fd >= 0;
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    int rv = 0;
    while (rv == 0) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->sess, &data);
        if (n < 0)
            rv = -1;
        if (n <= 0)
            break;
        if (!gather) {
            rv = c->write(c->write_ud, data, (size_t)n);
            continue;
        }
        if (len + (size_t)n > cap) {
            cap = (len + (size_t)n) * 2;
            out = xrealloc(out, cap);
        }
        memcpy(out + len, data, (size_t)n);
        len += (size_t)n;
    }
    if (rv == 0 && len)
        rv = c->write(c->write_ud, out, len);
    free(out);
    return rv;
}

/* raw_frames: reads what arrived as frames, keeping only what tests ask. */
static void raw_frames_feed(h2tc_client *c, const uint8_t *data, size_t len)
{
    while (len > 0) {
        if (c->fhave < 9) {
            size_t k = 9 - c->fhave < len ? 9 - c->fhave : len;
            memcpy(c->fhead + c->fhave, data, k);
            c->fhave += k;
            data += k;
            len -= k;
            if (c->fhave < 9)
                return;
        }
        size_t flen = ((size_t)c->fhead[0] << 16) | ((size_t)c->fhead[1] << 8) | c->fhead[2];
        size_t got = c->fhave - 9;
        size_t k = flen - got < len ? flen - got : len;
        for (size_t i = 0; i < k && got + i < sizeof c->fpay; i++)
            c->fpay[got + i] = data[i];
        c->fhave += k;
        data += k;
        len -= k;
        if (c->fhave - 9 < flen)
            return;
        uint8_t type = c->fhead[3];
        if (type < 10)
            c->frames[type]++;
        if (type == NGHTTP2_GOAWAY && flen >= 8) {
            c->goaway = 1;
            c->goaway_code = ((uint32_t)c->fpay[4] << 24) | ((uint32_t)c->fpay[5] << 16) |
                             ((uint32_t)c->fpay[6] << 8) | c->fpay[7];
        }
        c->fhave = 0;
    }
}

int h2tc_recv(h2tc_client *c, const uint8_t *data, size_t len)
{
    if (c->o.raw && c->o.raw_frames) {
        raw_frames_feed(c, data, len);
        return 0;
    }
    if (c->o.raw) {
        size_t k = len;
        if (k > sizeof c->raw - 1 - c->rawlen)
            k = sizeof c->raw - 1 - c->rawlen;
        memcpy(c->raw + c->rawlen, data, k);
        c->rawlen += k;
        c->raw[c->rawlen] = 0;
        return 0;
    }
    if (!c->sess || nghttp2_session_mem_recv(c->sess, data, len) != (ssize_t)len)
        return -1;
    return 0;
}

int h2tc_write_raw(h2tc_client *c, const void *data, size_t len)
{
    return c->write(c->write_ud, data, len);
}

void h2tc_frame_header(uint8_t *out, uint32_t len, uint8_t type, uint8_t flags, int32_t stream)
{
    out[0] = (uint8_t)(len >> 16);
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)((uint32_t)stream >> 24 & 0x7f);
    out[6] = (uint8_t)((uint32_t)stream >> 16);
    out[7] = (uint8_t)((uint32_t)stream >> 8);
    out[8] = (uint8_t)stream;
}

int h2tc_raw_frame(h2tc_client *c, uint8_t type, uint8_t flags, int32_t stream, const void *payload,
                   size_t len)
{
    uint8_t *b = xrealloc(NULL, 9 + len);
    h2tc_frame_header(b, (uint32_t)len, type, flags, stream);
    if (len)
        memcpy(b + 9, payload, len);
    int rv = c->write(c->write_ud, b, 9 + len);
    free(b);
    return rv;
}

int h2tc_raw_preface(h2tc_client *c)
{
    static const char magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (c->write(c->write_ud, (const uint8_t *)magic, sizeof magic - 1) != 0)
        return -1;
    return h2tc_raw_frame(c, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

/* ---- calls ------------------------------------------------------------------------ */

h2tc_call *h2tc_start_raw(h2tc_client *c, const char *path, const uint8_t *body, size_t len,
                          const h2tc_request *r)
{
    h2tc_request def = {0};
    if (!r)
        r = &def;
    if (!c->sess)
        return NULL;
    h2tc_call *call = xrealloc(NULL, sizeof *call);
    memset(call, 0, sizeof *call);
    call->grpc_status = -1;
    call->body = xrealloc(NULL, len);
    if (len)
        memcpy(call->body, body, len);
    call->body_len = len;
    call->body_hold = r->hold;
    const char *method = r->method ? r->method : "POST";
    const char *ct = r->content_type ? r->content_type : "application/grpc";
    nghttp2_nv nva[7];
    size_t n = 0;
#define NV(a, b)                                                                                   \
    nva[n++] =                                                                                     \
        (nghttp2_nv){(uint8_t *)(a), (uint8_t *)(b), strlen(a), strlen(b), NGHTTP2_NV_FLAG_NONE}
    NV(":method", method);
    NV(":scheme", "http");
    NV(":authority", "127.0.0.1");
    NV(":path", path);
    NV("content-type", ct);
    NV("te", "trailers");
    if (r->hname)
        NV(r->hname, r->hvalue);
#undef NV
    nghttp2_data_provider prd = {.source.ptr = call, .read_callback = read_body};
    call->id = nghttp2_submit_request(c->sess, NULL, nva, n, r->no_body ? NULL : &prd, call);
    if (call->id <= 0) {
        free(call->body);
        free(call);
        return NULL;
    }
    if (c->ncalls == c->calls_cap) {
        c->calls_cap = c->calls_cap ? c->calls_cap * 2 : 64;
        c->calls = xrealloc(c->calls, (size_t)c->calls_cap * sizeof *c->calls);
    }
    c->calls[c->ncalls++] = call;
    return call;
}

void h2tc_frame_prefix(uint8_t *out, uint8_t flag, uint32_t len)
{
    out[0] = flag;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

h2tc_call *h2tc_start(h2tc_client *c, const char *path, const void *msg, size_t len,
                      const h2tc_request *r)
{
    uint8_t *b = xrealloc(NULL, len + 5);
    h2tc_frame_prefix(b, 0, (uint32_t)len);
    if (len)
        memcpy(b + 5, msg, len);
    h2tc_call *call = h2tc_start_raw(c, path, b, len + 5, r);
    free(b);
    return call;
}

int h2tc_reset(h2tc_client *c, h2tc_call *call)
{
    if (!c->sess)
        return -1;
    return nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, call->id, NGHTTP2_CANCEL) == 0
               ? 0
               : -1;
}

int h2tc_consume(h2tc_client *c, h2tc_call *call, size_t n)
{
    if (!c->sess)
        return -1;
    return nghttp2_session_consume(c->sess, call->id, n) == 0 ? 0 : -1;
}

int h2tc_message(const h2tc_call *call, int idx, const uint8_t **p, size_t *n)
{
    size_t off = 0;
    int i = 0;
    while (off + 5 <= call->len) {
        const uint8_t *b = call->data + off;
        uint32_t len = ((uint32_t)b[1] << 24) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 8) |
                       (uint32_t)b[4];
        if (off + 5 + len > call->len)
            break;
        if (i == idx && p) {
            *p = call->data + off + 5;
            *n = len;
        }
        off += 5 + len;
        i++;
    }
    return i;
}

int h2tc_send_raw(h2tc_client *c, h2tc_call *call, const void *bytes, size_t len)
{
    if (!c->sess)
        return -1;
    call->body = xrealloc(call->body, call->body_len + len);
    if (len)
        memcpy(call->body + call->body_len, bytes, len);
    call->body_len += len;
    /* Fails harmlessly when the body is not deferred (not sent up to its
     * end yet): nghttp2 then reads on by itself. */
    (void)nghttp2_session_resume_data(c->sess, call->id);
    return 0;
}

int h2tc_send(h2tc_client *c, h2tc_call *call, const void *msg, size_t len)
{
    uint8_t prefix[5];
    h2tc_frame_prefix(prefix, 0, (uint32_t)len);
    if (h2tc_send_raw(c, call, prefix, 5) != 0)
        return -1;
    return h2tc_send_raw(c, call, msg, len);
}

int h2tc_end(h2tc_client *c, h2tc_call *call)
{
    if (!c->sess)
        return -1;
    call->body_hold = 0;
    (void)nghttp2_session_resume_data(c->sess, call->id);
    return 0;
}

/* ---- the blocking loop ------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int h2tc_run(h2tc_client *c, int timeout_ms)
{
    if (c->fd < 0 || h2tc_flush(c) != 0)
        return -2;
    int64_t deadline = mono_ms() + timeout_ms;
    uint8_t buf[65536];
    while (c->nclosed < c->ncalls) {
        if (mono_ms() > deadline)
            return -1;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || h2tc_recv(c, buf, (size_t)n) != 0 || h2tc_flush(c) != 0)
            return -2;
    }
    return 0;
}

int h2tc_wait(h2tc_client *c, int (*done)(void *ud), void *ud, int timeout_ms)
{
    if (c->fd < 0 || h2tc_flush(c) != 0)
        return -2;
    int64_t deadline = mono_ms() + timeout_ms;
    uint8_t buf[65536];
    while (!done(ud)) {
        if (mono_ms() > deadline)
            return -1;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || h2tc_recv(c, buf, (size_t)n) != 0 || h2tc_flush(c) != 0)
            return -2;
    }
    return 0;
}

static int never(void *ud)
{
    (void)ud;
    return 0;
}

int h2tc_pump(h2tc_client *c, int ms)
{
    return h2tc_wait(c, never, NULL, ms) == -2 ? -2 : 0;
}
