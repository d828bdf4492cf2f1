/*
 * Tests of src/model (BPMN XML to executable models): every model of the
 * shared corpus either deploys into the shape it has or is refused naming
 * the element and what it lacks; malformed, hostile and unsupported
 * documents written here are refused with exact messages; three spellings
 * of one model give the same model; the FEEL hook sees every expression
 * and frees what it made.
 *
 * Usage: test_bpmn CORPUS_DIR (the folder of .bpmn/.dmn files, read at run
 * time; a missing folder fails the test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bpmn.h"

static const char *corpus_dir;

/* ---- the test's FEEL hook ---------------------------------------------------- */

/* Accepts any non-empty expression (its parsed form is a copy of the
 * source) and refuses one that calls UNSUPPORTED(, naming the column, so
 * that the error path can be tested without the FEEL library. |live|
 * counts parsed forms not yet freed. */
static long live;

static int hook_parse(void *ctx, const char *src, size_t len, void **out, model_expr_error *err)
{
    (void)ctx;
    if (len == 0) {
        snprintf(err->message, sizeof err->message, "the expression is empty");
        return -1;
    }
    for (size_t i = 0; i + 12 <= len; i++)
        if (memcmp(src + i, "UNSUPPORTED(", 12) == 0) {
            err->column = (int)i + 1;
            snprintf(err->message, sizeof err->message,
                     "the function 'UNSUPPORTED' is not supported");
            return -1;
        }
    char *p = malloc(len + 1);
    assert_non_null(p);
    memcpy(p, src, len);
    p[len] = '\0';
    *out = p;
    live++;
    return 0;
}

static void hook_free(void *parsed)
{
    free(parsed);
    live--;
}

static const model_options hook = {hook_parse, hook_free, NULL};

/* ---- helpers ----------------------------------------------------------------- */

#define NS_DECL                                                                                    \
    "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                                  \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\""

/* A document with one executable process "p" holding |body|. */
#define DOC(body)                                                                                  \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<bpmn:definitions " NS_DECL " id=\"defs\">\n"                                                 \
    "<bpmn:process id=\"p\" isExecutable=\"true\">\n" body "\n</bpmn:process>\n"                   \
    "</bpmn:definitions>\n"

#define START "<bpmn:startEvent id=\"start\"/>"
#define HEAD "Expected to deploy new resources, but encountered the following errors:\n't.bpmn': "
#define REJECT(element, message) HEAD "- Element: " element "\n    - ERROR: " message "\n"
#define SUPPORTED                                                                                  \
    " (supported: startEvent, endEvent, intermediateThrowEvent, intermediateCatchEvent (timer, "   \
    "message), boundaryEvent (error, timer, message), subProcess, task, manualTask, serviceTask, " \
    "sendTask, receiveTask, userTask, scriptTask, businessRuleTask, callActivity, "               \
    "exclusiveGateway, parallelGateway, inclusiveGateway, eventBasedGateway, event sub-processes " \
    "(multi-instance on activities))"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Parses |xml| expecting a refusal; returns the formatted message. */
static char *refuse_n(const char *xml, size_t len)
{
    model_definitions *defs = NULL;
    model_errors errs = {0};
    int rc = model_parse(xml, len, "t.bpmn", &hook, &defs, &errs);
    if (rc != CHUTE_EINVAL)
        fail_msg("expected CHUTE_EINVAL, got %d for:\n%s", rc, xml);
    assert_null(defs);
    assert_true(errs.count > 0);
    const model_errors *list = &errs;
    char *msg = model_errors_format(&list, 1);
    assert_non_null(msg);
    model_errors_clear(&errs);
    assert_int_equal(live, 0);
    return msg;
}

static char *refuse(const char *xml)
{
    return refuse_n(xml, strlen(xml));
}

#define assert_refused(xml, expected)                                                              \
    do {                                                                                           \
        char *m_ = refuse(xml);                                                                    \
        if (strcmp(m_, expected) != 0)                                                             \
            fail_msg("message differs:\n--- got\n%s\n--- expected\n%s", m_, expected);             \
        free(m_);                                                                                  \
    } while (0)

static model_definitions *deploy(const char *xml)
{
    model_definitions *defs = NULL;
    model_errors errs = {0};
    int rc = model_parse(xml, strlen(xml), "t.bpmn", &hook, &defs, &errs);
    if (rc != 0) {
        const model_errors *list = &errs;
        char *msg = model_errors_format(&list, 1);
        fail_msg("expected a deployment, got %d:\n%s", rc, msg ? msg : "?");
    }
    assert_int_equal(errs.count, 0);
    assert_null(errs.items);
    assert_non_null(defs);
    return defs;
}

static const model_element *el(const model_process *p, const char *id)
{
    uint32_t i = model_process_find(p, id, strlen(id));
    if (i == MODEL_NONE)
        fail_msg("no element '%s'", id);
    return &p->elements[i];
}

static const model_flow *out_flow(const model_process *p, const model_element *e, uint32_t i)
{
    assert_true(i < e->outgoing_count);
    return &p->flows[e->outgoing[i]];
}

/* ---- the corpus -------------------------------------------------------------- */

/* What each corpus file should come to. A deployed one is checked in detail
 * by check_<name>; a refused one names these elements, each with a part
 * of its message. */
typedef struct refusal {
    const char *element;
    const char *says;
} refusal;

typedef struct corpus_case {
    const char *file;
    void (*check)(const model_definitions *defs); /* NULL: refused */
    refusal why[10];
} corpus_case;

static void check_order_process(const model_definitions *d)
{
    assert_int_equal(d->process_count, 1);
    const model_process *p = &d->processes[0];
    assert_string_equal(p->id, "process1");
    assert_string_equal(p->name, "Process 1");
    assert_int_equal(p->element_count, 5);
    assert_int_equal(p->flow_count, 4);
    static const char *const tasks[][2] = {{"Activity_0tw2fu0", "check-inventory"},
                                           {"Activity_1ppsbgi", "charge-payment"},
                                           {"Activity_08pg6im", "ship-items"}};
    for (int i = 0; i < 3; i++) {
        const model_element *t = el(p, tasks[i][0]);
        assert_int_equal(t->type, MODEL_ELEMENT_SERVICE_TASK);
        assert_non_null(t->job);
        assert_true(t->job->type->is_static);
        assert_string_equal(t->job->type->text, tasks[i][1]);
        assert_int_equal(t->job->static_retries, 3);
        assert_string_equal(t->job->headers_json, "{}");
        assert_int_equal(t->incoming_count, 1);
        assert_int_equal(t->outgoing_count, 1);
    }
    /* The chain: start -> check -> charge -> ship -> end. */
    const model_element *s = &p->elements[p->start];
    assert_string_equal(s->id, "StartEvent_1");
    const char *chain[] = {"Activity_0tw2fu0", "Activity_1ppsbgi", "Activity_08pg6im",
                           "Event_0f9sbko"};
    for (int i = 0; i < 4; i++) {
        const model_flow *f = out_flow(p, s, 0);
        assert_null(f->condition);
        s = &p->elements[f->target];
        assert_string_equal(s->id, chain[i]);
    }
    assert_int_equal(s->type, MODEL_ELEMENT_END_EVENT);
    assert_int_equal(s->outgoing_count, 0);
}

static void check_demo_process(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    assert_string_equal(p->id, "demoProcess");
    assert_string_equal(p->name, "");
    assert_int_equal(p->element_count, 5);
    assert_string_equal(el(p, "taskA")->job->type->text, "foo");
    assert_string_equal(el(p, "taskB")->job->type->text, "bar");
    assert_string_equal(el(p, "taskC")->job->type->text, "foo");
}

static void check_single_task(const model_definitions *d, const char *pid, const char *task,
                              const char *type)
{
    assert_int_equal(d->process_count, 1);
    const model_process *p = &d->processes[0];
    assert_string_equal(p->id, pid);
    assert_int_equal(p->element_count, 3);
    assert_int_equal(p->flow_count, 2);
    const model_element *t = el(p, task);
    assert_string_equal(t->job->type->text, type);
    assert_int_equal(t->job->static_retries, 3);
}

static void check_async(const model_definitions *d)
{
    check_single_task(d, "AsyncServiceTaskProcess", "ExecuteAsyncServiceTaskTask", "async-job");
}

static void check_quick_start(const model_definitions *d)
{
    check_single_task(d, "template-microservice-tutorial-18us19m", "Run_microservice",
                      "orchestrate-something");
}

static const model_element *el_by_id(const model_process *p, const char *id)
{
    uint32_t i = model_process_find(p, id, strlen(id));
    assert_int_not_equal(i, MODEL_NONE);
    return &p->elements[i];
}

/* Timers in and around an embedded sub-process. */
static void check_get_up(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    assert_string_equal(p->id, "GetUpProcess");
    const model_element *sub = el_by_id(p, "GetEmFedSubProcess");
    assert_int_equal(sub->type, MODEL_ELEMENT_SUB_PROCESS);
    assert_int_not_equal(sub->sub_start, MODEL_NONE);
    assert_int_equal(p->elements[sub->sub_start].scope, model_process_find(p, sub->id, strlen(sub->id)));
    assert_int_equal(sub->boundary_count, 1);
    const model_element *late = &p->elements[sub->boundaries[0]];
    assert_string_equal(late->id, "RunningLateBoundaryEvent");
    assert_int_equal(late->timer_kind, MODEL_TIMER_DURATION);
    assert_string_equal(late->timer->text, "PT1H");
    const model_element *w = el_by_id(p, "Wait15MinutesEvent");
    assert_int_equal(w->type, MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT);
    assert_int_equal(w->event, MODEL_EVENT_TIMER);
    assert_string_equal(w->timer->text, "PT15M");
}

