/*
 * Engine unit tests for durability: what a commit keeps across close and
 * reopen (queues, leases, back-offs, incidents, delays, results, keys), what
 * an uncommitted batch loses, and how chute_engine_open fails on a bad data
 * directory or database.
 */
#include "engine_fixture.h"

#include <fcntl.h>
#include <sqlite3.h>

/* ---- rebuild after reopen ------------------------------------------------ */

static void test_reopen_rebuilds_everything(void **state)
{
    fx *f = *state;
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.priority = 2;
    s.retries = 5;
    s.headers = "{\"h\":\"v\"}";
    s.variables = "{\"a\":1}";
    s.process.process_instance_key = 77;
    s.process.bpmn_process_id = "proc";
    s.process.element_id = "task";
    s.process.process_definition_version = 4;
    int64_t ready = fx_create_spec(f, &s);
    int64_t leased = fx_create(f, "t", 1, NULL);
    int64_t backoff = fx_create(f, "t", 0, NULL);
    int64_t incident = fx_create(f, "t", 0, NULL);
    int64_t thrown = fx_create(f, "t", 0, NULL);
    int64_t done = fx_create(f, "t", 0, "{\"in\":1}");
    int64_t delayed = fx_create_delayed(f, "t", 3000);
    int64_t ready2 = fx_create(f, "t", 0, NULL);

    /* Take everything except |ready| and |ready2|, then settle. */
    int64_t got[8];
    assert_int_equal(fx_activate_keys(f, "t", "w-old", 1000, 7, got), 7);
    assert_ok(f, chute_engine_fail(f->e, ready, 5, "", 0, NULL, 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, ready2, 3, "", 0, NULL, 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, backoff, 2, "wait", 5000, NULL, 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, incident, 0, "oops", 0, NULL, 0, &f->err));
    f->now = FX_T0 + 1;
    assert_ok(f, chute_engine_throw_error(f->e, thrown, "E7", "thrown", NULL, 0, &f->err));
    assert_ok(f, chute_engine_complete(f->e, done, "{\"out\":2}", 0, &f->err));
    assert_ok(f, chute_engine_update_timeout(f->e, leased, 10000, &f->err)); /* T0+10001 */
    int64_t inc1 = fx_get(f, incident).incident_key;
    int64_t inc2 = fx_get(f, thrown).incident_key;
    int64_t last_key = fx_create(f, "other", 0, NULL);
    chute_engine_stats before = fx_stats(f);
    fx_commit(f);
    fx_reopen(f);

    chute_job_view v = fx_get(f, ready);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 5);
    assert_int_equal(v.priority, 2);
    assert_string_equal(v.type, "t");
    assert_json_equal(v.headers, "{\"h\":\"v\"}");
    assert_json_equal(v.variables, "{\"a\":1}");
    assert_int_equal(v.created_at, FX_T0);
    assert_int_equal(v.process.process_instance_key, 77);
    assert_int_equal(v.process.process_definition_version, 4);
    assert_string_equal(v.process.bpmn_process_id, "proc");
    assert_string_equal(v.process.element_id, "task");

    v = fx_get(f, leased);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "w-old");
    assert_int_equal(v.deadline, FX_T0 + 10001);
    assert_int_equal(v.retries, 3);

    v = fx_get(f, backoff);
    assert_int_equal(v.state, CHUTE_JOB_FAILED);
    assert_int_equal(v.deadline, FX_T0 + 5000);
    assert_int_equal(v.retries, 2);
    assert_string_equal(v.error_message, "wait");

    v = fx_get(f, incident);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    assert_int_equal(v.incident_key, inc1);
    assert_int_equal(v.incident_type, CHUTE_INCIDENT_JOB_NO_RETRIES);
    assert_string_equal(v.error_message, "oops");
    assert_int_equal(v.retries, 0);

    v = fx_get(f, thrown);
    assert_int_equal(v.state, CHUTE_JOB_ERROR_THROWN);
    assert_int_equal(v.incident_key, inc2);
    assert_int_equal(v.incident_type, CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT);
    assert_string_equal(v.error_code, "E7");
    assert_string_equal(v.error_message, "thrown");

    v = fx_get(f, done);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_json_equal(v.variables, "{\"in\":1,\"out\":2}");
    assert_int_equal(v.completed_at, FX_T0 + 1);

    v = fx_get(f, delayed);
    assert_int_equal(v.state, CHUTE_JOB_DELAYED);
    assert_int_equal(v.deadline, FX_T0 + 3000);

    fx_incidents in = fx_list_incidents(f);
    assert_int_equal(in.count, 2);
    assert_int_equal(in.job_keys[0], incident);
    assert_int_equal(in.incident_keys[0], inc1);
    assert_string_equal(in.messages[0], "oops");
    assert_int_equal(in.job_keys[1], thrown);
    assert_int_equal(in.incident_keys[1], inc2);

    /* The gauges are rebuilt; the totals are process-lifetime counters and
     * are not checked here. */
    chute_engine_stats after = fx_stats(f);
    assert_int_equal(after.jobs, before.jobs);
    assert_int_equal(after.activatable, before.activatable);
    assert_int_equal(after.activated, before.activated);
    assert_int_equal(after.failed, before.failed);
    assert_int_equal(after.delayed, before.delayed);
    assert_int_equal(after.incidents, before.incidents);
    assert_int_equal(after.jobs, 8); /* all but |done| */
    assert_int_equal(after.activatable, 3);
    assert_int_equal(after.activated, 1);
    assert_int_equal(after.failed, 1);
    assert_int_equal(after.delayed, 1);
    assert_int_equal(after.incidents, 2);

    /* The queue order survived: priority, then creation. */
    assert_int_equal(fx_activate_keys(f, "t", "w", 100000, 8, got), 2);
    assert_int_equal(got[0], ready);
    assert_int_equal(got[1], ready2);
    /* The timers survived. */
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 3000);
    fx_tick_at(f, FX_T0 + 2999);
    assert_state(f, delayed, CHUTE_JOB_DELAYED);
    fx_tick_at(f, FX_T0 + 3000);
    assert_state(f, delayed, CHUTE_JOB_ACTIVATABLE);
    fx_tick_at(f, FX_T0 + 4999);
    assert_state(f, backoff, CHUTE_JOB_FAILED);
    fx_tick_at(f, FX_T0 + 5000);
    assert_state(f, backoff, CHUTE_JOB_ACTIVATABLE);
    fx_tick_at(f, FX_T0 + 10000);
    assert_state(f, leased, CHUTE_JOB_ACTIVATED);
    fx_tick_at(f, FX_T0 + 10001);
    v = fx_get(f, leased);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 3);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 8, got), 3);
    assert_int_equal(got[0], leased); /* priority 1 */
    assert_int_equal(got[1], backoff);
    assert_int_equal(got[2], delayed);
    /* Incidents still resolve after the reopen. */
    assert_ok(f, chute_engine_update_retries(f->e, incident, 1, &f->err));
    assert_ok(f, chute_engine_resolve_incident(f->e, inc1, &f->err));
    assert_ok(f, chute_engine_resolve_incident(f->e, inc2, &f->err));
    assert_state(f, incident, CHUTE_JOB_ACTIVATABLE);
    assert_state(f, thrown, CHUTE_JOB_ACTIVATABLE);
    /* New keys are past the old ones. */
    int64_t next = fx_create(f, "t", 0, NULL);
    assert_true(next > last_key);
    assert_true(next > inc1 && next > inc2);
}

