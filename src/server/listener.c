/* The accepting side of a listener; see listener.h. */
#define _GNU_SOURCE /* accept4 */
#include "server/listener.h"

#include "server/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections taken per readiness event, so that one busy listener does not
 * hold the loop; the rest wait for the next iteration (the poll is level
 * triggered). */
#define ACCEPT_BATCH 128

struct listener_peer {
    listener_peer *next; /* in its bucket */
    uint32_t open;       /* connections admitted from it and not released */
    uint8_t family;      /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* 4 bytes for AF_INET */
    char text[INET6_ADDRSTRLEN];
};

struct listener {
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_timer_t pause; /* restarts accepting after a failure */
    int fd;
    int spare; /* a descriptor kept to be closed when accept() finds none; -1 when none */
    listener_config cfg;
    listener_stats stats;
    listener_peer **buckets;
    size_t nbuckets, npeers;
    log_limit refuse_log, fail_log;
    int stopping;
    int handles; /* open libuv handles */
    void (*done)(void *);
    void *done_ctx;
};

/* ---- the peer table ---------------------------------------------------------- */

/* The address of |ss| as a peer key: IPv4-mapped IPv6 counts as IPv4. */
static int peer_key(const struct sockaddr_storage *ss, uint8_t *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (ss->ss_family == AF_INET) {
        *family = AF_INET;
        memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            *family = AF_INET;
            memcpy(addr, a->s6_addr + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, a->s6_addr, 16);
        }
        return 0;
    }
    return -1; /* not a TCP/IP peer: counted under one key of its own */
}

static size_t peer_hash(uint8_t family, const uint8_t addr[16])
{
    uint64_t h = 1469598103934665603ULL ^ family; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 1099511628211ULL;
    return (size_t)h;
}

static int peers_grow(listener *l)
{
    size_t n = l->nbuckets ? l->nbuckets * 2 : 64;
    listener_peer **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < l->nbuckets; i++) {
        listener_peer *p = l->buckets[i];
        while (p) {
            listener_peer *next = p->next;
            size_t k = peer_hash(p->family, p->addr) & (n - 1);
            p->next = b[k];
            b[k] = p;
            p = next;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = n;
    return 0;
}

/* The entry of the peer of |ss|, created with no connection when new; NULL
 * when out of memory. */
static listener_peer *peer_get(listener *l, const struct sockaddr_storage *ss)
{
    uint8_t family = 0, addr[16];
    if (peer_key(ss, &family, addr) != 0)
        family = 0;
    if (l->npeers >= l->nbuckets && peers_grow(l) != 0 && l->nbuckets == 0)
        return NULL;
    size_t k = peer_hash(family, addr) & (l->nbuckets - 1);
    for (listener_peer *p = l->buckets[k]; p; p = p->next)
        if (p->family == family && memcmp(p->addr, addr, 16) == 0)
            return p;
    listener_peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->family = family;
    memcpy(p->addr, addr, 16);
    if (!family || !inet_ntop(family, addr, p->text, sizeof p->text))
        snprintf(p->text, sizeof p->text, "(local)");
    p->next = l->buckets[k];
    l->buckets[k] = p;
    l->npeers++;
    return p;
}

static void peer_drop(listener *l, listener_peer *p)
{
    size_t k = peer_hash(p->family, p->addr) & (l->nbuckets - 1);
    for (listener_peer **pp = &l->buckets[k]; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            l->npeers--;
            free(p);
            return;
        }
    }
}

const char *listener_peer_address(const listener_peer *peer)
{
    return peer->text;
}

void listener_peer_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET &&
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host)) {
            snprintf(out, cap, "%s:%u", host, ntohs(((struct sockaddr_in *)&ss)->sin_port));
            return;
        }
        if (ss.ss_family == AF_INET6 &&
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host)) {
            snprintf(out, cap, "[%s]:%u", host, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
            return;
        }
    }
    snprintf(out, cap, "an unknown peer");
}

/* ---- accepting ----------------------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events);

static void on_pause_over(uv_timer_t *t)
{
    listener *l = t->data;
    if (!l->stopping)
        uv_poll_start(&l->poll, UV_READABLE, on_poll);
}

static void pause_accepting(listener *l)
{
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->pause, on_pause_over, LISTENER_PAUSE_MS, 0);
}

static void open_spare(listener *l)
{
    if (l->spare < 0)
        l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void refuse(listener *l, int fd, const struct sockaddr_storage *ss, listener_refusal why,
                   const listener_peer *p)
{
    l->stats.refused[why]++;
    if (l->cfg.on_refuse)
        l->cfg.on_refuse(l->cfg.ctx, fd, why);
    /* Read what the client already sent, so that closing answers with a
     * FIN, not a reset that could destroy what on_refuse wrote. */
    char buf[4096];
    (void)!recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    close(fd);
    char host[INET6_ADDRSTRLEN] = "";
    if (!p) {
        uint8_t family = 0, addr[16];
        if (peer_key(ss, &family, addr) != 0 || !inet_ntop(family, addr, host, sizeof host))
            snprintf(host, sizeof host, "(local)");
    }
    if (why == LISTENER_REFUSED_MAX)
        chuted_log_limited(&l->refuse_log, uv_now(l->loop),
                           "%s listener: connection from %s refused: the listener is at "
                           "--max-connections (%u open)",
                           l->cfg.name, p ? p->text : host, l->stats.open);
    else
        chuted_log_limited(&l->refuse_log, uv_now(l->loop),
                           "%s listener: connection from %s refused: that address is at "
                           "--max-connections-per-peer (%u open)",
                           l->cfg.name, p ? p->text : host, p ? p->open : 0);
}

