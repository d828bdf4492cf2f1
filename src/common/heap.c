#include "common/heap.h"

#include <assert.h>
#include <stdlib.h>

void heap_init(heap *h, int (*before)(const void *, const void *), uint32_t *(*pos_of)(void *))
{
    h->items = NULL;
    h->count = h->cap = 0;
    h->before = before;
    h->pos_of = pos_of;
}

void heap_free(heap *h)
{
    free(h->items);
    h->items = NULL;
    h->count = h->cap = 0;
}

static void place(heap *h, uint32_t i, void *item)
{
    h->items[i] = item;
    *h->pos_of(item) = i;
}

static void sift_up(heap *h, uint32_t i)
{
    void *item = h->items[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!h->before(item, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, item);
}

static void sift_down(heap *h, uint32_t i)
{
    void *item = h->items[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->before(h->items[child + 1], h->items[child]))
            child++;
        if (!h->before(h->items[child], item))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, item);
}

int heap_reserve(heap *h, uint32_t n)
{
    if (h->count + (uint64_t)n <= h->cap)
        return 0;
    uint64_t cap = h->cap ? h->cap : 16;
    while (cap < h->count + (uint64_t)n)
        cap *= 2;
    if (cap > UINT32_MAX - 1)
        return -1;
    void **items = realloc(h->items, cap * sizeof *items);
    if (!items)
        return -1;
    h->items = items;
    h->cap = (uint32_t)cap;
    return 0;
}

int heap_push(heap *h, void *item)
{
    if (heap_reserve(h, 1) != 0)
        return -1;
    h->items[h->count] = item;
    sift_up(h, h->count++);
    return 0;
}

void *heap_pop(heap *h)
{
    if (h->count == 0)
        return NULL;
    void *top = h->items[0];
    heap_remove(h, top);
    return top;
}

void heap_remove(heap *h, void *item)
{
    uint32_t *pos = h->pos_of(item);
    uint32_t i = *pos;
    assert(i < h->count && h->items[i] == item);
    *pos = HEAP_NONE;
    h->count--;
    if (i == h->count)
        return;
    h->items[i] = h->items[h->count];
    *h->pos_of(h->items[i]) = i;
    heap_update(h, h->items[i]);
}

void heap_update(heap *h, void *item)
{
    uint32_t i = *h->pos_of(item);
    assert(i < h->count);
    if (i > 0 && h->before(item, h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}
