/*
 * In-process engine benchmarks (no network):
 *
 *   lifecycle: create + activate + complete throughput for durability full
 *              and normal, with 1, 100 and 1000 commands per commit;
 *   depth:     the cost of one activation with 1 000 and 1 000 000 jobs
 *              queued (it should not grow with the depth).
 *
 *   bench_engine DATA_DIR [short|full|profile]
 *
 * Prints `bench: <name> <value> <unit>` lines. Each lifecycle figure is the
 * median of several runs; every run opens a fresh database under DATA_DIR.
 */
#include <chute/engine.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int rc, const chute_error *err, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_engine: %s: %s\n", what, err->message);
        exit(1);
    }
}

static chute_engine *open_fresh(const char *base, const char *name, chute_durability d)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        exit(1);
    chute_engine_options o;
    chute_engine_options_init(&o);
    o.data_dir = dir;
    o.durability = d;
    chute_engine *e;
    chute_error err;
    check(chute_engine_open(&e, &o, &err), &err, "open");
    return e;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *VARS = "{\"orderId\":\"A-1042\",\"amount\":129.5,\"items\":3}";
static const char *RESULT = "{\"charged\":true}";

/* One run: |total| jobs through create, activate and complete, |batch|
 * commands of each kind per commit. Returns jobs/s. */
static double lifecycle_run(const char *base, chute_durability d, int batch, int total)
{
    chute_engine *e = open_fresh(base, "lifecycle", d);
    chute_error err;
    chute_job_spec spec = {.type = "charge", .variables = VARS};
    chute_activate_request req = {.type = "charge", .worker = "bench", .timeout_ms = 60000,
                                  .max_jobs = batch};
    int64_t *keys = malloc(sizeof *keys * (size_t)batch);
    double t0 = now_s();
    for (int done = 0; done < total; done += batch) {
        for (int i = 0; i < batch; i++)
            check(chute_engine_create(e, &spec, &keys[i], &err), &err, "create");
        check(chute_engine_commit(e, &err), &err, "commit");
        const chute_job_view *jobs;
        size_t n;
        check(chute_engine_activate(e, &req, 0, &jobs, &n, &err), &err, "activate");
        if ((int)n != batch) {
            fprintf(stderr, "bench_engine: activated %zu of %d\n", n, batch);
            exit(1);
        }
        for (size_t i = 0; i < n; i++)
            keys[i] = jobs[i].key;
        check(chute_engine_commit(e, &err), &err, "commit");
        for (size_t i = 0; i < n; i++)
            check(chute_engine_complete(e, keys[i], RESULT, 0, &err), &err, "complete");
        check(chute_engine_commit(e, &err), &err, "commit");
    }
    double dt = now_s() - t0;
    free(keys);
    chute_engine_close(e);
    return total / dt;
}

static void lifecycle(const char *base, int full_run)
{
    static const int batches[] = {1, 100, 1000};
    for (int di = 0; di < 2; di++) {
        chute_durability d = di == 0 ? CHUTE_DURABILITY_FULL : CHUTE_DURABILITY_NORMAL;
        for (size_t bi = 0; bi < 3; bi++) {
            int batch = batches[bi];
            /* Sized so each run takes around a second or less. */
            int total = batch == 1 ? (d == CHUTE_DURABILITY_FULL ? 1000 : 20000)
                                   : (full_run ? 200000 : 50000);
            int runs = full_run ? 5 : 3;
            double r[5];
            for (int i = 0; i < runs; i++)
                r[i] = lifecycle_run(base, d, batch, total);
            printf("bench: engine_lifecycle_%s_batch%d %.0f jobs/s\n", chute_durability_name(d),
                   batch, median(r, runs));
            fflush(stdout);
        }
    }
}

/* Cost of one activation with |depth| jobs queued. The job is failed back
 * with its retries at once after each activation, so the depth stays the
 * same; only the activate calls are timed. Durability normal, so the
 * figure is the queue's cost rather than the disk's. */
static double activation_cost_us(const char *base, int depth, int samples)
{
    chute_engine *e = open_fresh(base, "depth", CHUTE_DURABILITY_NORMAL);
    chute_error err;
    chute_job_spec spec = {.type = "deep", .variables = VARS};
    int64_t key;
    for (int i = 0; i < depth; i++) {
        spec.priority = i % 7; /* a few priority levels, as real queues have */
        check(chute_engine_create(e, &spec, &key, &err), &err, "create");
        if (i % 10000 == 9999)
            check(chute_engine_commit(e, &err), &err, "commit");
    }
    check(chute_engine_commit(e, &err), &err, "commit");
    chute_activate_request req = {.type = "deep", .worker = "bench", .timeout_ms = 60000,
                                  .max_jobs = 1};
    double spent = 0;
    for (int i = 0; i < samples; i++) {
        const chute_job_view *jobs;
        size_t n;
        double t0 = now_s();
        check(chute_engine_activate(e, &req, 0, &jobs, &n, &err), &err, "activate");
        spent += now_s() - t0;
        if (n != 1) {
            fprintf(stderr, "bench_engine: nothing to activate at depth %d\n", depth);
            exit(1);
        }
        int64_t k = jobs[0].key;
        int32_t retries = jobs[0].retries;
        check(chute_engine_fail(e, k, retries, "", 0, NULL, 0, &err), &err, "fail");
        if (i % 1000 == 999)
            check(chute_engine_commit(e, &err), &err, "commit");
    }
    check(chute_engine_commit(e, &err), &err, "commit");
    chute_engine_close(e);
    return spent / samples * 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_engine DATA_DIR [short|full]\n");
        return 2;
    }
    const char *base = argv[1];
    if (argc > 2 && strcmp(argv[2], "profile") == 0) {
        /* One mid-sized run, for callgrind/perf: durability normal keeps the
         * disk out of the picture. */
        printf("bench: engine_lifecycle_profile %.0f jobs/s\n",
               lifecycle_run(base, CHUTE_DURABILITY_NORMAL, 1000, 20000));
        return 0;
    }
    int full_run = argc > 2 && strcmp(argv[2], "full") == 0;
    lifecycle(base, full_run);
    int samples = 20000;
    double small = activation_cost_us(base, 1000, samples);
    double big = activation_cost_us(base, 1000000, samples);
    printf("bench: engine_activate_depth_1k %.2f us/job\n", small);
    printf("bench: engine_activate_depth_1m %.2f us/job\n", big);
    printf("bench: engine_activate_depth_ratio_1m_vs_1k %.2f x\n", big / small);
    return 0;
}
