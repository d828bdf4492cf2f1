/*
 * BPMN 2.0 process models as Zeebe (Camunda 8) reads them: the deploy-time
 * half of Chute's process engine.
 *
 * model_parse turns one deployed resource (the bytes of a .bpmn file) into
 * an executable model, or refuses it with every error it finds (up to
 * MODEL_MAX_ERRORS), each naming the element, the attribute where one is
 * involved, and what is wrong, formatted the way Zeebe words a rejected
 * deployment:
 *
 *   Expected to deploy new resources, but encountered the following errors:
 *   'order.bpmn': - Element: Task_1
 *       - ERROR: Must have exactly one 'zeebe:taskDefinition' extension element
 *
 * The module is pure: no I/O, no global state, no engine. It reads XML
 * with expat (refusing DOCTYPE, bounding size, depth, attributes and
 * element count before it allocates) and matches namespaces by URI:
 *   BPMN  http://www.omg.org/spec/BPMN/20100524/MODEL (any prefix: bpmn:,
 *         bpmn2:, or the default namespace)
 *   Zeebe http://camunda.org/schema/zeebe/1.0 (extension elements)
 * Diagram interchange (bpmndi, dc, di), documentation, text annotations,
 * associations, lanes, data objects, qualified attributes (modeler:, xsi:,
 * camunda: of Camunda 7, which Zeebe ignores too) and extension elements of
 * other namespaces are ignored.
 *
 * The model is written for its one reader, the engine:
 *  - A definitions holds its executable processes. A process holds its
 *    elements and sequence flows in two arrays; every reference from one to
 *    another is an index into them (MODEL_NONE for "none"), so walking a
 *    process is array access. Nothing is left to be looked up by string at
 *    run time (model_process_find is for API calls that name an element).
 *  - Every expression ("=..." in an attribute, the text of a condition) is
 *    parsed at deploy time through the hook in model_options, so an
 *    expression the FEEL parser refuses refuses the deployment; the engine
 *    finds the parsed form next to the source text. Static values are
 *    converted once (retries to a number; headers to a JSON object text).
 *  - The element kinds cover everything Zeebe has (BPMN element types and
 *    event types, boundary and event sub-process flags, multi-instance), so
 *    supporting more is behaviour in the engine and a few more fields here,
 *    not a new model.
 *
 * Supported now (everything else is refused at deploy time, naming the
 * element and listing what is supported):
 *   startEvent (none: at most one in the process, exactly one in each
 *   embedded sub-process; message: in the process), endEvent (none,
 *   terminate, error; message with zeebe:taskDefinition, a job),
 *   intermediateThrowEvent (none; message with zeebe:taskDefinition),
 *   intermediateCatchEvent (timer: duration or date; message),
 *   boundaryEvent (error, interrupting; timer: duration or date,
 *   interrupting or not, cycle when not interrupting; message,
 *   interrupting or not), receiveTask, eventBasedGateway (to message and
 *   timer catch events and receive tasks), subProcess (embedded), userTask
 *   (native with zeebe:userTask, else job-based), callActivity
 *   (zeebe:calledElement), multi-instance (parallel and sequential) on
 *   tasks, sub-processes and call activities, event sub-processes (timer,
 *   message and error starts; interrupting or not), task and manualTask (pass
 *   through), serviceTask, sendTask, businessRuleTask and scriptTask with
 *   zeebe:taskDefinition (a job for a worker), scriptTask with zeebe:script
 *   (a FEEL expression, no job), exclusiveGateway, parallelGateway,
 *   inclusiveGateway; zeebe:taskHeaders and zeebe:ioMapping on any of them;
 *   conditions on the sequence flows out of exclusive and inclusive gateways.
 *
 * Read as Zeebe reads it: the graph comes from each sequenceFlow's
 * sourceRef and targetRef (the <incoming>/<outgoing> children are
 * redundant and ignored); processes without isExecutable="true" are
 * neither checked nor kept; an element without a path from the start, or
 * a non-end element without outgoing flows (its token just ends), is
 * allowed. Chute is stricter than Zeebe in a few places where Zeebe would
 * fail only at run time: a static retries value must be a whole number, a
 * static job type must not be blank nor longer than a job type may be.
 *
 * Ownership: model_parse copies everything it needs from its arguments; a
 * model_definitions owns all its strings, arrays and parsed expressions and
 * releases them in model_definitions_free (which calls the hook's
 * free_expr on each parsed expression). A definitions is immutable and may
 * be read from any number of threads.
 */
