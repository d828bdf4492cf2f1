/* Starts and stops a real chuted (see chuted_fixture.h). */
#include "chuted_fixture.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *chuted_path(void)
{
    const char *env = getenv("CHUTED");
    if (env && *env)
        return env;
#ifdef CHUTED_PATH
    return CHUTED_PATH;
#else
    return NULL;
#endif
}

static int spawn(chuted_proc *d, const char *listen)
{
    const char *bin = chuted_path();
    if (!bin)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *f = freopen(d->log, "a", stderr);
        (void)f;
        const char *argv[32] = {bin,     "--data-dir",    d->dir, "--grpc-listen",
                                listen,  "--http-listen", "off",  "--durability",
                                "normal"};
        size_t n = 9;
        for (size_t i = 0; d->extra && d->extra[i] && i < 16; i++)
            argv[n++] = d->extra[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    d->pid = pid;
    /* Wait for "chuted: gRPC listening on 127.0.0.1:<port>". */
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(d->log, "r");
        if (f) {
            char line[512];
            int found = 0;
            while (fgets(line, sizeof line, f)) {
                char *p = strstr(line, "gRPC listening on ");
                if (p) {
                    p += strlen("gRPC listening on ");
                    p[strcspn(p, "\r\n")] = '\0';
                    char *colon = strrchr(p, ':');
                    if (colon) {
                        d->port = atoi(colon + 1);
                        snprintf(d->address, sizeof d->address, "127.0.0.1:%d", d->port);
                        found = 1;
                    }
                }
            }
            fclose(f);
            if (found)
                return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "chuted exited before listening; see %s\n", d->log);
            d->pid = 0;
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "chuted did not start listening within 10 s; see %s\n", d->log);
    return -1;
}

int chuted_start(chuted_proc *d)
{
    return chuted_start_args(d, NULL);
}

int chuted_start_args(chuted_proc *d, const char *const *extra)
{
    memset(d, 0, sizeof *d);
    d->extra = extra;
    snprintf(d->dir, sizeof d->dir, "/tmp/chute-client-test-XXXXXX");
    if (!mkdtemp(d->dir))
        return -1;
    snprintf(d->log, sizeof d->log, "%s/chuted.log", d->dir);
    return spawn(d, "127.0.0.1:0");
}

int chuted_restart(chuted_proc *d)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", d->port);
    /* the new process appends to the log: skip the old lines */
    char old[310];
    snprintf(old, sizeof old, "%s.1", d->log);
    rename(d->log, old);
    for (int i = 0; i < 100; i++) {
        if (spawn(d, listen) == 0)
            return 0;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL); /* the port may linger for a moment */
    }
    return -1;
}

void chuted_stop(chuted_proc *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        int st;
        for (int i = 0; i < 500; i++) {
            if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
                d->pid = 0;
                return;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        kill(d->pid, SIGKILL);
        waitpid(d->pid, &st, 0);
        d->pid = 0;
    }
}

void chuted_cleanup(chuted_proc *d)
{
    chuted_stop(d);
    if (d->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", d->dir);
        d->dir[0] = '\0';
    }
}
