/*
 * A command as decoded: what a client asked for, in one struct that does
 * not know the protocol it came in.
 *
 * Both front ends decode into this struct: the gRPC codec
 * (gateway_codec.h, chute_codec.h) from protobuf messages, the REST codec
 * (rest.h) from JSON bodies, path keys and query strings. The server's
 * command layer (src/server/commands.h) then runs it on the engine, the
 * same way whichever door it came through. So a rule on a value lives in
 * the engine or in the command layer, once, and a decoder checks only what
 * its wire format owns (see the codec headers).
 *
 * Fields a command does not carry are 0 / NULL. Strings the engine reads
 * are never NULL for the commands that carry them ("" when not sent).
 * Everything points into memory the struct owns (the unpacked protobuf
 * message, the parsed JSON document, a few texts made while decoding),
 * released together by command_free(). A decoder that fails leaves nothing
 * to free and a zeroed struct.
 */
#ifndef CHUTE_CODEC_COMMAND_H
#define CHUTE_CODEC_COMMAND_H

#include <chute/engine.h>

#include <stddef.h>
#include <stdint.h>

struct ProtobufCMessage;

/*
 * The kinds of command: each is one engine operation (or one read) and one
 * shape of answer. Several entry points may share a kind: UpdateJobRetries,
 * UpdateJobTimeout and REST's PATCH are all an UPDATE with a changeset;
 * CreateJob, CreateJobs and POST /v1/jobs are all a CREATE.
 */
#define COMMAND_KIND_MAP(X)                                                                        \
    X(ACTIVATE, "activate jobs")                                                                   \
    X(STREAM, "stream activated jobs")                                                             \
    X(TOPOLOGY, "topology")                                                                        \
    X(COMPLETE, "complete job")                                                                    \
    X(FAIL, "fail job")                                                                            \
    X(THROW_ERROR, "throw error")                                                                  \
    X(UPDATE, "update job")                                                                        \
    X(RESOLVE_INCIDENT, "resolve incident")                                                        \
    X(CREATE, "create jobs")                                                                       \
    X(GET_JOB, "get job")                                                                          \
    X(CANCEL_JOB, "cancel job")                                                                    \
    X(LIST_JOBS, "list jobs")                                                                      \
    X(LIST_INCIDENTS, "list incidents")                                                            \
    X(JOB_TYPES, "list job types")                                                                 \
    X(DEPLOY, "deploy resources")                                                                  \
    X(GET_PROCESS_XML, "get process definition XML")                                               \
    X(CREATE_INSTANCE, "create process instance")                                                  \
    X(CANCEL_INSTANCE, "cancel process instance")                                                  \
    X(SET_VARIABLES, "set variables")                                                              \
    X(DELETE_RESOURCE, "delete resource")                                                          \
    X(GET_INSTANCE, "get process instance")                                                        \
    X(SEARCH_INSTANCES, "search process instances")                                                \
    X(SEARCH_ELEMENTS, "search element instances")                                                 \
    X(SEARCH_VARIABLES, "search variables")                                                        \
    X(SEARCH_INCIDENTS, "search incidents")                                                        \
    X(INSTANCE_DETAILS, "get process instance details")                                            \
    X(PUBLISH_MESSAGE, "publish message")                                                          \
    X(CORRELATE_MESSAGE, "correlate message")                                                      \
    X(JOB_STREAM, "open a ZenBPM job stream")                                                      \
    X(UNSUBSCRIBE, "withdraw a job stream subscription")                                           \
    X(ZEN_LIST_JOBS, "list jobs")                                                                  \
    X(ASSIGN_JOB, "assign job")                                                                    \
    X(MODIFY_INSTANCE, "modify process instance")                                                  \
    X(MIGRATE_INSTANCE, "migrate process instance")                                                \
    X(BROADCAST_SIGNAL, "broadcast signal")                                                        \
    X(SEARCH_USER_TASKS, "search user tasks")                                                      \
    X(GET_USER_TASK, "get user task")                                                              \
    X(ASSIGN_USER_TASK, "assign user task")                                                        \
    X(COMPLETE_USER_TASK, "complete user task")                                                    \
    X(EVALUATE_DECISION, "evaluate decision")

typedef enum command_kind {
#define COMMAND_KIND_ENUM(name, words) COMMAND_##name,
    COMMAND_KIND_MAP(COMMAND_KIND_ENUM)
#undef COMMAND_KIND_ENUM
        COMMAND_KIND_COUNT
} command_kind;

/*
 * What a search (POST /v2/.../search) keeps: each field set by the filter
 * the client sent, zero or NULL for "any". Which fields a search reads is
 * said at each; the REST decoder refuses filter fields a search does not
 * read, so that a filter is never silently ignored.
 */
