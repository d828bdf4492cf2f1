/*
 * A raw HTTP/2 gRPC client for tests: an nghttp2 client session that sends
 * calls exactly as a test shapes them (any path, body, headers, window) and
 * keeps everything that came back per call, so a test can assert on the
 * bytes and headers a server produced. It is not the C client (src/client):
 * it validates nothing and retries nothing.
 *
 * Like nghttp2 itself the core does no I/O: bytes that arrived go in with
 * h2tc_recv(), and h2tc_flush() hands what is to be sent to the write
 * function given to h2tc_init(). A test that runs the server on its own
 * libuv loop (tests/server/test_h2.c) plugs its libuv connection in that
 * way, so that server and client both move while it waits. A test whose
 * server is another process (tests/daemon) uses h2tc_connect(), a blocking
 * socket to 127.0.0.1, and h2tc_run() to read until every call ended.
 *
 * With |raw| set the connection speaks no HTTP/2 at all: h2tc_write_raw()
 * sends bytes as they are and what comes back collects in |raw|. With
 * |raw_frames| as well, a test writes HTTP/2 by hand (h2tc_raw_preface,
 * h2tc_raw_frame: a flood, an HPACK bomb) and what comes back is read as
 * frames: counted by type, a GOAWAY's error code kept.
 *
 * Functions return 0 on success and -1 on failure; allocation failures
 * abort (this is test code).
 */
#ifndef CHUTE_TESTS_H2_TEST_CLIENT_H
#define CHUTE_TESTS_H2_TEST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

/* One call (one HTTP/2 stream): the request body it sends and what came
 * back. The response fields are filled in as frames arrive. */
typedef struct h2tc_call {
    int32_t id;               /* the stream id */
    int http_status;          /* :status, 0 until seen */
    char content_type[64];    /* content-type */
    int grpc_status;          /* grpc-status, -1 until seen */
    char grpc_message[1024];  /* grpc-message, as sent (percent-encoded) */
    char accept_encoding[64]; /* grpc-accept-encoding */
    char encoding[64];        /* grpc-encoding */
    uint8_t *data;            /* the response DATA as received (gRPC-framed) */
    size_t len, cap;
    int headers_frames;  /* HEADERS frames received (headers, trailers) */
    int end_stream;      /* a frame with END_STREAM arrived */
    int closed;          /* the stream is closed */
    uint32_t close_code; /* its error code (RST_STREAM) */
    /* the request body */
    uint8_t *body;
    size_t body_len, body_off;
    int body_hold; /* never end the request (no END_STREAM after the body) */
} h2tc_call;

/* How a connection behaves. Zero is the default everywhere. */
typedef struct h2tc_options {
    uint32_t initial_window; /* SETTINGS_INITIAL_WINDOW_SIZE, 0: nghttp2's */
    uint32_t conn_window;    /* the connection's receive window, 0: nghttp2's */
    int manual_window;       /* no automatic WINDOW_UPDATE: see h2tc_consume */
    int rcvbuf;              /* SO_RCVBUF of the socket, 0: the system's */
    int raw;                 /* no HTTP/2: raw bytes both ways */
    int raw_frames;          /* with raw: what arrives is read as HTTP/2 frames */
} h2tc_options;

/* How one request looks, beyond its path and body. Zero is a plain gRPC
 * call: POST, application/grpc, te: trailers. */
typedef struct h2tc_request {
    const char *method;         /* default POST */
    const char *content_type;   /* default application/grpc */
    const char *hname, *hvalue; /* one extra header */
    int hold;                   /* keep the request open after the body */
    int no_body;                /* no DATA at all (END_STREAM on HEADERS) */
} h2tc_request;

/* Sends |len| bytes; 0, or -1 when they cannot be sent. */
typedef int (*h2tc_write_fn)(void *ud, const uint8_t *data, size_t len);

typedef struct h2tc_client {
    nghttp2_session *sess; /* NULL in raw mode */
    h2tc_options o;
    h2tc_write_fn write;
    void *write_ud;
    int fd;               /* the socket h2tc_connect opened, else -1 */
    int goaway;           /* a GOAWAY arrived */
    uint32_t goaway_code; /* with this error code */
    h2tc_call **calls;    /* every call started, in order */
    int ncalls, nclosed;
    int calls_cap;
    char raw[8192]; /* raw mode: what arrived (NUL-terminated, the rest dropped) */
    size_t rawlen;
    /* raw_frames: frames that arrived, by type (DATA 0 ... CONTINUATION 9) */
    int frames[10];
    uint8_t fhead[9]; /* the frame header being read */
    size_t fhave;     /* bytes of it (or, past 9, of the payload) read */
    uint8_t fpay[8];  /* the first bytes of its payload (a GOAWAY's code is at 4..7) */
} h2tc_client;

