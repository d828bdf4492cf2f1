/*
 * Unit and differential tests for jdoc_scan (src/common/jsonscan.c), the
 * non-allocating validator behind jdoc_check_object. jansson 2.14 is the
 * oracle: every case is checked both against a written expectation and
 * against json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL), and the differential
 * test feeds both a few hundred thousand generated and mutated documents.
 */
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

/* ---- the oracle ------------------------------------------------------------------------- */

static const char *kind_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

/* The name as jdoc_scan quotes it: at most 100 bytes, on a character
 * boundary, then "...". */
static void shorten(const char *name, char *out)
{
    size_t n = strlen(name), keep = n;
    if (n > 100) {
        keep = 100;
        while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80)
            keep--;
    }
    memcpy(out, name, keep);
    strcpy(out + keep, keep < n ? "..." : "");
}

/* What jansson says about |s|, in jdoc_scan's terms. */
static void oracle(const char *s, size_t len, int strings_only, jdoc_scan_result *o)
{
    memset(o, 0, sizeof *o);
    json_error_t e;
    json_t *doc = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!doc) {
        o->status = CJSON_SCAN_SYNTAX;
        snprintf(o->text, sizeof o->text, "%s", e.text);
        o->line = e.line;
        o->column = e.column;
        return;
    }
    if (!json_is_object(doc)) {
        o->status = CJSON_SCAN_NOT_OBJECT;
        o->kind = kind_name(doc);
    } else if (strings_only) {
        const char *name;
        json_t *value;
        json_object_foreach(doc, name, value)
        {
            if (!json_is_string(value)) {
                o->status = CJSON_SCAN_NOT_STRINGS;
                o->kind = kind_name(value);
                shorten(name, o->name);
                break;
            }
        }
    }
    json_decref(doc);
}

static int same(const jdoc_scan_result *a, const jdoc_scan_result *b)
{
    if (a->status != b->status)
        return 0;
    switch (a->status) {
    case CJSON_SCAN_SYNTAX:
        return strcmp(a->text, b->text) == 0 && a->line == b->line && a->column == b->column;
    case CJSON_SCAN_NOT_OBJECT:
        return strcmp(a->kind, b->kind) == 0;
    case CJSON_SCAN_NOT_STRINGS:
        return strcmp(a->kind, b->kind) == 0 && strcmp(a->name, b->name) == 0;
    default:
        return 1;
    }
}

static void describe(const char *who, const jdoc_scan_result *r)
{
    static const char *const names[] = {"OK", "SYNTAX", "NOT_OBJECT", "NOT_STRINGS", "UNDECIDED"};
    fprintf(stderr, "  %-8s %s", who, names[r->status]);
    if (r->status == CJSON_SCAN_SYNTAX)
        fprintf(stderr, " \"%s\" line %d column %d", r->text, r->line, r->column);
    else if (r->status == CJSON_SCAN_NOT_OBJECT)
        fprintf(stderr, " %s", r->kind);
    else if (r->status == CJSON_SCAN_NOT_STRINGS)
        fprintf(stderr, " '%s' is %s", r->name, r->kind);
    fprintf(stderr, "\n");
}

