/*
 * Crash test: kill the engine's process with SIGKILL at random moments and
 * check, after every kill, that what was acknowledged survived (DESIGN.md,
 * invariants 1-3) and that the database is intact.
 *
 * Each round forks a child that opens the engine on the shared data
 * directory (durability full, default 24 h retention) and runs batches of
 * 1..200 commands: creates with variables, activations whose jobs it
 * completes (with result variables), fails with retries left (with and
 * without back-off) or abandons (the lease runs out), and process instances
 * (see "Processes" below). It reports over a pipe, in fixed-size records:
 *
 *   READY          the engine is open
 *   FIRST_KEY k    the first key this process created (not yet committed)
 *   BEGIN b        batch b starts (its commands change memory only)
 *   COMMIT b       chute_engine_commit() is about to be called
 *   ACK_* k        after the commit returned 0: one record per command
 *   END b          all acknowledgements of batch b are written
 *
 * Only ACK_* records count as acknowledged: the child writes them after the
 * commit returned 0, which is exactly when a transport may answer a client.
 *
 * The parent kills the child 1-60 ms after it reported READY (rounds 1, 6,
 * 11, ...: 1-60 ms after fork, so the kill may also hit the creation of the
 * file, the open and WAL recovery), drains the pipe to EOF (dropping a torn last record), reaps the
 * child, and then opens the engine itself and checks:
 *
 *   - every acknowledged created key is found by chute_engine_get;
 *   - every acknowledged completion reads COMPLETED (with its result
 *     variables), and activating every job of the type never returns one;
 *   - an acknowledged fail is not undone (retries never above the acked value);
 *   - keys are never reused: every acked key is above all keys acked before
 *     it, the first key a new process creates is above every key acked
 *     earlier, and a probe job the parent creates after the reopen too;
 *   - after the engine is closed, PRAGMA integrity_check says "ok".
 *
 * Per round the get checks cover the keys acked in that round plus a random
 * sample of older ones; after the last round they cover every acked key.
 *
 * Processes
 * ---------
 * The same child, in the same batches, also runs process instances: its
 * first batch deploys two models (the getting-started order process, start
 * -> check-inventory -> charge-payment -> ship-items -> end; and one with an
 * exclusive choice and merge, a parallel fork into two tasks and their join,
 * then a last task), then it creates instances of both (awaiting their end)
 * and works their jobs like a worker: it completes them with variables,
 * fails them with retries left (with and without back-off) or abandons
 * them. Its records:
 *
 *   ACK_PCREATE k    instance k was created (aux: which model)
 *   ACK_PCOMPLETE j  job j of a process was completed
 *   ACK_PFAIL j      job j of a process was failed (aux: retries stored)
 *   ACK_PDONE k      after the commit, instance k read COMPLETED; the next
 *   PDONE_HASH h     record holds a hash of its root variables and end time
 *   AWAIT_BAD k      the await callback of k disagrees with that read
 *
 * After every kill the parent checks, besides the jobs:
 *   - every acked instance is found by chute_engine_get_instance, ACTIVE or
 *     COMPLETED, with no incident (every fail leaves retries);
 *   - an instance known COMPLETED (read back by the child after a commit, or
 *     by the parent after an earlier kill) is never ACTIVE again and keeps
 *     its root variables and end time;
 *   - every ACTIVE instance (all of them, from the list of instances) has a
 *     way forward: each of its active elements is a service task waiting
 *     for its own job, which exists with retries in a state a worker can
 *     take it from, and there is at least one (tokens at a join are waited
 *     out by a branch that is still at a job);
 *   - after a tick that ends every lease and back-off, activating every job
 *     of the models' types hands out exactly the jobs those elements wait
 *     for (none lost, no orphan), never an acked completion; an acked fail
 *     of a process job is not undone.
 * After the last round the parent works every remaining job itself, commits,
 * reopens and checks that every acked creation ended COMPLETED (and the
 * instances completed before are unchanged), then the integrity check again.
 *
 * Environment: CHUTE_CRASH_ROUNDS (default 60, at least 1),
 * CHUTE_CRASH_SEED (default: from time and pid; printed for replay),
 * CHUTE_CRASH_KEEP=1 keeps the data directory for inspection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include <chute/engine.h>

#define JOB_TYPE "crash-job"
#define PROBE_TYPE "crash-probe"
#define PARTITION 1
#define KEY_BASE ((int64_t)PARTITION << 51)
#define MAX_BATCH 200
#define LEASE_MS 150
#define READY_TIMEOUT_MS 30000
#define SAMPLE_PER_ROUND 300

/* ---- records on the pipe -------------------------------------------------- */

enum {
    R_READY = 1,
    R_FIRST_KEY,
    R_BEGIN,
    R_COMMIT,
    R_ACK_CREATE,
    R_ACK_COMPLETE,
    R_ACK_FAIL, /* aux = the retries the fail stored */
    R_END,
    R_ERROR, /* aux = chute error code; the child exits after it */
    /* Processes (see "Processes" above). */
    R_ACK_PCREATE,   /* an instance was created (aux = the model) */
    R_ACK_PCOMPLETE, /* a job of a process was completed */
    R_ACK_PFAIL,     /* a job of a process was failed; aux = the retries it stored */
    R_ACK_PDONE,     /* the instance read COMPLETED after the commit; the next record... */
    R_PDONE_HASH,    /* ...carries in |key| the hash of its root variables and end time */
    R_AWAIT_BAD,     /* the instance's await callback disagrees with what the store read */
};

typedef struct rec {
    int32_t type;
    int32_t aux;
    int64_t key;
} rec;

_Static_assert(sizeof(rec) == 16, "records are 16 bytes");

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- processes: the models, their job types, the variables' hash ------------- */

#define NS                                                                                         \
    "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                                  \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\""
#define TASK(id, type)                                                                             \
    "<bpmn:serviceTask id=\"" id "\"><bpmn:extensionElements><zeebe:taskDefinition type=\"" type   \
    "\"/></bpmn:extensionElements></bpmn:serviceTask>"
#define FLOW(id, from, to)                                                                         \
    "<bpmn:sequenceFlow id=\"" id "\" sourceRef=\"" from "\" targetRef=\"" to "\"/>"
#define CFLOW(id, from, to, cond)                                                                  \
    "<bpmn:sequenceFlow id=\"" id "\" sourceRef=\"" from "\" targetRef=\"" to                      \
    "\"><bpmn:conditionExpression>" cond "</bpmn:conditionExpression></bpmn:sequenceFlow>"

