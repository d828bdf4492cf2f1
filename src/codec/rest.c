/*
 * JSON bodies <-> engine structs for the HTTP API; see rest.h.
 */
#define _GNU_SOURCE /* memmem */
#include "rest.h"

#include "common/json.h"
#include "http_reason.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define REST_BUF_DEFAULT_MAX ((size_t)64 << 20)

/* ---- buffer ------------------------------------------------------------------ */

void rest_buf_init(rest_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max ? max : REST_BUF_DEFAULT_MAX;
}

static int reserve(rest_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n > b->max - b->len) {
        b->failed = CHUTE_ETOOBIG;
        return -1;
    }
    size_t need = b->len + n + 1; /* room for the final NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = CHUTE_ENOMEM;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void rest_buf_append(rest_buf *b, const void *s, size_t n)
{
    if (n == 0 || reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void rest_buf_puts(rest_buf *b, const char *s)
{
    rest_buf_append(b, s, strlen(s));
}

void rest_buf_printf(rest_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        rest_buf_append(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rest_buf_json_string(rest_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    rest_buf_append(b, "\"", 1);
    size_t run = 0; /* start of the current run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rest_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        rest_buf_append(b, esc, el);
    }
    rest_buf_append(b, s + run, n - run);
    rest_buf_append(b, "\"", 1);
}

int rest_buf_finish(rest_buf *b, char **out, size_t *len)
{
    if (b->failed || reserve(b, 0) != 0) {
        int rc = b->failed;
        rest_buf_free(b);
        return rc;
    }
    b->data[b->len] = '\0';
    *out = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return 0;
}

void rest_buf_free(rest_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- errors -------------------------------------------------------------------- */

/* Both come from CHUTE_ERRNO_MAP in <chute/chute.h>; a code not in it is an
 * internal error. */
int rest_http_status(int code)
{
    switch (code) {
    case 0:
        return 200;
#define X(name, value, grpc, http, title, desc)                                                    \
    case value:                                                                                    \
        return http;
        CHUTE_ERRNO_MAP(X)
#undef X
    }
    return 500;
}

const char *rest_problem_title(int code)
{
    switch (code) {
#define X(name, value, grpc, http, title, desc)                                                    \
    case value:                                                                                    \
        return title;
        CHUTE_ERRNO_MAP(X)
#undef X
    }
    return "INTERNAL_ERROR";
}

const char *rest_reason(int status)
{
    return codec_http_reason(status);
}

int rest_problem(int status, const char *title, const char *detail, const char *instance,
                 char **out, size_t *out_len)
{
    rest_buf b;
    rest_buf_init(&b, 0);
    if (!title)
        title = rest_reason(status);
    rest_buf_puts(&b, "{\"type\":\"about:blank\",\"title\":");
    rest_buf_json_string(&b, title, strlen(title));
    rest_buf_printf(&b, ",\"status\":%d,\"detail\":", status);
    detail = detail ? detail : "";
    rest_buf_json_string(&b, detail, strlen(detail));
    rest_buf_puts(&b, ",\"instance\":");
    instance = instance ? instance : "";
    rest_buf_json_string(&b, instance, strlen(instance));
    rest_buf_puts(&b, "}");
    return rest_buf_finish(&b, out, out_len);
}

/* ---- keys and queries ------------------------------------------------------------ */

static void quote_sample(char *dst, size_t cap, const char *s, size_t n)
{
    /* A short printable rendering of peer input for messages. */
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++)
        dst[k++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (n > 0 && k + 4 >= cap && k < n) {
        dst[k++] = '.';
        dst[k++] = '.';
        dst[k++] = '.';
    }
    dst[k] = '\0';
}

int rest_parse_key(const char *s, size_t n, const char *what, int64_t *key, chute_error *err)
{
    uint64_t v = 0;
    int ok = n > 0 && n <= 19;
    for (size_t i = 0; ok && i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            ok = 0;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (!ok || v == 0 || v > (uint64_t)INT64_MAX) {
        char sample[64];
        quote_sample(sample, sizeof sample, s, n);
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected %s to be a positive integer key, but got '%s'", what,
                               sample);
    }
    *key = (int64_t)v;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int rest_query_get(const char *query, const char *name, char *out, size_t cap, chute_error *err)
{
    size_t nl = strlen(name);
    const char *p = query ? query : "";
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) >= nl && strncmp(p, name, nl) == 0 &&
            (p[nl] == '=' || p + nl == end)) {
            const char *v = p[nl] == '=' ? p + nl + 1 : end;
            size_t k = 0;
            while (v < end) {
                int c = (unsigned char)*v;
                if (c == '%') {
                    if (end - v < 3 || hexval(v[1]) < 0 || hexval(v[2]) < 0)
                        return chute_error_set(err, CHUTE_EINVAL,
                                               "Expected the query parameter '%s' to be "
                                               "percent-encoded correctly",
                                               name);
                    c = hexval(v[1]) * 16 + hexval(v[2]);
                    v += 3;
                } else {
                    if (c == '+')
                        c = ' ';
                    v++;
                }
                if (k + 1 >= cap)
                    return chute_error_set(err, CHUTE_EINVAL,
                                           "Expected the query parameter '%s' to be at most %zu "
                                           "bytes long",
                                           name, cap - 1);
                out[k++] = (char)c;
            }
            out[k] = '\0';
            if (memchr(out, '\0', k))
                return chute_error_set(err, CHUTE_EINVAL,
                                       "Expected the query parameter '%s' to contain no NUL", name);
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* ---- decoding helpers -------------------------------------------------------------- */

/* Parses |body| as one JSON document (a blank body is |blank_ok| ? {} :
 * an error) and requires an object unless |array_ok|. */
static json_t *parse_body(const char *body, size_t len, int blank_ok, int array_ok,
                          chute_error *err)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i == len) {
        if (blank_ok) {
            json_t *o = json_object();
            if (!o)
                chute_error_set(err, CHUTE_ENOMEM, "out of memory");
            return o;
        }
        chute_error_set(err, CHUTE_EINVAL, "Expected a JSON request body, but it is empty");
        return NULL;
    }
    json_error_t jerr;
    /* NUL characters (\u0000) are fine inside variables, as over gRPC (the
     * engine's rule); get_string refuses them in the strings a command
     * names things with. */
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        /* JSON_DECODE_ANY is off: top-level scalars fail here too. */
        chute_error_set(err, CHUTE_EINVAL,
                        "Expected the request body to be valid JSON, but it is not: %s at "
                        "line %d, column %d",
                        jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(doc) && !(array_ok && json_is_array(doc))) {
        chute_error_set(err, CHUTE_EINVAL,
                        "Expected the request body to be a JSON object, but got %s",
                        jdoc_kind_name(doc));
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Member |name| of |o|, or NULL when absent or null. */
static json_t *member(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_string(json_t *o, const char *name, const char **out, chute_error *err)
{
    json_t *v = member(o, name);
    if (!v) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return chute_error_set(err, CHUTE_EINVAL, "Expected %s to be a string, but got %s", name,
                               jdoc_kind_name(v));
    if (memchr(json_string_value(v), '\0', json_string_length(v)))
        return chute_error_set(err, CHUTE_EINVAL, "Expected %s to contain no NUL character", name);
    *out = json_string_value(v);
    return 0;
}

/* An integer member in [lo, hi]; also accepts a string of digits (int64
 * values written as strings by clients that fear precision loss). */
static int get_int(json_t *o, const char *name, int64_t lo, int64_t hi, int64_t *out, int *has,
                   chute_error *err)
{
    json_t *v = member(o, name);
    if (has)
        *has = 0;
    if (!v)
        return 0;
    int64_t x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == (double)(int64_t)json_real_value(v) &&
               json_real_value(v) > -9.2e18 && json_real_value(v) < 9.2e18) {
        x = (int64_t)json_real_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long ll = strtoll(s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno != 0 || isspace((unsigned char)*s))
            return chute_error_set(err, CHUTE_EINVAL,
                                   "Expected %s to be an integer, but got the string '%.64s'", name,
                                   s);
        x = ll;
    } else {
        return chute_error_set(err, CHUTE_EINVAL, "Expected %s to be an integer, but got %s", name,
                               json_is_real(v) ? "a fraction" : jdoc_kind_name(v));
    }
    if (x < lo || x > hi)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected %s to be between %" PRId64 " and %" PRId64
                               ", but got %" PRId64,
                               name, lo, hi, x);
    *out = x;
    if (has)
        *has = 1;
    return 0;
}

/* A JSON document member (variables, customHeaders) as text, whatever its
 * JSON type: the engine decides what it accepts. NULL when absent or null. */
static int get_document(json_t *o, const char *name, char **out, size_t *len, chute_error *err)
{
    json_t *v = member(o, name);
    *out = NULL;
    *len = 0;
    if (!v)
        return 0;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    *out = s;
    *len = strlen(s);
    return 0;
}

/* An array of at most REST_MAX_FETCH_VARIABLES strings, into |*out|
 * (malloc'd, pointing into the document; NULL when absent or empty). */
static int get_names(json_t *doc, const char *name, const char ***out, size_t *n_out,
                     chute_error *err)
{
    json_t *fv = member(doc, name);
    *out = NULL;
    *n_out = 0;
    if (!fv)
        return 0;
    if (!json_is_array(fv))
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected %s to be an array of strings, but got %s", name,
                               jdoc_kind_name(fv));
    size_t n = json_array_size(fv);
    if (n > REST_MAX_FETCH_VARIABLES)
        return chute_error_set(err, CHUTE_EINVAL, "Expected at most %d %s names, but got %zu",
                               REST_MAX_FETCH_VARIABLES, name, n);
    if (n == 0)
        return 0;
    const char **names = calloc(n, sizeof *names);
    if (!names)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(fv, i);
        if (!json_is_string(s)) {
            free(names);
            return chute_error_set(err, CHUTE_EINVAL, "Expected %s[%zu] to be a string, but got %s",
                                   name, i, jdoc_kind_name(s));
        }
        names[i] = json_string_value(s);
    }
    *out = names;
    *n_out = n;
    return 0;
}

/* ---- activation -------------------------------------------------------------------- */

