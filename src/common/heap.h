/*
 * A binary min-heap of pointers that keeps each member's position in the
 * member itself (through |pos_of|), so any member can be removed or re-keyed
 * in O(log n). The engine uses one per job type (ready queue) and one for
 * timers.
 */
#ifndef CHUTE_HEAP_H
#define CHUTE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_NONE UINT32_MAX

typedef struct heap {
    void **items;
    uint32_t count, cap;
    /* Non-zero when |a| must come out before |b|. */
    int (*before)(const void *a, const void *b);
    /* Where the member keeps its index (HEAP_NONE when not in the heap). */
    uint32_t *(*pos_of)(void *item);
} heap;

void heap_init(heap *h, int (*before)(const void *, const void *), uint32_t *(*pos_of)(void *));
void heap_free(heap *h);
/* Returns 0, or -1 when out of memory (the heap is unchanged). */
int heap_push(heap *h, void *item);
static inline void *heap_top(const heap *h)
{
    return h->count ? h->items[0] : NULL;
}
void *heap_pop(heap *h);
/* Removes |item|, which must be in |h|. */
void heap_remove(heap *h, void *item);
/* Restores order after |item|'s sort key changed. */
void heap_update(heap *h, void *item);
/* Reserves room for |n| more members. Returns 0 or -1. */
int heap_reserve(heap *h, uint32_t n);

#endif