/* clang-format off */
/* The getting-started order process: start, three service tasks, end. */
static const char ORDER_XML[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><bpmn:definitions " NS " id=\"crash-order-defs\">"
    "<bpmn:process id=\"crash-order\" isExecutable=\"true\"><bpmn:startEvent id=\"start\"/>"
    FLOW("f1", "start", "check") TASK("check", "check-inventory") FLOW("f2", "check", "charge")
    TASK("charge", "charge-payment") FLOW("f3", "charge", "ship") TASK("ship", "ship-items")
    FLOW("f4", "ship", "end") "<bpmn:endEvent id=\"end\"/></bpmn:process></bpmn:definitions>";

/* An exclusive choice (a review for large amounts, merged back), then a
 * parallel fork into two tasks and their join, then a last task. */
static const char GATEWAY_XML[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><bpmn:definitions " NS " id=\"crash-gw-defs\">"
    "<bpmn:process id=\"crash-gateways\" isExecutable=\"true\"><bpmn:startEvent id=\"start\"/>"
    FLOW("f1", "start", "route") "<bpmn:exclusiveGateway id=\"route\" default=\"skip\"/>"
    CFLOW("big", "route", "review", "=amount &gt; 100") FLOW("skip", "route", "merge")
    TASK("review", "review-order") FLOW("reviewed", "review", "merge")
    "<bpmn:exclusiveGateway id=\"merge\"/>" FLOW("f2", "merge", "fork")
    "<bpmn:parallelGateway id=\"fork\"/>" FLOW("fa", "fork", "reserve") FLOW("fb", "fork", "invoice")
    TASK("reserve", "reserve-stock") TASK("invoice", "send-invoice") FLOW("ja", "reserve", "join")
    FLOW("jb", "invoice", "join") "<bpmn:parallelGateway id=\"join\"/>" FLOW("f3", "join", "notify")
    TASK("notify", "notify-customer") FLOW("f4", "notify", "end")
    "<bpmn:endEvent id=\"end\"/></bpmn:process></bpmn:definitions>";
/* clang-format on */

static const char *const MODEL_IDS[2] = {"crash-order", "crash-gateways"};

/* Every job type of the two models, and the variable its worker sets. */
static const struct {
    const char *type, *var;
} PTYPES[] = {
    {"check-inventory", "inStock"},  {"charge-payment", "paid"},    {"ship-items", "shipped"},
    {"review-order", "reviewed"},    {"reserve-stock", "reserved"}, {"send-invoice", "invoiced"},
    {"notify-customer", "notified"},
};
#define NPTYPES (sizeof PTYPES / sizeof PTYPES[0])

static int deploy_models(chute_engine *e, chute_error *err)
{
    chute_resource res[2] = {
        {"crash-order.bpmn", (const uint8_t *)ORDER_XML, sizeof ORDER_XML - 1},
        {"crash-gateways.bpmn", (const uint8_t *)GATEWAY_XML, sizeof GATEWAY_XML - 1},
    };
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    return chute_engine_deploy(e, res, 2, &dk, &pv, &n, err);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* A hash of a variables document that does not depend on the order of its
 * members (an instance read from the store lists them by name, one held in
 * memory in the order they were set). 0 when it is not a JSON object. */
static uint64_t vars_hash(const char *vars, size_t len)
{
    json_error_t jerr;
    json_t *doc = json_loadb(vars, len, 0, &jerr);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return 0;
    uint64_t h = fnv1a(0xcbf29ce484222325ull, text, strlen(text));
    free(text);
    return h ? h : 1;
}

/* What "unchanged since it completed" compares: the root variables and the
 * end time. */
static uint64_t done_hash(const chute_instance_view *v)
{
    uint64_t h = vars_hash(v->variables, v->variables_len);
    h = fnv1a(h, &v->ended_at, sizeof v->ended_at);
    return h ? h : 1;
}

/* ---- the child ---------------------------------------------------------------- */

static int child_fd = -1;
static rec child_buf[6 * MAX_BATCH + 64];
static size_t child_n;

/* Writes |n| records. Chunks of at most PIPE_BUF bytes are atomic on a pipe;
 * a kill may still tear the stream between or inside chunks, which the
 * parent tolerates. */
static void child_write(const rec *r, size_t n)
{
    const char *p = (const char *)r;
    size_t left = n * sizeof *r;
    while (left > 0) {
        size_t chunk = left > 4096 ? 4096 : left;
        ssize_t w = write(child_fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            _exit(4); /* the parent is gone */
        }
        p += w;
        left -= (size_t)w;
    }
}

static void child_send(int32_t type, int32_t aux, int64_t key)
{
    rec r = {type, aux, key};
    child_write(&r, 1);
}

static void child_queue(int32_t type, int32_t aux, int64_t key)
{
    child_buf[child_n++] = (rec){type, aux, key};
}

static void child_die(int code, const char *what, const chute_error *err)
{
    fprintf(stderr, "crash child: %s: %d %s\n", what, code, err ? err->message : "");
    child_send(R_ERROR, code, 0);
    _exit(3);
}

/* Instances whose job the child completed in the open batch: read back
 * after the commit to learn which ones completed. */
static int64_t child_touched[MAX_BATCH];
static size_t child_ntouched;

/* What the await callbacks of the instances this child created reported:
 * key -> hash of the variables (open addressing; full means no more
 * awaits). */
#define AWAIT_SLOTS 8192
static int64_t await_key[AWAIT_SLOTS];
static uint64_t await_vars[AWAIT_SLOTS];
static size_t await_used;

static size_t await_slot(int64_t key)
{
    size_t i = (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ull >> 51) % AWAIT_SLOTS;
    while (await_key[i] != 0 && await_key[i] != key)
        i = (i + 1) % AWAIT_SLOTS;
    return i;
}

/* Creates await an instance only while the table has room; the callback
 * may run inside the create, before the key is known to the caller. */
static void await_register(int64_t key)
{
    size_t i = await_slot(key);
    if (await_key[i] == 0) {
        await_used++;
        await_key[i] = key;
        await_vars[i] = 0; /* not called back yet */
    }
}

static void child_on_done(void *ctx, const chute_instance_view *v)
{
    (void)ctx;
    await_register(v->key);
    /* An instance that ends TERMINATED would be a bug (nobody cancels):
     * 1 stands for it, a value vars_hash practically never returns. */
    size_t i = await_slot(v->key);
    await_vars[i] =
        v->state == CHUTE_INSTANCE_COMPLETED ? vars_hash(v->variables, v->variables_len) : 1;
}

/* One round of a process worker: activates jobs of a random type of the
 * two models and completes (with variables), fails (with retries left, with
 * or without back-off) or abandons each. Returns the number of jobs. */
static uint32_t child_work_process(chute_engine *e, uint32_t want, int32_t batch)
{
    const char *type = PTYPES[rnd_below(NPTYPES)].type;
    size_t ti = 0;
    while (strcmp(PTYPES[ti].type, type) != 0)
        ti++;
    chute_activate_request req;
    memset(&req, 0, sizeof req);
    req.type = type;
    req.worker = "crash-process-worker";
    req.timeout_ms = LEASE_MS;
    req.max_jobs = (int32_t)want;
    const chute_job_view *jobs;
    size_t count = 0;
    chute_error err;
    int rc = chute_engine_activate(e, &req, 0, &jobs, &count, &err);
    if (rc != 0)
        child_die(rc, "activate (process)", &err);
    int64_t keys[8], pis[8];
    int32_t retries[8];
    for (size_t i = 0; i < count; i++) {
        keys[i] = jobs[i].key;
        pis[i] = jobs[i].process.process_instance_key;
        retries[i] = jobs[i].retries;
    }
    char vars[256];
    for (size_t i = 0; i < count; i++) {
        uint32_t p = rnd_below(100);
        if (p < 70) {
            snprintf(vars, sizeof vars, "{\"%s\":%" PRId64 ",\"lastBatch\":%d}", PTYPES[ti].var,
                     keys[i], batch);
            if ((rc = chute_engine_complete(e, keys[i], vars, 0, &err)) != 0)
                child_die(rc, "complete (process)", &err);
            child_queue(R_ACK_PCOMPLETE, 0, keys[i]);
            if (child_ntouched < MAX_BATCH)
                child_touched[child_ntouched++] = pis[i];
        } else if (p < 90 && retries[i] >= 2) {
            int64_t backoff = rnd_below(2) ? 0 : 20;
            if ((rc = chute_engine_fail(e, keys[i], retries[i] - 1, "crash test process fail",
                                        backoff, "{\"failedOnce\":true}", 0, &err)) != 0)
                child_die(rc, "fail (process)", &err);
            child_queue(R_ACK_PFAIL, retries[i] - 1, keys[i]);
        }
        /* else: the worker vanished; the lease runs out. */
    }
    return (uint32_t)count;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* After the commit: which of the touched instances completed, with what. */
static void child_report_done(chute_engine *e)
{
    if (child_ntouched > 1)
        qsort(child_touched, child_ntouched, sizeof child_touched[0], cmp_i64);
    for (size_t i = 0; i < child_ntouched; i++) {
        if (i > 0 && child_touched[i] == child_touched[i - 1])
            continue;
        int64_t key = child_touched[i];
        chute_instance_view v;
        chute_error err;
        int rc = chute_engine_get_instance(e, key, &v, &err);
        if (rc != 0)
            child_die(rc, "get_instance after commit", &err);
        size_t slot = await_slot(key);
        int awaited = await_key[slot] == key;
        if (v.state == CHUTE_INSTANCE_COMPLETED) {
            child_queue(R_ACK_PDONE, 0, key);
            child_queue(R_PDONE_HASH, 0, (int64_t)done_hash(&v));
            /* An instance this child created and awaited: the callback's
             * variables are what the store now reads. Those created by an
             * earlier child have no await here. */
            if (awaited && await_vars[slot] == 0)
                child_queue(R_AWAIT_BAD, 3, key); /* completed, never called back */
            else if (awaited && await_vars[slot] != vars_hash(v.variables, v.variables_len))
                child_queue(R_AWAIT_BAD, 1, key);
        } else if (awaited && await_vars[slot] != 0) {
            child_queue(R_AWAIT_BAD, 2, key); /* called back, yet not COMPLETED */
        }
    }
    child_ntouched = 0;
}

static void child_main(const char *dir, int fd, uint64_t seed, int round)
{
    child_fd = fd;
    rng_state = seed;
    chute_engine_options opts;
    chute_engine_options_init(&opts);
    opts.data_dir = dir;
    opts.durability = CHUTE_DURABILITY_FULL;
    opts.partition = PARTITION;
    chute_engine *e = NULL;
    chute_error err;
    int rc = chute_engine_open(&e, &opts, &err);
    if (rc != 0)
        child_die(rc, "open", &err);
    child_send(R_READY, 0, 0);

    static char pad[4096];
    memset(pad, 'x', sizeof pad - 1);
    char vars[sizeof pad + 128];
    int first = 1;
    int64_t seq = 0;
    for (int32_t batch = 1;; batch++) {
        /* Mostly small batches (the common case of a lightly loaded
         * broker), some up to the maximum. */
        uint32_t n = rnd_below(3) == 0 ? 1 + rnd_below(MAX_BATCH) : 1 + rnd_below(5);
        child_n = 0;
        child_send(R_BEGIN, batch, 0);
        uint32_t done = 0;
        /* The models join the first batch (a deployment equal to the
         * latest versions keeps them; a child killed before its first
         * commit leaves them to the next). */
        if (batch == 1 && (rc = deploy_models(e, &err)) != 0)
            child_die(rc, "deploy", &err);
        while (done < n) {
            uint32_t pick = rnd_below(100);
            if (pick >= 72) {
                uint32_t want = 1 + rnd_below(n - done < 8 ? n - done : 8);
                uint32_t got = child_work_process(e, want, batch);
                done += got ? got : 1;
                continue;
            }
            if (pick >= 60) {
                /* An instance of one of the two models; for the second one
                 * the amount decides whether the review task runs. */
                int model = (int)rnd_below(2);
                int padlen = rnd_below(20) == 0 ? 1000 + (int)rnd_below(2000) : (int)rnd_below(50);
                snprintf(vars, sizeof vars,
                         "{\"orderId\":\"o-%d-%" PRId64 "\",\"amount\":%u,\"round\":%d,"
                         "\"note\":\"%.*s\"}",
                         round, ++seq, 1 + rnd_below(200), round, padlen, pad);
                chute_instance_spec ispec;
                memset(&ispec, 0, sizeof ispec);
                ispec.bpmn_process_id = MODEL_IDS[model];
                ispec.version = -1;
                ispec.variables = vars;
                static const chute_instance_await await = {child_on_done, NULL, NULL, 0};
                int use_await = await_used < AWAIT_SLOTS / 2;
                chute_instance_view iv;
                chute_awaiter *handle = NULL;
                if ((rc = chute_engine_create_instance(e, &ispec, use_await ? &await : NULL, &iv,
                                                       &handle, &err)) != 0)
                    child_die(rc, "create_instance", &err);
                if (use_await)
                    await_register(iv.key);
                if (first) {
                    child_send(R_FIRST_KEY, 0, iv.key);
                    first = 0;
                }
                child_queue(R_ACK_PCREATE, model, iv.key);
                if (iv.state == CHUTE_INSTANCE_COMPLETED && child_ntouched < MAX_BATCH)
                    child_touched[child_ntouched++] = iv.key;
                done++;
                continue;
            }
            if (pick < 30) {
                /* Variables of varying size; now and then a large one, so a
                 * batch spans many pages. */
                int padlen = rnd_below(20) == 0 ? 1000 + (int)rnd_below(3000) : (int)rnd_below(200);
                snprintf(vars, sizeof vars, "{\"seq\":%" PRId64 ",\"round\":%d,\"pad\":\"%.*s\"}",
                         ++seq, round, padlen, pad);
                chute_job_spec spec;
                memset(&spec, 0, sizeof spec);
                spec.type = JOB_TYPE;
                spec.variables = vars;
                spec.retries = 3;
                spec.priority = (int32_t)rnd_below(3);
                int64_t key = 0;
                if ((rc = chute_engine_create(e, &spec, &key, &err)) != 0)
                    child_die(rc, "create", &err);
                if (first) {
                    child_send(R_FIRST_KEY, 0, key);
                    first = 0;
                }
                child_queue(R_ACK_CREATE, 0, key);
                done++;
                continue;
            }
            uint32_t want = 1 + rnd_below(n - done < 8 ? n - done : 8);
            chute_activate_request req;
            memset(&req, 0, sizeof req);
            req.type = JOB_TYPE;
            req.worker = "crash-worker";
            req.timeout_ms = LEASE_MS;
            req.max_jobs = (int32_t)want;
            const chute_job_view *jobs;
            size_t count = 0;
            if ((rc = chute_engine_activate(e, &req, 0, &jobs, &count, &err)) != 0)
                child_die(rc, "activate", &err);
            int64_t keys[8];
            int32_t retries[8];
            for (size_t i = 0; i < count; i++) {
                keys[i] = jobs[i].key;
                retries[i] = jobs[i].retries;
            }
            for (size_t i = 0; i < count; i++) {
                uint32_t p = rnd_below(100);
                if (p < 65) {
                    snprintf(vars, sizeof vars, "{\"result\":%" PRId64 ",\"batch\":%d}", keys[i],
                             batch);
                    if ((rc = chute_engine_complete(e, keys[i], vars, 0, &err)) != 0)
                        child_die(rc, "complete", &err);
                    child_queue(R_ACK_COMPLETE, 0, keys[i]);
                } else if (p < 90 && retries[i] >= 2) {
                    int64_t backoff = rnd_below(2) ? 0 : 20;
                    if ((rc = chute_engine_fail(e, keys[i], retries[i] - 1, "crash test fail",
                                                backoff, "{\"failed\":true}", 0, &err)) != 0)
                        child_die(rc, "fail", &err);
                    child_queue(R_ACK_FAIL, retries[i] - 1, keys[i]);
                }
                /* else: the worker "vanished"; the lease runs out. */
            }
            done += count ? (uint32_t)count : 1;
        }
        chute_engine_tick(e); /* expired leases, ended back-offs join this batch */
        child_send(R_COMMIT, batch, 0);
        if ((rc = chute_engine_commit(e, &err)) != 0)
            child_die(rc, "commit", &err);
        /* Acknowledged only now. */
        child_report_done(e);
        child_queue(R_END, batch, 0);
        child_write(child_buf, child_n);
        if (rnd_below(8) == 0)
            sleep_us(100 + rnd_below(1500)); /* idle moments: kills between batches */
    }
}

/* ---- the parent: bookkeeping ------------------------------------------------ */

enum {
    F_CREATED = 1,
    F_COMPLETED = 2,
    F_FAILED = 4,
    F_PROBE = 8,
    F_ROUND = 16,
    F_SEEN = 32,
    F_LIVE = 64,
    F_PJOB = 128 /* a job of a process (F_COMPLETED, F_FAILED say what was acked) */
};

static uint8_t *flags; /* by counter (key - KEY_BASE) */
static int8_t *acked_retries;
static size_t flags_cap;
static int64_t max_acked; /* highest acked key so far */

static int passed, failed;
static int messages;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    if (messages++ < 30) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stdout, "FAIL: ");
        vfprintf(stdout, fmt, ap);
        fprintf(stdout, "\n");
        va_end(ap);
    }
}

/* Failures found while scanning many keys are counted once per check. */
typedef struct tally {
    long bad;
    char first[256];
} tally;

static void tally_bad(tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tally_bad(tally *t, const char *fmt, ...)
{
    if (t->bad++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->first, sizeof t->first, fmt, ap);
        va_end(ap);
    }
}

/* |round| 0 names the checks after the last round. */
static void tally_check(const tally *t, int round, const char *what)
{
    if (round > 0)
        check(t->bad == 0, "round %d: %s: %ld bad, first: %s", round, what, t->bad, t->first);
    else
        check(t->bad == 0, "end: %s: %ld bad, first: %s", what, t->bad, t->first);
}

static int key_slot(int64_t key, size_t *slot)
{
    if (key <= KEY_BASE || key - KEY_BASE > (INT64_C(1) << 30))
        return -1;
    size_t c = (size_t)(key - KEY_BASE);
    if (c >= flags_cap) {
        size_t cap = flags_cap ? flags_cap : 4096;
        while (cap <= c)
            cap *= 2;
        uint8_t *nf = realloc(flags, cap);
        int8_t *nr = realloc(acked_retries, cap);
        if (!nf || !nr) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        memset(nf + flags_cap, 0, cap - flags_cap);
        memset(nr + flags_cap, 0, cap - flags_cap);
        flags = nf;
        acked_retries = nr;
        flags_cap = cap;
    }
    *slot = c;
    return 0;
}

/* Process instances the parent knows: those whose creation was acked, and
 * any other it read (an instance of a committed batch whose acks the kill
 * cut off). Keys -> records by open addressing. */
enum {
    I_ACKED = 1, /* its creation was acknowledged */
    I_DONE = 2,  /* known COMPLETED: |hash| is what it must keep reading */
    I_ROUND = 4, /* named in this round's records: checked this round */
};

typedef struct irec {
    int64_t key;
    uint64_t hash;
    uint8_t fl;
    uint8_t model;
} irec;

static irec *irecs;
static size_t nirecs, irecs_cap;
static uint32_t *imap; /* index + 1, 0 = empty */
static size_t imap_cap;

static size_t imap_home(int64_t key, size_t cap)
{
    return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static irec *irec_find(int64_t key, int create)
{
    if (imap_cap && !create) {
        for (size_t i = imap_home(key, imap_cap);; i = (i + 1) & (imap_cap - 1)) {
            if (imap[i] == 0)
                return NULL;
            if (irecs[imap[i] - 1].key == key)
                return &irecs[imap[i] - 1];
        }
    }
    if (!create)
        return NULL;
    if ((nirecs + 1) * 2 > imap_cap) {
        size_t cap = imap_cap ? imap_cap * 2 : 4096;
        uint32_t *nm = calloc(cap, sizeof *nm);
        if (!nm) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        for (size_t r = 0; r < nirecs; r++) {
            size_t i = imap_home(irecs[r].key, cap);
            while (nm[i])
                i = (i + 1) & (cap - 1);
            nm[i] = (uint32_t)r + 1;
        }
        free(imap);
        imap = nm;
        imap_cap = cap;
    }
    size_t i = imap_home(key, imap_cap);
    for (; imap[i]; i = (i + 1) & (imap_cap - 1))
        if (irecs[imap[i] - 1].key == key)
            return &irecs[imap[i] - 1];
    if (nirecs == irecs_cap) {
        size_t cap = irecs_cap ? irecs_cap * 2 : 1024;
        irec *nr = realloc(irecs, cap * sizeof *nr);
        if (!nr) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        irecs = nr;
        irecs_cap = cap;
    }
    irecs[nirecs] = (irec){key, 0, 0, 0};
    imap[i] = (uint32_t)++nirecs;
    return &irecs[nirecs - 1];
}

/* A growable array of keys. */
typedef struct keyvec {
    int64_t *k;
    size_t n, cap;
} keyvec;

static void kv_push(keyvec *v, int64_t key)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        int64_t *nk = realloc(v->k, cap * sizeof *nk);
        if (!nk) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        v->k = nk;
        v->cap = cap;
    }
    v->k[v->n++] = key;
}