/* Error boundary events without an errorRef: they catch every code. */
static void check_boundary_events(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    const model_element *task = el_by_id(p, "Activity_0tw2fu0");
    assert_int_equal(task->boundary_count, 1);
    const model_element *b = &p->elements[task->boundaries[0]];
    assert_string_equal(b->id, "Event_1g3k0ac");
    assert_int_equal(b->event, MODEL_EVENT_ERROR);
    assert_null(b->error_code);
    assert_true(b->interrupting);
}

/* Message throw events as jobs, one with a job type expression. */
static void check_response(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    const model_element *t = el_by_id(p, "Event_19o6q23");
    assert_int_equal(t->type, MODEL_ELEMENT_INTERMEDIATE_THROW_EVENT);
    assert_int_equal(t->event, MODEL_EVENT_MESSAGE);
    assert_non_null(t->job);
    assert_false(t->job->type->is_static);
}

/* A receive task with its message's name and correlation key, and a timer
 * boundary event on it. */
static void check_ticket_booking(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    const model_element *r = el_by_id(p, "WaitForPaymentReceivedEvent");
    assert_int_equal(r->type, MODEL_ELEMENT_RECEIVE_TASK);
    assert_string_equal(r->message_name->text, "msg-payment-received");
    assert_string_equal(r->correlation_key->text, "paymentRequestId");
    assert_false(r->correlation_key->is_static);
    assert_int_equal(r->boundary_count, 1);
}

/* User tasks: native ones have no job, job-based ones a job of Zeebe's
 * user task type. */
static void check_user_tasks(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    uint32_t tasks = 0;
    for (uint32_t e = 0; e < p->element_count; e++) {
        const model_element *el = &p->elements[e];
        if (el->type != MODEL_ELEMENT_USER_TASK)
            continue;
        tasks++;
        assert_non_null(el->user_task);
        if (el->user_task->native)
            assert_null(el->job);
        else
            assert_string_equal(el->job->type->text, "io.camunda.zeebe:userTask");
    }
    assert_true(tasks >= 1);
}

/* A parallel multi-instance call activity. */
static void check_multi_call(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    const model_element *c = el_by_id(p, "Activity_1l743sj");
    assert_int_equal(c->type, MODEL_ELEMENT_CALL_ACTIVITY);
    assert_string_equal(c->call->process_id->text, "ElementCreationProcess");
    assert_false(c->call->propagate_child);
    assert_int_equal(c->loop, MODEL_LOOP_PARALLEL);
    assert_string_equal(c->multi->input_collection->text, "sequence");
    assert_string_equal(c->multi->input_element, "element");
    assert_string_equal(c->multi->output_collection, "resultList");
}

/* A business rule task that calls a decision, a timer, scripts. */
static void check_rocket(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    const model_element *t = el_by_id(p, "Activity_0sb885k");
    assert_int_equal(t->type, MODEL_ELEMENT_BUSINESS_RULE_TASK);
    assert_non_null(t->decision);
    assert_string_equal(t->decision->decision_id->text, "plot-destination");
    assert_string_equal(t->decision->result_variable, "destination");
    assert_null(t->job);
}

/* Event sub-processes: listed by their scope, each with its one start. */
static void check_esps(const model_definitions *d)
{
    const model_process *p = &d->processes[0];
    assert_int_equal(p->esp_count, 1);
    const model_element *esp = &p->elements[p->esps[0]];
    assert_int_equal(esp->type, MODEL_ELEMENT_EVENT_SUB_PROCESS);
    assert_int_not_equal(esp->sub_start, MODEL_NONE);
    assert_int_not_equal(p->elements[esp->sub_start].event, MODEL_EVENT_NONE);
}

