/*
 * Deployed decisions: DMN resources parsed by src/dmn, versioned per
 * decisionId, stored with their resource's bytes (a restart parses them
 * again, as for processes), and evaluated for business rule tasks and for
 * EvaluateDecision.
 */
#include "engine/engine_int.h"

#include "common/hash.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "dmn/dmn.h"

int decide_is_dmn(const chute_resource *r)
{
    /* The root element's namespace decides; it sits in the first bytes of
     * any real file. */
    size_t n = r->len < 4096 ? r->len : 4096;
    static const char *const ns[] = {DMN_NS_11, DMN_NS_12, DMN_NS_13, DMN_NS_14, DMN_NS_15};
    const char *root = NULL;
    for (size_t i = 0; i + 1 < n && !root; i++) {
        const char *p = (const char *)r->content + i;
        if (*p == '<' && p[1] != '?' && p[1] != '!')
            root = p;
    }
    if (!root)
        return 0;
    size_t rest = n - (size_t)(root - (const char *)r->content);
    const char *end = memchr(root, '>', rest);
    size_t tag = end ? (size_t)(end - root) : rest;
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        size_t l = strlen(ns[k]);
        for (size_t i = 0; i + l <= tag; i++)
            if (memcmp(root + i, ns[k], l) == 0)
                return 1;
    }
    return 0;
}

int decide_parse(const chute_resource *r, dmn_definitions **out, model_errors *errs)
{
    return dmn_parse((const char *)r->content, r->len, r->name, NULL, out, errs);
}

static void shared_release(dmn_shared *s)
{
    if (s && --s->refs == 0) {
        dmn_definitions_free(s->defs);
        free(s->content);
        free(s);
    }
}

static void dec_free(decdef *d)
{
    if (!d)
        return;
    shared_release(d->shared);
    free(d->decision_id);
    free(d->resource_name);
    free(d);
}

void decide_clear(chute_engine *e)
{
    for (size_t i = 0; i < e->ndecs; i++)
        dec_free(e->decs[i]);
    free(e->decs);
    e->decs = NULL;
    e->ndecs = e->decs_cap = 0;
}

decdef *decide_find(const chute_engine *e, const char *id)
{
    for (size_t i = e->ndecs; i-- > 0;)
        if (strcmp(e->decs[i]->decision_id, id) == 0)
            return e->decs[i];
    return NULL;
}

static int dec_append(chute_engine *e, decdef *d)
{
    if (e->ndecs == e->decs_cap) {
        size_t cap = e->decs_cap ? e->decs_cap * 2 : 16;
        decdef **n = realloc(e->decs, cap * sizeof *n);
        if (!n)
            return CHUTE_ENOMEM;
        e->decs = n;
        e->decs_cap = cap;
    }
    e->decs[e->ndecs++] = d;
    return 0;
}

static decdef *dec_new(int64_t key, const char *id, int32_t version, int64_t req_key,
                       const char *resource, uint64_t sum, int64_t dkey, dmn_shared *s,
                       uint32_t index)
{
    decdef *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->key = key;
    d->version = version;
    d->requirements_key = req_key;
    d->checksum = sum;
    d->deployment_key = dkey;
    d->index = index;
    d->decision_id = strdup(id);
    d->resource_name = strdup(resource);
    if (!d->decision_id || !d->resource_name) {
        free(d->decision_id);
        free(d->resource_name);
        free(d);
        return NULL;
    }
    d->shared = s;
    s->refs++;
    return d;
}

/* The version of |d|'s requirements graph: how many resources with its
 * definitions' id were stored up to |d|'s (decisions are kept in key
 * order, and each stored resource has a requirements key of its own). */
static int32_t requirements_version(const chute_engine *e, const decdef *d)
{
    const char *id = d->shared->defs->id ? d->shared->defs->id : "";
    int32_t version = 0;
    int64_t last = 0;
    for (size_t i = 0; i < e->ndecs; i++) {
        const decdef *x = e->decs[i];
        if (x->requirements_key > d->requirements_key)
            break;
        const char *xid = x->shared->defs->id ? x->shared->defs->id : "";
        if (x->requirements_key != last && strcmp(xid, id) == 0) {
            version++;
            last = x->requirements_key;
        }
    }
    return version ? version : 1;
}