#ifndef CHUTE_MODEL_BPMN_H
#define CHUTE_MODEL_BPMN_H

#include <stddef.h>
#include <stdint.h>

#include <chute/chute.h>

/* ---- bounds, checked before anything is allocated ------------------------- */

#define MODEL_MAX_DOCUMENT ((size_t)4 * 1024 * 1024) /* bytes of one resource */
#define MODEL_MAX_DEPTH 64                           /* nesting of XML elements */
#define MODEL_MAX_ATTRS 64       /* attributes of one element, xmlns declarations included */
#define MODEL_MAX_ELEMENTS 10000 /* XML elements of one document, diagram included */
#define MODEL_MAX_ERRORS 100     /* errors kept per resource; the rest are counted */
#define MODEL_MAX_JOB_TYPE 1024  /* bytes of a static job type (CHUTE_TYPE_MAX) */

#define MODEL_NS_BPMN "http://www.omg.org/spec/BPMN/20100524/MODEL"
#define MODEL_NS_ZEEBE "http://camunda.org/schema/zeebe/1.0"

/* "No element" / "no flow" where an index is expected. */
#define MODEL_NONE UINT32_MAX

/* ---- kinds ------------------------------------------------------------------ */

/*
 * X(name, bpmn, zeebe): the element types, one per BPMN element Zeebe
 * knows. |bpmn| is the XML element's local name, |zeebe| the name of
 * Zeebe's BpmnElementType (what Zeebe's records and Operate show). A
 * sub-process with triggeredByEvent="true" is an EVENT_SUB_PROCESS.
 */
#define MODEL_ELEMENT_TYPE_MAP(X)                                                                  \
    X(START_EVENT, "startEvent", "START_EVENT")                                                    \
    X(END_EVENT, "endEvent", "END_EVENT")                                                          \
    X(INTERMEDIATE_CATCH_EVENT, "intermediateCatchEvent", "INTERMEDIATE_CATCH_EVENT")              \
    X(INTERMEDIATE_THROW_EVENT, "intermediateThrowEvent", "INTERMEDIATE_THROW_EVENT")              \
    X(BOUNDARY_EVENT, "boundaryEvent", "BOUNDARY_EVENT")                                           \
    X(TASK, "task", "TASK")                                                                        \
    X(SERVICE_TASK, "serviceTask", "SERVICE_TASK")                                                 \
    X(SEND_TASK, "sendTask", "SEND_TASK")                                                          \
    X(RECEIVE_TASK, "receiveTask", "RECEIVE_TASK")                                                 \
    X(SCRIPT_TASK, "scriptTask", "SCRIPT_TASK")                                                    \
    X(BUSINESS_RULE_TASK, "businessRuleTask", "BUSINESS_RULE_TASK")                                \
    X(USER_TASK, "userTask", "USER_TASK")                                                          \
    X(MANUAL_TASK, "manualTask", "MANUAL_TASK")                                                    \
    X(EXCLUSIVE_GATEWAY, "exclusiveGateway", "EXCLUSIVE_GATEWAY")                                  \
    X(PARALLEL_GATEWAY, "parallelGateway", "PARALLEL_GATEWAY")                                     \
    X(INCLUSIVE_GATEWAY, "inclusiveGateway", "INCLUSIVE_GATEWAY")                                  \
    X(EVENT_BASED_GATEWAY, "eventBasedGateway", "EVENT_BASED_GATEWAY")                             \
    X(SUB_PROCESS, "subProcess", "SUB_PROCESS")                                                    \
    X(EVENT_SUB_PROCESS, "subProcess", "EVENT_SUB_PROCESS")                                        \
    X(AD_HOC_SUB_PROCESS, "adHocSubProcess", "AD_HOC_SUB_PROCESS")                                 \
    X(CALL_ACTIVITY, "callActivity", "CALL_ACTIVITY")

