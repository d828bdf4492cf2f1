/*
 * Process definitions: deployment, versions, and their rebuild after a
 * restart. See "processes: deployment" in include/chute/engine.h.
 *
 * Definitions are few and change rarely, so they live in one array in key
 * order (a version is always deployed after the one before it, so the
 * latest version of an id is the last one with that id) plus a map by key.
 * Looking a process up by id is a scan from the end: fine for the hundreds
 * of definitions a broker holds; an index by id is the next step if that
 * ever shows in a profile.
 */
#include "engine/engine_int.h"

#include "common/hash.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "model/bpmn.h"

static void def_free(procdef *d)
{
    if (!d)
        return;
    deploy_model_free(d->model);
    free(d->bpmn_process_id);
    free(d->resource_name);
    free(d->content);
    free(d);
}

void deploy_clear(chute_engine *e)
{
    for (size_t i = 0; i < e->ndefs; i++)
        def_free(e->defs[i]);
    free(e->defs);
    e->defs = NULL;
    e->ndefs = e->defs_cap = 0;
    hmap_free(&e->defs_by_key);
    hmap_init(&e->defs_by_key);
}

int64_t deploy_max_counter(const chute_engine *e)
{
    return e->ndefs ? e->defs[e->ndefs - 1]->key - e->partition_base : 0;
}

/* Appends |d| (taken) in key order. */
static int def_add(chute_engine *e, procdef *d)
{
    if (e->ndefs == e->defs_cap) {
        size_t cap = e->defs_cap ? e->defs_cap * 2 : 16;
        procdef **n = realloc(e->defs, cap * sizeof *n);
        if (!n)
            return CHUTE_ENOMEM;
        e->defs = n;
        e->defs_cap = cap;
    }
    if (hmap_put(&e->defs_by_key, d->key, d) != 0)
        return CHUTE_ENOMEM;
    assert(e->ndefs == 0 || e->defs[e->ndefs - 1]->key < d->key);
    e->defs[e->ndefs++] = d;
    return 0;
}

/* The definition of |id| at |version|, or its latest when |version| < 0:
 * a scan from the newest (a version is always deployed after the one
 * before it). */
procdef *deploy_find(const chute_engine *e, const char *id, int32_t version)
{
    for (size_t i = e->ndefs; i-- > 0;)
        if (strcmp(e->defs[i]->bpmn_process_id, id) == 0 &&
            (version < 0 || e->defs[i]->version == version))
            return e->defs[i];
    return NULL;
}

static void view_of(const procdef *d, chute_process_view *v)
{
    v->key = d->key;
    v->bpmn_process_id = d->bpmn_process_id;
    v->version = d->version;
    v->resource_name = d->resource_name;
    v->deployment_key = d->deployment_key;
}

static procdef *def_new(int64_t key, const char *id, int32_t version, const char *name,
                        uint64_t checksum, int64_t deployment_key, const void *content,
                        size_t len, void *model)
{
    procdef *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->key = key;
    d->version = version;
    d->checksum = checksum;
    d->deployment_key = deployment_key;
    d->len = len;
    d->bpmn_process_id = strdup(id);
    d->resource_name = strdup(name);
    d->content = malloc(len ? len : 1);
    if (!d->bpmn_process_id || !d->resource_name || !d->content) {
        def_free(d);
        return NULL;
    }
    memcpy(d->content, content, len);
    d->model = model;
    return d;
}

/* ---- loading ---------------------------------------------------------------------- */

static int load_definition(void *ctx, const store_definition *r)
{
    chute_engine *e = ctx;
    chute_resource res = {.name = r->resource_name, .content = r->content, .len = r->len};
    parsed_resource p = {0};
    model_errors errs = {0};
    void *model = NULL;
    if (deploy_parse(&res, &p, &errs) == 0) {
        for (size_t i = 0; i < p.nprocesses; i++) {
            if (strcmp(p.ids[i], r->bpmn_process_id) == 0) {
                model = p.models[i];
                p.models[i] = NULL;
                break;
            }
        }
    }
    deploy_parsed_free(&p);
    if (!model) {
        /* A definition this Chute cannot run any more (it was deployed by
         * a version that supported something this one does not): kept, so
         * its key and version stay taken, but it cannot start instances. */
        const model_errors *list[1] = {&errs};
        char *why = errs.count ? model_errors_format(list, 1) : NULL;
        chute_log_emit(e->opts.log, e->opts.log_ctx, CHUTE_LOG_ERROR,
                       "%s: process definition %lld ('%s' version %d) no longer parses%s%s",
                       e->db_path, (long long)r->key, r->bpmn_process_id, r->version,
                       why ? ": " : "", why ? why : "");
        free(why);
    }
    model_errors_clear(&errs);
    procdef *d = def_new(r->key, r->bpmn_process_id, r->version, r->resource_name, r->checksum,
                         r->deployment_key, r->content, r->len, model);
    if (!d) {
        deploy_model_free(model);
        return CHUTE_ENOMEM;
    }
    if (def_add(e, d) != 0) {
        def_free(d);
        return CHUTE_ENOMEM;
    }
    return 0;
}

