/*
 * chuted: the Chute daemon. Configuration, the event loop, signals.
 *
 * Every flag can also be given as an environment variable (CHUTE_ + the
 * flag's name in capitals with '_' for '-'); a flag wins over the variable.
 */
#include <chute/engine.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <uv.h>

#include "server/broker.h"
#include "server/gateway.h"
#include "server/http_api.h"
#include "server/log.h"
#include "server/metrics.h"

typedef struct config {
    const char *data_dir;
    const char *grpc_listen;
    const char *http_listen;
    const char *durability;
    const char *retention;
    const char *max_message_size;
    const char *idle_timeout;
    const char *stream_credit;
    const char *max_jobs;
    const char *max_inflight;
    const char *max_job_timeout;
    const char *request_timeout;
    const char *zenbpm_lock; /* the lease of a job pushed on a ZenBPM JobStream */
    const char *max_connections;
    const char *max_connections_per_peer; /* NULL: as max_connections */
    int allow_remote;
    int accept_wal_loss;
} config;

static void usage(FILE *f)
{
    fputs("Usage: chuted [OPTIONS]\n"
          "\n"
          "Chute's job broker daemon: keeps jobs durably in a data directory and serves them to\n"
          "job workers over the Zeebe gateway gRPC protocol and Chute's own gRPC service, and\n"
          "over HTTP: Camunda's v2 REST job endpoints, Chute's REST API, /metrics, /healthz\n"
          "and /readyz (see docs/openapi.yaml).\n"
          "\n"
          "Options (each also as an environment variable, shown in brackets):\n"
          "  --data-dir DIR           where the database lives; created if missing\n"
          "                           [CHUTE_DATA_DIR] (default ./chute-data)\n"
          "  --grpc-listen HOST:PORT  gRPC (h2c) listener; port 0 picks a free port\n"
          "                           [CHUTE_GRPC_LISTEN] (default 127.0.0.1:26500)\n"
          "  --http-listen HOST:PORT  HTTP/1.1 listener (REST, metrics, health), or 'off';\n"
          "                           port 0 picks a free port\n"
          "                           [CHUTE_HTTP_LISTEN] (default 127.0.0.1:8080)\n"
          "  --durability full|normal full: every commit is synced to disk (survives power\n"
          "                           loss); normal: synced at checkpoints (survives a crash\n"
          "                           of chuted, a power loss may drop the last commits)\n"
          "                           [CHUTE_DURABILITY] (default full)\n"
          "  --retention DURATION     how long a completed standalone job keeps its result for\n"
          "                           GetJob; 0 keeps none [CHUTE_RETENTION] (default 24h)\n"
          "  --max-message-size SIZE  largest gRPC message and HTTP request body, e.g. 4MiB\n"
          "                           [CHUTE_MAX_MESSAGE_SIZE] (default 4MiB)\n"
          "  --idle-timeout DURATION  close connections idle this long; 0 never\n"
          "                           [CHUTE_IDLE_TIMEOUT] (default 5m)\n"
          "  --request-timeout DURATION  a request must arrive whole within this time of its\n"
          "                           first byte: gRPC gets DEADLINE_EXCEEDED (4) and a reset\n"
          "                           stream, HTTP a 408 and a closed connection; calls already\n"
          "                           taken (long polls, job streams) are not affected; 0 never\n"
          "                           [CHUTE_REQUEST_TIMEOUT] (default 30s)\n"
          "  --max-connections N      connections open at once on each listener (gRPC, HTTP);\n"
          "                           more are closed at once (gRPC after GOAWAY\n"
          "                           ENHANCE_YOUR_CALM); 0 means no cap. The default is\n"
          "                           lowered to fit the file descriptor limit\n"
          "                           [CHUTE_MAX_CONNECTIONS] (default 10000)\n"
          "  --max-connections-per-peer N  the same cap per remote IP address on each\n"
          "                           listener [CHUTE_MAX_CONNECTIONS_PER_PEER] (default: the\n"
          "                           --max-connections value)\n"
          "  --stream-credit N        jobs a job stream may have queued beyond the client's\n"
          "                           flow-control window [CHUTE_STREAM_CREDIT] (default 32)\n"
          "  --max-jobs N             jobs held at most (every job not completed or cancelled);\n"
          "                           creates beyond it get RESOURCE_EXHAUSTED (gRPC 8, HTTP\n"
          "                           503); 0 means no limit [CHUTE_MAX_JOBS] (default 10000000)\n"
          "  --max-inflight N         commands waiting for one commit at most; new commands\n"
          "                           that bring work (create, update, resolve, cancel, reads)\n"
          "                           get RESOURCE_EXHAUSTED while it is reached; activate,\n"
          "                           complete, fail and throw error are always taken; 0 means\n"
          "                           no limit [CHUTE_MAX_INFLIGHT] (default 10000)\n"
          "  --max-job-timeout DURATION  the longest lease a worker may ask for (activation\n"
          "                           timeout, UpdateJobTimeout); longer is INVALID_ARGUMENT\n"
          "                           (HTTP 400); 0 means the engine's bound, 10 years\n"
          "                           [CHUTE_MAX_JOB_TIMEOUT] (default 0)\n"
          "  --zenbpm-job-lock DURATION  how long a job pushed on a ZenBPM JobStream is locked\n"
          "                           to its client before another may get it\n"
          "                           [CHUTE_ZENBPM_JOB_LOCK] (default 30s, ZenBPM's)\n"
          "  --accept-wal-loss        open the database even when its write-ahead log is\n"
          "                           damaged, dropping the committed transactions after the\n"
          "                           damage (without it chuted refuses to start and says\n"
          "                           how many; a copy of the log is kept either way)\n"
          "                           [CHUTE_ACCEPT_WAL_LOSS=1]\n"
          "  --allow-remote           allow a listener on a non-loopback address (Chute has no\n"
          "                           authentication yet) [CHUTE_ALLOW_REMOTE=1]\n"
          "  -h, --help               this text\n"
          "  --version                print the version\n"
          "\n"
          "Durations take a unit: ms, s, m, h or d (e.g. 500ms, 30s, 24h). Sizes take B, KiB,\n"
          "MiB or GiB. On SIGTERM or SIGINT chuted stops accepting, finishes what is in\n"
          "flight, ends job streams with UNAVAILABLE and exits 0.\n",
          f);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chuted: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* The engine's log hook: its messages (and its store's) become chuted's own
 * log lines (chuted_log writes each in one call, so a line written from the
 * store's checkpoint thread never interleaves with the loop's lines). */
