/*
 * Process instances in the engine (src/engine/process.c): each test checks
 * what Zeebe does for the same model. Models are written inline, small
 * enough to read at a glance; the real models of the corpus are deployed
 * by the daemon and compatibility tests.
 */
#define _GNU_SOURCE /* asprintf */
#include "engine_fixture.h"

#define NS                                                                                         \
    "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                                  \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\""

/* Deploys a process "p" whose body is |body|; returns its key. */
static int64_t deploy(fx *f, const char *body)
{
    char *xml = NULL;
    assert_true(asprintf(&xml,
                         "<bpmn:definitions " NS " id=\"d\"><bpmn:process id=\"p\" "
                         "isExecutable=\"true\">%s</bpmn:process></bpmn:definitions>",
                         body) > 0);
    chute_resource r = {"p.bpmn", (const uint8_t *)xml, strlen(xml)};
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err));
    int64_t key = pv[0].key;
    free(xml);
    return key;
}

#define TASK(id, type)                                                                             \
    "<bpmn:serviceTask id=\"" id "\"><bpmn:extensionElements><zeebe:taskDefinition type=\"" type  \
    "\"/></bpmn:extensionElements></bpmn:serviceTask>"
#define FLOW(id, from, to) "<bpmn:sequenceFlow id=\"" id "\" sourceRef=\"" from "\" targetRef=\"" to "\"/>"
#define CFLOW(id, from, to, cond)                                                                  \
    "<bpmn:sequenceFlow id=\"" id "\" sourceRef=\"" from "\" targetRef=\"" to                      \
    "\"><bpmn:conditionExpression>" cond "</bpmn:conditionExpression></bpmn:sequenceFlow>"

static int64_t start(fx *f, const char *vars)
{
    chute_instance_spec s = {.bpmn_process_id = "p", .version = -1, .variables = vars};
    chute_instance_view v;
    assert_ok(f, chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err));
    return v.key;
}

static chute_instance_state state_of(fx *f, int64_t key)
{
    chute_instance_view v;
    assert_ok(f, chute_engine_get_instance(f->e, key, &v, &f->err));
    return v.state;
}

/* The root variables of |key| as a JSON text (static buffer). */
static const char *root_vars(fx *f, int64_t key)
{
    static char buf[4096];
    chute_instance_view v;
    assert_ok(f, chute_engine_get_instance(f->e, key, &v, &f->err));
    snprintf(buf, sizeof buf, "%.*s", (int)v.variables_len, v.variables);
    return buf;
}

/* Activates one job of |type|, asserting there is one; copies the view. */
typedef struct got {
    int64_t key;
    char vars[4096];
    char headers[1024];
    chute_process_ref ref;
    char element_id[64];
} got;

static int activate_one(fx *f, const char *type, got *out)
{
    chute_activate_request req = {.type = type, .worker = "w", .timeout_ms = 60000,
                                  .max_jobs = 1};
    const chute_job_view *jobs;
    size_t n;
    assert_ok(f, chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err));
    if (n == 0)
        return 0;
    out->key = jobs[0].key;
    snprintf(out->vars, sizeof out->vars, "%.*s", (int)jobs[0].variables_len, jobs[0].variables);
    snprintf(out->headers, sizeof out->headers, "%.*s", (int)jobs[0].headers_len,
             jobs[0].headers);
    out->ref = jobs[0].process;
    snprintf(out->element_id, sizeof out->element_id, "%s", jobs[0].process.element_id);
    return 1;
}

static void complete(fx *f, const char *type, const char *vars)
{
    got g;
    assert_int_equal(activate_one(f, type, &g), 1);
    assert_ok(f, chute_engine_complete(f->e, g.key, vars, 0, &f->err));
}

/* ---- the getting-started order process ------------------------------------------ */

typedef struct awaited {
    int calls;
    chute_instance_state state;
    char vars[1024];
} awaited;

static void on_done(void *ctx, const chute_instance_view *v)
{
    awaited *a = ctx;
    a->calls++;
    a->state = v->state;
    snprintf(a->vars, sizeof a->vars, "%.*s", (int)v->variables_len, v->variables);
}

typedef struct element_ids {
    char ids[8][16];
    int n, completed;
} element_ids;

static int collect_ids(void *ctx, const chute_element_view *el)
{
    element_ids *x = ctx;
    if (x->n < 8)
        snprintf(x->ids[x->n], sizeof x->ids[0], "%s", el->element_id);
    x->n++;
    x->completed += el->state == CHUTE_INSTANCE_COMPLETED;
    return 0;
}

static void test_order_process_runs_to_completion(void **state)
{
    fx *f = *state;
    int64_t def = deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f1", "s", "a") TASK("a", "check")
                            FLOW("f2", "a", "b") TASK("b", "charge") FLOW("f3", "b", "c")
                                TASK("c", "ship") FLOW("f4", "c", "e") "<bpmn:endEvent id=\"e\"/>");
    awaited aw = {0};
    const char *fetch[] = {"orderId", "shipped"};
    chute_instance_await await = {on_done, &aw, fetch, 2};
    chute_instance_spec s = {.bpmn_process_id = "p", .version = -1,
                             .variables = "{\"orderId\":\"o-1\",\"total\":12.5}"};
    chute_instance_view v;
    chute_awaiter *h = NULL;
    assert_ok(f, chute_engine_create_instance(f->e, &s, &await, &v, &h, &f->err));
    assert_non_null(h);
    assert_int_equal(v.state, CHUTE_INSTANCE_ACTIVE);
    assert_int_equal(v.process_definition_key, def);
    assert_int_equal(v.version, 1);
    assert_string_equal(v.bpmn_process_id, "p");

    got g;
    assert_int_equal(activate_one(f, "check", &g), 1);
    assert_int_equal(g.ref.process_instance_key, v.key);
    assert_int_equal(g.ref.process_definition_key, def);
    assert_int_equal(g.ref.process_definition_version, 1);
    assert_string_equal(g.element_id, "a");
    assert_true(g.ref.element_instance_key != 0 && g.ref.element_instance_key != v.key);
    assert_json_equal(g.vars, "{\"orderId\":\"o-1\",\"total\":12.5}");
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"inStock\":true}", 0, &f->err));
    /* Completed: the job is gone for every worker. */
    assert_rejected(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(activate_one(f, "check", &g), 0);

    assert_int_equal(activate_one(f, "charge", &g), 1);
    assert_json_equal(g.vars, "{\"orderId\":\"o-1\",\"total\":12.5,\"inStock\":true}");
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"paid\":12.5}", 0, &f->err));
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    assert_int_equal(aw.calls, 0);
    complete(f, "ship", "{\"shipped\":true}");
    assert_int_equal(aw.calls, 1);
    assert_int_equal(aw.state, CHUTE_INSTANCE_COMPLETED);
    assert_json_equal(aw.vars, "{\"orderId\":\"o-1\",\"shipped\":true}");
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    assert_int_equal(state_of(f, v.key), CHUTE_INSTANCE_COMPLETED);
    assert_json_equal(root_vars(f, v.key), "{\"orderId\":\"o-1\",\"total\":12.5,\"inStock\":true,"
                                           "\"paid\":12.5,\"shipped\":true}");
    /* Every element instance, in activation order, all completed. */
    element_ids els = {0};
    assert_ok(f, chute_engine_list_elements(f->e, v.key, collect_ids, &els, &f->err));
    assert_int_equal(els.n, 6);
    assert_string_equal(els.ids[0], "p");
    assert_string_equal(els.ids[1], "s");
    assert_string_equal(els.ids[4], "c");
    assert_string_equal(els.ids[5], "e");
    assert_int_equal(els.completed, 6);
}

/* ---- exclusive gateway ----------------------------------------------------------------- */

static const char *const XOR =
    "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "g")
    "<bpmn:exclusiveGateway id=\"g\" default=\"fd\"/>" CFLOW("fa", "g", "a", "=x &gt; 10")
        CFLOW("fb", "g", "b", "=x &gt; 5") FLOW("fd", "g", "dd") TASK("a", "big") TASK("b", "mid")
            TASK("dd", "small");

static void test_exclusive_gateway_first_match_then_default(void **state)
{
    fx *f = *state;
    deploy(f, XOR);
    start(f, "{\"x\":20}"); /* both conditions hold: the first in XML order wins */
    start(f, "{\"x\":7}");
    start(f, "{\"x\":1}");
    start(f, "{}"); /* x is null: both conditions are null, so false: the default */
    got g;
    assert_int_equal(activate_one(f, "big", &g), 1);
    assert_int_equal(activate_one(f, "big", &g), 0);
    assert_int_equal(activate_one(f, "mid", &g), 1);
    assert_int_equal(activate_one(f, "small", &g), 1);
    assert_int_equal(activate_one(f, "small", &g), 1);
}

static int first_incident(void *ctx, const chute_incident_view *inc)
{
    chute_incident_view *out = ctx;
    if (!out->key) {
        *out = *inc;
        out->message = strdup(inc->message);
        out->element_id = strdup(inc->element_id);
    }
    return 0;
}

