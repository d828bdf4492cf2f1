/*
 * The shared corpus of real models (../shared/bpmn-corpus, see its
 * SOURCES.md) through the engine's deploy: chute_engine_deploy, with the
 * real FEEL parser behind the model, one file per deployment. Each file
 * deploys or is refused as the table below says, and every refusal names,
 * error by error, an element the document has (an id="..." of the file,
 * the first part of a path such as "Task > extensionElements") or the
 * document's own fault (not XML, not BPMN, DMN, no process). The verdicts
 * are printed as the Markdown table of docs/corpus-report.md; with a second
 * argument the table is written to that file as well.
 *
 * tests/model/test_bpmn checks the same files in detail at the model level
 * with a stand-in FEEL hook; this one checks what a client of the engine
 * (chuted, the embedded API) is told.
 *
 * Usage: test_engine_corpus CORPUS_DIR [REPORT.md]. A missing corpus is a
 * failure, not a skip.
 */
#include "engine_fixture.h"

static const char *corpus_dir;
static const char *report_path;

#define HEADER "Expected to deploy new resources, but encountered the following errors:"
#define MAX_WHY 12

/* What a file should come to: deployed (its process ids, in order) or
 * refused with these errors, in the order given: an element (NULL: the
 * document) and a fragment of what is said about it. */
typedef struct want_error {
    const char *element;
    const char *says;
} want_error;

typedef struct expected {
    const char *file;
    const char *deploys[4]; /* bpmnProcessIds; empty: refused (unless |decisions|) */
    want_error why[MAX_WHY];
    int decisions; /* a DMN resource that deploys (no processes) */
} expected;

static const expected table[] = {
    {"async-service-task.bpmn", {"AsyncServiceTaskProcess"}, {{0}}, 0},
    {"demo-process.bpmn", {"demoProcess"}, {{0}}, 0},
    {"enforcing-sla.bpmn", {"template-enforcing-sla-1ktq8my"}, {{0}}, 0},
    {"error-handling.bpmn", {"template-error-handling-1s16sgi"}, {{0}}, 0},
    {"get-up.bpmn", {"GetUpProcess"}, {{0}}, 0},
    {"multi-instance-simple.bpmn", {"MICallActivityProcess", "ElementCreationProcess"}, {{0}}, 0},
    {"order-process-boundary-events.bpmn", {"process2"}, {{0}}, 0},
    {"order-process.bpmn", {"process1"}, {{0}}, 0},
    {"payment-process.bpmn", {"paymentProcess"}, {{0}}, 0},
    {"plot-destination.dmn", {0}, {{0}}, 1},
    {"quick-start-microservices.bpmn", {"template-microservice-tutorial-18us19m"}, {{0}}, 0},
    {"response-process.bpmn", {"responseProcess"}, {{0}}, 0},
    {"rocket-launch.bpmn", {"rocket-launch"}, {{0}}, 0},
    {"rollback-process.bpmn", {"RollbackOnErrorProcess"}, {{0}}, 0},
    {"ticket-booking.bpmn", {"template-ticket-booking-18vy8wg"}, {{0}}, 0},
    {"twitter.bpmn", {"TwitterDemoProcess"}, {{0}}, 0},
};

/* ---- reading the corpus and the refusal -------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *p = realloc(buf, cap);
            assert_non_null(p);
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0)
            break;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* One error of a refusal as the message lists it. */
typedef struct said {
    char *element; /* NULL: the document */
    char *message;
} said;

typedef struct refusal {
    said items[64];
    size_t count;
    const char *fault; /* why the message could not be read; NULL when it could */
} refusal;

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/*
 * Reads "HEADER\n'<name>': " and then document lines, "- Element: X"
 * lines each followed by one or more "    - ERROR: ..." lines, and perhaps
 * a last "(N more errors not shown ...)" line.
 */
