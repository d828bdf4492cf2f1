/*
 * Deployment in the engine (src/engine/deploy.c): versions per
 * bpmnProcessId, an unchanged resource keeping its version and key, all or
 * nothing, several processes in one file, and a restart that rebuilds
 * exactly what was committed.
 */
#define _GNU_SOURCE /* asprintf */
#include "engine_fixture.h"

#define NS "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" " \
           "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\""

/* A process |id| with one service task of job type |type|. */
static char *model(const char *id, const char *type)
{
    char *s = NULL;
    int n = asprintf(&s,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<bpmn:definitions " NS " id=\"defs\">\n"
                     " <bpmn:process id=\"%s\" isExecutable=\"true\">\n"
                     "  <bpmn:startEvent id=\"start\"/>\n"
                     "  <bpmn:sequenceFlow id=\"f1\" sourceRef=\"start\" targetRef=\"task\"/>\n"
                     "  <bpmn:serviceTask id=\"task\"><bpmn:extensionElements>"
                     "<zeebe:taskDefinition type=\"%s\"/></bpmn:extensionElements>"
                     "</bpmn:serviceTask>\n"
                     "  <bpmn:sequenceFlow id=\"f2\" sourceRef=\"task\" targetRef=\"end\"/>\n"
                     "  <bpmn:endEvent id=\"end\"/>\n"
                     " </bpmn:process>\n"
                     "</bpmn:definitions>\n",
                     id, type);
    assert_true(n > 0);
    return s;
}

static chute_resource res(const char *name, const char *xml)
{
    return (chute_resource){.name = name, .content = (const uint8_t *)xml, .len = strlen(xml)};
}