static void test_reopen_lease_expired_while_closed(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    fx_commit(f);
    fx_close(f);
    f->now = FX_T0 + 50000;
    fx_open(f);
    /* The lease is due (or already applied by open); a tick settles it. */
    fx_tick_at(f, FX_T0 + 50000);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 3);
    assert_int_equal(fx_activate_one(f, "t", "w2", 1000), k);
}

static void test_uncommitted_batch_lost(void **state)
{
    fx *f = *state;
    int64_t a = fx_create(f, "t", 0, "{\"v\":1}");
    fx_commit(f);
    int64_t b = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), a);
    assert_ok(f, chute_engine_complete(f->e, a, "{\"v\":2}", 0, &f->err));
    assert_true(chute_engine_dirty(f->e) != 0);
    fx_close(f); /* no commit */
    fx_open(f);
    chute_job_view v = fx_get(f, a);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_json_equal(v.variables, "{\"v\":1}");
    assert_string_equal(v.worker, "");
    assert_state(f, b, FX_GONE);
    assert_int_equal(fx_stats(f).jobs, 1);
    assert_int_equal(chute_engine_dirty(f->e), 0);
}

static void test_commit_in_steps(void **state)
{
    fx *f = *state;
    /* Several batches; each reopen sees exactly the committed ones. */
    int64_t keys[30];
    for (int batch = 0; batch < 3; batch++) {
        for (int i = 0; i < 10; i++)
            keys[batch * 10 + i] = fx_create(f, "t", 0, NULL);
        fx_commit(f);
    }
    int64_t got[5];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 5, got), 5);
    for (int i = 0; i < 5; i++)
        assert_ok(f, chute_engine_complete(f->e, got[i], NULL, 0, &f->err));
    fx_commit(f);
    fx_reopen(f);
    assert_int_equal(fx_stats(f).jobs, 25);
    for (int i = 0; i < 5; i++)
        assert_state(f, keys[i], CHUTE_JOB_COMPLETED);
    for (int i = 5; i < 30; i++)
        assert_state(f, keys[i], CHUTE_JOB_ACTIVATABLE);
}

