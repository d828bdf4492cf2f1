/*
 * The `chute` CLI against a real chuted: every command, its --json form,
 * and the bad inputs (malformed JSON, unknown keys, an unreachable broker)
 * with the messages that say what to fix.
 */
#include "chuted_fixture.h"

#include <jansson.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static chuted_proc daemon_;
static char out[65536];
static int status;

/* Runs `chute --address ADDR <args>` through the shell; stdout and stderr
 * together land in |out|; returns the exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' --address %s %s 2>&1", CHUTE_CLI_PATH, daemon_.address, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    printf("$ chute %s\n[%d] %s", args, status, out);
    return status;
}

static long long create(const char *type, const char *extra)
{
    assert_int_equal(run("job create %s %s", type, extra ? extra : ""), 0);
    return atoll(out);
}

static int setup(void **state)
{
    return chuted_start(&daemon_) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    chuted_cleanup(&daemon_);
    return 0;
}

static void test_status_and_help(void **state)
{
    assert_int_equal(run("status"), 0);
    assert_non_null(strstr(out, "Gateway version"));
    assert_int_equal(run("--json status"), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_non_null(json_object_get(doc, "brokers"));
    json_decref(doc);
    const char *cmds[] = {"status",          "job create",         "job get",
                          "job activate",    "job complete",       "job fail",
                          "job throw-error", "job update-retries", "job update-timeout",
                          "job cancel",      "incident list",      "incident resolve",
                          "worker",          "instance create",    "instance get",
                          "instance cancel", "variables set",      "message publish"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        assert_int_equal(run("%s --help", cmds[i]), 0);
        assert_non_null(strstr(out, "Usage: chute"));
    }
    assert_int_equal(run("--help"), 0);
    assert_int_equal(run("frobnicate"), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
    assert_int_equal(run("job"), 2);
    assert_int_equal(run("job create"), 2);
    assert_non_null(strstr(out, "missing TYPE"));
}

static void test_create_get_activate_complete(void **state)
{
    long long key = create("cli-a", "--variables '{\"a\":1}' --headers '{\"h\":\"v\"}' "
                                    "--retries 5 --priority 2");
    assert_true(key > 0);
    assert_int_equal(run("job get %lld", key), 0);
    assert_non_null(strstr(out, "ACTIVATABLE"));
    assert_non_null(strstr(out, "Retries:        5"));
    assert_int_equal(run("--json job get %lld", key), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "state")), "ACTIVATABLE");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "variables"), "a")),
                     1);
    json_decref(doc);

    assert_int_equal(run("job activate cli-a --max 5 --timeout 1m --worker me"), 0);
    char k[32];
    snprintf(k, sizeof k, "%lld", key);
    assert_non_null(strstr(out, k));
    assert_int_equal(run("job activate cli-a"), 0);
    assert_non_null(strstr(out, "No job of type 'cli-a'"));
    assert_int_equal(run("job update-timeout %lld --timeout 10m", key), 0);
    assert_int_equal(run("job complete %lld --variables '{\"r\":2}'", key), 0);
    assert_non_null(strstr(out, "Completed job"));
    assert_int_equal(run("job get %lld", key), 0);
    assert_non_null(strstr(out, "COMPLETED"));
    assert_non_null(strstr(out, "\"r\""));
    /* the second completion and unknown keys are refused by the broker */
    assert_int_equal(run("job complete %lld", key), 1);
    assert_non_null(strstr(out, "NOT_FOUND"));
    assert_int_equal(run("job get 123456"), 1);
    assert_non_null(strstr(out, "ENOTFOUND"));
    assert_int_equal(run("--json job activate cli-a --max 2"), 0);
    doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "jobs")), 0);
    json_decref(doc);
}

static void test_bad_input(void **state)
{
    assert_int_equal(run("job create cli-b --variables '{\"a\":'"), 2);
    assert_non_null(strstr(out, "Expected variables to be valid JSON"));
    assert_non_null(strstr(out, "column"));
    assert_int_equal(run("job create cli-b --variables '[1]'"), 2);
    assert_non_null(strstr(out, "JSON object"));
    assert_int_equal(run("job create cli-b --headers '{\"a\":1}'"), 2);
    assert_int_equal(run("job create cli-b --retries 0"), 2);
    assert_non_null(strstr(out, "--retries"));
    assert_int_equal(run("job create cli-b --delay soon"), 2);
    assert_non_null(strstr(out, "duration"));
    assert_int_equal(run("job complete notakey"), 2);
    assert_non_null(strstr(out, "not a job or incident key"));
    assert_int_equal(run("job fail 5"), 2);
    assert_non_null(strstr(out, "missing --retries"));
    assert_int_equal(run("job throw-error 5"), 2);
    assert_non_null(strstr(out, "missing --code"));
    assert_int_equal(run("job activate cli-b --max 0"), 2);
    assert_int_equal(run("job create cli-b --bogus 1"), 2);
    assert_non_null(strstr(out, "unknown option '--bogus'"));
    assert_int_equal(run("job complete 5 --variables '{'"), 2);
}

