/* Unit tests for src/common/json: check_object, merge, filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/json.h"

static int json_same(const char *a, const char *b)
{
    json_t *x = json_loads(a, JSON_DECODE_ANY, NULL);
    json_t *y = json_loads(b, JSON_DECODE_ANY, NULL);
    int eq = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

#define assert_json(actual, expected)                                                              \
    do {                                                                                           \
        if (!json_same((actual), (expected)))                                                      \
            fail_msg("JSON %s != %s", (actual), (expected));                                      \
    } while (0)

#define assert_has(hay, needle)                                                                    \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                          \
    } while (0)

static int check(const char *s, int strings_only, chute_error *err)
{
    memset(err, 0, sizeof *err);
    return cjson_check_object(s, s ? strlen(s) : 0, strings_only, "variables", err);
}

static void test_blank(void **state)
{
    (void)state;
    assert_true(cjson_blank(NULL, 0));
    assert_true(cjson_blank("", 0));
    assert_true(cjson_blank(" \t\r\n", 4));
    assert_false(cjson_blank(" {} ", 4));
    assert_true(cjson_blank("  x", 2)); /* only |len| bytes count */
}

static void test_check_object_ok(void **state)
{
    (void)state;
    chute_error err;
    assert_int_equal(check("{}", 0, &err), 0);
    assert_int_equal(check("  {\"a\":1,\"b\":[1,2],\"c\":{\"d\":null}}  ", 0, &err), 0);
    assert_int_equal(check("", 0, &err), 0);
    assert_int_equal(check("   ", 0, &err), 0);
    assert_int_equal(check(NULL, 0, &err), 0);
    assert_int_equal(check("{\"a\":\"b\",\"c\":\"\"}", 1, &err), 0);
    /* Only the first |len| bytes. */
    assert_int_equal(cjson_check_object("{}garbage", 2, 0, "variables", &err), 0);
}

static void test_check_object_kinds(void **state)
{
    (void)state;
    chute_error err;
    struct {
        const char *doc, *kind;
    } cases[] = {
        {"[1]", "an array"}, {"3", "a number"},    {"1.5", "a number"}, {"\"x\"", "a string"},
        {"null", "null"},    {"true", "a boolean"}, {"false", "a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(check(cases[i].doc, 0, &err), CHUTE_EINVAL);
        assert_int_equal(err.code, CHUTE_EINVAL);
        assert_has(err.message, "variables");
        assert_has(err.message, "JSON object");
        assert_has(err.message, cases[i].kind);
    }
}

static void test_check_object_malformed(void **state)
{
    (void)state;
    chute_error err;
    assert_int_equal(check("{\"a\":1,}", 0, &err), CHUTE_EINVAL);
    assert_has(err.message, "line 1");
    assert_has(err.message, "column 8");
    assert_int_equal(check("{\n\"a\": 1,\n\"b\": tru }", 0, &err), CHUTE_EINVAL);
    assert_has(err.message, "line 3");
    assert_int_equal(check("{", 0, &err), CHUTE_EINVAL);
    assert_int_equal(check("{} {}", 0, &err), CHUTE_EINVAL);
    assert_int_equal(check("{'a':1}", 0, &err), CHUTE_EINVAL);
    assert_has(err.message, "valid JSON");
}

static void test_check_object_strings_only(void **state)
{
    (void)state;
    chute_error err;
    const char *bad[] = {"{\"a\":1}", "{\"a\":\"x\",\"b\":null}", "{\"a\":{}}", "{\"a\":[]}",
                         "{\"a\":true}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(cjson_check_object(bad[i], strlen(bad[i]), 1, "custom headers", &err),
                         CHUTE_EINVAL);
        assert_has(err.message, "custom headers");
    }
    assert_int_equal(check("{\"a\":1}", 0, &err), 0); /* fine as variables */
    memset(&err, 0, sizeof err);
    const char *mixed = "{\"ok\":\"s\",\"num\":1}";
    assert_int_equal(cjson_check_object(mixed, strlen(mixed), 1, "custom headers", &err),
                     CHUTE_EINVAL);
    assert_has(err.message, "'num'");
    /* NULL err is allowed. */
    assert_int_equal(cjson_check_object("[", 1, 0, "x", NULL), CHUTE_EINVAL);
}

static void merge(const char *a, const char *b, const char *expect)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(cjson_merge(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    assert_json(out, expect);
    free(out);
}

static void test_merge(void **state)
{
    (void)state;
    merge("{\"a\":1}", "{\"b\":2}", "{\"a\":1,\"b\":2}");
    merge("{\"a\":1,\"b\":2}", "{\"a\":3}", "{\"a\":3,\"b\":2}");
    merge("{\"o\":{\"x\":1}}", "{\"o\":{\"y\":2}}", "{\"o\":{\"y\":2}}"); /* top level only */
    merge("", "{\"a\":1}", "{\"a\":1}");
    merge("{\"a\":1}", "  ", "{\"a\":1}");
    merge(NULL, NULL, "{}");
    merge("{\"a\":1}", "{\"a\":null}", "{\"a\":null}");
    /* Compact output. */
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(cjson_merge("{ \"a\" : 1 }", 11, "{ \"b\" : [ 1 , 2 ] }", 19, &out, &len), 0);
    assert_null(strchr(out, ' '));
    free(out);
}

static void filter(const char *doc, const char *const *names, size_t n, const char *expect)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(cjson_filter(doc, doc ? strlen(doc) : 0, names, n, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    assert_json(out, expect);
    free(out);
}

static void test_filter(void **state)
{
    (void)state;
    const char *doc = "{\"a\":1,\"b\":{\"c\":2},\"d\":\"x\",\"e\":null}";
    const char *ab[] = {"a", "b", "missing"};
    filter(doc, ab, 3, "{\"a\":1,\"b\":{\"c\":2}}");
    const char *nested[] = {"c"};
    filter(doc, nested, 1, "{}");
    const char *e[] = {"e"};
    filter(doc, e, 1, "{\"e\":null}");
    const char *dup[] = {"d", "d"};
    filter(doc, dup, 2, "{\"d\":\"x\"}");
    filter(doc, NULL, 0, "{}");
    filter("", ab, 3, "{}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blank),
        cmocka_unit_test(test_check_object_ok),
        cmocka_unit_test(test_check_object_kinds),
        cmocka_unit_test(test_check_object_malformed),
        cmocka_unit_test(test_check_object_strings_only),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