static void view_of(const chute_engine *e, const decdef *d, chute_decision_view *v)
{
    const dmn_definitions *defs = d->shared->defs;
    const dmn_decision *dec = &defs->decisions[d->index];
    v->key = d->key;
    v->decision_id = d->decision_id;
    v->name = dec->name ? dec->name : "";
    v->version = d->version;
    v->requirements_key = d->requirements_key;
    v->requirements_id = defs->id ? defs->id : "";
    v->requirements_name = defs->name ? defs->name : "";
    v->requirements_version = requirements_version(e, d);
    v->resource_name = d->resource_name;
    v->deployment_key = d->deployment_key;
}

static int push_view(chute_engine *e, const decdef *d)
{
    if (e->ndec_views == e->dec_views_cap) {
        size_t cap = e->dec_views_cap ? e->dec_views_cap * 2 : 16;
        chute_decision_view *n = realloc(e->dec_views, cap * sizeof *n);
        if (!n)
            return CHUTE_ENOMEM;
        e->dec_views = n;
        e->dec_views_cap = cap;
    }
    view_of(e, d, &e->dec_views[e->ndec_views++]);
    return 0;
}

int decide_add(chute_engine *e, const chute_resource *r, dmn_definitions *defs, int64_t dkey,
               int64_t now, chute_error *err)
{
    uint64_t sum = chute_fnv1a(CHUTE_FNV1A_INIT, r->content, r->len);
    /* Unchanged: every decision's latest version came from these bytes
     * under this name. */
    int unchanged = defs->decision_count > 0;
    for (uint32_t i = 0; i < defs->decision_count && unchanged; i++) {
        const decdef *prev = decide_find(e, defs->decisions[i].id);
        unchanged = prev && prev->checksum == sum && prev->shared->len == r->len &&
                    strcmp(prev->resource_name, r->name) == 0 &&
                    memcmp(prev->shared->content, r->content, r->len) == 0;
    }
    if (unchanged) {
        for (uint32_t i = 0; i < defs->decision_count; i++)
            if (push_view(e, decide_find(e, defs->decisions[i].id)) != 0)
                goto oom;
        dmn_definitions_free(defs);
        return 0;
    }
    dmn_shared *s = calloc(1, sizeof *s);
    if (!s || !(s->content = malloc(r->len))) {
        free(s);
        dmn_definitions_free(defs);
        goto oom;
    }
    memcpy(s->content, r->content, r->len);
    s->len = r->len;
    s->defs = defs;
    s->refs = 1; /* held while adding */
    int64_t req_key = engine_next_key(e);
    for (uint32_t i = 0; i < defs->decision_count; i++) {
        const char *id = defs->decisions[i].id;
        const decdef *prev = decide_find(e, id);
        decdef *d = dec_new(engine_next_key(e), id, prev ? prev->version + 1 : 1, req_key,
                            r->name, sum, dkey, s, i);
        if (!d || dec_append(e, d) != 0) {
            dec_free(d);
            shared_release(s);
            goto oom;
        }
        store_decision row = {d->key, d->decision_id, d->version, req_key, d->resource_name,
                              sum, dkey, now, s->content, s->len};
        engine_persist_decision(e, &row);
        if (push_view(e, d) != 0) {
            shared_release(s);
            goto oom;
        }
    }
    shared_release(s);
    return 0;
oom:
    engine_batch_fail(e, NULL);
    return chute_error_set(err, CHUTE_ENOMEM, "out of memory deploying decisions");
}

/* ---- loading ------------------------------------------------------------------ */

typedef struct load_ctx {
    chute_engine *e;
    dmn_shared *last; /* rows of one resource share a requirements key */
    int64_t last_req;
} load_ctx;

