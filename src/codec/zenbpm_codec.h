/*
 * ZenBPM's job stream (grpc.ZenBpm/JobStream, proto/zenbpm.proto): the
 * messages of one bidirectional call, with no sockets.
 *
 * A JobStream call carries many requests, each one JobStreamRequest; the
 * decoder turns one of them into a struct command (command.h) the command
 * layer runs like any other:
 *   subscription TYPE_SUBSCRIBE    COMMAND_STREAM with req.type = job_type
 *   subscription TYPE_UNSUBSCRIBE  COMMAND_UNSUBSCRIBE with type = job_type
 *   complete                       COMMAND_COMPLETE (key, variables)
 *   fail without an error_code     COMMAND_FAIL with retries 0: an incident
 *                                  (ZenBPM has no retries on this path)
 *   fail with an error_code        COMMAND_THROW_ERROR (a process may catch it)
 * The stream fills in what the message does not carry (the worker, the
 * lease). The encoders make the server's side: a pushed WaitingJob, or an
 * ErrorResult about a request that could not be applied.
 */
#ifndef CHUTE_CODEC_ZENBPM_CODEC_H
#define CHUTE_CODEC_ZENBPM_CODEC_H

#include <chute/engine.h>

#include "command.h"
#include "grpc_frame.h"
#include "zenbpm.pb-c.h"

/*
 * Decodes one JobStreamRequest. Returns 0, CHUTE_EINVAL (not a valid
 * message, none of the three requests set, a subscription without a
 * job_type or with TYPE_UNDEFINED, a job_type over CHUTE_TYPE_MAX) or
 * CHUTE_ENOMEM. For a complete or fail that fails to decode past the
 * unpacking, |*key_out| (may be NULL) is set to the job's key, so that
 * the error can name it; it is 0 otherwise.
 */
int codec_decode_job_stream_request(const uint8_t *buf, size_t len, command *out, int64_t *key_out,
                                    chute_error *err);

/* JobStreamResponse{job: WaitingJob} of |job| (input_variables its
 * variables, created_at epoch ms), framed, malloc'd, bounded by |max|.
 * 0, CHUTE_ETOOBIG or CHUTE_ENOMEM. */
int codec_encode_waiting_job(const chute_job_view *job, size_t max, uint8_t **out, size_t *out_len,
                             chute_error *err);

/* JobStreamResponse{error: {code, message}, job: {key}} (no job when |key|
 * is 0), framed, malloc'd. |code| is a gRPC status code (see
 * docs/protocol.md). 0 or CHUTE_ENOMEM. */
int codec_encode_job_stream_error(uint32_t code, const char *message, int64_t key, uint8_t **out,
                                  size_t *out_len, chute_error *err);

#endif