static void engine_log(void *ctx, chute_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    chuted_log("%s", message);
}

/* Parses "<digits><unit>" with |units| (name, multiplier) pairs. */
typedef struct unit {
    const char *name;
    int64_t mult;
} unit;

static int parse_scaled(const char *s, const unit *units, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno != 0 || v < 0)
        return -1;
    for (const unit *u = units; u->name; u++) {
        if (strcasecmp(end, u->name) == 0) {
            if (v > INT64_MAX / u->mult)
                return -1;
            *out = v * u->mult;
            return 0;
        }
    }
    return -1;
}

static int64_t duration_ms(const char *flag, const char *s)
{
    static const unit units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                                 {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
    int64_t v;
    if (strcmp(s, "0") == 0)
        return 0;
    if (parse_scaled(s, units, &v) != 0)
        die("%s: '%s' is not a duration; write a number and a unit: 500ms, 30s, 5m, 24h, 7d", flag,
            s);
    return v;
}

static int64_t size_bytes(const char *flag, const char *s)
{
    static const unit units[] = {{"", 1},          {"b", 1},           {"kib", 1024},
                                 {"mib", 1 << 20}, {"gib", 1LL << 30}, {NULL, 0}};
    int64_t v;
    if (parse_scaled(s, units, &v) != 0)
        die("%s: '%s' is not a size; write e.g. 4MiB, 512KiB or a number of bytes", flag, s);
    return v;
}

/* Parses a count from 0 to |max| (0 meaning "no limit" for the limits). */
static uint64_t count_of(const char *flag, const char *s, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || s[0] == '-' || v > max)
        die("%s %s: choose a number from 0 (no limit) to %llu", flag, s, (unsigned long long)max);
    return (uint64_t)v;
}

