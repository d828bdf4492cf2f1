/*
 * Embedding Chute: jobs handled by a function in the same process.
 *
 *   build/example_embedded [DATA_DIR]
 *
 * Creates ten "greet" jobs, handles them in-process (every third one fails
 * once and is retried after a short back-off), and prints the results.
 */
#include <chute/engine.h>

#include <stdio.h>
#include <stdlib.h>

static void greet(void *ctx, chute_engine *e, const chute_job_view *job)
{
    int *handled = ctx;
    chute_error err;
    if (job->key % 3 == 0 && job->retries == 3) {
        chute_engine_fail(e, job->key, job->retries - 1, "not yet", 50, NULL, 0, &err);
        return;
    }
    printf("job %lld (retries left %d): %s\n", (long long)job->key, job->retries,
           job->variables);
    if (chute_engine_complete(e, job->key, "{\"greeted\":true}", 0, &err) == 0)
        (*handled)++;
}

int main(int argc, char **argv)
{
    chute_engine_options opts;
    chute_engine_options_init(&opts);
    opts.data_dir = argc > 1 ? argv[1] : "./example-data";

    chute_engine *e;
    chute_error err;
    if (chute_engine_open(&e, &opts, &err) != 0) {
        fprintf(stderr, "cannot open the engine: %s\n", err.message);
        return 1;
    }
    int handled = 0;
    chute_engine_register_handler(e, "greet", greet, &handled, NULL, &err);

    for (int i = 0; i < 10; i++) {
        char vars[64];
        snprintf(vars, sizeof vars, "{\"name\":\"guest %d\"}", i);
        chute_job_spec spec = {.type = "greet", .variables = vars};
        int64_t key;
        if (chute_engine_create(e, &spec, &key, &err) != 0) {
            fprintf(stderr, "create: %s\n", err.message);
            return 1;
        }
    }
    /* Run until nothing is left to do (back-offs included). */
    int rc = chute_engine_run(e, INT64_MAX, &err);
    if (rc != 0)
        fprintf(stderr, "run: %s\n", err.message);
    printf("handled %d jobs\n", handled);
    chute_engine_close(e);
    return rc == 0 && handled == 10 ? 0 : 1;
}
