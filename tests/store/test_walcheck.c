/*
 * walcheck on real write-ahead logs: SQLite writes 50 commits to a log
 * (checkpoints off), the test copies the log aside and damages the copy
 * in the ways that happen: a flipped run of bytes in the middle, a torn
 * last write, damage inside the last transaction, a damaged header.
 */
#include <fcntl.h>
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

#include "store/walcheck.h"

#define COMMITS 50

typedef struct fx {
    char dir[64];
    char db[96];
    char wal[128]; /* the copy the tests damage */
    sqlite3 *conn; /* kept open so the log is neither checkpointed nor removed */
    size_t wal_size;
    uint32_t page_size;
} fx;

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static void copy_file(const char *from, const char *to, size_t *size)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
        total += n;
    }
    fclose(in);
    fclose(out);
    *size = total;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/chute-walcheck-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/p.db", f->dir);
    snprintf(f->wal, sizeof f->wal, "%s/copy-wal", f->dir);
    assert_int_equal(sqlite3_open(f->db, &f->conn), SQLITE_OK);
    exec(f->conn, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                  "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
    for (int i = 0; i < COMMITS - 1; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "INSERT INTO t(v) VALUES (printf('%%0500d', %d))", i);
        exec(f->conn, sql);
    }
    char src[128];
    snprintf(src, sizeof src, "%s-wal", f->db);
    copy_file(src, f->wal, &f->wal_size);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->conn, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    f->page_size = (uint32_t)sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sqlite3_close(f->conn);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static size_t frame_size(const fx *f)
{
    return 24 + f->page_size;
}

static size_t frames_in(const fx *f)
{
    return (f->wal_size - 32) / frame_size(f);
}

/* Flips |n| bytes at |at| of the copy. */
static void flip(const fx *f, size_t at, size_t n)
{
    int fd = open(f->wal, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b[64];
    assert_true(n <= sizeof b);
    assert_int_equal(pread(fd, b, n, (off_t)at), (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        b[i] ^= 0x5a;
    assert_int_equal(pwrite(fd, b, n, (off_t)at), (ssize_t)n);
    close(fd);
}

static void test_clean_log(void **state)
{
    fx *f = *state;
    wal_check c;
    assert_int_equal(wal_check_file(f->wal, &c, NULL), 0);
    assert_int_equal(c.page_size, f->page_size);
    assert_int_equal(c.bad_frame, 0);
    assert_int_equal(c.commits, COMMITS); /* the CREATE TABLE and the inserts */
    assert_int_equal(c.frames, frames_in(f));
    assert_false(wal_check_damaged(&c));
}

static void test_missing_and_empty(void **state)
{
    fx *f = *state;
    wal_check c;
    char path[160];
    snprintf(path, sizeof path, "%s/none-wal", f->dir);
    assert_int_equal(wal_check_file(path, &c, NULL), 0);
    assert_false(wal_check_damaged(&c));
    assert_int_equal(truncate(f->wal, 0), 0);
    assert_int_equal(wal_check_file(f->wal, &c, NULL), 0);
    assert_false(wal_check_damaged(&c));
}

static void test_flipped_bytes_in_the_middle_are_damage(void **state)
{
    fx *f = *state;
    /* 16 bytes in the page of frame 5: every commit after its transaction
     * is intact and would be dropped by SQLite's recovery. */
    flip(f, 32 + 4 * frame_size(f) + 24 + 100, 16);
    wal_check c;
    assert_int_equal(wal_check_file(f->wal, &c, NULL), 0);
    assert_int_equal(c.bad_frame, 5);
    assert_true(c.commits < COMMITS);
    assert_true(c.commits_lost > 0);
    assert_true(c.commits + c.commits_lost >= COMMITS - 1);
    assert_true(wal_check_damaged(&c));
}

static void test_torn_last_write_is_accepted(void **state)
{
    fx *f = *state;
    /* The last frame only half written. */
    assert_int_equal(truncate(f->wal, (off_t)(f->wal_size - frame_size(f) / 2)), 0);
    wal_check c;
    assert_int_equal(wal_check_file(f->wal, &c, NULL), 0);
    assert_int_equal(c.bad_frame, 0);
    assert_int_equal(c.commits, COMMITS - 1);
    assert_false(wal_check_damaged(&c));
}

static void test_damage_in_the_last_transaction_is_a_torn_write(void **state)
{
    fx *f = *state;
    /* A bad page in the last frame: nothing committed after it. */
    flip(f, 32 + (frames_in(f) - 1) * frame_size(f) + 24 + 10, 16);
    wal_check c;
    assert_int_equal(wal_check_file(f->wal, &c, NULL), 0);
    assert_int_equal(c.bad_frame, frames_in(f));
    assert_int_equal(c.commits_lost, 0);
    assert_false(wal_check_damaged(&c));
}

static void test_damaged_header(void **state)
{
    fx *f = *state;
    flip(f, 12, 4); /* the checkpoint sequence: the header checksum fails */
    wal_check c;
    assert_int_equal(wal_check_file(f->wal, &c, NULL), 0);
    assert_true(c.header_damaged);
    assert_true(wal_check_damaged(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bytes_in_the_middle_are_damage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_write_is_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_in_the_last_transaction_is_a_torn_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damaged_header, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
