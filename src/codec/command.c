/* A command as decoded; see command.h. */
#include "command.h"

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>
#include <string.h>

const char *command_kind_words(command_kind kind)
{
    static const char *const words[] = {
#define COMMAND_KIND_WORDS(name, w) w,
        COMMAND_KIND_MAP(COMMAND_KIND_WORDS)
#undef COMMAND_KIND_WORDS
    };
    return (unsigned)kind < COMMAND_KIND_COUNT ? words[kind] : "unknown command";
}

const char *command_zen_state_name(chute_job_state state)
{
    switch (state) {
    case CHUTE_JOB_COMPLETED:
        return "completed";
    case CHUTE_JOB_INCIDENT:
    case CHUTE_JOB_ERROR_THROWN:
        return "failed";
    case CHUTE_JOB_CANCELED:
        return "terminated";
    default:
        return "active";
    }
}

void command_free(command *c)
{
    if (!c)
        return;
    if (c->msg)
        protobuf_c_message_free_unpacked(c->msg, NULL);
    json_decref((json_t *)c->doc);
    free(c->fetch);
    for (size_t i = 0; i < c->ntexts; i++)
        free(c->texts[i]);
    free(c->texts);
    free(c->specs);
    free(c->resources);
    free(c->type_buf);
    free(c->activate);
    free(c->var_instructions);
    free(c->terminate);
    free(c->mappings);
    memset(c, 0, sizeof *c);
}
