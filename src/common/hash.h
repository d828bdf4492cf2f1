/* FNV-1a, 64 bits: the checksum of deployed resources and the hash of
 * message names and correlation keys. Not for anything an attacker must
 * not collide (callers compare the bytes after a match). */
#ifndef CHUTE_COMMON_HASH_H
#define CHUTE_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CHUTE_FNV1A_INIT UINT64_C(0xcbf29ce484222325)

/* Continues hash |h| over |n| bytes of |p|. */
static inline uint64_t chute_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

#endif
