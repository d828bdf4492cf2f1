/*
 * DMN XML to executable decisions; see dmn.h. The evaluator is eval.c.
 *
 * As for BPMN: xtree reads the document into a small tree of the DMN
 * elements (a scratch arena), then the builder walks it once, making the
 * definitions in a second arena that the definitions owns, parsing every
 * FEEL text on the way and recording every error. A resource with any
 * error is refused as a whole.
 */
#include "dmn/dmn_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/arena.h"
#include "model/xtree.h"

/* Memory a document may cost before it is refused as out of memory: far
 * above what DMN_MAX_DOCUMENT bytes of real DMN need. */
#define TREE_MEMORY_MAX ((size_t)128 * 1024 * 1024)
#define MODEL_MEMORY_MAX ((size_t)96 * 1024 * 1024)

/* How much of a text a message quotes. */
#define QUOTE_MAX 120

enum { NS_NONE, NS_DMN, NS_OTHER };

static const char *const dmn_namespaces[] = {DMN_NS_11, DMN_NS_12, DMN_NS_13, DMN_NS_14, DMN_NS_15};

static const char *const hit_policy_names[] = {
#define X_(name, xml) xml,
    DMN_HIT_POLICY_MAP(X_)
#undef X_
};

const char *dmn_hit_policy_name(dmn_hit_policy h)
{
    return (unsigned)h < DMN_HIT_POLICY_COUNT ? hit_policy_names[h] : "";
}

/* ---- reading the XML --------------------------------------------------------- */

static int ns_of(const char *uri)
{
    if (!uri[0])
        return NS_NONE;
    for (size_t i = 0; i < sizeof dmn_namespaces / sizeof dmn_namespaces[0]; i++)
        if (strcmp(uri, dmn_namespaces[i]) == 0)
            return NS_DMN;
    return NS_OTHER;
}

/* What describes without computing is not kept, nor anything of another
 * namespace (the DMNDI diagram above all). */
static xtree_keep keep(int ns, const char *name, const xtree_node *parent)
{
    (void)parent;
    if (ns != NS_DMN)
        return XTREE_SKIP;
    static const char *const skipped[] = {
        "description",
        "extensionElements",
        "question",
        "allowedAnswers",
        "variable",
        "annotation",
        "annotationEntry",
        "inputValues",
        "textAnnotation",
        "association",
        "group",
        "itemDefinition",
        "inputData",
        "knowledgeSource",
        "authorityRequirement",
        "requiredInput",
        "elementCollection",
        "performanceIndicator",
        "organizationUnit",
    };
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (strcmp(name, skipped[i]) == 0)
            return XTREE_SKIP;
    return XTREE_KEEP;
}

/* ---- the builder ------------------------------------------------------------- */

typedef struct builder {
    model_arena tmp;  /* the tree and scratch arrays */
    model_arena *out; /* the definitions */
    model_errors *errs;
    int oom;
    dmn_exprs exprs; /* every parsed expression, freed with the definitions */
} builder;

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

/* At most QUOTE_MAX bytes of |s| (cut at a character boundary, "..."
 * marking the cut) into |buf|, with line breaks shown as spaces. */
static const char *clip(char *buf, size_t cap, const char *s, size_t len)
{
    size_t n = len;
    int cut = 0;
    if (n > QUOTE_MAX) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = 1;
    }
    if (n + 4 > cap)
        n = cap - 4;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' ' : s[i];
    strcpy(buf + n, cut ? "..." : "");
    return buf;
}

static const char *attr_value(const xtree_node *n, const char *name)
{
    const xtree_attr *a = xtree_attr_get(n, name);
    return a ? a->value : NULL;
}

static void add_error_v(builder *b, const char *element, const xtree_node *at, const char *fmt,
                        va_list ap) __attribute__((format(printf, 4, 0)));
