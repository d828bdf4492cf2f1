/*
 * Tests of src/dmn (DMN XML to decisions, and their evaluation): every hit
 * policy against tables whose results are computed by hand, multiple
 * outputs, default outputs, literal expressions, required decisions,
 * the forms of unary tests inside real tables, evaluation failures in
 * Zeebe's words, the step budget, documents refused at deploy time with the
 * exact message naming the decision, and the corpus file
 * plot-destination.dmn parsed and evaluated for inputs checked by hand
 * against the file.
 *
 * Usage: test_dmn CORPUS_DIR (the shared folder of models, read at run
 * time; a missing folder or file fails the test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmn/dmn.h"

static const char *corpus_dir;

#define NOW_MS 1706700000000LL /* 2024-01-31T11:20:00Z */

/* ---- building documents ------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void putf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sbuf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp);
}

/* |s| with the XML characters escaped. */
static void put_text(sbuf *b, const char *s)
{
    for (; *s; s++) {
        char c[2] = {*s, 0};
        put(b, *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : c);
    }
}

#define NS13 "https://www.omg.org/spec/DMN/20191111/MODEL/"

static void open_defs(sbuf *b, const char *ns)
{
    putf(b,
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<definitions xmlns=\"%s\" xmlns:dmndi=\"https://www.omg.org/spec/DMN/20191111/DMNDI/\" "
         "xmlns:modeler=\"http://camunda.org/schema/modeler/1.0\" id=\"defs\" name=\"Defs\" "
         "namespace=\"http://camunda.org/schema/1.0/dmn\" modeler:executionPlatform=\"Camunda "
         "Cloud\">\n",
         ns);
}

static char *close_defs(sbuf *b)
{
    put(b, "<dmndi:DMNDI><dmndi:DMNDiagram><dmndi:DMNShape dmnElementRef=\"d\"/>"
           "</dmndi:DMNDiagram></dmndi:DMNDI>\n</definitions>\n");
    return b->p;
}

#define MAX_COLS 6
#define MAX_RULES 16

/* A decision table, written compactly: inputs' expressions, outputs'
 * names (with their outputValues and defaults where given), and rules as
 * rows of cells, inputs first. */
typedef struct table_spec {
    const char *id;
    const char *name;
    const char *table_attrs; /* e.g. "hitPolicy=\"FIRST\"" */
    const char *inputs[MAX_COLS];
    const char *outputs[MAX_COLS];
    const char *output_values[MAX_COLS];
    const char *defaults[MAX_COLS];
    const char *requires[MAX_COLS]; /* required decision ids */
    const char *rules[MAX_RULES][2 * MAX_COLS];
} table_spec;

static void put_table(sbuf *b, const table_spec *t)
{
    putf(b, "<decision id=\"%s\" name=\"%s\">\n", t->id, t->name ? t->name : "");
    for (int k = 0; k < MAX_COLS && t->requires[k]; k++)
        putf(b,
             "<informationRequirement id=\"ir_%s_%d\"><requiredDecision href=\"#%s\"/>"
             "</informationRequirement>\n",
             t->id, k, t->requires[k]);
    putf(b, "<decisionTable id=\"tbl_%s\" %s>\n", t->id, t->table_attrs ? t->table_attrs : "");
    int ni = 0, no = 0;
    while (ni < MAX_COLS && t->inputs[ni])
        ni++;
    while (no < MAX_COLS && t->outputs[no])
        no++;
    for (int i = 0; i < ni; i++) {
        putf(b, "<input id=\"in%d\" label=\"Input %d\"><inputExpression typeRef=\"string\"><text>",
             i + 1, i + 1);
        put_text(b, t->inputs[i]);
        put(b, "</text></inputExpression></input>\n");
    }
    for (int o = 0; o < no; o++) {
        putf(b, "<output id=\"out%d\" name=\"%s\" typeRef=\"string\">", o + 1, t->outputs[o]);
        if (t->output_values[o]) {
            put(b, "<outputValues><text>");
            put_text(b, t->output_values[o]);
            put(b, "</text></outputValues>");
        }
        if (t->defaults[o]) {
            put(b, "<defaultOutputEntry><text>");
            put_text(b, t->defaults[o]);
            put(b, "</text></defaultOutputEntry>");
        }
        put(b, "</output>\n");
    }
    for (int r = 0; r < MAX_RULES && t->rules[r][0]; r++) {
        putf(b, "<rule id=\"r%d\"><description>rule %d</description>", r + 1, r + 1);
        for (int c = 0; c < ni + no; c++) {
            const char *tag = c < ni ? "inputEntry" : "outputEntry";
            putf(b, "<%s id=\"e%d_%d\"><text>", tag, r + 1, c + 1);
            put_text(b, t->rules[r][c]);
            putf(b, "</text></%s>", tag);
        }
        put(b, "</rule>\n");
    }
    put(b, "</decisionTable>\n</decision>\n");
}

static void put_literal(sbuf *b, const char *id, const char *name, const char *expr,
                        const char *const *requires)
{
    putf(b, "<decision id=\"%s\" name=\"%s\">\n", id, name);
    for (int k = 0; requires && requires[k]; k++)
        putf(b,
             "<informationRequirement><requiredDecision href=\"#%s\"/>"
             "</informationRequirement>\n",
             requires[k]);
    putf(b, "<variable name=\"%s\"/><literalExpression id=\"lit_%s\"><text>", name, id);
    put_text(b, expr);
    put(b, "</text></literalExpression>\n</decision>\n");
}

/* Parses |xml| or fails the test with the rejection. */
static dmn_definitions *parse_ok(const char *xml)
{
    dmn_definitions *defs = NULL;
    model_errors errs = {0};
    int rc = dmn_parse(xml, strlen(xml), "t.dmn", NULL, &defs, &errs);
    if (rc != 0) {
        const model_errors *list = &errs;
        char *msg = model_errors_format(&list, 1);
        fail_msg("refused (%d): %s\n%s", rc, msg, xml);
    }
    model_errors_clear(&errs);
    return defs;
}

static dmn_definitions *parse_table(const table_spec *t)
{
    sbuf b = {0};
    open_defs(&b, NS13);
    put_table(&b, t);
    char *xml = close_defs(&b);
    dmn_definitions *defs = parse_ok(xml);
    free(xml);
    return defs;
}

/* Evaluates |id| over |vars| and checks the result text (or, for a
 * |want| starting with "!", that it fails with that message). */
static void check_eval(const dmn_definitions *defs, const char *id, const char *vars,
                       const char *want)
{
    char *out = NULL;
    dmn_eval_error err;
    int rc = dmn_evaluate(defs, id, vars, NOW_MS, &out, &err);
    if (want[0] == '!') {
        if (rc == 0)
            fail_msg("%s over %s: got %s, want the failure '%s'", id, vars, out, want + 1);
        if (strcmp(err.message, want + 1) != 0)
            fail_msg("%s over %s:\n got  '%s'\n want '%s'", id, vars, err.message, want + 1);
        return;
    }
    if (rc != 0)
        fail_msg("%s over %s failed (%d): %s", id, vars, rc, err.message);
    if (strcmp(out, want) != 0)
        fail_msg("%s over %s: got %s, want %s", id, vars, out, want);
    free(out);
}

/* ---- hit policies ------------------------------------------------------------ */

/* The discount table of every hit-policy test:
 *
 *   age          tier      | discount
 *   < 18         -         | 10
 *   [18..65]     "gold"    | 20
 *   -            "gold"    | 5
 *   > 65         -         | 15
 *
 * By hand: {30, gold} matches rules 2 and 3 (20, 5); {10, silver} rule 1
 * (10); {70, gold} rules 3 and 4 (5, 15); {30, silver} none; {10, gold}
 * rules 1 and 3 (10, 5). */
static table_spec discount(const char *attrs)
{
    table_spec t = {.id = "discount",
                    .name = "Discount",
                    .table_attrs = attrs,
                    .inputs = {"age", "tier"},
                    .outputs = {"discount"},
                    .rules = {
                        {"< 18", "-", "10"},
                        {"[18..65]", "\"gold\"", "20"},
                        {"-", "\"gold\"", "5"},
                        {"> 65", "", "15"},
                    }};
    return t;
}