static void test_unreachable(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' --address 127.0.0.1:1 status 2>&1", CHUTE_CLI_PATH);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    printf("%s", out);
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_non_null(strstr(out, "cannot connect to 127.0.0.1:1"));
    assert_non_null(strstr(out, "Is chuted running"));
    snprintf(cmd, sizeof cmd, "CHUTE_ADDRESS=bad:addr:x '%s' status 2>&1", CHUTE_CLI_PATH);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    st = pclose(p);
    printf("%s", out);
    assert_int_equal(WEXITSTATUS(st), 2);
    assert_non_null(strstr(out, "malformed address"));
}

static void test_fail_incident_resolve(void **state)
{
    long long key = create("cli-f", "--retries 2");
    assert_int_equal(run("job activate cli-f"), 0);
    assert_int_equal(run("job fail %lld --retries 0 --message boom", key), 0);
    assert_int_equal(run("incident list --type cli-f"), 0);
    assert_non_null(strstr(out, "boom"));
    assert_non_null(strstr(out, "JOB_NO_RETRIES"));
    assert_int_equal(run("--json incident list --type cli-f"), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    json_t *inc = json_array_get(json_object_get(doc, "incidents"), 0);
    assert_non_null(inc);
    long long ik = atoll(json_string_value(json_object_get(inc, "key")));
    json_decref(doc);
    assert_int_equal(run("job update-retries %lld --retries 0", key), 1);
    assert_non_null(strstr(out, "EINVAL"));
    assert_int_equal(run("job update-retries %lld --retries 3", key), 0);
    assert_int_equal(run("incident resolve %lld", ik), 0);
    assert_int_equal(run("job get %lld", key), 0);
    assert_non_null(strstr(out, "ACTIVATABLE"));
    /* fail with a back-off, then throw an error */
    assert_int_equal(run("job activate cli-f"), 0);
    assert_int_equal(run("job fail %lld --retries 2 --backoff 1s", key), 0);
    assert_int_equal(run("job get %lld", key), 0);
    assert_non_null(strstr(out, "FAILED"));
    usleep(1300000);
    assert_int_equal(run("job activate cli-f"), 0);
    assert_int_equal(run("job throw-error %lld --code E42 --message nope", key), 0);
    assert_int_equal(run("incident list"), 0);
    assert_non_null(strstr(out, "UNHANDLED_ERROR_EVENT"));
    assert_int_equal(run("job cancel %lld", key), 0);
    assert_int_equal(run("job cancel %lld", key), 1);
    /* update-timeout needs an activated job */
    key = create("cli-f2", NULL);
    assert_int_equal(run("job update-timeout %lld --timeout 1m", key), 1);
    assert_non_null(strstr(out, "ESTATE"));
}

static pid_t start_worker(const char *type, const char *command)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    (void)type;
    return pid;
}

static int stop_worker(pid_t pid)
{
    kill(pid, SIGINT);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_worker_and_wait(void **state)
{
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "exec '%s' --address %s worker cli-w --concurrency 2 -- "
        "sh -c 'v=$(cat); if [ \"$v\" = \"{\\\"fail\\\":true}\" ]; then echo oops-from-stderr >&2; "
        "exit 3; fi; echo \"{\\\"done\\\":true,\\\"key\\\":\\\"$CHUTE_JOB_KEY\\\"}\"' "
        "2>/dev/null",
        CHUTE_CLI_PATH, daemon_.address);
    pid_t w = start_worker("cli-w", cmd);
    /* --wait prints the result the command produced */
    assert_int_equal(run("job create cli-w --variables '{\"x\":1}' --wait --wait-timeout 20s"), 0);
    assert_non_null(strstr(out, "\"done\""));
    /* a failing command: retries - 1 and the stderr tail as the message */
    assert_int_equal(run("job create cli-w --variables '{\"fail\":true}' --retries 1 --wait "
                         "--wait-timeout 20s"),
                     1);
    assert_non_null(strstr(out, "oops-from-stderr"));
    assert_int_equal(run("incident list --type cli-w"), 0);
    assert_non_null(strstr(out, "oops-from-stderr"));
    assert_int_equal(stop_worker(w), 0);

    /* a command whose output is not a JSON object fails the job */
    snprintf(cmd, sizeof cmd,
             "exec '%s' --address %s worker cli-w2 -- sh -c 'cat >/dev/null; echo not-json' "
             "2>/dev/null",
             CHUTE_CLI_PATH, daemon_.address);
    w = start_worker("cli-w2", cmd);
    assert_int_equal(run("job create cli-w2 --retries 1 --wait --wait-timeout 20s"), 1);
    assert_non_null(strstr(out, "output"));
    assert_int_equal(stop_worker(w), 0);
}