static const corpus_case corpus[] = {
    {"async-service-task.bpmn", check_async, {{0}}},
    {"demo-process.bpmn", check_demo_process, {{0}}},
    {"enforcing-sla.bpmn", check_esps, {{0}}},
    {"error-handling.bpmn", check_esps, {{0}}},
    {"get-up.bpmn", check_get_up, {{0}}},
    {"multi-instance-simple.bpmn", check_multi_call, {{0}}},
    {"order-process-boundary-events.bpmn", check_boundary_events, {{0}}},
    {"order-process.bpmn", check_order_process, {{0}}},
    {"payment-process.bpmn", check_user_tasks, {{0}}},
    {"quick-start-microservices.bpmn", check_quick_start, {{0}}},
    {"response-process.bpmn", check_response, {{0}}},
    {"rocket-launch.bpmn", check_rocket, {{0}}},
    {"rollback-process.bpmn", check_user_tasks, {{0}}},
    {"ticket-booking.bpmn", check_ticket_booking, {{0}}},
    {"twitter.bpmn", check_user_tasks, {{0}}},
    {"plot-destination.dmn",
     NULL,
     {{NULL, "The resource is a DMN decision model (root element 'definitions' in namespace "
             "'https://www.omg.org/spec/DMN/20191111/MODEL/'), not a BPMN process; the BPMN model "
             "does not read decisions (a deployment hands DMN 1.1 to 1.5 resources to the "
             "decision parser)"}}},
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus(void **state)
{
    (void)state;
    DIR *dir = opendir(corpus_dir);
    if (!dir)
        fail_msg("cannot open the BPMN corpus at %s", corpus_dir);
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < 256) {
        size_t l = strlen(de->d_name);
        if ((l > 5 && strcmp(de->d_name + l - 5, ".bpmn") == 0) ||
            (l > 4 && strcmp(de->d_name + l - 4, ".dmn") == 0))
            names[n++] = strdup(de->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    assert_int_equal(n, sizeof corpus / sizeof corpus[0]);

    printf("BPMN corpus (%s): what deploys, what is refused and why\n", corpus_dir);
    size_t deployed = 0;
    for (size_t i = 0; i < n; i++) {
        const corpus_case *c = NULL;
        for (size_t k = 0; k < sizeof corpus / sizeof corpus[0]; k++)
            if (strcmp(corpus[k].file, names[i]) == 0)
                c = &corpus[k];
        if (!c)
            fail_msg("%s is in the corpus but not in this test", names[i]);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", corpus_dir, names[i]);
        size_t len = 0;
        char *xml = read_file(path, &len);
        assert_non_null(xml);
        model_definitions *defs = NULL;
        model_errors errs = {0};
        int rc = model_parse(xml, len, names[i], &hook, &defs, &errs);
        if (rc == 0) {
            const model_process *p = &defs->processes[0];
            uint32_t jobs = 0;
            for (uint32_t e = 0; e < p->element_count; e++)
                jobs += p->elements[e].job != NULL;
            printf("  %-36s deploys: process '%s', %u elements, %u flows, %u job tasks\n", names[i],
                   p->id, p->element_count, p->flow_count, jobs);
            if (!c->check)
                fail_msg("%s deployed but should be refused", names[i]);
            c->check(defs);
            deployed++;
            model_definitions_free(defs);
        } else {
            assert_int_equal(rc, CHUTE_EINVAL);
            printf("  %-36s refused:\n", names[i]);
            for (uint32_t e = 0; e < errs.count; e++) {
                const char *m = errs.items[e].message;
                const char *cut = strstr(m, " (supported:");
                printf("      %s: %.*s\n", errs.items[e].element ? errs.items[e].element : "-",
                       cut ? (int)(cut - m) : (int)strlen(m), m);
            }
            if (c->check) {
                const model_errors *list = &errs;
                char *msg = model_errors_format(&list, 1);
                fail_msg("%s refused but should deploy:\n%s", names[i], msg);
            }
            size_t want = 0;
            while (want < 10 && c->why[want].says)
                want++;
            if (errs.count != want)
                fail_msg("%s: %u errors, expected %zu", names[i], errs.count, want);
            for (size_t w = 0; w < want; w++) {
                const model_error *it = &errs.items[w];
                if (c->why[w].element)
                    assert_string_equal(it->element, c->why[w].element);
                else
                    assert_null(it->element);
                if (!strstr(it->message, c->why[w].says))
                    fail_msg("%s: '%s' says '%s', expected '%s' in it", names[i], c->why[w].element,
                             it->message, c->why[w].says);
            }
        }
        model_errors_clear(&errs);
        assert_int_equal(live, 0);
        free(xml);
        free(names[i]);
    }
    printf("  %zu of %zu deploy\n", deployed, n);
}

/* ---- a model with everything part 1 supports --------------------------------- */

static const char full_model[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<bpmn:definitions " NS_DECL " xmlns:bpmndi=\"http://www.omg.org/spec/BPMN/20100524/DI\""
    " xmlns:dc=\"http://www.omg.org/spec/DD/20100524/DC\""
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
    " xmlns:camunda=\"http://camunda.org/schema/1.0/bpmn\""
    " xmlns:modeler=\"http://camunda.org/schema/modeler/1.0\""
    " xmlns:foo=\"urn:example:foo\" id=\"defs\" modeler:executionPlatform=\"Camunda Cloud\">\n"
    " <bpmn:process id=\"order\" name=\"Order &amp; pay\" isExecutable=\"true\">\n"
    "  <bpmn:documentation>ignored</bpmn:documentation>\n"
    "  <bpmn:extensionElements><zeebe:versionTag value=\"v7\"/></bpmn:extensionElements>\n"
    "  <bpmn:startEvent id=\"start\" name=\"Go\"><bpmn:outgoing>f1</bpmn:outgoing>"
    "</bpmn:startEvent>\n"
    "  <bpmn:sequenceFlow id=\"f1\" sourceRef=\"start\" targetRef=\"charge\"/>\n"
    "  <bpmn:serviceTask id=\"charge\" name=\"Charge\" camunda:class=\"x.Y\""
    " zeebe:modelerTemplate=\"t\">\n"
    "   <bpmn:extensionElements>\n"
    "    <zeebe:taskDefinition type=\"=&quot;charge-&quot; + region\" retries=\"=tries + 1\"/>\n"
    "    <zeebe:taskHeaders>\n"
    "     <zeebe:header key=\"b\" value=\"1\"/>\n"
    "     <zeebe:header key=\"a\" value=\"say &quot;hi&quot;&#10;\\\"/>\n"
    "     <zeebe:header key=\"empty\"/>\n"
    "     <zeebe:header key=\"b\" value=\"2\"/>\n"
    "    </zeebe:taskHeaders>\n"
    "    <zeebe:ioMapping>\n"
    "     <zeebe:input source=\"=order.total\" target=\"payment.amount\"/>\n"
    "     <zeebe:input source=\"EUR\" target=\"currency\"/>\n"
    "     <zeebe:input target=\"shadow\"/>\n"
    "     <zeebe:input source=\"\" target=\"blank\"/>\n"
    "     <zeebe:output source=\"=receipt\" target=\"receipt\"/>\n"
    "    </zeebe:ioMapping>\n"
    "    <foo:anything x=\"1\"><foo:deeper/></foo:anything>\n"
    "   </bpmn:extensionElements>\n"
    "  </bpmn:serviceTask>\n"
    "  <bpmn:sequenceFlow id=\"f2\" sourceRef=\"charge\" targetRef=\"split\"/>\n"
    "  <bpmn:exclusiveGateway id=\"split\" default=\"f_default\"/>\n"
    "  <bpmn:sequenceFlow id=\"f_big\" name=\"big\" sourceRef=\"split\" targetRef=\"fork\">\n"
    "   <bpmn:conditionExpression xsi:type=\"bpmn:tFormalExpression\">\n"
    "     = total &gt; 100 </bpmn:conditionExpression>\n"
    "  </bpmn:sequenceFlow>\n"
    "  <bpmn:sequenceFlow id=\"f_small\" sourceRef=\"split\" targetRef=\"note\">"
    "<bpmn:conditionExpression>=total &lt;= 100</bpmn:conditionExpression></bpmn:sequenceFlow>\n"
    "  <bpmn:sequenceFlow id=\"f_default\" sourceRef=\"split\" targetRef=\"stop\"/>\n"
    "  <bpmn:parallelGateway id=\"fork\"/>\n"
    "  <bpmn:sequenceFlow id=\"f3\" sourceRef=\"fork\" targetRef=\"send\"/>\n"
    "  <bpmn:sequenceFlow id=\"f4\" sourceRef=\"fork\" targetRef=\"script\"/>\n"
    "  <bpmn:sendTask id=\"send\"><bpmn:extensionElements>"
    "<zeebe:taskDefinition type=\"mail\" retries=\"0\"/></bpmn:extensionElements></bpmn:sendTask>\n"
    "  <bpmn:scriptTask id=\"script\"><bpmn:extensionElements>"
    "<zeebe:script expression=\"=total * 2\" resultVariable=\"double\"/>"
    "<zeebe:ioMapping><zeebe:output source=\"=double\" target=\"x.y.z\"/></zeebe:ioMapping>"
    "</bpmn:extensionElements></bpmn:scriptTask>\n"
    "  <bpmn:sequenceFlow id=\"f5\" sourceRef=\"send\" targetRef=\"join\"/>\n"
    "  <bpmn:sequenceFlow id=\"f6\" sourceRef=\"script\" targetRef=\"join\"/>\n"
    "  <bpmn:parallelGateway id=\"join\"/>\n"
    "  <bpmn:sequenceFlow id=\"f7\" sourceRef=\"join\" targetRef=\"incl\"/>\n"
    "  <bpmn:inclusiveGateway id=\"incl\" default=\"f_i3\"/>\n"
    "  <bpmn:sequenceFlow id=\"f_i1\" sourceRef=\"incl\" targetRef=\"rules\">"
    "<bpmn:conditionExpression>=a</bpmn:conditionExpression></bpmn:sequenceFlow>\n"
    "  <bpmn:sequenceFlow id=\"f_i2\" sourceRef=\"incl\" targetRef=\"jobscript\">"
    "<bpmn:conditionExpression>=b</bpmn:conditionExpression></bpmn:sequenceFlow>\n"
    "  <bpmn:sequenceFlow id=\"f_i3\" sourceRef=\"incl\" targetRef=\"manual\"/>\n"
    "  <bpmn:businessRuleTask id=\"rules\"><bpmn:extensionElements>"
    "<zeebe:taskDefinition type=\"rules\" retries=\"5\"/></bpmn:extensionElements>"
    "</bpmn:businessRuleTask>\n"
    "  <bpmn:scriptTask id=\"jobscript\"><bpmn:extensionElements>"
    "<zeebe:taskDefinition type=\"script-worker\"/></bpmn:extensionElements></bpmn:scriptTask>\n"
    "  <bpmn:manualTask id=\"manual\"/>\n"
    "  <bpmn:intermediateThrowEvent id=\"milestone\"/>\n"
    "  <bpmn:task id=\"note\"/>\n"
    "  <bpmn:endEvent id=\"done\"/>\n"
    "  <bpmn:endEvent id=\"stop\"><bpmn:terminateEventDefinition id=\"term\"/></bpmn:endEvent>\n"
    "  <bpmn:sequenceFlow id=\"f8\" sourceRef=\"rules\" targetRef=\"milestone\"/>\n"
    "  <bpmn:sequenceFlow id=\"f9\" sourceRef=\"jobscript\" targetRef=\"done\"/>\n"
    "  <bpmn:sequenceFlow id=\"f10\" sourceRef=\"manual\" targetRef=\"done\"/>\n"
    "  <bpmn:sequenceFlow id=\"f11\" sourceRef=\"note\" targetRef=\"done\"/>\n"
    "  <bpmn:textAnnotation id=\"ann\"><bpmn:text>a note</bpmn:text></bpmn:textAnnotation>\n"
    "  <bpmn:association id=\"assoc\" sourceRef=\"start\" targetRef=\"ann\"/>\n"
    " </bpmn:process>\n"
    " <bpmn:process id=\"draft\" isExecutable=\"false\"><bpmn:userTask id=\"u\"/></bpmn:process>\n"
    " <bpmndi:BPMNDiagram id=\"dia\"><bpmndi:BPMNPlane id=\"plane\" bpmnElement=\"order\">"
    "<bpmndi:BPMNShape id=\"s1\" bpmnElement=\"start\"><dc:Bounds x=\"1\" y=\"2\" width=\"3\" "
    "height=\"4\"/></bpmndi:BPMNShape></bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n"
    "</bpmn:definitions>\n";

static void test_full_model(void **state)
{
    (void)state;
    model_definitions *d = deploy(full_model);
    assert_string_equal(d->id, "defs");
    assert_string_equal(d->resource_name, "t.bpmn");
    assert_int_equal(d->process_count, 1); /* "draft" is not executable */
    assert_null(model_definitions_find(d, "draft", 5));
    const model_process *p = model_definitions_find(d, "order", 5);
    assert_ptr_equal(p, &d->processes[0]);
    assert_string_equal(p->name, "Order & pay");
    assert_string_equal(p->version_tag, "v7");
    assert_int_equal(p->element_count, 15);
    assert_int_equal(p->flow_count, 17);
    assert_string_equal(p->elements[p->start].id, "start");
    assert_string_equal(p->elements[p->start].name, "Go");
    assert_int_equal(model_process_find(p, "nope", 4), MODEL_NONE);
    assert_int_equal(model_process_find(p, "star", 4), MODEL_NONE);
    assert_int_equal(model_process_find(p, "startx", 5), p->start); /* |len| bytes only */

    /* Every element lies in the process scope, events have their types. */
    for (uint32_t i = 0; i < p->element_count; i++) {
        assert_int_equal(p->elements[i].scope, MODEL_NONE);
        assert_int_equal(p->elements[i].loop, MODEL_LOOP_NONE);
        assert_int_equal(p->elements[i].attached_to, MODEL_NONE);
        assert_int_equal(model_process_find(p, p->elements[i].id, strlen(p->elements[i].id)), i);
    }
    assert_int_equal(el(p, "stop")->event, MODEL_EVENT_TERMINATE);
    assert_int_equal(el(p, "done")->event, MODEL_EVENT_NONE);
    assert_int_equal(el(p, "milestone")->type, MODEL_ELEMENT_INTERMEDIATE_THROW_EVENT);
    assert_int_equal(el(p, "milestone")->outgoing_count, 0); /* ends its token: allowed */
    assert_int_equal(el(p, "manual")->type, MODEL_ELEMENT_MANUAL_TASK);
    assert_int_equal(el(p, "note")->type, MODEL_ELEMENT_TASK);
    assert_null(el(p, "note")->job);
    assert_int_equal(el(p, "done")->incoming_count, 3);

    /* The job: type and retries are expressions, parsed by the hook. */
    const model_element *c = el(p, "charge");
    assert_string_equal(c->name, "Charge");
    assert_int_equal(c->type, MODEL_ELEMENT_SERVICE_TASK);
    const model_job *j = c->job;
    assert_false(j->type->is_static);
    assert_string_equal(j->type->text, "\"charge-\" + region");
    assert_string_equal(j->type->parsed, "\"charge-\" + region");
    assert_false(j->retries->is_static);
    assert_string_equal(j->retries->text, "tries + 1");
    assert_int_equal(j->static_retries, -1);
    /* Headers: in order, empty ones dropped, a repeated key keeps its
     * first place and its last value; JSON escaped. */
    assert_int_equal(j->header_count, 2);
    assert_string_equal(j->headers[0].key, "b");
    assert_string_equal(j->headers[0].value, "2");
    assert_string_equal(j->headers[1].key, "a");
    assert_string_equal(j->headers[1].value, "say \"hi\"\n\\");
    assert_string_equal(j->headers_json, "{\"b\":\"2\",\"a\":\"say \\\"hi\\\"\\n\\\\\"}");
    assert_int_equal(j->headers_json_len, strlen(j->headers_json));
    /* Mappings. */
    assert_int_equal(c->input_count, 4);
    assert_string_equal(c->inputs[0].target, "payment.amount");
    assert_int_equal(c->inputs[0].target_depth, 2);
    assert_string_equal(c->inputs[0].target_path[0], "payment");
    assert_string_equal(c->inputs[0].target_path[1], "amount");
    assert_false(c->inputs[0].source->is_static);
    assert_string_equal(c->inputs[0].source->text, "order.total");
    assert_non_null(c->inputs[0].source->parsed);
    assert_true(c->inputs[1].source->is_static);
    assert_string_equal(c->inputs[1].source->text, "EUR");
    assert_null(c->inputs[1].source->parsed);
    assert_null(c->inputs[2].source); /* null into "shadow" */
    assert_string_equal(c->inputs[2].target, "shadow");
    assert_true(c->inputs[3].source->is_static); /* the empty string into "blank" */
    assert_string_equal(c->inputs[3].source->text, "");
    assert_int_equal(c->output_count, 1);
    assert_string_equal(c->outputs[0].source->text, "receipt");

    /* The exclusive gateway: conditions in document order, a default. */
    const model_element *g = el(p, "split");
    assert_int_equal(g->type, MODEL_ELEMENT_EXCLUSIVE_GATEWAY);
    assert_int_equal(g->outgoing_count, 3);
    assert_string_equal(out_flow(p, g, 0)->id, "f_big");
    assert_string_equal(out_flow(p, g, 0)->name, "big");
    assert_string_equal(out_flow(p, g, 0)->condition->text, " total > 100");
    assert_string_equal(out_flow(p, g, 1)->condition->text, "total <= 100");
    assert_string_equal(p->flows[g->default_flow].id, "f_default");
    assert_null(p->flows[g->default_flow].condition);
    assert_string_equal(p->elements[p->flows[g->default_flow].target].id, "stop");

    /* Parallel fork and join. */
    const model_element *fork = el(p, "fork"), *join = el(p, "join");
    assert_int_equal(fork->type, MODEL_ELEMENT_PARALLEL_GATEWAY);
    assert_int_equal(fork->outgoing_count, 2);
    assert_int_equal(join->incoming_count, 2);
    assert_string_equal(p->elements[out_flow(p, fork, 0)->target].id, "send");
    assert_string_equal(p->elements[out_flow(p, fork, 1)->target].id, "script");
    assert_int_equal(el(p, "send")->job->static_retries, 0);
    assert_string_equal(el(p, "send")->job->type->text, "mail");

    /* Scripts: one evaluated by the engine, one a job. */
    const model_element *s = el(p, "script");
    assert_null(s->job);
    assert_string_equal(s->script->expression->text, "total * 2");
    assert_string_equal(s->script->result_variable, "double");
    assert_int_equal(s->outputs[0].target_depth, 3);
    assert_string_equal(s->outputs[0].target_path[2], "z");
    assert_string_equal(el(p, "jobscript")->job->type->text, "script-worker");
    assert_null(el(p, "jobscript")->script);
    assert_int_equal(el(p, "rules")->job->static_retries, 5);

    /* The inclusive gateway. */
    const model_element *in = el(p, "incl");
    assert_int_equal(in->type, MODEL_ELEMENT_INCLUSIVE_GATEWAY);
    assert_int_equal(in->outgoing_count, 3);
    assert_string_equal(p->flows[in->default_flow].id, "f_i3");
    assert_string_equal(out_flow(p, in, 1)->condition->text, "b");

    /* Every index is in range and the lists agree with the flows. */
    for (uint32_t f = 0; f < p->flow_count; f++) {
        const model_flow *fl = &p->flows[f];
        assert_true(fl->source < p->element_count && fl->target < p->element_count);
        int found = 0;
        for (uint32_t k = 0; k < p->elements[fl->source].outgoing_count; k++)
            found += p->elements[fl->source].outgoing[k] == f;
        for (uint32_t k = 0; k < p->elements[fl->target].incoming_count; k++)
            found += p->elements[fl->target].incoming[k] == f;
        assert_int_equal(found, 2);
    }
    assert_true(live > 0);
    model_definitions_free(d);
    assert_int_equal(live, 0);
}

/* Without a hook expressions stay text; the model is the same otherwise. */
static void test_no_hook(void **state)
{
    (void)state;
    model_definitions *d = NULL;
    assert_int_equal(model_parse(full_model, strlen(full_model), "t.bpmn", NULL, &d, NULL), 0);
    const model_process *p = &d->processes[0];
    assert_null(el(p, "charge")->job->type->parsed);
    assert_string_equal(el(p, "charge")->job->type->text, "\"charge-\" + region");
    model_definitions_free(d);
    model_definitions_free(NULL);
    /* A NULL |errs| is allowed when refusing too. */
    d = NULL;
    assert_int_equal(model_parse("<x/>", 4, "t.bpmn", &hook, &d, NULL), CHUTE_EINVAL);
    assert_null(d);
}

/* The same model spelled with bpmn:, bpmn2: and the default namespace (and
 * its Zeebe prefix changed) is the same model. */
#define SPELLING(P, Z, XMLNS)                                                                      \
    "<?xml version=\"1.0\"?>\n<" P "definitions " XMLNS " id=\"d\">"                               \
    "<" P "process id=\"p\" isExecutable=\"true\">"                                                \
    "<" P "startEvent id=\"s\"/>"                                                                  \
    "<" P "sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"g\"/>"                               \
    "<" P "exclusiveGateway id=\"g\" default=\"f3\"/>"                                             \
    "<" P "sequenceFlow id=\"f2\" sourceRef=\"g\" targetRef=\"t\">"                                \
    "<" P "conditionExpression>=x &gt; 1</" P "conditionExpression></" P "sequenceFlow>"           \
    "<" P "sequenceFlow id=\"f3\" sourceRef=\"g\" targetRef=\"e\"/>"                               \
    "<" P "serviceTask id=\"t\"><" P "extensionElements>"                                          \
    "<" Z "taskDefinition type=\"work\" retries=\"2\"/>"                                           \
    "<" Z "taskHeaders><" Z "header key=\"k\" value=\"v\"/></" Z "taskHeaders>"                    \
    "<" Z "ioMapping><" Z "input source=\"=a\" target=\"b\"/></" Z "ioMapping>"                    \
    "</" P "extensionElements></" P "serviceTask>"                                                 \
    "<" P "sequenceFlow id=\"f4\" sourceRef=\"t\" targetRef=\"e\"/>"                               \
    "<" P "endEvent id=\"e\"/>"                                                                    \
    "</" P "process></" P "definitions>"

static void assert_same_expr(const model_expr *a, const model_expr *b)
{
    if (!a || !b) {
        assert_ptr_equal(a, b);
        return;
    }
    assert_string_equal(a->text, b->text);
    assert_int_equal(a->is_static, b->is_static);
    assert_int_equal(a->parsed != NULL, b->parsed != NULL);
}

static void assert_same_model(const model_definitions *x, const model_definitions *y)
{
    assert_int_equal(x->process_count, y->process_count);
    const model_process *a = &x->processes[0], *b = &y->processes[0];
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->element_count, b->element_count);
    assert_int_equal(a->flow_count, b->flow_count);
    assert_int_equal(a->start, b->start);
    for (uint32_t i = 0; i < a->element_count; i++) {
        const model_element *p = &a->elements[i], *q = &b->elements[i];
        assert_string_equal(p->id, q->id);
        assert_int_equal(p->type, q->type);
        assert_int_equal(p->outgoing_count, q->outgoing_count);
        assert_int_equal(p->incoming_count, q->incoming_count);
        assert_int_equal(p->default_flow, q->default_flow);
        for (uint32_t k = 0; k < p->outgoing_count; k++)
            assert_int_equal(p->outgoing[k], q->outgoing[k]);
        assert_int_equal(p->job != NULL, q->job != NULL);
        if (p->job) {
            assert_same_expr(p->job->type, q->job->type);
            assert_same_expr(p->job->retries, q->job->retries);
            assert_string_equal(p->job->headers_json, q->job->headers_json);
        }
        assert_int_equal(p->input_count, q->input_count);
        for (uint32_t k = 0; k < p->input_count; k++) {
            assert_same_expr(p->inputs[k].source, q->inputs[k].source);
            assert_string_equal(p->inputs[k].target, q->inputs[k].target);
        }
    }
    for (uint32_t i = 0; i < a->flow_count; i++) {
        assert_string_equal(a->flows[i].id, b->flows[i].id);
        assert_int_equal(a->flows[i].source, b->flows[i].source);
        assert_int_equal(a->flows[i].target, b->flows[i].target);
        assert_same_expr(a->flows[i].condition, b->flows[i].condition);
    }
}

static void test_spellings(void **state)
{
    (void)state;
    static const char bpmn[] =
        SPELLING("bpmn:", "zeebe:",
                 "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
                 "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\"");
    static const char bpmn2[] =
        SPELLING("bpmn2:", "zb:",
                 "xmlns:bpmn2=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
                 "xmlns:zb=\"http://camunda.org/schema/zeebe/1.0\"");
    static const char dflt[] = SPELLING("", "zeebe:",
                                        "xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
                                        "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\"");
    model_definitions *a = deploy(bpmn), *b = deploy(bpmn2), *c = deploy(dflt);
    assert_string_equal(a->processes[0].elements[2].id, "t");
    assert_string_equal(a->processes[0].elements[2].job->type->text, "work");
    assert_int_equal(a->processes[0].elements[2].job->static_retries, 2);
    assert_same_model(a, b);
    assert_same_model(a, c);
    model_definitions_free(a);
    model_definitions_free(b);
    model_definitions_free(c);

    /* The prefix alone means nothing: bpmn: bound to another URI is not BPMN. */
    assert_refused("<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/2.0\"/>",
                   HEAD "The resource is not a BPMN 2.0 model: its root element is "
                        "'definitions' in namespace 'http://www.omg.org/spec/BPMN/2.0', but must "
                        "be 'definitions' in namespace "
                        "'http://www.omg.org/spec/BPMN/20100524/MODEL'");
    /* zeebe: bound to another URI is a foreign extension, ignored: the task
     * then has no task definition. */
    assert_refused(
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
        "xmlns:zeebe=\"http://camunda.org/schema/zeebe/2.0\"><process id=\"p\" "
        "isExecutable=\"true\"><startEvent id=\"s\"/><serviceTask id=\"t\"><extensionElements>"
        "<zeebe:taskDefinition type=\"x\"/></extensionElements></serviceTask></process>"
        "</definitions>",
        REJECT("t", "Must have exactly one 'zeebe:taskDefinition' extension element"));
}

/* Several executable processes in one resource. */
static void test_two_processes(void **state)
{
    (void)state;
    static const char xml[] =
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">"
        "<process id=\"one\" isExecutable=\"true\"><startEvent id=\"s1\"/></process>"
        "<process id=\"two\" isExecutable=\"1\"><startEvent id=\"s2\"/>"
        "<sequenceFlow id=\"x\" sourceRef=\"s2\" targetRef=\"e2\"/><endEvent id=\"e2\"/>"
        "</process></definitions>";
    model_definitions *d = deploy(xml);
    assert_int_equal(d->process_count, 2);
    assert_string_equal(d->id, "");
    assert_string_equal(d->processes[0].id, "one");
    assert_int_equal(d->processes[0].element_count, 1);
    assert_int_equal(d->processes[0].flow_count, 0);
    assert_string_equal(d->processes[1].id, "two");
    assert_int_equal(d->processes[1].flow_count, 1);
    assert_ptr_equal(model_definitions_find(d, "two", 3), &d->processes[1]);
    /* A flow may not cross from one process into another. */
    assert_refused(
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">"
        "<process id=\"one\" isExecutable=\"true\"><startEvent id=\"s1\"/>"
        "<sequenceFlow id=\"x\" sourceRef=\"s1\" targetRef=\"s2\"/></process>"
        "<process id=\"two\" isExecutable=\"true\"><startEvent id=\"s2\"/></process>"
        "</definitions>",
        REJECT("x", "Attribute 'targetRef' references 's2', which is not a flow node of process "
                    "'one' (it is a 'startEvent')"));
    model_definitions_free(d);
}

/* ---- hostile and malformed documents ----------------------------------------- */

static void test_doctype_refused(void **state)
{
    (void)state;
    assert_refused("<?xml version=\"1.0\"?>\n<!DOCTYPE definitions>\n<definitions/>",
                   HEAD "The document has a document type declaration (<!DOCTYPE definitions>) "
                        "at line 2, column 1; DOCTYPE and entity declarations are not allowed");
    /* Billion laughs: refused at the DOCTYPE, before one entity exists. */
    assert_refused("<?xml version=\"1.0\"?>\n"
                   "<!DOCTYPE lolz [\n"
                   " <!ENTITY lol \"lol\">\n"
                   " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                   " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                   " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
                   "]>\n"
                   "<lolz>&lol4;</lolz>",
                   HEAD "The document has a document type declaration (<!DOCTYPE lolz>) at line "
                        "2, column 1; DOCTYPE and entity declarations are not allowed");
    /* An external entity (XXE). */
    assert_refused("<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><d>&x;</d>",
                   HEAD "The document has a document type declaration (<!DOCTYPE d>) at line 1, "
                        "column 1; DOCTYPE and entity declarations are not allowed");
    /* An undefined entity without any DOCTYPE is an XML error. */
    assert_refused("<definitions>&x;</definitions>",
                   HEAD "The document is not well-formed XML: undefined entity at line 1, column "
                        "14");
}

static void test_bounds(void **state)
{
    (void)state;
    /* Too deep: 65 nested elements. */
    char deep[2048] = "";
    for (int i = 0; i < 65; i++)
        strcat(deep, "<a>");
    for (int i = 0; i < 65; i++)
        strcat(deep, "</a>");
    assert_refused(deep, HEAD "Elements nest more than 64 deep: the element at line 1, column 193 "
                              "is at depth 65");
    /* 64 levels are fine as XML (and then not BPMN). */
    deep[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(deep, "<a>");
    for (int i = 0; i < 64; i++)
        strcat(deep, "</a>");
    assert_refused(deep, HEAD "The resource is not a BPMN 2.0 model: its root element is 'a' "
                              "without a namespace, but must be 'definitions' in namespace "
                              "'http://www.omg.org/spec/BPMN/20100524/MODEL'");

    /* Too many attributes: 65, and 60 plus 5 namespace declarations. */
    char attrs[4096] = "<definitions";
    for (int i = 0; i < 65; i++)
        sprintf(attrs + strlen(attrs), " a%d=\"x\"", i);
    strcat(attrs, "/>");
    assert_refused(attrs, HEAD "The element 'definitions' at line 1, column 1 has 65 attributes "
                               "(namespace declarations included); at most 64 are allowed");
    strcpy(attrs, "<definitions");
    for (int i = 0; i < 60; i++)
        sprintf(attrs + strlen(attrs), " a%d=\"x\"", i);
    for (int i = 0; i < 5; i++)
        sprintf(attrs + strlen(attrs), " xmlns:n%d=\"urn:%d\"", i, i);
    strcat(attrs, "/>");
    assert_refused(attrs, HEAD "The element 'definitions' at line 1, column 1 has 65 attributes "
                               "(namespace declarations included); at most 64 are allowed");

    /* Too many elements: 10 001, one a line. */
    size_t cap = 16 * 10010;
    char *many = malloc(cap);
    assert_non_null(many);
    strcpy(many, "<r>\n");
    char *w = many + strlen(many);
    for (int i = 0; i < 10000; i++) {
        memcpy(w, "<e/>\n", 5);
        w += 5;
    }
    strcpy(w, "</r>");
    assert_refused(many, HEAD "The document has more than 10000 elements (element 10001 starts at "
                              "line 10001, column 1)");
    free(many);

    /* Too large, checked before reading a byte. */
    size_t big = MODEL_MAX_DOCUMENT + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    char *m = refuse_n(huge, big);
    assert_string_equal(m, HEAD "The resource has 4194305 bytes; at most 4194304 are allowed");
    free(m);
    free(huge);
}

static void test_not_xml(void **state)
{
    (void)state;
    assert_refused("hello", HEAD "The document is not well-formed XML: syntax error at line 1, "
                                 "column 1");
    assert_refused("", HEAD "The document is not well-formed XML: no element found at line 1, "
                            "column 1");
    assert_refused("{\"definitions\": []}",
                   HEAD "The document is not well-formed XML: not well-formed (invalid token) at "
                        "line 1, column 1");
    /* Truncated in the middle of a tag, and after a start tag. */
    assert_refused("<?xml version=\"1.0\"?>\n<definitions xmlns=\"urn:x\"><proc",
                   HEAD "The document is not well-formed XML: unclosed token at line 2, column "
                        "28");
    assert_refused("<definitions><process>",
                   HEAD "The document is not well-formed XML: no element found at line 1, column "
                        "23");
    assert_refused("<a></b>", HEAD "The document is not well-formed XML: mismatched tag at line "
                                   "1, column 6");
    assert_refused("<x:a/>", HEAD "The document is not well-formed XML: unbound prefix at line 1, "
                                  "column 1");
    /* Not UTF-8 where UTF-8 is declared. */
    assert_refused("<a>\xff</a>", HEAD "The document is not well-formed XML: not well-formed "
                                       "(invalid token) at line 1, column 4");
}

static void test_wrong_root(void **state)
{
    (void)state;
    assert_refused("<foo/>", HEAD "The resource is not a BPMN 2.0 model: its root element is 'foo' "
                                  "without a namespace, but must be 'definitions' in namespace "
                                  "'http://www.omg.org/spec/BPMN/20100524/MODEL'");
    assert_refused("<bpmn:process " NS_DECL " id=\"p\" isExecutable=\"true\"/>",
                   HEAD "The resource is not a BPMN 2.0 model: its root element is 'process' in "
                        "namespace 'http://www.omg.org/spec/BPMN/20100524/MODEL', but must be "
                        "'definitions' in namespace "
                        "'http://www.omg.org/spec/BPMN/20100524/MODEL'");
    assert_refused("<definitions xmlns=\"https://www.omg.org/spec/DMN/20191111/MODEL/\"/>",
                   HEAD "The resource is a DMN decision model (root element 'definitions' in "
                        "namespace 'https://www.omg.org/spec/DMN/20191111/MODEL/'), not a BPMN "
                        "process; the BPMN model does not read decisions (a deployment hands DMN "
                        "1.1 to 1.5 resources to the decision parser)");
    /* No executable process. */
    assert_refused("<bpmn:definitions " NS_DECL " id=\"defs\"><bpmn:process id=\"p\"/>"
                   "<bpmn:process id=\"q\" isExecutable=\"false\"/></bpmn:definitions>",
                   REJECT("defs", "Must contain at least one executable process"));
    assert_refused("<bpmn:definitions " NS_DECL "/>",
                   REJECT("definitions", "Must contain at least one executable process"));
}

/* ---- the process ------------------------------------------------------------- */

static void test_start_events(void **state)
{
    (void)state;
    assert_refused(DOC("<bpmn:startEvent id=\"a\"/><bpmn:startEvent id=\"b\"/>"),
                   REJECT("p", "Multiple none start events are not allowed"));
    assert_refused(DOC("<bpmn:endEvent id=\"e\"/>"),
                   REJECT("p", "Must have at least one start event"));
    assert_refused(DOC("<bpmn:startEvent id=\"a\"><bpmn:messageEventDefinition "
                       "messageRef=\"m\"/></bpmn:startEvent>"),
                   REJECT("a > messageEventDefinition",
                          "Attribute 'messageRef' references 'm', which is not a message"));
    assert_refused(DOC("<bpmn:startEvent id=\"a\"><bpmn:signalEventDefinition/></bpmn:startEvent>"),
                   REJECT("a", "Start events with a 'signalEventDefinition' are not supported by "
                               "Chute yet (supported: none start events, and message start events "
                               "of the process)"));
    assert_refused(
        DOC(START "<bpmn:sequenceFlow id=\"f\" sourceRef=\"start\" targetRef=\"start\"/>"),
        REJECT("start", "Start events must not have incoming sequence flows"));
    /* Start events in a sub-process do not count for the process. */
    assert_refused(
        DOC("<bpmn:subProcess id=\"sub\"><bpmn:startEvent id=\"in\"/></bpmn:subProcess>"),
        REJECT("p", "Must have at least one start event"));
}

static void test_flows(void **state)
{
    (void)state;
    assert_refused(
        DOC(START "<bpmn:sequenceFlow id=\"f\" sourceRef=\"start\" targetRef=\"gone\"/>"),
        REJECT("f", "Attribute 'targetRef' references 'gone', but no element with that "
                    "id exists"));
    assert_refused(DOC(START "<bpmn:sequenceFlow id=\"f\" targetRef=\"start\"/>"),
                   HEAD "- Element: start\n    - ERROR: Start events must not have incoming "
                        "sequence flows\n- Element: f\n    - ERROR: Attribute 'sourceRef' must be "
                        "present and not empty\n");
    assert_refused(DOC(START "<bpmn:sequenceFlow sourceRef=\"start\" targetRef=\"e\"/>"
                             "<bpmn:endEvent id=\"e\"/>"),
                   REJECT("p > sequenceFlow", "Element id must be present and not empty."));
    /* A flow pointing at something that is not a flow node. */
    assert_refused(DOC(START "<bpmn:sequenceFlow id=\"f\" sourceRef=\"start\" targetRef=\"p\"/>"),
                   REJECT("f", "Attribute 'targetRef' references 'p', which is not a flow node of "
                               "process 'p' (it is a 'process')"));
    assert_refused(DOC(START "<bpmn:endEvent id=\"e\"/><bpmn:task id=\"t\"/>"
                             "<bpmn:sequenceFlow id=\"f\" sourceRef=\"e\" targetRef=\"t\"/>"),
                   REJECT("e", "End events must not have outgoing sequence flows to other "
                               "elements."));
}

static void test_gateways(void **state)
{
    (void)state;
    /* Two flows out of an exclusive gateway, one without a condition. */
    assert_refused(DOC(START "<bpmn:exclusiveGateway id=\"g\"/><bpmn:endEvent id=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"b\" sourceRef=\"g\" targetRef=\"e\">"
                             "<bpmn:conditionExpression>=x</bpmn:conditionExpression>"
                             "</bpmn:sequenceFlow>"),
                   REJECT("a", "Must have a condition or be default flow"));
    /* Both without: both named. One flow alone needs none. */
    assert_refused(DOC(START "<bpmn:exclusiveGateway id=\"g\"/><bpmn:endEvent id=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"b\" sourceRef=\"g\" targetRef=\"e\"/>"),
                   HEAD "- Element: a\n    - ERROR: Must have a condition or be default flow\n"
                        "- Element: b\n    - ERROR: Must have a condition or be default flow\n");
    model_definitions *d =
        deploy(DOC(START "<bpmn:exclusiveGateway id=\"g\"/><bpmn:endEvent id=\"e\"/>"
                         "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\"/>"));
    model_definitions_free(d);
    assert_refused(DOC(START "<bpmn:inclusiveGateway id=\"g\"/><bpmn:endEvent id=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"b\" sourceRef=\"g\" targetRef=\"e\">"
                             "<bpmn:conditionExpression>=x</bpmn:conditionExpression>"
                             "</bpmn:sequenceFlow>"),
                   REJECT("a", "Must have a condition"));
    /* A default flow that starts elsewhere, and one that does not exist. */
    assert_refused(DOC(START "<bpmn:exclusiveGateway id=\"g\" default=\"other\"/>"
                             "<bpmn:endEvent id=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"other\" sourceRef=\"start\" targetRef=\"g\"/>"
                             "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\"/>"),
                   REJECT("g", "Default flow must start at gateway"));
    assert_refused(DOC(START "<bpmn:exclusiveGateway id=\"g\" default=\"start\"/>"),
                   REJECT("g", "Attribute 'default' references 'start', but no sequence flow with "
                               "that id exists in process 'p'"));
    /* A condition where none is evaluated. */
    assert_refused(DOC(START "<bpmn:parallelGateway id=\"g\"/><bpmn:endEvent id=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\">"
                             "<bpmn:conditionExpression>=x</bpmn:conditionExpression>"
                             "</bpmn:sequenceFlow>"
                             "<bpmn:sequenceFlow id=\"b\" sourceRef=\"g\" targetRef=\"e\">"
                             "<bpmn:conditionExpression>=y</bpmn:conditionExpression>"
                             "</bpmn:sequenceFlow>"),
                   REJECT("g", "Conditional sequence flows are only supported at exclusive or "
                               "inclusive gateway"));
    /* A condition must be an expression. */
    assert_refused(DOC(START "<bpmn:exclusiveGateway id=\"g\"/><bpmn:endEvent id=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\">"
                             "<bpmn:conditionExpression>x &gt; 1</bpmn:conditionExpression>"
                             "</bpmn:sequenceFlow>"),
                   REJECT("a > conditionExpression",
                          "Expected expression but found static value 'x > 1'. An expression must "
                          "start with '=' (e.g. '=x > 1')."));
}

static void test_job_tasks(void **state)
{
    (void)state;
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"/>"),
                   REJECT("Task_1", "Must have exactly one 'zeebe:taskDefinition' extension "
                                    "element"));
    assert_refused(DOC(START "<bpmn:sendTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"a\"/><zeebe:taskDefinition type=\"b\"/>"
                             "</bpmn:extensionElements></bpmn:sendTask>"),
                   REJECT("Task_1", "Must have exactly one 'zeebe:taskDefinition' extension "
                                    "element"));
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition/></bpmn:extensionElements></bpmn:serviceTask>"),
                   REJECT("Task_1 > extensionElements > taskDefinition",
                          "Attribute 'type' must be present and not empty"));
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"\"/></bpmn:extensionElements>"
                             "</bpmn:serviceTask>"),
                   REJECT("Task_1 > extensionElements > taskDefinition",
                          "Attribute 'type' must be present and not empty"));
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"  \"/></bpmn:extensionElements>"
                             "</bpmn:serviceTask>"),
                   REJECT("Task_1 > extensionElements > taskDefinition",
                          "Attribute 'type' must not be blank, but is '  '"));
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"t\" retries=\"three\"/>"
                             "</bpmn:extensionElements></bpmn:serviceTask>"),
                   REJECT("Task_1 > extensionElements > taskDefinition",
                          "Attribute 'retries': Expected static value to be a whole number from 0 "
                          "to 2147483647, but found 'three'."));
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"t\" retries=\"\"/>"
                             "</bpmn:extensionElements></bpmn:serviceTask>"),
                   REJECT("Task_1 > extensionElements > taskDefinition",
                          "Attribute 'retries' must be present and not empty"));
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"t\"/><zeebe:taskHeaders>"
                             "<zeebe:header key=\"io.camunda.zeebe:x\" value=\"1\"/>"
                             "</zeebe:taskHeaders></bpmn:extensionElements></bpmn:serviceTask>"),
                   REJECT("Task_1 > extensionElements > taskHeaders > header",
                          "Attribute 'key' contains 'io.camunda.zeebe:x', but header keys "
                          "starting with 'io.camunda.zeebe:' are reserved for internal use."));
    /* "=" alone is a static value, as in Zeebe. */
    model_definitions *d = deploy(DOC(START "<bpmn:serviceTask id=\"T\"><bpmn:extensionElements>"
                                            "<zeebe:taskDefinition type=\"=\"/>"
                                            "</bpmn:extensionElements></bpmn:serviceTask>"));
    assert_true(d->processes[0].elements[1].job->type->is_static);
    assert_string_equal(d->processes[0].elements[1].job->type->text, "=");
    model_definitions_free(d);
    /* A static type longer than a job type may be. */
    char *doc = malloc(4096);
    assert_non_null(doc);
    char type[1100];
    memset(type, 'x', 1025);
    type[1025] = '\0';
    snprintf(doc, 4096,
             DOC(START "<bpmn:serviceTask id=\"T\"><bpmn:extensionElements><zeebe:taskDefinition "
                       "type=\"%s\"/></bpmn:extensionElements></bpmn:serviceTask>"),
             type);
    assert_refused(doc, REJECT("T > extensionElements > taskDefinition",
                               "Attribute 'type' is 1025 bytes long; a job type has at most 1024"));
    free(doc);
}

