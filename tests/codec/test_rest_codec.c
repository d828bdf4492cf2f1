/*
 * Unit tests of the REST codec (src/codec/rest.c): JSON bodies into engine
 * structs, views into JSON, problem+json, keys and query strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rest.h"

static json_t *parse(const char *s, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("not JSON (%s): %.*s", e.text, (int)n, s);
    return j;
}

/* ---- buffer ------------------------------------------------------------------ */

static void test_buf_escapes_and_bounds(void **state)
{
    (void)state;
    rest_buf b;
    rest_buf_init(&b, 0);
    const char raw[] = "a\"b\\c\n\x01\x1f\t";
    rest_buf_json_string(&b, raw, sizeof raw - 1);
    char *out;
    size_t len;
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "\"a\\\"b\\\\c\\n\\u0001\\u001f\\t\"");
    json_t *j = parse(out, len);
    assert_string_equal(json_string_value(j), raw);
    json_decref(j);
    free(out);

    rest_buf_init(&b, 8);
    rest_buf_puts(&b, "12345678");
    rest_buf_puts(&b, "9");
    assert_int_equal(b.failed, CHUTE_ETOOBIG);
    assert_int_equal(rest_buf_finish(&b, &out, &len), CHUTE_ETOOBIG);

    rest_buf_init(&b, 0);
    rest_buf_printf(&b, "%0300d|", 7); /* longer than printf's small buffer */
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_int_equal(len, 301);
    assert_int_equal(out[300], '|');
    free(out);
}

/* ---- errors --------------------------------------------------------------------- */

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(rest_http_status(CHUTE_EINVAL), 400);
    assert_int_equal(rest_http_status(CHUTE_ENOTFOUND), 404);
    assert_int_equal(rest_http_status(CHUTE_ESTATE), 409);
    assert_int_equal(rest_http_status(CHUTE_ETOOBIG), 413);
    assert_int_equal(rest_http_status(CHUTE_EBUSY), 503);
    assert_int_equal(rest_http_status(CHUTE_ESTORE), 503);
    assert_int_equal(rest_http_status(CHUTE_EINTERNAL), 500);
    assert_string_equal(rest_problem_title(CHUTE_ENOTFOUND), "NOT_FOUND");
    assert_string_equal(rest_problem_title(CHUTE_ESTATE), "INVALID_STATE");
    assert_string_equal(rest_problem_title(CHUTE_EBUSY), "RESOURCE_EXHAUSTED");
    assert_string_equal(rest_reason(404), "Not Found");
}

static void test_problem_json(void **state)
{
    (void)state;
    char *out;
    size_t len;
    assert_int_equal(
        rest_problem(404, "NOT_FOUND", "no \"such\" job", "/v2/jobs/1/completion", &out, &len), 0);
    json_t *j = parse(out, len);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "about:blank");
    assert_string_equal(json_string_value(json_object_get(j, "title")), "NOT_FOUND");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "no \"such\" job");
    assert_string_equal(json_string_value(json_object_get(j, "instance")), "/v2/jobs/1/completion");
    json_decref(j);
    free(out);
    /* NULL title: the reason phrase. */
    assert_int_equal(rest_problem(413, NULL, NULL, NULL, &out, &len), 0);
    j = parse(out, len);
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Content Too Large");
    json_decref(j);
    free(out);
}

/* ---- keys and queries -------------------------------------------------------------- */

static void test_parse_key(void **state)
{
    (void)state;
    int64_t k;
    chute_error err;
    assert_int_equal(rest_parse_key("2251799813685249", 16, "jobKey", &k, &err), 0);
    assert_true(k == 2251799813685249LL);
    assert_int_equal(rest_parse_key("9223372036854775807", 19, "jobKey", &k, &err), 0);
    assert_true(k == INT64_MAX);
    assert_int_equal(rest_parse_key("9223372036854775808", 19, "jobKey", &k, &err), CHUTE_EINVAL);
    assert_int_equal(rest_parse_key("0", 1, "jobKey", &k, &err), CHUTE_EINVAL);
    assert_int_equal(rest_parse_key("", 0, "jobKey", &k, &err), CHUTE_EINVAL);
    assert_int_equal(rest_parse_key("-1", 2, "jobKey", &k, &err), CHUTE_EINVAL);
    assert_int_equal(rest_parse_key("12a", 3, "jobKey", &k, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "jobKey"));
    assert_non_null(strstr(err.message, "'12a'"));
    assert_int_equal(rest_parse_key("99999999999999999999", 20, "key", &k, &err), CHUTE_EINVAL);
}

static void test_query(void **state)
{
    (void)state;
    char v[16];
    chute_error err;
    assert_int_equal(rest_query_get("type=a%20b&state=X&size=", "type", v, sizeof v, &err), 1);
    assert_string_equal(v, "a b");
    assert_int_equal(rest_query_get("type=a+b", "type", v, sizeof v, &err), 1);
    assert_string_equal(v, "a b");
    assert_int_equal(rest_query_get("type=a&state=X", "state", v, sizeof v, &err), 1);
    assert_string_equal(v, "X");
    assert_int_equal(rest_query_get("types=a", "type", v, sizeof v, &err), 0);
    assert_int_equal(rest_query_get("", "type", v, sizeof v, &err), 0);
    assert_int_equal(rest_query_get("size=", "size", v, sizeof v, &err), 1);
    assert_string_equal(v, "");
    assert_int_equal(rest_query_get("flag", "flag", v, sizeof v, &err), 1);
    assert_int_equal(rest_query_get("type=%zz", "type", v, sizeof v, &err), CHUTE_EINVAL);
    assert_int_equal(rest_query_get("type=%4", "type", v, sizeof v, &err), CHUTE_EINVAL);
    assert_int_equal(rest_query_get("type=%00", "type", v, sizeof v, &err), CHUTE_EINVAL);
    assert_int_equal(rest_query_get("type=0123456789abcdefXYZ", "type", v, sizeof v, &err),
                     CHUTE_EINVAL);
}

/* ---- decoding -------------------------------------------------------------------------- */

#define S(x) x, strlen(x)

static void test_decode_activate(void **state)
{
    (void)state;
    command a;
    chute_error err;
    assert_int_equal(rest_decode_activate(S("{\"type\":\"pay\",\"worker\":\"w1\",\"timeout\":30000,"
                                            "\"maxJobsToActivate\":5,\"fetchVariable\":[\"a\","
                                            "\"b\"],\"requestTimeout\":-1,\"tenantIds\":["
                                            "\"<default>\"],\"unknown\":true}"),
                                          &a, &err),
                     0);
    assert_string_equal(a.req.type, "pay");
    assert_string_equal(a.req.worker, "w1");
    assert_true(a.req.timeout_ms == 30000);
    assert_int_equal(a.req.max_jobs, 5);
    assert_int_equal(a.req.fetch_variables_count, 2);
    assert_string_equal(a.req.fetch_variables[1], "b");
    assert_true(a.request_timeout_ms == -1);
    command_free(&a);

    /* Missing fields are zero / "": the engine rejects them with its own words. */
    assert_int_equal(rest_decode_activate(S("{}"), &a, &err), 0);
    assert_string_equal(a.req.type, "");
    assert_true(a.req.timeout_ms == 0 && a.req.max_jobs == 0 && a.request_timeout_ms == 0);
    command_free(&a);

    /* int64 written as a string (lossless clients) is taken. */
    assert_int_equal(rest_decode_activate(S("{\"type\":\"t\",\"timeout\":\"60000\"}"), &a, &err),
                     0);
    assert_true(a.req.timeout_ms == 60000);
    command_free(&a);

    static const char *bad[] = {
        "",
        "[]",
        "7",
        "{\"type\":1}",
        "{\"type\":\"t\",\"timeout\":1.5}",
        "{\"type\":\"t\",\"timeout\":\"12x\"}",
        "{\"type\":\"t\",\"maxJobsToActivate\":3000000000}",
        "{\"type\":\"t\",\"fetchVariable\":\"a\"}",
        "{\"type\":\"t\",\"fetchVariable\":[1]}",
        "{\"type\":\"t\",\"tenantIds\":[\"acme\"]}",
        "{\"type\":\"t\",\"tenantIds\":[\"<default>\",\"<default>\"]}",
        "{\"type\":\"t\",\"type\":\"u\"}",
        "{\"type\":\"t\"",
        "{\"type\":\"a\\u0000b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        int rc = rest_decode_activate(S(bad[i]), &a, &err);
        if (rc != CHUTE_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err.message[0] != '\0');
        assert_null(a.doc);
    }
}

