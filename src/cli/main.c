/*
 * chute: the command line for a Chute broker (or any Zeebe gateway, for the
 * gateway commands). Every command talks to --address (default
 * 127.0.0.1:26500, or CHUTE_ADDRESS), prints a human form by default and
 * JSON with --json, and exits 0 on success, 1 when the broker refused or
 * could not be reached, 2 on a usage error.
 */
#define _GNU_SOURCE /* pipe2 */
#include <chute/client.h>
#include <chute/worker.h>

#include "common/json.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE 2

static const char *address;
static int as_json;
static const char *prog = "chute";

/* ---- usage ---------------------------------------------------------------- */

/* Prints `chute CMD --help` (|cmd| is "job create", "status", ...); the
 * usage of every command is in the command table at the end of this file. */
static int print_help(const char *cmd);

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (cmd)
        fprintf(stderr, "Run 'chute %s --help' for its usage.\n", cmd);
    else
        fprintf(stderr, "Run 'chute --help' for the usage.\n");
    return EXIT_USAGE;
}

/* ---- parsing ---------------------------------------------------------------- */

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

static int parse_i32(const char *s, int32_t *out)
{
    int64_t v;
    if (parse_i64(s, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
        return -1;
    *out = (int32_t)v;
    return 0;
}

/* "1h30m", "10s", "250ms"; a bare number is ms. */
static int parse_duration(const char *s, int64_t *out)
{
    int64_t total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    if (parse_i64(s, &total) == 0)
        return total < 0 ? -1 : (*out = total, 0);
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || v < 0)
            return -1;
        p = end;
        double mul;
        if (strncmp(p, "ms", 2) == 0) {
            mul = 1;
            p += 2;
        } else if (*p == 'h') {
            mul = 3600000;
            p++;
        } else if (*p == 'm') {
            mul = 60000;
            p++;
        } else if (*p == 's') {
            mul = 1000;
            p++;
        } else {
            return -1;
        }
        total += (int64_t)(v * mul);
    }
    *out = total;
    return 0;
}

/* |what| names the key in the message: "a process instance key". */
static int parse_key_of(const char *cmd, const char *what, const char *s, int64_t *key)
{
    /* Set on every path: callers only read it on success, which GCC at -O3
     * cannot see through usage_error(). */
    *key = 0;
    if (!s)
        return usage_error(cmd, "missing KEY");
    if (parse_i64(s, key) < 0 || *key <= 0)
        return usage_error(cmd, "'%s' is not %s (a positive integer)", s, what);
    return 0;
}

static int parse_key(const char *cmd, const char *s, int64_t *key)
{
    return parse_key_of(cmd, "a job or incident key", s, key);
}

static int check_json(const char *cmd, const char *what, const char *s, int strings_only)
{
    chute_error err;
    if (!s)
        return 0;
    if (jdoc_check_object(s, strlen(s), strings_only, what, &err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        fprintf(stderr, "Pass a JSON object, for example --%s '{\"a\":1}'.\n",
                strcmp(what, "variables") == 0 ? "variables" : "headers");
        (void)cmd;
        return EXIT_USAGE;
    }
    return 0;
}

/* Options of a command: --name VALUE pairs and flags, plus positionals. */
#define OPT_REPEAT 2 /* takes_value: a value each time, all kept in |all| */
#define OPT_REPEAT_MAX 64

typedef struct opt_spec {
    const char *name; /* without "--" */
    int takes_value;  /* 0: a flag; 1: one value (the last wins); OPT_REPEAT */
    const char *value;
    int set;
} opt_spec;

/* The values of repeatable options, in the order given (one command runs
 * per process, so one table is enough). */
static struct {
    const opt_spec *spec;
    const char *value;
} repeated[OPT_REPEAT_MAX];
static int nrepeated;

/* The values given to the OPT_REPEAT option |s|: at most |cap| into |out|;
 * returns how many. */
static size_t opt_values(const opt_spec *s, const char **out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < nrepeated && n < cap; i++)
        if (repeated[i].spec == s)
            out[n++] = repeated[i].value;
    return n;
}

static int parse_opts(const char *cmd, int argc, char **argv, opt_spec *specs, size_t nspecs,
                      char **pos, int maxpos, int *npos)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(cmd);
            return -1;
        }
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            opt_spec *s = NULL;
            for (size_t k = 0; k < nspecs; k++)
                if (strlen(specs[k].name) == nlen && strncmp(specs[k].name, name, nlen) == 0)
                    s = &specs[k];
            if (!s)
                return usage_error(cmd, "unknown option '--%.*s'", (int)nlen, name);
            s->set = 1;
            if (s->takes_value) {
                if (eq)
                    s->value = eq + 1;
                else if (i + 1 < argc)
                    s->value = argv[++i];
                else
                    return usage_error(cmd, "option '--%s' needs a value", s->name);
                if (s->takes_value == OPT_REPEAT) {
                    if (nrepeated >= OPT_REPEAT_MAX)
                        return usage_error(cmd, "option '--%s' may be given at most %d times",
                                           s->name, OPT_REPEAT_MAX);
                    repeated[nrepeated].spec = s;
                    repeated[nrepeated++].value = s->value;
                }
            } else if (eq) {
                return usage_error(cmd, "option '--%s' takes no value", s->name);
            }
            continue;
        }
        if (*npos >= maxpos)
            return usage_error(cmd, "unexpected argument '%s'", a);
        pos[(*npos)++] = argv[i];
    }
    return 0;
}

static opt_spec *opt(opt_spec *specs, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(specs[k].name, name) == 0)
            return &specs[k];
    return NULL;
}

#define OPT(name) opt(specs, sizeof specs / sizeof *specs, name)
#define PARSE(cmd, maxpos)                                                                         \
    char *pos[8] = {0};                                                                            \
    int npos = 0;                                                                                  \
    {                                                                                              \
        int pr_ =                                                                                  \
            parse_opts(cmd, argc, argv, specs, sizeof specs / sizeof *specs, pos, maxpos, &npos);  \
        if (pr_ != 0)                                                                              \
            return pr_ < 0 ? 0 : pr_;                                                              \
    }

/* ---- output --------------------------------------------------------------------- */

/* The open connection, so that fail_call can tell a broker that is not
 * there from one that answered UNAVAILABLE itself (a failed commit on a
 * full disk, a shutdown). */
static chute_client *cli_client;

/* Non-zero when the broker answers a Topology call now. */
static int broker_answers(void)
{
    if (!cli_client)
        return 0;
    chute_call_options co;
    chute_call_options_init(&co);
    co.deadline_ms = 2000;
    chute_topology *t = NULL;
    chute_error err;
    if (chute_client_topology(cli_client, &t, &co, &err) != 0)
        return 0;
    chute_topology_free(t);
    return 1;
}

static int fail_call(int rc, const chute_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", prog, chute_err_name(rc), err->message);
    if (rc == CHUTE_EUNAVAIL) {
        if (broker_answers())
            fprintf(stderr, "chuted at %s is running and refused this itself; its log says why.\n",
                    address);
        else
            fprintf(stderr, "Is chuted running at %s? Set --address or CHUTE_ADDRESS.\n", address);
    }
    return EXIT_REFUSED;
}

static void print_json(json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(doc);
}

static json_t *json_doc(const char *text)
{
    json_t *v = json_loads(text && *text ? text : "{}", JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static json_t *key_json(int64_t key)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, key);
    return json_string(b);
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

static json_t *job_json(const chute_job *j)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", key_json(j->key));
    json_object_set_new(o, "type", json_string(j->type));
    json_object_set_new(o, "worker", json_string(j->worker));
    json_object_set_new(o, "retries", json_integer(j->retries));
    json_object_set_new(o, "deadline", json_integer(j->deadline));
    json_object_set_new(o, "customHeaders", json_doc(j->custom_headers));
    json_object_set_new(o, "variables", json_doc(j->variables));
    json_object_set_new(o, "tenantId", json_string(j->tenant_id));
    if (j->process_instance_key) {
        json_object_set_new(o, "processInstanceKey", key_json(j->process_instance_key));
        json_object_set_new(o, "bpmnProcessId", json_string(j->bpmn_process_id));
        json_object_set_new(o, "elementId", json_string(j->element_id));
        json_object_set_new(o, "elementInstanceKey", key_json(j->element_instance_key));
    }
    return o;
}

/* ---- commands ---------------------------------------------------------------- */

