/*
 * Regular expressions for matches(), replace(), split() and extract(),
 * through PCRE2 (Debian's libpcre2-dev).
 *
 * FEEL specifies XML Schema regular expressions with XPath's flags; Zeebe
 * runs them with java.util.regex, whose syntax PCRE2 shares for all that
 * models use: classes, \d \w \s (ASCII, as in Java), groups, alternation,
 * greedy and lazy quantifiers, anchors, word boundaries, backreferences
 * and lookaround. The flags are XPath's: i (caseless), s (dot matches a
 * newline), m (^ and $ at line ends), x (spaces and # comments ignored).
 *
 * Bounds: a pattern of at most RE_MAX_PATTERN bytes, RE_MAX_GROUPS
 * capturing groups, groups nested RE_MAX_NEST deep, counted repetition up
 * to RE_MAX_REPEAT (checked before PCRE2 compiles anything); a match is
 * run with PCRE2's match limit set from the evaluation's remaining step
 * budget, so a pattern that backtracks catastrophically ends with
 * FRE_STEPS instead of running away. All memory comes from the caller's
 * arena (PCRE2's general context allocates through it and frees nothing:
 * the arena is released whole).
 */
#include "feel/feel_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <string.h>

#define RE_MAX_PATTERN 4096
#define RE_MAX_GROUPS 20   /* capturing groups (the callers keep 2 * 21 offsets) */
#define RE_MAX_REPEAT 1000 /* the largest bound of {n,m} */
#define RE_MAX_NEST 50     /* nesting of groups */
#define RE_MAX_HEAP_KIB 8192 /* PCRE2's backtracking memory for one match */

struct fregex {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    int groups;
};

typedef struct arena_ud {
    falloc_fn alloc;
    void *ud;
} arena_ud;

static void *re_malloc(PCRE2_SIZE n, void *data)
{
    const arena_ud *a = data;
    return a->alloc(a->ud, n ? n : 1);
}

static void re_free(void *p, void *data)
{
    (void)p; /* the arena is released whole */
    (void)data;
}

/* The largest {n,m} bound in |pat|, so that "a{100000}" is refused before
 * PCRE2 expands it. Only digits right after '{' count (a literal '{' that
 * does not start a quantifier has none). */
static long max_repeat(const char *pat, size_t len)
{
    long max = 0;
    for (size_t i = 0; i < len; i++) {
        if (pat[i] == '\\') {
            i++;
            continue;
        }
        if (pat[i] != '{')
            continue;
        for (size_t k = i + 1; k < len && (pat[k] == ',' || (pat[k] >= '0' && pat[k] <= '9'));
             k++) {
            long v = 0;
            while (k < len && pat[k] >= '0' && pat[k] <= '9' && v < 1000000)
                v = v * 10 + (pat[k++] - '0');
            if (v > max)
                max = v;
            if (k >= len || pat[k] != ',')
                break;
        }
    }
    return max;
}

fregex *fre_compile(const char *pat, size_t len, const char *flags, size_t flen, falloc_fn alloc,
                    void *ud, char *why, size_t whylen)
{
    uint32_t opts = PCRE2_UTF;
    for (size_t i = 0; i < flen; i++) {
        switch (flags[i]) {
        case 'i':
            opts |= PCRE2_CASELESS;
            break;
        case 's':
            opts |= PCRE2_DOTALL;
            break;
        case 'm':
            opts |= PCRE2_MULTILINE;
            break;
        case 'x':
            opts |= PCRE2_EXTENDED;
            break;
        default:
            snprintf(why, whylen, "the flag '%c' is not one of i, s, m, x", flags[i]);
            return NULL;
        }
    }
    if (len > RE_MAX_PATTERN) {
        snprintf(why, whylen, "the pattern is %zu bytes long, more than %d", len, RE_MAX_PATTERN);
        return NULL;
    }
    if (max_repeat(pat, len) > RE_MAX_REPEAT) {
        snprintf(why, whylen, "a quantifier's bound is larger than %d", RE_MAX_REPEAT);
        return NULL;
    }
    arena_ud *a = alloc(ud, sizeof *a);
    a->alloc = alloc;
    a->ud = ud;
    pcre2_general_context *gc = pcre2_general_context_create(re_malloc, re_free, a);
    pcre2_compile_context *cc = gc ? pcre2_compile_context_create(gc) : NULL;
    if (!cc) {
        snprintf(why, whylen, "there is no memory to compile it");
        return NULL;
    }
    pcre2_set_parens_nest_limit(cc, RE_MAX_NEST);
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &code, &at, cc);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(why, whylen, "%s at offset %zu of the pattern", (const char *)msg, (size_t)at);
        return NULL;
    }
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (groups > RE_MAX_GROUPS) {
        snprintf(why, whylen, "it has %u capturing groups, more than %d", groups, RE_MAX_GROUPS);
        return NULL;
    }
    fregex *r = alloc(ud, sizeof *r);
    r->code = re;
    r->groups = (int)groups;
    r->md = pcre2_match_data_create_from_pattern(re, gc);
    r->mc = pcre2_match_context_create(gc);
    if (!r->md || !r->mc) {
        snprintf(why, whylen, "there is no memory to compile it");
        return NULL;
    }
    return r;
}

int fre_groups(const fregex *re)
{
    return re->groups;
}

int fre_search(fregex *re, const char *s, size_t len, size_t start, int64_t *caps, uint64_t *steps,
               uint64_t max_steps)
{
    /* A search is charged the text it went through (up to the end of its
     * match, or to the end of the text when there is none), so a replace()
     * over a long text costs its length, not its length squared; PCRE2's
     * match limit (calls of its internal match function) takes what is
     * left of the budget, so backtracking is bounded too. */
    if (*steps >= max_steps)
        return FRE_STEPS;
    uint64_t left = max_steps - *steps;
    pcre2_set_match_limit(re->mc, left > UINT32_MAX ? UINT32_MAX : (uint32_t)left);
    pcre2_set_heap_limit(re->mc, RE_MAX_HEAP_KIB);
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, re->md, re->mc);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT) {
        *steps = max_steps + 1;
        return FRE_STEPS;
    }
    if (rc < 0) {
        /* No match (strings are valid UTF-8: checked when they were made). */
        *steps += (len - start) + 1;
        return FRE_NOMATCH;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    *steps += (ov[1] > start ? ov[1] - start : 0) + 1;
    for (int i = 0; i <= re->groups; i++) {
        int used = i < rc && ov[2 * i] != PCRE2_UNSET;
        caps[2 * i] = used ? (int64_t)ov[2 * i] : -1;
        caps[2 * i + 1] = used ? (int64_t)ov[2 * i + 1] : -1;
    }
    return FRE_OK;
}
