/*
 * Internal helpers the decoders share: a pre-scan of the protobuf wire
 * format and the uniform "could not be decoded" error.
 *
 * Why a pre-scan: protobuf-c's unpacker allocates one block per element of
 * a repeated field, so a 4 MiB message made of empty strings would cost it
 * millions of allocations before we could look at the count. Walking the
 * top-level fields first is cheap (no allocation, one pass) and lets the
 * decoders reject too many elements before protobuf-c allocates anything.
 */
#ifndef CHUTE_CODEC_WIRE_H
#define CHUTE_CODEC_WIRE_H

#include <chute/chute.h>

#include <protobuf-c/protobuf-c.h>

#include <stddef.h>
#include <stdint.h>

/*
 * Walks the top-level fields of the message in |buf| (|len| bytes) and sets
 * counts[i] to the number of occurrences of field number fields[i], for
 * |n| fields. Returns 0, or -1 when the bytes are not a well-formed
 * sequence of fields (bad tag, truncated varint, length past the end,
 * groups, which proto3 does not use).
 */
int codec_wire_count(const uint8_t *buf, size_t len, const uint32_t *fields, size_t *counts,
                     size_t n);

/*
 * The same as codec_wire_count, for the fields of the message held in
 * field |outer| (length-delimited) of the message in |buf|: counts are
 * summed over every occurrence of |outer|, as protobuf merges them.
 * Returns 0 or -1 (malformed bytes, at either level).
 */
int codec_wire_count_in(const uint8_t *buf, size_t len, uint32_t outer, const uint32_t *fields,
                        size_t *counts, size_t n);

/*
 * Checks every string field of the message in |buf|, nested messages
 * included, as protobuf requires and C needs: valid UTF-8 and no NUL
 * character. Returns 0, or CHUTE_EINVAL naming the field and the first bad
 * byte (or the "could not be decoded" error for malformed bytes).
 */
int codec_wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                             chute_error *err);

/*
 * Unpacks |buf| as a message of |desc| (its strings checked first with
 * codec_wire_check_strings) into |*out| (free it with
 * protobuf_c_message_free_unpacked(*out, NULL)). On malformed bytes returns
 * CHUTE_EINVAL with "Expected a valid <Type> message, but it could not be
 * decoded". |buf| may be NULL when |len| is 0.
 */
int codec_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                 ProtobufCMessage **out, chute_error *err);

/* A string for a protobuf-c struct field: "" for NULL. protobuf-c's
 * structs hold char *, but packing never writes through them. */
char *codec_pb_str(const char *s);

/* A JSON document field: "{}" when there is none, because some clients
 * parse these fields without a guard. A length of 0 with a non-empty
 * string means the length was not filled in. */
char *codec_pb_doc(const char *s, size_t len);

/* The "could not be decoded" error for |desc|. */
int codec_decode_error(const ProtobufCMessageDescriptor *desc, chute_error *err);

#endif /* CHUTE_CODEC_WIRE_H */
