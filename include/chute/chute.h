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
 * X(name, value, grpc status, description). The gRPC status column is the
 * code a gateway answers with when a command fails with this error; it
 * follows the mapping in docs/protocol.md.
 */
#define CHUTE_ERRNO_MAP(X)                                                                         \
    X(EINVAL, -1, 3, "invalid argument")                                                           \
    X(ENOTFOUND, -2, 5, "not found")                                                               \
    X(ESTATE, -3, 9, "job is not in a state that allows this command")                             \
    X(EEXIST, -4, 6, "already exists")                                                             \
    X(ENOMEM, -5, 8, "out of memory")                                                              \
    X(ESTORE, -6, 14, "storage failure")                                                           \
    X(ECORRUPT, -7, 13, "storage is corrupt")                                                      \
    X(ETOOBIG, -8, 8, "too large")                                                                 \
    X(EBUSY, -9, 8, "resource exhausted")                                                          \
    X(EIO, -10, 14, "input/output error")                                                          \
    X(ECLOSED, -11, 14, "closed")                                                                  \
    X(ETIMEDOUT, -12, 4, "timed out")                                                              \
    X(EUNAVAIL, -13, 14, "unavailable")                                                            \
    X(EUNIMPL, -14, 12, "not implemented")                                                         \
    X(EINTERNAL, -15, 13, "internal error")                                                        \
    X(EPERM, -16, 7, "permission denied")

enum chute_errno {
#define CHUTE_ERR_ENUM_(name, value, grpc, desc) CHUTE_##name = value,
    CHUTE_ERRNO_MAP(CHUTE_ERR_ENUM_)
#undef CHUTE_ERR_ENUM_
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
#define CHUTE_ERROR_MESSAGE_MAX 512
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