static void test_decode_commands(void **state)
{
    (void)state;
    command c;
    chute_error err;
    /* A NUL character inside variables is JSON like any other, as over
     * gRPC; in a string that names something it is refused. */
    assert_int_equal(rest_decode_completion(S("{\"variables\":{\"s\":\"a\\u0000b\"}}"), &c, &err),
                     0);
    assert_string_equal(c.variables, "{\"s\":\"a\\u0000b\"}");
    command_free(&c);
    assert_int_equal(rest_decode_error(S("{\"errorCode\":\"E\\u0000x\"}"), &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected errorCode to contain no NUL character");
    /* Completion: empty body and {} are fine; variables become text. */
    assert_int_equal(rest_decode_completion(S(""), &c, &err), 0);
    assert_null(c.variables);
    command_free(&c);
    assert_int_equal(rest_decode_completion(S("{\"variables\":{\"x\":[1,2],\"big\":"
                                              "9007199254740993}}"),
                                            &c, &err),
                     0);
    assert_string_equal(c.variables, "{\"x\":[1,2],\"big\":9007199254740993}");
    command_free(&c);
    assert_int_equal(rest_decode_completion(S("{\"variables\":null}"), &c, &err), 0);
    assert_null(c.variables);
    command_free(&c);
    /* A non-object goes on as text: the engine says it is not an object. */
    assert_int_equal(rest_decode_completion(S("{\"variables\":[1]}"), &c, &err), 0);
    assert_string_equal(c.variables, "[1]");
    command_free(&c);
    assert_int_equal(rest_decode_completion(S("{\"variables\":"), &c, &err), CHUTE_EINVAL);
    assert_int_equal(rest_decode_completion(S("[]"), &c, &err), CHUTE_EINVAL);

    assert_int_equal(rest_decode_failure(S("{\"retries\":2,\"errorMessage\":\"boom\","
                                           "\"retryBackOff\":1500}"),
                                         &c, &err),
                     0);
    assert_int_equal(c.retries, 2);
    assert_true(c.backoff_ms == 1500);
    assert_string_equal(c.error_message, "boom");
    command_free(&c);
    assert_int_equal(rest_decode_failure(S("{}"), &c, &err), 0);
    assert_int_equal(c.retries, 0); /* Camunda's default */
    assert_string_equal(c.error_message, "");
    command_free(&c);
    assert_int_equal(rest_decode_failure(S("{\"retries\":true}"), &c, &err), CHUTE_EINVAL);
    assert_int_equal(rest_decode_failure(S("{\"errorMessage\":5}"), &c, &err), CHUTE_EINVAL);

    assert_int_equal(rest_decode_error(S("{\"errorCode\":\"E1\",\"errorMessage\":\"m\","
                                         "\"variables\":{}}"),
                                       &c, &err),
                     0);
    assert_string_equal(c.error_code, "E1");
    assert_string_equal(c.variables, "{}");
    command_free(&c);

    assert_int_equal(rest_decode_job_update(S("{\"changeset\":{\"retries\":3}}"), &c, &err), 0);
    assert_true(c.has_retries && !c.has_timeout && c.retries == 3);
    command_free(&c);
    assert_int_equal(rest_decode_job_update(S("{\"changeset\":{\"timeout\":5000,\"retries\":"
                                              "null}}"),
                                            &c, &err),
                     0);
    assert_true(!c.has_retries && c.has_timeout && c.timeout_ms == 5000);
    command_free(&c);
    assert_int_equal(rest_decode_job_update(S("{\"changeset\":{}}"), &c, &err), CHUTE_EINVAL);
    assert_int_equal(rest_decode_job_update(S("{\"retries\":1}"), &c, &err), CHUTE_EINVAL);
    assert_int_equal(rest_decode_job_update(S("{\"changeset\":[]}"), &c, &err), CHUTE_EINVAL);
}

static void test_decode_create(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(rest_decode_create(S("{\"type\":\"t\",\"variables\":{\"a\":1},"
                                          "\"customHeaders\":{\"h\":\"v\"},\"retries\":5,"
                                          "\"priority\":-2,\"delay\":100}"),
                                        &c, &err),
                     0);
    assert_int_equal(c.count, 1);
    assert_false(c.is_array);
    assert_string_equal(c.specs[0].type, "t");
    assert_string_equal(c.specs[0].variables, "{\"a\":1}");
    assert_string_equal(c.specs[0].headers, "{\"h\":\"v\"}");
    assert_int_equal(c.specs[0].retries, 5);
    assert_int_equal(c.specs[0].priority, -2);
    assert_true(c.specs[0].delay_ms == 100);
    command_free(&c);

    assert_int_equal(rest_decode_create(S("[{\"type\":\"a\"},{\"type\":\"b\",\"variables\":"
                                          "{}}]"),
                                        &c, &err),
                     0);
    assert_int_equal(c.count, 2);
    assert_true(c.is_array);
    assert_null(c.specs[0].variables);
    assert_string_equal(c.specs[1].type, "b");
    command_free(&c);

    assert_int_equal(rest_decode_create(S("[]"), &c, &err), 0);
    assert_int_equal(c.count, 0);
    command_free(&c);

    assert_int_equal(rest_decode_create(S("[{\"type\":\"a\"},5]"), &c, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "job 1 of the batch"));
    assert_int_equal(rest_decode_create(S("{\"type\":\"a\",\"retries\":1e3}"), &c, &err), 0);
    assert_int_equal(c.specs[0].retries, 1000);
    command_free(&c);
    assert_int_equal(rest_decode_create(S(""), &c, &err), CHUTE_EINVAL);
    assert_int_equal(rest_decode_create(S("\"x\""), &c, &err), CHUTE_EINVAL);

    /* More than the bound is refused before any spec is built. */
    size_t n = REST_MAX_CREATE_JOBS + 1;
    char *body = malloc(n * 3 + 2);
    size_t k = 0;
    body[k++] = '[';
    for (size_t i = 0; i < n; i++) {
        body[k++] = '{';
        body[k++] = '}';
        body[k++] = i + 1 < n ? ',' : ']';
    }
    assert_int_equal(rest_decode_create(body, k, &c, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "at most"));
    free(body);
}

/* ---- encoding -------------------------------------------------------------------------- */

static chute_job_view sample_view(void)
{
    chute_job_view v;
    memset(&v, 0, sizeof v);
    v.key = 2251799813685249LL;
    v.type = "pay \"now\"";
    v.state = CHUTE_JOB_ACTIVATED;
    v.retries = 3;
    v.deadline = 1700000000000LL;
    v.created_at = 1690000000000LL;
    v.worker = "w";
    v.headers = "{\"h\":\"v\"}";
    v.headers_len = strlen(v.headers);
    v.variables = "{\"n\":9007199254740993}";
    v.variables_len = strlen(v.variables);
    v.error_code = "";
    v.error_message = "";
    return v;
}

static void test_encode_activated_job(void **state)
{
    (void)state;
    chute_job_view v = sample_view();
    rest_buf b;
    rest_buf_init(&b, 0);
    rest_encode_activated_job(&b, &v);
    char *out;
    size_t len;
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    /* Variables are copied as they are: the large integer stays exact. */
    assert_non_null(strstr(out, "\"variables\":{\"n\":9007199254740993}"));
    json_t *j = parse(out, len);
    assert_string_equal(json_string_value(json_object_get(j, "jobKey")), "2251799813685249");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "pay \"now\"");
    assert_string_equal(json_string_value(json_object_get(j, "processInstanceKey")), "0");
    assert_string_equal(json_string_value(json_object_get(j, "tenantId")), "<default>");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "BPMN_ELEMENT");
    assert_true(json_integer_value(json_object_get(j, "deadline")) == 1700000000000LL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "customHeaders"), "h")), "v");
    assert_true(len <= v.variables_len + v.headers_len + rest_activated_job_overhead(&v));
    json_decref(j);
    free(out);

    /* Empty documents are {}. */
    v.variables = "";
    v.variables_len = 0;
    v.headers = "  ";
    v.headers_len = 2;
    rest_buf_init(&b, 0);
    rest_encode_activated_job(&b, &v);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    j = parse(out, len);
    assert_true(json_is_object(json_object_get(j, "variables")));
    assert_true(json_is_object(json_object_get(j, "customHeaders")));
    json_decref(j);
    free(out);
}

