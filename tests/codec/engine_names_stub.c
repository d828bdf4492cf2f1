/*
 * Stand-ins for the two naming functions of the engine that the chute.v1
 * encoders call, for builds without the engine (the fuzz target, and the
 * codec tests while src/engine/ is not there yet). When the engine is built
 * the tests link it instead, so these names are checked against the real
 * ones there.
 */
#include <chute/engine.h>

const char *chute_job_state_name(chute_job_state state)
{
    switch (state) {
    case CHUTE_JOB_ACTIVATABLE:
        return "ACTIVATABLE";
    case CHUTE_JOB_ACTIVATED:
        return "ACTIVATED";
    case CHUTE_JOB_FAILED:
        return "FAILED";
    case CHUTE_JOB_INCIDENT:
        return "INCIDENT";
    case CHUTE_JOB_ERROR_THROWN:
        return "ERROR_THROWN";
    case CHUTE_JOB_DELAYED:
        return "DELAYED";
    case CHUTE_JOB_COMPLETED:
        return "COMPLETED";
    case CHUTE_JOB_CANCELED:
        return "CANCELED";
    }
    return "UNKNOWN";
}

const char *chute_incident_type_name(chute_incident_type type)
{
    switch (type) {
    case CHUTE_INCIDENT_NONE:
        return "";
    case CHUTE_INCIDENT_JOB_NO_RETRIES:
        return "JOB_NO_RETRIES";
    case CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT:
        return "UNHANDLED_ERROR_EVENT";
    }
    return "UNKNOWN";
}
