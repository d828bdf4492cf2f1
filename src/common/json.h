/*
 * JSON documents as Chute keeps them: variables (a JSON object) and custom
 * headers (a JSON object whose values are strings), stored as text. These
 * helpers check such documents with a non-allocating validator that gives
 * jansson's verdicts (its errors carry a line and column), and merge and
 * filter them with jansson. The prefix jdoc_ names them: JSON documents,
 * not a JSON library of their own.
 */
#ifndef CHUTE_JSON_H
#define CHUTE_JSON_H

#include <chute/chute.h>

/* "an object", "an array", "a string", "a number", "a boolean" or "null":
 * how error messages name the kind of a JSON value. */
struct json_t;
const char *jdoc_kind_name(const struct json_t *v);

/* Non-zero when |s| (|len| bytes) is empty or only whitespace: "no document". */
int jdoc_blank(const char *s, size_t len);

/*
 * Checks that |s| is a JSON object (strings-only values when |strings_only|).
 * |what| names the document in the error ("variables", "custom headers").
 * Returns 0 or CHUTE_EINVAL with a message like "Expected variables to be a
 * JSON object, but got an array" or "Expected variables to be valid JSON, but
 * it is not: '}' expected near ']' at line 1, column 5". Validates without
 * building a document (jdoc_scan); the verdict and the reason are jansson's.
 */
int jdoc_check_object(const char *s, size_t len, int strings_only, const char *what,
                      chute_error *err);

/*
 * The validator behind jdoc_check_object: accepts exactly what jansson's
 * json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL) accepts (RFC 8259,
 * strict UTF-8, integers within long long, reals that do not overflow,
 * nesting up to 2048, duplicate keys allowed) and then checks the value is
 * an object (of strings, when |strings_only|: the last value of each key
 * counts). It allocates nothing and keeps a fixed 256-byte nesting stack;
 * time is linear in |len|.
 *
 * Returns and sets |r->status| to one of:
 *  CJSON_SCAN_OK
 *  CJSON_SCAN_SYNTAX       not JSON: |r->text| is jansson's reason ("'}'
 *                          expected near ']'") at |r->line|, |r->column|
 *  CJSON_SCAN_NOT_OBJECT   valid, but |r->kind| ("an array", "a number", ...)
 *  CJSON_SCAN_NOT_STRINGS  member |r->name| (decoded, shortened to about 100
 *                          bytes with "...") is |r->kind|
 *  CJSON_SCAN_UNDECIDED    only with |strings_only|, for an object with a
 *                          non-string member, more than 256 members and
 *                          possibly repeated keys: ask jansson
 * A blank document is a syntax error here; jdoc_check_object accepts it.
 */
enum {
    CJSON_SCAN_OK = 0,
    CJSON_SCAN_SYNTAX,
    CJSON_SCAN_NOT_OBJECT,
    CJSON_SCAN_NOT_STRINGS,
    CJSON_SCAN_UNDECIDED,
};

#define CJSON_SCAN_TEXT_MAX 160 /* jansson's JSON_ERROR_TEXT_LENGTH */
#define CJSON_SCAN_NAME_MAX 128

typedef struct jdoc_scan_result {
    int status;
    int line, column;
    const char *kind;
    char text[CJSON_SCAN_TEXT_MAX];
    char name[CJSON_SCAN_NAME_MAX];
} jdoc_scan_result;

int jdoc_scan(const char *s, size_t len, int strings_only, jdoc_scan_result *r);

/*
 * Merges the top-level members of |add| into |base| (members of |add| win)
 * and returns a new compact document in |*out| (malloc'd, NUL-terminated,
 * length in |*out_len|). Either input may be blank. Inputs must already be
 * checked objects. Returns 0 or CHUTE_ENOMEM.
 */
int jdoc_merge(const char *base, size_t base_len, const char *add, size_t add_len, char **out,
               size_t *out_len);

/*
 * Keeps only the top-level members named in |names| (|n| of them). Returns a
 * new compact document in |*out| (malloc'd) or CHUTE_ENOMEM.
 */
int jdoc_filter(const char *doc, size_t len, const char *const *names, size_t n, char **out,
                size_t *out_len);

/*
 * Calls |fn| with each string of the JSON array |s| (|len| bytes; a blank
 * document is an empty array), in order, until it returns non-zero, which
 * is then returned. Members that are not strings are skipped: the lists
 * Chute keeps this way (a user task's candidate groups and users) hold
 * strings only. Returns 0, |fn|'s value, CHUTE_EINVAL when |s| is not a
 * JSON array, or CHUTE_ENOMEM.
 */
int jdoc_strings_each(const char *s, size_t len, int (*fn)(void *ctx, const char *str, size_t n),
                      void *ctx);

/* Non-zero when the JSON array |s| (|len| bytes) holds the string |want|;
 * 0 otherwise, also for a document that is not an array. */
int jdoc_array_has(const char *s, size_t len, const char *want);

#endif
