/*
 * Codec tests. Requests are built and packed with protobuf-c (as a client
 * would send them) and decoded with the codec; responses are encoded by the
 * codec and unpacked with protobuf-c (as a client would read them).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "chute_codec.h"
#include "gateway_codec.h"
#include "grpc_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The test binary is linked with -Wl,--wrap=malloc,--wrap=realloc (see
 * CMakeLists.txt): every malloc/realloc of the codec (a static library)
 * goes through these, so a test can check the largest single allocation the
 * codec asked for. Allocations inside zlib itself (its ~40 KiB of state and
 * window) are not seen; they do not depend on the input. */
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
static size_t alloc_max; /* largest request since the last reset */

void *__wrap_malloc(size_t n)
{
    if (n > alloc_max)
        alloc_max = n;
    return __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (n > alloc_max)
        alloc_max = n;
    return __real_realloc(p, n);
}

/* A packed message in a malloc'd buffer. */
typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static bytes pack(const ProtobufCMessage *m)
{
    bytes b;
    b.n = protobuf_c_message_get_packed_size(m);
    b.p = malloc(b.n ? b.n : 1);
    assert_non_null(b.p);
    assert_int_equal(protobuf_c_message_pack(m, b.p), b.n);
    return b;
}

/* Appends raw bytes to |b|. */
static void append(bytes *b, const void *more, size_t n)
{
    b->p = realloc(b->p, b->n + n);
    assert_non_null(b->p);
    memcpy(b->p + b->n, more, n);
    b->n += n;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" to contain \"%s\"", hay, needle);
}

/* Checks a framed buffer's prefix and returns the message bytes. */
static const uint8_t *unframe(const uint8_t *buf, size_t len, size_t *msg_len)
{
    int compressed;
    uint32_t n;
    assert_true(len >= CODEC_FRAME_PREFIX);
    assert_int_equal(codec_frame_parse_prefix(buf, &compressed, &n, NULL), 0);
    assert_int_equal(compressed, 0);
    assert_int_equal(n, len - CODEC_FRAME_PREFIX);
    *msg_len = n;
    return buf + CODEC_FRAME_PREFIX;
}

/* ---- framing ------------------------------------------------------------------ */

static void test_prefix(void **state)
{
    (void)state;
    uint8_t p[5];
    int c;
    uint32_t n;
    chute_error err;

    codec_frame_write_prefix(p, 0, 0x01020304);
    assert_memory_equal(p, "\x00\x01\x02\x03\x04", 5);
    assert_int_equal(codec_frame_parse_prefix(p, &c, &n, &err), 0);
    assert_int_equal(c, 0);
    assert_int_equal(n, 0x01020304);
    codec_frame_write_prefix(p, 1, 0xffffffffu);
    assert_int_equal(codec_frame_parse_prefix(p, &c, &n, &err), 0);
    assert_int_equal(c, 1);
    assert_int_equal(n, 0xffffffffu);
    p[0] = 2;
    assert_int_equal(codec_frame_parse_prefix(p, &c, &n, &err), CHUTE_EINVAL);
    assert_contains(err.message, "compressed flag 0 or 1");

    codec_frame_empty(p);
    assert_memory_equal(p, "\x00\x00\x00\x00\x00", 5);
}

/* Three messages of 0, 10 and 5000 bytes, back to back, framed. */
static bytes three_messages(void)
{
    bytes s = {NULL, 0};
    static const size_t sizes[3] = {0, 10, 5000};
    for (size_t i = 0; i < 3; i++) {
        uint8_t p[5];
        codec_frame_write_prefix(p, 0, (uint32_t)sizes[i]);
        append(&s, p, 5);
        uint8_t *body = malloc(sizes[i] + 1);
        for (size_t k = 0; k < sizes[i]; k++)
            body[k] = (uint8_t)(i * 31 + k);
        append(&s, body, sizes[i]);
        free(body);
    }
    return s;
}

static void check_three(const bytes *got, size_t count)
{
    static const size_t sizes[3] = {0, 10, 5000};
    assert_int_equal(count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(got[i].n, sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            assert_int_equal(got[i].p[k], (uint8_t)(i * 31 + k));
    }
}

/* Feeds |s| in chunks whose sizes cycle through |chunks| and collects the
 * messages (copied, since they only live until the next feed). */
static size_t feed_in_chunks(const bytes *s, const size_t *chunks, size_t nchunks, bytes *got,
                             size_t max_got)
{
    codec_frame_reader r;
    size_t count = 0, pos = 0, ci = 0;

    codec_frame_reader_init(&r, 0);
    while (pos < s->n) {
        size_t n = chunks[ci++ % nchunks];
        if (n > s->n - pos)
            n = s->n - pos;
        const uint8_t *data = s->p + pos;
        size_t left = n;
        for (;;) {
            size_t used;
            codec_frame msg;
            chute_error err;
            int rc = codec_frame_reader_feed(&r, data, left, &used, &msg, &err);
            assert_true(rc >= 0);
            assert_true(used <= left);
            data += used;
            left -= used;
            if (rc == 0) {
                assert_int_equal(left, 0);
                break;
            }
            assert_true(count < max_got);
            assert_int_equal(msg.compressed, 0);
            got[count].n = msg.len;
            got[count].p = malloc(msg.len + 1);
            memcpy(got[count].p, msg.data, msg.len);
            count++;
        }
        pos += n;
    }
    assert_false(codec_frame_reader_pending(&r));
    codec_frame_reader_free(&r);
    return count;
}

static void free_got(bytes *got, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(got[i].p);
}

static void test_reader_byte_by_byte(void **state)
{
    (void)state;
    bytes s = three_messages();
    bytes got[4];
    const size_t one = 1;
    size_t n = feed_in_chunks(&s, &one, 1, got, 4);
    check_three(got, n);
    free_got(got, n);
    free(s.p);
}

static void test_reader_odd_chunks(void **state)
{
    (void)state;
    bytes s = three_messages();
    static const size_t patterns[][5] = {
        {2, 3, 7, 13, 4999}, {4, 6, 1, 1000, 3}, {5, 5, 5, 5, 5}, {6, 11, 17, 4093, 9}};
    for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
        bytes got[4];
        size_t n = feed_in_chunks(&s, patterns[p], 5, got, 4);
        check_three(got, n);
        free_got(got, n);
    }
    /* All at once: every message comes straight out of the input. */
    bytes got[4];
    size_t all = s.n;
    size_t n = feed_in_chunks(&s, &all, 1, got, 4);
    check_three(got, n);
    free_got(got, n);
    free(s.p);
}

static void test_reader_zero_copy(void **state)
{
    (void)state;
    uint8_t buf[5 + 3] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
    codec_frame_reader r;
    codec_frame msg;
    size_t used;

    codec_frame_reader_init(&r, 0);
    assert_int_equal(codec_frame_reader_feed(&r, buf, sizeof(buf), &used, &msg, NULL), 1);
    assert_int_equal(used, sizeof(buf));
    assert_ptr_equal(msg.data, buf + 5);
    assert_int_equal(msg.len, 3);
    assert_null(r.buf); /* nothing was allocated */
    codec_frame_reader_free(&r);
}

static void test_reader_oversize(void **state)
{
    (void)state;
    codec_frame_reader r;
    codec_frame msg;
    chute_error err;
    size_t used;
    uint8_t p[5];

    codec_frame_reader_init(&r, 1000);
    codec_frame_write_prefix(p, 0, 1001);
    assert_int_equal(codec_frame_reader_feed(&r, p, 5, &used, &msg, &err), CHUTE_ETOOBIG);
    assert_string_equal(err.message, "Received message larger than max (1001 vs. 1000)");
    assert_null(r.buf); /* rejected before anything was allocated */
    assert_int_equal(r.cap, 0);
    /* The error sticks. */
    assert_int_equal(codec_frame_reader_feed(&r, p, 5, &used, &msg, &err), CHUTE_ETOOBIG);
    codec_frame_reader_free(&r);

    /* The default bound is 4 MiB; a prefix of 4 GiB - 1 is refused at once. */
    codec_frame_reader_init(&r, 0);
    codec_frame_write_prefix(p, 0, 0xffffffffu);
    assert_int_equal(codec_frame_reader_feed(&r, p, 5, &used, &msg, &err), CHUTE_ETOOBIG);
    assert_null(r.buf);
    codec_frame_reader_free(&r);

    /* A bad flag byte. */
    codec_frame_reader_init(&r, 0);
    p[0] = 7;
    assert_int_equal(codec_frame_reader_feed(&r, p, 5, &used, &msg, &err), CHUTE_EINVAL);
    codec_frame_reader_free(&r);
}

static void test_reader_grows_with_data(void **state)
{
    (void)state;
    /* A peer announces 4 MiB and sends 10 bytes: the buffer stays small. */
    codec_frame_reader r;
    codec_frame msg;
    size_t used;
    uint8_t p[5 + 10] = {0};

    codec_frame_reader_init(&r, 0);
    codec_frame_write_prefix(p, 0, CODEC_MAX_MESSAGE);
    assert_int_equal(codec_frame_reader_feed(&r, p, sizeof(p), &used, &msg, NULL), 0);
    assert_int_equal(used, sizeof(p));
    assert_true(r.cap <= 4096);
    assert_true(codec_frame_reader_pending(&r));
    codec_frame_reader_free(&r);
}

static void test_reader_compressed_and_pending(void **state)
{
    (void)state;
    uint8_t buf[5 + 2] = {1, 0, 0, 0, 2, 'x', 'y'};
    codec_frame_reader r;
    codec_frame msg;
    size_t used;

    codec_frame_reader_init(&r, 0);
    assert_int_equal(codec_frame_reader_feed(&r, buf, 3, &used, &msg, NULL), 0);
    assert_true(codec_frame_reader_pending(&r));
    assert_int_equal(codec_frame_reader_feed(&r, buf + 3, 3, &used, &msg, NULL), 0);
    assert_true(codec_frame_reader_pending(&r));
    assert_int_equal(codec_frame_reader_feed(&r, buf + 6, 1, &used, &msg, NULL), 1);
    assert_int_equal(msg.compressed, 1);
    assert_int_equal(msg.len, 2);
    assert_memory_equal(msg.data, "xy", 2);
    assert_false(codec_frame_reader_pending(&r));
    codec_frame_reader_free(&r);
}

static void test_pack_framed(void **state)
{
    (void)state;
    Chute__V1__CreateJobResponse m = CHUTE__V1__CREATE_JOB_RESPONSE__INIT;
    uint8_t small[6], big[64];
    size_t len;
    chute_error err;
    uint8_t *out;

    m.key = 2251799813685249;
    assert_int_equal(codec_pack_framed_into(&m.base, small, sizeof(small), &len, &err),
                     CHUTE_ETOOBIG);
    assert_true(len > sizeof(small));
    assert_int_equal(codec_pack_framed_into(&m.base, big, sizeof(big), &len, &err), 0);
    assert_int_equal(codec_pack_framed(&m.base, 0, &out, &len, &err), 0);
    assert_memory_equal(out, big, len);
    free(out);
    out = NULL;
    assert_int_equal(codec_pack_framed(&m.base, 3, &out, &len, &err), CHUTE_ETOOBIG);
    assert_null(out);
    assert_contains(err.message, "CreateJobResponse");
}

/* ---- grpc-message ------------------------------------------------------------- */

static void test_percent(void **state)
{
    (void)state;
    char enc[256], dec[256];
    const char *s = "Fehler: 100% \xc3\xa4rger\n\t\xe6\x97\xa5\xe6\x9c\xac ok~";
    size_t n = codec_pct_encode(s, strlen(s), enc, sizeof(enc));
    assert_int_equal(n, strlen(enc));
    assert_string_equal(enc, "Fehler: 100%25 %C3%A4rger%0A%09%E6%97%A5%E6%9C%AC ok~");
    size_t m = codec_pct_decode(enc, n, dec, sizeof(dec));
    assert_int_equal(m, strlen(s));
    assert_string_equal(dec, s);

    /* In place. */
    strcpy(dec, enc);
    codec_pct_decode(dec, strlen(dec), dec, sizeof(dec));
    assert_string_equal(dec, s);

    /* A short buffer never gets half an escape, and the return says how
     * much was needed. */
    char tiny[5];
    assert_int_equal(codec_pct_encode("ab%cd", 5, tiny, sizeof(tiny)), 7);
    assert_string_equal(tiny, "ab");
    assert_int_equal(codec_pct_encode("abc", 3, NULL, 0), 3);

    /* Lenient decoding: malformed escapes stay as they are. */
    const char *bad = "%zz %4 %G1 100%";
    assert_int_equal(codec_pct_decode(bad, strlen(bad), dec, sizeof(dec)), strlen(bad));
    assert_string_equal(dec, bad);
    assert_int_equal(codec_pct_decode("%41%62", 6, dec, sizeof(dec)), 2);
    assert_string_equal(dec, "Ab");

    /* Every byte value survives. */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    char big[3 * 256 + 1], back[257];
    n = codec_pct_encode(all, 256, big, sizeof(big));
    assert_int_equal(n, strlen(big));
    for (size_t i = 0; i < n; i++)
        assert_true(big[i] >= 0x20 && big[i] <= 0x7e);
    assert_int_equal(codec_pct_decode(big, n, back, sizeof(back)), 256);
    assert_memory_equal(back, all, 256);
}

/* ---- activation --------------------------------------------------------------- */

static bytes activate_request(const char *type, int64_t timeout, int32_t max, char **fetch,
                              size_t nfetch, char **tenants, size_t ntenants)
{
    GatewayProtocol__ActivateJobsRequest r = GATEWAY_PROTOCOL__ACTIVATE_JOBS_REQUEST__INIT;
    r.type = (char *)type;
    r.worker = (char *)"w-1";
    r.timeout = timeout;
    r.maxjobstoactivate = max;
    r.fetchvariable = fetch;
    r.n_fetchvariable = nfetch;
    r.requesttimeout = -1;
    r.tenantids = tenants;
    r.n_tenantids = ntenants;
    return pack(&r.base);
}