/* Splits "host:port" ("[::1]:26500" for IPv6). */
static void split_listen(const char *flag, const char *s, char *host, size_t hostcap, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        die("%s: '%s' is not HOST:PORT (e.g. 127.0.0.1:26500)", flag, s);
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hostcap)
        die("%s: host in '%s' is too long", flag, s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || errno || p < 0 || p > 65535)
        die("%s: '%s' has no valid port (0-65535)", flag, s);
    *port = (int)p;
}

/* Descriptors chuted needs besides its connections: the store's files, the
 * loop, standard streams, the listeners and their spares. */
#define FD_RESERVE 64
#define DEFAULT_MAX_CONNECTIONS 10000

/* Raises the soft RLIMIT_NOFILE to the hard limit (an idle client costs one
 * descriptor, and the soft default is often 1024) and returns the limit in
 * force, or 0 when the system cannot say. */
static uint64_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* The connection caps of both listeners, kept within the descriptor limit
 * so that one listener full of connections cannot take the descriptors the
 * other (and the store) need. An explicit --max-connections is kept as
 * given, with a warning when it does not fit. */
static void connection_caps(const config *c, int listeners, uint32_t *max_conn, uint32_t *per_peer)
{
    uint64_t nofile = raise_nofile();
    uint64_t want = c->max_connections
                        ? count_of("--max-connections", c->max_connections, 100000000ULL)
                        : DEFAULT_MAX_CONNECTIONS;
    uint64_t fit =
        nofile > FD_RESERVE + (uint64_t)listeners ? (nofile - FD_RESERVE) / (uint64_t)listeners : 1;
    if (nofile == 0)
        fit = want;
    if (!c->max_connections && want > fit) {
        chuted_log("RLIMIT_NOFILE is %llu: --max-connections lowered from %llu to %llu per "
                   "listener so that %s and the store fit; raise the limit (ulimit -n) for more",
                   (unsigned long long)nofile, (unsigned long long)want, (unsigned long long)fit,
                   listeners == 2 ? "both listeners" : "the listener");
        want = fit;
    } else if (want == 0 || want > fit) {
        chuted_log("warning: --max-connections %s lets %s take more descriptors than "
                   "RLIMIT_NOFILE (%llu) holds; when they run out, new connections are closed "
                   "at once: raise the limit (ulimit -n) or lower --max-connections",
                   c->max_connections, listeners == 2 ? "the listeners" : "the listener",
                   (unsigned long long)nofile);
    }
    *max_conn = (uint32_t)want;
    *per_peer = c->max_connections_per_peer
                    ? (uint32_t)count_of("--max-connections-per-peer", c->max_connections_per_peer,
                                         100000000ULL)
                    : *max_conn;
    if (nofile == UINT64_MAX)
        chuted_log("file descriptors: no limit (RLIMIT_NOFILE); at most %u connections per "
                   "listener, %u per peer",
                   *max_conn, *per_peer);
    else
        chuted_log("file descriptors: up to %llu (RLIMIT_NOFILE); at most %u connections per "
                   "listener, %u per peer",
                   (unsigned long long)nofile, *max_conn, *per_peer);
}

