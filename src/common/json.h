/*
 * JSON documents as Chute keeps them: variables (a JSON object) and custom
 * headers (a JSON object whose values are strings), stored as text. These
 * helpers check, merge and filter such documents with jansson's strict
 * parser, whose errors carry a line and column.
 */
#ifndef CHUTE_JSON_H
#define CHUTE_JSON_H

#include <chute/chute.h>

/* Non-zero when |s| (|len| bytes) is empty or only whitespace: "no document". */
int cjson_blank(const char *s, size_t len);

/*
 * Checks that |s| is a JSON object (strings-only values when |strings_only|).
 * |what| names the document in the error ("variables", "custom headers").
 * Returns 0 or CHUTE_EINVAL with a message like "Expected variables to be a
 * JSON object, but got an array" or "Expected variables to be valid JSON:
 * '...' at line 1, column 5".
 */
int cjson_check_object(const char *s, size_t len, int strings_only, const char *what,
                       chute_error *err);

/*
 * Merges the top-level members of |add| into |base| (members of |add| win)
 * and returns a new compact document in |*out| (malloc'd, NUL-terminated,
 * length in |*out_len|). Either input may be blank. Inputs must already be
 * checked objects. Returns 0 or CHUTE_ENOMEM.
 */
int cjson_merge(const char *base, size_t base_len, const char *add, size_t add_len, char **out,
                size_t *out_len);

/*
 * Keeps only the top-level members named in |names| (|n| of them). Returns a
 * new compact document in |*out| (malloc'd) or CHUTE_ENOMEM.
 */
int cjson_filter(const char *doc, size_t len, const char *const *names, size_t n, char **out,
                 size_t *out_len);

#endif