static void read_refusal(const char *msg, const char *name, refusal *r)
{
    memset(r, 0, sizeof *r);
    size_t hl = strlen(HEADER);
    if (strncmp(msg, HEADER "\n'", hl + 2) != 0) {
        r->fault = "the message does not start with Zeebe's header and the resource";
        return;
    }
    const char *p = msg + hl + 2;
    size_t nl = strlen(name);
    if (strncmp(p, name, nl) != 0 || strncmp(p + nl, "': ", 3) != 0) {
        r->fault = "the message does not name the resource";
        return;
    }
    p += nl + 3;
    const char *element = NULL;
    size_t element_len = 0;
    int element_has_error = 1;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) {
            /* only the last line may end in a newline */
        } else if (strncmp(p, "- Element: ", 11) == 0) {
            if (!element_has_error) {
                r->fault = "an element is listed without an error under it";
                return;
            }
            element = p + 11;
            element_len = len - 11;
            element_has_error = 0;
        } else if (strncmp(p, "    - ERROR: ", 13) == 0) {
            if (!element) {
                r->fault = "an error line comes before any element";
                return;
            }
            if (len == 13) {
                r->fault = "an error line says nothing";
                return;
            }
            assert_true(r->count < sizeof r->items / sizeof r->items[0]);
            r->items[r->count].element = dup_n(element, element_len);
            r->items[r->count].message = dup_n(p + 13, len - 13);
            r->count++;
            element_has_error = 1;
        } else if (p[0] == '(' &&
                   strstr(p, "more errors not shown") == p + strspn(p, "(0123456789 ")) {
            /* the tail of a long list */
        } else if (!element) {
            assert_true(r->count < sizeof r->items / sizeof r->items[0]);
            r->items[r->count].element = NULL;
            r->items[r->count].message = dup_n(p, len);
            r->count++;
        } else {
            r->fault = "a line after the elements is neither an element nor an error";
            return;
        }
        p = end ? end + 1 : p + len;
    }
    if (!element_has_error)
        r->fault = "the last element is listed without an error under it";
    else if (r->count == 0)
        r->fault = "the refusal lists no error";
}

static void refusal_free(refusal *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->items[i].element);
        free(r->items[i].message);
    }
    r->count = 0;
}

/* Whether the document has an element with id |id| (the part of a path
 * before " > "). */
static int has_id(const char *xml, const char *path)
{
    const char *cut = strstr(path, " > ");
    size_t n = cut ? (size_t)(cut - path) : strlen(path);
    char *needle = malloc(n + 6);
    assert_non_null(needle);
    snprintf(needle, n + 6, "id=\"%.*s\"", (int)n, path);
    int found = strstr(xml, needle) != NULL;
    free(needle);
    return found;
}

/* ---- the report ----------------------------------------------------------------- */

static void md_text(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        if (s[i] == '|')
            fputs("\\|", out);
        else if (s[i] == '\n')
            fputc(' ', out);
        else
            fputc(s[i], out);
    }
}

/* A message without its "(supported: ...)" list of what Chute runs. */
static void md_said(FILE *out, const char *m)
{
    const char *cut = strstr(m, " (supported:");
    md_text(out, m, cut ? (size_t)(cut - m) : strlen(m));
}

