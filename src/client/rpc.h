/*
 * Internal forms of the RPCs that the job worker drives from the I/O
 * thread: activation that also reports the size of each job on the wire
 * (the worker sizes its stream credit with it) and the job stream.
 */
#ifndef CHUTE_CLIENT_RPC_H
#define CHUTE_CLIENT_RPC_H

#include "client/transport.h"

#include <chute/client.h>

/* |min_bytes| / |max_bytes|: the smallest and largest framed size of one
 * job of the response (0 when there were none). */
typedef void (*crpc_activate_cb)(void *user_data, int rc, const chute_error *err,
                                 chute_job_list *jobs, size_t min_bytes, size_t max_bytes);

/* ActivateJobs; |cb| runs once on the I/O thread unless this returns an
 * error. |deadline_ms| <= 0: none. With |out|, a handle to cancel it
 * (release it with ccall_release()). */
int crpc_activate_start(chute_client *c, const chute_client_activate_request *req, int64_t deadline_ms,
                        crpc_activate_cb cb, void *user_data, ccall **out, chute_error *err);

/* A pushed job (owned by the callee) and its framed size. Return 0, or a
 * negative code to end the stream. Runs on the I/O thread. */
typedef int (*crpc_stream_job_cb)(void *user_data, chute_job *job, size_t framed_bytes);

/* StreamActivatedJobs as a flow-controlled call (credit with
 * ccall_set_credit() on |*out|, which the caller releases). */
int crpc_stream_start(chute_client *c, const chute_client_activate_request *req, int64_t deadline_ms,
                      crpc_stream_job_cb on_job, void (*on_done)(void *, int, const chute_error *),
                      void *user_data, ccall **out, chute_error *err);

/* The smallest framed size an activated job of |type| for |worker| can have
 * on the wire: a lower bound the worker uses before it has seen one. */
size_t crpc_min_job_bytes(const char *type, const char *worker);

#endif /* CHUTE_CLIENT_RPC_H */
