/* chuted's log and its rate limit (src/server/log.c), on a memory stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/log.h"

static size_t count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_a_flood_is_cut_and_counted(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    chuted_log_set_output(f);
    log_limit l = LOG_LIMIT_INIT;
    int written = 0;
    /* 12 133 failed commits in 40 s on a full disk: at one a ms... */
    for (uint64_t t = 1000; t < 1000 + 12133; t++)
        written += chuted_log_limited(&l, t, "commit failed: disk full (%d)", 28);
    /* ...that is two windows of LOG_LIMIT_BURST lines, then the next
     * window says what was left out. */
    assert_int_equal(written, 2 * LOG_LIMIT_BURST);
    assert_int_equal(chuted_log_limited(&l, 1000 + 12133 + LOG_LIMIT_WINDOW_MS, "commit failed"),
                     1);
    fflush(f);
    assert_int_equal(count_lines(buf, "chuted: commit failed"), 2 * LOG_LIMIT_BURST + 1);
    assert_int_equal(count_lines(buf, "like the next one left out"), 2);
    assert_non_null(strstr(buf, "chuted: (2128 more lines like the next one left out"));
    chuted_log_set_output(NULL);
    fclose(f);
    free(buf);
}

static void test_plain_lines(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    chuted_log_set_output(f);
    chuted_log("ready on %s:%d", "127.0.0.1", 26500);
    fflush(f);
    assert_string_equal(buf, "chuted: ready on 127.0.0.1:26500\n");
    chuted_log_set_output(NULL);
    fclose(f);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_flood_is_cut_and_counted),
        cmocka_unit_test(test_plain_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
