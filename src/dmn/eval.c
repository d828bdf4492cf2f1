/*
 * The DMN evaluator: one decision and, first, everything it requires,
 * over the variables of a scope; see dmn.h for what a result looks like.
 *
 * An input value is computed once per table and kept as a FEEL value
 * (feel_eval_value), so that the rules test it with its type: a date
 * stays a date. Outputs travel as FEEL writes them, JSON text: an output
 * entry's text is what the result is made of, so numbers stay exact.
 * Where an output must be looked at (a required decision's result read by
 * another, outputValues compared, an aggregation) it is read with jansson,
 * as the engine reads its variables.
 *
 * Every evaluation of one dmn_evaluate shares one FEEL step budget
 * (DMN_MAX_STEPS) and one bound on the bytes of the values it computes
 * (DMN_MAX_RESULT), so that no decision table, however large, makes an
 * evaluation unbounded.
 */
#include "dmn/dmn_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 120

/* ---- the aggregations -------------------------------------------------------- */

static const char *const agg_names[] = {"", "SUM", "MIN", "MAX", "COUNT"};

int dmn_private_init(dmn_private *p)
{
    feel_error fe;
    if (feel_parse("sum(values)", 11, &p->agg_sum, &fe) != 0)
        return -1;
    if (feel_parse("min(values)", 11, &p->agg_min, &fe) != 0) {
        dmn_private_free(p);
        return -1;
    }
    if (feel_parse("max(values)", 11, &p->agg_max, &fe) != 0) {
        dmn_private_free(p);
        return -1;
    }
    return 0;
}

void dmn_private_free(dmn_private *p)
{
    feel_expr_free(p->agg_sum);
    feel_expr_free(p->agg_min);
    feel_expr_free(p->agg_max);
    p->agg_sum = p->agg_min = p->agg_max = NULL;
}

/* ---- one evaluation ---------------------------------------------------------- */

typedef struct dresult {
    char *text; /* the decision's result, JSON text; NULL until evaluated */
    size_t len;
    json_t *json; /* |text| read back, when another decision looked at it */
    int read;
} dresult;

typedef struct evaluation {
    const dmn_definitions *defs;
    const dmn_decision *top; /* the decision asked for */
    const feel_env *outer;   /* the caller's variables */
    dresult *results;        /* per decision of the definitions */
    feel_budget budget;
    size_t bytes; /* of the values computed so far */
    dmn_eval_error *err;
    dmn_trace *trace; /* NULL: not recorded */
} evaluation;

/* The scope of one decision's expressions: its direct requirements, then
 * the caller's variables. */
typedef struct dscope {
    evaluation *ev;
    const dmn_decision *d;
    feel_env env;
    const json_t *values;    /* the aggregation's list, for "values" */
    dmn_traced_decision *td; /* its entry of the trace, or NULL */
} dscope;

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

/* Fails the evaluation of |d| with a reason (a clause that follows "but").
 * Returns CHUTE_EINVAL. */