static void dump_hex(const char *s, size_t len)
{
    fprintf(stderr, "  document (%zu bytes):", len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", (unsigned char)s[i]);
    fprintf(stderr, "\n");
}

/* Counts for the differential run. */
static struct {
    size_t docs, accepted, syntax, not_object, not_strings, undecided;
} tally;

/* jdoc_scan and jdoc_check_object against jansson; 0 when they agree. */
static int differ(const char *s, size_t len, int strings_only)
{
    jdoc_scan_result got, want;
    jdoc_scan(s, len, strings_only, &got);
    oracle(s, len, strings_only, &want);
    tally.docs++;
    if (got.status == CJSON_SCAN_UNDECIDED) {
        tally.undecided++;
    } else if (!same(&got, &want)) {
        fprintf(stderr, "jdoc_scan disagrees with jansson (strings_only=%d):\n", strings_only);
        dump_hex(s, len);
        describe("jansson", &want);
        describe("scan", &got);
        return 1;
    }
    switch (want.status) {
    case CJSON_SCAN_OK:
        tally.accepted++;
        break;
    case CJSON_SCAN_SYNTAX:
        tally.syntax++;
        break;
    case CJSON_SCAN_NOT_OBJECT:
        tally.not_object++;
        break;
    default:
        tally.not_strings++;
        break;
    }
    /* The message jdoc_check_object builds from it (blank documents are
     * accepted before any parsing). */
    chute_error err;
    memset(&err, 0, sizeof err);
    int rc = jdoc_check_object(s, len, strings_only, "doc", &err);
    char expect[CHUTE_ERROR_MESSAGE_MAX] = "";
    int blank = jdoc_blank(s, len);
    if (!blank && want.status == CJSON_SCAN_SYNTAX)
        snprintf(expect, sizeof expect,
                 "Expected doc to be valid JSON, but it is not: %s at line %d, column %d",
                 want.text, want.line, want.column);
    else if (!blank && want.status == CJSON_SCAN_NOT_OBJECT)
        snprintf(expect, sizeof expect, "Expected doc to be a JSON object, but got %s", want.kind);
    else if (!blank && want.status == CJSON_SCAN_NOT_STRINGS)
        snprintf(expect, sizeof expect,
                 "Expected doc to be a JSON object of strings, but '%s' is %s", want.name,
                 want.kind);
    if ((rc == 0) != (expect[0] == '\0') || (rc != 0 && strcmp(err.message, expect) != 0)) {
        fprintf(stderr, "jdoc_check_object disagrees (strings_only=%d):\n", strings_only);
        dump_hex(s, len);
        fprintf(stderr, "  want rc %d \"%s\"\n  got  rc %d \"%s\"\n", expect[0] ? CHUTE_EINVAL : 0,
                expect, rc, rc ? err.message : "");
        return 1;
    }
    return 0;
}

/* ---- grammar corners, with the expected verdicts written out ------------------------------- */

typedef struct corner {
    const char *doc;
    size_t len; /* 0: strlen(doc) */
    int strings_only;
    int status;
    const char *text; /* reason, or kind, or "name|kind" */
    int line, column;
} corner;

#define OK(d)                                                                                      \
    {                                                                                              \
        d, 0, 0, CJSON_SCAN_OK, NULL, 0, 0                                                         \
    }
#define OKN(d, n)                                                                                  \
    {                                                                                              \
        d, n, 0, CJSON_SCAN_OK, NULL, 0, 0                                                         \
    }
#define SYN(d, t, l, c)                                                                            \
    {                                                                                              \
        d, 0, 0, CJSON_SCAN_SYNTAX, t, l, c                                                        \
    }
#define SYNN(d, n, t, l, c)                                                                        \
    {                                                                                              \
        d, n, 0, CJSON_SCAN_SYNTAX, t, l, c                                                        \
    }
/* A literal with NUL bytes in it, all of it. */
#define SYNL(d, t, l, c)                                                                           \
    {                                                                                              \
        d, sizeof d - 1, 0, CJSON_SCAN_SYNTAX, t, l, c                                             \
    }
#define WHOLE(d, status, kind)                                                                     \
    {                                                                                              \
        d, sizeof d - 1, 0, status, kind, 0, 0                                                     \
    }
#define KIND(d, k)                                                                                 \
    {                                                                                              \
        d, 0, 0, CJSON_SCAN_NOT_OBJECT, k, 0, 0                                                    \
    }
#define HDR(d, nk)                                                                                 \
    {                                                                                              \
        d, 0, 1, CJSON_SCAN_NOT_STRINGS, nk, 0, 0                                                  \
    }
#define HDR_OK(d)                                                                                  \
    {                                                                                              \
        d, 0, 1, CJSON_SCAN_OK, NULL, 0, 0                                                         \
    }

static void check_corners(const corner *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        const corner *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->doc);
        jdoc_scan_result got, want;
        memset(&want, 0, sizeof want);
        want.status = c->status;
        if (c->status == CJSON_SCAN_SYNTAX) {
            snprintf(want.text, sizeof want.text, "%s", c->text);
            want.line = c->line;
            want.column = c->column;
        } else if (c->status == CJSON_SCAN_NOT_OBJECT) {
            want.kind = c->text;
        } else if (c->status == CJSON_SCAN_NOT_STRINGS) {
            const char *bar = strchr(c->text, '|');
            snprintf(want.name, sizeof want.name, "%.*s", (int)(bar - c->text), c->text);
            want.kind = bar + 1;
        }
        jdoc_scan(c->doc, len, c->strings_only, &got);
        jdoc_scan_result o; /* the written expectation must be jansson's too */
        oracle(c->doc, len, c->strings_only, &o);
        if (!same(&got, &want) || !same(&o, &want)) {
            fprintf(stderr, "case %zu is not as expected:\n", i);
            dump_hex(c->doc, len);
            describe("expected", &want);
            describe("jansson", &o);
            describe("scan", &got);
            failures++;
            continue;
        }
        assert_int_equal(differ(c->doc, len, c->strings_only), 0);
    }
    assert_int_equal(failures, 0);
}

