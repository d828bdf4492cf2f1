/*
 * The gateway: gRPC requests in, engine commands, replies out.
 *
 * It decodes each request with the codec, runs it on the engine, and holds
 * every reply until the batch the command joined is committed: once per
 * loop iteration (a libuv check handle) it dispatches ready jobs to waiting
 * long polls and streams, commits, and only then releases the replies. This
 * keeps invariant 1 (no acknowledgement before durability) at one sync per
 * iteration however many requests arrived.
 *
 * It holds no job rules of its own: validation and state live in the
 * engine, wire formats in the codec, HTTP/2 in h2.
 */
#ifndef CHUTE_SERVER_GATEWAY_H
#define CHUTE_SERVER_GATEWAY_H

#include <chute/engine.h>
#include <uv.h>

#include "server/h2.h"

typedef struct gateway gateway;

typedef struct gateway_config {
    const char *host;           /* gRPC listen host */
    int port;                   /* 0: ephemeral */
    h2_limits limits;
    uint32_t stream_credit;     /* jobs a stream may have queued beyond its window */
} gateway_config;

void gateway_config_init(gateway_config *c);

int gateway_open(gateway **out, uv_loop_t *loop, chute_engine *e, const gateway_config *cfg,
                 chute_error *err);

/* The bound gRPC port. */
int gateway_port(const gateway *g);

/* Stops accepting, ends open calls (streams and long polls with
 * UNAVAILABLE), commits what is left, and calls |done| once every handle is
 * closed. */
void gateway_shutdown(gateway *g, void (*done)(void *), void *ctx);

/* After |done|. NULL is a no-op. */
void gateway_free(gateway *g);

#endif