static int cmd_status(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE("status", 0);
    chute_topology *t;
    chute_error err;
    int r = chute_client_topology(c, &t, NULL, &err);
    if (r < 0)
        return fail_call(r, &err);
    if (as_json) {
        json_t *o = json_object(), *bs = json_array();
        json_object_set_new(o, "gatewayVersion", json_string(t->gateway_version));
        json_object_set_new(o, "clusterSize", json_integer(t->cluster_size));
        json_object_set_new(o, "partitionsCount", json_integer(t->partitions_count));
        json_object_set_new(o, "replicationFactor", json_integer(t->replication_factor));
        for (size_t i = 0; i < t->broker_count; i++) {
            json_t *b = json_object(), *ps = json_array();
            json_object_set_new(b, "nodeId", json_integer(t->brokers[i].node_id));
            json_object_set_new(b, "host", json_string(t->brokers[i].host));
            json_object_set_new(b, "port", json_integer(t->brokers[i].port));
            json_object_set_new(b, "version", json_string(t->brokers[i].version));
            for (size_t k = 0; k < t->brokers[i].partition_count; k++) {
                const chute_partition_info *p = &t->brokers[i].partitions[k];
                json_array_append_new(ps, json_pack("{s:i,s:s,s:s}", "partitionId",
                                                    (int)p->partition_id, "role",
                                                    p->role == 0   ? "LEADER"
                                                    : p->role == 1 ? "FOLLOWER"
                                                                   : "INACTIVE",
                                                    "health",
                                                    p->health == 0   ? "HEALTHY"
                                                    : p->health == 1 ? "UNHEALTHY"
                                                                     : "DEAD"));
            }
            json_object_set_new(b, "partitions", ps);
            json_array_append_new(bs, b);
        }
        json_object_set_new(o, "brokers", bs);
        print_json(o);
    } else {
        printf("Cluster size: %d\nPartitions count: %d\nReplication factor: %d\n"
               "Gateway version: %s\nBrokers:\n",
               t->cluster_size, t->partitions_count, t->replication_factor, t->gateway_version);
        for (size_t i = 0; i < t->broker_count; i++) {
            const chute_broker_info *b = &t->brokers[i];
            printf("  Broker %d - %s:%d\n    Version: %s\n", b->node_id, b->host, b->port,
                   b->version);
            for (size_t k = 0; k < b->partition_count; k++)
                printf("    Partition %d : %s, %s\n", b->partitions[k].partition_id,
                       b->partitions[k].role == 0 ? "Leader" : "Follower",
                       b->partitions[k].health == 0 ? "Healthy" : "Unhealthy");
        }
    }
    chute_topology_free(t);
    return 0;
}

static void print_job_info(const chute_job_info *i)
{
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", key_json(i->key));
        json_object_set_new(o, "type", json_string(i->type));
        json_object_set_new(o, "state", json_string(i->state));
        json_object_set_new(o, "retries", json_integer(i->retries));
        json_object_set_new(o, "priority", json_integer(i->priority));
        json_object_set_new(o, "worker", json_string(i->worker));
        json_object_set_new(o, "deadline", json_integer(i->deadline));
        json_object_set_new(o, "variables", json_doc(i->variables));
        json_object_set_new(o, "customHeaders", json_doc(i->custom_headers));
        json_object_set_new(o, "errorCode", json_string(i->error_code));
        json_object_set_new(o, "errorMessage", json_string(i->error_message));
        json_object_set_new(o, "incidentKey",
                            i->incident_key ? key_json(i->incident_key) : json_null());
        json_object_set_new(o, "createdAt", json_integer(i->created_at));
        json_object_set_new(o, "completedAt", json_integer(i->completed_at));
        print_json(o);
        return;
    }
    char created[40], deadline[40], completed[40];
    fmt_time(i->created_at, created, sizeof created);
    fmt_time(i->deadline, deadline, sizeof deadline);
    fmt_time(i->completed_at, completed, sizeof completed);
    printf("Key:            %" PRId64 "\nType:           %s\nState:          %s\n"
           "Retries:        %d\nPriority:       %d\nWorker:         %s\nDeadline:       %s\n"
           "Created:        %s\n",
           i->key, i->type, i->state, i->retries, i->priority, *i->worker ? i->worker : "-",
           deadline, created);
    if (i->completed_at)
        printf("Completed:      %s\n", completed);
    if (*i->error_code)
        printf("Error code:     %s\n", i->error_code);
    if (*i->error_message)
        printf("Error message:  %s\n", i->error_message);
    if (i->incident_key)
        printf("Incident:       %" PRId64 "\n", i->incident_key);
    printf("Custom headers: %s\nVariables:      %s\n", i->custom_headers, i->variables);
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = 1;
}

static int cmd_job_create(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"variables", 1, NULL, 0},   {"headers", 1, NULL, 0},
                        {"retries", 1, NULL, 0},     {"priority", 1, NULL, 0},
                        {"delay", 1, NULL, 0},       {"wait", 0, NULL, 0},
                        {"wait-timeout", 1, NULL, 0}};
    PARSE("job create", 1);
    if (npos < 1)
        return usage_error("job create", "missing TYPE");
    chute_client_job_spec spec = {.type = pos[0]};
    spec.variables = OPT("variables")->value;
    spec.custom_headers = OPT("headers")->value;
    int r;
    if ((r = check_json("job create", "variables", spec.variables, 0)) != 0 ||
        (r = check_json("job create", "custom headers", spec.custom_headers, 1)) != 0)
        return r;
    if (OPT("retries")->set &&
        (parse_i32(OPT("retries")->value, &spec.retries) < 0 || spec.retries < 1))
        return usage_error("job create", "--retries must be an integer >= 1, not '%s'",
                           OPT("retries")->value);
    if (OPT("priority")->set && parse_i32(OPT("priority")->value, &spec.priority) < 0)
        return usage_error("job create", "--priority must be an integer, not '%s'",
                           OPT("priority")->value);
    if (OPT("delay")->set && parse_duration(OPT("delay")->value, &spec.delay_ms) < 0)
        return usage_error("job create", "--delay must be a duration like 10s or 500ms, not '%s'",
                           OPT("delay")->value);
    int64_t wait_limit = -1;
    if (OPT("wait-timeout")->set && parse_duration(OPT("wait-timeout")->value, &wait_limit) < 0)
        return usage_error("job create", "--wait-timeout must be a duration, not '%s'",
                           OPT("wait-timeout")->value);
    int64_t key;
    chute_error err;
    r = chute_client_create_job(c, &spec, &key, NULL, &err);
    if (r < 0)
        return fail_call(r, &err);
    if (!OPT("wait")->set) {
        if (as_json) {
            json_t *o = json_object();
            json_object_set_new(o, "key", key_json(key));
            print_json(o);
        } else {
            printf("%" PRId64 "\n", key);
        }
        return 0;
    }
    /* Wait for the result: the job is read back until it is done. */
    signal(SIGINT, on_signal);
    int waited = 0;
    for (;;) {
        chute_job_info *info;
        r = chute_client_get_job(c, key, &info, NULL, &err);
        if (r < 0)
            return fail_call(r, &err);
        int done = strcmp(info->state, "COMPLETED") == 0;
        int stuck =
            strcmp(info->state, "INCIDENT") == 0 || strcmp(info->state, "ERROR_THROWN") == 0;
        if (done || stuck) {
            if (as_json)
                print_job_info(info);
            else if (done)
                printf("%s\n", info->variables);
            else
                fprintf(stderr, "%s: job %" PRId64 " has an incident (%s): %s%s%s\n", prog, key,
                        info->state, info->error_message, *info->error_code ? " code " : "",
                        info->error_code);
            chute_job_info_free(info);
            return done ? 0 : EXIT_REFUSED;
        }
        chute_job_info_free(info);
        if (interrupted || (wait_limit >= 0 && waited >= wait_limit)) {
            fprintf(stderr, "%s: job %" PRId64 " is not done yet (stopped waiting)\n", prog, key);
            return EXIT_REFUSED;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        waited += 100;
    }
}

static int cmd_job_get(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE("job get", 1);
    int64_t key;
    int r = parse_key("job get", pos[0], &key);
    if (r)
        return r;
    chute_job_info *info;
    chute_error err;
    r = chute_client_get_job(c, key, &info, NULL, &err);
    if (r < 0)
        return fail_call(r, &err);
    print_job_info(info);
    chute_job_info_free(info);
    return 0;
}

static int cmd_job_activate(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"max", 1, NULL, 0},
                        {"timeout", 1, NULL, 0},
                        {"worker", 1, NULL, 0},
                        {"request-timeout", 1, NULL, 0}};
    PARSE("job activate", 1);
    if (npos < 1)
        return usage_error("job activate", "missing TYPE");
    chute_client_activate_request req = {.type = pos[0],
                                         .worker = "chute-cli",
                                         .timeout_ms = 300000,
                                         .max_jobs = 1,
                                         .request_timeout_ms = -1};
    if (OPT("max")->set && (parse_i32(OPT("max")->value, &req.max_jobs) < 0 || req.max_jobs < 1))
        return usage_error("job activate", "--max must be an integer >= 1, not '%s'",
                           OPT("max")->value);
    if (OPT("timeout")->set &&
        (parse_duration(OPT("timeout")->value, &req.timeout_ms) < 0 || req.timeout_ms < 1))
        return usage_error("job activate", "--timeout must be a duration like 5m, not '%s'",
                           OPT("timeout")->value);
    if (OPT("worker")->set)
        req.worker = OPT("worker")->value;
    if (OPT("request-timeout")->set &&
        parse_duration(OPT("request-timeout")->value, &req.request_timeout_ms) < 0)
        return usage_error("job activate", "--request-timeout must be a duration, not '%s'",
                           OPT("request-timeout")->value);
    if (req.request_timeout_ms == 0)
        req.request_timeout_ms = -1;
    chute_job_list jobs;
    chute_error err;
    int r = chute_client_activate_jobs(c, &req, &jobs, NULL, &err);
    if (r < 0)
        return fail_call(r, &err);
    if (as_json) {
        json_t *a = json_array();
        for (size_t i = 0; i < jobs.count; i++)
            json_array_append_new(a, job_json(jobs.jobs[i]));
        json_t *o = json_object();
        json_object_set_new(o, "jobs", a);
        print_json(o);
    } else if (jobs.count == 0) {
        printf("No job of type '%s' was activatable.\n", req.type);
    } else {
        printf("%-20s %-8s %-25s %s\n", "KEY", "RETRIES", "DEADLINE", "VARIABLES");
        for (size_t i = 0; i < jobs.count; i++) {
            char d[40];
            fmt_time(jobs.jobs[i]->deadline, d, sizeof d);
            printf("%-20" PRId64 " %-8d %-25s %s\n", jobs.jobs[i]->key, jobs.jobs[i]->retries, d,
                   jobs.jobs[i]->variables);
        }
    }
    chute_job_list_free(&jobs);
    return 0;
}