#define V_30_GOLD "{\"age\": 30, \"tier\": \"gold\"}"
#define V_10_SILVER "{\"age\": 10, \"tier\": \"silver\"}"
#define V_70_GOLD "{\"age\": 70, \"tier\": \"gold\"}"
#define V_30_SILVER "{\"age\": 30, \"tier\": \"silver\"}"
#define V_10_GOLD "{\"age\": 10, \"tier\": \"gold\"}"

static void test_unique(void **state)
{
    (void)state;
    table_spec t = discount(NULL); /* UNIQUE is the default */
    dmn_definitions *defs = parse_table(&t);
    assert_int_equal(defs->decisions[0].table->hit_policy, DMN_HIT_UNIQUE);
    check_eval(defs, "discount", V_10_SILVER, "10");
    check_eval(defs, "discount", V_30_SILVER, "null");
    check_eval(defs, "discount", V_30_GOLD,
               "!Expected to evaluate decision 'discount', but expected at most one rule to "
               "match for UNIQUE hit policy, but found 2 (rule 'r2' (rule 2), rule 'r3' (rule 3))");
    char *out = NULL;
    dmn_eval_error err;
    assert_int_equal(dmn_evaluate(defs, "discount", V_30_GOLD, NOW_MS, &out, &err), CHUTE_EINVAL);
    assert_null(out);
    assert_string_equal(err.decision_id, "discount");
    dmn_definitions_free(defs);

    t = discount("hitPolicy=\"UNIQUE\"");
    defs = parse_table(&t);
    check_eval(defs, "discount", V_70_GOLD,
               "!Expected to evaluate decision 'discount', but expected at most one rule to "
               "match for UNIQUE hit policy, but found 2 (rule 'r3' (rule 3), rule 'r4' (rule 4))");
    dmn_definitions_free(defs);
}

static void test_first(void **state)
{
    (void)state;
    table_spec t = discount("hitPolicy=\"FIRST\"");
    dmn_definitions *defs = parse_table(&t);
    check_eval(defs, "discount", V_30_GOLD, "20");
    check_eval(defs, "discount", V_70_GOLD, "5");
    check_eval(defs, "discount", V_10_GOLD, "10");
    check_eval(defs, "discount", V_30_SILVER, "null");
    dmn_definitions_free(defs);
}

static void test_any(void **state)
{
    (void)state;
    table_spec t = discount("hitPolicy=\"ANY\"");
    dmn_definitions *defs = parse_table(&t);
    check_eval(defs, "discount", V_10_SILVER, "10");
    check_eval(defs, "discount", V_30_GOLD,
               "!Expected to evaluate decision 'discount', but expected the matching rules to "
               "have the same output for ANY hit policy, but rule 'r2' (rule 2) gives '20' and "
               "rule 'r3' (rule 3) gives '5'");
    dmn_definitions_free(defs);
    /* Matching rules with equal outputs are fine under ANY. */
    table_spec same = {.id = "same",
                       .table_attrs = "hitPolicy=\"ANY\"",
                       .inputs = {"x"},
                       .outputs = {"o"},
                       .rules = {{"> 1", "\"big\""}, {"> 2", "\"big\""}, {"< 0", "\"neg\""}}};
    defs = parse_table(&same);
    check_eval(defs, "same", "{\"x\": 5}", "\"big\"");
    check_eval(defs, "same", "{\"x\": -1}", "\"neg\"");
    check_eval(defs, "same", "{\"x\": 0}", "null");
    dmn_definitions_free(defs);
}

static void test_rule_order_and_collect(void **state)
{
    (void)state;
    const char *policies[] = {"hitPolicy=\"RULE ORDER\"", "hitPolicy=\"COLLECT\""};
    for (int p = 0; p < 2; p++) {
        table_spec t = discount(policies[p]);
        dmn_definitions *defs = parse_table(&t);
        check_eval(defs, "discount", V_30_GOLD, "[20,5]");
        check_eval(defs, "discount", V_70_GOLD, "[5,15]");
        check_eval(defs, "discount", V_10_SILVER, "[10]");
        /* No rule: null, as Zeebe's engine gives it, not an empty list. */
        check_eval(defs, "discount", V_30_SILVER, "null");
        dmn_definitions_free(defs);
    }
}

