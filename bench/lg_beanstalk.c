/*
 * beanstalkd through its text protocol: put / reserve-with-timeout / delete,
 * pipelined in batches (a batch of commands in one write, then the answers
 * in order), which is the batched pattern the protocol allows.
 */
#include "lg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lg_conn {
    int fd;
    lg_reader rd;
    char used[128];    /* tube of `use` */
    char watched[128]; /* tube of `watch` */
    char *out;
    size_t outcap;
};

static int bs_open(lg_conn **out, const char *addr)
{
    int fd = lg_tcp_connect(addr);
    if (fd < 0) {
        fprintf(stderr, "loadgen: beanstalkd: cannot connect to %s\n", addr);
        return -1;
    }
    lg_conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    lg_reader_init(&c->rd, fd);
    strcpy(c->used, "default");
    strcpy(c->watched, "default");
    c->outcap = 1 << 16;
    c->out = malloc(c->outcap);
    *out = c;
    return 0;
}

static void bs_close(lg_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    lg_reader_free(&c->rd);
    free(c->out);
    free(c);
}

static int expect(lg_conn *c, const char *prefix)
{
    char *l = lg_read_line(&c->rd, NULL);
    if (!l || strncmp(l, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "loadgen: beanstalkd: expected %s, got %s\n", prefix, l ? l : "EOF");
        return -1;
    }
    return 0;
}

static int use_tube(lg_conn *c, const char *tube)
{
    if (strcmp(c->used, tube) == 0)
        return 0;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "use %s\r\n", tube);
    if (lg_write_all(c->fd, cmd, strlen(cmd)) != 0 || expect(c, "USING") != 0)
        return -1;
    snprintf(c->used, sizeof c->used, "%s", tube);
    return 0;
}

static int watch_tube(lg_conn *c, const char *tube)
{
    if (strcmp(c->watched, tube) == 0)
        return 0;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "watch %s\r\nignore %s\r\n", tube, c->watched);
    if (lg_write_all(c->fd, cmd, strlen(cmd)) != 0 || expect(c, "WATCHING") != 0 ||
        expect(c, "WATCHING") != 0)
        return -1;
    snprintf(c->watched, sizeof c->watched, "%s", tube);
    return 0;
}

static void reserve_out(lg_conn *c, size_t need)
{
    if (need > c->outcap) {
        c->outcap = need * 2;
        c->out = realloc(c->out, c->outcap);
    }
}

static int bs_put(lg_conn *c, const char *queue, char *const *payloads, int n)
{
    if (use_tube(c, queue) != 0)
        return -1;
    reserve_out(c, (size_t)n * (LG_PAYLOAD + 64));
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t pl = strlen(payloads[i]);
        len += (size_t)sprintf(c->out + len, "put 0 0 60 %zu\r\n", pl);
        memcpy(c->out + len, payloads[i], pl);
        len += pl;
        memcpy(c->out + len, "\r\n", 2);
        len += 2;
    }
    if (lg_write_all(c->fd, c->out, len) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (expect(c, "INSERTED") != 0)
            return -1;
    return 0;
}

/* Reads one reserve answer: 1 with a job in |j|, 0 for TIMED_OUT, -1 on error. */
static int read_reserved(lg_conn *c, lg_job *j)
{
    char *l = lg_read_line(&c->rd, NULL);
    if (!l)
        return -1;
    if (strncmp(l, "TIMED_OUT", 9) == 0 || strncmp(l, "DEADLINE_SOON", 13) == 0)
        return 0;
    unsigned long long id;
    size_t bytes;
    if (sscanf(l, "RESERVED %llu %zu", &id, &bytes) != 2) {
        fprintf(stderr, "loadgen: beanstalkd: unexpected %s\n", l);
        return -1;
    }
    char *body = lg_read_exact(&c->rd, bytes);
    if (!body)
        return -1;
    j->handle = (int64_t)id;
    j->t_ns = lg_payload_t(body, bytes);
    j->value = NULL;
    return 1;
}

static int bs_take(lg_conn *c, const char *queue, lg_job *out, int max, int wait_ms)
{
    if (watch_tube(c, queue) != 0)
        return -1;
    reserve_out(c, (size_t)max * 32);
    size_t len = 0;
    for (int i = 0; i < max; i++)
        len += (size_t)sprintf(c->out + len, "reserve-with-timeout 0\r\n");
    if (lg_write_all(c->fd, c->out, len) != 0)
        return -1;
    int got = 0;
    for (int i = 0; i < max; i++) {
        int r = read_reserved(c, &out[got]);
        if (r < 0)
            return -1;
        got += r;
    }
    if (got > 0 || wait_ms <= 0)
        return got;
    /* Nothing ready: block for the first job (beanstalkd answers a waiting
     * reserve the moment a job is put; its timeout has 1 s granularity). */
    char cmd[64];
    snprintf(cmd, sizeof cmd, "reserve-with-timeout %d\r\n", (wait_ms + 999) / 1000);
    if (lg_write_all(c->fd, cmd, strlen(cmd)) != 0)
        return -1;
    return read_reserved(c, &out[0]);
}

static int bs_done(lg_conn *c, const char *queue, lg_job *jobs, int n)
{
    reserve_out(c, (size_t)n * 32);
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(c->out + len, "delete %lld\r\n", (long long)jobs[i].handle);
    if (lg_write_all(c->fd, c->out, len) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (expect(c, "DELETED") != 0)
            return -1;
    return 0;
}

static int bs_flush(lg_conn *c)
{
    return 0;
}

static void *bs_idle_start(const char *addr, const char *queue, int n)
{
    char setup[300];
    snprintf(setup, sizeof setup, "watch %s\r\nignore default\r\n", queue);
    /* 10 s, the long-poll time a Zeebe worker uses by default. */
    return lg_raw_idle_start(addr, n, setup, "reserve-with-timeout 10\r\n");
}

const lg_backend lg_beanstalk = {
    .name = "beanstalkd",
    .open = bs_open,
    .close = bs_close,
    .put = bs_put,
    .take = bs_take,
    .done = bs_done,
    .flush = bs_flush,
    .idle_start = bs_idle_start,
    .idle_stop = lg_raw_idle_stop,
};
