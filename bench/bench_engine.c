/*
 * In-process engine benchmarks (no network):
 *
 *   lifecycle: create + activate + complete throughput for durability full
 *              and normal, with 1, 100 and 1000 commands per commit;
 *   depth:     the cost of one activation with 1 000 and 1 000 000 jobs
 *              queued (it should not grow with the depth);
 *   memory:    the broker's memory per queued job beyond its payload
 *              (bench_engine DATA_DIR memory [N], N jobs, default 1 000 000).
 *
 *   bench_engine DATA_DIR [short|full|profile|memory [N]]
 *
 * Prints `bench: <name> <value> <unit>` lines. Each lifecycle figure is the
 * median of several runs; every run opens a fresh database under DATA_DIR.
 */
#include <chute/engine.h>

#include <malloc.h>
#include <sqlite3.h>
#include <stdint.h>
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

/* ---- memory per queued job ------------------------------------------------ */

#define MEM_PAYLOAD 128
#define MEM_BATCH 1000

/* Heap bytes in use: chunks handed out from the arenas plus the large
 * chunks glibc serves with mmap (the job table and the ready heap are such
 * chunks at this size, and uordblks alone would miss them). */
static long long heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long long)mi.uordblks + (long long)mi.hblkhd;
}

/* VmRSS of this process in bytes, or -1. */
static long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/*
 * Creates |n| ACTIVATABLE jobs with a MEM_PAYLOAD-byte variables document
 * each (batches of MEM_BATCH through chute_engine_create_batch, one commit
 * per batch, durability normal) and prints what each costs in memory beyond
 * its payload.
 *
 * SQLite allocates its page cache (64 MiB, see store.c) and, in exclusive
 * WAL mode, its WAL index from the same glibc heap, so the growth of
 * sqlite3_memory_used() is subtracted from both figures: what is left is the
 * engine's own memory (job records, job table, ready heap). Memory status
 * is switched on before SQLite initialises so that the count is kept
 * whatever the library's compile-time default.
 */
static void memory(const char *base, long n)
{
    if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1) != SQLITE_OK) {
        fprintf(stderr, "bench_engine: cannot switch on SQLite memory status\n");
        exit(1);
    }
    chute_engine *e = open_fresh(base, "memory", CHUTE_DURABILITY_NORMAL);
    chute_error err;
    chute_job_spec *specs = calloc(MEM_BATCH, sizeof *specs);
    char(*docs)[MEM_PAYLOAD + 1] = malloc(MEM_BATCH * sizeof *docs);
    int64_t *keys = malloc(MEM_BATCH * sizeof *keys);
    if (!specs || !docs || !keys)
        exit(1);
    for (int i = 0; i < MEM_BATCH; i++) {
        specs[i].type = "memory";
        specs[i].variables = docs[i];
        specs[i].variables_len = MEM_PAYLOAD;
    }
    long long heap0 = heap_in_use(), rss0 = rss_bytes();
    long long sql0 = sqlite3_memory_used();
    double t0 = now_s();
    for (long done = 0; done < n;) {
        size_t batch = n - done < MEM_BATCH ? (size_t)(n - done) : MEM_BATCH;
        for (size_t i = 0; i < batch; i++) {
            /* A 128-byte object whose values differ from job to job. */
            int len = snprintf(docs[i], sizeof docs[i],
                               "{\"orderId\":\"A-%010ld\",\"customer\":\"c-%08ld\","
                               "\"amount\":129.5,\"items\":3,\"note\":\"",
                               done + (long)i, (done + (long)i) % 99991);
            while (len < MEM_PAYLOAD - 2)
                docs[i][len++] = 'x';
            docs[i][len++] = '"';
            docs[i][len++] = '}';
            docs[i][len] = '\0';
        }
        size_t failed;
        check(chute_engine_create_batch(e, specs, batch, keys, &failed, &err), &err, "create");
        check(chute_engine_commit(e, &err), &err, "commit");
        done += (long)batch;
    }
    double dt = now_s() - t0;
    long long heap1 = heap_in_use(), rss1 = rss_bytes();
    long long sql1 = sqlite3_memory_used();
    chute_engine_stats st;
    chute_engine_get_stats(e, &st);
    if (st.activatable != (uint64_t)n) {
        fprintf(stderr, "bench_engine: %llu jobs queued, expected %ld\n",
                (unsigned long long)st.activatable, n);
        exit(1);
    }
    double sqlite_growth = (double)(sql1 - sql0);
    printf("bench: engine_memory_jobs %ld jobs\n", n);
    printf("bench: engine_memory_create_rate %.0f jobs/s\n", n / dt);
    printf("bench: engine_memory_sqlite_heap_growth %.1f MiB\n", sqlite_growth / 1048576.0);
    printf("bench: engine_memory_per_job %.1f B\n",
           ((double)(heap1 - heap0) - sqlite_growth) / (double)n - MEM_PAYLOAD);
    printf("bench: engine_rss_per_job %.1f B\n",
           ((double)(rss1 - rss0) - sqlite_growth) / (double)n - MEM_PAYLOAD);
    fflush(stdout);
    free(specs);
    free(docs);
    free(keys);
    chute_engine_close(e);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_engine DATA_DIR [short|full|profile|memory [N]]\n");
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
    if (argc > 2 && strcmp(argv[2], "memory") == 0) {
        long n = argc > 3 ? strtol(argv[3], NULL, 10) : 1000000;
        if (n < 1) {
            fprintf(stderr, "bench_engine: N must be at least 1\n");
            return 2;
        }
        memory(base, n);
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
