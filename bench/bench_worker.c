/*
 * End-to-end drain rate through the C client's job worker: one worker
 * process (this one) drains a backlog of standalone jobs from a running
 * chuted, with Concurrency 1 and 8, streaming off and on. The handler
 * completes each job (a blocking CompleteJob, as a handler does).
 *
 *   bench_worker HOST:PORT [JOBS]        (default 20 000 jobs per figure)
 *
 * Prints one line per figure:
 *   bench: worker_<poll|stream>_conc<N> <jobs/s> jobs/s
 */
#include <chute/client.h>
#include <chute/worker.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int handled;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void handler(chute_job_client *jc, const chute_job *job, void *ud)
{
    chute_error err;
    if (chute_job_complete(jc, NULL, &err) == 0)
        atomic_fetch_add(&handled, 1);
}

static const char *VARS = "{\"orderId\":\"A-1042\",\"amount\":129.5,\"items\":3}";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_worker HOST:PORT [JOBS]\n");
        return 2;
    }
    int jobs = argc > 2 ? atoi(argv[2]) : 20000;
    if (jobs < 1 || jobs > 10000000) {
        fprintf(stderr, "bench_worker: JOBS must be 1..10000000\n");
        return 2;
    }
    chute_client *c;
    chute_error err;
    if (chute_client_open(&c, argv[1], NULL, &err) != 0) {
        fprintf(stderr, "bench_worker: %s\n", err.message);
        return 1;
    }
    static chute_client_job_spec spec[1000];
    int concs[] = {1, 8};
    int rc = 0;
    for (int stream = 0; stream < 2 && rc == 0; stream++)
        for (int ci = 0; ci < 2 && rc == 0; ci++) {
            char type[64];
            snprintf(type, sizeof type, "bench-%d-c%d-%s", (int)getpid(), concs[ci],
                     stream ? "stream" : "poll");
            for (int i = 0; i < 1000; i++)
                spec[i] = (chute_client_job_spec){.type = type, .variables = VARS};
            for (int n = 0; n < jobs; n += 1000)
                if (chute_client_create_jobs(c, spec, (size_t)(jobs - n < 1000 ? jobs - n : 1000),
                                             NULL, NULL, &err) != 0) {
                    fprintf(stderr, "bench_worker: create: %s\n", err.message);
                    rc = 1;
                    break;
                }
            if (rc)
                break;
            atomic_store(&handled, 0);
            chute_worker_options o;
            chute_worker_options_init(&o);
            o.type = type;
            o.handler = handler;
            o.concurrency = concs[ci];
            o.max_jobs_active = 32;
            o.stream_enabled = stream;
            chute_worker *w;
            int64_t t0 = now_ms();
            if (chute_worker_open(&w, c, &o, &err) != 0) {
                fprintf(stderr, "bench_worker: open: %s\n", err.message);
                rc = 1;
                break;
            }
            while (atomic_load(&handled) < jobs && now_ms() - t0 < 120000)
                usleep(2000);
            int64_t took = now_ms() - t0;
            chute_worker_close(w);
            if (atomic_load(&handled) < jobs) {
                fprintf(stderr, "bench_worker: only %d of %d jobs handled in 120 s\n",
                        atomic_load(&handled), jobs);
                rc = 1;
            }
            printf("bench: worker_%s_conc%d %.0f jobs/s\n", stream ? "stream" : "poll", concs[ci],
                   atomic_load(&handled) * 1000.0 / (double)(took ? took : 1));
            fflush(stdout);
        }
    chute_client_close(c);
    return rc;
}