/* accept() found no descriptor (or another resource) for a connection. */
static void accept_failed(listener *l, int e)
{
    l->stats.accept_failures++;
    int nofile = e == EMFILE || e == ENFILE;
    if (nofile) {
        /* The connection waits in the backlog and would make the listening
         * socket readable again at once: take it with the spare descriptor
         * and close it, so its client learns now. */
        if (l->spare >= 0) {
            close(l->spare);
            l->spare = -1;
            int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0)
                close(fd);
            open_spare(l);
        }
        struct rlimit rl;
        unsigned long long lim = 0;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            lim = (unsigned long long)rl.rlim_cur;
        chuted_log_limited(&l->fail_log, uv_now(l->loop),
                           "%s listener: accepting a connection failed: %s (connections open "
                           "here: %u; RLIMIT_NOFILE: %llu); the waiting connection was closed: "
                           "raise the limit (ulimit -n) or lower --max-connections",
                           l->cfg.name, strerror(e), l->stats.open, lim);
    } else {
        chuted_log_limited(&l->fail_log, uv_now(l->loop),
                           "%s listener: accepting a connection failed: %s", l->cfg.name,
                           strerror(e));
    }
    pause_accepting(l);
}

static void admit(listener *l, int fd, const struct sockaddr_storage *ss)
{
    if (l->cfg.max_connections && l->stats.open >= l->cfg.max_connections) {
        refuse(l, fd, ss, LISTENER_REFUSED_MAX, NULL);
        return;
    }
    listener_peer *p = peer_get(l, ss);
    if (!p) {
        close(fd); /* out of memory: the client sees the connection closed */
        accept_failed(l, ENOMEM);
        return;
    }
    if (l->cfg.max_per_peer && p->open >= l->cfg.max_per_peer) {
        refuse(l, fd, ss, LISTENER_REFUSED_PEER, p);
        return;
    }
    p->open++;
    l->stats.open++;
    l->stats.admitted++;
    l->cfg.on_accept(l->cfg.ctx, fd, p);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    listener *l = h->data;
    (void)events;
    if (status < 0) {
        accept_failed(l, -status);
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && !l->stopping; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        memset(&ss, 0, sizeof ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                accept_failed(l, errno);
            return;
        }
        admit(l, fd, &ss);
    }
}

void listener_release(listener *l, listener_peer *p)
{
    if (!p)
        return;
    if (l->stats.open > 0)
        l->stats.open--;
    if (p->open > 0)
        p->open--;
    if (p->open == 0)
        peer_drop(l, p);
}

/* ---- life -------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    listener *l = h->data;
    if (--l->handles > 0)
        return;
    if (l->done)
        l->done(l->done_ctx);
}

static void free_on_close(uv_handle_t *h)
{
    listener *l = h->data;
    if (--l->handles == 0)
        free(l);
}

int listener_open(listener **out, uv_loop_t *loop, int fd, const listener_config *cfg,
                  chute_error *err)
{
    listener *l = calloc(1, sizeof *l);
    if (!l || peers_grow(l) != 0) {
        free(l);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    l->loop = loop;
    l->fd = fd;
    l->cfg = *cfg;
    l->spare = -1;
    open_spare(l);
    int rv = uv_poll_init_socket(loop, &l->poll, fd);
    if (rv != 0) {
        if (l->spare >= 0)
            close(l->spare);
        free(l->buckets);
        free(l);
        return chute_error_set(err, CHUTE_EIO, "cannot watch the %s listener: %s", cfg->name,
                               uv_strerror(rv));
    }
    uv_timer_init(loop, &l->pause);
    l->poll.data = l->pause.data = l;
    l->handles = 2;
    rv = uv_poll_start(&l->poll, UV_READABLE, on_poll);
    if (rv != 0) {
        /* Not seen in practice: the two handles close in the next
         * iteration, which frees the listener. */
        if (l->spare >= 0)
            close(l->spare);
        free(l->buckets);
        l->buckets = NULL;
        uv_close((uv_handle_t *)&l->poll, free_on_close);
        uv_close((uv_handle_t *)&l->pause, free_on_close);
        return chute_error_set(err, CHUTE_EIO, "cannot watch the %s listener: %s", cfg->name,
                               uv_strerror(rv));
    }
    *out = l;
    return 0;
}

void listener_stop(listener *l, void (*done)(void *), void *ctx)
{
    if (l->stopping)
        return;
    l->stopping = 1;
    l->done = done;
    l->done_ctx = ctx;
    uv_close((uv_handle_t *)&l->poll, on_handle_closed);
    uv_close((uv_handle_t *)&l->pause, on_handle_closed);
    close(l->fd); /* the poll is stopped by uv_close */
    l->fd = -1;
    if (l->spare >= 0)
        close(l->spare);
    l->spare = -1;
}

void listener_free(listener *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nbuckets; i++) {
        listener_peer *p = l->buckets[i];
        while (p) {
            listener_peer *next = p->next;
            free(p);
            p = next;
        }
    }
    free(l->buckets);
    free(l);
}

void listener_get_stats(const listener *l, listener_stats *out)
{
    *out = l->stats;
}
