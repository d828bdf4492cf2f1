/*
 * SHA-256 (FIPS 180-4) of a byte string: the checksum of a deployed
 * resource, so that the engine can tell an unchanged resource that is
 * deployed again (it keeps its version and key) from a changed one.
 * Written here rather than taken from OpenSSL so that the model module
 * links nothing but expat and stays trivial to fuzz.
 */
#ifndef CHUTE_MODEL_SHA256_H
#define CHUTE_MODEL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32

/* Writes the 32-byte digest of |len| bytes at |data| to |out|. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_SIZE]);

#endif
