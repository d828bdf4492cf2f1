/*
 * h2: gRPC over HTTP/2 cleartext (h2c, prior knowledge) on a libuv loop.
 *
 * This module is the transport of chuted's gRPC listener and nothing more: it
 * accepts TCP connections, runs one nghttp2 server session per connection,
 * checks the gRPC framing of requests and hands every complete request (its
 * :path and the bytes of its single message) to one dispatch callback. It
 * knows nothing of jobs or protobuf; the gateway decodes the message, answers
 * with h2_call_send() (zero or more response messages) and h2_call_finish()
 * (the status trailers).
 *
 * The life of a call
 * ------------------
 *   1. The client opens a stream (HEADERS). The transport checks :method
 *      (POST) and content-type (application/grpc*), and reads the body: one
 *      gRPC message (5-byte prefix + bytes), bounded by max_message_size
 *      before anything is allocated. Malformed requests are answered by the
 *      transport itself and never reach the gateway.
 *      A compressed message (flag 1) is decompressed before dispatch, see
 *      "Compression" below.
 *   2. When the request stream ends (END_STREAM), on_request() runs once. From
 *      then on the gateway owns the call: it may reply at once (even from
 *      inside on_request) or much later (after a commit, after a long poll).
 *   3. h2_call_send() queues a response message; the response HEADERS
 *      (:status 200, content-type application/grpc) go first automatically.
 *      Messages leave the queue only as the peer's HTTP/2 flow-control window
 *      allows and as the socket drains; each one taken by nghttp2 is reported
 *      with on_sent(tag), each one that will never go out with on_unsent(tag).
 *   4. h2_call_finish() queues the trailers (grpc-status, grpc-message). A
 *      call finished before any message went out is answered Trailers-Only.
 *
 * Compression
 * -----------
 * Requests may be compressed, as gRPC clients do when told to (the Camunda
 * SDK compresses everything with gzip). The request's grpc-encoding header
 * says how: absent or "identity" (plain), "gzip" or "deflate" (zlib format)
 * are read; any other encoding is answered UNIMPLEMENTED without dispatch.
 * A message with the compressed flag set is inflated by the transport
 * (codec_inflate) once it is complete, so the gateway only ever sees plain
 * bytes. The compressed length is bounded by max_message_size as it arrives,
 * and the inflated size by max_message_size and by what is left of the
 * connection's max_request_buffer: a message that inflates past either is
 * answered RESOURCE_EXHAUSTED, without allocating beyond the bound. Corrupt
 * or truncated compressed data is answered INTERNAL, and so is a compressed
 * flag on a request without a grpc-encoding (the gRPC spec's rule). Every
 * response advertises grpc-accept-encoding: identity,deflate,gzip; responses
 * themselves are never compressed (no grpc-encoding is sent).
 *
 * Observer and the end of a call
 * ------------------------------
 * A gateway that needs to know what happened to its messages (the broker
 * does: a job that never reached its worker goes back to the queue at once)
 * sets an observer with h2_call_set_observer(). Then, for that call:
 *   - every tag of a successful h2_call_send() gets exactly one of on_sent or
 *     on_unsent, also for messages still queued when h2_call_finish() ran;
 *   - on_close runs exactly once, as the last callback of the call, after all
 *     on_sent/on_unsent, whether the gateway finished the call or the stream
 *     went away first (client cancel or reset, connection lost, idle or
 *     shutdown). Its |reason| tells which. After on_close returns the call
 *     is freed: the gateway must drop every pointer to it.
 * Without an observer, a call whose stream went away stays allocated (as a
 * stub) until the gateway calls h2_call_finish() (which then returns
 * CHUTE_ECLOSED), so a gateway pointer never dangles.
 *
 * Limits against a hostile client
 * -------------------------------
 * What one connection can make the server do is bounded, and each cut is
 * counted in h2_server_stats and logged (rate-limited, with the peer):
 * connections per listener and per remote address (over a cap: SETTINGS +
 * GOAWAY(ENHANCE_YOUR_CALM), closed at once; see listener.h); the time a
 * request may take to arrive whole (DEADLINE_EXCEEDED, buffer freed); header
 * blocks over the header list limit (a block far past it is not decoded
 * further, and a connection with too many is ended); and a budget of
 * control frames (a flood ends the connection). A connection ended for
 * abuse sends GOAWAY(ENHANCE_YOUR_CALM), reads nothing more and is closed
 * once that is written. The fields of h2_limits give the numbers.
 *
 * Threading and reentrancy
 * ------------------------
 * Everything runs on the loop given to h2_server_open(); no function here may
 * be called from another thread. The transport never calls a gateway
 * callback from inside an h2_* function the gateway called: callbacks only
 * run from the loop (reads, writes, timers, an idle handle). Inside any
 * callback the gateway may call h2_call_send(), h2_call_finish() and
 * h2_call_set_observer() on any call it owns, and h2_server_shutdown(); it
 * must not call h2_server_free() except from the shutdown done callback or
 * after it ran.
 */