static int done_msg(const char *what, int64_t key)
{
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", key_json(key));
        json_object_set_new(o, "result", json_string(what));
        print_json(o);
    } else {
        printf("%s %" PRId64 "\n", what, key);
    }
    return 0;
}

static int cmd_job_complete(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"variables", 1, NULL, 0}};
    PARSE("job complete", 1);
    int64_t key;
    int r = parse_key("job complete", pos[0], &key);
    if (r || (r = check_json("job complete", "variables", OPT("variables")->value, 0)))
        return r;
    chute_error err;
    r = chute_client_complete_job(c, key, OPT("variables")->value, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Completed job", key);
}

static int cmd_job_fail(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"retries", 1, NULL, 0},
                        {"backoff", 1, NULL, 0},
                        {"message", 1, NULL, 0},
                        {"variables", 1, NULL, 0}};
    PARSE("job fail", 1);
    int64_t key, backoff = 0;
    int32_t retries;
    int r = parse_key("job fail", pos[0], &key);
    if (r)
        return r;
    if (!OPT("retries")->set)
        return usage_error("job fail", "missing --retries N (the retries the job keeps)");
    if (parse_i32(OPT("retries")->value, &retries) < 0)
        return usage_error("job fail", "--retries must be an integer, not '%s'",
                           OPT("retries")->value);
    if (OPT("backoff")->set && parse_duration(OPT("backoff")->value, &backoff) < 0)
        return usage_error("job fail", "--backoff must be a duration like 10s, not '%s'",
                           OPT("backoff")->value);
    if ((r = check_json("job fail", "variables", OPT("variables")->value, 0)))
        return r;
    chute_error err;
    r = chute_client_fail_job(c, key, retries, OPT("message")->value, backoff,
                              OPT("variables")->value, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Failed job", key);
}

static int cmd_job_throw(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"code", 1, NULL, 0}, {"message", 1, NULL, 0}, {"variables", 1, NULL, 0}};
    PARSE("job throw-error", 1);
    int64_t key;
    int r = parse_key("job throw-error", pos[0], &key);
    if (r)
        return r;
    if (!OPT("code")->set || !*OPT("code")->value)
        return usage_error("job throw-error", "missing --code C (the BPMN error code)");
    if ((r = check_json("job throw-error", "variables", OPT("variables")->value, 0)))
        return r;
    chute_error err;
    r = chute_client_throw_error(c, key, OPT("code")->value, OPT("message")->value,
                                 OPT("variables")->value, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Threw error on job", key);
}

static int cmd_job_update_retries(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"retries", 1, NULL, 0}};
    PARSE("job update-retries", 1);
    int64_t key;
    int32_t retries;
    int r = parse_key("job update-retries", pos[0], &key);
    if (r)
        return r;
    if (!OPT("retries")->set || parse_i32(OPT("retries")->value, &retries) < 0)
        return usage_error("job update-retries", "missing or bad --retries N (an integer >= 1)");
    chute_error err;
    r = chute_client_update_job_retries(c, key, retries, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Updated the retries of job", key);
}

static int cmd_job_update_timeout(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"timeout", 1, NULL, 0}};
    PARSE("job update-timeout", 1);
    int64_t key, timeout;
    int r = parse_key("job update-timeout", pos[0], &key);
    if (r)
        return r;
    if (!OPT("timeout")->set || parse_duration(OPT("timeout")->value, &timeout) < 0)
        return usage_error("job update-timeout", "missing or bad --timeout D (like 5m)");
    chute_error err;
    r = chute_client_update_job_timeout(c, key, timeout, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Updated the timeout of job", key);
}

static int cmd_job_cancel(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE("job cancel", 1);
    int64_t key;
    int r = parse_key("job cancel", pos[0], &key);
    if (r)
        return r;
    chute_error err;
    r = chute_client_cancel_job(c, key, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Cancelled job", key);
}

/* An incident as --json prints it; the process fields only for an incident
 * of a process, the job fields only when a job failed. */
static json_t *incident_json(const chute_incident *in)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", key_json(in->key));
    json_object_set_new(o, "type", json_string(in->type));
    json_object_set_new(o, "state", json_string(in->state));
    json_object_set_new(o, "errorMessage", json_string(in->error_message));
    json_object_set_new(o, "createdAt", json_integer(in->created_at));
    if (in->job_key) {
        json_object_set_new(o, "jobKey", key_json(in->job_key));
        json_object_set_new(o, "jobType", json_string(in->job_type));
        json_object_set_new(o, "errorCode", json_string(in->error_code));
        json_object_set_new(o, "retries", json_integer(in->retries));
    }
    if (in->process_instance_key) {
        json_object_set_new(o, "processInstanceKey", key_json(in->process_instance_key));
        json_object_set_new(o, "processDefinitionKey", key_json(in->process_definition_key));
        json_object_set_new(o, "bpmnProcessId", json_string(in->bpmn_process_id));
        json_object_set_new(o, "elementId", json_string(in->element_id));
        json_object_set_new(o, "elementInstanceKey", key_json(in->element_instance_key));
    }
    return o;
}

/* A key for a table cell: "-" for none. */
static const char *key_cell(int64_t key, char *buf, size_t cap)
{
    if (key)
        snprintf(buf, cap, "%" PRId64, key);
    else
        snprintf(buf, cap, "-");
    return buf;
}

/* Rows of incidents under a header: key, type, element, instance, job and
 * job type, then the message. */
static void print_incident_rows(const chute_incident *items, size_t n, const char *indent)
{
    printf("%s%-18s %-21s %-16s %-18s %-18s %-14s %s\n", indent, "KEY", "TYPE", "ELEMENT",
           "INSTANCE", "JOB", "JOB TYPE", "MESSAGE");
    for (size_t i = 0; i < n; i++) {
        const chute_incident *in = &items[i];
        char pik[24], job[24];
        printf("%s%-18" PRId64 " %-21s %-16s %-18s %-18s %-14s %s%s%s\n", indent, in->key, in->type,
               *in->element_id ? in->element_id : "-",
               key_cell(in->process_instance_key, pik, sizeof pik),
               key_cell(in->job_key, job, sizeof job), *in->job_type ? in->job_type : "-",
               in->error_message, *in->error_code ? " code=" : "", in->error_code);
    }
}

static int cmd_incident_list(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"type", 1, NULL, 0}, {"limit", 1, NULL, 0}};
    PARSE("incident list", 0);
    int32_t limit = 0;
    if (OPT("limit")->set && (parse_i32(OPT("limit")->value, &limit) < 0 || limit < 1))
        return usage_error("incident list", "--limit must be an integer >= 1, not '%s'",
                           OPT("limit")->value);
    chute_incident_list l;
    chute_error err;
    int r = chute_client_list_incidents(c, OPT("type")->value, limit, &l, NULL, &err);
    if (r < 0)
        return fail_call(r, &err);
    if (as_json) {
        json_t *a = json_array();
        for (size_t i = 0; i < l.count; i++)
            json_array_append_new(a, incident_json(&l.items[i]));
        json_t *o = json_object();
        json_object_set_new(o, "incidents", a);
        print_json(o);
    } else if (l.count == 0) {
        printf("No open incidents.\n");
    } else {
        print_incident_rows(l.items, l.count, "");
    }
    chute_incident_list_free(&l);
    return 0;
}