static void test_keys_unique_across_reopen(void **state)
{
    fx *f = *state;
    fx_close(f);
    f->opts.retention_ms = -1; /* completed jobs are deleted at once */
    fx_open(f);
    int64_t max = 0;
    for (int round = 0; round < 4; round++) {
        int64_t k[5];
        for (int i = 0; i < 5; i++) {
            k[i] = fx_create(f, "t", 0, NULL);
            assert_true(k[i] > max);
            max = k[i];
        }
        /* The last jobs before the close are gone: completed (deleted) or
         * cancelled. The counter must not come from them. */
        int64_t got[5];
        assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 5, got), 5);
        for (int i = 0; i < 3; i++)
            assert_ok(f, chute_engine_complete(f->e, k[i], NULL, 0, &f->err));
        assert_ok(f, chute_engine_cancel(f->e, k[3], &f->err));
        assert_ok(f, chute_engine_cancel(f->e, k[4], &f->err));
        assert_int_equal(fx_stats(f).jobs, 0);
        fx_commit(f);
        fx_reopen(f);
        assert_int_equal(fx_stats(f).jobs, 0);
        for (int i = 0; i < 5; i++)
            assert_state(f, k[i], FX_GONE);
    }
    int64_t next = fx_create(f, "t", 0, NULL);
    assert_true(next > max);
}

static void test_keys_unique_across_reopen_incidents(void **state)
{
    fx *f = *state;
    /* Incident keys come from the same counter and are never reused. */
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_fail(f->e, k, 0, "x", 0, NULL, 0, &f->err));
    int64_t inc = fx_get(f, k).incident_key;
    assert_ok(f, chute_engine_cancel(f->e, k, &f->err));
    fx_commit(f);
    fx_reopen(f);
    int64_t next = fx_create(f, "t", 0, NULL);
    assert_true(next > k);
    assert_true(next > inc);
    assert_true(next != inc);
}

static void test_durability_normal(void **state)
{
    fx *f = *state;
    assert_int_equal(chute_engine_durability(f->e), CHUTE_DURABILITY_FULL);
    fx_close(f);
    f->opts.durability = CHUTE_DURABILITY_NORMAL;
    fx_open(f);
    assert_int_equal(chute_engine_durability(f->e), CHUTE_DURABILITY_NORMAL);
    int64_t k = fx_create(f, "t", 0, NULL);
    fx_commit(f);
    fx_reopen(f);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
}