static void test_encode_job_incident_types_topology(void **state)
{
    (void)state;
    chute_job_view v = sample_view();
    v.state = CHUTE_JOB_INCIDENT;
    v.incident_key = 2251799813685300LL;
    v.incident_type = CHUTE_INCIDENT_JOB_NO_RETRIES;
    v.error_message = "line\nbreak";
    rest_buf b;
    rest_buf_init(&b, 0);
    rest_buf_puts(&b, "[");
    rest_encode_job(&b, &v);
    rest_buf_puts(&b, ",");
    chute_incident_view iv = {.key = v.incident_key,
                              .type = v.incident_type,
                              .message = v.error_message,
                              .created_at = 1000,
                              .job_key = v.key,
                              .bpmn_process_id = "",
                              .element_id = ""};
    rest_encode_incident(&b, &iv, &v);
    rest_buf_puts(&b, ",");
    /* an incident of a process element, without a job */
    chute_incident_view ev = {.key = 7,
                              .type = CHUTE_INCIDENT_CONDITION_ERROR,
                              .message = "no flow",
                              .process_instance_key = 5,
                              .process_definition_key = 4,
                              .bpmn_process_id = "order",
                              .element_id = "gw",
                              .element_instance_key = 6};
    rest_encode_incident(&b, &ev, NULL);
    rest_buf_puts(&b, ",");
    chute_type_stats s = {
        .type = "t", .activatable = 2, .oldest_activatable_since = 1000, .created_total = 7};
    rest_encode_type_stats(&b, &s, 3500);
    rest_buf_puts(&b, ",");
    rest_encode_topology(&b, "127.0.0.1", 26500);
    rest_buf_puts(&b, "]");
    char *out;
    size_t len;
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    json_t *j = parse(out, len);
    json_t *job = json_array_get(j, 0), *inc = json_array_get(j, 1), *einc = json_array_get(j, 2),
           *ty = json_array_get(j, 3), *top = json_array_get(j, 4);
    assert_string_equal(json_string_value(json_object_get(job, "key")), "2251799813685249");
    assert_string_equal(json_string_value(json_object_get(job, "state")), "INCIDENT");
    assert_string_equal(json_string_value(json_object_get(job, "incidentKey")), "2251799813685300");
    assert_string_equal(json_string_value(json_object_get(job, "errorMessage")), "line\nbreak");
    assert_string_equal(json_string_value(json_object_get(inc, "type")), "JOB_NO_RETRIES");
    assert_string_equal(json_string_value(json_object_get(inc, "jobKey")), "2251799813685249");
    assert_string_equal(json_string_value(json_object_get(inc, "jobType")), v.type);
    assert_string_equal(json_string_value(json_object_get(inc, "state")), "ACTIVE");
    assert_null(json_object_get(inc, "processInstanceKey"));
    assert_string_equal(json_string_value(json_object_get(einc, "type")), "CONDITION_ERROR");
    assert_string_equal(json_string_value(json_object_get(einc, "elementId")), "gw");
    assert_string_equal(json_string_value(json_object_get(einc, "processInstanceKey")), "5");
    assert_string_equal(json_string_value(json_object_get(einc, "processDefinitionId")), "order");
    assert_null(json_object_get(einc, "jobKey"));
    assert_null(json_object_get(einc, "jobType"));
    assert_int_equal(json_integer_value(json_object_get(ty, "oldestActivatableAgeMs")), 2500);
    assert_int_equal(json_integer_value(json_object_get(ty, "createdTotal")), 7);
    assert_int_equal(json_integer_value(json_object_get(top, "clusterSize")), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(top, "brokers"), 0), "port")),
                     26500);
    json_decref(j);
    free(out);
}

/* ---- process instances ---------------------------------------------------------- */

static void expect_einval(int (*fn)(const char *, size_t, command *, chute_error *),
                          const char *body, const char *want)
{
    command c;
    chute_error err;
    memset(&err, 0, sizeof err);
    if (fn(S(body), &c, &err) != CHUTE_EINVAL)
        fail_msg("accepted: %s", body);
    assert_null(c.doc);
    if (want && !strstr(err.message, want))
        fail_msg("for %s: expected \"%s\" in \"%s\"", body, want, err.message);
}

