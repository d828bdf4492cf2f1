/* chuted's log; see log.h. */
#include "server/log.h"

#include <inttypes.h>
#include <stdarg.h>

static FILE *output;

void chuted_log_set_output(FILE *f)
{
    output = f;
}

static void vlog(const char *fmt, va_list ap)
{
    FILE *f = output ? output : stderr;
    /* One fprintf per line keeps lines whole when others write too. */
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(f, "chuted: %s\n", line);
    fflush(f);
}

void chuted_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

int chuted_log_limited(log_limit *l, uint64_t now_ms, const char *fmt, ...)
{
    if (l->lines == 0 || now_ms - l->window_start >= LOG_LIMIT_WINDOW_MS) {
        if (l->suppressed)
            chuted_log(
                "(%" PRIu64 " more line%s like the next one left out in the last %" PRIu64 " s)",
                l->suppressed, l->suppressed == 1 ? "" : "s", (now_ms - l->window_start) / 1000);
        l->window_start = now_ms;
        l->lines = 0;
        l->suppressed = 0;
    }
    if (l->lines >= LOG_LIMIT_BURST) {
        l->suppressed++;
        return 0;
    }
    l->lines++;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    return 1;
}