#ifndef CHUTE_SERVER_H2_H
#define CHUTE_SERVER_H2_H

#include <chute/chute.h>

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct h2_server h2_server;
typedef struct h2_call h2_call;

/* The gRPC status codes, H2_GRPC_OK ... H2_GRPC_UNAUTHENTICATED, from
 * CHUTE_GRPC_STATUS_MAP in <chute/chute.h> (the gRPC spec's numbers). */
enum h2_grpc_status {
#define H2_GRPC_STATUS_(name, value, client) H2_GRPC_##name = CHUTE_GRPC_##name,
    CHUTE_GRPC_STATUS_MAP(H2_GRPC_STATUS_)
#undef H2_GRPC_STATUS_
};

/*
 * Limits of a server. Initialise with h2_limits_init() and change what you
 * need; every field has a safe default.
 */
typedef struct h2_limits {
    /* Largest request message accepted and largest response message
     * h2_call_send() takes. A request whose length prefix is larger is
     * answered RESOURCE_EXHAUSTED without reading its body into memory; a
     * compressed request is bounded by it both as sent and once inflated.
     * Default 4 MiB (the gRPC default). */
    size_t max_message_size;
    /* SETTINGS_MAX_CONCURRENT_STREAMS per connection. Default 1000. */
    uint32_t max_concurrent_streams;
    /* SETTINGS_MAX_HEADER_LIST_SIZE, enforced on every request (name + value
     * + 32 per field, as RFC 9113 counts); a larger header list is answered
     * RESOURCE_EXHAUSTED. Default 16 KiB. */
    uint32_t max_header_list_size;
    /* A connection with no open stream for this long gets GOAWAY and is
     * closed (also one that never sent the HTTP/2 preface). 0 = never.
     * Default 5 minutes. */
    uint64_t idle_timeout_ms;
    /* Bytes per connection handed to the socket (uv_write) and not yet
     * written, above which the transport stops pulling frames from nghttp2,
     * so a peer that does not read costs at most this much (plus one
     * frame). Default 1 MiB. */
    size_t max_output_buffer;
    /* How long a connection that is closing (GOAWAY after idle timeout or
     * shutdown, or after a fatal protocol error) may take to flush what is
     * queued and let its streams end before it is closed hard. Default 2 s. */
    uint64_t drain_timeout_ms;
    /* Request bytes one connection may hold across its streams (messages
     * being received, not yet dispatched); memory grows with the bytes that
     * arrive, never with what a prefix announces. A message that would go
     * past it (also when inflating a compressed message, whose compressed
     * bytes count until it is inflated) is answered RESOURCE_EXHAUSTED.
     * Must be >= max_message_size.
     * Default 16 MiB. */
    size_t max_request_buffer;
    /* A request whose headers, message and END_STREAM have not all arrived
     * this long after its HEADERS began is answered DEADLINE_EXCEEDED (4)
     * with a message saying what was missing, its stream is reset and its
     * buffer freed at once. Calls already dispatched (long polls, streams)
     * are not affected. 0 = never. Default 30 s. */
    uint64_t request_timeout_ms;
    /* Connections open at once, and from one remote IP address; one more is
     * answered SETTINGS + GOAWAY(ENHANCE_YOUR_CALM) and closed at once.
     * 0 = no cap. Default 10000 both. */
    uint32_t max_connections;
    uint32_t max_connections_per_peer;
    /* Header blocks over max_header_list_size that one connection may
     * send; with one more it is ended with GOAWAY(ENHANCE_YOUR_CALM). 0 =
     * never. Default 8. (Each one is answered RESOURCE_EXHAUSTED, and one
     * that decodes to more than 4 times the limit is not decoded further:
     * its stream is reset with ENHANCE_YOUR_CALM.) */
    uint32_t max_oversized_headers;
    /* The budget of control frames of a connection (WINDOW_UPDATE,
     * PRIORITY, SETTINGS, PING, RST_STREAM, and DATA frames that are empty
     * and do not end their stream), a token bucket: |control_burst| tokens
     * at most, |control_per_second| regained per second, and 3 more for
     * each DATA frame the server sends and 2 for each request stream the
     * client opens, so that the window updates, pings and resets that work
     * brings are always covered. Each such frame takes one; a frame that
     * finds none ends the connection with GOAWAY(ENHANCE_YOUR_CALM).
     * control_burst 0 = no budget. Defaults 1000 and 100. */
    uint32_t control_burst;
    uint32_t control_per_second;
} h2_limits;