static void test_decode_create_instance(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(rest_decode_create_instance(
                         S("{\"processDefinitionId\":\"order\",\"processDefinitionVersion\":3,"
                           "\"variables\":{\"a\":[1,2]},\"tenantId\":\"<default>\","
                           "\"operationReference\":7,\"startInstructions\":[{\"elementId\":\"s\"}],"
                           "\"awaitCompletion\":true,\"fetchVariables\":[\"a\"],"
                           "\"requestTimeout\":2500}"),
                         &c, &err),
                     0);
    assert_int_equal(c.kind, COMMAND_CREATE_INSTANCE);
    assert_string_equal(c.bpmn_process_id, "order");
    assert_int_equal(c.version, 3);
    assert_int_equal(c.process_definition_key, 0);
    assert_string_equal(c.variables, "{\"a\":[1,2]}");
    assert_int_equal(c.variables_len, 11);
    assert_int_equal(c.start_instructions, 1);
    assert_true(c.await);
    assert_int_equal(c.nfetch, 1);
    assert_string_equal(c.fetch_names[0], "a");
    assert_true(c.request_timeout_ms == 2500);
    command_free(&c);
    /* By key (a string, as Camunda writes keys); no version is the latest;
     * an empty body is an empty request (the command layer's rule answers
     * it). */
    assert_int_equal(
        rest_decode_create_instance(S("{\"processDefinitionKey\":\"2251799813685249\"}"), &c, &err),
        0);
    assert_true(c.process_definition_key == 2251799813685249);
    assert_string_equal(c.bpmn_process_id, "");
    assert_int_equal(c.version, -1);
    assert_string_equal(c.variables, "");
    assert_false(c.await);
    command_free(&c);
    assert_int_equal(rest_decode_create_instance(S(""), &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_CREATE_INSTANCE);
    command_free(&c);
    /* Variables are handed on whatever their type: the engine refuses a
     * non-object in its own words. */
    assert_int_equal(rest_decode_create_instance(S("{\"processDefinitionId\":\"o\","
                                                   "\"variables\":[1]}"),
                                                 &c, &err),
                     0);
    assert_string_equal(c.variables, "[1]");
    command_free(&c);

    expect_einval(rest_decode_create_instance, "[]", "JSON object");
    expect_einval(rest_decode_create_instance, "{\"processDefinitionId\":5}",
                  "Expected processDefinitionId to be a string, but got a number");
    expect_einval(rest_decode_create_instance, "{\"processDefinitionVersion\":\"x\"}",
                  "processDefinitionVersion");
    expect_einval(rest_decode_create_instance, "{\"processDefinitionKey\":\"12ab\"}",
                  "processDefinitionKey");
    expect_einval(rest_decode_create_instance, "{\"tenantId\":\"acme\"}",
                  "with tenant identifier 'acme', but multi-tenancy is disabled");
    expect_einval(rest_decode_create_instance, "{\"startInstructions\":{}}",
                  "Expected startInstructions to be an array, but got an object");
    expect_einval(rest_decode_create_instance, "{\"awaitCompletion\":\"yes\"}",
                  "Expected awaitCompletion to be a boolean, but got a string");
    expect_einval(rest_decode_create_instance, "{\"fetchVariables\":[1]}",
                  "Expected fetchVariables[0] to be a string, but got a number");
    expect_einval(rest_decode_create_instance, "{\"requestTimeout\":1.5}", "requestTimeout");
}

static void test_decode_set_variables(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(
        rest_decode_set_variables(S("{\"variables\":{\"x\":1},\"local\":true}"), &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_SET_VARIABLES);
    assert_string_equal(c.variables, "{\"x\":1}");
    assert_true(c.local);
    command_free(&c);
    assert_int_equal(rest_decode_set_variables(S("{}"), &c, &err), 0);
    assert_string_equal(c.variables, "");
    assert_false(c.local);
    command_free(&c);
    expect_einval(rest_decode_set_variables, "{\"variables\":{},\"local\":1}",
                  "Expected local to be a boolean, but got a number");
}

static void test_decode_modification(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(
        rest_decode_modification(
            S("{\"operationReference\":3,\"activateInstructions\":[{\"elementId\":\"b\","
              "\"variableInstructions\":[{\"variables\":{\"y\":2}},{\"variables\":{\"z\":[1]},"
              "\"scopeId\":\"\"}]},{\"elementId\":\"c\",\"ancestorElementInstanceKey\":"
              "\"2251799813685260\"},{\"elementId\":\"d\",\"ancestorElementInstanceKey\":-1}],"
              "\"terminateInstructions\":[{\"elementInstanceKey\":\"2251799813685255\"},"
              "{\"elementInstanceKey\":7}]}"),
            &c, &err),
        0);
    assert_int_equal(c.kind, COMMAND_MODIFY_INSTANCE);
    assert_int_equal(c.nactivate, 3);
    assert_string_equal(c.activate[0].element_id, "b");
    assert_int_equal(c.activate[0].ancestor_key, -1); /* not sent */
    assert_int_equal(c.activate[0].nvars, 2);
    assert_string_equal(c.activate[0].vars[0].variables, "{\"y\":2}");
    assert_string_equal(c.activate[0].vars[0].scope_id, "");
    assert_string_equal(c.activate[0].vars[1].variables, "{\"z\":[1]}");
    assert_int_equal(c.activate[1].ancestor_key, 2251799813685260);
    assert_int_equal(c.activate[1].nvars, 0);
    assert_int_equal(c.activate[2].ancestor_key, -1);
    assert_int_equal(c.nterminate, 2);
    assert_int_equal(c.terminate[0], 2251799813685255);
    assert_int_equal(c.terminate[1], 7);
    command_free(&c);
    /* An empty body is an empty modification. */
    assert_int_equal(rest_decode_modification(S(""), &c, &err), 0);
    assert_int_equal(c.nactivate, 0);
    command_free(&c);
    expect_einval(rest_decode_modification, "{\"activateInstructions\":{}}",
                  "Expected activateInstructions to be an array, but got an object");
    expect_einval(rest_decode_modification, "{\"activateInstructions\":[3]}",
                  "Expected activateInstructions[0] to be an object, but got a number");
    expect_einval(rest_decode_modification, "{\"activateInstructions\":[{\"elementId\":5}]}",
                  "Expected elementId to be a string");
    expect_einval(rest_decode_modification,
                  "{\"activateInstructions\":[{\"elementId\":\"b\","
                  "\"ancestorElementInstanceKey\":\"x\"}]}",
                  "Expected ancestorElementInstanceKey to be an integer");
    expect_einval(rest_decode_modification, "{\"terminateInstructions\":[{\"elementId\":\"a\"}]}",
                  "it names an elementId: Chute terminates element instances by key");
    expect_einval(
        rest_decode_modification, "{\"terminateInstructions\":[{}]}",
        "Expected terminateInstructions[0] to name an elementInstanceKey, but it has none");
    expect_einval(rest_decode_modification,
                  "{\"terminateInstructions\":[{\"elementInstanceKey\":0}]}",
                  "Expected elementInstanceKey to be between 1");
    expect_einval(rest_decode_modification, "{\"moveInstructions\":[{\"targetElementId\":\"b\"}]}",
                  "got 1 moveInstructions: Chute does not run them");
    /* Bounded: at most 1000 of a list. */
    size_t cap = 64 + 1001 * 3;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t w = (size_t)snprintf(big, cap, "{\"terminateInstructions\":[");
    for (int i = 0; i < 1001; i++)
        w += (size_t)snprintf(big + w, cap - w, "%s{}", i ? "," : "");
    snprintf(big + w, cap - w, "]}");
    expect_einval(rest_decode_modification, big, "Expected at most 1000 terminateInstructions");
    free(big);
}

static void test_decode_migration_and_signal(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(
        rest_decode_migration(S("{\"targetProcessDefinitionKey\":\"2251799813685300\","
                                "\"mappingInstructions\":[{\"sourceElementId\":\"a\","
                                "\"targetElementId\":\"x\"}],\"operationReference\":1}"),
                              &c, &err),
        0);
    assert_int_equal(c.kind, COMMAND_MIGRATE_INSTANCE);
    assert_int_equal(c.process_definition_key, 2251799813685300);
    assert_int_equal(c.nmappings, 1);
    assert_string_equal(c.mappings[0].source_element_id, "a");
    assert_string_equal(c.mappings[0].target_element_id, "x");
    command_free(&c);
    /* No target: left to the command layer's rule. */
    assert_int_equal(rest_decode_migration(S("{}"), &c, &err), 0);
    assert_int_equal(c.process_definition_key, 0);
    assert_int_equal(c.nmappings, 0);
    command_free(&c);
    expect_einval(rest_decode_migration, "{\"targetProcessDefinitionKey\":true}",
                  "Expected targetProcessDefinitionKey to be an integer");
    expect_einval(rest_decode_migration,
                  "{\"targetProcessDefinitionKey\":1,\"mappingInstructions\":[{"
                  "\"sourceElementId\":1}]}",
                  "Expected sourceElementId to be a string");
    expect_einval(rest_decode_migration, "[1]", "to be a JSON object");

    assert_int_equal(rest_decode_signal(S("{\"signalName\":\"stop\",\"variables\":{}}"), &c, &err),
                     0);
    assert_int_equal(c.kind, COMMAND_BROADCAST_SIGNAL);
    assert_string_equal(c.signal_name, "stop");
    command_free(&c);
    assert_int_equal(rest_decode_signal(S(""), &c, &err), 0);
    assert_string_equal(c.signal_name, "");
    command_free(&c);
    expect_einval(rest_decode_signal, "{\"signalName\":[]}", "Expected signalName to be a string");
}

static void test_decode_messages(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(rest_decode_publish_message(
                         S("{\"name\":\"paid\",\"correlationKey\":\"order-7\",\"timeToLive\":"
                           "60000,\"messageId\":\"m-1\",\"variables\":{\"amount\":5},"
                           "\"tenantId\":\"<default>\",\"unknown\":1}"),
                         &c, &err),
                     0);
    assert_int_equal(c.kind, COMMAND_PUBLISH_MESSAGE);
    assert_string_equal(c.message_name, "paid");
    assert_string_equal(c.correlation_key, "order-7");
    assert_int_equal(c.ttl_ms, 60000);
    assert_string_equal(c.message_id, "m-1");
    assert_string_equal(c.variables, "{\"amount\":5}");
    command_free(&c);
    /* A time to live as a string of digits, as int64 values may come. */
    assert_int_equal(
        rest_decode_publish_message(S("{\"name\":\"paid\",\"timeToLive\":\"5\"}"), &c, &err), 0);
    assert_int_equal(c.ttl_ms, 5);
    assert_string_equal(c.correlation_key, "");
    assert_string_equal(c.message_id, "");
    assert_null(c.variables);
    command_free(&c);
    /* Blank names, negative times to live and non-object variables are the
     * engine's; the decoder only checks JSON types. */
    assert_int_equal(
        rest_decode_publish_message(S("{\"timeToLive\":-1,\"variables\":[1]}"), &c, &err), 0);
    assert_string_equal(c.message_name, "");
    assert_int_equal(c.ttl_ms, -1);
    assert_string_equal(c.variables, "[1]");
    command_free(&c);
    expect_einval(rest_decode_publish_message, "{\"name\":1}",
                  "Expected name to be a string, but got a number");
    expect_einval(rest_decode_publish_message, "{\"name\":\"a\",\"correlationKey\":7}",
                  "Expected correlationKey to be a string, but got a number");
    expect_einval(rest_decode_publish_message, "{\"name\":\"a\",\"timeToLive\":1.5}",
                  "Expected timeToLive to be an integer, but got a fraction");
    expect_einval(rest_decode_publish_message, "{\"name\":\"a\",\"messageId\":true}",
                  "Expected messageId to be a string, but got a boolean");
    expect_einval(rest_decode_publish_message, "{\"name\":\"a\",\"tenantId\":\"acme\"}",
                  "Expected to handle request Publish Message with tenant identifier 'acme', "
                  "but multi-tenancy is disabled");
    expect_einval(rest_decode_publish_message, "[]",
                  "Expected the request body to be a JSON object, but got an array");

    assert_int_equal(rest_decode_correlate_message(
                         S("{\"name\":\"paid\",\"correlationKey\":\"order-7\",\"variables\":{"
                           "\"a\":1},\"timeToLive\":9,\"messageId\":\"x\"}"),
                         &c, &err),
                     0);
    assert_int_equal(c.kind, COMMAND_CORRELATE_MESSAGE);
    assert_string_equal(c.message_name, "paid");
    assert_string_equal(c.correlation_key, "order-7");
    assert_string_equal(c.variables, "{\"a\":1}");
    /* A correlation keeps nothing: no time to live, no id. */
    assert_int_equal(c.ttl_ms, 0);
    assert_string_equal(c.message_id, "");
    command_free(&c);
    expect_einval(rest_decode_correlate_message, "{\"name\":\"a\",\"tenantId\":\"acme\"}",
                  "Expected to handle request Correlate Message with tenant identifier 'acme', "
                  "but multi-tenancy is disabled");

    rest_buf b;
    char *out;
    size_t len;
    rest_buf_init(&b, 0);
    rest_encode_message(&b, 2251799813685260, 0, 0);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "{\"messageKey\":\"2251799813685260\",\"tenantId\":\"<default>\"}");
    free(out);
    rest_buf_init(&b, 0);
    rest_encode_message(&b, 2251799813685260, 1, 2251799813685255);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "{\"messageKey\":\"2251799813685260\",\"tenantId\":\"<default>\","
                             "\"processInstanceKey\":\"2251799813685255\"}");
    free(out);
}

