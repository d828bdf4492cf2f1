/* The bounded XML tree over expat; see xtree.h. */
#include "model/xtree.h"

#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Expat joins a namespace URI and a local name with this byte. It cannot
 * occur in a URI: XML 1.0 does not allow the character, not even as a
 * character reference. */
#define NS_SEP '\x01'

typedef struct xp {
    XML_Parser parser;
    const char *xml; /* the input, to find where a declaration starts */
    size_t xml_len;
    model_arena *arena;
    const xtree_options *opt;
    xtree_node *root;
    xtree_node *cur;     /* the innermost open element that is kept */
    xtree_node *last;    /* last child of |cur| so far, to append in O(1) */
    uint32_t depth;      /* open elements, skipped ones included */
    uint32_t skip_depth; /* > 0: inside a skipped element opened at this depth */
    uint32_t elements;   /* elements seen */
    uint32_t ns_decls;   /* namespace declarations of the start tag being read */
    char *text;          /* character data of |cur| while it is still a leaf */
    size_t text_len, text_cap;
    int failed;
    xtree_error *err;
} xp;

static void fail_at(xp *x, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_at(xp *x, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err->message, sizeof x->err->message, fmt, ap);
    va_end(ap);
    x->err->line = line;
    x->err->column = col;
    XML_StopParser(x->parser, XML_FALSE);
}

static void fail_oom(xp *x)
{
    if (x->failed)
        return;
    x->err->out_of_memory = 1;
    fail_at(x, 0, 0, "Out of memory while reading the document");
}

static uint32_t cur_line(xp *x)
{
    return (uint32_t)XML_GetCurrentLineNumber(x->parser);
}

static uint32_t cur_col(xp *x)
{
    return (uint32_t)XML_GetCurrentColumnNumber(x->parser) + 1;
}

/* Splits expat's "URI<sep>local" (or "local") in place of copies. */
static void split_name(const char *qname, const char **uri, size_t *uri_len, const char **local)
{
    const char *sep = strchr(qname, NS_SEP);
    if (sep) {
        *uri = qname;
        *uri_len = (size_t)(sep - qname);
        *local = sep + 1;
    } else {
        *uri = "";
        *uri_len = 0;
        *local = qname;
    }
}

static void on_ns_decl(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    (void)prefix;
    (void)uri;
    xp *x = ud;
    x->ns_decls++;
}

static void on_start(void *ud, const XML_Char *qname, const XML_Char **atts)
{
    xp *x = ud;
    if (x->failed)
        return;
    uint32_t line = cur_line(x), col = cur_col(x);
    uint32_t ns_decls = x->ns_decls;
    x->ns_decls = 0;

    /* The bounds first, before anything is allocated for this element. */
    if (x->elements >= x->opt->max_elements) {
        fail_at(x, line, col,
                "The document has more than %u elements (element %u starts at line %u, column %u)",
                x->opt->max_elements, x->opt->max_elements + 1, line, col);
        return;
    }
    x->elements++;
    if (x->depth >= x->opt->max_depth) {
        fail_at(x, line, col,
                "Elements nest more than %u deep: the element at line %u, column %u is at "
                "depth %u",
                x->opt->max_depth, line, col, x->depth + 1);
        return;
    }
    x->depth++;
    uint32_t nattrs = 0;
    while (atts[2 * nattrs])
        nattrs++;
    if (nattrs + ns_decls > x->opt->max_attrs) {
        const char *uri, *local;
        size_t ul;
        split_name(qname, &uri, &ul, &local);
        fail_at(x, line, col,
                "The element '%.64s' at line %u, column %u has %u attributes (namespace "
                "declarations included); at most %u are allowed",
                local, line, col, nattrs + ns_decls, x->opt->max_attrs);
        return;
    }
    if (x->skip_depth)
        return;

    const char *uri, *local;
    size_t uri_len;
    split_name(qname, &uri, &uri_len, &local);
    char *uri_copy = arena_strndup(x->arena, uri, uri_len);
    if (!uri_copy) {
        fail_oom(x);
        return;
    }
    int ns = x->opt->ns_of(uri_copy);
    if (x->cur && x->opt->keep(ns, local, x->cur) == XTREE_SKIP) {
        x->skip_depth = x->depth;
        return;
    }

    xtree_node *n = arena_alloc(x->arena, sizeof *n);
    char *name = arena_strndup(x->arena, local, strlen(local));
    uint32_t kept = 0;
    for (uint32_t i = 0; i < nattrs; i++)
        if (!strchr(atts[2 * i], NS_SEP))
            kept++;
    xtree_attr *attrs = kept ? arena_array(x->arena, kept, sizeof *attrs) : NULL;
    if (!n || !name || (kept && !attrs)) {
        fail_oom(x);
        return;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < nattrs; i++) {
        const char *an = atts[2 * i], *av = atts[2 * i + 1];
        /* Qualified attributes (xsi:type, modeler:, camunda: of Camunda 7,
         * zeebe:modelerTemplate, ...) say nothing Chute executes. */
        if (strchr(an, NS_SEP))
            continue;
        size_t vl = strlen(av);
        attrs[k].name = arena_strndup(x->arena, an, strlen(an));
        attrs[k].value = arena_strndup(x->arena, av, vl);
        attrs[k].len = (uint32_t)vl;
        if (!attrs[k].name || !attrs[k].value) {
            fail_oom(x);
            return;
        }
        k++;
    }
    n->uri = uri_copy;
    n->name = name;
    n->ns = ns;
    n->line = line;
    n->column = col;
    n->attr_count = kept;
    n->attrs = attrs;
    n->text = "";
    n->parent = x->cur;
    if (x->cur) {
        if (x->last)
            x->last->next = n;
        else
            x->cur->child = n;
    } else {
        x->root = n;
    }
    x->cur = n;
    x->last = NULL;
    /* The parent is no leaf: whatever text it had so far is layout. */
    x->text_len = 0;
}