/* Fills |l| with the defaults listed above. */
void h2_limits_init(h2_limits *l);

/* Why a call ended, passed to on_close. */
typedef enum h2_close_reason {
    /* The gateway finished the call and the trailers were handed to nghttp2. */
    H2_CLOSE_DONE = 0,
    /* The client reset or cancelled the stream before the trailers went out. */
    H2_CLOSE_CANCELLED = 1,
    /* The connection was lost or closed (peer went away, protocol error,
     * idle timeout, drain timeout). */
    H2_CLOSE_CONN_LOST = 2,
    /* h2_server_shutdown() ended the call. */
    H2_CLOSE_SHUTDOWN = 3,
} h2_close_reason;

/*
 * The gateway's view of what happens to its messages. Every member may be
 * NULL. |ud| is the pointer given to h2_call_set_observer(). See "Observer
 * and the end of a call" above for the guarantees.
 */
typedef struct h2_call_observer {
    /* The message queued with |tag| was taken by nghttp2 into a DATA frame:
     * the peer's flow-control window had room for all of it. (It may still
     * be lost if the connection dies before the peer reads it.) */
    void (*on_sent)(void *ud, h2_call *call, void *tag);
    /* The message queued with |tag| will never be sent: the stream or the
     * connection is gone, or shutdown dropped it. */
    void (*on_unsent)(void *ud, h2_call *call, void *tag);
    /* The last callback of |call|; the call is freed when it returns. */
    void (*on_close)(void *ud, h2_call *call, h2_close_reason reason);
    /* Client-streaming calls only (see "Client streaming" below). One
     * request message, without its prefix and already inflated; |msg| is
     * valid until the callback returns. */
    void (*on_message)(void *ud, h2_call *call, const uint8_t *msg, size_t len);
    /* Client-streaming calls only: the request side is over, after its
     * last on_message. |grpc_status| 0: the client half-closed; else the
     * request side broke (a message over max_message_size or the
     * connection's buffer, cut short, corrupt), |message| says how (may be
     * NULL), and nothing more of it is read: the gateway should finish the
     * call with that status. Runs at most once, and not after
     * h2_call_finish. */
    void (*on_request_end)(void *ud, h2_call *call, int grpc_status, const char *message);
} h2_call_observer;

/*
 * Called once per request whose stream ended after exactly one gRPC
 * message. |path| is the request's :path (NUL-terminated; valid as long as
 * the call, also from h2_call_path()). |msg|/|len| is the message without
 * its 5-byte prefix, already decompressed if the client compressed it; it
 * is owned by the transport and valid only until the callback returns (copy
 * or decode it). From this moment the gateway owns |call| and must
 * eventually h2_call_finish() it, unless on_close came first. Unknown paths
 * are dispatched too: answering UNIMPLEMENTED is the gateway's job.
 */
typedef void (*h2_request_fn)(void *ctx, h2_call *call, const char *path, const uint8_t *msg,
                              size_t len);

