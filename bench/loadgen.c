/*
 * The load generator: one program, every backend (lg.h), the scenarios of
 * the comparison benchmark. scripts/bench.sh starts each broker, runs this
 * against it and stops it.
 *
 *   loadgen BACKEND ADDR SCENARIO [key=value ...]
 *
 * BACKEND: chute | beanstalkd | redis | postgres
 * SCENARIO and its keys (every loop is bounded in count and in time):
 *   burn      n= workers= batch= reps=   N jobs created first, W connections
 *             drain them taking up to `batch` per round trip; jobs/s (median).
 *   lifecycle n= conns= batch= reps=     each connection loops create a batch,
 *             take it, complete it; jobs/s through the whole life of a job.
 *   rate      rates=R1,R2 secs= workers= open loop at each rate; latency from
 *             the intended send time to handler start (p50 p99 p99.9 max).
 *   search    start= max= secs= workers= the highest rate whose p99 < 10 ms.
 *   fill      n= pid=                    queue N jobs; broker RSS per job.
 *   probe     n=                         wait until a job can be taken (after
 *             a restart), then the activation latency at depth.
 *   idle      conns= secs= pid=          idle long-polling workers; broker CPU.
 *   process   bpmn=FILE | model=gateways, id= n= reps= inflight= conns= conc= jobs_active=
 *             stream= secs=                Chute only: process instances created with
 *             CreateProcessInstanceWithResult (at most `inflight` open), their jobs
 *             done by one C job worker per type; instances completed per second
 *             (median of the rounds) and creation-to-completion p50 and p99.
 *   timers    n= delay= reps= inflight= conns= secs= dump=  Chute only: per round, N
 *             instances of start -> timer (delay ms) -> end created as fast as possible;
 *             per instance the engine's lateness endedAt - (startedAt + delay) of the
 *             timer event (GetProcessInstance); p50 p99 p99.9 (medians of the rounds),
 *             the worst round's p99 and the largest lateness seen.
 * Every figure is printed as `bench: <name> <value> <unit>`, name= gives the
 * prefix.
 */
#include "lg.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------- */

static const lg_backend *be;
static const char *addr;
static int argc_g;
static char **argv_g;

static const char *opt(const char *key, const char *def)
{
    size_t kl = strlen(key);
    for (int i = 4; i < argc_g; i++)
        if (strncmp(argv_g[i], key, kl) == 0 && argv_g[i][kl] == '=')
            return argv_g[i] + kl + 1;
    return def;
}

static long long opti(const char *key, long long def)
{
    const char *v = opt(key, NULL);
    return v ? strtoll(v, NULL, 10) : def;
}

static const char *name;

static void figure(const char *suffix, double value, const char *unit)
{
    printf("bench: %s%s %.*f %s\n", name, suffix, value >= 100 || value == floor(value) ? 0 : 2,
           value, unit);
    fflush(stdout);
}

