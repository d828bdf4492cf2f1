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
            fail_msg("JSON %s != %s", (actual), (expected));                                       \
    } while (0)

#define assert_has(hay, needle)                                                                    \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                           \
    } while (0)

static int check(const char *s, int strings_only, chute_error *err)
{
    memset(err, 0, sizeof *err);
    return jdoc_check_object(s, s ? strlen(s) : 0, strings_only, "variables", err);
}

static void test_blank(void **state)
{
    (void)state;
    assert_true(jdoc_blank(NULL, 0));
    assert_true(jdoc_blank("", 0));
    assert_true(jdoc_blank(" \t\r\n", 4));
    assert_false(jdoc_blank(" {} ", 4));
    assert_true(jdoc_blank("  x", 2)); /* only |len| bytes count */
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
    assert_int_equal(jdoc_check_object("{}garbage", 2, 0, "variables", &err), 0);
}

static void test_check_object_kinds(void **state)
{
    (void)state;
    chute_error err;
    struct {
        const char *doc, *kind;
    } cases[] = {
        {"[1]", "an array"}, {"3", "a number"},     {"1.5", "a number"},    {"\"x\"", "a string"},
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
        assert_int_equal(jdoc_check_object(bad[i], strlen(bad[i]), 1, "custom headers", &err),
                         CHUTE_EINVAL);
        assert_has(err.message, "custom headers");
    }
    assert_int_equal(check("{\"a\":1}", 0, &err), 0); /* fine as variables */
    memset(&err, 0, sizeof err);
    const char *mixed = "{\"ok\":\"s\",\"num\":1}";
    assert_int_equal(jdoc_check_object(mixed, strlen(mixed), 1, "custom headers", &err),
                     CHUTE_EINVAL);
    assert_has(err.message, "'num'");
    /* NULL err is allowed. */
    assert_int_equal(jdoc_check_object("[", 1, 0, "x", NULL), CHUTE_EINVAL);
}

/* The messages are the same ones jansson's parser gave, word for word. */
static void test_check_object_messages(void **state)
{
    (void)state;
    chute_error err;
    struct {
        const char *doc;
        int strings_only;
        const char *message;
    } cases[] = {
        {"{\"a\":1,}", 0,
         "Expected variables to be valid JSON, but it is not: string or '}' expected near '}' at "
         "line 1, column 8"},
        {"{\n  \"a\": 1e400\n}", 0,
         "Expected variables to be valid JSON, but it is not: real number overflow near '1e400' "
         "at line 2, column 12"},
        {"{\"n\":9223372036854775808}", 0,
         "Expected variables to be valid JSON, but it is not: too big integer near "
         "'9223372036854775808' at line 1, column 24"},
        {"{\"a\\u0000\":1}", 0,
         "Expected variables to be valid JSON, but it is not: NUL byte in object key not "
         "supported near '\"a\\u0000\"' at line 1, column 10"},
        {"{\"s\":\"\\ud800\"}", 0,
         "Expected variables to be valid JSON, but it is not: invalid Unicode '\\uD800' near "
         "'\"\\ud800\"' at line 1, column 13"},
        {"{\"s\":\"\xff\"}", 0,
         "Expected variables to be valid JSON, but it is not: unable to decode byte 0xff near "
         "'\"' at line 1, column 6"},
        {"[1]", 0, "Expected variables to be a JSON object, but got an array"},
        {"{\"b\":\"x\",\"a\":true}", 1,
         "Expected variables to be a JSON object of strings, but 'a' is a boolean"},
        {"{\"caf\\u00e9\":{}}", 1,
         "Expected variables to be a JSON object of strings, but 'caf\xc3\xa9' is an object"},
        /* A repeated key keeps its first place and takes its last value. */
        {"{\"a\":\"x\",\"b\":\"y\",\"a\":null}", 1,
         "Expected variables to be a JSON object of strings, but 'a' is null"},
        {"{\"a\":1,\"a\":\"x\"}", 1, NULL},
        {"{\"a\":\"\\u0000\"}", 1, NULL}, /* NUL is fine in a value */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&err, 0, sizeof err);
        int rc = check(cases[i].doc, cases[i].strings_only, &err);
        if (!cases[i].message) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, CHUTE_EINVAL);
        assert_string_equal(err.message, cases[i].message);
    }
}