typedef enum model_element_type {
#define MODEL_ET_ENUM_(name, bpmn, zeebe) MODEL_ELEMENT_##name,
    MODEL_ELEMENT_TYPE_MAP(MODEL_ET_ENUM_)
#undef MODEL_ET_ENUM_
        MODEL_ELEMENT_TYPE_COUNT
} model_element_type;

/*
 * X(name, definition, zeebe): what triggers an event, from its event
 * definition child (none for an event without one, and for every element
 * that is not an event). |zeebe| is Zeebe's BpmnEventType name.
 */
#define MODEL_EVENT_TYPE_MAP(X)                                                                    \
    X(NONE, "", "UNSPECIFIED")                                                                     \
    X(MESSAGE, "messageEventDefinition", "MESSAGE")                                                \
    X(TIMER, "timerEventDefinition", "TIMER")                                                      \
    X(ERROR, "errorEventDefinition", "ERROR")                                                      \
    X(TERMINATE, "terminateEventDefinition", "TERMINATE")                                          \
    X(SIGNAL, "signalEventDefinition", "SIGNAL")                                                   \
    X(ESCALATION, "escalationEventDefinition", "ESCALATION")                                       \
    X(LINK, "linkEventDefinition", "LINK")                                                         \
    X(COMPENSATION, "compensateEventDefinition", "COMPENSATION")                                   \
    X(CONDITIONAL, "conditionalEventDefinition", "CONDITIONAL")

typedef enum model_event_type {
#define MODEL_EV_ENUM_(name, def, zeebe) MODEL_EVENT_##name,
    MODEL_EVENT_TYPE_MAP(MODEL_EV_ENUM_)
#undef MODEL_EV_ENUM_
        MODEL_EVENT_TYPE_COUNT
} model_event_type;

/* What a timer event's definition gives. */
typedef enum model_timer_kind {
    MODEL_TIMER_NONE = 0,
    MODEL_TIMER_DURATION, /* timeDuration: ISO 8601 duration ("PT10S") */
    MODEL_TIMER_DATE,     /* timeDate: ISO 8601 date and time */
    MODEL_TIMER_CYCLE,    /* timeCycle: "R5/PT10S", "R/P1D" */
} model_timer_kind;

/* Multi-instance loop characteristics of an activity. */
typedef enum model_loop_type {
    MODEL_LOOP_NONE = 0,
    MODEL_LOOP_PARALLEL,   /* multiInstanceLoopCharacteristics */
    MODEL_LOOP_SEQUENTIAL, /* the same with isSequential="true" */
} model_loop_type;

/* Zeebe's name of |t| ("SERVICE_TASK"); "" for a value out of range. */
const char *model_element_type_name(model_element_type t);
/* The BPMN element's local name ("serviceTask"). */
const char *model_element_type_bpmn(model_element_type t);
/* Zeebe's name of |t| ("TIMER"; "UNSPECIFIED" for none). */
const char *model_event_type_name(model_event_type t);

/* ---- the model -------------------------------------------------------------- */

/*
 * A value that is either static or a FEEL expression. Zeebe reads an
 * attribute that starts with '=' as an expression (the text after the
 * '='), anything else as a static value used as it is written (a string,
 * or a number where a number is expected). Where Zeebe requires an
 * expression (conditions, output mapping sources, script expressions) a
 * static value is refused at deploy time.
 */
typedef struct model_expr {
    /* NUL-terminated: the static value, or the FEEL source after the '='
     * (leading blanks kept, as Zeebe passes them to FEEL). "=" alone is the
     * static value "=", as in Zeebe. */
    const char *text;
    uint32_t len; /* bytes of |text| */
    uint8_t is_static;
    void *parsed; /* an expression as the parse hook returned it; NULL for a static value
                     or when model_options gave no hook */
} model_expr;

/* One zeebe:header of zeebe:taskHeaders. */
typedef struct model_header {
    const char *key;
    const char *value;
} model_header;

