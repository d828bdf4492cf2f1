#ifndef CHUTE_CLOCK_H
#define CHUTE_CLOCK_H
#include <stdint.h>
/* Wall-clock time in epoch milliseconds (deadlines on the wire are epoch ms). */
int64_t chute_clock_realtime_ms(void *unused);
/* Monotonic time in nanoseconds, for measuring durations. */
uint64_t chute_clock_mono_ns(void);
#endif
