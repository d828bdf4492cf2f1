/*
 * gRPC message framing and the grpc-message escape, with no sockets.
 *
 * On an HTTP/2 stream, gRPC sends each protobuf message behind a 5-byte
 * prefix: one byte that says whether the message is compressed (0 or 1),
 * then its length as a 4-byte big-endian integer. The DATA frames of a
 * stream may split messages anywhere, so a receiver needs a streaming
 * parser: codec_frame_reader takes chunks of any size (down to one byte)
 * and yields whole messages. It checks a message's length against its bound
 * as soon as the prefix is complete, before it allocates anything, and it
 * grows its buffer only as the message's bytes actually arrive, so a peer
 * that announces a large message and sends nothing costs nothing.
 *
 * The gRPC transport of chuted (src/server/h2.c) and the C client's
 * transport (src/client/transport.c) both read messages with it, and the
 * grpc-message escape is this file's too: nothing else parses the prefix.
 */
#ifndef CHUTE_CODEC_GRPC_FRAME_H
#define CHUTE_CODEC_GRPC_FRAME_H

#include <chute/chute.h>

#include <protobuf-c/protobuf-c.h>

#include <stddef.h>
#include <stdint.h>

/* Size of the prefix in front of every gRPC message. */
#define CODEC_FRAME_PREFIX 5

/* The default bound on one message, in either direction (gRPC's default). */
#define CODEC_MAX_MESSAGE (4u * 1024u * 1024u)

/*
 * Parses a prefix. Sets |*compressed| (0 or 1) and |*length|. Returns 0, or
 * CHUTE_EINVAL when the flag byte is neither 0 nor 1.
 */
int codec_frame_parse_prefix(const uint8_t prefix[CODEC_FRAME_PREFIX], int *compressed,
                             uint32_t *length, chute_error *err);

/* Writes the prefix of a message of |length| bytes. */
void codec_frame_write_prefix(uint8_t prefix[CODEC_FRAME_PREFIX], int compressed, uint32_t length);

/* A whole message yielded by the reader. */
typedef struct codec_frame {
    const uint8_t *data; /* never NULL, even when len is 0 */
    size_t len;
    int compressed; /* the flag was 1: the bytes are compressed as the stream's
                     * grpc-encoding says (see codec_inflate) */
} codec_frame;

/*
 * A bound on the bytes that several readers buffer together (the streams of
 * one connection). A reader given a budget counts the capacity of its
 * buffer in |used| and refuses to grow it past |max| (CHUTE_EBUSY); the
 * owner may count other memory of its own in |used| too.
 */
typedef struct codec_frame_budget {
    size_t used;
    size_t max;
} codec_frame_budget;

/*
 * Called once a message's prefix is complete, before the reader checks it
 * and before any byte of the message is buffered: |flags| is the prefix's
 * flag byte as sent, |length| the length it announces. Returns 0 to go on,
 * or fills |err| and returns a negative code, which the feed then returns
 * (the reader stays failed, as after any error).
 */
typedef int (*codec_frame_prefix_fn)(void *ud, unsigned flags, uint32_t length, chute_error *err);

/* How a reader works; zero-initialise and set what you need. */
typedef struct codec_frame_reader_opts {
    /* The bound on one message; 0 means CODEC_MAX_MESSAGE. */
    size_t max_message;
    /* Keep every message in the reader's own buffer instead of pointing into
     * the input when it arrives whole in one chunk, so that it stays valid
     * after the input is gone, until the next feed or free (a server that
     * dispatches a request after its receive callback returned needs
     * this). The buffer of a whole message is exactly as large as the
     * message. */
    int hold;
    /* The size of the buffer's first allocation (never more than the
     * message); 0 means 4096. It doubles from there. */
    size_t first_alloc;
    /* Counts the buffer in a shared budget; NULL: none. */
    codec_frame_budget *budget;
    /* Judges each prefix first; NULL: none. */
    codec_frame_prefix_fn on_prefix;
    void *ud;
} codec_frame_reader_opts;