static void test_scripts_and_rules(void **state)
{
    (void)state;
    assert_refused(DOC(START "<bpmn:scriptTask id=\"s\"/>"),
                   REJECT("s", "Must have either one 'zeebe:script' or one 'zeebe:taskDefinition' "
                               "extension element"));
    assert_refused(DOC(START "<bpmn:scriptTask id=\"s\"><bpmn:extensionElements>"
                             "<zeebe:script expression=\"=1\" resultVariable=\"r\"/>"
                             "<zeebe:taskDefinition type=\"t\"/></bpmn:extensionElements>"
                             "</bpmn:scriptTask>"),
                   REJECT("s", "Must have either one 'zeebe:script' or one 'zeebe:taskDefinition' "
                               "extension element"));
    assert_refused(DOC(START "<bpmn:scriptTask id=\"s\"><bpmn:extensionElements>"
                             "<zeebe:script expression=\"1 + 1\"/></bpmn:extensionElements>"
                             "</bpmn:scriptTask>"),
                   HEAD "- Element: s > extensionElements > script\n"
                        "    - ERROR: Attribute 'expression': Expected expression but found static "
                        "value '1 + 1'. An expression must start with '=' (e.g. '=1 + 1').\n"
                        "    - ERROR: Attribute 'resultVariable' must be present and not empty\n");
    assert_refused(DOC(START "<bpmn:businessRuleTask id=\"r\"><bpmn:extensionElements>"
                             "<zeebe:calledDecision decisionId=\"d\"/>"
                             "</bpmn:extensionElements></bpmn:businessRuleTask>"),
                   REJECT("r > extensionElements > calledDecision",
                          "Attribute 'resultVariable' must be present and not empty"));
    assert_refused(DOC(START "<bpmn:businessRuleTask id=\"r\"/>"),
                   REJECT("r", "Must have either one 'zeebe:calledDecision' or one "
                               "'zeebe:taskDefinition' extension element"));
}