static int cmd_incident_resolve(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE("incident resolve", 1);
    int64_t key;
    int r = parse_key("incident resolve", pos[0], &key);
    if (r)
        return r;
    chute_error err;
    r = chute_client_resolve_incident(c, key, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Resolved incident", key);
}

/* ---- process instances ----------------------------------------------------------- */

/* Checks a --variables JSON for a process command: the same message as the
 * job commands. */
static int check_variables(const char *cmd, const char *vars)
{
    return check_json(cmd, "variables", vars, 0);
}

static int cmd_instance_create(chute_client *c, int argc, char **argv)
{
    const char *cmd = "instance create";
    opt_spec specs[] = {{"version", 1, NULL, 0},
                        {"variables", 1, NULL, 0},
                        {"with-result", 0, NULL, 0},
                        {"fetch", OPT_REPEAT, NULL, 0},
                        {"timeout", 1, NULL, 0}};
    PARSE(cmd, 1);
    if (npos < 1)
        return usage_error(cmd, "missing ID (the bpmnProcessId of a deployed process)");
    chute_client_instance_spec spec = {.version = -1};
    /* A BPMN id is an XML name, which never starts with a digit: digits
     * name a process definition key. */
    int64_t pdk;
    if (parse_i64(pos[0], &pdk) == 0) {
        if (pdk <= 0)
            return usage_error(cmd, "'%s' is not a process definition key (a positive integer)",
                               pos[0]);
        if (OPT("version")->set)
            return usage_error(cmd,
                               "--version goes with a process ID; %s is a definition key, "
                               "which names one version already",
                               pos[0]);
        spec.process_definition_key = pdk;
    } else {
        spec.bpmn_process_id = pos[0];
    }
    if (OPT("version")->set &&
        (parse_i32(OPT("version")->value, &spec.version) < 0 || spec.version < 1))
        return usage_error(cmd, "--version must be a version number >= 1, not '%s'",
                           OPT("version")->value);
    spec.variables = OPT("variables")->value;
    int r = check_variables(cmd, spec.variables);
    if (r)
        return r;
    spec.with_result = OPT("with-result")->set;
    if (!spec.with_result && (OPT("fetch")->set || OPT("timeout")->set))
        return usage_error(cmd, "--%s only applies with --with-result",
                           OPT("fetch")->set ? "fetch" : "timeout");
    if (OPT("timeout")->set &&
        (parse_duration(OPT("timeout")->value, &spec.request_timeout_ms) < 0 ||
         spec.request_timeout_ms < 1))
        return usage_error(cmd, "--timeout must be a duration like 30s or 500 (ms), not '%s'",
                           OPT("timeout")->value);
    /* --fetch a --fetch b, or --fetch a,b */
    const char *given[OPT_REPEAT_MAX];
    size_t ngiven = opt_values(OPT("fetch"), given, OPT_REPEAT_MAX);
    char *names_buf[OPT_REPEAT_MAX];
    const char *names[OPT_REPEAT_MAX];
    size_t nnames = 0, nbufs = 0;
    for (size_t i = 0; i < ngiven; i++) {
        char *copy = strdup(given[i]);
        if (!copy)
            break;
        names_buf[nbufs++] = copy;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && nnames < OPT_REPEAT_MAX;
             t = strtok_r(NULL, ",", &save))
            names[nnames++] = t;
    }
    spec.fetch_variables = names;
    spec.fetch_variable_count = nnames;
    chute_created_instance *inst = NULL;
    chute_error err;
    int rc = chute_client_create_instance(c, &spec, &inst, NULL, &err);
    for (size_t i = 0; i < nbufs; i++)
        free(names_buf[i]);
    if (rc < 0) {
        r = fail_call(rc, &err);
        if (rc == CHUTE_ETIMEDOUT && spec.with_result)
            fprintf(stderr, "The instance was created and runs on; wait longer with --timeout, "
                            "or start it without --with-result.\n");
        else if (rc == CHUTE_ENOTFOUND)
            fprintf(stderr, "Deploy the process first (chute deploy FILE), or check the ID "
                            "and --version.\n");
        return r;
    }
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "processInstanceKey", key_json(inst->key));
        json_object_set_new(o, "processDefinitionKey", key_json(inst->process_definition_key));
        json_object_set_new(o, "bpmnProcessId", json_string(inst->bpmn_process_id));
        json_object_set_new(o, "version", json_integer(inst->version));
        if (spec.with_result)
            json_object_set_new(o, "variables", json_doc(inst->variables));
        print_json(o);
    } else {
        printf("Created process instance %" PRId64 " of %s version %d (definition %" PRId64 ")\n",
               inst->key, inst->bpmn_process_id, (int)inst->version, inst->process_definition_key);
        if (spec.with_result)
            printf("Completed with variables: %s\n", inst->variables);
    }
    chute_created_instance_free(inst);
    return 0;
}

static json_t *element_json(const chute_element_instance *el)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", key_json(el->key));
    json_object_set_new(o, "elementId", json_string(el->element_id));
    json_object_set_new(o, "elementName", json_string(el->element_name));
    json_object_set_new(o, "elementType", json_string(el->element_type));
    json_object_set_new(o, "state", json_string(el->state));
    json_object_set_new(o, "flowScopeKey",
                        el->flow_scope_key ? key_json(el->flow_scope_key) : json_null());
    json_object_set_new(o, "startedAt", json_integer(el->started_at));
    json_object_set_new(o, "endedAt", json_integer(el->ended_at));
    json_object_set_new(o, "incidentKey",
                        el->incident_key ? key_json(el->incident_key) : json_null());
    json_object_set_new(o, "jobKey", el->job_key ? key_json(el->job_key) : json_null());
    return o;
}

static json_t *wait_json(const chute_instance_wait *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "elementInstanceKey", key_json(w->element_instance_key));
    json_object_set_new(o, "elementId", json_string(w->element_id));
    json_object_set_new(o, "kind", json_string(w->is_timer ? "TIMER" : "MESSAGE"));
    if (w->is_timer) {
        json_object_set_new(o, "due", json_integer(w->due));
    } else {
        json_object_set_new(o, "messageName", json_string(w->message_name));
        json_object_set_new(o, "correlationKey", json_string(w->correlation_key));
    }
    return o;
}

/* What an active instance waits on: one row per timer or subscription. */
static void print_waits(const chute_instance_info *i)
{
    if (strcmp(i->state, "ACTIVE") != 0)
        return;
    if (i->wait_count == 0) {
        printf("Waiting on: no timer or message\n");
        return;
    }
    printf("Waiting on:\n  %-18s %-20s %-8s %s\n", "ELEMENT INSTANCE", "EVENT", "KIND", "DETAIL");
    for (size_t k = 0; k < i->wait_count; k++) {
        const chute_instance_wait *w = &i->waits[k];
        if (w->is_timer) {
            char due[40];
            fmt_time(w->due, due, sizeof due);
            printf("  %-18" PRId64 " %-20s %-8s due %s\n", w->element_instance_key, w->element_id,
                   "TIMER", due);
        } else {
            printf("  %-18" PRId64 " %-20s %-8s message '%s', correlation key '%s'\n",
                   w->element_instance_key, w->element_id, "MESSAGE", w->message_name,
                   w->correlation_key);
        }
    }
}

static void print_instance_info(const chute_instance_info *i)
{
    if (as_json) {
        json_t *o = json_object(), *els = json_array(), *incs = json_array();
        json_object_set_new(o, "key", key_json(i->key));
        json_object_set_new(o, "bpmnProcessId", json_string(i->bpmn_process_id));
        json_object_set_new(o, "version", json_integer(i->version));
        json_object_set_new(o, "processDefinitionKey", key_json(i->process_definition_key));
        json_object_set_new(o, "state", json_string(i->state));
        json_object_set_new(o, "hasIncident", json_boolean(i->has_incident));
        json_object_set_new(o, "startedAt", json_integer(i->started_at));
        json_object_set_new(o, "endedAt", json_integer(i->ended_at));
        json_object_set_new(o, "variables", json_doc(i->variables));
        for (size_t k = 0; k < i->element_count; k++)
            json_array_append_new(els, element_json(&i->elements[k]));
        for (size_t k = 0; k < i->incident_count; k++)
            json_array_append_new(incs, incident_json(&i->incidents[k]));
        json_t *waits = json_array();
        for (size_t k = 0; k < i->wait_count; k++)
            json_array_append_new(waits, wait_json(&i->waits[k]));
        json_object_set_new(o, "elements", els);
        json_object_set_new(o, "incidents", incs);
        json_object_set_new(o, "waits", waits);
        json_object_set_new(o, "truncated", json_boolean(i->truncated));
        print_json(o);
        return;
    }
    char started[40], ended[40];
    fmt_time(i->started_at, started, sizeof started);
    fmt_time(i->ended_at, ended, sizeof ended);
    printf("Key:        %" PRId64 "\nProcess:    %s version %d (definition %" PRId64 ")\n"
           "State:      %s%s\nStarted:    %s\n",
           i->key, i->bpmn_process_id, (int)i->version, i->process_definition_key, i->state,
           i->has_incident ? " (has an open incident)" : "", started);
    if (i->ended_at)
        printf("Ended:      %s\n", ended);
    printf("Variables:  %s\n", i->variables);
    /* The process itself is an element instance too: only what runs inside
     * it is listed. */
    size_t active = 0;
    for (size_t k = 0; k < i->element_count; k++)
        active += strcmp(i->elements[k].state, "ACTIVE") == 0 &&
                  strcmp(i->elements[k].element_type, "PROCESS") != 0;
    if (active == 0) {
        printf("Active elements: none\n");
    } else {
        printf("Active elements:\n  %-18s %-20s %-20s %-18s %s\n", "KEY", "ELEMENT", "TYPE", "JOB",
               "INCIDENT");
        for (size_t k = 0; k < i->element_count; k++) {
            const chute_element_instance *el = &i->elements[k];
            if (strcmp(el->state, "ACTIVE") != 0 || strcmp(el->element_type, "PROCESS") == 0)
                continue;
            char job[24], inc[24];
            printf("  %-18" PRId64 " %-20s %-20s %-18s %s\n", el->key, el->element_id,
                   el->element_type, key_cell(el->job_key, job, sizeof job),
                   key_cell(el->incident_key, inc, sizeof inc));
        }
    }
    print_waits(i);
    size_t open = 0, resolved = 0;
    for (size_t k = 0; k < i->incident_count; k++) {
        if (strcmp(i->incidents[k].state, "RESOLVED") == 0)
            resolved++;
        else
            open++;
    }
    if (open == 0) {
        printf("Open incidents: none\n");
    } else {
        chute_incident *rows = calloc(open, sizeof *rows);
        size_t n = 0;
        for (size_t k = 0; rows && k < i->incident_count; k++)
            if (strcmp(i->incidents[k].state, "RESOLVED") != 0)
                rows[n++] = i->incidents[k]; /* shallow: the strings stay in |i| */
        printf("Open incidents:\n");
        print_incident_rows(rows, n, "  ");
        free(rows);
    }
    if (resolved)
        printf("Resolved incidents: %zu (see --json)\n", resolved);
    if (i->truncated)
        printf("(some elements, incidents or waits were left out to fit one response)\n");
}

