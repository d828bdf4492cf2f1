/* Every public header, together, in one translation unit: a program that
 * embeds the engine may also be a client of another broker. */
#include <chute/chute.h>
#include <chute/client.h>
#include <chute/engine.h>
#include <chute/worker.h>

#include <stdio.h>

int main(void)
{
    chute_job_spec engine_spec = {.type = "a"};
    chute_client_job_spec client_spec = {.type = "b"};
    chute_activate_request engine_req = {.type = "c"};
    chute_client_activate_request client_req = {.type = "d"};
    printf("%s %s %s %s\n", engine_spec.type, client_spec.type, engine_req.type, client_req.type);
    puts("1 passed, 0 failed");
    return 0;
}
