/* gRPC message framing and the grpc-message escape; see grpc_frame.h. */
#include "grpc_frame.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* A reader keeps a buffer this large between messages; a bigger one (left
 * by a large message) is released before the next message so that an idle
 * stream does not hold megabytes. */
#define READER_KEEP 65536
#define READER_MIN_ALLOC 4096

static const uint8_t empty_message[1];

/* The one place that reads a prefix's length. */
static uint32_t prefix_length(const uint8_t prefix[CODEC_FRAME_PREFIX])
{
    return (uint32_t)prefix[1] << 24 | (uint32_t)prefix[2] << 16 | (uint32_t)prefix[3] << 8 |
           (uint32_t)prefix[4];
}

int codec_frame_parse_prefix(const uint8_t prefix[CODEC_FRAME_PREFIX], int *compressed,
                             uint32_t *length, chute_error *err)
{
    if (prefix[0] > 1)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a gRPC message with compressed flag 0 or 1, but it was %u",
                               (unsigned)prefix[0]);
    *compressed = prefix[0];
    *length = prefix_length(prefix);
    return 0;
}

void codec_frame_write_prefix(uint8_t prefix[CODEC_FRAME_PREFIX], int compressed, uint32_t length)
{
    prefix[0] = compressed ? 1 : 0;
    prefix[1] = (uint8_t)(length >> 24);
    prefix[2] = (uint8_t)(length >> 16);
    prefix[3] = (uint8_t)(length >> 8);
    prefix[4] = (uint8_t)length;
}

void codec_frame_reader_init(codec_frame_reader *r, size_t max_message)
{
    codec_frame_reader_opts o = {.max_message = max_message};
    codec_frame_reader_init_opts(r, &o);
}

void codec_frame_reader_init_opts(codec_frame_reader *r, const codec_frame_reader_opts *opts)
{
    memset(r, 0, sizeof(*r));
    r->max_message = opts->max_message ? opts->max_message : CODEC_MAX_MESSAGE;
    r->hold = opts->hold;
    r->first_alloc = opts->first_alloc ? opts->first_alloc : READER_MIN_ALLOC;
    r->budget = opts->budget;
    r->on_prefix = opts->on_prefix;
    r->ud = opts->ud;
}

void codec_frame_reader_free(codec_frame_reader *r)
{
    if (!r)
        return;
    if (r->budget && r->cap) /* a reader without a buffer never touches its budget */
        r->budget->used -= r->cap;
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    r->have = 0;
}

int codec_frame_reader_pending(const codec_frame_reader *r)
{
    return r->prefix_len > 0;
}

void codec_frame_reader_progress(const codec_frame_reader *r, size_t *prefix_have, size_t *have,
                                 size_t *length)
{
    int whole = r->prefix_len == CODEC_FRAME_PREFIX;
    if (prefix_have)
        *prefix_have = r->prefix_len;
    if (have)
        *have = whole ? r->have : 0;
    if (length)
        *length = whole ? r->length : 0;
}

/* Makes room for |want| bytes (want <= r->length), growing geometrically so
 * that a message arriving in many small chunks costs O(n) copies, but never
 * beyond the announced length, nor past the budget. */
