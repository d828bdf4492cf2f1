/*
 * DMN decisions as Zeebe (Camunda 8) evaluates them for a business rule
 * task with zeebe:calledDecision: the decision-model half of Chute's
 * process engine, beside src/model (BPMN) and over src/feel (FEEL).
 *
 * Two calls. dmn_parse turns one deployed resource (the bytes of a .dmn
 * file) into an immutable dmn_definitions with every FEEL expression and
 * unary test already parsed, or refuses it with every error it finds, in
 * the model_errors of src/model so that one deployment's rejection lists
 * BPMN and DMN resources alike through model_errors_format:
 *
 *   Expected to deploy new resources, but encountered the following errors:
 *   'discount.dmn': - Element: discount
 *       - ERROR: The hit policy 'SOMETIMES' of the decision table 'Table_1' is not supported; ...
 *
 * Errors name the decision (its id) that is wrong, and in the message the
 * table, rule, input or output concerned (their id and 1-based position).
 * dmn_evaluate then evaluates one decision against the variables of a
 * scope and gives its result as JSON text, shaped as Zeebe gives it to a
 * business rule task's resultVariable.
 *
 * Pure: no I/O, no global state, no engine. XML is read with expat through
 * src/model/xtree (DOCTYPE refused, so no entity is ever declared; size,
 * depth, attributes and elements bounded before anything is allocated);
 * namespaces are matched by URI, never by prefix. A definitions is
 * immutable: any number of threads may evaluate decisions of one
 * definitions at once (FEEL's parsed expressions are read-only too).
 *
 * ---- what is supported -----------------------------------------------------
 *
 * DMN 1.1 to 1.5 (the namespaces DMN_NS_*). A definitions holds decisions;
 * each decision's logic is one of
 *  - a decisionTable: inputs (inputExpression text: a FEEL expression),
 *    outputs (name, typeRef; outputValues for the priority of PRIORITY and
 *    OUTPUT ORDER; defaultOutputEntry), rules (one inputEntry per input:
 *    FEEL unary tests, an empty cell meaning "-"; one outputEntry per
 *    output: a FEEL expression, an empty cell meaning null), with the hit
 *    policy UNIQUE (the default), FIRST, PRIORITY, ANY, COLLECT (with the
 *    aggregation SUM, MIN, MAX, COUNT, or none), RULE ORDER or OUTPUT ORDER;
 *  - a literalExpression: a FEEL expression.
 * informationRequirement/requiredDecision (href="#id") makes a decision
 * require another of the same resource: the required ones are evaluated
 * first, each once, and the result of each direct requirement is a
 * variable named by the required decision's id and, when it has one, by
 * its name (these shadow variables of the same name).
 * informationRequirement/requiredInput, inputData, knowledgeSource,
 * authorityRequirement, itemDefinition, typeRef, inputValues, annotations,
 * descriptions, extension elements, other namespaces (DMNDI diagrams,
 * modeler:) and qualified attributes are read over: they describe, they do
 * not compute. typeRef is kept but not enforced.
 *
 * Refused at deploy time, naming the element: other boxed expressions
 * (context, invocation, list, relation, functionDefinition, conditional,
 * filter, for, some, every), business knowledge models
 * (businessKnowledgeModel, knowledgeRequirement), decision services,
 * imports, requirements of decisions in other resources, a requirement
 * cycle, a decision without logic or with two, an expression language
 * other than FEEL, an unknown hit policy or aggregation, an aggregation
 * without COLLECT or with several outputs, PRIORITY or OUTPUT ORDER without
 * outputValues, a rule whose number of entries differs from the table's
 * inputs or outputs, several outputs without distinct names, a duplicate
 * or missing decision id, and every FEEL expression or unary test that
 * src/feel does not parse.
 *
 * ---- results, as Zeebe gives them -------------------------------------------
 *
 *  - a literal expression: its value;
 *  - a table with one output: the output's value; with several outputs: a
 *    context (JSON object) of the output names in the table's order;
 *  - UNIQUE, FIRST, ANY, PRIORITY: the one rule's output; more than one
 *    matching rule under UNIQUE, or matching rules of different outputs
 *    under ANY, is an evaluation error;
 *  - COLLECT, RULE ORDER, OUTPUT ORDER: a list of the matching rules'
 *    outputs (rule order; for OUTPUT ORDER sorted by priority, stable);
 *    COLLECT with SUM, MIN or MAX: a number (every output must be one),
 *    with COUNT: the number of matching rules;
 *  - no matching rule: the outputs' defaultOutputEntry values (a value or
 *    a context, as above) when the table has any, else null, for every hit
 *    policy: the multi-hit ones and COUNT give null too, not [] or 0, as
 *    dmn-scala (Zeebe's DMN engine) does;
 *  - priority (PRIORITY, OUTPUT ORDER): the outputs in the table's order
 *    rank a rule, each by the position of its value in that output's
 *    outputValues (a value not listed, or an output without outputValues,
 *    ranks after all listed ones).
 *
 * Values: an input value is computed once per table evaluation and tested
 * with its FEEL type (a date stays a date for "< date(\"2024-01-01\")").
 * Outputs and results are JSON text as FEEL writes it, so numbers leave
 * exact (0.1 + 0.2 is 0.3). A required decision's result is read by the
 * decisions requiring it as the engine reads variables, through jansson:
 * numbers as doubles past int64, temporal values as their ISO strings (so
 * "date(Required)" gets the date back). The aggregations SUM, MIN, MAX
 * read the outputs the same way, then compute with FEEL's sum(), min() and
 * max(). A FEEL name with spaces ("Bonus amount") needs backticks in an
 * expression: `Bonus amount`.
 *
 * Cost: one dmn_evaluate evaluates each decision of the requirement
 * closure once, each input expression of a table once, each input entry
 * at most once per rule, and the output entries of the matching rules; all
 * of it shares one budget of DMN_MAX_STEPS FEEL steps and DMN_MAX_RESULT
 * bytes of computed values, so no model, however large, makes it
 * unbounded.
 *
 * Ownership: dmn_parse copies what it needs from its arguments; a
 * dmn_definitions owns all its strings, arrays and parsed expressions and
 * releases them in dmn_definitions_free. Every pointer a definitions
 * holds or hands out (decisions, ids, dmn_eval_error.decision_id) is valid
 * until then.
 */
