/*
 * libFuzzer target for the FEEL module (src/feel): the input is an
 * expression. When it parses, it is evaluated over a small fixed set of
 * variables, as a value and as a condition. The evaluation's own bounds
 * (steps, memory, list and string sizes) keep every run short. Checks
 * beyond the sanitizers: a parse error names a column within the input, and
 * a result is JSON that jansson reads back (numbers past a double's range
 * and object keys with a NUL character excepted, which jansson refuses by
 * design).
 *
 * The same input is also parsed as unary tests and, when it parses, tested
 * against a few input values.
 *
 * Build (clang only):
 *   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCHUTE_SANITIZE=ON -DCHUTE_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_feel
 *   build-fuzz/src/feel/fuzz_feel -max_total_time=600 -dict=fuzz/feel.dict fuzz/corpus/feel
 */
#include "feel/feel.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char vars_text[] =
    "{\"x\": 5, \"y\": -2.5, \"s\": \"h\\u00e9llo w\\u00f6rld\", \"b\": true, \"n\": null,"
    " \"l\": [1, 2, 3, \"a\", null], \"c\": {\"a\": 1, \"b\": {\"c\": [true, {\"d\": \"e\"}]},"
    " \"price\": 10}, \"items\": [{\"price\": 5, \"name\": \"a\"}, {\"price\": 15, \"name\":"
    " \"b\"}], \"big\": 9223372036854775807, \"d\": \"2024-01-31\", \"empty\": [], \"obj\": {},"
    " \"f\": 0.1}";

static const json_t *lookup(void *ctx, const char *name, size_t len)
{
    return json_object_getn(ctx, name, len);
}

static void fuzz_unary_tests(const uint8_t *data, size_t size, json_t *vars)
{
    feel_expr *e = NULL;
    feel_error err;
    if (feel_parse_unary_tests((const char *)data, size, &e, &err)) {
        if (err.column < 0 || (size_t)err.column > size + 1 || !err.message[0]) {
            fprintf(stderr, "bad unary tests error: column %d, message '%s'\n", err.column,
                    err.message);
            abort();
        }
        return;
    }
    feel_env env = {lookup, vars, 1706700000000LL};
    static const char *const inputs[] = {"x", "s", "b", "n", "l", "c"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        int r = feel_eval_unary_tests(e, json_object_get(vars, inputs[i]), &env, &err);
        if (r < -1 || r > 1 || (r < 0 && !err.message[0]))
            abort();
    }
    feel_expr_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *vars;
    if (!vars)
        vars = json_loads(vars_text, 0, NULL);
    fuzz_unary_tests(data, size, vars);
    feel_expr *e = NULL;
    feel_error err;
    if (feel_parse((const char *)data, size, &e, &err)) {
        if (err.column < 0 || (size_t)err.column > size + 1 || !err.message[0]) {
            fprintf(stderr, "bad parse error: column %d, message '%s'\n", err.column, err.message);
            abort();
        }
        return 0;
    }
    feel_env env = {lookup, vars, 1706700000000LL};
    char *out = NULL;
    size_t len = 0;
    if (feel_eval(e, &env, &out, &len, &err) == 0) {
        json_error_t je;
        json_t *j =
            json_loadb(out, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
        if (!j && !strstr(je.text, "overflow") && !strstr(je.text, "NUL byte in object key")) {
            fprintf(stderr, "result is not JSON (%s): %.*s\n", je.text, (int)len, out);
            abort();
        }
        json_decref(j);
        free(out);
    } else if (!err.message[0]) {
        fprintf(stderr, "evaluation failed without a message\n");
        abort();
    }
    int c = feel_eval_condition(e, &env, &err);
    if (c < -1 || c > 1)
        abort();
    feel_expr_free(e);
    return 0;
}
