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
 * any thread on distinct expressions (a parsed expression is not changed by
 * evaluating it, so concurrent evaluations of one expression are safe too).
 * Every input size and nesting depth is bounded before it is allocated.
 *
 * Values: FEEL's null, booleans, numbers (decimal, as FEEL specifies:
 * 34 significant digits rounded half even, so 0.1 + 0.2 = 0.3; a literal
 * with more digits is rounded to 34 when parsed), strings,
 * lists, contexts, dates, times, date-times and durations (days-time and
 * years-months). Variables come in and results go out as JSON: a context
 * is an object, a list an array; temporal values leave as ISO 8601 strings
 * ("2024-01-31", "10:30:00", "2024-01-31T10:30:00Z", "P1DT2H", "P1Y2M"),
 * as Zeebe writes them. A variable that does not exist is null.
 *
 * What is supported: literals (numbers, strings with escapes, true, false,
 * null, lists, contexts, @"..." temporal literals, intervals [a..b]),
 * names (`backticked` too), paths, indexes and filters, arithmetic with
 * FEEL's null propagation, comparisons, between, in (with unary tests,
 * lists and intervals), three-valued and/or, if, for (over lists and a..b),
 * some/every, comments, and the built-in functions of builtins.c, called
 * with positional or named arguments. What is refused at parse time, with
 * |construct| named: function definitions (except as the order of sort()),
 * "instance of", calls of anything but a built-in function by name. A call
 * of an unknown function, or with a number of arguments no overload of the
 * built-in takes, is a parse error naming the function and the column.
 *
 * Regular expressions (matches, replace, split, extract) run on PCRE2,
 * whose syntax is Java's (what Zeebe runs) for all that models use; each
 * match is bounded by the evaluation's step budget and a heap limit (see
 * regex.c). A literal pattern is checked at parse time.
 *
 * Time zones: offsets only (a pure module has no zone database); the zone
 * names of UTC read as offset zero, other names make a string no valid
 * time. now() and today() read feel_env.now_ms in UTC.
 */
#ifndef CHUTE_FEEL_H
#define CHUTE_FEEL_H

#include <stddef.h>
#include <stdint.h>

struct json_t;

/* Bounds of a parse, checked before allocating. */
#define FEEL_MAX_SOURCE 65536 /* bytes of one expression */
#define FEEL_MAX_DEPTH 64     /* nesting of the parse tree (a chain of one operator counts once) */

/* Bounds of an evaluation: passing one fails it (an incident), so that a
 * hostile model or variable can neither exhaust memory nor loop forever.
 * Real models take a few hundred steps; the worst an evaluation can cost
 * within these bounds is about a quarter of a second of one core (an
 * optimised build). */
#define FEEL_MAX_STEPS 5000000     /* work units: a node evaluated, an item or 64 bytes visited */
#define FEEL_MAX_MEMORY (32 << 20) /* bytes an evaluation may allocate in all */
#define FEEL_MAX_LIST 100000       /* items of a list the evaluation makes (for, ranges, ...) */
#define FEEL_MAX_STRING (1 << 20)  /* bytes of a string the evaluation makes */
#define FEEL_MAX_RESULT (16 << 20) /* bytes of the JSON result */
/* Numbers stay below 10^10000 in magnitude (a larger result fails the
 * evaluation); below 10^-9999 they become 0. */

typedef struct feel_expr feel_expr;

/* Why a parse or an evaluation failed. */
typedef struct feel_error {
    int column;         /* 1-based column (in characters, counted across lines) in the
                           source; 0 when it does not apply */
    char construct[64]; /* the construct refused ("function definition", "instance of",
                           "function invocation"), or "" */
    char message[512];  /* a full sentence, in the words Zeebe's messages use */
} feel_error;

/*
 * Parses |len| bytes of |src| (the expression without Zeebe's leading
 * '='). Returns 0 and a new expression in |*out| (free it with
 * feel_expr_free; |src| is copied), or -1 with |err| filled: a syntax error
 * (column and what was expected), a construct Chute does not evaluate
 * (construct named), an unknown function or a wrong number of arguments
 * (function and column named), a bound passed.
 */
int feel_parse(const char *src, size_t len, feel_expr **out, feel_error *err);

void feel_expr_free(feel_expr *e); /* NULL is a no-op */

/* Looks a variable up by name in the evaluation's scope: a borrowed
 * reference valid for the whole evaluation, or NULL when there is none
 * (FEEL null). */
typedef const struct json_t *(*feel_lookup_fn)(void *ctx, const char *name, size_t len);

typedef struct feel_env {
    feel_lookup_fn lookup; /* may be NULL: no variables */
    void *ctx;
    int64_t now_ms; /* the engine's clock, epoch ms: now() and today() */
} feel_env;

/*
 * Evaluates |e| in |env|. Returns 0 with the result as JSON text in
 * |*out| (malloc'd, NUL-terminated, |*out_len| bytes; numbers printed
 * exactly as FEEL computed them: "3", "2.5", "0.3333333333333333333333333333333333",
 * in exponent form only past 10^40 or below 10^-20), or -1 with |err|
 * filled: a run-time failure the engine turns into an incident. Those are:
 * a bound above passed, a number past the range, assert() failing, and a
 * result with no JSON form (a range). Everything FEEL defines as null is a
 * null result, not an error: a missing variable, a type mismatch, a
 * division by zero, an invalid date string.
 *
 * Big integers stay exact in the text (9223372036854775808 + 1 prints
 * 9223372036854775809), so a caller that parses it with jansson must allow
 * for integers past int64 (JSON_DECODE_INT_AS_REAL or its own handling).
 */