static int kv_has(const keyvec *v, int64_t key) /* |v| sorted */
{
    return v->n && bsearch(&key, v->k, v->n, sizeof key, cmp_i64) != NULL;
}

typedef struct stats {
    long acked_creates, acked_completes, acked_fails, probes, batches_acked;
    long acked_pcreates, acked_pcompletes, acked_pfails, acked_pdone;
    long max_active, driven_jobs, driven_instances;
    int kill_before_ready, kill_between, kill_building, kill_in_commit, kill_acking;
    int from_ready, from_fork;
    long max_batch_acked;
} stats;

static stats st;

/* ---- the parent: one round ------------------------------------------------------- */

typedef struct round_io {
    unsigned char *buf;
    size_t len, cap;
} round_io;

static void io_append(round_io *io, const unsigned char *p, size_t n)
{
    if (io->len + n > io->cap) {
        size_t cap = io->cap ? io->cap * 2 : 65536;
        while (cap < io->len + n)
            cap *= 2;
        unsigned char *nb = realloc(io->buf, cap);
        if (!nb) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        io->buf = nb;
        io->cap = cap;
    }
    memcpy(io->buf + io->len, p, n);
    io->len += n;
}

/* Reads what is available (or waits up to |timeout_ms|). Returns 0 at EOF,
 * 1 otherwise. */
