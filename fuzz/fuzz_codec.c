/*
 * libFuzzer target for the codec: every request decoder, the gRPC framing
 * parser and the grpc-message escape, on the same input.
 *
 * Build (clang only):
 *   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCHUTE_SANITIZE=ON -DCHUTE_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_codec
 *   build-fuzz/src/codec/fuzz_codec -max_total_time=60 fuzz/corpus/codec
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks
 * properties: a decoded request re-encodes to a response protobuf-c can
 * read back with the same strings, the framing parser yields the same
 * messages whatever the chunking, and escaping round-trips.
 */
#include "chute_codec.h"
#include "gateway_codec.h"
#include "grpc_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef int (*command_fn)(const uint8_t *, size_t, command *, chute_error *);

static void decoders(const uint8_t *data, size_t size)
{
    static const command_fn commands[] = {
        codec_decode_complete_job,
        codec_decode_fail_job,
        codec_decode_throw_error,
        codec_decode_update_job_retries,
        codec_decode_update_job_timeout,
        codec_decode_resolve_incident,
        codec_decode_get_job,
        codec_decode_cancel_job,
        codec_decode_create_process_instance,
        codec_decode_create_process_instance_with_result,
        codec_decode_cancel_process_instance,
        codec_decode_set_variables,
        codec_decode_delete_resource,
        codec_decode_get_process_instance,
        codec_decode_list_user_tasks,
        codec_decode_assign_user_task,
        codec_decode_complete_user_task,
        codec_decode_evaluate_decision,
        codec_decode_broadcast_signal,
    };
    chute_error err;

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        command c;
        int rc = commands[i](data, size, &c, &err);
        CHECK(rc == 0 || rc == CHUTE_EINVAL);
        CHECK(rc != 0 || c.msg != NULL);
        command_free(&c);
    }

    command a;
    if (codec_decode_activate_jobs(data, size, &a, &err) == 0) {
        CHECK(a.req.fetch_variables_count <= CODEC_MAX_FETCH_VARIABLES);
        /* Encode a job with the decoded strings and read it back. */
        chute_job_view v;
        memset(&v, 0, sizeof(v));
        v.key = a.req.timeout_ms;
        v.type = a.req.type;
        v.worker = a.req.worker ? a.req.worker : "";
        v.headers = "";
        v.variables = a.req.fetch_variables_count ? a.req.fetch_variables[0] : "";
        v.error_code = v.error_message = "";
        uint8_t *out;
        size_t len;
        if (codec_encode_activate_jobs_response(&v, 1, 0, &out, &len, &err) == 0) {
            CHECK(len == CODEC_FRAME_PREFIX + codec_activate_response_entry_size(&v));
            GatewayProtocol__ActivateJobsResponse *r =
                gateway_protocol__activate_jobs_response__unpack(NULL, len - CODEC_FRAME_PREFIX,
                                                                 out + CODEC_FRAME_PREFIX);
            CHECK(r && r->n_jobs == 1);
            CHECK(strcmp(r->jobs[0]->type, v.type) == 0);
            CHECK(strcmp(r->jobs[0]->customheaders, "{}") == 0);
            CHECK(r->jobs[0]->listenereventtype == 6);
            gateway_protocol__activate_jobs_response__free_unpacked(r, NULL);
            free(out);
        }
        command_free(&a);
    }
    if (codec_decode_stream_activated_jobs(data, size, &a, &err) == 0)
        command_free(&a);

    command cr;
    if (codec_decode_create_job(data, size, &cr, &err) == 0) {
        CHECK(cr.count == 1);
        command_free(&cr);
    }
    if (codec_decode_create_jobs(data, size, &cr, &err) == 0) {
        CHECK(cr.count <= CODEC_MAX_CREATE_JOBS);
        for (size_t i = 0; i < cr.count; i++)
            CHECK(cr.specs[i].type != NULL);
        command_free(&cr);
    }
    command pm;
    if (codec_decode_publish_message(data, size, &pm, &err) == 0) {
        /* The engine reads these strings: never NULL. */
        CHECK(pm.message_name && pm.correlation_key && pm.message_id && pm.variables);
        CHECK(pm.variables_len == strlen(pm.variables));
        uint8_t *out;
        size_t len;
        CHECK(codec_encode_publish_message_response(pm.ttl_ms, &out, &len, &err) == 0);
        GatewayProtocol__PublishMessageResponse *r =
            gateway_protocol__publish_message_response__unpack(NULL, len - CODEC_FRAME_PREFIX,
                                                               out + CODEC_FRAME_PREFIX);
        CHECK(r && r->key == pm.ttl_ms && strcmp(r->tenantid, CODEC_DEFAULT_TENANT) == 0);
        gateway_protocol__publish_message_response__free_unpacked(r, NULL);
        free(out);
        command_free(&pm);
    }
    command mo;
    if (codec_decode_modify_process_instance(data, size, &mo, &err) == 0) {
        /* Bounded, and every string the command layer reads is there. */
        CHECK(mo.nactivate <= CODEC_MAX_INSTRUCTIONS && mo.nterminate <= CODEC_MAX_INSTRUCTIONS);
        size_t nv = 0;
        for (size_t i = 0; i < mo.nactivate; i++) {
            CHECK(mo.activate[i].element_id != NULL);
            for (size_t k = 0; k < mo.activate[i].nvars; k++) {
                const command_variable_instruction *v = &mo.activate[i].vars[k];
                CHECK(v->variables && v->scope_id && strlen(v->variables) == v->variables_len);
                CHECK(v == &mo.var_instructions[nv]);
                nv++;
            }
        }
        CHECK(nv <= CODEC_MAX_INSTRUCTIONS);
        command_free(&mo);
    }
    if (codec_decode_migrate_process_instance(data, size, &mo, &err) == 0) {
        CHECK(mo.nmappings <= CODEC_MAX_INSTRUCTIONS);
        for (size_t i = 0; i < mo.nmappings; i++)
            CHECK(mo.mappings[i].source_element_id && mo.mappings[i].target_element_id);
        command_free(&mo);
    }
    command li;
    if (codec_decode_list_incidents(data, size, &li, &err) == 0) {
        CHECK(li.limit >= 1 && li.limit <= CODEC_MAX_INCIDENT_LIMIT);
        command_free(&li);
    }
    (void)codec_decode_topology(data, size, &err);
}