static void test_activate_round_trip(void **state)
{
    (void)state;
    char *fetch[] = {(char *)"a", (char *)"b\xc3\xa9"};
    char *tenants[] = {(char *)"<default>"};
    bytes b = activate_request("payment", 300000, 32, fetch, 2, tenants, 1);
    command a;
    chute_error err;

    assert_int_equal(codec_decode_activate_jobs(b.p, b.n, &a, &err), 0);
    assert_string_equal(a.req.type, "payment");
    assert_string_equal(a.req.worker, "w-1");
    assert_int_equal(a.req.timeout_ms, 300000);
    assert_int_equal(a.req.max_jobs, 32);
    assert_int_equal(a.req.fetch_variables_count, 2);
    assert_string_equal(a.req.fetch_variables[0], "a");
    assert_string_equal(a.req.fetch_variables[1], "b\xc3\xa9");
    assert_int_equal(a.request_timeout_ms, -1);
    command_free(&a);
    assert_null(a.msg);
    command_free(&a); /* twice is fine */
    command_free(NULL);
    free(b.p);

    /* No tenants, no fetchVariable; requestTimeout 0 stays 0. */
    GatewayProtocol__ActivateJobsRequest r = GATEWAY_PROTOCOL__ACTIVATE_JOBS_REQUEST__INIT;
    r.type = (char *)"t";
    r.timeout = 1;
    r.maxjobstoactivate = 1;
    b = pack(&r.base);
    assert_int_equal(codec_decode_activate_jobs(b.p, b.n, &a, &err), 0);
    assert_string_equal(a.req.worker, "");
    assert_int_equal(a.req.fetch_variables_count, 0);
    assert_int_equal(a.request_timeout_ms, 0);
    command_free(&a);
    free(b.p);
}

static void expect_activate_error(bytes b, const char *needle)
{
    command a;
    chute_error err;
    assert_int_equal(codec_decode_activate_jobs(b.p, b.n, &a, &err), CHUTE_EINVAL);
    assert_int_equal(err.code, CHUTE_EINVAL);
    assert_null(a.msg);
    assert_contains(err.message, needle);
    free(b.p);
}

static void test_activate_engine_rules_left_to_engine(void **state)
{
    (void)state;
    /* Blank type, timeout < 1 and maxJobsToActivate < 1 are the engine's
     * to reject (chute_engine_check_activate); the codec passes them on
     * unchanged. */
    bytes b = activate_request(" ", 0, -1, NULL, 0, NULL, 0);
    command a;
    assert_int_equal(codec_decode_activate_jobs(b.p, b.n, &a, NULL), 0);
    assert_string_equal(a.req.type, " ");
    assert_int_equal(a.req.timeout_ms, 0);
    assert_int_equal(a.req.max_jobs, -1);
    command_free(&a);
    free(b.p);
}

static void test_activate_tenants(void **state)
{
    (void)state;
    char *one[] = {(char *)"tenant-a"};
    char *two[] = {(char *)"<default>", (char *)"tenant-b"};
    char *dup[] = {(char *)"<default>", (char *)"<default>"};
    expect_activate_error(activate_request("t", 1000, 1, NULL, 0, one, 1),
                          "Expected to handle gRPC request ActivateJobs with tenant identifiers "
                          "[tenant-a], but multi-tenancy is disabled");
    expect_activate_error(activate_request("t", 1000, 1, NULL, 0, two, 2), "[<default>, tenant-b]");
    expect_activate_error(activate_request("t", 1000, 1, NULL, 0, dup, 2), "multi-tenancy");

    /* A long list is cut, not overflowed. */
    char *many[300];
    for (size_t i = 0; i < 300; i++)
        many[i] = (char *)"some-tenant";
    expect_activate_error(activate_request("t", 1000, 1, NULL, 0, many, 300), "...]");

    /* Over the wire bound: rejected by the pre-scan. */
    char *lots[CODEC_MAX_TENANT_IDS + 1];
    for (size_t i = 0; i <= CODEC_MAX_TENANT_IDS; i++)
        lots[i] = (char *)"<default>";
    expect_activate_error(activate_request("t", 1000, 1, NULL, 0, lots, CODEC_MAX_TENANT_IDS + 1),
                          "at most 1000 tenantIds, but got 1001");
}

static void test_activate_fetch_bound(void **state)
{
    (void)state;
    char *names[CODEC_MAX_FETCH_VARIABLES + 1];
    for (size_t i = 0; i <= CODEC_MAX_FETCH_VARIABLES; i++)
        names[i] = (char *)"v";
    bytes b = activate_request("t", 1000, 1, names, CODEC_MAX_FETCH_VARIABLES, NULL, 0);
    command a;
    assert_int_equal(codec_decode_activate_jobs(b.p, b.n, &a, NULL), 0);
    assert_int_equal(a.req.fetch_variables_count, CODEC_MAX_FETCH_VARIABLES);
    command_free(&a);
    free(b.p);
    expect_activate_error(
        activate_request("t", 1000, 1, names, CODEC_MAX_FETCH_VARIABLES + 1, NULL, 0),
        "Expected to activate jobs with at most 1000 fetchVariable names, but "
        "got 1001");
}

static void test_stream_round_trip(void **state)
{
    (void)state;
    GatewayProtocol__StreamActivatedJobsRequest r =
        GATEWAY_PROTOCOL__STREAM_ACTIVATED_JOBS_REQUEST__INIT;
    char *fetch[] = {(char *)"x"};
    char *tenants[] = {(char *)"<default>"};
    command a;
    chute_error err;

    r.type = (char *)"email";
    r.worker = (char *)"streamer";
    r.timeout = 5000;
    r.fetchvariable = fetch;
    r.n_fetchvariable = 1;
    r.tenantids = tenants;
    r.n_tenantids = 1;
    bytes b = pack(&r.base);
    assert_int_equal(codec_decode_stream_activated_jobs(b.p, b.n, &a, &err), 0);
    assert_string_equal(a.req.type, "email");
    assert_string_equal(a.req.worker, "streamer");
    assert_int_equal(a.req.timeout_ms, 5000);
    assert_int_equal(a.req.max_jobs, 0);
    assert_int_equal(a.req.fetch_variables_count, 1);
    assert_string_equal(a.req.fetch_variables[0], "x");
    assert_int_equal(a.request_timeout_ms, 0);
    command_free(&a);

    /* A field newer clients may send (number 4 is unused here; 7+ too). */
    const uint8_t extra[] = {0x20, 0x05, 0x38, 0x01};
    append(&b, extra, sizeof(extra));
    assert_int_equal(codec_decode_stream_activated_jobs(b.p, b.n, &a, &err), 0);
    assert_string_equal(a.req.type, "email");
    command_free(&a);
    free(b.p);

    tenants[0] = (char *)"other";
    b = pack(&r.base);
    assert_int_equal(codec_decode_stream_activated_jobs(b.p, b.n, &a, &err), CHUTE_EINVAL);
    assert_contains(err.message, "StreamActivatedJobs with tenant identifiers [other]");
    free(b.p);
}

/* ---- job commands -------------------------------------------------------------- */

/* Keys that exercise the varint encoding: 10-byte negatives, the first key of
 * partition 1, the extremes. */
static const int64_t keys[] = {2251799813685249, -1, -2251799813685249, INT64_MIN, INT64_MAX, 0};

static void test_complete_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        GatewayProtocol__CompleteJobRequest r = GATEWAY_PROTOCOL__COMPLETE_JOB_REQUEST__INIT;
        r.jobkey = keys[i];
        r.variables = (char *)"{\"ok\":true}";
        bytes b = pack(&r.base);
        if (keys[i] < 0)
            assert_int_equal(b.n, 1 + 10 + 2 + strlen(r.variables)); /* 10-byte varint */
        command c;
        assert_int_equal(codec_decode_complete_job(b.p, b.n, &c, NULL), 0);
        assert_true(c.key == keys[i]);
        assert_string_equal(c.variables, "{\"ok\":true}");
        assert_int_equal(c.variables_len, strlen(r.variables));
        command_free(&c);
        free(b.p);
    }
    /* Variables not sent: "" with length 0. */
    GatewayProtocol__CompleteJobRequest r = GATEWAY_PROTOCOL__COMPLETE_JOB_REQUEST__INIT;
    r.jobkey = 7;
    bytes b = pack(&r.base);
    command c;
    assert_int_equal(codec_decode_complete_job(b.p, b.n, &c, NULL), 0);
    assert_string_equal(c.variables, "");
    assert_int_equal(c.variables_len, 0);
    command_free(&c);
    command_free(NULL);
    free(b.p);
}

static void test_fail_round_trip(void **state)
{
    (void)state;
    GatewayProtocol__FailJobRequest r = GATEWAY_PROTOCOL__FAIL_JOB_REQUEST__INIT;
    r.jobkey = -42;
    r.retries = -3;
    r.errormessage = (char *)"boom \xe2\x9c\x97";
    r.retrybackoff = 1500;
    r.variables = (char *)"{\"n\":1}";
    bytes b = pack(&r.base);
    command c;
    assert_int_equal(codec_decode_fail_job(b.p, b.n, &c, NULL), 0);
    assert_int_equal(c.key, -42);
    assert_int_equal(c.retries, -3);
    assert_string_equal(c.error_message, "boom \xe2\x9c\x97");
    assert_int_equal(c.backoff_ms, 1500);
    assert_string_equal(c.variables, "{\"n\":1}");
    assert_int_equal(c.variables_len, 7);
    command_free(&c);
    free(b.p);
}

static void test_throw_error_round_trip(void **state)
{
    (void)state;
    GatewayProtocol__ThrowErrorRequest r = GATEWAY_PROTOCOL__THROW_ERROR_REQUEST__INIT;
    r.jobkey = INT64_MIN;
    r.errorcode = (char *)"NOT_PAID";
    r.errormessage = (char *)"card declined";
    r.variables = (char *)"{}";
    bytes b = pack(&r.base);
    command c;
    assert_int_equal(codec_decode_throw_error(b.p, b.n, &c, NULL), 0);
    assert_true(c.key == INT64_MIN);
    assert_string_equal(c.error_code, "NOT_PAID");
    assert_string_equal(c.error_message, "card declined");
    assert_string_equal(c.variables, "{}");
    command_free(&c);
    free(b.p);
}

static void test_update_and_resolve_round_trip(void **state)
{
    (void)state;
    command c;

    GatewayProtocol__UpdateJobRetriesRequest ur =
        GATEWAY_PROTOCOL__UPDATE_JOB_RETRIES_REQUEST__INIT;
    ur.jobkey = 2251799813685250;
    ur.retries = 5;
    ur.operationreference = UINT64_MAX;
    bytes b = pack(&ur.base);
    assert_int_equal(codec_decode_update_job_retries(b.p, b.n, &c, NULL), 0);
    assert_int_equal(c.key, 2251799813685250);
    assert_int_equal(c.retries, 5);
    command_free(&c);
    free(b.p);

    GatewayProtocol__UpdateJobTimeoutRequest tr =
        GATEWAY_PROTOCOL__UPDATE_JOB_TIMEOUT_REQUEST__INIT;
    tr.jobkey = -9;
    tr.timeout = 60000;
    b = pack(&tr.base);
    assert_int_equal(codec_decode_update_job_timeout(b.p, b.n, &c, NULL), 0);
    assert_int_equal(c.key, -9);
    assert_int_equal(c.timeout_ms, 60000);
    command_free(&c);
    free(b.p);

    GatewayProtocol__ResolveIncidentRequest rr = GATEWAY_PROTOCOL__RESOLVE_INCIDENT_REQUEST__INIT;
    rr.incidentkey = 2251799813685300;
    rr.operationreference = 12;
    b = pack(&rr.base);
    assert_int_equal(codec_decode_resolve_incident(b.p, b.n, &c, NULL), 0);
    assert_int_equal(c.key, 2251799813685300);
    command_free(&c);
    free(b.p);

    /* Topology: empty, and with unknown fields. */
    assert_int_equal(codec_decode_topology(NULL, 0, NULL), 0);
    const uint8_t unknown[] = {0x08, 0x01, 0x12, 0x00};
    assert_int_equal(codec_decode_topology(unknown, sizeof(unknown), NULL), 0);
    chute_error err;
    assert_int_equal(codec_decode_topology((const uint8_t *)"\x08", 1, &err), CHUTE_EINVAL);
    assert_string_equal(err.message,
                        "Expected a valid TopologyRequest message, but it could not be decoded");
}

static void test_unknown_fields_skipped(void **state)
{
    (void)state;
    GatewayProtocol__CompleteJobRequest r = GATEWAY_PROTOCOL__COMPLETE_JOB_REQUEST__INIT;
    r.jobkey = -1;
    r.variables = (char *)"{\"a\":1}";
    bytes b = pack(&r.base);
    /* field 3 (result: a message we do not declare), field 99 varint,
     * field 100 length-delimited, field 101 fixed64, field 102 fixed32,
     * field 536870911 (the largest) varint. */
    const uint8_t extra[] = {0x1a, 0x02, 0x08, 0x01,                        /* 3 */
                             0x98, 0x06, 0x96, 0x01,                        /* 99 */
                             0xa2, 0x06, 0x03, 'x',  'y',  'z',             /* 100 */
                             0xa9, 0x06, 1,    2,    3,    4,   5, 6, 7, 8, /* 101 */
                             0xb5, 0x06, 1,    2,    3,    4,               /* 102 */
                             0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01};           /* max */
    append(&b, extra, sizeof(extra));
    command c;
    assert_int_equal(codec_decode_complete_job(b.p, b.n, &c, NULL), 0);
    assert_int_equal(c.key, -1);
    assert_string_equal(c.variables, "{\"a\":1}");
    command_free(&c);

    /* Unknown fields in front of the known ones, in an activation (without
     * field 3, which is timeout there). */
    free(b.p);
    b.p = NULL;
    b.n = 0;
    append(&b, extra + 4, sizeof(extra) - 4);
    bytes a = activate_request("t", 10, 2, NULL, 0, NULL, 0);
    append(&b, a.p, a.n);
    free(a.p);
    command act;
    assert_int_equal(codec_decode_activate_jobs(b.p, b.n, &act, NULL), 0);
    assert_string_equal(act.req.type, "t");
    assert_int_equal(act.req.max_jobs, 2);
    command_free(&act);
    free(b.p);
}

typedef int (*decode_fn)(const uint8_t *, size_t, command *, chute_error *);

static void expect_malformed(decode_fn fn, const char *type, const uint8_t *p, size_t n)
{
    command c;
    chute_error err;
    char want[128];
    assert_int_equal(fn(p, n, &c, &err), CHUTE_EINVAL);
    assert_null(c.msg);
    snprintf(want, sizeof(want), "Expected a valid %s message, but it could not be decoded", type);
    assert_string_equal(err.message, want);
}