static int io_pump(round_io *io, int fd, int timeout_ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (pr <= 0)
        return 1;
    unsigned char tmp[65536];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (r == 0)
        return 0;
    io_append(io, tmp, (size_t)r);
    return 1;
}

/* Runs one child until the kill; leaves its records in |io|. */
static void run_child(const char *dir, int round, uint64_t seed, round_io *io)
{
    int p[2];
    if (pipe(p) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    int64_t t_fork = mono_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed parent */
        close(p[0]);
        child_main(dir, p[1], seed, round);
        _exit(0);
    }
    close(p[1]);
    int fd = p[0];
    int from_fork = round % 5 == 1;
    int64_t delay = 1 + rnd_below(60);
    int64_t kill_at = from_fork ? t_fork + delay : INT64_MAX;
    from_fork ? st.from_fork++ : st.from_ready++;
    int eof = 0;
    size_t scanned = 0;
    while (!eof) {
        int64_t now = mono_ms();
        if (now >= kill_at)
            break;
        if (kill_at == INT64_MAX && now - t_fork > READY_TIMEOUT_MS) {
            check(0, "round %d: the child did not open the engine within %d ms", round,
                  READY_TIMEOUT_MS);
            break;
        }
        int64_t wait = kill_at == INT64_MAX ? 50 : kill_at - now;
        eof = !io_pump(io, fd, (int)wait);
        if (kill_at == INT64_MAX) {
            for (; scanned + sizeof(rec) <= io->len; scanned += sizeof(rec)) {
                rec r;
                memcpy(&r, io->buf + scanned, sizeof r);
                if (r.type == R_READY) {
                    kill_at = mono_ms() + delay;
                    break;
                }
            }
        }
    }
    if (eof)
        check(0, "round %d: the child closed its pipe before the kill", round);
    kill(pid, SIGKILL);
    /* Drain to EOF: everything the child wrote before it died. */
    while (io_pump(io, fd, 1000)) {
    }
    close(fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "round %d: the child ended by itself (status 0x%x) instead of by the kill", round,
          status);
}

/* Applies the records of one round to the bookkeeping; checks the key
 * order. Returns where the kill landed. */