static int reserve(codec_frame_reader *r, size_t want)
{
    if (want <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap * 2 : r->first_alloc;
    if (cap < want)
        cap = want;
    if (cap > r->length)
        cap = r->length;
    if (r->budget && r->budget->used - r->cap + cap > r->budget->max)
        return CHUTE_EBUSY;
    uint8_t *b = realloc(r->buf, cap);
    if (!b)
        return CHUTE_ENOMEM;
    if (r->budget)
        r->budget->used += cap - r->cap;
    r->buf = b;
    r->cap = cap;
    return 0;
}

static int fail(codec_frame_reader *r, int code)
{
    r->error = code;
    return code;
}

int codec_frame_reader_feed(codec_frame_reader *r, const uint8_t *data, size_t len,
                            size_t *consumed, codec_frame *msg, chute_error *err)
{
    size_t pos = 0;

    *consumed = 0;
    if (r->error)
        return chute_error_set(err, r->error,
                               "The gRPC message stream is unusable after an "
                               "earlier error");
    if (r->prefix_len == 0 && r->have == 0 && r->cap > READER_KEEP)
        codec_frame_reader_free(r);

    if (r->prefix_len < CODEC_FRAME_PREFIX) {
        size_t take = CODEC_FRAME_PREFIX - r->prefix_len;
        if (take > len)
            take = len;
        if (take)
            memcpy(r->prefix + r->prefix_len, data, take);
        r->prefix_len += take;
        pos += take;
        if (r->prefix_len < CODEC_FRAME_PREFIX) {
            *consumed = pos;
            return 0;
        }
        r->length = prefix_length(r->prefix);
        r->have = 0;
        if (r->on_prefix) {
            int rc = r->on_prefix(r->ud, r->prefix[0], r->length, err);
            if (rc)
                return fail(r, rc);
        }
        int rc = codec_frame_parse_prefix(r->prefix, &r->compressed, &r->length, err);
        if (rc)
            return fail(r, rc);
        /* The bound is checked here, before any allocation. */
        if (r->length > r->max_message) {
            chute_error_set(err, CHUTE_ETOOBIG, "Received message larger than max (%lu vs. %lu)",
                            (unsigned long)r->length, (unsigned long)r->max_message);
            return fail(r, CHUTE_ETOOBIG);
        }
    }

    size_t avail = len - pos;
    if (r->have == 0 && (r->length == 0 || (!r->hold && avail >= r->length))) {
        /* The whole message is in this chunk: hand it out without copying. */
        msg->data = r->length ? data + pos : empty_message;
        msg->len = r->length;
        msg->compressed = r->compressed;
        pos += r->length;
        r->prefix_len = 0;
        *consumed = pos;
        return 1;
    }

    size_t take = r->length - r->have;
    if (take > avail)
        take = avail;
    if (take == 0) {
        *consumed = pos;
        return 0;
    }
    int rc = reserve(r, r->have + take);
    if (rc == CHUTE_EBUSY) {
        chute_error_set(err, CHUTE_EBUSY,
                        "Expected the buffered gRPC messages to stay within %zu bytes, but a "
                        "message of %lu bytes does not fit",
                        r->budget->max, (unsigned long)r->length);
        return fail(r, CHUTE_EBUSY);
    }
    if (rc) {
        chute_error_set(err, CHUTE_ENOMEM, "Out of memory for a gRPC message of %lu bytes",
                        (unsigned long)r->length);
        return fail(r, CHUTE_ENOMEM);
    }
    memcpy(r->buf + r->have, data + pos, take);
    r->have += take;
    pos += take;
    *consumed = pos;
    if (r->have < r->length)
        return 0;
    msg->data = r->buf;
    msg->len = r->length;
    msg->compressed = r->compressed;
    r->prefix_len = 0;
    r->have = 0;
    return 1;
}

static size_t max_or_default(size_t max)
{
    size_t m = max ? max : CODEC_MAX_MESSAGE;
    return m > UINT32_MAX ? UINT32_MAX : m;
}

int codec_pack_framed(const ProtobufCMessage *m, size_t max, uint8_t **out, size_t *out_len,
                      chute_error *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    size_t bound = max_or_default(max);
    if (n > bound)
        return chute_error_set(err, CHUTE_ETOOBIG,
                               "Expected to send a %s message of at most %lu bytes, but it was %lu "
                               "bytes",
                               m->descriptor->short_name, (unsigned long)bound, (unsigned long)n);
    uint8_t *b = malloc(CODEC_FRAME_PREFIX + n);
    if (!b)
        return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for a %s message of %lu bytes",
                               m->descriptor->short_name, (unsigned long)n);
    codec_frame_write_prefix(b, 0, (uint32_t)n);
    protobuf_c_message_pack(m, b + CODEC_FRAME_PREFIX);
    *out = b;
    *out_len = CODEC_FRAME_PREFIX + n;
    return 0;
}