static lg_conn *must_open(void)
{
    lg_conn *c;
    if (be->open(&c, addr) != 0)
        exit(1);
    return c;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Creates |n| jobs on |queue| from one connection in batches of 1 000.
 * Returns the seconds it took. */
static double fill_queue(lg_conn *c, const char *queue, long long n)
{
    /* Separate payload buffers: fill may run while make_payloads is not. */
    char *buf = malloc((size_t)1000 * (LG_PAYLOAD + 1));
    char *ps[1000];
    for (int i = 0; i < 1000; i++)
        ps[i] = buf + (size_t)i * (LG_PAYLOAD + 1);
    int64_t t0 = lg_now_ns();
    for (long long done = 0; done < n; done += 1000) {
        int k = (int)(n - done < 1000 ? n - done : 1000);
        for (int i = 0; i < k; i++)
            lg_payload(ps[i], t0, done + i);
        if (be->put(c, queue, ps, k) != 0)
            exit(1);
    }
    free(buf);
    return (double)(lg_now_ns() - t0) / 1e9;
}

/* ---- burn-down ----------------------------------------------------------- */

typedef struct burn_ctx {
    char queue[128];
    long long n;
    int batch;
    atomic_llong taken;
    atomic_int failed;
    int64_t deadline;
} burn_ctx;

static void *burn_worker(void *arg)
{
    burn_ctx *b = arg;
    lg_conn *c = must_open();
    lg_job *jobs = calloc((size_t)b->batch, sizeof *jobs);
    while (atomic_load(&b->taken) < b->n && lg_now_ns() < b->deadline) {
        int k = be->take(c, b->queue, jobs, b->batch, 0);
        if (k < 0) {
            atomic_fetch_add(&b->failed, 1);
            break;
        }
        if (k == 0) {
            usleep(200); /* the rest is held by other workers */
            continue;
        }
        atomic_fetch_add(&b->taken, k);
        if (be->done(c, b->queue, jobs, k) != 0) {
            atomic_fetch_add(&b->failed, 1);
            break;
        }
    }
    atomic_fetch_add(&b->failed, be->flush(c));
    be->close(c);
    free(jobs);
    return NULL;
}

static void scenario_burn(void)
{
    long long n = opti("n", 20000);
    int workers = (int)opti("workers", 1), batch = (int)opti("batch", 1000);
    int reps = (int)opti("reps", 3);
    double *rates = calloc((size_t)reps, sizeof *rates), *creates = calloc((size_t)reps, sizeof *creates);
    lg_conn *prod = must_open();
    for (int r = 0; r < reps; r++) {
        burn_ctx b = {.n = n, .batch = batch};
        snprintf(b.queue, sizeof b.queue, "burn-%d-w%d-%d", (int)getpid(), workers, r);
        creates[r] = n / fill_queue(prod, b.queue, n);
        pthread_t th[64];
        int64_t t0 = lg_now_ns();
        b.deadline = t0 + 120000000000LL;
        for (int i = 0; i < workers && i < 64; i++)
            pthread_create(&th[i], NULL, burn_worker, &b);
        for (int i = 0; i < workers && i < 64; i++)
            pthread_join(th[i], NULL);
        double secs = (double)(lg_now_ns() - t0) / 1e9;
        if (atomic_load(&b.failed) || atomic_load(&b.taken) < n) {
            fprintf(stderr, "loadgen: burn: %lld of %lld jobs drained, %d failures\n",
                    (long long)atomic_load(&b.taken), n, atomic_load(&b.failed));
            exit(1);
        }
        rates[r] = n / secs;
        fprintf(stderr, "loadgen: %s burn rep %d: %.0f jobs/s (created at %.0f/s)\n", name, r,
                rates[r], creates[r]);
    }
    be->close(prod);
    figure("", median(rates, reps), "jobs/s");
    figure("_create", median(creates, reps), "jobs/s");
}

/* ---- lifecycle: create + take + complete, per connection ----------------- */

typedef struct life_ctx {
    long long per_conn;
    int batch;
    int idx;
    int rep;
    int failed;
} life_ctx;

static void *life_worker(void *arg)
{
    life_ctx *l = arg;
    lg_conn *c = must_open();
    char queue[128];
    snprintf(queue, sizeof queue, "life-%d-%d-%d", (int)getpid(), l->rep, l->idx);
    char *buf = malloc((size_t)l->batch * (LG_PAYLOAD + 1));
    char **ps = malloc(sizeof *ps * (size_t)l->batch);
    lg_job *jobs = calloc((size_t)l->batch, sizeof *jobs);
    for (int i = 0; i < l->batch; i++)
        ps[i] = buf + (size_t)i * (LG_PAYLOAD + 1);
    int64_t deadline = lg_now_ns() + 120000000000LL;
    for (long long done = 0; done < l->per_conn && lg_now_ns() < deadline;) {
        int k = (int)(l->per_conn - done < l->batch ? l->per_conn - done : l->batch);
        for (int i = 0; i < k; i++)
            lg_payload(ps[i], lg_now_ns(), done + i);
        if (be->put(c, queue, ps, k) != 0) {
            l->failed = 1;
            break;
        }
        int got = 0;
        while (got < k && lg_now_ns() < deadline) {
            int t = be->take(c, queue, jobs, k - got, 0);
            if (t < 0 || be->done(c, queue, jobs, t) != 0) {
                l->failed = 1;
                break;
            }
            got += t;
        }
        if (l->failed)
            break;
        done += got;
    }
    if (be->flush(c) != 0)
        l->failed = 1;
    be->close(c);
    free(buf);
    free(ps);
    free(jobs);
    return NULL;
}

static void scenario_lifecycle(void)
{
    long long n = opti("n", 20000);
    int conns = (int)opti("conns", 1), batch = (int)opti("batch", 1000);
    int reps = (int)opti("reps", 3);
    if (conns > 64)
        conns = 64;
    double *rates = calloc((size_t)reps, sizeof *rates);
    for (int r = 0; r < reps; r++) {
        life_ctx l[64];
        pthread_t th[64];
        int64_t t0 = lg_now_ns();
        for (int i = 0; i < conns; i++) {
            l[i] = (life_ctx){.per_conn = n / conns, .batch = batch, .idx = i, .rep = r};
            pthread_create(&th[i], NULL, life_worker, &l[i]);
        }
        for (int i = 0; i < conns; i++) {
            pthread_join(th[i], NULL);
            if (l[i].failed) {
                fprintf(stderr, "loadgen: lifecycle: connection %d failed\n", i);
                exit(1);
            }
        }
        rates[r] = (double)(n / conns * conns) / ((double)(lg_now_ns() - t0) / 1e9);
        fprintf(stderr, "loadgen: %s lifecycle rep %d: %.0f jobs/s\n", name, r, rates[r]);
    }
    figure("", median(rates, reps), "jobs/s");
}

/* ---- open loop: a fixed arrival rate ------------------------------------- */

typedef struct rate_ctx {
    char queue[128];
    double rate;
    long long total;
    int producers;
    int64_t t0;
    atomic_llong sent, received;
    int64_t *lat; /* ns, one per received job */
    atomic_int stop;
    int64_t hard_end;
    atomic_int failed;
} rate_ctx;

typedef struct prod_arg {
    rate_ctx *r;
    int idx;
} prod_arg;

static void *producer(void *arg)
{
    prod_arg *p = arg;
    rate_ctx *r = p->r;
    lg_conn *c = must_open();
    char *buf = malloc((size_t)1000 * (LG_PAYLOAD + 1));
    char *ps[1000];
    for (int i = 0; i < 1000; i++)
        ps[i] = buf + (size_t)i * (LG_PAYLOAD + 1);
    double gap = 1e9 / r->rate;
    /* This producer sends jobs idx, idx + P, idx + 2P, ... each at its
     * intended time; jobs already due when it comes back from a send go
     * together in one batch, so a slow send delays but never drops the
     * schedule (and the delay shows in the latency). */
    for (long long seq = p->idx; seq < r->total && lg_now_ns() < r->hard_end;) {
        lg_sleep_until(r->t0 + (int64_t)(seq * gap));
        int64_t now = lg_now_ns();
        int k = 0;
        for (; k < 1000 && seq < r->total; k++, seq += r->producers) {
            int64_t t = r->t0 + (int64_t)(seq * gap);
            if (k > 0 && t > now)
                break;
            lg_payload(ps[k], t, seq);
        }
        if (be->put(c, r->queue, ps, k) != 0) {
            atomic_fetch_add(&r->failed, 1);
            break;
        }
        atomic_fetch_add(&r->sent, k);
    }
    be->close(c);
    free(buf);
    return NULL;
}

static void on_job(void *ud, int64_t t_ns)
{
    rate_ctx *r = ud;
    long long i = atomic_fetch_add(&r->received, 1);
    if (i < r->total)
        r->lat[i] = lg_now_ns() - t_ns;
}

static void *consumer(void *arg)
{
    rate_ctx *r = arg;
    lg_conn *c = must_open();
    if (be->consume) {
        be->consume(c, r->queue, on_job, r, &r->stop, r->hard_end);
    } else {
        lg_job jobs[100];
        while (!atomic_load(&r->stop) && lg_now_ns() < r->hard_end) {
            int k = be->take(c, r->queue, jobs, 100, 100);
            if (k < 0) {
                atomic_fetch_add(&r->failed, 1);
                break;
            }
            for (int i = 0; i < k; i++)
                on_job(r, jobs[i].t_ns);
            if (k > 0 && be->done(c, r->queue, jobs, k) != 0) {
                atomic_fetch_add(&r->failed, 1);
                break;
            }
        }
        be->flush(c);
    }
    be->close(c);
    return NULL;
}

typedef struct rate_result {
    double achieved;
    double p50, p99, p999, max; /* us */
    long long missing;
} rate_result;

static int rate_seq;

static rate_result run_rate(double rate, double secs, int workers)
{
    rate_ctx r = {.rate = rate, .total = (long long)(rate * secs)};
    snprintf(r.queue, sizeof r.queue, "rate-%d-%d", (int)getpid(), rate_seq++);
    r.producers = rate >= 4000 ? 4 : rate >= 1000 ? 2 : 1;
    r.lat = calloc((size_t)r.total, sizeof *r.lat);
    pthread_t cons[64], prods[8];
    prod_arg pa[8];
    if (workers > 64)
        workers = 64;
    r.t0 = lg_now_ns() + 300000000; /* consumers connect and wait first */
    r.hard_end = r.t0 + (int64_t)(secs * 1e9) + 5000000000LL;
    for (int i = 0; i < workers; i++)
        pthread_create(&cons[i], NULL, consumer, &r);
    for (int i = 0; i < r.producers; i++) {
        pa[i] = (prod_arg){&r, i};
        pthread_create(&prods[i], NULL, producer, &pa[i]);
    }
    for (int i = 0; i < r.producers; i++)
        pthread_join(prods[i], NULL);
    int64_t prod_end = lg_now_ns();
    long long sent = atomic_load(&r.sent);
    /* Grace for what is still queued: up to 2 s after the last send. */
    while (atomic_load(&r.received) < sent && lg_now_ns() < prod_end + 2000000000LL)
        usleep(1000);
    atomic_store(&r.stop, 1);
    int64_t stop_at = lg_now_ns();
    for (int i = 0; i < workers; i++)
        pthread_join(cons[i], NULL);
    long long got = atomic_load(&r.received);
    if (got > r.total)
        got = r.total;
    rate_result res = {0};
    res.achieved = (double)sent / ((double)(prod_end - r.t0) / 1e9);
    res.missing = sent - got;
    /* A job never received counts with at least the time it waited until
     * the end of the grace, so losing the tail cannot make it look short. */
    long long m = got;
    for (long long i = 0; i < res.missing && m < r.total; i++)
        r.lat[m++] = stop_at - (prod_end - 1);
    if (m == 0) {
        res.p50 = res.p99 = res.p999 = res.max = INFINITY;
    } else {
        qsort(r.lat, (size_t)m, sizeof *r.lat, cmp_i64);
        res.p50 = r.lat[(size_t)(m * 0.50)] / 1e3;
        res.p99 = r.lat[(size_t)(m * 0.99)] / 1e3;
        res.p999 = r.lat[(size_t)(m * 0.999)] / 1e3;
        res.max = r.lat[m - 1] / 1e3;
    }
    if (atomic_load(&r.failed) || sent < r.total * 9 / 10)
        res.p99 = res.p999 = res.max = INFINITY; /* could not even send at this rate */
    fprintf(stderr,
            "loadgen: %s rate %.0f/s: sent %lld (%.0f/s) missing %lld p50 %.0f us p99 %.0f us "
            "p99.9 %.0f us max %.0f us\n",
            name, rate, sent, res.achieved, res.missing, res.p50, res.p99, res.p999, res.max);
    free(r.lat);
    return res;
}

static void rate_name(char *buf, size_t len, const char *what, double rate)
{
    if (rate >= 1000 && fmod(rate, 1000) == 0)
        snprintf(buf, len, "_%s_%.0fk", what, rate / 1000);
    else
        snprintf(buf, len, "_%s_%.0f", what, rate);
}

static void scenario_rate(void)
{
    double secs = atof(opt("secs", "3"));
    int workers = (int)opti("workers", 2);
    char list[256];
    snprintf(list, sizeof list, "%s", opt("rates", "1000,10000"));
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double rate = atof(tok);
        rate_result r = run_rate(rate, secs, workers);
        char s[64];
        rate_name(s, sizeof s, "p50", rate);
        figure(s, r.p50, "us");
        rate_name(s, sizeof s, "p99", rate);
        figure(s, r.p99, "us");
        rate_name(s, sizeof s, "p999", rate);
        figure(s, r.p999, "us");
        rate_name(s, sizeof s, "max", rate);
        figure(s, r.max, "us");
    }
}