static void apply_records(int round, const round_io *io, int64_t max_before)
{
    size_t n = io->len / sizeof(rec);
    if (io->len % sizeof(rec))
        printf("crash: round %d: dropped a torn final record (%zu bytes)\n", round,
               io->len % sizeof(rec));
    int ready = 0, last = 0, batch_acks = 0;
    long acks_this_batch = 0;
    tally order = {0}, range = {0}, changed = {0};
    for (size_t i = 0; i < n; i++) {
        rec r;
        memcpy(&r, io->buf + i * sizeof r, sizeof r);
        size_t slot = 0;
        switch (r.type) {
        case R_READY:
            ready = 1;
            break;
        case R_FIRST_KEY:
            check(r.key > max_before,
                  "round %d: keys reused: the first key after the reopen is %" PRId64
                  ", not above %" PRId64 " acked before",
                  round, r.key, max_before);
            break;
        case R_BEGIN:
            last = R_BEGIN;
            batch_acks = 0;
            acks_this_batch = 0;
            break;
        case R_COMMIT:
            last = R_COMMIT;
            break;
        case R_ACK_CREATE:
        case R_ACK_COMPLETE:
        case R_ACK_FAIL:
            last = r.type;
            batch_acks = 1;
            acks_this_batch++;
            if (key_slot(r.key, &slot) != 0) {
                tally_bad(&range, "key %" PRId64 " is outside partition %d", r.key, PARTITION);
                break;
            }
            flags[slot] |= F_ROUND;
            if (r.type == R_ACK_CREATE) {
                if (r.key <= max_acked)
                    tally_bad(&order, "acked key %" PRId64 " is not above %" PRId64, r.key,
                              max_acked);
                else
                    max_acked = r.key;
                flags[slot] |= F_CREATED;
                st.acked_creates++;
            } else if (r.type == R_ACK_COMPLETE) {
                flags[slot] |= F_COMPLETED;
                st.acked_completes++;
            } else {
                flags[slot] |= F_FAILED;
                acked_retries[slot] = (int8_t)r.aux;
                st.acked_fails++;
            }
            break;
        case R_ACK_PCREATE: {
            last = r.type;
            batch_acks = 1;
            acks_this_batch++;
            /* Instances take their keys from the jobs' counter: one order. */
            if (r.key <= max_acked)
                tally_bad(&order, "acked instance key %" PRId64 " is not above %" PRId64, r.key,
                          max_acked);
            else
                max_acked = r.key;
            irec *ir = irec_find(r.key, 1);
            ir->fl |= I_ACKED | I_ROUND;
            ir->model = (uint8_t)r.aux;
            st.acked_pcreates++;
            break;
        }
        case R_ACK_PCOMPLETE:
        case R_ACK_PFAIL:
            last = r.type;
            batch_acks = 1;
            acks_this_batch++;
            if (key_slot(r.key, &slot) != 0) {
                tally_bad(&range, "job key %" PRId64 " is outside partition %d", r.key, PARTITION);
                break;
            }
            flags[slot] |= F_PJOB | F_ROUND;
            if (r.type == R_ACK_PCOMPLETE) {
                flags[slot] |= F_COMPLETED;
                st.acked_pcompletes++;
            } else {
                flags[slot] |= F_FAILED;
                acked_retries[slot] = (int8_t)r.aux;
                st.acked_pfails++;
            }
            break;
        case R_ACK_PDONE: {
            last = r.type;
            batch_acks = 1;
            /* The hash follows in the next record; a kill may have torn it
             * off, and then only the state is known. */
            irec *ir = irec_find(r.key, 1);
            ir->fl |= I_ROUND;
            st.acked_pdone++;
            rec h;
            if (i + 1 < n && (memcpy(&h, io->buf + (i + 1) * sizeof h, sizeof h), 1) &&
                h.type == R_PDONE_HASH) {
                i++;
                if ((ir->fl & I_DONE) && ir->hash && ir->hash != (uint64_t)h.key)
                    tally_bad(&changed,
                              "completed instance %" PRId64 " changed: the child read other "
                              "variables or end time after its commit",
                              r.key);
                ir->hash = (uint64_t)h.key;
                ir->fl |= I_DONE;
            } else if (!(ir->fl & I_DONE)) {
                ir->hash = 0; /* completed, hash unknown: the next read sets it */
                ir->fl |= I_DONE;
            }
            break;
        }
        case R_PDONE_HASH:
            check(0, "round %d: a variables hash without its instance", round);
            break;
        case R_AWAIT_BAD:
            check(0,
                  "round %d: instance %" PRId64 ": the await callback disagrees with the "
                  "store after the commit (%s)",
                  round, r.key,
                  r.aux == 1   ? "other variables"
                  : r.aux == 2 ? "called back, not COMPLETED"
                               : "COMPLETED, never called back");
            break;
        case R_END:
            last = R_END;
            st.batches_acked++;
            if (acks_this_batch > st.max_batch_acked)
                st.max_batch_acked = acks_this_batch;
            break;
        case R_ERROR:
            check(0, "round %d: the child reported engine error %d (see stderr)", round, r.aux);
            break;
        default:
            check(0, "round %d: unknown record type %d", round, r.type);
            break;
        }
    }
    tally_check(&order, round, "acked keys strictly increase (never reused)");
    tally_check(&range, round, "acked keys are in the partition");
    tally_check(&changed, round, "a completed instance reads the same after every commit");
    if (!ready)
        st.kill_before_ready++;
    else if (last == 0 || last == R_END)
        st.kill_between++;
    else if (last == R_BEGIN)
        st.kill_building++;
    else if (last == R_COMMIT && !batch_acks)
        st.kill_in_commit++;
    else
        st.kill_acking++;
}

/* ---- the parent: the checks ---------------------------------------------------------- */

static int completed_has_result(const chute_job_view *v)
{
    json_error_t jerr;
    json_t *doc = json_loadb(v->variables, v->variables_len, 0, &jerr);
    if (!doc)
        return 0;
    json_t *res = json_object_get(doc, "result");
    int ok = json_is_integer(res) && json_integer_value(res) == v->key;
    json_decref(doc);
    return ok;
}

static void check_key(chute_engine *e, size_t c, tally *present, tally *done, tally *fails)
{
    int64_t key = KEY_BASE + (int64_t)c;
    chute_job_view v;
    chute_error err;
    int rc = chute_engine_get(e, key, &v, &err);
    if (rc != 0) {
        tally_bad(present, "acked key %" PRId64 " (flags 0x%x) is gone: %d %s", key, flags[c], rc,
                  err.message);
        return;
    }
    if (v.key != key)
        tally_bad(present, "get %" PRId64 " returned key %" PRId64, key, v.key);
    const char *want_type = (flags[c] & F_PROBE) ? PROBE_TYPE : JOB_TYPE;
    if (strcmp(v.type, want_type) != 0)
        tally_bad(present, "key %" PRId64 " has type '%s', not '%s'", key, v.type, want_type);
    if (flags[c] & F_COMPLETED) {
        if (v.state != CHUTE_JOB_COMPLETED)
            tally_bad(done, "acked completion of %" PRId64 " came back: state %s", key,
                      chute_job_state_name(v.state));
        else if (!completed_has_result(&v))
            tally_bad(done, "completed %" PRId64 " lost its result variables: %.*s", key,
                      (int)(v.variables_len > 120 ? 120 : v.variables_len), v.variables);
    }
    if ((flags[c] & F_FAILED) && v.state != CHUTE_JOB_COMPLETED && v.retries > acked_retries[c])
        tally_bad(fails, "acked fail of %" PRId64 " undone: retries %d, acked %d (state %s)", key,
                  v.retries, acked_retries[c], chute_job_state_name(v.state));
    /* Checked after the activation pass: see check_round. */
    if (!(flags[c] & (F_PROBE | F_COMPLETED)) && v.state != CHUTE_JOB_COMPLETED)
        flags[c] |= F_LIVE;
    if (v.state == CHUTE_JOB_INCIDENT || v.state == CHUTE_JOB_ERROR_THROWN ||
        v.state == CHUTE_JOB_CANCELED)
        tally_bad(present, "key %" PRId64 " is in unexpected state %s", key,
                  chute_job_state_name(v.state));
}

static int integrity_ok(const char *path, char *why, size_t whylen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, whylen, "open: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return 0;
    }
    sqlite3_stmt *stmt = NULL;
    rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL);
    int ok = 0, rows = 0;
    if (rc != SQLITE_OK) {
        snprintf(why, whylen, "prepare: %s", sqlite3_errmsg(db));
    } else {
        why[0] = 0;
        size_t used = 0;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(stmt, 0);
            if (rows++ == 0)
                ok = t && strcmp(t, "ok") == 0;
            if (rows <= 3 && used < whylen) /* the first few problems */
                used += (size_t)snprintf(why + used, whylen - used, "%s%s", rows > 1 ? " | " : "",
                                         t ? t : "(null)");
        }
        if (rc != SQLITE_DONE) {
            ok = 0;
            snprintf(why, whylen, "step: %s", sqlite3_errmsg(db));
        }
        if (rows != 1)
            ok = 0;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return ok;
}

/* The checker's clock runs an hour ahead, so that one tick ends every lease
 * and back-off the child left behind (but not the 24 h retention). */
#define CHECK_AHEAD_MS (3600 * 1000)

static int64_t ahead_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + CHECK_AHEAD_MS;
}

/* ---- the parent: the checks of processes ----------------------------------------------- */

