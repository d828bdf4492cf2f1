/*
 * listener: the accepting side of one of chuted's TCP listeners, shared by
 * the gRPC transport (h2.c) and the HTTP/1.1 transport (http.c).
 *
 * It accepts connections itself (accept4() when a uv_poll says the
 * listening socket is readable) instead of through uv_listen(), because
 * libuv gives neither the peer's address before the connection is set up
 * nor any word when accept() fails for want of descriptors (its own
 * spare-descriptor trick closes the waiting connections silently). Here:
 *
 *   Caps. At most max_connections connections are open on the listener,
 *   and at most max_per_peer from one remote IP address (IPv4-mapped IPv6
 *   addresses count as their IPv4 address). A connection over a cap is
 *   accepted and closed at once: on_refuse may first write a few bytes to
 *   it (the gRPC transport writes a GOAWAY), then the listener closes it.
 *   Each refusal is counted and logged, rate-limited.
 *
 *   Descriptors running out. When accept() fails with EMFILE or ENFILE the
 *   listener logs it (rate-limited) with the remedy, closes its spare
 *   descriptor, accepts the waiting connection and closes it (its client
 *   learns at once instead of hanging), reopens the spare, and stops
 *   accepting for LISTENER_PAUSE_MS, so a connection it cannot take does not
 *   wake the loop again and again. Every listener keeps a spare of its own,
 *   so one that runs out still answers its own clients; that one listener
 *   cannot take the descriptors the other needs is the job of the caps,
 *   which chuted keeps within RLIMIT_NOFILE (main.c).
 *
 * Everything runs on the loop; callbacks run from the loop only.
 */
#ifndef CHUTE_SERVER_LISTENER_H
#define CHUTE_SERVER_LISTENER_H

#include <chute/chute.h>

#include <stdint.h>
#include <uv.h>

/* How long a listener stops accepting after accept() failed. */
#define LISTENER_PAUSE_MS 100

typedef struct listener listener;

/* The connections of one remote address; owned by the listener. */
typedef struct listener_peer listener_peer;

/* Why a connection was refused. */
typedef enum listener_refusal {
    LISTENER_REFUSED_MAX = 0,  /* max_connections were open on the listener */
    LISTENER_REFUSED_PEER = 1, /* max_per_peer were open from its address */
} listener_refusal;

typedef struct listener_config {
    /* "gRPC", "HTTP": names the listener in log lines. Not copied. */
    const char *name;
    /* Caps; 0 means none. */
    uint32_t max_connections;
    uint32_t max_per_peer;
    /* A connection was admitted. |fd| (non-blocking, close-on-exec) is the
     * callee's from now on, also when it fails to set it up; it gives
     * |peer| back with listener_release() once the connection is closed
     * (or at once if it closes |fd| right away). */
    void (*on_accept)(void *ctx, int fd, listener_peer *peer);
    /* A connection over a cap: |fd| is closed when this returns, and may be
     * written to (non-blocking) before. May be NULL. */
    void (*on_refuse)(void *ctx, int fd, listener_refusal why);
    void *ctx;
} listener_config;

typedef struct listener_stats {
    uint32_t open;            /* connections admitted and not released */
    uint64_t admitted;        /* connections handed to on_accept */
    uint64_t refused[2];      /* by listener_refusal */
    uint64_t accept_failures; /* accept() failed (EMFILE, ENFILE, ENOBUFS, ...) */
} listener_stats;

/*
 * Serves the listening socket |fd| (bound and listening) on |loop| with
 * |cfg| (copied). On success the listener owns |fd|, stores itself in |*out|
 * and returns 0. On failure |fd| is still the caller's, |*out| is untouched,
 * nothing is left on |loop|, and it returns CHUTE_ENOMEM or CHUTE_EIO (with
 * |err| filled).
 */
int listener_open(listener **out, uv_loop_t *loop, int fd, const listener_config *cfg,
                  chute_error *err);

/* One connection admitted with |peer| is closed. */
void listener_release(listener *l, listener_peer *peer);

/* The remote address of |peer| as text ("127.0.0.1", "::1"). */
const char *listener_peer_address(const listener_peer *peer);

/* Writes "ADDRESS:PORT" of the connected socket |fd|'s peer into |out|
 * ("[::1]:PORT" for IPv6; "an unknown peer" when the system cannot say). */
void listener_peer_name(int fd, char *out, size_t cap);

/* Stops accepting and closes the listening socket; |done|(|ctx|) runs from
 * the loop once the listener's handles are closed. Connections already
 * admitted may still be released until listener_free(). Only the first
 * call has an effect. */
void listener_stop(listener *l, void (*done)(void *), void *ctx);

/* After the done callback of listener_stop. NULL is a no-op. */
void listener_free(listener *l);

void listener_get_stats(const listener *l, listener_stats *out);

#endif