static void test_exclusive_gateway_no_match_raises_incident_then_resolves(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "g")
              "<bpmn:exclusiveGateway id=\"g\"/>" CFLOW("fa", "g", "a", "=x &gt; 10")
                  CFLOW("fb", "g", "b", "=x &lt; 0") TASK("a", "big") TASK("b", "neg"));
    int64_t pi = start(f, "{\"x\":3}");
    chute_instance_view v;
    assert_ok(f, chute_engine_get_instance(f->e, pi, &v, &f->err));
    assert_int_equal(v.state, CHUTE_INSTANCE_ACTIVE);
    assert_int_equal(v.has_incident, 1);
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_CONDITION_ERROR);
    assert_string_equal(inc.element_id, "g");
    assert_int_equal(inc.job_key, 0);
    assert_contains(inc.message, "Expected at least one condition to evaluate to true");
    /* Resolving without a fix raises a new incident; fixing x lets it go on. */
    assert_ok(f, chute_engine_set_variables(f->e, pi, "{\"x\":11}", 0, 0, NULL, &f->err));
    assert_ok(f, chute_engine_resolve_incident(f->e, inc.key, &f->err));
    assert_rejected(f, chute_engine_resolve_incident(f->e, inc.key, &f->err), CHUTE_ENOTFOUND);
    got g;
    assert_int_equal(activate_one(f, "big", &g), 1);
    assert_ok(f, chute_engine_get_instance(f->e, pi, &v, &f->err));
    assert_int_equal(v.has_incident, 0);
    /* The resolved incident stays in the instance's history. */
    chute_incident_view again = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &again));
    assert_int_equal(again.key, inc.key);
    assert_int_equal(again.resolved, 1);
    free((char *)inc.message);
    free((char *)inc.element_id);
    free((char *)again.message);
    free((char *)again.element_id);
}

static void test_condition_of_wrong_type_is_condition_error(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "g")
              "<bpmn:exclusiveGateway id=\"g\" default=\"fd\"/>" CFLOW("fa", "g", "a", "=x + 1")
                  FLOW("fd", "g", "a") TASK("a", "t"));
    int64_t pi = start(f, "{\"x\":1}");
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_CONDITION_ERROR);
    assert_contains(inc.message, "to be 'BOOLEAN', but was 'NUMBER'");
    free((char *)inc.message);
    free((char *)inc.element_id);
}

/* ---- parallel gateway -------------------------------------------------------------------- */

static void test_parallel_join_waits_for_every_branch(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "fork")
              "<bpmn:parallelGateway id=\"fork\"/>" FLOW("f1", "fork", "a") FLOW("f2", "fork", "b")
                  FLOW("f3", "fork", "c") TASK("a", "ta") TASK("b", "tb") TASK("c", "tc")
                      FLOW("f4", "a", "join") FLOW("f5", "b", "join") FLOW("f6", "c", "join")
                          "<bpmn:parallelGateway id=\"join\"/>" FLOW("f7", "join", "after")
                              TASK("after", "tafter"));
    int64_t pi = start(f, NULL);
    got g;
    complete(f, "tb", "{\"b\":1}");
    assert_int_equal(activate_one(f, "tafter", &g), 0);
    complete(f, "ta", "{\"a\":1}");
    assert_int_equal(activate_one(f, "tafter", &g), 0);
    /* Restart while one token waits at the join: the count survives. */
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f);
    complete(f, "tc", "{\"c\":1}");
    assert_int_equal(activate_one(f, "tafter", &g), 1);
    assert_json_equal(g.vars, "{\"a\":1,\"b\":1,\"c\":1}");
    assert_int_equal(activate_one(f, "tafter", &g), 0); /* one token past the join */
    assert_ok(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err));
    assert_int_equal(state_of(f, pi), CHUTE_INSTANCE_COMPLETED);
}

static void test_inclusive_fork_takes_every_true_flow(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "g")
              "<bpmn:inclusiveGateway id=\"g\" default=\"fd\"/>" CFLOW("fa", "g", "a", "=x &gt; 1")
                  CFLOW("fb", "g", "b", "=x &gt; 2") FLOW("fd", "g", "dd") TASK("a", "ta")
                      TASK("b", "tb") TASK("dd", "td"));
    start(f, "{\"x\":5}"); /* both conditions: both flows */
    start(f, "{\"x\":0}"); /* none: the default */
    got g;
    assert_int_equal(activate_one(f, "ta", &g), 1);
    assert_int_equal(activate_one(f, "tb", &g), 1);
    assert_int_equal(activate_one(f, "td", &g), 1);
    assert_int_equal(activate_one(f, "td", &g), 0);
    /* A joining inclusive gateway is refused when deployed. */
    char *xml = NULL;
    assert_true(asprintf(&xml,
                         "<bpmn:definitions " NS " id=\"d\"><bpmn:process id=\"q\" "
                         "isExecutable=\"true\"><bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a")
                         FLOW("f1", "s", "b") "<bpmn:task id=\"a\"/><bpmn:task id=\"b\"/>"
                         FLOW("f2", "a", "j") FLOW("f3", "b", "j")
                         "<bpmn:inclusiveGateway id=\"j\"/></bpmn:process></bpmn:definitions>") > 0);
    chute_resource r = {"q.bpmn", (const uint8_t *)xml, strlen(xml)};
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    assert_rejected(f, chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "- Element: j");
    assert_contains(f->err.message, "inclusive gateway that joins");
    free(xml);
}

/* ---- io mappings --------------------------------------------------------------------------- */

static void test_output_mappings_keep_unmapped_results_local(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a")
              "<bpmn:serviceTask id=\"a\"><bpmn:extensionElements>"
              "<zeebe:taskDefinition type=\"t\"/><zeebe:ioMapping>"
              "<zeebe:input source=\"=order.id\" target=\"orderId\"/>"
              "<zeebe:input source=\"=order.total * 2\" target=\"local.doubled\"/>"
              "<zeebe:output source=\"=result.code\" target=\"code\"/>"
              "<zeebe:output source=\"=orderId\" target=\"summary.id\"/>"
              "</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>" FLOW("f1", "a", "b")
                  TASK("b", "next"));
    int64_t pi = start(f, "{\"order\":{\"id\":\"o-7\",\"total\":4},\"summary\":{\"n\":1}}");
    got g;
    assert_int_equal(activate_one(f, "t", &g), 1);
    /* The job sees the inputs as locals, beside the process's variables. */
    assert_json_equal(g.vars, "{\"local\":{\"doubled\":8},\"orderId\":\"o-7\","
                              "\"order\":{\"id\":\"o-7\",\"total\":4},\"summary\":{\"n\":1}}");
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"result\":{\"code\":200},\"noise\":1}", 0,
                                       &f->err));
    /* Only the outputs reach the process: neither the job's other results
     * nor the input-mapped locals; a nested target merges into the object. */
    assert_json_equal(root_vars(f, pi), "{\"code\":200,\"order\":{\"id\":\"o-7\",\"total\":4},"
                                        "\"summary\":{\"n\":1,\"id\":\"o-7\"}}");
}

static void test_input_mapped_local_does_not_leak(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a")
              "<bpmn:serviceTask id=\"a\"><bpmn:extensionElements>"
              "<zeebe:taskDefinition type=\"t\"/><zeebe:ioMapping>"
              "<zeebe:input source=\"=5\" target=\"x\"/>"
              "</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>" FLOW("f1", "a", "b")
                  TASK("b", "next"));
    int64_t pi = start(f, "{\"x\":1}");
    got g;
    assert_int_equal(activate_one(f, "t", &g), 1);
    assert_json_equal(g.vars, "{\"x\":5}"); /* the local shadows the process's x */
    /* Without outputs the result propagates: x lands in the local scope
     * that has it, y (new) in the root. */
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"x\":6,\"y\":2}", 0, &f->err));
    assert_json_equal(root_vars(f, pi), "{\"x\":1,\"y\":2}");
}

static void test_failing_input_mapping_raises_io_mapping_error(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a")
              "<bpmn:serviceTask id=\"a\"><bpmn:extensionElements>"
              "<zeebe:taskDefinition type=\"t\"/><zeebe:ioMapping>"
              "<zeebe:input source=\"=assert(x, x != null)\" target=\"y\"/>"
              "</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>");
    int64_t pi = start(f, NULL);
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_IO_MAPPING_ERROR);
    assert_string_equal(inc.element_id, "a");
    got g;
    assert_int_equal(activate_one(f, "t", &g), 0);
    assert_ok(f, chute_engine_set_variables(f->e, pi, "{\"x\":1}", 0, 0, NULL, &f->err));
    assert_ok(f, chute_engine_resolve_incident(f->e, inc.key, &f->err));
    assert_int_equal(activate_one(f, "t", &g), 1);
    free((char *)inc.message);
    free((char *)inc.element_id);
}

/* ---- script tasks and FEEL nulls ------------------------------------------------------------ */