static void check_pjob(chute_engine *e, size_t c, tally *done, tally *fails)
{
    int64_t key = KEY_BASE + (int64_t)c;
    chute_job_view v;
    chute_error err;
    int rc = chute_engine_get(e, key, &v, &err);
    if (rc == CHUTE_ENOTFOUND)
        return; /* a completed job of a process leaves the engine */
    if (rc != 0) {
        tally_bad(done, "get of process job %" PRId64 " failed: %d %s", key, rc, err.message);
        return;
    }
    if ((flags[c] & F_COMPLETED) && v.state != CHUTE_JOB_COMPLETED)
        tally_bad(done, "acked completion of process job %" PRId64 " came back: state %s", key,
                  chute_job_state_name(v.state));
    else if ((flags[c] & F_FAILED) && !(flags[c] & F_COMPLETED) && v.state != CHUTE_JOB_COMPLETED &&
             v.retries > acked_retries[c])
        tally_bad(fails, "acked fail of process job %" PRId64 " undone: retries %d, acked %d", key,
                  v.retries, acked_retries[c]);
}

typedef struct active_el {
    int64_t key, job_key, incident_key;
    char id[32], type[32];
} active_el;

typedef struct el_list {
    active_el a[16];
    int n, overflow, root_active;
} el_list;

static int collect_active(void *ctx, const chute_element_view *el)
{
    el_list *l = ctx;
    if (el->state != CHUTE_INSTANCE_ACTIVE)
        return 0;
    if (strcmp(el->element_type, "PROCESS") == 0) {
        l->root_active = 1;
        return 0;
    }
    if (l->n == (int)(sizeof l->a / sizeof l->a[0])) {
        l->overflow = 1;
        return 0;
    }
    active_el *a = &l->a[l->n++];
    a->key = el->key;
    a->job_key = el->job_key;
    a->incident_key = el->incident_key;
    snprintf(a->id, sizeof a->id, "%s", el->element_id);
    snprintf(a->type, sizeof a->type, "%s", el->element_type);
    return 0;
}

static int collect_instance(void *ctx, const chute_instance_view *v)
{
    kv_push(ctx, v->key);
    return 0;
}

static int list_active(chute_engine *e, keyvec *out)
{
    chute_instance_filter f;
    memset(&f, 0, sizeof f);
    f.state = CHUTE_INSTANCE_ACTIVE;
    out->n = 0;
    int rc = chute_engine_list_instances(e, &f, 0, 10000000, collect_instance, out);
    if (out->n)
        qsort(out->k, out->n, sizeof out->k[0], cmp_i64);
    return rc;
}

/* Every ACTIVE instance (all of them, from the engine's list) has a way
 * forward: each of its active elements is a service task waiting for its
 * own job, which exists in a state a worker can still take it from; and at
 * least one such element exists (a token waiting at a parallel join is no
 * way forward by itself: a branch still at a job is what releases it, and
 * the public views do not show join tokens). The jobs found go to |need|,
 * which the activation pass must hand out exactly. Then the instances of
 * this round and a sample of the others (all of them when |full|): an
 * acked creation is present, ACTIVE or COMPLETED, without an incident; a
 * known completion stays COMPLETED with the same variables and end time.
 * Returns the number of ACTIVE instances. */
static long check_instances(chute_engine *e, int round, int full, keyvec *need)
{
    tally stuck = {0}, jobs = {0}, again = {0}, missing = {0}, changed = {0}, incident = {0};
    keyvec active = {0};
    chute_error err;
    int rc = list_active(e, &active);
    check(rc == 0, "round %d: listing ACTIVE instances failed: %d", round, rc);
    for (size_t i = 0; i < active.n; i++) {
        int64_t k = active.k[i];
        irec *ir = irec_find(k, 0);
        if (ir && (ir->fl & I_DONE))
            tally_bad(&again, "instance %" PRId64 " read COMPLETED before, is ACTIVE again", k);
        el_list l;
        memset(&l, 0, sizeof l);
        rc = chute_engine_list_elements(e, k, collect_active, &l, &err);
        if (rc != 0) {
            tally_bad(&stuck, "instance %" PRId64 ": list_elements failed: %d %s", k, rc,
                      err.message);
            continue;
        }
        if (!l.root_active || l.overflow)
            tally_bad(&stuck, "instance %" PRId64 ": %s", k,
                      l.overflow ? "more than 16 active elements"
                                 : "its PROCESS element is not ACTIVE");
        int live = 0;
        for (int j = 0; j < l.n; j++) {
            const active_el *a = &l.a[j];
            if (strcmp(a->type, "SERVICE_TASK") != 0 || a->job_key == 0) {
                tally_bad(&stuck,
                          "instance %" PRId64 ": element '%s' (%s, %" PRId64
                          ") is ACTIVE but waits for no job",
                          k, a->id, a->type, a->key);
                continue;
            }
            if (a->incident_key)
                tally_bad(&incident, "instance %" PRId64 ": element '%s' has incident %" PRId64, k,
                          a->id, a->incident_key);
            chute_job_view v;
            rc = chute_engine_get(e, a->job_key, &v, &err);
            if (rc != 0) {
                tally_bad(&jobs,
                          "instance %" PRId64 ": element '%s' waits for job %" PRId64
                          ", which is gone: %d %s",
                          k, a->id, a->job_key, rc, err.message);
                continue;
            }
            if ((v.state != CHUTE_JOB_ACTIVATABLE && v.state != CHUTE_JOB_ACTIVATED &&
                 v.state != CHUTE_JOB_FAILED) ||
                v.retries < 1 || v.process.process_instance_key != k ||
                v.process.element_instance_key != a->key) {
                tally_bad(&jobs,
                          "instance %" PRId64 ": element '%s' (%" PRId64 ") waits for job %" PRId64
                          " in state %s, retries %d, of instance %" PRId64 " element %" PRId64,
                          k, a->id, a->key, a->job_key, chute_job_state_name(v.state), v.retries,
                          v.process.process_instance_key, v.process.element_instance_key);
                continue;
            }
            live++;
            kv_push(need, a->job_key);
        }
        if (live == 0 && l.n == 0)
            tally_bad(&stuck, "instance %" PRId64 " is ACTIVE and no element of it is", k);
        else if (live == 0)
            tally_bad(&stuck, "instance %" PRId64 " is ACTIVE with no element waiting for a job",
                      k);
    }
    if ((long)active.n > st.max_active)
        st.max_active = (long)active.n;

    for (size_t r = 0; r < nirecs; r++) {
        irec *ir = &irecs[r];
        if (!full && !(ir->fl & I_ROUND) && rnd_below((uint32_t)(nirecs / SAMPLE_PER_ROUND + 1)))
            continue;
        ir->fl &= (uint8_t)~I_ROUND;
        chute_instance_view v;
        rc = chute_engine_get_instance(e, ir->key, &v, &err);
        if (rc != 0) {
            tally_bad(&missing, "%s instance %" PRId64 " is gone: %d %s",
                      ir->fl & I_ACKED ? "acked" : "completed", ir->key, rc, err.message);
            continue;
        }
        if (v.has_incident)
            tally_bad(&incident, "instance %" PRId64 " has an incident", ir->key);
        if (v.state == CHUTE_INSTANCE_ACTIVE) {
            if (ir->fl & I_DONE)
                tally_bad(&again, "instance %" PRId64 " read COMPLETED before, is ACTIVE again",
                          ir->key);
            if (!kv_has(&active, ir->key))
                tally_bad(&missing,
                          "instance %" PRId64 " reads ACTIVE, but the list of ACTIVE "
                          "instances misses it",
                          ir->key);
        } else if (v.state == CHUTE_INSTANCE_COMPLETED) {
            uint64_t h = done_hash(&v);
            if ((ir->fl & I_DONE) && ir->hash && ir->hash != h)
                tally_bad(&changed,
                          "completed instance %" PRId64 " changed since it completed: now "
                          "ended_at %" PRId64 ", variables %.*s",
                          ir->key, v.ended_at, (int)(v.variables_len > 100 ? 100 : v.variables_len),
                          v.variables);
            else {
                ir->hash = h;
                ir->fl |= I_DONE;
            }
        } else {
            tally_bad(&missing, "instance %" PRId64 " is %s", ir->key,
                      chute_instance_state_name(v.state));
        }
    }
    tally_check(&again, round, "no completed instance is ACTIVE again");
    tally_check(&changed, round, "a completed instance keeps its variables and end time");
    tally_check(&missing, round, "every acked instance is present, ACTIVE or COMPLETED");
    tally_check(&incident, round, "no instance has an incident (every fail left retries)");
    tally_check(&stuck, round, "every ACTIVE instance waits at a job (none is stuck)");
    tally_check(&jobs, round, "the job an element waits for exists, takeable, and is its own");
    long nactive = (long)active.n;
    free(active.k);
    return nactive;
}