typedef struct command_search {
    int64_t process_instance_key;   /* all five */
    int64_t process_definition_key; /* instances, elements, incidents, user tasks */
    const char *bpmn_process_id;    /* instances, elements, incidents, user tasks */
    int32_t version;                /* instances, when has_version */
    int has_version;
    chute_instance_state state;   /* instances, elements */
    int has_incident;             /* instances, elements: 1 with, -1 without, 0 any */
    int64_t scope_key;            /* variables: scopeKey; elements: elementInstanceScopeKey */
    int64_t element_instance_key; /* elements, incidents, user tasks */
    const char *element_id;       /* elements, incidents, user tasks */
    const char *element_type;     /* elements: Zeebe's BpmnElementType */
    const char *name;             /* variables; user tasks: the task's name */
    int64_t variable_key;         /* variables */
    int64_t incident_key;         /* elements, incidents */
    int64_t job_key;              /* incidents */
    const char *error_type;       /* incidents: an incident type's name */
    int incident_state;           /* incidents: 1 ACTIVE, 2 RESOLVED, 0 any */
    /* User tasks: their key (the same as their element instance's, so
     * both filters must agree), their assignee ("" for unassigned ones
     * only; |assigned| 1 for assigned ones only), a candidate group and
     * user, and the priority when |has_priority|. */
    int64_t user_task_key;
    const char *assignee;
    int assigned;
    const char *candidate_group;
    const char *candidate_user;
    int32_t priority;
    int has_priority;
    int no_match; /* a tenant other than "<default>", a state no open task has: nothing matches */
    size_t from;  /* entries to skip */
    size_t limit; /* entries to answer at most, >= 1 */
} command_search;

/*
 * ZenBPM's job list (GET /zenbpm/v1/jobs): its filters, its page and its
 * order. ZenBPM's states are coarser than Chute's: ACTIVE is a job that
 * still waits for a worker or is held by one (activatable, activated,
 * delayed, failed with a back-off), FAILED one with an incident,
 * COMPLETED a completed job still retained, TERMINATED a cancelled one
 * (Chute keeps none, so nothing matches it).
 */
typedef enum command_zen_state {
    COMMAND_ZEN_ANY = 0,
    COMMAND_ZEN_ACTIVE,
    COMMAND_ZEN_COMPLETED,
    COMMAND_ZEN_TERMINATED,
    COMMAND_ZEN_FAILED,
} command_zen_state;

typedef enum command_zen_sort {
    COMMAND_ZEN_SORT_CREATED_AT = 0, /* the default; the same order as the key */
    COMMAND_ZEN_SORT_KEY,
    COMMAND_ZEN_SORT_TYPE,
    COMMAND_ZEN_SORT_STATE,
} command_zen_sort;

typedef struct command_zen_list {
    const char *type; /* jobType; NULL: any */
    command_zen_state state;
    int64_t process_instance_key; /* 0: any */
    const char *assignee;         /* NULL: any */
    long long page;               /* 1-based */
    long long size;               /* entries per page (and partition) */
    command_zen_sort sort_by;
    int descending; /* sortOrder desc (the default is asc) */
} command_zen_list;

/*
 * One activate instruction of a modification, as sent: the command layer
 * turns it into the engine's chute_activate_instruction (it decides what
 * the variable instructions may name and merges their documents).
 */
typedef struct command_variable_instruction {
    const char *variables; /* JSON text as sent, NULL for none */
    size_t variables_len;
    const char *scope_id; /* "" when not sent */
} command_variable_instruction;

typedef struct command_activation {
    const char *element_id; /* "" when not sent */
    int64_t ancestor_key;   /* as sent: 0 or -1 mean none */
    const command_variable_instruction *vars;
    size_t nvars;
} command_activation;

/* The ZenBPM name of a job state ("active", "completed", "failed"). */
const char *command_zen_state_name(chute_job_state state);

/* "complete job" for COMMAND_COMPLETE: for logs and messages. */
const char *command_kind_words(command_kind kind);

