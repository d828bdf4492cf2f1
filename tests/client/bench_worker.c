/*
 * End-to-end drain rate through the C client: one worker process (this one)
 * drains a backlog of standalone jobs from a real chuted, with Concurrency 1
 * and 8, streaming off and on. Prints one line per figure:
 *   bench: worker_drain_c<N>_<poll|stream> <jobs/s> jobs/s
 * Usage: bench_client_worker [JOBS]   (default 20000; CHUTED=path overrides)
 */
#include "chuted_fixture.h"

#include <chute/client.h>
#include <chute/worker.h>

#include <pthread.h>
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

int main(int argc, char **argv)
{
    int jobs = argc > 1 ? atoi(argv[1]) : 20000;
    if (!chuted_path()) {
        fprintf(stderr, "bench_client_worker: no chuted (set CHUTED=path)\n");
        return 77;
    }
    chuted_proc d;
    if (chuted_start(&d) != 0)
        return 1;
    chute_client *c;
    chute_error err;
    if (chute_client_open(&c, d.address, NULL, &err) != 0)
        return 1;
    int concs[] = {1, 8};
    for (int ci = 0; ci < 2; ci++)
        for (int stream = 0; stream < 2; stream++) {
            char type[64];
            snprintf(type, sizeof type, "bench-c%d-%s", concs[ci], stream ? "stream" : "poll");
            chute_client_job_spec spec[1000];
            memset(spec, 0, sizeof spec);
            for (int i = 0; i < 1000; i++)
                spec[i].type = type;
            for (int n = 0; n < jobs; n += 1000)
                if (chute_client_create_jobs(c, spec, (size_t)(jobs - n < 1000 ? jobs - n : 1000),
                                             NULL, NULL, &err) != 0) {
                    fprintf(stderr, "create: %s\n", err.message);
                    return 1;
                }
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
            if (chute_worker_open(&w, c, &o, &err) != 0)
                return 1;
            while (atomic_load(&handled) < jobs && now_ms() - t0 < 300000)
                usleep(2000);
            int64_t took = now_ms() - t0;
            chute_worker_close(w);
            printf("bench: worker_drain_c%d_%s %.0f jobs/s\n", concs[ci],
                   stream ? "stream" : "poll",
                   atomic_load(&handled) * 1000.0 / (double)(took ? took : 1));
            fflush(stdout);
        }
    chute_client_close(c);
    chuted_cleanup(&d);
    return 0;
}