/*
 * The streaming parser. Zero-initialise it with codec_frame_reader_init()
 * or codec_frame_reader_init_opts() and release it with
 * codec_frame_reader_free(). All fields are private.
 */
typedef struct codec_frame_reader {
    size_t max_message;
    int hold;
    size_t first_alloc;
    codec_frame_budget *budget;
    codec_frame_prefix_fn on_prefix;
    void *ud;
    uint8_t prefix[CODEC_FRAME_PREFIX];
    size_t prefix_len; /* bytes of the current prefix seen so far */
    uint32_t length;   /* of the current message, once the prefix is whole */
    int compressed;
    uint8_t *buf; /* holds a message that arrived in more than one chunk */
    size_t cap;
    size_t have;
    int error; /* sticky: after an error the stream is unusable */
} codec_frame_reader;

/* Prepares |r| for a stream. |max_message| bounds one message (0 means
 * CODEC_MAX_MESSAGE). Allocates nothing. */
void codec_frame_reader_init(codec_frame_reader *r, size_t max_message);

/* Prepares |r| for a stream as |opts| says (copied; the budget and |ud| it
 * names must outlive the reader). Allocates nothing. */
void codec_frame_reader_init_opts(codec_frame_reader *r, const codec_frame_reader_opts *opts);

/* Frees the reader's buffer (and gives it back to its budget; a reader
 * that holds no buffer does not touch its budget, which may then be gone).
 * |r| may be used again after codec_frame_reader_init(). NULL is a no-op. */
void codec_frame_reader_free(codec_frame_reader *r);

/*
 * Feeds |len| bytes of a stream to |r|. Sets |*consumed| to the number of
 * bytes used and returns:
 *   1  a whole message is in |*msg|; call again with the rest of the input
 *      (data + *consumed, len - *consumed), which may hold more messages;
 *   0  every byte was used and no message is complete yet;
 *   CHUTE_ETOOBIG  the prefix announced a message over the bound ("Received
 *      message larger than max (N vs. M)"; gRPC answers RESOURCE_EXHAUSTED);
 *   CHUTE_EINVAL   the flag byte was neither 0 nor 1;
 *   CHUTE_EBUSY    the message does not fit in the reader's budget;
 *   CHUTE_ENOMEM;
 *   or what the reader's on_prefix returned.
 * After an error every later call returns the same error. |msg->data|
 * points into |data| (when the whole message was in this chunk, unless the
 * reader holds its messages) or into the reader's buffer; it stays valid
 * until the next call with |r| or until |data| goes away, whichever comes
 * first (a holding reader's: until the next call or free). Nothing is
 * copied when a whole message arrives in one chunk, unless the reader
 * holds its messages.
 */
int codec_frame_reader_feed(codec_frame_reader *r, const uint8_t *data, size_t len,
                            size_t *consumed, codec_frame *msg, chute_error *err);

/* Non-zero when the reader is in the middle of a message: at the end of a
 * stream this means the peer sent a truncated message. */
int codec_frame_reader_pending(const codec_frame_reader *r);

/*
 * Where |r| is in its stream: |*prefix_have| bytes of the current message's
 * prefix have arrived (0 between messages, CODEC_FRAME_PREFIX once it is
 * whole); once it is whole, |*length| is the length it announced and
 * |*have| how many of those bytes arrived so far (both 0 before). Any
 * pointer may be NULL.
 */
void codec_frame_reader_progress(const codec_frame_reader *r, size_t *prefix_have, size_t *have,
                                 size_t *length);

/*
 * Packs |m| behind a prefix into a new buffer (malloc'd, the caller frees
 * it) of |*out_len| = 5 + packed size bytes, ready to be sent as is. |max|
 * bounds the packed size (0 means CODEC_MAX_MESSAGE). Returns 0,
 * CHUTE_ETOOBIG (the message names the type and both sizes) or
 * CHUTE_ENOMEM; on failure |*out| is untouched.
 */
int codec_pack_framed(const ProtobufCMessage *m, size_t max, uint8_t **out, size_t *out_len,
                      chute_error *err);

