/*
 * Shared fixture for the engine unit tests: a fresh temporary data
 * directory per test, a fake clock the test moves by hand, and small
 * helpers that assert as they go. Everything is static (each test program
 * includes this once).
 */
#ifndef CHUTE_TEST_ENGINE_FIXTURE_H
#define CHUTE_TEST_ENGINE_FIXTURE_H

#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <chute/engine.h>

#define FX_UNUSED __attribute__((unused))

/* 2023-11-14T22:13:20Z: any fixed epoch-ms value works. */
#define FX_T0 INT64_C(1700000000000)
#define FX_KEY_BASE(partition) ((int64_t)(partition) << 51)
/* Returned by fx_state() for a key the engine does not know. */
#define FX_GONE ((chute_job_state)0)

typedef struct fx {
    char root[128];   /* mkdtemp'd directory, removed at teardown */
    char data[192];   /* root/data: the engine's data dir (created by the engine) */
    int64_t now;      /* the fake clock */
    chute_engine *e;
    chute_engine_options opts;
    chute_error err;
} fx;

static FX_UNUSED int64_t fx_clock(void *ctx)
{
    return ((const fx *)ctx)->now;
}

/* Removes |path| recursively (files and directories). */
static FX_UNUSED void fx_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                char child[1024];
                snprintf(child, sizeof child, "%s/%s", path, de->d_name);
                fx_rm_rf(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static FX_UNUSED void fx_open(fx *f)
{
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&f->e, &f->opts, &f->err);
    if (rc != 0)
        fail_msg("chute_engine_open: %d %s", rc, f->err.message);
    assert_non_null(f->e);
}

static FX_UNUSED void fx_close(fx *f)
{
    chute_engine_close(f->e);
    f->e = NULL;
}

/* Closes (without committing) and opens again with f->opts. */
static FX_UNUSED void fx_reopen(fx *f)
{
    fx_close(f);
    fx_open(f);
}

/* Allocates the fixture and its directory and sets the options, without
 * opening the engine. */
static FX_UNUSED int fx_setup_closed(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/chute-unit-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->data, sizeof f->data, "%s/data", f->root);
    f->now = FX_T0;
    chute_engine_options_init(&f->opts);
    f->opts.data_dir = f->data;
    f->opts.clock = fx_clock;
    f->opts.clock_ctx = f;
    *state = f;
    return 0;
}

static FX_UNUSED int fx_setup(void **state)
{
    fx_setup_closed(state);
    fx_open(*state);
    return 0;
}

static FX_UNUSED int fx_teardown(void **state)
{
    fx *f = *state;
    if (f) {
        chute_engine_close(f->e);
        fx_rm_rf(f->root);
        free(f);
    }
    return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
#define FX_TEST_CLOSED(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_closed, fx_teardown)

/* ---- assertions ---------------------------------------------------------- */

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay);                                                                    \
        const char *n_ = (needle);                                                                 \
        if (!h_ || !strstr(h_, n_))                                                                \
            fail_msg("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_);                   \
    } while (0)

/* Asserts that a call returned |code| and left a non-empty message in f->err
 * with that code. */
#define assert_rejected(f, call, want)                                                             \
    do {                                                                                           \
        memset(&(f)->err, 0, sizeof (f)->err);                                                     \
        int rc_ = (call);                                                                          \
        if (rc_ != (want))                                                                         \
            fail_msg("%s: expected %s, got %s (%s)", #call, chute_err_name(want),                 \
                     chute_err_name(rc_), (f)->err.message);                                       \
        assert_int_equal((f)->err.code, (want));                                                   \
        assert_true((f)->err.message[0] != '\0');                                                  \
    } while (0)

#define assert_ok(f, call)                                                                         \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: expected OK, got %s (%s)", #call, chute_err_name(rc_),                  \
                     (f)->err.message);                                                            \
    } while (0)

