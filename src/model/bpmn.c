/*
 * BPMN XML to executable process models; see bpmn.h.
 *
 * Two steps: xtree reads the document into a small tree of the BPMN and
 * Zeebe elements (a scratch arena), then the builder walks that tree once
 * per executable process, making the model in a second arena that the
 * definitions owns, and recording every error on the way. A resource with
 * any error is refused as a whole: nothing of it is returned but the
 * errors.
 */
#include "model/bpmn.h"
#include "common/isotime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arena.h"
#include "model/xtree.h"

/* Memory a document may cost, beyond which it is refused as out of memory:
 * far above what MODEL_MAX_DOCUMENT bytes of real BPMN need (the tree of a
 * 4 MiB document of nothing but attributes stays under 40 MiB). */
#define TREE_MEMORY_MAX ((size_t)96 * 1024 * 1024)
#define MODEL_MEMORY_MAX ((size_t)64 * 1024 * 1024)

/* How much of a value a message quotes. */
#define QUOTE_MAX 200

/* The header key prefix Zeebe keeps for itself (Protocol.RESERVED_HEADER_NAME_PREFIX). */
#define RESERVED_HEADER_PREFIX "io.camunda.zeebe:"

#define PATH_PATTERN "[a-zA-Z_][a-zA-Z0-9_]*(\\.[a-zA-Z_][a-zA-Z0-9_]*)*"

#define SUPPORTED_LIST                                                                             \
    "startEvent, endEvent, intermediateThrowEvent, intermediateCatchEvent (timer, message), "      \
    "boundaryEvent (error, timer, message), subProcess, task, manualTask, serviceTask, sendTask, " \
    "receiveTask, userTask, scriptTask, businessRuleTask, callActivity, exclusiveGateway, "        \
    "parallelGateway, inclusiveGateway, eventBasedGateway, event sub-processes (multi-instance "   \
    "on activities)"

enum { NS_NONE, NS_BPMN, NS_ZEEBE, NS_OTHER };

/* What a tree node became (xtree_node.user_kind). */
enum { KIND_NONE, KIND_ELEMENT, KIND_FLOW };

/* ---- names of the kinds ------------------------------------------------------ */

static const char *const element_zeebe_names[] = {
#define X_(name, bpmn, zeebe) zeebe,
    MODEL_ELEMENT_TYPE_MAP(X_)
#undef X_
};
static const char *const element_bpmn_names[] = {
#define X_(name, bpmn, zeebe) bpmn,
    MODEL_ELEMENT_TYPE_MAP(X_)
#undef X_
};
static const char *const event_zeebe_names[] = {
#define X_(name, def, zeebe) zeebe,
    MODEL_EVENT_TYPE_MAP(X_)
#undef X_
};
static const char *const event_definitions[] = {
#define X_(name, def, zeebe) def,
    MODEL_EVENT_TYPE_MAP(X_)
#undef X_
};

const char *model_element_type_name(model_element_type t)
{
    return (unsigned)t < MODEL_ELEMENT_TYPE_COUNT ? element_zeebe_names[t] : "";
}

const char *model_element_type_bpmn(model_element_type t)
{
    return (unsigned)t < MODEL_ELEMENT_TYPE_COUNT ? element_bpmn_names[t] : "";
}

const char *model_event_type_name(model_event_type t)
{
    return (unsigned)t < MODEL_EVENT_TYPE_COUNT ? event_zeebe_names[t] : "";
}

/* The flow nodes of BPMN by local name. complexGateway and transaction are
 * BPMN but not Zeebe: they are read (so that what they contain has a
 * scope) and refused. */
typedef struct flow_node_kind {
    const char *name;
    model_element_type type;
    int foreign;   /* not in Zeebe either */
    int container; /* holds flow elements */
} flow_node_kind;

static const flow_node_kind flow_node_kinds[] = {
    {"startEvent", MODEL_ELEMENT_START_EVENT, 0, 0},
    {"endEvent", MODEL_ELEMENT_END_EVENT, 0, 0},
    {"intermediateCatchEvent", MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT, 0, 0},
    {"intermediateThrowEvent", MODEL_ELEMENT_INTERMEDIATE_THROW_EVENT, 0, 0},
    {"boundaryEvent", MODEL_ELEMENT_BOUNDARY_EVENT, 0, 0},
    {"task", MODEL_ELEMENT_TASK, 0, 0},
    {"serviceTask", MODEL_ELEMENT_SERVICE_TASK, 0, 0},
    {"sendTask", MODEL_ELEMENT_SEND_TASK, 0, 0},
    {"receiveTask", MODEL_ELEMENT_RECEIVE_TASK, 0, 0},
    {"scriptTask", MODEL_ELEMENT_SCRIPT_TASK, 0, 0},
    {"businessRuleTask", MODEL_ELEMENT_BUSINESS_RULE_TASK, 0, 0},
    {"userTask", MODEL_ELEMENT_USER_TASK, 0, 0},
    {"manualTask", MODEL_ELEMENT_MANUAL_TASK, 0, 0},
    {"exclusiveGateway", MODEL_ELEMENT_EXCLUSIVE_GATEWAY, 0, 0},
    {"parallelGateway", MODEL_ELEMENT_PARALLEL_GATEWAY, 0, 0},
    {"inclusiveGateway", MODEL_ELEMENT_INCLUSIVE_GATEWAY, 0, 0},
    {"eventBasedGateway", MODEL_ELEMENT_EVENT_BASED_GATEWAY, 0, 0},
    {"subProcess", MODEL_ELEMENT_SUB_PROCESS, 0, 1},
    {"adHocSubProcess", MODEL_ELEMENT_AD_HOC_SUB_PROCESS, 0, 1},
    {"callActivity", MODEL_ELEMENT_CALL_ACTIVITY, 0, 0},
    {"complexGateway", MODEL_ELEMENT_EXCLUSIVE_GATEWAY, 1, 0},
    {"transaction", MODEL_ELEMENT_SUB_PROCESS, 1, 1},
};

static const flow_node_kind *flow_node_kind_of(const xtree_node *n)
{
    if (n->ns != NS_BPMN)
        return NULL;
    for (size_t i = 0; i < sizeof flow_node_kinds / sizeof flow_node_kinds[0]; i++)
        if (strcmp(n->name, flow_node_kinds[i].name) == 0)
            return &flow_node_kinds[i];
    return NULL;
}

/* ---- reading the XML --------------------------------------------------------- */

static int ns_of(const char *uri)
{
    if (!uri[0])
        return NS_NONE;
    if (strcmp(uri, MODEL_NS_BPMN) == 0)
        return NS_BPMN;
    if (strcmp(uri, MODEL_NS_ZEEBE) == 0)
        return NS_ZEEBE;
    return NS_OTHER;
}

/* BPMN elements that say nothing Chute executes are not kept; neither is
 * anything of another namespace (the diagram above all). */
static xtree_keep keep(int ns, const char *name, const xtree_node *parent)
{
    (void)parent;
    if (ns == NS_ZEEBE)
        return XTREE_KEEP;
    if (ns != NS_BPMN)
        return XTREE_SKIP;
    static const char *const skipped[] = {
        "documentation",
        "textAnnotation",
        "association",
        "text",
        "laneSet",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "group",
        "category",
        "dataInputAssociation",
        "dataOutputAssociation",
        "ioSpecification",
        "collaboration",
        "incoming",
        "outgoing",
    };
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (strcmp(name, skipped[i]) == 0)
            return XTREE_SKIP;
    return XTREE_KEEP;
}

static const xtree_options tree_options = {
    .max_depth = MODEL_MAX_DEPTH,
    .max_attrs = MODEL_MAX_ATTRS,
    .max_elements = MODEL_MAX_ELEMENTS,
    .ns_of = ns_of,
    .keep = keep,
};

/* ---- the builder ------------------------------------------------------------- */

/* A model_expr the definitions owns, linked so that the parsed forms can be
 * freed. */
typedef struct expr_slot {
    model_expr e;
    struct expr_slot *next;
} expr_slot;

/* One process being built. */
typedef struct proc_ctx {
    uint32_t number; /* among the executable processes, from 1 (xtree_node.user_scope) */
    const char *id;
    model_process *p;
    xtree_node **element_nodes; /* the tree node of each element */
    xtree_node **flow_nodes;    /* the tree node of each flow */
    uint32_t *flow_scope;       /* the scope each flow is declared in */
    model_element *elements;
    model_flow *flows;
    uint32_t ne, nf;
    uint8_t *cond_reported; /* per element: "conditional flows only at gateways" said */
} proc_ctx;

typedef struct builder {
    model_arena tmp;  /* the tree and scratch arrays */
    model_arena *out; /* the model */
    const model_options *opts;
    model_errors *errs;
    int oom;
    expr_slot *exprs;
    xtree_node **ids; /* open addressing: every node with an id, by id */
    uint32_t ids_cap;
} builder;

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

/* Copies at most QUOTE_MAX bytes of |s| (cut at a UTF-8 character
 * boundary, "..." marking the cut) into |buf|. */
static const char *clip(char *buf, size_t cap, const char *s, size_t len)
{
    size_t n = len;
    int cut = 0;
    if (n > QUOTE_MAX) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = 1;
    }
    if (n + 4 > cap)
        n = cap - 4;
    memcpy(buf, s, n);
    strcpy(buf + n, cut ? "..." : "");
    return buf;
}

/* ---- errors ------------------------------------------------------------------ */

static const char *attr_value(const xtree_node *n, const char *name)
{
    const xtree_attr *a = xtree_attr_get(n, name);
    return a ? a->value : NULL;
}

/* Zeebe's name for an element in a message: the id of the closest element
 * that has one, then the local names down to |n|. */
static char *element_ident(const xtree_node *n)
{
    const xtree_node *chain[MODEL_MAX_DEPTH + 1];
    size_t depth = 0;
    const xtree_node *c = n;
    while (c && depth < MODEL_MAX_DEPTH + 1) {
        chain[depth++] = c;
        const char *id = attr_value(c, "id");
        if (id && id[0])
            break;
        c = c->parent;
    }
    size_t len = 1;
    for (size_t i = 0; i < depth; i++) {
        const char *id = attr_value(chain[i], "id");
        len += strlen(i == depth - 1 && id && id[0] ? id : chain[i]->name) + 3;
    }
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (size_t i = depth; i-- > 0;) {
        const char *id = attr_value(chain[i], "id");
        strcat(s, i == depth - 1 && id && id[0] ? id : chain[i]->name);
        if (i > 0)
            strcat(s, " > ");
    }
    return s;
}