/*
 * A job for a worker (zeebe:taskDefinition): what a service, send,
 * business rule or script task creates when a token reaches it.
 */
typedef struct model_job {
    const model_expr *type;    /* a static type is not blank and at most MODEL_MAX_JOB_TYPE
                                  bytes; an expression is checked when it is evaluated */
    const model_expr *retries; /* static "3" when the model gives none */
    int32_t static_retries;    /* |retries| as a number when it is static (>= 0), else -1 */
    /* The custom headers in document order. As Zeebe does, a header with an
     * empty key or value is dropped; a key given twice keeps its first
     * place and its last value. */
    uint32_t header_count;
    const model_header *headers;
    const char *headers_json; /* the same headers as a JSON object text ("{}" when none),
                                 what a job's customHeaders holds */
    uint32_t headers_json_len;
} model_job;

/*
 * A user task. With zeebe:userTask it is native (the engine keeps it, no
 * job); without, it is job-based: |job| of the element is a job of type
 * "io.camunda.zeebe:userTask" and these values go into its headers. Each
 * value is static or an expression, NULL when the model gives none.
 */
typedef struct model_user_task {
    uint8_t native;
    const model_expr *assignee;         /* zeebe:assignmentDefinition assignee */
    const model_expr *candidate_groups; /* a list expression, or static "a, b" */
    const model_expr *candidate_users;
    const model_expr *form_key; /* zeebe:formDefinition formKey, formId or externalReference */
    const model_expr *due_date; /* zeebe:taskSchedule dueDate */
    const model_expr *follow_up_date;
    const model_expr *priority; /* zeebe:priorityDefinition priority (0..100) */
} model_user_task;

/* zeebe:calledElement of a call activity. */
typedef struct model_call {
    const model_expr *process_id; /* the bpmnProcessId to start, static or an expression */
    uint8_t propagate_child;      /* propagateAllChildVariables (default true) */
    uint8_t propagate_parent;     /* propagateAllParentVariables (default true) */
} model_call;

/* Multi-instance characteristics (zeebe:loopCharacteristics). */
typedef struct model_multi {
    const model_expr *input_collection;     /* an expression: the list to fan out over */
    const char *input_element;              /* the inner instance's item variable, NULL for none */
    const char *output_collection;          /* the list the body collects, NULL for none */
    const model_expr *output_element;       /* an expression per inner instance, NULL for none */
    const model_expr *completion_condition; /* bpmn:completionCondition, NULL for none */
} model_multi;

/* zeebe:calledDecision of a business rule task: the engine evaluates the
 * decision, no job. */
typedef struct model_decision {
    const model_expr *decision_id; /* static or an expression */
    const char *result_variable;   /* not empty */
} model_decision;

/* zeebe:script of a script task: evaluated by the engine, no job. */
typedef struct model_script {
    const model_expr *expression; /* always an expression */
    const char *result_variable;  /* not empty */
} model_script;

/*
 * One zeebe:input or zeebe:output of zeebe:ioMapping. Zeebe's semantics,
 * which the engine implements: inputs are evaluated one by one in this
 * order when the element is activated, each seeing the ones before it, and
 * each sets a local variable of the element (a target "a.b" sets member b
 * of local variable a); outputs are evaluated in order when it completes,
 * with the element's local variables (a completed job's variables among
 * them) visible, and are set in the element's flow scope, a nested target
 * merging into an existing object. An element with outputs propagates only
 * them.
 */
typedef struct model_mapping {
    /* An input's source may be static, and is then a string (source "1" is
     * the string "1", as in Zeebe), or NULL when the model gives none (the
     * target is set to null). An output's source is always an expression. */
    const model_expr *source;
    const char *target;             /* the path as written, matching
                                       [a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)* */
    uint32_t target_depth;          /* >= 1 */
    const char *const *target_path; /* |target| split at '.': target_depth names */
} model_mapping;

/*
 * A flow node. Indices refer to the owning process's |elements| and
 * |flows| arrays.
 */