static void test_malformed(void **state)
{
    (void)state;
    /* Truncated varint: tag of jobKey, then a continuation byte and the end. */
    const uint8_t trunc_varint[] = {0x08, 0xff, 0xff};
    /* Wrong wire type: jobKey (varint) sent length-delimited. */
    const uint8_t wrong_type[] = {0x0a, 0x01, 0x00};
    /* Length past the end: variables says 5 bytes, 1 follows. */
    const uint8_t past_end[] = {0x12, 0x05, 'a'};
    /* An 11-byte varint. */
    const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    /* Field number 0. */
    const uint8_t field_zero[] = {0x00, 0x01};
    /* A truncated tag. */
    const uint8_t trunc_tag[] = {0x80};

    expect_malformed(codec_decode_complete_job, "CompleteJobRequest", trunc_varint,
                     sizeof(trunc_varint));
    expect_malformed(codec_decode_complete_job, "CompleteJobRequest", wrong_type,
                     sizeof(wrong_type));
    expect_malformed(codec_decode_complete_job, "CompleteJobRequest", past_end, sizeof(past_end));
    expect_malformed(codec_decode_complete_job, "CompleteJobRequest", long_varint,
                     sizeof(long_varint));
    expect_malformed(codec_decode_complete_job, "CompleteJobRequest", field_zero,
                     sizeof(field_zero));
    expect_malformed(codec_decode_complete_job, "CompleteJobRequest", trunc_tag, sizeof(trunc_tag));
    expect_malformed(codec_decode_fail_job, "FailJobRequest", past_end, sizeof(past_end));
    expect_malformed(codec_decode_throw_error, "ThrowErrorRequest", trunc_varint,
                     sizeof(trunc_varint));
    expect_malformed(codec_decode_update_job_retries, "UpdateJobRetriesRequest", wrong_type,
                     sizeof(wrong_type));
    expect_malformed(codec_decode_update_job_timeout, "UpdateJobTimeoutRequest", past_end,
                     sizeof(past_end));
    expect_malformed(codec_decode_resolve_incident, "ResolveIncidentRequest", trunc_varint,
                     sizeof(trunc_varint));
    expect_malformed(codec_decode_get_job, "GetJobRequest", wrong_type, sizeof(wrong_type));
    expect_malformed(codec_decode_cancel_job, "CancelJobRequest", trunc_varint,
                     sizeof(trunc_varint));

    command a;
    chute_error err;
    /* type (field 1) with a length past the end */
    assert_int_equal(codec_decode_activate_jobs((const uint8_t *)"\x0a\x05"
                                                                 "a",
                                                3, &a, &err),
                     CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected a valid ActivateJobsRequest message, but it could "
                                     "not be decoded");
    assert_int_equal(codec_decode_stream_activated_jobs((const uint8_t *)"\x18\xff", 2, &a, &err),
                     CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected a valid StreamActivatedJobsRequest message, but "
                                     "it could not be decoded");
    /* Wrong wire type on a repeated string (fetchVariable as varint). */
    assert_int_equal(codec_decode_activate_jobs((const uint8_t *)"\x28\x01", 2, &a, &err),
                     CHUTE_EINVAL);

    command cr;
    assert_int_equal(codec_decode_create_job(past_end, sizeof(past_end), &cr, &err), CHUTE_EINVAL);
    assert_contains(err.message, "CreateJobRequest");
    assert_int_equal(codec_decode_create_jobs(trunc_varint, sizeof(trunc_varint), &cr, &err),
                     CHUTE_EINVAL);
    assert_contains(err.message, "CreateJobsRequest");
    /* A job inside CreateJobs that is itself malformed. */
    const uint8_t bad_inner[] = {0x0a, 0x03, 0x0a, 0x05, 'a'};
    assert_int_equal(codec_decode_create_jobs(bad_inner, sizeof(bad_inner), &cr, &err),
                     CHUTE_EINVAL);
    command li;
    /* limit (field 2, int32) sent length-delimited */
    const uint8_t limit_wrong_type[] = {0x12, 0x01, 0x00};
    assert_int_equal(
        codec_decode_list_incidents(limit_wrong_type, sizeof(limit_wrong_type), &li, &err),
        CHUTE_EINVAL);
    assert_contains(err.message, "ListIncidentsRequest");
}

/* ---- encoding: activated jobs ----------------------------------------------------- */

static chute_job_view view_full(void)
{
    chute_job_view v;
    memset(&v, 0, sizeof(v));
    v.key = 2251799813685249;
    v.type = "payment";
    v.state = CHUTE_JOB_ACTIVATED;
    v.retries = 3;
    v.priority = 5;
    v.created_at = 1700000000000;
    v.deadline = 1700000300000;
    v.worker = "w-1";
    v.headers = "{\"h\":\"v\"}";
    v.headers_len = strlen(v.headers);
    v.variables = "{\"amount\":12.5,\"name\":\"J\\u00fcrgen\"}";
    v.variables_len = strlen(v.variables);
    v.error_code = "";
    v.error_message = "";
    v.process.process_instance_key = 2251799813685100;
    v.process.process_definition_key = -7;
    v.process.process_definition_version = 4;
    v.process.element_instance_key = 2251799813685101;
    v.process.bpmn_process_id = "order";
    v.process.element_id = "charge";
    return v;
}

static chute_job_view view_empty_docs(void)
{
    chute_job_view v;
    memset(&v, 0, sizeof(v));
    v.key = -1;
    v.type = "t";
    v.state = CHUTE_JOB_ACTIVATED;
    v.retries = 1;
    v.deadline = 99;
    v.worker = "";
    v.headers = "";
    v.variables = "  ";
    v.variables_len = 2;
    v.error_code = "";
    v.error_message = "";
    return v; /* process fields all zero / NULL */
}

static void check_activated_job(const GatewayProtocol__ActivatedJob *j, const chute_job_view *v,
                                const char *headers, const char *variables)
{
    assert_true(j->key == v->key);
    assert_string_equal(j->type, v->type);
    assert_true(j->processinstancekey == v->process.process_instance_key);
    assert_string_equal(j->bpmnprocessid,
                        v->process.bpmn_process_id ? v->process.bpmn_process_id : "");
    assert_int_equal(j->processdefinitionversion, v->process.process_definition_version);
    assert_true(j->processdefinitionkey == v->process.process_definition_key);
    assert_string_equal(j->elementid, v->process.element_id ? v->process.element_id : "");
    assert_true(j->elementinstancekey == v->process.element_instance_key);
    assert_string_equal(j->customheaders, headers);
    assert_string_equal(j->worker, v->worker);
    assert_int_equal(j->retries, v->retries);
    assert_true(j->deadline == v->deadline);
    assert_string_equal(j->variables, variables);
    assert_string_equal(j->tenantid, "<default>");
    assert_int_equal(j->kind, 0);
    assert_int_equal(j->listenereventtype, 6);
}

static void test_encode_activate_response(void **state)
{
    (void)state;
    chute_job_view views[2] = {view_full(), view_empty_docs()};
    uint8_t *out = NULL;
    size_t len, n;
    chute_error err;

    assert_int_equal(codec_encode_activate_jobs_response(views, 2, 0, &out, &len, &err), 0);
    /* The size helpers predict the framed size exactly. */
    assert_int_equal(len, CODEC_FRAME_PREFIX + codec_activate_response_entry_size(&views[0]) +
                              codec_activate_response_entry_size(&views[1]));
    const uint8_t *m = unframe(out, len, &n);
    GatewayProtocol__ActivateJobsResponse *resp =
        gateway_protocol__activate_jobs_response__unpack(NULL, n, m);
    assert_non_null(resp);
    assert_int_equal(resp->n_jobs, 2);
    check_activated_job(resp->jobs[0], &views[0], views[0].headers, views[0].variables);
    check_activated_job(resp->jobs[1], &views[1], "{}", "{}");
    gateway_protocol__activate_jobs_response__free_unpacked(resp, NULL);
    free(out);

    /* The enums are on the wire even though kind is the default 0 in proto3
     * terms; listenerEventType 6 must be sent explicitly (field 17 = tag
     * 0x88 0x01, value 6). */
    assert_int_equal(codec_encode_activated_job(&views[1], 0, &out, &len, &err), 0);
    assert_int_equal(len, CODEC_FRAME_PREFIX + codec_activated_job_size(&views[1]));
    int found = 0;
    for (size_t i = CODEC_FRAME_PREFIX; i + 2 < len; i++)
        if (out[i] == 0x88 && out[i + 1] == 0x01 && out[i + 2] == 0x06)
            found = 1;
    assert_true(found);
    m = unframe(out, len, &n);
    GatewayProtocol__ActivatedJob *j = gateway_protocol__activated_job__unpack(NULL, n, m);
    assert_non_null(j);
    check_activated_job(j, &views[1], "{}", "{}");
    gateway_protocol__activated_job__free_unpacked(j, NULL);
    free(out);

    /* No jobs: an empty message. */
    assert_int_equal(codec_encode_activate_jobs_response(NULL, 0, 0, &out, &len, &err), 0);
    assert_int_equal(len, CODEC_FRAME_PREFIX);
    assert_memory_equal(out, "\0\0\0\0\0", 5);
    free(out);

    /* Over the bound. */
    out = NULL;
    size_t one = codec_activate_response_entry_size(&views[0]);
    assert_int_equal(codec_encode_activate_jobs_response(views, 2, one, &out, &len, &err),
                     CHUTE_ETOOBIG);
    assert_null(out);
    assert_contains(err.message, "ActivateJobsResponse");
    assert_int_equal(codec_encode_activate_jobs_response(views, 1, one, &out, &len, &err), 0);
    free(out);
    out = NULL;
    assert_int_equal(codec_encode_activated_job(&views[0], 10, &out, &len, &err), CHUTE_ETOOBIG);
    assert_null(out);
}

static void test_encode_large_variables_size(void **state)
{
    (void)state;
    /* A variables document whose length needs a 3-byte varint: the entry
     * size helper must count it. */
    size_t big = 200000;
    char *vars = malloc(big + 1);
    memset(vars, ' ', big);
    vars[0] = '{';
    vars[big - 1] = '}';
    vars[big] = '\0';
    chute_job_view v = view_full();
    v.variables = vars;
    v.variables_len = big;
    uint8_t *out;
    size_t len;
    assert_int_equal(codec_encode_activate_jobs_response(&v, 1, 0, &out, &len, NULL), 0);
    assert_int_equal(len, CODEC_FRAME_PREFIX + codec_activate_response_entry_size(&v));
    free(out);
    free(vars);
}

static void test_encode_topology(void **state)
{
    (void)state;
    uint8_t *out;
    size_t len, n;
    assert_int_equal(codec_encode_topology("127.0.0.1", 26500, 0, &out, &len, NULL), 0);
    const uint8_t *m = unframe(out, len, &n);
    GatewayProtocol__TopologyResponse *t = gateway_protocol__topology_response__unpack(NULL, n, m);
    assert_non_null(t);
    assert_int_equal(t->n_brokers, 1);
    assert_int_equal(t->brokers[0]->nodeid, 0);
    assert_string_equal(t->brokers[0]->host, "127.0.0.1");
    assert_int_equal(t->brokers[0]->port, 26500);
    assert_string_equal(t->brokers[0]->version, CHUTE_VERSION);
    assert_int_equal(t->brokers[0]->n_partitions, 1);
    assert_int_equal(t->brokers[0]->partitions[0]->partitionid, 1);
    assert_int_equal(t->brokers[0]->partitions[0]->role,
                     GATEWAY_PROTOCOL__PARTITION__PARTITION_BROKER_ROLE__LEADER);
    assert_int_equal(t->brokers[0]->partitions[0]->health,
                     GATEWAY_PROTOCOL__PARTITION__PARTITION_BROKER_HEALTH__HEALTHY);
    assert_int_equal(t->clustersize, 1);
    assert_int_equal(t->partitionscount, 1);
    assert_int_equal(t->replicationfactor, 1);
    assert_string_equal(t->gatewayversion, CHUTE_VERSION);
    gateway_protocol__topology_response__free_unpacked(t, NULL);
    free(out);
}

/* ---- chute.v1 ------------------------------------------------------------------------ */

static void test_create_job_round_trip(void **state)
{
    (void)state;
    Chute__V1__CreateJobRequest r = CHUTE__V1__CREATE_JOB_REQUEST__INIT;
    r.type = (char *)"report";
    r.variables = (char *)"{\"x\":1}";
    r.customheaders = (char *)"{\"k\":\"v\"}";
    r.retries = 5;
    r.priority = -2;
    r.delay = 60000;
    bytes b = pack(&r.base);
    command c;
    assert_int_equal(codec_decode_create_job(b.p, b.n, &c, NULL), 0);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.specs[0].type, "report");
    assert_string_equal(c.specs[0].variables, "{\"x\":1}");
    assert_int_equal(c.specs[0].variables_len, 7);
    assert_string_equal(c.specs[0].headers, "{\"k\":\"v\"}");
    assert_int_equal(c.specs[0].headers_len, 9);
    assert_int_equal(c.specs[0].retries, 5);
    assert_int_equal(c.specs[0].priority, -2);
    assert_int_equal(c.specs[0].delay_ms, 60000);
    assert_int_equal(c.specs[0].process.process_instance_key, 0);
    assert_null(c.specs[0].process.bpmn_process_id);
    command_free(&c);
    command_free(&c);
    command_free(NULL);
    free(b.p);
}

/* Strings are valid UTF-8 without NUL, in every message and nested ones:
 * a NUL would cut a C string short, invalid UTF-8 would reach JSON and
 * metrics as it is. */