static int cmd_instance_get(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE("instance get", 1);
    int64_t key;
    int r = parse_key_of("instance get", "a process instance key", pos[0], &key);
    if (r)
        return r;
    chute_instance_info *info;
    chute_error err;
    r = chute_client_get_instance(c, key, &info, NULL, &err);
    if (r < 0)
        return fail_call(r, &err);
    print_instance_info(info);
    chute_instance_info_free(info);
    return 0;
}

static int cmd_instance_cancel(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE("instance cancel", 1);
    int64_t key;
    int r = parse_key_of("instance cancel", "a process instance key", pos[0], &key);
    if (r)
        return r;
    chute_error err;
    r = chute_client_cancel_instance(c, key, NULL, &err);
    return r < 0 ? fail_call(r, &err) : done_msg("Cancelled process instance", key);
}

static int cmd_variables_set(chute_client *c, int argc, char **argv)
{
    const char *cmd = "variables set";
    opt_spec specs[] = {{"variables", 1, NULL, 0}, {"local", 0, NULL, 0}};
    PARSE(cmd, 1);
    int64_t key;
    int r = parse_key_of(cmd, "an element or process instance key", pos[0], &key);
    if (r)
        return r;
    if (!OPT("variables")->set)
        return usage_error(cmd, "missing --variables JSON (the variables to set)");
    if ((r = check_variables(cmd, OPT("variables")->value)))
        return r;
    int64_t change = 0;
    chute_error err;
    r = chute_client_set_variables(c, key, OPT("variables")->value, OPT("local")->set, &change,
                                   NULL, &err);
    if (r < 0)
        return fail_call(r, &err);
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", key_json(change));
        json_object_set_new(o, "elementInstanceKey", key_json(key));
        json_object_set_new(o, "local", json_boolean(OPT("local")->set));
        print_json(o);
    } else {
        printf("Set %svariables on %" PRId64 " (change %" PRId64 ")\n",
               OPT("local")->set ? "local " : "", key, change);
    }
    return 0;
}

/* ---- messages ------------------------------------------------------------------ */

static int cmd_message_publish(chute_client *c, int argc, char **argv)
{
    const char *cmd = "message publish";
    opt_spec specs[] = {{"correlation-key", 1, NULL, 0},
                        {"ttl", 1, NULL, 0},
                        {"id", 1, NULL, 0},
                        {"variables", 1, NULL, 0}};
    PARSE(cmd, 1);
    if (npos < 1)
        return usage_error(cmd, "missing NAME (the message name of the BPMN model)");
    if (!*pos[0])
        return usage_error(cmd, "NAME must not be empty");
    if (!OPT("correlation-key")->set)
        return usage_error(cmd, "missing --correlation-key K (the value the waiting instance "
                                "matches; --correlation-key '' for none, as for a message start "
                                "event)");
    chute_client_message_spec spec = {.name = pos[0],
                                      .correlation_key = OPT("correlation-key")->value,
                                      .message_id = OPT("id")->value,
                                      .variables = OPT("variables")->value};
    if (OPT("ttl")->set && parse_duration(OPT("ttl")->value, &spec.ttl_ms) < 0)
        return usage_error(cmd, "--ttl must be a duration like 30s, 1h or 500 (ms), not '%s'",
                           OPT("ttl")->value);
    int r = check_variables(cmd, spec.variables);
    if (r)
        return r;
    int64_t key = 0;
    chute_error err;
    int rc = chute_client_publish_message(c, &spec, &key, NULL, &err);
    if (rc < 0) {
        r = fail_call(rc, &err);
        if (rc == CHUTE_EEXIST)
            fprintf(stderr, "A message with this --id is still alive (within its time to live); "
                            "publish it under another --id, or wait until it expires.\n");
        return r;
    }
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", key_json(key));
        json_object_set_new(o, "name", json_string(spec.name));
        json_object_set_new(o, "correlationKey", json_string(spec.correlation_key));
        json_object_set_new(o, "timeToLive", json_integer(spec.ttl_ms));
        if (spec.message_id)
            json_object_set_new(o, "messageId", json_string(spec.message_id));
        print_json(o);
    } else {
        printf("Published message %" PRId64 " '%s' with correlation key '%s'", key, spec.name,
               spec.correlation_key);
        if (spec.ttl_ms > 0)
            printf(", kept %" PRId64 " ms for subscriptions opened later\n", spec.ttl_ms);
        else
            printf(" (no time to live: only subscriptions open now get it)\n");
    }
    return 0;
}

/* ---- user tasks ---------------------------------------------------------------- */

static json_t *strings_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* A user task as --json prints it: the names of Camunda's v2 API. */
static json_t *user_task_json(const chute_user_task *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "userTaskKey", key_json(t->key));
    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "state", json_string("CREATED"));
    json_object_set_new(o, "assignee", json_string(t->assignee));
    json_object_set_new(o, "elementId", json_string(t->element_id));
    json_object_set_new(o, "candidateGroups",
                        strings_json(t->candidate_groups, t->candidate_group_count));
    json_object_set_new(o, "candidateUsers",
                        strings_json(t->candidate_users, t->candidate_user_count));
    json_object_set_new(o, "processDefinitionId", json_string(t->bpmn_process_id));
    json_object_set_new(o, "processDefinitionKey", key_json(t->process_definition_key));
    json_object_set_new(o, "processInstanceKey", key_json(t->process_instance_key));
    json_object_set_new(o, "formKey", json_string(t->form_key));
    json_object_set_new(o, "dueDate", json_string(t->due_date));
    json_object_set_new(o, "followUpDate", json_string(t->follow_up_date));
    json_object_set_new(o, "priority", json_integer(t->priority));
    json_object_set_new(o, "createdAt", json_integer(t->created_at));
    return o;
}

/* "a,b" of |n| strings, "-" for none, shortened to fit |cap|. */
static const char *strings_cell(char *const *v, size_t n, char *buf, size_t cap)
{
    size_t w = 0;
    snprintf(buf, cap, "-");
    for (size_t i = 0; i < n && w < cap; i++) {
        int k = snprintf(buf + w, cap - w, "%s%s", i ? "," : "", v[i]);
        if (k < 0)
            break;
        w += (size_t)k;
    }
    return buf;
}

static int cmd_task_list(chute_client *c, int argc, char **argv)
{
    const char *cmd = "task list";
    opt_spec specs[] = {{"assignee", 1, NULL, 0}, {"unassigned", 0, NULL, 0},
                        {"instance", 1, NULL, 0}, {"element", 1, NULL, 0},
                        {"process", 1, NULL, 0},  {"limit", 1, NULL, 0}};
    PARSE(cmd, 0);
    chute_client_user_task_filter f = {0};
    if (OPT("assignee")->set && !*OPT("assignee")->value)
        return usage_error(cmd, "--assignee needs a name; use --unassigned for tasks nobody has");
    if (OPT("assignee")->set && OPT("unassigned")->set)
        return usage_error(cmd, "give --assignee NAME or --unassigned, not both");
    f.assignee = OPT("assignee")->value;
    f.unassigned = OPT("unassigned")->set;
    if (OPT("instance")->set) {
        int r = parse_key_of(cmd, "a process instance key", OPT("instance")->value,
                             &f.process_instance_key);
        if (r)
            return r;
    }
    f.element_id = OPT("element")->value;
    f.bpmn_process_id = OPT("process")->value;
    if (OPT("limit")->set &&
        (parse_i32(OPT("limit")->value, &f.limit) < 0 || f.limit < 1 || f.limit > 10000))
        return usage_error(cmd, "--limit must be an integer from 1 to 10000, not '%s'",
                           OPT("limit")->value);
    chute_user_task_list l;
    chute_error err;
    int r = chute_client_list_user_tasks(c, &f, &l, NULL, &err);
    if (r < 0) {
        int rc = r;
        r = fail_call(rc, &err);
        if (rc == CHUTE_EUNIMPL)
            fprintf(stderr,
                    "The gateway at %s is not Chute: user tasks are listed through "
                    "Chute's own service.\n",
                    address);
        return r;
    }
    if (as_json) {
        json_t *a = json_array();
        for (size_t i = 0; i < l.count; i++)
            json_array_append_new(a, user_task_json(&l.items[i]));
        json_t *o = json_object();
        json_object_set_new(o, "userTasks", a);
        json_object_set_new(o, "truncated", json_boolean(l.truncated));
        print_json(o);
    } else if (l.count == 0) {
        printf("No open user tasks.\n");
    } else {
        printf("%-18s %-16s %-16s %-18s %-16s %-20s %s\n", "KEY", "ELEMENT", "ASSIGNEE", "INSTANCE",
               "PROCESS", "CANDIDATE GROUPS", "CREATED");
        for (size_t i = 0; i < l.count; i++) {
            const chute_user_task *t = &l.items[i];
            char groups[64], created[32];
            fmt_time(t->created_at, created, sizeof created);
            printf(
                "%-18" PRId64 " %-16s %-16s %-18" PRId64 " %-16s %-20s %s\n", t->key, t->element_id,
                *t->assignee ? t->assignee : "-", t->process_instance_key, t->bpmn_process_id,
                strings_cell(t->candidate_groups, t->candidate_group_count, groups, sizeof groups),
                created);
        }
        if (l.truncated)
            printf("(more tasks match: narrow the filter or raise --limit)\n");
    }
    chute_user_task_list_free(&l);
    return 0;
}