static int load_decision(void *ctx, const store_decision *r)
{
    load_ctx *lc = ctx;
    chute_engine *e = lc->e;
    dmn_shared *s = lc->last_req == r->requirements_key ? lc->last : NULL;
    if (!s) {
        dmn_definitions *defs = NULL;
        model_errors errs = {0};
        int rc = dmn_parse(r->content, r->len, r->resource_name, NULL, &defs, &errs);
        model_errors_clear(&errs);
        if (rc == CHUTE_ENOMEM)
            return rc;
        if (rc != 0) {
            chute_log_emit(e->opts.log, e->opts.log_ctx, CHUTE_LOG_ERROR,
                           "%s: decision %lld (%s) no longer parses; left out", e->db_path,
                           (long long)r->key, r->decision_id);
            return 0;
        }
        s = calloc(1, sizeof *s);
        if (!s || !(s->content = malloc(r->len ? r->len : 1))) {
            free(s);
            dmn_definitions_free(defs);
            return CHUTE_ENOMEM;
        }
        memcpy(s->content, r->content, r->len);
        s->len = r->len;
        s->defs = defs;
        if (lc->last)
            shared_release(lc->last);
        s->refs = 1; /* the load context's */
        lc->last = s;
        lc->last_req = r->requirements_key;
    }
    uint32_t index = dmn_decision_find(s->defs, r->decision_id, strlen(r->decision_id));
    if (index == DMN_NONE)
        return 0;
    decdef *d = dec_new(r->key, r->decision_id, r->version, r->requirements_key, r->resource_name,
                        r->checksum, r->deployment_key, s, index);
    if (!d || dec_append(e, d) != 0) {
        dec_free(d);
        return CHUTE_ENOMEM;
    }
    return 0;
}

int decide_load(chute_engine *e, chute_error *err)
{
    decide_clear(e);
    load_ctx lc = {e, NULL, 0};
    int rc = store_load_decisions(e->st, load_decision, &lc, err);
    if (lc.last)
        shared_release(lc.last);
    if (rc == CHUTE_ENOMEM)
        return chute_error_set(err, rc, "%s: out of memory while loading decisions", e->db_path);
    return rc;
}

int64_t decide_max_counter(const chute_engine *e)
{
    int64_t m = 0;
    for (size_t i = 0; i < e->ndecs; i++) {
        int64_t c = e->decs[i]->key - e->partition_base;
        if (c > m)
            m = c;
    }
    return m;
}

/* ---- evaluating ----------------------------------------------------------------- */

int decide_eval(const decdef *d, const feel_env *env, char **result, size_t *len, char *msg,
                size_t msg_cap)
{
    dmn_eval_error de;
    memset(&de, 0, sizeof de);
    int rc = dmn_evaluate_env(d->shared->defs, d->index, env, result, len, &de);
    if (rc != 0)
        snprintf(msg, msg_cap, "%s", de.message[0] ? de.message : "out of memory");
    return rc == 0 ? 0 : -1;
}

void chute_engine_deployed_decisions(chute_engine *e, const chute_decision_view **out, size_t *n)
{
    *out = e->dec_views;
    *n = e->ndec_views;
}

/* ---- EvaluateDecision ------------------------------------------------------------ */

/* An evaluation and everything its views point into. The parsed resource
 * is held (a reference on its dmn_shared), so the ids and names stay
 * valid whatever the engine does until the evaluation is freed. */
typedef struct evaluation_box {
    chute_decision_evaluation pub; /* first: the public part */
    dmn_shared *shared;
    dmn_trace trace;
    char *output;
    char *failure;
    chute_evaluated_decision *decisions;
    chute_decision_value *values; /* every input and output of the trace */
    chute_matched_rule *rules;
} evaluation_box;

void chute_decision_evaluation_free(chute_decision_evaluation *ev)
{
    if (!ev)
        return;
    evaluation_box *b = (evaluation_box *)ev;
    dmn_trace_free(&b->trace);
    free(b->output);
    free(b->failure);
    free(b->decisions);
    free(b->values);
    free(b->rules);
    shared_release(b->shared);
    free(b);
}