typedef struct model_element {
    const char *id;   /* unique in the document */
    const char *name; /* "" when the model gives none */
    model_element_type type;
    model_event_type event; /* events: their trigger; MODEL_EVENT_NONE otherwise */
    model_loop_type loop;   /* multi-instance activities: parallel or sequential, see |multi| */
    uint32_t scope;         /* the enclosing (event) sub-process, MODEL_NONE for the process */
    uint32_t attached_to;   /* boundary events: the activity; MODEL_NONE otherwise */
    uint8_t interrupting;   /* boundary events (cancelActivity) and start events of event
                               sub-processes (isInterrupting); 1 for all others */
    uint32_t incoming_count;
    const uint32_t *incoming; /* flows into the element, in document order */
    uint32_t outgoing_count;
    /* Flows out of the element in the document order of the sequenceFlow
     * elements: an exclusive gateway takes the first whose condition is
     * true, an inclusive gateway all of them; a flow without a condition
     * out of a gateway with one outgoing flow is always taken. */
    const uint32_t *outgoing;
    uint32_t default_flow;      /* exclusive and inclusive gateways: the flow taken when no
                                   condition is true (its own condition, if any, is never
                                   evaluated); MODEL_NONE when there is none */
    const model_job *job;       /* job worker tasks; NULL otherwise */
    const model_script *script; /* script tasks with zeebe:script; NULL otherwise */
    const model_user_task *user_task; /* user tasks; NULL otherwise */
    const model_call *call;           /* call activities; NULL otherwise */
    const model_decision *decision;   /* business rule tasks with zeebe:calledDecision */
    const model_multi *multi;         /* multi-instance activities (|loop|); NULL otherwise */
    uint32_t input_count;
    const model_mapping *inputs;
    uint32_t output_count;
    const model_mapping *outputs;
    /* Error events: the errorCode of the referenced bpmn:error; NULL for a
     * boundary event without errorRef, which catches every code. */
    const char *error_code;
    /* Timer events: what the definition gives, static or an expression. */
    model_timer_kind timer_kind;
    const model_expr *timer;
    /* Message events and receive tasks: the message's name (static or an
     * expression) and, except for start events, its correlation key
     * (zeebe:subscription correlationKey, static or an expression). */
    const model_expr *message_name;
    const model_expr *correlation_key;
    /* Sub-processes: the none start event of their scope; event
     * sub-processes: their one start event (timer, message or error). */
    uint32_t sub_start;
    /* Sub-processes: the event sub-processes directly inside them. */
    uint32_t esp_count;
    const uint32_t *esps;
    /* Activities: the boundary events attached to them, in document order. */
    uint32_t boundary_count;
    const uint32_t *boundaries;
} model_element;

typedef struct model_flow {
    const char *id;
    const char *name; /* "" when none */
    uint32_t source;  /* element indices */
    uint32_t target;
    const model_expr *condition; /* an expression, or NULL (unconditional) */
} model_flow;

typedef struct model_process {
    const char *id;          /* the bpmnProcessId */
    const char *name;        /* "" when none */
    const char *version_tag; /* zeebe:versionTag, "" when none */
    uint32_t element_count;
    const model_element *elements; /* in document order, a sub-process before its contents */
    uint32_t flow_count;
    const model_flow *flows; /* in document order */
    uint32_t start;          /* the none start event of the process scope; MODEL_NONE when
                                the process starts by messages only */
    uint32_t esp_count;      /* the event sub-processes of the process scope */
    const uint32_t *esps;
    const uint32_t *by_id;   /* element indices sorted by id, for model_process_find */
} model_process;

typedef struct model_definitions {
    const char *id;            /* of <definitions>, "" when none */
    const char *resource_name; /* as given to model_parse */
    uint32_t process_count;    /* >= 1: the executable processes, in document order */
    const model_process *processes;
    /* Private to the module. */
    void *arena_;
    void (*free_expr_)(void *);
    void *exprs_;
} model_definitions;

/* ---- errors ----------------------------------------------------------------- */

typedef struct model_error {
    /* Which element is wrong, as Zeebe names it: the id of the closest
     * element that has one, then the local names down to the element at
     * fault ("Task_1 > extensionElements > taskDefinition"). NULL for an
     * error of the document as a whole (not XML, not BPMN, a bound). */
    char *element;
    char *message;         /* a full sentence naming the attribute where one is involved */
    uint32_t line, column; /* where the element (or the error) is in the XML; 0 if unknown */
} model_error;

