/* Protobuf wire pre-scan and unpacking; see wire.h. */
#include "wire.h"

#include <string.h>

#include "common/json.h"

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

/*
 * Walks the top-level fields of |buf| and calls |visit| for each with its
 * field number and, for a length-delimited field, its bytes (NULL and 0
 * for the other wire types). Returns 0, or -1 when the bytes are not a
 * well-formed sequence of fields or |visit| returns non-zero.
 */
static int walk_fields(const uint8_t *buf, size_t len,
                       int (*visit)(void *ctx, uint64_t field, const uint8_t *p, size_t n),
                       void *ctx)
{
    size_t pos = 0;

    while (pos < len) {
        uint64_t tag, v;
        const uint8_t *payload = NULL;
        size_t plen = 0;
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
            payload = buf + pos;
            plen = (size_t)v;
            pos += plen;
            break;
        case 5: /* 32-bit */
            if (len - pos < 4)
                return -1;
            pos += 4;
            break;
        default: /* groups (3, 4) and the undefined 6, 7 */
            return -1;
        }
        if (visit(ctx, field, payload, plen))
            return -1;
    }
    return 0;
}

typedef struct counter {
    const uint32_t *fields;
    size_t *counts;
    size_t n;
    uint32_t outer; /* 0: count at this level */
} counter;

static int count_field(void *ctx, uint64_t field, const uint8_t *p, size_t n)
{
    counter *c = ctx;
    (void)p;
    (void)n;
    for (size_t i = 0; i < c->n; i++)
        if (c->fields[i] == field)
            c->counts[i]++;
    return 0;
}

int codec_wire_count(const uint8_t *buf, size_t len, const uint32_t *fields, size_t *counts,
                     size_t n)
{
    counter c = {fields, counts, n, 0};
    for (size_t i = 0; i < n; i++)
        counts[i] = 0;
    return walk_fields(buf, len, count_field, &c);
}

static int count_inner(void *ctx, uint64_t field, const uint8_t *p, size_t n)
{
    counter *c = ctx;
    if (field != c->outer)
        return 0;
    if (!p) /* not length-delimited: not a message */
        return -1;
    counter inner = {c->fields, c->counts, c->n, 0};
    return walk_fields(p, n, count_field, &inner);
}

int codec_wire_count_in(const uint8_t *buf, size_t len, uint32_t outer, const uint32_t *fields,
                        size_t *counts, size_t n)
{
    counter c = {fields, counts, n, outer};
    for (size_t i = 0; i < n; i++)
        counts[i] = 0;
    return walk_fields(buf, len, count_inner, &c);
}

/*
 * Length of the UTF-8 sequence that starts |s| (|n| bytes left), or 0 when
 * it is not well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF) or is a NUL byte.
 */
static size_t utf8_char(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t min, cp;
    if ((c & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Offset of the first byte of |s| that is not well-formed UTF-8 or is NUL,
 * or |n| when there is none. */
static size_t utf8_bad_at(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] >= 0x01 && s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_char(s + i, n - i);
        if (k == 0)
            return i;
        i += k;
    }
    return n;
}

/* Nested messages deeper than this are not walked (none of the served
 * messages nests more than twice). */
#define STRING_CHECK_DEPTH 8

static int check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                         unsigned depth, chute_error *err)
{
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(buf, len, &pos, &tag))
            return codec_decode_error(desc, err);
        switch (tag & 7) {
        case 0:
            if (read_varint(buf, len, &pos, &v))
                return codec_decode_error(desc, err);
            continue;
        case 1:
            if (len - pos < 8)
                return codec_decode_error(desc, err);
            pos += 8;
            continue;
        case 5:
            if (len - pos < 4)
                return codec_decode_error(desc, err);
            pos += 4;
            continue;
        case 2:
            break;
        default:
            return codec_decode_error(desc, err);
        }
        if (read_varint(buf, len, &pos, &v) || v > len - pos)
            return codec_decode_error(desc, err);
        const uint8_t *field = buf + pos;
        size_t flen = (size_t)v;
        pos += flen;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3));
        if (!fd)
            continue; /* unknown fields are skipped, as protobuf-c does */
        if (fd->type == PROTOBUF_C_TYPE_STRING) {
            size_t bad = utf8_bad_at(field, flen);
            if (bad < flen)
                return chute_error_set(
                    err, CHUTE_EINVAL,
                    "Expected %s of %s to be a valid UTF-8 string without NUL characters, but "
                    "byte %zu is 0x%02x",
                    fd->name, desc->short_name, bad, field[bad]);
        } else if (fd->type == PROTOBUF_C_TYPE_MESSAGE && depth < STRING_CHECK_DEPTH) {
            int rc = check_strings(fd->descriptor, field, flen, depth + 1, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int codec_wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                             chute_error *err)
{
    return check_strings(desc, buf ? buf : no_bytes, len, 0, err);
}

char *codec_pb_str(const char *s)
{
    return (char *)(s ? s : "");
}

char *codec_pb_doc(const char *s, size_t len)
{
    if (!s || jdoc_blank(s, len ? len : strlen(s)))
        return (char *)"{}";
    return (char *)s;
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
    /* Strings first: protobuf-c copies them as they are, and a NUL inside
     * one would silently cut it short. */
    int rc = codec_wire_check_strings(desc, buf, len, err);
    if (rc)
        return rc;
    /* protobuf-c also returns NULL when it runs out of memory; that cannot
     * be told apart, and is rare enough to report as bad input. */
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, buf ? buf : no_bytes);
    if (!m)
        return codec_decode_error(desc, err);
    *out = m;
    return 0;
}
