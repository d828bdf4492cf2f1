/*
 * The resource parser behind deploy.c: BPMN documents through src/model,
 * with every expression parsed by src/feel at deploy time.
 *
 * The processes of one resource share its parsed definitions; each
 * definition holds a process_model, and the definitions are freed with the
 * last of them.
 */
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feel/feel.h"
#include "model/bpmn.h"
#include "dmn/dmn.h"

typedef struct shared_defs {
    model_definitions *defs;
    unsigned refs;
} shared_defs;

typedef struct process_model {
    shared_defs *shared;
    const model_process *process;
} process_model;

static int parse_feel(void *ctx, const char *src, size_t len, void **out, model_expr_error *err)
{
    (void)ctx;
    feel_expr *e;
    feel_error fe;
    if (feel_parse(src, len, &e, &fe) != 0) {
        err->column = fe.column;
        snprintf(err->message, sizeof err->message, "%s", fe.message);
        return -1;
    }
    *out = e;
    return 0;
}

static void free_feel(void *e)
{
    feel_expr_free(e);
}

static const model_options feel_hook = {parse_feel, free_feel, NULL};

int deploy_parse(const chute_resource *r, parsed_resource *out, model_errors *errs)
{
    memset(out, 0, sizeof *out);
    if (decide_is_dmn(r))
        return decide_parse(r, &out->dmn, errs);
    model_definitions *defs = NULL;
    int rc = model_parse((const char *)r->content, r->len, r->name, &feel_hook, &defs, errs);
    if (rc != 0)
        return rc;
    shared_defs *s = malloc(sizeof *s);
    out->ids = calloc(defs->process_count, sizeof *out->ids);
    out->models = calloc(defs->process_count, sizeof *out->models);
    if (!s || !out->ids || !out->models) {
        free(s);
        free(out->ids);
        free(out->models);
        memset(out, 0, sizeof *out);
        model_definitions_free(defs);
        return CHUTE_ENOMEM;
    }
    s->defs = defs;
    s->refs = 0;
    for (uint32_t i = 0; i < defs->process_count; i++) {
        process_model *m = malloc(sizeof *m);
        if (!m) {
            if (out->nprocesses > 0) {
                deploy_parsed_free(out); /* the last model frees defs and s */
            } else {
                free(out->ids);
                free(out->models);
                memset(out, 0, sizeof *out);
                model_definitions_free(defs);
                free(s);
            }
            return CHUTE_ENOMEM;
        }
        m->shared = s;
        m->process = &defs->processes[i];
        s->refs++;
        out->ids[i] = (char *)defs->processes[i].id;
        out->models[i] = m;
        out->nprocesses++;
    }
    return 0;
}

void deploy_model_free(void *model)
{
    process_model *m = model;
    if (!m)
        return;
    if (--m->shared->refs == 0) {
        model_definitions_free(m->shared->defs);
        free(m->shared);
    }
    free(m);
}

void deploy_parsed_free(parsed_resource *p)
{
    dmn_definitions_free(p->dmn);
    for (size_t i = 0; i < p->nprocesses; i++)
        deploy_model_free(p->models[i]);
    free(p->ids);
    free(p->models);
    memset(p, 0, sizeof *p);
}

const model_process *deploy_process_of(const void *model)
{
    return model ? ((const process_model *)model)->process : NULL;
}