int rest_decode_activate(const char *body, size_t len, command *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *doc = parse_body(body, len, 0, 0, err);
    if (!doc)
        return err ? err->code : CHUTE_EINVAL;
    command a = {.kind = COMMAND_ACTIVATE, .doc = doc};
    int rc;
    int64_t v;
    int has;
    if ((rc = get_string(doc, "type", &a.req.type, err)) != 0 ||
        (rc = get_string(doc, "worker", &a.req.worker, err)) != 0)
        goto fail;
    if (!a.req.type)
        a.req.type = "";
    if (!a.req.worker)
        a.req.worker = "";
    if ((rc = get_int(doc, "timeout", INT64_MIN, INT64_MAX, &v, &has, err)) != 0)
        goto fail;
    a.req.timeout_ms = has ? v : 0;
    if ((rc = get_int(doc, "maxJobsToActivate", INT32_MIN, INT32_MAX, &v, &has, err)) != 0)
        goto fail;
    a.req.max_jobs = has ? (int32_t)v : 0;
    if ((rc = get_int(doc, "requestTimeout", INT64_MIN, INT64_MAX, &v, &has, err)) != 0)
        goto fail;
    a.request_timeout_ms = has ? v : 0;
    if ((rc = get_names(doc, "fetchVariable", &a.fetch, &a.req.fetch_variables_count, err)) != 0)
        goto fail;
    a.req.fetch_variables = a.fetch;
    json_t *tids = member(doc, "tenantIds");
    if (tids) {
        if (!json_is_array(tids)) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected tenantIds to be an array of strings, but got %s",
                                 jdoc_kind_name(tids));
            goto fail;
        }
        size_t n = json_array_size(tids);
        for (size_t i = 0; i < n; i++) {
            json_t *s = json_array_get(tids, i);
            if (!json_is_string(s) || strcmp(json_string_value(s), REST_DEFAULT_TENANT) != 0 ||
                n > 1) {
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected to handle request Activate Jobs with tenant "
                                     "identifiers [%s], but multi-tenancy is disabled: "
                                     "tenantIds must be empty or [\"%s\"]",
                                     json_is_string(s) ? json_string_value(s) : "?",
                                     REST_DEFAULT_TENANT);
                goto fail;
            }
        }
    }
    *out = a;
    return 0;
fail:
    command_free(&a);
    return rc;
}

/* ---- job commands -------------------------------------------------------------------- */

static int command_start(command_kind kind, const char *body, size_t len, command *out,
                         chute_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->error_code = "";
    out->error_message = "";
    json_t *doc = parse_body(body, len, 1, 0, err);
    if (!doc)
        return err ? err->code : CHUTE_EINVAL;
    out->doc = doc;
    return 0;
}

/* The variables document, kept in c->texts (room for one made there). */
static int command_variables(command *c, chute_error *err)
{
    char *text = NULL;
    int rc = get_document(c->doc, "variables", &text, &c->variables_len, err);
    if (rc != 0 || !text)
        return rc;
    c->texts = malloc(sizeof *c->texts);
    if (!c->texts) {
        free(text);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    c->texts[c->ntexts++] = text;
    c->variables = text;
    return 0;
}

int rest_decode_completion(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_COMPLETE, body, len, out, err);
    if (rc == 0 && (rc = command_variables(out, err)) != 0)
        command_free(out);
    return rc;
}

int rest_decode_failure(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_FAIL, body, len, out, err);
    if (rc != 0)
        return rc;
    int64_t v;
    int has;
    const char *msg;
    if ((rc = get_int(out->doc, "retries", INT32_MIN, INT32_MAX, &v, &has, err)) != 0)
        goto fail;
    out->retries = has ? (int32_t)v : 0;
    out->has_retries = has;
    if ((rc = get_int(out->doc, "retryBackOff", INT64_MIN, INT64_MAX, &v, &has, err)) != 0)
        goto fail;
    out->backoff_ms = has ? v : 0;
    if ((rc = get_string(out->doc, "errorMessage", &msg, err)) != 0)
        goto fail;
    out->error_message = msg ? msg : "";
    if ((rc = command_variables(out, err)) != 0)
        goto fail;
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_error(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_THROW_ERROR, body, len, out, err);
    if (rc != 0)
        return rc;
    const char *s;
    if ((rc = get_string(out->doc, "errorCode", &s, err)) != 0)
        goto fail;
    out->error_code = s ? s : "";
    if ((rc = get_string(out->doc, "errorMessage", &s, err)) != 0)
        goto fail;
    out->error_message = s ? s : "";
    if ((rc = command_variables(out, err)) != 0)
        goto fail;
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_job_update(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_UPDATE, body, len, out, err);
    if (rc != 0)
        return rc;
    json_t *cs = member(out->doc, "changeset");
    int64_t v;
    if (!cs || !json_is_object(cs)) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected changeset to be an object with retries or timeout, but "
                             "got %s",
                             cs ? jdoc_kind_name(cs) : "none");
        goto fail;
    }
    if ((rc = get_int(cs, "retries", INT32_MIN, INT32_MAX, &v, &out->has_retries, err)) != 0)
        goto fail;
    out->retries = out->has_retries ? (int32_t)v : 0;
    if ((rc = get_int(cs, "timeout", INT64_MIN, INT64_MAX, &v, &out->has_timeout, err)) != 0)
        goto fail;
    out->timeout_ms = out->has_timeout ? v : 0;
    if (!out->has_retries && !out->has_timeout) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected changeset to set retries or timeout, but it sets neither");
        goto fail;
    }
    return 0;
fail:
    command_free(out);
    return rc;
}

/* ---- create ------------------------------------------------------------------------ */

static int decode_spec(command *c, json_t *o, size_t index, chute_job_spec *spec, chute_error *err)
{
    chute_error inner;
    int rc;
    int64_t v;
    int has;
    memset(spec, 0, sizeof *spec);
    if (!json_is_object(o)) {
        rc = chute_error_set(&inner, CHUTE_EINVAL, "Expected a job object, but got %s",
                             jdoc_kind_name(o));
        goto fail;
    }
    if ((rc = get_string(o, "type", &spec->type, &inner)) != 0)
        goto fail;
    if (!spec->type)
        spec->type = "";
    if ((rc = get_int(o, "retries", INT32_MIN, INT32_MAX, &v, &has, &inner)) != 0)
        goto fail;
    spec->retries = has ? (int32_t)v : 0;
    if ((rc = get_int(o, "priority", INT32_MIN, INT32_MAX, &v, &has, &inner)) != 0)
        goto fail;
    spec->priority = has ? (int32_t)v : 0;
    if ((rc = get_int(o, "delay", INT64_MIN, INT64_MAX, &v, &has, &inner)) != 0)
        goto fail;
    spec->delay_ms = has ? v : 0;
    char *text;
    size_t len;
    if ((rc = get_document(o, "variables", &text, &len, &inner)) != 0)
        goto fail;
    if (text) {
        c->texts[c->ntexts++] = text;
        spec->variables = text;
        spec->variables_len = len;
    }
    if ((rc = get_document(o, "customHeaders", &text, &len, &inner)) != 0)
        goto fail;
    if (text) {
        c->texts[c->ntexts++] = text;
        spec->headers = text;
        spec->headers_len = len;
    }
    return 0;
fail:
    if (c->is_array)
        return chute_error_set(err, inner.code, "job %zu of the batch: %s", index, inner.message);
    if (err)
        *err = inner;
    return rc;
}

int rest_decode_create(const char *body, size_t len, command *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *doc = parse_body(body, len, 0, 1, err);
    if (!doc)
        return err ? err->code : CHUTE_EINVAL;
    command c = {.kind = COMMAND_CREATE, .doc = doc, .is_array = json_is_array(doc)};
    size_t n = c.is_array ? json_array_size(doc) : 1;
    int rc;
    if (n > REST_MAX_CREATE_JOBS) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected at most %d jobs in one request, but got %zu",
                             REST_MAX_CREATE_JOBS, n);
        goto fail;
    }
    c.specs = calloc(n ? n : 1, sizeof *c.specs);
    c.texts = calloc(2 * (n ? n : 1), sizeof *c.texts);
    if (!c.specs || !c.texts) {
        rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = c.is_array ? json_array_get(doc, i) : doc;
        if ((rc = decode_spec(&c, o, i, &c.specs[i], err)) != 0)
            goto fail;
    }
    c.count = n;
    *out = c;
    return 0;
fail:
    command_free(&c);
    return rc;
}

/* ---- encoding -------------------------------------------------------------------------- */

static void put_key(rest_buf *b, const char *name, int64_t key)
{
    rest_buf_printf(b, "\"%s\":\"%" PRId64 "\"", name, key);
}

static void put_str(rest_buf *b, const char *name, const char *s)
{
    rest_buf_printf(b, "\"%s\":", name);
    s = s ? s : "";
    rest_buf_json_string(b, s, strlen(s));
}

static void put_doc(rest_buf *b, const char *name, const char *doc, size_t len)
{
    rest_buf_printf(b, "\"%s\":", name);
    size_t i = 0;
    while (doc && i < len && isspace((unsigned char)doc[i]))
        i++;
    if (!doc || i == len)
        rest_buf_append(b, "{}", 2);
    else
        rest_buf_append(b, doc, len);
}

void rest_encode_activated_job(rest_buf *b, const chute_job_view *j)
{
    rest_buf_puts(b, "{");
    put_key(b, "jobKey", j->key);
    rest_buf_puts(b, ",");
    put_str(b, "type", j->type);
    rest_buf_puts(b, ",");
    put_key(b, "processInstanceKey", j->process.process_instance_key);
    rest_buf_puts(b, ",");
    put_str(b, "processDefinitionId", j->process.bpmn_process_id);
    rest_buf_printf(b, ",\"processDefinitionVersion\":%" PRId32 ",",
                    j->process.process_definition_version);
    put_key(b, "processDefinitionKey", j->process.process_definition_key);
    rest_buf_puts(b, ",");
    put_str(b, "elementId", j->process.element_id);
    rest_buf_puts(b, ",");
    put_key(b, "elementInstanceKey", j->process.element_instance_key);
    rest_buf_puts(b, ",");
    put_doc(b, "customHeaders", j->headers, j->headers_len);
    rest_buf_puts(b, ",");
    put_str(b, "worker", j->worker);
    rest_buf_printf(b, ",\"retries\":%" PRId32 ",\"deadline\":%" PRId64 ",", j->retries,
                    j->deadline);
    put_doc(b, "variables", j->variables, j->variables_len);
    rest_buf_puts(b, ",\"tenantId\":\"" REST_DEFAULT_TENANT "\",\"kind\":\"BPMN_ELEMENT\","
                     "\"listenerEventType\":\"UNSPECIFIED\"}");
}

size_t rest_activated_job_overhead(const chute_job_view *j)
{
    /* Fixed text and numbers, plus the strings at worst escaped six-fold. */
    size_t strings = strlen(j->type) + strlen(j->worker) +
                     (j->process.bpmn_process_id ? strlen(j->process.bpmn_process_id) : 0) +
                     (j->process.element_id ? strlen(j->process.element_id) : 0);
    return 512 + 6 * strings;
}