/* ---- process instances ---------------------------------------------------------- */

static const char pay_bpmn[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"\n"
    "    xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">\n"
    "  <process id=\"cli-pay\" isExecutable=\"true\">\n"
    "    <startEvent id=\"start\"/>\n"
    "    <sequenceFlow id=\"f1\" sourceRef=\"start\" targetRef=\"charge\"/>\n"
    "    <serviceTask id=\"charge\"><extensionElements>\n"
    "      <zeebe:taskDefinition type=\"cli-charge\"/></extensionElements></serviceTask>\n"
    "    <sequenceFlow id=\"f2\" sourceRef=\"charge\" targetRef=\"end\"/>\n"
    "    <endEvent id=\"end\"/>\n"
    "  </process>\n"
    "</definitions>\n";

/* Writes |text| to DIR/|name| and returns the path (static buffer). */
static const char *write_model(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", daemon_.dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The key after "Created process instance " in |out|. */
static long long created_key(void)
{
    const char *p = strstr(out, "Created process instance ");
    assert_non_null(p);
    return atoll(p + strlen("Created process instance "));
}

static json_t *json_out(void)
{
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    return doc;
}

static long long json_key(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    assert_non_null(s);
    return atoll(s);
}

static void test_instance_commands(void **state)
{
    assert_int_equal(run("deploy %s", write_model("cli-pay.bpmn", pay_bpmn)), 0);
    assert_int_equal(run("instance create cli-pay --variables '{\"amount\":5}'"), 0);
    long long pi = created_key();
    assert_true(pi > 0);
    assert_non_null(strstr(out, "cli-pay version 1"));

    /* get: the state, the element that waits with its job, the variables */
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "State:      ACTIVE"));
    assert_non_null(strstr(out, "charge"));
    assert_non_null(strstr(out, "SERVICE_TASK"));
    assert_non_null(strstr(out, "{\"amount\":5}"));
    assert_non_null(strstr(out, "Open incidents: none"));
    assert_non_null(strstr(out, "Waiting on: no timer or message")); /* a job, not an event */
    assert_int_equal(run("instance get %lld --json", pi), 0);
    json_t *doc = json_out();
    assert_int_equal(json_array_size(json_object_get(doc, "waits")), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "state")), "ACTIVE");
    assert_string_equal(json_string_value(json_object_get(doc, "bpmnProcessId")), "cli-pay");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "variables"), "amount")), 5);
    json_t *els = json_object_get(doc, "elements");
    json_t *task = json_array_get(els, json_array_size(els) - 1);
    assert_string_equal(json_string_value(json_object_get(task, "elementId")), "charge");
    long long task_key = json_key(task, "key");
    json_decref(doc);

    /* variables set: on the root, then local to the task */
    assert_int_equal(run("variables set %lld --variables '{\"amount\":6}'", pi), 0);
    assert_non_null(strstr(out, "Set variables on"));
    assert_int_equal(run("variables set %lld --variables '{\"note\":1}' --local", task_key), 0);
    assert_non_null(strstr(out, "Set local variables on"));
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "{\"amount\":6}"));

    /* the job fails: a process incident, shown by incident list and get */
    assert_int_equal(run("--json job activate cli-charge"), 0);
    doc = json_out();
    json_t *job = json_array_get(json_object_get(doc, "jobs"), 0);
    assert_non_null(job);
    long long job_key = json_key(job, "key");
    assert_int_equal(json_key(job, "processInstanceKey"), pi);
    json_decref(doc);
    assert_int_equal(run("job fail %lld --retries 0 --message declined", job_key), 0);
    assert_int_equal(run("incident list --type cli-charge"), 0);
    char pik[32];
    snprintf(pik, sizeof pik, "%lld", pi);
    assert_non_null(strstr(out, "JOB_NO_RETRIES"));
    assert_non_null(strstr(out, "charge"));
    assert_non_null(strstr(out, pik));
    assert_non_null(strstr(out, "declined"));
    assert_int_equal(run("--json incident list --type cli-charge"), 0);
    doc = json_out();
    json_t *inc = json_array_get(json_object_get(doc, "incidents"), 0);
    assert_int_equal(json_key(inc, "processInstanceKey"), pi);
    assert_string_equal(json_string_value(json_object_get(inc, "elementId")), "charge");
    long long ik = json_key(inc, "key");
    json_decref(doc);
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "has an open incident"));
    assert_non_null(strstr(out, "Open incidents:\n"));

    /* recover and complete: the instance completes */
    assert_int_equal(run("job update-retries %lld --retries 1", job_key), 0);
    assert_int_equal(run("incident resolve %lld", ik), 0);
    assert_int_equal(run("job activate cli-charge"), 0);
    assert_int_equal(run("job complete %lld --variables '{\"paid\":true}'", job_key), 0);
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "State:      COMPLETED"));
    assert_non_null(strstr(out, "Active elements: none"));
    assert_non_null(strstr(out, "\"paid\":true"));
    assert_non_null(strstr(out, "Resolved incidents: 1"));

    /* cancel another one, by definition key */
    assert_int_equal(run("--json instance create cli-pay"), 0);
    doc = json_out();
    long long pdk = json_key(doc, "processDefinitionKey");
    json_decref(doc);
    assert_int_equal(run("instance create %lld", pdk), 0);
    long long other = created_key();
    assert_int_equal(run("instance cancel %lld", other), 0);
    assert_non_null(strstr(out, "Cancelled process instance"));
    assert_int_equal(run("instance get %lld", other), 0);
    assert_non_null(strstr(out, "TERMINATED"));
    assert_int_equal(run("instance cancel %lld", other), 1);
    assert_non_null(strstr(out, "NOT_FOUND"));
}