static void test_strings_utf8_without_nul(void **state)
{
    (void)state;
    command c;
    chute_error err;
    /* CreateJobRequest { type = "u8\0evil" } */
    static const uint8_t nul[] = {0x0a, 7, 'u', '8', 0, 'e', 'v', 'i', 'l'};
    assert_int_equal(codec_decode_create_job(nul, sizeof nul, &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected type of CreateJobRequest to be a valid UTF-8 "
                                     "string without NUL characters, but byte 2 is 0x00");
    /* ActivateJobsRequest { type = "t", worker = "\xff" } */
    static const uint8_t ff[] = {0x0a, 1, 't', 0x12, 1, 0xff};
    assert_int_equal(codec_decode_activate_jobs(ff, sizeof ff, &c, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "worker of ActivateJobsRequest"));
    /* Overlong "/" (0xc0 0xaf) and a surrogate (0xed 0xa0 0x80). */
    static const uint8_t overlong[] = {0x0a, 2, 0xc0, 0xaf};
    assert_int_equal(codec_decode_create_job(overlong, sizeof overlong, &c, &err), CHUTE_EINVAL);
    static const uint8_t surrogate[] = {0x0a, 3, 0xed, 0xa0, 0x80};
    assert_int_equal(codec_decode_create_job(surrogate, sizeof surrogate, &c, &err), CHUTE_EINVAL);
    /* CreateJobsRequest { jobs = [{ type = "a\xfe" }] }: nested. */
    static const uint8_t nested[] = {0x0a, 4, 0x0a, 2, 'a', 0xfe};
    assert_int_equal(codec_decode_create_jobs(nested, sizeof nested, &c, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "type of CreateJobRequest"));
    /* Multi-byte text is fine: "zahlung-\u00fc-\u2713-\U0001F600". */
    static const uint8_t good[] = {0x0a, 17,   'z', 'a',  'h',  'l',  'u',  'n',  'g', '-',
                                   0xc3, 0xbc, '-', 0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0x98};
    uint8_t ok[sizeof good + 1];
    memcpy(ok, good, sizeof good);
    ok[sizeof good] = 0x80;
    ok[1] = 18;
    assert_int_equal(codec_decode_create_job(ok, sizeof ok, &c, &err), 0);
    assert_int_equal(strlen(c.specs[0].type), 18);
    command_free(&c);
    /* The truncated emoji (its last byte cut) is refused. */
    uint8_t cut[sizeof good];
    memcpy(cut, good, sizeof good);
    cut[1] = 17;
    assert_int_equal(codec_decode_create_job(cut, sizeof cut, &c, &err), CHUTE_EINVAL);
}

static void test_create_jobs_round_trip(void **state)
{
    (void)state;
    Chute__V1__CreateJobRequest jobs[3];
    Chute__V1__CreateJobRequest *ptrs[3];
    char names[3][8];
    for (int i = 0; i < 3; i++) {
        chute__v1__create_job_request__init(&jobs[i]);
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        jobs[i].type = names[i];
        jobs[i].retries = i;
        jobs[i].delay = -i;
        ptrs[i] = &jobs[i];
    }
    Chute__V1__CreateJobsRequest r = CHUTE__V1__CREATE_JOBS_REQUEST__INIT;
    r.jobs = ptrs;
    r.n_jobs = 3;
    bytes b = pack(&r.base);
    command c;
    assert_int_equal(codec_decode_create_jobs(b.p, b.n, &c, NULL), 0);
    assert_int_equal(c.count, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(c.specs[i].type, names[i]);
        assert_int_equal(c.specs[i].retries, i);
        assert_int_equal(c.specs[i].delay_ms, -i);
        assert_string_equal(c.specs[i].variables, "");
        assert_int_equal(c.specs[i].variables_len, 0);
    }
    command_free(&c);
    free(b.p);

    /* Empty: valid, nothing to create. */
    assert_int_equal(codec_decode_create_jobs(NULL, 0, &c, NULL), 0);
    assert_int_equal(c.count, 0);
    command_free(&c);
}

static void test_create_jobs_bound(void **state)
{
    (void)state;
    /* 10 001 empty jobs on the wire: 0x0a 0x00 each. */
    size_t n = CODEC_MAX_CREATE_JOBS + 1;
    uint8_t *p = malloc(2 * n);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = 0x0a;
        p[2 * i + 1] = 0x00;
    }
    command c;
    chute_error err;
    assert_int_equal(codec_decode_create_jobs(p, 2 * n, &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message,
                        "Expected at most 10000 jobs in CreateJobsRequest, but got 10001");
    assert_null(c.msg);
    assert_int_equal(codec_decode_create_jobs(p, 2 * (n - 1), &c, &err), 0);
    assert_int_equal(c.count, CODEC_MAX_CREATE_JOBS);
    command_free(&c);
    free(p);
}

static void test_get_cancel_list_round_trip(void **state)
{
    (void)state;
    command c;
    chute_error err;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        Chute__V1__GetJobRequest g = CHUTE__V1__GET_JOB_REQUEST__INIT;
        g.key = keys[i];
        bytes b = pack(&g.base);
        assert_int_equal(codec_decode_get_job(b.p, b.n, &c, NULL), 0);
        assert_true(c.key == keys[i]);
        command_free(&c);
        free(b.p);

        Chute__V1__CancelJobRequest x = CHUTE__V1__CANCEL_JOB_REQUEST__INIT;
        x.key = keys[i];
        b = pack(&x.base);
        assert_int_equal(codec_decode_cancel_job(b.p, b.n, &c, NULL), 0);
        assert_true(c.key == keys[i]);
        command_free(&c);
        free(b.p);
    }

    Chute__V1__ListIncidentsRequest l = CHUTE__V1__LIST_INCIDENTS_REQUEST__INIT;
    command li;
    bytes b = pack(&l.base);
    assert_int_equal(codec_decode_list_incidents(b.p, b.n, &li, NULL), 0);
    assert_null(li.type);
    assert_int_equal(li.limit, CODEC_DEFAULT_INCIDENT_LIMIT);
    command_free(&li);
    command_free(NULL);
    free(b.p);

    l.type = (char *)"payment";
    l.limit = 20;
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_incidents(b.p, b.n, &li, NULL), 0);
    assert_string_equal(li.type, "payment");
    assert_int_equal(li.limit, 20);
    command_free(&li);
    free(b.p);

    l.limit = -1;
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_incidents(b.p, b.n, &li, &err), CHUTE_EINVAL);
    assert_contains(err.message, "but it was -1");
    assert_null(li.msg);
    free(b.p);
    l.limit = CODEC_MAX_INCIDENT_LIMIT + 1;
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_incidents(b.p, b.n, &li, &err), CHUTE_EINVAL);
    free(b.p);
}

static void test_encode_chute_responses(void **state)
{
    (void)state;
    uint8_t *out;
    size_t len, n;
    const uint8_t *m;

    assert_int_equal(codec_encode_create_job_response(-5, &out, &len, NULL), 0);
    m = unframe(out, len, &n);
    Chute__V1__CreateJobResponse *cr = chute__v1__create_job_response__unpack(NULL, n, m);
    assert_non_null(cr);
    assert_int_equal(cr->key, -5);
    chute__v1__create_job_response__free_unpacked(cr, NULL);
    free(out);

    assert_int_equal(codec_encode_create_jobs_response(keys, 6, &out, &len, NULL), 0);
    m = unframe(out, len, &n);
    Chute__V1__CreateJobsResponse *cs = chute__v1__create_jobs_response__unpack(NULL, n, m);
    assert_non_null(cs);
    assert_int_equal(cs->n_keys, 6);
    for (size_t i = 0; i < 6; i++)
        assert_true(cs->keys[i] == keys[i]);
    chute__v1__create_jobs_response__free_unpacked(cs, NULL);
    free(out);

    chute_job_view v = view_full();
    v.state = CHUTE_JOB_COMPLETED;
    v.completed_at = 1700000400000;
    v.incident_key = 0;
    assert_int_equal(codec_encode_get_job_response(&v, 0, &out, &len, NULL), 0);
    m = unframe(out, len, &n);
    Chute__V1__GetJobResponse *g = chute__v1__get_job_response__unpack(NULL, n, m);
    assert_non_null(g);
    assert_non_null(g->job);
    Chute__V1__Job *j = g->job;
    assert_int_equal(j->key, v.key);
    assert_string_equal(j->type, "payment");
    assert_string_equal(j->state, "COMPLETED");
    assert_int_equal(j->retries, 3);
    assert_int_equal(j->priority, 5);
    assert_string_equal(j->worker, "w-1");
    assert_int_equal(j->deadline, v.deadline);
    assert_string_equal(j->variables, v.variables);
    assert_string_equal(j->customheaders, v.headers);
    assert_string_equal(j->errorcode, "");
    assert_string_equal(j->errormessage, "");
    assert_int_equal(j->incidentkey, 0);
    assert_int_equal(j->createdat, v.created_at);
    assert_int_equal(j->completedat, v.completed_at);
    chute__v1__get_job_response__free_unpacked(g, NULL);
    free(out);

    /* Empty documents become "{}" here too. */
    chute_job_view e = view_empty_docs();
    e.state = CHUTE_JOB_ACTIVATABLE;
    assert_int_equal(codec_encode_get_job_response(&e, 0, &out, &len, NULL), 0);
    m = unframe(out, len, &n);
    g = chute__v1__get_job_response__unpack(NULL, n, m);
    assert_non_null(g);
    assert_string_equal(g->job->state, "ACTIVATABLE");
    assert_string_equal(g->job->variables, "{}");
    assert_string_equal(g->job->customheaders, "{}");
    chute__v1__get_job_response__free_unpacked(g, NULL);
    free(out);
}

static void test_incident_list(void **state)
{
    (void)state;
    codec_incident_list l;
    chute_error err;
    uint8_t *out;
    size_t len, n;

    chute_job_view a = view_full();
    a.state = CHUTE_JOB_INCIDENT;
    a.retries = 0;
    a.incident_key = 2251799813685260;
    a.incident_type = CHUTE_INCIDENT_JOB_NO_RETRIES;
    a.error_message = "No more retries left.";
    chute_job_view b = view_empty_docs();
    b.state = CHUTE_JOB_ERROR_THROWN;
    b.incident_key = -3;
    b.incident_type = CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT;
    b.error_code = "E42";
    b.error_message = "unhandled";

    codec_incident_list_init(&l, 0);
    assert_int_equal(codec_incident_list_add(&l, &a, &err), 0);
    assert_int_equal(codec_incident_list_add(&l, &b, &err), 0);
    assert_int_equal(l.count, 2);
    assert_int_equal(codec_incident_list_finish(&l, &out, &len, &err), 0);
    codec_incident_list_free(&l);
    const uint8_t *m = unframe(out, len, &n);
    Chute__V1__ListIncidentsResponse *r = chute__v1__list_incidents_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->n_incidents, 2);
    Chute__V1__Incident *i0 = r->incidents[0], *i1 = r->incidents[1];
    assert_int_equal(i0->key, 2251799813685260);
    assert_int_equal(i0->jobkey, a.key);
    assert_string_equal(i0->type, "JOB_NO_RETRIES");
    assert_string_equal(i0->jobtype, "payment");
    assert_string_equal(i0->errormessage, "No more retries left.");
    assert_string_equal(i0->errorcode, "");
    assert_int_equal(i0->retries, 0);
    assert_int_equal(i1->key, -3);
    assert_int_equal(i1->jobkey, -1);
    assert_string_equal(i1->type, "UNHANDLED_ERROR_EVENT");
    assert_string_equal(i1->errorcode, "E42");
    assert_string_equal(i1->errormessage, "unhandled");
    chute__v1__list_incidents_response__free_unpacked(r, NULL);
    free(out);

    /* Empty list: just a prefix. */
    codec_incident_list_init(&l, 0);
    assert_int_equal(codec_incident_list_finish(&l, &out, &len, &err), 0);
    assert_int_equal(len, CODEC_FRAME_PREFIX);
    free(out);
    codec_incident_list_free(&l);

    /* A bound that holds one incident: the second is refused, the first kept. */
    Chute__V1__Incident inc;
    codec_incident_from_view(&inc, &a);
    size_t one = 2 + chute__v1__incident__get_packed_size(&inc);
    codec_incident_list_init(&l, one);
    assert_int_equal(codec_incident_list_add(&l, &a, &err), 0);
    assert_int_equal(codec_incident_list_add(&l, &a, &err), CHUTE_ETOOBIG);
    assert_int_equal(l.count, 1);
    assert_int_equal(codec_incident_list_finish(&l, &out, &len, &err), 0);
    assert_int_equal(len, CODEC_FRAME_PREFIX + one);
    free(out);
    codec_incident_list_free(&l);

    /* Freed without finishing: nothing leaks. */
    codec_incident_list_init(&l, 0);
    assert_int_equal(codec_incident_list_add(&l, &b, &err), 0);
    codec_incident_list_free(&l);
    codec_incident_list_free(NULL);
}

/* ---- GetProcessInstance and process incidents --------------------------------- */

static chute_instance_view sample_instance(void)
{
    chute_instance_view v = {.key = 2251799813685251,
                             .process_definition_key = 2251799813685250,
                             .bpmn_process_id = "order",
                             .version = 3,
                             .state = CHUTE_INSTANCE_ACTIVE,
                             .has_incident = 1,
                             .started_at = 1700000000000,
                             .variables = "{\"a\":1}",
                             .variables_len = 7};
    return v;
}

static chute_element_view sample_element(int64_t key, const char *id)
{
    chute_element_view el = {.key = key,
                             .process_instance_key = 2251799813685251,
                             .bpmn_process_id = "order",
                             .element_id = id,
                             .element_name = "",
                             .element_type = "SERVICE_TASK",
                             .state = CHUTE_INSTANCE_ACTIVE,
                             .flow_scope_key = 2251799813685251,
                             .started_at = 1700000000001,
                             .job_key = key + 1};
    return el;
}

static void test_process_incident_encoding(void **state)
{
    (void)state;
    chute_error err;
    /* An incident on a gateway (no job), and one of a job with its type. */
    chute_incident_view gw = {.key = 9,
                              .type = CHUTE_INCIDENT_CONDITION_ERROR,
                              .message = "no flow",
                              .created_at = 5,
                              .process_instance_key = 7,
                              .process_definition_key = 6,
                              .bpmn_process_id = "order",
                              .element_id = "gw",
                              .element_instance_key = 8};
    chute_incident_view onjob = gw;
    onjob.key = 11;
    onjob.type = CHUTE_INCIDENT_JOB_NO_RETRIES;
    onjob.job_key = 10;
    onjob.resolved = 1;
    chute_job_view job = view_empty_docs();
    job.key = 10;
    job.type = "pay";
    job.error_code = "";
    job.retries = 0;
    codec_incident_list l;
    codec_incident_list_init(&l, 0);
    assert_int_equal(codec_incident_list_add_search(&l, &gw, NULL, &err), 0);
    assert_int_equal(codec_incident_list_add_search(&l, &onjob, &job, &err), 0);
    uint8_t *out;
    size_t len, n;
    assert_int_equal(codec_incident_list_finish(&l, &out, &len, &err), 0);
    codec_incident_list_free(&l);
    const uint8_t *m = unframe(out, len, &n);
    Chute__V1__ListIncidentsResponse *r = chute__v1__list_incidents_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->n_incidents, 2);
    const Chute__V1__Incident *i0 = r->incidents[0], *i1 = r->incidents[1];
    assert_int_equal(i0->key, 9);
    assert_int_equal(i0->jobkey, 0);
    assert_string_equal(i0->type, "CONDITION_ERROR");
    assert_string_equal(i0->jobtype, "");
    assert_string_equal(i0->errormessage, "no flow");
    assert_int_equal(i0->processinstancekey, 7);
    assert_int_equal(i0->processdefinitionkey, 6);
    assert_string_equal(i0->bpmnprocessid, "order");
    assert_string_equal(i0->elementid, "gw");
    assert_int_equal(i0->elementinstancekey, 8);
    assert_string_equal(i0->state, "ACTIVE");
    assert_int_equal(i0->createdat, 5);
    assert_int_equal(i1->jobkey, 10);
    assert_string_equal(i1->jobtype, "pay");
    assert_string_equal(i1->state, "RESOLVED");
    chute__v1__list_incidents_response__free_unpacked(r, NULL);
    free(out);
}