void rest_encode_job(rest_buf *b, const chute_job_view *j)
{
    rest_buf_puts(b, "{");
    put_key(b, "key", j->key);
    rest_buf_puts(b, ",");
    put_str(b, "type", j->type);
    rest_buf_puts(b, ",");
    put_str(b, "state", chute_job_state_name(j->state));
    rest_buf_printf(b,
                    ",\"retries\":%" PRId32 ",\"priority\":%" PRId32 ",\"createdAt\":%" PRId64
                    ",\"deadline\":%" PRId64 ",",
                    j->retries, j->priority, j->created_at, j->deadline);
    put_str(b, "worker", j->worker);
    rest_buf_puts(b, ",");
    put_doc(b, "customHeaders", j->headers, j->headers_len);
    rest_buf_puts(b, ",");
    put_doc(b, "variables", j->variables, j->variables_len);
    rest_buf_puts(b, ",");
    put_str(b, "errorCode", j->error_code);
    rest_buf_puts(b, ",");
    put_str(b, "errorMessage", j->error_message);
    if (j->incident_key) {
        rest_buf_puts(b, ",");
        put_key(b, "incidentKey", j->incident_key);
        rest_buf_puts(b, ",");
        put_str(b, "incidentType", chute_incident_type_name(j->incident_type));
    }
    if (j->state == CHUTE_JOB_COMPLETED)
        rest_buf_printf(b, ",\"completedAt\":%" PRId64, j->completed_at);
    if (j->process.process_instance_key) {
        rest_buf_puts(b, ",");
        put_key(b, "processInstanceKey", j->process.process_instance_key);
        rest_buf_puts(b, ",");
        put_key(b, "processDefinitionKey", j->process.process_definition_key);
        rest_buf_puts(b, ",");
        put_key(b, "elementInstanceKey", j->process.element_instance_key);
        rest_buf_puts(b, ",");
        put_str(b, "processDefinitionId", j->process.bpmn_process_id);
        rest_buf_puts(b, ",");
        put_str(b, "elementId", j->process.element_id);
        rest_buf_printf(b, ",\"processDefinitionVersion\":%" PRId32,
                        j->process.process_definition_version);
    }
    rest_buf_puts(b, "}");
}

void rest_encode_incident(rest_buf *b, const chute_incident_view *inc, const chute_job_view *j)
{
    rest_buf_puts(b, "{");
    put_key(b, "incidentKey", inc->key);
    rest_buf_puts(b, ",");
    put_str(b, "type", chute_incident_type_name(inc->type));
    rest_buf_puts(b, ",");
    put_str(b, "state", inc->resolved ? "RESOLVED" : "ACTIVE");
    rest_buf_puts(b, ",");
    put_str(b, "errorMessage", inc->message);
    rest_buf_printf(b, ",\"createdAt\":%" PRId64, inc->created_at);
    if (inc->job_key) {
        rest_buf_puts(b, ",");
        put_key(b, "jobKey", inc->job_key);
    }
    if (j) {
        rest_buf_puts(b, ",");
        put_str(b, "jobType", j->type);
        rest_buf_puts(b, ",");
        put_str(b, "errorCode", j->error_code);
        rest_buf_printf(b, ",\"retries\":%" PRId32, j->retries);
    }
    if (inc->process_instance_key) {
        rest_buf_puts(b, ",");
        put_key(b, "processInstanceKey", inc->process_instance_key);
        rest_buf_puts(b, ",");
        put_key(b, "processDefinitionKey", inc->process_definition_key);
        rest_buf_puts(b, ",");
        put_str(b, "processDefinitionId", inc->bpmn_process_id);
        rest_buf_puts(b, ",");
        put_str(b, "elementId", inc->element_id);
        rest_buf_puts(b, ",");
        put_key(b, "elementInstanceKey", inc->element_instance_key);
    }
    rest_buf_puts(b, "}");
}

void rest_encode_type_stats(rest_buf *b, const chute_type_stats *s, int64_t now)
{
    int64_t age = s->oldest_activatable_since ? now - s->oldest_activatable_since : 0;
    rest_buf_puts(b, "{");
    put_str(b, "type", s->type);
    rest_buf_printf(b,
                    ",\"activatable\":%" PRIu64 ",\"activated\":%" PRIu64 ",\"failed\":%" PRIu64
                    ",\"delayed\":%" PRIu64 ",\"incidents\":%" PRIu64
                    ",\"oldestActivatableAgeMs\":%" PRId64 ",\"waitingWorkers\":%" PRIu64
                    ",\"streams\":%" PRIu64,
                    s->activatable, s->activated, s->failed, s->delayed, s->incidents,
                    age < 0 ? 0 : age, s->waiters, s->streams);
    rest_buf_printf(b,
                    ",\"createdTotal\":%" PRIu64 ",\"activatedTotal\":%" PRIu64
                    ",\"completedTotal\":%" PRIu64 ",\"failedTotal\":%" PRIu64
                    ",\"timedOutTotal\":%" PRIu64 ",\"incidentsTotal\":%" PRIu64 "}",
                    s->created_total, s->activated_total, s->completed_total, s->failed_total,
                    s->timed_out_total, s->incidents_total);
}

void rest_encode_topology(rest_buf *b, const char *host, int port)
{
    rest_buf_puts(b, "{\"brokers\":[{\"nodeId\":0,\"host\":");
    rest_buf_json_string(b, host, strlen(host));
    rest_buf_printf(b,
                    ",\"port\":%d,\"partitions\":[{\"partitionId\":1,\"role\":\"leader\","
                    "\"health\":\"healthy\"}],\"version\":\"%s\"}],\"clusterSize\":1,"
                    "\"partitionsCount\":1,\"replicationFactor\":1,\"gatewayVersion\":\"%s\","
                    "\"lastCompletedChangeId\":\"-1\"}",
                    port, CHUTE_VERSION, CHUTE_VERSION);
}

/* ---- query strings of the list endpoints ------------------------------------------------ */

/* An integer query parameter from |lo| to |hi|, |dflt| when absent or
 * empty. */
static int query_number(const char *query, const char *name, long long lo, long long hi,
                        long long dflt, long long *out, chute_error *err)
{
    char v[32];
    int rc = rest_query_get(query, name, v, sizeof v, err);
    if (rc < 0)
        return rc;
    if (rc == 0 || v[0] == '\0') {
        *out = dflt;
        return 0;
    }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end != '\0' || x < lo || x > hi)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected the query parameter '%s' to be an integer from %lld to "
                               "%lld, but got '%s'",
                               name, lo, hi, v);
    *out = x;
    return 0;
}

/* The type filter: out->type stays NULL when absent or empty. */
static int query_type(const char *query, command *out, chute_error *err)
{
    char *type = malloc(CHUTE_TYPE_MAX + 1);
    if (!type)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    int rc = rest_query_get(query, "type", type, CHUTE_TYPE_MAX + 1, err);
    if (rc < 0) {
        free(type);
        return rc;
    }
    if (rc == 1 && type[0] != '\0') {
        out->type_buf = type;
        out->type = type;
    } else {
        free(type);
    }
    return 0;
}

int rest_decode_list_jobs(const char *query, command *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = COMMAND_LIST_JOBS;
    char state_s[32];
    int rc;
    if ((rc = query_type(query, out, err)) != 0 ||
        (rc = query_number(query, "page", 1, 1000000000, 1, &out->page, err)) != 0 ||
        (rc = query_number(query, "size", 1, REST_LIST_MAX_SIZE, REST_LIST_DEFAULT_SIZE, &out->size,
                           err)) != 0)
        goto fail;
    rc = rest_query_get(query, "state", state_s, sizeof state_s, err);
    if (rc < 0)
        goto fail;
    if (rc == 1 && state_s[0]) {
        for (int s = CHUTE_JOB_ACTIVATABLE; s <= CHUTE_JOB_COMPLETED; s++) {
            if (strcasecmp(state_s, chute_job_state_name((chute_job_state)s)) == 0)
                out->state = (chute_job_state)s;
        }
        if (!out->state) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected state to be one of ACTIVATABLE, ACTIVATED, FAILED, "
                                 "INCIDENT, ERROR_THROWN, DELAYED, COMPLETED, but got '%.31s'",
                                 state_s);
            goto fail;
        }
    }
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_list_incidents(const char *query, command *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = COMMAND_LIST_INCIDENTS;
    long long limit;
    int rc;
    if ((rc = query_type(query, out, err)) != 0 ||
        (rc = query_number(query, "limit", 1, REST_INCIDENT_MAX_LIMIT, REST_INCIDENT_DEFAULT_LIMIT,
                           &limit, err)) != 0) {
        command_free(out);
        return rc;
    }
    out->limit = (size_t)limit;
    return 0;
}

/* ---- deployments: multipart/form-data ---------------------------------------------------- */

/* Bounds of a multipart body beyond the body size itself. */
#define MULTIPART_MAX_PARTS (CHUTE_MAX_RESOURCES + 8)
#define MULTIPART_MAX_HEADERS 8192 /* bytes of one part's headers */

/* The value of parameter |name| in a header value like
 * `form-data; name="resources"; filename="a.bpmn"`, into |out| (|cap|
 * bytes). 1 when found, 0 when not, -1 when too long. */
static int header_param(const char *v, size_t vlen, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 < vlen; i++) {
        if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
            strncasecmp(v + i, name, nl) == 0 && v[i + nl] == '=') {
            size_t k = i + nl + 1, w = 0;
            int quoted = k < vlen && v[k] == '"';
            if (quoted)
                k++;
            for (; k < vlen; k++) {
                char c = v[k];
                if (quoted ? c == '"' : (c == ';' || c == ' ' || c == '\t'))
                    break;
                if (quoted && c == '\\' && k + 1 < vlen)
                    c = v[++k];
                if (w + 1 >= cap)
                    return -1;
                out[w++] = c;
            }
            out[w] = '\0';
            return 1;
        }
    }
    return 0;
}

/* The first |needle| in |hay|, or NULL. */
static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    return memmem(hay, hlen, needle, nlen);
}

