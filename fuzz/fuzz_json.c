/*
 * libFuzzer target for the JSON validator (src/common/jsonscan.c): a
 * differential check against jansson, the parser it replaces. For every
 * input, in both modes (any object / object of strings), jdoc_scan must
 * give jansson's verdict: the same reason, line and column for a syntax
 * error, the same kind for a non-object, the same member name and kind for
 * a non-string member. A disagreement prints the input in hex and aborts.
 *
 * Build (clang only):
 *   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCHUTE_SANITIZE=ON -DCHUTE_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_json
 *   build-fuzz/src/codec/fuzz_json -max_total_time=120 fuzz/corpus/json
 */
#include "common/json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* jansson's verdict, in jdoc_scan's terms (names shortened the same way). */
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
                size_t n = strlen(name), keep = n;
                if (n > 100) {
                    keep = 100;
                    while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80)
                        keep--;
                }
                memcpy(o->name, name, keep);
                strcpy(o->name + keep, keep < n ? "..." : "");
                o->status = CJSON_SCAN_NOT_STRINGS;
                o->kind = kind_name(value);
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
    fprintf(stderr, "  %-8s status %d", who, r->status);
    if (r->status == CJSON_SCAN_SYNTAX)
        fprintf(stderr, " \"%s\" line %d column %d", r->text, r->line, r->column);
    else if (r->status == CJSON_SCAN_NOT_OBJECT || r->status == CJSON_SCAN_NOT_STRINGS)
        fprintf(stderr, " '%s' %s", r->name, r->kind);
    fprintf(stderr, "\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    for (int strings_only = 0; strings_only <= 1; strings_only++) {
        jdoc_scan_result got, want;
        jdoc_scan(s, size, strings_only, &got);
        if (got.status == CJSON_SCAN_UNDECIDED)
            continue; /* jdoc_check_object asks jansson itself */
        oracle(s, size, strings_only, &want);
        if (!same(&got, &want)) {
            fprintf(stderr, "jdoc_scan disagrees with jansson (strings_only=%d) on %zu bytes:\n",
                    strings_only, size);
            for (size_t i = 0; i < size; i++)
                fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", data[i]);
            fprintf(stderr, "\n");
            describe("jansson", &want);
            describe("scan", &got);
            abort();
        }
    }
    return 0;
}
