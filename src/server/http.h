/*
 * http: an HTTP/1.1 server (keep-alive, pipelining) on a libuv loop, with
 * requests parsed by the http_parser library.
 *
 * Like h2.h for gRPC, this module is the transport and nothing more: it
 * accepts TCP connections, parses requests, bounds everything a peer sends,
 * and hands every complete request (method, path, query, body) to one
 * callback. It knows no routes and no JSON; the HTTP API (http_api.c)
 * answers with http_respond(), at once or much later (after a commit, after
 * a long poll), and says how the transport's own error answers are worded
 * (http_server_set_error_body: problem+json in chuted).
 *
 * Bounds (invariant 6: bad input gets an error, never a crash or a hang;
 * every length is checked before allocating):
 *   - request line and headers together: max_header_size, else 431 (414
 *     when the request line alone is too long);
 *   - body: max_body_size, checked against Content-Length before reading
 *     the body (413 at once), and while chunks arrive;
 *   - malformed HTTP: 400, then the connection is closed;
 *   - a request must arrive within request_timeout_ms of its first byte
 *     (slow senders get 408 and are closed, counted and logged); an idle
 *     keep-alive connection is closed after idle_timeout_ms;
 *   - connections: at most max_connections open, and max_connections_per_peer
 *     from one IP address; one more is closed at once, without an answer
 *     (listener.h, which also handles descriptors running out);
 *   - pipelining: requests are answered strictly in order; at most
 *     max_pipeline requests of a connection are in flight, and once that
 *     many are (or max_output_buffer response bytes wait to be written)
 *     the transport stops reading the connection, so a client that sends
 *     without reading costs a bounded amount of memory. A connection whose
 *     peer does not read its responses for idle_timeout_ms is closed.
 *
 * Requests end up in one of two ways: the API answers (http_respond), or
 * the connection goes away first; then on_abort runs (if the API set one)
 * and the request is freed after it returns. Without on_abort a request
 * whose connection is gone stays allocated until http_respond, which then
 * frees it and returns CHUTE_ECLOSED, so an API pointer never dangles.
 *
 * Everything runs on the loop; callbacks never run inside an http_* call
 * the API made.
 */
#ifndef CHUTE_SERVER_HTTP_H
#define CHUTE_SERVER_HTTP_H

#include <chute/chute.h>

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_server http_server;

typedef struct http_limits {
    size_t max_header_size;      /* request line + header fields; default 16 KiB */
    size_t max_body_size;        /* default 4 MiB */
    uint64_t idle_timeout_ms;    /* keep-alive idle; 0 = never; default 5 min */
    uint64_t request_timeout_ms; /* from a request's first byte to its last; default 30 s */
    uint32_t max_pipeline;       /* requests in flight per connection; default 16 */
    size_t max_output_buffer;    /* response bytes queued per connection; default 1 MiB */
    uint32_t max_connections;    /* default 10000; more are closed at once; 0 = no cap */
    uint32_t max_connections_per_peer; /* from one IP address; default 10000; 0 = no cap */
    uint64_t drain_timeout_ms;   /* how long shutdown waits for answers; default 2 s */
} http_limits;

void http_limits_init(http_limits *l);

/* A complete request. The fields are read-only for the API and live until
 * the request is answered (or aborted). */
typedef struct http_request {
    int method;              /* enum http_method of http_parser.h */
    const char *method_name; /* "GET" */
    const char *path;        /* the URL's path, NUL-terminated, not decoded */
    const char *query;       /* after '?', "" when none */
    const char *body;        /* NUL-terminated for convenience; may hold NULs */
    size_t body_len;
    const char *content_type; /* "" when not sent */
    void *ud;                 /* the API's */
} http_request;

typedef void (*http_request_fn)(void *ctx, http_request *req);

/* Binds |host|:|port| (0: ephemeral), listens and serves on |loop|.
 * |limits| is copied (NULL: defaults). Returns 0, CHUTE_EINVAL, CHUTE_EIO
 * (bind or listen failed) or CHUTE_ENOMEM; |*out| untouched on failure. */
int http_server_open(http_server **out, uv_loop_t *loop, const char *host, int port,
                     const http_limits *limits, http_request_fn on_request, void *ctx,
                     chute_error *err);

int http_server_port(const http_server *s);

typedef struct http_server_stats {
    uint64_t connections_accepted;
    uint32_t connections_open;
    uint32_t requests_in_flight; /* dispatched, not answered or not written yet */
    uint64_t requests_dispatched;
    uint64_t requests_rejected;  /* answered by the transport (400, 408, 413, 431, ...) */
    uint64_t requests_timed_out; /* of those, 408: not complete within request_timeout_ms */
    uint64_t refused_max;        /* connections refused at accept: max_connections open */
    uint64_t refused_peer;       /* ... max_connections_per_peer open from the address */
    uint64_t accept_failures;    /* accept() failed (descriptors ran out, ...) */
} http_server_stats;

void http_server_get_stats(const http_server *s, http_server_stats *out);

/* Called when the request's connection went away before it was answered;
 * the request is freed when it returns. */
void http_request_on_abort(http_request *req, void (*fn)(void *ud, http_request *req), void *ud);

/* Called once when a response queued by http_respond was written to the
 * socket (|ok| 1) or will never be (|ok| 0: the connection went away). */
typedef void (*http_sent_fn)(void *ud, int ok);

/*
 * Answers |req|: status line, Content-Type (NULL: none), Content-Length,
 * |extra_headers| (NULL, or lines each ending in "\r\n", copied), and
 * |body| (|len| bytes, malloc'd: the transport takes it and frees it, also
 * on failure). The response goes out after those of earlier requests of the
 * connection. |sent| (may be NULL) is called as described above.
 * Returns 0, or CHUTE_ECLOSED (the connection is gone: |req| is freed and
 * |sent| is not called), or CHUTE_ENOMEM (the connection is closed; |sent|
 * is not called). After the call |req| must not be used.
 */
int http_respond(http_request *req, int status, const char *content_type, const char *extra_headers,
                 char *body, size_t len, http_sent_fn sent, void *sent_ud);

/*
 * Stops accepting; requests that arrive from now on are not dispatched.
 * Connections close once the requests they have in flight are answered and
 * written, or after drain_timeout_ms (then pending requests are aborted).
 * |done|(|ctx|) runs from the loop once every handle is closed; then free
 * the server. Only the first call has an effect.
 */
void http_server_shutdown(http_server *s, void (*done)(void *), void *ctx);

/*
 * Writes the body of an answer the transport gives on its own: to a request
 * it refuses (400, 408, 413, 414, 431, 505, ...) or one that arrives while
 * the server shuts down (503). |title| is NULL (the reason phrase) or a
 * short name ("UNAVAILABLE"), |detail| a sentence for a person, |instance|
 * the request's path and query ("" when there is no request yet). Stores a
 * malloc'd body in |*out| (|*out_len| bytes) and returns 0, or returns
 * CHUTE_ENOMEM. The REST codec's rest_problem() is one (problem+json).
 */
typedef int (*http_error_body_fn)(int status, const char *title, const char *detail,
                                  const char *instance, char **out, size_t *out_len);

/*
 * Sets how the transport words its own answers: bodies written by |fn|, of
 * type |content_type| (not copied: a literal). Until it is set (or with |fn|
 * NULL) they are text/plain: the detail and a newline. Set it right after
 * http_server_open(), before the loop runs.
 */
void http_server_set_error_body(http_server *s, const char *content_type, http_error_body_fn fn);

/* After the shutdown's done callback. NULL is a no-op. */
void http_server_free(http_server *s);

#endif