int codec_pack_framed_into(const ProtobufCMessage *m, uint8_t *buf, size_t cap, size_t *out_len,
                           chute_error *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > UINT32_MAX || CODEC_FRAME_PREFIX + n > cap) {
        *out_len = CODEC_FRAME_PREFIX + n;
        return chute_error_set(
            err, CHUTE_ETOOBIG, "Expected a %s message to fit in %lu bytes, but it needs %lu",
            m->descriptor->short_name, (unsigned long)cap, (unsigned long)(CODEC_FRAME_PREFIX + n));
    }
    codec_frame_write_prefix(buf, 0, (uint32_t)n);
    protobuf_c_message_pack(m, buf + CODEC_FRAME_PREFIX);
    *out_len = CODEC_FRAME_PREFIX + n;
    return 0;
}

void codec_frame_empty(uint8_t out[CODEC_FRAME_PREFIX])
{
    codec_frame_write_prefix(out, 0, 0);
}

/* ---- compression (grpc-encoding) ------------------------------------------- */

/* First output buffer of an inflate: room for a typical ratio, at least a
 * page; it doubles from there, never past the bound. */
#define INFLATE_MIN_ALLOC 4096

codec_encoding codec_encoding_parse(const char *name, size_t len)
{
    static const struct {
        const char *name;
        codec_encoding enc;
    } known[] = {
        {"identity", CODEC_ENC_IDENTITY},
        {"gzip", CODEC_ENC_GZIP},
        {"deflate", CODEC_ENC_DEFLATE},
    };
    if (len == 0)
        return CODEC_ENC_IDENTITY;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == len && strncasecmp(known[i].name, name, len) == 0)
            return known[i].enc;
    return CODEC_ENC_UNKNOWN;
}