static void test_mappings(void **state)
{
    (void)state;
    assert_refused(DOC(START "<bpmn:task id=\"t\"><bpmn:extensionElements><zeebe:ioMapping>"
                             "<zeebe:output source=\"x\" target=\"y\"/>"
                             "<zeebe:output target=\"z\"/>"
                             "<zeebe:input source=\"=a\" target=\"1a\"/>"
                             "<zeebe:input source=\"=a\"/>"
                             "</zeebe:ioMapping></bpmn:extensionElements></bpmn:task>"),
                   HEAD "- Element: t > extensionElements > ioMapping > output\n"
                        "    - ERROR: Attribute 'source': Expected expression but found static "
                        "value 'x'. An expression must start with '=' (e.g. '=x').\n"
                        "    - ERROR: Attribute 'source': Expected expression but not found.\n"
                        "- Element: t > extensionElements > ioMapping > input\n"
                        "    - ERROR: Attribute 'target': Expected path expression '1a' but "
                        "doesn't match the pattern "
                        "'[a-zA-Z_][a-zA-Z0-9_]*(\\.[a-zA-Z_][a-zA-Z0-9_]*)*'.\n"
                        "    - ERROR: Attribute 'target': Expected path expression but not "
                        "found.\n");
    assert_refused(DOC(START "<bpmn:task id=\"t\"><bpmn:extensionElements><zeebe:ioMapping/>"
                             "<zeebe:ioMapping/></bpmn:extensionElements></bpmn:task>"),
                   REJECT("t", "Must not have more than one 'zeebe:ioMapping' extension element"));
}