static void test_script_task_and_feel_nulls(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "sc")
              "<bpmn:scriptTask id=\"sc\"><bpmn:extensionElements>"
              "<zeebe:script expression=\"=if missing = null then price * qty else 0\" "
              "resultVariable=\"total\"/></bpmn:extensionElements></bpmn:scriptTask>"
              FLOW("f1", "sc", "sc2")
              "<bpmn:scriptTask id=\"sc2\"><bpmn:extensionElements>"
              "<zeebe:script expression=\"=missing + 1\" resultVariable=\"n\"/>"
              "</bpmn:extensionElements></bpmn:scriptTask>" FLOW("f2", "sc2", "e")
              "<bpmn:endEvent id=\"e\"/>");
    int64_t pi = start(f, "{\"price\":2.5,\"qty\":4}");
    /* No job: the instance ran to its end inside the create. */
    assert_int_equal(state_of(f, pi), CHUTE_INSTANCE_COMPLETED);
    assert_json_equal(root_vars(f, pi), "{\"price\":2.5,\"qty\":4,\"total\":10,\"n\":null}");
}

static void test_job_type_expression_and_headers(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a")
              "<bpmn:serviceTask id=\"a\"><bpmn:extensionElements>"
              "<zeebe:taskDefinition type=\"=&quot;pay-&quot; + method\" retries=\"=tries\"/>"
              "<zeebe:taskHeaders><zeebe:header key=\"k\" value=\"v\"/></zeebe:taskHeaders>"
              "</bpmn:extensionElements></bpmn:serviceTask>");
    start(f, "{\"method\":\"card\",\"tries\":5}");
    got g;
    assert_int_equal(activate_one(f, "pay-card", &g), 1);
    assert_json_equal(g.headers, "{\"k\":\"v\"}");
    chute_job_view jv;
    assert_ok(f, chute_engine_get(f->e, g.key, &jv, &f->err));
    assert_int_equal(jv.retries, 5);
    /* A type that is not a string is an incident, no job. */
    int64_t pi = start(f, "{\"method\":null,\"tries\":1}");
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR);
    free((char *)inc.message);
    free((char *)inc.element_id);
}

/* ---- failures, errors, cancel ------------------------------------------------------------------ */

static void test_fail_without_retries_then_resolve(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "t") FLOW("f1", "a", "e")
              "<bpmn:endEvent id=\"e\"/>");
    int64_t pi = start(f, NULL);
    got g;
    assert_int_equal(activate_one(f, "t", &g), 1);
    assert_ok(f, chute_engine_fail(f->e, g.key, 0, "card declined", 0, "{\"reason\":\"x\"}", 0,
                                   &f->err));
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_JOB_NO_RETRIES);
    assert_int_equal(inc.job_key, g.key);
    assert_string_equal(inc.element_id, "a");
    assert_string_equal(inc.message, "card declined");
    chute_instance_view v;
    assert_ok(f, chute_engine_get_instance(f->e, pi, &v, &f->err));
    assert_int_equal(v.has_incident, 1);
    /* The fail's variables are local to the task: not in the root. */
    assert_json_equal(v.variables, "{}");
    assert_rejected(f, chute_engine_resolve_incident(f->e, inc.key, &f->err), CHUTE_ESTATE);
    assert_ok(f, chute_engine_update_retries(f->e, g.key, 1, &f->err));
    assert_ok(f, chute_engine_resolve_incident(f->e, inc.key, &f->err));
    assert_int_equal(activate_one(f, "t", &g), 1);
    assert_json_equal(g.vars, "{\"reason\":\"x\"}");
    assert_ok(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err));
    assert_int_equal(state_of(f, pi), CHUTE_INSTANCE_COMPLETED);
    free((char *)inc.message);
    free((char *)inc.element_id);
}

static void test_thrown_error_is_unhandled(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "t"));
    int64_t pi = start(f, NULL);
    got g;
    assert_int_equal(activate_one(f, "t", &g), 1);
    assert_ok(f, chute_engine_throw_error(f->e, g.key, "NO_STOCK", "none left", NULL, 0, &f->err));
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT);
    assert_contains(inc.message, "Expected to throw an error event with the code 'NO_STOCK'");
    assert_contains(inc.message, "was not caught");
    free((char *)inc.message);
    free((char *)inc.element_id);
}

static void test_cancel_removes_jobs(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "t"));
    awaited aw = {0};
    chute_instance_await await = {on_done, &aw, NULL, 0};
    chute_instance_spec s = {.bpmn_process_id = "p", .version = -1};
    chute_instance_view v;
    chute_awaiter *h;
    assert_ok(f, chute_engine_create_instance(f->e, &s, &await, &v, &h, &f->err));
    got g;
    assert_int_equal(activate_one(f, "t", &g), 1);
    /* A process job is cancelled with its instance, not on its own. */
    assert_rejected(f, chute_engine_cancel(f->e, g.key, &f->err), CHUTE_ESTATE);
    assert_ok(f, chute_engine_cancel_instance(f->e, v.key, &f->err));
    assert_int_equal(aw.calls, 1);
    assert_int_equal(aw.state, CHUTE_INSTANCE_TERMINATED);
    assert_rejected(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(state_of(f, v.key), CHUTE_INSTANCE_TERMINATED);
    assert_rejected(f, chute_engine_cancel_instance(f->e, v.key, &f->err), CHUTE_ENOTFOUND);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f);
    assert_int_equal(state_of(f, v.key), CHUTE_INSTANCE_TERMINATED);
    assert_int_equal(activate_one(f, "t", &g), 0);
}

static void test_await_removed_is_not_called(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "t"));
    awaited aw = {0};
    chute_instance_await await = {on_done, &aw, NULL, 0};
    chute_instance_spec s = {.bpmn_process_id = "p", .version = -1};
    chute_instance_view v;
    chute_awaiter *h;
    assert_ok(f, chute_engine_create_instance(f->e, &s, &await, &v, &h, &f->err));
    chute_engine_await_remove(f->e, h);
    complete(f, "t", NULL);
    assert_int_equal(aw.calls, 0);
    assert_int_equal(state_of(f, v.key), CHUTE_INSTANCE_COMPLETED);
}

/* ---- variables, versions, restarts ---------------------------------------------------------------- */

static int count_vars(void *ctx, const chute_variable_view *v)
{
    (*(int *)ctx)++;
    return 0;
}

static void test_set_variables_local_and_propagated(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "t"));
    int64_t pi = start(f, "{\"a\":1}");
    got g;
    assert_int_equal(activate_one(f, "t", &g), 1);
    int64_t el = g.ref.element_instance_key;
    assert_ok(f, chute_engine_set_variables(f->e, el, "{\"l\":1}", 0, 1, NULL, &f->err));
    assert_ok(f, chute_engine_set_variables(f->e, el, "{\"a\":2,\"p\":3}", 0, 0, NULL, &f->err));
    assert_json_equal(root_vars(f, pi), "{\"a\":2,\"p\":3}");
    int n = 0;
    assert_ok(f, chute_engine_list_variables(f->e, pi, el, count_vars, &n, &f->err));
    assert_int_equal(n, 1);
    n = 0;
    assert_ok(f, chute_engine_list_variables(f->e, pi, 0, count_vars, &n, &f->err));
    assert_int_equal(n, 3);
    assert_rejected(f, chute_engine_set_variables(f->e, 42, "{}", 0, 0, NULL, &f->err),
                    CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_set_variables(f->e, pi, "[1]", 0, 0, NULL, &f->err),
                    CHUTE_EINVAL);
}

static void test_versions_and_delete(void **state)
{
    fx *f = *state;
    int64_t v1 = deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "one"));
    int64_t v2 = deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "two"));
    assert_true(v1 != v2);
    start(f, NULL); /* latest: version 2 */
    chute_instance_spec s = {.bpmn_process_id = "p", .version = 1};
    chute_instance_view v;
    assert_ok(f, chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err));
    assert_int_equal(v.version, 1);
    s = (chute_instance_spec){.process_definition_key = v2};
    assert_ok(f, chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err));
    assert_int_equal(v.version, 2);
    got g;
    assert_int_equal(activate_one(f, "one", &g), 1);
    assert_int_equal(activate_one(f, "two", &g), 1);
    assert_int_equal(activate_one(f, "two", &g), 1);
    s = (chute_instance_spec){.bpmn_process_id = "nope", .version = -1};
    assert_rejected(f, chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err),
                    CHUTE_ENOTFOUND);
    assert_string_equal(f->err.message,
                        "Expected to find process definition with process ID 'nope', but none "
                        "found");
    s = (chute_instance_spec){.bpmn_process_id = "p", .version = 9};
    assert_rejected(f, chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err),
                    CHUTE_ENOTFOUND);
    s = (chute_instance_spec){.bpmn_process_id = "p", .version = -1, .variables = "[]"};
    assert_rejected(f, chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err),
                    CHUTE_EINVAL);
    /* An active instance holds its definition. */
    assert_rejected(f, chute_engine_delete_resource(f->e, v1, &f->err), CHUTE_ESTATE);
    int64_t v3 = deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "e")
                           "<bpmn:endEvent id=\"e\"/>");
    assert_ok(f, chute_engine_delete_resource(f->e, v3, &f->err));
    assert_rejected(f, chute_engine_delete_resource(f->e, v3, &f->err), CHUTE_ENOTFOUND);
    start(f, NULL); /* latest is version 2 again */
    assert_int_equal(activate_one(f, "two", &g), 1);
}

