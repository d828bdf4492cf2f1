/*
 * metrics: chuted's Prometheus metrics, rendered in the text exposition
 * format (version 0.0.4) for GET /metrics.
 *
 * Most figures are read from the engine when a scrape renders them (jobs
 * by type and state, per-type counters, waiters and streams), so they cost
 * nothing between scrapes. What the engine does not keep is observed here
 * as histograms with fixed buckets: the server-side latency of activation
 * requests (gRPC ActivateJobs and REST activation, long-poll wait
 * included), the time jobs spent activatable before a worker took them, and
 * the size and duration of each group commit (through the engine's hooks).
 *
 * Names follow the Prometheus conventions: the chute_ prefix, base units in
 * the name (_seconds, _bytes), counters end in _total.
 *
 * No I/O here besides reading /proc/self/statm: the module is unit-tested
 * without a loop. Every function takes NULL for |m| as "no metrics".
 */
#ifndef CHUTE_SERVER_METRICS_H
#define CHUTE_SERVER_METRICS_H

#include <chute/engine.h>

typedef struct metrics metrics;

typedef enum metrics_api {
    METRICS_API_GRPC = 0,
    METRICS_API_REST = 1,
} metrics_api;

/* 0 or CHUTE_ENOMEM; |*out| untouched on failure. */
int metrics_new(metrics **out);

/* NULL is a no-op. Uninstall the hooks first (metrics_uninstall). */
void metrics_free(metrics *m);

/* Points the engine's hooks (queue time, commits) at |m|. */
void metrics_install(metrics *m, chute_engine *e);
void metrics_uninstall(chute_engine *e);

/* One activation request answered |seconds| after it arrived. */
void metrics_observe_activation(metrics *m, metrics_api api, double seconds);

/* One HTTP response with |status| (100..599). */
void metrics_count_http(metrics *m, int status);

/* Figures the transports own, passed in at render time. */
typedef struct metrics_gauges {
    uint64_t grpc_connections;
    uint64_t http_connections;
    uint64_t grpc_calls;        /* gRPC calls open now */
    uint64_t http_requests;     /* HTTP requests in flight now */
    uint64_t long_polls;        /* long polls waiting now (both APIs) */
    uint64_t rejected_inflight; /* commands refused by --max-inflight so far (broker) */
    int ready;                  /* the store takes commits */
    /* What the transports did against hostile or runaway clients, so far
     * (counters), per protocol: [0] gRPC, [1] HTTP (indexed by
     * metrics_api). */
    uint64_t ended_header_bomb;     /* gRPC: too many oversized header blocks */
    uint64_t ended_control_flood;   /* gRPC: control frames past the budget */
    uint64_t refused_max[2];        /* refused at accept: --max-connections */
    uint64_t refused_peer[2];       /* refused at accept: --max-connections-per-peer */
    uint64_t requests_timed_out[2]; /* not arrived whole within --request-timeout */
    uint64_t accept_failures[2];    /* accept() failed (descriptors ran out, ...) */
} metrics_gauges;

/*
 * Renders everything into |*out| (malloc'd, NUL-terminated, the caller
 * frees it; length in |*out_len|). |e| may be NULL (no engine figures).
 * Returns 0 or CHUTE_ENOMEM.
 */
/* Job types with series of their own in one answer; the rest, by name, are
 * summed under the type METRICS_OTHER_TYPES. Types that have held no job
 * and had no taker for METRICS_IDLE_GRACE_MS are left out. */
#define METRICS_IDLE_GRACE_MS (5 * 60 * 1000)
#define METRICS_IDLE_GRACE_TEXT "5 minutes"
#define METRICS_MAX_TYPES 1000
#define METRICS_MAX_TYPES_TEXT "1000"
#define METRICS_OTHER_TYPES "(other types)"

/* The bound on one answer (the rest_buf default). */
#define METRICS_MAX_ANSWER (64u << 20)

int metrics_render(metrics *m, chute_engine *e, const metrics_gauges *g, char **out,
                   size_t *out_len);

/* The resident set size of this process in bytes (0 if unknown). */
uint64_t metrics_rss_bytes(void);

#endif