int codec_inflate(codec_encoding enc, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                  size_t *out_len, chute_error *err)
{
    if (enc != CODEC_ENC_GZIP && enc != CODEC_ENC_DEFLATE)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a compressed encoding (gzip or deflate) to decompress "
                               "a message, but it was %d",
                               (int)enc);
    const char *name = enc == CODEC_ENC_GZIP ? "gzip" : "deflate";
    size_t bound = max_out ? max_out : CODEC_MAX_MESSAGE;

    if (len == 0) {
        uint8_t *b = malloc(1);
        if (!b)
            return chute_error_set(err, CHUTE_ENOMEM, "Out of memory for an empty message");
        *out = b;
        *out_len = 0;
        return 0;
    }

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* gzip: RFC 1952 header and trailer (16 + MAX_WBITS); gRPC's "deflate"
     * is the zlib format (RFC 1950). */
    int zrc = inflateInit2(&zs, enc == CODEC_ENC_GZIP ? 16 + MAX_WBITS : MAX_WBITS);
    if (zrc != Z_OK)
        return chute_error_set(err, zrc == Z_MEM_ERROR ? CHUTE_ENOMEM : CHUTE_EINVAL,
                               "The %s decompressor could not be set up: %s", name,
                               zs.msg ? zs.msg : zError(zrc));

    uint8_t *buf = NULL;
    size_t cap = 0, have = 0;
    size_t in_off = 0; /* input bytes handed to zlib so far */
    int rc = 0;

    for (;;) {
        /* zlib counts in uInt: hand over the input in pieces it can hold. */
        if (zs.avail_in == 0 && in_off < len) {
            size_t n = len - in_off;
            if (n > UINT_MAX)
                n = UINT_MAX;
            zs.next_in = (Bytef *)(uintptr_t)(in + in_off);
            zs.avail_in = (uInt)n;
            in_off += n;
        }
        /* Grow the output only when it is full, geometrically, never past
         * the bound: memory follows what the data really inflates to. */
        if (have == cap && cap < bound) {
            size_t ncap;
            if (cap == 0)
                ncap = len > bound / 2
                           ? bound
                           : (2 * len < INFLATE_MIN_ALLOC ? INFLATE_MIN_ALLOC : 2 * len);
            else
                ncap = cap > bound / 2 ? bound : 2 * cap;
            if (ncap > bound)
                ncap = bound;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                rc = chute_error_set(err, CHUTE_ENOMEM,
                                     "Out of memory decompressing a %s-compressed message (%zu "
                                     "bytes so far)",
                                     name, have);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        uint8_t probe;
        int probing = have == cap; /* at the bound: one more byte is too many */
        if (probing) {
            zs.next_out = &probe;
            zs.avail_out = 1;
        } else {
            size_t room = cap - have;
            zs.next_out = buf + have;
            zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        }
        uInt before = zs.avail_out;
        zrc = inflate(&zs, Z_NO_FLUSH);
        size_t produced = before - zs.avail_out;
        if (probing && produced) {
            rc = chute_error_set(err, CHUTE_ETOOBIG,
                                 "the %s-compressed message decompresses to more than the maximum "
                                 "message size of %zu bytes",
                                 name, bound);
            break;
        }
        have += probing ? 0 : produced;

        if (zrc == Z_STREAM_END) {
            if (zs.avail_in == 0 && in_off == len)
                break; /* done */
            if (enc == CODEC_ENC_GZIP) {
                /* Another gzip member follows (RFC 1952 2.2 allows a series;
                 * Go's and Node's readers take them too). */
                zrc = inflateReset(&zs);
                if (zrc == Z_OK)
                    continue;
            }
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "the %s-compressed message could not be decompressed: %zu extra "
                                 "bytes after the end of the compressed data",
                                 name, (size_t)zs.avail_in + (len - in_off));
            break;
        }
        if (zrc == Z_OK)
            continue;
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0 && in_off == len) {
            rc = chute_error_set(err, CHUTE_EINVAL,
                                 "the %s-compressed message could not be decompressed: it is "
                                 "truncated (the compressed data ends early)",
                                 name);
            break;
        }
        if (zrc == Z_MEM_ERROR) {
            rc = chute_error_set(err, CHUTE_ENOMEM,
                                 "Out of memory decompressing a %s-compressed message", name);
            break;
        }
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "the %s-compressed message could not be decompressed: %s", name,
                             zrc == Z_NEED_DICT ? "it needs a preset dictionary"
                             : zs.msg           ? zs.msg
                                                : zError(zrc));
        break;
    }
    inflateEnd(&zs);
    if (rc) {
        free(buf);
        return rc;
    }
    if (have < cap) {
        /* Give back the slack: the caller may hold this for a while. */
        uint8_t *nb = realloc(buf, have ? have : 1);
        if (nb)
            buf = nb;
    }
    *out = buf;
    *out_len = have;
    return 0;
}

int codec_gzip_inflate(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                       size_t *out_len, chute_error *err)
{
    return codec_inflate(CODEC_ENC_GZIP, in, len, max_out, out, out_len, err);
}

/* ---- grpc-message ---------------------------------------------------------- */

static const char hex_digits[] = "0123456789ABCDEF";

size_t codec_pct_encode(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0; /* full escaped length */
    size_t w = 0; /* bytes written; stays < cap */
    int room = cap > 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        int plain = c >= 0x20 && c <= 0x7e && c != '%';
        size_t need = plain ? 1 : 3;
        if (room && w + need < cap) {
            if (plain) {
                out[w++] = (char)c;
            } else {
                out[w++] = '%';
                out[w++] = hex_digits[c >> 4];
                out[w++] = hex_digits[c & 15];
            }
        } else {
            room = 0; /* never resume after a cut: the output is a prefix */
        }
        n += need;
    }
    if (cap > 0)
        out[w] = '\0';
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t codec_pct_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%' && i + 2 < len && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
            c = (char)(hex_value(in[i + 1]) << 4 | hex_value(in[i + 2]));
            i += 2;
        }
        /* n <= i, so writing out[n] never overtakes an unread in[i] when
         * decoding in place. */
        if (n + 1 < cap)
            out[n] = c;
        n++;
    }
    if (cap > 0)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}
