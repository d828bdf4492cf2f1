/*
 * An open-addressing hash map from int64 keys to pointers: linear probing
 * with backward-shift deletion (no tombstones), so lookups stay short however
 * many keys come and go. Keys are job and incident keys; 0 is reserved as the
 * empty marker and cannot be stored.
 */
#ifndef CHUTE_HMAP_H
#define CHUTE_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hmap_slot {
    int64_t key;
    void *value;
} hmap_slot;

typedef struct hmap {
    hmap_slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two (0 when empty) */
    size_t count;
} hmap;

void hmap_init(hmap *m);
void hmap_free(hmap *m);
/* Returns the value for |key| or NULL. */
void *hmap_get(const hmap *m, int64_t key);
/* Inserts or replaces. Returns 0 or -1 when out of memory. */
int hmap_put(hmap *m, int64_t key, void *value);
/* Removes |key| and returns its value, or NULL if it was not there. */
void *hmap_del(hmap *m, int64_t key);

#endif
