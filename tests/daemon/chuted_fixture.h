/* Starts and stops a real chuted for the client's integration tests. */
#ifndef CHUTE_TESTS_CHUTED_FIXTURE_H
#define CHUTE_TESTS_CHUTED_FIXTURE_H

#include <sys/types.h>

typedef struct chuted_proc {
    pid_t pid;
    char dir[256];    /* temp data dir (removed by chuted_cleanup) */
    char log[300];    /* chuted's stderr */
    char address[64]; /* 127.0.0.1:PORT */
    int port;
    const char *const *extra; /* more chuted arguments (NULL-terminated), or NULL */
} chuted_proc;

/* The chuted binary this test was configured with, or NULL. */
const char *chuted_path(void);

/* Starts chuted in a new temp dir on an ephemeral port. 0 or -1. */
int chuted_start(chuted_proc *d);

/* chuted_start with more arguments: |extra| is a NULL-terminated list of at
 * most 16 (not copied: it must outlive |d|, a restart uses it again). */
int chuted_start_args(chuted_proc *d, const char *const *extra);

/* Starts it again on the same dir and port (after chuted_stop). 0 or -1. */
int chuted_restart(chuted_proc *d);

/* SIGTERM and wait (keeps the data dir). */
void chuted_stop(chuted_proc *d);

/* chuted_stop, then removes the data dir. */
void chuted_cleanup(chuted_proc *d);

#endif