/* One step of the search: the rate passes when p99 < 10 ms and nothing was
 * lost. On a shared 2-core machine one scheduling hiccup decides a short
 * step's p99, so a failed step is run once more before the rate counts as
 * too high. */
static int rate_passes(double rate, double secs, int workers)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        rate_result r = run_rate(rate, secs, workers);
        if (r.p99 < 10000 && r.missing == 0)
            return 1;
    }
    return 0;
}

static void scenario_search(void)
{
    double secs = atof(opt("secs", "2"));
    int workers = (int)opti("workers", 2);
    double lo = 0, hi = 0, rate = atof(opt("start", "1000")), max = atof(opt("max", "128000"));
    /* Double while p99 stays under 10 ms, then halve the gap twice. */
    for (; rate <= max; rate *= 2) {
        if (!rate_passes(rate, secs, workers)) {
            hi = rate;
            break;
        }
        lo = rate;
    }
    /* Not even the first rate: look below it, down to 100 jobs/s. */
    while (lo == 0 && hi >= 200) {
        hi /= 2;
        if (rate_passes(hi, secs, workers)) {
            lo = hi;
            hi *= 2;
        }
    }
    for (int i = 0; hi > 0 && lo > 0 && i < 2; i++) {
        double mid = (lo + hi) / 2;
        if (rate_passes(mid, secs, workers))
            lo = mid;
        else
            hi = mid;
    }
    figure("", lo, "jobs/s");
}