static void test_instance_with_result(void **state)
{
    assert_int_equal(run("deploy %s", write_model("cli-pay.bpmn", pay_bpmn)), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "exec '%s' --address %s worker cli-charge -- sh -c 'cat >/dev/null; "
             "echo \"{\\\"paid\\\":true}\"' 2>/dev/null",
             CHUTE_CLI_PATH, daemon_.address);
    pid_t w = start_worker("cli-charge", cmd);
    assert_int_equal(run("instance create cli-pay --variables '{\"amount\":3,\"x\":1}' "
                         "--with-result --fetch paid --fetch amount --timeout 20s"),
                     0);
    assert_non_null(strstr(out, "Completed with variables"));
    assert_non_null(strstr(out, "\"paid\":true"));
    assert_non_null(strstr(out, "\"amount\":3"));
    assert_null(strstr(out, "\"x\""));
    assert_int_equal(run("--json instance create cli-pay --with-result --fetch paid,amount"), 0);
    json_t *doc = json_out();
    assert_true(json_is_true(json_object_get(json_object_get(doc, "variables"), "paid")));
    json_decref(doc);
    assert_int_equal(stop_worker(w), 0);
    /* nobody works on it now: the broker's wait ends, the instance runs on */
    assert_int_equal(run("instance create cli-pay --with-result --timeout 300ms"), 1);
    assert_non_null(strstr(out, "ETIMEDOUT"));
    assert_non_null(strstr(out, "runs on"));
}

static void test_instance_bad_input(void **state)
{
    assert_int_equal(run("instance create"), 2);
    assert_non_null(strstr(out, "missing ID"));
    assert_int_equal(run("instance create cli-pay --variables '{\"a\":'"), 2);
    assert_non_null(strstr(out, "Expected variables to be valid JSON"));
    assert_int_equal(run("instance create cli-pay --variables '[1]'"), 2);
    assert_non_null(strstr(out, "JSON object"));
    assert_int_equal(run("instance create cli-pay --fetch a"), 2);
    assert_non_null(strstr(out, "--fetch only applies with --with-result"));
    assert_int_equal(run("instance create cli-pay --timeout 1s"), 2);
    assert_non_null(strstr(out, "--timeout only applies with --with-result"));
    assert_int_equal(run("instance create cli-pay --with-result --timeout soon"), 2);
    assert_non_null(strstr(out, "duration"));
    assert_int_equal(run("instance create cli-pay --version latest"), 2);
    assert_non_null(strstr(out, "--version must be"));
    assert_int_equal(run("instance create 123 --version 2"), 2);
    assert_non_null(strstr(out, "definition key"));
    /* an unknown process: the broker's message, and what to do */
    assert_int_equal(run("instance create cli-no-such-process"), 1);
    assert_non_null(strstr(out, "cli-no-such-process"));
    assert_non_null(strstr(out, "chute deploy"));
    assert_int_equal(run("instance get"), 2);
    assert_non_null(strstr(out, "missing KEY"));
    assert_int_equal(run("instance get nope"), 2);
    assert_non_null(strstr(out, "not a process instance key"));
    assert_int_equal(run("instance get 123456"), 1);
    assert_non_null(strstr(out, "ENOTFOUND"));
    assert_int_equal(run("instance cancel 123456"), 1);
    assert_non_null(strstr(out, "NOT_FOUND"));
    assert_int_equal(run("variables set 5"), 2);
    assert_non_null(strstr(out, "missing --variables"));
    assert_int_equal(run("variables set 5 --variables '{'"), 2);
    assert_non_null(strstr(out, "valid JSON"));
    assert_int_equal(run("variables set 123456 --variables '{\"a\":1}'"), 1);
    assert_non_null(strstr(out, "NOT_FOUND"));
    assert_int_equal(run("instance"), 2);
    assert_non_null(strstr(out, "needs a subcommand"));
    assert_int_equal(run("instance --help"), 0);
    assert_non_null(strstr(out, "create get cancel"));
    assert_int_equal(run("instance create --help"), 0);
    assert_non_null(strstr(out, "--with-result"));
}