/* More than 256 header members with a repeated key and a non-string value:
 * the validator hands the verdict to jansson; same answer. */
static void test_check_object_many_headers(void **state)
{
    (void)state;
    static char doc[16384];
    size_t n = 0;
    doc[n++] = '{';
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(doc + n, sizeof doc - n, "%s\"h%d\":\"v\"", i ? "," : "", i % 280);
    n += (size_t)snprintf(doc + n, sizeof doc - n, ",\"h7\":7,\"h9\":9,\"h9\":\"s\"}");
    jdoc_scan_result r;
    assert_int_equal(jdoc_scan(doc, n, 1, &r), CJSON_SCAN_UNDECIDED);
    chute_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(jdoc_check_object(doc, n, 1, "custom headers", &err), CHUTE_EINVAL);
    assert_string_equal(err.message,
                        "Expected custom headers to be a JSON object of strings, but 'h7' is a "
                        "number");
    assert_int_equal(jdoc_check_object(doc, n, 0, "variables", &err), 0);
}

static void merge(const char *a, const char *b, const char *expect)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(jdoc_merge(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, &out, &len), 0);
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
    assert_int_equal(jdoc_merge("{ \"a\" : 1 }", 11, "{ \"b\" : [ 1 , 2 ] }", 19, &out, &len), 0);
    assert_null(strchr(out, ' '));
    free(out);
}

static void filter(const char *doc, const char *const *names, size_t n, const char *expect)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(jdoc_filter(doc, doc ? strlen(doc) : 0, names, n, &out, &len), 0);
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

static int collect(void *ctx, const char *str, size_t n)
{
    char *buf = ctx;
    size_t w = strlen(buf);
    snprintf(buf + w, 64 - w, "%s%.*s", w ? "|" : "", (int)n, str);
    return strcmp(buf, "stop") == 0 ? 7 : 0;
}

static void test_strings_each(void **state)
{
    (void)state;
    char buf[64] = "";
    const char *a = "[\"ops\", \"sales\", 3, \"x\\u0041\"]";
    assert_int_equal(jdoc_strings_each(a, strlen(a), collect, buf), 0);
    assert_string_equal(buf, "ops|sales|xA"); /* a non-string is skipped */
    buf[0] = '\0';
    assert_int_equal(jdoc_strings_each("", 0, collect, buf), 0);
    assert_int_equal(jdoc_strings_each(NULL, 0, collect, buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(jdoc_strings_each("[\"stop\",\"more\"]", 15, collect, buf), 7);
    assert_string_equal(buf, "stop");
    assert_int_equal(jdoc_strings_each("{}", 2, collect, buf), CHUTE_EINVAL);
    assert_int_equal(jdoc_strings_each("[", 1, collect, buf), CHUTE_EINVAL);
    assert_true(jdoc_array_has(a, strlen(a), "sales"));
    assert_true(jdoc_array_has(a, strlen(a), "xA"));
    assert_false(jdoc_array_has(a, strlen(a), "sale"));
    assert_false(jdoc_array_has(a, strlen(a), "3"));
    assert_false(jdoc_array_has("[]", 2, "ops"));
    assert_false(jdoc_array_has("\"ops\"", 5, "ops"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blank),
        cmocka_unit_test(test_check_object_ok),
        cmocka_unit_test(test_check_object_kinds),
        cmocka_unit_test(test_check_object_malformed),
        cmocka_unit_test(test_check_object_strings_only),
        cmocka_unit_test(test_check_object_messages),
        cmocka_unit_test(test_check_object_many_headers),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_strings_each),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