#ifndef CHUTE_DMN_DMN_H
#define CHUTE_DMN_DMN_H

#include <stddef.h>
#include <stdint.h>

#include <chute/chute.h>

#include "feel/feel.h"
#include "model/bpmn.h" /* model_errors, model_errors_clear, model_errors_format */

/* ---- bounds, checked before anything is allocated ------------------------- */

#define DMN_MAX_DOCUMENT ((size_t)4 * 1024 * 1024) /* bytes of one resource */
#define DMN_MAX_DEPTH 64                           /* nesting of XML elements */
#define DMN_MAX_ATTRS 64           /* attributes of one element, xmlns declarations included */
#define DMN_MAX_ELEMENTS 200000    /* XML elements of one document, diagram included */
#define DMN_MAX_DECISIONS 1000     /* decisions of one resource */
#define DMN_MAX_INPUTS 200         /* inputs of one decision table */
#define DMN_MAX_OUTPUTS 200        /* outputs of one decision table */
#define DMN_MAX_RULES 20000        /* rules of one decision table */
#define DMN_MAX_OUTPUT_VALUES 1000 /* items of one output's outputValues */
/* Work of one dmn_evaluate over all the expressions it evaluates (the
 * decision and its requirements), in FEEL's steps: four times what one
 * FEEL expression may take, about a second of one core at worst. Real
 * decisions take a few thousand. */
#define DMN_MAX_STEPS ((uint64_t)4 * FEEL_MAX_STEPS)
/* Bytes of the values one dmn_evaluate computes and keeps (input values,
 * outputs, results of required decisions, the result). */
#define DMN_MAX_RESULT ((size_t)16 << 20)
#define DMN_MAX_VARIABLES ((size_t)16 << 20) /* bytes of dmn_evaluate's variables text */

/* The DMN namespaces, matched exactly (any prefix, or the default one). */
#define DMN_NS_11 "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
#define DMN_NS_12 "http://www.omg.org/spec/DMN/20180521/MODEL/"
#define DMN_NS_13 "https://www.omg.org/spec/DMN/20191111/MODEL/"
#define DMN_NS_14 "https://www.omg.org/spec/DMN/20211108/MODEL/"
#define DMN_NS_15 "https://www.omg.org/spec/DMN/20230324/MODEL/"

