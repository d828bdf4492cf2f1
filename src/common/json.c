#include "common/json.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int jdoc_blank(const char *s, size_t len)
{
    if (!s)
        return 1;
    for (size_t i = 0; i < len; i++) {
        if (!isspace((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

const char *jdoc_kind_name(const json_t *v)
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

/* A member name as the messages quote it: at most about 100 bytes, cut on a
 * UTF-8 character boundary, with "..." when shortened (as jdoc_scan does). */
static void name_excerpt(const char *name, char *out, size_t size)
{
    size_t n = strlen(name), keep = n;
    if (n + 1 > size || n > 100) {
        keep = 100 < size - 4 ? 100 : size - 4;
        while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80)
            keep--;
    }
    memcpy(out, name, keep);
    strcpy(out + keep, keep < n ? "..." : "");
}

/* The same check with jansson's document (the validator's fallback for the
 * rare strings-only case it leaves undecided). */
static int check_object_dom(const char *s, size_t len, int strings_only, const char *what,
                            chute_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected %s to be valid JSON, but it is not: %s at line %d, "
                               "column %d",
                               what, jerr.text, jerr.line, jerr.column);
    }
    int rc = 0;
    if (!json_is_object(doc)) {
        rc = chute_error_set(err, CHUTE_EINVAL, "Expected %s to be a JSON object, but got %s", what,
                             jdoc_kind_name(doc));
    } else if (strings_only) {
        const char *name;
        json_t *value;
        json_object_foreach(doc, name, value)
        {
            if (!json_is_string(value)) {
                char shown[CJSON_SCAN_NAME_MAX];
                name_excerpt(name, shown, sizeof shown);
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected %s to be a JSON object of strings, but '%s' is %s",
                                     what, shown, jdoc_kind_name(value));
                break;
            }
        }
    }
    json_decref(doc);
    return rc;
}

int jdoc_check_object(const char *s, size_t len, int strings_only, const char *what,
                      chute_error *err)
{
    if (jdoc_blank(s, len))
        return 0;
    jdoc_scan_result r;
    switch (jdoc_scan(s, len, strings_only, &r)) {
    case CJSON_SCAN_OK:
        return 0;
    case CJSON_SCAN_SYNTAX:
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected %s to be valid JSON, but it is not: %s at line %d, "
                               "column %d",
                               what, r.text, r.line, r.column);
    case CJSON_SCAN_NOT_OBJECT:
        return chute_error_set(err, CHUTE_EINVAL, "Expected %s to be a JSON object, but got %s",
                               what, r.kind);
    case CJSON_SCAN_NOT_STRINGS:
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected %s to be a JSON object of strings, but '%s' is %s", what,
                               r.name, r.kind);
    default:
        return check_object_dom(s, len, strings_only, what, err);
    }
}

static json_t *load_object(const char *s, size_t len)
{
    if (jdoc_blank(s, len))
        return json_object();
    json_t *doc = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        return json_object();
    }
    return doc;
}

static int dump(json_t *doc, char **out, size_t *out_len)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return CHUTE_ENOMEM;
    *out = text;
    *out_len = strlen(text);
    return 0;
}

int jdoc_merge(const char *base, size_t base_len, const char *add, size_t add_len, char **out,
               size_t *out_len)
{
    json_t *a = load_object(base, base_len);
    json_t *b = load_object(add, add_len);
    int rc = CHUTE_ENOMEM;
    if (a && b && json_object_update(a, b) == 0)
        rc = dump(a, out, out_len);
    json_decref(a);
    json_decref(b);
    return rc;
}

int jdoc_filter(const char *doc, size_t len, const char *const *names, size_t n, char **out,
                size_t *out_len)
{
    json_t *src = load_object(doc, len);
    json_t *dst = json_object();
    int rc = CHUTE_ENOMEM;
    if (src && dst) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            json_t *v = json_object_get(src, names[i]);
            if (v && json_object_set(dst, names[i], v) != 0)
                rc = CHUTE_ENOMEM;
        }
        if (rc == 0)
            rc = dump(dst, out, out_len);
    }
    json_decref(src);
    json_decref(dst);
    return rc;
}

int jdoc_strings_each(const char *s, size_t len, int (*fn)(void *ctx, const char *str, size_t n),
                      void *ctx)
{
    if (!s || jdoc_blank(s, len))
        return 0;
    json_error_t jerr;
    json_t *a = json_loadb(s, len, JSON_DECODE_ANY, &jerr);
    if (!a)
        return jerr.text[0] && strstr(jerr.text, "memory") ? CHUTE_ENOMEM : CHUTE_EINVAL;
    int rc = 0;
    if (!json_is_array(a)) {
        rc = CHUTE_EINVAL;
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
            if (!json_is_string(v))
                continue;
            if ((rc = fn(ctx, json_string_value(v), json_string_length(v))) != 0)
                break;
        }
    }
    json_decref(a);
    return rc;
}

static int is_want(void *ctx, const char *str, size_t n)
{
    const char *want = ctx;
    return strlen(want) == n && memcmp(want, str, n) == 0;
}

int jdoc_array_has(const char *s, size_t len, const char *want)
{
    return jdoc_strings_each(s, len, is_want, (void *)want) == 1;
}