static void test_get_process_instance(void **state)
{
    (void)state;
    chute_error err;
    /* The request: its key. */
    Chute__V1__GetProcessInstanceRequest q = CHUTE__V1__GET_PROCESS_INSTANCE_REQUEST__INIT;
    q.key = 2251799813685251;
    bytes b = pack(&q.base);
    command c;
    assert_int_equal(codec_decode_get_process_instance(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_INSTANCE_DETAILS);
    assert_true(c.key == q.key);
    command_free(&c);
    free(b.p);
    const uint8_t junk[] = {0x08};
    assert_int_equal(codec_decode_get_process_instance(junk, sizeof junk, &c, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "GetProcessInstanceRequest"));

    /* The response: instance, elements, incidents. */
    chute_instance_view inst = sample_instance();
    chute_element_view e1 = sample_element(2251799813685254, "task");
    chute_incident_view inc = {.key = 2251799813685256,
                               .type = CHUTE_INCIDENT_JOB_NO_RETRIES,
                               .message = "declined",
                               .job_key = e1.job_key,
                               .process_instance_key = inst.key,
                               .bpmn_process_id = "order",
                               .element_id = "task",
                               .element_instance_key = e1.key};
    codec_instance_detail d;
    uint8_t *out;
    size_t len, n;
    assert_int_equal(codec_instance_detail_begin(&d, &inst, 0, &err), 0);
    assert_int_equal(codec_instance_detail_add_element(&d, &e1, &err), 0);
    assert_int_equal(codec_instance_detail_add_incident(&d, &inc, NULL, &err), 0);
    chute_wait_view timer = {.element_instance_key = e1.key,
                             .element_id = "late",
                             .is_timer = 1,
                             .due = 1700003600000,
                             .message_name = "",
                             .correlation_key = ""};
    chute_wait_view sub = {.element_instance_key = e1.key,
                           .element_id = "paid",
                           .message_name = "paid",
                           .correlation_key = "o-7"};
    assert_int_equal(codec_instance_detail_add_wait(&d, &timer, &err), 0);
    assert_int_equal(codec_instance_detail_add_wait(&d, &sub, &err), 0);
    assert_int_equal(codec_instance_detail_finish(&d, &out, &len, &err), 0);
    codec_instance_detail_free(&d);
    const uint8_t *m = unframe(out, len, &n);
    Chute__V1__GetProcessInstanceResponse *r =
        chute__v1__get_process_instance_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_non_null(r->instance);
    assert_true(r->instance->key == inst.key);
    assert_true(r->instance->processdefinitionkey == inst.process_definition_key);
    assert_string_equal(r->instance->bpmnprocessid, "order");
    assert_int_equal(r->instance->version, 3);
    assert_string_equal(r->instance->state, "ACTIVE");
    assert_true(r->instance->hasincident);
    assert_int_equal(r->instance->startedat, inst.started_at);
    assert_int_equal(r->instance->endedat, 0);
    assert_string_equal(r->instance->variables, "{\"a\":1}");
    assert_int_equal(r->n_elements, 1);
    assert_string_equal(r->elements[0]->elementid, "task");
    assert_string_equal(r->elements[0]->elementtype, "SERVICE_TASK");
    assert_string_equal(r->elements[0]->state, "ACTIVE");
    assert_true(r->elements[0]->jobkey == e1.job_key);
    assert_true(r->elements[0]->flowscopekey == inst.key);
    assert_int_equal(r->n_incidents, 1);
    assert_string_equal(r->incidents[0]->errormessage, "declined");
    assert_int_equal(r->n_waits, 2);
    assert_true(r->waits[0]->elementinstancekey == e1.key);
    assert_string_equal(r->waits[0]->elementid, "late");
    assert_string_equal(r->waits[0]->kind, "TIMER");
    assert_true(r->waits[0]->due == 1700003600000);
    assert_string_equal(r->waits[0]->messagename, "");
    assert_string_equal(r->waits[1]->kind, "MESSAGE");
    assert_string_equal(r->waits[1]->messagename, "paid");
    assert_string_equal(r->waits[1]->correlationkey, "o-7");
    assert_true(r->waits[1]->due == 0);
    assert_false(r->truncated);
    chute__v1__get_process_instance_response__free_unpacked(r, NULL);
    free(out);

    /* A bound that holds the instance and one element: the rest is left
     * out and the response says so, within the bound. */
    Chute__V1__ProcessInstance pi = CHUTE__V1__PROCESS_INSTANCE__INIT;
    pi.key = inst.key;
    pi.bpmnprocessid = (char *)"order";
    pi.version = 3;
    pi.processdefinitionkey = inst.process_definition_key;
    pi.state = (char *)"ACTIVE";
    pi.hasincident = 1;
    pi.startedat = inst.started_at;
    pi.variables = (char *)"{\"a\":1}";
    size_t room = 2 + chute__v1__process_instance__get_packed_size(&pi) + 40 + 2;
    assert_int_equal(codec_instance_detail_begin(&d, &inst, room, &err), 0);
    assert_int_equal(codec_instance_detail_add_element(&d, &e1, &err), 0);
    chute_element_view e2 = sample_element(2251799813685260, "another");
    assert_int_equal(codec_instance_detail_add_element(&d, &e2, &err), 0);
    assert_int_equal(codec_instance_detail_add_incident(&d, &inc, NULL, &err), 0);
    assert_true(d.truncated);
    assert_int_equal(codec_instance_detail_finish(&d, &out, &len, &err), 0);
    codec_instance_detail_free(&d);
    assert_true(len - CODEC_FRAME_PREFIX <= room);
    m = unframe(out, len, &n);
    r = chute__v1__get_process_instance_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_true(r->truncated);
    assert_true(r->n_elements <= 1);
    assert_int_equal(r->n_incidents, 0);
    chute__v1__get_process_instance_response__free_unpacked(r, NULL);
    free(out);

    /* An instance whose variables alone do not fit is an error. */
    assert_int_equal(codec_instance_detail_begin(&d, &inst, 16, &err), CHUTE_ETOOBIG);
    assert_non_null(strstr(err.message, "GetProcessInstanceResponse"));
    codec_instance_detail_free(&d);
    codec_instance_detail_free(NULL);
}

/* ---- user tasks ------------------------------------------------------------------ */

static chute_user_task_view sample_task(int64_t key, const char *assignee)
{
    chute_user_task_view t = {.key = key,
                              .process_instance_key = 2251799813685251,
                              .process_definition_key = 2251799813685250,
                              .bpmn_process_id = "review-process",
                              .element_id = "review",
                              .name = "Review",
                              .assignee = assignee,
                              .candidate_groups = "[\"ops\",\"sales\"]",
                              .candidate_users = "[]",
                              .form_key = "",
                              .due_date = "2026-01-02T10:00:00Z",
                              .follow_up_date = "",
                              .priority = 50,
                              .created_at = 1700000000123};
    return t;
}

static void test_user_task_requests(void **state)
{
    (void)state;
    chute_error err;
    command c;
    /* ListUserTasks: the filter into command.search, 0 and "" are "any". */
    Chute__V1__ListUserTasksRequest l = CHUTE__V1__LIST_USER_TASKS_REQUEST__INIT;
    bytes b = pack(&l.base);
    assert_int_equal(codec_decode_list_user_tasks(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_SEARCH_USER_TASKS);
    assert_null(c.search.assignee);
    assert_null(c.search.element_id);
    assert_null(c.search.bpmn_process_id);
    assert_int_equal(c.search.process_instance_key, 0);
    assert_int_equal(c.search.limit, CODEC_DEFAULT_USER_TASK_LIMIT);
    command_free(&c);
    free(b.p);
    l.assignee = (char *)"demo";
    l.processinstancekey = 42;
    l.elementid = (char *)"review";
    l.bpmnprocessid = (char *)"review-process";
    l.limit = 5;
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_user_tasks(b.p, b.n, &c, &err), 0);
    assert_string_equal(c.search.assignee, "demo");
    assert_int_equal(c.search.process_instance_key, 42);
    assert_string_equal(c.search.element_id, "review");
    assert_string_equal(c.search.bpmn_process_id, "review-process");
    assert_int_equal(c.search.limit, 5);
    command_free(&c);
    free(b.p);
    /* An assignee and unassigned together ask for nothing: refused. */
    l.unassigned = 1;
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_user_tasks(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_contains(err.message, "but the request asks for both");
    free(b.p);
    l.assignee = (char *)"";
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_user_tasks(b.p, b.n, &c, &err), 0);
    assert_string_equal(c.search.assignee, ""); /* unassigned only */
    command_free(&c);
    free(b.p);
    l.limit = CODEC_MAX_USER_TASK_LIMIT + 1;
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_user_tasks(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_contains(err.message, "limit between 0 and 10000, but it was 10001");
    free(b.p);
    l.limit = -1;
    b = pack(&l.base);
    assert_int_equal(codec_decode_list_user_tasks(b.p, b.n, &c, &err), CHUTE_EINVAL);
    free(b.p);

    /* AssignUserTask: noOverride false is Camunda's default (override). */
    Chute__V1__AssignUserTaskRequest a = CHUTE__V1__ASSIGN_USER_TASK_REQUEST__INIT;
    a.key = 2251799813685253;
    a.assignee = (char *)"demo";
    b = pack(&a.base);
    assert_int_equal(codec_decode_assign_user_task(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_ASSIGN_USER_TASK);
    assert_true(c.key == a.key);
    assert_string_equal(c.assignee, "demo");
    assert_int_equal(c.no_override, 0);
    command_free(&c);
    free(b.p);
    a.nooverride = 1;
    a.assignee = (char *)"";
    b = pack(&a.base);
    assert_int_equal(codec_decode_assign_user_task(b.p, b.n, &c, &err), 0);
    assert_string_equal(c.assignee, "");
    assert_int_equal(c.no_override, 1);
    command_free(&c);
    free(b.p);

    /* CompleteUserTask: blank variables are none. */
    Chute__V1__CompleteUserTaskRequest d = CHUTE__V1__COMPLETE_USER_TASK_REQUEST__INIT;
    d.key = 7;
    d.variables = (char *)"  ";
    b = pack(&d.base);
    assert_int_equal(codec_decode_complete_user_task(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_COMPLETE_USER_TASK);
    assert_int_equal(c.key, 7);
    assert_null(c.variables);
    command_free(&c);
    free(b.p);
    d.variables = (char *)"{\"ok\":true}";
    b = pack(&d.base);
    assert_int_equal(codec_decode_complete_user_task(b.p, b.n, &c, &err), 0);
    assert_string_equal(c.variables, "{\"ok\":true}");
    assert_int_equal(c.variables_len, 11);
    command_free(&c);
    free(b.p);

    const uint8_t junk[] = {0x08};
    assert_int_equal(codec_decode_list_user_tasks(junk, sizeof junk, &c, &err), CHUTE_EINVAL);
    assert_contains(err.message, "ListUserTasksRequest");
    assert_int_equal(codec_decode_assign_user_task(junk, sizeof junk, &c, &err), CHUTE_EINVAL);
    assert_int_equal(codec_decode_complete_user_task(junk, sizeof junk, &c, &err), CHUTE_EINVAL);
}

static void test_user_task_list(void **state)
{
    (void)state;
    chute_error err;
    chute_user_task_view t1 = sample_task(2251799813685253, "demo");
    chute_user_task_view t2 = sample_task(2251799813685260, "");
    t2.candidate_groups = "[]";
    t2.candidate_users = "[\"anna\"]";
    codec_user_task_list l;
    uint8_t *out;
    size_t len, n;
    codec_user_task_list_init(&l, 0);
    assert_int_equal(codec_user_task_list_add(&l, &t1, &err), 0);
    assert_int_equal(codec_user_task_list_add(&l, &t2, &err), 0);
    assert_int_equal(codec_user_task_list_finish(&l, &out, &len, &err), 0);
    codec_user_task_list_free(&l);
    const uint8_t *m = unframe(out, len, &n);
    Chute__V1__ListUserTasksResponse *r = chute__v1__list_user_tasks_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->n_tasks, 2);
    assert_false(r->truncated);
    const Chute__V1__UserTask *u = r->tasks[0];
    assert_true(u->key == t1.key);
    assert_true(u->processinstancekey == t1.process_instance_key);
    assert_true(u->processdefinitionkey == t1.process_definition_key);
    assert_string_equal(u->bpmnprocessid, "review-process");
    assert_string_equal(u->elementid, "review");
    assert_string_equal(u->name, "Review");
    assert_string_equal(u->assignee, "demo");
    assert_int_equal(u->n_candidategroups, 2);
    assert_string_equal(u->candidategroups[0], "ops");
    assert_string_equal(u->candidategroups[1], "sales");
    assert_int_equal(u->n_candidateusers, 0);
    assert_string_equal(u->duedate, "2026-01-02T10:00:00Z");
    assert_string_equal(u->followupdate, "");
    assert_int_equal(u->priority, 50);
    assert_int_equal(u->createdat, 1700000000123);
    assert_string_equal(r->tasks[1]->assignee, "");
    assert_int_equal(r->tasks[1]->n_candidategroups, 0);
    assert_int_equal(r->tasks[1]->n_candidateusers, 1);
    assert_string_equal(r->tasks[1]->candidateusers[0], "anna");
    chute__v1__list_user_tasks_response__free_unpacked(r, NULL);
    free(out);

    /* A bound that holds one task: the second is left out, and the
     * response says so within the bound. */
    Chute__V1__UserTask one;
    assert_int_equal(codec_user_task_from_view(&one, &t1, &err), 0);
    size_t room = 1 + 2 + chute__v1__user_task__get_packed_size(&one) + 2;
    codec_user_task_clear(&one);
    codec_user_task_list_init(&l, room);
    assert_int_equal(codec_user_task_list_add(&l, &t1, &err), 0);
    assert_int_equal(codec_user_task_list_add(&l, &t2, &err), 1);
    assert_int_equal(codec_user_task_list_add(&l, &t1, &err), 1); /* stays full */
    assert_int_equal(codec_user_task_list_finish(&l, &out, &len, &err), 0);
    codec_user_task_list_free(&l);
    assert_true(len - CODEC_FRAME_PREFIX <= room);
    m = unframe(out, len, &n);
    r = chute__v1__list_user_tasks_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->n_tasks, 1);
    assert_true(r->truncated);
    chute__v1__list_user_tasks_response__free_unpacked(r, NULL);
    free(out);
    /* An empty list, and a list the caller marks truncated (its limit). */
    codec_user_task_list_init(&l, 0);
    l.truncated = 1;
    assert_int_equal(codec_user_task_list_finish(&l, &out, &len, &err), 0);
    m = unframe(out, len, &n);
    r = chute__v1__list_user_tasks_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->n_tasks, 0);
    assert_true(r->truncated);
    chute__v1__list_user_tasks_response__free_unpacked(r, NULL);
    free(out);
    codec_user_task_list_free(&l);
    codec_user_task_list_free(NULL);
}

/* ---- compression (codec_inflate) --------------------------------------------- */

/* Compresses |n| bytes with zlib's own deflate: gzip (RFC 1952) or the zlib
 * format gRPC calls "deflate". Returns a malloc'd buffer. */
static bytes zip(const void *in, size_t n, codec_encoding enc)
{
    bytes b;
    if (enc == CODEC_ENC_DEFLATE) {
        uLongf cap = compressBound((uLong)n);
        b.p = malloc(cap);
        assert_non_null(b.p);
        assert_int_equal(compress2(b.p, &cap, in, (uLong)n, Z_BEST_COMPRESSION), Z_OK);
        b.n = cap;
        return b;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(
        deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY),
        Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n);
    b.p = malloc(cap);
    assert_non_null(b.p);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = b.p;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    b.n = zs.total_out;
    deflateEnd(&zs);
    return b;
}

/* A mix of text and noise that compresses, but not to nothing. */
static uint8_t *sample(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i / 64) % 2 ? (uint8_t)(x >> 24) : (uint8_t)("chute job broker "[i % 17]);
    }
    return p;
}