/* ---- depth ----------------------------------------------------------------- */

static void scenario_fill(void)
{
    long long n = opti("n", 1000000);
    pid_t pid = (pid_t)opti("pid", 0);
    const char *queue = opt("queue", "depth");
    lg_conn *c = must_open();
    usleep(200000);
    long long before = pid ? lg_rss_kb(pid) : -1;
    double secs = fill_queue(c, queue, n);
    usleep(500000);
    long long after = pid ? lg_rss_kb(pid) : -1;
    be->close(c);
    figure("_fill", n / secs, "jobs/s");
    if (before > 0 && after > 0) {
        figure("_rss_mb", after / 1024.0, "MiB");
        figure("_bytes_per_job", (double)(after - before) * 1024.0 / n - LG_PAYLOAD, "B");
    }
}

static void scenario_probe(void)
{
    const char *queue = opt("queue", "depth");
    int samples = (int)opti("samples", 200);
    lg_conn *c = NULL;
    lg_job j;
    int64_t deadline = lg_now_ns() + 600000000000LL;
    /* Until the broker answers with a job: it may still be recovering. */
    for (;;) {
        if (!c && be->open(&c, addr) != 0)
            c = NULL;
        if (c) {
            int k = be->take(c, queue, &j, 1, 0);
            if (k == 1) {
                be->done(c, queue, &j, 1);
                be->flush(c);
                break;
            }
            if (k < 0) {
                be->close(c);
                c = NULL;
            }
        }
        if (lg_now_ns() > deadline) {
            fprintf(stderr, "loadgen: probe: no job within 600 s\n");
            exit(1);
        }
        usleep(20000);
    }
    int64_t *t = calloc((size_t)samples, sizeof *t);
    int m = 0;
    for (int i = 0; i < samples; i++) {
        int64_t t0 = lg_now_ns();
        int k = be->take(c, queue, &j, 1, 0);
        t[m++] = lg_now_ns() - t0;
        if (k != 1)
            break;
        be->done(c, queue, &j, 1);
        be->flush(c);
    }
    qsort(t, (size_t)m, sizeof *t, cmp_i64);
    figure("_activate_p50", t[m / 2] / 1e3, "us");
    figure("_activate_p99", t[(size_t)(m * 0.99)] / 1e3, "us");
    be->close(c);
    free(t);
}