static void test_versions_and_unchanged_redeploy(void **state)
{
    fx *f = *state;
    char *v1 = model("order", "pay"), *v2 = model("order", "charge");
    chute_resource r = res("order.bpmn", v1);
    int64_t dk1, dk2, dk3;
    const chute_process_view *p;
    size_t n;
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk1, &p, &n, &f->err));
    assert_int_equal(n, 1);
    assert_string_equal(p[0].bpmn_process_id, "order");
    assert_int_equal(p[0].version, 1);
    assert_string_equal(p[0].resource_name, "order.bpmn");
    int64_t k1 = p[0].key;
    assert_true(k1 != dk1);
    /* The same bytes under the same name: same version, same key. */
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk2, &p, &n, &f->err));
    assert_true(dk2 != dk1);
    assert_int_equal(p[0].version, 1);
    assert_int_equal(p[0].key, k1);
    /* Changed content: version 2, a new key. */
    r = res("order.bpmn", v2);
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk3, &p, &n, &f->err));
    assert_int_equal(p[0].version, 2);
    assert_true(p[0].key > k1);
    int64_t k2 = p[0].key;
    /* The first content again is new again: version 3. */
    r = res("order.bpmn", v1);
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk3, &p, &n, &f->err));
    assert_int_equal(p[0].version, 3);
    chute_process_view v;
    assert_ok(f, chute_engine_find_process(f->e, "order", -1, &v, &f->err));
    assert_int_equal(v.version, 3);
    assert_ok(f, chute_engine_find_process(f->e, "order", 2, &v, &f->err));
    assert_int_equal(v.key, k2);
    assert_rejected(f, chute_engine_find_process(f->e, "order", 7, &v, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "process ID 'order' and version '7'");
    assert_rejected(f, chute_engine_find_process(f->e, "nope", -1, &v, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message,
                    "Expected to find process definition with process ID 'nope', but none found");
    free(v1);
    free(v2);
}

static void test_all_or_nothing(void **state)
{
    fx *f = *state;
    char *good = model("first", "a");
    const char *bad = "<?xml version=\"1.0\"?><bpmn:definitions " NS ">"
                      "<bpmn:process id=\"second\" isExecutable=\"true\">"
                      "<bpmn:startEvent id=\"s\"/><bpmn:serviceTask id=\"NoType\"/>"
                      "<bpmn:sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"NoType\"/>"
                      "</bpmn:process></bpmn:definitions>";
    chute_resource r[2] = {res("first.bpmn", good), res("second.bpmn", bad)};
    int64_t dk;
    const chute_process_view *p;
    size_t n;
    assert_rejected(f, chute_engine_deploy(f->e, r, 2, &dk, &p, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message,
                    "Expected to deploy new resources, but encountered the following errors:");
    assert_contains(f->err.message, "'second.bpmn'");
    assert_contains(f->err.message, "NoType");
    chute_process_view v;
    assert_rejected(f, chute_engine_find_process(f->e, "first", -1, &v, &f->err), CHUTE_ENOTFOUND);
    /* The same process twice in one deployment. */
    chute_resource twice[2] = {res("a.bpmn", good), res("b.bpmn", good)};
    assert_rejected(f, chute_engine_deploy(f->e, twice, 2, &dk, &p, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "Duplicated process id 'first'");
    /* Arguments. */
    assert_rejected(f, chute_engine_deploy(f->e, r, 0, &dk, &p, &n, &f->err), CHUTE_EINVAL);
    chute_resource unnamed = res("", good);
    assert_rejected(f, chute_engine_deploy(f->e, &unnamed, 1, &dk, &p, &n, &f->err),
                    CHUTE_EINVAL);
    chute_resource empty = {.name = "e.bpmn", .content = (const uint8_t *)"", .len = 0};
    assert_rejected(f, chute_engine_deploy(f->e, &empty, 1, &dk, &p, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "'e.bpmn': the resource is empty");
    /* Every expression is parsed by FEEL at deploy time. */
    char *badexpr = model("feel", "=1 +");
    chute_resource fr = res("feel.bpmn", badexpr);
    assert_rejected(f, chute_engine_deploy(f->e, &fr, 1, &dk, &p, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "'feel.bpmn'");
    assert_contains(f->err.message, "failed to parse expression '1 +'");
    free(badexpr);
    char *goodexpr = model("feel", "=&quot;pay-&quot; + region");
    fr = res("feel.bpmn", goodexpr);
    assert_ok(f, chute_engine_deploy(f->e, &fr, 1, &dk, &p, &n, &f->err));
    free(goodexpr);
    free(good);
}

static void test_two_processes_in_one_file(void **state)
{
    fx *f = *state;
    const char *xml =
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
        "<process id=\"one\" isExecutable=\"true\"><startEvent id=\"s1\"/></process>"
        "<process id=\"two\" isExecutable=\"true\"><startEvent id=\"s2\"/></process>"
        "</definitions>";
    chute_resource r = res("both.bpmn", xml);
    int64_t dk;
    const chute_process_view *p;
    size_t n;
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &p, &n, &f->err));
    assert_int_equal(n, 2);
    assert_string_equal(p[0].bpmn_process_id, "one");
    assert_string_equal(p[1].bpmn_process_id, "two");
    assert_int_equal(p[0].deployment_key, dk);
    assert_true(p[1].key > p[0].key);
}

static void test_restart_rebuilds_what_was_committed(void **state)
{
    fx *f = *state;
    char *v1 = model("kept", "x"), *v2 = model("kept", "y"), *lost = model("lost", "z");
    chute_resource r = res("kept.bpmn", v1);
    int64_t dk;
    const chute_process_view *p;
    size_t n;
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &p, &n, &f->err));
    r = res("kept.bpmn", v2);
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &p, &n, &f->err));
    int64_t key2 = p[0].key;
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    /* Deployed but never committed: gone after the restart. */
    r = res("lost.bpmn", lost);
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &p, &n, &f->err));
    fx_reopen(f);
    chute_process_view v;
    assert_ok(f, chute_engine_find_process(f->e, "kept", -1, &v, &f->err));
    assert_int_equal(v.version, 2);
    assert_int_equal(v.key, key2);
    const uint8_t *xml;
    size_t len;
    assert_ok(f, chute_engine_get_process(f->e, key2, &v, &xml, &len, &f->err));
    assert_int_equal(len, strlen(v2));
    assert_memory_equal(xml, v2, len);
    assert_rejected(f, chute_engine_find_process(f->e, "lost", -1, &v, &f->err), CHUTE_ENOTFOUND);
    /* Redeploying the committed content keeps its version after a restart. */
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &p, &n, &f->err)); /* lost: v1 again */
    assert_int_equal(p[0].version, 1);
    r = res("kept.bpmn", v2);
    assert_ok(f, chute_engine_deploy(f->e, &r, 1, &dk, &p, &n, &f->err));
    assert_int_equal(p[0].key, key2);
    /* Keys never repeat: a new job's key is past every definition's. */
    int64_t job = fx_create(f, "t", 0, NULL);
    assert_true(job > key2 && job > dk);
    assert_rejected(f, chute_engine_get_process(f->e, 12345, &v, NULL, NULL, &f->err),
                    CHUTE_ENOTFOUND);
    free(v1);
    free(v2);
    free(lost);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_versions_and_unchanged_redeploy),
        FX_TEST(test_all_or_nothing),
        FX_TEST(test_two_processes_in_one_file),
        FX_TEST(test_restart_rebuilds_what_was_committed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
