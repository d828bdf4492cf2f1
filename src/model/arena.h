/*
 * A bump allocator for one model: many small allocations (names, arrays,
 * the XML tree) that all die together. Blocks are malloc'd as needed and
 * freed at once by arena_free. The arena has a hard limit on the bytes it
 * takes from malloc; an allocation past it fails like malloc does (NULL),
 * and |failed| stays set so a caller may check once at the end.
 */
#ifndef CHUTE_MODEL_ARENA_H
#define CHUTE_MODEL_ARENA_H

#include <stddef.h>

typedef struct model_arena_block model_arena_block;

typedef struct model_arena {
    model_arena_block *head; /* the block allocations come from; older ones follow */
    size_t total;            /* bytes taken from malloc so far */
    size_t limit;            /* most bytes it may take; 0 means no limit */
    int failed;              /* an allocation failed (limit or malloc) */
} model_arena;

/* An empty arena that takes at most |limit| bytes from malloc (0: no limit). */
void arena_init(model_arena *a, size_t limit);

/* Releases every block; the arena is empty (and usable) again. */
void arena_free(model_arena *a);

/* |n| bytes aligned for any type, zero-filled, valid until arena_free; NULL
 * when the limit or malloc refuses. */
void *arena_alloc(model_arena *a, size_t n);

/* |n| elements of |size| bytes each (overflow-checked), zero-filled. */
void *arena_array(model_arena *a, size_t n, size_t size);

/* A NUL-terminated copy of |n| bytes at |s|. */
char *arena_strndup(model_arena *a, const char *s, size_t n);

#endif