static void test_restart_resumes_instances(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "t1") FLOW("f1", "a", "b")
              TASK("b", "t2") FLOW("f2", "b", "e") "<bpmn:endEvent id=\"e\"/>");
    int64_t pi = start(f, "{\"n\":0.1}");
    complete(f, "t1", "{\"price\":1.10,\"e\":1E+2}");
    int64_t lost = start(f, NULL);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    int64_t uncommitted = start(f, NULL); /* never committed: gone after the restart */
    (void)lost;
    fx_close(f);
    fx_open(f);
    chute_instance_view v;
    assert_rejected(f, chute_engine_get_instance(f->e, uncommitted, &v, &f->err), CHUTE_ENOTFOUND);
    got g;
    assert_int_equal(activate_one(f, "t2", &g), 1);
    /* Values come back as they were given, digit for digit. */
    assert_string_equal(g.vars, "{\"e\":1E+2,\"n\":0.1,\"price\":1.10}");
    assert_int_equal(g.ref.process_instance_key, pi);
    assert_ok(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err));
    assert_int_equal(state_of(f, pi), CHUTE_INSTANCE_COMPLETED);
}

static void test_endless_loop_stops_at_an_incident(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "g")
              "<bpmn:exclusiveGateway id=\"g\" default=\"back\"/>" FLOW("back", "g", "t")
              "<bpmn:task id=\"t\"/>" FLOW("f2", "t", "g"));
    int64_t pi = start(f, NULL);
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_UNKNOWN);
    assert_contains(inc.message, "without waiting");
    assert_ok(f, chute_engine_cancel_instance(f->e, pi, &f->err));
    free((char *)inc.message);
    free((char *)inc.element_id);
}

static int count_instances(void *ctx, const chute_instance_view *v)
{
    (*(int *)ctx)++;
    return 0;
}

static void test_list_instances_filters(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "t"));
    start(f, NULL);
    int64_t b = start(f, NULL);
    assert_ok(f, chute_engine_cancel_instance(f->e, b, &f->err));
    int n = 0;
    assert_ok(f, chute_engine_list_instances(f->e, NULL, 0, 100, count_instances, &n));
    assert_int_equal(n, 2);
    chute_instance_filter flt = {.state = CHUTE_INSTANCE_TERMINATED};
    n = 0;
    assert_ok(f, chute_engine_list_instances(f->e, &flt, 0, 100, count_instances, &n));
    assert_int_equal(n, 1);
    flt = (chute_instance_filter){.bpmn_process_id = "other"};
    n = 0;
    assert_ok(f, chute_engine_list_instances(f->e, &flt, 0, 100, count_instances, &n));
    assert_int_equal(n, 0);
}


/* ---- part 2: sub-processes, error and timer events ------------------------------------- */

#define ERRDEF "<bpmn:error id=\"err_stock\" errorCode=\"NO_STOCK\"/>"

/* Like deploy(), with extra top-level definitions (bpmn:error) before the
 * process. */
static int64_t deploy_with(fx *f, const char *defs, const char *body)
{
    char *xml = NULL;
    assert_true(asprintf(&xml,
                         "<bpmn:definitions " NS " id=\"d\">%s<bpmn:process id=\"p\" "
                         "isExecutable=\"true\">%s</bpmn:process></bpmn:definitions>",
                         defs, body) > 0);
    chute_resource r = {"p.bpmn", (const uint8_t *)xml, strlen(xml)};
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err));
    int64_t key = pv[0].key;
    free(xml);
    return key;
}

static void test_sub_process_runs_its_scope(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "sub")
              "<bpmn:subProcess id=\"sub\"><bpmn:extensionElements><zeebe:ioMapping>"
              "<zeebe:input source=\"=1\" target=\"inner\"/>"
              "<zeebe:output source=\"=inner + done\" target=\"total\"/>"
              "</zeebe:ioMapping></bpmn:extensionElements>"
              "<bpmn:startEvent id=\"ss\"/>" FLOW("g0", "ss", "t") TASK("t", "inside")
                  FLOW("g1", "t", "se") "<bpmn:endEvent id=\"se\"/></bpmn:subProcess>"
                      FLOW("f1", "sub", "after") TASK("after", "outside"));
    int64_t pi = start(f, NULL);
    got g;
    assert_int_equal(activate_one(f, "inside", &g), 1);
    assert_json_equal(g.vars, "{\"inner\":1}");
    assert_int_equal(activate_one(f, "outside", &g), 0);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f); /* the scope survives a restart */
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"done\":2}", 0, &f->err));
    got g2;
    assert_int_equal(activate_one(f, "outside", &g2), 1);
    /* Only the output leaves the sub-process; done stays with its job's
     * propagation target, the root, as nothing below defines it. */
    assert_json_equal(root_vars(f, pi), "{\"done\":2,\"total\":3}");
}

static void test_error_boundary_catches_by_code(void **state)
{
    fx *f = *state;
    deploy_with(f, ERRDEF,
                "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "t") TASK("t", "pick")
                "<bpmn:boundaryEvent id=\"b\" attachedToRef=\"t\"><bpmn:errorEventDefinition "
                "errorRef=\"err_stock\"/></bpmn:boundaryEvent>" FLOW("f1", "b", "h")
                    TASK("h", "handle") FLOW("f2", "t", "ok") TASK("ok", "next"));
    int64_t pi = start(f, NULL);
    got g;
    assert_int_equal(activate_one(f, "pick", &g), 1);
    assert_ok(f, chute_engine_throw_error(f->e, g.key, "NO_STOCK", "empty", "{\"why\":\"empty\"}",
                                          0, &f->err));
    /* Caught: the task is gone (its job with it), the boundary path runs. */
    assert_rejected(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(activate_one(f, "handle", &g), 1);
    assert_int_equal(activate_one(f, "next", &g), 0);
    assert_json_equal(root_vars(f, pi), "{\"why\":\"empty\"}");
    chute_instance_view v;
    assert_ok(f, chute_engine_get_instance(f->e, pi, &v, &f->err));
    assert_int_equal(v.has_incident, 0);
    /* Another code is not caught: an incident, as before. */
    int64_t pi2 = start(f, NULL);
    assert_int_equal(activate_one(f, "pick", &g), 1);
    assert_ok(f, chute_engine_throw_error(f->e, g.key, "OTHER", "", NULL, 0, &f->err));
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi2, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT);
    free((char *)inc.message);
    free((char *)inc.element_id);
}

static void test_error_end_event_caught_on_the_sub_process(void **state)
{
    fx *f = *state;
    deploy_with(f, ERRDEF,
                "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "sub")
                "<bpmn:subProcess id=\"sub\"><bpmn:startEvent id=\"ss\"/>" FLOW("g0", "ss", "fork")
                "<bpmn:parallelGateway id=\"fork\"/>" FLOW("g1", "fork", "slow")
                    FLOW("g2", "fork", "ee") TASK("slow", "slow")
                "<bpmn:endEvent id=\"ee\"><bpmn:errorEventDefinition errorRef=\"err_stock\"/>"
                "</bpmn:endEvent></bpmn:subProcess>"
                "<bpmn:boundaryEvent id=\"any\" attachedToRef=\"sub\"><bpmn:errorEventDefinition/>"
                "</bpmn:boundaryEvent>" FLOW("f1", "any", "h") TASK("h", "handle"));
    start(f, NULL);
    got g;
    /* The error ended the whole sub-process, its other branch included. */
    assert_int_equal(activate_one(f, "slow", &g), 0);
    assert_int_equal(activate_one(f, "handle", &g), 1);
    /* An error end event with nothing to catch it is an incident. */
    deploy_with(f, ERRDEF,
                "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "ee")
                "<bpmn:endEvent id=\"ee\"><bpmn:errorEventDefinition errorRef=\"err_stock\"/>"
                "</bpmn:endEvent>");
    int64_t pi = start(f, NULL);
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT);
    assert_string_equal(inc.element_id, "ee");
    assert_contains(inc.message, "'NO_STOCK'");
    free((char *)inc.message);
    free((char *)inc.element_id);
}

static void tick_to(fx *f, int64_t t)
{
    f->now = t;
    chute_engine_tick(f->e);
}

static void test_interrupting_timer_boundary(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "t") TASK("t", "slow")
              "<bpmn:boundaryEvent id=\"late\" attachedToRef=\"t\"><bpmn:timerEventDefinition>"
              "<bpmn:timeDuration>PT10S</bpmn:timeDuration></bpmn:timerEventDefinition>"
              "</bpmn:boundaryEvent>" FLOW("f1", "late", "esc") TASK("esc", "escalate"));
    int64_t t0 = f->now;
    start(f, NULL);
    got g;
    assert_int_equal(activate_one(f, "slow", &g), 1);
    assert_true(chute_engine_next_due(f->e) <= t0 + 10000);
    tick_to(f, t0 + 9999); /* never early */
    assert_int_equal(activate_one(f, "escalate", &g), 0);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f);
    int64_t job = g.key;
    assert_int_equal(activate_one(f, "slow", &g), 0); /* still leased */
    tick_to(f, t0 + 10000);
    assert_int_equal(activate_one(f, "escalate", &g), 1);
    /* The interrupted task's job is gone for its worker. */
    (void)job;
}

