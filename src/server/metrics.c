/*
 * Prometheus metrics; see metrics.h.
 */
#include "server/metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rest.h"

#define MAX_BUCKETS 20

typedef struct histogram {
    const double *bounds; /* upper bounds, ascending; +Inf is implied */
    size_t nbounds;
    uint64_t counts[MAX_BUCKETS + 1]; /* per bucket (not cumulative); last is +Inf */
    double sum;
    uint64_t count;
} histogram;

/* Seconds: from a fast in-memory activation to a long poll that waited its
 * full time (clients ask for 10-60 s). */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
/* Seconds a job waited activatable: from at once to hours of backlog. */
static const double queue_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5,  1,     5,
                                      10,    30,    60,   300,  900, 3600, 14400, 86400};
/* Rows written by one group commit. */
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384};
/* Seconds one commit took (an fsync is typically 0.1-10 ms). */
static const double commit_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};

#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

struct metrics {
    histogram activation[2]; /* by metrics_api */
    histogram queue_time;
    histogram batch;
    histogram commit;
    uint64_t http_status[600];
};

static void hist_init(histogram *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = n;
}

static void hist_observe(histogram *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

int metrics_new(metrics **out)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return CHUTE_ENOMEM;
    hist_init(&m->activation[0], latency_bounds, NBOUNDS(latency_bounds));
    hist_init(&m->activation[1], latency_bounds, NBOUNDS(latency_bounds));
    hist_init(&m->queue_time, queue_bounds, NBOUNDS(queue_bounds));
    hist_init(&m->batch, batch_bounds, NBOUNDS(batch_bounds));
    hist_init(&m->commit, commit_bounds, NBOUNDS(commit_bounds));
    *out = m;
    return 0;
}

void metrics_free(metrics *m)
{
    free(m);
}

static void on_activate(void *ctx, const char *type, int64_t queued_ms)
{
    metrics *m = ctx;
    (void)type;
    hist_observe(&m->queue_time, queued_ms > 0 ? (double)queued_ms / 1000.0 : 0.0);
}

static void on_commit(void *ctx, uint64_t changes, uint64_t duration_ns)
{
    metrics *m = ctx;
    hist_observe(&m->batch, (double)changes);
    hist_observe(&m->commit, (double)duration_ns / 1e9);
}

void metrics_install(metrics *m, chute_engine *e)
{
    if (!m)
        return;
    chute_engine_hooks h = {.on_activate = on_activate, .on_commit = on_commit, .ctx = m};
    chute_engine_set_hooks(e, &h);
}

void metrics_uninstall(chute_engine *e)
{
    chute_engine_set_hooks(e, NULL);
}

void metrics_observe_activation(metrics *m, metrics_api api, double seconds)
{
    if (!m)
        return;
    hist_observe(&m->activation[api == METRICS_API_REST], seconds < 0 ? 0 : seconds);
}

void metrics_count_http(metrics *m, int status)
{
    if (m && status >= 100 && status < 600)
        m->http_status[status]++;
}

uint64_t metrics_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size, resident;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
}

/* ---- rendering ------------------------------------------------------------------------ */