static void test_collect_aggregations(void **state)
{
    (void)state;
    static const struct {
        const char *agg, *gold30, *gold70, *silver10, *gold10;
    } cases[] = {
        {"SUM", "25", "20", "10", "15"},
        {"MIN", "5", "5", "10", "5"},
        {"MAX", "20", "15", "10", "10"},
        {"COUNT", "2", "2", "1", "2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char attrs[80];
        snprintf(attrs, sizeof attrs, "hitPolicy=\"COLLECT\" aggregation=\"%s\"", cases[i].agg);
        table_spec t = discount(attrs);
        dmn_definitions *defs = parse_table(&t);
        assert_int_equal(defs->decisions[0].table->aggregation, (dmn_aggregation)(i + 1));
        check_eval(defs, "discount", V_30_GOLD, cases[i].gold30);
        check_eval(defs, "discount", V_70_GOLD, cases[i].gold70);
        check_eval(defs, "discount", V_10_SILVER, cases[i].silver10);
        check_eval(defs, "discount", V_10_GOLD, cases[i].gold10);
        check_eval(defs, "discount", V_30_SILVER, "null");
        dmn_definitions_free(defs);
    }
    /* Decimal sums stay exact: FEEL's numbers, not doubles. */
    table_spec dec = {.id = "dec",
                      .table_attrs = "hitPolicy=\"COLLECT\" aggregation=\"SUM\"",
                      .inputs = {"x"},
                      .outputs = {"o"},
                      .rules = {{"-", "0.1"}, {"-", "0.2"}, {"> 5", "x"}}};
    dmn_definitions *defs = parse_table(&dec);
    check_eval(defs, "dec", "{\"x\": 1}", "0.3");
    check_eval(defs, "dec", "{\"x\": 10}", "10.3");
    dmn_definitions_free(defs);
    /* An output that is no number fails the aggregation. */
    table_spec bad = {.id = "bad",
                      .table_attrs = "hitPolicy=\"COLLECT\" aggregation=\"MAX\"",
                      .inputs = {"x"},
                      .outputs = {"o"},
                      .rules = {{"-", "1"}, {"-", "\"two\""}}};
    defs = parse_table(&bad);
    check_eval(defs, "bad", "{}",
               "!Expected to evaluate decision 'bad', but expected the outputs to be numbers for "
               "the aggregation MAX of hit policy COLLECT, but rule 'r2' (rule 2) gives "
               "'\"two\"'");
    dmn_definitions_free(defs);
}

static void test_priority_and_output_order(void **state)
{
    (void)state;
    /* outputValues 5, 10, 15, 20: 5 ranks first. */
    table_spec t = discount("hitPolicy=\"PRIORITY\"");
    t.output_values[0] = "5,10,15,20";
    dmn_definitions *defs = parse_table(&t);
    assert_string_equal(defs->decisions[0].table->outputs[0].priorities, "[5,10,15,20]");
    check_eval(defs, "discount", V_30_GOLD, "5");
    check_eval(defs, "discount", V_70_GOLD, "5");
    check_eval(defs, "discount", V_10_GOLD, "5");
    check_eval(defs, "discount", V_10_SILVER, "10");
    check_eval(defs, "discount", V_30_SILVER, "null");
    dmn_definitions_free(defs);

    t = discount("hitPolicy=\"PRIORITY\"");
    t.output_values[0] = "20, 15, 10, 5";
    defs = parse_table(&t);
    check_eval(defs, "discount", V_30_GOLD, "20");
    check_eval(defs, "discount", V_70_GOLD, "15");
    check_eval(defs, "discount", V_10_GOLD, "10");
    dmn_definitions_free(defs);

    t = discount("hitPolicy=\"OUTPUT ORDER\"");
    t.output_values[0] = "20,15,10,5";
    defs = parse_table(&t);
    check_eval(defs, "discount", V_30_GOLD, "[20,5]");
    check_eval(defs, "discount", V_70_GOLD, "[15,5]");
    check_eval(defs, "discount", V_10_GOLD, "[10,5]");
    check_eval(defs, "discount", V_30_SILVER, "null");
    dmn_definitions_free(defs);

    /* Strings, two outputs: the first output ranks, the second breaks ties;
     * a value outside outputValues ranks last, and equal ranks keep rule
     * order. */
    table_spec s = {.id = "risk",
                    .table_attrs = "hitPolicy=\"OUTPUT ORDER\"",
                    .inputs = {"score"},
                    .outputs = {"level", "action"},
                    .output_values = {"\"high\",\"medium\",\"low\"", "\"stop\",\"review\""},
                    .rules = {
                        {"> 10", "\"low\"", "\"review\""},
                        {"> 20", "\"medium\"", "\"log\""},
                        {"> 30", "\"high\"", "\"review\""},
                        {"> 40", "\"medium\"", "\"stop\""},
                        {"> 50", "\"unknown\"", "\"stop\""},
                        {"> 60", "\"low\"", "\"review\""},
                    }};
    defs = parse_table(&s);
    check_eval(defs, "risk", "{\"score\": 25}",
               "[{\"level\":\"medium\",\"action\":\"log\"},"
               "{\"level\":\"low\",\"action\":\"review\"}]");
    check_eval(defs, "risk", "{\"score\": 70}",
               "[{\"level\":\"high\",\"action\":\"review\"},"
               "{\"level\":\"medium\",\"action\":\"stop\"},"
               "{\"level\":\"medium\",\"action\":\"log\"},"
               "{\"level\":\"low\",\"action\":\"review\"},"
               "{\"level\":\"low\",\"action\":\"review\"},"
               "{\"level\":\"unknown\",\"action\":\"stop\"}]");
    dmn_definitions_free(defs);
    s.table_attrs = "hitPolicy=\"PRIORITY\"";
    defs = parse_table(&s);
    check_eval(defs, "risk", "{\"score\": 45}", "{\"level\":\"high\",\"action\":\"review\"}");
    check_eval(defs, "risk", "{\"score\": 22}", "{\"level\":\"medium\",\"action\":\"log\"}");
    dmn_definitions_free(defs);
}

/* ---- outputs, defaults, literals --------------------------------------------- */

static void test_outputs(void **state)
{
    (void)state;
    /* Several outputs make a context, in the table's order; an empty output
     * cell is null; output entries are expressions over the variables. */
    table_spec t = {.id = "ship",
                    .table_attrs = "hitPolicy=\"FIRST\"",
                    .inputs = {"weight", "country"},
                    .outputs = {"carrier", "price", "note"},
                    .rules = {
                        {"<= 2", "\"DE\"", "\"post\"", "weight * 1.5", ""},
                        {"<= 2", "-", "\"post\"", "weight * 3", "\"abroad\""},
                        {"> 2", "-", "\"freight\"", "10 + weight", "\"heavy: \" + string(weight)"},
                    }};
    dmn_definitions *defs = parse_table(&t);
    check_eval(defs, "ship", "{\"weight\": 2, \"country\": \"DE\"}",
               "{\"carrier\":\"post\",\"price\":3,\"note\":null}");
    check_eval(defs, "ship", "{\"weight\": 1.5, \"country\": \"FR\"}",
               "{\"carrier\":\"post\",\"price\":4.5,\"note\":\"abroad\"}");
    check_eval(defs, "ship", "{\"weight\": 7}",
               "{\"carrier\":\"freight\",\"price\":17,\"note\":\"heavy: 7\"}");
    check_eval(defs, "ship", "{}", "null");
    dmn_definitions_free(defs);

    /* Defaults when no rule matches: one default gives the value, several a
     * context of those outputs. */
    table_spec d = {.id = "def",
                    .inputs = {"x"},
                    .outputs = {"a"},
                    .defaults = {"\"none\""},
                    .rules = {{"1", "\"one\""}}};
    defs = parse_table(&d);
    check_eval(defs, "def", "{\"x\": 1}", "\"one\"");
    check_eval(defs, "def", "{\"x\": 2}", "\"none\"");
    dmn_definitions_free(defs);
    table_spec d2 = {.id = "def2",
                     .table_attrs = "hitPolicy=\"COLLECT\"",
                     .inputs = {"x"},
                     .outputs = {"a", "b", "c"},
                     .defaults = {"x * 10", NULL, "\"c\""},
                     .rules = {{"1", "1", "2", "3"}}};
    defs = parse_table(&d2);
    check_eval(defs, "def2", "{\"x\": 1}", "[{\"a\":1,\"b\":2,\"c\":3}]");
    check_eval(defs, "def2", "{\"x\": 2}", "{\"a\":20,\"c\":\"c\"}");
    dmn_definitions_free(defs);

    /* A table without inputs: every rule matches. */
    table_spec none = {.id = "none",
                       .table_attrs = "hitPolicy=\"RULE ORDER\"",
                       .outputs = {"o"},
                       .rules = {{"1"}, {"2"}}};
    defs = parse_table(&none);
    assert_int_equal(defs->decisions[0].table->input_count, 0);
    check_eval(defs, "none", NULL, "[1,2]");
    dmn_definitions_free(defs);
}

static void test_literal(void **state)
{
    (void)state;
    sbuf b = {0};
    open_defs(&b, NS13);
    put_literal(&b, "greeting", "Greeting", "\"Hello, \" + name + \"!\"", NULL);
    put_literal(&b, "today", "Today", "today()", NULL);
    put_literal(&b, "ctx", "Ctx", "{total: sum(items.price), count: count(items)}", NULL);
    char *xml = close_defs(&b);
    dmn_definitions *defs = parse_ok(xml);
    free(xml);
    assert_int_equal(defs->decision_count, 3);
    assert_int_equal(defs->decisions[0].kind, DMN_DECISION_LITERAL);
    assert_string_equal(defs->id, "defs");
    assert_string_equal(defs->name, "Defs");
    assert_string_equal(defs->dmn_ns, NS13);
    assert_string_equal(defs->resource_name, "t.dmn");
    check_eval(defs, "greeting", "{\"name\": \"Ann\"}", "\"Hello, Ann!\"");
    check_eval(defs, "greeting", "{}", "null");
    check_eval(defs, "today", "{}", "\"2024-01-31\"");
    check_eval(defs, "ctx", "{\"items\": [{\"price\": 2.5}, {\"price\": 4}]}",
               "{\"total\":6.5,\"count\":2}");
    assert_int_equal(dmn_decision_find(defs, "ctx", 3), 2);
    assert_int_equal(dmn_decision_find(defs, "ctxx", 3), 2); /* by length */
    assert_int_equal(dmn_decision_find(defs, "nope", 4), DMN_NONE);
    dmn_definitions_free(defs);
}

/* ---- required decisions ------------------------------------------------------ */

static void test_required(void **state)
{
    (void)state;
    /* A diamond: total requires base and bonus, both require rate; each is
     * evaluated once, and each sees its direct requirements by id or name. */
    sbuf b = {0};
    open_defs(&b, NS13);
    const char *const total_req[] = {"base", "bonus", NULL};
    const char *const rate_req[] = {"rate", NULL};
    put_literal(&b, "total", "Total", "base + `Bonus amount`", total_req);
    put_literal(&b, "base", "Base", "salary * rate", rate_req);
    table_spec bonus = {
        .id = "bonus",
        .name = "Bonus amount",
        .table_attrs = "hitPolicy=\"FIRST\"",
        .inputs = {"years", "Rate"},
        .outputs = {"amount"},
        .requires = {"rate"},
        .rules = {{">= 10", "-", "1000 * Rate"}, {"-", "> 1", "100"}, {"-", "-", "0"}}};
    put_table(&b, &bonus);
    put_literal(&b, "rate", "Rate", "if level = \"senior\" then 2 else 1", NULL);
    char *xml = close_defs(&b);
    dmn_definitions *defs = parse_ok(xml);
    free(xml);
    assert_int_equal(defs->decision_count, 4);
    const dmn_decision *total = &defs->decisions[0];
    assert_int_equal(total->required_count, 2);
    assert_int_equal(total->required[0], 1);
    assert_int_equal(total->required[1], 2);
    /* rate, base, bonus, total: a requirement before what requires it. */
    assert_int_equal(total->order_count, 4);
    assert_int_equal(total->order[0], 3);
    assert_int_equal(total->order[1], 1);
    assert_int_equal(total->order[2], 2);
    assert_int_equal(total->order[3], 0);
    assert_int_equal(defs->decisions[3].order_count, 1);

    /* senior: rate 2, base 3000 * 2, bonus 12 years -> 2000: 8000. */
    check_eval(defs, "total", "{\"salary\": 3000, \"level\": \"senior\", \"years\": 12}", "8000");
    /* junior: rate 1, base 3000, bonus: rate 1 is not > 1 -> 0: 3000. */
    check_eval(defs, "total", "{\"salary\": 3000, \"level\": \"junior\", \"years\": 2}", "3000");
    /* senior, 2 years: rate 2 > 1 -> bonus 100: 6100. */
    check_eval(defs, "total", "{\"salary\": 3000, \"level\": \"senior\", \"years\": 2}", "6100");
    /* The required ones alone. */
    check_eval(defs, "bonus", "{\"level\": \"senior\", \"years\": 20}", "2000");
    check_eval(defs, "rate", "{}", "1");
    /* A required decision's result shadows a variable of the same name;
     * the caller's variables are seen where no decision has the name. */
    check_eval(defs, "base", "{\"salary\": 10, \"rate\": 100, \"Rate\": 100}", "10");
    dmn_definitions_free(defs);

    /* A required decision that fails fails the one asked for, naming it. */
    b = (sbuf){0};
    open_defs(&b, NS13);
    const char *const top_req[] = {"check", NULL};
    put_literal(&b, "top", "Top", "check", top_req);
    table_spec check = {
        .id = "check", .inputs = {"x"}, .outputs = {"o"}, .rules = {{"> 1", "1"}, {"> 2", "2"}}};
    put_table(&b, &check);
    xml = close_defs(&b);
    defs = parse_ok(xml);
    free(xml);
    check_eval(defs, "top", "{\"x\": 1}", "null");
    check_eval(defs, "top", "{\"x\": 2}", "1");
    check_eval(defs, "top", "{\"x\": 3}",
               "!Expected to evaluate decision 'top', but failed to evaluate its required "
               "decision 'check': expected at most one rule to match for UNIQUE hit policy, but "
               "found 2 (rule 'r1' (rule 1), rule 'r2' (rule 2))");
    char *out = NULL;
    dmn_eval_error err;
    assert_int_equal(dmn_evaluate(defs, "top", "{\"x\": 3}", NOW_MS, &out, &err), CHUTE_EINVAL);
    assert_string_equal(err.decision_id, "check");
    dmn_definitions_free(defs);

    /* A required decision's date reaches the next one as its ISO string,
     * as variables do: date() makes it a date again. */
    b = (sbuf){0};
    open_defs(&b, NS13);
    const char *const due_req[] = {"start", NULL};
    put_literal(&b, "due", "Due", "date(start) + duration(\"P30D\")", due_req);
    put_literal(&b, "start", "Start", "date(\"2024-01-15\")", NULL);
    xml = close_defs(&b);
    defs = parse_ok(xml);
    free(xml);
    check_eval(defs, "due", "{}", "\"2024-02-14\"");
    check_eval(defs, "start", "{}", "\"2024-01-15\"");
    dmn_definitions_free(defs);
}

/* ---- unary tests in tables --------------------------------------------------- */

static void test_unary_forms(void **state)
{
    (void)state;
    /* FIRST, so each input lands on the first form that matches. */
    table_spec t = {.id = "forms",
                    .table_attrs = "hitPolicy=\"FIRST\"",
                    .inputs = {"v"},
                    .outputs = {"form"},
                    .rules = {
                        {"null", "\"null\""},
                        {"\"a\", \"b\"", "\"list\""},
                        {"[1..5]", "\"closed\""},
                        {"]5..10[", "\"open\""},
                        {"(10..20]", "\"half\""},
                        {"? > 100 and ? < 200", "\"question\""},
                        {"starts with(?, \"z\")", "\"starts\""},
                        {"limits", "\"variable list\""},
                        /* A string input makes "< 0" null, and not() of null is no
                         * match: "x" falls through to "any". */
                        {"not(< 0, 1000)", "\"skip\""},
                        {"< 0", "\"negative\""},
                        {"-", "\"any\""},
                    }};
    dmn_definitions *defs = parse_table(&t);
    static const struct {
        const char *vars, *want;
    } cases[] = {
        {"{}", "\"null\""},
        {"{\"v\": null}", "\"null\""},
        {"{\"v\": \"b\"}", "\"list\""},
        {"{\"v\": 1}", "\"closed\""},
        {"{\"v\": 5}", "\"closed\""},
        {"{\"v\": 5.5}", "\"open\""},
        {"{\"v\": 10}", "\"skip\""}, /* in neither ]5..10[ nor (10..20] */
        {"{\"v\": 10.5}", "\"half\""},
        {"{\"v\": 20}", "\"half\""},
        {"{\"v\": 150}", "\"question\""},
        {"{\"v\": \"zebra\"}", "\"starts\""},
        {"{\"v\": \"m\", \"limits\": [\"m\", \"n\"]}", "\"variable list\""},
        {"{\"v\": 300}", "\"skip\""},
        {"{\"v\": 1000}", "\"any\""},
        {"{\"v\": \"x\"}", "\"any\""},
        {"{\"v\": -3}", "\"negative\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(defs, "forms", cases[i].vars, cases[i].want);
    dmn_definitions_free(defs);

    /* Dates, booleans and strings as Camunda Modeler writes them. */
    table_spec u = {.id = "more",
                    .table_attrs = "hitPolicy=\"FIRST\"",
                    .inputs = {"date(d)", "vip", "name"},
                    .outputs = {"o"},
                    .rules = {
                        {"< date(\"2024-01-01\")", "-", "-", "\"old\""},
                        {"[date(\"2024-01-01\")..date(\"2024-06-30\")]", "true", "-", "\"h1 vip\""},
                        {"-", "false", "not(\"Bob\")", "\"not bob\""},
                        {"-", "-", "-", "\"other\""},
                    }};
    defs = parse_table(&u);
    check_eval(defs, "more", "{\"d\": \"2023-05-01\"}", "\"old\"");
    check_eval(defs, "more", "{\"d\": \"2024-03-01\", \"vip\": true}", "\"h1 vip\"");
    check_eval(defs, "more", "{\"d\": \"2024-03-01\", \"vip\": false, \"name\": \"Al\"}",
               "\"not bob\"");
    check_eval(defs, "more", "{\"d\": \"2024-03-01\", \"vip\": false, \"name\": \"Bob\"}",
               "\"other\"");
    check_eval(defs, "more", "{\"d\": \"2024-08-01\", \"vip\": true}", "\"other\"");
    dmn_definitions_free(defs);
}

/* ---- evaluation failures ----------------------------------------------------- */

static void test_eval_failures(void **state)
{
    (void)state;
    table_spec t = discount("hitPolicy=\"FIRST\"");
    dmn_definitions *defs = parse_table(&t);
    char *out = (char *)"untouched";
    dmn_eval_error err;
    assert_int_equal(dmn_evaluate(defs, "nope", "{}", NOW_MS, &out, &err), CHUTE_ENOTFOUND);
    assert_string_equal(
        err.message, "Expected to evaluate decision 'nope', but no decision found for id 'nope'");
    assert_null(err.decision_id);
    assert_int_equal(dmn_evaluate(defs, "discount", "[1]", NOW_MS, &out, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to evaluate decision 'discount', but the variables "
                                     "are a JSON array, not an object");
    assert_int_equal(dmn_evaluate(defs, "discount", "{\"a\": ", NOW_MS, &out, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "the variables are not a JSON object"));
    assert_string_equal(out, "untouched");
    assert_int_equal(dmn_evaluate_env(defs, 7, NULL, &out, NULL, &err), CHUTE_ENOTFOUND);
    /* NULL and "" are no variables at all: every input is null. */
    check_eval(defs, "discount", NULL, "null");
    check_eval(defs, "discount", "", "null");
    /* Big integers are read as the engine reads them. */
    check_eval(defs, "discount", "{\"age\": 99999999999999999999999, \"tier\": \"x\"}", "15");
    dmn_definitions_free(defs);

    /* A FEEL failure (a bound) names the expression and where it is. */
    table_spec f = {.id = "feel",
                    .inputs = {"count(for i in 1..100000, j in 1..100000 return i)"},
                    .outputs = {"o"},
                    .rules = {{"-", "1"}}};
    defs = parse_table(&f);
    check_eval(defs, "feel", "{}",
               "!Expected to evaluate decision 'feel', but failed to evaluate expression "
               "'count(for i in 1..100000, j in 1..100000 return i)' of the inputExpression of "
               "input 'Input 1' (input 1): A list would have more than 100000 items at column 7");
    dmn_definitions_free(defs);

    table_spec g = {
        .id = "entry", .inputs = {"x"}, .outputs = {"o"}, .rules = {{"assert(?, ? > 0)", "1"}}};
    defs = parse_table(&g);
    check_eval(defs, "entry", "{\"x\": 1}", "1");
    out = NULL;
    assert_int_equal(dmn_evaluate(defs, "entry", "{\"x\": -1}", NOW_MS, &out, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "Expected to evaluate decision 'entry', but failed to "
                                        "evaluate expression 'assert(?, ? > 0)' of the inputEntry "
                                        "of rule 'r1' (rule 1) for input 'Input 1' (input 1): "));
    dmn_definitions_free(defs);
}

/* The steps of all the expressions of one evaluation are bounded together:
 * sixteen rules, each well within FEEL's own bound, pass DMN_MAX_STEPS. */
static void test_step_budget(void **state)
{
    (void)state;
    const char *heavy = "some i in 1..1000, j in 1..500 satisfies i < 0"; /* 1.5M steps */
    table_spec t = {.id = "heavy",
                    .table_attrs = "hitPolicy=\"COLLECT\" aggregation=\"COUNT\"",
                    .inputs = {"x"},
                    .outputs = {"o"}};
    for (int r = 0; r < MAX_RULES; r++) {
        t.rules[r][0] = heavy;
        t.rules[r][1] = "1";
    }
    /* "some ... satisfies false" is false: a boolean input must equal it,
     * so the input is false and every rule matches. */
    dmn_definitions *defs = parse_table(&t);
    /* One rule alone is fine. */
    table_spec one = t;
    one.id = "one";
    memset(one.rules, 0, sizeof one.rules);
    one.rules[0][0] = heavy;
    one.rules[0][1] = "1";
    dmn_definitions *single = parse_table(&one);
    check_eval(single, "one", "{\"x\": false}", "1");
    dmn_definitions_free(single);
    char *out = NULL;
    dmn_eval_error err;
    assert_int_equal(dmn_evaluate(defs, "heavy", "{\"x\": false}", NOW_MS, &out, &err),
                     CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "Expected to evaluate decision 'heavy', but the evaluation "
                                        "takes more than 20000000 steps over all the expressions "
                                        "it evaluates"));
    dmn_definitions_free(defs);
}

/* A large table: 5 000 rules of two inputs, one rule matching. Its
 * parsed form stays small (each cell costs a couple of KiB, not a FEEL
 * arena chunk), and an evaluation walks all rules well within the budget. */
static void test_large_table(void **state)
{
    (void)state;
    sbuf b = {0};
    open_defs(&b, NS13);
    put(&b, "<decision id=\"big\"><decisionTable id=\"t\">"
            "<input><inputExpression><text>x</text></inputExpression></input>"
            "<input><inputExpression><text>y</text></inputExpression></input>"
            "<output name=\"o\"/>\n");
    for (int r = 0; r < 5000; r++)
        putf(&b,
             "<rule id=\"r%d\"><inputEntry><text>%d</text></inputEntry>"
             "<inputEntry><text>[%d..%d)</text></inputEntry>"
             "<outputEntry><text>\"rule %d\"</text></outputEntry></rule>\n",
             r, r % 100, r / 100 * 10, r / 100 * 10 + 10, r);
    put(&b, "</decisionTable></decision>\n");
    char *xml = close_defs(&b);
    dmn_definitions *defs = parse_ok(xml);
    free(xml);
    assert_int_equal(defs->decisions[0].table->rule_count, 5000);
    /* x 42, y 375: the rule with r % 100 = 42 and r / 100 = 37: 3742. */
    check_eval(defs, "big", "{\"x\": 42, \"y\": 375}", "\"rule 3742\"");
    check_eval(defs, "big", "{\"x\": 42, \"y\": 500}", "null");
    dmn_definitions_free(defs);
}

/* dmn_evaluate_env reads variables through the caller's lookup. */
static const json_t *env_lookup(void *ctx, const char *name, size_t len)
{
    return json_object_getn(ctx, name, len);
}

static void test_evaluate_env(void **state)
{
    (void)state;
    table_spec t = discount("hitPolicy=\"COLLECT\"");
    dmn_definitions *defs = parse_table(&t);
    json_t *vars = json_pack("{s:i, s:s}", "age", 30, "tier", "gold");
    feel_env env = {env_lookup, vars, NOW_MS};
    char *out = NULL;
    size_t len = 0;
    dmn_eval_error err;
    assert_int_equal(dmn_evaluate_env(defs, 0, &env, &out, &len, &err), 0);
    assert_string_equal(out, "[20,5]");
    assert_int_equal(len, 6);
    free(out);
    feel_env none = {NULL, NULL, NOW_MS};
    assert_int_equal(dmn_evaluate_env(defs, 0, &none, &out, NULL, NULL), 0);
    assert_string_equal(out, "null");
    free(out);
    json_decref(vars);
    dmn_definitions_free(defs);
}

/* ---- namespaces -------------------------------------------------------------- */

static void test_namespaces(void **state)
{
    (void)state;
    static const char *const nss[] = {DMN_NS_11, DMN_NS_12, DMN_NS_13, DMN_NS_14, DMN_NS_15};
    for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++) {
        sbuf b = {0};
        open_defs(&b, nss[i]);
        put_literal(&b, "d", "D", "1 + 1", NULL);
        char *xml = close_defs(&b);
        dmn_definitions *defs = parse_ok(xml);
        free(xml);
        assert_string_equal(defs->dmn_ns, nss[i]);
        check_eval(defs, "d", "{}", "2");
        dmn_definitions_free(defs);
    }
    /* A prefix instead of the default namespace, and CDATA text. */
    const char *pref =
        "<dmn:definitions xmlns:dmn=\"" NS13 "\" id=\"x\">"
        "<dmn:decision id=\"d\"><dmn:decisionTable>"
        "<dmn:input><dmn:inputExpression><dmn:text>n</dmn:text></dmn:inputExpression></dmn:input>"
        "<dmn:output name=\"o\"/>"
        "<dmn:rule><dmn:inputEntry><dmn:text><![CDATA[< 5]]></dmn:text></dmn:inputEntry>"
        "<dmn:outputEntry><dmn:text>\"small\"</dmn:text></dmn:outputEntry></dmn:rule>"
        "</dmn:decisionTable></dmn:decision></dmn:definitions>";
    dmn_definitions *defs = parse_ok(pref);
    check_eval(defs, "d", "{\"n\": 4}", "\"small\"");
    check_eval(defs, "d", "{\"n\": 5}", "null");
    dmn_definitions_free(defs);
}

/* ---- refused at deploy time -------------------------------------------------- */

#define HEAD "Expected to deploy new resources, but encountered the following errors:\n't.dmn': "

/* Parses |xml|, expecting a refusal whose formatted message is |want|. */
static void check_refused(const char *xml, const char *want)
{
    dmn_definitions *defs = NULL;
    model_errors errs = {0};
    int rc = dmn_parse(xml, strlen(xml), "t.dmn", NULL, &defs, &errs);
    if (rc == 0)
        fail_msg("deployed, but should be refused with: %s\n%s", want, xml);
    assert_int_equal(rc, CHUTE_EINVAL);
    assert_null(defs);
    const model_errors *list = &errs;
    char *msg = model_errors_format(&list, 1);
    assert_non_null(msg);
    if (strcmp(msg, want) != 0)
        fail_msg("got:\n%s\nwant:\n%s", msg, want);
    free(msg);
    model_errors_clear(&errs);
}

static char *doc_with(const char *body)
{
    sbuf b = {0};
    open_defs(&b, NS13);
    put(&b, body);
    return close_defs(&b);
}

static void check_refused_body(const char *body, const char *want)
{
    char *xml = doc_with(body);
    check_refused(xml, want);
    free(xml);
}

static void check_refused_table(const table_spec *t, const char *want)
{
    sbuf b = {0};
    open_defs(&b, NS13);
    put_table(&b, t);
    char *xml = close_defs(&b);
    check_refused(xml, want);
    free(xml);
}

static void test_refused_tables(void **state)
{
    (void)state;
    table_spec t = discount("hitPolicy=\"SOMETIMES\"");
    check_refused_table(&t, HEAD "- Element: discount\n"
                                 "    - ERROR: The hit policy 'SOMETIMES' of the decision table "
                                 "'tbl_discount' is not supported; it must be one of UNIQUE, "
                                 "FIRST, PRIORITY, ANY, COLLECT, RULE ORDER, OUTPUT ORDER\n");
    t = discount("hitPolicy=\"FIRST\" aggregation=\"SUM\"");
    check_refused_table(&t, HEAD "- Element: discount\n"
                                 "    - ERROR: The aggregation 'SUM' of the decision table "
                                 "'tbl_discount' needs the hit policy COLLECT, but the hit policy "
                                 "is FIRST\n");
    t = discount("hitPolicy=\"COLLECT\" aggregation=\"AVG\"");
    check_refused_table(&t, HEAD "- Element: discount\n"
                                 "    - ERROR: The aggregation 'AVG' of the decision table "
                                 "'tbl_discount' is not supported; it must be one of SUM, MIN, "
                                 "MAX, COUNT\n");
    t = discount("hitPolicy=\"PRIORITY\"");
    check_refused_table(&t, HEAD "- Element: discount\n"
                                 "    - ERROR: The hit policy PRIORITY of the decision table "
                                 "'tbl_discount' ranks rules by the outputValues of their "
                                 "outputs, but no output has outputValues\n");
    /* Bad FEEL in three places, all reported, in document order. */
    t = discount(NULL);
    t.inputs[0] = "age +";
    t.rules[1][0] = ">= 18 19";
    t.rules[2][2] = "5 +* 2";
    check_refused_table(
        &t, HEAD "- Element: discount\n"
                 "    - ERROR: The inputExpression of input 'Input 1' (input 1) 'age +' is not a "
                 "valid FEEL expression: Expected an expression at column 6, but found the end of "
                 "the expression\n"
                 "    - ERROR: The inputEntry of rule 'r2' (rule 2) for input 'Input 1' (input 1) "
                 "'>= 18 19' is not valid FEEL unary tests: Expected ',', an operator or the end "
                 "of the unary tests at column 7, but found '19'\n"
                 "    - ERROR: The outputEntry of rule 'r3' (rule 3) for output 'discount' "
                 "(output 1) '5 +* 2' is not a valid FEEL expression: Expected an expression at "
                 "column 4, but found '*'\n");
    /* A rule with a missing entry. */
    {
        /* put_table writes as many cells as the table has columns; write
         * this rule by hand instead. */
        sbuf b = {0};
        open_defs(&b, NS13);
        table_spec ok = discount(NULL);
        put_table(&b, &ok);
        char *xml = close_defs(&b);
        char *at = strstr(xml, "<rule id=\"r4\">");
        assert_non_null(at);
        sbuf c = {0};
        *at = 0;
        put(&c, xml);
        put(&c, "<rule id=\"r5\"><inputEntry><text>1</text></inputEntry>"
                "<outputEntry><text>2</text></outputEntry></rule>");
        *at = '<';
        put(&c, at);
        check_refused(c.p, HEAD "- Element: discount\n"
                                "    - ERROR: The rule 'r5' (rule 4) has 1 input entries and 1 "
                                "output entries, but the decision table has 2 inputs and 1 "
                                "outputs; a rule has one entry for each\n");
        free(xml);
        free(c.p);
    }
    /* Several outputs need distinct names; an aggregation needs one output. */
    table_spec m = {.id = "multi",
                    .table_attrs = "hitPolicy=\"COLLECT\" aggregation=\"SUM\"",
                    .inputs = {"x"},
                    .outputs = {"a", "a"},
                    .rules = {{"-", "1", "2"}}};
    check_refused_table(&m, HEAD "- Element: multi\n"
                                 "    - ERROR: The outputs 1 and 2 of the decision table "
                                 "'tbl_multi' have the same name 'a'; the names of several "
                                 "outputs must differ\n"
                                 "    - ERROR: The aggregation SUM of the decision table "
                                 "'tbl_multi' needs a single output, but the table has 2\n");
    /* An expression language other than FEEL. */
    t = discount("expressionLanguage=\"javascript\"");
    check_refused_table(&t, HEAD "- Element: discount\n"
                                 "    - ERROR: The expression language 'javascript' of the "
                                 "decision table 'tbl_discount' is not supported: Chute "
                                 "evaluates FEEL only\n");
    /* A table without outputs, an input without its expression. */
    check_refused_body("<decision id=\"d\"><decisionTable id=\"t\"><input id=\"i\"/>"
                       "</decisionTable></decision>",
                       HEAD "- Element: d\n"
                            "    - ERROR: The decision table 't' has no output; a decision table "
                            "needs at least one\n");
    check_refused_body("<decision id=\"d\"><decisionTable id=\"t\"><input id=\"i\"/>"
                       "<output name=\"o\"/></decisionTable></decision>",
                       HEAD "- Element: d\n"
                            "    - ERROR: The input 'i' (input 1) has no inputExpression; every "
                            "input needs one\n");
    /* outputValues that are no list of values. */
    t = discount("hitPolicy=\"PRIORITY\"");
    t.output_values[0] = "[1..5]";
    check_refused_table(&t, HEAD "- Element: discount\n"
                                 "    - ERROR: The outputValues '[1..5]' of output 'discount' "
                                 "(output 1) are not a list of FEEL values: The result is a range, "
                                 "which has no JSON form\n");
}

static void test_refused_decisions(void **state)
{
    (void)state;
    check_refused_body(
        "<decision id=\"ctx\" name=\"C\"><context><contextEntry><variable name=\"a\"/>"
        "<literalExpression><text>1</text></literalExpression></contextEntry></context>"
        "</decision>",
        HEAD "- Element: ctx\n"
             "    - ERROR: The decision logic 'context' (a boxed expression) is not supported by "
             "Chute yet; a decision must be a decisionTable or a literalExpression\n");
    check_refused_body(
        "<decision id=\"d\"><knowledgeRequirement><requiredKnowledge href=\"#bkm\"/>"
        "</knowledgeRequirement><literalExpression><text>f(1)</text></literalExpression>"
        "</decision><businessKnowledgeModel id=\"bkm\"/>",
        HEAD "- Element: d\n"
             "    - ERROR: The decision requires the business knowledge model '#bkm' "
             "(knowledgeRequirement); business knowledge models are not supported by Chute yet\n"
             "    - ERROR: The literal expression 'f(1)' is not a valid FEEL expression: "
             "Expected a built-in function at column 1, but found the unknown function 'f'\n"
             "- Element: bkm\n"
             "    - ERROR: Business knowledge models ('businessKnowledgeModel') are not "
             "supported by Chute yet\n");
    check_refused_body("<decision id=\"empty\"><question>?</question></decision>",
                       HEAD "- Element: empty\n"
                            "    - ERROR: The decision has no decision logic; it must have a "
                            "decisionTable or a literalExpression\n");
    check_refused_body(
        "<decision id=\"two\"><literalExpression><text>1</text></literalExpression>"
        "<literalExpression><text>2</text></literalExpression></decision>",
        HEAD "- Element: two\n"
             "    - ERROR: The decision has 2 decision logic elements; it must have exactly one "
             "(a decisionTable or a literalExpression)\n");
    check_refused_body(
        "<decision id=\"a\"><literalExpression><text>1</text></literalExpression></decision>"
        "<decision id=\"a\"><literalExpression><text>2</text></literalExpression></decision>",
        HEAD "- Element: a\n"
             "    - ERROR: The decision id 'a' is used by another decision of the resource; "
             "decision ids must be unique\n");
    check_refused_body(
        "<decision name=\"no id\"><literalExpression><text>1</text></literalExpression>"
        "</decision>",
        HEAD "- Element: decision 1\n"
             "    - ERROR: The decision has no id; every decision needs one (it is the "
             "decisionId a business rule task calls)\n");
    check_refused_body("<decision id=\"e\"><literalExpression><text>  </text></literalExpression>"
                       "</decision>",
                       HEAD "- Element: e\n"
                            "    - ERROR: The literal expression is empty; it must be a FEEL "
                            "expression\n");
    check_refused_body("<decisionService id=\"svc\"/><import namespace=\"x\"/>"
                       "<decision id=\"d\"><literalExpression><text>1</text></literalExpression>"
                       "</decision>",
                       HEAD "- Element: svc\n"
                            "    - ERROR: Decision services ('decisionService') are not "
                            "supported by Chute yet\n"
                            "- Element: import\n"
                            "    - ERROR: Imports ('import') are not supported by Chute yet\n");
    check_refused_body("", HEAD "- Element: defs\n"
                                "    - ERROR: The DMN resource has no decision; it must contain at "
                                "least one\n");
}

static void test_refused_requirements(void **state)
{
    (void)state;
    check_refused_body(
        "<decision id=\"a\"><informationRequirement><requiredDecision href=\"#missing\"/>"
        "</informationRequirement><literalExpression><text>1</text></literalExpression>"
        "</decision>",
        HEAD "- Element: a\n"
             "    - ERROR: The required decision 'missing' does not exist in the resource\n");
    check_refused_body(
        "<decision id=\"a\"><informationRequirement><requiredDecision "
        "href=\"other.dmn#b\"/></informationRequirement><literalExpression><text>1</text>"
        "</literalExpression></decision>",
        HEAD "- Element: a\n"
             "    - ERROR: The decision requires 'other.dmn#b', a decision of another resource; "
             "required decisions must be in the same resource\n");
    /* a -> b -> c -> a, and d -> d. */
    sbuf b = {0};
    open_defs(&b, NS13);
    const char *const ra[] = {"b", NULL}, *const rb[] = {"c", NULL}, *const rc[] = {"a", NULL},
                      *const rd[] = {"d", NULL};
    put_literal(&b, "a", "A", "b", ra);
    put_literal(&b, "b", "B", "c", rb);
    put_literal(&b, "c", "C", "a", rc);
    put_literal(&b, "d", "D", "d", rd);
    char *xml = close_defs(&b);
    check_refused(xml, HEAD "- Element: c\n"
                            "    - ERROR: The decision is part of a requirement cycle: 'a' "
                            "requires 'b' requires 'c' requires 'a'; required decisions must not "
                            "require the decisions that require them\n"
                            "- Element: d\n"
                            "    - ERROR: The decision is part of a requirement cycle: 'd' "
                            "requires 'd'; required decisions must not require the decisions "
                            "that require them\n");
    free(xml);
}

static void test_refused_documents(void **state)
{
    (void)state;
    check_refused("<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"/>",
                  HEAD "The resource is a BPMN process model (namespace "
                       "'http://www.omg.org/spec/BPMN/20100524/MODEL'), not a DMN decision model");
    check_refused("<definitions xmlns=\"https://www.omg.org/spec/DMN/20990101/MODEL/\"/>",
                  HEAD "The resource is in the DMN namespace "
                       "'https://www.omg.org/spec/DMN/20990101/MODEL/', which Chute does not "
                       "know; it reads DMN 1.1 to 1.5 (https://www.omg.org/spec/DMN/20191111/"
                       "MODEL/ is DMN 1.3)");
    check_refused("<definitions/>",
                  HEAD "The resource is not a DMN model: its root element is 'definitions' "
                       "without a namespace, but must be 'definitions' in a DMN namespace (DMN "
                       "1.3: https://www.omg.org/spec/DMN/20191111/MODEL/)");
    check_refused("<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY a \"b\">]>\n<definitions/>",
                  HEAD "The document has a document type declaration (<!DOCTYPE x>) at line 2, "
                       "column 1; DOCTYPE and entity declarations are not allowed");
    check_refused("<definitions xmlns=\"" NS13 "\"><decision",
                  HEAD "The document is not well-formed XML: unclosed token at line 1, column "
                       "67");
    /* The caller's lower bounds. */
    sbuf b = {0};
    open_defs(&b, NS13);
    put_literal(&b, "d", "D", "1", NULL);
    char *xml = close_defs(&b);
    dmn_options small = {.max_document = 100};
    model_errors errs = {0};
    dmn_definitions *defs = NULL;
    assert_int_equal(dmn_parse(xml, strlen(xml), "t.dmn", &small, &defs, &errs), CHUTE_EINVAL);
    assert_non_null(strstr(errs.items[0].message, "at most 100 are allowed"));
    dmn_options few = {.max_elements = 3};
    assert_int_equal(dmn_parse(xml, strlen(xml), "t.dmn", &few, &defs, &errs), CHUTE_EINVAL);
    assert_non_null(strstr(errs.items[0].message, "more than 3 elements"));
    /* NULL errors: the verdict alone. */
    assert_int_equal(dmn_parse("<x/>", 4, NULL, NULL, &defs, NULL), CHUTE_EINVAL);
    assert_null(defs);
    model_errors_clear(&errs);
    free(xml);
    dmn_definitions_free(NULL);
}

/* A DMN and a BPMN resource refused in one deployment, in one message. */
static void test_format_with_bpmn(void **state)
{
    (void)state;
    model_errors bpmn = {0}, dmn = {0};
    model_definitions *md = NULL;
    const char *bad_bpmn = "<definitions/>";
    assert_int_equal(model_parse(bad_bpmn, strlen(bad_bpmn), "p.bpmn", NULL, &md, &bpmn),
                     CHUTE_EINVAL);
    char *xml = doc_with("<decision id=\"d\"/>");
    dmn_definitions *defs = NULL;
    assert_int_equal(dmn_parse(xml, strlen(xml), "d.dmn", NULL, &defs, &dmn), CHUTE_EINVAL);
    const model_errors *list[] = {&bpmn, &dmn};
    char *msg = model_errors_format(list, 2);
    assert_non_null(strstr(msg, "\n'p.bpmn': The resource is not a BPMN 2.0 model"));
    assert_non_null(strstr(msg, "\n'd.dmn': - Element: d\n    - ERROR: The decision has no "
                                "decision logic"));
    free(msg);
    free(xml);
    model_errors_clear(&bpmn);
    model_errors_clear(&dmn);
}

/* ---- the corpus -------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = 0;
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/*
 * plot-destination.dmn: one decision 'plot-destination' ("Decision 1"), a
 * FIRST table over fuelLevel with the rules >=90 "Venus", >=75 "Mars",
 * >=50 "Moon", <50 "Earth". By hand: 95 and 90 are Venus, 89.9 and 75 Mars,
 * 74 and 50 Moon, 49.99, 0 and -5 Earth; no fuel level (null) and a string
 * compare with nothing: no rule, null.
 */
/* ---- traces ------------------------------------------------------------------ */

/* A trace as text: per decision "id=output [inputs] {rule#index:outputs}",
 * decisions separated by " | ". */
static void trace_text(const dmn_definitions *defs, const dmn_trace *t, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = 0;
#define OUT(...) w += (size_t)snprintf(buf + w, w < cap ? cap - w : 0, __VA_ARGS__)
    for (uint32_t k = 0; k < t->count; k++) {
        const dmn_traced_decision *d = &t->decisions[k];
        OUT("%s%s=%s [", k ? " | " : "", defs->decisions[d->decision].id, d->output);
        for (uint32_t i = 0; i < d->input_count; i++)
            OUT("%s%s/%s=%s", i ? "," : "", d->inputs[i].id, d->inputs[i].name, d->inputs[i].value);
        OUT("] {");
        for (uint32_t r = 0; r < d->rule_count; r++) {
            OUT("%s%s#%u:", r ? " " : "", d->rules[r].id, d->rules[r].index);
            for (uint32_t o = 0; o < d->rules[r].output_count; o++)
                OUT("%s%s/%s=%s", o ? "," : "", d->rules[r].outputs[o].id,
                    d->rules[r].outputs[o].name, d->rules[r].outputs[o].value);
        }
        OUT("}");
    }
#undef OUT
}

static const json_t *trace_lookup(void *ctx, const char *name, size_t len)
{
    return json_object_getn(ctx, name, len);
}

/* Evaluates decision |id| traced over |vars|: the return code, the result
 * (or "!" and the failed decision), and the trace as text in |buf|. */
static int traced(const dmn_definitions *defs, const char *id, const char *vars, char *buf,
                  size_t cap)
{
    json_t *v = json_loads(vars, 0, NULL);
    assert_non_null(v);
    feel_env env = {trace_lookup, v, NOW_MS};
    dmn_trace t = {0};
    dmn_eval_error err;
    char *out = NULL;
    size_t len = 0;
    int rc = dmn_evaluate_traced(defs, dmn_decision_find(defs, id, strlen(id)), &env, &t, &out,
                                 &len, &err);
    char tt[2048];
    trace_text(defs, &t, tt, sizeof tt);
    if (rc == 0)
        snprintf(buf, cap, "%s :: %s", out, tt);
    else
        snprintf(buf, cap, "!%s :: %s", err.decision_id ? err.decision_id : "-", tt);
    free(out);
    dmn_trace_free(&t);
    dmn_trace_free(&t); /* a released trace is a zeroed one */
    json_decref(v);
    return rc;
}

static void test_trace(void **state)
{
    (void)state;
    char got[4096];
    /* RULE ORDER: every matching rule with its output. */
    table_spec t = discount("hitPolicy=\"RULE ORDER\"");
    dmn_definitions *defs = parse_table(&t);
    assert_int_equal(traced(defs, "discount", V_30_GOLD, got, sizeof got), 0);
    assert_string_equal(got, "[20,5] :: discount=[20,5] [in1/Input 1=30,in2/Input 2=\"gold\"] "
                             "{r2#2:out1/discount=20 r3#3:out1/discount=5}");
    /* No match: no rule (and null, as dmn-scala gives it). */
    assert_int_equal(traced(defs, "discount", V_30_SILVER, got, sizeof got), 0);
    assert_string_equal(got, "null :: discount=null [in1/Input 1=30,in2/Input 2=\"silver\"] {}");
    dmn_definitions_free(defs);
    /* FIRST: the first rule only. */
    t = discount("hitPolicy=\"FIRST\"");
    defs = parse_table(&t);
    assert_int_equal(traced(defs, "discount", V_70_GOLD, got, sizeof got), 0);
    assert_string_equal(got, "5 :: discount=5 [in1/Input 1=70,in2/Input 2=\"gold\"] "
                             "{r3#3:out1/discount=5}");
    dmn_definitions_free(defs);
    /* COLLECT COUNT counts rules: they carry no outputs. */
    t = discount("hitPolicy=\"COLLECT\" aggregation=\"COUNT\"");
    defs = parse_table(&t);
    assert_int_equal(traced(defs, "discount", V_10_GOLD, got, sizeof got), 0);
    assert_string_equal(got, "2 :: discount=2 [in1/Input 1=10,in2/Input 2=\"gold\"] {r1#1: r3#3:}");
    dmn_definitions_free(defs);
    /* UNIQUE with two matches fails: the decision shows null and the
     * rules it found. */
    t = discount(NULL);
    defs = parse_table(&t);
    assert_int_equal(traced(defs, "discount", V_30_GOLD, got, sizeof got), CHUTE_EINVAL);
    assert_string_equal(got, "!discount :: discount=null [in1/Input 1=30,in2/Input 2=\"gold\"] "
                             "{r2#2: r3#3:}");
    dmn_definitions_free(defs);

    /* Several outputs, and requirements: each decision once, a
     * requirement first, the one asked for last. */
    sbuf b = {0};
    open_defs(&b, NS13);
    const char *const total_req[] = {"offer", NULL};
    put_literal(&b, "total", "Total", "offer.price * 2", total_req);
    table_spec offer = {.id = "offer",
                        .name = "Offer",
                        .table_attrs = "hitPolicy=\"UNIQUE\"",
                        .inputs = {"size"},
                        .outputs = {"carrier", "price"},
                        .rules = {{"< 10", "\"post\"", "5"}, {">= 8", "\"truck\"", "size * 3"}}};
    put_table(&b, &offer);
    char *xml = close_defs(&b);
    defs = parse_ok(xml);
    free(xml);
    assert_int_equal(traced(defs, "total", "{\"size\": 12}", got, sizeof got), 0);
    assert_string_equal(got, "72 :: offer={\"carrier\":\"truck\",\"price\":36} [in1/Input 1=12] "
                             "{r2#2:out1/carrier=\"truck\",out2/price=36} | total=72 [] {}");
    /* A required decision that fails ends the trace. */
    assert_int_equal(traced(defs, "total", "{\"size\": 9}", got, sizeof got), CHUTE_EINVAL);
    assert_string_equal(got, "!offer :: offer=null [in1/Input 1=9] {r1#1: r2#2:}");
    dmn_definitions_free(defs);
}

static void test_corpus_plot_destination(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/plot-destination.dmn", corpus_dir);
    size_t len = 0;
    char *xml = read_file(path, &len);
    if (!xml)
        fail_msg("the corpus file %s is missing", path);
    dmn_definitions *defs = NULL;
    model_errors errs = {0};
    int rc = dmn_parse(xml, len, "plot-destination.dmn", NULL, &defs, &errs);
    if (rc != 0) {
        const model_errors *list = &errs;
        fail_msg("plot-destination.dmn refused: %s", model_errors_format(&list, 1));
    }
    free(xml);
    assert_string_equal(defs->id, "plot-destination-decision");
    assert_string_equal(defs->name, "Plot destination");
    assert_string_equal(defs->dmn_ns, DMN_NS_13);
    assert_int_equal(defs->decision_count, 1);
    const dmn_decision *d = &defs->decisions[0];
    assert_string_equal(d->id, "plot-destination");
    assert_string_equal(d->name, "Decision 1");
    assert_int_equal(d->kind, DMN_DECISION_TABLE);
    const dmn_table *t = d->table;
    assert_string_equal(t->id, "DecisionTable_09sl3el");
    assert_int_equal(t->hit_policy, DMN_HIT_FIRST);
    assert_int_equal(t->input_count, 1);
    assert_string_equal(t->inputs[0].label, "Fuel level");
    assert_string_equal(t->inputs[0].expression.text, "fuelLevel");
    assert_string_equal(t->inputs[0].type_ref, "number");
    assert_int_equal(t->output_count, 1);
    assert_string_equal(t->outputs[0].name, "Destination");
    assert_string_equal(t->outputs[0].type_ref, "string");
    assert_int_equal(t->rule_count, 4);
    assert_string_equal(t->rules[0].id, "DecisionRule_14gap61");
    assert_string_equal(t->rules[0].input_entries[0].text, ">=90");
    assert_string_equal(t->rules[3].input_entries[0].text, "<50");
    assert_string_equal(t->rules[3].output_entries[0].text, "\"Earth\"");
    static const struct {
        const char *vars, *want;
    } cases[] = {
        {"{\"fuelLevel\": 95}", "\"Venus\""},    {"{\"fuelLevel\": 90}", "\"Venus\""},
        {"{\"fuelLevel\": 89.9}", "\"Mars\""},   {"{\"fuelLevel\": 75}", "\"Mars\""},
        {"{\"fuelLevel\": 74}", "\"Moon\""},     {"{\"fuelLevel\": 50}", "\"Moon\""},
        {"{\"fuelLevel\": 49.99}", "\"Earth\""}, {"{\"fuelLevel\": 0}", "\"Earth\""},
        {"{\"fuelLevel\": -5}", "\"Earth\""},    {"{}", "null"},
        {"{\"fuelLevel\": \"full\"}", "null"},   {"{\"fuelLevel\": null}", "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(defs, "plot-destination", cases[i].vars, cases[i].want);
    dmn_definitions_free(defs);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BPMN_CORPUS_DIR\n", argv[0]);
        return 2;
    }
    corpus_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_first),
        cmocka_unit_test(test_any),
        cmocka_unit_test(test_rule_order_and_collect),
        cmocka_unit_test(test_collect_aggregations),
        cmocka_unit_test(test_priority_and_output_order),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_literal),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_unary_forms),
        cmocka_unit_test(test_eval_failures),
        cmocka_unit_test(test_step_budget),
        cmocka_unit_test(test_large_table),
        cmocka_unit_test(test_evaluate_env),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_refused_tables),
        cmocka_unit_test(test_refused_decisions),
        cmocka_unit_test(test_refused_requirements),
        cmocka_unit_test(test_refused_documents),
        cmocka_unit_test(test_format_with_bpmn),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_corpus_plot_destination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