static int is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static void parse_args(int argc, char **argv, config *c)
{
    c->data_dir = env_or("CHUTE_DATA_DIR", "./chute-data");
    c->grpc_listen = env_or("CHUTE_GRPC_LISTEN", "127.0.0.1:26500");
    c->http_listen = env_or("CHUTE_HTTP_LISTEN", "127.0.0.1:8080");
    c->durability = env_or("CHUTE_DURABILITY", "full");
    c->retention = env_or("CHUTE_RETENTION", "24h");
    c->max_message_size = env_or("CHUTE_MAX_MESSAGE_SIZE", "4MiB");
    c->idle_timeout = env_or("CHUTE_IDLE_TIMEOUT", "5m");
    c->stream_credit = env_or("CHUTE_STREAM_CREDIT", "32");
    c->max_jobs = env_or("CHUTE_MAX_JOBS", "10000000");
    c->max_inflight = env_or("CHUTE_MAX_INFLIGHT", "10000");
    c->max_job_timeout = env_or("CHUTE_MAX_JOB_TIMEOUT", "0");
    c->request_timeout = env_or("CHUTE_REQUEST_TIMEOUT", "30s");
    c->zenbpm_lock = env_or("CHUTE_ZENBPM_JOB_LOCK", "30s");
    c->max_connections = env_or("CHUTE_MAX_CONNECTIONS", NULL);
    c->max_connections_per_peer = env_or("CHUTE_MAX_CONNECTIONS_PER_PEER", NULL);
    c->allow_remote = strcmp(env_or("CHUTE_ALLOW_REMOTE", "0"), "1") == 0;
    c->accept_wal_loss = strcmp(env_or("CHUTE_ACCEPT_WAL_LOSS", "0"), "1") == 0;

    static const struct {
        const char *name;
        size_t offset;
    } opts[] = {
        {"--data-dir", offsetof(config, data_dir)},
        {"--grpc-listen", offsetof(config, grpc_listen)},
        {"--http-listen", offsetof(config, http_listen)},
        {"--durability", offsetof(config, durability)},
        {"--retention", offsetof(config, retention)},
        {"--max-message-size", offsetof(config, max_message_size)},
        {"--idle-timeout", offsetof(config, idle_timeout)},
        {"--stream-credit", offsetof(config, stream_credit)},
        {"--max-jobs", offsetof(config, max_jobs)},
        {"--max-inflight", offsetof(config, max_inflight)},
        {"--max-job-timeout", offsetof(config, max_job_timeout)},
        {"--request-timeout", offsetof(config, request_timeout)},
        {"--zenbpm-job-lock", offsetof(config, zenbpm_lock)},
        {"--max-connections-per-peer", offsetof(config, max_connections_per_peer)},
        {"--max-connections", offsetof(config, max_connections)},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("chuted %s\n", CHUTE_VERSION);
            exit(0);
        }
        if (strcmp(a, "--allow-remote") == 0) {
            c->allow_remote = 1;
            continue;
        }
        if (strcmp(a, "--accept-wal-loss") == 0) {
            c->accept_wal_loss = 1;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof opts / sizeof *opts; k++) {
            size_t n = strlen(opts[k].name);
            if (strncmp(a, opts[k].name, n) != 0)
                continue;
            const char *value;
            if (a[n] == '=') {
                value = a + n + 1;
            } else if (a[n] == '\0') {
                if (i + 1 >= argc)
                    die("%s needs a value (see chuted --help)", opts[k].name);
                value = argv[++i];
            } else {
                continue;
            }
            *(const char **)((char *)c + opts[k].offset) = value;
            break;
        }
        if (k == sizeof opts / sizeof *opts)
            die("unknown option '%s' (see chuted --help)", a);
    }
}

typedef struct daemon_state {
    uv_loop_t *loop;
    broker *b;
    gateway *gw;
    http_api *api;
    uv_signal_t sigterm, sigint;
    int stopping;
    int fronts_up; /* front ends not yet down during shutdown */
} daemon_state;

