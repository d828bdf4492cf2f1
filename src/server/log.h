/*
 * chuted's log: one line per event on standard error, each starting with
 * "chuted: ".
 *
 * A failure that repeats (a commit on a full disk, a flood from one
 * client, accept failing for want of descriptors) goes through a
 * log_limit: at most LOG_LIMIT_BURST lines per LOG_LIMIT_WINDOW_MS for
 * that limit, then silence, and the first line of a later window says how
 * many were left out. A full disk then costs a few lines a minute, not
 * thousands, and still shows that it goes on.
 */
#ifndef CHUTE_SERVER_LOG_H
#define CHUTE_SERVER_LOG_H

#include <stdint.h>
#include <stdio.h>

#define LOG_LIMIT_BURST 5
#define LOG_LIMIT_WINDOW_MS 10000

typedef struct log_limit {
    uint64_t window_start; /* ms, of the caller's clock */
    unsigned lines;        /* written in this window */
    uint64_t suppressed;   /* left out since the last line written */
} log_limit;

#define LOG_LIMIT_INIT                                                                             \
    {                                                                                              \
        0, 0, 0                                                                                    \
    }

/* Writes one line. */
void chuted_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes one line unless |l| has written its burst in the window that
 * holds |now_ms| (any monotonic ms clock, e.g. uv_now). Returns 1 when the
 * line was written. */
int chuted_log_limited(log_limit *l, uint64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Where lines go (default stderr); for tests. */
void chuted_log_set_output(FILE *f);

#endif