static int fail(evaluation *ev, const dmn_decision *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(evaluation *ev, const dmn_decision *d, const char *fmt, ...)
{
    char reason[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    char q[QUOTE_MAX + 8], r[QUOTE_MAX + 8];
    const char *top = clip(q, sizeof q, ev->top->id, strlen(ev->top->id));
    ev->err->decision_id = d ? d->id : NULL;
    if (d && d != ev->top)
        snprintf(ev->err->message, sizeof ev->err->message,
                 "Expected to evaluate decision '%s', but failed to evaluate its required "
                 "decision '%s': %s",
                 top, clip(r, sizeof r, d->id, strlen(d->id)), reason);
    else
        snprintf(ev->err->message, sizeof ev->err->message,
                 "Expected to evaluate decision '%s', but %s", top, reason);
    return CHUTE_EINVAL;
}

static int fail_oom(evaluation *ev, const dmn_decision *d)
{
    fail(ev, d, "the evaluation ran out of memory");
    return CHUTE_ENOMEM;
}

/* A FEEL failure of the expression |text| (|what|: where it is). */
static int fail_feel(evaluation *ev, const dmn_decision *d, const char *text, size_t len,
                     const char *what, const feel_error *fe)
{
    char q[QUOTE_MAX + 8];
    if (ev->budget.steps == 0 && strstr(fe->message, "steps"))
        return fail(ev, d,
                    "the evaluation takes more than %llu steps over all the expressions it "
                    "evaluates (at '%s' of %s)",
                    (unsigned long long)DMN_MAX_STEPS, clip(q, sizeof q, text, len), what);
    return fail(ev, d, "failed to evaluate expression '%s' of %s: %s", clip(q, sizeof q, text, len),
                what, fe->message);
}

/* Reads JSON text as the engine does: integers past int64 as doubles. */
static json_t *read_json(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j)
        j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    return j;
}

static int name_is(const char *m, const char *name, size_t len)
{
    return m[0] && strlen(m) == len && memcmp(m, name, len) == 0;
}

static const json_t *scope_lookup(void *ctx, const char *name, size_t len)
{
    dscope *s = ctx;
    evaluation *ev = s->ev;
    if (s->values && name_is("values", name, len))
        return s->values;
    for (uint32_t k = 0; k < s->d->required_count; k++) {
        uint32_t r = s->d->required[k];
        const dmn_decision *rd = &ev->defs->decisions[r];
        if (!name_is(rd->id, name, len) && !name_is(rd->name, name, len))
            continue;
        dresult *res = &ev->results[r];
        if (!res->read) {
            /* Null when jansson cannot hold it (a number past a double's
             * range); an allocation failure reads as null too. */
            res->json = res->text ? read_json(res->text, res->len) : NULL;
            res->read = 1;
        }
        return res->json;
    }
    const feel_env *o = ev->outer;
    return o && o->lookup ? o->lookup(o->ctx, name, len) : NULL;
}

/* Counts |len| more bytes of computed values against DMN_MAX_RESULT. */
static int account(dscope *s, size_t len)
{
    evaluation *ev = s->ev;
    if (len > DMN_MAX_RESULT || ev->bytes > DMN_MAX_RESULT - len)
        return fail(ev, s->d,
                    "the values it computes take more than %zu bytes, the most a decision "
                    "evaluation may compute",
                    DMN_MAX_RESULT);
    ev->bytes += len;
    return 0;
}

static char *dup_text(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* ---- the trace --------------------------------------------------------------- */

void dmn_trace_free(dmn_trace *t)
{
    if (!t)
        return;
    for (uint32_t k = 0; k < t->count; k++) {
        dmn_traced_decision *d = &t->decisions[k];
        free(d->output);
        for (uint32_t i = 0; i < d->input_count; i++)
            free(d->inputs[i].value);
        free(d->inputs);
        for (uint32_t r = 0; r < d->rule_count; r++) {
            for (uint32_t o = 0; o < d->rules[r].output_count; o++)
                free(d->rules[r].outputs[o].value);
            free(d->rules[r].outputs);
        }
        free(d->rules);
    }
    free(t->decisions);
    memset(t, 0, sizeof *t);
}

/* A copy of |len| bytes of |text| for the trace into |*out|, counted
 * against DMN_MAX_RESULT: 0, or the evaluation failed (CHUTE_EINVAL past
 * the bound, CHUTE_ENOMEM). */
static int trace_copy(dscope *s, const char *text, size_t len, char **out)
{
    int rc = account(s, len);
    if (rc != 0)
        return rc;
    if (!(*out = dup_text(text, len)))
        return fail_oom(s->ev, s->d);
    return 0;
}

/* Opens the trace entry of decision |index|. */
static int trace_open(evaluation *ev, dscope *s, uint32_t index)
{
    dmn_trace *t = ev->trace;
    if (t->count == t->cap_) {
        size_t cap = t->cap_ ? t->cap_ * 2 : 4;
        dmn_traced_decision *n = realloc(t->decisions, cap * sizeof *n);
        if (!n)
            return fail_oom(ev, s->d);
        t->decisions = n;
        t->cap_ = cap;
    }
    s->td = &t->decisions[t->count++];
    memset(s->td, 0, sizeof *s->td);
    s->td->decision = index;
    return 0;
}

/* Records the value of input |i| of |t|. */
static int trace_input(dscope *s, const dmn_table *t, uint32_t i, const feel_value *v)
{
    dmn_traced_decision *td = s->td;
    if (!td->inputs && !(td->inputs = calloc(t->input_count, sizeof *td->inputs)))
        return fail_oom(s->ev, s->d);
    char *text = NULL;
    size_t len = 0;
    feel_error fe;
    /* A value without JSON form (a range) is shown as null. */
    if (feel_value_json(v, &text, &len, &fe) != 0) {
        free(text);
        text = NULL;
    }
    dmn_traced_value *tv = &td->inputs[td->input_count];
    tv->id = t->inputs[i].id;
    tv->name = t->inputs[i].label;
    int rc = text ? trace_copy(s, text, len, &tv->value) : trace_copy(s, "null", 4, &tv->value);
    free(text);
    if (rc == 0)
        td->input_count++;
    return rc;
}

/* Records the |n| matching rules |matched| of |t|. */
static int trace_rules(dscope *s, const dmn_table *t, const uint32_t *matched, uint32_t n)
{
    dmn_traced_decision *td = s->td;
    if (n == 0)
        return 0;
    if (!(td->rules = calloc(n, sizeof *td->rules)))
        return fail_oom(s->ev, s->d);
    for (uint32_t k = 0; k < n; k++) {
        td->rules[k].id = t->rules[matched[k]].id;
        td->rules[k].index = matched[k] + 1;
    }
    td->rule_count = n;
    return 0;
}

/* The trace entry of rule |r| (among the recorded ones), or NULL. */
static dmn_traced_rule *traced_rule(dscope *s, uint32_t r)
{
    if (!s->td)
        return NULL;
    for (uint32_t k = 0; k < s->td->rule_count; k++)
        if (s->td->rules[k].index == r + 1)
            return &s->td->rules[k];
    return NULL;
}

/* Records the value of output |o| of rule |tr|. */
static int trace_output(dscope *s, const dmn_table *t, dmn_traced_rule *tr, uint32_t o,
                        const char *v, size_t vl)
{
    if (!tr->outputs && !(tr->outputs = calloc(t->output_count, sizeof *tr->outputs)))
        return fail_oom(s->ev, s->d);
    dmn_traced_value *tv = &tr->outputs[tr->output_count];
    tv->id = t->outputs[o].id;
    tv->name = t->outputs[o].name;
    int rc = trace_copy(s, v, vl, &tv->value);
    if (rc == 0)
        tr->output_count++;
    return rc;
}

/* Evaluates |x| (NULL parsed: null) into |*out|. */
static int eval_expr(dscope *s, const dmn_expr *x, const char *what, char **out, size_t *len)
{
    if (!x->parsed) {
        *out = dup_text("null", 4);
        *len = 4;
        return *out ? 0 : fail_oom(s->ev, s->d);
    }
    feel_error fe;
    if (feel_eval_budget(x->parsed, &s->env, &s->ev->budget, out, len, &fe) != 0)
        return fail_feel(s->ev, s->d, x->text, x->len, what, &fe);
    int rc = account(s, *len);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- building results -------------------------------------------------------- */

/* A bounded buffer for a result being put together. */
typedef struct tbuf {
    char *p;
    size_t len, cap;
    int oom;
} tbuf;

static void tb_put(tbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* |s| as a JSON string (UTF-8 passes through; XML gave valid UTF-8). */
static void tb_json_str(tbuf *b, const char *s)
{
    tb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            tb_put(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            tb_put(b, e, 6);
        } else {
            tb_put(b, p, 1);
        }
    }
    tb_put(b, "\"", 1);
}

/* Hands the buffer over as a result, or fails when it ran out of memory or
 * past the bound. */
static int tb_done(dscope *s, tbuf *b, char **out, size_t *len)
{
    if (b->oom) {
        free(b->p);
        return fail_oom(s->ev, s->d);
    }
    int rc = account(s, b->len);
    if (rc) {
        free(b->p);
        return rc;
    }
    *out = b->p;
    *len = b->len;
    return 0;
}

/* "input 'Fuel level' (input 1)" and the like, for messages. */
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

/* The output of rule |r|: its one output's value, or a context of all of
 * them. */
static int rule_output(dscope *s, const dmn_table *t, uint32_t r, char **out, size_t *len)
{
    const dmn_rule *rule = &t->rules[r];
    dmn_traced_rule *tr = traced_rule(s, r);
    char rl[QUOTE_MAX + 40], ol[QUOTE_MAX + 40], what[512];
    label(rl, sizeof rl, "rule", rule->id, r);
    if (t->output_count == 1) {
        label(ol, sizeof ol, "output", t->outputs[0].name, 0);
        snprintf(what, sizeof what, "the outputEntry of %s for %s", rl, ol);
        int rc = eval_expr(s, &rule->output_entries[0], what, out, len);
        if (rc == 0 && tr && (rc = trace_output(s, t, tr, 0, *out, *len)) != 0) {
            free(*out);
            *out = NULL;
        }
        return rc;
    }
    tbuf b = {0};
    tb_put(&b, "{", 1);
    for (uint32_t o = 0; o < t->output_count; o++) {
        label(ol, sizeof ol, "output", t->outputs[o].name, o);
        snprintf(what, sizeof what, "the outputEntry of %s for %s", rl, ol);
        char *v;
        size_t vl;
        int rc = eval_expr(s, &rule->output_entries[o], what, &v, &vl);
        if (rc == 0 && tr && (rc = trace_output(s, t, tr, o, v, vl)) != 0)
            free(v);
        if (rc) {
            free(b.p);
            return rc;
        }
        if (o)
            tb_put(&b, ",", 1);
        tb_json_str(&b, t->outputs[o].name);
        tb_put(&b, ":", 1);
        tb_put(&b, v, vl);
        free(v);
    }
    tb_put(&b, "}", 1);
    return tb_done(s, &b, out, len);
}

/* The result when no rule matched: the outputs' defaults, or null. */
static int default_output(dscope *s, const dmn_table *t, char **out, size_t *len)
{
    uint32_t n = 0, last = 0;
    for (uint32_t o = 0; o < t->output_count; o++)
        if (t->outputs[o].has_default) {
            n++;
            last = o;
        }
    char ol[QUOTE_MAX + 40], what[256];
    if (n == 0) {
        *out = dup_text("null", 4);
        *len = 4;
        return *out ? 0 : fail_oom(s->ev, s->d);
    }
    if (n == 1) {
        label(ol, sizeof ol, "output", t->outputs[last].name, last);
        snprintf(what, sizeof what, "the defaultOutputEntry of %s", ol);
        return eval_expr(s, &t->outputs[last].default_entry, what, out, len);
    }
    tbuf b = {0};
    tb_put(&b, "{", 1);
    int first = 1;
    for (uint32_t o = 0; o < t->output_count; o++) {
        if (!t->outputs[o].has_default)
            continue;
        label(ol, sizeof ol, "output", t->outputs[o].name, o);
        snprintf(what, sizeof what, "the defaultOutputEntry of %s", ol);
        char *v;
        size_t vl;
        int rc = eval_expr(s, &t->outputs[o].default_entry, what, &v, &vl);
        if (rc) {
            free(b.p);
            return rc;
        }
        if (!first)
            tb_put(&b, ",", 1);
        first = 0;
        tb_json_str(&b, t->outputs[o].name);
        tb_put(&b, ":", 1);
        tb_put(&b, v, vl);
        free(v);
    }
    tb_put(&b, "}", 1);
    return tb_done(s, &b, out, len);
}

/* "rule 'a' (rule 1), rule 'b' (rule 3)": the first few of |n| rules. */
static void rule_list(char *buf, size_t cap, const dmn_table *t, const uint32_t *rules, uint32_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (uint32_t k = 0; k < n && k < 5 && len < cap; k++) {
        char rl[QUOTE_MAX + 40];
        label(rl, sizeof rl, "rule", t->rules[rules[k]].id, rules[k]);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", rl);
    }
    if (n > 5 && len < cap)
        snprintf(buf + len, cap - len, " and %u more", n - 5);
}

/* A matched rule's place under PRIORITY and OUTPUT ORDER. */
typedef struct ranked {
    const uint32_t *rank; /* per output: position of its value in outputValues */
    uint32_t outputs;
    uint32_t pos; /* among the matched rules, for a stable order */
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    for (uint32_t o = 0; o < x->outputs; o++)
        if (x->rank[o] != y->rank[o])
            return x->rank[o] < y->rank[o] ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts the |n| outputs |vals| of the matched rules by priority, into
 * |order| (positions into |vals|). */
static int rank_outputs(dscope *s, const dmn_table *t, char **vals, size_t *lens, uint32_t n,
                        uint32_t *order)
{
    uint32_t no = t->output_count;
    json_t **prio = calloc(no, sizeof *prio);
    uint32_t *rank = calloc((size_t)n * no + 1, sizeof *rank);
    ranked *rk = calloc((size_t)n + 1, sizeof *rk);
    int rc = 0;
    if (!prio || !rank || !rk) {
        rc = fail_oom(s->ev, s->d);
        goto out;
    }
    for (uint32_t o = 0; o < no; o++)
        if (t->outputs[o].priorities)
            prio[o] = read_json(t->outputs[o].priorities, strlen(t->outputs[o].priorities));
    for (uint32_t k = 0; k < n; k++) {
        json_t *v = read_json(vals[k], lens[k]);
        for (uint32_t o = 0; o < no; o++) {
            size_t cnt = json_array_size(prio[o]);
            uint32_t at = (uint32_t)cnt;
            const json_t *mine = no == 1 ? v : json_object_get(v, t->outputs[o].name);
            for (size_t i = 0; mine && i < cnt; i++)
                if (json_equal(json_array_get(prio[o], i), (json_t *)mine)) {
                    at = (uint32_t)i;
                    break;
                }
            rank[(size_t)k * no + o] = at;
        }
        json_decref(v);
        rk[k].rank = &rank[(size_t)k * no];
        rk[k].outputs = no;
        rk[k].pos = k;
    }
    qsort(rk, n, sizeof *rk, cmp_ranked);
    for (uint32_t k = 0; k < n; k++)
        order[k] = rk[k].pos;
out:
    if (prio)
        for (uint32_t o = 0; o < no; o++)
            json_decref(prio[o]);
    free(prio);
    free(rank);
    free(rk);
    return rc;
}

/* COLLECT with SUM, MIN or MAX: every output a number, then FEEL's sum(),
 * min() or max() of them. */
static int aggregate(dscope *s, const dmn_table *t, const uint32_t *matched, char **vals,
                     size_t *lens, uint32_t n, char **out, size_t *len)
{
    evaluation *ev = s->ev;
    json_t *list = json_array();
    if (!list)
        return fail_oom(ev, s->d);
    for (uint32_t k = 0; k < n; k++) {
        json_t *v = read_json(vals[k], lens[k]);
        if (!v || !json_is_number(v)) {
            json_decref(v);
            json_decref(list);
            char rl[QUOTE_MAX + 40], q[QUOTE_MAX + 8];
            label(rl, sizeof rl, "rule", t->rules[matched[k]].id, matched[k]);
            return fail(ev, s->d,
                        "expected the outputs to be numbers for the aggregation %s of hit policy "
                        "COLLECT, but %s gives '%s'",
                        agg_names[t->aggregation], rl, clip(q, sizeof q, vals[k], lens[k]));
        }
        if (json_array_append_new(list, v) != 0) {
            json_decref(list);
            return fail_oom(ev, s->d);
        }
    }
    const dmn_private *priv = ev->defs->priv_;
    const feel_expr *e = t->aggregation == DMN_AGG_SUM   ? priv->agg_sum
                         : t->aggregation == DMN_AGG_MIN ? priv->agg_min
                                                         : priv->agg_max;
    s->values = list;
    feel_error fe;
    int rc = feel_eval_budget(e, &s->env, &ev->budget, out, len, &fe);
    s->values = NULL;
    json_decref(list);
    if (rc != 0)
        return fail(ev, s->d, "failed to compute the aggregation %s of hit policy COLLECT: %s",
                    agg_names[t->aggregation], fe.message);
    rc = account(s, *len);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int eval_table(dscope *s, const dmn_table *t, char **out, size_t *out_len)
{
    evaluation *ev = s->ev;
    const dmn_decision *d = s->d;
    int rc = 0;
    feel_value **inputs = calloc((size_t)t->input_count + 1, sizeof *inputs);
    uint32_t *matched = calloc((size_t)t->rule_count + 1, sizeof *matched);
    char **vals = NULL;
    size_t *lens = NULL;
    uint32_t nm = 0, nv = 0;
    if (!inputs || !matched) {
        rc = fail_oom(ev, d);
        goto out;
    }
    char what[512], il[QUOTE_MAX + 40], rl[QUOTE_MAX + 40];
    /* Each input once, kept as a FEEL value with its type (a date stays a
     * date for the rules to compare). */
    for (uint32_t i = 0; i < t->input_count; i++) {
        const dmn_input *in = &t->inputs[i];
        label(il, sizeof il, "input", in->label[0] ? in->label : in->id, i);
        snprintf(what, sizeof what, "the inputExpression of %s", il);
        feel_error fe;
        if (feel_eval_value(in->expression.parsed, &s->env, &ev->budget, &inputs[i], &fe) != 0) {
            rc = fail_feel(ev, d, in->expression.text, in->expression.len, what, &fe);
            goto out;
        }
        rc = account(s, feel_value_size(inputs[i]));
        if (rc == 0 && s->td)
            rc = trace_input(s, t, i, inputs[i]);
        if (rc)
            goto out;
    }

    for (uint32_t r = 0; r < t->rule_count; r++) {
        const dmn_rule *rule = &t->rules[r];
        int match = 1;
        for (uint32_t i = 0; i < t->input_count && match; i++) {
            const dmn_expr *x = &rule->input_entries[i];
            if (!x->parsed)
                continue;
            feel_error fe;
            int m = feel_eval_unary_tests_value(x->parsed, inputs[i], &s->env, &ev->budget, &fe);
            if (m < 0) {
                label(rl, sizeof rl, "rule", rule->id, r);
                label(il, sizeof il, "input",
                      t->inputs[i].label[0] ? t->inputs[i].label : t->inputs[i].id, i);
                snprintf(what, sizeof what, "the inputEntry of %s for %s", rl, il);
                rc = fail_feel(ev, d, x->text, x->len, what, &fe);
                goto out;
            }
            match = m == 1;
        }
        if (match) {
            matched[nm++] = r;
            if (t->hit_policy == DMN_HIT_FIRST)
                break;
        }
    }

    if (s->td && (rc = trace_rules(s, t, matched, nm)) != 0)
        goto out;
    if (nm == 0) {
        rc = default_output(s, t, out, out_len);
        goto out;
    }
    if (t->hit_policy == DMN_HIT_UNIQUE && nm > 1) {
        char list[900];
        rule_list(list, sizeof list, t, matched, nm);
        rc = fail(ev, d,
                  "expected at most one rule to match for UNIQUE hit policy, but found %u (%s)", nm,
                  list);
        goto out;
    }
    if (t->hit_policy == DMN_HIT_UNIQUE || t->hit_policy == DMN_HIT_FIRST) {
        rc = rule_output(s, t, matched[0], out, out_len);
        goto out;
    }
    if (t->hit_policy == DMN_HIT_COLLECT && t->aggregation == DMN_AGG_COUNT) {
        char num[16];
        int n = snprintf(num, sizeof num, "%u", nm);
        *out = dup_text(num, (size_t)n);
        *out_len = (size_t)n;
        rc = *out ? 0 : fail_oom(ev, d);
        goto out;
    }

    vals = calloc(nm, sizeof *vals);
    lens = calloc(nm, sizeof *lens);
    if (!vals || !lens) {
        rc = fail_oom(ev, d);
        goto out;
    }
    for (nv = 0; nv < nm; nv++) {
        rc = rule_output(s, t, matched[nv], &vals[nv], &lens[nv]);
        if (rc)
            goto out;
    }

    switch (t->hit_policy) {
    case DMN_HIT_ANY:
        for (uint32_t k = 1; k < nm; k++)
            if (lens[k] != lens[0] || memcmp(vals[k], vals[0], lens[0]) != 0) {
                char r0[QUOTE_MAX + 40], q0[QUOTE_MAX + 8], qk[QUOTE_MAX + 8];
                label(r0, sizeof r0, "rule", t->rules[matched[0]].id, matched[0]);
                label(rl, sizeof rl, "rule", t->rules[matched[k]].id, matched[k]);
                rc = fail(ev, d,
                          "expected the matching rules to have the same output for ANY hit "
                          "policy, but %s gives '%s' and %s gives '%s'",
                          r0, clip(q0, sizeof q0, vals[0], lens[0]), rl,
                          clip(qk, sizeof qk, vals[k], lens[k]));
                goto out;
            }
        *out = vals[0];
        *out_len = lens[0];
        vals[0] = NULL;
        goto out;
    case DMN_HIT_PRIORITY:
    case DMN_HIT_OUTPUT_ORDER: {
        uint32_t *order = calloc(nm, sizeof *order);
        if (!order) {
            rc = fail_oom(ev, d);
            goto out;
        }
        rc = rank_outputs(s, t, vals, lens, nm, order);
        if (rc == 0 && t->hit_policy == DMN_HIT_PRIORITY) {
            *out = vals[order[0]];
            *out_len = lens[order[0]];
            vals[order[0]] = NULL;
        } else if (rc == 0) {
            tbuf b = {0};
            tb_put(&b, "[", 1);
            for (uint32_t k = 0; k < nm; k++) {
                if (k)
                    tb_put(&b, ",", 1);
                tb_put(&b, vals[order[k]], lens[order[k]]);
            }
            tb_put(&b, "]", 1);
            rc = tb_done(s, &b, out, out_len);
        }
        free(order);
        goto out;
    }
    default: { /* COLLECT, RULE ORDER */
        if (t->aggregation != DMN_AGG_NONE) {
            rc = aggregate(s, t, matched, vals, lens, nm, out, out_len);
            goto out;
        }
        tbuf b = {0};
        tb_put(&b, "[", 1);
        for (uint32_t k = 0; k < nm; k++) {
            if (k)
                tb_put(&b, ",", 1);
            tb_put(&b, vals[k], lens[k]);
        }
        tb_put(&b, "]", 1);
        rc = tb_done(s, &b, out, out_len);
        goto out;
    }
    }

out:
    if (inputs)
        for (uint32_t i = 0; i < t->input_count; i++)
            feel_value_free(inputs[i]);
    free(inputs);
    if (vals)
        for (uint32_t k = 0; k < nv; k++)
            free(vals[k]);
    free(vals);
    free(lens);
    free(matched);
    return rc;
}

static int eval_decision(evaluation *ev, uint32_t index)
{
    const dmn_decision *d = &ev->defs->decisions[index];
    dscope s;
    memset(&s, 0, sizeof s);
    s.ev = ev;
    s.d = d;
    s.env.lookup = scope_lookup;
    s.env.ctx = &s;
    s.env.now_ms = ev->outer ? ev->outer->now_ms : 0;
    dresult *res = &ev->results[index];
    if (ev->trace) {
        int rc = trace_open(ev, &s, index);
        if (rc)
            return rc;
    }
    int rc = d->kind == DMN_DECISION_LITERAL
                 ? eval_expr(&s, d->literal, "the literal expression", &res->text, &res->len)
                 : eval_table(&s, d->table, &res->text, &res->len);
    if (s.td) {
        /* The failed decision shows null, as Zeebe's record does. The
         * copy of a result is not counted: it is one more than the
         * result itself, which was. */
        s.td->output = rc == 0 ? dup_text(res->text, res->len) : dup_text("null", 4);
        if (!s.td->output && rc == 0)
            rc = fail_oom(ev, d);
    }
    return rc;
}

int dmn_evaluate_env(const dmn_definitions *defs, uint32_t decision, const feel_env *env,
                     char **result_json, size_t *result_len, dmn_eval_error *err)
{
    return dmn_evaluate_traced(defs, decision, env, NULL, result_json, result_len, err);
}

int dmn_evaluate_traced(const dmn_definitions *defs, uint32_t decision, const feel_env *env,
                        dmn_trace *trace, char **result_json, size_t *result_len,
                        dmn_eval_error *err)
{
    dmn_eval_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    if (!defs || decision >= defs->decision_count) {
        snprintf(err->message, sizeof err->message,
                 "Expected to evaluate the decision at index %u, but the resource has %u "
                 "decisions",
                 decision, defs ? defs->decision_count : 0);
        return CHUTE_ENOTFOUND;
    }
    evaluation ev;
    memset(&ev, 0, sizeof ev);
    ev.defs = defs;
    ev.top = &defs->decisions[decision];
    ev.outer = env;
    ev.err = err;
    ev.trace = trace;
    ev.budget.steps = DMN_MAX_STEPS;
    ev.results = calloc(defs->decision_count, sizeof *ev.results);
    if (!ev.results)
        return fail_oom(&ev, ev.top);
    int rc = 0;
    const dmn_decision *top = ev.top;
    for (uint32_t k = 0; k < top->order_count && rc == 0; k++)
        rc = eval_decision(&ev, top->order[k]);
    if (rc == 0) {
        dresult *res = &ev.results[decision];
        *result_json = res->text;
        if (result_len)
            *result_len = res->len;
        res->text = NULL;
    }
    for (uint32_t i = 0; i < defs->decision_count; i++) {
        free(ev.results[i].text);
        json_decref(ev.results[i].json);
    }
    free(ev.results);
    return rc;
}

static const json_t *object_lookup(void *ctx, const char *name, size_t len)
{
    return json_object_getn(ctx, name, len);
}

int dmn_evaluate(const dmn_definitions *defs, const char *decision_id, const char *variables_json,
                 int64_t now_ms, char **result_json, dmn_eval_error *err)
{
    dmn_eval_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    char q[QUOTE_MAX + 8];
    const char *id = decision_id ? decision_id : "";
    uint32_t d = dmn_decision_find(defs, id, strlen(id));
    if (d == DMN_NONE) {
        clip(q, sizeof q, id, strlen(id));
        snprintf(err->message, sizeof err->message,
                 "Expected to evaluate decision '%s', but no decision found for id '%s'", q, q);
        return CHUTE_ENOTFOUND;
    }
    json_t *vars = NULL;
    if (variables_json && variables_json[0]) {
        size_t n = strnlen(variables_json, DMN_MAX_VARIABLES + 1);
        if (n > DMN_MAX_VARIABLES) {
            snprintf(err->message, sizeof err->message,
                     "Expected to evaluate decision '%s', but the variables are longer than %zu "
                     "bytes",
                     clip(q, sizeof q, id, strlen(id)), DMN_MAX_VARIABLES);
            return CHUTE_EINVAL;
        }
        json_error_t je;
        vars = json_loadb(variables_json, n, JSON_ALLOW_NUL, &je);
        if (!vars)
            vars = json_loadb(variables_json, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
        if (!vars) {
            snprintf(err->message, sizeof err->message,
                     "Expected to evaluate decision '%s', but the variables are not a JSON "
                     "object: %s at line %d, column %d",
                     clip(q, sizeof q, id, strlen(id)), je.text, je.line, je.column);
            return CHUTE_EINVAL;
        }
        if (!json_is_object(vars)) {
            json_decref(vars);
            snprintf(err->message, sizeof err->message,
                     "Expected to evaluate decision '%s', but the variables are a JSON array, "
                     "not an object",
                     clip(q, sizeof q, id, strlen(id)));
            return CHUTE_EINVAL;
        }
    }
    feel_env env = {vars ? object_lookup : NULL, vars, now_ms};
    size_t len;
    int rc = dmn_evaluate_env(defs, d, &env, result_json, &len, err);
    json_decref(vars);
    return rc;
}
