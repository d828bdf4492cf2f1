/*
 * FEEL (Friendly Enough Expression Language, DMN 1.3 chapter 10) as Zeebe
 * uses it in BPMN models: expressions in attributes written "=<expr>"
 * (conditions, input/output mappings, job types and retries, script
 * tasks). No C implementation exists, so Chute has its own: a parser that
 * runs at deploy time, so that every construct Chute does not support is a
 * deploy error naming its column, and an evaluator over the variables of a
 * scope that runs when a process reaches the element.
 *
 * Pure functions: no I/O, no global state, no engine; safe to call from
 * any thread on distinct expressions. Every input size and nesting depth
 * is bounded before it is allocated.
 *
 * Values: FEEL's null, booleans, numbers (decimal, as FEEL specifies:
 * 0.1 + 0.2 = 0.3), strings, lists, contexts, dates, times, date-times and
 * durations. Variables come in and results go out as JSON: a context is an
 * object, a list an array; temporal values leave as ISO 8601 strings, as
 * Zeebe writes them. A variable that does not exist is null.
 */
#ifndef CHUTE_FEEL_H
#define CHUTE_FEEL_H

#include <stddef.h>
#include <stdint.h>

struct json_t;

/* Bounds, checked before allocating. */
#define FEEL_MAX_SOURCE 65536 /* bytes of one expression */
#define FEEL_MAX_DEPTH 64     /* nesting of the parse tree */

typedef struct feel_expr feel_expr;

/* Why a parse or an evaluation failed. */
typedef struct feel_error {
    int column;          /* 1-based column in the source; 0 when it does not apply */
    char construct[64];  /* the construct refused ("function definition", "instance of"),
                            or "" */
    char message[512];   /* a full sentence, in the words Zeebe's messages use */
} feel_error;

/*
 * Parses |len| bytes of |src| (the expression without Zeebe's leading
 * '='). Returns 0 and a new expression in |*out| (free it with
 * feel_expr_free), or -1 with |err| filled: a syntax error (column and
 * what was expected), a construct Chute does not evaluate (construct
 * named), a bound passed.
 */
int feel_parse(const char *src, size_t len, feel_expr **out, feel_error *err);

void feel_expr_free(feel_expr *e);

/* Looks a variable up by name in the evaluation's scope: a borrowed
 * reference valid for the whole evaluation, or NULL when there is none
 * (FEEL null). */
typedef const struct json_t *(*feel_lookup_fn)(void *ctx, const char *name, size_t len);

typedef struct feel_env {
    feel_lookup_fn lookup;
    void *ctx;
    int64_t now_ms; /* the engine's clock, epoch ms: now() and today() */
} feel_env;

/*
 * Evaluates |e| in |env|. Returns 0 with the result as JSON text in
 * |*out| (malloc'd, NUL-terminated, |*out_len| bytes; numbers printed
 * exactly as FEEL computed them), or -1 with |err| filled (a run-time
 * failure the engine turns into an incident: a function called with
 * arguments it does not take, a division by zero is null, not an error,
 * as FEEL says; what FEEL defines as null is a null result, not an error).
 */
int feel_eval(const feel_expr *e, const feel_env *env, char **out, size_t *out_len,
              feel_error *err);

/* Evaluates |e| as a condition: 1 when it is true, 0 when it is false or
 * null, -1 with |err| when it is neither a boolean nor null (Zeebe raises a
 * CONDITION_ERROR incident then). */
int feel_eval_condition(const feel_expr *e, const feel_env *env, feel_error *err);

#endif