static void test_db_path_in_data_dir(void **state)
{
    fx *f = *state;
    const char *p = chute_engine_db_path(f->e);
    assert_non_null(p);
    assert_contains(p, f->data);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    fx_create(f, "t", 0, NULL);
    fx_commit(f);
    fx_close(f); /* the engine may hold the file exclusively while open */
    /* It is an SQLite database in WAL mode with a user_version. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_true(strcasecmp((const char *)sqlite3_column_text(stmt, 0), "wal") == 0);
    sqlite3_finalize(stmt);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_true(sqlite3_column_int(stmt, 0) >= 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_retention_survives_reopen(void **state)
{
    fx *f = *state;
    fx_close(f);
    f->opts.retention_ms = 60000;
    fx_open(f);
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    f->now = FX_T0 + 5;
    assert_ok(f, chute_engine_complete(f->e, k, "{\"b\":2}", 0, &f->err));
    fx_commit(f);
    fx_reopen(f);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_int_equal(v.completed_at, FX_T0 + 5);
    assert_json_equal(v.variables, "{\"a\":1,\"b\":2}");
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 60005);
    fx_tick_at(f, FX_T0 + 60004);
    assert_state(f, k, CHUTE_JOB_COMPLETED);
    fx_tick_at(f, FX_T0 + 60005);
    assert_state(f, k, FX_GONE);
    fx_commit(f);
    fx_reopen(f);
    assert_state(f, k, FX_GONE);
    assert_rejected(f, chute_engine_complete(f->e, k, NULL, 0, &f->err), CHUTE_ENOTFOUND);
}

/* ---- open errors ----------------------------------------------------------- */

static void test_open_bad_options(void **state)
{
    fx *f = *state;
    chute_engine *e = (chute_engine *)f; /* must stay untouched on failure */
    chute_engine_options o = f->opts;
    o.data_dir = NULL;
    assert_rejected(f, chute_engine_open(&e, &o, &f->err), CHUTE_EINVAL);
    o = f->opts;
    o.data_dir = "";
    assert_rejected(f, chute_engine_open(&e, &o, &f->err), CHUTE_EINVAL);
    o = f->opts;
    o.partition = 4096;
    assert_rejected(f, chute_engine_open(&e, &o, &f->err), CHUTE_EINVAL);
    o.partition = -1;
    assert_rejected(f, chute_engine_open(&e, &o, &f->err), CHUTE_EINVAL);
    assert_ptr_equal(e, (chute_engine *)f);
    /* Partition 4095 is the highest allowed. */
    o.partition = 4095;
    chute_engine *e2 = NULL;
    assert_ok(f, chute_engine_open(&e2, &o, &f->err));
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "t";
    int64_t key = 0;
    assert_ok(f, chute_engine_create(e2, &s, &key, &f->err));
    assert_int_equal(key >> 51, 4095);
    chute_engine_close(e2);
}

static void test_open_creates_one_level(void **state)
{
    fx *f = *state;
    /* f->data did not exist before the fixture opened the engine. */
    struct stat st;
    assert_int_equal(stat(f->data, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_open_data_dir_is_file(void **state)
{
    fx *f = *state; /* closed fixture */
    char path[256];
    snprintf(path, sizeof path, "%s/afile", f->root);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not a directory\n", fp);
    fclose(fp);
    f->opts.data_dir = path;
    chute_engine *e = (chute_engine *)f;
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&e, &f->opts, &f->err);
    assert_true(rc < 0);
    if (rc != CHUTE_ESTORE)
        fail_msg("expected ESTORE, got %s: %s", chute_err_name(rc), f->err.message);
    assert_int_equal(f->err.code, CHUTE_ESTORE);
    assert_contains(f->err.message, path);
    assert_ptr_equal(e, (chute_engine *)f);
    print_message("data dir is a file: %s\n", f->err.message);
}

static void test_open_missing_parent(void **state)
{
    fx *f = *state; /* closed fixture */
    char path[256];
    snprintf(path, sizeof path, "%s/no/such/dir", f->root);
    f->opts.data_dir = path;
    chute_engine *e = (chute_engine *)f;
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&e, &f->opts, &f->err);
    if (rc != CHUTE_ESTORE)
        fail_msg("expected ESTORE, got %s: %s", chute_err_name(rc), f->err.message);
    assert_contains(f->err.message, "no/such/dir");
    assert_ptr_equal(e, (chute_engine *)f);
}

/* Opens once, closes, and returns the database path in |out|. */
static void make_db(fx *f, char *out, size_t cap)
{
    fx_open(f);
    fx_create(f, "t", 0, NULL);
    fx_commit(f);
    snprintf(out, cap, "%s", chute_engine_db_path(f->e));
    fx_close(f);
}

static void remove_sidecars(const char *db)
{
    char p[600];
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

static void test_open_garbage_db(void **state)
{
    fx *f = *state; /* closed fixture */
    char db[512];
    make_db(f, db, sizeof db);
    remove_sidecars(db);
    FILE *fp = fopen(db, "wb");
    assert_non_null(fp);
    uint32_t x = 2463534242u;
    for (int i = 0; i < 8192; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), fp);
    }
    fclose(fp);
    chute_engine *e = (chute_engine *)f;
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&e, &f->opts, &f->err);
    if (rc != CHUTE_ECORRUPT)
        fail_msg("expected ECORRUPT, got %s: %s", chute_err_name(rc), f->err.message);
    assert_int_equal(f->err.code, CHUTE_ECORRUPT);
    assert_contains(f->err.message, db);
    assert_ptr_equal(e, (chute_engine *)f);
    print_message("garbage db: %s\n", f->err.message);
}