/* ---- the test ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus(void **state)
{
    fx *f = *state;
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
    if (n == 0)
        fail_msg("the BPMN corpus at %s has no .bpmn or .dmn file", corpus_dir);

    char *md = NULL;
    size_t md_len = 0;
    FILE *out = open_memstream(&md, &md_len);
    assert_non_null(out);
    fprintf(out, "| file | verdict | message (per element: what is unsupported or missing) |\n");
    fprintf(out, "|---|---|---|\n");

    size_t deployed = 0, refused = 0, failures = 0;
    for (size_t i = 0; i < n; i++) {
        const expected *want = NULL;
        for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
            if (strcmp(table[k].file, names[i]) == 0)
                want = &table[k];
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", corpus_dir, names[i]);
        size_t len = 0;
        char *xml = slurp(path, &len);
        if (!xml)
            fail_msg("cannot read %s", path);
        chute_resource r = {.name = names[i], .content = (const uint8_t *)xml, .len = len};
        int64_t dk = 0;
        const chute_process_view *procs = NULL;
        size_t nprocs = 0;
        memset(&f->err, 0, sizeof f->err);
        int rc = chute_engine_deploy(f->e, &r, 1, &dk, &procs, &nprocs, &f->err);
        fprintf(out, "| %s | ", names[i]);
        if (rc == 0) {
            deployed++;
            fprintf(out, "deploys | ");
            for (size_t k = 0; k < nprocs; k++)
                fprintf(out, "%sprocess `%s` version %d", k ? ", " : "", procs[k].bpmn_process_id,
                        procs[k].version);
            const chute_decision_view *decs;
            size_t ndecs;
            chute_engine_deployed_decisions(f->e, &decs, &ndecs);
            for (size_t k = 0; k < ndecs; k++)
                fprintf(out, "%sdecision `%s` version %d", k || nprocs ? ", " : "",
                        decs[k].decision_id, decs[k].version);
            fprintf(out, " |\n");
            if (want && want->decisions && ndecs == 0) {
                print_error("FAIL: %s deployed no decisions\n", names[i]);
                failures++;
            }
            if (want && !want->deploys[0] && !want->decisions) {
                print_error("FAIL: %s deployed, but this test expects it refused\n", names[i]);
                failures++;
            }
            for (size_t k = 0; want && want->deploys[0] && k < 4; k++) {
                const char *id = want->deploys[k];
                if ((k < nprocs) != (id != NULL) ||
                    (id && strcmp(id, procs[k].bpmn_process_id) != 0)) {
                    print_error("FAIL: %s deployed other processes than %s\n", names[i],
                                want->deploys[0]);
                    failures++;
                    break;
                }
            }
        } else if (rc == CHUTE_EINVAL) {
            refused++;
            refusal got;
            read_refusal(f->err.message, names[i], &got);
            fprintf(out, "refused | ");
            for (size_t k = 0; k < got.count; k++) {
                if (k)
                    fputs("<br>", out);
                if (got.items[k].element)
                    fprintf(out, "`%s`: ", got.items[k].element);
                else
                    fputs("(document) ", out);
                md_said(out, got.items[k].message);
            }
            if (got.fault) {
                fputs(" **unreadable message: ", out);
                md_text(out, got.fault, strlen(got.fault));
                fputs("**", out);
            }
            fprintf(out, " |\n");
            /* The rule for any file, listed below or not. */
            if (got.fault) {
                print_error("FAIL: %s is refused, but %s:\n%s\n", names[i], got.fault,
                            f->err.message);
                failures++;
            }
            if (strlen(f->err.message) + 1 >= sizeof f->err.message) {
                print_error("FAIL: %s: the refusal does not fit in chute_error.message (%zu "
                            "bytes) and is cut\n",
                            names[i], sizeof f->err.message);
                failures++;
            }
            for (size_t k = 0; k < got.count; k++) {
                const said *s = &got.items[k];
                if (s->element && !has_id(xml, s->element)) {
                    print_error("FAIL: %s: the refusal names '%s', which the document has not\n",
                                names[i], s->element);
                    failures++;
                }
                if (!s->element && strlen(s->message) < 16) {
                    print_error("FAIL: %s: the document's fault is not said: '%s'\n", names[i],
                                s->message);
                    failures++;
                }
            }
            /* The verdict this file should get. */
            if (want && want->deploys[0]) {
                print_error("FAIL: %s is refused, but this test expects it deployed:\n%s\n",
                            names[i], f->err.message);
                failures++;
            } else if (want) {
                size_t nw = 0;
                while (nw < MAX_WHY && want->why[nw].says)
                    nw++;
                if (nw != got.count) {
                    print_error("FAIL: %s: %zu errors, expected %zu:\n%s\n", names[i], got.count,
                                nw, f->err.message);
                    failures++;
                }
                for (size_t k = 0; k < nw && k < got.count; k++) {
                    const want_error *w = &want->why[k];
                    const said *s = &got.items[k];
                    int same = w->element ? s->element && strcmp(w->element, s->element) == 0
                                          : s->element == NULL;
                    if (!same || !strstr(s->message, w->says)) {
                        print_error(
                            "FAIL: %s: error %zu is '%s': '%s', expected '%s': '...%s...'\n",
                            names[i], k + 1, s->element ? s->element : "(document)", s->message,
                            w->element ? w->element : "(document)", w->says);
                        failures++;
                    }
                }
            }
            refusal_free(&got);
        } else {
            fprintf(out, "error %s | %s |\n", chute_err_name(rc), f->err.message);
            print_error("FAIL: %s: deploy returned %s: %s\n", names[i], chute_err_name(rc),
                        f->err.message);
            failures++;
        }
        if (!want) {
            print_error("FAIL: %s is in the corpus but not in this test's table\n", names[i]);
            failures++;
        }
        free(xml);
    }
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        const char **hit = bsearch(&table[k].file, names, n, sizeof *names, cmp_str);
        if (!hit) {
            print_error("FAIL: %s is in this test's table but not in the corpus\n", table[k].file);
            failures++;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    fclose(out);
    printf("BPMN corpus %s through chute_engine_deploy: %zu files, %zu deploy, %zu refused\n\n%s\n",
           corpus_dir, n, deployed, refused, md);
    if (report_path) {
        FILE *rf = fopen(report_path, "w");
        if (!rf)
            fail_msg("cannot write %s", report_path);
        fputs(md, rf);
        fclose(rf);
    }
    free(md);
    if (failures)
        fail_msg("%zu failures over the corpus", failures);
}

