/*
 * The printed names of job states and incident types, from the X-macros in
 * include/chute/engine.h. They live here rather than in the engine so that
 * the codec (which prints them in replies) links without the engine.
 */
#include <chute/engine.h>

const char *chute_job_state_name(chute_job_state state)
{
    switch (state) {
#define X(name, value)                                                                             \
    case CHUTE_JOB_##name:                                                                         \
        return #name;
        CHUTE_JOB_STATE_MAP(X)
#undef X
    }
    return "UNKNOWN";
}

const char *chute_incident_type_name(chute_incident_type type)
{
    switch (type) {
#define X(name, value, printed)                                                                    \
    case CHUTE_INCIDENT_##name:                                                                    \
        return printed;
        CHUTE_INCIDENT_TYPE_MAP(X)
#undef X
    }
    return "UNKNOWN";
}

const char *chute_instance_state_name(chute_instance_state state)
{
    switch (state) {
#define X(name, value)                                                                             \
    case CHUTE_INSTANCE_##name:                                                                    \
        return #name;
        CHUTE_INSTANCE_STATE_MAP(X)
#undef X
    }
    return "UNKNOWN";
}