static void test_encoding_parse(void **state)
{
    (void)state;
    assert_int_equal(codec_encoding_parse("gzip", 4), CODEC_ENC_GZIP);
    assert_int_equal(codec_encoding_parse("GZip", 4), CODEC_ENC_GZIP);
    assert_int_equal(codec_encoding_parse("deflate", 7), CODEC_ENC_DEFLATE);
    assert_int_equal(codec_encoding_parse("identity", 8), CODEC_ENC_IDENTITY);
    assert_int_equal(codec_encoding_parse("", 0), CODEC_ENC_IDENTITY);
    assert_int_equal(codec_encoding_parse("gzipx", 4), CODEC_ENC_GZIP); /* only |len| counts */
    assert_int_equal(codec_encoding_parse("gzip ", 5), CODEC_ENC_UNKNOWN);
    assert_int_equal(codec_encoding_parse("snappy", 6), CODEC_ENC_UNKNOWN);
    assert_int_equal(codec_encoding_parse("gzi", 3), CODEC_ENC_UNKNOWN);
}

static void test_inflate_round_trip(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 100, 4095, 4096, 4097, 70000, 1u << 20};
    for (int e = 0; e < 2; e++) {
        codec_encoding enc = e ? CODEC_ENC_DEFLATE : CODEC_ENC_GZIP;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            uint8_t *plain = sample(sizes[i]);
            bytes z = zip(plain, sizes[i], enc);
            uint8_t *out = NULL;
            size_t out_len = 0;
            chute_error err = {0, ""};
            assert_int_equal(codec_inflate(enc, z.p, z.n, 0, &out, &out_len, &err), 0);
            assert_int_equal(out_len, sizes[i]);
            assert_memory_equal(out, plain, sizes[i]);
            free(out);
            /* A bound of exactly the size is enough... */
            out = NULL;
            assert_int_equal(codec_inflate(enc, z.p, z.n, sizes[i], &out, &out_len, &err), 0);
            assert_int_equal(out_len, sizes[i]);
            free(out);
            /* ...one byte less is not. */
            if (sizes[i] > 1) {
                out = NULL;
                assert_int_equal(codec_inflate(enc, z.p, z.n, sizes[i] - 1, &out, &out_len, &err),
                                 CHUTE_ETOOBIG);
                assert_null(out);
            }
            free(z.p);
            free(plain);
        }
    }
    /* codec_gzip_inflate is the gzip case. */
    bytes z = zip("hello", 5, CODEC_ENC_GZIP);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(codec_gzip_inflate(z.p, z.n, 16, &out, &out_len, NULL), 0);
    assert_int_equal(out_len, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    free(z.p);
}

static void test_inflate_bomb(void **state)
{
    (void)state;
    /* 64 MiB of zeros: about 64 KiB of gzip. The bound is 4 MiB (the
     * default) and then 256 KiB; the codec must never ask for more. */
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    for (int e = 0; e < 2; e++) {
        codec_encoding enc = e ? CODEC_ENC_DEFLATE : CODEC_ENC_GZIP;
        bytes z = zip(zeros, big, enc);
        assert_true(z.n < big / 500);
        static const size_t bounds[] = {0, 256u * 1024, 1};
        for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
            size_t bound = bounds[i] ? bounds[i] : CODEC_MAX_MESSAGE;
            uint8_t *out = NULL;
            size_t out_len = 12345;
            chute_error err = {0, ""};
            alloc_max = 0;
            assert_int_equal(codec_inflate(enc, z.p, z.n, bounds[i], &out, &out_len, &err),
                             CHUTE_ETOOBIG);
            /* It grew to the bound (so the wrappers do see its buffer)
             * and not one byte past it. */
            assert_int_equal(alloc_max, bound);
            assert_null(out);
            assert_int_equal(out_len, 12345);
            assert_int_equal(err.code, CHUTE_ETOOBIG);
            char limit[64];
            snprintf(limit, sizeof limit, "maximum message size of %zu bytes", bound);
            assert_contains(err.message, limit);
            assert_contains(err.message, e ? "deflate-compressed" : "gzip-compressed");
        }
        free(z.p);
    }
    free(zeros);
}

static void test_inflate_corrupt_and_truncated(void **state)
{
    (void)state;
    size_t n = 50000;
    uint8_t *plain = sample(n);
    bytes z = zip(plain, n, CODEC_ENC_GZIP);
    uint8_t *out = NULL;
    size_t out_len = 0;
    chute_error err = {0, ""};

    /* Truncated anywhere: in the header, the data, the trailer. */
    static const size_t cuts[] = {1, 9, 10, 100, 0 /* half */, 8 /* trailer */, 1 /* last byte */};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t keep = i < 4 ? cuts[i] : cuts[i] == 0 ? z.n / 2 : z.n - cuts[i];
        memset(&err, 0, sizeof err);
        assert_int_equal(codec_inflate(CODEC_ENC_GZIP, z.p, keep, 0, &out, &out_len, &err),
                         CHUTE_EINVAL);
        assert_null(out);
        assert_contains(err.message, "the gzip-compressed message could not be decompressed: ");
        assert_contains(err.message, "truncated");
    }

    /* Not gzip at all (bad magic), and a broken CRC in the trailer. */
    bytes bad = {malloc(z.n), z.n};
    memcpy(bad.p, z.p, z.n);
    bad.p[0] ^= 0xff;
    assert_int_equal(codec_inflate(CODEC_ENC_GZIP, bad.p, bad.n, 0, &out, &out_len, &err),
                     CHUTE_EINVAL);
    assert_contains(err.message, "could not be decompressed: incorrect header check");
    memcpy(bad.p, z.p, z.n);
    bad.p[z.n - 8] ^= 0x01;
    assert_int_equal(codec_inflate(CODEC_ENC_GZIP, bad.p, bad.n, 0, &out, &out_len, &err),
                     CHUTE_EINVAL);
    assert_contains(err.message, "could not be decompressed: incorrect data check");
    /* Garbage in the middle of the compressed data. */
    memcpy(bad.p, z.p, z.n);
    memset(bad.p + 20, 0xff, 64);
    assert_int_equal(codec_inflate(CODEC_ENC_GZIP, bad.p, bad.n, 0, &out, &out_len, &err),
                     CHUTE_EINVAL);
    assert_contains(err.message, "could not be decompressed");
    /* gzip bytes read as deflate (zlib format): wrong header. */
    assert_int_equal(codec_inflate(CODEC_ENC_DEFLATE, z.p, z.n, 0, &out, &out_len, &err),
                     CHUTE_EINVAL);
    assert_contains(err.message, "the deflate-compressed message could not be decompressed");
    free(bad.p);

    /* Bytes after the end: another gzip member is read on (as RFC 1952
     * allows); anything else is an error. */
    bytes two = {malloc(2 * z.n), 2 * z.n};
    memcpy(two.p, z.p, z.n);
    memcpy(two.p + z.n, z.p, z.n);
    assert_int_equal(codec_inflate(CODEC_ENC_GZIP, two.p, two.n, 0, &out, &out_len, &err), 0);
    assert_int_equal(out_len, 2 * n);
    assert_memory_equal(out, plain, n);
    assert_memory_equal(out + n, plain, n);
    free(out);
    out = NULL;
    /* ...bounded as a whole. */
    assert_int_equal(codec_inflate(CODEC_ENC_GZIP, two.p, two.n, 2 * n - 1, &out, &out_len, &err),
                     CHUTE_ETOOBIG);
    two.p[z.n] = 'x';
    assert_int_equal(codec_inflate(CODEC_ENC_GZIP, two.p, z.n + 3, 0, &out, &out_len, &err),
                     CHUTE_EINVAL);
    assert_null(out);
    free(two.p);
    bytes zd = zip(plain, n, CODEC_ENC_DEFLATE);
    append(&zd, "\0", 1);
    assert_int_equal(codec_inflate(CODEC_ENC_DEFLATE, zd.p, zd.n, 0, &out, &out_len, &err),
                     CHUTE_EINVAL);
    assert_contains(err.message, "1 extra bytes after the end");
    free(zd.p);

    /* identity is not something to inflate. */
    assert_int_equal(codec_inflate(CODEC_ENC_IDENTITY, z.p, z.n, 0, &out, &out_len, &err),
                     CHUTE_EINVAL);
    assert_null(out);
    free(z.p);
    free(plain);
}

static void test_inflate_empty(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t out_len = 99;
    /* Zero compressed bytes: an empty message. */
    assert_int_equal(codec_inflate(CODEC_ENC_GZIP, NULL, 0, 0, &out, &out_len, NULL), 0);
    assert_non_null(out);
    assert_int_equal(out_len, 0);
    free(out);
    /* The compressed form of an empty message (20 bytes of gzip). */
    for (int e = 0; e < 2; e++) {
        codec_encoding enc = e ? CODEC_ENC_DEFLATE : CODEC_ENC_GZIP;
        bytes z = zip("", 0, enc);
        assert_true(z.n > 0);
        out = NULL;
        out_len = 99;
        assert_int_equal(codec_inflate(enc, z.p, z.n, 1, &out, &out_len, NULL), 0);
        assert_non_null(out);
        assert_int_equal(out_len, 0);
        free(out);
        free(z.p);
    }
}

/* ---- process instances ------------------------------------------------------------ */

/* Appends a varint to |b|. */
static void put_varint(bytes *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    append(b, tmp, n);
}

/* Appends field |field| as a length-delimited string. */
static void put_bytes(bytes *b, uint32_t field, const void *p, size_t n)
{
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    append(b, p, n);
}

static void put_str(bytes *b, uint32_t field, const char *s)
{
    put_bytes(b, field, s, strlen(s));
}

static void put_int(bytes *b, uint32_t field, int64_t v)
{
    put_varint(b, (uint64_t)field << 3);
    put_varint(b, (uint64_t)v);
}

/* A CreateProcessInstanceRequest written field by field with Zeebe's
 * numbers, so that a wrong number in proto/gateway.proto shows here. */
static bytes create_request(int64_t key, const char *id, int32_t version, const char *vars,
                            size_t starts, const char *tenant)
{
    bytes b = {NULL, 0};
    put_int(&b, 1, key);
    put_str(&b, 2, id);
    put_int(&b, 3, version);
    put_str(&b, 4, vars);
    for (size_t i = 0; i < starts; i++)
        put_bytes(&b, 5, "\x0a\x01s", 3); /* {elementId = "s"} */
    put_str(&b, 6, tenant);
    put_int(&b, 7, 42); /* operationReference: read by nobody */
    return b;
}