/* Feeds |data| to a reader in chunks of |step| bytes; returns the number of
 * messages and a checksum of their contents. */
static int frames(const uint8_t *data, size_t size, size_t step, size_t *count, uint64_t *sum)
{
    codec_frame_reader r;
    int rc = 0;

    codec_frame_reader_init(&r, 1 << 16);
    *count = 0;
    *sum = 0;
    for (size_t pos = 0; pos < size && rc >= 0;) {
        size_t n = size - pos < step ? size - pos : step;
        const uint8_t *p = data + pos;
        size_t left = n;
        while (left) {
            size_t used;
            codec_frame msg;
            rc = codec_frame_reader_feed(&r, p, left, &used, &msg, NULL);
            if (rc < 0)
                break;
            CHECK(used <= left);
            p += used;
            left -= used;
            if (rc == 0) {
                CHECK(left == 0);
                break;
            }
            CHECK(msg.len <= (1 << 16));
            (*count)++;
            for (size_t i = 0; i < msg.len; i++)
                *sum = *sum * 31 + msg.data[i];
        }
        pos += n;
    }
    codec_frame_reader_free(&r);
    return rc < 0 ? rc : 0;
}

static void framing(const uint8_t *data, size_t size)
{
    size_t c1, c2;
    uint64_t s1, s2;
    int r1 = frames(data, size, size ? size : 1, &c1, &s1);
    size_t step = size ? (size_t)(data[0] % 7) + 1 : 1;
    int r2 = frames(data, size, step, &c2, &s2);
    CHECK(r1 == r2);
    if (r1 == 0) {
        CHECK(c1 == c2);
        CHECK(s1 == s2);
    }
}

static void escaping(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return;
    char *enc = malloc(3 * size + 1);
    char *dec = malloc(size + 1);
    CHECK(enc && dec);
    size_t n = codec_pct_encode((const char *)data, size, enc, 3 * size + 1);
    CHECK(n <= 3 * size && strlen(enc) == n);
    CHECK(codec_pct_decode(enc, n, dec, size + 1) == size);
    CHECK(memcmp(dec, data, size) == 0);
    /* Decoding arbitrary text never grows it. */
    char *any = malloc(size + 1);
    CHECK(any);
    CHECK(codec_pct_decode((const char *)data, size, any, size + 1) <= size);
    free(any);
    free(enc);
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decoders(data, size);
    framing(data, size);
    escaping(data, size);
    return 0;
}