/* ---- idle ------------------------------------------------------------------ */

static void scenario_idle(void)
{
    int conns = (int)opti("conns", 1000);
    double secs = atof(opt("secs", "10"));
    pid_t pid = (pid_t)opti("pid", 0);
    if (!be->idle_start || pid <= 0) {
        fprintf(stderr, "loadgen: idle needs pid= and a backend with idle support\n");
        exit(2);
    }
    void *h = be->idle_start(addr, "idle", conns);
    sleep(2); /* connection set-up is not idle time */
    long long t0 = lg_tree_cpu_ticks(pid);
    int64_t w0 = lg_now_ns();
    usleep((useconds_t)(secs * 1e6));
    long long t1 = lg_tree_cpu_ticks(pid);
    double wall = (double)(lg_now_ns() - w0) / 1e9;
    be->idle_stop(h);
    figure("", (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) / wall * 100.0, "%cpu");
}

/* ---- process instances ----------------------------------------------------- */

/* A model with an exclusive and a parallel gateway: orders over 100 get a
 * review, then stock is reserved and the invoice sent in parallel, and once
 * both are done the customer is notified. */
#define BPMN_NS                                                                                    \
    "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                                  \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\""
#define BPMN_TASK(id, type)                                                                        \
    "<bpmn:serviceTask id=\"" id "\"><bpmn:extensionElements><zeebe:taskDefinition type=\"" type   \
    "\"/></bpmn:extensionElements></bpmn:serviceTask>"