/*
 * Binds |host|:|port| (an IPv4 or IPv6 literal or a host name resolved at
 * once; |port| 0 picks an ephemeral port, see h2_server_port()), listens,
 * and serves gRPC on |loop|. |limits| is copied; NULL means the defaults.
 * |on_request| (required) runs with |ctx| for every request.
 *
 * On success stores the server in |*out| and returns 0. On failure leaves
 * |*out| untouched, fills |err| and returns CHUTE_EINVAL (bad argument or
 * limit, unresolvable host), CHUTE_EIO (bind or listen failed, e.g. address
 * in use; the message carries the system's reason) or CHUTE_ENOMEM. Binding
 * happens before any libuv handle exists, so these failures leave nothing on
 * |loop|; only if libuv then refuses the bound socket (not seen in practice)
 * two handles are left closing, gone after the loop's next iteration.
 */
int h2_server_open(h2_server **out, uv_loop_t *loop, const char *host, int port,
                   const h2_limits *limits, h2_request_fn on_request, void *ctx, chute_error *err);

/* The port the server is bound to (useful after binding port 0). */
int h2_server_port(const h2_server *s);

/*
 * Stops the server gracefully: closes the listener, and on every
 * connection answers every call still open with trailers |grpc_status| and
 * |message| (copied; may be NULL), dropping response messages nghttp2 has
 * not taken yet (on_unsent), sends GOAWAY, and closes the connection once
 * its streams are over and its output is flushed, or after
 * drain_timeout_ms. Calls stay valid until their on_close (reason
 * H2_CLOSE_SHUTDOWN); from now on h2_call_send() returns CHUTE_ECLOSED, while
 * h2_call_finish() is still taken (and its status sent) until the transport
 * has ended the call, after which it returns CHUTE_ECLOSED. Requests that arrive meanwhile are
 * answered with the same status and not dispatched. |done|(|done_ctx|) runs once, from the loop,
 * after every connection and handle of the server is closed; then the
 * caller frees the server with h2_server_free(). Only the first call has an
 * effect. Callbacks never run inside this function.
 */
void h2_server_shutdown(h2_server *s, int grpc_status, const char *message, void (*done)(void *),
                        void *done_ctx);

/*
 * Releases |s| and whatever it still holds (including stubs of calls the
 * gateway never finished: their pointers become invalid). Must only be
 * called once the shutdown done callback ran (it may be called from inside
 * it): before that the server's handles are still open on the loop.
 * h2_server_free(NULL) is a no-op.
 */
void h2_server_free(h2_server *s);

/* Counters of a server, for tests and metrics. */
typedef struct h2_server_stats {
    uint64_t connections_accepted;
    uint32_t connections_open;
    uint32_t calls_open;          /* calls allocated (streams and gateway stubs) */
    uint64_t requests_dispatched; /* on_request calls */
    uint64_t requests_rejected;   /* requests the transport answered itself */
    size_t output_buffered;       /* bytes in uv_write now, all connections */
    size_t output_buffered_max;   /* the largest per-connection figure seen */
    size_t request_buffered;      /* bytes held for request messages now, all connections
                                     (what max_request_buffer bounds per connection) */
    uint64_t requests_timed_out;  /* requests ended at request_timeout_ms */
    uint64_t headers_oversized;   /* header blocks over max_header_list_size */
    /* Connections ended with GOAWAY(ENHANCE_YOUR_CALM): */
    uint64_t ended_header_bomb;   /* more than max_oversized_headers oversized blocks */
    uint64_t ended_control_flood; /* control frames past the budget (or nghttp2's own
                                     flood limits) */
    uint64_t refused_max;         /* refused at accept: max_connections open */
    uint64_t refused_peer;        /* refused at accept: max_connections_per_peer open */
    uint64_t accept_failures;     /* accept() failed (descriptors ran out, ...) */
} h2_server_stats;

/* Fills |out| with the current counters of |s|. */
void h2_server_get_stats(const h2_server *s, h2_server_stats *out);