static const decdef *find_by_key(const chute_engine *e, int64_t key)
{
    for (size_t i = 0; i < e->ndecs; i++)
        if (e->decs[i]->key == key)
            return e->decs[i];
    return NULL;
}

/* The decision of the same resource version as |d| with index |index|. */
static const decdef *sibling(const chute_engine *e, const decdef *d, uint32_t index)
{
    for (size_t i = 0; i < e->ndecs; i++)
        if (e->decs[i]->requirements_key == d->requirements_key && e->decs[i]->index == index)
            return e->decs[i];
    return NULL;
}

/* Turns the trace into the public views, pointing into the trace and the
 * definitions. */
static int box_views(const chute_engine *e, const decdef *d, evaluation_box *b)
{
    const dmn_trace *t = &b->trace;
    const dmn_definitions *defs = d->shared->defs;
    size_t nvalues = 0, nrules = 0;
    for (uint32_t k = 0; k < t->count; k++) {
        nvalues += t->decisions[k].input_count;
        nrules += t->decisions[k].rule_count;
        for (uint32_t r = 0; r < t->decisions[k].rule_count; r++)
            nvalues += t->decisions[k].rules[r].output_count;
    }
    b->decisions = calloc(t->count ? t->count : 1, sizeof *b->decisions);
    b->values = calloc(nvalues ? nvalues : 1, sizeof *b->values);
    b->rules = calloc(nrules ? nrules : 1, sizeof *b->rules);
    if (!b->decisions || !b->values || !b->rules)
        return CHUTE_ENOMEM;
    chute_decision_value *v = b->values;
    chute_matched_rule *mr = b->rules;
    for (uint32_t k = 0; k < t->count; k++) {
        const dmn_traced_decision *td = &t->decisions[k];
        const dmn_decision *dec = &defs->decisions[td->decision];
        const decdef *sd = sibling(e, d, td->decision);
        chute_evaluated_decision *ed = &b->decisions[k];
        ed->key = sd ? sd->key : -1;
        ed->version = sd ? sd->version : -1;
        ed->decision_id = dec->id;
        ed->name = dec->name ? dec->name : "";
        ed->type = dec->kind == DMN_DECISION_TABLE ? "DECISION_TABLE" : "LITERAL_EXPRESSION";
        ed->output = td->output ? td->output : "null";
        ed->inputs = v;
        ed->ninputs = td->input_count;
        for (uint32_t i = 0; i < td->input_count; i++, v++)
            *v = (chute_decision_value){td->inputs[i].id, td->inputs[i].name, td->inputs[i].value};
        ed->rules = mr;
        ed->nrules = td->rule_count;
        for (uint32_t r = 0; r < td->rule_count; r++, mr++) {
            const dmn_traced_rule *tr = &td->rules[r];
            mr->id = tr->id;
            mr->index = (int32_t)tr->index;
            mr->outputs = v;
            mr->noutputs = tr->output_count;
            for (uint32_t o = 0; o < tr->output_count; o++, v++)
                *v = (chute_decision_value){tr->outputs[o].id, tr->outputs[o].name,
                                            tr->outputs[o].value};
        }
    }
    b->pub.evaluated = b->decisions;
    b->pub.nevaluated = t->count;
    return 0;
}

static const json_t *object_lookup(void *ctx, const char *name, size_t len)
{
    return json_object_getn(ctx, name, len);
}

