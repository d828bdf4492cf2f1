/*
 * libFuzzer target for the DMN module (src/dmn): any input is either
 * refused with well-formed errors, or deployed into decisions whose every
 * index and count agrees with the others; then every decision is
 * evaluated over a fixed set of variables and either fails with a message
 * or gives JSON that jansson reads back (numbers past a double's range
 * excepted, which jansson refuses by design); its traced evaluation
 * agrees and its trace is well formed. A broken invariant aborts.
 *
 * Build (clang only):
 *   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCHUTE_SANITIZE=ON -DCHUTE_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_dmn
 *   build-fuzz/src/dmn/fuzz_dmn -dict=fuzz/dmn.dict -max_total_time=300 fuzz/corpus/dmn
 */
#include "dmn/dmn.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_dmn: invariant broken: %s (line %d)\n", #c, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char vars[] =
    "{\"x\": 5, \"age\": 30, \"tier\": \"gold\", \"s\": \"abc\", \"b\": true, \"n\": null,"
    " \"l\": [1, 2, 3], \"c\": {\"a\": 1}, \"d\": \"2024-01-31\", \"f\": 0.5,"
    " \"fuelLevel\": 80}";

static void check_expr(const dmn_expr *e, int may_be_empty)
{
    CHECK(e->text && strlen(e->text) <= e->len);
    if (!may_be_empty)
        CHECK(e->parsed != NULL);
}

static void check_defs(const dmn_definitions *defs)
{
    CHECK(defs->decision_count >= 1 && defs->decision_count <= DMN_MAX_DECISIONS);
    CHECK(defs->id && defs->name && defs->ns && defs->dmn_ns && defs->resource_name);
    for (uint32_t i = 0; i < defs->decision_count; i++) {
        const dmn_decision *d = &defs->decisions[i];
        CHECK(d->id && d->id[0] && d->name);
        CHECK(dmn_decision_find(defs, d->id, strlen(d->id)) == i);
        for (uint32_t k = 0; k < d->required_count; k++) {
            CHECK(d->required[k] < defs->decision_count && d->required[k] != i);
            for (uint32_t j = 0; j < k; j++)
                CHECK(d->required[j] != d->required[k]);
        }
        /* The order holds each requirement before what requires it, and
         * ends with the decision itself. */
        CHECK(d->order_count >= 1 && d->order_count <= defs->decision_count);
        CHECK(d->order[d->order_count - 1] == i);
        for (uint32_t k = 0; k < d->order_count; k++) {
            const dmn_decision *x = &defs->decisions[d->order[k]];
            for (uint32_t r = 0; r < x->required_count; r++) {
                int before = 0;
                for (uint32_t j = 0; j < k; j++)
                    before |= d->order[j] == x->required[r];
                CHECK(before);
            }
        }
        if (d->kind == DMN_DECISION_LITERAL) {
            CHECK(d->literal && !d->table);
            check_expr(d->literal, 0);
            continue;
        }
        CHECK(d->kind == DMN_DECISION_TABLE && d->table && !d->literal);
        const dmn_table *t = d->table;
        CHECK((unsigned)t->hit_policy < DMN_HIT_POLICY_COUNT);
        CHECK(t->aggregation == DMN_AGG_NONE ||
              (t->hit_policy == DMN_HIT_COLLECT && t->output_count == 1));
        CHECK(t->input_count <= DMN_MAX_INPUTS && t->rule_count <= DMN_MAX_RULES);
        CHECK(t->output_count >= 1 && t->output_count <= DMN_MAX_OUTPUTS);
        for (uint32_t k = 0; k < t->input_count; k++)
            check_expr(&t->inputs[k].expression, 0);
        int any_priorities = 0;
        for (uint32_t o = 0; o < t->output_count; o++) {
            const dmn_output *out = &t->outputs[o];
            if (t->output_count > 1) {
                CHECK(out->name[0]);
                for (uint32_t p = 0; p < o; p++)
                    CHECK(strcmp(t->outputs[p].name, out->name) != 0);
            }
            if (out->priorities) {
                any_priorities = 1;
                CHECK(out->priorities[0] == '[');
            }
            if (out->has_default)
                check_expr(&out->default_entry, 0);
        }
        if (t->hit_policy == DMN_HIT_PRIORITY || t->hit_policy == DMN_HIT_OUTPUT_ORDER)
            CHECK(any_priorities);
        for (uint32_t r = 0; r < t->rule_count; r++) {
            for (uint32_t k = 0; k < t->input_count; k++)
                check_expr(&t->rules[r].input_entries[k], 1);
            for (uint32_t o = 0; o < t->output_count; o++)
                check_expr(&t->rules[r].output_entries[o], 1);
        }
    }
}