/* "No decision" where an index is expected. */
#define DMN_NONE UINT32_MAX

/* ---- the model -------------------------------------------------------------- */

/* X(name, xml): the hit policies, |xml| as the hitPolicy attribute spells it. */
#define DMN_HIT_POLICY_MAP(X)                                                                      \
    X(UNIQUE, "UNIQUE")                                                                            \
    X(FIRST, "FIRST")                                                                              \
    X(PRIORITY, "PRIORITY")                                                                        \
    X(ANY, "ANY")                                                                                  \
    X(COLLECT, "COLLECT")                                                                          \
    X(RULE_ORDER, "RULE ORDER")                                                                    \
    X(OUTPUT_ORDER, "OUTPUT ORDER")

typedef enum dmn_hit_policy {
#define DMN_HP_ENUM_(name, xml) DMN_HIT_##name,
    DMN_HIT_POLICY_MAP(DMN_HP_ENUM_)
#undef DMN_HP_ENUM_
        DMN_HIT_POLICY_COUNT
} dmn_hit_policy;

/* The aggregation of a COLLECT table (the aggregation attribute). */
typedef enum dmn_aggregation {
    DMN_AGG_NONE = 0, /* a list of the outputs */
    DMN_AGG_SUM,
    DMN_AGG_MIN,
    DMN_AGG_MAX,
    DMN_AGG_COUNT,
} dmn_aggregation;

/* The hitPolicy attribute's spelling of |h| ("RULE ORDER"); "" out of range. */
const char *dmn_hit_policy_name(dmn_hit_policy h);

/* A FEEL text of the model and its parsed form. */
typedef struct dmn_expr {
    const char *text; /* NUL-terminated, as the XML gave it (entities resolved) */
    uint32_t len;
    /* feel_parse's (expressions) or feel_parse_unary_tests's (input
     * entries) result; NULL for an input entry that is "-" or empty (any
     * value) and for an empty output entry (null). */
    const feel_expr *parsed;
} dmn_expr;

typedef struct dmn_input {
    const char *id;       /* "" when none */
    const char *label;    /* "" when none */
    dmn_expr expression;  /* inputExpression: always parsed */
    const char *type_ref; /* of the inputExpression, "" when none */
} dmn_input;

typedef struct dmn_output {
    const char *id;       /* "" when none */
    const char *name;     /* not empty and distinct from the others' when the table has
                             several outputs; may be "" for a single one */
    const char *label;    /* "" when none */
    const char *type_ref; /* "" when none */
    /* outputValues as a JSON array text ("[\"high\",\"low\"]") of the values
     * in priority order, or NULL when the output has none. */
    const char *priorities;
    dmn_expr default_entry; /* defaultOutputEntry; parsed NULL when none */
    uint8_t has_default;
} dmn_output;

typedef struct dmn_rule {
    const char *id;                 /* "" when none */
    const dmn_expr *input_entries;  /* dmn_table.input_count of them */
    const dmn_expr *output_entries; /* dmn_table.output_count of them */
} dmn_rule;

typedef struct dmn_table {
    const char *id; /* "" when none */
    dmn_hit_policy hit_policy;
    dmn_aggregation aggregation; /* DMN_AGG_NONE unless the hit policy is COLLECT */
    uint32_t input_count;        /* 0 .. DMN_MAX_INPUTS */
    const dmn_input *inputs;
    uint32_t output_count; /* 1 .. DMN_MAX_OUTPUTS */
    const dmn_output *outputs;
    uint32_t rule_count; /* 0 .. DMN_MAX_RULES */
    const dmn_rule *rules;
} dmn_table;

typedef enum dmn_decision_kind {
    DMN_DECISION_TABLE,   /* |table| */
    DMN_DECISION_LITERAL, /* |literal| */
} dmn_decision_kind;

