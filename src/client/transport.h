/*
 * The client's transport: one h2c connection run by one I/O thread, and
 * gRPC calls on it as raw framed bytes. It knows nothing of protobuf or
 * jobs; src/client/rpc.c builds the RPCs on top of it.
 *
 * A call is submitted from any thread with ctransport_call_start(). It waits
 * for a connection (the first call makes one, and so does the first call
 * after a connection was lost), then runs as one HTTP/2 stream. Each whole
 * response message is handed to on_message and the end of the call to
 * on_done, both on the I/O thread; on_done runs exactly once, unless
 * ctransport_call_start() returned an error.
 *
 * Flow control. The client announces an initial stream window of 0, so the
 * server may send no DATA on a stream until the client grants it, and grants
 * every stream its credit explicitly:
 *  - ordinary calls get a large window at once and give bytes back as soon
 *    as they are read, so they are never slowed down;
 *  - a call started with CCALL_FLOW_CONTROLLED gets only the credit its
 *    owner sets with ccall_set_credit(), counted in whole messages.
 *    A job worker uses this on its job stream: it grants room for as many
 *    jobs as it has free slots, so a full worker stops the server pushing
 *    (the server then leaves the jobs queued for other takers).
 * The connection-level window is large and always given back, so one held
 * stream never blocks the others.
 */
#ifndef CHUTE_CLIENT_TRANSPORT_H
#define CHUTE_CLIENT_TRANSPORT_H

#include <chute/client.h>

#include <stddef.h>
#include <stdint.h>

typedef struct ccall ccall;

typedef struct ccall_cbs {
    /* One whole response message (without its 5-byte prefix). Return 0 to
     * go on, or a negative CHUTE_E* code to cancel the call, which then ends
     * with that code and |err|. May be NULL: messages are dropped. */
    int (*on_message)(void *user_data, const uint8_t *data, size_t len, chute_error *err);
    /* The end: |rc| is 0 (gRPC status OK) or a CHUTE_E* code with |err|. */
    void (*on_done)(void *user_data, int rc, const chute_error *err);
} ccall_cbs;

enum {
    CCALL_FLOW_CONTROLLED = 1, /* credit only through ccall_set_credit() */
};

/*
 * Starts a call of |path| ("/gateway_protocol.Gateway/ActivateJobs") with
 * the framed request |body| (|len| bytes, copied). |deadline_ms| > 0 ends
 * the call with CHUTE_ETIMEDOUT after that long (and is sent as
 * grpc-timeout); <= 0 means none. When |out| is not NULL it receives a
 * reference the caller must drop with ccall_release(). Returns 0 or
 * CHUTE_ECLOSED (the client is closing) or CHUTE_ENOMEM.
 */
int ctransport_call_start(chute_client *client, const char *path, const uint8_t *body, size_t len,
                          int64_t deadline_ms, int flags, const ccall_cbs *cbs, void *user_data,
                          ccall **out, chute_error *err);

/* Ends |call| with CHUTE_ECLOSED ("cancelled") unless it already ended;
 * the server sees RST_STREAM(CANCEL). Any thread. */
void ccall_cancel(ccall *call);

/*
 * For a CCALL_FLOW_CONTROLLED call: after the first |seen| messages of the
 * call, the owner has room for |messages| more; the smallest message it has
 * seen is |min_bytes| framed bytes and the largest |max_bytes|. The
 * transport lets the server send max(m * min_bytes, max_bytes) more bytes,
 * where m is |messages| less the messages that arrived after the first
 * |seen| (so a credit computed on another thread is never stale), and
 * nothing when m <= 0. A message that has begun to arrive counts as one of
 * them and is always let through whole. Credit only ever grows on the wire:
 * when the owner lowers it, the lower value takes effect as granted bytes
 * arrive. Any thread.
 */
void ccall_set_credit(ccall *call, int messages, uint64_t seen, size_t min_bytes, size_t max_bytes);

/* Drops the caller's reference. Any thread. NULL is a no-op. */
void ccall_release(ccall *call);

/* Non-zero when the current thread is the client's I/O thread. */
int ctransport_on_io_thread(const chute_client *client);

/* Runs |fn(arg)| on the I/O thread soon. Returns 0 or CHUTE_ECLOSED (then
 * |fn| does not run). */
int ctransport_post(chute_client *client, void (*fn)(void *arg), void *arg);

/* The bound on a received message. */
size_t ctransport_max_message(const chute_client *client);

/* The client's default deadline, for calls that pass no options. */
int64_t ctransport_default_deadline(const chute_client *client);

/* Maps a gRPC status to a CHUTE_E* code: the client column of
 * CHUTE_GRPC_STATUS_MAP in <chute/chute.h>; 0 stays 0, and a status not in
 * the list counts as UNKNOWN (CHUTE_EINTERNAL). */
int ctransport_grpc_to_chute(int grpc_status);

/* Maps an HTTP status of a response that is not gRPC to the gRPC status the
 * gRPC spec prescribes (404 -> UNIMPLEMENTED, 503 -> UNAVAILABLE, ...). */
int ctransport_http_to_grpc(int http_status);

/* Parses "host:port", "[v6]:port" or "host" (port 26500). |host| gets at
 * most |host_cap| - 1 characters. Returns 0 or CHUTE_EINVAL. */
int ctransport_parse_address(const char *address, char *host, size_t host_cap, int *port,
                             chute_error *err);

/* Formats a grpc-timeout header value for |ms| into |out| (at least 16 bytes). */
void ctransport_grpc_timeout(int64_t ms, char *out, size_t cap);

#endif /* CHUTE_CLIENT_TRANSPORT_H */
