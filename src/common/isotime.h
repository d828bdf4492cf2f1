/*
 * ISO 8601 times as BPMN timers give them: durations ("PT10S", "P1DT2H",
 * "P1Y2M"), dates and times ("2026-12-04T10:00:00Z", with an offset or
 * fractions of a second), and repeating intervals ("R5/PT10S", "R/P1D",
 * "R3/2026-12-04T10:00:00Z/PT1H"). Pure functions over epoch milliseconds
 * in UTC; years and months are calendar steps (2026-01-31 plus P1M is
 * 2026-02-28), everything else exact.
 */
#ifndef CHUTE_ISOTIME_H
#define CHUTE_ISOTIME_H

#include <stddef.h>
#include <stdint.h>

/* A duration: calendar months and exact milliseconds. */
typedef struct iso_duration {
    int64_t months;
    int64_t ms;
} iso_duration;

/* Parses |len| bytes of |s| (surrounding blanks allowed). 0, or -1 when it
 * is not a duration this module reads (negative durations are refused). */
int iso_parse_duration(const char *s, size_t len, iso_duration *out);

/* |t| plus |d|, epoch ms (months first, the day clamped to the month). */
int64_t iso_add(int64_t t, const iso_duration *d);

/* Parses a date and time into epoch ms. Without an offset it is UTC; a
 * date alone is its midnight UTC. 0 or -1. */
int iso_parse_datetime(const char *s, size_t len, int64_t *out);

/* A repeating interval: |repeat| times (-1: forever), every |every|,
 * starting at |start| (0: none given, the caller's now). 0 or -1 (cron
 * expressions are not read). */
typedef struct iso_cycle {
    int64_t repeat;
    int64_t start;
    iso_duration every;
} iso_cycle;

int iso_parse_cycle(const char *s, size_t len, iso_cycle *out);

#endif