/*
 * The errors of one resource. Zero-initialise it ("model_errors e = {0};")
 * before its first use; model_parse clears what it held before; release it
 * with model_errors_clear.
 */
typedef struct model_errors {
    char *resource;     /* the resource name */
    uint32_t count;     /* errors in |items|, at most MODEL_MAX_ERRORS */
    uint32_t omitted;   /* errors found beyond MODEL_MAX_ERRORS, counted only */
    model_error *items; /* in document order */
} model_errors;

/* Frees what |errs| holds and zeroes it. NULL is a no-op. */
void model_errors_clear(model_errors *errs);

/*
 * The rejection message of a deployment whose resources |list[0..count)|
 * were refused, in Zeebe's words and shape:
 *   "Expected to deploy new resources, but encountered the following errors:"
 * then for each resource "\n'<name>': " followed by its document errors
 * and, per element, "- Element: <element>\n" with a line
 * "    - ERROR: <message>\n" for each of its errors. Returns a malloc'd
 * NUL-terminated string the caller frees, or NULL when out of memory.
 */
char *model_errors_format(const model_errors *const *list, size_t count);

/* ---- parsing ---------------------------------------------------------------- */

/* Why the parse hook refused an expression. */
typedef struct model_expr_error {
    int column;        /* 1-based column in the expression source; 0 when unknown */
    char message[512]; /* what is wrong, a sentence without a trailing period */
} model_expr_error;

/*
 * How expressions are parsed. The FEEL library (src/feel) is not linked
 * here: the engine wires it in, e.g.
 *
 *   static int parse_feel(void *ctx, const char *src, size_t len, void **out,
 *                         model_expr_error *err)
 *   {
 *       feel_expr *e;
 *       feel_error fe;
 *       if (feel_parse(src, len, &e, &fe) != 0) {
 *           err->column = fe.column;
 *           snprintf(err->message, sizeof err->message, "%s", fe.message);
 *           return -1;
 *       }
 *       *out = e;
 *       return 0;
 *   }
 *   static void free_feel(void *e) { feel_expr_free(e); }
 *   model_options opts = {parse_feel, free_feel, NULL};
 *
 * and casts model_expr.parsed back to feel_expr * when it evaluates.
 */
typedef struct model_options {
    /* Parses |len| bytes of |src| (the expression without its '='; not
     * NUL-terminated). Returns 0 with the parsed form in |*out|, or
     * non-zero with |err| filled. NULL: expressions are kept as text only. */
    int (*parse_expr)(void *ctx, const char *src, size_t len, void **out, model_expr_error *err);
    void (*free_expr)(void *parsed); /* frees what parse_expr made; may be NULL */
    void *ctx;
} model_options;

/*
 * Parses the BPMN resource |xml| (|len| bytes, UTF-8 or any encoding its
 * XML declaration names that expat reads) named |resource_name| (used in
 * messages; copied). |opts| may be NULL (no expression hook).
 *
 * Returns 0 with a new definitions in |*out| (free it with
 * model_definitions_free) and |errs| cleared; CHUTE_EINVAL when the
 * resource is refused, with |errs| holding why and |*out| untouched;
 * CHUTE_ENOMEM when memory ran out (|errs| may hold what was found so
 * far). |errs| may be NULL when the caller only wants the verdict.
 */
int model_parse(const char *xml, size_t len, const char *resource_name, const model_options *opts,
                model_definitions **out, model_errors *errs);

/* Frees |defs| and, through the hook's free_expr, every parsed expression.
 * NULL is a no-op. */
void model_definitions_free(model_definitions *defs);

/* The index of the element with id |id| (|len| bytes) in |p|, or MODEL_NONE. */
uint32_t model_process_find(const model_process *p, const char *id, size_t len);

/* The process with bpmnProcessId |id| (|len| bytes), or NULL. */
const model_process *model_definitions_find(const model_definitions *defs, const char *id,
                                            size_t len);

#endif