typedef struct dmn_decision {
    const char *id;   /* unique in the resource, not empty: Zeebe's decisionId */
    const char *name; /* "" when none */
    dmn_decision_kind kind;
    const dmn_table *table;  /* DMN_DECISION_TABLE */
    const dmn_expr *literal; /* DMN_DECISION_LITERAL */
    /* The decisions it requires directly (indices into the definitions'
     * decisions, in document order, without repeats). */
    uint32_t required_count;
    const uint32_t *required;
    /* Everything it requires, directly or not, each once, then itself: the
     * order in which dmn_evaluate evaluates them (a requirement before
     * whatever requires it). */
    uint32_t order_count;
    const uint32_t *order;
} dmn_decision;

typedef struct dmn_definitions {
    const char *id;            /* of <definitions> (Zeebe's decisionRequirementsId), "" when none */
    const char *name;          /* "" when none (decisionRequirementsName) */
    const char *ns;            /* the namespace attribute (a URI), "" when none */
    const char *dmn_ns;        /* which DMN_NS_* the document is in */
    const char *resource_name; /* as given to dmn_parse */
    uint32_t decision_count;   /* 1 .. DMN_MAX_DECISIONS */
    const dmn_decision *decisions; /* in document order */
    /* Private to the module. */
    void *arena_;
    void *priv_;
    const uint32_t *by_id_;
} dmn_definitions;

/* ---- parsing ---------------------------------------------------------------- */

/* Options of dmn_parse; NULL, or a zeroed struct, takes the defaults. */
typedef struct dmn_options {
    /* Lower bounds than DMN_MAX_DOCUMENT and DMN_MAX_ELEMENTS (0: those);
     * a larger value is ignored. */
    size_t max_document;
    uint32_t max_elements;
} dmn_options;

/*
 * Parses the DMN resource |xml| (|len| bytes, UTF-8 or an encoding its XML
 * declaration names that expat reads) named |resource_name| (used in
 * messages; copied; NULL is ""). |opts| may be NULL.
 *
 * Returns 0 with a new definitions in |*out| (free it with
 * dmn_definitions_free) and |errs| cleared; CHUTE_EINVAL when the resource
 * is refused, with |errs| holding why (at most MODEL_MAX_ERRORS, the rest
 * counted in |omitted|) and |*out| untouched; CHUTE_ENOMEM when memory ran
 * out (|errs| may hold what was found so far). |errs| must be zeroed before
 * its first use (model_errors e = {0};), is cleared by the call and is
 * released with model_errors_clear; it may be NULL when the caller only
 * wants the verdict. Format a rejection with model_errors_format.
 */
int dmn_parse(const char *xml, size_t len, const char *resource_name, const dmn_options *opts,
              dmn_definitions **out, model_errors *errs);

/* Frees |defs| with every parsed expression. NULL is a no-op. */
void dmn_definitions_free(dmn_definitions *defs);

/* The index of the decision with id |id| (|len| bytes, need not be
 * NUL-terminated) in |defs|, or DMN_NONE. */
uint32_t dmn_decision_find(const dmn_definitions *defs, const char *id, size_t len);

/* ---- evaluating --------------------------------------------------------------- */

/* Why an evaluation failed. */
typedef struct dmn_eval_error {
    /* The decision whose evaluation failed, Zeebe's failedDecisionId: the
     * one asked for or one it requires. Points into the definitions; NULL
     * when no decision failed (an unknown decision, bad variables). */
    const char *decision_id;
    /* A full sentence in Zeebe's words, e.g. "Expected to evaluate decision
     * 'discount', but expected at most one rule to match for UNIQUE hit
     * policy, but found 2 (rules 'r1' and 'r3')". Always NUL-terminated;
     * long quotes are cut. */
    char message[1024];
} dmn_eval_error;

/*
 * Evaluates the decision |decision_id| (NUL-terminated) of |defs| with the
 * variables of the JSON object |variables_json| (NUL-terminated text, at
 * most DMN_MAX_VARIABLES bytes; NULL or "" for none) and the clock
 * |now_ms| (epoch milliseconds, for now() and today()).
 *
 * Returns 0 with the result as JSON text in |*result_json| (malloc'd,
 * NUL-terminated, at most DMN_MAX_RESULT bytes; the caller frees it), or,
 * with |err| filled (it may be NULL) and |*result_json| untouched:
 *   CHUTE_ENOTFOUND  |defs| has no decision |decision_id|;
 *   CHUTE_EINVAL     |variables_json| is not a JSON object within the bound,
 *                    or the evaluation failed: a FEEL evaluation failed
 *                    (see feel_eval), an input entry did not decide, UNIQUE
 *                    or ANY saw what they forbid, an aggregation met a value
 *                    that is no number, the result grew past DMN_MAX_RESULT,
 *                    or the steps passed DMN_MAX_STEPS (the engine raises an
 *                    incident for these);
 *   CHUTE_ENOMEM     memory ran out.
 * Reads |defs| only: safe to call from several threads at once.
 */