#define BPMN_FLOW(id, from, to)                                                                    \
    "<bpmn:sequenceFlow id=\"" id "\" sourceRef=\"" from "\" targetRef=\"" to "\"/>"

/* clang-format off */
static const char GATEWAYS_XML[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><bpmn:definitions " BPMN_NS
    " id=\"bench-gateways-defs\"><bpmn:process id=\"bench-gateways\" isExecutable=\"true\">"
    "<bpmn:startEvent id=\"start\"/>" BPMN_FLOW("f1", "start", "route")
    "<bpmn:exclusiveGateway id=\"route\" default=\"small\"/>"
    "<bpmn:sequenceFlow id=\"big\" sourceRef=\"route\" targetRef=\"review\">"
    "<bpmn:conditionExpression>=amount &gt; 100</bpmn:conditionExpression></bpmn:sequenceFlow>"
    BPMN_FLOW("small", "route", "merge") BPMN_TASK("review", "review-order")
    BPMN_FLOW("reviewed", "review", "merge") "<bpmn:exclusiveGateway id=\"merge\"/>"
    BPMN_FLOW("f2", "merge", "fork") "<bpmn:parallelGateway id=\"fork\"/>"
    BPMN_FLOW("fa", "fork", "reserve") BPMN_FLOW("fb", "fork", "invoice")
    BPMN_TASK("reserve", "reserve-stock") BPMN_TASK("invoice", "send-invoice")
    BPMN_FLOW("ja", "reserve", "join") BPMN_FLOW("jb", "invoice", "join")
    "<bpmn:parallelGateway id=\"join\"/>" BPMN_FLOW("f3", "join", "notify")
    BPMN_TASK("notify", "notify-customer") BPMN_FLOW("f4", "notify", "end")
    "<bpmn:endEvent id=\"end\"/></bpmn:process></bpmn:definitions>";
/* clang-format on */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static void scenario_process(void)
{
    if (be != &lg_chute) {
        fprintf(stderr, "loadgen: process runs against chute only\n");
        exit(2);
    }
    const char *bpmn = opt("bpmn", NULL), *model = opt("model", NULL);
    lg_process_opts o = {.addr = addr};
    char *file = NULL;
    if (bpmn) {
        file = read_file(bpmn, &o.xml_len);
        if (!file) {
            fprintf(stderr, "loadgen: process: cannot read the model %s\n", bpmn);
            exit(1);
        }
        o.xml = file;
        const char *slash = strrchr(bpmn, '/');
        o.resource_name = slash ? slash + 1 : bpmn;
    } else if (model && strcmp(model, "gateways") == 0) {
        o.xml = GATEWAYS_XML;
        o.xml_len = sizeof GATEWAYS_XML - 1;
        o.resource_name = "bench-gateways.bpmn";
    } else {
        fprintf(stderr, "loadgen: process needs bpmn=FILE or model=gateways\n");
        exit(2);
    }
    o.bpmn_process_id = opt("id", NULL);
    o.n = opti("n", 5000);
    o.inflight = (int)opti("inflight", 256);
    o.conns = (int)opti("conns", 2);
    o.concurrency = (int)opti("conc", 16);
    o.max_jobs_active = (int)opti("jobs_active", 64);
    o.stream = (int)opti("stream", 1);
    o.max_secs = atof(opt("secs", "60"));
    int reps = (int)opti("reps", 3);
    if (o.n < 1 || o.n > 10000000 || reps < 1 || reps > 100 || o.max_secs <= 0) {
        fprintf(stderr, "loadgen: process: n must be 1..10000000, reps 1..100, secs > 0\n");
        exit(2);
    }
    lg_process *p;
    if (lg_process_open(&p, &o) != 0)
        exit(1);
    double *rate = calloc((size_t)reps, sizeof *rate), *p50 = calloc((size_t)reps, sizeof *p50),
           *p99 = calloc((size_t)reps, sizeof *p99), *mx = calloc((size_t)reps, sizeof *mx);
    int failed = 0;
    for (int r = 0; r < reps && !failed; r++) {
        lg_process_result res;
        failed = lg_process_round(p, r, &res) != 0;
        rate[r] = res.rate;
        p50[r] = res.p50_ms;
        p99[r] = res.p99_ms;
        mx[r] = res.max_ms;
        fprintf(stderr,
                "loadgen: %s round %d: %lld instances in %.2f s: %.0f instances/s, creation to "
                "completion p50 %.1f ms p99 %.1f ms max %.1f ms%s\n",
                name, r, res.done, res.secs, res.rate, res.p50_ms, res.p99_ms, res.max_ms,
                failed ? " (FAILED)" : "");
    }
    lg_process_close(p);
    free(file);
    if (failed) {
        fprintf(stderr, "loadgen: process: not every instance completed: no figures\n");
        exit(1);
    }
    figure("_rate", median(rate, reps), "instances/s");
    figure("_p50", median(p50, reps), "ms");
    figure("_p99", median(p99, reps), "ms");
    figure("_max", median(mx, reps), "ms");
    free(rate);
    free(p50);
    free(p99);
    free(mx);
}

/* ---- timer accuracy --------------------------------------------------------- */

static void scenario_timers(void)
{
    if (be != &lg_chute) {
        fprintf(stderr, "loadgen: timers runs against chute only\n");
        exit(2);
    }
    lg_timer_opts o = {.addr = addr};
    o.n = opti("n", 10000);
    o.delay_ms = opti("delay", 1000);
    o.inflight = (int)opti("inflight", 512);
    o.conns = (int)opti("conns", 2);
    o.max_secs = atof(opt("secs", "60"));
    o.dump = opt("dump", NULL);
    int reps = (int)opti("reps", 3);
    if (o.n < 1 || o.n > 10000000 || o.delay_ms < 1 || o.max_secs <= 0 || reps < 1 ||
        reps > 100) {
        fprintf(stderr,
                "loadgen: timers: n must be 1..10000000, delay >= 1 ms, secs > 0, reps 1..100\n");
        exit(2);
    }
    double *rate = calloc((size_t)reps, sizeof *rate), *p50 = calloc((size_t)reps, sizeof *p50),
           *p99 = calloc((size_t)reps, sizeof *p99), *p999 = calloc((size_t)reps, sizeof *p999);
    double worst_p99 = 0, worst_max = 0;
    for (int i = 0; i < reps; i++) {
        lg_timer_result r;
        int rc = lg_timer_run(&o, &r);
        fprintf(stderr,
                "loadgen: %s round %d: %lld instances created in %.2f s (%.0f/s); timer "
                "lateness (engine clock, ms) min %.0f p50 %.0f p99 %.0f p99.9 %.0f max %.0f over "
                "%lld timers\n",
                name, i, r.created, r.create_secs, r.create_rate, r.min_ms, r.p50_ms, r.p99_ms,
                r.p999_ms, r.max_ms, r.measured);
        if (rc != 0) {
            fprintf(stderr, "loadgen: timers: not every timer was measured: no figures\n");
            exit(1);
        }
        rate[i] = r.create_rate;
        p50[i] = r.p50_ms;
        p99[i] = r.p99_ms;
        p999[i] = r.p999_ms;
        worst_p99 = r.p99_ms > worst_p99 ? r.p99_ms : worst_p99;
        worst_max = r.max_ms > worst_max ? r.max_ms : worst_max;
    }
    figure("_create_rate", median(rate, reps), "instances/s");
    figure("_lateness_p50", median(p50, reps), "ms");
    figure("_lateness_p99", median(p99, reps), "ms");
    figure("_lateness_p999", median(p999, reps), "ms");
    figure("_lateness_p99_worst", worst_p99, "ms");
    figure("_lateness_max", worst_max, "ms");
    free(rate);
    free(p50);
    free(p99);
    free(p999);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: loadgen chute|beanstalkd|redis|postgres HOST:PORT SCENARIO "
                        "[key=value ...]\n");
        return 2;
    }
    argc_g = argc;
    argv_g = argv;
    const lg_backend *all[] = {&lg_chute, &lg_beanstalk, &lg_redis, &lg_pg};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (strcmp(argv[1], all[i]->name) == 0)
            be = all[i];
    if (!be) {
        fprintf(stderr, "loadgen: unknown backend %s\n", argv[1]);
        return 2;
    }
    addr = argv[2];
    name = opt("name", argv[3]);
    const char *s = argv[3];
    if (strcmp(s, "burn") == 0)
        scenario_burn();
    else if (strcmp(s, "lifecycle") == 0)
        scenario_lifecycle();
    else if (strcmp(s, "rate") == 0)
        scenario_rate();
    else if (strcmp(s, "search") == 0)
        scenario_search();
    else if (strcmp(s, "fill") == 0)
        scenario_fill();
    else if (strcmp(s, "probe") == 0)
        scenario_probe();
    else if (strcmp(s, "idle") == 0)
        scenario_idle();
    else if (strcmp(s, "process") == 0)
        scenario_process();
    else if (strcmp(s, "timers") == 0)
        scenario_timers();
    else {
        fprintf(stderr, "loadgen: unknown scenario %s\n", s);
        return 2;
    }
    return 0;
}
