/*
 * The gateway: gRPC requests in, engine commands, replies out.
 *
 * It decodes each request with the codec, runs it on the engine, and holds
 * every reply until the batch the command joined is committed: it queues
 * each reply on the broker (broker.h), which once per loop iteration
 * dispatches ready jobs to waiting long polls and streams, commits, and only
 * then releases the replies. This keeps invariant 1 (no acknowledgement
 * before durability) at one sync per iteration however many requests
 * arrived, shared with the HTTP API.
 *
 * It holds no job rules of its own: validation and state live in the
 * engine, wire formats in the codec, HTTP/2 in h2.
 */
#ifndef CHUTE_SERVER_GATEWAY_H
#define CHUTE_SERVER_GATEWAY_H

#include <chute/engine.h>
#include <uv.h>

#include "server/broker.h"
#include "server/h2.h"

struct metrics;

typedef struct gateway gateway;

/* ZenBPM locks a job pushed on its JobStream for 30 s. */
#define GATEWAY_ZENBPM_LOCK_MS 30000

typedef struct gateway_config {
    const char *host; /* gRPC listen host */
    int port;         /* 0: ephemeral */
    h2_limits limits;
    uint32_t stream_credit;  /* jobs a stream may have queued beyond its window */
    struct metrics *metrics; /* ActivateJobs latency goes here; NULL for none */
    int64_t zenbpm_lock_ms;  /* the lease of a job pushed on a ZenBPM JobStream */
} gateway_config;

void gateway_config_init(gateway_config *c);

/* Serves gRPC on |loop|, running commands on the broker's engine and
 * queueing every reply on |b| (which must outlive the gateway). */
int gateway_open(gateway **out, uv_loop_t *loop, broker *b, const gateway_config *cfg,
                 chute_error *err);

/* The bound gRPC port. */
int gateway_port(const gateway *g);

/* The transport's counters (connections, calls). */
void gateway_get_stats(const gateway *g, h2_server_stats *out);

/* Stops accepting, ends open calls (streams and long polls with
 * UNAVAILABLE), commits what is left, and calls |done| once the transport
 * is down. The broker stays open: close it after. */
void gateway_shutdown(gateway *g, void (*done)(void *), void *ctx);

/* After |done|. NULL is a no-op. */
void gateway_free(gateway *g);

#endif