/* ---- messages ------------------------------------------------------------------ */

static const char wait_bpmn[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"\n"
    "    xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">\n"
    "  <bpmn:message id=\"m\" name=\"cli-paid\"><bpmn:extensionElements>\n"
    "    <zeebe:subscription correlationKey=\"=orderId\"/></bpmn:extensionElements>\n"
    "  </bpmn:message>\n"
    "  <bpmn:process id=\"cli-wait\" isExecutable=\"true\">\n"
    "    <bpmn:startEvent id=\"start\"/>\n"
    "    <bpmn:sequenceFlow id=\"f1\" sourceRef=\"start\" targetRef=\"wait\"/>\n"
    "    <bpmn:intermediateCatchEvent id=\"wait\">\n"
    "      <bpmn:messageEventDefinition messageRef=\"m\"/></bpmn:intermediateCatchEvent>\n"
    "    <bpmn:sequenceFlow id=\"f2\" sourceRef=\"wait\" targetRef=\"end\"/>\n"
    "    <bpmn:endEvent id=\"end\"/>\n"
    "  </bpmn:process>\n"
    "</bpmn:definitions>\n";

static void test_message_publish(void **state)
{
    assert_int_equal(run("deploy %s", write_model("cli-wait.bpmn", wait_bpmn)), 0);
    assert_int_equal(run("instance create cli-wait --variables '{\"orderId\":\"A-1\"}'"), 0);
    long long pi = created_key();
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "State:      ACTIVE"));

    /* the waiting instance gets the message and its variables, and ends */
    assert_int_equal(run("message publish cli-paid --correlation-key A-1 "
                         "--variables '{\"amount\":7}'"),
                     0);
    assert_non_null(strstr(out, "Published message "));
    assert_non_null(strstr(out, "'cli-paid' with correlation key 'A-1'"));
    assert_non_null(strstr(out, "only subscriptions open now"));
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "State:      COMPLETED"));
    assert_non_null(strstr(out, "\"amount\":7"));

    /* published first with a time to live: an instance that waits later
     * gets it */
    assert_int_equal(run("--json message publish cli-paid --correlation-key A-2 --ttl 1m "
                         "--id pay-A-2"),
                     0);
    json_t *doc = json_out();
    assert_true(json_key(doc, "key") > 0);
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "cli-paid");
    assert_string_equal(json_string_value(json_object_get(doc, "correlationKey")), "A-2");
    assert_int_equal(json_integer_value(json_object_get(doc, "timeToLive")), 60000);
    assert_string_equal(json_string_value(json_object_get(doc, "messageId")), "pay-A-2");
    json_decref(doc);
    assert_int_equal(run("instance create cli-wait --variables '{\"orderId\":\"A-2\"}'"), 0);
    pi = created_key();
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "State:      COMPLETED"));

    /* the same id again while the first lives: refused, with what to do */
    assert_int_equal(run("message publish cli-paid --correlation-key A-2 --ttl 1m --id pay-A-2"),
                     1);
    assert_non_null(strstr(out, "EEXIST"));
    assert_non_null(strstr(out, "Expected to publish a new message with id 'pay-A-2', but a "
                                "message with that id was already published"));
    assert_non_null(strstr(out, "another --id"));
    /* an empty correlation key is allowed (message start events) */
    assert_int_equal(run("message publish cli-nobody --correlation-key ''"), 0);
    assert_non_null(strstr(out, "Published message"));
}