static void test_ids(void **state)
{
    (void)state;
    assert_refused(DOC(START "<bpmn:task id=\"Task_1\"/>\n<bpmn:task id=\"Task_1\"/>"),
                   REJECT("Task_1", "The id 'Task_1' is already the id of the 'task' at line 4, "
                                    "column 30; ids must be unique in a resource"));
    assert_refused(DOC(START "<bpmn:task id=\"1 task\"/>"),
                   REJECT("1 task", "Attribute 'id' must be a valid XML name (a letter or '_' "
                                    "first, then letters, digits, '_', '-' or '.'), but is '1 "
                                    "task'"));
    assert_refused(DOC(START "<bpmn:task/>"),
                   REJECT("p > task", "Element id must be present and not empty."));
}

static void test_unsupported(void **state)
{
    (void)state;
    assert_refused(
        DOC(START "<bpmn:adHocSubProcess id=\"u\"/>"),
        REJECT("u", "Elements of type 'adHocSubProcess' are not supported by Chute yet" SUPPORTED));
    assert_refused(DOC(START "<bpmn:intermediateCatchEvent id=\"msg\"><bpmn:messageEventDefinition/>"
                             "</bpmn:intermediateCatchEvent>"),
                   REJECT("msg > messageEventDefinition", "Must reference a message ('messageRef')"));
    assert_refused(DOC(START "<bpmn:intermediateCatchEvent id=\"sig\"><bpmn:signalEventDefinition/>"
                             "</bpmn:intermediateCatchEvent>"),
                   REJECT("sig", "Elements of type 'intermediateCatchEvent' with a "
                                 "'signalEventDefinition' are not supported by Chute yet "
                                 "(supported: timer and message intermediate catch events)"));
    assert_refused(DOC(START "<bpmn:intermediateCatchEvent id=\"timer\"><bpmn:timerEventDefinition>"
                             "<bpmn:timeCycle>R/PT1M</bpmn:timeCycle>"
                             "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"),
                   REJECT("timer > timerEventDefinition > timeCycle",
                          "Timer cycles are only supported on non-interrupting boundary events and "
                          "event sub-process start events by Chute yet (timer start events of a "
                          "process come later)"));
    assert_refused(DOC(START "<bpmn:callActivity id=\"call\"/>"),
                   REJECT("call", "Must have exactly one 'zeebe:calledElement' extension element"));
    assert_refused(DOC(START "<bpmn:receiveTask id=\"r\"/>"),
                   REJECT("r", "Must reference a message ('messageRef')"));
    assert_refused(DOC(START "<bpmn:message id=\"m\" name=\"paid\"/><bpmn:receiveTask id=\"r\" "
                             "messageRef=\"m\"/>"),
                   REJECT("m", "Must have a correlation key: the message 'm' needs a "
                               "'zeebe:subscription' with a 'correlationKey' (referenced by 'r')"));
    assert_refused(DOC(START "<bpmn:eventBasedGateway id=\"g\"/>"),
                   REJECT("g", "Event-based gateway must have at least 2 outgoing sequence "
                               "flows"));
    assert_refused(
        DOC(START "<bpmn:eventBasedGateway id=\"g\"/><bpmn:task id=\"a\"/><bpmn:task id=\"b\"/>"
                  "<bpmn:sequenceFlow id=\"f1\" sourceRef=\"g\" targetRef=\"a\"/>"
                  "<bpmn:sequenceFlow id=\"f2\" sourceRef=\"g\" targetRef=\"b\"/>"),
        HEAD "- Element: g\n    - ERROR: Event-based gateway must not have an outgoing sequence "
             "flow to other elements than message/timer intermediate catch events (it leads to "
             "'a')\n    - ERROR: Event-based gateway must not have an outgoing sequence flow to "
             "other elements than message/timer intermediate catch events (it leads to 'b')\n");
    /* A sub-process: what it holds is checked too. */
    assert_refused(DOC(START "<bpmn:subProcess id=\"sub\"><bpmn:startEvent id=\"ss\"/>"
                             "<bpmn:serviceTask id=\"inner\"/></bpmn:subProcess>"),
                   REJECT("inner", "Must have exactly one 'zeebe:taskDefinition' extension "
                                   "element"));
    assert_refused(DOC(START "<bpmn:subProcess id=\"sub\"><bpmn:task id=\"t\"/></bpmn:subProcess>"),
                   REJECT("sub", "Must have exactly one start event in an embedded sub-process "
                                 "(found 0)"));
    assert_refused(DOC(START "<bpmn:subProcess id=\"esp\" triggeredByEvent=\"true\"/>"),
                   REJECT("esp", "Must have exactly one start event in an event sub-process "
                                 "(found 0)"));
    assert_refused(DOC(START "<bpmn:boundaryEvent id=\"b\" attachedToRef=\"start\">"
                             "<bpmn:errorEventDefinition/></bpmn:boundaryEvent>"
                             "<bpmn:task id=\"t\"/><bpmn:sequenceFlow id=\"f\" sourceRef=\"b\" "
                             "targetRef=\"t\"/>"),
                   REJECT("b", "Attribute 'attachedToRef' must reference an activity, but "
                               "'start' is a startEvent"));
    assert_refused(DOC(START "<bpmn:task id=\"t\"/><bpmn:boundaryEvent id=\"b\" attachedToRef=\"t\">"
                             "<bpmn:signalEventDefinition/></bpmn:boundaryEvent>"),
                   REJECT("b", "Elements of type 'boundaryEvent' with a 'signalEventDefinition' "
                               "are not supported by Chute yet (supported: error, timer and "
                               "message boundary events)"));
    assert_refused(DOC(START "<bpmn:endEvent id=\"e\"><bpmn:errorEventDefinition errorRef=\"x\"/>"
                             "</bpmn:endEvent>"),
                   REJECT("e > errorEventDefinition",
                          "Attribute 'errorRef' references 'x', which is not an error"));
    assert_refused(DOC(START "<bpmn:endEvent id=\"e\"><bpmn:escalationEventDefinition/>"
                             "</bpmn:endEvent>"),
                   REJECT("e", "End events with an 'escalationEventDefinition' are not supported "
                               "by Chute yet (supported: none, terminate, error and message end "
                               "events)"));
    assert_refused(DOC(START "<bpmn:intermediateThrowEvent id=\"s\"><bpmn:signalEventDefinition/>"
                             "</bpmn:intermediateThrowEvent>"),
                   REJECT("s", "Intermediate throw events with a 'signalEventDefinition' are not "
                               "supported by Chute yet (supported: none and message "
                               "intermediate throw events)"));
    assert_refused(DOC(START "<bpmn:serviceTask id=\"mi\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"t\"/></bpmn:extensionElements>"
                             "<bpmn:multiInstanceLoopCharacteristics isSequential=\"true\"/>"
                             "</bpmn:serviceTask>"),
                   REJECT("mi > multiInstanceLoopCharacteristics",
                          "Must have an input collection ('zeebe:loopCharacteristics' attribute "
                          "'inputCollection')"));
    assert_refused(DOC(START "<bpmn:task id=\"c\" isForCompensation=\"true\"/>"),
                   REJECT("c", "Compensation handlers (isForCompensation=\"true\") are not "
                               "supported by Chute yet"));
    assert_refused(DOC(START "<bpmn:complexGateway id=\"x\"/>"),
                   REJECT("x", "Elements of type 'complexGateway' are not supported (Zeebe does "
                               "not support them either)"));
    assert_refused(DOC(START
                       "<bpmn:task id=\"t\"><bpmn:extensionElements><zeebe:executionListeners>"
                       "<zeebe:executionListener eventType=\"start\" type=\"l\"/>"
                       "</zeebe:executionListeners></bpmn:extensionElements></bpmn:task>"),
                   REJECT("t > extensionElements > executionListeners",
                          "Execution listeners ('zeebe:executionListeners') are not supported by "
                          "Chute yet"));
}