/* After the tick that ended every lease and back-off: activates every job
 * of the models' types and checks that this hands out exactly the jobs the
 * ACTIVE instances wait for (none lost, no orphan of an ended instance)
 * and never an acked completion. Not committed. */
static void check_process_jobs(chute_engine *e, int round, keyvec *need)
{
    tally redelivered = {0}, lost = {0}, orphan = {0};
    keyvec handed = {0};
    chute_error err;
    for (size_t t = 0; t < NPTYPES; t++) {
        for (;;) {
            chute_activate_request req;
            memset(&req, 0, sizeof req);
            req.type = PTYPES[t].type;
            req.worker = "crash-checker";
            req.timeout_ms = 600000;
            req.max_jobs = 1000;
            const chute_job_view *jobs;
            size_t count = 0;
            int rc = chute_engine_activate(e, &req, 0, &jobs, &count, &err);
            if (rc != 0) {
                tally_bad(&redelivered, "activate %s failed: %d %s", req.type, rc, err.message);
                break;
            }
            if (count == 0)
                break;
            for (size_t i = 0; i < count; i++) {
                size_t slot;
                if (key_slot(jobs[i].key, &slot) == 0 && (flags[slot] & F_PJOB) &&
                    (flags[slot] & F_COMPLETED))
                    tally_bad(&redelivered,
                              "acked completed process job %" PRId64 " was activated again",
                              jobs[i].key);
                kv_push(&handed, jobs[i].key);
            }
        }
    }
    if (handed.n)
        qsort(handed.k, handed.n, sizeof handed.k[0], cmp_i64);
    if (need->n)
        qsort(need->k, need->n, sizeof need->k[0], cmp_i64);
    for (size_t i = 0; i < need->n; i++) {
        if (i > 0 && need->k[i] == need->k[i - 1])
            tally_bad(&lost, "job %" PRId64 " is the job of two elements", need->k[i]);
        if (!kv_has(&handed, need->k[i]))
            tally_bad(&lost,
                      "job %" PRId64 " of an ACTIVE element is not handed out once every lease "
                      "ended",
                      need->k[i]);
    }
    for (size_t i = 0; i < handed.n; i++)
        if (!kv_has(need, handed.k[i]))
            tally_bad(&orphan,
                      "job %" PRId64 " is handed out, but no ACTIVE element of an ACTIVE "
                      "instance waits for it",
                      handed.k[i]);
    tally_check(&redelivered, round, "activation never returns an acked process completion");
    tally_check(&lost, round, "every job an ACTIVE instance waits for is deliverable");
    tally_check(&orphan, round, "every deliverable process job belongs to an ACTIVE element");
    free(handed.k);
}

/* Opens the engine on |dir| and checks what was acknowledged. |full| checks
 * every acked key; otherwise the keys of this round and a sample. Returns
 * non-zero when the engine could not be opened (the run cannot continue). */
static int check_round(const char *dir, int round, int full)
{
    chute_engine_options opts;
    chute_engine_options_init(&opts);
    opts.data_dir = dir;
    opts.durability = CHUTE_DURABILITY_FULL;
    opts.partition = PARTITION;
    opts.clock = ahead_clock;
    chute_engine *e = NULL;
    chute_error err;
    int rc = chute_engine_open(&e, &opts, &err);
    check(rc == 0, "round %d: the engine does not open after the kill: %d %s", round, rc,
          rc ? err.message : "");
    if (rc != 0)
        return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s", chute_engine_db_path(e));

    /* 1. Keys are not reused: a job created now gets a key above every key
     *    acked before. The probe is committed, so it is acked too. */
    chute_job_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.type = PROBE_TYPE;
    spec.variables = "{\"probe\":true}";
    int64_t key = 0;
    rc = chute_engine_create(e, &spec, &key, &err);
    if (rc == 0)
        rc = chute_engine_commit(e, &err);
    check(rc == 0, "round %d: probe create/commit failed: %d %s", round, rc, rc ? err.message : "");
    if (rc == 0) {
        check(key > max_acked,
              "round %d: keys reused: the probe after the reopen got %" PRId64
              ", not above the acked %" PRId64,
              round, key, max_acked);
        size_t slot;
        if (key_slot(key, &slot) == 0) {
            flags[slot] |= F_CREATED | F_PROBE;
            if (key > max_acked)
                max_acked = key;
            st.probes++;
        }
    }

    /* 2. Acked keys are present; acked completions stay completed; acked
     *    fails are not undone. */
    tally present = {0}, done = {0}, fails = {0};
    size_t top = max_acked > KEY_BASE ? (size_t)(max_acked - KEY_BASE) : 0;
    long checked = 0;
    /* Jobs of processes get keys after the last acked create too: up to
     * the end of the table. */
    for (size_t c = 1; c < flags_cap; c++) {
        if (!(flags[c] & (F_CREATED | F_COMPLETED | F_FAILED)))
            continue;
        if (!full && !(flags[c] & F_ROUND) && rnd_below((uint32_t)(top / SAMPLE_PER_ROUND + 1)))
            continue;
        if (flags[c] & F_PJOB)
            check_pjob(e, c, &done, &fails);
        else
            check_key(e, c, &present, &done, &fails);
        checked++;
        flags[c] &= (uint8_t)~F_ROUND;
    }
    tally_check(&present, round, "every acked created key is present");
    tally_check(&done, round, "every acked completion reads COMPLETED with its result");
    tally_check(&fails, round, "no acked fail is undone");

    /* 2b. Process instances: acked ones are present, completed ones stay as
     *     they completed, active ones have a way forward. */
    keyvec need = {0};
    long nactive = check_instances(e, round, full, &need);

    /* 3. Activating every job of the type (after a tick that ends all
     *    leases and back-offs) never hands out an acked completion. Not
     *    committed: close rolls the tick and the leases back. */
    chute_engine_tick(e);
    tally redelivered = {0};
    long activated = 0;
    for (;;) {
        chute_activate_request req;
        memset(&req, 0, sizeof req);
        req.type = JOB_TYPE;
        req.worker = "crash-checker";
        req.timeout_ms = 600000;
        req.max_jobs = 1000;
        const chute_job_view *jobs;
        size_t count = 0;
        rc = chute_engine_activate(e, &req, 0, &jobs, &count, &err);
        if (rc != 0) {
            tally_bad(&redelivered, "activate failed: %d %s", rc, err.message);
            break;
        }
        if (count == 0)
            break;
        for (size_t i = 0; i < count; i++) {
            size_t slot;
            if (key_slot(jobs[i].key, &slot) != 0)
                tally_bad(&redelivered, "activated key %" PRId64 " outside the partition",
                          jobs[i].key);
            else if (flags[slot] & F_COMPLETED)
                tally_bad(&redelivered, "acked completed job %" PRId64 " was activated again",
                          jobs[i].key);
            else
                flags[slot] |= F_SEEN;
        }
        activated += (long)count;
    }
    tally_check(&redelivered, round, "activation never returns an acked completion");

    /* Everything the child left is activatable after that tick, so an
     * acked job that get showed not completed must have come out of it. */
    tally lost = {0};
    for (size_t c = 1; c < flags_cap; c++) {
        if ((flags[c] & F_LIVE) && !(flags[c] & F_SEEN))
            tally_bad(&lost, "acked job %" PRId64 " is not completed but was not activatable",
                      KEY_BASE + (int64_t)c);
        flags[c] &= (uint8_t) ~(F_SEEN | F_LIVE);
    }
    tally_check(&lost, round, "every acked job not completed is deliverable");
    /* 3b. The same for the jobs of processes, against what 2b found. */
    check_process_jobs(e, round, &need);
    free(need.k);
    chute_engine_close(e); /* rolls the check's activations back */

    /* 4. The file is intact (the engine's lock is released by now). */
    char why[256];
    check(integrity_ok(path, why, sizeof why), "round %d: PRAGMA integrity_check: %s", round, why);
    if (full)
        printf("crash: final check: %ld acked keys read back, %ld jobs activatable after every "
               "lease ended, %ld instances ACTIVE\n",
               checked, activated, nactive);
    return 0;
}

