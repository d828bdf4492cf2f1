/* The model's bump allocator; see arena.h. */
#include "model/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_MIN ((size_t)64 * 1024)

struct model_arena_block {
    model_arena_block *next;
    size_t used; /* bytes of data[] handed out */
    size_t cap;  /* bytes of data[] */
    alignas(max_align_t) unsigned char data[];
};

void arena_init(model_arena *a, size_t limit)
{
    a->head = NULL;
    a->total = 0;
    a->limit = limit;
    a->failed = 0;
}

void arena_free(model_arena *a)
{
    model_arena_block *b = a->head;
    while (b) {
        model_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
    a->failed = 0;
}

void *arena_alloc(model_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 2) {
        a->failed = 1;
        return NULL;
    }
    n = (n + align - 1) & ~(align - 1);
    model_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK_MIN ? n : ARENA_BLOCK_MIN;
        size_t bytes = sizeof *b + cap;
        if (a->limit && (a->total > a->limit || bytes > a->limit - a->total)) {
            a->failed = 1;
            return NULL;
        }
        b = malloc(bytes);
        if (!b) {
            a->failed = 1;
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        a->total += bytes;
        if (a->head && cap > ARENA_BLOCK_MIN) {
            /* A large allocation gets a block of its own behind the head, so
             * the room left in the head still serves small ones. */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void *arena_array(model_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / 2 / size) {
        a->failed = 1;
        return NULL;
    }
    return arena_alloc(a, n * size);
}

char *arena_strndup(model_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        a->failed = 1;
        return NULL;
    }
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