/* The hints of a refused command on user task |key|. */
static int fail_task(const char *cmd, int64_t key, int rc, const chute_error *err)
{
    int r = fail_call(rc, err);
    if (rc == CHUTE_ENOTFOUND)
        fprintf(stderr,
                "No open user task has key %" PRId64 " (a completed one is gone); "
                "list them with 'chute task list'.\n",
                key);
    else if (rc == CHUTE_ESTATE && strcmp(cmd, "task assign") == 0)
        fprintf(stderr,
                "The task has another assignee: unassign it first ('chute task unassign %" PRId64
                "'), or assign it without --no-override.\n",
                key);
    return r;
}

static int cmd_task_assign(chute_client *c, int argc, char **argv)
{
    const char *cmd = "task assign";
    opt_spec specs[] = {{"no-override", 0, NULL, 0}};
    PARSE(cmd, 2);
    int64_t key;
    int r = parse_key_of(cmd, "a user task key", pos[0], &key);
    if (r)
        return r;
    if (npos < 2 || !*pos[1])
        return usage_error(cmd, "missing ASSIGNEE (to remove the assignee, use 'chute task "
                                "unassign KEY')");
    chute_error err;
    r = chute_client_assign_user_task(c, key, pos[1], !OPT("no-override")->set, NULL, &err);
    if (r < 0)
        return fail_task(cmd, key, r, &err);
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", key_json(key));
        json_object_set_new(o, "result", json_string("Assigned user task"));
        json_object_set_new(o, "assignee", json_string(pos[1]));
        print_json(o);
    } else {
        printf("Assigned user task %" PRId64 " to %s\n", key, pos[1]);
    }
    return 0;
}

static int cmd_task_unassign(chute_client *c, int argc, char **argv)
{
    const char *cmd = "task unassign";
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE(cmd, 1);
    int64_t key;
    int r = parse_key_of(cmd, "a user task key", pos[0], &key);
    if (r)
        return r;
    chute_error err;
    r = chute_client_unassign_user_task(c, key, NULL, &err);
    return r < 0 ? fail_task(cmd, key, r, &err) : done_msg("Unassigned user task", key);
}

static int cmd_task_complete(chute_client *c, int argc, char **argv)
{
    const char *cmd = "task complete";
    opt_spec specs[] = {{"variables", 1, NULL, 0}};
    PARSE(cmd, 1);
    int64_t key;
    int r = parse_key_of(cmd, "a user task key", pos[0], &key);
    if (r || (r = check_variables(cmd, OPT("variables")->value)))
        return r;
    chute_error err;
    r = chute_client_complete_user_task(c, key, OPT("variables")->value, NULL, &err);
    return r < 0 ? fail_task(cmd, key, r, &err) : done_msg("Completed user task", key);
}

/* ---- chute worker: a process per job ------------------------------------------ */

#define OUT_MAX (4 * 1024 * 1024)
#define ERR_TAIL 1024

typedef struct proc_worker {
    char **argv;
} proc_worker;

/* Closes the first |n| of |fd|, keeping errno: the caller reports why it
 * gave up (proc_handler prints strerror(errno)). */
static void close_fds(const int *fd, int n)
{
    int saved = errno;
    for (int i = 0; i < n; i++)
        close(fd[i]);
    errno = saved;
}

/* Runs the command with |input| on stdin; collects stdout (bounded) and the
 * tail of stderr. Returns the exit status (128 + signal when killed), or -1
 * when it could not be started. */