static void add_error_v(builder *b, const xtree_node *n, uint32_t line, uint32_t col,
                        const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void add_error_v(builder *b, const xtree_node *n, uint32_t line, uint32_t col,
                        const char *fmt, va_list ap)
{
    model_errors *e = b->errs;
    if (e->count >= MODEL_MAX_ERRORS) {
        e->omitted++;
        return;
    }
    if (!e->items) {
        e->items = calloc(MODEL_MAX_ERRORS, sizeof *e->items);
        if (!e->items) {
            b->oom = 1;
            return;
        }
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    model_error *it = &e->items[e->count];
    it->message = xstrdup(msg);
    it->element = n ? element_ident(n) : NULL;
    if (!it->message || (n && !it->element)) {
        free(it->message);
        free(it->element);
        it->message = it->element = NULL;
        b->oom = 1;
        return;
    }
    it->line = n ? n->line : line;
    it->column = n ? n->column : col;
    e->count++;
}

static void add_error(builder *b, const xtree_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_error(builder *b, const xtree_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error_v(b, n, 0, 0, fmt, ap);
    va_end(ap);
}

static void add_doc_error(builder *b, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_doc_error(builder *b, uint32_t line, uint32_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error_v(b, NULL, line, col, fmt, ap);
    va_end(ap);
}

static int has_errors(const builder *b)
{
    return b->errs->count > 0 || b->errs->omitted > 0;
}

void model_errors_clear(model_errors *errs)
{
    if (!errs)
        return;
    if (errs->items)
        for (uint32_t i = 0; i < errs->count; i++) {
            free(errs->items[i].element);
            free(errs->items[i].message);
        }
    free(errs->items);
    free(errs->resource);
    memset(errs, 0, sizeof *errs);
}

/* Document order: errors of the document as a whole first, then by the
 * position of the element they name (stable, so that one element's errors
 * keep the order they were found in). */
static void sort_errors(model_errors *e)
{
    for (uint32_t i = 1; i < e->count; i++) {
        model_error t = e->items[i];
        uint32_t j = i;
        while (j > 0) {
            const model_error *p = &e->items[j - 1];
            int p_doc = p->element == NULL, t_doc = t.element == NULL;
            int after = p_doc != t_doc
                            ? (!p_doc && t_doc)
                            : (p->line > t.line || (p->line == t.line && p->column > t.column));
            if (!after)
                break;
            e->items[j] = e->items[j - 1];
            j--;
        }
        e->items[j] = t;
    }
}

/* ---- the rejection message --------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

char *model_errors_format(const model_errors *const *list, size_t count)
{
    sbuf b = {0};
    sb_puts(&b, "Expected to deploy new resources, but encountered the following errors:");
    for (size_t r = 0; r < count; r++) {
        const model_errors *e = list[r];
        if (!e || (e->count == 0 && e->omitted == 0))
            continue;
        sb_puts(&b, "\n'");
        sb_puts(&b, e->resource ? e->resource : "");
        sb_puts(&b, "': ");
        uint32_t i = 0;
        int first = 1;
        for (; i < e->count && !e->items[i].element; i++) {
            if (!first)
                sb_puts(&b, "\n");
            sb_puts(&b, e->items[i].message);
            first = 0;
        }
        if (!first && i < e->count)
            sb_puts(&b, "\n");
        const char *group = NULL;
        for (; i < e->count; i++) {
            const model_error *it = &e->items[i];
            if (!it->element)
                continue; /* sorted first; only if a caller filled the list itself */
            if (!group || strcmp(group, it->element) != 0) {
                sb_puts(&b, "- Element: ");
                sb_puts(&b, it->element);
                sb_puts(&b, "\n");
                group = it->element;
            }
            sb_puts(&b, "    - ERROR: ");
            sb_puts(&b, it->message);
            sb_puts(&b, "\n");
        }
        if (e->omitted) {
            char tail[160];
            snprintf(tail, sizeof tail,
                     "%s(%u more errors not shown: at most %d are reported per resource)",
                     e->count && e->items[e->count - 1].element ? "" : "\n", e->omitted,
                     MODEL_MAX_ERRORS);
            sb_puts(&b, tail);
        }
    }
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- ids --------------------------------------------------------------------- */

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static xtree_node *id_lookup(const builder *b, const char *id, size_t len)
{
    if (!b->ids_cap)
        return NULL;
    uint32_t mask = b->ids_cap - 1;
    for (uint32_t i = hash_str(id, len) & mask;; i = (i + 1) & mask) {
        xtree_node *n = b->ids[i];
        if (!n)
            return NULL;
        const xtree_attr *a = xtree_attr_get(n, "id");
        if (a->len == len && memcmp(a->value, id, len) == 0)
            return n;
    }
}

/* An XML name as xs:ID wants it, ASCII-strict and lenient beyond ASCII
 * (any byte of a multi-byte UTF-8 character passes). */
static int valid_id(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        int other = (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!(letter || (i > 0 && other)))
            return 0;
    }
    return 1;
}

static uint32_t count_ids(const xtree_node *n)
{
    uint32_t c = 0;
    for (; n; n = n->next) {
        if (n->ns == NS_BPMN && xtree_attr_get(n, "id"))
            c++;
        c += count_ids(n->child);
    }
    return c;
}

static void index_ids_in(builder *b, xtree_node *n)
{
    for (; n; n = n->next) {
        const xtree_attr *a = n->ns == NS_BPMN ? xtree_attr_get(n, "id") : NULL;
        if (a && a->len > 0) {
            char q[QUOTE_MAX + 8];
            if (!valid_id(a->value, a->len)) {
                add_error(b, n,
                          "Attribute 'id' must be a valid XML name (a letter or '_' first, then "
                          "letters, digits, '_', '-' or '.'), but is '%s'",
                          clip(q, sizeof q, a->value, a->len));
            } else {
                uint32_t mask = b->ids_cap - 1;
                uint32_t i = hash_str(a->value, a->len) & mask;
                xtree_node *dup = NULL;
                for (; b->ids[i]; i = (i + 1) & mask) {
                    const xtree_attr *o = xtree_attr_get(b->ids[i], "id");
                    if (o->len == a->len && memcmp(o->value, a->value, a->len) == 0) {
                        dup = b->ids[i];
                        break;
                    }
                }
                if (dup)
                    add_error(b, n,
                              "The id '%s' is already the id of the '%s' at line %u, column %u; "
                              "ids must be unique in a resource",
                              clip(q, sizeof q, a->value, a->len), dup->name, dup->line,
                              dup->column);
                else
                    b->ids[i] = n;
            }
        }
        index_ids_in(b, n->child);
    }
}

static int index_ids(builder *b, xtree_node *root)
{
    uint32_t n = count_ids(root);
    uint32_t cap = 16;
    while (cap < 2 * n + 1)
        cap *= 2;
    b->ids = arena_array(&b->tmp, cap, sizeof *b->ids);
    if (!b->ids)
        return -1;
    b->ids_cap = cap;
    index_ids_in(b, root);
    return 0;
}

/* ---- values and expressions -------------------------------------------------- */

static char *out_str(builder *b, const char *s, size_t n)
{
    char *p = arena_strndup(b->out, s, n);
    if (!p)
        b->oom = 1;
    return p;
}

static const char *out_attr(builder *b, const xtree_node *n, const char *name)
{
    const xtree_attr *a = xtree_attr_get(n, name);
    return a ? out_str(b, a->value, a->len) : "";
}

/* "Attribute 'x': " before a message about the value of attribute x. */
static void attr_prefix(char *buf, size_t cap, const char *attr)
{
    if (attr)
        snprintf(buf, cap, "Attribute '%s': ", attr);
    else
        buf[0] = '\0';
}

/*
 * The value |s| (|len| bytes) of attribute |attr| of |n| (|attr| NULL: the
 * text of |n|) as a model_expr: an expression when it starts with '=',
 * parsed with the hook, else a static value, refused when |non_static|.
 * NULL when it is refused (the error recorded) or memory ran out.
 */
static const model_expr *make_expr(builder *b, const xtree_node *n, const char *attr, const char *s,
                                   size_t len, int non_static)
{
    char pre[96], q[QUOTE_MAX + 8];
    attr_prefix(pre, sizeof pre, attr);
    /* Zeebe's rule: '=' and at least one more character is an
     * expression; anything else, "=" alone included, is a static value. */
    int is_expr = len > 1 && s[0] == '=';
    if (!is_expr && non_static) {
        clip(q, sizeof q, s, len);
        add_error(b, n,
                  "%sExpected expression but found static value '%s'. An expression must start "
                  "with '=' (e.g. '=%s').",
                  pre, q, q);
        return NULL;
    }
    const char *src = is_expr ? s + 1 : s;
    size_t src_len = is_expr ? len - 1 : len;
    void *parsed = NULL;
    if (is_expr && b->opts && b->opts->parse_expr) {
        model_expr_error xe;
        memset(&xe, 0, sizeof xe);
        if (b->opts->parse_expr(b->opts->ctx, src, src_len, &parsed, &xe) != 0) {
            xe.message[sizeof xe.message - 1] = '\0';
            clip(q, sizeof q, src, src_len);
            if (xe.column > 0)
                add_error(b, n, "%sfailed to parse expression '%s': %s (column %d)", pre, q,
                          xe.message, xe.column);
            else
                add_error(b, n, "%sfailed to parse expression '%s': %s", pre, q, xe.message);
            return NULL;
        }
    }
    expr_slot *slot = arena_alloc(b->out, sizeof *slot);
    char *text = slot ? arena_strndup(b->out, src, src_len) : NULL;
    if (!slot || !text) {
        if (parsed && b->opts->free_expr)
            b->opts->free_expr(parsed);
        b->oom = 1;
        return NULL;
    }
    slot->e.text = text;
    slot->e.len = (uint32_t)src_len;
    slot->e.is_static = !is_expr;
    slot->e.parsed = parsed;
    slot->next = b->exprs;
    b->exprs = slot;
    return &slot->e;
}

static const model_expr *static_expr(builder *b, const char *s)
{
    expr_slot *slot = arena_alloc(b->out, sizeof *slot);
    char *text = slot ? arena_strndup(b->out, s, strlen(s)) : NULL;
    if (!slot || !text) {
        b->oom = 1;
        return NULL;
    }
    slot->e.text = text;
    slot->e.len = (uint32_t)strlen(s);
    slot->e.is_static = 1;
    return &slot->e;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

/* A whole number 0..INT32_MAX written in decimal digits only, or -1. */
static int32_t parse_retries(const char *s, size_t n)
{
    if (n == 0 || n > 10)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= INT32_MAX ? (int32_t)v : -1;
}

static int valid_path(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        if (i >= n)
            return 0;
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
            return 0;
        for (i++; i < n; i++) {
            c = (unsigned char)s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (c >= '0' && c <= '9')))
                break;
        }
        if (i == n)
            return 1;
        if (s[i] != '.')
            return 0;
        i++;
    }
}

/* ---- extension elements ------------------------------------------------------ */

/* The Zeebe extension elements of a BPMN element (children of its
 * extensionElements), the ones the model reads. */
