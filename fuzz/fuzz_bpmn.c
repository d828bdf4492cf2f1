/*
 * libFuzzer target for the BPMN reader (src/model): any input is either
 * refused with well-formed errors or deployed into a model whose every
 * index is in range and whose lists agree with each other; the parse
 * hook's expressions are all freed, refused or not. A broken invariant
 * aborts.
 *
 * Build (clang only):
 *   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCHUTE_SANITIZE=ON -DCHUTE_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_bpmn
 *   build-fuzz/src/model/fuzz_bpmn -dict=fuzz/bpmn.dict -max_total_time=300 fuzz/corpus/bpmn
 */
#include "model/bpmn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long live;

static int parse(void *ctx, const char *src, size_t len, void **out, model_expr_error *err)
{
    (void)ctx;
    if (len == 0 || memchr(src, '!', len)) {
        err->column = 1;
        snprintf(err->message, sizeof err->message, "refused by the fuzz hook");
        return -1;
    }
    char *p = malloc(len + 1);
    if (!p)
        abort();
    memcpy(p, src, len);
    p[len] = '\0';
    *out = p;
    live++;
    return 0;
}

static void release(void *p)
{
    free(p);
    live--;
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_bpmn: invariant broken: %s (line %d)\n", #c, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_expr(const model_expr *e)
{
    if (!e)
        return;
    CHECK(strlen(e->text) <= e->len); /* a NUL inside is impossible: XML has none */
    CHECK(e->is_static ? e->parsed == NULL : e->parsed != NULL);
    if (!e->is_static)
        CHECK(strcmp(e->parsed, e->text) == 0);
}

static void check_process(const model_process *p)
{
    CHECK(p->start < p->element_count);
    CHECK(p->elements[p->start].type == MODEL_ELEMENT_START_EVENT);
    for (uint32_t i = 0; i < p->element_count; i++) {
        const model_element *e = &p->elements[i];
        CHECK(e->id && e->id[0]);
        CHECK(model_process_find(p, e->id, strlen(e->id)) == i);
        CHECK(e->scope == MODEL_NONE);
        for (uint32_t k = 0; k < e->incoming_count; k++)
            CHECK(e->incoming[k] < p->flow_count && p->flows[e->incoming[k]].target == i);
        for (uint32_t k = 0; k < e->outgoing_count; k++)
            CHECK(e->outgoing[k] < p->flow_count && p->flows[e->outgoing[k]].source == i);
        if (e->default_flow != MODEL_NONE)
            CHECK(e->default_flow < p->flow_count && p->flows[e->default_flow].source == i);
        if (e->job) {
            check_expr(e->job->type);
            check_expr(e->job->retries);
            CHECK(e->job->type && e->job->retries);
            CHECK(e->job->headers_json[0] == '{');
            CHECK(strlen(e->job->headers_json) == e->job->headers_json_len);
        }
        if (e->script)
            check_expr(e->script->expression);
        for (uint32_t k = 0; k < e->input_count; k++) {
            check_expr(e->inputs[k].source);
            CHECK(e->inputs[k].target_depth >= 1);
        }
        for (uint32_t k = 0; k < e->output_count; k++) {
            check_expr(e->outputs[k].source);
            CHECK(e->outputs[k].source && !e->outputs[k].source->is_static);
        }
    }
    for (uint32_t i = 0; i < p->flow_count; i++) {
        const model_flow *f = &p->flows[i];
        CHECK(f->source < p->element_count && f->target < p->element_count);
        check_expr(f->condition);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    model_options opts = {parse, release, NULL};
    model_definitions *defs = NULL;
    model_errors errs = {0};
    int rc = model_parse((const char *)data, size, "fuzz.bpmn", &opts, &defs, &errs);
    if (rc == 0) {
        CHECK(defs && defs->process_count >= 1 && errs.count == 0);
        for (uint32_t i = 0; i < defs->process_count; i++)
            check_process(&defs->processes[i]);
        model_definitions_free(defs);
    } else {
        CHECK(rc == CHUTE_EINVAL || rc == CHUTE_ENOMEM);
        CHECK(defs == NULL);
        CHECK(errs.count > 0 && errs.count <= MODEL_MAX_ERRORS);
        for (uint32_t i = 0; i < errs.count; i++)
            CHECK(errs.items[i].message && errs.items[i].message[0]);
        const model_errors *list = &errs;
        char *msg = model_errors_format(&list, 1);
        CHECK(msg != NULL);
        free(msg);
    }
    model_errors_clear(&errs);
    CHECK(live == 0);
    return 0;
}