static void add_error_v(builder *b, const char *element, const xtree_node *at, const char *fmt,
                        va_list ap)
{
    model_errors *e = b->errs;
    if (e->count >= MODEL_MAX_ERRORS) {
        e->omitted++;
        return;
    }
    if (!e->items) {
        e->items = calloc(MODEL_MAX_ERRORS, sizeof *e->items);
        if (!e->items) {
            b->oom = 1;
            return;
        }
    }
    char msg[1400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    model_error *it = &e->items[e->count];
    it->message = xstrdup(msg);
    it->element = element ? xstrdup(element) : NULL;
    if (!it->message || (element && !it->element)) {
        free(it->message);
        free(it->element);
        it->message = it->element = NULL;
        b->oom = 1;
        return;
    }
    it->line = at ? at->line : 0;
    it->column = at ? at->column : 0;
    e->count++;
}

/* An error of the element named |element| (a decision's id; NULL for the
 * document as a whole), found at the XML node |at|. */
static void add_error(builder *b, const char *element, const xtree_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_error(builder *b, const char *element, const xtree_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error_v(b, element, at, fmt, ap);
    va_end(ap);
}

static int has_errors(const builder *b)
{
    return b->errs->count > 0 || b->errs->omitted > 0;
}

/* Document order: errors of the document as a whole first, then by where
 * they were found (stable). */
static void sort_errors(model_errors *e)
{
    for (uint32_t i = 1; i < e->count; i++) {
        model_error t = e->items[i];
        uint32_t j = i;
        while (j > 0) {
            const model_error *p = &e->items[j - 1];
            int p_doc = p->element == NULL, t_doc = t.element == NULL;
            int after = p_doc != t_doc
                            ? (!p_doc && t_doc)
                            : (p->line > t.line || (p->line == t.line && p->column > t.column));
            if (!after)
                break;
            e->items[j] = e->items[j - 1];
            j--;
        }
        e->items[j] = t;
    }
}

static const char *out_str(builder *b, const char *s, size_t n)
{
    char *p = arena_strndup(b->out, s, n);
    if (!p)
        b->oom = 1;
    return p ? p : "";
}

static const char *out_attr(builder *b, const xtree_node *n, const char *name)
{
    const xtree_attr *a = xtree_attr_get(n, name);
    return a ? out_str(b, a->value, a->len) : "";
}

static int is_dmn(const xtree_node *n, const char *name)
{
    return n->ns == NS_DMN && strcmp(n->name, name) == 0;
}

/* The first child of |n| that is the DMN element |name|, or NULL. */
static const xtree_node *child(const xtree_node *n, const char *name)
{
    for (const xtree_node *c = n->child; c; c = c->next)
        if (is_dmn(c, name))
            return c;
    return NULL;
}

static uint32_t count_children(const xtree_node *n, const char *name)
{
    uint32_t k = 0;
    for (const xtree_node *c = n->child; c; c = c->next)
        if (is_dmn(c, name))
            k++;
    return k;
}

/* The text of |n|'s <text> child; "" when it has none. */
static const char *text_of(const xtree_node *n, uint32_t *len)
{
    const xtree_node *t = n ? child(n, "text") : NULL;
    *len = t ? t->text_len : 0;
    return t ? t->text : "";
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

/* "-" alone, blanks around it allowed. */
static int is_dash(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i >= n || s[i] != '-')
        return 0;
    return is_blank(s + i + 1, n - i - 1);
}

/* Keeps a parsed expression so that the definitions frees it. */
static int keep_expr(builder *b, feel_expr *e)
{
    dmn_exprs *x = &b->exprs;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        feel_expr **items = realloc(x->items, cap * sizeof *items);
        if (!items) {
            feel_expr_free(e);
            b->oom = 1;
            return -1;
        }
        x->items = items;
        x->cap = cap;
    }
    x->items[x->n++] = e;
    return 0;
}

/* The expression language |n| names, if any, must be FEEL: every
 * spelling of its URI (DMN 1.1's, 1.2's and later "FEEL/" URIs, "feel")
 * names it. */
static int check_language(builder *b, const char *element, const xtree_node *n, const char *what)
{
    const char *lang = attr_value(n, "expressionLanguage");
    if (!lang || !lang[0])
        return 0;
    for (const char *p = lang; *p; p++)
        if (strncasecmp(p, "feel", 4) == 0)
            return 0;
    char q[QUOTE_MAX + 8];
    add_error(b, element, n,
              "The expression language '%s' of %s is not supported: Chute evaluates FEEL only",
              clip(q, sizeof q, lang, strlen(lang)), what);
    return -1;
}

/* Copies |text| into the definitions as |x| and parses it as an
 * expression (|unary| 0) or unary tests (1). Reports a FEEL error as
 * "<what> is not a valid FEEL expression: ..." naming |element|. */
static void make_expr(builder *b, const char *element, const xtree_node *at, const char *text,
                      uint32_t len, int unary, const char *what, dmn_expr *x)
{
    x->text = out_str(b, text, len);
    x->len = len;
    x->parsed = NULL;
    feel_expr *e = NULL;
    feel_error fe;
    int rc = unary ? feel_parse_unary_tests(text, len, &e, &fe) : feel_parse(text, len, &e, &fe);
    if (rc != 0) {
        char q[QUOTE_MAX + 8];
        add_error(b, element, at, "%s '%s' is not %s: %s", what, clip(q, sizeof q, text, len),
                  unary ? "valid FEEL unary tests" : "a valid FEEL expression", fe.message);
        return;
    }
    if (keep_expr(b, e) == 0)
        x->parsed = e;
}

/* "input 'Fuel level' (input 1)", "rule 'R_1' (rule 2)", "output 3". */
static void label(char *buf, size_t cap, const char *kind, const char *name, uint32_t index)
{
    if (name && name[0]) {
        char q[QUOTE_MAX + 8];
        snprintf(buf, cap, "%s '%s' (%s %u)", kind, clip(q, sizeof q, name, strlen(name)), kind,
                 index + 1);
    } else {
        snprintf(buf, cap, "%s %u", kind, index + 1);
    }
}

/* ---- decision tables --------------------------------------------------------- */

static void build_input(builder *b, const char *did, const xtree_node *n, uint32_t i, dmn_input *in)
{
    in->id = out_attr(b, n, "id");
    in->label = out_attr(b, n, "label");
    char what[QUOTE_MAX + 64];
    label(what, sizeof what, "input", in->label[0] ? in->label : in->id, i);
    const xtree_node *ie = child(n, "inputExpression");
    in->type_ref = ie ? out_attr(b, ie, "typeRef") : "";
    in->expression.text = "";
    if (!ie) {
        add_error(b, did, n, "The %s has no inputExpression; every input needs one", what);
        return;
    }
    uint32_t len;
    const char *text = text_of(ie, &len);
    if (is_blank(text, len)) {
        add_error(b, did, ie, "The inputExpression of %s is empty; it must be a FEEL expression",
                  what);
        return;
    }
    if (check_language(b, did, ie, "an inputExpression") != 0)
        return;
    char w[QUOTE_MAX + 96];
    snprintf(w, sizeof w, "The inputExpression of %s", what);
    make_expr(b, did, ie, text, len, 0, w, &in->expression);
}

/* outputValues as a JSON array text, evaluated once here: "\"a\",\"b\"" is
 * the FEEL list ["a","b"]. */
static const char *make_priorities(builder *b, const char *did, const xtree_node *ov,
                                   const char *what)
{
    uint32_t len;
    const char *text = text_of(ov, &len);
    if (is_blank(text, len))
        return NULL;
    if (len > FEEL_MAX_SOURCE - 2) {
        add_error(b, did, ov, "The outputValues of %s are longer than %d bytes", what,
                  FEEL_MAX_SOURCE - 2);
        return NULL;
    }
    char *src = arena_alloc(&b->tmp, (size_t)len + 3);
    if (!src) {
        b->oom = 1;
        return NULL;
    }
    src[0] = '[';
    memcpy(src + 1, text, len);
    src[len + 1] = ']';
    feel_expr *e = NULL;
    feel_error fe;
    char q[QUOTE_MAX + 8];
    if (feel_parse(src, (size_t)len + 2, &e, &fe) != 0) {
        add_error(b, did, ov, "The outputValues '%s' of %s are not a list of FEEL values: %s",
                  clip(q, sizeof q, text, len), what, fe.message);
        return NULL;
    }
    char *out = NULL;
    size_t olen = 0;
    int rc = feel_eval(e, NULL, &out, &olen, &fe);
    feel_expr_free(e);
    if (rc != 0) {
        add_error(b, did, ov, "The outputValues '%s' of %s are not a list of FEEL values: %s",
                  clip(q, sizeof q, text, len), what, fe.message);
        return NULL;
    }
    json_t *arr = json_loadb(out, olen, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    size_t count = arr ? json_array_size(arr) : 0;
    json_decref(arr);
    if (!arr || count > DMN_MAX_OUTPUT_VALUES) {
        if (!arr)
            add_error(b, did, ov, "The outputValues '%s' of %s are not a list of values",
                      clip(q, sizeof q, text, len), what);
        else
            add_error(b, did, ov, "The outputValues of %s list %zu values; at most %d are allowed",
                      what, count, DMN_MAX_OUTPUT_VALUES);
        free(out);
        return NULL;
    }
    const char *kept = out_str(b, out, olen);
    free(out);
    return kept;
}

static void build_output(builder *b, const char *did, const xtree_node *n, uint32_t i,
                         dmn_output *o)
{
    o->id = out_attr(b, n, "id");
    o->name = out_attr(b, n, "name");
    o->label = out_attr(b, n, "label");
    o->type_ref = out_attr(b, n, "typeRef");
    o->default_entry.text = "";
    char what[QUOTE_MAX + 64];
    label(what, sizeof what, "output", o->name[0] ? o->name : o->id, i);
    const xtree_node *ov = child(n, "outputValues");
    if (ov)
        o->priorities = make_priorities(b, did, ov, what);
    const xtree_node *de = child(n, "defaultOutputEntry");
    if (de) {
        uint32_t len;
        const char *text = text_of(de, &len);
        if (is_blank(text, len)) {
            add_error(b, did, de,
                      "The defaultOutputEntry of %s is empty; it must be a FEEL expression "
                      "(leave the element out for no default)",
                      what);
            return;
        }
        if (check_language(b, did, de, "a defaultOutputEntry") != 0)
            return;
        char w[QUOTE_MAX + 96];
        snprintf(w, sizeof w, "The defaultOutputEntry of %s", what);
        make_expr(b, did, de, text, len, 0, w, &o->default_entry);
        o->has_default = 1;
    }
}

static void build_rule(builder *b, const char *did, const xtree_node *n, uint32_t r, dmn_table *t,
                       dmn_rule *rule)
{
    rule->id = out_attr(b, n, "id");
    char what[QUOTE_MAX + 64];
    label(what, sizeof what, "rule", rule->id, r);
    uint32_t ni = count_children(n, "inputEntry"), no = count_children(n, "outputEntry");
    if (ni != t->input_count || no != t->output_count) {
        add_error(b, did, n,
                  "The %s has %u input entries and %u output entries, but the decision table "
                  "has %u inputs and %u outputs; a rule has one entry for each",
                  what, ni, no, t->input_count, t->output_count);
        return;
    }
    dmn_expr *ins = arena_array(b->out, ni + 1, sizeof *ins);
    dmn_expr *outs = arena_array(b->out, no + 1, sizeof *outs);
    if (!ins || !outs) {
        b->oom = 1;
        return;
    }
    rule->input_entries = ins;
    rule->output_entries = outs;
    uint32_t i = 0, o = 0;
    for (const xtree_node *c = n->child; c; c = c->next) {
        int input = is_dmn(c, "inputEntry");
        if (!input && !is_dmn(c, "outputEntry"))
            continue;
        dmn_expr *x = input ? &ins[i] : &outs[o];
        uint32_t k = input ? i++ : o++;
        uint32_t len;
        const char *text = text_of(c, &len);
        x->text = out_str(b, text, len);
        x->len = len;
        /* An empty input cell is "-" (any value), an empty output cell null:
         * how Camunda Modeler writes cells left blank. */
        if (is_blank(text, len) || (input && is_dash(text, len)))
            continue;
        if (check_language(b, did, c, input ? "an inputEntry" : "an outputEntry") != 0)
            continue;
        char col[QUOTE_MAX + 64], w[2 * QUOTE_MAX + 160];
        if (input) {
            const dmn_input *in = &t->inputs[k];
            label(col, sizeof col, "input", in->label[0] ? in->label : in->id, k);
            snprintf(w, sizeof w, "The inputEntry of %s for %s", what, col);
        } else {
            const dmn_output *ou = &t->outputs[k];
            label(col, sizeof col, "output", ou->name[0] ? ou->name : ou->id, k);
            snprintf(w, sizeof w, "The outputEntry of %s for %s", what, col);
        }
        make_expr(b, did, c, text, len, input, w, x);
    }
}

static const char *table_name(char *buf, size_t cap, const dmn_table *t)
{
    if (t->id[0]) {
        char q[QUOTE_MAX + 8];
        snprintf(buf, cap, "the decision table '%s'", clip(q, sizeof q, t->id, strlen(t->id)));
    } else {
        snprintf(buf, cap, "the decision table");
    }
    return buf;
}

static const dmn_table *build_table(builder *b, const char *did, const xtree_node *n)
{
    dmn_table *t = arena_alloc(b->out, sizeof *t);
    if (!t) {
        b->oom = 1;
        return NULL;
    }
    t->id = out_attr(b, n, "id");
    char tn[QUOTE_MAX + 40];
    table_name(tn, sizeof tn, t);
    char q[QUOTE_MAX + 8];
    check_language(b, did, n, tn);

    const char *hp = attr_value(n, "hitPolicy");
    t->hit_policy = DMN_HIT_UNIQUE;
    if (hp) {
        int found = 0;
        for (int h = 0; h < DMN_HIT_POLICY_COUNT; h++)
            if (strcmp(hp, hit_policy_names[h]) == 0) {
                t->hit_policy = (dmn_hit_policy)h;
                found = 1;
            }
        if (!found) {
            add_error(b, did, n,
                      "The hit policy '%s' of %s is not supported; it must be one of UNIQUE, "
                      "FIRST, PRIORITY, ANY, COLLECT, RULE ORDER, OUTPUT ORDER",
                      clip(q, sizeof q, hp, strlen(hp)), tn);
        }
    }
    const char *agg = attr_value(n, "aggregation");
    if (agg) {
        static const char *const aggs[] = {"", "SUM", "MIN", "MAX", "COUNT"};
        int found = 0;
        for (int a = 1; a < 5; a++)
            if (strcmp(agg, aggs[a]) == 0) {
                t->aggregation = (dmn_aggregation)a;
                found = 1;
            }
        if (!found) {
            add_error(b, did, n,
                      "The aggregation '%s' of %s is not supported; it must be one of SUM, MIN, "
                      "MAX, COUNT",
                      clip(q, sizeof q, agg, strlen(agg)), tn);
        } else if (t->hit_policy != DMN_HIT_COLLECT) {
            add_error(b, did, n,
                      "The aggregation '%s' of %s needs the hit policy COLLECT, but the hit "
                      "policy is %s",
                      agg, tn, hit_policy_names[t->hit_policy]);
        }
    }

    uint32_t ni = count_children(n, "input"), no = count_children(n, "output"),
             nr = count_children(n, "rule");
    if (ni > DMN_MAX_INPUTS || no > DMN_MAX_OUTPUTS || nr > DMN_MAX_RULES) {
        add_error(b, did, n,
                  "%c%s has %u inputs, %u outputs and %u rules; at most %d inputs, %d outputs "
                  "and %d rules are allowed",
                  'T', tn + 1, ni, no, nr, DMN_MAX_INPUTS, DMN_MAX_OUTPUTS, DMN_MAX_RULES);
        return NULL;
    }
    if (no == 0) {
        add_error(b, did, n, "%c%s has no output; a decision table needs at least one", 'T',
                  tn + 1);
        return NULL;
    }
    dmn_input *ins = arena_array(b->out, ni + 1, sizeof *ins);
    dmn_output *outs = arena_array(b->out, no + 1, sizeof *outs);
    dmn_rule *rules = arena_array(b->out, nr + 1, sizeof *rules);
    if (!ins || !outs || !rules) {
        b->oom = 1;
        return NULL;
    }
    t->inputs = ins;
    t->outputs = outs;
    t->rules = rules;
    t->input_count = ni;
    t->output_count = no;
    t->rule_count = nr;
    uint32_t i = 0, o = 0;
    for (const xtree_node *c = n->child; c; c = c->next) {
        if (is_dmn(c, "input"))
            build_input(b, did, c, i, &ins[i]), i++;
        else if (is_dmn(c, "output"))
            build_output(b, did, c, o, &outs[o]), o++;
    }
    if (no > 1) {
        for (o = 0; o < no; o++) {
            char what[QUOTE_MAX + 64];
            label(what, sizeof what, "output", outs[o].id, o);
            if (!outs[o].name[0]) {
                add_error(b, did, n,
                          "The %s of %s has no name; a decision table with several outputs "
                          "names each of them (the keys of its result)",
                          what, tn);
                continue;
            }
            for (uint32_t k = 0; k < o; k++)
                if (strcmp(outs[k].name, outs[o].name) == 0) {
                    add_error(b, did, n,
                              "The outputs %u and %u of %s have the same name '%s'; the names "
                              "of several outputs must differ",
                              k + 1, o + 1, tn,
                              clip(q, sizeof q, outs[o].name, strlen(outs[o].name)));
                    break;
                }
        }
        if (t->aggregation != DMN_AGG_NONE) {
            add_error(b, did, n,
                      "The aggregation %s of %s needs a single output, but the table has %u", agg,
                      tn, no);
        }
    }
    if (t->hit_policy == DMN_HIT_PRIORITY || t->hit_policy == DMN_HIT_OUTPUT_ORDER) {
        /* An output whose outputValues were refused above counts: one
         * error about them is enough. */
        int any = 0;
        for (const xtree_node *c = n->child; c; c = c->next) {
            uint32_t len;
            const char *text = text_of(is_dmn(c, "output") ? child(c, "outputValues") : NULL, &len);
            any |= !is_blank(text, len);
        }
        if (!any)
            add_error(b, did, n,
                      "The hit policy %s of %s ranks rules by the outputValues of their outputs, "
                      "but no output has outputValues",
                      hit_policy_names[t->hit_policy], tn);
    }
    uint32_t r = 0;
    for (const xtree_node *c = n->child; c; c = c->next)
        if (is_dmn(c, "rule"))
            build_rule(b, did, c, r, t, &rules[r]), r++;
    return t;
}

/* ---- decisions --------------------------------------------------------------- */

/* The boxed expressions of DMN that are not decision tables nor literal
 * expressions. */
static const char *const other_logic[] = {
    "context",     "invocation", "list", "relation", "functionDefinition",
    "conditional", "filter",     "for",  "some",     "every"};

static int is_other_logic(const xtree_node *c)
{
    for (size_t i = 0; i < sizeof other_logic / sizeof other_logic[0]; i++)
        if (is_dmn(c, other_logic[i]))
            return 1;
    return 0;
}

/* Reads the decision |n| into |d| (its requirements are resolved later). */
static void build_decision(builder *b, const xtree_node *n, uint32_t index, dmn_decision *d,
                           const char **hrefs_out[], uint32_t *nhrefs)
{
    d->id = out_attr(b, n, "id");
    d->name = out_attr(b, n, "name");
    char idbuf[64];
    const char *did = d->id;
    if (!did[0]) {
        snprintf(idbuf, sizeof idbuf, "decision %u", index + 1);
        did = idbuf;
        add_error(b, did, n,
                  "The decision has no id; every decision needs one (it is the decisionId a "
                  "business rule task calls)");
    }
    uint32_t logic = 0, reqs = 0;
    for (const xtree_node *c = n->child; c; c = c->next)
        if (is_dmn(c, "informationRequirement") && child(c, "requiredDecision"))
            reqs++;
    const char **hrefs = arena_array(&b->tmp, reqs + 1, sizeof *hrefs);
    if (!hrefs) {
        b->oom = 1;
        return;
    }
    *hrefs_out = hrefs;
    *nhrefs = 0;
    for (const xtree_node *c = n->child; c; c = c->next) {
        if (c->ns != NS_DMN)
            continue;
        if (is_dmn(c, "informationRequirement")) {
            const xtree_node *rd = child(c, "requiredDecision");
            if (!rd)
                continue; /* requiredInput: data, read from the variables */
            const char *href = attr_value(rd, "href");
            hrefs[(*nhrefs)++] = href ? href : "";
        } else if (is_dmn(c, "knowledgeRequirement")) {
            const xtree_node *rk = child(c, "requiredKnowledge");
            const char *href = rk ? attr_value(rk, "href") : NULL;
            char q[QUOTE_MAX + 8];
            add_error(b, did, c,
                      "The decision requires the business knowledge model '%s' "
                      "(knowledgeRequirement); business knowledge models are not supported by "
                      "Chute yet",
                      href ? clip(q, sizeof q, href, strlen(href)) : "");
        } else if (is_dmn(c, "decisionTable")) {
            if (logic++ == 0) {
                d->kind = DMN_DECISION_TABLE;
                d->table = build_table(b, did, c);
            }
        } else if (is_dmn(c, "literalExpression")) {
            if (logic++ == 0) {
                d->kind = DMN_DECISION_LITERAL;
                dmn_expr *x = arena_alloc(b->out, sizeof *x);
                if (!x) {
                    b->oom = 1;
                    return;
                }
                x->text = "";
                d->literal = x;
                uint32_t len;
                const char *text = text_of(c, &len);
                if (child(c, "importedValues"))
                    add_error(b, did, c,
                              "The literal expression imports its values (importedValues); "
                              "imports are not supported by Chute");
                else if (is_blank(text, len))
                    add_error(b, did, c,
                              "The literal expression is empty; it must be a FEEL expression");
                else if (check_language(b, did, c, "the literal expression") == 0)
                    make_expr(b, did, c, text, len, 0, "The literal expression", x);
            }
        } else if (is_other_logic(c)) {
            logic++;
            add_error(b, did, c,
                      "The decision logic '%s' (a boxed expression) is not supported by Chute "
                      "yet; a decision must be a decisionTable or a literalExpression",
                      c->name);
        }
    }
    if (logic == 0)
        add_error(b, did, n,
                  "The decision has no decision logic; it must have a decisionTable or a "
                  "literalExpression");
    else if (logic > 1)
        add_error(b, did, n,
                  "The decision has %u decision logic elements; it must have exactly one "
                  "(a decisionTable or a literalExpression)",
                  logic);
}

/* ---- requirements ------------------------------------------------------------ */

typedef struct id_ref {
    const char *id;
    uint32_t index;
} id_ref;

static int cmp_id_ref(const void *a, const void *b)
{
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* strcmp(m, id) for an |id| of |len| bytes that need not end in NUL. */
static int cmp_id(const char *m, const char *id, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (m[i] == '\0')
            return -1;
        if (m[i] != id[i])
            return (unsigned char)m[i] < (unsigned char)id[i] ? -1 : 1;
    }
    return m[len] == '\0' ? 0 : 1;
}

static uint32_t find_by_id(const dmn_decision *ds, const uint32_t *by_id, uint32_t n,
                           const char *id, size_t len)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cmp_id(ds[by_id[mid]].id, id, len);
        if (c == 0)
            return by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return DMN_NONE;
}

uint32_t dmn_decision_find(const dmn_definitions *defs, const char *id, size_t len)
{
    if (!defs || !id)
        return DMN_NONE;
    return find_by_id(defs->decisions, defs->by_id_, defs->decision_count, id, len);
}

typedef struct graph {
    builder *b;
    dmn_decision *ds;
    const xtree_node **nodes;
    uint32_t n;
    uint8_t *color; /* 0 new, 1 on the path, 2 done */
    uint32_t *path; /* the decisions on the path of the walk */
    uint32_t depth;
    uint8_t *cyclic; /* a cycle through it was reported */
} graph;

/* Depth first from |d|: reports each cycle once, at the decision where the
 * walk closes it. */
static void walk_cycles(graph *g, uint32_t d)
{
    g->color[d] = 1;
    g->path[g->depth++] = d;
    const dmn_decision *x = &g->ds[d];
    for (uint32_t k = 0; k < x->required_count; k++) {
        uint32_t r = x->required[k];
        if (g->color[r] == 0) {
            walk_cycles(g, r);
        } else if (g->color[r] == 1 && !g->cyclic[r]) {
            /* The cycle is the path from |r| to |d|, then |r| again. */
            char chain[900];
            size_t len = 0;
            uint32_t from = g->depth;
            while (from > 0 && g->path[from - 1] != r)
                from--;
            if (from > 0)
                from--;
            for (uint32_t i = from; i < g->depth && len < sizeof chain - 200; i++) {
                char q[QUOTE_MAX + 8];
                const char *id = g->ds[g->path[i]].id;
                len += (size_t)snprintf(chain + len, sizeof chain - len, "'%s' requires ",
                                        clip(q, sizeof q, id, strlen(id)));
                g->cyclic[g->path[i]] = 1;
            }
            if (len < sizeof chain) {
                char q[QUOTE_MAX + 8];
                snprintf(chain + len, sizeof chain - len, "'%s'",
                         clip(q, sizeof q, g->ds[r].id, strlen(g->ds[r].id)));
            }
            add_error(g->b, g->ds[d].id, g->nodes[d],
                      "The decision is part of a requirement cycle: %s; required decisions must "
                      "not require the decisions that require them",
                      chain);
        }
    }
    g->depth--;
    g->color[d] = 2;
}

/* Adds |d|'s requirements (depth first, each once) and then |d| to |order|. */
static void collect_order(const dmn_decision *ds, uint32_t d, uint8_t *seen, uint32_t *order,
                          uint32_t *n)
{
    seen[d] = 1;
    for (uint32_t k = 0; k < ds[d].required_count; k++)
        if (!seen[ds[d].required[k]])
            collect_order(ds, ds[d].required[k], seen, order, n);
    order[(*n)++] = d;
}

static int link_requirements(builder *b, dmn_decision *ds, const xtree_node **nodes, uint32_t n,
                             const uint32_t *by_id, const char ***hrefs, const uint32_t *nhrefs)
{
    for (uint32_t d = 0; d < n; d++) {
        uint32_t *req = arena_array(b->out, nhrefs[d] + 1, sizeof *req);
        if (!req)
            return -1;
        uint32_t k = 0;
        for (uint32_t h = 0; h < nhrefs[d]; h++) {
            const char *href = hrefs[d][h];
            char q[QUOTE_MAX + 8];
            const char *hash = strchr(href, '#');
            if (!hash || hash != href) {
                if (hash)
                    add_error(b, ds[d].id, nodes[d],
                              "The decision requires '%s', a decision of another resource; "
                              "required decisions must be in the same resource",
                              clip(q, sizeof q, href, strlen(href)));
                else
                    add_error(b, ds[d].id, nodes[d],
                              "The requiredDecision href '%s' does not refer to a decision; "
                              "it must be '#' followed by the id of a decision of this resource",
                              clip(q, sizeof q, href, strlen(href)));
                continue;
            }
            uint32_t r = find_by_id(ds, by_id, n, href + 1, strlen(href + 1));
            if (r == DMN_NONE) {
                add_error(b, ds[d].id, nodes[d],
                          "The required decision '%s' does not exist in the resource",
                          clip(q, sizeof q, href + 1, strlen(href + 1)));
                continue;
            }
            int dup = 0;
            for (uint32_t j = 0; j < k; j++)
                dup |= req[j] == r;
            if (!dup)
                req[k++] = r;
        }
        ds[d].required = req;
        ds[d].required_count = k;
    }
    if (has_errors(b))
        return 0;
    graph g = {b, ds, nodes, n, NULL, NULL, 0, NULL};
    g.color = arena_array(&b->tmp, n, 1);
    g.cyclic = arena_array(&b->tmp, n, 1);
    g.path = arena_array(&b->tmp, n, sizeof *g.path);
    if (!g.color || !g.cyclic || !g.path)
        return -1;
    for (uint32_t d = 0; d < n; d++)
        if (g.color[d] == 0)
            walk_cycles(&g, d);
    if (has_errors(b))
        return 0;
    uint8_t *seen = arena_array(&b->tmp, n, 1);
    uint32_t *scratch = arena_array(&b->tmp, n, sizeof *scratch);
    if (!seen || !scratch)
        return -1;
    for (uint32_t d = 0; d < n; d++) {
        memset(seen, 0, n);
        uint32_t cnt = 0;
        collect_order(ds, d, seen, scratch, &cnt);
        uint32_t *order = arena_array(b->out, cnt, sizeof *order);
        if (!order)
            return -1;
        memcpy(order, scratch, cnt * sizeof *order);
        ds[d].order = order;
        ds[d].order_count = cnt;
    }
    return 0;
}

/* ---- the definitions --------------------------------------------------------- */

/* Top-level elements Chute cannot run, and what to say about them. */
static const struct {
    const char *name, *what;
} refused_top[] = {
    {"businessKnowledgeModel", "Business knowledge models ('businessKnowledgeModel')"},
    {"decisionService", "Decision services ('decisionService')"},
    {"import", "Imports ('import')"},
};

static int build(builder *b, xtree_node *root, dmn_definitions *defs)
{
    if (root->ns != NS_DMN || strcmp(root->name, "definitions") != 0) {
        if (strcmp(root->uri, MODEL_NS_BPMN) == 0)
            add_error(b, NULL, root,
                      "The resource is a BPMN process model (namespace '" MODEL_NS_BPMN
                      "'), not a DMN decision model");
        else if (strstr(root->uri, "omg.org/spec/DMN/") && strcmp(root->name, "definitions") == 0)
            add_error(b, NULL, root,
                      "The resource is in the DMN namespace '%.200s', which Chute does not "
                      "know; it reads DMN 1.1 to 1.5 (" DMN_NS_13 " is DMN 1.3)",
                      root->uri);
        else if (root->uri[0])
            add_error(b, NULL, root,
                      "The resource is not a DMN model: its root element is '%.100s' in "
                      "namespace '%.200s', but must be 'definitions' in a DMN namespace (DMN "
                      "1.3: " DMN_NS_13 ")",
                      root->name, root->uri);
        else
            add_error(b, NULL, root,
                      "The resource is not a DMN model: its root element is '%.100s' without a "
                      "namespace, but must be 'definitions' in a DMN namespace (DMN 1.3: " DMN_NS_13
                      ")",
                      root->name);
        return 0;
    }
    defs->id = out_attr(b, root, "id");
    defs->name = out_attr(b, root, "name");
    defs->ns = out_attr(b, root, "namespace");
    defs->dmn_ns = out_str(b, root->uri, strlen(root->uri));
    check_language(b, NULL, root, "the definitions");

    uint32_t n = 0;
    for (xtree_node *c = root->child; c; c = c->next) {
        if (is_dmn(c, "decision")) {
            n++;
            continue;
        }
        for (size_t k = 0; k < sizeof refused_top / sizeof refused_top[0]; k++)
            if (is_dmn(c, refused_top[k].name)) {
                const char *id = attr_value(c, "id");
                add_error(b, id && id[0] ? id : refused_top[k].name, c,
                          "%s are not supported by Chute yet", refused_top[k].what);
            }
    }
    if (n == 0) {
        add_error(b, defs->id[0] ? defs->id : "definitions", root,
                  "The DMN resource has no decision; it must contain at least one");
        return 0;
    }
    if (n > DMN_MAX_DECISIONS) {
        add_error(b, NULL, root, "The resource has %u decisions; at most %d are allowed", n,
                  DMN_MAX_DECISIONS);
        return 0;
    }
    dmn_decision *ds = arena_array(b->out, n, sizeof *ds);
    const xtree_node **nodes = arena_array(&b->tmp, n, sizeof *nodes);
    const char ***hrefs = arena_array(&b->tmp, n, sizeof *hrefs);
    uint32_t *nhrefs = arena_array(&b->tmp, n, sizeof *nhrefs);
    if (!ds || !nodes || !hrefs || !nhrefs)
        return -1;
    uint32_t k = 0;
    for (xtree_node *c = root->child; c; c = c->next)
        if (is_dmn(c, "decision")) {
            nodes[k] = c;
            build_decision(b, c, k, &ds[k], &hrefs[k], &nhrefs[k]);
            if (b->oom)
                return -1;
            k++;
        }

    /* Ids: sorted for dmn_decision_find, and unique. */
    id_ref *refs = arena_array(&b->tmp, n, sizeof *refs);
    uint32_t *by_id = arena_array(b->out, n, sizeof *by_id);
    if (!refs || !by_id)
        return -1;
    for (uint32_t d = 0; d < n; d++) {
        refs[d].id = ds[d].id;
        refs[d].index = d;
    }
    qsort(refs, n, sizeof *refs, cmp_id_ref);
    for (uint32_t d = 0; d < n; d++) {
        by_id[d] = refs[d].index;
        if (d > 0 && refs[d].id[0] && strcmp(refs[d].id, refs[d - 1].id) == 0) {
            char q[QUOTE_MAX + 8];
            add_error(b, refs[d].id, nodes[refs[d].index],
                      "The decision id '%s' is used by another decision of the resource; "
                      "decision ids must be unique",
                      clip(q, sizeof q, refs[d].id, strlen(refs[d].id)));
        }
    }
    if (has_errors(b))
        return 0; /* requirements of broken decisions would only add noise */
    if (link_requirements(b, ds, nodes, n, by_id, hrefs, nhrefs) != 0)
        return -1;
    defs->decisions = ds;
    defs->decision_count = n;
    defs->by_id_ = by_id;
    return 0;
}

static void free_exprs(dmn_exprs *x)
{
    for (size_t i = 0; i < x->n; i++)
        feel_expr_free(x->items[i]);
    free(x->items);
    x->items = NULL;
    x->n = x->cap = 0;
}

int dmn_parse(const char *xml, size_t len, const char *resource_name, const dmn_options *opts,
              dmn_definitions **out, model_errors *errs)
{
    model_errors local = {0};
    if (!errs)
        errs = &local;
    model_errors_clear(errs);
    errs->resource = xstrdup(resource_name ? resource_name : "");
    if (!errs->resource)
        return CHUTE_ENOMEM;

    size_t max_doc = DMN_MAX_DOCUMENT;
    uint32_t max_elements = DMN_MAX_ELEMENTS;
    if (opts && opts->max_document && opts->max_document < max_doc)
        max_doc = opts->max_document;
    if (opts && opts->max_elements && opts->max_elements < max_elements)
        max_elements = opts->max_elements;
    const xtree_options tree_options = {
        .max_depth = DMN_MAX_DEPTH,
        .max_attrs = DMN_MAX_ATTRS,
        .max_elements = max_elements,
        .ns_of = ns_of,
        .keep = keep,
    };

    builder b;
    memset(&b, 0, sizeof b);
    b.errs = errs;
    int rc = CHUTE_EINVAL;
    xtree_node *root = NULL;
    xtree_error xe;
    dmn_definitions *defs = NULL;
    dmn_private *priv = NULL;

    if (len > max_doc) {
        add_error(&b, NULL, NULL, "The resource has %zu bytes; at most %zu are allowed", len,
                  max_doc);
        goto done_errs;
    }
    b.out = malloc(sizeof *b.out);
    if (!b.out) {
        rc = CHUTE_ENOMEM;
        goto done_errs;
    }
    arena_init(b.out, MODEL_MEMORY_MAX);
    arena_init(&b.tmp, TREE_MEMORY_MAX);

    if (xtree_parse(&b.tmp, xml, len, &tree_options, &root, &xe) != 0) {
        if (xe.out_of_memory)
            rc = CHUTE_ENOMEM;
        xtree_node at = {0};
        at.line = xe.line;
        at.column = xe.column;
        add_error(&b, NULL, &at, "%s", xe.message);
        goto done;
    }
    defs = arena_alloc(b.out, sizeof *defs);
    priv = arena_alloc(b.out, sizeof *priv);
    if (!defs || !priv || build(&b, root, defs) != 0 || b.oom || b.out->failed || b.tmp.failed) {
        rc = CHUTE_ENOMEM;
        add_error(&b, NULL, NULL, "Out of memory while building the decisions");
        goto done;
    }
    if (has_errors(&b))
        goto done;
    defs->resource_name = out_str(&b, errs->resource, strlen(errs->resource));
    if (b.oom) {
        rc = CHUTE_ENOMEM;
        goto done;
    }
    if (dmn_private_init(priv) != 0) {
        rc = CHUTE_ENOMEM;
        add_error(&b, NULL, NULL, "Out of memory while building the decisions");
        goto done;
    }
    priv->exprs = b.exprs;
    defs->arena_ = b.out;
    defs->priv_ = priv;
    arena_free(&b.tmp);
    model_errors_clear(errs);
    if (errs == &local)
        model_errors_clear(&local);
    *out = defs;
    return 0;

done:
    free_exprs(&b.exprs);
    arena_free(b.out);
    free(b.out);
    arena_free(&b.tmp);
done_errs:
    sort_errors(errs);
    if (errs == &local)
        model_errors_clear(&local);
    return rc;
}

void dmn_definitions_free(dmn_definitions *defs)
{
    if (!defs)
        return;
    model_arena *a = defs->arena_;
    dmn_private *priv = defs->priv_;
    free_exprs(&priv->exprs);
    dmn_private_free(priv);
    arena_free(a); /* |defs| itself lives in the arena */
    free(a);
}