typedef struct extensions {
    xtree_node *task_definition, *task_headers, *io_mapping, *script, *called_decision,
        *version_tag, *execution_listeners, *user_task, *assignment, *form, *schedule, *priority,
        *called_element;
    uint32_t n_task_definition, n_task_headers, n_io_mapping, n_script, n_called_decision;
} extensions;

static void read_extensions(const xtree_node *n, extensions *x)
{
    memset(x, 0, sizeof *x);
    for (xtree_node *c = n->child; c; c = c->next) {
        if (c->ns != NS_BPMN || strcmp(c->name, "extensionElements") != 0)
            continue;
        for (xtree_node *z = c->child; z; z = z->next) {
            if (z->ns != NS_ZEEBE)
                continue;
#define EXT_(field, counter, nm)                                                                   \
    if (strcmp(z->name, nm) == 0) {                                                                \
        if (!x->field)                                                                             \
            x->field = z;                                                                          \
        x->counter++;                                                                              \
        continue;                                                                                  \
    }
            EXT_(task_definition, n_task_definition, "taskDefinition")
            EXT_(task_headers, n_task_headers, "taskHeaders")
            EXT_(io_mapping, n_io_mapping, "ioMapping")
            EXT_(script, n_script, "script")
            EXT_(called_decision, n_called_decision, "calledDecision")
#undef EXT_
            if (strcmp(z->name, "userTask") == 0 && !x->user_task)
                x->user_task = z;
            else if (strcmp(z->name, "calledElement") == 0 && !x->called_element)
                x->called_element = z;
            else if (strcmp(z->name, "assignmentDefinition") == 0 && !x->assignment)
                x->assignment = z;
            else if (strcmp(z->name, "formDefinition") == 0 && !x->form)
                x->form = z;
            else if (strcmp(z->name, "taskSchedule") == 0 && !x->schedule)
                x->schedule = z;
            else if (strcmp(z->name, "priorityDefinition") == 0 && !x->priority)
                x->priority = z;
            else if (strcmp(z->name, "versionTag") == 0 && !x->version_tag)
                x->version_tag = z;
            else if (strcmp(z->name, "executionListeners") == 0 && !x->execution_listeners)
                x->execution_listeners = z;
        }
    }
}

/* ---- jobs, headers, scripts, mappings ---------------------------------------- */

static void json_string(sbuf *s, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    sb_put(s, "\"", 1);
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[7];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(s, esc, 2);
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named) {
                sb_puts(s, named);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                sb_put(s, esc, 6);
            }
        } else {
            sb_put(s, p, 1);
        }
    }
    sb_put(s, "\"", 1);
}

typedef struct header_ref {
    const xtree_attr *key, *value;
    uint32_t order;
} header_ref;