int rest_decode_deployment(const char *content_type, const char *body, size_t len, command *out,
                           chute_error *err)
{
    memset(out, 0, sizeof *out);
    char boundary[80], delim[84];
    size_t ctl = content_type ? strlen(content_type) : 0;
    if (ctl < 19 || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a multipart/form-data body with the resources, but the "
                               "content type is '%.64s'",
                               content_type ? content_type : "");
    int b = header_param(content_type, ctl, "boundary", boundary, sizeof boundary);
    if (b != 1 || !boundary[0])
        return chute_error_set(err, CHUTE_EINVAL,
                               b < 0 ? "Expected a multipart boundary of at most 70 characters"
                                     : "Expected a boundary parameter in the multipart "
                                       "content type, but there is none");
    int dl = snprintf(delim, sizeof delim, "--%s", boundary);
    out->kind = COMMAND_DEPLOY;
    out->resources = calloc(CHUTE_MAX_RESOURCES, sizeof *out->resources);
    if (!out->resources)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    const char *p = find(body, len, delim, (size_t)dl), *end = body + len;
    size_t parts = 0;
    int rc = 0;
    while (p) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* the closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected CRLF after a multipart boundary, but the body is "
                                 "malformed at byte %zu",
                                 (size_t)(p - body));
            break;
        }
        p += 2;
        if (++parts > MULTIPART_MAX_PARTS) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected at most %d parts in the multipart body",
                                 MULTIPART_MAX_PARTS);
            break;
        }
        const char *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend || hend - p > MULTIPART_MAX_HEADERS) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 hend ? "Expected the headers of a multipart part to be at most "
                                        "8192 bytes"
                                      : "Expected the headers of a multipart part to end with an "
                                        "empty line, but the body ends first");
            break;
        }
        char name[64] = "", filename[CHUTE_RESOURCE_NAME_MAX + 1] = "";
        int has_filename = 0;
        for (const char *h = p; h < hend;) {
            const char *eol = find(h, (size_t)(hend - h), "\r\n", 2);
            size_t hl = eol ? (size_t)(eol - h) : (size_t)(hend - h);
            if (hl > 20 && strncasecmp(h, "content-disposition:", 20) == 0) {
                if (header_param(h + 20, hl - 20, "name", name, sizeof name) < 0 ||
                    (has_filename = header_param(h + 20, hl - 20, "filename", filename,
                                                 sizeof filename)) < 0) {
                    rc = chute_error_set(err, CHUTE_EINVAL,
                                         "Expected a part name of at most 63 bytes and a file "
                                         "name of at most %d bytes",
                                         CHUTE_RESOURCE_NAME_MAX);
                    break;
                }
            }
            h += hl + 2;
        }
        if (rc)
            break;
        const char *data = hend + 4;
        const char *next = find(data, (size_t)(end - data), delim, (size_t)dl);
        if (!next || next - data < 2 || next[-2] != '\r' || next[-1] != '\n') {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected every multipart part to end with a boundary, but the "
                                 "body ends first");
            break;
        }
        size_t dlen = (size_t)(next - 2 - data);
        if (strcmp(name, "resources") == 0 || strcmp(name, "resource") == 0) {
            if (out->nresources == CHUTE_MAX_RESOURCES) {
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected to deploy at most %d resources at once",
                                     CHUTE_MAX_RESOURCES);
                break;
            }
            if (!has_filename || !filename[0]) {
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected every 'resources' part to have a filename (the "
                                     "resource name), but part %zu has none",
                                     parts);
                break;
            }
            char *copy = strdup(filename);
            char **texts = realloc(out->texts, (out->ntexts + 1) * sizeof *texts);
            if (!copy || !texts) {
                free(copy);
                if (texts)
                    out->texts = texts;
                rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
                break;
            }
            out->texts = texts;
            out->texts[out->ntexts++] = copy;
            chute_resource *r = &out->resources[out->nresources++];
            r->name = copy;
            r->content = (const uint8_t *)data;
            r->len = dlen;
        } else if (strcmp(name, "tenantId") == 0) {
            if (dlen && (dlen != strlen(REST_DEFAULT_TENANT) ||
                         memcmp(data, REST_DEFAULT_TENANT, dlen) != 0)) {
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected to handle request Deploy Resources with tenant "
                                     "identifier '%.*s', but multi-tenancy is disabled",
                                     (int)(dlen > 64 ? 64 : dlen), data);
                break;
            }
        } else {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected multipart parts named 'resources' or 'tenantId', but "
                                 "got '%s'",
                                 name);
            break;
        }
        p = next;
    }
    if (rc == 0 && !p)
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected a multipart body delimited by '--%s', but it holds none",
                             boundary);
    if (rc == 0 && out->nresources == 0)
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected at least one 'resources' part, but the body has none");
    if (rc != 0)
        command_free(out);
    return rc;
}

void rest_encode_deployment(rest_buf *b, int64_t key, const chute_process_view *procs, size_t n,
                            const chute_decision_view *decs, size_t ndecs)
{
    rest_buf_printf(b, "{\"deploymentKey\":\"%" PRId64 "\",\"tenantId\":\"%s\",\"deployments\":[",
                    key, REST_DEFAULT_TENANT);
    int first = 1;
    for (size_t i = 0; i < n; i++, first = 0) {
        rest_buf_puts(b, first ? "{\"processDefinition\":{\"processDefinitionId\":"
                               : ",{\"processDefinition\":{\"processDefinitionId\":");
        rest_buf_json_string(b, procs[i].bpmn_process_id, strlen(procs[i].bpmn_process_id));
        rest_buf_printf(b, ",\"processDefinitionVersion\":%d,\"resourceName\":", procs[i].version);
        rest_buf_json_string(b, procs[i].resource_name, strlen(procs[i].resource_name));
        rest_buf_printf(b, ",\"tenantId\":\"%s\",\"processDefinitionKey\":\"%" PRId64 "\"}}",
                        REST_DEFAULT_TENANT, procs[i].key);
    }
    for (size_t i = 0; i < ndecs; i++, first = 0) {
        const chute_decision_view *d = &decs[i];
        rest_buf_puts(b, first ? "{\"decisionDefinition\":{" : ",{\"decisionDefinition\":{");
        put_str(b, "decisionDefinitionId", d->decision_id);
        rest_buf_printf(b, ",\"version\":%d,", d->version);
        put_str(b, "name", d->name);
        rest_buf_printf(b, ",\"tenantId\":\"%s\",", REST_DEFAULT_TENANT);
        put_str(b, "decisionRequirementsId", d->requirements_id);
        rest_buf_puts(b, ",");
        put_key(b, "decisionDefinitionKey", d->key);
        rest_buf_puts(b, ",");
        put_key(b, "decisionRequirementsKey", d->requirements_key);
        rest_buf_puts(b, "}}");
    }
    for (size_t i = 0; i < ndecs; i++) {
        const chute_decision_view *d = &decs[i];
        if (i > 0 && d->requirements_key == decs[i - 1].requirements_key)
            continue;
        rest_buf_puts(b, first ? "{\"decisionRequirements\":{" : ",{\"decisionRequirements\":{");
        first = 0;
        put_str(b, "decisionRequirementsId", d->requirements_id);
        rest_buf_printf(b, ",\"version\":%d,", d->requirements_version);
        put_str(b, "decisionRequirementsName", d->requirements_name);
        rest_buf_printf(b, ",\"tenantId\":\"%s\",", REST_DEFAULT_TENANT);
        put_str(b, "resourceName", d->resource_name);
        rest_buf_puts(b, ",");
        put_key(b, "decisionRequirementsKey", d->requirements_key);
        rest_buf_puts(b, "}}");
    }
    rest_buf_puts(b, "]}");
}

/* ---- decisions --------------------------------------------------------------------------------
 */

static int check_tenant(json_t *o, const char *request, chute_error *err);

int rest_decode_evaluate_decision(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_EVALUATE_DECISION, body, len, out, err);
    if (rc != 0)
        return rc;
    json_t *doc = out->doc;
    const char *id;
    int64_t v;
    int has;
    if ((rc = get_string(doc, "decisionDefinitionId", &id, err)) != 0 ||
        (rc = get_int(doc, "decisionDefinitionKey", 1, INT64_MAX, &v, &has, err)) != 0)
        goto fail;
    /* Camunda 8.8's validation: one of the two, not both. */
    if (!id && !has) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "At least one of [decisionDefinitionId, decisionDefinitionKey] is "
                             "required.");
        goto fail;
    }
    if (id && has) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Only one of [decisionDefinitionId, decisionDefinitionKey] is "
                             "allowed.");
        goto fail;
    }
    out->decision_id = id ? id : "";
    out->decision_key = has ? v : 0;
    if ((rc = command_variables(out, err)) != 0 ||
        (rc = check_tenant(doc, "Evaluate Decision", err)) != 0)
        goto fail;
    return 0;
fail:
    command_free(out);
    return rc;
}

/* |text| as a JSON string member: a JSON document carried as text. */
static void put_text_doc(rest_buf *b, const char *name, const char *text)
{
    put_str(b, name, text ? text : "null");
}

void rest_encode_decision_evaluation(rest_buf *b, const chute_decision_evaluation *ev)
{
    const chute_decision_view *d = &ev->decision;
    rest_buf_puts(b, "{");
    put_str(b, "decisionDefinitionId", d->decision_id);
    rest_buf_puts(b, ",");
    put_str(b, "decisionDefinitionName", d->name);
    rest_buf_printf(b, ",\"decisionDefinitionVersion\":%d,", d->version);
    put_str(b, "decisionRequirementsId", d->requirements_id);
    rest_buf_puts(b, ",");
    put_text_doc(b, "output", ev->output);
    rest_buf_puts(b, ",");
    put_str(b, "failedDecisionDefinitionId", ev->failed_decision_id);
    rest_buf_puts(b, ",");
    put_str(b, "failureMessage", ev->failure_message);
    rest_buf_printf(b, ",\"tenantId\":\"%s\",", REST_DEFAULT_TENANT);
    put_key(b, "decisionDefinitionKey", d->key);
    rest_buf_puts(b, ",");
    put_key(b, "decisionRequirementsKey", d->requirements_key);
    rest_buf_puts(b, ",");
    put_key(b, "decisionInstanceKey", ev->key);
    rest_buf_puts(b, ",");
    put_key(b, "decisionEvaluationKey", ev->key);
    rest_buf_puts(b, ",\"evaluatedDecisions\":[");
    for (size_t k = 0; k < ev->nevaluated; k++) {
        const chute_evaluated_decision *e = &ev->evaluated[k];
        rest_buf_puts(b, k ? ",{" : "{");
        put_str(b, "decisionDefinitionId", e->decision_id);
        rest_buf_puts(b, ",");
        put_str(b, "decisionDefinitionName", e->name);
        rest_buf_printf(b, ",\"decisionDefinitionVersion\":%d,", e->version);
        put_str(b, "decisionDefinitionType", e->type);
        rest_buf_puts(b, ",");
        put_text_doc(b, "output", e->output);
        rest_buf_printf(b, ",\"tenantId\":\"%s\",\"matchedRules\":[", REST_DEFAULT_TENANT);
        for (size_t r = 0; r < e->nrules; r++) {
            const chute_matched_rule *mr = &e->rules[r];
            rest_buf_puts(b, r ? ",{" : "{");
            put_str(b, "ruleId", mr->id);
            rest_buf_printf(b, ",\"ruleIndex\":%d,\"evaluatedOutputs\":[", mr->index);
            for (size_t o = 0; o < mr->noutputs; o++) {
                rest_buf_puts(b, o ? ",{" : "{");
                put_str(b, "outputId", mr->outputs[o].id);
                rest_buf_puts(b, ",");
                put_str(b, "outputName", mr->outputs[o].name);
                rest_buf_puts(b, ",");
                put_text_doc(b, "outputValue", mr->outputs[o].value);
                rest_buf_puts(b, "}");
            }
            rest_buf_puts(b, "]}");
        }
        rest_buf_puts(b, "],\"evaluatedInputs\":[");
        for (size_t i = 0; i < e->ninputs; i++) {
            rest_buf_puts(b, i ? ",{" : "{");
            put_str(b, "inputId", e->inputs[i].id);
            rest_buf_puts(b, ",");
            put_str(b, "inputName", e->inputs[i].name);
            rest_buf_puts(b, ",");
            put_text_doc(b, "inputValue", e->inputs[i].value);
            rest_buf_puts(b, "}");
        }
        rest_buf_puts(b, "],");
        put_key(b, "decisionDefinitionKey", e->key);
        /* Zeebe's instance key of one evaluated decision: the
         * evaluation's key and its 1-based place. */
        rest_buf_printf(b, ",\"decisionEvaluationInstanceKey\":\"%" PRId64 "-%zu\"}", ev->key,
                        k + 1);
    }
    rest_buf_puts(b, "]}");
}