/* An event-based gateway waits for a message and a timer at once. */
static const char waits_bpmn[] =
    "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"\n"
    "    xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">\n"
    "  <bpmn:message id=\"m\" name=\"cli-waits-paid\"><bpmn:extensionElements>\n"
    "    <zeebe:subscription correlationKey=\"=orderId\"/></bpmn:extensionElements>\n"
    "  </bpmn:message>\n"
    "  <bpmn:process id=\"cli-waits\" isExecutable=\"true\">\n"
    "    <bpmn:startEvent id=\"start\"/>\n"
    "    <bpmn:sequenceFlow id=\"f1\" sourceRef=\"start\" targetRef=\"gate\"/>\n"
    "    <bpmn:eventBasedGateway id=\"gate\"/>\n"
    "    <bpmn:sequenceFlow id=\"f2\" sourceRef=\"gate\" targetRef=\"paid\"/>\n"
    "    <bpmn:sequenceFlow id=\"f3\" sourceRef=\"gate\" targetRef=\"late\"/>\n"
    "    <bpmn:intermediateCatchEvent id=\"paid\">\n"
    "      <bpmn:messageEventDefinition messageRef=\"m\"/></bpmn:intermediateCatchEvent>\n"
    "    <bpmn:intermediateCatchEvent id=\"late\"><bpmn:timerEventDefinition>\n"
    "      <bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>\n"
    "    </bpmn:intermediateCatchEvent>\n"
    "    <bpmn:sequenceFlow id=\"f4\" sourceRef=\"paid\" targetRef=\"end1\"/>\n"
    "    <bpmn:endEvent id=\"end1\"/>\n"
    "    <bpmn:sequenceFlow id=\"f5\" sourceRef=\"late\" targetRef=\"end2\"/>\n"
    "    <bpmn:endEvent id=\"end2\"/>\n"
    "  </bpmn:process>\n"
    "</bpmn:definitions>\n";

/* instance get shows what an instance waits on: its message subscriptions
 * and its timers, in the table and in --json. */
static void test_instance_waits(void **state)
{
    assert_int_equal(run("deploy %s", write_model("cli-waits.bpmn", waits_bpmn)), 0);
    int64_t before = (int64_t)time(NULL) * 1000;
    assert_int_equal(run("instance create cli-waits --variables '{\"orderId\":\"W-1\"}'"), 0);
    long long pi = created_key();
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "Waiting on:\n"));
    assert_non_null(strstr(out, "EVENT"));
    assert_non_null(strstr(out, "late"));
    assert_non_null(strstr(out, "TIMER    due 20"));
    assert_non_null(strstr(out, "paid"));
    assert_non_null(strstr(out, "MESSAGE  message 'cli-waits-paid', correlation key 'W-1'"));
    assert_int_equal(run("instance get %lld --json", pi), 0);
    json_t *doc = json_out();
    json_t *waits = json_object_get(doc, "waits");
    assert_int_equal(json_array_size(waits), 2);
    json_t *timer = json_array_get(waits, 0), *sub = json_array_get(waits, 1);
    assert_string_equal(json_string_value(json_object_get(timer, "kind")), "TIMER");
    assert_string_equal(json_string_value(json_object_get(timer, "elementId")), "late");
    int64_t due = (int64_t)json_integer_value(json_object_get(timer, "due"));
    assert_true(due >= before + 3600 * 1000 - 1000 && due <= before + 3600 * 1000 + 60000);
    assert_null(json_object_get(timer, "messageName"));
    assert_string_equal(json_string_value(json_object_get(sub, "kind")), "MESSAGE");
    assert_string_equal(json_string_value(json_object_get(sub, "elementId")), "paid");
    assert_string_equal(json_string_value(json_object_get(sub, "messageName")), "cli-waits-paid");
    assert_string_equal(json_string_value(json_object_get(sub, "correlationKey")), "W-1");
    /* the gateway's element instance waits, not the process */
    long long gate = json_key(timer, "elementInstanceKey");
    assert_true(gate != pi);
    assert_int_equal(json_key(sub, "elementInstanceKey"), gate);
    json_decref(doc);
    /* the message comes: nothing is waited on any more */
    assert_int_equal(run("message publish cli-waits-paid --correlation-key W-1"), 0);
    assert_int_equal(run("instance get %lld --json", pi), 0);
    doc = json_out();
    assert_string_equal(json_string_value(json_object_get(doc, "state")), "COMPLETED");
    assert_int_equal(json_array_size(json_object_get(doc, "waits")), 0);
    json_decref(doc);
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_null(strstr(out, "Waiting on"));
}