static void test_expressions(void **state)
{
    (void)state;
    /* Refused by the hook, in an attribute and in a condition: message and column. */
    assert_refused(DOC(START "<bpmn:serviceTask id=\"Task_1\"><bpmn:extensionElements>"
                             "<zeebe:taskDefinition type=\"=a + UNSUPPORTED(1)\"/>"
                             "</bpmn:extensionElements></bpmn:serviceTask>"),
                   REJECT("Task_1 > extensionElements > taskDefinition",
                          "Attribute 'type': failed to parse expression 'a + UNSUPPORTED(1)': the "
                          "function 'UNSUPPORTED' is not supported (column 5)"));
    assert_refused(DOC(START "<bpmn:exclusiveGateway id=\"g\"/><bpmn:endEvent id=\"e\"/>"
                             "<bpmn:sequenceFlow id=\"a\" sourceRef=\"g\" targetRef=\"e\">"
                             "<bpmn:conditionExpression>=UNSUPPORTED(x)</bpmn:conditionExpression>"
                             "</bpmn:sequenceFlow>"
                             "<bpmn:sequenceFlow id=\"b\" sourceRef=\"g\" targetRef=\"e\">"
                             "<bpmn:conditionExpression>=</bpmn:conditionExpression>"
                             "</bpmn:sequenceFlow>"),
                   HEAD "- Element: a > conditionExpression\n    - ERROR: failed to parse "
                        "expression 'UNSUPPORTED(x)': the function 'UNSUPPORTED' is not supported "
                        "(column 1)\n"
                        "- Element: b > conditionExpression\n    - ERROR: Expected expression "
                        "but found static value '='. An expression must start with '=' (e.g. "
                        "'==').\n");
    assert_refused(DOC(START "<bpmn:task id=\"t\"><bpmn:extensionElements><zeebe:ioMapping>"
                             "<zeebe:input source=\"=UNSUPPORTED()\" target=\"x\"/>"
                             "</zeebe:ioMapping></bpmn:extensionElements></bpmn:task>"),
                   REJECT("t > extensionElements > ioMapping > input",
                          "Attribute 'source': failed to parse expression 'UNSUPPORTED()': the "
                          "function 'UNSUPPORTED' is not supported (column 1)"));
    /* A long expression is quoted in part. */
    char *doc = malloc(8192);
    char src[600];
    memset(src, 'a', 500);
    strcpy(src + 500, " + UNSUPPORTED()");
    snprintf(doc, 8192,
             DOC(START "<bpmn:scriptTask id=\"s\"><bpmn:extensionElements><zeebe:script "
                       "expression=\"=%s\" resultVariable=\"r\"/></bpmn:extensionElements>"
                       "</bpmn:scriptTask>"),
             src);
    char *m = refuse(doc);
    char want[1024];
    snprintf(want, sizeof want,
             REJECT("s > extensionElements > script",
                    "Attribute 'expression': failed to parse expression '%.200s...': the function "
                    "'UNSUPPORTED' is not supported (column 504)"),
             src);
    assert_string_equal(m, want);
    free(m);
    free(doc);
}