/* ---- process instances: commands ---------------------------------------------------------- */

/* A boolean member; |*out| untouched when absent or null. */
static int get_bool(json_t *o, const char *name, int *out, chute_error *err)
{
    json_t *v = member(o, name);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return chute_error_set(err, CHUTE_EINVAL, "Expected %s to be a boolean, but got %s", name,
                               jdoc_kind_name(v));
    *out = json_is_true(v);
    return 0;
}

/* tenantId while multi-tenancy is off: absent, "" or "<default>". */
static int check_tenant(json_t *o, const char *request, chute_error *err)
{
    const char *t;
    int rc = get_string(o, "tenantId", &t, err);
    if (rc != 0 || !t || !t[0] || strcmp(t, REST_DEFAULT_TENANT) == 0)
        return rc;
    return chute_error_set(err, CHUTE_EINVAL,
                           "Expected to handle request %s with tenant identifier '%.64s', but "
                           "multi-tenancy is disabled",
                           request, t);
}

int rest_decode_create_instance(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_CREATE_INSTANCE, body, len, out, err);
    if (rc != 0)
        return rc;
    json_t *doc = out->doc;
    const char *id;
    int64_t v;
    int has;
    if ((rc = get_string(doc, "processDefinitionId", &id, err)) != 0)
        goto fail;
    out->bpmn_process_id = id ? id : "";
    if ((rc = get_int(doc, "processDefinitionVersion", INT32_MIN, INT32_MAX, &v, &has, err)) != 0)
        goto fail;
    out->version = has ? (int32_t)v : -1;
    if ((rc = get_int(doc, "processDefinitionKey", INT64_MIN, INT64_MAX, &v, &has, err)) != 0)
        goto fail;
    out->process_definition_key = has ? v : 0;
    if ((rc = command_variables(out, err)) != 0)
        goto fail;
    if (!out->variables)
        out->variables = "";
    if ((rc = check_tenant(doc, "Create Process Instance", err)) != 0)
        goto fail;
    json_t *si = member(doc, "startInstructions");
    if (si && !json_is_array(si)) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected startInstructions to be an array, but got %s",
                             jdoc_kind_name(si));
        goto fail;
    }
    out->start_instructions = si ? json_array_size(si) : 0;
    if ((rc = get_bool(doc, "awaitCompletion", &out->await, err)) != 0)
        goto fail;
    if ((rc = get_names(doc, "fetchVariables", &out->fetch, &out->nfetch, err)) != 0)
        goto fail;
    out->fetch_names = out->fetch;
    if ((rc = get_int(doc, "requestTimeout", INT64_MIN, INT64_MAX, &v, &has, err)) != 0)
        goto fail;
    out->request_timeout_ms = has ? v : 0;
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_set_variables(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_SET_VARIABLES, body, len, out, err);
    if (rc != 0)
        return rc;
    if ((rc = command_variables(out, err)) != 0 ||
        (rc = get_bool(out->doc, "local", &out->local, err)) != 0) {
        command_free(out);
        return rc;
    }
    if (!out->variables)
        out->variables = "";
    return 0;
}

/* ---- process instances: modification and migration -------------------------------------- */

/* Array member |name| of |o| with at most REST_MAX_INSTRUCTIONS entries:
 * its size in |*n| (0 and |*arr| NULL when absent or null). */
static int get_array(json_t *o, const char *name, json_t **arr, size_t *n, chute_error *err)
{
    json_t *v = member(o, name);
    *arr = v;
    *n = 0;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return chute_error_set(err, CHUTE_EINVAL, "Expected %s to be an array, but got %s", name,
                               jdoc_kind_name(v));
    *n = json_array_size(v);
    if (*n > REST_MAX_INSTRUCTIONS)
        return chute_error_set(err, CHUTE_EINVAL, "Expected at most %d %s, but got %zu",
                               REST_MAX_INSTRUCTIONS, name, *n);
    return 0;
}

/* Entry |i| of the array |name|, which must be an object. */
static int get_entry(json_t *arr, const char *name, size_t i, json_t **out, chute_error *err)
{
    json_t *v = json_array_get(arr, i);
    if (!json_is_object(v))
        return chute_error_set(err, CHUTE_EINVAL, "Expected %s[%zu] to be an object, but got %s",
                               name, i, jdoc_kind_name(v));
    *out = v;
    return 0;
}

/* Keeps |text| (malloc'd) until command_free. */
static int keep_text(command *c, char *text, size_t room, chute_error *err)
{
    if (!c->texts) {
        c->texts = calloc(room ? room : 1, sizeof *c->texts);
        if (!c->texts) {
            free(text);
            return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        }
    }
    c->texts[c->ntexts++] = text;
    return 0;
}

static int decode_activation(command *out, json_t *a, size_t i, size_t *v, size_t room,
                             chute_error *err)
{
    command_activation *c = &out->activate[i];
    const char *id;
    int64_t k;
    int has, rc;
    if ((rc = get_string(a, "elementId", &id, err)) != 0)
        return rc;
    c->element_id = id ? id : "";
    if ((rc = get_int(a, "ancestorElementInstanceKey", -1, INT64_MAX, &k, &has, err)) != 0)
        return rc;
    c->ancestor_key = has ? k : -1;
    json_t *vi;
    size_t nv;
    if ((rc = get_array(a, "variableInstructions", &vi, &nv, err)) != 0)
        return rc;
    c->vars = &out->var_instructions[*v];
    c->nvars = nv;
    for (size_t j = 0; j < nv; j++) {
        command_variable_instruction *x = &out->var_instructions[(*v)++];
        json_t *e = NULL;
        const char *scope;
        char *text;
        if ((rc = get_entry(vi, "variableInstructions", j, &e, err)) != 0 ||
            (rc = get_string(e, "scopeId", &scope, err)) != 0 ||
            (rc = get_document(e, "variables", &text, &x->variables_len, err)) != 0)
            return rc;
        x->scope_id = scope ? scope : "";
        if (text && (rc = keep_text(out, text, room, err)) != 0)
            return rc;
        x->variables = text;
    }
    return 0;
}

int rest_decode_modification(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_MODIFY_INSTANCE, body, len, out, err);
    if (rc != 0)
        return rc;
    json_t *doc = out->doc, *act, *term, *move;
    size_t na, nt, nm;
    if ((rc = get_array(doc, "activateInstructions", &act, &na, err)) != 0 ||
        (rc = get_array(doc, "terminateInstructions", &term, &nt, err)) != 0 ||
        (rc = get_array(doc, "moveInstructions", &move, &nm, err)) != 0)
        goto fail;
    if (nm > 0) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected to modify the process instance with activate and "
                             "terminate instructions, but got %zu moveInstructions: Chute does "
                             "not run them (send a terminate and an activate instruction "
                             "instead)",
                             nm);
        goto fail;
    }
    /* Every variable instruction, counted first: one bound for them all. */
    size_t total = 0;
    for (size_t i = 0; i < na; i++) {
        json_t *a = NULL, *vi;
        size_t nv;
        if ((rc = get_entry(act, "activateInstructions", i, &a, err)) != 0 ||
            (rc = get_array(a, "variableInstructions", &vi, &nv, err)) != 0)
            goto fail;
        total += nv;
    }
    if (total > REST_MAX_INSTRUCTIONS) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected at most %d variableInstructions, but got %zu",
                             REST_MAX_INSTRUCTIONS, total);
        goto fail;
    }
    out->activate = calloc(na ? na : 1, sizeof *out->activate);
    out->var_instructions = calloc(total ? total : 1, sizeof *out->var_instructions);
    out->terminate = calloc(nt ? nt : 1, sizeof *out->terminate);
    if (!out->activate || !out->var_instructions || !out->terminate) {
        rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        goto fail;
    }
    size_t v = 0;
    for (size_t i = 0; i < na; i++) {
        if ((rc = decode_activation(out, json_array_get(act, i), i, &v, total, err)) != 0)
            goto fail;
        out->nactivate++;
    }
    for (size_t i = 0; i < nt; i++) {
        json_t *t = NULL;
        int64_t k;
        int has;
        if ((rc = get_entry(term, "terminateInstructions", i, &t, err)) != 0 ||
            (rc = get_int(t, "elementInstanceKey", 1, INT64_MAX, &k, &has, err)) != 0)
            goto fail;
        if (!has) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 member(t, "elementId")
                                     ? "Expected terminateInstructions[%zu] to name an "
                                       "elementInstanceKey, but it names an elementId: Chute "
                                       "terminates element instances by key"
                                     : "Expected terminateInstructions[%zu] to name an "
                                       "elementInstanceKey, but it has none",
                                 i);
            goto fail;
        }
        out->terminate[out->nterminate++] = k;
    }
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_migration(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_MIGRATE_INSTANCE, body, len, out, err);
    if (rc != 0)
        return rc;
    json_t *doc = out->doc, *maps;
    size_t n;
    int64_t k;
    int has;
    if ((rc = get_int(doc, "targetProcessDefinitionKey", 1, INT64_MAX, &k, &has, err)) != 0 ||
        (rc = get_array(doc, "mappingInstructions", &maps, &n, err)) != 0)
        goto fail;
    out->process_definition_key = has ? k : 0;
    out->mappings = calloc(n ? n : 1, sizeof *out->mappings);
    if (!out->mappings) {
        rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = NULL;
        const char *src, *dst;
        if ((rc = get_entry(maps, "mappingInstructions", i, &m, err)) != 0 ||
            (rc = get_string(m, "sourceElementId", &src, err)) != 0 ||
            (rc = get_string(m, "targetElementId", &dst, err)) != 0)
            goto fail;
        out->mappings[i].source_element_id = src ? src : "";
        out->mappings[i].target_element_id = dst ? dst : "";
    }
    out->nmappings = n;
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_signal(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_BROADCAST_SIGNAL, body, len, out, err);
    if (rc != 0)
        return rc;
    const char *name;
    if ((rc = get_string(out->doc, "signalName", &name, err)) != 0) {
        command_free(out);
        return rc;
    }
    out->signal_name = name ? name : "";
    return 0;
}

/* ---- messages ------------------------------------------------------------------------------- */