int chute_engine_evaluate(chute_engine *e, int64_t key, const char *decision_id, const char *vars,
                          size_t len, chute_decision_evaluation **out, chute_error *err)
{
    /* Zeebe's choice: a decision id wins, else a key. */
    const decdef *d = NULL;
    if (decision_id && *decision_id) {
        if (!(d = decide_find(e, decision_id)))
            return chute_error_set(err, CHUTE_ENOTFOUND,
                                   "Expected to evaluate decision '%.1024s', but no decision "
                                   "found for id '%.1024s'",
                                   decision_id, decision_id);
    } else if (key > 0) {
        if (!(d = find_by_key(e, key)))
            return chute_error_set(err, CHUTE_ENOTFOUND,
                                   "Expected to evaluate decision '%lld', but no decision found "
                                   "for key '%lld'",
                                   (long long)key, (long long)key);
    } else {
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected either a decision id or a valid decision key, but none "
                               "provided");
    }
    if (vars && !len)
        len = strlen(vars);
    int rc = engine_check_variables(e, vars, len, err);
    if (rc != 0)
        return rc;
    /* Read as the engine reads variables: integers past int64 as
     * doubles. engine_check_variables made sure it is an object. */
    json_t *doc = NULL;
    if (vars && !jdoc_blank(vars, len)) {
        doc = json_loadb(vars, len, JSON_ALLOW_NUL, NULL);
        if (!doc)
            doc = json_loadb(vars, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
        if (!doc)
            return chute_error_set(err, CHUTE_ENOMEM, "out of memory evaluating a decision");
    }
    evaluation_box *b = calloc(1, sizeof *b);
    if (!b) {
        json_decref(doc);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory evaluating a decision");
    }
    b->shared = d->shared;
    d->shared->refs++;
    feel_env env = {doc ? object_lookup : NULL, doc, engine_now(e)};
    dmn_eval_error de;
    memset(&de, 0, sizeof de);
    size_t olen = 0;
    rc = dmn_evaluate_traced(d->shared->defs, d->index, &env, &b->trace, &b->output, &olen, &de);
    json_decref(doc);
    if (rc == CHUTE_EINVAL && de.decision_id) {
        /* The evaluation failed: an answer, as in Zeebe. */
        if (!(b->failure = strdup(de.message)))
            rc = CHUTE_ENOMEM;
        else
            rc = 0;
        b->pub.failed_decision_id = de.decision_id;
    }
    if (rc == 0)
        rc = box_views(e, d, b);
    if (rc != 0) {
        chute_decision_evaluation_free(&b->pub);
        if (rc == CHUTE_ENOMEM)
            return chute_error_set(err, rc, "out of memory evaluating decision '%s'",
                                   d->decision_id);
        return chute_error_set(err, rc, "%s", de.message[0] ? de.message : "evaluation failed");
    }
    const dmn_definitions *defs = d->shared->defs;
    chute_decision_view *v = &b->pub.decision;
    view_of(e, d, v);
    /* Into the held definitions, not the engine's decision: the views
     * outlive the next engine call. */
    v->decision_id = defs->decisions[d->index].id;
    v->resource_name = defs->resource_name ? defs->resource_name : "";
    b->pub.output = b->output ? b->output : "null";
    if (!b->pub.failed_decision_id)
        b->pub.failed_decision_id = "";
    b->pub.failure_message = b->failure ? b->failure : "";
    b->pub.key = engine_next_key(e);
    *out = &b->pub;
    return 0;
}

int chute_engine_evaluate_decision(chute_engine *e, int64_t key, const char *decision_id,
                                   const char *vars, size_t len, chute_decision_view *which,
                                   char **result, size_t *result_len, chute_error *err)
{
    chute_decision_evaluation *ev = NULL;
    int rc = chute_engine_evaluate(e, key, decision_id, vars, len, &ev, err);
    if (rc != 0)
        return rc;
    if (ev->failure_message[0]) {
        rc = chute_error_set(err, CHUTE_EINVAL, "%s", ev->failure_message);
        chute_decision_evaluation_free(ev);
        return rc;
    }
    char *text = strdup(ev->output);
    if (!text) {
        chute_decision_evaluation_free(ev);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory evaluating a decision");
    }
    if (which) {
        /* The engine's strings, valid until the next engine call. */
        const decdef *d = find_by_key(e, ev->decision.key);
        view_of(e, d, which);
    }
    *result = text;
    if (result_len)
        *result_len = strlen(text);
    chute_decision_evaluation_free(ev);
    return 0;
}
