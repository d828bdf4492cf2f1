/*
 * The WAL write-gathering VFS (src/store/walvfs.c): every commit is in the
 * file when SQLite's COMMIT returns (another connection, on the default
 * VFS, reads it while the writer stays open), big commits that go out in
 * several pieces arrive whole, and the file is a valid database after all
 * of it.
 */
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
#include <sqlite3.h>

#include "store/walvfs.h"

typedef struct fx {
    char dir[64];
    char path[128];
    sqlite3 *w; /* the writer, through walvfs */
} fx;

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/chute-walvfs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    assert_int_equal(walvfs_register(), SQLITE_OK);
    assert_int_equal(sqlite3_open_v2(f->path, &f->w,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, WALVFS_NAME),
                     SQLITE_OK);
    exec_ok(f->w, "PRAGMA journal_mode = WAL");
    exec_ok(f->w, "PRAGMA synchronous = NORMAL");
    /* Checkpoints would move the pages into the database file and hide
     * whether the log itself was written. */
    exec_ok(f->w, "PRAGMA wal_autocheckpoint = 0");
    exec_ok(f->w, "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sqlite3_close(f->w);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* A reader on the default VFS: it sees only what reached the file. */
static sqlite3 *open_reader(const fx *f)
{
    sqlite3 *r = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(r, 5000);
    return r;
}

static void test_each_commit_reaches_the_file(void **state)
{
    fx *f = *state;
    sqlite3 *r = open_reader(f);
    for (int i = 1; i <= 50; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%d, randomblob(%d))", i, 100 + i * 37);
        exec_ok(f->w, sql);
        /* The writer stays open and buffers nothing past its commit. */
        assert_int_equal(query_int(r, "SELECT count(*) FROM t"), i);
        assert_int_equal(query_int(r, "SELECT max(k) FROM t"), i);
    }
    sqlite3_close(r);
}

static void test_big_commit_in_pieces(void **state)
{
    fx *f = *state;
    sqlite3 *r = open_reader(f);
    /* About 12 MB in one transaction: many pieces of the gathering buffer,
     * including remainders that are multiples of 128 KiB. */
    exec_ok(f->w, "BEGIN");
    exec_ok(f->w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                  "INSERT INTO t SELECT i, randomblob(4000) FROM n");
    exec_ok(f->w, "COMMIT");
    assert_int_equal(query_int(r, "SELECT count(*) FROM t"), 3000);
    assert_int_equal(query_int(r, "SELECT sum(length(v)) FROM t"), 3000 * 4000);
    sqlite3_close(r);
    /* The writer reads back through the log too (its cache is dropped). */
    exec_ok(f->w, "PRAGMA cache_size = 0");
    assert_int_equal(query_int(f->w, "SELECT sum(length(v)) FROM t"), 3000 * 4000);
}

static void test_valid_after_checkpoint_and_reopen(void **state)
{
    fx *f = *state;
    for (int i = 1; i <= 200; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%d, randomblob(300))", i);
        exec_ok(f->w, sql);
        if (i % 50 == 0) /* the log is copied back and rewound between commits */
            exec_ok(f->w, "PRAGMA wal_checkpoint(RESTART)");
    }
    sqlite3_close(f->w);
    f->w = NULL;
    sqlite3 *r = open_reader(f);
    assert_int_equal(query_int(r, "SELECT count(*) FROM t"), 200);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(r, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_commit_reaches_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_commit_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_after_checkpoint_and_reopen, setup, teardown),
    };
    return cmocka_run_group_tests_name("walvfs", tests, NULL, NULL);
}
