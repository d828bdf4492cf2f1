/*
 * Crash test: kill the engine's process with SIGKILL at random moments and
 * check, after every kill, that what was acknowledged survived (DESIGN.md,
 * invariants 1-3) and that the database is intact.
 *
 * Each round forks a child that opens the engine on the shared data
 * directory (durability full, default 24 h retention) and runs batches of
 * 1..200 commands: creates with variables, activations whose jobs it
 * completes (with result variables), fails with retries left (with and
 * without back-off) or abandons (the lease runs out). It reports over a pipe,
 * in fixed-size records:
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
 * Environment: CHUTE_CRASH_ROUNDS (default 25, at least 1),
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

/* ---- the child ---------------------------------------------------------------- */

static int child_fd = -1;
static rec child_buf[4 * MAX_BATCH + 64];
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
        while (done < n) {
            if (rnd_below(100) < 50) {
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
    F_LIVE = 64
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

static void tally_check(const tally *t, int round, const char *what)
{
    check(t->bad == 0, "round %d: %s: %ld bad, first: %s", round, what, t->bad, t->first);
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

typedef struct stats {
    long acked_creates, acked_completes, acked_fails, probes, batches_acked;
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
    tally order = {0}, range = {0};
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
    for (size_t c = 1; c <= top && c < flags_cap; c++) {
        if (!(flags[c] & (F_CREATED | F_COMPLETED | F_FAILED)))
            continue;
        if (!full && !(flags[c] & F_ROUND) && rnd_below((uint32_t)(top / SAMPLE_PER_ROUND + 1)))
            continue;
        check_key(e, c, &present, &done, &fails);
        checked++;
        flags[c] &= (uint8_t)~F_ROUND;
    }
    tally_check(&present, round, "every acked created key is present");
    tally_check(&done, round, "every acked completion reads COMPLETED with its result");
    tally_check(&fails, round, "no acked fail is undone");

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
    chute_engine_close(e); /* rolls the check's activations back */

    /* 4. The file is intact (the engine's lock is released by now). */
    char why[256];
    check(integrity_ok(path, why, sizeof why), "round %d: PRAGMA integrity_check: %s", round, why);
    if (full)
        printf("crash: final check: %ld acked keys read back, %ld jobs activatable after every "
               "lease ended\n",
               checked, activated);
    return 0;
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
    int rounds = 25;
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
        apply_records(round, &io, max_before);
        if (check_round(dir, round, round == rounds) != 0) {
            aborted = 1;
            break;
        }
        printf("crash: round %2d: +%ld acked creates, +%ld acked completions (%zu records)\n",
               round, st.acked_creates - creates, st.acked_completes - completes,
               io.len / sizeof(rec));
    }
    free(io.buf);

    const char *keep = getenv("CHUTE_CRASH_KEEP");
    if (keep && *keep == '1')
        printf("crash: kept %s\n", root);
    else
        nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(flags);
    free(acked_retries);

    printf("crash: %d rounds in %.1f s (kill timed from READY: %d, from fork: %d)%s\n", rounds,
           (double)(mono_ms() - t0) / 1000.0, st.from_ready, st.from_fork,
           aborted ? " ABORTED" : "");
    printf("crash: acked: %ld creates, %ld completions, %ld fails, %ld batches (largest %ld "
           "acks), %ld probes\n",
           st.acked_creates, st.acked_completes, st.acked_fails, st.batches_acked,
           st.max_batch_acked, st.probes);
    printf("crash: kills landed: %d before the engine was open, %d between batches, %d mid-batch "
           "(commands applied, not committed), %d in commit (not yet acked), %d while acking\n",
           st.kill_before_ready, st.kill_between, st.kill_building, st.kill_in_commit,
           st.kill_acking);
    printf("crash: %s\n", failed == 0 ? "PASS" : "FAIL");
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