static void test_non_interrupting_cycle_and_timer_catch(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "t") TASK("t", "work")
              "<bpmn:boundaryEvent id=\"remind\" cancelActivity=\"false\" attachedToRef=\"t\">"
              "<bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1M</bpmn:timeCycle>"
              "</bpmn:timerEventDefinition></bpmn:boundaryEvent>" FLOW("f1", "remind", "r")
                  TASK("r", "reminder") FLOW("f2", "t", "wait")
              "<bpmn:intermediateCatchEvent id=\"wait\"><bpmn:timerEventDefinition>"
              "<bpmn:timeDuration>=pause</bpmn:timeDuration></bpmn:timerEventDefinition>"
              "</bpmn:intermediateCatchEvent>" FLOW("f3", "wait", "e") "<bpmn:endEvent id=\"e\"/>");
    int64_t t0 = f->now;
    int64_t pi = start(f, "{\"pause\":\"PT30S\"}");
    got g, w;
    assert_int_equal(activate_one(f, "work", &w), 1);
    tick_to(f, t0 + 60000);
    tick_to(f, t0 + 120000);
    tick_to(f, t0 + 180000); /* R2: only two reminders */
    assert_int_equal(activate_one(f, "reminder", &g), 1);
    assert_int_equal(activate_one(f, "reminder", &g), 1);
    assert_int_equal(activate_one(f, "reminder", &g), 0);
    /* The task was never interrupted. */
    assert_ok(f, chute_engine_complete(f->e, w.key, NULL, 0, &f->err));
    int64_t t1 = f->now;
    tick_to(f, t1 + 29999);
    assert_int_equal(state_of(f, pi), CHUTE_INSTANCE_ACTIVE);
    tick_to(f, t1 + 30000);
    /* The reminders' own tokens ended at their tasks; wait finished. */
    chute_instance_view v;
    assert_ok(f, chute_engine_get_instance(f->e, pi, &v, &f->err));
    assert_int_equal(v.state, CHUTE_INSTANCE_ACTIVE); /* two reminder tasks still hold it */
}

static void test_terminate_end_in_sub_process_ends_the_scope_only(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "sub")
              "<bpmn:subProcess id=\"sub\"><bpmn:startEvent id=\"ss\"/>" FLOW("g0", "ss", "fork")
              "<bpmn:parallelGateway id=\"fork\"/>" FLOW("g1", "fork", "t") FLOW("g2", "fork", "x")
                  TASK("t", "inner") "<bpmn:endEvent id=\"x\"><bpmn:terminateEventDefinition/>"
              "</bpmn:endEvent></bpmn:subProcess>" FLOW("f1", "sub", "after")
                  TASK("after", "outer"));
    start(f, NULL);
    got g;
    assert_int_equal(activate_one(f, "inner", &g), 0);
    assert_int_equal(activate_one(f, "outer", &g), 1);
}

static void test_bad_timers_refused_at_deploy(void **state)
{
    fx *f = *state;
    const char *xml =
        "<bpmn:definitions " NS " id=\"d\"><bpmn:process id=\"p\" isExecutable=\"true\">"
        "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "w")
        "<bpmn:intermediateCatchEvent id=\"w\"><bpmn:timerEventDefinition><bpmn:timeDuration>"
        "ten seconds</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        "</bpmn:process></bpmn:definitions>";
    chute_resource r = {"p.bpmn", (const uint8_t *)xml, strlen(xml)};
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    assert_rejected(f, chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "Invalid timer duration 'ten seconds'");
}

/* ---- messages ------------------------------------------------------------------------------ */

#define MSGDEF                                                                                     \
    "<bpmn:message id=\"m_paid\" name=\"paid\"><bpmn:extensionElements>"                         \
    "<zeebe:subscription correlationKey=\"=orderId\"/></bpmn:extensionElements></bpmn:message>"  \
    "<bpmn:message id=\"m_cancel\" name=\"cancel\"><bpmn:extensionElements>"                     \
    "<zeebe:subscription correlationKey=\"=orderId\"/></bpmn:extensionElements></bpmn:message>"

static uint32_t publish(fx *f, const char *name, const char *key, int64_t ttl, const char *vars)
{
    chute_message_spec m = {.name = name, .correlation_key = key, .ttl_ms = ttl,
                            .variables = vars};
    chute_message_result r;
    assert_ok(f, chute_engine_publish_message(f->e, &m, &r, &f->err));
    assert_true(r.key > 0);
    return r.correlated;
}

static const char *const WAIT_PAID =
    "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "w")
    "<bpmn:intermediateCatchEvent id=\"w\"><bpmn:messageEventDefinition messageRef=\"m_paid\"/>"
    "</bpmn:intermediateCatchEvent>" FLOW("f1", "w", "t") TASK("t", "ship");

static void test_message_catch_event_correlates(void **state)
{
    fx *f = *state;
    deploy_with(f, MSGDEF, WAIT_PAID);
    int64_t a = start(f, "{\"orderId\":\"o-1\"}");
    int64_t b = start(f, "{\"orderId\":\"o-2\"}");
    got g;
    assert_int_equal(activate_one(f, "ship", &g), 0);
    /* Another key, another name: nothing. */
    assert_int_equal(publish(f, "paid", "o-3", 0, NULL), 0);
    assert_int_equal(publish(f, "cancel", "o-1", 0, NULL), 0);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f); /* subscriptions survive */
    assert_int_equal(publish(f, "paid", "o-1", 0, "{\"amount\":10}"), 1);
    assert_int_equal(activate_one(f, "ship", &g), 1);
    assert_int_equal(g.ref.process_instance_key, a);
    assert_json_equal(g.vars, "{\"orderId\":\"o-1\",\"amount\":10}");
    /* Without a time to live a message is gone once published. */
    assert_int_equal(publish(f, "paid", "o-1", 0, NULL), 0);
    (void)b;
}

static void test_buffered_message_and_its_id(void **state)
{
    fx *f = *state;
    deploy_with(f, MSGDEF, WAIT_PAID);
    int64_t t0 = f->now;
    chute_message_spec m = {.name = "paid", .correlation_key = "o-9", .ttl_ms = 60000,
                            .message_id = "pay-1", .variables = "{\"amount\":5}"};
    chute_message_result r;
    assert_ok(f, chute_engine_publish_message(f->e, &m, &r, &f->err));
    assert_int_equal(r.correlated, 0);
    /* The same id again while it lives: refused. */
    assert_rejected(f, chute_engine_publish_message(f->e, &m, &r, &f->err), CHUTE_EEXIST);
    assert_contains(f->err.message, "'pay-1'");
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f); /* buffered messages survive */
    start(f, "{\"orderId\":\"o-9\"}");
    got g;
    assert_int_equal(activate_one(f, "ship", &g), 1);
    assert_json_equal(g.vars, "{\"orderId\":\"o-9\",\"amount\":5}");
    /* Never twice to the same process. */
    start(f, "{\"orderId\":\"o-9\"}");
    assert_int_equal(activate_one(f, "ship", &g), 0);
    /* Expired: gone, and its id is free again. */
    tick_to(f, t0 + 60000);
    assert_ok(f, chute_engine_publish_message(f->e, &m, &r, &f->err));
    assert_int_equal(r.correlated, 1); /* the second instance waits for it */
}

