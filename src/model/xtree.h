/*
 * A bounded, namespace-aware XML tree over expat, built for the BPMN reader
 * and nothing else. It keeps only the elements its caller asks for (a
 * BPMN file is mostly diagram geometry nobody executes), with their
 * unqualified attributes and, for leaf elements, their text.
 *
 * Safe on hostile input: any DOCTYPE is refused before its first
 * declaration is read, so no entity is ever defined, let alone expanded
 * (expat's own billion-laughs protection stays on besides); the element
 * depth, the attributes of one element (namespace declarations included)
 * and the number of elements are bounded, each checked before anything is
 * allocated for the element; all memory comes from one arena with a limit.
 * Namespaces are matched by URI, never by prefix.
 */
#ifndef CHUTE_MODEL_XTREE_H
#define CHUTE_MODEL_XTREE_H

#include <stddef.h>
#include <stdint.h>

#include "model/arena.h"

/* What the caller wants of an element, decided from its namespace and name. */
typedef enum xtree_keep {
    XTREE_SKIP, /* drop it and everything inside it */
    XTREE_KEEP, /* keep it and its attributes; text if it turns out to be a leaf */
} xtree_keep;

typedef struct xtree_attr {
    const char *name;  /* local name; only attributes without a namespace are kept */
    const char *value; /* NUL-terminated, as expat normalised it */
    uint32_t len;      /* bytes of |value| */
} xtree_attr;

typedef struct xtree_node {
    const char *uri;       /* namespace URI, "" when the element has none */
    const char *name;      /* local name */
    int ns;                /* the caller's number for |uri| (xtree_options.ns_of) */
    uint32_t line, column; /* where the start tag begins, 1-based */
    uint32_t attr_count;
    const xtree_attr *attrs;
    const char *text; /* a leaf's character data ("" when none or not a leaf) */
    uint32_t text_len;
    struct xtree_node *parent, *child, *next; /* first child, next sibling */
    /* Scratch for the caller (the BPMN reader stores what it made of the
     * element here); zero after parsing. */
    uint32_t user_kind, user_index, user_scope;
} xtree_node;

typedef struct xtree_options {
    uint32_t max_depth;    /* elements nest at most this deep */
    uint32_t max_attrs;    /* attributes of one element, namespace declarations included */
    uint32_t max_elements; /* elements in the whole document, skipped ones included */
    /* Maps a namespace URI to the caller's number for it (stored in
     * xtree_node.ns). */
    int (*ns_of)(const char *uri);
    /* Decides about an element below the root (the root is always kept). */
    xtree_keep (*keep)(int ns, const char *name, const xtree_node *parent);
} xtree_options;

/* Why a document was refused: a full sentence and where it happened. */
typedef struct xtree_error {
    char message[256];
    uint32_t line, column; /* 0 when it does not apply */
    int out_of_memory;     /* the arena ran out, not the document's fault */
} xtree_error;

/*
 * Parses |len| bytes of |xml| into a tree allocated from |arena|. Returns
 * 0 with |*root| set, or -1 with |err| filled (a document that is not
 * well-formed XML, a DOCTYPE, a bound passed, out of memory). The tree
 * lives until the arena is freed.
 */
int xtree_parse(model_arena *arena, const char *xml, size_t len, const xtree_options *opt,
                xtree_node **root, xtree_error *err);

/* The value of unqualified attribute |name| of |n|, or NULL. */
const xtree_attr *xtree_attr_get(const xtree_node *n, const char *name);

#endif