/* The members a publication and a correlation share. */
static int decode_message(command_kind kind, const char *body, size_t len, command *out,
                          chute_error *err)
{
    int rc = command_start(kind, body, len, out, err);
    if (rc != 0)
        return rc;
    json_t *doc = out->doc;
    const char *s;
    const char *request = kind == COMMAND_PUBLISH_MESSAGE ? "Publish Message" : "Correlate Message";
    if ((rc = get_string(doc, "name", &s, err)) != 0)
        goto fail;
    out->message_name = s ? s : "";
    if ((rc = get_string(doc, "correlationKey", &s, err)) != 0)
        goto fail;
    out->correlation_key = s ? s : "";
    out->message_id = "";
    if ((rc = command_variables(out, err)) != 0 || (rc = check_tenant(doc, request, err)) != 0)
        goto fail;
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_publish_message(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = decode_message(COMMAND_PUBLISH_MESSAGE, body, len, out, err);
    if (rc != 0)
        return rc;
    const char *id;
    int64_t v;
    int has;
    if ((rc = get_string(out->doc, "messageId", &id, err)) != 0 ||
        (rc = get_int(out->doc, "timeToLive", INT64_MIN, INT64_MAX, &v, &has, err)) != 0) {
        command_free(out);
        return rc;
    }
    out->message_id = id ? id : "";
    out->ttl_ms = has ? v : 0;
    return 0;
}

int rest_decode_correlate_message(const char *body, size_t len, command *out, chute_error *err)
{
    return decode_message(COMMAND_CORRELATE_MESSAGE, body, len, out, err);
}

void rest_encode_message(rest_buf *b, int64_t message_key, int correlation,
                         int64_t process_instance_key)
{
    rest_buf_puts(b, "{");
    put_key(b, "messageKey", message_key);
    rest_buf_printf(b, ",\"tenantId\":\"%s\"", REST_DEFAULT_TENANT);
    if (correlation) {
        rest_buf_puts(b, ",");
        put_key(b, "processInstanceKey", process_instance_key);
    }
    rest_buf_puts(b, "}");
}

/* ---- process instances: searches ---------------------------------------------------------- */

/* How a filter field is read, and where it goes in struct command_search. */
typedef enum filter_type {
    F_KEY,            /* a key: a string of digits or an integer, >= 1 */
    F_STRING,         /* a string */
    F_BOOL,           /* hasIncident: 1 or -1 */
    F_VERSION,        /* an int32, with has_version */
    F_INSTANCE_STATE, /* ACTIVE, COMPLETED, TERMINATED */
    F_INCIDENT_STATE, /* ACTIVE, RESOLVED */
    F_ERROR_TYPE,     /* one of Zeebe's incident types */
    F_TENANT,         /* "<default>" matches everything, any other tenant nothing */
    F_TASK_STATE,     /* a user task state: CREATED, or one no open task has */
    F_ASSIGNEE,       /* a string, or {"$exists": bool} */
    F_PRIORITY,       /* 0..100, with has_priority */
} filter_type;

typedef struct filter_field {
    const char *name;
    filter_type type;
    size_t offset;
} filter_field;

#define FIELD(name, type, member)                                                                  \
    {                                                                                              \
        name, type, offsetof(command_search, member)                                               \
    }

static const filter_field instance_fields[] = {
    FIELD("processInstanceKey", F_KEY, process_instance_key),
    FIELD("processDefinitionId", F_STRING, bpmn_process_id),
    FIELD("processDefinitionKey", F_KEY, process_definition_key),
    FIELD("processDefinitionVersion", F_VERSION, version),
    FIELD("state", F_INSTANCE_STATE, state),
    FIELD("hasIncident", F_BOOL, has_incident),
    FIELD("tenantId", F_TENANT, no_match),
    {NULL, 0, 0},
};

static const filter_field element_fields[] = {
    FIELD("processInstanceKey", F_KEY, process_instance_key),
    FIELD("processDefinitionKey", F_KEY, process_definition_key),
    FIELD("processDefinitionId", F_STRING, bpmn_process_id),
    FIELD("elementInstanceKey", F_KEY, element_instance_key),
    FIELD("elementId", F_STRING, element_id),
    FIELD("type", F_STRING, element_type),
    FIELD("state", F_INSTANCE_STATE, state),
    FIELD("hasIncident", F_BOOL, has_incident),
    FIELD("incidentKey", F_KEY, incident_key),
    FIELD("elementInstanceScopeKey", F_KEY, scope_key),
    FIELD("tenantId", F_TENANT, no_match),
    {NULL, 0, 0},
};

static const filter_field variable_fields[] = {
    FIELD("processInstanceKey", F_KEY, process_instance_key),
    FIELD("scopeKey", F_KEY, scope_key),
    FIELD("name", F_STRING, name),
    FIELD("variableKey", F_KEY, variable_key),
    FIELD("tenantId", F_TENANT, no_match),
    {NULL, 0, 0},
};

static const filter_field incident_fields[] = {
    FIELD("incidentKey", F_KEY, incident_key),
    FIELD("processInstanceKey", F_KEY, process_instance_key),
    FIELD("processDefinitionKey", F_KEY, process_definition_key),
    FIELD("processDefinitionId", F_STRING, bpmn_process_id),
    FIELD("errorType", F_ERROR_TYPE, error_type),
    FIELD("elementId", F_STRING, element_id),
    FIELD("elementInstanceKey", F_KEY, element_instance_key),
    FIELD("jobKey", F_KEY, job_key),
    FIELD("state", F_INCIDENT_STATE, incident_state),
    FIELD("tenantId", F_TENANT, no_match),
    {NULL, 0, 0},
};

static const filter_field user_task_fields[] = {
    FIELD("state", F_TASK_STATE, no_match),
    FIELD("assignee", F_ASSIGNEE, assignee),
    FIELD("processInstanceKey", F_KEY, process_instance_key),
    FIELD("processDefinitionKey", F_KEY, process_definition_key),
    FIELD("processDefinitionId", F_STRING, bpmn_process_id),
    FIELD("elementId", F_STRING, element_id),
    FIELD("elementInstanceKey", F_KEY, element_instance_key),
    FIELD("userTaskKey", F_KEY, user_task_key),
    FIELD("name", F_STRING, name),
    FIELD("candidateGroup", F_STRING, candidate_group),
    FIELD("candidateUser", F_STRING, candidate_user),
    FIELD("priority", F_PRIORITY, priority),
    FIELD("tenantId", F_TENANT, no_match),
    {NULL, 0, 0},
};

#undef FIELD

/* The states of Camunda's user tasks. Chute keeps open tasks only, and
 * they are CREATED: a filter on any other state matches nothing. */
static const char *const user_task_states[] = {
    "CREATING",  "CREATED",   "ASSIGNING", "UPDATING", "COMPLETING",
    "COMPLETED", "CANCELING", "CANCELED",  "FAILED",   NULL,
};

/* The incident types a Camunda client may filter on (Zeebe's list);
 * Chute raises only some of them, the others match nothing. */
static const char *const error_types[] = {
    "JOB_NO_RETRIES",
    "UNHANDLED_ERROR_EVENT",
    "CONDITION_ERROR",
    "EXTRACT_VALUE_ERROR",
    "IO_MAPPING_ERROR",
    "CALLED_ELEMENT_ERROR",
    "MESSAGE_SIZE_EXCEEDED",
    "DECISION_EVALUATION_ERROR",
    "UNKNOWN",
    NULL,
};

/* "a, b, c" of the names of |fields|, for messages. */
static void field_names(const filter_field *fields, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = '\0';
    for (const filter_field *f = fields; f->name && w < cap; f++) {
        int k = snprintf(buf + w, cap - w, "%s%s", w ? ", " : "", f->name);
        if (k < 0)
            break;
        w += (size_t)k;
    }
}

/* The value of filter member |name|: |v| itself, or the operand of
 * {"$eq": value}; NULL (with rc 0) for a null value. With |exists|, the
 * filter may instead be {"$exists": bool}: |*exists| is then 1 or -1 and
 * |*out| NULL. */
static int filter_operand(const char *name, json_t *v, json_t **out, int *exists, chute_error *err)
{
    *out = NULL;
    if (json_is_object(v)) {
        const char *op, *other = NULL;
        json_t *arg, *eq = NULL, *ex = NULL;
        json_object_foreach(v, op, arg)
        {
            if (strcmp(op, "$eq") == 0) {
                eq = arg;
            } else if (exists && strcmp(op, "$exists") == 0) {
                ex = arg;
            } else {
                other = op;
                break;
            }
        }
        if (!other && ex && !eq) {
            if (!json_is_boolean(ex))
                return chute_error_set(err, CHUTE_EINVAL,
                                       "Expected filter.%s.$exists to be a boolean, but got %s",
                                       name, jdoc_kind_name(ex));
            *exists = json_is_true(ex) ? 1 : -1;
            return 0;
        }
        if (other || !eq || ex)
            return chute_error_set(err, CHUTE_EINVAL,
                                   "Expected filter.%s to be a value%s or {\"$eq\": value}, but it "
                                   "%s%.32s%s, which Chute does not support",
                                   name, exists ? ", {\"$exists\": bool}" : "",
                                   other ? "uses '"
                                   : ex  ? "uses both $eq and $exists"
                                         : "is an empty object",
                                   other ? other : "", other ? "'" : "");
        v = eq;
    }
    if (!json_is_null(v))
        *out = v;
    return 0;
}

static int filter_one(const filter_field *f, json_t *v, command_search *s, chute_error *err)
{
    char *at = (char *)s + f->offset;
    json_t *holder = json_object();
    if (!holder)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    /* The value is checked by the same helpers as body members, so the
     * messages name it the same way ("filter.state"). */
    char name[64];
    snprintf(name, sizeof name, "filter.%s", f->name);
    json_object_set(holder, name, v);
    int rc = 0;
    int64_t x;
    int has;
    const char *str = NULL;
    switch (f->type) {
    case F_KEY:
        if ((rc = get_int(holder, name, 1, INT64_MAX, &x, &has, err)) == 0)
            *(int64_t *)(void *)at = x;
        break;
    case F_VERSION:
        if ((rc = get_int(holder, name, INT32_MIN, INT32_MAX, &x, &has, err)) == 0) {
            s->version = (int32_t)x;
            s->has_version = 1;
        }
        break;
    case F_PRIORITY:
        if ((rc = get_int(holder, name, 0, 100, &x, &has, err)) == 0) {
            s->priority = (int32_t)x;
            s->has_priority = 1;
        }
        break;
    case F_BOOL: {
        int b = 0;
        if ((rc = get_bool(holder, name, &b, err)) == 0)
            s->has_incident = b ? 1 : -1;
        break;
    }
    case F_STRING:
    case F_ERROR_TYPE:
    case F_INSTANCE_STATE:
    case F_INCIDENT_STATE:
    case F_TENANT:
    case F_TASK_STATE:
    case F_ASSIGNEE:
        rc = get_string(holder, name, &str, err);
        break;
    }
    if (rc != 0 || !str) {
        json_decref(holder);
        return rc;
    }
    /* |str| lives in |v|, which the document holds. */
    switch (f->type) {
    case F_STRING:
    case F_ASSIGNEE:
        *(const char **)(void *)at = str;
        break;
    case F_TASK_STATE: {
        size_t i = 0;
        while (user_task_states[i] && strcmp(user_task_states[i], str) != 0)
            i++;
        if (!user_task_states[i])
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected %s to be a user task state (CREATING, CREATED, "
                                 "ASSIGNING, UPDATING, COMPLETING, COMPLETED, CANCELING, "
                                 "CANCELED, FAILED), but got '%.64s'",
                                 name, str);
        else if (strcmp(str, "CREATED") != 0)
            s->no_match = 1; /* Chute keeps open tasks only, and they are CREATED */
        break;
    }
    case F_ERROR_TYPE: {
        size_t i = 0;
        while (error_types[i] && strcmp(error_types[i], str) != 0)
            i++;
        if (!error_types[i])
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected %s to be an incident type (JOB_NO_RETRIES, "
                                 "UNHANDLED_ERROR_EVENT, CONDITION_ERROR, EXTRACT_VALUE_ERROR, "
                                 "IO_MAPPING_ERROR, CALLED_ELEMENT_ERROR, MESSAGE_SIZE_EXCEEDED, "
                                 "DECISION_EVALUATION_ERROR, UNKNOWN), but got '%.64s'",
                                 name, str);
        else
            s->error_type = str;
        break;
    }
    case F_INSTANCE_STATE:
        for (int st = CHUTE_INSTANCE_ACTIVE; st <= CHUTE_INSTANCE_TERMINATED; st++)
            if (strcmp(str, chute_instance_state_name((chute_instance_state)st)) == 0)
                s->state = (chute_instance_state)st;
        if (!s->state)
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected %s to be ACTIVE, COMPLETED or TERMINATED, but got "
                                 "'%.64s'",
                                 name, str);
        break;
    case F_INCIDENT_STATE:
        if (strcmp(str, "ACTIVE") == 0)
            s->incident_state = 1;
        else if (strcmp(str, "RESOLVED") == 0)
            s->incident_state = 2;
        else
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected %s to be ACTIVE or RESOLVED (the states of Chute's "
                                 "incidents), but got '%.64s'",
                                 name, str);
        break;
    case F_TENANT:
        if (strcmp(str, REST_DEFAULT_TENANT) != 0)
            s->no_match = 1;
        break;
    default:
        break;
    }
    json_decref(holder);
    return rc;
}