static void test_message_boundary_and_receive_task(void **state)
{
    fx *f = *state;
    deploy_with(f, MSGDEF,
                "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "t") TASK("t", "pack")
                "<bpmn:boundaryEvent id=\"c\" attachedToRef=\"t\"><bpmn:messageEventDefinition "
                "messageRef=\"m_cancel\"/></bpmn:boundaryEvent>" FLOW("f1", "c", "h")
                    TASK("h", "refund") FLOW("f2", "t", "r")
                "<bpmn:receiveTask id=\"r\" messageRef=\"m_paid\"/>" FLOW("f3", "r", "e")
                "<bpmn:endEvent id=\"e\"/>");
    int64_t a = start(f, "{\"orderId\":\"A\"}");
    got g;
    assert_int_equal(activate_one(f, "pack", &g), 1);
    assert_int_equal(publish(f, "cancel", "A", 0, "{\"why\":\"late\"}"), 1);
    assert_rejected(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(activate_one(f, "refund", &g), 1);
    assert_json_equal(g.vars, "{\"orderId\":\"A\",\"why\":\"late\"}");
    (void)a;
    /* The receive task waits for its message; the boundary closed with
     * the task. */
    int64_t b = start(f, "{\"orderId\":\"B\"}");
    complete(f, "pack", NULL);
    assert_int_equal(publish(f, "cancel", "B", 0, NULL), 0);
    assert_int_equal(state_of(f, b), CHUTE_INSTANCE_ACTIVE);
    assert_int_equal(publish(f, "paid", "B", 0, NULL), 1);
    assert_int_equal(state_of(f, b), CHUTE_INSTANCE_COMPLETED);
}

static void test_event_based_gateway_both_ways(void **state)
{
    fx *f = *state;
    deploy_with(f, MSGDEF,
                "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "g")
                "<bpmn:eventBasedGateway id=\"g\"/>" FLOW("f1", "g", "paid") FLOW("f2", "g", "late")
                "<bpmn:intermediateCatchEvent id=\"paid\"><bpmn:messageEventDefinition "
                "messageRef=\"m_paid\"/></bpmn:intermediateCatchEvent>"
                "<bpmn:intermediateCatchEvent id=\"late\"><bpmn:timerEventDefinition>"
                "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
                "</bpmn:intermediateCatchEvent>" FLOW("f3", "paid", "ship") FLOW("f4", "late", "rem")
                    TASK("ship", "ship") TASK("rem", "remind"));
    int64_t t0 = f->now;
    start(f, "{\"orderId\":\"X\"}");
    start(f, "{\"orderId\":\"Y\"}");
    assert_int_equal(publish(f, "paid", "X", 0, NULL), 1);
    tick_to(f, t0 + 3600000);
    got g;
    assert_int_equal(activate_one(f, "ship", &g), 1);
    assert_int_equal(activate_one(f, "ship", &g), 0);
    assert_int_equal(activate_one(f, "remind", &g), 1); /* Y: the timer won */
    assert_int_equal(activate_one(f, "remind", &g), 0); /* X: its timer was closed */
    /* Y's subscription closed with the gateway. */
    assert_int_equal(publish(f, "paid", "Y", 0, NULL), 0);
}

static void test_message_start_event(void **state)
{
    fx *f = *state;
    deploy_with(f, "<bpmn:message id=\"m_order\" name=\"order-placed\"/>",
                "<bpmn:startEvent id=\"s\"><bpmn:messageEventDefinition messageRef=\"m_order\"/>"
                "</bpmn:startEvent>" FLOW("f0", "s", "t") TASK("t", "take"));
    assert_int_equal(publish(f, "order-placed", "c-1", 0, "{\"item\":\"pen\"}"), 1);
    /* Not a second instance for the same key while the first is active. */
    assert_int_equal(publish(f, "order-placed", "c-1", 0, NULL), 0);
    assert_int_equal(publish(f, "order-placed", "c-2", 0, NULL), 1);
    got g;
    assert_int_equal(activate_one(f, "take", &g), 1);
    assert_json_equal(g.vars, "{\"item\":\"pen\"}");
    assert_int_equal(activate_one(f, "take", &g), 1);
    /* Only messages start it. */
    chute_instance_spec s = {.bpmn_process_id = "p", .version = -1};
    chute_instance_view v;
    assert_rejected(f, chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err),
                    CHUTE_ESTATE);
    assert_contains(f->err.message, "none start event");
}

/* ---- user tasks ------------------------------------------------------------------------------ */

typedef struct ut_seen {
    int n;
    int64_t key;
    char assignee[64], groups[128], form[64];
    int32_t priority;
} ut_seen;

static int see_ut(void *ctx, const chute_user_task_view *t)
{
    ut_seen *u = ctx;
    if (u->n++ == 0) {
        u->key = t->key;
        snprintf(u->assignee, sizeof u->assignee, "%s", t->assignee);
        snprintf(u->groups, sizeof u->groups, "%s", t->candidate_groups);
        snprintf(u->form, sizeof u->form, "%s", t->form_key);
        u->priority = t->priority;
    }
    return 0;
}

static void test_native_user_task(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "review")
              "<bpmn:userTask id=\"review\" name=\"Review\"><bpmn:extensionElements>"
              "<zeebe:userTask/><zeebe:assignmentDefinition assignee=\"=reviewer\" "
              "candidateGroups=\"ops, sales\"/><zeebe:formDefinition formKey=\"form-1\"/>"
              "<zeebe:priorityDefinition priority=\"70\"/></bpmn:extensionElements>"
              "</bpmn:userTask>" FLOW("f1", "review", "t") TASK("t", "after"));
    int64_t pi = start(f, "{\"reviewer\":\"ann\"}");
    ut_seen u = {0};
    assert_ok(f, chute_engine_list_user_tasks(f->e, NULL, see_ut, &u));
    assert_int_equal(u.n, 1);
    assert_string_equal(u.assignee, "ann");
    assert_string_equal(u.groups, "[\"ops\",\"sales\"]");
    assert_string_equal(u.form, "form-1");
    assert_int_equal(u.priority, 70);
    /* No job for a native user task. */
    got g;
    assert_int_equal(activate_one(f, "io.camunda.zeebe:userTask", &g), 0);
    /* Another assignee only when overriding is allowed. */
    assert_rejected(f, chute_engine_assign_user_task(f->e, u.key, "bob", 0, &f->err),
                    CHUTE_ESTATE);
    assert_ok(f, chute_engine_assign_user_task(f->e, u.key, "bob", 1, &f->err));
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f); /* it survives a restart */
    chute_user_task_filter flt = {.assignee = "bob"};
    ut_seen u2 = {0};
    assert_ok(f, chute_engine_list_user_tasks(f->e, &flt, see_ut, &u2));
    assert_int_equal(u2.n, 1);
    assert_ok(f, chute_engine_assign_user_task(f->e, u.key, NULL, 0, &f->err)); /* unassign */
    chute_user_task_view v;
    assert_ok(f, chute_engine_get_user_task(f->e, u.key, &v, &f->err));
    assert_string_equal(v.assignee, "");
    assert_int_equal(v.process_instance_key, pi);
    assert_ok(f, chute_engine_complete_user_task(f->e, u.key, "{\"approved\":true}", 0, &f->err));
    assert_rejected(f, chute_engine_complete_user_task(f->e, u.key, NULL, 0, &f->err),
                    CHUTE_ENOTFOUND);
    assert_int_equal(activate_one(f, "after", &g), 1);
    assert_json_equal(g.vars, "{\"reviewer\":\"ann\",\"approved\":true}");
}

static void test_job_based_user_task(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "review")
              "<bpmn:userTask id=\"review\"><bpmn:extensionElements>"
              "<zeebe:assignmentDefinition assignee=\"ann\" candidateGroups=\"=[&quot;ops&quot;]\"/>"
              "<zeebe:formDefinition formKey=\"camunda-forms:bpmn:f1\"/>"
              "</bpmn:extensionElements></bpmn:userTask>");
    start(f, NULL);
    got g;
    assert_int_equal(activate_one(f, "io.camunda.zeebe:userTask", &g), 1);
    assert_json_equal(g.headers, "{\"io.camunda.zeebe:assignee\":\"ann\","
                                 "\"io.camunda.zeebe:candidateGroups\":\"[\\\"ops\\\"]\","
                                 "\"io.camunda.zeebe:formKey\":\"camunda-forms:bpmn:f1\"}");
}

/* ---- call activities and multi-instance --------------------------------------------------- */

static int64_t deploy_named(fx *f, const char *id, const char *body)
{
    char *xml = NULL;
    assert_true(asprintf(&xml,
                         "<bpmn:definitions " NS " id=\"d_%s\"><bpmn:process id=\"%s\" "
                         "isExecutable=\"true\">%s</bpmn:process></bpmn:definitions>",
                         id, id, body) > 0);
    char name[64];
    snprintf(name, sizeof name, "%s.bpmn", id);
    chute_resource r = {name, (const uint8_t *)xml, strlen(xml)};
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err));
    int64_t key = pv[0].key;
    free(xml);
    return key;
}

static void test_call_activity(void **state)
{
    fx *f = *state;
    deploy_named(f, "child", "<bpmn:startEvent id=\"cs\"/>" FLOW("c0", "cs", "ct")
                                 TASK("ct", "in-child") FLOW("c1", "ct", "ce")
                                     "<bpmn:endEvent id=\"ce\"/>");
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "call")
              "<bpmn:callActivity id=\"call\"><bpmn:extensionElements>"
              "<zeebe:calledElement processId=\"=childId\"/></bpmn:extensionElements>"
              "</bpmn:callActivity>" FLOW("f1", "call", "t") TASK("t", "after"));
    int64_t pi = start(f, "{\"childId\":\"child\",\"x\":1}");
    got g;
    assert_int_equal(activate_one(f, "in-child", &g), 1);
    /* The child has its own instance, with the parent's variables. */
    assert_true(g.ref.process_instance_key != pi);
    assert_json_equal(g.vars, "{\"childId\":\"child\",\"x\":1}");
    int64_t child = g.ref.process_instance_key;
    assert_rejected(f, chute_engine_cancel_instance(f->e, child, &f->err), CHUTE_ESTATE);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f);
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"y\":2}", 0, &f->err));
    assert_int_equal(state_of(f, child), CHUTE_INSTANCE_COMPLETED);
    /* The child's variables come back to the parent. */
    assert_int_equal(activate_one(f, "after", &g), 1);
    assert_json_equal(g.vars, "{\"childId\":\"child\",\"x\":1,\"y\":2}");
    /* Cancelling the parent cancels the child. */
    int64_t pi2 = start(f, "{\"childId\":\"child\"}");
    assert_int_equal(activate_one(f, "in-child", &g), 1);
    assert_ok(f, chute_engine_cancel_instance(f->e, pi2, &f->err));
    assert_int_equal(state_of(f, g.ref.process_instance_key), CHUTE_INSTANCE_TERMINATED);
    assert_rejected(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    /* An unknown process is an incident. */
    int64_t pi3 = start(f, "{\"childId\":\"nope\"}");
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi3, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_CALLED_ELEMENT_ERROR);
    assert_contains(inc.message, "'nope'");
    free((char *)inc.message);
    free((char *)inc.element_id);
}

