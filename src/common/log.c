#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void chute_log_emit(chute_log_fn fn, void *ctx, chute_log_level level, const char *fmt, ...)
{
    if (!fn)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *big = NULL;
    if ((size_t)n >= sizeof buf && (big = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    fn(ctx, level, big ? big : buf);
    free(big);
}