static int decode_search(command_kind kind, const filter_field *fields, const char *what,
                         const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(kind, body, len, out, err);
    if (rc != 0)
        return rc;
    command_search *s = &out->search;
    json_t *filter = member(out->doc, "filter");
    json_t *page = member(out->doc, "page");
    json_t *sort = member(out->doc, "sort");
    s->limit = REST_SEARCH_DEFAULT_LIMIT;
    if (filter && !json_is_object(filter)) {
        rc = chute_error_set(err, CHUTE_EINVAL, "Expected filter to be an object, but got %s",
                             jdoc_kind_name(filter));
        goto fail;
    }
    if (sort && !json_is_array(sort)) {
        rc = chute_error_set(err, CHUTE_EINVAL, "Expected sort to be an array, but got %s",
                             jdoc_kind_name(sort));
        goto fail;
    }
    if (filter) {
        const char *k;
        json_t *v;
        json_object_foreach(filter, k, v)
        {
            const filter_field *f = fields;
            while (f->name && strcmp(f->name, k) != 0)
                f++;
            if (!f->name) {
                char names[512];
                field_names(fields, names, sizeof names);
                rc = chute_error_set(err, CHUTE_EINVAL,
                                     "Expected the filter of %s to use only %s, but it uses "
                                     "'%.64s', which Chute does not support",
                                     what, names, k);
                goto fail;
            }
            json_t *operand;
            int exists = 0;
            if ((rc = filter_operand(k, v, &operand, f->type == F_ASSIGNEE ? &exists : NULL,
                                     err)) != 0)
                goto fail;
            if (exists > 0)
                s->assigned = 1; /* assigned to anyone */
            else if (exists < 0)
                s->assignee = ""; /* unassigned only */
            if (operand && (rc = filter_one(f, operand, s, err)) != 0)
                goto fail;
        }
    }
    if (page) {
        int64_t x;
        int has;
        if (!json_is_object(page)) {
            rc = chute_error_set(err, CHUTE_EINVAL, "Expected page to be an object, but got %s",
                                 jdoc_kind_name(page));
            goto fail;
        }
        if (member(page, "after") || member(page, "before")) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected page to use from and limit: Chute does not support "
                                 "cursors (after, before)");
            goto fail;
        }
        if ((rc = get_int(page, "from", 0, REST_SEARCH_MAX_FROM, &x, &has, err)) != 0)
            goto fail;
        if (has)
            s->from = (size_t)x;
        if ((rc = get_int(page, "limit", 1, REST_SEARCH_MAX_LIMIT, &x, &has, err)) != 0)
            goto fail;
        if (has)
            s->limit = (size_t)x;
    }
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_search_instances(const char *body, size_t len, command *out, chute_error *err)
{
    return decode_search(COMMAND_SEARCH_INSTANCES, instance_fields, "process instances", body, len,
                         out, err);
}

int rest_decode_search_elements(const char *body, size_t len, command *out, chute_error *err)
{
    return decode_search(COMMAND_SEARCH_ELEMENTS, element_fields, "element instances", body, len,
                         out, err);
}

int rest_decode_search_variables(const char *body, size_t len, command *out, chute_error *err)
{
    return decode_search(COMMAND_SEARCH_VARIABLES, variable_fields, "variables", body, len, out,
                         err);
}

int rest_decode_search_incidents(const char *body, size_t len, command *out, chute_error *err)
{
    return decode_search(COMMAND_SEARCH_INCIDENTS, incident_fields, "incidents", body, len, out,
                         err);
}

int rest_decode_search_user_tasks(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = decode_search(COMMAND_SEARCH_USER_TASKS, user_task_fields, "user tasks", body, len,
                           out, err);
    if (rc != 0)
        return rc;
    command_search *s = &out->search;
    if (s->user_task_key && s->element_instance_key && s->user_task_key != s->element_instance_key)
        s->no_match = 1; /* a user task's key is its element instance's */
    return 0;
}

/* ---- user tasks ---------------------------------------------------------------------- */

/* action: Camunda hands it to task listeners; Chute has none and only
 * checks its type. */
static int check_action(json_t *doc, chute_error *err)
{
    const char *action;
    return get_string(doc, "action", &action, err);
}

int rest_decode_user_task_assignment(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_ASSIGN_USER_TASK, body, len, out, err);
    if (rc != 0)
        return rc;
    int allow = 1;
    const char *assignee;
    if ((rc = get_string(out->doc, "assignee", &assignee, err)) != 0 ||
        (rc = get_bool(out->doc, "allowOverride", &allow, err)) != 0 ||
        (rc = check_action(out->doc, err)) != 0)
        goto fail;
    if (!assignee || !assignee[0]) {
        /* Camunda's words: unassigning is DELETE .../assignee. */
        rc = chute_error_set(err, CHUTE_EINVAL, "No assignee provided.");
        goto fail;
    }
    out->assignee = assignee;
    out->no_override = !allow;
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_user_task_completion(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_COMPLETE_USER_TASK, body, len, out, err);
    if (rc == 0 &&
        ((rc = command_variables(out, err)) != 0 || (rc = check_action(out->doc, err)) != 0))
        command_free(out);
    return rc;
}

/* ---- process instances: answers ------------------------------------------------------------ */

void rest_buf_iso_time(rest_buf *b, int64_t ms)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int milli = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        rest_buf_puts(b, "null");
        return;
    }
    rest_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
}

static void put_time(rest_buf *b, const char *name, int64_t ms)
{
    rest_buf_printf(b, ",\"%s\":", name);
    rest_buf_iso_time(b, ms);
}

static void put_bool(rest_buf *b, const char *name, int v)
{
    rest_buf_printf(b, ",\"%s\":%s", name, v ? "true" : "false");
}

void rest_encode_created_instance(rest_buf *b, const chute_instance_view *inst, int with_variables)
{
    rest_buf_puts(b, "{");
    put_str(b, "processDefinitionId", inst->bpmn_process_id);
    rest_buf_printf(b, ",\"processDefinitionVersion\":%" PRId32 ",\"tenantId\":\"%s\",",
                    inst->version, REST_DEFAULT_TENANT);
    if (with_variables)
        put_doc(b, "variables", inst->variables, inst->variables_len);
    else
        rest_buf_puts(b, "\"variables\":{}");
    rest_buf_puts(b, ",");
    put_key(b, "processDefinitionKey", inst->process_definition_key);
    rest_buf_puts(b, ",");
    put_key(b, "processInstanceKey", inst->key);
    rest_buf_puts(b, "}");
}

void rest_encode_instance(rest_buf *b, const chute_instance_view *inst)
{
    rest_buf_puts(b, "{");
    put_key(b, "processInstanceKey", inst->key);
    rest_buf_puts(b, ",");
    put_str(b, "processDefinitionId", inst->bpmn_process_id);
    rest_buf_printf(b, ",\"processDefinitionVersion\":%" PRId32 ",", inst->version);
    put_key(b, "processDefinitionKey", inst->process_definition_key);
    rest_buf_puts(b, ",");
    /* Camunda shows the id where a process has no name. */
    put_str(b, "processDefinitionName",
            inst->process_name && *inst->process_name ? inst->process_name : inst->bpmn_process_id);
    rest_buf_puts(b, ",");
    if (inst->parent_process_instance_key) {
        put_key(b, "parentProcessInstanceKey", inst->parent_process_instance_key);
        rest_buf_puts(b, ",");
        put_key(b, "parentElementInstanceKey", inst->parent_element_instance_key);
        rest_buf_puts(b, ",");
    }
    put_str(b, "state", chute_instance_state_name(inst->state));
    put_bool(b, "hasIncident", inst->has_incident);
    put_time(b, "startDate", inst->started_at);
    if (inst->ended_at)
        put_time(b, "endDate", inst->ended_at);
    rest_buf_puts(b, ",\"tenantId\":\"" REST_DEFAULT_TENANT "\"}");
}

void rest_encode_element(rest_buf *b, const chute_element_view *el)
{
    rest_buf_puts(b, "{");
    put_key(b, "elementInstanceKey", el->key);
    rest_buf_puts(b, ",");
    put_key(b, "processInstanceKey", el->process_instance_key);
    rest_buf_puts(b, ",");
    put_key(b, "processDefinitionKey", el->process_definition_key);
    rest_buf_puts(b, ",");
    put_str(b, "processDefinitionId", el->bpmn_process_id);
    rest_buf_puts(b, ",");
    put_str(b, "elementId", el->element_id);
    rest_buf_puts(b, ",");
    put_str(b, "elementName", el->element_name);
    rest_buf_puts(b, ",");
    put_str(b, "type", el->element_type);
    rest_buf_puts(b, ",");
    put_str(b, "state", chute_instance_state_name(el->state));
    put_time(b, "startDate", el->started_at);
    if (el->ended_at)
        put_time(b, "endDate", el->ended_at);
    if (el->incident_key) {
        rest_buf_puts(b, ",");
        put_key(b, "incidentKey", el->incident_key);
    }
    put_bool(b, "hasIncident", el->incident_key != 0);
    rest_buf_puts(b, ",\"tenantId\":\"" REST_DEFAULT_TENANT "\"}");
}