static int run_command(char **cmd, const chute_job *job, const char *input, char **out,
                       size_t *out_len, char *tail, size_t tail_cap)
{
    /* Three pipes, read end then write end: the command's stdin, stdout and
     * stderr. O_CLOEXEC: a command started by another handler thread at the
     * same time must not inherit these ends, or this command never sees EOF. */
    int fds[6];
    for (int made = 0; made < 6; made += 2)
        if (pipe2(fds + made, O_CLOEXEC) < 0) {
            close_fds(fds, made);
            return -1;
        }
    pid_t pid = fork();
    if (pid < 0) {
        close_fds(fds, 6);
        return -1;
    }
    if (pid == 0) {
        char b[32];
        dup2(fds[0], 0);
        dup2(fds[3], 1);
        dup2(fds[5], 2);
        close_fds(fds, 6);
        snprintf(b, sizeof b, "%" PRId64, job->key);
        setenv("CHUTE_JOB_KEY", b, 1);
        snprintf(b, sizeof b, "%d", job->retries);
        setenv("CHUTE_JOB_RETRIES", b, 1);
        setenv("CHUTE_JOB_TYPE", job->type, 1);
        setenv("CHUTE_JOB_HEADERS", job->custom_headers, 1);
        signal(SIGPIPE, SIG_DFL);
        execvp(cmd[0], cmd);
        fprintf(stderr, "cannot run '%s': %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    close(fds[0]);
    close(fds[3]);
    close(fds[5]);
    size_t in_len = strlen(input), in_off = 0;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t tlen = 0;
    int in_fd = fds[1], o_fd = fds[2], e_fd = fds[4];
    while (o_fd >= 0 || e_fd >= 0) {
        struct pollfd p[3];
        int n = 0, ii = -1, oi = -1, ei = -1;
        if (in_fd >= 0) {
            p[n] = (struct pollfd){in_fd, POLLOUT, 0};
            ii = n++;
        }
        if (o_fd >= 0) {
            p[n] = (struct pollfd){o_fd, POLLIN, 0};
            oi = n++;
        }
        if (e_fd >= 0) {
            p[n] = (struct pollfd){e_fd, POLLIN, 0};
            ei = n++;
        }
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (ii >= 0 && p[ii].revents) {
            ssize_t w = in_off < in_len ? write(in_fd, input + in_off, in_len - in_off) : 0;
            if (w > 0)
                in_off += (size_t)w;
            if (w < 0 || in_off >= in_len) {
                close(in_fd);
                in_fd = -1;
            }
        }
        if (oi >= 0 && p[oi].revents) {
            char b[8192];
            ssize_t r = read(o_fd, b, sizeof b);
            if (r <= 0) {
                close(o_fd);
                o_fd = -1;
            } else if (buf && len + (size_t)r < OUT_MAX) {
                if (len + (size_t)r + 1 > cap) {
                    while (len + (size_t)r + 1 > cap)
                        cap *= 2;
                    char *nb = realloc(buf, cap);
                    if (!nb) {
                        free(buf);
                        buf = NULL;
                    } else {
                        buf = nb;
                    }
                }
                if (buf) {
                    memcpy(buf + len, b, (size_t)r);
                    len += (size_t)r;
                }
            }
        }
        if (ei >= 0 && p[ei].revents) {
            char b[4096];
            ssize_t r = read(e_fd, b, sizeof b);
            if (r <= 0) {
                close(e_fd);
                e_fd = -1;
            } else {
                /* keep only the last tail_cap - 1 bytes */
                for (ssize_t k = 0; k < r; k++) {
                    if (tlen + 1 >= tail_cap) {
                        memmove(tail, tail + 1, tlen - 1);
                        tlen--;
                    }
                    tail[tlen++] = b[k];
                }
            }
        }
    }
    if (in_fd >= 0)
        close(in_fd);
    tail[tlen] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (buf)
        buf[len] = '\0';
    *out = buf;
    *out_len = len;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

static void proc_handler(chute_job_client *jc, const chute_job *job, void *ud)
{
    proc_worker *pw = ud;
    char *out = NULL;
    size_t out_len = 0;
    char tail[ERR_TAIL];
    chute_error err;
    int st = run_command(pw->argv, job, job->variables, &out, &out_len, tail, sizeof tail);
    int r;
    if (st == 0) {
        const char *vars = out && !jdoc_blank(out, out_len) ? out : NULL;
        if (vars && jdoc_check_object(vars, out_len, 0, "the command's output", &err) < 0) {
            char msg[CHUTE_ERROR_MESSAGE_MAX + 64];
            snprintf(msg, sizeof msg, "exit 0 but %s", err.message);
            r = chute_job_fail(jc, job->retries - 1, msg, 0, NULL, &err);
            fprintf(stderr, "job %" PRId64 ": %s\n", job->key, msg);
        } else {
            r = chute_job_complete(jc, vars, &err);
            if (r == 0)
                fprintf(stderr, "job %" PRId64 ": completed\n", job->key);
        }
    } else {
        char msg[ERR_TAIL + 64];
        size_t tl = strlen(tail);
        while (tl > 0 && (tail[tl - 1] == '\n' || tail[tl - 1] == '\r'))
            tail[--tl] = '\0';
        if (st < 0)
            snprintf(msg, sizeof msg, "cannot start the command: %s", strerror(errno));
        else if (tl)
            snprintf(msg, sizeof msg, "%s", tail);
        else
            snprintf(msg, sizeof msg, "the command exited with status %d", st);
        r = chute_job_fail(jc, job->retries - 1, msg, 0, NULL, &err);
        fprintf(stderr, "job %" PRId64 ": failed (exit %d, %d retries left): %s\n", job->key, st,
                job->retries - 1, msg);
    }
    if (r < 0)
        fprintf(stderr, "job %" PRId64 ": %s: %s\n", job->key, chute_err_name(r), err.message);
    free(out);
}

static int cmd_worker(chute_client *c, int argc, char **argv)
{
    int dd = -1;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dd = i;
            break;
        }
    opt_spec specs[] = {{"name", 1, NULL, 0},
                        {"concurrency", 1, NULL, 0},
                        {"max-jobs", 1, NULL, 0},
                        {"timeout", 1, NULL, 0},
                        {"stream", 0, NULL, 0}};
    int own_argc = dd >= 0 ? dd : argc;
    {
        char *pos[8] = {0};
        int npos = 0;
        int pr = parse_opts("worker", own_argc, argv, specs, sizeof specs / sizeof *specs, pos, 1,
                            &npos);
        if (pr != 0)
            return pr < 0 ? 0 : pr;
        if (npos < 1)
            return usage_error("worker", "missing TYPE");
        if (dd < 0 || dd + 1 >= argc)
            return usage_error("worker", "missing '-- COMMAND [ARGS...]' to run for each job");
        chute_worker_options o;
        chute_worker_options_init(&o);
        o.type = pos[0];
        o.name = OPT("name")->set ? OPT("name")->value : "chute-cli";
        if (OPT("concurrency")->set &&
            (parse_i32(OPT("concurrency")->value, (int32_t *)&o.concurrency) < 0 ||
             o.concurrency < 1))
            return usage_error("worker", "--concurrency must be an integer >= 1");
        o.max_jobs_active = o.concurrency * 2;
        if (OPT("max-jobs")->set &&
            (parse_i32(OPT("max-jobs")->value, (int32_t *)&o.max_jobs_active) < 0 ||
             o.max_jobs_active < 1))
            return usage_error("worker", "--max-jobs must be an integer >= 1");
        if (OPT("timeout")->set &&
            (parse_duration(OPT("timeout")->value, &o.timeout_ms) < 0 || o.timeout_ms < 1))
            return usage_error("worker", "--timeout must be a duration like 5m");
        o.stream_enabled = OPT("stream")->set;
        proc_worker pw = {argv + dd + 1};
        o.handler = proc_handler;
        o.user_data = &pw;
        signal(SIGPIPE, SIG_IGN);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        chute_worker *w;
        chute_error err;
        int r = chute_worker_open(&w, c, &o, &err);
        if (r < 0)
            return fail_call(r, &err);
        fprintf(stderr, "chute: worker '%s' handles '%s' jobs from %s (Ctrl-C to stop)\n", o.name,
                o.type, address);
        while (!interrupted)
            pause();
        fprintf(stderr, "chute: stopping; unstarted jobs are handed back\n");
        chute_worker_close(w);
    }
    return 0;
}

/* ---- deploy ---------------------------------------------------------------------- */

#define DEPLOY_FILE_MAX (4u << 20) /* the broker's default message bound */

/* Reads |path| whole, at most DEPLOY_FILE_MAX bytes. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: deploy: cannot open %s: %s\n", prog, path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(DEPLOY_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, DEPLOY_FILE_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > DEPLOY_FILE_MAX) {
        fprintf(stderr, "%s: deploy: %s: %s\n", prog, path,
                !buf  ? "out of memory"
                : bad ? "read error"
                      : "larger than 4 MiB, the broker's message bound");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int cmd_deploy(chute_client *c, int argc, char **argv)
{
    opt_spec specs[] = {{"_", 0, NULL, 0}};
    PARSE("deploy", 8);
    if (npos == 0) {
        fprintf(stderr, "%s: deploy: name at least one BPMN file (see chute deploy --help)\n",
                prog);
        return EXIT_USAGE;
    }
    chute_client_resource res[8];
    uint8_t *bufs[8] = {0};
    int r = 0;
    for (int i = 0; i < npos; i++) {
        bufs[i] = read_file(pos[i], &res[i].len);
        if (!bufs[i]) {
            r = EXIT_USAGE;
            break;
        }
        const char *slash = strrchr(pos[i], '/');
        res[i].name = slash ? slash + 1 : pos[i];
        res[i].content = bufs[i];
    }
    chute_deployment *d = NULL;
    chute_error err;
    if (r == 0) {
        int rc = chute_client_deploy(c, res, (size_t)npos, &d, NULL, &err);
        if (rc < 0)
            r = fail_call(rc, &err);
    }
    for (int i = 0; i < npos; i++)
        free(bufs[i]);
    if (r != 0)
        return r;
    if (as_json) {
        json_t *o = json_object(), *ps = json_array();
        json_object_set_new(o, "key", key_json(d->key));
        for (size_t i = 0; i < d->nprocesses; i++) {
            json_t *p = json_pack("{s:s,s:i,s:s}", "bpmnProcessId", d->processes[i].bpmn_process_id,
                                  "version", (int)d->processes[i].version, "resourceName",
                                  d->processes[i].resource_name);
            json_object_set_new(p, "processDefinitionKey", key_json(d->processes[i].key));
            json_array_append_new(ps, p);
        }
        json_object_set_new(o, "processes", ps);
        print_json(o);
    } else {
        printf("Deployment %lld\n", (long long)d->key);
        printf("%-24s %7s %-20s %s\n", "BPMN PROCESS ID", "VERSION", "KEY", "RESOURCE");
        for (size_t i = 0; i < d->nprocesses; i++)
            printf("%-24s %7d %-20lld %s\n", d->processes[i].bpmn_process_id,
                   (int)d->processes[i].version, (long long)d->processes[i].key,
                   d->processes[i].resource_name);
    }
    chute_deployment_free(d);
    return 0;
}

/* ---- main -------------------------------------------------------------------- */

typedef int (*cmd_fn)(chute_client *c, int argc, char **argv);

/* One row per command: what runs it and all its usage says, so that
 * `chute --help`, `chute` alone and `chute CMD --help` print from here. */
typedef struct command {
    const char *group, *name; /* "job", "create"; |name| NULL for "status", "worker" */
    cmd_fn fn;
    const char *synopsis; /* its arguments in `chute CMD --help` */
    const char *brief;    /* its arguments in the command list; NULL: |synopsis| */
    const char *summary;  /* what it does, in the command list; NULL: nothing */
    const char *details;  /* what `--help` prints after the synopsis, from that
                           * line's end; NULL: just the line end */
} command;

static const command commands[] = {
    {"status", NULL, cmd_status, "", NULL, "the broker's topology",
     "\n\nPrints the gateway version, brokers and partitions.\n"},
    {"deploy", NULL, cmd_deploy, "FILE...", NULL, "deploy BPMN processes",
     "\n\n"
     "Deploys the BPMN files (at most 8, 4 MiB each) in one deployment, all or nothing,\n"
     "and prints each process with its version and key. A file that is unchanged since\n"
     "its last deployment keeps its version. A rejected deployment prints the broker's\n"
     "message, which names every element and what is wrong.\n"},
    {"job", "create", cmd_job_create,
     "TYPE [--variables JSON] [--headers JSON] [--retries N]\n"
     "                        [--priority N] [--delay D] [--wait] [--wait-timeout D]",
     "TYPE [options]", "create a standalone job; prints its key",
     "\n\n"
     "Creates a standalone job and prints its key. With --wait, waits until the job\n"
     "is completed and prints its result variables (exit 1 if it gets an incident).\n"
     "  --variables JSON  a JSON object (default none)\n"
     "  --headers JSON    custom headers: a JSON object of strings\n"
     "  --retries N       >= 1 (default 3)\n"
     "  --priority N      higher is handed out first (default 0)\n"
     "  --delay D         activatable only after D\n"},
    {"job", "get", cmd_job_get, "KEY", NULL, "show a job (with its result once completed)",
     "\n\nShows the job with KEY, its state and, once completed, its result.\n"},
    {"job", "activate", cmd_job_activate,
     "TYPE [--max N] [--timeout D] [--worker NAME]\n"
     "                          [--request-timeout D]",
     "TYPE [options]", "activate jobs and print them",
     "\n\n"
     "Activates up to N jobs (default 1) for D (default 5m) and prints them.\n"
     "  --request-timeout D  long polling (default 0: answer at once)\n"},
    {"job", "complete", cmd_job_complete, "KEY [--variables JSON]", NULL, NULL, NULL},
    {"job", "fail", cmd_job_fail, "KEY --retries N [--backoff D] [--message M]", NULL, NULL,
     "\n\nFails the job, leaving it N retries (N <= 0 raises an incident).\n"},
    {"job", "throw-error", cmd_job_throw, "KEY --code C [--message M]", NULL, NULL, NULL},
    {"job", "update-retries", cmd_job_update_retries, "KEY --retries N", NULL, NULL,
     "   (N >= 1)\n"},
    {"job", "update-timeout", cmd_job_update_timeout, "KEY --timeout D", NULL, NULL,
     "\n\nThe lease of an activated job now ends D from now.\n"},
    {"job", "cancel", cmd_job_cancel, "KEY", NULL, NULL, NULL},
    {"incident", "list", cmd_incident_list, "[--type TYPE] [--limit N]", NULL,
     "open incidents of jobs and processes",
     "\n\n"
     "Lists open incidents, oldest first: of standalone jobs and of process instances\n"
     "(on a service task's job, or on an element itself, such as a gateway no flow\n"
     "leaves), with the element and process instance they belong to.\n"
     "  --type TYPE  only incidents of jobs of TYPE (leaves out those without a job)\n"
     "  --limit N    at most N (default 1000)\n"},
    {"incident", "resolve", cmd_incident_resolve, "KEY", NULL, NULL,
     "\n\nUpdate the job's retries first (chute job update-retries).\n"},
    {"instance", "create", cmd_instance_create,
     "ID [--version N] [--variables JSON] [--with-result]\n"
     "                             [--fetch NAME]... [--timeout D]",
     "ID [options]", "start a process instance; prints its key",
     "\n\n"
     "Starts an instance of the deployed process ID (its bpmnProcessId; digits name a\n"
     "process definition key instead) and prints its key.\n"
     "  --version N       that version (default: the latest)\n"
     "  --variables JSON  the instance's variables, a JSON object\n"
     "  --with-result     wait until the instance completes and print its variables\n"
     "  --fetch NAME      with --with-result: only these variables (repeat it, or\n"
     "                    NAME,NAME)\n"
     "  --timeout D       with --with-result: how long the broker waits (default 10s);\n"
     "                    the instance runs on after it\n"},
    {"instance", "get", cmd_instance_get, "KEY [--json]", NULL,
     "show a process instance and its elements",
     "\n\n"
     "Shows the process instance KEY, active or ended: its state, its active elements\n"
     "(with their jobs and incidents), its variables, what it waits on (timers with\n"
     "their due time, message subscriptions with their name and correlation key) and\n"
     "its open incidents. With --json, every element instance, every incident (open\n"
     "and resolved) and every wait.\n"},
    {"instance", "cancel", cmd_instance_cancel, "KEY", NULL, "cancel a process instance",
     "\n\n"
     "Terminates the active process instance KEY: its elements end, its jobs are\n"
     "removed and its incidents resolved.\n"},
    {"task", "list", cmd_task_list,
     "[--assignee NAME | --unassigned] [--instance KEY]\n"
     "                       [--element ID] [--process ID] [--limit N] [--json]",
     "[options]", "open user tasks",
     "\n\n"
     "Lists the open user tasks (userTask elements with zeebe:userTask), oldest first:\n"
     "key, element, assignee, process instance, process, candidate groups, creation.\n"
     "  --assignee NAME  only tasks assigned to NAME\n"
     "  --unassigned     only tasks nobody is assigned to\n"
     "  --instance KEY   only tasks of the process instance KEY\n"
     "  --element ID     only tasks of the userTask element ID\n"
     "  --process ID     only tasks of the process ID (its bpmnProcessId)\n"
     "  --limit N        at most N (default 1000, at most 10000)\n"
     "With --json, every field (the names of Camunda's v2 API).\n"},
    {"task", "assign", cmd_task_assign, "KEY ASSIGNEE [--no-override]", NULL, "assign a user task",
     "\n\n"
     "Assigns the user task KEY to ASSIGNEE; a task that has another assignee is\n"
     "reassigned.\n"
     "  --no-override  refuse when the task has another assignee (claiming a task\n"
     "                 from a group queue: nobody takes it from its holder)\n"},
    {"task", "unassign", cmd_task_unassign, "KEY", NULL, "remove a user task's assignee",
     "\n\nRemoves the assignee of the user task KEY.\n"},
    {"task", "complete", cmd_task_complete, "KEY [--variables JSON]", NULL, "complete a user task",
     "\n\n"
     "Completes the user task KEY; its process instance moves on.\n"
     "  --variables JSON  the result, a JSON object, merged into the instance's\n"
     "                    variables as a completed job's are\n"},
    {"variables", "set", cmd_variables_set, "KEY --variables JSON [--local]", NULL,
     "set variables of a process instance",
     "\n\n"
     "Sets the variables of JSON (an object) on the scope of KEY: a process instance\n"
     "key for its root scope, or an element instance key (see chute instance get\n"
     "--json). Each variable goes to the nearest scope up from KEY that has it, else\n"
     "to the root; with --local all of them become local variables of KEY's scope.\n"
     "Typically followed by chute incident resolve to retry what failed.\n"},
    {"message", "publish", cmd_message_publish,
     "NAME --correlation-key K [--ttl D] [--id ID]\n"
     "                             [--variables JSON]",
     "NAME --correlation-key K [options]", "publish a message to waiting instances",
     "\n\n"
     "Publishes the message NAME. It goes at once to every process instance waiting for\n"
     "NAME with the correlation key K (a message catch event, a receive task, a boundary\n"
     "event), at most once per instance, and starts an instance of each process whose\n"
     "message start event is NAME. Prints the message's key.\n"
     "  --correlation-key K  matched against the waiting instances' keys ('' for none)\n"
     "  --ttl D              keep the message D for instances that wait for it later\n"
     "                       (default 0: only those waiting now get it)\n"
     "  --id ID              a second message with this ID is refused while the first\n"
     "                       one lives\n"
     "  --variables JSON     variables the message brings, a JSON object\n"},
    {"worker", NULL, cmd_worker,
     "TYPE [--name NAME] [--concurrency N] [--max-jobs N]\n"
     "                    [--timeout D] [--stream] -- COMMAND [ARGS...]",
     "TYPE [options] -- COMMAND [ARGS...]", "run COMMAND for each job",
     "\n\n"
     "Runs COMMAND for every job of TYPE, with the job's variables (a JSON object)\n"
     "on its standard input. Exit status 0 completes the job with the JSON object\n"
     "COMMAND printed (empty output: no variables); any other exit fails it with\n"
     "retries - 1 and the end of its standard error as the message. The job's key\n"
     "and retries are in $CHUTE_JOB_KEY and $CHUTE_JOB_RETRIES. Runs until\n"
     "interrupted (Ctrl-C), then hands unstarted jobs back.\n"},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

/* "job create", "status": the words a user types. */
static void command_name(const command *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", c->group, c->name ? " " : "", c->name ? c->name : "");
}

/* `chute --help`, `chute help`, and `chute` alone (on stderr). */
static void print_usage(FILE *f)
{
    fputs("Usage: chute [--address HOST:PORT] [--json] COMMAND ...\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t k = 0; k < NCOMMANDS; k++) {
        const command *c = &commands[k];
        char line[128];
        command_name(c, line, sizeof line);
        size_t n = strlen(line);
        snprintf(line + n, sizeof line - n, " %s", c->brief ? c->brief : c->synopsis);
        if (!c->summary)
            fprintf(f, "  %s\n", line);
        else if (strlen(line) <= 35)
            fprintf(f, "  %-35s %s\n", line, c->summary);
        else
            fprintf(f, "  %s\n%38s%s\n", line, "", c->summary);
    }
    fputs("\n"
          "Global options:\n"
          "  --address HOST:PORT   the broker (default $CHUTE_ADDRESS or 127.0.0.1:26500)\n"
          "  --json                print JSON instead of text\n"
          "  --help                help for any command (chute job create --help)\n"
          "\n"
          "Durations (D) are like 500ms, 10s, 5m, 1h or 1m30s; a bare number means ms.\n",
          f);
}

static int print_help(const char *cmd)
{
    for (size_t k = 0; k < NCOMMANDS; k++) {
        const command *c = &commands[k];
        char name[64];
        command_name(c, name, sizeof name);
        if (strcmp(name, cmd) == 0) {
            printf("Usage: chute %s%s%s%s", name, *c->synopsis ? " " : "", c->synopsis,
                   c->details ? c->details : "\n");
            return 0;
        }
    }
    print_usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    address = getenv("CHUTE_ADDRESS");
    if (!address || !*address)
        address = "127.0.0.1:26500";
    int i = 1;
    /* global options before the command */
    for (; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc) {
            address = argv[++i];
        } else if (strncmp(argv[i], "--address=", 10) == 0) {
            address = argv[i] + 10;
        } else if (strcmp(argv[i], "--help") == 0) {
            print_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("chute %s\n", CHUTE_VERSION);
            return 0;
        } else {
            return usage_error(NULL, "unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc || strcmp(argv[i], "help") == 0) {
        print_usage(i >= argc ? stderr : stdout);
        return i >= argc ? EXIT_USAGE : 0;
    }
    const char *group = argv[i++];
    const command *cmd = NULL;
    int group_known = 0;
    for (size_t k = 0; k < NCOMMANDS; k++) {
        if (strcmp(commands[k].group, group) != 0)
            continue;
        group_known = 1;
        if (!commands[k].name) {
            cmd = &commands[k];
            break;
        }
        if (i < argc && strcmp(commands[k].name, argv[i]) == 0) {
            cmd = &commands[k];
            i++;
            break;
        }
    }
    if (!cmd) {
        if (!group_known)
            return usage_error(NULL, "unknown command '%s'", group);
        if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            printf("Usage: chute %s SUBCOMMAND ...\n\nSubcommands:", group);
            for (size_t k = 0; k < NCOMMANDS; k++)
                if (strcmp(commands[k].group, group) == 0)
                    printf(" %s", commands[k].name);
            printf("\n");
            return 0;
        }
        return usage_error(NULL, "'%s' needs a subcommand%s%s", group, i < argc ? ", not " : "",
                           i < argc ? argv[i] : "");
    }
    /* Global options may also follow the command. */
    int n = 0;
    char **rest = argv + i;
    int nrest = argc - i;
    for (int k = 0; k < nrest; k++) {
        if (strcmp(rest[k], "--") == 0) {
            for (; k < nrest; k++)
                rest[n++] = rest[k];
            break;
        }
        if (strcmp(rest[k], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(rest[k], "--address") == 0 && k + 1 < nrest) {
            address = rest[++k];
        } else if (strncmp(rest[k], "--address=", 10) == 0) {
            address = rest[k] + 10;
        } else {
            rest[n++] = rest[k];
        }
    }
    for (int k = 0; k < n; k++)
        if (strcmp(rest[k], "--") == 0)
            break;
        else if (strcmp(rest[k], "--help") == 0 || strcmp(rest[k], "-h") == 0) {
            char name[64];
            command_name(cmd, name, sizeof name);
            return print_help(name);
        }
    chute_client *c;
    chute_error err;
    chute_client_options co;
    chute_client_options_init(&co);
    co.connect_timeout_ms = 5000;
    if (chute_client_open(&c, address, &co, &err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return EXIT_USAGE;
    }
    cli_client = c;
    int r = cmd->fn(c, n, rest);
    cli_client = NULL;
    chute_client_close(c);
    return r;
}