static const json_t *lookup(void *ctx, const char *name, size_t len)
{
    return json_object_getn(ctx, name, len);
}

/* The traced evaluation of decision |i| agrees with the plain one (|rc|):
 * the same verdict, a trace that ends with the decision asked for or the
 * one that failed, values that are text and counts within the table. */
static void check_traced(const dmn_definitions *defs, uint32_t i, int rc)
{
    json_t *v = json_loads(vars, 0, NULL);
    CHECK(v != NULL);
    feel_env env = {lookup, v, 1706700000000LL};
    dmn_trace t = {0};
    dmn_eval_error err;
    char *out = NULL;
    int trc = dmn_evaluate_traced(defs, i, &env, &t, &out, NULL, &err);
    /* A trace may run out of the byte bound where the plain one did not. */
    CHECK(trc == rc || (rc == 0 && trc == CHUTE_EINVAL));
    if (trc == 0) {
        CHECK(t.count >= 1 && t.decisions[t.count - 1].decision == i);
        CHECK(strcmp(t.decisions[t.count - 1].output, out) == 0);
    }
    if (trc == CHUTE_EINVAL && t.count > 0 && err.decision_id)
        CHECK(strcmp(defs->decisions[t.decisions[t.count - 1].decision].id, err.decision_id) == 0);
    for (uint32_t k = 0; k < t.count; k++) {
        const dmn_traced_decision *d = &t.decisions[k];
        const dmn_decision *dec = &defs->decisions[d->decision];
        CHECK(d->decision < defs->decision_count && d->output);
        uint32_t inputs = dec->kind == DMN_DECISION_TABLE ? dec->table->input_count : 0;
        uint32_t rules = dec->kind == DMN_DECISION_TABLE ? dec->table->rule_count : 0;
        CHECK(d->input_count <= inputs && d->rule_count <= rules);
        for (uint32_t n = 0; n < d->input_count; n++)
            CHECK(d->inputs[n].id && d->inputs[n].name && d->inputs[n].value);
        for (uint32_t r = 0; r < d->rule_count; r++) {
            CHECK(d->rules[r].index >= 1 && d->rules[r].index <= rules);
            CHECK(d->rules[r].output_count <= dec->table->output_count);
            for (uint32_t o = 0; o < d->rules[r].output_count; o++)
                CHECK(d->rules[r].outputs[o].value != NULL);
        }
    }
    free(out);
    dmn_trace_free(&t);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dmn_definitions *defs = NULL;
    model_errors errs = {0};
    int rc = dmn_parse((const char *)data, size, "fuzz.dmn", NULL, &defs, &errs);
    if (rc != 0) {
        CHECK(rc == CHUTE_EINVAL || rc == CHUTE_ENOMEM);
        CHECK(defs == NULL);
        CHECK(errs.count > 0 && errs.count <= MODEL_MAX_ERRORS);
        for (uint32_t i = 0; i < errs.count; i++)
            CHECK(errs.items[i].message && errs.items[i].message[0]);
        const model_errors *list = &errs;
        char *msg = model_errors_format(&list, 1);
        CHECK(msg != NULL);
        free(msg);
        model_errors_clear(&errs);
        return 0;
    }
    CHECK(defs && errs.count == 0);
    check_defs(defs);
    for (uint32_t i = 0; i < defs->decision_count && i < 8; i++) {
        char *out = NULL;
        dmn_eval_error err;
        rc = dmn_evaluate(defs, defs->decisions[i].id, vars, 1706700000000LL, &out, &err);
        if (rc == 0) {
            CHECK(out && strlen(out) <= DMN_MAX_RESULT);
            json_error_t je;
            json_t *j =
                json_loads(out, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
            if (!j && !strstr(je.text, "overflow") && !strstr(je.text, "NUL byte in object key")) {
                fprintf(stderr, "fuzz_dmn: result is not JSON (%s): %s\n", je.text, out);
                abort();
            }
            json_decref(j);
            free(out);
        } else {
            CHECK(rc == CHUTE_EINVAL || rc == CHUTE_ENOMEM);
            CHECK(err.message[0]);
            CHECK(out == NULL);
        }
        check_traced(defs, i, rc);
    }
    dmn_definitions_free(defs);
    model_errors_clear(&errs);
    return 0;
}