static void family(rest_buf *b, const char *name, const char *type, const char *help)
{
    rest_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format wants: \\, \" and \n. */
static void label_value(rest_buf *b, const char *s)
{
    size_t run = 0, i;
    for (i = 0; s[i]; i++) {
        const char *esc = NULL;
        if (s[i] == '\\')
            esc = "\\\\";
        else if (s[i] == '"')
            esc = "\\\"";
        else if (s[i] == '\n')
            esc = "\\n";
        if (!esc)
            continue;
        rest_buf_append(b, s + run, i - run);
        rest_buf_puts(b, esc);
        run = i + 1;
    }
    rest_buf_append(b, s + run, i - run);
}

static void fmt_double(char *out, size_t cap, double v)
{
    /* The shortest text that reads back as the same double (0.0025, not
     * 0.0025000000000000001): bucket bounds are label values that scrapers
     * compare as strings across scrapes. */
    if (v == (double)(int64_t)v && v > -1e15 && v < 1e15) {
        snprintf(out, cap, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void hist_render(rest_buf *b, const char *name, const char *labels, const histogram *h)
{
    uint64_t cum = 0;
    char num[64];
    const char *sep = labels && *labels ? "," : "";
    labels = labels ? labels : "";
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += h->counts[i];
        if (i < h->nbounds)
            fmt_double(num, sizeof num, h->bounds[i]);
        else
            snprintf(num, sizeof num, "+Inf");
        rest_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, num, cum);
    }
    fmt_double(num, sizeof num, h->sum);
    if (*labels) {
        rest_buf_printf(b, "%s_sum{%s} %s\n", name, labels, num);
        rest_buf_printf(b, "%s_count{%s} %" PRIu64 "\n", name, labels, h->count);
    } else {
        rest_buf_printf(b, "%s_sum %s\n", name, num);
        rest_buf_printf(b, "%s_count %" PRIu64 "\n", name, h->count);
    }
}

/* The per-type figures, gathered once so each family is one block. */
typedef struct type_row {
    char *type;
    chute_type_stats s;
} type_row;

typedef struct type_rows {
    type_row *rows;
    size_t n, cap;
    int failed;
    int64_t now;     /* the engine's clock */
    uint64_t idle;   /* types idle past METRICS_IDLE_GRACE_MS: left out */
    uint64_t folded; /* live types past METRICS_MAX_TYPES, summed into |other| */
    chute_type_stats other;
} type_rows;

/* Adds the figures of |s| into |sum|. */
static void fold(chute_type_stats *sum, const chute_type_stats *s)
{
    sum->activatable += s->activatable;
    sum->activated += s->activated;
    sum->failed += s->failed;
    sum->delayed += s->delayed;
    sum->incidents += s->incidents;
    sum->waiters += s->waiters;
    sum->streams += s->streams;
    if (s->oldest_activatable_since &&
        (!sum->oldest_activatable_since ||
         s->oldest_activatable_since < sum->oldest_activatable_since))
        sum->oldest_activatable_since = s->oldest_activatable_since;
    sum->created_total += s->created_total;
    sum->activated_total += s->activated_total;
    sum->completed_total += s->completed_total;
    sum->failed_total += s->failed_total;
    sum->timed_out_total += s->timed_out_total;
    sum->incidents_total += s->incidents_total;
}

static int add_row(type_rows *t, const char *type, const chute_type_stats *s)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        type_row *r = realloc(t->rows, cap * sizeof *r);
        if (!r)
            return -1;
        t->rows = r;
        t->cap = cap;
    }
    char *name = strdup(type);
    if (!name)
        return -1;
    t->rows[t->n].type = name;
    t->rows[t->n].s = *s;
    t->rows[t->n].s.type = name;
    t->n++;
    return 0;
}

/*
 * A type that has held no job and had no taker for METRICS_IDLE_GRACE_MS
 * has nothing more to show: its series are left out, so that a scrape
 * after a burst of one-off types is soon as small as before it. (Within
 * the grace, scrapes still see its counters' last values.) Past METRICS_MAX_TYPES live types the rest are
 * summed into one row, so the answer stays bounded whatever clients name.
 */
static int collect_type(void *ctx, const chute_type_stats *s)
{
    type_rows *t = ctx;
    if (s->idle_since && t->now - s->idle_since >= METRICS_IDLE_GRACE_MS) {
        t->idle++;
        return 0;
    }
    if (t->n >= METRICS_MAX_TYPES) {
        fold(&t->other, s);
        t->folded++;
        return 0;
    }
    if (add_row(t, s->type, s) != 0) {
        t->failed = 1;
        return 1;
    }
    return 0;
}

static void rows_free(type_rows *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].type);
    free(t->rows);
}

typedef struct type_field {
    const char *name;
    const char *type;
    const char *help;
    size_t offset;
} type_field;

