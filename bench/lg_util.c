/* Helpers shared by the load generator's backends and scenarios. */
#include "lg.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lg_sleep_until(int64_t t_ns)
{
    struct timespec ts = {(time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void lg_payload(char *buf, int64_t t_ns, int64_t seq)
{
    int n = snprintf(buf, LG_PAYLOAD + 1, "{\"t\":%lld,\"n\":%lld,\"p\":\"", (long long)t_ns,
                     (long long)seq);
    memset(buf + n, 'x', (size_t)(LG_PAYLOAD - n - 2));
    memcpy(buf + LG_PAYLOAD - 2, "\"}", 3);
}

int64_t lg_payload_t(const char *p, size_t len)
{
    /* The payload may come back re-serialised (Chute stores variables as
     * JSON and may reorder or respace them), so look the field up. */
    const char *end = p + len;
    for (const char *q = p; q + 4 < end; q++)
        if (q[0] == '"' && q[1] == 't' && q[2] == '"') {
            q += 3;
            while (q < end && (*q == ':' || *q == ' '))
                q++;
            return strtoll(q, NULL, 10);
        }
    return 0;
}

int lg_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= hostlen)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

int lg_tcp_connect(const char *addr)
{
    char host[128];
    int port;
    if (lg_split_addr(addr, host, sizeof host, &port) != 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct hostent *he = gethostbyname(host);
    if (!he)
        return -1;
    memcpy(&sa.sin_addr, he->h_addr_list[0], sizeof sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int lg_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_stat(pid_t pid, pid_t *ppid, long long *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p += 2;
    /* p points at field 3 (state); ppid is field 4, utime 14, stime 15. */
    long long v[16] = {0};
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok && field <= 15;
         tok = strtok_r(NULL, " ", &save), field++)
        if (field >= 4)
            v[field] = strtoll(tok, NULL, 10);
    *ppid = (pid_t)v[4];
    *ticks = v[14] + v[15];
    return 0;
}

long long lg_tree_cpu_ticks(pid_t root)
{
    /* One pass over /proc collecting (pid, ppid, ticks), then a sum over the
     * tree under |root|: PostgreSQL's work happens in its backends. */
    enum { MAXP = 65536 };
    static pid_t pids[MAXP], ppids[MAXP];
    static long long ticks[MAXP];
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAXP) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (read_stat(pid, &ppids[n], &ticks[n]) == 0)
            pids[n++] = pid;
    }
    closedir(d);
    static char in[MAXP];
    memset(in, 0, (size_t)n);
    long long sum = 0;
    int changed = 1;
    for (int i = 0; i < n; i++)
        if (pids[i] == root)
            in[i] = 1;
    while (changed) {
        changed = 0;
        for (int i = 0; i < n; i++) {
            if (in[i])
                continue;
            for (int j = 0; j < n; j++)
                if (in[j] && pids[j] == ppids[i]) {
                    in[i] = 1;
                    changed = 1;
                    break;
                }
        }
    }
    for (int i = 0; i < n; i++)
        if (in[i])
            sum += ticks[i];
    return sum;
}

long long lg_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtoll(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ---- buffered reader ----------------------------------------------------- */

/* A line or a job body longer than this is a protocol error here. */
#define LG_READER_MAX (1 << 20)

void lg_reader_init(lg_reader *r, int fd)
{
    r->fd = fd;
    r->cap = 65536;
    r->buf = malloc(r->cap);
    r->start = r->end = 0;
}

void lg_reader_free(lg_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

static int fill(lg_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        if (r->cap >= LG_READER_MAX)
            return -1;
        r->cap *= 2;
        r->buf = realloc(r->buf, r->cap);
    }
    ssize_t n;
    do
        n = read(r->fd, r->buf + r->end, r->cap - r->end);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    r->end += (size_t)n;
    return 0;
}

char *lg_read_line(lg_reader *r, size_t *len)
{
    size_t scanned = r->start;
    for (;;) {
        char *nl = memchr(r->buf + scanned, '\n', r->end - scanned);
        if (nl) {
            char *line = r->buf + r->start;
            size_t l = (size_t)(nl - line);
            if (l > 0 && line[l - 1] == '\r')
                l--;
            line[l] = '\0';
            r->start = (size_t)(nl - r->buf) + 1;
            if (len)
                *len = l;
            return line;
        }
        size_t off = r->end - r->start;
        if (fill(r) != 0)
            return NULL;
        scanned = r->start + off;
    }
}

char *lg_read_exact(lg_reader *r, size_t n)
{
    while (r->end - r->start < n + 2)
        if (fill(r) != 0)
            return NULL;
    char *p = r->buf + r->start;
    p[n] = '\0';
    r->start += n + 2;
    return p;
}

/* ---- idle long pollers over raw sockets ---------------------------------- */

typedef struct raw_idle {
    int n;
    int *fds;
    char *poll_cmd;
    atomic_int stop;
    pthread_t thread;
} raw_idle;

static void *raw_idle_main(void *arg)
{
    raw_idle *h = arg;
    struct pollfd *p = calloc((size_t)h->n, sizeof *p);
    for (int i = 0; i < h->n; i++)
        p[i] = (struct pollfd){.fd = h->fds[i], .events = POLLIN};
    char buf[4096];
    while (!atomic_load(&h->stop)) {
        int r = poll(p, (nfds_t)h->n, 100);
        if (r <= 0)
            continue;
        for (int i = 0; i < h->n; i++)
            if (p[i].revents & POLLIN) {
                /* Any answer ends the long poll (it timed out: the queue is
                 * empty): ask again, as a worker would. */
                if (read(p[i].fd, buf, sizeof buf) > 0)
                    lg_write_all(p[i].fd, h->poll_cmd, strlen(h->poll_cmd));
                else
                    p[i].fd = -1;
            }
    }
    free(p);
    return NULL;
}

void *lg_raw_idle_start(const char *addr, int n, const char *setup, const char *poll_cmd)
{
    raw_idle *h = calloc(1, sizeof *h);
    h->fds = calloc((size_t)n, sizeof *h->fds);
    h->poll_cmd = strdup(poll_cmd);
    for (int i = 0; i < n; i++) {
        h->fds[i] = lg_tcp_connect(addr);
        if (h->fds[i] < 0) {
            fprintf(stderr, "loadgen: idle connection %d to %s failed\n", i, addr);
            h->n = i;
            break;
        }
        h->n = i + 1;
        if (setup)
            lg_write_all(h->fds[i], setup, strlen(setup));
    }
    /* Let the setup answers arrive and be discarded before the polls. */
    usleep(200000);
    char buf[4096];
    for (int i = 0; i < h->n; i++) {
        while (recv(h->fds[i], buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
        lg_write_all(h->fds[i], poll_cmd, strlen(poll_cmd));
    }
    pthread_create(&h->thread, NULL, raw_idle_main, h);
    return h;
}

void lg_raw_idle_stop(void *arg)
{
    raw_idle *h = arg;
    if (!h)
        return;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    for (int i = 0; i < h->n; i++)
        close(h->fds[i]);
    free(h->fds);
    free(h->poll_cmd);
    free(h);
}