#define MI_TASK(id, type, seq, extra)                                                             \
    "<bpmn:serviceTask id=\"" id "\"><bpmn:extensionElements><zeebe:taskDefinition type=\"" type  \
    "\"/></bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics isSequential=\"" seq     \
    "\"><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection=\"=items\" "           \
    "inputElement=\"item\" outputCollection=\"results\" outputElement=\"=result\"/>"              \
    "</bpmn:extensionElements>" extra "</bpmn:multiInstanceLoopCharacteristics>"                 \
    "</bpmn:serviceTask>"

static void test_multi_instance_parallel_keeps_input_order(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "mi") MI_TASK("mi", "each", "false", "")
              FLOW("f1", "mi", "t") TASK("t", "after"));
    int64_t pi = start(f, "{\"items\":[\"a\",\"b\",\"c\"]}");
    chute_activate_request req = {.type = "each", .worker = "w", .timeout_ms = 60000,
                                  .max_jobs = 10};
    const chute_job_view *jobs;
    size_t n;
    assert_ok(f, chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 3);
    int64_t keys[3];
    char items[3][32];
    for (size_t i = 0; i < 3; i++) {
        keys[i] = jobs[i].key;
        json_t *v = json_loads(jobs[i].variables, 0, NULL);
        snprintf(items[i], sizeof items[i], "%s", json_string_value(json_object_get(v, "item")));
        assert_int_equal(json_integer_value(json_object_get(v, "loopCounter")), (json_int_t)i + 1);
        json_decref(v);
    }
    /* Completed in reverse order: the results keep the input order. */
    for (int i = 2; i >= 0; i--) {
        char vars[64];
        snprintf(vars, sizeof vars, "{\"result\":\"%s!\"}", items[i]);
        assert_ok(f, chute_engine_complete(f->e, keys[i], vars, 0, &f->err));
        if (i == 1) {
            assert_ok(f, chute_engine_commit(f->e, &f->err));
            fx_reopen(f);
        }
    }
    got g;
    assert_int_equal(activate_one(f, "after", &g), 1);
    json_t *v = json_loads(g.vars, 0, NULL);
    char *r = json_dumps(json_object_get(v, "results"), JSON_COMPACT);
    assert_string_equal(r, "[\"a!\",\"b!\",\"c!\"]");
    free(r);
    json_decref(v);
    (void)pi;
}

static void test_multi_instance_sequential_and_completion_condition(void **state)
{
    fx *f = *state;
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "mi")
              MI_TASK("mi", "one", "true",
                      "<bpmn:completionCondition>=numberOfCompletedInstances &gt;= 2"
                      "</bpmn:completionCondition>") FLOW("f1", "mi", "t") TASK("t", "after"));
    start(f, "{\"items\":[1,2,3,4]}");
    got g;
    assert_int_equal(activate_one(f, "one", &g), 1);
    assert_int_equal(activate_one(f, "one", &g), 0); /* one at a time */
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"result\":10}", 0, &f->err));
    assert_int_equal(activate_one(f, "one", &g), 1);
    json_t *gv = json_loads(g.vars, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(gv, "item")), 2);
    assert_int_equal(json_integer_value(json_object_get(gv, "loopCounter")), 2);
    char *rs = json_dumps(json_object_get(gv, "results"), JSON_COMPACT);
    assert_string_equal(rs, "[10,null,null,null]");
    /* The body's counts, as the completion condition sees them. */
    assert_int_equal(json_integer_value(json_object_get(gv, "numberOfCompletedInstances")), 1);
    free(rs);
    json_decref(gv);
    assert_ok(f, chute_engine_complete(f->e, g.key, "{\"result\":20}", 0, &f->err));
    /* Two completed: the condition ends the body early. */
    assert_int_equal(activate_one(f, "one", &g), 0);
    assert_int_equal(activate_one(f, "after", &g), 1);
    /* An empty collection completes at once. */
    start(f, "{\"items\":[]}");
    assert_int_equal(activate_one(f, "after", &g), 1);
    json_t *v = json_loads(g.vars, 0, NULL);
    char *r = json_dumps(json_object_get(v, "results"), JSON_COMPACT);
    assert_string_equal(r, "[]");
    free(r);
    json_decref(v);
    /* Not a list: an incident. */
    int64_t pi = start(f, "{\"items\":5}");
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_EXTRACT_VALUE_ERROR);
    assert_contains(inc.message, "'ARRAY'");
    free((char *)inc.message);
    free((char *)inc.element_id);
}

/* ---- decisions --------------------------------------------------------------------------------- */

static const char DMN_GRADE[] =
    "<definitions xmlns=\"https://www.omg.org/spec/DMN/20191111/MODEL/\" id=\"grading\" "
    "name=\"Grading\" namespace=\"http://example\"><decision id=\"grade\" name=\"Grade\">"
    "<decisionTable id=\"t\" hitPolicy=\"FIRST\"><input id=\"i\"><inputExpression id=\"ie\" "
    "typeRef=\"number\"><text>score</text></inputExpression></input><output id=\"o\" "
    "name=\"grade\" typeRef=\"string\"/>"
    "<rule id=\"r1\"><inputEntry id=\"e1\"><text>&gt;= 90</text></inputEntry><outputEntry "
    "id=\"x1\"><text>\"A\"</text></outputEntry></rule>"
    "<rule id=\"r2\"><inputEntry id=\"e2\"><text>[50..90)</text></inputEntry><outputEntry "
    "id=\"x2\"><text>\"B\"</text></outputEntry></rule>"
    "<rule id=\"r3\"><inputEntry id=\"e3\"><text>-</text></inputEntry><outputEntry "
    "id=\"x3\"><text>\"C\"</text></outputEntry></rule>"
    "</decisionTable></decision></definitions>";

static void test_decisions_deploy_and_evaluate(void **state)
{
    fx *f = *state;
    chute_resource r = {"grading.dmn", (const uint8_t *)DMN_GRADE, strlen(DMN_GRADE)};
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err));
    assert_int_equal(n, 0);
    const chute_decision_view *dv;
    size_t nd;
    chute_engine_deployed_decisions(f->e, &dv, &nd);
    assert_int_equal(nd, 1);
    assert_string_equal(dv[0].decision_id, "grade");
    assert_string_equal(dv[0].name, "Grade");
    assert_string_equal(dv[0].requirements_id, "grading");
    assert_int_equal(dv[0].version, 1);
    int64_t key = dv[0].key;
    /* Unchanged: the same version and key. */
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err));
    chute_engine_deployed_decisions(f->e, &dv, &nd);
    assert_int_equal(dv[0].key, key);
    assert_int_equal(dv[0].version, 1);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f); /* decisions survive a restart */
    char *out = NULL;
    size_t len;
    chute_decision_view which;
    assert_ok(f, chute_engine_evaluate_decision(f->e, 0, "grade", "{\"score\":95}", 0, &which, &out,
                                                &len, &f->err));
    assert_string_equal(out, "\"A\"");
    assert_int_equal(which.key, key);
    free(out);
    assert_ok(f, chute_engine_evaluate_decision(f->e, key, NULL, "{\"score\":60}", 0, NULL, &out,
                                                &len, &f->err));
    assert_string_equal(out, "\"B\"");
    free(out);
    assert_rejected(f, chute_engine_evaluate_decision(f->e, 0, "nope", NULL, 0, NULL, &out, &len,
                                                      &f->err),
                    CHUTE_ENOTFOUND);
    /* A business rule task asks it; a missing decision is an incident. */
    deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "rule")
              "<bpmn:businessRuleTask id=\"rule\"><bpmn:extensionElements>"
              "<zeebe:calledDecision decisionId=\"=which\" resultVariable=\"g\"/>"
              "</bpmn:extensionElements></bpmn:businessRuleTask>" FLOW("f1", "rule", "t")
                  TASK("t", "after"));
    start(f, "{\"which\":\"grade\",\"score\":10}");
    got g;
    assert_int_equal(activate_one(f, "after", &g), 1);
    assert_json_equal(g.vars, "{\"which\":\"grade\",\"score\":10,\"g\":\"C\"}");
    int64_t pi = start(f, "{\"which\":\"missing\"}");
    chute_incident_view inc = {0};
    assert_ok(f, chute_engine_search_incidents(f->e, pi, first_incident, &inc));
    assert_int_equal(inc.type, CHUTE_INCIDENT_CALLED_DECISION_ERROR);
    free((char *)inc.message);
    free((char *)inc.element_id);
}

