/*
 * http_api: chuted's HTTP API on the HTTP/1.1 transport (http.h).
 *
 *   Camunda 8 REST v2 job endpoints (the reference page lists them):
 *     POST  /v2/jobs/activation                   long polling via requestTimeout
 *     POST  /v2/jobs/{jobKey}/completion          204
 *     POST  /v2/jobs/{jobKey}/failure             204
 *     POST  /v2/jobs/{jobKey}/error               204
 *     PATCH /v2/jobs/{jobKey}                     {changeset:{retries?, timeout?}} 204
 *     GET   /v2/topology
 *     POST  /v2/incidents/{incidentKey}/resolution 204
 *   Camunda 8.8 REST v2 process endpoints:
 *     POST  /v2/deployments                       multipart
 *     GET   /v2/process-definitions/{key}/xml
 *     POST  /v2/process-instances                 awaitCompletion waits for the end
 *     GET   /v2/process-instances/{key}
 *     POST  /v2/process-instances/{key}/cancellation 204
 *     PUT   /v2/element-instances/{key}/variables 204
 *     POST  /v2/resources/{key}/deletion          200
 *     POST  /v2/{process-instances,element-instances,variables,incidents}/search
 *   Chute's own:
 *     POST  /v1/jobs           one job or an array, created in one commit
 *     GET   /v1/jobs/{key}     DELETE /v1/jobs/{key} cancels
 *     GET   /v1/jobs?type=&state=&page=&size=     newest first
 *     GET   /v1/incidents?type=&limit=
 *     GET   /v1/job-types
 *   Operations: GET /metrics (Prometheus), GET /healthz, GET /readyz.
 *
 * It is the HTTP twin of the gRPC gateway (gateway.c) and has no job rules
 * of its own: bodies are decoded by the REST codec (codec/rest.h) into the
 * engine's structs, the engine validates and runs the command, and the
 * answer is queued on the broker (broker.h) so it leaves only after the
 * commit; long polls are broker polls, and a response carrying leased jobs
 * that never reaches the client returns them at once (invariant 4). Errors
 * are application/problem+json with the status the codec maps the engine's
 * code to (404 unknown key, 409 wrong state, 400 invalid argument, 503
 * RESOURCE_EXHAUSTED). Every request that queues an answer on the broker is
 * first admitted by it (broker_admit, the load rule shared with gRPC); a
 * refused one is answered 503 at once.
 */
#ifndef CHUTE_SERVER_HTTP_API_H
#define CHUTE_SERVER_HTTP_API_H

#include <chute/engine.h>
#include <uv.h>

#include "server/broker.h"
#include "server/gateway.h"
#include "server/http.h"
#include "server/metrics.h"

typedef struct http_api http_api;

typedef struct http_api_config {
    const char *host;      /* listen host */
    int port;              /* 0: ephemeral */
    http_limits limits;    /* max_body_size also bounds activation responses */
    metrics *metrics;      /* may be NULL */
    gateway *gateway;      /* for the gRPC figures of /metrics and the topology; may be NULL */
    const char *grpc_host; /* advertised in /v2/topology */
} http_api_config;

void http_api_config_init(http_api_config *c);

int http_api_open(http_api **out, uv_loop_t *loop, broker *b, const http_api_config *cfg,
                  chute_error *err);

int http_api_port(const http_api *a);

/* Answers the long polls that wait (no jobs) and the awaited process
 * instances (UNAVAILABLE), then shuts the transport down
 * (see http_server_shutdown); |done| runs once it is down. */
void http_api_shutdown(http_api *a, void (*done)(void *), void *ctx);

/* After |done|. NULL is a no-op. */
void http_api_free(http_api *a);

#endif
