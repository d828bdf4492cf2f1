/*
 * Chute: a durable job broker.
 *
 * This header holds what every part of the public API shares: the error
 * model and the version. The embedding API is in <chute/engine.h>.
 *
 * Errors: every function that can fail returns an int, 0 on success and one
 * of the negative CHUTE_E* codes below otherwise. Codes are only ever added
 * at the end of the list, never renumbered, so a code means the same thing
 * in every release.
 */
#ifndef CHUTE_CHUTE_H
#define CHUTE_CHUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHUTE_VERSION "0.1.0"

/*
 * The error codes, one row each: X(name, value, grpc, http, title,
 * description).
 *   grpc   the gRPC status a gateway answers with when a command fails with
 *          this error (a name from CHUTE_GRPC_STATUS_MAP below);
 *   http   the HTTP status of the REST API's answer;
 *   title  the "title" of that answer's problem+json body, in Camunda's words.
 * docs/protocol.md and docs/openapi.yaml describe the same mapping.
 */
#define CHUTE_ERRNO_MAP(X)                                                                         \
    X(EINVAL, -1, INVALID_ARGUMENT, 400, "INVALID_ARGUMENT", "invalid argument")                   \
    X(ENOTFOUND, -2, NOT_FOUND, 404, "NOT_FOUND", "not found")                                     \
    X(ESTATE, -3, FAILED_PRECONDITION, 409, "INVALID_STATE",                                       \
      "job is not in a state that allows this command")                                            \
    X(EEXIST, -4, ALREADY_EXISTS, 409, "ALREADY_EXISTS", "already exists")                         \
    X(ENOMEM, -5, RESOURCE_EXHAUSTED, 503, "RESOURCE_EXHAUSTED", "out of memory")                  \
    X(ESTORE, -6, UNAVAILABLE, 503, "UNAVAILABLE", "storage failure")                              \
    X(ECORRUPT, -7, INTERNAL, 500, "INTERNAL_ERROR", "storage is corrupt")                         \
    X(ETOOBIG, -8, RESOURCE_EXHAUSTED, 413, "PAYLOAD_TOO_LARGE", "too large")                      \
    X(EBUSY, -9, RESOURCE_EXHAUSTED, 503, "RESOURCE_EXHAUSTED", "resource exhausted")              \
    X(EIO, -10, UNAVAILABLE, 503, "UNAVAILABLE", "input/output error")                             \
    X(ECLOSED, -11, UNAVAILABLE, 503, "UNAVAILABLE", "closed")                                     \
    X(ETIMEDOUT, -12, DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED", "timed out")                    \
    X(EUNAVAIL, -13, UNAVAILABLE, 503, "UNAVAILABLE", "unavailable")                               \
    X(EUNIMPL, -14, UNIMPLEMENTED, 501, "NOT_IMPLEMENTED", "not implemented")                      \
    X(EINTERNAL, -15, INTERNAL, 500, "INTERNAL_ERROR", "internal error")                           \
    X(EPERM, -16, PERMISSION_DENIED, 403, "FORBIDDEN", "permission denied")

enum chute_errno {
#define CHUTE_ERR_ENUM_(name, value, grpc, http, title, desc) CHUTE_##name = value,
    CHUTE_ERRNO_MAP(CHUTE_ERR_ENUM_)
#undef CHUTE_ERR_ENUM_
};

/*
 * The gRPC status codes, with the gRPC spec's numbers: X(name, value,
 * client). |client| is the error the C client reports when a server ends a
 * call with that status (<chute/client.h>, "Errors"); a status not in the
 * list counts as UNKNOWN. Server and client both take their constants from
 * here (CHUTE_GRPC_OK ... CHUTE_GRPC_UNAUTHENTICATED).
 */
#define CHUTE_GRPC_STATUS_MAP(X)                                                                   \
    X(OK, 0, 0)                                                                                    \
    X(CANCELLED, 1, CHUTE_EUNAVAIL)                                                                \
    X(UNKNOWN, 2, CHUTE_EINTERNAL)                                                                 \
    X(INVALID_ARGUMENT, 3, CHUTE_EINVAL)                                                           \
    X(DEADLINE_EXCEEDED, 4, CHUTE_ETIMEDOUT)                                                       \
    X(NOT_FOUND, 5, CHUTE_ENOTFOUND)                                                               \
    X(ALREADY_EXISTS, 6, CHUTE_EEXIST)                                                             \
    X(PERMISSION_DENIED, 7, CHUTE_EPERM)                                                           \
    X(RESOURCE_EXHAUSTED, 8, CHUTE_EBUSY)                                                          \
    X(FAILED_PRECONDITION, 9, CHUTE_ESTATE)                                                        \
    X(ABORTED, 10, CHUTE_ESTATE)                                                                   \
    X(OUT_OF_RANGE, 11, CHUTE_EINVAL)                                                              \
    X(UNIMPLEMENTED, 12, CHUTE_EUNIMPL)                                                            \
    X(INTERNAL, 13, CHUTE_EINTERNAL)                                                               \
    X(UNAVAILABLE, 14, CHUTE_EUNAVAIL)                                                             \
    X(DATA_LOSS, 15, CHUTE_ECORRUPT)                                                               \
    X(UNAUTHENTICATED, 16, CHUTE_EPERM)

enum chute_grpc_status {
#define CHUTE_GRPC_ENUM_(name, value, client) CHUTE_GRPC_##name = value,
    CHUTE_GRPC_STATUS_MAP(CHUTE_GRPC_ENUM_)
#undef CHUTE_GRPC_ENUM_
};

/* A short description of |code| ("not found"). Never NULL. */
const char *chute_strerror(int code);

/* The name of |code| without the prefix ("ENOTFOUND"). Never NULL. */
const char *chute_err_name(int code);

/* The gRPC status code that carries |code| on the wire (2, UNKNOWN, for
 * codes that are not in the list). 0 maps to 0 (OK). */
int chute_err_grpc_status(int code);

/*
 * The detail of a failed command: the code it returned and a message for a
 * person, in the style of the Zeebe gateway ("Command 'COMPLETE' rejected
 * with code 'NOT_FOUND': Expected to complete job with key '...', but no such
 * job was found"). Functions that take a chute_error * fill it on failure
 * and leave it untouched on success; passing NULL is allowed.
 */
#define CHUTE_ERROR_MESSAGE_MAX 4096
typedef struct chute_error {
    int code;
    char message[CHUTE_ERROR_MESSAGE_MAX];
} chute_error;

/* Fills |err| (if not NULL) with |code| and a printf-style message and
 * returns |code|, so a failing path reads `return chute_error_set(...)`. */
int chute_error_set(chute_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif /* CHUTE_CHUTE_H */