/* Non-zero when the JSON documents |a| and |b| are equal (as values). */
static FX_UNUSED int fx_json_equal(const char *a, const char *b)
{
    json_error_t je;
    json_t *ja = json_loads(a, JSON_DECODE_ANY, &je);
    json_t *jb = json_loads(b, JSON_DECODE_ANY, &je);
    int eq = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

#define assert_json_equal(actual, expected)                                                        \
    do {                                                                                           \
        const char *a_ = (actual);                                                                 \
        if (!a_ || !fx_json_equal(a_, (expected)))                                                 \
            fail_msg("JSON %s != expected %s", a_ ? a_ : "(null)", (expected));                   \
    } while (0)

/* ---- helpers ------------------------------------------------------------- */

static FX_UNUSED int64_t fx_create_spec(fx *f, const chute_job_spec *spec)
{
    int64_t key = 0;
    int rc = chute_engine_create(f->e, spec, &key, &f->err);
    if (rc != 0)
        fail_msg("create: %s %s", chute_err_name(rc), f->err.message);
    assert_true(key > 0);
    return key;
}

/* Creates a job of |type| with |priority| and |variables| (may be NULL). */
static FX_UNUSED int64_t fx_create(fx *f, const char *type, int32_t priority,
                                   const char *variables)
{
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = type;
    s.priority = priority;
    s.variables = variables;
    return fx_create_spec(f, &s);
}

static FX_UNUSED int64_t fx_create_delayed(fx *f, const char *type, int64_t delay_ms)
{
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = type;
    s.delay_ms = delay_ms;
    return fx_create_spec(f, &s);
}

/* Activates up to |max| jobs; copies their keys to |keys| (room for |max|)
 * and returns the count. */
static FX_UNUSED size_t fx_activate_keys(fx *f, const char *type, const char *worker,
                                         int64_t timeout, int32_t max, int64_t *keys)
{
    chute_activate_request r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.worker = worker;
    r.timeout_ms = timeout;
    r.max_jobs = max;
    const chute_job_view *jobs = NULL;
    size_t n = 99999;
    int rc = chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err);
    if (rc != 0)
        fail_msg("activate: %s %s", chute_err_name(rc), f->err.message);
    assert_true(n <= (size_t)max);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(jobs[i].state, CHUTE_JOB_ACTIVATED);
        assert_string_equal(jobs[i].type, type);
        if (keys)
            keys[i] = jobs[i].key;
    }
    return n;
}

/* Activates exactly one job of |type| and returns its key (0 if none). */
static FX_UNUSED int64_t fx_activate_one(fx *f, const char *type, const char *worker,
                                         int64_t timeout)
{
    int64_t key = 0;
    size_t n = fx_activate_keys(f, type, worker, timeout, 1, &key);
    return n == 1 ? key : 0;
}

/* Reads a job, failing the test on any error. The view lives until the
 * next engine call. */
static FX_UNUSED chute_job_view fx_get(fx *f, int64_t key)
{
    chute_job_view v;
    memset(&v, 0, sizeof v);
    int rc = chute_engine_get(f->e, key, &v, &f->err);
    if (rc != 0)
        fail_msg("get %" PRId64 ": %s %s", key, chute_err_name(rc), f->err.message);
    assert_int_equal(v.key, key);
    return v;
}

/* The state of |key|, or FX_GONE when the engine answers ENOTFOUND. */
static FX_UNUSED chute_job_state fx_state(fx *f, int64_t key)
{
    chute_job_view v;
    int rc = chute_engine_get(f->e, key, &v, &f->err);
    if (rc == CHUTE_ENOTFOUND)
        return FX_GONE;
    if (rc != 0)
        fail_msg("get %" PRId64 ": %s %s", key, chute_err_name(rc), f->err.message);
    return v.state;
}

#define assert_state(f, key, st)                                                                   \
    do {                                                                                           \
        chute_job_state s_ = fx_state((f), (key));                                                 \
        if (s_ != (st))                                                                            \
            fail_msg("job %" PRId64 ": state %s (%d), expected %s (%d)", (int64_t)(key),          \
                     s_ == FX_GONE ? "GONE" : chute_job_state_name(s_), (int)s_,                  \
                     (st) == FX_GONE ? "GONE" : chute_job_state_name(st), (int)(st));             \
    } while (0)

static FX_UNUSED void fx_commit(fx *f)
{
    int rc = chute_engine_commit(f->e, &f->err);
    if (rc != 0)
        fail_msg("commit: %s %s", chute_err_name(rc), f->err.message);
    assert_int_equal(chute_engine_dirty(f->e), 0);
}

/* Moves the clock to |t| and applies what is due. Returns tick's answer. */
static FX_UNUSED int64_t fx_tick_at(fx *f, int64_t t)
{
    f->now = t;
    return chute_engine_tick(f->e);
}

typedef struct fx_incidents {
    size_t count;
    int64_t job_keys[64];
    int64_t incident_keys[64];
    chute_incident_type types[64];
    char messages[64][128];
} fx_incidents;

static FX_UNUSED int fx_incident_visit(void *ctx, const chute_job_view *job)
{
    fx_incidents *in = ctx;
    if (in->count < 64) {
        in->job_keys[in->count] = job->key;
        in->incident_keys[in->count] = job->incident_key;
        in->types[in->count] = job->incident_type;
        snprintf(in->messages[in->count], sizeof in->messages[0], "%s", job->error_message);
    }
    in->count++;
    return 0;
}

static FX_UNUSED fx_incidents fx_list_incidents(fx *f)
{
    fx_incidents in;
    memset(&in, 0, sizeof in);
    int rc = chute_engine_list_incidents(f->e, fx_incident_visit, &in);
    assert_int_equal(rc, 0);
    return in;
}

static FX_UNUSED chute_engine_stats fx_stats(fx *f)
{
    chute_engine_stats s;
    memset(&s, 0xAB, sizeof s);
    chute_engine_get_stats(f->e, &s);
    return s;
}

#endif
