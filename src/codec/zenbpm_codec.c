/* ZenBPM's job stream messages; see zenbpm_codec.h. */
#include "zenbpm_codec.h"

#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Keeps a NUL-terminated copy of a bytes field as the command's variables:
 * the engine reads them as text. */
static int take_variables(command *c, const ProtobufCBinaryData *b, chute_error *err)
{
    if (!b->len)
        return 0;
    char *text = malloc(b->len + 1);
    char **texts = malloc(sizeof *texts);
    if (!text || !texts) {
        free(text);
        free(texts);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    memcpy(text, b->data, b->len);
    text[b->len] = '\0';
    texts[0] = text;
    c->texts = texts;
    c->ntexts = 1;
    c->variables = text;
    c->variables_len = b->len;
    return 0;
}

int codec_decode_job_stream_request(const uint8_t *buf, size_t len, command *out, int64_t *key_out,
                                    chute_error *err)
{
    ProtobufCMessage *m = NULL;
    memset(out, 0, sizeof *out);
    if (key_out)
        *key_out = 0;
    int rc = codec_unpack(&grpc__job_stream_request__descriptor, buf, len, &m, err);
    if (rc)
        return rc;
    Grpc__JobStreamRequest *r = (Grpc__JobStreamRequest *)m;
    out->msg = m;
    switch (r->request_case) {
    case GRPC__JOB_STREAM_REQUEST__REQUEST_SUBSCRIPTION: {
        Grpc__StreamSubscriptionRequest *s = r->subscription;
        const char *type = s->job_type ? s->job_type : "";
        if (!*type) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected a job_type in the StreamSubscriptionRequest, but it is "
                                 "empty");
            break;
        }
        if (strlen(type) > CHUTE_TYPE_MAX) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected a job_type of at most %d bytes, but it is %zu bytes",
                                 CHUTE_TYPE_MAX, strlen(type));
            break;
        }
        if (s->type == GRPC__STREAM_SUBSCRIPTION_REQUEST__TYPE__TYPE_SUBSCRIBE) {
            out->kind = COMMAND_STREAM;
            out->req.type = type;
        } else if (s->type == GRPC__STREAM_SUBSCRIPTION_REQUEST__TYPE__TYPE_UNSUBSCRIBE) {
            out->kind = COMMAND_UNSUBSCRIBE;
            out->type = type;
        } else {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "Expected the type of the StreamSubscriptionRequest for '%s' to "
                                 "be TYPE_SUBSCRIBE (1) or TYPE_UNSUBSCRIBE (2), but it is %d",
                                 type, (int)s->type);
        }
        break;
    }
    case GRPC__JOB_STREAM_REQUEST__REQUEST_COMPLETE:
        out->kind = COMMAND_COMPLETE;
        out->key = r->complete->key;
        rc = take_variables(out, &r->complete->variables, err);
        break;
    case GRPC__JOB_STREAM_REQUEST__REQUEST_FAIL: {
        Grpc__JobFailRequest *f = r->fail;
        out->key = f->key;
        out->error_message = f->message ? f->message : "";
        if (f->error_code && *f->error_code) {
            out->kind = COMMAND_THROW_ERROR;
            out->error_code = f->error_code;
        } else {
            out->kind = COMMAND_FAIL;
            out->retries = 0; /* an incident: ZenBPM does not retry here */
            out->backoff_ms = 0;
        }
        rc = take_variables(out, &f->variables, err);
        break;
    }
    default:
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected a JobStreamRequest with a subscription, complete or fail, "
                             "but none is set");
        break;
    }
    if (rc) {
        if (key_out)
            *key_out = out->key;
        command_free(out);
    }
    return rc;
}

int codec_encode_waiting_job(const chute_job_view *job, size_t max, uint8_t **out, size_t *out_len,
                             chute_error *err)
{
    Grpc__WaitingJob j = GRPC__WAITING_JOB__INIT;
    Grpc__JobStreamResponse resp = GRPC__JOB_STREAM_RESPONSE__INIT;
    j.key = job->key;
    j.instance_key = job->process.process_instance_key;
    j.input_variables.data = (uint8_t *)job->variables;
    j.input_variables.len = job->variables_len;
    j.type = codec_pb_str(job->type);
    j.element_id = codec_pb_str(job->process.element_id);
    j.created_at = job->created_at;
    resp.job = &j;
    return codec_pack_framed(&resp.base, max, out, out_len, err);
}

int codec_encode_job_stream_error(uint32_t code, const char *message, int64_t key, uint8_t **out,
                                  size_t *out_len, chute_error *err)
{
    Grpc__ErrorResult e = GRPC__ERROR_RESULT__INIT;
    Grpc__WaitingJob j = GRPC__WAITING_JOB__INIT;
    Grpc__JobStreamResponse resp = GRPC__JOB_STREAM_RESPONSE__INIT;
    e.code = code;
    e.message = codec_pb_str(message);
    resp.error = &e;
    if (key) {
        j.key = key;
        j.type = codec_pb_str(NULL);
        j.element_id = codec_pb_str(NULL);
        resp.job = &j;
    }
    return codec_pack_framed(&resp.base, 0, out, out_len, err);
}