/* ---- running the models that deploy ---------------------------------------------- */

static int64_t deploy_file(fx *f, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", corpus_dir, file);
    size_t len;
    char *xml = slurp(path, &len);
    assert_non_null(xml);
    chute_resource r = {file, (const uint8_t *)xml, len};
    int64_t dk;
    const chute_process_view *pv;
    size_t n;
    assert_int_equal(chute_engine_deploy(f->e, &r, 1, &dk, &pv, &n, &f->err), 0);
    int64_t key = pv[0].key;
    free(xml);
    return key;
}

typedef struct types_seen {
    char names[32][128];
    int n;
} types_seen;

static int note_type(void *ctx, const chute_type_stats *s)
{
    types_seen *t = ctx;
    if (t->n < 32 && s->activatable)
        snprintf(t->names[t->n++], sizeof t->names[0], "%s", s->type);
    return 0;
}

static int print_active(void *ctx, const chute_element_view *el)
{
    (void)ctx;
    if (el->state == CHUTE_INSTANCE_ACTIVE)
        fprintf(stderr, "  still active: %s (%s)\n", el->element_id, el->element_type);
    return 0;
}

typedef struct ut_keys {
    int64_t keys[16];
    int n;
} ut_keys;

static int note_user_task(void *ctx, const chute_user_task_view *t)
{
    ut_keys *u = ctx;
    if (u->n < 16)
        u->keys[u->n++] = t->key;
    return 0;
}

/* Works every ready job (and native user task) with |result| (a job whose type is |throw_type|
 * throws |code| instead), moving the clock on by |step_ms| whenever no job
 * is ready, until instance |pi| ends. Returns the jobs worked. */
static int drive_msg(fx *f, int64_t pi, const char *result, const char *throw_type,
                     const char *code, int64_t step_ms, const char *msg, const char *msg_key)
{
    int worked = 0;
    for (int round = 0; round < 200; round++) {
        chute_instance_view v;
        assert_int_equal(chute_engine_get_instance(f->e, pi, &v, &f->err), 0);
        if (v.state != CHUTE_INSTANCE_ACTIVE)
            return worked;
        assert_false(v.has_incident);
        types_seen t = {0};
        assert_int_equal(chute_engine_list_types(f->e, note_type, &t), 0);
        ut_keys u = {0};
        assert_int_equal(chute_engine_list_user_tasks(f->e, NULL, note_user_task, &u), 0);
        for (int k = 0; k < u.n; k++) {
            assert_int_equal(chute_engine_complete_user_task(f->e, u.keys[k], result, 0, &f->err),
                             0);
            worked++;
        }
        if (u.n) {
            assert_int_equal(chute_engine_commit(f->e, &f->err), 0);
            continue;
        }
        if (t.n == 0 && msg) {
            /* Idle: the message it waits for arrives. */
            chute_message_spec m = {.name = msg, .correlation_key = msg_key};
            chute_message_result r;
            assert_int_equal(chute_engine_publish_message(f->e, &m, &r, &f->err), 0);
            assert_int_equal(r.correlated, 1);
            msg = NULL;
            continue;
        }
        if (t.n == 0) {
            f->now += step_ms;
            chute_engine_tick(f->e);
            continue;
        }
        for (int i = 0; i < t.n; i++) {
            chute_activate_request req = {.type = t.names[i], .worker = "corpus",
                                          .timeout_ms = 600000000, .max_jobs = 10};
            const chute_job_view *jobs;
            size_t n;
            assert_int_equal(chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err), 0);
            int64_t keys[10];
            for (size_t k = 0; k < n; k++)
                keys[k] = jobs[k].key;
            for (size_t k = 0; k < n; k++) {
                if (throw_type && strcmp(t.names[i], throw_type) == 0) {
                    assert_int_equal(
                        chute_engine_throw_error(f->e, keys[k], code, "thrown", NULL, 0, &f->err), 0);
                    throw_type = NULL; /* once: the path it leads to may come back */
                } else
                    assert_int_equal(chute_engine_complete(f->e, keys[k], result, 0, &f->err), 0);
                worked++;
            }
        }
        assert_int_equal(chute_engine_commit(f->e, &f->err), 0);
    }
    chute_engine_list_elements(f->e, pi, print_active, NULL, &f->err);
    fail_msg("instance %lld did not end", (long long)pi);
    return worked;
}