static void test_decode_searches(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(
        rest_decode_search_instances(S("{\"filter\":{\"processInstanceKey\":\"2251799813685251\","
                                       "\"processDefinitionId\":{\"$eq\":\"order\"},"
                                       "\"processDefinitionKey\":9,\"processDefinitionVersion\":2,"
                                       "\"state\":\"ACTIVE\",\"hasIncident\":false,\"tenantId\":"
                                       "\"<default>\"},\"page\":{\"from\":20,\"limit\":5},"
                                       "\"sort\":[{\"field\":\"startDate\",\"order\":\"DESC\"}]}"),
                                     &c, &err),
        0);
    assert_int_equal(c.kind, COMMAND_SEARCH_INSTANCES);
    assert_true(c.search.process_instance_key == 2251799813685251);
    assert_string_equal(c.search.bpmn_process_id, "order");
    assert_int_equal(c.search.process_definition_key, 9);
    assert_true(c.search.has_version);
    assert_int_equal(c.search.version, 2);
    assert_int_equal(c.search.state, CHUTE_INSTANCE_ACTIVE);
    assert_int_equal(c.search.has_incident, -1);
    assert_false(c.search.no_match);
    assert_int_equal(c.search.from, 20);
    assert_int_equal(c.search.limit, 5);
    command_free(&c);
    /* Empty: everything, the first 100. A null filter value is no filter. */
    assert_int_equal(rest_decode_search_instances(S(""), &c, &err), 0);
    assert_int_equal(c.search.limit, REST_SEARCH_DEFAULT_LIMIT);
    assert_int_equal(c.search.from, 0);
    command_free(&c);
    assert_int_equal(rest_decode_search_instances(S("{\"filter\":{\"state\":null}}"), &c, &err), 0);
    assert_int_equal(c.search.state, 0);
    command_free(&c);
    /* Another tenant matches nothing. */
    assert_int_equal(
        rest_decode_search_variables(S("{\"filter\":{\"tenantId\":\"acme\"}}"), &c, &err), 0);
    assert_true(c.search.no_match);
    command_free(&c);

    assert_int_equal(rest_decode_search_elements(
                         S("{\"filter\":{\"processInstanceKey\":\"5\",\"type\":\"SERVICE_TASK\","
                           "\"elementId\":\"t\",\"elementInstanceScopeKey\":\"5\","
                           "\"hasIncident\":true,\"incidentKey\":\"8\",\"state\":\"COMPLETED\"}}"),
                         &c, &err),
                     0);
    assert_int_equal(c.kind, COMMAND_SEARCH_ELEMENTS);
    assert_string_equal(c.search.element_type, "SERVICE_TASK");
    assert_string_equal(c.search.element_id, "t");
    assert_int_equal(c.search.scope_key, 5);
    assert_int_equal(c.search.has_incident, 1);
    assert_int_equal(c.search.incident_key, 8);
    assert_int_equal(c.search.state, CHUTE_INSTANCE_COMPLETED);
    command_free(&c);
    assert_int_equal(rest_decode_search_variables(
                         S("{\"filter\":{\"processInstanceKey\":\"5\",\"scopeKey\":\"6\","
                           "\"name\":\"x\",\"variableKey\":\"7\"}}"),
                         &c, &err),
                     0);
    assert_int_equal(c.kind, COMMAND_SEARCH_VARIABLES);
    assert_int_equal(c.search.scope_key, 6);
    assert_string_equal(c.search.name, "x");
    assert_int_equal(c.search.variable_key, 7);
    command_free(&c);
    assert_int_equal(
        rest_decode_search_incidents(S("{\"filter\":{\"processInstanceKey\":\"5\",\"errorType\":"
                                       "\"JOB_NO_RETRIES\",\"state\":\"RESOLVED\",\"jobKey\":\"3\","
                                       "\"elementInstanceKey\":\"4\",\"incidentKey\":\"2\"}}"),
                                     &c, &err),
        0);
    assert_int_equal(c.kind, COMMAND_SEARCH_INCIDENTS);
    assert_string_equal(c.search.error_type, "JOB_NO_RETRIES");
    assert_int_equal(c.search.incident_state, 2);
    assert_int_equal(c.search.job_key, 3);
    assert_int_equal(c.search.element_instance_key, 4);
    assert_int_equal(c.search.incident_key, 2);
    command_free(&c);

    /* What a search does not read is refused, naming it and what is read. */
    expect_einval(rest_decode_search_instances, "{\"filter\":{\"startDate\":\"x\"}}",
                  "Expected the filter of process instances to use only processInstanceKey, "
                  "processDefinitionId, processDefinitionKey, processDefinitionVersion, state, "
                  "hasIncident, tenantId, but it uses 'startDate', which Chute does not support");
    expect_einval(rest_decode_search_variables, "{\"filter\":{\"value\":\"1\"}}", "'value'");
    expect_einval(rest_decode_search_instances, "{\"filter\":{\"state\":{\"$in\":[\"ACTIVE\"]}}}",
                  "Expected filter.state to be a value or {\"$eq\": value}, but it uses '$in'");
    expect_einval(rest_decode_search_instances, "{\"filter\":{\"state\":{}}}",
                  "is an empty object");
    expect_einval(rest_decode_search_instances, "{\"filter\":{\"state\":\"RUNNING\"}}",
                  "Expected filter.state to be ACTIVE, COMPLETED or TERMINATED, but got 'RUNNING'");
    expect_einval(rest_decode_search_incidents, "{\"filter\":{\"state\":\"PENDING\"}}",
                  "ACTIVE or RESOLVED");
    expect_einval(rest_decode_search_incidents, "{\"filter\":{\"errorType\":\"OOPS\"}}",
                  "Expected filter.errorType to be an incident type");
    expect_einval(rest_decode_search_instances, "{\"filter\":{\"processInstanceKey\":\"-3\"}}",
                  "filter.processInstanceKey");
    expect_einval(rest_decode_search_instances, "{\"filter\":{\"hasIncident\":\"yes\"}}",
                  "Expected filter.hasIncident to be a boolean");
    expect_einval(rest_decode_search_instances, "{\"filter\":[]}",
                  "Expected filter to be an object, but got an array");
    expect_einval(rest_decode_search_instances, "{\"page\":{\"limit\":0}}",
                  "Expected limit to be between 1 and 10000, but got 0");
    expect_einval(rest_decode_search_instances, "{\"page\":{\"limit\":10001}}", "limit");
    expect_einval(rest_decode_search_instances, "{\"page\":{\"from\":-1}}", "from");
    expect_einval(rest_decode_search_instances, "{\"page\":{\"after\":\"abc\"}}",
                  "Chute does not support cursors");
    expect_einval(rest_decode_search_instances, "{\"sort\":{}}", "Expected sort to be an array");
}