static void test_interrupting_message_event_sub_process(void **state)
{
    fx *f = *state;
    deploy_with(f, MSGDEF,
                "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "t") TASK("t", "work")
                "<bpmn:subProcess id=\"esp\" triggeredByEvent=\"true\"><bpmn:startEvent id=\"es\">"
                "<bpmn:messageEventDefinition messageRef=\"m_cancel\"/></bpmn:startEvent>"
                FLOW("g0", "es", "h") TASK("h", "cleanup") "</bpmn:subProcess>");
    int64_t pi = start(f, "{\"orderId\":\"Z\"}");
    got g;
    assert_int_equal(activate_one(f, "work", &g), 1);
    assert_int_equal(publish(f, "cancel", "Z", 0, "{\"reason\":\"asked\"}"), 1);
    /* Interrupting: the task is gone, the event sub-process runs. */
    assert_rejected(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(activate_one(f, "cleanup", &g), 1);
    assert_json_equal(g.vars, "{\"orderId\":\"Z\",\"reason\":\"asked\"}");
    assert_ok(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err));
    assert_int_equal(state_of(f, pi), CHUTE_INSTANCE_COMPLETED);
    /* Once the instance ended, its subscription is gone with it. */
    assert_int_equal(publish(f, "cancel", "Z", 0, NULL), 0);
}

static int count_active(void *ctx, const chute_instance_view *v)
{
    (*(int *)ctx)++;
    return 0;
}

static int instances_now(fx *f)
{
    int n = 0;
    assert_ok(f, chute_engine_list_instances(f->e, NULL, 0, 1000, count_active, &n));
    return n;
}

static void test_timer_start_event(void **state)
{
    fx *f = *state;
    int64_t t0 = f->now;
    deploy(f, "<bpmn:startEvent id=\"s\"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1M"
              "</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>" FLOW("f0", "s", "t")
                  TASK("t", "tick"));
    assert_true(chute_engine_next_due(f->e) <= t0 + 60000);
    tick_to(f, t0 + 59999);
    assert_int_equal(instances_now(f), 0); /* never early */
    tick_to(f, t0 + 60000);
    assert_int_equal(instances_now(f), 1);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f); /* the schedule survives; the outage's firing comes at once */
    tick_to(f, t0 + 150000);
    assert_int_equal(instances_now(f), 2);
    tick_to(f, t0 + 180000);
    tick_to(f, t0 + 400000);
    assert_int_equal(instances_now(f), 3); /* R3: three in all */
    /* A new version replaces the schedule of the old one. */
    deploy(f, "<bpmn:startEvent id=\"s\"><bpmn:timerEventDefinition><bpmn:timeDuration>PT10S"
              "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>"
              FLOW("f0", "s", "t") TASK("t", "once"));
    tick_to(f, f->now + 10000);
    got g;
    assert_int_equal(activate_one(f, "once", &g), 1);
    tick_to(f, f->now + 100000);
    assert_int_equal(instances_now(f), 4);
}

static void test_modify_and_migrate(void **state)
{
    fx *f = *state;
    int64_t v1 = deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "a") TASK("a", "ta")
                               FLOW("f1", "a", "b") TASK("b", "tb"));
    int64_t pi = start(f, "{\"x\":1}");
    got g;
    assert_int_equal(activate_one(f, "ta", &g), 1);
    int64_t a_elem = g.ref.element_instance_key;
    /* Skip a: terminate it and put a token at b, with a variable. */
    chute_activate_instruction act = {.element_id = "b", .variables = "{\"y\":2}"};
    assert_ok(f, chute_engine_modify_instance(f->e, pi, &act, 1, &a_elem, 1, &f->err));
    assert_rejected(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(activate_one(f, "tb", &g), 1);
    assert_json_equal(g.vars, "{\"x\":1,\"y\":2}");
    /* Bad instructions change nothing. */
    chute_activate_instruction bad = {.element_id = "nope"};
    assert_rejected(f, chute_engine_modify_instance(f->e, pi, &bad, 1, NULL, 0, &f->err),
                    CHUTE_EINVAL);
    int64_t stray = 42;
    assert_rejected(f, chute_engine_modify_instance(f->e, pi, NULL, 0, &stray, 1, &f->err),
                    CHUTE_ENOTFOUND);
    /* Migrate to a version where b is called c. */
    int64_t v2 = deploy(f, "<bpmn:startEvent id=\"s\"/>" FLOW("f0", "s", "c") TASK("c", "tc")
                               FLOW("f1", "c", "e") "<bpmn:endEvent id=\"e\"/>");
    chute_mapping_instruction wrong = {"b", "zz"};
    assert_rejected(f, chute_engine_migrate_instance(f->e, pi, v2, &wrong, 1, &f->err),
                    CHUTE_EINVAL);
    chute_mapping_instruction map = {"b", "c"};
    assert_ok(f, chute_engine_migrate_instance(f->e, pi, v2, &map, 1, &f->err));
    chute_instance_view v;
    assert_ok(f, chute_engine_get_instance(f->e, pi, &v, &f->err));
    assert_int_equal(v.process_definition_key, v2);
    assert_int_equal(v.version, 2);
    /* The job keeps its type and worker, with the new process fields; its
     * completion follows the new model. */
    chute_job_view jv;
    assert_ok(f, chute_engine_get(f->e, g.key, &jv, &f->err));
    assert_string_equal(jv.process.element_id, "c");
    assert_int_equal(jv.process.process_definition_key, v2);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f);
    assert_ok(f, chute_engine_complete(f->e, g.key, NULL, 0, &f->err));
    assert_int_equal(state_of(f, pi), CHUTE_INSTANCE_COMPLETED);
    (void)v1;
    /* Terminating the last token ends the instance. */
    int64_t pi2 = start(f, NULL);
    assert_int_equal(activate_one(f, "tc", &g), 1);
    int64_t el = g.ref.element_instance_key;
    assert_ok(f, chute_engine_modify_instance(f->e, pi2, NULL, 0, &el, 1, &f->err));
    assert_int_equal(state_of(f, pi2), CHUTE_INSTANCE_TERMINATED);
}

static void test_job_assignee_is_durable(void **state)
{
    fx *f = *state;
    chute_job_spec spec = {.type = "t"};
    int64_t key;
    assert_ok(f, chute_engine_create(f->e, &spec, &key, &f->err));
    assert_ok(f, chute_engine_assign_job(f->e, key, "ann", &f->err));
    assert_rejected(f, chute_engine_assign_job(f->e, 99, "ann", &f->err), CHUTE_ENOTFOUND);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    fx_reopen(f);
    chute_job_view v;
    assert_ok(f, chute_engine_get(f->e, key, &v, &f->err));
    assert_string_equal(v.assignee, "ann");
    assert_ok(f, chute_engine_assign_job(f->e, key, NULL, &f->err));
    assert_ok(f, chute_engine_get(f->e, key, &v, &f->err));
    assert_string_equal(v.assignee, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_order_process_runs_to_completion),
        FX_TEST(test_exclusive_gateway_first_match_then_default),
        FX_TEST(test_exclusive_gateway_no_match_raises_incident_then_resolves),
        FX_TEST(test_condition_of_wrong_type_is_condition_error),
        FX_TEST(test_parallel_join_waits_for_every_branch),
        FX_TEST(test_inclusive_fork_takes_every_true_flow),
        FX_TEST(test_output_mappings_keep_unmapped_results_local),
        FX_TEST(test_input_mapped_local_does_not_leak),
        FX_TEST(test_failing_input_mapping_raises_io_mapping_error),
        FX_TEST(test_script_task_and_feel_nulls),
        FX_TEST(test_job_type_expression_and_headers),
        FX_TEST(test_fail_without_retries_then_resolve),
        FX_TEST(test_thrown_error_is_unhandled),
        FX_TEST(test_cancel_removes_jobs),
        FX_TEST(test_await_removed_is_not_called),
        FX_TEST(test_set_variables_local_and_propagated),
        FX_TEST(test_versions_and_delete),
        FX_TEST(test_restart_resumes_instances),
        FX_TEST(test_endless_loop_stops_at_an_incident),
        FX_TEST(test_list_instances_filters),
        FX_TEST(test_sub_process_runs_its_scope),
        FX_TEST(test_error_boundary_catches_by_code),
        FX_TEST(test_error_end_event_caught_on_the_sub_process),
        FX_TEST(test_interrupting_timer_boundary),
        FX_TEST(test_non_interrupting_cycle_and_timer_catch),
        FX_TEST(test_terminate_end_in_sub_process_ends_the_scope_only),
        FX_TEST(test_bad_timers_refused_at_deploy),
        FX_TEST(test_message_catch_event_correlates),
        FX_TEST(test_buffered_message_and_its_id),
        FX_TEST(test_message_boundary_and_receive_task),
        FX_TEST(test_event_based_gateway_both_ways),
        FX_TEST(test_message_start_event),
        FX_TEST(test_native_user_task),
        FX_TEST(test_job_based_user_task),
        FX_TEST(test_call_activity),
        FX_TEST(test_multi_instance_parallel_keeps_input_order),
        FX_TEST(test_multi_instance_sequential_and_completion_condition),
        FX_TEST(test_decisions_deploy_and_evaluate),
        FX_TEST(test_interrupting_message_event_sub_process),
        FX_TEST(test_timer_start_event),
        FX_TEST(test_modify_and_migrate),
        FX_TEST(test_job_assignee_is_durable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