static void test_message_bad_input(void **state)
{
    assert_int_equal(run("message publish"), 2);
    assert_non_null(strstr(out, "missing NAME"));
    assert_int_equal(run("message publish cli-paid"), 2);
    assert_non_null(strstr(out, "missing --correlation-key"));
    assert_int_equal(run("message publish '' --correlation-key a"), 2);
    assert_non_null(strstr(out, "NAME must not be empty"));
    assert_int_equal(run("message publish cli-paid --correlation-key a --ttl soon"), 2);
    assert_non_null(strstr(out, "--ttl must be a duration"));
    assert_int_equal(run("message publish cli-paid --correlation-key a --ttl -5s"), 2);
    assert_int_equal(run("message publish cli-paid --correlation-key a --variables '{'"), 2);
    assert_non_null(strstr(out, "valid JSON"));
    assert_int_equal(run("message publish cli-paid --correlation-key a --variables '[1]'"), 2);
    assert_non_null(strstr(out, "JSON object"));
    assert_int_equal(run("message publish cli-paid --correlation-key a --priority 1"), 2);
    assert_non_null(strstr(out, "unknown option '--priority'"));
    assert_int_equal(run("message publish a b --correlation-key a"), 2);
    assert_non_null(strstr(out, "unexpected argument 'b'"));
    assert_int_equal(run("message"), 2);
    assert_non_null(strstr(out, "needs a subcommand"));
    assert_int_equal(run("message --help"), 0);
    assert_non_null(strstr(out, "publish"));
    assert_int_equal(run("message publish --help"), 0);
    assert_non_null(strstr(out, "--correlation-key K"));
    assert_non_null(strstr(out, "--ttl D"));
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(out, "message publish NAME"));
}

/* ---- user tasks ---------------------------------------------------------------------- */

static const char review_bpmn[] =
    "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<bpmn:process id=\"cli-review\" isExecutable=\"true\"><bpmn:startEvent id=\"s\"/>"
    "<bpmn:sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"review\"/>"
    "<bpmn:userTask id=\"review\" name=\"Review\"><bpmn:extensionElements><zeebe:userTask/>"
    "<zeebe:assignmentDefinition assignee=\"=reviewer\" candidateGroups=\"ops,sales\"/>"
    "</bpmn:extensionElements></bpmn:userTask>"
    "<bpmn:sequenceFlow id=\"f2\" sourceRef=\"review\" targetRef=\"e\"/><bpmn:endEvent id=\"e\"/>"
    "</bpmn:process></bpmn:definitions>";

static void test_task_bad_input(void **state)
{
    const char *cmds[] = {"task list", "task assign", "task unassign", "task complete"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        assert_int_equal(run("%s --help", cmds[i]), 0);
        assert_non_null(strstr(out, "Usage: chute task"));
    }
    assert_int_equal(run("task --help"), 0);
    assert_non_null(strstr(out, "list assign unassign complete"));
    assert_int_equal(run("task assign"), 2);
    assert_non_null(strstr(out, "missing KEY"));
    assert_int_equal(run("task assign 5"), 2);
    assert_non_null(strstr(out, "missing ASSIGNEE"));
    assert_non_null(strstr(out, "chute task unassign KEY"));
    assert_int_equal(run("task assign five anna"), 2);
    assert_non_null(strstr(out, "'five' is not a user task key"));
    assert_int_equal(run("task assign 5 anna --force"), 2);
    assert_non_null(strstr(out, "unknown option '--force'"));
    assert_int_equal(run("task list --assignee anna --unassigned"), 2);
    assert_non_null(strstr(out, "not both"));
    assert_int_equal(run("task list --assignee ''"), 2);
    assert_non_null(strstr(out, "--unassigned"));
    assert_int_equal(run("task list --limit 0"), 2);
    assert_non_null(strstr(out, "--limit must be an integer from 1 to 10000"));
    assert_int_equal(run("task list --instance x"), 2);
    assert_non_null(strstr(out, "not a process instance key"));
    assert_int_equal(run("task complete 5 --variables '[1]'"), 2);
    assert_non_null(strstr(out, "JSON object"));
    assert_int_equal(run("task unassign"), 2);
    assert_non_null(strstr(out, "missing KEY"));
    /* No such task: the broker's word, and where to find the keys. */
    assert_int_equal(run("task complete 123456"), 1);
    assert_non_null(strstr(out, "ENOTFOUND"));
    assert_non_null(strstr(out, "No open user task has key 123456"));
    assert_non_null(strstr(out, "chute task list"));
    assert_int_equal(run("task assign 123456 anna"), 1);
    assert_non_null(strstr(out, "No open user task has key 123456"));
    assert_int_equal(run("task unassign 123456"), 1);
    assert_int_equal(run("task list --process cli-no-such-process"), 0);
    assert_non_null(strstr(out, "No open user tasks."));
    assert_int_equal(run("--json task list --process cli-no-such-process"), 0);
    json_t *doc = json_out();
    assert_int_equal(json_array_size(json_object_get(doc, "userTasks")), 0);
    json_decref(doc);
}