static void test_encode_process_views(void **state)
{
    (void)state;
    rest_buf b;
    char *out;
    size_t len;
    /* 2023-11-14T22:13:20.123Z */
    const int64_t t = INT64_C(1700000000123);
    chute_instance_view inst = {.key = 2251799813685253,
                                .process_definition_key = 2251799813685250,
                                .bpmn_process_id = "order",
                                .version = 2,
                                .state = CHUTE_INSTANCE_ACTIVE,
                                .started_at = t,
                                .variables = "{\"a\":1}",
                                .variables_len = 7};
    rest_buf_init(&b, 0);
    rest_encode_created_instance(&b, &inst, 0);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "{\"processDefinitionId\":\"order\",\"processDefinitionVersion\":2,"
                             "\"tenantId\":\"<default>\",\"variables\":{},"
                             "\"processDefinitionKey\":\"2251799813685250\","
                             "\"processInstanceKey\":\"2251799813685253\"}");
    free(out);
    rest_buf_init(&b, 0);
    rest_encode_created_instance(&b, &inst, 1);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    json_t *j = parse(out, len);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "variables"), "a")), 1);
    json_decref(j);
    free(out);

    rest_buf_init(&b, 0);
    rest_encode_instance(&b, &inst);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "{\"processInstanceKey\":\"2251799813685253\","
                             "\"processDefinitionId\":\"order\",\"processDefinitionVersion\":2,"
                             "\"processDefinitionKey\":\"2251799813685250\","
                             "\"processDefinitionName\":\"order\",\"state\":\"ACTIVE\","
                             "\"hasIncident\":false,\"startDate\":\"2023-11-14T22:13:20.123Z\","
                             "\"tenantId\":\"<default>\"}");
    free(out);
    inst.state = CHUTE_INSTANCE_TERMINATED;
    inst.ended_at = t + 1000;
    inst.has_incident = 1;
    rest_buf_init(&b, 0);
    rest_encode_instance(&b, &inst);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    j = parse(out, len);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "TERMINATED");
    assert_true(json_is_true(json_object_get(j, "hasIncident")));
    assert_string_equal(json_string_value(json_object_get(j, "endDate")),
                        "2023-11-14T22:13:21.123Z");
    assert_string_equal(json_string_value(json_object_get(j, "processDefinitionName")), "order");
    assert_null(json_object_get(j, "parentProcessInstanceKey")); /* not a called instance */
    json_decref(j);
    free(out);

    chute_element_view el = {.key = 11,
                             .process_instance_key = 10,
                             .process_definition_key = 9,
                             .bpmn_process_id = "order",
                             .element_id = "t",
                             .element_name = "Pay \"now\"",
                             .element_type = "SERVICE_TASK",
                             .state = CHUTE_INSTANCE_ACTIVE,
                             .flow_scope_key = 10,
                             .started_at = t,
                             .incident_key = 12};
    rest_buf_init(&b, 0);
    rest_encode_element(&b, &el);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    j = parse(out, len);
    assert_string_equal(json_string_value(json_object_get(j, "elementInstanceKey")), "11");
    assert_string_equal(json_string_value(json_object_get(j, "processInstanceKey")), "10");
    assert_string_equal(json_string_value(json_object_get(j, "elementName")), "Pay \"now\"");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "SERVICE_TASK");
    assert_string_equal(json_string_value(json_object_get(j, "incidentKey")), "12");
    assert_true(json_is_true(json_object_get(j, "hasIncident")));
    assert_null(json_object_get(j, "endDate"));
    assert_string_equal(json_string_value(json_object_get(j, "tenantId")), "<default>");
    json_decref(j);
    free(out);

    chute_variable_view v = {.key = 21,
                             .name = "order",
                             .value = "{\"id\":\"a\\\"b\"}",
                             .value_len = 13,
                             .scope_key = 10,
                             .process_instance_key = 10};
    rest_buf_init(&b, 0);
    rest_encode_variable(&b, &v);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    j = parse(out, len);
    /* The value is the JSON text, as a string. */
    assert_string_equal(json_string_value(json_object_get(j, "value")), "{\"id\":\"a\\\"b\"}");
    assert_string_equal(json_string_value(json_object_get(j, "variableKey")), "21");
    assert_string_equal(json_string_value(json_object_get(j, "scopeKey")), "10");
    assert_true(json_is_false(json_object_get(j, "isTruncated")));
    json_decref(j);
    free(out);

    chute_incident_view inc = {.key = 31,
                               .type = CHUTE_INCIDENT_JOB_NO_RETRIES,
                               .message = "boom",
                               .resolved = 1,
                               .created_at = t,
                               .job_key = 32,
                               .process_instance_key = 10,
                               .process_definition_key = 9,
                               .bpmn_process_id = "order",
                               .element_id = "t",
                               .element_instance_key = 11};
    rest_buf_init(&b, 0);
    rest_encode_process_incident(&b, &inc);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "{\"incidentKey\":\"31\",\"processDefinitionKey\":\"9\","
                             "\"processDefinitionId\":\"order\",\"processInstanceKey\":\"10\","
                             "\"errorType\":\"JOB_NO_RETRIES\",\"errorMessage\":\"boom\","
                             "\"elementId\":\"t\",\"elementInstanceKey\":\"11\",\"jobKey\":\"32\","
                             "\"creationTime\":\"2023-11-14T22:13:20.123Z\",\"state\":"
                             "\"RESOLVED\",\"tenantId\":\"<default>\"}");
    free(out);
    /* An element's own failure has no job. */
    inc.job_key = 0;
    inc.resolved = 0;
    inc.type = CHUTE_INCIDENT_CONDITION_ERROR;
    rest_buf_init(&b, 0);
    rest_encode_process_incident(&b, &inc);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    j = parse(out, len);
    assert_null(json_object_get(j, "jobKey"));
    assert_string_equal(json_string_value(json_object_get(j, "state")), "ACTIVE");
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "CONDITION_ERROR");
    json_decref(j);
    free(out);

    /* Dates before 1970 keep their milliseconds right. */
    rest_buf_init(&b, 0);
    rest_buf_iso_time(&b, -1);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "\"1969-12-31T23:59:59.999Z\"");
    free(out);
}

/* ---- user tasks -------------------------------------------------------------------------- */