/*
 * Packs |m| behind a prefix into |buf| (|cap| bytes). Sets |*out_len|.
 * Returns 0 or CHUTE_ETOOBIG when the framed message does not fit in |cap|
 * (then |*out_len| is the size it needs).
 */
int codec_pack_framed_into(const ProtobufCMessage *m, uint8_t *buf, size_t cap, size_t *out_len,
                           chute_error *err);

/* Writes the framed form of an empty message (CompleteJobResponse,
 * FailJobResponse, ... CancelJobResponse): just a prefix with length 0. */
void codec_frame_empty(uint8_t out[CODEC_FRAME_PREFIX]);

/*
 * Message compression (grpc-encoding)
 * -----------------------------------
 * A request's grpc-encoding header names how its messages with the
 * compressed flag set are compressed. Chute reads "identity" (none),
 * "gzip" (RFC 1952) and "deflate" (which gRPC defines as the zlib format,
 * RFC 1950); it never compresses what it sends.
 */
typedef enum codec_encoding {
    CODEC_ENC_UNKNOWN = -1,
    CODEC_ENC_IDENTITY = 0,
    CODEC_ENC_GZIP = 1,
    CODEC_ENC_DEFLATE = 2,
} codec_encoding;

/* The grpc-accept-encoding value that lists what codec_inflate() reads. */
#define CODEC_ACCEPT_ENCODING "identity,deflate,gzip"

/* The encoding named by |name| (|len| bytes, not NUL-terminated; ASCII case
 * is ignored), or CODEC_ENC_UNKNOWN. An empty name means identity. */
codec_encoding codec_encoding_parse(const char *name, size_t len);

/*
 * Decompresses one message of |len| bytes from |in| compressed with |enc|
 * (CODEC_ENC_GZIP or CODEC_ENC_DEFLATE). The output is bounded by |max_out|
 * (0 means CODEC_MAX_MESSAGE): it grows with what actually comes out of the
 * decompressor, never past |max_out| bytes, so a message that inflates to
 * more (a "zip bomb") is rejected without allocating beyond the bound.
 * Zero input bytes decompress to an empty message.
 *
 * On success stores a malloc'd buffer in |*out| (never NULL, the caller
 * frees it) of |*out_len| bytes and returns 0. Otherwise leaves |*out|
 * untouched and returns:
 *   CHUTE_ETOOBIG  the message decompresses to more than |max_out| bytes
 *                  (gRPC answers RESOURCE_EXHAUSTED); the error names the limit;
 *   CHUTE_EINVAL   the input is corrupt, truncated or followed by extra bytes,
 *                  or |enc| is not a compressed encoding;
 *   CHUTE_ENOMEM.
 */
int codec_inflate(codec_encoding enc, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                  size_t *out_len, chute_error *err);

/* codec_inflate(CODEC_ENC_GZIP, ...). */
int codec_gzip_inflate(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                       size_t *out_len, chute_error *err);

/*
 * grpc-message escaping: every byte outside 0x20..0x7E, and '%' itself,
 * becomes "%XX" (upper-case hex), as the gRPC HTTP/2 spec asks; UTF-8 text
 * survives byte by byte.
 *
 * codec_pct_encode writes at most |cap| - 1 bytes of the escaped form of
 * |in| (|len| bytes) to |out| and a NUL (when |cap| > 0), never cutting an
 * escape in half, and returns the full escaped length (as snprintf does):
 * the result was complete when it is < |cap|. 3 * len + 1 is always enough.
 */
size_t codec_pct_encode(const char *in, size_t len, char *out, size_t cap);

/*
 * Undoes the escape: "%XX" with two hex digits (either case) becomes the
 * byte; anything else, including a malformed escape, is kept as it is (the
 * spec asks receivers to be lenient). Writes at most |cap| - 1 bytes and a
 * NUL and returns the full decoded length; the decoded form is never longer
 * than |len|, so |cap| = len + 1 is always enough. |out| may equal |in|.
 */
size_t codec_pct_decode(const char *in, size_t len, char *out, size_t cap);

#endif /* CHUTE_CODEC_GRPC_FRAME_H */