typedef struct command {
    command_kind kind;

    /* The job it acts on; the incident for RESOLVE_INCIDENT; the process
     * instance for CANCEL_INSTANCE, GET_INSTANCE and INSTANCE_DETAILS; the
     * scope for SET_VARIABLES; the process definition for DELETE_RESOURCE
     * and GET_PROCESS_XML; the user task for GET_, ASSIGN_ and
     * COMPLETE_USER_TASK. */
    int64_t key;

    /* ACTIVATE, STREAM (max_jobs is 0 for a stream). */
    chute_activate_request req;
    /* ACTIVATE: > 0 wait that long for jobs, 0 the server's default, < 0
     * answer at once. CREATE_INSTANCE with |await|: > 0 wait that long for
     * the instance to end, 0 the server's default. */
    int64_t request_timeout_ms;

    /* COMPLETE, FAIL, THROW_ERROR, CREATE_INSTANCE, SET_VARIABLES,
     * PUBLISH_MESSAGE, CORRELATE_MESSAGE, COMPLETE_USER_TASK,
     * EVALUATE_DECISION: JSON text, NULL when not sent. */
    const char *variables;
    size_t variables_len;
    int32_t retries; /* FAIL; UPDATE when has_retries */
    int has_retries;
    int64_t backoff_ms; /* FAIL */
    int64_t timeout_ms; /* UPDATE when has_timeout */
    int has_timeout;
    const char *error_code;    /* THROW_ERROR */
    const char *error_message; /* FAIL, THROW_ERROR */

    /* CREATE: |count| jobs. |is_array|: the client sent a batch (answer
     * with every key; an error names the job of the batch). */
    chute_job_spec *specs;
    size_t count;
    int is_array;

    /* LIST_JOBS, LIST_INCIDENTS: filters and paging. */
    const char *type;      /* NULL: every type */
    chute_job_state state; /* LIST_JOBS; 0: every state */
    long long page;        /* LIST_JOBS: 1-based */
    long long size;        /* LIST_JOBS: entries per page */
    size_t limit;          /* LIST_INCIDENTS: at most this many */

    /* DEPLOY: the resources, in request order, pointing into the request;
     * |legacy|: DeployProcess (its answer lists processes). */
    chute_resource *resources;
    size_t nresources;
    int legacy;

    /* CREATE_INSTANCE: the definition, by a non-empty |bpmn_process_id| and
     * |version| (< 0: the latest), else by |process_definition_key|; the
     * root variables in |variables|. |start_instructions|: how many the
     * client sent (Chute runs none). |await|: answer when the instance ends
     * (CreateProcessInstanceWithResult, awaitCompletion), with the root
     * variables named in |fetch_names| (none: all). */
    int64_t process_definition_key;
    const char *bpmn_process_id;
    int32_t version;
    size_t start_instructions;
    int await;
    const char *const *fetch_names;
    size_t nfetch;

    /* SET_VARIABLES: |key| is the scope, |variables| the document; |local|
     * sets them on that scope instead of propagating them. */
    int local;

    /* SEARCH_*: the filter and the page. */
    command_search search;

    /* PUBLISH_MESSAGE, CORRELATE_MESSAGE: the message (never NULL, "" when
     * not sent); its variables in |variables|. A correlation has no time
     * to live and no id: it reaches the subscriptions open now or none (a
     * publication with ttl 0 that must correlate). */
    const char *message_name;
    const char *correlation_key;
    const char *message_id; /* PUBLISH_MESSAGE */
    int64_t ttl_ms;         /* PUBLISH_MESSAGE: as sent; the engine refuses < 0 */

    /* ZEN_LIST_JOBS: ZenBPM's job list. ASSIGN_JOB: |key| and |assignee|
     * (never NULL for it). ASSIGN_USER_TASK: |key| is the task; |assignee|
     * NULL or "" unassigns it. |no_override|: refuse when the task has
     * another assignee (Camunda's allowOverride false; zero is Camunda's
     * default). */
    command_zen_list zen;
    const char *assignee;
    int no_override;

    /* MODIFY_INSTANCE: |key| is the instance; the tokens to put and the
     * element instances to terminate, in request order. */
    command_activation *activate;
    size_t nactivate;
    command_variable_instruction *var_instructions; /* what activate[i].vars point into */
    int64_t *terminate;
    size_t nterminate;

    /* MIGRATE_INSTANCE: |key| is the instance, |process_definition_key|
     * the target, then the element mappings in request order. */
    chute_mapping_instruction *mappings;
    size_t nmappings;

    /* BROADCAST_SIGNAL: the signalName ("" when not sent), only for the
     * refusal's message. */
    const char *signal_name;

    /* EVALUATE_DECISION: the decision by |decision_id| (never NULL, ""
     * when not sent), else by |decision_key|; its variables in
     * |variables|. (Not |key|: that is a REST route's path key.) */
    const char *decision_id;
    int64_t decision_key;

    /* What the fields point into; released by command_free. */
    struct ProtobufCMessage *msg;
    void *doc;          /* a parsed JSON document (jansson) */
    const char **fetch; /* fetchVariable names, pointing into doc */
    char **texts;       /* JSON texts made while decoding */
    size_t ntexts;
    char *type_buf; /* a type taken from a query string */
} command;

/* Releases what |c| owns and zeroes it. NULL and a zeroed struct are fine. */
void command_free(command *c);

#endif /* CHUTE_CODEC_COMMAND_H */