static void test_decode_user_tasks(void **state)
{
    (void)state;
    command c;
    chute_error err;
    assert_int_equal(
        rest_decode_search_user_tasks(
            S("{\"filter\":{\"state\":\"CREATED\",\"assignee\":{\"$eq\":\"demo\"},"
              "\"processInstanceKey\":\"5\",\"processDefinitionKey\":6,\"processDefinitionId\":"
              "\"review-process\",\"elementId\":\"review\",\"elementInstanceKey\":\"7\","
              "\"userTaskKey\":\"7\",\"name\":\"Review\",\"candidateGroup\":\"ops\","
              "\"candidateUser\":\"anna\",\"priority\":60,\"tenantId\":\"<default>\"},"
              "\"page\":{\"from\":1,\"limit\":2},\"sort\":[{\"field\":\"creationDate\","
              "\"order\":\"asc\"}]}"),
            &c, &err),
        0);
    assert_int_equal(c.kind, COMMAND_SEARCH_USER_TASKS);
    assert_string_equal(c.search.assignee, "demo");
    assert_int_equal(c.search.process_instance_key, 5);
    assert_int_equal(c.search.process_definition_key, 6);
    assert_string_equal(c.search.bpmn_process_id, "review-process");
    assert_string_equal(c.search.element_id, "review");
    assert_int_equal(c.search.element_instance_key, 7);
    assert_int_equal(c.search.user_task_key, 7);
    assert_string_equal(c.search.name, "Review");
    assert_string_equal(c.search.candidate_group, "ops");
    assert_string_equal(c.search.candidate_user, "anna");
    assert_true(c.search.has_priority);
    assert_int_equal(c.search.priority, 60);
    assert_false(c.search.no_match);
    assert_int_equal(c.search.from, 1);
    assert_int_equal(c.search.limit, 2);
    command_free(&c);
    /* The SDK's empty search. */
    assert_int_equal(rest_decode_search_user_tasks(S("{}"), &c, &err), 0);
    assert_null(c.search.assignee);
    assert_int_equal(c.search.limit, REST_SEARCH_DEFAULT_LIMIT);
    command_free(&c);
    /* $exists: unassigned ones, or assigned ones. */
    assert_int_equal(rest_decode_search_user_tasks(
                         S("{\"filter\":{\"assignee\":{\"$exists\":false}}}"), &c, &err),
                     0);
    assert_string_equal(c.search.assignee, "");
    assert_int_equal(c.search.assigned, 0);
    command_free(&c);
    assert_int_equal(rest_decode_search_user_tasks(
                         S("{\"filter\":{\"assignee\":{\"$exists\":true}}}"), &c, &err),
                     0);
    assert_null(c.search.assignee);
    assert_int_equal(c.search.assigned, 1);
    command_free(&c);
    /* Camunda's other states: nothing Chute keeps is in them. */
    assert_int_equal(
        rest_decode_search_user_tasks(S("{\"filter\":{\"state\":\"COMPLETED\"}}"), &c, &err), 0);
    assert_true(c.search.no_match);
    command_free(&c);
    assert_int_equal(
        rest_decode_search_user_tasks(S("{\"filter\":{\"tenantId\":\"acme\"}}"), &c, &err), 0);
    assert_true(c.search.no_match);
    command_free(&c);
    /* A user task's key is its element instance's: two keys match nothing. */
    assert_int_equal(
        rest_decode_search_user_tasks(
            S("{\"filter\":{\"userTaskKey\":\"7\",\"elementInstanceKey\":\"8\"}}"), &c, &err),
        0);
    assert_true(c.search.no_match);
    command_free(&c);

    expect_einval(rest_decode_search_user_tasks, "{\"filter\":{\"state\":\"OPEN\"}}",
                  "Expected filter.state to be a user task state (CREATING, CREATED, ");
    expect_einval(rest_decode_search_user_tasks, "{\"filter\":{\"dueDate\":\"x\"}}",
                  "Expected the filter of user tasks to use only state, assignee, ");
    expect_einval(rest_decode_search_user_tasks, "{\"filter\":{\"assignee\":{\"$like\":\"de*\"}}}",
                  "Expected filter.assignee to be a value, {\"$exists\": bool} or {\"$eq\": "
                  "value}, but it uses '$like'");
    expect_einval(rest_decode_search_user_tasks, "{\"filter\":{\"assignee\":{\"$exists\":\"no\"}}}",
                  "Expected filter.assignee.$exists to be a boolean, but got a string");
    expect_einval(rest_decode_search_user_tasks,
                  "{\"filter\":{\"assignee\":{\"$exists\":true,\"$eq\":\"x\"}}}",
                  "uses both $eq and $exists");
    expect_einval(rest_decode_search_user_tasks, "{\"filter\":{\"state\":{\"$exists\":true}}}",
                  "Expected filter.state to be a value or {\"$eq\": value}, but it uses '$exists'");
    expect_einval(rest_decode_search_user_tasks, "{\"filter\":{\"priority\":101}}",
                  "Expected filter.priority to be between 0 and 100, but got 101");
    expect_einval(rest_decode_search_user_tasks, "{\"filter\":{\"assignee\":7}}",
                  "Expected filter.assignee to be a string, but got a number");

    /* Assignment: allowOverride is true unless sent false; action is a
     * string when sent. */
    assert_int_equal(rest_decode_user_task_assignment(S("{\"assignee\":\"demo\"}"), &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_ASSIGN_USER_TASK);
    assert_string_equal(c.assignee, "demo");
    assert_int_equal(c.no_override, 0);
    command_free(&c);
    assert_int_equal(
        rest_decode_user_task_assignment(
            S("{\"assignee\":\"demo\",\"allowOverride\":false,\"action\":\"claim\"}"), &c, &err),
        0);
    assert_int_equal(c.no_override, 1);
    command_free(&c);
    assert_int_equal(
        rest_decode_user_task_assignment(
            S("{\"assignee\":\"demo\",\"allowOverride\":null,\"action\":null}"), &c, &err),
        0);
    assert_int_equal(c.no_override, 0);
    command_free(&c);
    expect_einval(rest_decode_user_task_assignment, "{}", "No assignee provided.");
    expect_einval(rest_decode_user_task_assignment, "", "No assignee provided.");
    expect_einval(rest_decode_user_task_assignment, "{\"assignee\":\"\"}", "No assignee provided.");
    expect_einval(rest_decode_user_task_assignment, "{\"assignee\":1}",
                  "Expected assignee to be a string, but got a number");
    expect_einval(rest_decode_user_task_assignment, "{\"assignee\":\"a\",\"allowOverride\":\"no\"}",
                  "Expected allowOverride to be a boolean, but got a string");
    expect_einval(rest_decode_user_task_assignment, "{\"assignee\":\"a\",\"action\":3}",
                  "Expected action to be a string");
    expect_einval(rest_decode_user_task_assignment, "[]", "JSON object");

    /* Completion: variables as text, an empty body is {}. */
    assert_int_equal(rest_decode_user_task_completion(S(""), &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_COMPLETE_USER_TASK);
    assert_null(c.variables);
    command_free(&c);
    assert_int_equal(
        rest_decode_user_task_completion(
            S("{\"variables\":{\"approved\":true},\"action\":\"complete\"}"), &c, &err),
        0);
    assert_string_equal(c.variables, "{\"approved\":true}");
    command_free(&c);
    /* Variables that are not an object are the engine's to refuse. */
    assert_int_equal(rest_decode_user_task_completion(S("{\"variables\":[1]}"), &c, &err), 0);
    assert_string_equal(c.variables, "[1]");
    command_free(&c);
    expect_einval(rest_decode_user_task_completion, "{\"action\":{}}",
                  "Expected action to be a string");
    expect_einval(rest_decode_user_task_completion, "{", "valid JSON");
}

static void test_encode_user_task(void **state)
{
    (void)state;
    rest_buf b;
    char *out;
    size_t len;
    chute_user_task_view t = {.key = 2251799813685253,
                              .process_instance_key = 2251799813685251,
                              .process_definition_key = 2251799813685250,
                              .bpmn_process_id = "review-process",
                              .element_id = "review",
                              .name = "Review \"it\"",
                              .assignee = "demo",
                              .candidate_groups = "[\"ops\",\"sales\"]",
                              .candidate_users = "[]",
                              .form_key = "2251799813685249",
                              .due_date = "2026-01-02T10:00:00Z",
                              .follow_up_date = "",
                              .priority = 50,
                              .created_at = INT64_C(1700000000123)};
    rest_buf_init(&b, 0);
    rest_encode_user_task(&b, &t);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(out, "{\"userTaskKey\":\"2251799813685253\",\"name\":\"Review \\\"it\\\"\","
                             "\"state\":\"CREATED\",\"assignee\":\"demo\",\"elementId\":\"review\","
                             "\"elementInstanceKey\":\"2251799813685253\","
                             "\"candidateGroups\":[\"ops\",\"sales\"],\"candidateUsers\":[],"
                             "\"processDefinitionId\":\"review-process\","
                             "\"processDefinitionKey\":\"2251799813685250\","
                             "\"processInstanceKey\":\"2251799813685251\","
                             "\"formKey\":\"2251799813685249\","
                             "\"creationDate\":\"2023-11-14T22:13:20.123Z\","
                             "\"dueDate\":\"2026-01-02T10:00:00Z\",\"priority\":50,"
                             "\"tenantId\":\"<default>\"}");
    free(out);
    /* Unnamed, unassigned, an external form, no dates: left out. */
    t.name = "";
    t.assignee = "";
    t.form_key = "https://forms.example/review";
    t.due_date = "";
    t.candidate_groups = "";
    rest_buf_init(&b, 0);
    rest_encode_user_task(&b, &t);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    json_t *j = parse(out, len);
    assert_null(json_object_get(j, "name"));
    assert_null(json_object_get(j, "assignee"));
    assert_null(json_object_get(j, "formKey"));
    assert_null(json_object_get(j, "dueDate"));
    assert_null(json_object_get(j, "followUpDate"));
    assert_string_equal(json_string_value(json_object_get(j, "externalFormReference")),
                        "https://forms.example/review");
    assert_int_equal(json_array_size(json_object_get(j, "candidateGroups")), 0);
    json_decref(j);
    free(out);
}

/* ---- decisions ------------------------------------------------------------------ */

static void test_encode_deployment(void **state)
{
    (void)state;
    chute_process_view procs[1] = {
        {.key = 10, .bpmn_process_id = "rocket", .version = 2, .resource_name = "r.bpmn"}};
    chute_decision_view decs[2] = {{.key = 21,
                                    .decision_id = "a",
                                    .name = "A \"1\"",
                                    .version = 3,
                                    .requirements_key = 20,
                                    .requirements_id = "g1",
                                    .requirements_name = "G1",
                                    .requirements_version = 2,
                                    .resource_name = "g1.dmn"},
                                   {.key = 22,
                                    .decision_id = "b",
                                    .name = "",
                                    .version = 1,
                                    .requirements_key = 20,
                                    .requirements_id = "g1",
                                    .requirements_name = "G1",
                                    .requirements_version = 2,
                                    .resource_name = "g1.dmn"}};
    rest_buf b;
    char *out;
    size_t len;
    rest_buf_init(&b, 0);
    rest_encode_deployment(&b, 5, procs, 1, decs, 2);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(
        out, "{\"deploymentKey\":\"5\",\"tenantId\":\"<default>\",\"deployments\":["
             "{\"processDefinition\":{\"processDefinitionId\":\"rocket\","
             "\"processDefinitionVersion\":2,\"resourceName\":\"r.bpmn\",\"tenantId\":"
             "\"<default>\",\"processDefinitionKey\":\"10\"}},"
             "{\"decisionDefinition\":{\"decisionDefinitionId\":\"a\",\"version\":3,\"name\":"
             "\"A \\\"1\\\"\",\"tenantId\":\"<default>\",\"decisionRequirementsId\":\"g1\","
             "\"decisionDefinitionKey\":\"21\",\"decisionRequirementsKey\":\"20\"}},"
             "{\"decisionDefinition\":{\"decisionDefinitionId\":\"b\",\"version\":1,\"name\":"
             "\"\",\"tenantId\":\"<default>\",\"decisionRequirementsId\":\"g1\","
             "\"decisionDefinitionKey\":\"22\",\"decisionRequirementsKey\":\"20\"}},"
             "{\"decisionRequirements\":{\"decisionRequirementsId\":\"g1\",\"version\":2,"
             "\"decisionRequirementsName\":\"G1\",\"tenantId\":\"<default>\",\"resourceName\":"
             "\"g1.dmn\",\"decisionRequirementsKey\":\"20\"}}]}");
    free(out);
    /* Decisions alone start the list. */
    rest_buf_init(&b, 0);
    rest_encode_deployment(&b, 5, NULL, 0, decs + 1, 1);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    json_t *j = parse(out, len);
    json_t *deps = json_object_get(j, "deployments");
    assert_int_equal(json_array_size(deps), 2);
    assert_non_null(json_object_get(json_array_get(deps, 0), "decisionDefinition"));
    assert_non_null(json_object_get(json_array_get(deps, 1), "decisionRequirements"));
    json_decref(j);
    free(out);
}

static void test_decode_evaluate_decision(void **state)
{
    (void)state;
    command c;
    chute_error err;
    const char *body = "{\"decisionDefinitionId\":\"plot\",\"variables\":{\"fuelLevel\":80}}";
    assert_int_equal(rest_decode_evaluate_decision(body, strlen(body), &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_EVALUATE_DECISION);
    assert_string_equal(c.decision_id, "plot");
    assert_int_equal(c.decision_key, 0);
    json_t *v = parse(c.variables, c.variables_len);
    assert_int_equal(json_integer_value(json_object_get(v, "fuelLevel")), 80);
    json_decref(v);
    command_free(&c);
    /* A key as a string (Camunda 8.8's) or a number; no variables. */
    body = "{\"decisionDefinitionKey\":\"2251799813685252\",\"tenantId\":\"<default>\"}";
    assert_int_equal(rest_decode_evaluate_decision(body, strlen(body), &c, &err), 0);
    assert_string_equal(c.decision_id, "");
    assert_int_equal(c.decision_key, 2251799813685252);
    assert_null(c.variables);
    command_free(&c);
    body = "{\"decisionDefinitionKey\":7}";
    assert_int_equal(rest_decode_evaluate_decision(body, strlen(body), &c, &err), 0);
    assert_int_equal(c.decision_key, 7);
    command_free(&c);
    static const struct {
        const char *body, *message;
    } bad[] = {
        {"{}", "At least one of [decisionDefinitionId, decisionDefinitionKey] is required."},
        {"{\"decisionDefinitionId\":\"a\",\"decisionDefinitionKey\":\"1\"}",
         "Only one of [decisionDefinitionId, decisionDefinitionKey] is allowed."},
        {"{\"decisionDefinitionKey\":\"abc\"}", "decisionDefinitionKey"},
        {"{\"decisionDefinitionId\":3}", "Expected decisionDefinitionId to be a string"},
        {"{\"decisionDefinitionId\":\"a\",\"tenantId\":\"acme\"}", "multi-tenancy is disabled"},
        {"[1]", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        if (rest_decode_evaluate_decision(bad[i].body, strlen(bad[i].body), &c, &err) !=
            CHUTE_EINVAL)
            fail_msg("%s: not refused", bad[i].body);
        if (!strstr(err.message, bad[i].message))
            fail_msg("%s: '%s' lacks '%s'", bad[i].body, err.message, bad[i].message);
        assert_null(c.doc);
    }
}

static void test_encode_decision_evaluation(void **state)
{
    (void)state;
    chute_decision_value in[1] = {{"Input_1", "Fuel level", "80"}};
    chute_decision_value outs[1] = {{"Output_1", "Destination", "\"Mars\""}};
    chute_matched_rule rules[1] = {{"r2", 2, outs, 1}};
    chute_evaluated_decision evd[1] = {{.key = 52,
                                        .decision_id = "plot",
                                        .name = "Plot",
                                        .version = 1,
                                        .type = "DECISION_TABLE",
                                        .output = "\"Mars\"",
                                        .inputs = in,
                                        .ninputs = 1,
                                        .rules = rules,
                                        .nrules = 1}};
    chute_decision_evaluation ev = {.key = 60,
                                    .decision = {.key = 52,
                                                 .decision_id = "plot",
                                                 .name = "Plot",
                                                 .version = 1,
                                                 .requirements_key = 51,
                                                 .requirements_id = "plot-drg"},
                                    .output = "\"Mars\"",
                                    .failed_decision_id = "",
                                    .failure_message = "",
                                    .evaluated = evd,
                                    .nevaluated = 1};
    rest_buf b;
    char *out;
    size_t len;
    rest_buf_init(&b, 0);
    rest_encode_decision_evaluation(&b, &ev);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    assert_string_equal(
        out, "{\"decisionDefinitionId\":\"plot\",\"decisionDefinitionName\":\"Plot\","
             "\"decisionDefinitionVersion\":1,\"decisionRequirementsId\":\"plot-drg\","
             "\"output\":\"\\\"Mars\\\"\",\"failedDecisionDefinitionId\":\"\","
             "\"failureMessage\":\"\",\"tenantId\":\"<default>\",\"decisionDefinitionKey\":"
             "\"52\",\"decisionRequirementsKey\":\"51\",\"decisionInstanceKey\":\"60\","
             "\"decisionEvaluationKey\":\"60\",\"evaluatedDecisions\":[{"
             "\"decisionDefinitionId\":\"plot\",\"decisionDefinitionName\":\"Plot\","
             "\"decisionDefinitionVersion\":1,\"decisionDefinitionType\":\"DECISION_TABLE\","
             "\"output\":\"\\\"Mars\\\"\",\"tenantId\":\"<default>\",\"matchedRules\":[{"
             "\"ruleId\":\"r2\",\"ruleIndex\":2,\"evaluatedOutputs\":[{\"outputId\":"
             "\"Output_1\",\"outputName\":\"Destination\",\"outputValue\":\"\\\"Mars\\\"\"}]}],"
             "\"evaluatedInputs\":[{\"inputId\":\"Input_1\",\"inputName\":\"Fuel level\","
             "\"inputValue\":\"80\"}],\"decisionDefinitionKey\":\"52\","
             "\"decisionEvaluationInstanceKey\":\"60-1\"}]}");
    free(out);
    /* A failure names the decision that failed; nothing evaluated is an
     * empty list. */
    ev.output = "null";
    ev.failed_decision_id = "plot";
    ev.failure_message = "Expected to evaluate decision 'plot', but \"x\"";
    ev.nevaluated = 0;
    rest_buf_init(&b, 0);
    rest_encode_decision_evaluation(&b, &ev);
    assert_int_equal(rest_buf_finish(&b, &out, &len), 0);
    json_t *j = parse(out, len);
    assert_string_equal(json_string_value(json_object_get(j, "output")), "null");
    assert_string_equal(json_string_value(json_object_get(j, "failedDecisionDefinitionId")),
                        "plot");
    assert_string_equal(json_string_value(json_object_get(j, "failureMessage")),
                        "Expected to evaluate decision 'plot', but \"x\"");
    assert_int_equal(json_array_size(json_object_get(j, "evaluatedDecisions")), 0);
    json_decref(j);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_escapes_and_bounds),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_problem_json),
        cmocka_unit_test(test_parse_key),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_decode_activate),
        cmocka_unit_test(test_decode_commands),
        cmocka_unit_test(test_decode_create),
        cmocka_unit_test(test_encode_activated_job),
        cmocka_unit_test(test_encode_job_incident_types_topology),
        cmocka_unit_test(test_decode_create_instance),
        cmocka_unit_test(test_decode_set_variables),
        cmocka_unit_test(test_decode_messages),
        cmocka_unit_test(test_decode_searches),
        cmocka_unit_test(test_decode_modification),
        cmocka_unit_test(test_decode_migration_and_signal),
        cmocka_unit_test(test_encode_process_views),
        cmocka_unit_test(test_decode_user_tasks),
        cmocka_unit_test(test_encode_user_task),
        cmocka_unit_test(test_encode_deployment),
        cmocka_unit_test(test_decode_evaluate_decision),
        cmocka_unit_test(test_encode_decision_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