/*
 * Queues one response message on |call|: |len| bytes from |msg| are copied
 * (with the 5-byte gRPC prefix added), so |msg| may be freed on return.
 * |tag| is the gateway's and is given back in on_sent/on_unsent. Never
 * calls a callback itself. The response HEADERS go first automatically.
 *
 * Returns 0, CHUTE_ECLOSED (the stream is gone, the call was finished, or the
 * server is shutting down: nothing was queued and no callback will name
 * |tag|), CHUTE_ETOOBIG (|len| exceeds max_message_size) or CHUTE_ENOMEM.
 */
int h2_call_send(h2_call *call, const uint8_t *msg, size_t len, void *tag);

/*
 * Ends |call| with trailers grpc-status |grpc_status| and grpc-message
 * |message| (copied, percent-encoded as gRPC requires, truncated to 1 KiB;
 * NULL or "" sends none). Messages already queued go out first; a call
 * without any message is answered Trailers-Only. After this returns the
 * gateway must not touch |call| (its observer, if any, still gets the
 * on_sent/on_unsent of queued messages and on_close).
 *
 * Returns 0, or CHUTE_ECLOSED when the stream was already gone or shutdown
 * had ended the call (nothing is sent; a call without an observer is freed
 * here, one with an observer still gets on_close), or CHUTE_ENOMEM (the
 * stream is reset instead; the call is released as after 0).
 */
int h2_call_finish(h2_call *call, int grpc_status, const char *message);

/*
 * Sets (or with |obs| NULL removes) the observer of |call|; |obs| is not
 * copied and must outlive the call (a static table is the usual choice).
 * Returns 0, or CHUTE_ECLOSED when the stream is already gone and no
 * observer was set (the call stays the gateway's, to release with
 * h2_call_finish()).
 */
int h2_call_set_observer(h2_call *call, const h2_call_observer *obs, void *ud);

/*
 * Client streaming
 * ----------------
 * A method whose request is a stream of messages (gRPC client streaming or
 * bidirectional streaming, like grpc.ZenBpm/JobStream) cannot wait for
 * its request to end. For a path |fn| says yes to (it runs with the ctx of
 * h2_server_open once the request headers were accepted), the call is
 * dispatched at once: on_request runs with an empty message (|len| 0), and
 * the gateway sets an observer there. Then each request message is handed
 * to on_message as it arrives whole, each bounded by max_message_size
 * before anything is allocated and counted in the connection's
 * max_request_buffer while it waits (it waits only until the next pump);
 * the end of the request side comes as on_request_end. Responses flow as
 * for any call, at the same time. The request timeout covers only the
 * headers of such a call. A message that breaks the framing ends the
 * request side (on_request_end with a status) but leaves the response
 * side to the gateway. NULL (the default) makes every method unary on the
 * request side.
 */
typedef int (*h2_streaming_fn)(void *ctx, const char *path);
void h2_server_set_streaming(h2_server *s, h2_streaming_fn fn);

/* Keeps the request header |name| (lower case, not a pseudo-header; at
 * most 4 names a server, values up to 1 KiB) of every call, for
 * h2_call_header(). 0, CHUTE_EINVAL (too many names) or CHUTE_ENOMEM. */
int h2_server_keep_header(h2_server *s, const char *name);

/* The value of a kept request header of |call| (owned by the call), or
 * NULL when the request did not send it. */
const char *h2_call_header(const h2_call *call, const char *name);

/* The request's :path. Owned by the call. */
const char *h2_call_path(const h2_call *call);

/* The request's grpc-timeout in milliseconds (rounded up), or -1 if the
 * client sent none or an invalid one. */
int64_t h2_call_timeout_ms(const h2_call *call);

/* Bytes queued on |call| that nghttp2 has not taken yet (prefixes included). */
size_t h2_call_queued_bytes(const h2_call *call);

/* Percent-encodes |msg| (NULL = "") for grpc-message as the gRPC spec says
 * (bytes outside 0x20-0x7E, and '%', become %XX) into |out| of |cap| bytes,
 * always NUL-terminated when |cap| > 0; an escape that does not fit is left
 * out whole. Returns the length written. h2_call_finish() does this itself;
 * this is for tests and for a gateway that builds headers of its own. */
size_t h2_grpc_message_encode(char *out, size_t cap, const char *msg);

#endif /* CHUTE_SERVER_H2_H */
