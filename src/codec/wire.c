/* Protobuf wire pre-scan and unpacking; see wire.h. */
#include "wire.h"

static const uint8_t no_bytes[1];

/* Reads a varint of at most 10 bytes. Returns 0 or -1 (truncated or too long). */
static int read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= len)
            return -1;
        uint8_t b = buf[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int codec_wire_count(const uint8_t *buf, size_t len, const uint32_t *fields, size_t *counts,
                     size_t n)
{
    size_t pos = 0;

    for (size_t i = 0; i < n; i++)
        counts[i] = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(buf, len, &pos, &tag))
            return -1;
        uint64_t field = tag >> 3;
        if (field == 0 || field > 0x1fffffff)
            return -1;
        switch (tag & 7) {
        case 0: /* varint */
            if (read_varint(buf, len, &pos, &v))
                return -1;
            break;
        case 1: /* 64-bit */
            if (len - pos < 8)
                return -1;
            pos += 8;
            break;
        case 2: /* length-delimited */
            if (read_varint(buf, len, &pos, &v) || v > len - pos)
                return -1;
            pos += (size_t)v;
            break;
        case 5: /* 32-bit */
            if (len - pos < 4)
                return -1;
            pos += 4;
            break;
        default: /* groups (3, 4) and the undefined 6, 7 */
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (fields[i] == field)
                counts[i]++;
    }
    return 0;
}

int codec_decode_error(const ProtobufCMessageDescriptor *desc, chute_error *err)
{
    return chute_error_set(err, CHUTE_EINVAL,
                           "Expected a valid %s message, but it could not be decoded",
                           desc->short_name);
}

int codec_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                 ProtobufCMessage **out, chute_error *err)
{
    /* protobuf-c also returns NULL when it runs out of memory; that cannot
     * be told apart, and is rare enough to report as bad input. */
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, buf ? buf : no_bytes);
    if (!m)
        return codec_decode_error(desc, err);
    *out = m;
    return 0;
}