/* Every error of a document is reported, up to MODEL_MAX_ERRORS. */
static void test_error_cap(void **state)
{
    (void)state;
    size_t cap = 64 * 1024;
    char *doc = malloc(cap);
    strcpy(doc, "<bpmn:definitions " NS_DECL "><bpmn:process id=\"p\" isExecutable=\"true\">"
                "<bpmn:startEvent id=\"s\"/>\n");
    for (int i = 0; i < 120; i++)
        sprintf(doc + strlen(doc), "<bpmn:adHocSubProcess id=\"u%d\"/>\n", i);
    strcat(doc, "</bpmn:process></bpmn:definitions>");
    model_errors errs = {0};
    model_definitions *d = NULL;
    assert_int_equal(model_parse(doc, strlen(doc), "many.bpmn", &hook, &d, &errs), CHUTE_EINVAL);
    assert_int_equal(errs.count, MODEL_MAX_ERRORS);
    assert_int_equal(errs.omitted, 20);
    assert_string_equal(errs.items[0].element, "u0");
    assert_int_equal(errs.items[0].line, 2);
    assert_string_equal(errs.items[99].element, "u99");
    const model_errors *list = &errs;
    char *m = model_errors_format(&list, 1);
    const char *tail = "- Element: u99\n    - ERROR: Elements of type 'adHocSubProcess' are not "
                       "supported by Chute yet" SUPPORTED
                       "\n(20 more errors not shown: at most 100 are reported per resource)";
    assert_true(strlen(m) > strlen(tail));
    assert_string_equal(m + strlen(m) - strlen(tail), tail);
    free(m);
    model_errors_clear(&errs);
    model_errors_clear(&errs); /* idempotent */
    model_errors_clear(NULL);
    free(doc);
}

/* The message of a deployment with several refused resources; a second
 * parse with the same errors starts afresh. */
static void test_format_several(void **state)
{
    (void)state;
    model_errors a = {0}, b = {0}, ok = {0};
    model_definitions *d = NULL;
    const char *x1 = DOC(START "<bpmn:adHocSubProcess id=\"u\"/><bpmn:serviceTask id=\"t\"/>");
    assert_int_equal(model_parse("junk", 4, "b.bpmn", &hook, &d, &b), CHUTE_EINVAL);
    assert_int_equal(model_parse(x1, strlen(x1), "a.bpmn", &hook, &d, &a), CHUTE_EINVAL);
    assert_int_equal(model_parse(x1, strlen(x1), "a.bpmn", &hook, &d, &a), CHUTE_EINVAL);
    const model_errors *list[] = {&a, &ok, &b};
    char *m = model_errors_format(list, 3);
    assert_string_equal(m, "Expected to deploy new resources, but encountered the following "
                           "errors:\n'a.bpmn': - Element: u\n    - ERROR: Elements of type "
                           "'adHocSubProcess' are not supported by Chute yet" SUPPORTED "\n"
                           "- Element: t\n    - ERROR: Must have exactly one "
                           "'zeebe:taskDefinition' extension element\n"
                           "\n'b.bpmn': The document is not well-formed XML: syntax error at "
                           "line 1, column 1");
    free(m);
    /* A success clears what |errs| held. */
    const char *good = DOC(START);
    assert_int_equal(model_parse(good, strlen(good), "a.bpmn", &hook, &d, &a), 0);
    assert_int_equal(a.count, 0);
    assert_null(a.resource);
    model_definitions_free(d);
    model_errors_clear(&a);
    model_errors_clear(&b);
}

/* Encodings expat knows are read; names come out as UTF-8. */
static void test_encoding(void **state)
{
    (void)state;
    const char latin1[] = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
                          "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">"
                          "<process id=\"p\" name=\"Caf\xe9\" isExecutable=\"true\">"
                          "<startEvent id=\"s\"/></process></definitions>";
    model_definitions *d = deploy(latin1);
    assert_string_equal(d->processes[0].name, "Caf\xc3\xa9");
    model_definitions_free(d);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(model_element_type_name(MODEL_ELEMENT_SERVICE_TASK), "SERVICE_TASK");
    assert_string_equal(model_element_type_name(MODEL_ELEMENT_EVENT_SUB_PROCESS),
                        "EVENT_SUB_PROCESS");
    assert_string_equal(model_element_type_bpmn(MODEL_ELEMENT_EVENT_SUB_PROCESS), "subProcess");
    assert_string_equal(model_element_type_name(MODEL_ELEMENT_TYPE_COUNT), "");
    assert_string_equal(model_event_type_name(MODEL_EVENT_NONE), "UNSPECIFIED");
    assert_string_equal(model_event_type_name(MODEL_EVENT_TERMINATE), "TERMINATE");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BPMN_CORPUS_DIR\n", argv[0]);
        return 1;
    }
    corpus_dir = argv[1];
    DIR *dir = opendir(corpus_dir);
    if (!dir) {
        fprintf(stderr, "test_bpmn: the BPMN corpus is missing: cannot open %s\n", corpus_dir);
        return 1;
    }
    closedir(dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_full_model),
        cmocka_unit_test(test_no_hook),
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_two_processes),
        cmocka_unit_test(test_doctype_refused),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_not_xml),
        cmocka_unit_test(test_wrong_root),
        cmocka_unit_test(test_start_events),
        cmocka_unit_test(test_flows),
        cmocka_unit_test(test_gateways),
        cmocka_unit_test(test_job_tasks),
        cmocka_unit_test(test_scripts_and_rules),
        cmocka_unit_test(test_mappings),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_format_several),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