void rest_encode_variable(rest_buf *b, const chute_variable_view *v)
{
    rest_buf_puts(b, "{");
    put_key(b, "variableKey", v->key);
    rest_buf_puts(b, ",");
    put_str(b, "name", v->name);
    rest_buf_puts(b, ",\"value\":");
    rest_buf_json_string(b, v->value ? v->value : "null", v->value ? v->value_len : 4);
    rest_buf_puts(b, ",");
    put_key(b, "scopeKey", v->scope_key);
    rest_buf_puts(b, ",");
    put_key(b, "processInstanceKey", v->process_instance_key);
    rest_buf_puts(b, ",\"tenantId\":\"" REST_DEFAULT_TENANT "\",\"isTruncated\":false}");
}

void rest_encode_process_incident(rest_buf *b, const chute_incident_view *inc)
{
    const char *type = chute_incident_type_name(inc->type);
    rest_buf_puts(b, "{");
    put_key(b, "incidentKey", inc->key);
    rest_buf_puts(b, ",");
    put_key(b, "processDefinitionKey", inc->process_definition_key);
    rest_buf_puts(b, ",");
    put_str(b, "processDefinitionId", inc->bpmn_process_id);
    rest_buf_puts(b, ",");
    put_key(b, "processInstanceKey", inc->process_instance_key);
    rest_buf_puts(b, ",");
    put_str(b, "errorType", type[0] ? type : "UNKNOWN");
    rest_buf_puts(b, ",");
    put_str(b, "errorMessage", inc->message);
    rest_buf_puts(b, ",");
    put_str(b, "elementId", inc->element_id);
    rest_buf_puts(b, ",");
    put_key(b, "elementInstanceKey", inc->element_instance_key);
    if (inc->job_key) {
        rest_buf_puts(b, ",");
        put_key(b, "jobKey", inc->job_key);
    }
    put_time(b, "creationTime", inc->created_at);
    rest_buf_printf(b, ",\"state\":\"%s\",\"tenantId\":\"" REST_DEFAULT_TENANT "\"}",
                    inc->resolved ? "RESOLVED" : "ACTIVE");
}

/* All digits: a form's key; anything else a form's external reference. */
static int is_key_text(const char *s)
{
    if (!s || !*s || strlen(s) > 19)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static void put_list(rest_buf *b, const char *name, const char *list)
{
    rest_buf_printf(b, ",\"%s\":", name);
    if (list && list[0])
        rest_buf_puts(b, list);
    else
        rest_buf_puts(b, "[]");
}

void rest_encode_user_task(rest_buf *b, const chute_user_task_view *t)
{
    rest_buf_puts(b, "{");
    put_key(b, "userTaskKey", t->key);
    if (t->name && t->name[0]) {
        rest_buf_puts(b, ",");
        put_str(b, "name", t->name);
    }
    rest_buf_puts(b, ",\"state\":\"CREATED\"");
    if (t->assignee && t->assignee[0]) {
        rest_buf_puts(b, ",");
        put_str(b, "assignee", t->assignee);
    }
    rest_buf_puts(b, ",");
    put_str(b, "elementId", t->element_id);
    rest_buf_puts(b, ",");
    put_key(b, "elementInstanceKey", t->key);
    put_list(b, "candidateGroups", t->candidate_groups);
    put_list(b, "candidateUsers", t->candidate_users);
    rest_buf_puts(b, ",");
    put_str(b, "processDefinitionId", t->bpmn_process_id);
    rest_buf_puts(b, ",");
    put_key(b, "processDefinitionKey", t->process_definition_key);
    rest_buf_puts(b, ",");
    put_key(b, "processInstanceKey", t->process_instance_key);
    if (t->form_key && t->form_key[0]) {
        rest_buf_puts(b, ",");
        if (is_key_text(t->form_key))
            rest_buf_printf(b, "\"formKey\":\"%s\"", t->form_key);
        else
            put_str(b, "externalFormReference", t->form_key);
    }
    put_time(b, "creationDate", t->created_at);
    if (t->due_date && t->due_date[0]) {
        rest_buf_puts(b, ",");
        put_str(b, "dueDate", t->due_date);
    }
    if (t->follow_up_date && t->follow_up_date[0]) {
        rest_buf_puts(b, ",");
        put_str(b, "followUpDate", t->follow_up_date);
    }
    rest_buf_printf(b, ",\"priority\":%" PRId32 ",\"tenantId\":\"" REST_DEFAULT_TENANT "\"}",
                    t->priority);
}

/* ---- ZenBPM's job endpoints ------------------------------------------------------------- */

int rest_decode_zen_list_jobs(const char *query, command *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = COMMAND_ZEN_LIST_JOBS;
    command_zen_list *z = &out->zen;
    char v[32];
    long long pik;
    int rc;
    char *type = malloc(CHUTE_TYPE_MAX + 1);
    char *who = malloc(CHUTE_WORKER_MAX + 1);
    char **texts = malloc(2 * sizeof *texts);
    if (!type || !who || !texts) {
        free(type);
        free(who);
        free(texts);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    out->texts = texts;
    out->texts[out->ntexts++] = type;
    out->texts[out->ntexts++] = who;
    if ((rc = rest_query_get(query, "jobType", type, CHUTE_TYPE_MAX + 1, err)) < 0)
        goto fail;
    z->type = rc == 1 && *type ? type : NULL;
    if ((rc = rest_query_get(query, "assignee", who, CHUTE_WORKER_MAX + 1, err)) < 0)
        goto fail;
    z->assignee = rc == 1 && *who ? who : NULL;
    if ((rc = query_number(query, "page", 1, 1000000000, 1, &z->page, err)) != 0 ||
        (rc = query_number(query, "size", 1, REST_ZEN_MAX_SIZE, REST_ZEN_DEFAULT_SIZE, &z->size,
                           err)) != 0 ||
        (rc = query_number(query, "processInstanceKey", 1, INT64_MAX, 0, &pik, err)) != 0)
        goto fail;
    z->process_instance_key = pik;
    if ((rc = rest_query_get(query, "state", v, sizeof v, err)) < 0)
        goto fail;
    if (rc == 1 && v[0]) {
        static const char *const names[] = {"active", "completed", "terminated", "failed"};
        static const command_zen_state states[] = {COMMAND_ZEN_ACTIVE, COMMAND_ZEN_COMPLETED,
                                                   COMMAND_ZEN_TERMINATED, COMMAND_ZEN_FAILED};
        for (size_t i = 0; i < 4; i++)
            if (strcasecmp(v, names[i]) == 0)
                z->state = states[i];
        if (!z->state) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected state to be one of active, completed, terminated, "
                                 "failed, but got '%.31s'",
                                 v);
            goto fail;
        }
    }
    if ((rc = rest_query_get(query, "sortBy", v, sizeof v, err)) < 0)
        goto fail;
    if (rc == 1 && v[0]) {
        if (strcmp(v, "createdAt") == 0)
            z->sort_by = COMMAND_ZEN_SORT_CREATED_AT;
        else if (strcmp(v, "key") == 0)
            z->sort_by = COMMAND_ZEN_SORT_KEY;
        else if (strcmp(v, "type") == 0)
            z->sort_by = COMMAND_ZEN_SORT_TYPE;
        else if (strcmp(v, "state") == 0)
            z->sort_by = COMMAND_ZEN_SORT_STATE;
        else {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected sortBy to be one of createdAt, key, type, state, but "
                                 "got '%.31s'",
                                 v);
            goto fail;
        }
    }
    if ((rc = rest_query_get(query, "sortOrder", v, sizeof v, err)) < 0)
        goto fail;
    if (rc == 1 && v[0]) {
        if (strcasecmp(v, "desc") == 0)
            z->descending = 1;
        else if (strcasecmp(v, "asc") != 0) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected sortOrder to be asc or desc, but got '%.31s'", v);
            goto fail;
        }
    }
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_zen_complete(const char *body, size_t len, command *out, chute_error *err)
{
    return rest_decode_completion(body, len, out, err);
}

int rest_decode_zen_fail(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_FAIL, body, len, out, err);
    if (rc != 0)
        return rc;
    const char *msg, *code;
    if ((rc = get_string(out->doc, "message", &msg, err)) != 0 ||
        (rc = get_string(out->doc, "errorCode", &code, err)) != 0 ||
        (rc = command_variables(out, err)) != 0)
        goto fail;
    out->error_message = msg ? msg : "";
    if (code && *code) {
        out->kind = COMMAND_THROW_ERROR;
        out->error_code = code;
    } else {
        out->retries = 0; /* an incident: ZenBPM does not retry */
    }
    return 0;
fail:
    command_free(out);
    return rc;
}

int rest_decode_zen_assign(const char *body, size_t len, command *out, chute_error *err)
{
    int rc = command_start(COMMAND_ASSIGN_JOB, body, len, out, err);
    if (rc != 0)
        return rc;
    const char *who;
    if ((rc = get_string(out->doc, "assignee", &who, err)) != 0)
        goto fail;
    if (!who || !*who) {
        rc = chute_error_set(err, CHUTE_EINVAL, "Expected an assignee, but none was given");
        goto fail;
    }
    if (strlen(who) > CHUTE_WORKER_MAX) {
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected an assignee of at most %d bytes, but it is %zu bytes",
                             CHUTE_WORKER_MAX, strlen(who));
        goto fail;
    }
    out->assignee = who;
    return 0;
fail:
    command_free(out);
    return rc;
}

void rest_encode_zen_job(rest_buf *b, const chute_job_view *j, const char *assignee)
{
    rest_buf_printf(b, "{\"key\":%" PRId64 ",", j->key);
    put_str(b, "type", j->type);
    rest_buf_puts(b, ",");
    put_str(b, "state", command_zen_state_name(j->state));
    rest_buf_puts(b, ",");
    put_str(b, "elementId", j->process.element_id);
    rest_buf_printf(b, ",\"elementInstanceKey\":%" PRId64 ",\"processInstanceKey\":%" PRId64 ",",
                    j->process.element_instance_key, j->process.process_instance_key);
    put_doc(b, "variables", j->variables, j->variables_len);
    put_time(b, "createdAt", j->created_at);
    if (!assignee || !*assignee)
        assignee = j->worker;
    if (assignee && *assignee) {
        rest_buf_puts(b, ",");
        put_str(b, "assignee", assignee);
    } else {
        rest_buf_puts(b, ",\"assignee\":null");
    }
    if (j->error_message && *j->error_message) {
        rest_buf_puts(b, ",");
        put_str(b, "errorMessage", j->error_message);
    }
    rest_buf_puts(b, "}");
}

int rest_zen_error(const char *code, const char *message, char **out, size_t *len)
{
    rest_buf b;
    rest_buf_init(&b, 0);
    rest_buf_puts(&b, "{");
    put_str(&b, "code", code);
    rest_buf_puts(&b, ",");
    put_str(&b, "message", message);
    rest_buf_puts(&b, "}");
    return rest_buf_finish(&b, out, len);
}