static void test_create_instance_decode(void **state)
{
    (void)state;
    bytes b = create_request(5, "order", -1, "{\"a\":1}", 0, "<default>");
    command c;
    chute_error err;
    assert_int_equal(codec_decode_create_process_instance(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_CREATE_INSTANCE);
    assert_int_equal(c.process_definition_key, 5);
    assert_string_equal(c.bpmn_process_id, "order");
    assert_int_equal(c.version, -1); /* a 10-byte varint on the wire */
    assert_string_equal(c.variables, "{\"a\":1}");
    assert_int_equal(c.variables_len, 7);
    assert_int_equal(c.start_instructions, 0);
    assert_false(c.await);
    command_free(&c);
    free(b.p);
    /* Start instructions are counted (the command layer refuses them). */
    b = create_request(0, "order", 2, "", 3, "");
    assert_int_equal(codec_decode_create_process_instance(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.start_instructions, 3);
    assert_int_equal(c.version, 2);
    assert_string_equal(c.variables, "");
    command_free(&c);
    free(b.p);
    /* Bounded on the wire, before protobuf-c allocates them. */
    b = create_request(0, "order", 2, "", CODEC_MAX_START_INSTRUCTIONS + 1, "");
    assert_int_equal(codec_decode_create_process_instance(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to create a process instance with at most 1000 "
                                     "startInstructions, but got 1001");
    assert_null(c.msg);
    free(b.p);
    /* Only the default tenant. */
    b = create_request(0, "order", -1, "", 0, "acme");
    assert_int_equal(codec_decode_create_process_instance(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to handle gRPC request CreateProcessInstance with "
                                     "tenant identifiers [acme], but multi-tenancy is disabled");
    assert_null(c.msg);
    free(b.p);
    /* An empty message is an empty request: the rules are the command
     * layer's. */
    assert_int_equal(codec_decode_create_process_instance(NULL, 0, &c, &err), 0);
    assert_string_equal(c.bpmn_process_id, "");
    assert_int_equal(c.process_definition_key, 0);
    command_free(&c);
    const uint8_t bad[] = {0x12, 0x05, 'a'};
    expect_malformed(codec_decode_create_process_instance, "CreateProcessInstanceRequest", bad,
                     sizeof bad);
}

static void test_create_with_result_decode(void **state)
{
    (void)state;
    bytes inner = create_request(0, "order", 3, "{}", 0, "");
    bytes b = {NULL, 0};
    put_bytes(&b, 1, inner.p, inner.n);
    put_int(&b, 2, 1500);
    put_str(&b, 3, "a");
    put_str(&b, 3, "b");
    free(inner.p);
    command c;
    chute_error err;
    assert_int_equal(codec_decode_create_process_instance_with_result(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_CREATE_INSTANCE);
    assert_true(c.await);
    assert_string_equal(c.bpmn_process_id, "order");
    assert_int_equal(c.version, 3);
    assert_int_equal(c.request_timeout_ms, 1500);
    assert_int_equal(c.nfetch, 2);
    assert_string_equal(c.fetch_names[0], "a");
    assert_string_equal(c.fetch_names[1], "b");
    command_free(&c);
    free(b.p);
    /* No request at all: an empty one, awaited. */
    assert_int_equal(codec_decode_create_process_instance_with_result(NULL, 0, &c, &err), 0);
    assert_true(c.await);
    assert_string_equal(c.bpmn_process_id, "");
    assert_string_equal(c.variables, "");
    command_free(&c);
    /* Bounds: fetchVariables at the top, startInstructions inside the
     * request (counted over every occurrence of the request field, which
     * protobuf merges). */
    b.p = NULL;
    b.n = 0;
    for (int i = 0; i <= CODEC_MAX_FETCH_VARIABLES; i++)
        put_str(&b, 3, "v");
    assert_int_equal(codec_decode_create_process_instance_with_result(b.p, b.n, &c, &err),
                     CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to create a process instance with at most 1000 "
                                     "fetchVariables names, but got 1001");
    free(b.p);
    bytes half = create_request(0, "order", 3, "", 501, "");
    b.p = NULL;
    b.n = 0;
    put_bytes(&b, 1, half.p, half.n);
    put_bytes(&b, 1, half.p, half.n);
    free(half.p);
    assert_int_equal(codec_decode_create_process_instance_with_result(b.p, b.n, &c, &err),
                     CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to create a process instance with at most 1000 "
                                     "startInstructions, but got 1002");
    free(b.p);
    /* The request field sent as a varint is not a message. */
    const uint8_t varint_request[] = {0x08, 0x01};
    expect_malformed(codec_decode_create_process_instance_with_result,
                     "CreateProcessInstanceWithResultRequest", varint_request,
                     sizeof varint_request);
    /* A malformed request inside. */
    const uint8_t bad_inner[] = {0x0a, 0x03, 0x12, 0x05, 'a'};
    expect_malformed(codec_decode_create_process_instance_with_result,
                     "CreateProcessInstanceWithResultRequest", bad_inner, sizeof bad_inner);
    /* The tenant of the inner request. */
    inner = create_request(0, "order", -1, "", 0, "acme");
    b.p = NULL;
    b.n = 0;
    put_bytes(&b, 1, inner.p, inner.n);
    free(inner.p);
    assert_int_equal(codec_decode_create_process_instance_with_result(b.p, b.n, &c, &err),
                     CHUTE_EINVAL);
    assert_contains(err.message, "CreateProcessInstanceWithResult with tenant identifiers [acme]");
    free(b.p);
}

static void test_cancel_set_delete_decode(void **state)
{
    (void)state;
    command c;
    chute_error err;
    bytes b = {NULL, 0};
    put_int(&b, 1, 2251799813685251);
    put_int(&b, 2, 9); /* operationReference */
    assert_int_equal(codec_decode_cancel_process_instance(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_CANCEL_INSTANCE);
    assert_int_equal(c.key, 2251799813685251);
    command_free(&c);
    assert_int_equal(codec_decode_delete_resource(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_DELETE_RESOURCE);
    assert_int_equal(c.key, 2251799813685251);
    command_free(&c);
    free(b.p);

    b.p = NULL;
    b.n = 0;
    put_int(&b, 1, 77);
    put_str(&b, 2, "{\"x\":[1]}");
    put_int(&b, 3, 1);
    put_int(&b, 4, 5);
    assert_int_equal(codec_decode_set_variables(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_SET_VARIABLES);
    assert_int_equal(c.key, 77);
    assert_string_equal(c.variables, "{\"x\":[1]}");
    assert_true(c.local);
    command_free(&c);
    free(b.p);
    /* local not sent: propagate; variables not sent: "" (the engine's
     * rule decides). */
    b.p = NULL;
    b.n = 0;
    put_int(&b, 1, 77);
    assert_int_equal(codec_decode_set_variables(b.p, b.n, &c, &err), 0);
    assert_false(c.local);
    assert_string_equal(c.variables, "");
    command_free(&c);
    free(b.p);
    const uint8_t bad[] = {0x08};
    expect_malformed(codec_decode_set_variables, "SetVariablesRequest", bad, sizeof bad);
    expect_malformed(codec_decode_cancel_process_instance, "CancelProcessInstanceRequest", bad,
                     sizeof bad);
    expect_malformed(codec_decode_delete_resource, "DeleteResourceRequest", bad, sizeof bad);
}

/* ModifyProcessInstanceRequest written with Zeebe's field numbers. */
static void test_modify_decode(void **state)
{
    (void)state;
    command c;
    chute_error err;
    bytes var1 = {NULL, 0}, var2 = {NULL, 0}, act = {NULL, 0}, act2 = {NULL, 0}, term = {NULL, 0},
          b = {NULL, 0};
    put_str(&var1, 1, "{\"a\":1}"); /* VariableInstruction.variables */
    put_str(&var2, 1, "{\"b\":2}");
    put_str(&var2, 2, "sub");   /* scopeId */
    put_str(&act, 1, "task_b"); /* ActivateInstruction.elementId */
    put_int(&act, 2, -1);       /* ancestorElementInstanceKey: a 10-byte varint */
    put_bytes(&act, 3, var1.p, var1.n);
    put_bytes(&act, 3, var2.p, var2.n);
    put_str(&act2, 1, "task_c");
    put_int(&act2, 2, 2251799813685260);
    put_int(&term, 1, 2251799813685255); /* TerminateInstruction.elementInstanceKey */
    put_int(&b, 1, 2251799813685251);    /* processInstanceKey */
    put_bytes(&b, 2, act.p, act.n);
    put_bytes(&b, 2, act2.p, act2.n);
    put_bytes(&b, 3, term.p, term.n);
    put_int(&b, 4, 7); /* operationReference: read by nobody */
    assert_int_equal(codec_decode_modify_process_instance(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_MODIFY_INSTANCE);
    assert_int_equal(c.key, 2251799813685251);
    assert_int_equal(c.nactivate, 2);
    assert_string_equal(c.activate[0].element_id, "task_b");
    assert_int_equal(c.activate[0].ancestor_key, -1);
    assert_int_equal(c.activate[0].nvars, 2);
    assert_string_equal(c.activate[0].vars[0].variables, "{\"a\":1}");
    assert_int_equal(c.activate[0].vars[0].variables_len, 7);
    assert_string_equal(c.activate[0].vars[0].scope_id, "");
    assert_string_equal(c.activate[0].vars[1].scope_id, "sub");
    assert_string_equal(c.activate[1].element_id, "task_c");
    assert_int_equal(c.activate[1].ancestor_key, 2251799813685260);
    assert_int_equal(c.activate[1].nvars, 0);
    assert_int_equal(c.nterminate, 1);
    assert_int_equal(c.terminate[0], 2251799813685255);
    command_free(&c);
    free(b.p);
    /* An empty message: no instructions (the engine answers for the key). */
    assert_int_equal(codec_decode_modify_process_instance(NULL, 0, &c, &err), 0);
    assert_int_equal(c.nactivate, 0);
    assert_int_equal(c.nterminate, 0);
    command_free(&c);
    /* Bounds on the wire: terminate instructions at the top, variable
     * instructions summed over every activate instruction. */
    b.p = NULL;
    b.n = 0;
    for (int i = 0; i <= CODEC_MAX_INSTRUCTIONS; i++)
        put_bytes(&b, 3, term.p, term.n);
    assert_int_equal(codec_decode_modify_process_instance(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to modify a process instance with at most 1000 "
                                     "terminateInstructions, but got 1001");
    assert_null(c.msg);
    free(b.p);
    bytes many = {NULL, 0};
    for (int i = 0; i < 501; i++)
        put_bytes(&many, 3, var1.p, var1.n);
    b.p = NULL;
    b.n = 0;
    put_bytes(&b, 2, many.p, many.n);
    put_bytes(&b, 2, many.p, many.n);
    assert_int_equal(codec_decode_modify_process_instance(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to modify a process instance with at most 1000 "
                                     "variableInstructions, but got 1002");
    free(b.p);
    free(many.p);
    free(var1.p);
    free(var2.p);
    free(act.p);
    free(act2.p);
    free(term.p);
    const uint8_t bad[] = {0x12, 0x05, 'a'};
    expect_malformed(codec_decode_modify_process_instance, "ModifyProcessInstanceRequest", bad,
                     sizeof bad);
}

/* MigrateProcessInstanceRequest and BroadcastSignalRequest, with Zeebe's
 * field numbers. */
static void test_migrate_and_signal_decode(void **state)
{
    (void)state;
    command c;
    chute_error err;
    bytes map = {NULL, 0}, plan = {NULL, 0}, b = {NULL, 0};
    put_str(&map, 1, "task_a");          /* sourceElementId */
    put_str(&map, 2, "task_x");          /* targetElementId */
    put_int(&plan, 1, 2251799813685300); /* targetProcessDefinitionKey */
    put_bytes(&plan, 2, map.p, map.n);
    put_bytes(&plan, 2, map.p, map.n);
    put_int(&b, 1, 2251799813685251);
    put_bytes(&b, 2, plan.p, plan.n);
    put_int(&b, 3, 7); /* operationReference */
    assert_int_equal(codec_decode_migrate_process_instance(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_MIGRATE_INSTANCE);
    assert_int_equal(c.key, 2251799813685251);
    assert_int_equal(c.process_definition_key, 2251799813685300);
    assert_int_equal(c.nmappings, 2);
    assert_string_equal(c.mappings[1].source_element_id, "task_a");
    assert_string_equal(c.mappings[1].target_element_id, "task_x");
    command_free(&c);
    free(b.p);
    /* No plan: no target (the command layer refuses it). */
    b.p = NULL;
    b.n = 0;
    put_int(&b, 1, 5);
    assert_int_equal(codec_decode_migrate_process_instance(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.process_definition_key, 0);
    assert_int_equal(c.nmappings, 0);
    command_free(&c);
    free(b.p);
    /* Mapping instructions are bounded inside the plan. */
    free(plan.p);
    plan.p = NULL;
    plan.n = 0;
    for (int i = 0; i <= CODEC_MAX_INSTRUCTIONS; i++)
        put_bytes(&plan, 2, map.p, map.n);
    b.p = NULL;
    b.n = 0;
    put_bytes(&b, 2, plan.p, plan.n);
    assert_int_equal(codec_decode_migrate_process_instance(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_string_equal(err.message, "Expected to migrate a process instance with at most 1000 "
                                     "mappingInstructions, but got 1001");
    free(b.p);
    free(plan.p);
    free(map.p);
    const uint8_t bad[] = {0x12, 0x05, 'a'};
    expect_malformed(codec_decode_migrate_process_instance, "MigrateProcessInstanceRequest", bad,
                     sizeof bad);

    b.p = NULL;
    b.n = 0;
    put_str(&b, 1, "order-cancelled"); /* signalName */
    put_str(&b, 2, "{}");
    put_str(&b, 3, "<default>");
    assert_int_equal(codec_decode_broadcast_signal(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_BROADCAST_SIGNAL);
    assert_string_equal(c.signal_name, "order-cancelled");
    command_free(&c);
    free(b.p);
    expect_malformed(codec_decode_broadcast_signal, "BroadcastSignalRequest", bad, sizeof bad);
}

static void test_encode_instance_responses(void **state)
{
    (void)state;
    chute_instance_view inst = {.key = 2251799813685253,
                                .process_definition_key = 2251799813685250,
                                .bpmn_process_id = "order",
                                .version = 4,
                                .state = CHUTE_INSTANCE_COMPLETED,
                                .variables = "{\"a\":1}",
                                .variables_len = 7};
    uint8_t *out;
    size_t out_len, n;
    chute_error err;
    assert_int_equal(codec_encode_create_instance_response(&inst, 0, 0, &out, &out_len, &err), 0);
    const uint8_t *m = unframe(out, out_len, &n);
    GatewayProtocol__CreateProcessInstanceResponse *r =
        gateway_protocol__create_process_instance_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->processdefinitionkey, 2251799813685250);
    assert_string_equal(r->bpmnprocessid, "order");
    assert_int_equal(r->version, 4);
    assert_int_equal(r->processinstancekey, 2251799813685253);
    assert_string_equal(r->tenantid, "<default>");
    gateway_protocol__create_process_instance_response__free_unpacked(r, NULL);
    /* Zeebe's numbers: 1 varint, 2 string, 3 varint, 4 varint, 5 string. */
    assert_int_equal(m[0], 0x08);
    const uint8_t tenant_tag[] = {0x2a, 9, '<', 'd', 'e', 'f', 'a', 'u', 'l', 't', '>'};
    assert_memory_equal(m + n - sizeof tenant_tag, tenant_tag, sizeof tenant_tag);
    free(out);

    assert_int_equal(codec_encode_create_instance_response(&inst, 1, 0, &out, &out_len, &err), 0);
    m = unframe(out, out_len, &n);
    GatewayProtocol__CreateProcessInstanceWithResultResponse *w =
        gateway_protocol__create_process_instance_with_result_response__unpack(NULL, n, m);
    assert_non_null(w);
    assert_int_equal(w->processinstancekey, 2251799813685253);
    assert_string_equal(w->variables, "{\"a\":1}");
    assert_string_equal(w->tenantid, "<default>");
    gateway_protocol__create_process_instance_with_result_response__free_unpacked(w, NULL);
    /* variables = 5, tenantId = 6. */
    const uint8_t vars_tag[] = {0x2a, 7, '{', '"', 'a', '"', ':', '1', '}', 0x32, 9};
    assert_non_null(memmem(m, n, vars_tag, sizeof vars_tag));
    free(out);
    /* Blank variables are "{}"; a bound too small is ETOOBIG. */
    inst.variables = "";
    inst.variables_len = 0;
    assert_int_equal(codec_encode_create_instance_response(&inst, 1, 0, &out, &out_len, &err), 0);
    m = unframe(out, out_len, &n);
    w = gateway_protocol__create_process_instance_with_result_response__unpack(NULL, n, m);
    assert_string_equal(w->variables, "{}");
    gateway_protocol__create_process_instance_with_result_response__free_unpacked(w, NULL);
    free(out);
    out = NULL;
    assert_int_equal(codec_encode_create_instance_response(&inst, 1, 10, &out, &out_len, &err),
                     CHUTE_ETOOBIG);
    assert_null(out);

    assert_int_equal(codec_encode_set_variables_response(300, &out, &out_len, &err), 0);
    m = unframe(out, out_len, &n);
    const uint8_t key_300[] = {0x08, 0xac, 0x02};
    assert_int_equal(n, sizeof key_300);
    assert_memory_equal(m, key_300, sizeof key_300);
    free(out);
}

/* ---- messages ------------------------------------------------------------------ */

static void test_publish_message_decode(void **state)
{
    (void)state;
    command c;
    chute_error err;
    /* Written field by field with Zeebe's numbers. */
    bytes b = {NULL, 0};
    put_str(&b, 1, "paid");
    put_str(&b, 2, "order-7");
    put_int(&b, 3, 60000);
    put_str(&b, 4, "m-1");
    put_str(&b, 5, "{\"amount\":5}");
    put_str(&b, 6, "<default>");
    put_int(&b, 99, 1); /* a field of a newer client: skipped */
    assert_int_equal(codec_decode_publish_message(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_PUBLISH_MESSAGE);
    assert_string_equal(c.message_name, "paid");
    assert_string_equal(c.correlation_key, "order-7");
    assert_int_equal(c.ttl_ms, 60000);
    assert_string_equal(c.message_id, "m-1");
    assert_string_equal(c.variables, "{\"amount\":5}");
    assert_int_equal(c.variables_len, 12);
    command_free(&c);
    free(b.p);
    /* Nothing sent: empty strings and no time to live; a blank name and a
     * negative time to live are the engine's to refuse. */
    assert_int_equal(codec_decode_publish_message(NULL, 0, &c, &err), 0);
    assert_string_equal(c.message_name, "");
    assert_string_equal(c.correlation_key, "");
    assert_string_equal(c.message_id, "");
    assert_string_equal(c.variables, "");
    assert_int_equal(c.ttl_ms, 0);
    command_free(&c);
    b.p = NULL;
    b.n = 0;
    put_int(&b, 3, -5);
    assert_int_equal(codec_decode_publish_message(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.ttl_ms, -5);
    command_free(&c);
    free(b.p);
    /* Another tenant: multi-tenancy is off. */
    b.p = NULL;
    b.n = 0;
    put_str(&b, 1, "paid");
    put_str(&b, 6, "acme");
    assert_int_equal(codec_decode_publish_message(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_null(c.msg);
    assert_contains(err.message, "PublishMessage with tenant identifiers [acme]");
    free(b.p);
    const uint8_t bad[] = {0x0a, 0x05, 'a'}; /* a name longer than the message */
    expect_malformed(codec_decode_publish_message, "PublishMessageRequest", bad, sizeof bad);
}

static void test_publish_message_response(void **state)
{
    (void)state;
    uint8_t *out;
    size_t out_len, n;
    chute_error err;
    assert_int_equal(codec_encode_publish_message_response(300, &out, &out_len, &err), 0);
    const uint8_t *m = unframe(out, out_len, &n);
    /* key = 1 varint, tenantId = 2 string. */
    const uint8_t want[] = {0x08, 0xac, 0x02, 0x12, 0x09, '<', 'd',
                            'e',  'f',  'a',  'u',  'l',  't', '>'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(m, want, sizeof want);
    GatewayProtocol__PublishMessageResponse *r =
        gateway_protocol__publish_message_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->key, 300);
    assert_string_equal(r->tenantid, "<default>");
    gateway_protocol__publish_message_response__free_unpacked(r, NULL);
    free(out);
}

/* ---- decisions ----------------------------------------------------------------- */

static void test_deploy_response_decisions(void **state)
{
    (void)state;
    chute_process_view procs[1] = {
        {.key = 10, .bpmn_process_id = "rocket", .version = 2, .resource_name = "r.bpmn"}};
    /* Two decisions of one resource, one of another. */
    chute_decision_view decs[3] = {{.key = 21,
                                    .decision_id = "a",
                                    .name = "A",
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
                                    .resource_name = "g1.dmn"},
                                   {.key = 31,
                                    .decision_id = "c",
                                    .name = "C",
                                    .version = 1,
                                    .requirements_key = 30,
                                    .requirements_id = "g2",
                                    .requirements_name = "",
                                    .requirements_version = 1,
                                    .resource_name = "g2.dmn"}};
    uint8_t *out;
    size_t out_len, n;
    chute_error err;
    assert_int_equal(codec_encode_deploy_response(5, procs, 1, decs, 3, 0, &out, &out_len, &err),
                     0);
    const uint8_t *m = unframe(out, out_len, &n);
    GatewayProtocol__DeployResourceResponse *r =
        gateway_protocol__deploy_resource_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->key, 5);
    /* Zeebe's order: processes, decisions, then the graphs. */
    assert_int_equal(r->n_deployments, 6);
    assert_int_equal(r->deployments[0]->metadata_case,
                     GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_PROCESS);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(r->deployments[i]->metadata_case,
                         GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_DECISION);
    const GatewayProtocol__DecisionMetadata *d = r->deployments[1]->decision;
    assert_string_equal(d->dmndecisionid, "a");
    assert_string_equal(d->dmndecisionname, "A");
    assert_int_equal(d->version, 3);
    assert_int_equal(d->decisionkey, 21);
    assert_string_equal(d->dmndecisionrequirementsid, "g1");
    assert_int_equal(d->decisionrequirementskey, 20);
    assert_string_equal(d->tenantid, "<default>");
    assert_string_equal(r->deployments[3]->decision->dmndecisionid, "c");
    const GatewayProtocol__DecisionRequirementsMetadata *g =
        r->deployments[4]->decisionrequirements;
    assert_int_equal(r->deployments[4]->metadata_case,
                     GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_DECISION_REQUIREMENTS);
    assert_string_equal(g->dmndecisionrequirementsid, "g1");
    assert_string_equal(g->dmndecisionrequirementsname, "G1");
    assert_int_equal(g->version, 2);
    assert_int_equal(g->decisionrequirementskey, 20);
    assert_string_equal(g->resourcename, "g1.dmn");
    assert_string_equal(g->tenantid, "<default>");
    g = r->deployments[5]->decisionrequirements;
    assert_string_equal(g->dmndecisionrequirementsid, "g2");
    assert_int_equal(g->decisionrequirementskey, 30);
    gateway_protocol__deploy_resource_response__free_unpacked(r, NULL);
    /* Zeebe's numbers: Deployment.decision = 2, DecisionMetadata
     * dmnDecisionId = 1 ... tenantId = 7; decisionRequirements = 3,
     * resourceName = 5, tenantId = 6. */
    const uint8_t decision[] = {0x12, 0x1b, 0x0a, 0x01, 'a', 0x12, 0x01, 'A',  0x18, 0x03,
                                0x20, 0x15, 0x2a, 0x02, 'g', '1',  0x30, 0x14, 0x3a, 0x09,
                                '<',  'd',  'e',  'f',  'a', 'u',  'l',  't',  '>'};
    assert_non_null(memmem(m, n, decision, sizeof decision));
    const uint8_t graph[] = {0x1a, 0x1f, 0x0a, 0x02, 'g',  '1', 0x12, 0x02, 'G', '1', 0x18,
                             0x02, 0x20, 0x14, 0x2a, 0x06, 'g', '1',  '.',  'd', 'm', 'n'};
    assert_non_null(memmem(m, n, graph, sizeof graph));
    free(out);
    /* DeployProcess lists processes only. */
    assert_int_equal(codec_encode_deploy_response(5, procs, 1, decs, 3, 1, &out, &out_len, &err),
                     0);
    m = unframe(out, out_len, &n);
    GatewayProtocol__DeployProcessResponse *lr =
        gateway_protocol__deploy_process_response__unpack(NULL, n, m);
    assert_non_null(lr);
    assert_int_equal(lr->n_processes, 1);
    gateway_protocol__deploy_process_response__free_unpacked(lr, NULL);
    free(out);
}

static void test_evaluate_decision_decode(void **state)
{
    (void)state;
    command c;
    chute_error err;
    bytes b = {NULL, 0};
    put_int(&b, 1, 2251799813685252);
    put_str(&b, 2, "plot-destination");
    put_str(&b, 3, "{\"fuelLevel\":80}");
    put_str(&b, 4, "<default>");
    put_int(&b, 99, 1); /* a field of a newer client: skipped */
    assert_int_equal(codec_decode_evaluate_decision(b.p, b.n, &c, &err), 0);
    assert_int_equal(c.kind, COMMAND_EVALUATE_DECISION);
    assert_int_equal(c.decision_key, 2251799813685252);
    assert_int_equal(c.key, 0);
    assert_string_equal(c.decision_id, "plot-destination");
    assert_string_equal(c.variables, "{\"fuelLevel\":80}");
    assert_int_equal(c.variables_len, 16);
    command_free(&c);
    free(b.p);
    /* Nothing sent: the engine refuses it (neither an id nor a key). */
    assert_int_equal(codec_decode_evaluate_decision(NULL, 0, &c, &err), 0);
    assert_string_equal(c.decision_id, "");
    assert_int_equal(c.decision_key, 0);
    assert_string_equal(c.variables, "");
    command_free(&c);
    b.p = NULL;
    b.n = 0;
    put_str(&b, 2, "d");
    put_str(&b, 4, "acme");
    assert_int_equal(codec_decode_evaluate_decision(b.p, b.n, &c, &err), CHUTE_EINVAL);
    assert_null(c.msg);
    assert_contains(err.message, "EvaluateDecision with tenant identifiers [acme]");
    free(b.p);
    const uint8_t bad[] = {0x12, 0x05, 'a'};
    expect_malformed(codec_decode_evaluate_decision, "EvaluateDecisionRequest", bad, sizeof bad);
}

static void test_evaluate_decision_response(void **state)
{
    (void)state;
    chute_decision_value in[1] = {{"Input_1", "Fuel level", "80"}};
    chute_decision_value outs[1] = {{"Output_1", "Destination", "\"Mars\""}};
    chute_matched_rule rules[1] = {{"DecisionRule_2", 2, outs, 1}};
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
    uint8_t *out = NULL;
    size_t out_len, n;
    chute_error err;
    assert_int_equal(codec_encode_evaluate_decision_response(&ev, 0, &out, &out_len, &err), 0);
    const uint8_t *m = unframe(out, out_len, &n);
    GatewayProtocol__EvaluateDecisionResponse *r =
        gateway_protocol__evaluate_decision_response__unpack(NULL, n, m);
    assert_non_null(r);
    assert_int_equal(r->decisionkey, 52);
    assert_string_equal(r->decisionid, "plot");
    assert_string_equal(r->decisionname, "Plot");
    assert_int_equal(r->decisionversion, 1);
    assert_string_equal(r->decisionrequirementsid, "plot-drg");
    assert_int_equal(r->decisionrequirementskey, 51);
    assert_string_equal(r->decisionoutput, "\"Mars\"");
    assert_string_equal(r->faileddecisionid, "");
    assert_string_equal(r->failuremessage, "");
    assert_string_equal(r->tenantid, "<default>");
    assert_int_equal(r->decisioninstancekey, 60);
    assert_int_equal(r->decisionevaluationkey, 60);
    assert_int_equal(r->n_evaluateddecisions, 1);
    const GatewayProtocol__EvaluatedDecision *e = r->evaluateddecisions[0];
    assert_int_equal(e->decisionkey, 52);
    assert_string_equal(e->decisionid, "plot");
    assert_string_equal(e->decisiontype, "DECISION_TABLE");
    assert_string_equal(e->decisionoutput, "\"Mars\"");
    assert_string_equal(e->tenantid, "<default>");
    assert_string_equal(e->decisionevaluationinstancekey, "60-1");
    assert_int_equal(e->n_evaluatedinputs, 1);
    assert_string_equal(e->evaluatedinputs[0]->inputid, "Input_1");
    assert_string_equal(e->evaluatedinputs[0]->inputname, "Fuel level");
    assert_string_equal(e->evaluatedinputs[0]->inputvalue, "80");
    assert_int_equal(e->n_matchedrules, 1);
    assert_string_equal(e->matchedrules[0]->ruleid, "DecisionRule_2");
    assert_int_equal(e->matchedrules[0]->ruleindex, 2);
    assert_int_equal(e->matchedrules[0]->n_evaluatedoutputs, 1);
    assert_string_equal(e->matchedrules[0]->evaluatedoutputs[0]->outputname, "Destination");
    assert_string_equal(e->matchedrules[0]->evaluatedoutputs[0]->outputvalue, "\"Mars\"");
    gateway_protocol__evaluate_decision_response__free_unpacked(r, NULL);
    /* Zeebe's numbers: decisionOutput = 7, tenantId = 11,
     * decisionInstanceKey = 12, decisionEvaluationKey = 13. */
    const uint8_t output_tag[] = {0x3a, 0x06, '"', 'M', 'a', 'r', 's', '"', 0x42};
    assert_non_null(memmem(m, n, output_tag, sizeof output_tag));
    const uint8_t tail[] = {0x5a, 0x09, '<', 'd',  'e', 'f',  'a', 'u',
                            'l',  't',  '>', 0x60, 60,  0x68, 60};
    assert_int_equal(memcmp(m + n - sizeof tail, tail, sizeof tail), 0);
    free(out);
    /* A failure: failedDecisionId = 9, failureMessage = 10. */
    ev.output = "null";
    ev.failed_decision_id = "plot";
    ev.failure_message = "no";
    evd[0].output = "null";
    assert_int_equal(codec_encode_evaluate_decision_response(&ev, 0, &out, &out_len, &err), 0);
    m = unframe(out, out_len, &n);
    const uint8_t failure[] = {0x4a, 0x04, 'p', 'l', 'o', 't', 0x52, 0x02, 'n', 'o'};
    assert_non_null(memmem(m, n, failure, sizeof failure));
    free(out);
    out = NULL;
    assert_int_equal(codec_encode_evaluate_decision_response(&ev, 20, &out, &out_len, &err),
                     CHUTE_ETOOBIG);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_reader_byte_by_byte),
        cmocka_unit_test(test_reader_odd_chunks),
        cmocka_unit_test(test_reader_zero_copy),
        cmocka_unit_test(test_reader_oversize),
        cmocka_unit_test(test_reader_grows_with_data),
        cmocka_unit_test(test_reader_compressed_and_pending),
        cmocka_unit_test(test_pack_framed),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_activate_round_trip),
        cmocka_unit_test(test_activate_engine_rules_left_to_engine),
        cmocka_unit_test(test_activate_tenants),
        cmocka_unit_test(test_activate_fetch_bound),
        cmocka_unit_test(test_stream_round_trip),
        cmocka_unit_test(test_complete_round_trip),
        cmocka_unit_test(test_fail_round_trip),
        cmocka_unit_test(test_throw_error_round_trip),
        cmocka_unit_test(test_update_and_resolve_round_trip),
        cmocka_unit_test(test_unknown_fields_skipped),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_encode_activate_response),
        cmocka_unit_test(test_encode_large_variables_size),
        cmocka_unit_test(test_encode_topology),
        cmocka_unit_test(test_create_job_round_trip),
        cmocka_unit_test(test_create_jobs_round_trip),
        cmocka_unit_test(test_strings_utf8_without_nul),
        cmocka_unit_test(test_create_jobs_bound),
        cmocka_unit_test(test_get_cancel_list_round_trip),
        cmocka_unit_test(test_encode_chute_responses),
        cmocka_unit_test(test_incident_list),
        cmocka_unit_test(test_process_incident_encoding),
        cmocka_unit_test(test_get_process_instance),
        cmocka_unit_test(test_user_task_requests),
        cmocka_unit_test(test_user_task_list),
        cmocka_unit_test(test_encoding_parse),
        cmocka_unit_test(test_inflate_round_trip),
        cmocka_unit_test(test_inflate_bomb),
        cmocka_unit_test(test_inflate_corrupt_and_truncated),
        cmocka_unit_test(test_inflate_empty),
        cmocka_unit_test(test_create_instance_decode),
        cmocka_unit_test(test_create_with_result_decode),
        cmocka_unit_test(test_cancel_set_delete_decode),
        cmocka_unit_test(test_encode_instance_responses),
        cmocka_unit_test(test_modify_decode),
        cmocka_unit_test(test_migrate_and_signal_decode),
        cmocka_unit_test(test_publish_message_decode),
        cmocka_unit_test(test_publish_message_response),
        cmocka_unit_test(test_deploy_response_decisions),
        cmocka_unit_test(test_evaluate_decision_decode),
        cmocka_unit_test(test_evaluate_decision_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