int feel_eval(const feel_expr *e, const feel_env *env, char **out, size_t *out_len,
              feel_error *err);

/* Evaluates |e| as a condition: 1 when it is true, 0 when it is false or
 * null, -1 with |err| when it is neither a boolean nor null (Zeebe raises a
 * CONDITION_ERROR incident then: "Expected result of the expression 'x + 1'
 * to be 'BOOLEAN', but was 'NUMBER'.") or when the evaluation fails as in
 * feel_eval. */
int feel_eval_condition(const feel_expr *e, const feel_env *env, feel_error *err);

/*
 * A budget of steps shared by several evaluations: a DMN decision
 * evaluates many expressions and must stay bounded as a whole. An
 * evaluation given a budget may take at most |steps| steps (never more
 * than FEEL_MAX_STEPS), fails as when it passes FEEL_MAX_STEPS once it
 * would take more, and takes the steps it used off |steps|, failed or not.
 */
typedef struct feel_budget {
    uint64_t steps; /* steps left */
} feel_budget;

/* feel_eval under |budget| (NULL: FEEL_MAX_STEPS alone). */
int feel_eval_budget(const feel_expr *e, const feel_env *env, feel_budget *budget, char **out,
                     size_t *out_len, feel_error *err);

/* ---- unary tests ------------------------------------------------------------ */

/*
 * Unary tests (DMN 1.3 section 10.3.1, grammar rules 14 to 17; the cells of
 * a decision table's input entries) are a form of their own: they test an
 * input value instead of computing one. Their syntax:
 *
 *   -                    any input value matches
 *   t1, t2, ...          positive tests, any of which matches
 *   not(t1, t2, ...)     none of them matches
 *
 * where a positive test is
 *
 *   < e, <= e, > e, >= e a comparison of the input with e ("<= 90", "> limit");
 *   = e, != e            equality, as Camunda's FEEL also reads it;
 *   an interval          [a..b], (a..b], ]a..b[, ...: the input lies in it;
 *   any expression e     with the input value named '?': the input matches when
 *                        e gives a range it lies in, a list it is an item of
 *                        (or equals), true for a boolean expression naming '?'
 *                        ("? > 5", "contains(?, \"x\")") or whenever the input
 *                        is not a boolean, or else a value the input equals
 *                        ("gold", 42, date("2024-01-31"), null, a variable).
 *                        So "true" matches the input true only, not every input.
 *
 * A test that cannot decide (a comparison of a number with a string, a
 * null input compared with "< 5") is null, which is no match; not() of a
 * null is no match either, as in three-valued logic.
 */

/*
 * Parses |len| bytes of |src| as unary tests into |*out|, under the same
 * bounds, ownership and error reporting as feel_parse. Blank text is a
 * syntax error ("Expected unary tests"): a caller to whom an empty cell
 * means "-" says so itself. The result is only for feel_eval_unary_tests;
 * feel_eval and feel_eval_condition refuse it (and the other way round).
 */
int feel_parse_unary_tests(const char *src, size_t len, feel_expr **out, feel_error *err);

/*
 * Tests the value |input| (a borrowed JSON value, NULL for FEEL null) with
 * |tests| in |env| (the input value is the name '?' and shadows a variable
 * of that name). Returns 1 when the input matches, 0 when it does not (a
 * null verdict included), or -1 with |err| filled when the evaluation
 * fails as in feel_eval (a bound passed, a number past the range) or
 * |tests| was not parsed by feel_parse_unary_tests. Thread safety as for
 * feel_eval.
 */
int feel_eval_unary_tests(const feel_expr *tests, const struct json_t *input, const feel_env *env,
                          feel_error *err);

/* ---- values kept across evaluations ----------------------------------------------- */

/*
 * A FEEL value kept after the evaluation that made it, with its type: a
 * decision table's input value is computed once and tested by every rule,
 * and a date must stay a date for "< date(\"2024-01-01\")" to compare
 * it (its JSON form is a string). A value may borrow from the parsed
 * expression and from the variables its env gave: it must not outlive
 * either. It is immutable; free it with feel_value_free (NULL is a no-op).
 */
typedef struct feel_value feel_value;

/* Evaluates |e| as feel_eval does, under |budget| (may be NULL), keeping
 * the result as a value in |*out| instead of writing it out as JSON. */
int feel_eval_value(const feel_expr *e, const feel_env *env, feel_budget *budget, feel_value **out,
                    feel_error *err);

void feel_value_free(feel_value *v);

/* The bytes |v| holds (its evaluation's memory), for a caller that bounds
 * what it keeps. */
size_t feel_value_size(const feel_value *v);

/* The value as JSON text, as feel_eval writes results (|v| NULL: "null");
 * -1 with |err| for a value without JSON form (a range). */
int feel_value_json(const feel_value *v, char **out, size_t *out_len, feel_error *err);

/* feel_eval_unary_tests with |input| a kept value (NULL: FEEL null), under
 * |budget| (may be NULL). */
int feel_eval_unary_tests_value(const feel_expr *tests, const feel_value *input,
                                const feel_env *env, feel_budget *budget, feel_error *err);

#endif