int deploy_load(chute_engine *e, chute_error *err)
{
    deploy_clear(e);
    int rc = store_load_definitions(e->st, load_definition, e, err);
    if (rc == CHUTE_ENOMEM)
        return chute_error_set(err, rc, "%s: out of memory while loading process definitions",
                               e->db_path);
    return rc;
}

/* ---- deploying ---------------------------------------------------------------------- */

static int check_resource(const chute_resource *r, size_t i, chute_error *err)
{
    if (!r->name || !*r->name)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to deploy resources with a name, but resource %zu has "
                               "none",
                               i + 1);
    if (strlen(r->name) > CHUTE_RESOURCE_NAME_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected resource names of at most %d bytes, but resource %zu's "
                               "is %zu bytes",
                               CHUTE_RESOURCE_NAME_MAX, i + 1, strlen(r->name));
    if (!r->content || r->len == 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to deploy new resources, but encountered the following "
                               "errors:\n'%s': the resource is empty",
                               r->name);
    return 0;
}

int chute_engine_deploy(chute_engine *e, const chute_resource *res, size_t n,
                        int64_t *deployment_key, const chute_process_view **procs, size_t *nprocs,
                        chute_error *err)
{
    if (n == 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to deploy at least one resource, but none given");
    if (n > CHUTE_MAX_RESOURCES)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to deploy at most %d resources at once, but got %zu",
                               CHUTE_MAX_RESOURCES, n);
    for (size_t i = 0; i < n; i++) {
        int rc = check_resource(&res[i], i, err);
        if (rc != 0)
            return rc;
    }
    /* Parse everything first: one error anywhere rejects the deployment,
     * and every resource's errors are reported together. */
    parsed_resource *parsed = calloc(n, sizeof *parsed);
    model_errors *errs = calloc(n, sizeof *errs);
    const model_errors **refused = calloc(n, sizeof *refused);
    if (!parsed || !errs || !refused) {
        free(parsed);
        free(errs);
        free(refused);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    size_t total = 0, nrefused = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int prc = deploy_parse(&res[i], &parsed[i], &errs[i]);
        if (prc == CHUTE_EINVAL)
            refused[nrefused++] = &errs[i];
        else if (prc != 0)
            rc = chute_error_set(err, prc, "out of memory parsing the resources");
        total += parsed[i].nprocesses;
    }
    if (rc == 0 && nrefused) {
        char *msg = model_errors_format(refused, nrefused);
        rc = chute_error_set(err, CHUTE_EINVAL, "%s",
                             msg ? msg
                                 : "Expected to deploy new resources, but encountered the "
                                   "following errors: (out of memory describing them)");
        free(msg);
    }
    /* The same process id twice in one deployment is ambiguous. */
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t k = 0; k < parsed[i].nprocesses; k++)
            for (size_t i2 = i; i2 < n; i2++)
                for (size_t k2 = i2 == i ? k + 1 : 0; rc == 0 && k2 < parsed[i2].nprocesses; k2++)
                    if (strcmp(parsed[i].ids[k], parsed[i2].ids[k2]) == 0)
                        rc = chute_error_set(
                            err, CHUTE_EINVAL,
                            "Expected to deploy new resources, but encountered the following "
                            "errors:\nDuplicated process id '%s' in resources '%s' and '%s'",
                            parsed[i].ids[k], res[i].name, res[i2].name);
    for (size_t i = 0; i < n; i++)
        model_errors_clear(&errs[i]);
    free(errs);
    free(refused);
    if (rc == 0 && total > e->proc_views_cap) {
        chute_process_view *v = realloc(e->proc_views, total * sizeof *v);
        if (!v)
            rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        else {
            e->proc_views = v;
            e->proc_views_cap = total;
        }
    }
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            deploy_parsed_free(&parsed[i]);
        free(parsed);
        return rc;
    }
    /* Everything parsed: store what is new. */
    int64_t dkey = engine_next_key(e);
    int64_t now = engine_now(e);
    size_t nv = 0;
    e->ndec_views = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (parsed[i].dmn) {
            rc = decide_add(e, &res[i], parsed[i].dmn, dkey, now, err);
            parsed[i].dmn = NULL; /* taken */
            continue;
        }
        uint64_t sum = chute_fnv1a(CHUTE_FNV1A_INIT, res[i].content, res[i].len);
        for (size_t k = 0; k < parsed[i].nprocesses && rc == 0; k++) {
            const char *id = parsed[i].ids[k];
            procdef *prev = deploy_find(e, id, -1);
            if (prev && prev->checksum == sum && prev->len == res[i].len &&
                strcmp(prev->resource_name, res[i].name) == 0 &&
                memcmp(prev->content, res[i].content, res[i].len) == 0) {
                view_of(prev, &e->proc_views[nv++]); /* unchanged: same version and key */
                continue;
            }
            procdef *d = def_new(engine_next_key(e), id, prev ? prev->version + 1 : 1,
                                 res[i].name, sum, dkey, res[i].content, res[i].len,
                                 parsed[i].models[k]);
            if (!d || def_add(e, d) != 0) {
                def_free(d); /* frees the model too */
                parsed[i].models[k] = NULL;
                rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
                break;
            }
            parsed[i].models[k] = NULL; /* the definition holds it now */
            process_timer_starts_deployed(e, d, prev);
            store_definition row = {.key = d->key,
                                    .bpmn_process_id = d->bpmn_process_id,
                                    .version = d->version,
                                    .resource_name = d->resource_name,
                                    .checksum = sum,
                                    .deployment_key = dkey,
                                    .deployed_at = now,
                                    .content = d->content,
                                    .len = d->len};
            engine_persist_definition(e, &row);
            view_of(d, &e->proc_views[nv++]);
        }
    }
    for (size_t i = 0; i < n; i++)
        deploy_parsed_free(&parsed[i]);
    free(parsed);
    if (rc != 0) {
        /* Out of memory half way: what was added must not be committed. */
        engine_batch_fail(e, err);
        return rc;
    }
    *deployment_key = dkey;
    *procs = e->proc_views;
    *nprocs = nv;
    return 0;
}

