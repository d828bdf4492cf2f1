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

/* A cron expression as Zeebe's timers take them (Spring's six fields:
 * second minute hour day-of-month month day-of-week; "*", lists, ranges,
 * steps, names like MON-FRI and JAN, "?" for a day field, and the macros
 * @yearly @monthly @weekly @daily @hourly). Day of month and day of week
 * must both match when both are restricted. */
typedef struct iso_cron {
    uint64_t seconds, minutes; /* bit n: value n */
    uint32_t hours, days;      /* days: bit 1..31 */
    uint16_t months;           /* bit 1..12 */
    uint8_t weekdays;          /* bit 0..6, Sunday 0 */
} iso_cron;

/* Parses |len| bytes of |s|; 0, or -1 when it is not such an expression. */
int iso_parse_cron(const char *s, size_t len, iso_cron *out);

/* The first time strictly after |after| (epoch ms, UTC) that |c| matches,
 * within four years; -1 when there is none. */
int64_t iso_cron_next(const iso_cron *c, int64_t after);