static int cmp_header(const void *a, const void *b)
{
    const header_ref *x = a, *y = b;
    int c = strcmp(x->key->value, y->key->value);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_order(const void *a, const void *b)
{
    const header_ref *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void make_headers(builder *b, model_job *job, const xtree_node *th)
{
    uint32_t n = 0;
    if (th)
        for (xtree_node *h = th->child; h; h = h->next)
            if (h->ns == NS_ZEEBE && strcmp(h->name, "header") == 0)
                n++;
    header_ref *refs = n ? arena_array(&b->tmp, n, sizeof *refs) : NULL;
    if (n && !refs) {
        b->oom = 1;
        return;
    }
    uint32_t k = 0;
    if (th)
        for (xtree_node *h = th->child; h; h = h->next) {
            if (h->ns != NS_ZEEBE || strcmp(h->name, "header") != 0)
                continue;
            const xtree_attr *key = xtree_attr_get(h, "key");
            const xtree_attr *value = xtree_attr_get(h, "value");
            if (key &&
                strncmp(key->value, RESERVED_HEADER_PREFIX, strlen(RESERVED_HEADER_PREFIX)) == 0) {
                char q[QUOTE_MAX + 8];
                add_error(b, h,
                          "Attribute 'key' contains '%s', but header keys starting with '%s' are "
                          "reserved for internal use.",
                          clip(q, sizeof q, key->value, key->len), RESERVED_HEADER_PREFIX);
                continue;
            }
            /* Zeebe drops a header without a key or a value (the modeler
             * writes <zeebe:header key="resultVariable" /> for an empty
             * field). */
            if (!key || !key->len || !value || !value->len)
                continue;
            refs[k].key = key;
            refs[k].value = value;
            refs[k].order = k;
            k++;
        }
    /* A key given twice: its first place, its last value. */
    if (k > 1) {
        qsort(refs, k, sizeof *refs, cmp_header);
        uint32_t w = 0;
        for (uint32_t i = 0; i < k;) {
            uint32_t j = i;
            while (j + 1 < k && strcmp(refs[j + 1].key->value, refs[i].key->value) == 0)
                j++;
            refs[w] = refs[i];
            refs[w].value = refs[j].value;
            w++;
            i = j + 1;
        }
        k = w;
        qsort(refs, k, sizeof *refs, cmp_order);
    }
    model_header *hs = k ? arena_array(b->out, k, sizeof *hs) : NULL;
    if (k && !hs) {
        b->oom = 1;
        return;
    }
    sbuf json = {0};
    sb_puts(&json, "{");
    for (uint32_t i = 0; i < k; i++) {
        hs[i].key = out_str(b, refs[i].key->value, refs[i].key->len);
        hs[i].value = out_str(b, refs[i].value->value, refs[i].value->len);
        if (i)
            sb_puts(&json, ",");
        json_string(&json, refs[i].key->value);
        sb_puts(&json, ":");
        json_string(&json, refs[i].value->value);
    }
    sb_puts(&json, "}");
    if (json.failed) {
        b->oom = 1;
    } else {
        job->headers_json = out_str(b, json.s, json.len);
        job->headers_json_len = (uint32_t)json.len;
    }
    free(json.s);
    job->headers = hs;
    job->header_count = k;
}

static const model_job *make_job(builder *b, const extensions *x)
{
    const xtree_node *td = x->task_definition;
    model_job *job = arena_alloc(b->out, sizeof *job);
    if (!job) {
        b->oom = 1;
        return NULL;
    }
    char q[QUOTE_MAX + 8];
    const xtree_attr *type = xtree_attr_get(td, "type");
    if (!type || type->len == 0) {
        add_error(b, td, "Attribute 'type' must be present and not empty");
    } else {
        job->type = make_expr(b, td, "type", type->value, type->len, 0);
        if (job->type && job->type->is_static) {
            if (is_blank(type->value, type->len))
                add_error(b, td, "Attribute 'type' must not be blank, but is '%s'",
                          clip(q, sizeof q, type->value, type->len));
            else if (type->len > MODEL_MAX_JOB_TYPE)
                add_error(b, td, "Attribute 'type' is %u bytes long; a job type has at most %d",
                          type->len, MODEL_MAX_JOB_TYPE);
        }
    }
    const xtree_attr *retries = xtree_attr_get(td, "retries");
    job->static_retries = -1;
    if (!retries) {
        job->retries = static_expr(b, "3");
        job->static_retries = 3;
    } else if (retries->len == 0) {
        add_error(b, td, "Attribute 'retries' must be present and not empty");
    } else {
        job->retries = make_expr(b, td, "retries", retries->value, retries->len, 0);
        if (job->retries && job->retries->is_static) {
            job->static_retries = parse_retries(retries->value, retries->len);
            if (job->static_retries < 0)
                add_error(b, td,
                          "Attribute 'retries': Expected static value to be a whole number from 0 "
                          "to 2147483647, but found '%s'.",
                          clip(q, sizeof q, retries->value, retries->len));
        }
    }
    make_headers(b, job, x->task_headers);
    return job;
}

/* An optional attribute |name| of |n| as a model_expr; NULL when absent. */
static const model_expr *opt_expr(builder *b, const xtree_node *n, const char *name)
{
    const xtree_attr *a = n ? xtree_attr_get(n, name) : NULL;
    if (!a || a->len == 0)
        return NULL;
    return make_expr(b, n, name, a->value, a->len, 0);
}

static const model_user_task *make_user_task(builder *b, model_element *el, const extensions *x)
{
    model_user_task *ut = arena_alloc(b->out, sizeof *ut);
    if (!ut) {
        b->oom = 1;
        return NULL;
    }
    ut->native = x->user_task != NULL;
    ut->assignee = opt_expr(b, x->assignment, "assignee");
    ut->candidate_groups = opt_expr(b, x->assignment, "candidateGroups");
    ut->candidate_users = opt_expr(b, x->assignment, "candidateUsers");
    ut->form_key = opt_expr(b, x->form, "formKey");
    if (!ut->form_key)
        ut->form_key = opt_expr(b, x->form, "formId");
    if (!ut->form_key)
        ut->form_key = opt_expr(b, x->form, "externalReference");
    ut->due_date = opt_expr(b, x->schedule, "dueDate");
    ut->follow_up_date = opt_expr(b, x->schedule, "followUpDate");
    ut->priority = opt_expr(b, x->priority, "priority");
    if (!ut->native) {
        /* Job-based: a job of Zeebe's user task type, with the task's
         * headers. */
        model_job *job = arena_alloc(b->out, sizeof *job);
        if (!job) {
            b->oom = 1;
            return ut;
        }
        job->type = static_expr(b, "io.camunda.zeebe:userTask");
        job->retries = static_expr(b, "1");
        job->static_retries = 1;
        make_headers(b, job, x->task_headers);
        el->job = job;
    }
    return ut;
}

static const model_script *make_script(builder *b, const xtree_node *sc)
{
    model_script *s = arena_alloc(b->out, sizeof *s);
    if (!s) {
        b->oom = 1;
        return NULL;
    }
    const xtree_attr *ex = xtree_attr_get(sc, "expression");
    if (!ex || ex->len == 0)
        add_error(b, sc, "Attribute 'expression' must be present and not empty");
    else
        s->expression = make_expr(b, sc, "expression", ex->value, ex->len, 1);
    const xtree_attr *rv = xtree_attr_get(sc, "resultVariable");
    if (!rv || rv->len == 0)
        add_error(b, sc, "Attribute 'resultVariable' must be present and not empty");
    else
        s->result_variable = out_str(b, rv->value, rv->len);
    return s;
}

static void make_mapping(builder *b, const xtree_node *m, int output, model_mapping *out)
{
    char q[QUOTE_MAX + 8];
    const xtree_attr *src = xtree_attr_get(m, "source");
    if (!src) {
        /* An input without a source sets its target to null, as Zeebe
         * does; an output needs one. */
        if (output)
            add_error(b, m, "Attribute 'source': Expected expression but not found.");
    } else {
        out->source = make_expr(b, m, "source", src->value, src->len, output);
    }
    const xtree_attr *tgt = xtree_attr_get(m, "target");
    if (!tgt || tgt->len == 0) {
        add_error(b, m, "Attribute 'target': Expected path expression but not found.");
        return;
    }
    if (!valid_path(tgt->value, tgt->len)) {
        add_error(b, m,
                  "Attribute 'target': Expected path expression '%s' but doesn't match the "
                  "pattern '" PATH_PATTERN "'.",
                  clip(q, sizeof q, tgt->value, tgt->len));
        return;
    }
    out->target = out_str(b, tgt->value, tgt->len);
    uint32_t depth = 1;
    for (uint32_t i = 0; i < tgt->len; i++)
        depth += tgt->value[i] == '.';
    const char **path = arena_array(b->out, depth, sizeof *path);
    if (!path || !out->target) {
        b->oom = 1;
        return;
    }
    const char *p = tgt->value;
    for (uint32_t i = 0; i < depth; i++) {
        const char *dot = memchr(p, '.', (size_t)(tgt->value + tgt->len - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(tgt->value + tgt->len - p);
        path[i] = out_str(b, p, n);
        p += n + 1;
    }
    out->target_path = path;
    out->target_depth = depth;
}

static void make_mappings(builder *b, model_element *el, const extensions *x)
{
    const xtree_node *io = x->io_mapping;
    if (!io)
        return;
    uint32_t ni = 0, no = 0;
    for (xtree_node *m = io->child; m; m = m->next) {
        if (m->ns != NS_ZEEBE)
            continue;
        ni += strcmp(m->name, "input") == 0;
        no += strcmp(m->name, "output") == 0;
    }
    model_mapping *in = ni ? arena_array(b->out, ni, sizeof *in) : NULL;
    model_mapping *out = no ? arena_array(b->out, no, sizeof *out) : NULL;
    if ((ni && !in) || (no && !out)) {
        b->oom = 1;
        return;
    }
    uint32_t i = 0, o = 0;
    for (xtree_node *m = io->child; m; m = m->next) {
        if (m->ns != NS_ZEEBE)
            continue;
        if (strcmp(m->name, "input") == 0)
            make_mapping(b, m, 0, &in[i++]);
        else if (strcmp(m->name, "output") == 0)
            make_mapping(b, m, 1, &out[o++]);
    }
    el->inputs = in;
    el->input_count = ni;
    el->outputs = out;
    el->output_count = no;
}

/* ---- elements ---------------------------------------------------------------- */

static const char *article(const char *word)
{
    return strchr("aeiouAEIOU", word[0]) ? "an" : "a";
}

/* The event definitions of an event. */
typedef struct event_defs {
    uint32_t count;
    const xtree_node *first;
    model_event_type type; /* of |first|; NONE when it has no model type (cancel, a ref) */
    int known;             /* |first| is one of MODEL_EVENT_TYPE_MAP */
} event_defs;

static void read_event_defs(const xtree_node *n, event_defs *d)
{
    memset(d, 0, sizeof *d);
    for (const xtree_node *c = n->child; c; c = c->next) {
        if (c->ns != NS_BPMN)
            continue;
        size_t len = strlen(c->name);
        int is_def = (len > 15 && strcmp(c->name + len - 15, "EventDefinition") == 0) ||
                     strcmp(c->name, "eventDefinitionRef") == 0;
        if (!is_def)
            continue;
        if (d->count++ == 0) {
            d->first = c;
            for (int t = 1; t < MODEL_EVENT_TYPE_COUNT; t++)
                if (strcmp(c->name, event_definitions[t]) == 0) {
                    d->type = (model_event_type)t;
                    d->known = 1;
                }
        }
    }
}

static int is_event(model_element_type t)
{
    return t == MODEL_ELEMENT_START_EVENT || t == MODEL_ELEMENT_END_EVENT ||
           t == MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT ||
           t == MODEL_ELEMENT_INTERMEDIATE_THROW_EVENT || t == MODEL_ELEMENT_BOUNDARY_EVENT;
}

static int supported_type(model_element_type t)
{
    switch (t) {
    case MODEL_ELEMENT_START_EVENT:
    case MODEL_ELEMENT_END_EVENT:
    case MODEL_ELEMENT_INTERMEDIATE_THROW_EVENT:
    case MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT:
    case MODEL_ELEMENT_BOUNDARY_EVENT:
    case MODEL_ELEMENT_SUB_PROCESS:
    case MODEL_ELEMENT_EVENT_SUB_PROCESS:
    case MODEL_ELEMENT_RECEIVE_TASK:
    case MODEL_ELEMENT_EVENT_BASED_GATEWAY:
    case MODEL_ELEMENT_TASK:
    case MODEL_ELEMENT_MANUAL_TASK:
    case MODEL_ELEMENT_SERVICE_TASK:
    case MODEL_ELEMENT_SEND_TASK:
    case MODEL_ELEMENT_SCRIPT_TASK:
    case MODEL_ELEMENT_BUSINESS_RULE_TASK:
    case MODEL_ELEMENT_USER_TASK:
    case MODEL_ELEMENT_CALL_ACTIVITY:
    case MODEL_ELEMENT_EXCLUSIVE_GATEWAY:
    case MODEL_ELEMENT_PARALLEL_GATEWAY:
    case MODEL_ELEMENT_INCLUSIVE_GATEWAY:
        return 1;
    default:
        return 0;
    }
}

/* Checks that Chute runs what |n| (of kind |k|) asks for; records why not. */
static int check_supported(builder *b, const xtree_node *n, const flow_node_kind *k,
                           model_element *el, const event_defs *d)
{
    if (k->foreign) {
        add_error(b, n,
                  "Elements of type '%s' are not supported (Zeebe does not support them either)",
                  n->name);
        return 0;
    }
    if (d->count > 1) {
        add_error(b, n,
                  "Elements with more than one event definition are not supported (Zeebe does not "
                  "support them either)");
        return 0;
    }
    if (d->count == 1 && !d->known) {
        add_error(b, n,
                  "Event definitions of type '%s' are not supported (Zeebe does not support them "
                  "either)",
                  d->first->name);
        return 0;
    }
    if (!supported_type(el->type)) {
        if (d->count)
            add_error(b, n,
                      "Elements of type '%s' with %s '%s' are not supported by Chute yet "
                      "(supported: " SUPPORTED_LIST ")",
                      n->name, article(d->first->name), d->first->name);
        else
            add_error(
                b, n,
                "Elements of type '%s' are not supported by Chute yet (supported: " SUPPORTED_LIST
                ")",
                n->name);
        return 0;
    }
    if (!d->count && (el->type == MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT ||
                      el->type == MODEL_ELEMENT_BOUNDARY_EVENT)) {
        add_error(b, n, "Must have an event definition");
        return 0;
    }
    if (d->count && is_event(el->type)) {
        const char *def = d->first->name;
        int in_esp = el->scope != MODEL_NONE && n->parent &&
                     attr_value(n->parent, "triggeredByEvent") &&
                     strcmp(attr_value(n->parent, "triggeredByEvent"), "true") == 0;
        if (el->type == MODEL_ELEMENT_START_EVENT && in_esp &&
            (el->event == MODEL_EVENT_TIMER || el->event == MODEL_EVENT_MESSAGE ||
             el->event == MODEL_EVENT_ERROR)) {
            /* the start of an event sub-process */
        } else if (el->type == MODEL_ELEMENT_START_EVENT &&
                   !((el->event == MODEL_EVENT_MESSAGE || el->event == MODEL_EVENT_TIMER) &&
                     el->scope == MODEL_NONE)) {
            add_error(b, n,
                      "Start events with %s '%s' are not supported by Chute yet (supported: none "
                      "start events, message and timer start events of the process, and timer, "
                      "message and error starts of event sub-processes)",
                      article(def), def);
            return 0;
        }
        if (el->type == MODEL_ELEMENT_END_EVENT && el->event != MODEL_EVENT_TERMINATE &&
            el->event != MODEL_EVENT_ERROR && el->event != MODEL_EVENT_MESSAGE) {
            add_error(b, n,
                      "End events with %s '%s' are not supported by Chute yet (supported: none, "
                      "terminate, error and message end events)",
                      article(def), def);
            return 0;
        }
        if (el->type == MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT && el->event != MODEL_EVENT_TIMER &&
            el->event != MODEL_EVENT_MESSAGE) {
            add_error(b, n,
                      "Elements of type 'intermediateCatchEvent' with %s '%s' are not supported by "
                      "Chute yet (supported: timer and message intermediate catch events)",
                      article(def), def);
            return 0;
        }
        if (el->type == MODEL_ELEMENT_BOUNDARY_EVENT && el->event != MODEL_EVENT_TIMER &&
            el->event != MODEL_EVENT_ERROR && el->event != MODEL_EVENT_MESSAGE) {
            add_error(b, n,
                      "Elements of type 'boundaryEvent' with %s '%s' are not supported by Chute "
                      "yet (supported: error, timer and message boundary events)",
                      article(def), def);
            return 0;
        }
        if (el->type == MODEL_ELEMENT_INTERMEDIATE_THROW_EVENT && el->event != MODEL_EVENT_MESSAGE) {
            add_error(b, n,
                      "Intermediate throw events with %s '%s' are not supported by Chute yet "
                      "(supported: none and message intermediate throw events)",
                      article(def), def);
            return 0;
        }
    }
    return 1;
}

static int valid_path(const char *s, size_t n);
static void trim(const char **s, size_t *n);
static int is_activity(model_element_type t);

/* zeebe:loopCharacteristics and bpmn:completionCondition of |mi|. */
static const model_multi *make_multi(builder *b, const xtree_node *mi, const model_element *el)
{
    if (!is_activity(el->type)) {
        add_error(b, mi, "Multi-instance characteristics are only allowed on activities");
        return NULL;
    }
    model_multi *m = arena_alloc(b->out, sizeof *m);
    if (!m) {
        b->oom = 1;
        return NULL;
    }
    const xtree_node *lc = NULL;
    for (const xtree_node *c = mi->child; c; c = c->next) {
        if (c->ns == NS_BPMN && strcmp(c->name, "extensionElements") == 0) {
            for (const xtree_node *z = c->child; z; z = z->next)
                if (z->ns == NS_ZEEBE && strcmp(z->name, "loopCharacteristics") == 0)
                    lc = z;
        } else if (c->ns == NS_BPMN && strcmp(c->name, "completionCondition") == 0) {
            const char *t = c->text;
            size_t len = c->text_len;
            trim(&t, &len);
            if (len)
                m->completion_condition = make_expr(b, c, NULL, t, len, 1);
        } else if (c->ns == NS_BPMN && strcmp(c->name, "loopCardinality") == 0) {
            add_error(b, c,
                      "Multi-instance with 'loopCardinality' is not supported (Zeebe supports an "
                      "input collection only)");
        }
    }
    const xtree_attr *ic = lc ? xtree_attr_get(lc, "inputCollection") : NULL;
    if (!ic || ic->len == 0) {
        add_error(b, lc ? lc : mi,
                  "Must have an input collection ('zeebe:loopCharacteristics' attribute "
                  "'inputCollection')");
        return m;
    }
    m->input_collection = make_expr(b, lc, "inputCollection", ic->value, ic->len, 1);
    const char *names[] = {"inputElement", "outputCollection"};
    const char **dst[] = {&m->input_element, &m->output_collection};
    for (int i = 0; i < 2; i++) {
        const xtree_attr *a = xtree_attr_get(lc, names[i]);
        if (!a || a->len == 0)
            continue;
        if (!valid_path(a->value, a->len) || memchr(a->value, '.', a->len)) {
            add_error(b, lc, "Attribute '%s' must be a variable name, but is '%.*s'", names[i],
                      (int)a->len, a->value);
            continue;
        }
        *dst[i] = out_str(b, a->value, a->len);
    }
    const xtree_attr *oe = xtree_attr_get(lc, "outputElement");
    if (oe && oe->len)
        m->output_element = make_expr(b, lc, "outputElement", oe->value, oe->len, 1);
    if (m->output_element && !m->output_collection)
        add_error(b, lc, "Attribute 'outputElement' needs an 'outputCollection'");
    return m;
}

static void check_loops(builder *b, const xtree_node *n, model_element *el)
{
    for (const xtree_node *c = n->child; c; c = c->next) {
        if (c->ns != NS_BPMN)
            continue;
        if (strcmp(c->name, "multiInstanceLoopCharacteristics") == 0) {
            const char *seq = attr_value(c, "isSequential");
            el->loop =
                seq && strcmp(seq, "true") == 0 ? MODEL_LOOP_SEQUENTIAL : MODEL_LOOP_PARALLEL;
            el->multi = make_multi(b, c, el);
        } else if (strcmp(c->name, "standardLoopCharacteristics") == 0) {
            add_error(b, c,
                      "Loops with 'standardLoopCharacteristics' are not supported (Zeebe supports "
                      "only multi-instance activities)");
        }
    }
}

/* The job, script and mappings of a supported element. */
static void check_implementation(builder *b, const xtree_node *n, model_element *el,
                                 const extensions *x)
{
    if (x->n_task_headers > 1)
        add_error(b, n, "Must not have more than one 'zeebe:taskHeaders' extension element");
    if (x->n_io_mapping > 1)
        add_error(b, n, "Must not have more than one 'zeebe:ioMapping' extension element");
    switch (el->type) {
    case MODEL_ELEMENT_INTERMEDIATE_THROW_EVENT:
    case MODEL_ELEMENT_END_EVENT:
        if (el->event != MODEL_EVENT_MESSAGE)
            break;
        /* A message throw or end event is a job, as in Zeebe. */
        __attribute__((fallthrough));
    case MODEL_ELEMENT_SERVICE_TASK:
    case MODEL_ELEMENT_SEND_TASK:
        if (x->n_task_definition != 1)
            add_error(b, n, "Must have exactly one 'zeebe:taskDefinition' extension element");
        else
            el->job = make_job(b, x);
        break;
    case MODEL_ELEMENT_USER_TASK:
        el->user_task = make_user_task(b, el, x);
        break;
    case MODEL_ELEMENT_CALL_ACTIVITY: {
        if (!x->called_element) {
            add_error(b, n, "Must have exactly one 'zeebe:calledElement' extension element");
            break;
        }
        model_call *c = arena_alloc(b->out, sizeof *c);
        if (!c) {
            b->oom = 1;
            break;
        }
        const xtree_attr *pid = xtree_attr_get(x->called_element, "processId");
        if (!pid || pid->len == 0) {
            add_error(b, x->called_element, "Attribute 'processId' must be present and not empty");
            break;
        }
        c->process_id = make_expr(b, x->called_element, "processId", pid->value, pid->len, 0);
        const char *pc = attr_value(x->called_element, "propagateAllChildVariables");
        const char *pp = attr_value(x->called_element, "propagateAllParentVariables");
        c->propagate_child = !(pc && strcmp(pc, "false") == 0);
        c->propagate_parent = !(pp && strcmp(pp, "false") == 0);
        el->call = c;
        break;
    }
    case MODEL_ELEMENT_BUSINESS_RULE_TASK:
        if (x->n_task_definition == 1 && x->n_called_decision == 0)
            el->job = make_job(b, x);
        else if (x->n_task_definition == 0 && x->n_called_decision == 1) {
            const xtree_attr *id = xtree_attr_get(x->called_decision, "decisionId");
            const char *rv = attr_value(x->called_decision, "resultVariable");
            model_decision *d = arena_alloc(b->out, sizeof *d);
            if (!d) {
                b->oom = 1;
            } else if (!id || id->len == 0) {
                add_error(b, x->called_decision,
                          "Attribute 'decisionId' must be present and not empty");
            } else if (!rv || !*rv) {
                add_error(b, x->called_decision,
                          "Attribute 'resultVariable' must be present and not empty");
            } else {
                d->decision_id =
                    make_expr(b, x->called_decision, "decisionId", id->value, id->len, 0);
                d->result_variable = out_str(b, rv, strlen(rv));
                el->decision = d;
            }
        } else
            add_error(b, n,
                      "Must have either one 'zeebe:calledDecision' or one 'zeebe:taskDefinition' "
                      "extension element");
        break;
    case MODEL_ELEMENT_SCRIPT_TASK:
        if (x->n_task_definition == 1 && x->n_script == 0)
            el->job = make_job(b, x);
        else if (x->n_task_definition == 0 && x->n_script == 1)
            el->script = make_script(b, x->script);
        else
            add_error(b, n,
                      "Must have either one 'zeebe:script' or one 'zeebe:taskDefinition' extension "
                      "element");
        break;
    default:
        break;
    }
    make_mappings(b, el, x);
}

static void trim(const char **s, size_t *n);

/* The message a message catch event (|ref| its messageEventDefinition)
 * or a receive task (|ref| the task) waits for: the bpmn:message its
 * messageRef names, with its name and zeebe:subscription correlationKey. */
static int read_message(builder *b, const xtree_node *ref, model_element *el)
{
    const char *id = attr_value(ref, "messageRef");
    if (!id || !*id) {
        add_error(b, ref, "Must reference a message ('messageRef')");
        return 0;
    }
    const xtree_node *m = id_lookup(b, id, strlen(id));
    if (!m || m->ns != NS_BPMN || strcmp(m->name, "message") != 0) {
        add_error(b, ref, "Attribute 'messageRef' references '%s', which is not a message", id);
        return 0;
    }
    const char *name = attr_value(m, "name");
    if (!name || !*name) {
        add_error(b, m, "Must have a name: the message '%s' is referenced by '%s'", id, el->id);
        return 0;
    }
    el->message_name = make_expr(b, m, "name", name, strlen(name), 0);
    if (!el->message_name)
        return 0;
    if (el->type == MODEL_ELEMENT_START_EVENT && el->scope == MODEL_NONE) {
        if (!el->message_name->is_static) {
            add_error(b, m,
                      "The name of a message that starts a process must be static, but it is the "
                      "expression '%s'",
                      name);
            return 0;
        }
        return 1; /* a start event correlates by name only */
    }
    const xtree_node *sub = NULL;
    for (const xtree_node *c = m->child; c; c = c->next)
        if (c->ns == NS_BPMN && strcmp(c->name, "extensionElements") == 0)
            for (const xtree_node *z = c->child; z; z = z->next)
                if (z->ns == NS_ZEEBE && strcmp(z->name, "subscription") == 0)
                    sub = z;
    const char *key = sub ? attr_value(sub, "correlationKey") : NULL;
    if (!key || !*key) {
        add_error(b, m,
                  "Must have a correlation key: the message '%s' needs a 'zeebe:subscription' "
                  "with a 'correlationKey' (referenced by '%s')",
                  id, el->id);
        return 0;
    }
    el->correlation_key = make_expr(b, sub, "correlationKey", key, strlen(key), 0);
    return el->correlation_key != NULL;
}

/* The error code or the timer of an error or timer event. */
static int read_event_details(builder *b, const xtree_node *n, model_element *el,
                              const event_defs *d)
{
    const xtree_node *def = d->first;
    if (el->event == MODEL_EVENT_ERROR) {
        const char *ref = attr_value(def, "errorRef");
        if (!ref || !*ref) {
            if (el->type == MODEL_ELEMENT_END_EVENT) {
                add_error(b, def, "Must reference an error ('errorRef') with an error code");
                return 0;
            }
            el->error_code = NULL; /* a catch without errorRef catches every code */
            return 1;
        }
        const xtree_node *t = id_lookup(b, ref, strlen(ref));
        if (!t || t->ns != NS_BPMN || strcmp(t->name, "error") != 0) {
            add_error(b, def, "Attribute 'errorRef' references '%s', which is not an error", ref);
            return 0;
        }
        const char *code = attr_value(t, "errorCode");
        if (!code || !*code) {
            add_error(b, def, "The error '%s' must have an 'errorCode'", ref);
            return 0;
        }
        if (code[0] == '=') {
            add_error(b, def,
                      "Error codes given as expressions are not supported by Chute yet; write the "
                      "code of error '%s' as a static value",
                      ref);
            return 0;
        }
        el->error_code = out_str(b, code, strlen(code));
        if (el->type == MODEL_ELEMENT_BOUNDARY_EVENT && !el->interrupting) {
            add_error(b, n, "Error boundary events must be interrupting (cancelActivity)");
            return 0;
        }
        return 1;
    }
    /* A timer: exactly one of timeDuration, timeDate, timeCycle. */
    const xtree_node *which = NULL;
    model_timer_kind kind = MODEL_TIMER_NONE;
    int count = 0;
    for (const xtree_node *c = def->child; c; c = c->next) {
        if (c->ns != NS_BPMN)
            continue;
        model_timer_kind k = strcmp(c->name, "timeDuration") == 0 ? MODEL_TIMER_DURATION
                             : strcmp(c->name, "timeDate") == 0   ? MODEL_TIMER_DATE
                             : strcmp(c->name, "timeCycle") == 0  ? MODEL_TIMER_CYCLE
                                                                  : MODEL_TIMER_NONE;
        if (k != MODEL_TIMER_NONE) {
            which = c;
            kind = k;
            count++;
        }
    }
    if (count != 1) {
        add_error(b, def,
                  "Must have exactly one of 'timeDuration', 'timeDate' or 'timeCycle' (found %d)",
                  count);
        return 0;
    }
    const char *txt = which->text;
    size_t len = which->text_len;
    trim(&txt, &len);
    if (len == 0) {
        add_error(b, which, "The timer's '%s' must not be empty", which->name);
        return 0;
    }
    if (kind == MODEL_TIMER_CYCLE && el->type != MODEL_ELEMENT_BOUNDARY_EVENT &&
        el->type != MODEL_ELEMENT_START_EVENT) {
        add_error(b, which,
                  "Timer cycles are only allowed on start events and non-interrupting boundary "
                  "events");
        return 0;
    }
    int process_start = el->type == MODEL_ELEMENT_START_EVENT && el->scope == MODEL_NONE;
    if (process_start && txt[0] == '=') {
        add_error(b, which,
                  "The timer of a process's start event must be static: it is scheduled when "
                  "the process is deployed, before any variable exists");
        return 0;
    }
    if (kind == MODEL_TIMER_CYCLE && el->interrupting && !process_start) {
        add_error(b, n, "Interrupting timer event with time cycle not allowed.");
        return 0;
    }
    el->timer_kind = kind;
    el->timer = make_expr(b, which, NULL, txt, len, 0);
    if (!el->timer)
        return 0;
    if (el->timer->is_static) {
        /* A static timer is read now, so a bad one fails the deployment. */
        iso_duration dur;
        iso_cycle cyc;
        iso_cron cron;
        int64_t at;
        int ok = kind == MODEL_TIMER_DURATION ? iso_parse_duration(txt, len, &dur) == 0
                 : kind == MODEL_TIMER_DATE   ? iso_parse_datetime(txt, len, &at) == 0
                                              : (iso_parse_cycle(txt, len, &cyc) == 0 ||
                                               iso_parse_cron(txt, len, &cron) == 0);
        if (!ok) {
            char q[QUOTE_MAX + 8];
            clip(q, sizeof q, txt, len);
            add_error(b, which,
                      kind == MODEL_TIMER_DURATION
                          ? "Invalid timer duration '%s': expected an ISO 8601 duration such as "
                            "'PT10S' or 'P1DT2H'"
                      : kind == MODEL_TIMER_DATE
                          ? "Invalid timer date '%s': expected an ISO 8601 date and time such as "
                            "'2026-12-04T10:00:00Z'"
                          : "Invalid timer cycle '%s': expected an ISO 8601 repeating interval "
                            "such as 'R5/PT10S' or a cron expression such as '0 0 9 * * MON-FRI'",
                      q);
            return 0;
        }
    }
    return 1;
}

static void fill_element(builder *b, xtree_node *n, const flow_node_kind *k, uint32_t scope,
                         model_element *el)
{
    el->id = out_attr(b, n, "id");
    el->name = out_attr(b, n, "name");
    if (el->id && !el->id[0])
        add_error(b, n, "Element id must be present and not empty.");
    el->type = k->type;
    if (el->type == MODEL_ELEMENT_SUB_PROCESS && !k->foreign) {
        const char *t = attr_value(n, "triggeredByEvent");
        if (t && strcmp(t, "true") == 0)
            el->type = MODEL_ELEMENT_EVENT_SUB_PROCESS;
    }
    el->scope = scope;
    el->attached_to = MODEL_NONE;
    el->default_flow = MODEL_NONE;
    el->interrupting = 1;

    event_defs d;
    read_event_defs(n, &d);
    el->event = d.type;
    if (el->type == MODEL_ELEMENT_BOUNDARY_EVENT) {
        const char *c = attr_value(n, "cancelActivity");
        el->interrupting = !(c && strcmp(c, "false") == 0);
    } else if (el->type == MODEL_ELEMENT_START_EVENT) {
        const char *c = attr_value(n, "isInterrupting");
        el->interrupting = !(c && strcmp(c, "false") == 0);
    }

    extensions x;
    read_extensions(n, &x);
    int ok = check_supported(b, n, k, el, &d);
    if (ok && d.count == 1 && (el->event == MODEL_EVENT_ERROR || el->event == MODEL_EVENT_TIMER))
        ok = read_event_details(b, n, el, &d);
    int catches_message = el->event == MODEL_EVENT_MESSAGE &&
                          (el->type == MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT ||
                           el->type == MODEL_ELEMENT_BOUNDARY_EVENT ||
                           el->type == MODEL_ELEMENT_START_EVENT);
    if (ok && catches_message)
        ok = read_message(b, d.first, el);
    if (ok && el->type == MODEL_ELEMENT_RECEIVE_TASK)
        ok = read_message(b, n, el);
    check_loops(b, n, el);
    const char *comp = attr_value(n, "isForCompensation");
    if (comp && strcmp(comp, "true") == 0) {
        add_error(b, n,
                  "Compensation handlers (isForCompensation=\"true\") are not supported by Chute "
                  "yet");
        ok = 0;
    }
    if (x.execution_listeners) {
        add_error(b, x.execution_listeners,
                  "Execution listeners ('zeebe:executionListeners') are not supported by Chute "
                  "yet");
        ok = 0;
    }
    if (ok)
        check_implementation(b, n, el, &x);
}

/* ---- processes --------------------------------------------------------------- */

/* Counts (|fill| 0) or fills the elements and flows below
 * |container|, recursing into sub-processes. */
static void walk_scope(proc_ctx *pc, xtree_node *container, uint32_t scope, int fill)
{
    for (xtree_node *n = container->child; n; n = n->next) {
        if (n->ns != NS_BPMN)
            continue;
        const flow_node_kind *k = flow_node_kind_of(n);
        if (k) {
            uint32_t idx = pc->ne++;
            if (fill) {
                pc->element_nodes[idx] = n;
                n->user_kind = KIND_ELEMENT;
                n->user_index = idx;
                n->user_scope = pc->number;
            }
            if (k->container)
                walk_scope(pc, n, idx, fill);
        } else if (strcmp(n->name, "sequenceFlow") == 0) {
            uint32_t idx = pc->nf++;
            if (fill) {
                pc->flow_nodes[idx] = n;
                pc->flow_scope[idx] = scope;
                n->user_kind = KIND_FLOW;
                n->user_index = idx;
                n->user_scope = pc->number;
            }
        }
    }
}

/* Resolves attribute |attr| of |n| to an element of the process in scope
 * |scope| (MODEL_NONE: any scope); MODEL_NONE with the error recorded. */
static uint32_t resolve_element(builder *b, proc_ctx *pc, const xtree_node *n, const char *attr,
                                uint32_t scope, int any_scope)
{
    char q[QUOTE_MAX + 8];
    const xtree_attr *a = xtree_attr_get(n, attr);
    if (!a || a->len == 0) {
        add_error(b, n, "Attribute '%s' must be present and not empty", attr);
        return MODEL_NONE;
    }
    const xtree_node *t = id_lookup(b, a->value, a->len);
    clip(q, sizeof q, a->value, a->len);
    if (!t) {
        add_error(b, n, "Attribute '%s' references '%s', but no element with that id exists", attr,
                  q);
        return MODEL_NONE;
    }
    if (t->user_kind != KIND_ELEMENT || t->user_scope != pc->number) {
        add_error(b, n,
                  "Attribute '%s' references '%s', which is not a flow node of process '%s' "
                  "(it is a '%s')",
                  attr, q, pc->id, t->name);
        return MODEL_NONE;
    }
    uint32_t idx = t->user_index;
    if (!any_scope && pc->elements[idx].scope != scope) {
        add_error(b, n,
                  "Attribute '%s' references '%s', which is not in the same (sub-)process as the "
                  "sequence flow",
                  attr, q);
        return MODEL_NONE;
    }
    return idx;
}

static void trim(const char **s, size_t *n)
{
    while (*n && strchr(" \t\r\n", (*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n && strchr(" \t\r\n", (*s)[*n - 1]))
        (*n)--;
}

static void fill_flow(builder *b, proc_ctx *pc, uint32_t idx)
{
    xtree_node *n = pc->flow_nodes[idx];
    model_flow *f = &pc->flows[idx];
    f->id = out_attr(b, n, "id");
    f->name = out_attr(b, n, "name");
    if (f->id && !f->id[0])
        add_error(b, n, "Element id must be present and not empty.");
    f->source = resolve_element(b, pc, n, "sourceRef", pc->flow_scope[idx], 0);
    f->target = resolve_element(b, pc, n, "targetRef", pc->flow_scope[idx], 0);
    for (xtree_node *c = n->child; c; c = c->next) {
        if (c->ns == NS_BPMN && strcmp(c->name, "conditionExpression") == 0) {
            const char *s = c->text;
            size_t len = c->text_len;
            trim(&s, &len);
            f->condition = make_expr(b, c, NULL, s, len, 1);
            break;
        }
    }
}

/* The incoming and outgoing flow lists of every element. */
static int link_flows(builder *b, proc_ctx *pc)
{
    uint32_t *nin = arena_array(&b->tmp, pc->ne + 1, sizeof *nin);
    uint32_t *nout = arena_array(&b->tmp, pc->ne + 1, sizeof *nout);
    if (!nin || !nout)
        return -1;
    for (uint32_t i = 0; i < pc->nf; i++) {
        if (pc->flows[i].source != MODEL_NONE)
            nout[pc->flows[i].source]++;
        if (pc->flows[i].target != MODEL_NONE)
            nin[pc->flows[i].target]++;
    }
    for (uint32_t e = 0; e < pc->ne; e++) {
        model_element *el = &pc->elements[e];
        uint32_t *in = nin[e] ? arena_array(b->out, nin[e], sizeof *in) : NULL;
        uint32_t *out = nout[e] ? arena_array(b->out, nout[e], sizeof *out) : NULL;
        if ((nin[e] && !in) || (nout[e] && !out))
            return -1;
        el->incoming = in;
        el->outgoing = out;
    }
    for (uint32_t i = 0; i < pc->nf; i++) {
        const model_flow *f = &pc->flows[i];
        if (f->source != MODEL_NONE) {
            model_element *s = &pc->elements[f->source];
            ((uint32_t *)s->outgoing)[s->outgoing_count++] = i;
        }
        if (f->target != MODEL_NONE) {
            model_element *t = &pc->elements[f->target];
            ((uint32_t *)t->incoming)[t->incoming_count++] = i;
        }
    }
    return 0;
}

static void check_gateway(builder *b, proc_ctx *pc, uint32_t e)
{
    model_element *el = &pc->elements[e];
    xtree_node *n = pc->element_nodes[e];
    int excl = el->type == MODEL_ELEMENT_EXCLUSIVE_GATEWAY;
    const xtree_attr *def = xtree_attr_get(n, "default");
    if (def && def->len) {
        char q[QUOTE_MAX + 8];
        const xtree_node *t = id_lookup(b, def->value, def->len);
        if (!t || t->user_kind != KIND_FLOW || t->user_scope != pc->number)
            add_error(b, n,
                      "Attribute 'default' references '%s', but no sequence flow with that id "
                      "exists in process '%s'",
                      clip(q, sizeof q, def->value, def->len), pc->id);
        else if (pc->flows[t->user_index].source != e)
            add_error(b, n, "Default flow must start at gateway");
        else
            el->default_flow = t->user_index;
    }
    if (el->outgoing_count > 1)
        for (uint32_t i = 0; i < el->outgoing_count; i++) {
            uint32_t fi = el->outgoing[i];
            if (fi == el->default_flow || pc->flows[fi].condition)
                continue;
            /* A condition that failed to parse has its own error already. */
            int has_text = 0;
            for (xtree_node *c = pc->flow_nodes[fi]->child; c; c = c->next)
                has_text |= c->ns == NS_BPMN && strcmp(c->name, "conditionExpression") == 0;
            if (!has_text)
                add_error(b, pc->flow_nodes[fi],
                          excl ? "Must have a condition or be default flow"
                               : "Must have a condition");
        }
}

static int is_activity(model_element_type t)
{
    switch (t) {
    case MODEL_ELEMENT_TASK:
    case MODEL_ELEMENT_SERVICE_TASK:
    case MODEL_ELEMENT_SEND_TASK:
    case MODEL_ELEMENT_RECEIVE_TASK:
    case MODEL_ELEMENT_SCRIPT_TASK:
    case MODEL_ELEMENT_BUSINESS_RULE_TASK:
    case MODEL_ELEMENT_USER_TASK:
    case MODEL_ELEMENT_MANUAL_TASK:
    case MODEL_ELEMENT_SUB_PROCESS:
    case MODEL_ELEMENT_CALL_ACTIVITY:
        return 1;
    default:
        return 0;
    }
}

/* Sub-processes and boundary events: each embedded sub-process has exactly
 * one none start event; each boundary event sits on an activity of its own
 * scope and leaves by a flow; each activity lists its boundary events. */
static void check_structure(builder *b, proc_ctx *pc)
{
    for (uint32_t e = 0; e < pc->ne; e++) {
        model_element *el = &pc->elements[e];
        if (el->type != MODEL_ELEMENT_SUB_PROCESS)
            continue;
        el->sub_start = MODEL_NONE;
        uint32_t starts = 0;
        for (uint32_t c = 0; c < pc->ne; c++) {
            const model_element *ch = &pc->elements[c];
            if (ch->scope == e && ch->type == MODEL_ELEMENT_START_EVENT) {
                starts++;
                el->sub_start = c;
                if (ch->event != MODEL_EVENT_NONE)
                    add_error(b, pc->element_nodes[c],
                              "Start events of an embedded sub-process must be none start "
                              "events");
            }
        }
        if (starts != 1) {
            add_error(b, pc->element_nodes[e],
                      "Must have exactly one start event in an embedded sub-process (found %u)",
                      starts);
            el->sub_start = MODEL_NONE;
        }
    }
    /* Event sub-processes: one start event with a trigger, no flows in or
     * out; each scope lists its own. */
    uint32_t root_esps = 0;
    for (uint32_t e = 0; e < pc->ne; e++) {
        model_element *el = &pc->elements[e];
        if (el->type != MODEL_ELEMENT_EVENT_SUB_PROCESS)
            continue;
        el->sub_start = MODEL_NONE;
        uint32_t starts = 0;
        for (uint32_t c = 0; c < pc->ne; c++) {
            const model_element *ch = &pc->elements[c];
            if (ch->scope == e && ch->type == MODEL_ELEMENT_START_EVENT) {
                starts++;
                el->sub_start = c;
            }
        }
        if (starts != 1) {
            add_error(b, pc->element_nodes[e],
                      "Must have exactly one start event in an event sub-process (found %u)",
                      starts);
            el->sub_start = MODEL_NONE;
        } else if (pc->elements[el->sub_start].event == MODEL_EVENT_NONE) {
            add_error(b, pc->element_nodes[el->sub_start],
                      "Start events of an event sub-process must have an event definition "
                      "(timer, message or error)");
            el->sub_start = MODEL_NONE;
        }
        if (el->incoming_count || el->outgoing_count)
            add_error(b, pc->element_nodes[e],
                      "Event sub-processes must not have incoming or outgoing sequence flows");
        if (el->scope == MODEL_NONE)
            root_esps++;
        else if (pc->elements[el->scope].type == MODEL_ELEMENT_SUB_PROCESS)
            pc->elements[el->scope].esp_count++;
        else
            add_error(b, pc->element_nodes[e],
                      "Event sub-processes are only supported in a process or an embedded "
                      "sub-process by Chute yet");
    }
    if (root_esps) {
        uint32_t *list = arena_array(b->out, root_esps, sizeof *list);
        if (!list) {
            b->oom = 1;
            return;
        }
        pc->p->esps = list;
    }
    for (uint32_t e = 0; e < pc->ne; e++) {
        model_element *el = &pc->elements[e];
        if (el->type == MODEL_ELEMENT_SUB_PROCESS && el->esp_count) {
            uint32_t *list = arena_array(b->out, el->esp_count, sizeof *list);
            if (!list) {
                b->oom = 1;
                return;
            }
            el->esps = list;
            el->esp_count = 0; /* filled below */
        }
    }
    for (uint32_t e = 0; e < pc->ne; e++) {
        const model_element *el = &pc->elements[e];
        if (el->type != MODEL_ELEMENT_EVENT_SUB_PROCESS)
            continue;
        if (el->scope == MODEL_NONE) {
            ((uint32_t *)pc->p->esps)[pc->p->esp_count++] = e;
        } else if (pc->elements[el->scope].type == MODEL_ELEMENT_SUB_PROCESS) {
            model_element *sc = &pc->elements[el->scope];
            ((uint32_t *)sc->esps)[sc->esp_count++] = e;
        }
    }
    for (uint32_t e = 0; e < pc->ne; e++) {
        const model_element *el = &pc->elements[e];
        if (el->type != MODEL_ELEMENT_EVENT_BASED_GATEWAY)
            continue;
        if (el->outgoing_count < 2)
            add_error(b, pc->element_nodes[e],
                      "Event-based gateway must have at least 2 outgoing sequence flows");
        for (uint32_t i = 0; i < el->outgoing_count; i++) {
            uint32_t t = pc->flows[el->outgoing[i]].target;
            if (t == MODEL_NONE)
                continue;
            const model_element *te = &pc->elements[t];
            int ok = (te->type == MODEL_ELEMENT_INTERMEDIATE_CATCH_EVENT &&
                      (te->event == MODEL_EVENT_MESSAGE || te->event == MODEL_EVENT_TIMER)) ||
                     te->type == MODEL_ELEMENT_RECEIVE_TASK;
            if (!ok)
                add_error(b, pc->element_nodes[e],
                          "Event-based gateway must not have an outgoing sequence flow to other "
                          "elements than message/timer intermediate catch events (it leads to "
                          "'%s')",
                          te->id);
        }
    }
    uint32_t *count = arena_array(&b->tmp, pc->ne + 1, sizeof *count);
    if (!count) {
        b->oom = 1;
        return;
    }
    for (uint32_t e = 0; e < pc->ne; e++) {
        model_element *el = &pc->elements[e];
        if (el->type != MODEL_ELEMENT_BOUNDARY_EVENT || el->attached_to == MODEL_NONE ||
            (el->event != MODEL_EVENT_TIMER && el->event != MODEL_EVENT_ERROR &&
             el->event != MODEL_EVENT_MESSAGE))
            continue; /* an unsupported one was refused already */
        xtree_node *n = pc->element_nodes[e];
        const model_element *host = &pc->elements[el->attached_to];
        if (!is_activity(host->type)) {
            add_error(b, n, "Attribute 'attachedToRef' must reference an activity, but '%s' is %s %s",
                      host->id, article(model_element_type_bpmn(host->type)),
                      model_element_type_bpmn(host->type));
            continue;
        }
        if (host->scope != el->scope) {
            add_error(b, n, "A boundary event must be in the same scope as the activity it is "
                            "attached to");
            continue;
        }
        if (el->incoming_count)
            add_error(b, n, "Boundary events must not have incoming sequence flows");
        if (!el->outgoing_count)
            add_error(b, n, "Must have at least one outgoing sequence flow");
        count[el->attached_to]++;
    }
    for (uint32_t e = 0; e < pc->ne; e++) {
        if (!count[e])
            continue;
        uint32_t *list = arena_array(b->out, count[e], sizeof *list);
        if (!list) {
            b->oom = 1;
            return;
        }
        pc->elements[e].boundaries = list;
    }
    for (uint32_t e = 0; e < pc->ne; e++) {
        const model_element *el = &pc->elements[e];
        if (el->type != MODEL_ELEMENT_BOUNDARY_EVENT || el->attached_to == MODEL_NONE ||
            !count[el->attached_to] ||
            (el->event != MODEL_EVENT_TIMER && el->event != MODEL_EVENT_ERROR &&
             el->event != MODEL_EVENT_MESSAGE))
            continue;
        model_element *host = &pc->elements[el->attached_to];
        if (host->boundaries && host->boundary_count < count[el->attached_to])
            ((uint32_t *)host->boundaries)[host->boundary_count++] = e;
    }
}

static void check_flows(builder *b, proc_ctx *pc)
{
    for (uint32_t i = 0; i < pc->nf; i++) {
        const model_flow *f = &pc->flows[i];
        if (f->source == MODEL_NONE)
            continue;
        int has_condition = 0;
        for (xtree_node *c = pc->flow_nodes[i]->child; c; c = c->next)
            has_condition |= c->ns == NS_BPMN && strcmp(c->name, "conditionExpression") == 0;
        model_element_type st = pc->elements[f->source].type;
        if (has_condition && st != MODEL_ELEMENT_EXCLUSIVE_GATEWAY &&
            st != MODEL_ELEMENT_INCLUSIVE_GATEWAY && !pc->cond_reported[f->source]) {
            pc->cond_reported[f->source] = 1;
            add_error(b, pc->element_nodes[f->source],
                      "Conditional sequence flows are only supported at exclusive or inclusive "
                      "gateway");
        }
    }
    uint32_t starts = 0, none_starts = 0;
    for (uint32_t e = 0; e < pc->ne; e++) {
        model_element *el = &pc->elements[e];
        xtree_node *n = pc->element_nodes[e];
        if (el->type == MODEL_ELEMENT_EXCLUSIVE_GATEWAY ||
            el->type == MODEL_ELEMENT_INCLUSIVE_GATEWAY)
            check_gateway(b, pc, e);
        if (el->type == MODEL_ELEMENT_END_EVENT && el->outgoing_count)
            add_error(b, n, "End events must not have outgoing sequence flows to other elements.");
        if (el->type == MODEL_ELEMENT_INCLUSIVE_GATEWAY && el->incoming_count > 1)
            add_error(b, n,
                      "An inclusive gateway that joins (%u incoming sequence flows) is not "
                      "supported; use it to fork only, and a parallel or exclusive gateway to "
                      "join",
                      el->incoming_count);
        if (el->type == MODEL_ELEMENT_START_EVENT && el->incoming_count)
            add_error(b, n, "Start events must not have incoming sequence flows");
        if (el->type == MODEL_ELEMENT_BOUNDARY_EVENT)
            el->attached_to = resolve_element(b, pc, n, "attachedToRef", MODEL_NONE, 1);
        if (el->type == MODEL_ELEMENT_START_EVENT && el->scope == MODEL_NONE) {
            starts++;
            event_defs d;
            read_event_defs(n, &d);
            if (d.count == 0 && none_starts++ == 0)
                pc->p->start = e;
        }
    }
    check_structure(b, pc);
    xtree_node *pn = pc->element_nodes[pc->ne]; /* the process node, stored past the end */
    if (none_starts == 0)
        pc->p->start = MODEL_NONE; /* started by messages only */
    if (starts == 0)
        add_error(b, pn, "Must have at least one start event");
    else if (none_starts > 1)
        add_error(b, pn, "Multiple none start events are not allowed");
    /* Message start events: one per message name. */
    for (uint32_t e = 0; e < pc->ne; e++) {
        const model_element *a = &pc->elements[e];
        if (a->type != MODEL_ELEMENT_START_EVENT || a->scope != MODEL_NONE || !a->message_name)
            continue;
        for (uint32_t k = 0; k < e; k++) {
            const model_element *o = &pc->elements[k];
            if (o->type == MODEL_ELEMENT_START_EVENT && o->scope == MODEL_NONE && o->message_name &&
                strcmp(o->message_name->text, a->message_name->text) == 0) {
                add_error(b, pc->element_nodes[e],
                          "Multiple message start events with the same name '%s' are not allowed",
                          a->message_name->text);
                break;
            }
        }
    }
}

typedef struct id_ref {
    const char *id;
    uint32_t index;
} id_ref;

static int cmp_id_ref(const void *a, const void *b)
{
    return strcmp(((const id_ref *)a)->id, ((const id_ref *)b)->id);
}

static int build_process(builder *b, xtree_node *pnode, uint32_t number, model_process *p)
{
    proc_ctx pc;
    memset(&pc, 0, sizeof pc);
    pc.number = number;
    pc.p = p;
    p->id = out_attr(b, pnode, "id");
    p->name = out_attr(b, pnode, "name");
    p->start = MODEL_NONE;
    pc.id = p->id ? p->id : "";
    if (p->id && !p->id[0])
        add_error(b, pnode, "Element id must be present and not empty.");
    extensions x;
    read_extensions(pnode, &x);
    p->version_tag = x.version_tag ? out_attr(b, x.version_tag, "value") : "";
    if (x.execution_listeners)
        add_error(b, x.execution_listeners,
                  "Execution listeners ('zeebe:executionListeners') are not supported by Chute "
                  "yet");

    walk_scope(&pc, pnode, MODEL_NONE, 0);
    uint32_t ne = pc.ne, nf = pc.nf;
    pc.element_nodes = arena_array(&b->tmp, ne + 1, sizeof *pc.element_nodes);
    pc.flow_nodes = arena_array(&b->tmp, nf + 1, sizeof *pc.flow_nodes);
    pc.flow_scope = arena_array(&b->tmp, nf + 1, sizeof *pc.flow_scope);
    pc.cond_reported = arena_array(&b->tmp, ne + 1, 1);
    pc.elements = arena_array(b->out, ne + 1, sizeof *pc.elements);
    pc.flows = arena_array(b->out, nf + 1, sizeof *pc.flows);
    if (!pc.element_nodes || !pc.flow_nodes || !pc.flow_scope || !pc.cond_reported ||
        !pc.elements || !pc.flows)
        return -1;
    pc.ne = pc.nf = 0;
    walk_scope(&pc, pnode, MODEL_NONE, 1);
    pc.element_nodes[ne] = pnode;

    /* Scopes first: a flow's endpoints are checked against them. */
    for (uint32_t e = 0; e < ne; e++) {
        xtree_node *n = pc.element_nodes[e];
        uint32_t scope = MODEL_NONE;
        if (n->parent != pnode && n->parent->user_kind == KIND_ELEMENT)
            scope = n->parent->user_index;
        fill_element(b, n, flow_node_kind_of(n), scope, &pc.elements[e]);
    }
    for (uint32_t i = 0; i < nf; i++)
        fill_flow(b, &pc, i);
    if (link_flows(b, &pc) != 0)
        return -1;
    check_flows(b, &pc);

    id_ref *refs = arena_array(&b->tmp, ne + 1, sizeof *refs);
    uint32_t *by_id = arena_array(b->out, ne + 1, sizeof *by_id);
    if (!refs || !by_id)
        return -1;
    for (uint32_t e = 0; e < ne; e++) {
        refs[e].id = pc.elements[e].id ? pc.elements[e].id : "";
        refs[e].index = e;
    }
    qsort(refs, ne, sizeof *refs, cmp_id_ref);
    for (uint32_t e = 0; e < ne; e++)
        by_id[e] = refs[e].index;
    p->elements = pc.elements;
    p->element_count = ne;
    p->flows = pc.flows;
    p->flow_count = nf;
    p->by_id = by_id;
    return 0;
}

static int is_true(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Checks the root and builds every executable process into |defs|. */
static int build(builder *b, xtree_node *root, model_definitions *defs)
{
    if (root->ns != NS_BPMN || strcmp(root->name, "definitions") != 0) {
        if (strstr(root->uri, "omg.org/spec/DMN/") && strcmp(root->name, "definitions") == 0)
            add_doc_error(b, root->line, root->column,
                          "The resource is a DMN decision model (root element 'definitions' in "
                          "namespace '%.200s'), not a BPMN process; the BPMN model does not read "
                          "decisions (a deployment hands DMN 1.1 to 1.5 resources to the decision "
                          "parser)",
                          root->uri);
        else if (root->uri[0])
            add_doc_error(b, root->line, root->column,
                          "The resource is not a BPMN 2.0 model: its root element is '%.100s' in "
                          "namespace '%.200s', but must be 'definitions' in namespace "
                          "'" MODEL_NS_BPMN "'",
                          root->name, root->uri);
        else
            add_doc_error(b, root->line, root->column,
                          "The resource is not a BPMN 2.0 model: its root element is '%.100s' "
                          "without a namespace, but must be 'definitions' in namespace "
                          "'" MODEL_NS_BPMN "'",
                          root->name);
        return 0;
    }
    if (index_ids(b, root) != 0)
        return -1;
    defs->id = out_attr(b, root, "id");

    uint32_t np = 0;
    for (xtree_node *c = root->child; c; c = c->next)
        if (c->ns == NS_BPMN && strcmp(c->name, "process") == 0 &&
            is_true(attr_value(c, "isExecutable")))
            np++;
    if (np == 0) {
        add_error(b, root, "Must contain at least one executable process");
        return 0;
    }
    model_process *ps = arena_array(b->out, np, sizeof *ps);
    if (!ps)
        return -1;
    uint32_t k = 0;
    for (xtree_node *c = root->child; c; c = c->next)
        if (c->ns == NS_BPMN && strcmp(c->name, "process") == 0 &&
            is_true(attr_value(c, "isExecutable"))) {
            if (build_process(b, c, k + 1, &ps[k]) != 0)
                return -1;
            k++;
        }
    defs->processes = ps;
    defs->process_count = np;
    return 0;
}

static void free_exprs(expr_slot *s, void (*free_expr)(void *))
{
    for (; s; s = s->next)
        if (s->e.parsed && free_expr)
            free_expr(s->e.parsed);
}

int model_parse(const char *xml, size_t len, const char *resource_name, const model_options *opts,
                model_definitions **out, model_errors *errs)
{
    model_errors local = {0};
    if (!errs)
        errs = &local;
    model_errors_clear(errs);
    errs->resource = xstrdup(resource_name ? resource_name : "");
    if (!errs->resource)
        return CHUTE_ENOMEM;

    builder b;
    memset(&b, 0, sizeof b);
    b.opts = opts;
    b.errs = errs;
    int rc = CHUTE_EINVAL;
    xtree_node *root = NULL;
    xtree_error xe;
    model_definitions *defs = NULL;

    if (len > MODEL_MAX_DOCUMENT) {
        add_doc_error(&b, 0, 0, "The resource has %zu bytes; at most %zu are allowed", len,
                      MODEL_MAX_DOCUMENT);
        goto done_errs;
    }
    b.out = malloc(sizeof *b.out);
    if (!b.out) {
        rc = CHUTE_ENOMEM;
        goto done_errs;
    }
    arena_init(b.out, MODEL_MEMORY_MAX);
    arena_init(&b.tmp, TREE_MEMORY_MAX);

    if (xtree_parse(&b.tmp, xml, len, &tree_options, &root, &xe) != 0) {
        if (xe.out_of_memory)
            rc = CHUTE_ENOMEM;
        add_doc_error(&b, xe.line, xe.column, "%s", xe.message);
        goto done;
    }
    defs = arena_alloc(b.out, sizeof *defs);
    if (!defs || build(&b, root, defs) != 0 || b.oom || b.out->failed || b.tmp.failed) {
        rc = CHUTE_ENOMEM;
        add_doc_error(&b, 0, 0, "Out of memory while building the model");
        goto done;
    }
    if (has_errors(&b))
        goto done;

    defs->resource_name = out_str(&b, errs->resource, strlen(errs->resource));
    if (!defs->resource_name) {
        rc = CHUTE_ENOMEM;
        goto done;
    }
    defs->arena_ = b.out;
    defs->free_expr_ = opts ? opts->free_expr : NULL;
    defs->exprs_ = b.exprs;
    arena_free(&b.tmp);
    model_errors_clear(errs);
    if (errs == &local)
        model_errors_clear(&local);
    *out = defs;
    return 0;

done:
    free_exprs(b.exprs, opts ? opts->free_expr : NULL);
    arena_free(b.out);
    free(b.out);
    arena_free(&b.tmp);
done_errs:
    sort_errors(errs);
    if (errs == &local)
        model_errors_clear(&local);
    return rc;
}

void model_definitions_free(model_definitions *defs)
{
    if (!defs)
        return;
    model_arena *a = defs->arena_;
    free_exprs(defs->exprs_, defs->free_expr_);
    arena_free(a); /* |defs| itself lives in the arena */
    free(a);
}

/* strcmp(m, id) for an |id| of |len| bytes that need not end in NUL. */
static int cmp_id(const char *m, const char *id, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (m[i] == '\0')
            return -1;
        if (m[i] != id[i])
            return (unsigned char)m[i] < (unsigned char)id[i] ? -1 : 1;
    }
    return m[len] == '\0' ? 0 : 1;
}

uint32_t model_process_find(const model_process *p, const char *id, size_t len)
{
    uint32_t lo = 0, hi = p->element_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cmp_id(p->elements[p->by_id[mid]].id, id, len);
        if (c == 0)
            return p->by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return MODEL_NONE;
}

const model_process *model_definitions_find(const model_definitions *defs, const char *id,
                                            size_t len)
{
    for (uint32_t i = 0; i < defs->process_count; i++) {
        const char *pid = defs->processes[i].id;
        if (strlen(pid) == len && memcmp(pid, id, len) == 0)
            return &defs->processes[i];
    }
    return NULL;
}
