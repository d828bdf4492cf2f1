/*
 * Embedding Chute's process engine: a BPMN model deployed and run with
 * in-process handlers, no network at all.
 *
 *   build/example_embedded_process [DATA_DIR] [MODEL.bpmn]
 *
 * Without MODEL it deploys the order process written below (check stock,
 * then an exclusive gateway: charge the card when the order is in stock,
 * else notify the customer). It starts five instances, runs them to their
 * end with chute_engine_run (the handlers are the service tasks), and
 * prints each instance's variables.
 */
#include <chute/engine.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MODEL[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"\n"
    "    xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"order-defs\">\n"
    "  <bpmn:process id=\"order\" isExecutable=\"true\">\n"
    "    <bpmn:startEvent id=\"received\"/>\n"
    "    <bpmn:sequenceFlow id=\"f1\" sourceRef=\"received\" targetRef=\"check\"/>\n"
    "    <bpmn:serviceTask id=\"check\" name=\"Check stock\">\n"
    "      <bpmn:extensionElements><zeebe:taskDefinition type=\"check-stock\"/>\n"
    "      </bpmn:extensionElements></bpmn:serviceTask>\n"
    "    <bpmn:sequenceFlow id=\"f2\" sourceRef=\"check\" targetRef=\"inStock\"/>\n"
    "    <bpmn:exclusiveGateway id=\"inStock\" default=\"no\"/>\n"
    "    <bpmn:sequenceFlow id=\"yes\" sourceRef=\"inStock\" targetRef=\"charge\">\n"
    "      <bpmn:conditionExpression>=stock &gt;= quantity</bpmn:conditionExpression>\n"
    "    </bpmn:sequenceFlow>\n"
    "    <bpmn:sequenceFlow id=\"no\" sourceRef=\"inStock\" targetRef=\"notify\"/>\n"
    "    <bpmn:serviceTask id=\"charge\" name=\"Charge card\">\n"
    "      <bpmn:extensionElements><zeebe:taskDefinition type=\"charge-card\"/>\n"
    "      </bpmn:extensionElements></bpmn:serviceTask>\n"
    "    <bpmn:serviceTask id=\"notify\" name=\"Tell the customer\">\n"
    "      <bpmn:extensionElements><zeebe:taskDefinition type=\"notify-customer\"/>\n"
    "      </bpmn:extensionElements></bpmn:serviceTask>\n"
    "    <bpmn:sequenceFlow id=\"f3\" sourceRef=\"charge\" targetRef=\"done\"/>\n"
    "    <bpmn:sequenceFlow id=\"f4\" sourceRef=\"notify\" targetRef=\"done\"/>\n"
    "    <bpmn:endEvent id=\"done\"/>\n"
    "  </bpmn:process>\n"
    "</bpmn:definitions>\n";

static void check_stock(void *ctx, chute_engine *e, const chute_job_view *job)
{
    int *calls = ctx;
    chute_error err;
    /* Every other order finds the shelf empty. */
    const char *vars = (*calls)++ % 2 ? "{\"stock\":0}" : "{\"stock\":9}";
    if (chute_engine_complete(e, job->key, vars, 0, &err) != 0)
        fprintf(stderr, "check-stock: %s\n", err.message);
}

static void charge_card(void *ctx, chute_engine *e, const chute_job_view *job)
{
    (void)ctx;
    chute_error err;
    if (chute_engine_complete(e, job->key, "{\"charged\":true}", 0, &err) != 0)
        fprintf(stderr, "charge-card: %s\n", err.message);
}

static void notify_customer(void *ctx, chute_engine *e, const chute_job_view *job)
{
    (void)ctx;
    chute_error err;
    if (chute_engine_complete(e, job->key, "{\"notified\":true}", 0, &err) != 0)
        fprintf(stderr, "notify-customer: %s\n", err.message);
}

static void finished(void *ctx, const chute_instance_view *inst)
{
    int *done = ctx;
    (*done)++;
    printf("instance %lld %s: %.*s\n", (long long)inst->key, chute_instance_state_name(inst->state),
           (int)inst->variables_len, inst->variables);
}

/* Reads a whole file (the model to deploy); NULL on failure. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap = n + 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    chute_engine_options opts;
    chute_engine_options_init(&opts);
    opts.data_dir = argc > 1 ? argv[1] : "./example-process-data";
    chute_engine *e;
    chute_error err;
    if (chute_engine_open(&e, &opts, &err) != 0) {
        fprintf(stderr, "cannot open the engine: %s\n", err.message);
        return 1;
    }
    size_t len = sizeof MODEL - 1;
    char *file = NULL;
    if (argc > 2 && !(file = slurp(argv[2], &len))) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    chute_resource res = {argc > 2 ? argv[2] : "order.bpmn",
                          (const uint8_t *)(file ? file : MODEL), len};
    int64_t deployment;
    const chute_process_view *procs;
    size_t nprocs;
    if (chute_engine_deploy(e, &res, 1, &deployment, &procs, &nprocs, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    char id[256];
    snprintf(id, sizeof id, "%s", procs[0].bpmn_process_id);
    printf("deployed %s version %d\n", id, procs[0].version);
    free(file);

    int checks = 0;
    chute_engine_register_handler(e, "check-stock", check_stock, &checks, NULL, &err);
    chute_engine_register_handler(e, "charge-card", charge_card, NULL, NULL, &err);
    chute_engine_register_handler(e, "notify-customer", notify_customer, NULL, NULL, &err);

    int done = 0, started = 0;
    chute_instance_await await = {finished, &done, NULL, 0};
    for (int i = 0; i < 5; i++) {
        char vars[64];
        snprintf(vars, sizeof vars, "{\"orderId\":\"order-%d\",\"quantity\":%d}", i, i + 1);
        chute_instance_spec spec = {.bpmn_process_id = id, .version = -1, .variables = vars};
        chute_instance_view inst;
        chute_awaiter *waiting;
        if (chute_engine_create_instance(e, &spec, &await, &inst, &waiting, &err) != 0) {
            fprintf(stderr, "create: %s\n", err.message);
            return 1;
        }
        started++;
    }
    if (chute_engine_commit(e, &err) != 0 ||
        chute_engine_run(e, chute_engine_now(e) + 10000, &err) != 0) {
        fprintf(stderr, "run: %s\n", err.message);
        return 1;
    }
    printf("%d of %d instances ended\n", done, started);
    chute_engine_close(e);
    return done == started ? 0 : 1;
}