static void test_accepts(void **state)
{
    (void)state;
    static const corner cases[] = {
        OK("{}"),
        OK(" \t\r\n{ \t\r\n} \t\r\n"),
        OK("{\"orderId\":\"A-1042\",\"amount\":129.5,\"items\":3}"),
        OK("{\"a\":[1,-2,3.5,-0.0,0e0,1E+2,1e-2,true,false,null,\"s\",{},[]]}"),
        OK("{\"\":\"\"}"),
        OK("{\"a\":1,\"a\":2}"),                               /* duplicate keys */
        OK("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"),          /* every simple escape */
        OK("{\"u\":\"\\u00e9\\u20AC\\uD83D\\uDE00\\uffff\"}"), /* \u, a pair */
        OK("{\"u\":\"\\u0000\"}"),                             /* NUL in a value */
        OK("{\"t\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"}"),
        OK("{\"i\":9223372036854775807,\"j\":-9223372036854775808}"),
        OK("{\"r\":1.7976931348623157e308,\"s\":-1.7976931348623158e308}"),
        OK("{\"r\":1e-400,\"s\":0e999999999999999999,\"t\":0.0000e400}"),
        OK("{\"r\":0.00000000000000000000001e330}"),
        OK("{\"x\":1\r\n}"),
        OKN("{\"a\":1} trailing bytes past len", 7),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
}

static void test_kinds(void **state)
{
    (void)state;
    static const corner cases[] = {
        KIND("[]", "an array"),          KIND("[1,{}]", "an array"), KIND("\"x\"", "a string"),
        KIND("0", "a number"),           KIND("-1.5e3", "a number"), KIND("true", "a boolean"),
        KIND("false", "a boolean"),      KIND("null", "null"),       KIND(" 7 ", "a number"),
        KIND("\"\\u0000\"", "a string"),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
}

static void test_structure_errors(void **state)
{
    (void)state;
    static const corner cases[] = {
        SYN("{", "string or '}' expected near end of file", 1, 1),
        SYN("{\"a\":1,}", "string or '}' expected near '}'", 1, 8),
        SYN("{\"a\"}", "':' expected near '}'", 1, 5),
        SYN("{\"a\":}", "unexpected token near '}'", 1, 6),
        SYN("{\"a\":1", "'}' expected near end of file", 1, 6),
        SYN("{\"a\":1 \"b\":2}", "'}' expected near '\"b\"'", 1, 10),
        SYN("{\"a\":1]", "'}' expected near ']'", 1, 7),
        SYN("{1:2}", "string or '}' expected near '1'", 1, 2),
        SYN("{'a':1}", "string or '}' expected near '''", 1, 2),
        SYN("[", "']' expected near end of file", 1, 1),
        SYN("[1,", "']' expected near end of file", 1, 3),
        SYN("[1,]", "unexpected token near ']'", 1, 4),
        SYN("[1 2]", "']' expected near '2'", 1, 4),
        SYN("[1}", "']' expected near '}'", 1, 3),
        SYN(",", "unexpected token near ','", 1, 1),
        SYN("]", "unexpected token near ']'", 1, 1),
        SYN("{} {}", "end of file expected near '{'", 1, 4),
        SYN("{} x", "end of file expected near 'x'", 1, 4),
        SYN("{}\v", "end of file expected near '\v'", 1, 3),
        SYN("{}\f", "end of file expected near '\f'", 1, 3),
        SYN("{\n\"a\": 1,\n\"b\": tru }", "invalid token near 'tru'", 3, 8),
        SYN("[1\n,\n2,\nx]", "invalid token near 'x'", 4, 1),
        SYN("{\"a\":nulll}", "invalid token near 'nulll'", 1, 10),
        SYN("{\"a\":True}", "invalid token near 'True'", 1, 9),
        SYN("{\"a\":truefalsenulltruefalse}", "invalid token", 1, 27),
        SYN("\xc3\xa9", "invalid token near '\xc3\xa9'", 1, 1),
        SYN("\xef\xbb\xbf{}", "invalid token near '\xef\xbb\xbf'", 1, 1), /* a BOM */
        SYNN("\0", 1, "invalid token near end of file", 1, 1),
        SYNN("{}\0", 3, "end of file expected near end of file", 1, 3),
        SYN("{\"a\\u0000\":1}", "NUL byte in object key not supported near '\"a\\u0000\"'", 1, 10),
        SYN("{\"a\":{\"\\u0000b\":1}}",
            "NUL byte in object key not supported near "
            "'\"\\u0000b\"'",
            1, 15),
        SYN("{\"a\":#}", "invalid token near '#'", 1, 6),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
}

/* jansson loses a NUL byte read just past a number or a literal (it puts the
 * byte back, and its reader takes a zero for "nothing buffered"): the NUL is
 * skipped, and not counted in columns. */
static void test_nul_after_token(void **state)
{
    (void)state;
    static const corner cases[] = {
        WHOLE("{\"a\":1\0}", CJSON_SCAN_OK, NULL),
        WHOLE("{\"a\":true\0,\"b\":2.5\0}", CJSON_SCAN_OK, NULL),
        WHOLE("[1\0]", CJSON_SCAN_NOT_OBJECT, "an array"),
        WHOLE("7\0", CJSON_SCAN_NOT_OBJECT, "a number"),
        SYNL("{\"a\":1\0\0}", "'}' expected near end of file", 1, 7),
        SYNL("{\"a\":12\0x}", "'}' expected near 'x'", 1, 8),
        SYNL("{\"a\":tru\0}", "invalid token near 'tru'", 1, 8),
        SYNL("{\"a\":\"\\u00a\0\"}", "invalid escape near '\"\\u00a'", 1, 12),
        SYNL("{\"a\":-\0}", "invalid token near '-'", 1, 6),
        SYNL("{\"a\":\"x\"\0}", "'}' expected near end of file", 1, 9),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
}

static void test_string_errors(void **state)
{
    (void)state;
    static const corner cases[] = {
        SYN("{\"a", "premature end of input near '\"a'", 1, 3),
        SYN("{\"abcdefghijklmnopqrstuvwxyz", "premature end of input", 1, 28),
        SYN("{\"a\nb\":1}", "unexpected newline near '\"a'", 1, 3),
        SYN("{\"a\tb\":1}", "control character 0x9 near '\"a'", 1, 3),
        SYNN("{\"a\0b\":1}", 9, "control character 0x0 near '\"a'", 1, 3),
        SYN("{\"a\x1f\":1}", "control character 0x1f near '\"a'", 1, 3),
        SYN("{\"a\":\"\\q\"}", "invalid escape near '\"\\q'", 1, 8),
        SYN("{\"a\":\"\\", "invalid escape near '\"\\'", 1, 7),
        SYN("{\"a\":\"\\u12\"}", "invalid escape near '\"\\u12\"'", 1, 11),
        SYN("{\"a\":\"\\u12", "invalid escape near '\"\\u12'", 1, 10),
        SYN("{\"a\":\"\\u12\xc3\xa9\"}", "invalid escape near '\"\\u12\xc3'", 1, 11),
        SYN("{\"a\":\"\\\n\"}", "invalid escape near '\"\\\n'", 2, 0),
        SYN("{\"a\":\"\\ud800\"}", "invalid Unicode '\\uD800' near '\"\\ud800\"'", 1, 13),
        SYN("{\"a\":\"\\udfff\"}", "invalid Unicode '\\uDFFF' near '\"\\udfff\"'", 1, 13),
        SYN("{\"a\":\"\\ud800\\u0041\"}",
            "invalid Unicode '\\uD800\\u0041' near "
            "'\"\\ud800\\u0041\"'",
            1, 19),
        SYN("{\"a\":\"\\uD800\\uD800\"}",
            "invalid Unicode '\\uD800\\uD800' near "
            "'\"\\uD800\\uD800\"'",
            1, 19),
        SYN("{\"a\":\"\\ud800x\"}", "invalid Unicode '\\uD800' near '\"\\ud800x\"'", 1, 14),
        /* The escapes are checked over the whole string before surrogates. */
        SYN("{\"a\":\"\\ud800\\q\"}", "invalid escape near '\"\\ud800\\q'", 1, 14),
        SYN("{\"a\":\"\\ud800\\u12\"}", "invalid escape near '\"\\ud800\\u12\"'", 1, 17),
        SYN("{\"a\":\"\\udc00\\ud800\\udc00 and more text\"}", "invalid Unicode '\\uDC00'", 1, 39),
        SYN("{\"a\":\"\\ud800\\", "invalid escape near '\"\\ud800\\'", 1, 13),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
}

static void test_utf8_errors(void **state)
{
    (void)state;
    static const corner cases[] = {
        SYN("\xff", "unable to decode byte 0xff", 1, 0),
        SYN("{}\xff", "unable to decode byte 0xff", 1, 2),
        SYN("{\"a\":\"\xff\"}", "unable to decode byte 0xff near '\"'", 1, 6),
        SYN("{\"a\":\"b\xc0\x80\"}", "unable to decode byte 0xc0 near '\"b'", 1, 7), /* overlong */
        SYN("{\"a\":\"\xe0\x80\x80\"}", "unable to decode byte 0xe0 near '\"'", 1, 6),
        SYN("{\"a\":\"\xed\xa0\x80\"}", "unable to decode byte 0xed near '\"'", 1, 6), /* U+D800 */
        SYN("{\"a\":\"\xf4\x90\x80\x80\"}", "unable to decode byte 0xf4 near '\"'", 1, 6),
        SYN("{\"a\":\"\xf5\x80\x80\x80\"}", "unable to decode byte 0xf5 near '\"'", 1, 6),
        SYN("{\"a\":\"\x80\"}", "unable to decode byte 0x80 near '\"'", 1, 6),
        SYN("{\"a\":\"\xc3\"}", "unable to decode byte 0xc3 near '\"'", 1, 6),
        SYN("{\"a\":\"\xe2\x82", "unable to decode byte 0xe2 near '\"'", 1, 6),
        SYN("{\"a\":1\xff}", "unable to decode byte 0xff near '1'", 1, 6),
        SYN("{\"a\":tru\xff}", "unable to decode byte 0xff near 'tru'", 1, 8),
        SYN("{\"a\":-\xff}", "unable to decode byte 0xff near '-'", 1, 6),
        SYN("{\"a\":1.\xff}", "unable to decode byte 0xff near '1.'", 1, 7),
        SYN("{\"a\":\"\\\xff\"}", "unable to decode byte 0xff near '\"\\'", 1, 7),
        SYN("{\"\xc3\xa9\xc3\xa9\":\"\\u00\xff\"}", "unable to decode byte 0xff near '\"\\u00'", 1,
            11),
        /* Valid UTF-8 counts as one column per character. */
        SYN("{\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\":x}", "invalid token near 'x'", 1, 8),
        /* Read before the scanner would notice: "01" stops at the '1'. */
        SYN("01\xff", "invalid token near '0'", 1, 1),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
}

static void test_numbers(void **state)
{
    (void)state;
    static const corner cases[] = {
        SYN("{\"a\":01}", "invalid token near '0'", 1, 6),
        SYN("{\"a\":-01}", "invalid token near '-0'", 1, 7),
        SYN("{\"a\":1.}", "invalid token near '1.'", 1, 7),
        SYN("{\"a\":1.e5}", "invalid token near '1.'", 1, 7),
        SYN("{\"a\":.5}", "invalid token near '.'", 1, 6),
        SYN("{\"a\":-}", "invalid token near '-'", 1, 6),
        SYN("{\"a\":-a}", "invalid token near '-'", 1, 6),
        SYN("{\"a\":+1}", "invalid token near '+'", 1, 6),
        SYN("{\"a\":1e}", "invalid token near '1e'", 1, 7),
        SYN("{\"a\":1E+}", "invalid token near '1E+'", 1, 8),
        SYN("{\"a\":1e-x}", "invalid token near '1e-'", 1, 8),
        SYN("{\"a\":0x10}", "'}' expected near 'x'", 1, 7),
        SYN("{\"a\":9223372036854775808}", "too big integer near '9223372036854775808'", 1, 24),
        SYN("{\"a\":-9223372036854775809}", "too big negative integer near '-9223372036854775809'",
            1, 25),
        SYN("{\"a\":123456789012345678901}", "too big integer", 1, 26),
        SYN("{\"a\":1e400}", "real number overflow near '1e400'", 1, 10),
        SYN("{\"a\":-1e309}", "real number overflow near '-1e309'", 1, 11),
        SYN("{\"a\":1.7976931348623159e308}", "real number overflow", 1, 27),
        SYN("{\"a\":1e99999999999999999999}", "real number overflow", 1, 27),
        /* 2^1024 - 2^970, the exact tie between DBL_MAX and infinity, rounds up. */
        SYN("{\"a\":179769313486231580793728971405303415079934132710037826936173778980444968292"
            "76475094664901797758720709633028641669288791094655554785194040263065748867150582068"
            "19089020007083836762738548458177115317644757302700698555713669596228429148198608349"
            "36475292719074168444365510704342711559699508093042880177904174497792.0}",
            "real number overflow", 1, 316),
        OK("{\"a\":179769313486231580793728971405303415079934132710037826936173778980444968292"
           "76475094664901797758720709633028641669288791094655554785194040263065748867150582068"
           "19089020007083836762738548458177115317644757302700698555713669596228429148198608349"
           "36475292719074168444365510704342711559699508093042880177904174497791.999e0}"),
        OK("{\"a\":0.0000000000000000000000000000000000000000000000000017976931348623158e359}"),
        SYN("{\"a\":0.0000000000000000000000000000000000000000000000000017976931348623159e359}",
            "real number overflow", 1, 78),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
}

static void test_depth(void **state)
{
    (void)state;
    static char doc[2 * 2050 + 8];
    for (size_t depth = 2046; depth <= 2050; depth++) {
        /* depth arrays inside an object: the object is level 1 */
        size_t n = 0;
        doc[n++] = '{';
        doc[n++] = '"';
        doc[n++] = 'k';
        doc[n++] = '"';
        doc[n++] = ':';
        memset(doc + n, '[', depth - 1);
        n += depth - 1;
        memset(doc + n, ']', depth - 1);
        n += depth - 1;
        doc[n++] = '}';
        jdoc_scan_result r;
        jdoc_scan(doc, n, 0, &r);
        if (depth <= 2048) {
            assert_int_equal(r.status, CJSON_SCAN_OK);
        } else {
            assert_int_equal(r.status, CJSON_SCAN_SYNTAX);
            assert_string_equal(r.text, "maximum parsing depth reached near '['");
            assert_int_equal(r.column, 5 + 2049 - 1);
        }
        assert_int_equal(differ(doc, n, 0), 0);
        /* A scalar one level deeper than the innermost array. */
        memmove(doc + 5 + depth - 1 + 1, doc + 5 + depth - 1, depth);
        doc[5 + depth - 1] = '1';
        assert_int_equal(differ(doc, n + 1, 0), 0);
        assert_int_equal(differ(doc, 5 + depth, 0), 0); /* cut short */
    }
}

static void test_strings_only(void **state)
{
    (void)state;
    static const corner cases[] = {
        HDR_OK("{\"a\":\"x\",\"b\":\"\"}"),
        HDR("{\"a\":\"x\",\"b\":1}", "b|a number"),
        HDR("{\"a\":{}}", "a|an object"),
        HDR("{\"a\":[]}", "a|an array"),
        HDR("{\"a\":true}", "a|a boolean"),
        HDR("{\"a\":null}", "a|null"),
        HDR("{\"a\":-0.5}", "a|a number"),
        /* The name is decoded. */
        HDR("{\"x\\u00e9\\ud83d\\ude00\\n\":1}", "x\xc3\xa9\xf0\x9f\x98\x80\n|a number"),
        /* Repeated keys: the last value counts, in the first key's place. */
        HDR_OK("{\"a\":1,\"a\":\"x\"}"),
        HDR("{\"a\":\"x\",\"a\":1}", "a|a number"),
        HDR("{\"a\":\"y\",\"b\":1,\"a\":1}", "a|a number"),
        HDR("{\"b\":1,\"a\":\"x\",\"b\":\"z\",\"c\":[]}", "c|an array"),
        HDR_OK("{\"\\u0061\":1,\"a\":\"x\"}"),
        HDR("{\"a\":\"x\",\"\\u0061\":null}", "a|null"),
        HDR_OK("{\"k\":1,\"k\":2,\"k\":\"3\"}"),
        /* Nested members do not count. */
        HDR("{\"o\":{\"a\":1}}", "o|an object"),
        /* Syntax first: a later error wins over an earlier non-string. */
        SYN("{\"a\":1,\"b\":}", "unexpected token near '}'", 1, 12),
    };
    check_corners(cases, sizeof cases / sizeof cases[0]);
    static const corner syntax_first[] = {
        {"{\"a\":1,\"b\":}", 0, 1, CJSON_SCAN_SYNTAX, "unexpected token near '}'", 1, 12},
        {"[1]", 0, 1, CJSON_SCAN_NOT_OBJECT, "an array", 0, 0},
    };
    check_corners(syntax_first, sizeof syntax_first / sizeof syntax_first[0]);

    /* A long name is shortened on a character boundary. */
    char doc[400];
    size_t n = 0;
    doc[n++] = '{';
    doc[n++] = '"';
    for (int i = 0; i < 60; i++) {
        memcpy(doc + n, "\xc3\xa9", 2);
        n += 2;
    }
    memcpy(doc + n, "\":1}", 4);
    n += 4;
    jdoc_scan_result r;
    assert_int_equal(jdoc_scan(doc, n, 1, &r), CJSON_SCAN_NOT_STRINGS);
    assert_int_equal(strlen(r.name), 100 + 3);
    assert_memory_equal(r.name + 100, "...", 4);
    assert_int_equal(differ(doc, n, 1), 0);
}

/* Many members and repeated keys: exact up to 256 members, jansson beyond. */
static void test_many_members(void **state)
{
    (void)state;
    static char doc[64 * 1024];
    for (int members = 250; members <= 262; members += 6) {
        for (int variant = 0; variant < 4; variant++) {
            size_t n = 0;
            doc[n++] = '{';
            for (int i = 0; i < members; i++) {
                int key = variant & 1 ? i % 50 : i; /* variant 1, 3: repeated keys */
                const char *value = (variant & 2) && i == members / 2 ? "1" : "\"v\"";
                if (variant == 3 && i >= members - 50)
                    value = "\"v\""; /* every repeated key ends with a string */
                n += (size_t)snprintf(doc + n, sizeof doc - n, "%s\"k%d\":%s", i ? "," : "", key,
                                      value);
            }
            doc[n++] = '}';
            assert_int_equal(differ(doc, n, 1), 0);
            chute_error err;
            int rc = jdoc_check_object(doc, n, 1, "custom headers", &err);
            assert_int_equal(rc, (variant == 2) ? CHUTE_EINVAL : 0);
        }
    }
}

/* ---- the differential test ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

typedef struct buf {
    char b[16384];
    size_t n;
} buf;

static void put(buf *d, const char *s, size_t n)
{
    if (d->n + n > sizeof d->b)
        n = sizeof d->b - d->n;
    memcpy(d->b + d->n, s, n);
    d->n += n;
}

static void puts_(buf *d, const char *s)
{
    put(d, s, strlen(s));
}

static const char *const seeds[] = {
    "{\"orderId\":\"A-1042\",\"amount\":129.5,\"items\":3}",
    "{}",
    "{\"a\":\"b\",\"c\":\"d\"}",
    "{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\",\"x\":\"y\"}",
    "{\"a\":[1,2,{\"b\":null}],\"c\":{\"d\":[true,false]},\"e\":-0.5e-3}",
    "{\"s\":\"\\u00e9\\ud83d\\ude00\\\\\\\"\\/\\b\\f\\n\\r\\t\",\"t\":\"\xc3\xa9\xe2\x82\xac\"}",
    "{\"i\":9223372036854775807,\"j\":-9223372036854775808,\"r\":1.7976931348623157e308}",
    " {\n  \"a\" : 1 ,\n  \"b\" : [ ] \n} \r\n",
    "{\"a\":1,\"a\":\"x\",\"b\":\"y\",\"b\":2}",
    "{\"\\u0061\":\"x\",\"a\":1}",
    "[1,\"a\",{}]",
    "\"just a string\"",
    "{\"deep\":[[[[[[[[[[{\"x\":[[[]]]}]]]]]]]]]]}",
    "{\"n\":0,\"m\":-0,\"f\":0.0e+0,\"g\":1E400,\"h\":1e-400}",
};

static const char *const snippets[] = {
    "\\ud800",
    "\\udc00",
    "\\udbff\\udfff",
    "\\u0000",
    "\\u00",
    "\\",
    "\\u",
    "\\x",
    "\"",
    "\"\"",
    "1e400",
    "-1e309",
    "9223372036854775808",
    "-9223372036854775809",
    "9223372036854775807",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "0.1e-99999999999",
    "01",
    "-",
    "1.",
    "1e",
    "1e+",
    ".5",
    "true",
    "false",
    "null",
    "nul",
    "tru",
    "True",
    ",",
    ":",
    "{",
    "}",
    "[",
    "]",
    "{}",
    "[]",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xc3\xa9",
    "\xf0\x9f\x98\x80",
    "\xe2\x82",
    "\xc0\xaf",
    "\xef\xbb\xbf",
    " ",
    "\n",
    "\t",
    "\r",
    "\v",
    "\f",
    "\"k\":\"v\"",
    ",\"k\":1",
    "\"a\":\"x\"",
    "\"a\":1",
};

static const unsigned char interesting[] = {
    '{',  '}',  '[',  ']',  ':',  ',',  '"',  '\\', 'u',  'n',  't',  'f',  'e',  'E',  '.',
    '-',  '+',  '0',  '1',  '9',  'a',  'D',  ' ',  '\n', '\t', '\r', 0x00, 0x01, 0x1f, 0x7f,
    0x80, 0xbf, 0xc0, 0xc2, 0xc3, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
};

/* A random JSON value (valid or close to it), |depth| levels deep at most. */
static void gen_value(buf *d, int depth, int strings_bias);

static void gen_string_body(buf *d)
{
    size_t n = below(8);
    for (size_t i = 0; i < n; i++) {
        switch (below(14)) {
        case 0:
            puts_(d, "\\n");
            break;
        case 1: {
            char u[8];
            snprintf(u, sizeof u, "\\u%04x", (unsigned)below(0x10000));
            puts_(d, u);
            break;
        }
        case 2: {
            char u[16];
            snprintf(u, sizeof u, "\\u%04X\\u%04x", (unsigned)(0xD800 + below(0x400)),
                     (unsigned)(0xDC00 + below(0x400)));
            puts_(d, u);
            break;
        }
        case 3:
            puts_(d, "\xc3\xa9");
            break;
        case 4:
            puts_(d, "\xf0\x9f\x98\x80");
            break;
        case 5:
            puts_(d, "\\\"");
            break;
        case 6:
            puts_(d, "\\u0061");
            break;
        default: {
            char c = (char)('a' + below(3)); /* few distinct keys: repeats */
            put(d, &c, 1);
        }
        }
    }
}

static void gen_number(buf *d)
{
    char num[400];
    size_t n = 0;
    switch (below(6)) {
    case 0:
        n = (size_t)snprintf(num, sizeof num, "%lld", (long long)rnd());
        break;
    case 1: /* around the long long limits */
        n = (size_t)snprintf(num, sizeof num, "%s922337203685477580%d", below(2) ? "-" : "",
                             (int)below(10));
        break;
    case 2: /* around DBL_MAX */
        n = (size_t)snprintf(num, sizeof num, "%s1.797693134862315%de%d", below(2) ? "-" : "",
                             (int)below(100), 306 + (int)below(4));
        break;
    case 3: { /* long mantissas, random exponents */
        if (below(2))
            num[n++] = '-';
        num[n++] = (char)('1' + below(9));
        size_t digits = below(330);
        for (size_t i = 0; i < digits; i++)
            num[n++] = (char)('0' + below(10));
        if (below(2)) {
            num[n++] = '.';
            num[n++] = (char)('0' + below(10));
        }
        n += (size_t)snprintf(num + n, sizeof num - n, "e%d", (int)below(40) - 20);
        break;
    }
    case 4: /* small fractions */
        n = (size_t)snprintf(num, sizeof num, "0.%0*d%de%d", (int)below(30), 0, (int)below(1000),
                             (int)below(700) - 350);
        break;
    default:
        n = (size_t)snprintf(num, sizeof num, "%d.%de%s%d", (int)below(1000), (int)below(1000),
                             below(2) ? "-" : "+", (int)below(400));
        break;
    }
    put(d, num, n);
}

static void gen_value(buf *d, int depth, int strings_bias)
{
    size_t pick = below(10);
    if (strings_bias && below(8))
        pick = 0;
    if (depth <= 0 && pick >= 7)
        pick = below(7);
    switch (pick) {
    case 0:
    case 1:
        puts_(d, "\"");
        gen_string_body(d);
        puts_(d, "\"");
        break;
    case 2:
    case 3:
        gen_number(d);
        break;
    case 4:
        puts_(d, "true");
        break;
    case 5:
        puts_(d, below(2) ? "false" : "null");
        break;
    case 6:
        puts_(d, below(2) ? "[]" : "{}");
        break;
    case 7:
    case 8: {
        puts_(d, "{");
        size_t n = below(6);
        for (size_t i = 0; i < n; i++) {
            if (i)
                puts_(d, below(4) ? "," : " , ");
            puts_(d, "\"");
            gen_string_body(d);
            puts_(d, below(4) ? "\":" : "\" :\n ");
            gen_value(d, depth - 1, strings_bias);
        }
        puts_(d, "}");
        break;
    }
    default: {
        puts_(d, "[");
        size_t n = below(5);
        for (size_t i = 0; i < n; i++) {
            if (i)
                puts_(d, ",");
            gen_value(d, depth - 1, 0);
        }
        puts_(d, "]");
    }
    }
}

static void gen_object(buf *d)
{
    d->n = 0;
    if (below(8) == 0)
        puts_(d, " \n");
    puts_(d, "{");
    size_t n = below(7);
    int strings_bias = (int)below(2);
    for (size_t i = 0; i < n; i++) {
        if (i)
            puts_(d, ",");
        puts_(d, "\"");
        gen_string_body(d);
        puts_(d, "\":");
        gen_value(d, (int)below(4), strings_bias);
    }
    puts_(d, "}");
}

static void gen_deep(buf *d)
{
    d->n = 0;
    size_t depth = 2040 + below(12);
    puts_(d, "{\"d\":");
    for (size_t i = 1; i < depth; i++)
        puts_(d, below(3) ? "[" : "{\"k\":");
    /* Close it (or not) by walking the opening text backwards. */
    size_t open_end = d->n;
    if (below(2))
        gen_value(d, 0, 0);
    for (size_t i = open_end; i-- > 5;) {
        if (d->b[i] == '[')
            puts_(d, "]");
        else if (d->b[i] == '{')
            puts_(d, "}");
    }
    puts_(d, "}");
    if (below(4) == 0)
        d->n = below(d->n); /* truncated */
}

static void mutate(buf *d)
{
    size_t rounds = 1 + below(4);
    for (size_t r = 0; r < rounds; r++) {
        size_t at = below(d->n + 1);
        switch (below(8)) {
        case 0: /* flip a bit */
            if (d->n)
                d->b[below(d->n)] ^= (char)(1u << below(8));
            break;
        case 1: /* an interesting byte */
            if (d->n)
                d->b[below(d->n)] = (char)interesting[below(sizeof interesting)];
            break;
        case 2: { /* insert a snippet */
            const char *sn = snippets[below(sizeof snippets / sizeof snippets[0])];
            size_t k = strlen(sn);
            if (d->n + k <= sizeof d->b) {
                memmove(d->b + at + k, d->b + at, d->n - at);
                memcpy(d->b + at, sn, k);
                d->n += k;
            }
            break;
        }
        case 3: { /* delete a range */
            size_t k = below(1 + (d->n - at < 8 ? d->n - at : 8));
            memmove(d->b + at, d->b + at + k, d->n - at - k);
            d->n -= k;
            break;
        }
        case 4: /* truncate */
            d->n = at;
            break;
        case 5: { /* duplicate a range */
            size_t k = below(1 + (d->n - at < 16 ? d->n - at : 16));
            if (d->n + k <= sizeof d->b) {
                memmove(d->b + at + k, d->b + at, d->n - at);
                d->n += k;
            }
            break;
        }
        case 6: /* insert a random byte */
            if (d->n < sizeof d->b) {
                memmove(d->b + at + 1, d->b + at, d->n - at);
                d->b[at] = (char)below(256);
                d->n++;
            }
            break;
        default: /* swap two bytes */
            if (d->n) {
                size_t x = below(d->n), y = below(d->n);
                char t = d->b[x];
                d->b[x] = d->b[y];
                d->b[y] = t;
            }
            break;
        }
    }
}

static void test_differential(void **state)
{
    (void)state;
    const char *env = getenv("JSONSCAN_SEED");
    rng_state = env ? strtoull(env, NULL, 0) : 0x5eed1234abcdULL;
    if (!rng_state)
        rng_state = 1;
    const char *count_env = getenv("JSONSCAN_DOCS");
    size_t count = count_env ? strtoul(count_env, NULL, 0) : 200000;
    memset(&tally, 0, sizeof tally);
    static buf d;
    for (size_t i = 0; i < count; i++) {
        size_t kind = below(100);
        if (kind < 15) { /* a seed, mutated */
            d.n = 0;
            puts_(&d, seeds[below(sizeof seeds / sizeof seeds[0])]);
            mutate(&d);
        } else if (kind < 45) { /* a generated object */
            gen_object(&d);
        } else if (kind < 99) { /* a generated object, mutated */
            gen_object(&d);
            mutate(&d);
        } else if (below(10) == 0) { /* deep nesting (a few hundred of these) */
            gen_deep(&d);
        } else { /* random bytes */
            d.n = below(24);
            for (size_t k = 0; k < d.n; k++)
                d.b[k] = (char)(below(2) ? interesting[below(sizeof interesting)] : below(256));
        }
        /* Both modes; the document counts once. */
        if (differ(d.b, d.n, 0) || differ(d.b, d.n, 1)) {
            fprintf(stderr, "first disagreement at document %zu (seed 0x%llx)\n", i,
                    (unsigned long long)(env ? strtoull(env, NULL, 0) : 0x5eed1234abcdULL));
            fail();
        }
    }
    size_t n = tally.docs / 2;
    printf("[ differential ] %zu documents (x2 modes): %zu checks agree with jansson "
           "(accepted %zu, syntax errors %zu, not objects %zu, not strings %zu, "
           "undecided->jansson %zu)\n",
           n, tally.docs, tally.accepted, tally.syntax, tally.not_object, tally.not_strings,
           tally.undecided);
    assert_true(n >= 200000 || count_env);
    /* Enough of each verdict for the run to mean something. */
    assert_true(tally.accepted > 20000 && tally.syntax > 100000 && tally.not_strings > 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),          cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_structure_errors), cmocka_unit_test(test_nul_after_token),
        cmocka_unit_test(test_string_errors),    cmocka_unit_test(test_utf8_errors),
        cmocka_unit_test(test_numbers),          cmocka_unit_test(test_depth),
        cmocka_unit_test(test_strings_only),     cmocka_unit_test(test_many_members),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests_name("jsonscan", tests, NULL, NULL);
}
