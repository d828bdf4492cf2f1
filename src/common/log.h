/*
 * Messages for the embedding program's log hook (chute_log_fn in
 * include/chute/engine.h): the engine and the store format their messages
 * here and hand the finished line to the hook.
 */
#ifndef CHUTE_LOG_H
#define CHUTE_LOG_H

#include <chute/engine.h>

/* Formats a message printf-style and calls |fn| with it (nothing when |fn|
 * is NULL). A message too long for the stack buffer is formatted into a
 * heap buffer; if that allocation fails the hook gets it shortened. Safe to
 * call from any thread that |fn| may be called on. */
void chute_log_emit(chute_log_fn fn, void *ctx, chute_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
