/* A complete job worker: handles "greet" jobs until Ctrl-C.
 * Run: example_worker [ADDRESS]   (default 127.0.0.1:26500) */
#include <chute/worker.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static void greet(chute_job_client *jc, const chute_job *job, void *user_data)
{
    chute_error err;
    printf("job %lld with variables %s\n", (long long)job->key, job->variables);
    if (chute_job_complete(jc, "{\"greeting\":\"hello\"}", &err) < 0)
        fprintf(stderr, "complete failed: %s\n", err.message);
}

int main(int argc, char **argv)
{
    chute_client *client;
    chute_worker *worker;
    chute_worker_options opts;
    chute_error err;
    sigset_t stop;
    int sig;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread starts */
    if (chute_client_open(&client, argc > 1 ? argv[1] : "127.0.0.1:26500", NULL, &err) < 0)
        return fprintf(stderr, "%s\n", err.message), 1;
    chute_worker_options_init(&opts);
    opts.type = "greet";
    opts.handler = greet;
    if (chute_worker_open(&worker, client, &opts, &err) < 0)
        return fprintf(stderr, "%s\n", err.message), 1;
    sigwait(&stop, &sig);
    chute_worker_close(worker); /* running handlers finish; unstarted jobs go back */
    chute_client_close(client);
    return 0;
}