static void test_open_damaged_db(void **state)
{
    fx *f = *state; /* closed fixture */
    /* A real database whose pages past the header are overwritten: it is
     * still recognised as SQLite but fails its checks. */
    fx_open(f);
    for (int i = 0; i < 2000; i++)
        fx_create(f, "t", 0, "{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    fx_commit(f);
    char db[512];
    snprintf(db, sizeof db, "%s", chute_engine_db_path(f->e));
    fx_close(f);
    remove_sidecars(db);
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_true(st.st_size > 4 * 4096);
    int fd = open(db, O_WRONLY);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 0xA5, sizeof junk);
    for (off_t off = 4096; off + (off_t)sizeof junk <= st.st_size; off += 2 * 4096)
        assert_int_equal(pwrite(fd, junk, sizeof junk, off), (ssize_t)sizeof junk);
    close(fd);
    chute_engine *e = (chute_engine *)f;
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&e, &f->opts, &f->err);
    if (rc != CHUTE_ECORRUPT)
        fail_msg("expected ECORRUPT, got %s: %s", chute_err_name(rc), f->err.message);
    assert_contains(f->err.message, db);
    assert_ptr_equal(e, (chute_engine *)f);
    print_message("damaged db: %s\n", f->err.message);
}

static int64_t query_one(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

/* Damage that only an integrity check finds: a page of a table the engine
 * never reads (added by the test) is overwritten. The jobs load fine. */
static void test_open_fails_integrity_check(void **state)
{
    fx *f = *state; /* closed fixture */
    char db[512];
    make_db(f, db, sizeof db);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "PRAGMA journal_mode=DELETE;"
                                  "CREATE TABLE zz_probe(x);"
                                  "INSERT INTO zz_probe VALUES (1),(2),(3);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    int64_t page = query_one(h, "SELECT rootpage FROM sqlite_master WHERE name='zz_probe'");
    int64_t page_size = query_one(h, "PRAGMA page_size");
    assert_true(page > 1);
    sqlite3_close(h);
    remove_sidecars(db);
    int fd = open(db, O_WRONLY);
    assert_true(fd >= 0);
    char junk[65536];
    memset(junk, 0xA5, sizeof junk);
    assert_true(page_size <= (int64_t)sizeof junk);
    assert_int_equal(pwrite(fd, junk, (size_t)page_size, (off_t)((page - 1) * page_size)),
                     page_size);
    close(fd);
    chute_engine *e = (chute_engine *)f;
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&e, &f->opts, &f->err);
    if (rc != CHUTE_ECORRUPT)
        fail_msg("expected ECORRUPT, got %s: %s", chute_err_name(rc), f->err.message);
    assert_contains(f->err.message, db);
    assert_ptr_equal(e, (chute_engine *)f);
    print_message("integrity check: %s\n", f->err.message);
}

static void test_open_newer_schema(void **state)
{
    fx *f = *state; /* closed fixture */
    char db[512];
    make_db(f, db, sizeof db);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 9999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    chute_engine *e = (chute_engine *)f;
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&e, &f->opts, &f->err);
    if (rc != CHUTE_ECORRUPT)
        fail_msg("expected ECORRUPT, got %s: %s", chute_err_name(rc), f->err.message);
    assert_contains(f->err.message, db);
    assert_ptr_equal(e, (chute_engine *)f);
    print_message("newer schema: %s\n", f->err.message);
    /* The file was left alone. */
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 9999);
    sqlite3_finalize(stmt);
    sqlite3_close(h);
}

static void test_open_readonly_dir(void **state)
{
    fx *f = *state; /* closed fixture */
    if (geteuid() == 0)
        skip(); /* root ignores permissions */
    char path[256];
    snprintf(path, sizeof path, "%s/ro", f->root);
    assert_int_equal(mkdir(path, 0500), 0);
    f->opts.data_dir = path;
    chute_engine *e = (chute_engine *)f;
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_open(&e, &f->opts, &f->err);
    chmod(path, 0700);
    if (rc != CHUTE_ESTORE)
        fail_msg("expected ESTORE, got %s: %s", chute_err_name(rc), f->err.message);
    assert_contains(f->err.message, path);
}

/* ---- one owner per data directory; the WAL stays bounded ------------------ */