/* Sets up |c| over a transport the caller owns: frames go out through
 * |write|. Queues the client preface and SETTINGS (push off, and the
 * windows of |o|, which may be NULL); nothing is written before the first
 * h2tc_flush. */
int h2tc_init(h2tc_client *c, const h2tc_options *o, h2tc_write_fn write, void *ud);

/* h2tc_init over a blocking TCP connection to 127.0.0.1:|port|, which
 * h2tc_free closes. */
int h2tc_connect(h2tc_client *c, int port, const h2tc_options *o);

/* Frees the session and every call (closes the socket of h2tc_connect). */
void h2tc_free(h2tc_client *c);

/* Writes everything the session has to send: over the caller's transport
 * one write per frame as nghttp2 produces them, over h2tc_connect's socket
 * all of it in one write (calls started together arrive together). 0, or
 * the first failure of the write function. */
int h2tc_flush(h2tc_client *c);

/* Takes |len| bytes that arrived; what they call for (SETTINGS ack, window
 * updates) waits for the next h2tc_flush. In raw mode they are appended to
 * |raw|. -1 when they are not valid HTTP/2. */
int h2tc_recv(h2tc_client *c, const uint8_t *data, size_t len);

/* Writes |len| bytes as they are, past the session. */
int h2tc_write_raw(h2tc_client *c, const void *data, size_t len);

/* Raw writing of HTTP/2: the frame header of a frame of |len| bytes into
 * |out| (9 bytes). */
void h2tc_frame_header(uint8_t *out, uint32_t len, uint8_t type, uint8_t flags, int32_t stream);

/* Writes one frame (header and |len| bytes of |payload|). */
int h2tc_raw_frame(h2tc_client *c, uint8_t type, uint8_t flags, int32_t stream, const void *payload,
                   size_t len);

/* Writes the client connection preface and an empty SETTINGS frame. */
int h2tc_raw_preface(h2tc_client *c);

/* Starts a request with the body exactly as given (the caller frames it);
 * |r| may be NULL. Queued: h2tc_flush sends it. The call belongs to |c|.
 * NULL when the session refuses it. */
h2tc_call *h2tc_start_raw(h2tc_client *c, const char *path, const uint8_t *body, size_t len,
                          const h2tc_request *r);

/* Starts a gRPC call carrying one uncompressed message |msg|. */
h2tc_call *h2tc_start(h2tc_client *c, const char *path, const void *msg, size_t len,
                      const h2tc_request *r);

/* Queues RST_STREAM(CANCEL) for |call|. */
int h2tc_reset(h2tc_client *c, h2tc_call *call);

/* With manual_window: gives |n| bytes of |call|'s data back to the window
 * (sent with the next flush). */
int h2tc_consume(h2tc_client *c, h2tc_call *call, size_t n);

/* The number of complete gRPC messages in |call|'s response; the payload
 * of message |idx| in |*p| and |*n| when |p| is not NULL. */
int h2tc_message(const h2tc_call *call, int idx, const uint8_t **p, size_t *n);

/* Writes the 5-byte gRPC message prefix: |flag| (1: compressed), |len|. */
void h2tc_frame_prefix(uint8_t *out, uint8_t flag, uint32_t len);

/* Client streaming: appends one uncompressed message to the request of
 * |call| (started with |hold|), sent with the next flush. */
int h2tc_send(h2tc_client *c, h2tc_call *call, const void *msg, size_t len);

/* Appends |len| bytes as they are (the caller frames them). */
int h2tc_send_raw(h2tc_client *c, h2tc_call *call, const void *bytes, size_t len);

/* Ends the request of |call| (END_STREAM after what it has queued). */
int h2tc_end(h2tc_client *c, h2tc_call *call);

/* With h2tc_connect: flushes, then reads and answers until |done|(|ud|)
 * is non-zero. 0; -1 when |timeout_ms| passed first; -2 when the
 * connection ended or failed. */
int h2tc_wait(h2tc_client *c, int (*done)(void *ud), void *ud, int timeout_ms);

/* With h2tc_connect: reads and answers for |ms| milliseconds. 0 or -2. */
int h2tc_pump(h2tc_client *c, int ms);

/* With h2tc_connect: flushes, then reads and answers until every call
 * started has closed. 0; -1 when |timeout_ms| passed first; -2 when the
 * connection ended or failed. */
int h2tc_run(h2tc_client *c, int timeout_ms);

#endif