static void type_family(rest_buf *b, const type_rows *t, const type_field *f)
{
    family(b, f->name, f->type, f->help);
    for (size_t i = 0; i < t->n; i++) {
        uint64_t v = *(const uint64_t *)((const char *)&t->rows[i].s + f->offset);
        rest_buf_printf(b, "%s{type=\"", f->name);
        label_value(b, t->rows[i].type);
        rest_buf_printf(b, "\"} %" PRIu64 "\n", v);
    }
}

int metrics_render(metrics *m, chute_engine *e, const metrics_gauges *g, char **out,
                   size_t *out_len)
{
    rest_buf b;
    rest_buf_init(&b, METRICS_MAX_ANSWER);
    type_rows t = {0};
    int64_t now = 0;
    size_t shown = 0;
    if (e) {
        t.now = chute_engine_now(e);
        if (chute_engine_list_types(e, collect_type, &t) != 0 || t.failed ||
            (t.folded && add_row(&t, METRICS_OTHER_TYPES, &t.other) != 0)) {
            rows_free(&t);
            rest_buf_free(&b);
            return CHUTE_ENOMEM;
        }
        shown = t.folded ? t.n - 1 : t.n;
        now = chute_engine_now(e);
    }
    static const struct {
        const char *state;
        size_t offset;
    } states[] = {
        {"activatable", offsetof(chute_type_stats, activatable)},
        {"activated", offsetof(chute_type_stats, activated)},
        {"failed", offsetof(chute_type_stats, failed)},
        {"delayed", offsetof(chute_type_stats, delayed)},
        {"incident", offsetof(chute_type_stats, incidents)},
    };
    family(&b, "chute_jobs", "gauge",
           "Jobs held by the broker, by type and state (failed: waiting out a retry back-off; "
           "incident: failed with no retries left or an uncaught error).");
    for (size_t i = 0; i < t.n; i++) {
        for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
            uint64_t v = *(const uint64_t *)((const char *)&t.rows[i].s + states[k].offset);
            rest_buf_puts(&b, "chute_jobs{type=\"");
            label_value(&b, t.rows[i].type);
            rest_buf_printf(&b, "\",state=\"%s\"} %" PRIu64 "\n", states[k].state, v);
        }
    }

    static const type_field fields[] = {
        {"chute_jobs_created_total", "counter", "Jobs created, by type.",
         offsetof(chute_type_stats, created_total)},
        {"chute_jobs_activated_total", "counter", "Jobs handed to a worker, by type.",
         offsetof(chute_type_stats, activated_total)},
        {"chute_jobs_completed_total", "counter", "Jobs completed, by type.",
         offsetof(chute_type_stats, completed_total)},
        {"chute_jobs_failed_total", "counter", "Fail commands accepted, by type.",
         offsetof(chute_type_stats, failed_total)},
        {"chute_jobs_timed_out_total", "counter",
         "Leases that ran out before the worker settled the job, by type.",
         offsetof(chute_type_stats, timed_out_total)},
        {"chute_incidents_total", "counter", "Incidents raised, by job type.",
         offsetof(chute_type_stats, incidents_total)},
        {"chute_long_poll_waiters", "gauge",
         "Activation requests waiting for a job of the type (long polls).",
         offsetof(chute_type_stats, waiters)},
        {"chute_job_streams", "gauge", "Job streams open for the type.",
         offsetof(chute_type_stats, streams)},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        type_family(&b, &t, &fields[k]);

    family(&b, "chute_oldest_activatable_job_age_seconds", "gauge",
           "How long the longest-waiting activatable job of the type has waited (0 when none "
           "waits).");
    for (size_t i = 0; i < t.n; i++) {
        int64_t since = t.rows[i].s.oldest_activatable_since;
        double age = since && now > since ? (double)(now - since) / 1000.0 : 0.0;
        char num[64];
        fmt_double(num, sizeof num, age);
        rest_buf_puts(&b, "chute_oldest_activatable_job_age_seconds{type=\"");
        label_value(&b, t.rows[i].type);
        rest_buf_printf(&b, "\"} %s\n", num);
    }
    rows_free(&t);
    if (e) {
        family(&b, "chute_metrics_job_types", "gauge",
               "Job types in this answer: shown with series of their own, folded into the type "
               "\"" METRICS_OTHER_TYPES "\" (past the first " METRICS_MAX_TYPES_TEXT
               " live types, by name), or idle (no job and no worker waiting for "
               METRICS_IDLE_GRACE_TEXT ": left out).");
        rest_buf_printf(&b, "chute_metrics_job_types{series=\"shown\"} %zu\n", shown);
        rest_buf_printf(&b, "chute_metrics_job_types{series=\"folded\"} %" PRIu64 "\n", t.folded);
        rest_buf_printf(&b, "chute_metrics_job_types{series=\"idle\"} %" PRIu64 "\n", t.idle);
    }

    if (m) {
        family(&b, "chute_activation_request_duration_seconds", "histogram",
               "Server-side time from an activation request's arrival to its answer (gRPC "
               "ActivateJobs, REST POST /v2/jobs/activation), long-poll wait included.");
        hist_render(&b, "chute_activation_request_duration_seconds", "api=\"grpc\"",
                    &m->activation[0]);
        hist_render(&b, "chute_activation_request_duration_seconds", "api=\"rest\"",
                    &m->activation[1]);
        family(&b, "chute_job_queue_time_seconds", "histogram",
               "Time a job spent activatable before it was handed to a worker.");
        hist_render(&b, "chute_job_queue_time_seconds", NULL, &m->queue_time);
        family(&b, "chute_commit_batch_changes", "histogram",
               "Rows written by one group commit (commands of one loop iteration).");
        hist_render(&b, "chute_commit_batch_changes", NULL, &m->batch);
        family(&b, "chute_commit_duration_seconds", "histogram",
               "Time one group commit took, sync included.");
        hist_render(&b, "chute_commit_duration_seconds", NULL, &m->commit);
        family(&b, "chute_http_responses_total", "counter", "HTTP responses sent, by status.");
        for (int s = 100; s < 600; s++) {
            if (m->http_status[s])
                rest_buf_printf(&b, "chute_http_responses_total{code=\"%d\"} %" PRIu64 "\n", s,
                                m->http_status[s]);
        }
    }
    if (g) {
        family(&b, "chute_connections", "gauge", "Client connections open, by protocol.");
        rest_buf_printf(&b, "chute_connections{protocol=\"grpc\"} %" PRIu64 "\n",
                        g->grpc_connections);
        rest_buf_printf(&b, "chute_connections{protocol=\"http\"} %" PRIu64 "\n",
                        g->http_connections);
        family(&b, "chute_grpc_calls", "gauge", "gRPC calls open (streams included).");
        rest_buf_printf(&b, "chute_grpc_calls %" PRIu64 "\n", g->grpc_calls);
        family(&b, "chute_http_requests_in_flight", "gauge",
               "HTTP requests received and not answered yet (long polls included).");
        rest_buf_printf(&b, "chute_http_requests_in_flight %" PRIu64 "\n", g->http_requests);
        family(&b, "chute_long_polls", "gauge", "Long-poll activation requests waiting now.");
        rest_buf_printf(&b, "chute_long_polls %" PRIu64 "\n", g->long_polls);
        family(&b, "chute_ready", "gauge", "1 while the store takes commits, else 0.");
        rest_buf_printf(&b, "chute_ready %d\n", g->ready ? 1 : 0);
        static const char *const proto[2] = {"grpc", "http"};
        family(&b, "chute_connections_ended_total", "counter",
               "Connections chuted ended or refused to protect itself, by protocol and reason: "
               "header_bomb (more oversized header blocks than allowed), control_flood (control "
               "frames past the connection's budget), request_timeout (HTTP: a request not "
               "complete within --request-timeout, answered 408), max_connections and "
               "max_connections_per_peer (closed at accept, over a cap).");
        rest_buf_printf(&b,
                        "chute_connections_ended_total{protocol=\"grpc\",reason=\"header_bomb\"} "
                        "%" PRIu64 "\n",
                        g->ended_header_bomb);
        rest_buf_printf(&b,
                        "chute_connections_ended_total{protocol=\"grpc\",reason=\"control_flood\"}"
                        " %" PRIu64 "\n",
                        g->ended_control_flood);
        rest_buf_printf(
            &b,
            "chute_connections_ended_total{protocol=\"http\",reason=\"request_timeout\"}"
            " %" PRIu64 "\n",
            g->requests_timed_out[METRICS_API_REST]);
        for (int i = 0; i < 2; i++) {
            rest_buf_printf(
                &b,
                "chute_connections_ended_total{protocol=\"%s\",reason=\"max_connections\"}"
                " %" PRIu64 "\n",
                proto[i], g->refused_max[i]);
            rest_buf_printf(&b,
                            "chute_connections_ended_total{protocol=\"%s\","
                            "reason=\"max_connections_per_peer\"} %" PRIu64 "\n",
                            proto[i], g->refused_peer[i]);
        }
        family(&b, "chute_requests_timed_out_total", "counter",
               "Requests ended because they did not arrive whole within --request-timeout (gRPC: "
               "DEADLINE_EXCEEDED and a reset stream; HTTP: 408), by protocol.");
        for (int i = 0; i < 2; i++)
            rest_buf_printf(&b, "chute_requests_timed_out_total{protocol=\"%s\"} %" PRIu64 "\n",
                            proto[i], g->requests_timed_out[i]);
        family(&b, "chute_accept_failures_total", "counter",
               "Times accepting a connection failed (file descriptors ran out: see the log for "
               "the remedy), by protocol.");
        for (int i = 0; i < 2; i++)
            rest_buf_printf(&b, "chute_accept_failures_total{protocol=\"%s\"} %" PRIu64 "\n",
                            proto[i], g->accept_failures[i]);
    }
    if (e) {
        chute_engine_stats st;
        chute_engine_get_stats(e, &st);
        family(&b, "chute_commits_total", "counter", "Transactions committed to the store.");
        rest_buf_printf(&b, "chute_commits_total %" PRIu64 "\n", st.commits);
        /* Both limits in one family, so one query sums all load rejections. */
        family(&b, "chute_requests_rejected_total", "counter",
               "Requests refused with RESOURCE_EXHAUSTED (gRPC 8, HTTP 503) by a load limit: "
               "max_jobs (the broker holds --max-jobs jobs), max_inflight (--max-inflight "
               "commands wait for the commit).");
        rest_buf_printf(&b, "chute_requests_rejected_total{reason=\"max_jobs\"} %" PRIu64 "\n",
                        st.rejected_max_jobs_total);
        rest_buf_printf(&b, "chute_requests_rejected_total{reason=\"max_inflight\"} %" PRIu64 "\n",
                        g ? g->rejected_inflight : 0);
        family(&b, "chute_process_instances", "gauge", "Process instances that are ACTIVE.");
        rest_buf_printf(&b, "chute_process_instances %" PRIu64 "\n", st.instances);
        family(&b, "chute_process_instances_total", "counter",
               "Process instances, by what happened to them: created, completed, terminated "
               "(cancelled or ended by a terminate end event).");
        rest_buf_printf(&b, "chute_process_instances_total{event=\"created\"} %" PRIu64 "\n",
                        st.instances_created_total);
        rest_buf_printf(&b, "chute_process_instances_total{event=\"completed\"} %" PRIu64 "\n",
                        st.instances_completed_total);
        rest_buf_printf(&b, "chute_process_instances_total{event=\"terminated\"} %" PRIu64 "\n",
                        st.instances_terminated_total);
    }
    family(&b, "chute_process_resident_memory_bytes", "gauge",
           "Resident set size of chuted (from /proc/self/statm).");
    rest_buf_printf(&b, "chute_process_resident_memory_bytes %" PRIu64 "\n", metrics_rss_bytes());
    return rest_buf_finish(&b, out, out_len);
}