static void test_task_commands(void **state) /* runtime */
{
    assert_int_equal(run("deploy %s", write_model("cli-review.bpmn", review_bpmn)), 0);
    assert_int_equal(run("instance create cli-review --variables '{\"reviewer\":\"anna\"}'"), 0);
    long long pi = created_key();
    assert_int_equal(run("--json task list --instance %lld", pi), 0);
    json_t *doc = json_out();
    json_t *tasks = json_object_get(doc, "userTasks");
    if (json_array_size(tasks) == 0) {
        json_decref(doc);
        print_message("needs the user task runtime (the engine has its placeholder): skipped\n");
        skip();
    }
    assert_int_equal(json_array_size(tasks), 1);
    json_t *t = json_array_get(tasks, 0);
    long long key = json_key(t, "userTaskKey");
    assert_int_equal(json_key(t, "processInstanceKey"), pi);
    assert_string_equal(json_string_value(json_object_get(t, "assignee")), "anna");
    assert_string_equal(json_string_value(json_object_get(t, "elementId")), "review");
    assert_string_equal(json_string_value(json_object_get(t, "name")), "Review");
    assert_string_equal(json_string_value(json_object_get(t, "processDefinitionId")), "cli-review");
    json_t *groups = json_object_get(t, "candidateGroups");
    assert_int_equal(json_array_size(groups), 2);
    assert_string_equal(json_string_value(json_array_get(groups, 1)), "sales");
    json_decref(doc);

    char k[32];
    snprintf(k, sizeof k, "%lld", key);
    assert_int_equal(run("task list --assignee anna"), 0);
    assert_non_null(strstr(out, k));
    assert_non_null(strstr(out, "ops,sales"));
    assert_int_equal(run("task list --unassigned --process cli-review"), 0);
    assert_null(strstr(out, k));

    /* Another assignee: refused with --no-override, and what to do. */
    assert_int_equal(run("task assign %lld bob --no-override", key), 1);
    assert_non_null(strstr(out, "unassign it first"));
    assert_int_equal(run("task assign %lld bob", key), 0);
    assert_non_null(strstr(out, "Assigned user task"));
    assert_int_equal(run("task list --assignee bob --element review"), 0);
    assert_non_null(strstr(out, k));
    assert_int_equal(run("task unassign %lld", key), 0);
    assert_non_null(strstr(out, "Unassigned user task"));
    assert_int_equal(run("task list --unassigned --process cli-review"), 0);
    assert_non_null(strstr(out, k));
    assert_int_equal(run("--json task assign %lld carl --no-override", key), 0);
    doc = json_out();
    assert_string_equal(json_string_value(json_object_get(doc, "assignee")), "carl");
    json_decref(doc);

    /* Completed: the instance moves on and ends, the task is gone. */
    assert_int_equal(run("task complete %lld --variables '{\"approved\":true}'", key), 0);
    assert_non_null(strstr(out, "Completed user task"));
    assert_int_equal(run("instance get %lld", pi), 0);
    assert_non_null(strstr(out, "State:      COMPLETED"));
    assert_non_null(strstr(out, "\"approved\":true"));
    assert_int_equal(run("task complete %lld", key), 1);
    assert_non_null(strstr(out, "No open user task"));
}

int main(void)
{
    if (!chuted_path()) {
        fprintf(stderr,
                "\n########################################################################\n"
                "# SKIPPED: test_cli needs chuted, and this tree had no chuted target\n"
                "# when it was configured. The CLI was not tested against a broker.\n"
                "########################################################################\n\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_and_help),
        cmocka_unit_test(test_create_get_activate_complete),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_fail_incident_resolve),
        cmocka_unit_test(test_worker_and_wait),
        cmocka_unit_test(test_instance_commands),
        cmocka_unit_test(test_instance_with_result),
        cmocka_unit_test(test_instance_bad_input),
        cmocka_unit_test(test_message_publish),
        cmocka_unit_test(test_message_bad_input),
        cmocka_unit_test(test_instance_waits),
        cmocka_unit_test(test_task_bad_input),
        cmocka_unit_test(test_task_commands),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