static void on_end(void *ud, const XML_Char *qname)
{
    (void)qname;
    xp *x = ud;
    if (x->failed)
        return;
    if (x->skip_depth) {
        if (x->depth == x->skip_depth)
            x->skip_depth = 0;
        x->depth--;
        return;
    }
    xtree_node *n = x->cur;
    if (!n->child && x->text_len) {
        char *t = arena_strndup(x->arena, x->text, x->text_len);
        if (!t) {
            fail_oom(x);
            return;
        }
        n->text = t;
        n->text_len = (uint32_t)x->text_len;
    }
    x->text_len = 0;
    x->cur = n->parent;
    x->last = n;
    x->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    xp *x = ud;
    if (x->failed || x->skip_depth || !x->cur || x->cur->child || len <= 0)
        return;
    size_t need = x->text_len + (size_t)len;
    if (need > x->text_cap) {
        size_t cap = x->text_cap ? x->text_cap : 256;
        while (cap < need)
            cap *= 2;
        char *t = realloc(x->text, cap);
        if (!t) {
            fail_oom(x);
            return;
        }
        x->text = t;
        x->text_cap = cap;
    }
    memcpy(x->text + x->text_len, s, (size_t)len);
    x->text_len = need;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    xp *x = ud;
    uint32_t line = cur_line(x), col = cur_col(x);
    /* Expat is past the name by now; point at "<!DOCTYPE" itself when the
     * input is in a byte-compatible encoding. */
    XML_Index at = XML_GetCurrentByteIndex(x->parser);
    if (at >= 9 && (size_t)at <= x->xml_len) {
        for (XML_Index i = at - 9; i >= 0; i--)
            if (memcmp(x->xml + i, "<!DOCTYPE", 9) == 0) {
                line = 1;
                col = 1;
                for (XML_Index k = 0; k < i; k++) {
                    if (x->xml[k] == '\n') {
                        line++;
                        col = 1;
                    } else {
                        col++;
                    }
                }
                break;
            }
    }
    fail_at(x, line, col,
            "The document has a document type declaration (<!DOCTYPE %.64s>) at line %u, "
            "column %u; DOCTYPE and entity declarations are not allowed",
            name, line, col);
}

static void on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                      int value_len, const XML_Char *base, const XML_Char *sysid,
                      const XML_Char *pubid, const XML_Char *notation)
{
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    xp *x = ud;
    /* Unreachable while DOCTYPE is refused; kept so that no entity can be
     * declared even if that ever changes. */
    fail_at(x, cur_line(x), cur_col(x), "Entity declarations are not allowed ('%.64s')", name);
}

int xtree_parse(model_arena *arena, const char *xml, size_t len, const xtree_options *opt,
                xtree_node **root, xtree_error *err)
{
    memset(err, 0, sizeof *err);
    if (len > (size_t)INT32_MAX) {
        snprintf(err->message, sizeof err->message, "The document is too large to read");
        return -1;
    }
    XML_Parser p = XML_ParserCreateNS(NULL, NS_SEP);
    if (!p) {
        err->out_of_memory = 1;
        snprintf(err->message, sizeof err->message, "Out of memory while reading the document");
        return -1;
    }
    xp x;
    memset(&x, 0, sizeof x);
    x.parser = p;
    x.xml = xml;
    x.xml_len = len;
    x.arena = arena;
    x.opt = opt;
    x.err = err;
    XML_SetUserData(p, &x);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartNamespaceDeclHandler(p, on_ns_decl);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);

    enum XML_Status st = XML_Parse(p, xml, (int)len, XML_TRUE);
    int rc = 0;
    if (x.failed) {
        rc = -1;
    } else if (st != XML_STATUS_OK) {
        enum XML_Error code = XML_GetErrorCode(p);
        uint32_t line = (uint32_t)XML_GetErrorLineNumber(p);
        uint32_t col = (uint32_t)XML_GetErrorColumnNumber(p) + 1;
        if (code == XML_ERROR_NO_MEMORY)
            err->out_of_memory = 1;
        snprintf(err->message, sizeof err->message,
                 "The document is not well-formed XML: %s at line %u, column %u",
                 XML_ErrorString(code), line, col);
        err->line = line;
        err->column = col;
        rc = -1;
    } else if (!x.root) {
        /* Expat reports a document without elements itself; this only
         * guards the invariant. */
        snprintf(err->message, sizeof err->message, "The document has no root element");
        rc = -1;
    }
    free(x.text);
    XML_ParserFree(p);
    if (rc == 0)
        *root = x.root;
    return rc;
}

const xtree_attr *xtree_attr_get(const xtree_node *n, const char *name)
{
    for (uint32_t i = 0; i < n->attr_count; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}