/* ---- the parent: the end, every instance driven to completion ------------------------- */

static chute_engine *open_checker(const char *dir, const char *what)
{
    chute_engine_options opts;
    chute_engine_options_init(&opts);
    opts.data_dir = dir;
    opts.durability = CHUTE_DURABILITY_FULL;
    opts.partition = PARTITION;
    opts.clock = ahead_clock;
    chute_engine *e = NULL;
    chute_error err;
    int rc = chute_engine_open(&e, &opts, &err);
    check(rc == 0, "%s: the engine does not open: %d %s", what, rc, rc ? err.message : "");
    return rc == 0 ? e : NULL;
}

/* After the last round: the parent is the worker. It completes every job
 * of the models' types, committing each pass, until no job is left; then
 * no instance may be ACTIVE, and after a reopen every acked creation (and
 * every other instance it knows) reads COMPLETED, those that had completed
 * before with their variables and end time unchanged. */
static void finish_instances(const char *dir)
{
    chute_engine *e = open_checker(dir, "final drive");
    if (!e)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s", chute_engine_db_path(e));
    chute_error err;
    keyvec active = {0};
    check(list_active(e, &active) == 0, "final drive: listing ACTIVE instances failed");
    st.driven_instances = (long)active.n;
    int passes = 0, rc = 0;
    for (int pass = 0; pass < 100 && rc == 0; pass++) {
        chute_engine_tick(e);
        long n = 0;
        for (size_t t = 0; t < NPTYPES && rc == 0; t++) {
            for (;;) {
                chute_activate_request req;
                memset(&req, 0, sizeof req);
                req.type = PTYPES[t].type;
                req.worker = "crash-finisher";
                req.timeout_ms = 600000;
                req.max_jobs = 1000;
                const chute_job_view *jobs;
                size_t count = 0;
                if ((rc = chute_engine_activate(e, &req, 0, &jobs, &count, &err)) != 0 ||
                    count == 0)
                    break;
                int64_t *keys = malloc(count * sizeof *keys);
                if (!keys) {
                    fprintf(stderr, "out of memory\n");
                    exit(2);
                }
                for (size_t i = 0; i < count; i++)
                    keys[i] = jobs[i].key;
                char vars[128];
                for (size_t i = 0; i < count && rc == 0; i++) {
                    snprintf(vars, sizeof vars, "{\"%s\":\"final\",\"lastBatch\":0}",
                             PTYPES[t].var);
                    rc = chute_engine_complete(e, keys[i], vars, 0, &err);
                }
                free(keys);
                n += (long)count;
            }
        }
        if (rc == 0)
            rc = chute_engine_commit(e, &err);
        st.driven_jobs += n;
        if (n == 0)
            break;
        passes++;
    }
    check(rc == 0, "final drive: activate/complete/commit failed: %d %s", rc,
          rc ? err.message : "");
    check(list_active(e, &active) == 0 && active.n == 0,
          "final drive: %zu instances still ACTIVE after %d passes completed every job (first "
          "%" PRId64 ")",
          active.n, passes, active.n ? active.k[0] : 0);
    free(active.k);
    chute_engine_close(e);

    /* Read back after a reopen: what the drive did is durable too. */
    if (!(e = open_checker(dir, "after the final drive")))
        return;
    tally notdone = {0}, changed = {0};
    long acked = 0;
    for (size_t r = 0; r < nirecs; r++) {
        irec *ir = &irecs[r];
        acked += (ir->fl & I_ACKED) != 0;
        chute_instance_view v;
        rc = chute_engine_get_instance(e, ir->key, &v, &err);
        if (rc != 0 || v.state != CHUTE_INSTANCE_COMPLETED) {
            tally_bad(&notdone, "%s instance %" PRId64 " %s %s",
                      ir->fl & I_ACKED ? "acked" : "known", ir->key, rc ? "is gone:" : "ended as",
                      rc ? err.message : chute_instance_state_name(v.state));
            continue;
        }
        if ((ir->fl & I_DONE) && ir->hash && ir->hash != done_hash(&v))
            tally_bad(&changed, "instance %" PRId64 " completed before the drive, and changed",
                      ir->key);
    }
    tally_check(&notdone, 0, "after the final drive every acked instance is COMPLETED");
    tally_check(&changed, 0, "the final drive changed no instance that had completed");
    chute_engine_close(e);
    char why[256];
    check(integrity_ok(path, why, sizeof why), "after the final drive: PRAGMA integrity_check: %s",
          why);
    printf("crash: final drive: %d pass(es) completed %ld jobs of %ld ACTIVE instances; %ld acked "
           "creations all read COMPLETED%s\n",
           passes, st.driven_jobs, st.driven_instances, acked, notdone.bad ? " -- NOT" : "");
}

/* ---- main ------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rounds = 60;
    const char *env = getenv("CHUTE_CRASH_ROUNDS");
    if (env && *env) {
        rounds = atoi(env);
        if (rounds < 1) {
            fprintf(stderr, "CHUTE_CRASH_ROUNDS must be at least 1\n");
            return 2;
        }
    }
    uint64_t seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    env = getenv("CHUTE_CRASH_SEED");
    if (env && *env)
        seed = strtoull(env, NULL, 0);
    rng_state = seed;

    const char *tmp = getenv("TMPDIR");
    char root[512];
    snprintf(root, sizeof root, "%s/chute-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 2;
    }
    char dir[600];
    snprintf(dir, sizeof dir, "%s/data", root);
    printf("crash: seed %" PRIu64 ", %d rounds, data dir %s\n", seed, rounds, dir);

    int64_t t0 = mono_ms();
    round_io io = {0};
    int aborted = 0;
    for (int round = 1; round <= rounds; round++) {
        io.len = 0;
        int64_t max_before = max_acked;
        run_child(dir, round, rnd(), &io);
        long creates = st.acked_creates, completes = st.acked_completes;
        long pcreates = st.acked_pcreates, pdone = st.acked_pdone;
        apply_records(round, &io, max_before);
        if (check_round(dir, round, round == rounds) != 0) {
            aborted = 1;
            break;
        }
        printf("crash: round %2d: +%ld acked creates, +%ld acked completions, +%ld acked "
               "instances, +%ld read completed (%zu records)\n",
               round, st.acked_creates - creates, st.acked_completes - completes,
               st.acked_pcreates - pcreates, st.acked_pdone - pdone, io.len / sizeof(rec));
    }
    if (!aborted)
        finish_instances(dir);
    free(io.buf);

    const char *keep = getenv("CHUTE_CRASH_KEEP");
    if (keep && *keep == '1')
        printf("crash: kept %s\n", root);
    else
        nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(flags);
    free(acked_retries);
    free(irecs);
    free(imap);

    printf("crash: %d rounds in %.1f s (kill timed from READY: %d, from fork: %d)%s\n", rounds,
           (double)(mono_ms() - t0) / 1000.0, st.from_ready, st.from_fork,
           aborted ? " ABORTED" : "");
    printf("crash: acked: %ld creates, %ld completions, %ld fails, %ld batches (largest %ld "
           "acks), %ld probes\n",
           st.acked_creates, st.acked_completes, st.acked_fails, st.batches_acked,
           st.max_batch_acked, st.probes);
    printf("crash: processes: acked %ld instance creations, %ld job completions, %ld job fails, "
           "%ld completions read back; at most %ld instances ACTIVE at a check\n",
           st.acked_pcreates, st.acked_pcompletes, st.acked_pfails, st.acked_pdone, st.max_active);
    printf("crash: kills landed: %d before the engine was open, %d between batches, %d mid-batch "
           "(commands applied, not committed), %d in commit (not yet acked), %d while acking\n",
           st.kill_before_ready, st.kill_between, st.kill_building, st.kill_in_commit,
           st.kill_acking);
    printf("crash: %s\n", failed == 0 ? "PASS" : "FAIL");
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