static void test_second_open_refused(void **state)
{
    fx *f = *state;
    chute_engine *other = NULL;
    chute_error err;
    int rc = chute_engine_open(&other, &f->opts, &err);
    if (rc != CHUTE_ESTORE)
        fail_msg("expected ESTORE for a second owner, got %s: %s", chute_err_name(rc), err.message);
    assert_null(other);
    assert_contains(err.message, "locked by another process");
    /* The first engine is untouched by the attempt and keeps working. */
    int64_t k = fx_create(f, "t", 0, NULL);
    fx_commit(f);
    fx_close(f);
    /* Once it is closed the directory can be opened again. */
    fx_open(f);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The write-ahead log is copied back into the database by the store's
 * checkpoint thread while the engine runs, and other processes may read the
 * database meanwhile (the owner's lock is a separate file). */
static void test_wal_checkpointed_and_readable(void **state)
{
    fx *f = *state;
    /* Durability normal: the writer checkpoints by itself only at 16 000
     * pages, more than this test writes (full: 3 000). */
    fx_close(f);
    f->opts.durability = CHUTE_DURABILITY_NORMAL;
    fx_open(f);
    char wal[512];
    snprintf(wal, sizeof wal, "%s-wal", chute_engine_db_path(f->e));
    char vars[2100];
    memset(vars, 0, sizeof vars);
    strcpy(vars, "{\"pad\":\"");
    memset(vars + strlen(vars), 'x', 2000);
    strcat(vars, "\"}");
    enum { BATCHES = 24, PER_BATCH = 500 };
    static chute_job_spec specs[PER_BATCH];
    static int64_t keys[PER_BATCH];
    for (int i = 0; i < PER_BATCH; i++)
        specs[i] = (chute_job_spec){.type = "big", .variables = vars};
    long max_wal = 0;
    for (int b = 0; b < BATCHES; b++) {
        int rc = chute_engine_create_batch(f->e, specs, PER_BATCH, keys, NULL, &f->err);
        if (rc != 0)
            fail_msg("create_batch: %s %s", chute_err_name(rc), f->err.message);
        fx_commit(f);
        long w = file_size(wal);
        if (w > max_wal)
            max_wal = w;
    }
    /* 12 000 jobs of ~2 KiB, one per page: about 50 MB went through the log, less than
     * the bound at which the writer checkpoints by itself; so only the
     * checkpoint thread can have copied it into the database file while
     * the engine is open (all but the last CKPT_PAGES at most). */
    char db_path[512];
    snprintf(db_path, sizeof db_path, "%s", chute_engine_db_path(f->e));
    long db_size = 0;
    for (int i = 0; i < 100 && (db_size = file_size(db_path)) < 30L * 1000 * 1000; i++)
        usleep(50 * 1000);
    if (db_size < 30L * 1000 * 1000)
        fail_msg("the database file holds %ld bytes: the log was not checkpointed (WAL reached "
                 "%ld bytes)",
                 db_size, max_wal);
    /* A reader in another connection sees every committed row. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(chute_engine_db_path(f->e), &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM jobs", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), BATCHES * PER_BATCH);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* Everything is still there after a reopen. */
    fx_reopen(f);
    chute_engine_stats stats;
    chute_engine_get_stats(f->e, &stats);
    assert_int_equal(stats.activatable, BATCHES * PER_BATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_reopen_rebuilds_everything),
        FX_TEST(test_reopen_lease_expired_while_closed),
        FX_TEST(test_uncommitted_batch_lost),
        FX_TEST(test_commit_in_steps),
        FX_TEST(test_retention_survives_reopen),
        FX_TEST(test_keys_unique_across_reopen),
        FX_TEST(test_keys_unique_across_reopen_incidents),
        FX_TEST(test_durability_normal),
        FX_TEST(test_db_path_in_data_dir),
        FX_TEST(test_second_open_refused),
        FX_TEST(test_wal_checkpointed_and_readable),
        FX_TEST(test_open_bad_options),
        FX_TEST(test_open_creates_one_level),
        FX_TEST_CLOSED(test_open_data_dir_is_file),
        FX_TEST_CLOSED(test_open_missing_parent),
        FX_TEST_CLOSED(test_open_garbage_db),
        FX_TEST_CLOSED(test_open_damaged_db),
        FX_TEST_CLOSED(test_open_fails_integrity_check),
        FX_TEST_CLOSED(test_open_newer_schema),
        FX_TEST_CLOSED(test_open_readonly_dir),
    };
    return cmocka_run_group_tests_name("engine_store", tests, NULL, NULL);
}