static int count_esp(void *ctx, const chute_element_view *el)
{
    *(int *)ctx += strcmp(el->element_type, "EVENT_SUB_PROCESS") == 0;
    return 0;
}

static int count_completed(void *ctx, const chute_element_view *el)
{
    *(int *)ctx += el->state == CHUTE_INSTANCE_COMPLETED;
    return 0;
}

static int drive(fx *f, int64_t pi, const char *result, const char *throw_type, const char *code,
                 int64_t step_ms)
{
    return drive_msg(f, pi, result, throw_type, code, step_ms, NULL, NULL);
}

/* Activates and completes the one ready job of |type| with |vars|. */
static void work_one(fx *f, const char *type, const char *vars)
{
    chute_activate_request req = {.type = type, .worker = "corpus", .timeout_ms = 600000,
                                  .max_jobs = 1};
    const chute_job_view *jobs;
    size_t n;
    assert_int_equal(chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(chute_engine_complete(f->e, jobs[0].key, vars, 0, &f->err), 0);
}

static int64_t start_instance(fx *f, const char *id, const char *vars)
{
    chute_instance_spec s = {.bpmn_process_id = id, .version = -1, .variables = vars};
    chute_instance_view v;
    assert_int_equal(chute_engine_create_instance(f->e, &s, NULL, &v, NULL, &f->err), 0);
    return v.key;
}

static void test_corpus_models_run(void **state)
{
    fx *f = *state;
    /* Every model that deploys runs an instance to its end, with workers
     * for its job types. */
    static const char *const straight[][2] = {
        {"order-process.bpmn", "process1"},
        {"demo-process.bpmn", "demoProcess"},
        {"async-service-task.bpmn", "AsyncServiceTaskProcess"},
        {"quick-start-microservices.bpmn", "template-microservice-tutorial-18us19m"},
    };
    for (size_t i = 0; i < sizeof straight / sizeof *straight; i++) {
        deploy_file(f, straight[i][0]);
        int64_t pi = start_instance(f, straight[i][1], NULL);
        assert_true(drive(f, pi, "{\"done\":true}", NULL, NULL, 1000) >= 1);
    }
    /* get-up: timers in and around an embedded sub-process, gateways on
     * the workers' progress. */
    deploy_file(f, "get-up.bpmn");
    int64_t pi = start_instance(f, "GetUpProcess", NULL);
    int64_t t0 = f->now;
    int jobs = drive(f, pi, "{\"progress\":\"ready\",\"breakfastPrepared\":true}", NULL, NULL,
                     60000);
    /* Two job tasks (the other tasks are plain), two timer waits in the
     * sub-process, one outside: 24 element instances, all completed. */
    assert_int_equal(jobs, 2);
    int els = 0;
    assert_int_equal(chute_engine_list_elements(f->e, pi, count_completed, &els, &f->err), 0);
    assert_int_equal(els, 24);
    assert_true(f->now - t0 >= 15 * 60000); /* it waited on its timers */
    /* The order process with error boundary events: a thrown error takes
     * the boundary path to "Order not shipped". */
    deploy_file(f, "order-process-boundary-events.bpmn");
    pi = start_instance(f, "process2", NULL);
    assert_int_equal(drive(f, pi, NULL, "check-inventory", "OUT_OF_STOCK", 1000), 1);
    chute_instance_view v;
    assert_int_equal(chute_engine_get_instance(f->e, pi, &v, &f->err), 0);
    assert_int_equal(v.state, CHUTE_INSTANCE_COMPLETED);
    pi = start_instance(f, "process2", NULL);
    assert_int_equal(drive(f, pi, "{}", NULL, NULL, 1000), 3);
    /* response-process: a message throw event is a job whose type is an
     * expression over the request. */
    deploy_file(f, "response-process.bpmn");
    pi = start_instance(f, "responseProcess", "{\"requestId\":\"r7\"}");
    assert_int_equal(drive(f, pi, "{}", NULL, NULL, 1000), 2);
    /* ticket-booking: the receive task waits for the payment message; a
     * second booking that never pays is cancelled by its five-minute timer
     * boundary. */
    deploy_file(f, "ticket-booking.bpmn");
    pi = start_instance(f, "template-ticket-booking-18vy8wg", NULL);
    assert_int_equal(drive_msg(f, pi, "{\"paymentRequestId\":\"pay-42\"}", NULL, NULL, 1000,
                               "msg-payment-received", "pay-42"),
                     3);
    pi = start_instance(f, "template-ticket-booking-18vy8wg", NULL);
    t0 = f->now;
    assert_int_equal(drive(f, pi, "{\"paymentRequestId\":\"pay-43\"}", NULL, NULL, 60000), 2);
    assert_true(f->now - t0 >= 5 * 60000);
    /* A parallel multi-instance call activity over a list a worker makes;
     * each called instance's worker answers for its element, and the
     * results come back in the list's order whatever order they end in. */
    deploy_file(f, "multi-instance-simple.bpmn");
    pi = start_instance(f, "MICallActivityProcess", NULL);
    work_one(f, "sequenceCreation", "{\"sequence\":[3,1,2]}");
    chute_activate_request mreq = {.type = "elementCreation", .worker = "corpus",
                                   .timeout_ms = 600000, .max_jobs = 10};
    const chute_job_view *mjobs;
    size_t nj;
    assert_int_equal(chute_engine_activate(f->e, &mreq, 0, &mjobs, &nj, &f->err), 0);
    assert_int_equal(nj, 3);
    int64_t jk[3];
    char jv[3][64];
    for (size_t k = 0; k < 3; k++) {
        jk[k] = mjobs[k].key;
        json_t *jvars = json_loadb(mjobs[k].variables, mjobs[k].variables_len, 0, NULL);
        snprintf(jv[k], sizeof jv[k], "{\"result\":\"e%lld\"}",
                 (long long)json_integer_value(json_object_get(jvars, "element")));
        json_decref(jvars);
    }
    for (int k = 2; k >= 0; k--)
        assert_int_equal(chute_engine_complete(f->e, jk[k], jv[k], 0, &f->err), 0);
    work_one(f, "resultLogging", NULL);
    chute_instance_view mv;
    assert_int_equal(chute_engine_get_instance(f->e, pi, &mv, &f->err), 0);
    assert_int_equal(mv.state, CHUTE_INSTANCE_COMPLETED);
    json_t *mvars = json_loadb(mv.variables, mv.variables_len, 0, NULL);
    char *rl = json_dumps(json_object_get(mvars, "resultList"), JSON_COMPACT);
    assert_string_equal(rl, "[\"e3\",\"e1\",\"e2\"]");
    free(rl);
    json_decref(mvars);
    /* The rocket launch: a business rule task asks the decision table of
     * plot-destination.dmn, beside scripts, a timer and a parallel
     * gateway; the mission result is what Zeebe computes for each fuel
     * level. */
    deploy_file(f, "plot-destination.dmn");
    deploy_file(f, "rocket-launch.bpmn");
    static const struct {
        int fuel;
        const char *result;
    } launches[] = {
        {95, "Crew Apollo reached Venus! Fuel: 70%. Experiments: 5"},
        {80, "Crew Apollo reached Mars! Fuel: 55%. Experiments: 5"},
        {60, "Crew Apollo reached Moon! Fuel: 35%. Experiments: 3"},
        {30, "Mission Apollo scrubbed \xe2\x80\x94 not enough fuel (30%)"},
    };
    for (size_t k = 0; k < sizeof launches / sizeof *launches; k++) {
        char vars[128];
        snprintf(vars, sizeof vars, "{\"fuelLevel\":%d,\"missionName\":\"Apollo\"}",
                 launches[k].fuel);
        pi = start_instance(f, "rocket-launch", vars);
        drive(f, pi, "{}", NULL, NULL, 5000); /* the countdown timer fires as the clock moves */
        chute_instance_view rv;
        assert_int_equal(chute_engine_get_instance(f->e, pi, &rv, &f->err), 0);
        assert_int_equal(rv.state, CHUTE_INSTANCE_COMPLETED);
        json_t *rvars = json_loadb(rv.variables, rv.variables_len, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(rvars, "missionResult")),
                            launches[k].result);
        json_decref(rvars);
    }
    /* enforcing-sla: a non-interrupting timer event sub-process (every two
     * days) escalates while the inquiry waits; the answer then races a
     * one-day timer against the reply message. */
    deploy_file(f, "enforcing-sla.bpmn");
    pi = start_instance(f, "template-enforcing-sla-1ktq8my", "{\"key\":\"case-1\"}");
    f->now += 2 * 86400000LL;
    chute_engine_tick(f->e);
    work_one(f, "io.camunda:http-json:1", "{}"); /* the escalation email */
    assert_int_equal(chute_engine_get_instance(f->e, pi, &mv, &f->err), 0);
    assert_int_equal(mv.state, CHUTE_INSTANCE_ACTIVE); /* the inquiry still waits */
    drive(f, pi, "{}", NULL, NULL, 3600000);
    /* error-handling: an error thrown anywhere is caught by the error
     * event sub-process, which ends the instance its own way. */
    deploy_file(f, "error-handling.bpmn");
    pi = start_instance(f, "template-error-handling-1s16sgi", NULL);
    assert_true(drive(f, pi, "{}", NULL, NULL, 1000) >= 4);
    pi = start_instance(f, "template-error-handling-1s16sgi", NULL);
    drive(f, pi, "{}", "VerityData", "ProblemProcessingData", 1000);
    int esps = 0;
    assert_int_equal(chute_engine_list_elements(f->e, pi, count_esp, &esps, &f->err), 0);
    assert_int_equal(esps, 1); /* the event sub-process ran */
    /* User tasks, job-based and native, beside error boundaries. */
    deploy_file(f, "rollback-process.bpmn");
    pi = start_instance(f, "RollbackOnErrorProcess",
                        "{\"validateDataType\":\"validate\",\"saveDataType\":\"save\"}");
    assert_true(drive(f, pi, "{}", NULL, NULL, 1000) >= 3);
    deploy_file(f, "twitter.bpmn");
    pi = start_instance(f, "TwitterDemoProcess", "{\"tweet\":\"hello\"}");
    assert_true(drive(f, pi, "{\"approved\":true}", NULL, NULL, 1000) >= 2);
    pi = start_instance(f, "TwitterDemoProcess", "{\"tweet\":\"hello\"}");
    assert_true(drive(f, pi, "{\"approved\":true}", "publish-tweet", "duplicateMessage", 1000) >= 3);
    deploy_file(f, "payment-process.bpmn");
    pi = start_instance(f, "paymentProcess", "{\"orderTotal\":10,\"customerCredit\":0}");
    assert_true(drive(f, pi, "{\"remainingAmount\":0,\"errorResolved\":true}", NULL, NULL,
                      1000) >= 1);
    /* A charge that fails with the card error takes the error boundary to
     * the user task that resolves it. */
    pi = start_instance(f, "paymentProcess", "{\"orderTotal\":10,\"customerCredit\":0}");
    assert_true(drive(f, pi, "{\"remainingAmount\":10,\"errorResolved\":true}",
                      "creditCardCharging", "creditCardError", 1000) >= 2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BPMN_CORPUS_DIR [REPORT.md]\n", argv[0]);
        return 1;
    }
    corpus_dir = argv[1];
    report_path = argc > 2 ? argv[2] : NULL;
    DIR *dir = opendir(corpus_dir);
    if (!dir) {
        fprintf(stderr,
                "\n*** test_engine_corpus: THE BPMN CORPUS IS MISSING: cannot open %s ***\n"
                "*** (../shared/bpmn-corpus next to the checkout; this is a failure, not a "
                "skip) ***\n\n",
                corpus_dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    closedir(dir);
    const struct CMUnitTest tests[] = {
        FX_TEST(test_corpus),
        FX_TEST(test_corpus_models_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
