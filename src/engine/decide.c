/*
 * Deployed decisions: DMN resources parsed by src/dmn, versioned per
 * decisionId, stored with their resource's bytes (a restart parses them
 * again, as for processes), and evaluated for business rule tasks and for
 * EvaluateDecision.
 */
#include "engine/engine_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "dmn/dmn.h"

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

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

static void view_of(const decdef *d, chute_decision_view *v)
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
    view_of(d, &e->dec_views[e->ndec_views++]);
    return 0;
}

int decide_add(chute_engine *e, const chute_resource *r, dmn_definitions *defs, int64_t dkey,
               int64_t now, chute_error *err)
{
    uint64_t sum = fnv1a(r->content, r->len);
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

int chute_engine_evaluate_decision(chute_engine *e, int64_t key, const char *decision_id,
                                   const char *vars, size_t len, chute_decision_view *which,
                                   char **result, size_t *result_len, chute_error *err)
{
    const decdef *d = NULL;
    if (key > 0) {
        for (size_t i = 0; i < e->ndecs && !d; i++)
            if (e->decs[i]->key == key)
                d = e->decs[i];
        if (!d)
            return chute_error_set(err, CHUTE_ENOTFOUND,
                                   "Expected to evaluate decision with key '%lld', but no such "
                                   "decision was found",
                                   (long long)key);
    } else {
        if (!decision_id || !*decision_id)
            return chute_error_set(err, CHUTE_EINVAL,
                                   "Expected either a decision id or a decision key, but none "
                                   "given");
        d = decide_find(e, decision_id);
        if (!d)
            return chute_error_set(err, CHUTE_ENOTFOUND,
                                   "Expected to evaluate decision '%s', but no decision found for "
                                   "id '%s'",
                                   decision_id, decision_id);
    }
    if (vars && !len)
        len = strlen(vars);
    int rc = engine_check_variables(e, vars, len, err);
    if (rc != 0)
        return rc;
    char *text = NULL;
    if (!jdoc_blank(vars, len)) {
        text = malloc(len + 1);
        if (!text)
            return chute_error_set(err, CHUTE_ENOMEM, "out of memory evaluating a decision");
        memcpy(text, vars, len);
        text[len] = '\0';
    }
    dmn_eval_error de;
    memset(&de, 0, sizeof de);
    char *out = NULL;
    rc = dmn_evaluate(d->shared->defs, d->decision_id, text, engine_now(e), &out, &de);
    free(text);
    if (rc != 0)
        return chute_error_set(err, rc == CHUTE_ENOMEM ? CHUTE_ENOMEM : CHUTE_EINVAL, "%s",
                               de.message[0] ? de.message : "out of memory");
    if (which)
        view_of(d, which);
    *result = out;
    if (result_len)
        *result_len = strlen(out);
    return 0;
}