int chute_engine_get_process(chute_engine *e, int64_t key, chute_process_view *out,
                             const uint8_t **xml, size_t *xml_len, chute_error *err)
{
    procdef *d = hmap_get(&e->defs_by_key, key);
    if (!d)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to find process definition with key '%lld', but none "
                               "found",
                               (long long)key);
    view_of(d, out);
    if (xml) {
        *xml = d->content;
        *xml_len = d->len;
    }
    return 0;
}

int chute_engine_find_process(chute_engine *e, const char *bpmn_process_id, int32_t version,
                              chute_process_view *out, chute_error *err)
{
    const procdef *d = deploy_find(e, bpmn_process_id, version);
    if (d) {
        view_of(d, out);
        return 0;
    }
    if (version >= 0)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to find process definition with process ID '%s' and "
                               "version '%d', but none found",
                               bpmn_process_id, version);
    return chute_error_set(err, CHUTE_ENOTFOUND,
                           "Expected to find process definition with process ID '%s', but none "
                           "found",
                           bpmn_process_id);
}

int deploy_delete(chute_engine *e, procdef *d, chute_error *err)
{
    (void)err;
    size_t i = 0;
    while (i < e->ndefs && e->defs[i] != d)
        i++;
    if (i == e->ndefs)
        return chute_error_set(err, CHUTE_ENOTFOUND, "no such definition");
    engine_delete_definition_row(e, d->key);
    memmove(&e->defs[i], &e->defs[i + 1], (e->ndefs - i - 1) * sizeof *e->defs);
    e->ndefs--;
    hmap_del(&e->defs_by_key, d->key);
    def_free(d);
    return 0;
}