static void on_broker_down(void *ctx)
{
    daemon_state *d = ctx;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

/* Each front end reports here once its transport is down; the broker goes
 * last, so that every reply they queued is committed and released. */
static void on_front_down(void *ctx)
{
    daemon_state *d = ctx;
    if (--d->fronts_up == 0)
        broker_close(d->b, on_broker_down, d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_state *d = h->data;
    if (d->stopping) {
        chuted_log("second signal, exiting now");
        exit(1);
    }
    d->stopping = 1;
    chuted_log("%s received, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    d->fronts_up = d->api ? 2 : 1;
    if (d->api)
        http_api_shutdown(d->api, on_front_down, d);
    gateway_shutdown(d->gw, on_front_down, d);
}

int main(int argc, char **argv)
{
    config c;
    parse_args(argc, argv, &c);

    chute_engine_options eo;
    chute_engine_options_init(&eo);
    eo.data_dir = c.data_dir;
    eo.log = engine_log;
    if (strcmp(c.durability, "full") == 0)
        eo.durability = CHUTE_DURABILITY_FULL;
    else if (strcmp(c.durability, "normal") == 0)
        eo.durability = CHUTE_DURABILITY_NORMAL;
    else
        die("--durability: '%s' is not a mode; use full or normal", c.durability);
    int64_t retention = duration_ms("--retention", c.retention);
    eo.retention_ms = retention == 0 ? -1 : retention;
    /* Upper bounds only catch typos: 10^12 jobs is far past what memory
     * holds (see the memory per job in the README's figures), 10^8
     * commands per commit gigabytes of replies. */
    eo.max_jobs = count_of("--max-jobs", c.max_jobs, 1000000000000ULL);
    uint64_t max_inflight = count_of("--max-inflight", c.max_inflight, 100000000ULL);
    eo.max_job_timeout_ms = duration_ms("--max-job-timeout", c.max_job_timeout);
    eo.accept_wal_loss = c.accept_wal_loss;
    if (eo.max_job_timeout_ms > CHUTE_DURATION_MAX_MS)
        die("--max-job-timeout %s: choose at most 3650d (10 years), or 0 for that bound",
            c.max_job_timeout);

    gateway_config gc;
    gateway_config_init(&gc);
    char host[256];
    split_listen("--grpc-listen", c.grpc_listen, host, sizeof host, &gc.port);
    gc.host = host;
    if (!is_loopback(host) && !c.allow_remote)
        die("--grpc-listen %s: Chute has no authentication yet, so it listens on loopback only; "
            "pass --allow-remote to listen on %s anyway",
            c.grpc_listen, host);
    int64_t max_msg = size_bytes("--max-message-size", c.max_message_size);
    if (max_msg < 1024 || max_msg > (64 << 20))
        die("--max-message-size %s: choose between 1KiB and 64MiB", c.max_message_size);
    gc.limits.max_message_size = (size_t)max_msg;
    if (gc.limits.max_request_buffer < gc.limits.max_message_size)
        gc.limits.max_request_buffer = gc.limits.max_message_size;
    eo.max_variables_size = (size_t)max_msg;
    gc.limits.idle_timeout_ms = (uint64_t)duration_ms("--idle-timeout", c.idle_timeout);
    gc.limits.request_timeout_ms = (uint64_t)duration_ms("--request-timeout", c.request_timeout);
    gc.zenbpm_lock_ms = duration_ms("--zenbpm-job-lock", c.zenbpm_lock);
    if (gc.zenbpm_lock_ms < 1 ||
        gc.zenbpm_lock_ms > (eo.max_job_timeout_ms ? eo.max_job_timeout_ms : CHUTE_DURATION_MAX_MS))
        die("--zenbpm-job-lock %s: choose a duration from 1ms to the longest lease "
            "(--max-job-timeout)",
            c.zenbpm_lock);
    {
        char *end;
        long v = strtol(c.stream_credit, &end, 10);
        if (*end || end == c.stream_credit || v < 1 || v > 100000)
            die("--stream-credit %s: choose a number from 1 to 100000", c.stream_credit);
        gc.stream_credit = (uint32_t)v;
    }
    int http_on = strcmp(c.http_listen, "off") != 0;
    http_api_config hc;
    http_api_config_init(&hc);
    char http_host[256];
    if (http_on) {
        split_listen("--http-listen", c.http_listen, http_host, sizeof http_host, &hc.port);
        hc.host = http_host;
        if (!is_loopback(http_host) && !c.allow_remote)
            die("--http-listen %s: Chute has no authentication yet, so it listens on loopback "
                "only; pass --allow-remote to listen on %s anyway",
                c.http_listen, http_host);
        hc.limits.max_body_size = (size_t)max_msg;
        hc.limits.idle_timeout_ms = gc.limits.idle_timeout_ms;
        hc.limits.request_timeout_ms = gc.limits.request_timeout_ms;
        hc.grpc_host = host;
    }
    if (c.max_connections_per_peer)
        (void)count_of("--max-connections-per-peer", c.max_connections_per_peer, 100000000ULL);
    if (c.max_connections)
        (void)count_of("--max-connections", c.max_connections, 100000000ULL);

    chute_engine *e;
    chute_error err;
    if (chute_engine_open(&e, &eo, &err) != 0) {
        chuted_log("cannot open the data directory: %s", err.message);
        return 1;
    }
    char abs[PATH_MAX];
    const char *db = chute_engine_db_path(e);
    chuted_log("Chute %s", CHUTE_VERSION);
    chuted_log("data in %s (durability %s)", realpath(db, abs) ? abs : db,
               chute_durability_name(eo.durability));
    chute_engine_stats st;
    chute_engine_get_stats(e, &st);
    uint32_t max_conn, per_peer;
    connection_caps(&c, http_on ? 2 : 1, &max_conn, &per_peer);
    gc.limits.max_connections = hc.limits.max_connections = max_conn;
    gc.limits.max_connections_per_peer = hc.limits.max_connections_per_peer = per_peer;
    chuted_log("recovered %llu jobs (%llu activatable, %llu activated, %llu open "
               "incidents)",
               (unsigned long long)st.jobs, (unsigned long long)st.activatable,
               (unsigned long long)st.activated, (unsigned long long)st.incidents);
    if (eo.max_jobs && st.jobs >= eo.max_jobs)
        chuted_log("holding %llu jobs, at or over --max-jobs %llu: creates are "
                   "refused until jobs are completed or cancelled",
                   (unsigned long long)st.jobs, (unsigned long long)eo.max_jobs);

    daemon_state d = {0};
    d.loop = uv_default_loop();
    metrics *m = NULL;
    if (metrics_new(&m) != 0 || broker_open(&d.b, d.loop, e, &err) != 0) {
        chuted_log("out of memory");
        return 1;
    }
    broker_set_max_inflight(d.b, (size_t)max_inflight);
    metrics_install(m, e);
    gc.metrics = m;
    if (gateway_open(&d.gw, d.loop, d.b, &gc, &err) != 0) {
        chuted_log("cannot listen on %s: %s", c.grpc_listen, err.message);
        chute_engine_close(e);
        return 1;
    }
    chuted_log("gRPC listening on %s:%d", host, gateway_port(d.gw));
    if (http_on) {
        hc.metrics = m;
        hc.gateway = d.gw;
        if (http_api_open(&d.api, d.loop, d.b, &hc, &err) != 0) {
            chuted_log("cannot listen on %s: %s", c.http_listen, err.message);
            chute_engine_close(e);
            return 1;
        }
        chuted_log("HTTP listening on %s:%d", http_host, http_api_port(d.api));
    }
    uv_signal_init(d.loop, &d.sigterm);
    uv_signal_init(d.loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    chuted_log("ready");

    uv_run(d.loop, UV_RUN_DEFAULT);

    http_api_free(d.api);
    gateway_free(d.gw);
    broker_free(d.b);
    metrics_uninstall(e);
    metrics_free(m);
    int rc = chute_engine_commit(e, &err);
    if (rc != 0)
        chuted_log("final commit failed: %s", err.message);
    chute_engine_close(e);
    int lrc = uv_loop_close(d.loop);
    if (lrc != 0)
        chuted_log("loop closed with handles open: %s", uv_strerror(lrc));
    chuted_log("stopped");
    return rc == 0 ? 0 : 1;
}