int dmn_evaluate(const dmn_definitions *defs, const char *decision_id, const char *variables_json,
                 int64_t now_ms, char **result_json, dmn_eval_error *err);

/*
 * As dmn_evaluate, for the decision with index |decision| (< decision_count,
 * else CHUTE_ENOTFOUND) and the variables |env| gives: env or its lookup
 * may be NULL (no variables; the clock is then 0); every value the lookup
 * lends must live until the call returns; now() and today() read
 * env->now_ms. |result_len| may be NULL. This is the form for an engine
 * that reads a scope's variables lazily, as it does for FEEL.
 */
int dmn_evaluate_env(const dmn_definitions *defs, uint32_t decision, const feel_env *env,
                     char **result_json, size_t *result_len, dmn_eval_error *err);

/* ---- what an evaluation saw ---------------------------------------------------
 *
 * A trace tells what one evaluation did, decision by decision, as Zeebe
 * reports it in EvaluateDecisionResponse.evaluatedDecisions (dmn-scala's
 * audit log): the value of each input of a table, the rules that matched
 * (1-based, in table order) with the value of each output they computed,
 * and the decision's result. Values are JSON text as the results are.
 *
 * Which rules are listed: the matching ones the hit policy looked at (all
 * of them, but under FIRST only the first). Their outputs are listed when
 * the evaluation computed them: for every rule under PRIORITY, ANY,
 * COLLECT, RULE ORDER and OUTPUT ORDER, for the one rule under UNIQUE and
 * FIRST, for none under COLLECT with COUNT (it counts rules, not
 * outputs). A failed evaluation's trace ends with the decision that failed
 * (its result "null", with what it saw before it failed), after the
 * requirements that were evaluated.
 */
typedef struct dmn_traced_value {
    const char *id;   /* the input's or output's id; "" when none (the definitions') */
    const char *name; /* an input's label, an output's name; "" when none (the definitions') */
    char *value;      /* JSON text, NUL-terminated (the trace's) */
} dmn_traced_value;

typedef struct dmn_traced_rule {
    const char *id; /* "" when none (the definitions') */
    uint32_t index; /* 1-based position in the table */
    uint32_t output_count;
    dmn_traced_value *outputs; /* in the table's order; none when not computed */
} dmn_traced_rule;

typedef struct dmn_traced_decision {
    uint32_t decision; /* index into the definitions' decisions */
    char *output;      /* JSON text of its result; "null" for the one that failed */
    uint32_t input_count;
    dmn_traced_value *inputs; /* a table's inputs, in order, as far as computed */
    uint32_t rule_count;
    dmn_traced_rule *rules;
} dmn_traced_decision;

typedef struct dmn_trace {
    uint32_t count;
    /* In evaluation order: a requirement before what requires it; the
     * decision asked for (or the one that failed) last. */
    dmn_traced_decision *decisions;
    size_t cap_;
} dmn_trace;

/* Releases what |t| holds and zeroes it. A zeroed trace is fine. */
void dmn_trace_free(dmn_trace *t);

/*
 * As dmn_evaluate_env, recording the evaluation into |trace| (zeroed by
 * the caller, or one dmn_trace_free released). The trace is filled on
 * success and when the evaluation failed (CHUTE_EINVAL with a decision in
 * err->decision_id); after CHUTE_ENOMEM it holds what was recorded before
 * memory ran out. Free it with dmn_trace_free in every case. Recording
 * copies the values it keeps, which count against DMN_MAX_RESULT like the
 * values themselves.
 */
int dmn_evaluate_traced(const dmn_definitions *defs, uint32_t decision, const feel_env *env,
                        dmn_trace *trace, char **result_json, size_t *result_len,
                        dmn_eval_error *err);

#endif
