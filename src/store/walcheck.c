/* Damage in a WAL versus a torn last write; see walcheck.h. */
#include "store/walcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAL_HEADER 32
#define FRAME_HEADER 24
#define MAGIC_LE 0x377f0682u /* checksums over little-endian words */
#define MAGIC_BE 0x377f0683u /* over big-endian words */

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* SQLite's WAL checksum: over pairs of 32-bit words, |n| a multiple of 8,
 * continuing from s[0], s[1]. */
static void checksum(int big_endian, const uint8_t *p, size_t n, uint32_t s[2])
{
    uint32_t s0 = s[0], s1 = s[1];
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint32_t a = big_endian ? get_be32(p + i) : get_le32(p + i);
        uint32_t b = big_endian ? get_be32(p + i + 4) : get_le32(p + i + 4);
        s0 += a + s1;
        s1 += b + s0;
    }
    s[0] = s0;
    s[1] = s1;
}

/* Does |frame| (header and page) check out when seeded with |seed|? */
static int frame_ok(int be, const uint8_t *frame, uint32_t page_size, const uint32_t seed[2])
{
    uint32_t s[2] = {seed[0], seed[1]};
    checksum(be, frame, 8, s);
    checksum(be, frame + FRAME_HEADER, page_size, s);
    return s[0] == get_be32(frame + 16) && s[1] == get_be32(frame + 20);
}

static int read_full(int fd, uint8_t *buf, size_t n, off_t at, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, at + (off_t)done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

int wal_check_damaged(const wal_check *c)
{
    return c->header_damaged || c->commits_lost > 0;
}

int wal_check_file(const char *path, wal_check *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return chute_error_set(err, CHUTE_EIO, "%s: cannot read the write-ahead log: %s", path,
                               strerror(errno));
    }
    struct stat st;
    uint8_t hdr[WAL_HEADER];
    size_t got = 0;
    int ret = 0;
    uint8_t *frame = NULL;
    if (fstat(fd, &st) != 0 || read_full(fd, hdr, sizeof hdr, 0, &got) != 0) {
        ret = chute_error_set(err, CHUTE_EIO, "%s: cannot read the write-ahead log: %s", path,
                              strerror(errno));
        goto done;
    }
    if (got < WAL_HEADER)
        goto done; /* no header: nothing was ever committed through it */
    uint32_t magic = get_be32(hdr);
    uint32_t page_size = get_be32(hdr + 8);
    if (page_size == 1)
        page_size = 65536;
    int be = magic == MAGIC_BE;
    int sane = (magic == MAGIC_LE || magic == MAGIC_BE) && page_size >= 512 && page_size <= 65536 &&
               (page_size & (page_size - 1)) == 0;
    uint32_t seed[2] = {0, 0};
    if (sane)
        checksum(be, hdr, 24, seed);
    if (!sane || seed[0] != get_be32(hdr + 24) || seed[1] != get_be32(hdr + 28)) {
        /* SQLite ignores a log whose header fails: every frame in it. */
        uint32_t ps = sane ? page_size : 4096;
        out->header_damaged = (uint64_t)st.st_size >= WAL_HEADER + FRAME_HEADER + (uint64_t)ps;
        goto done;
    }
    out->page_size = page_size;
    size_t frame_size = FRAME_HEADER + (size_t)page_size;
    frame = malloc(frame_size);
    if (!frame) {
        ret = chute_error_set(err, CHUTE_ENOMEM, "out of memory checking %s", path);
        goto done;
    }
    /* Running state: |seed| is what the next frame must chain from. */
    uint64_t index = 0;
    int past_bad_txn = 0; /* after the bad frame, its transaction has ended */
    for (off_t at = WAL_HEADER;; at += (off_t)frame_size) {
        if (read_full(fd, frame, frame_size, at, &got) != 0) {
            ret = chute_error_set(err, CHUTE_EIO, "%s: cannot read the write-ahead log: %s", path,
                                  strerror(errno));
            goto done;
        }
        if (got < frame_size)
            break; /* a torn frame at the end, or the end */
        index++;
        if (memcmp(frame + 8, hdr + 16, 8) != 0)
            break; /* other salts: frames of an earlier generation */
        int commit = get_be32(frame + 4) != 0;
        int ok = frame_ok(be, frame, page_size, seed);
        if (!out->bad_frame) {
            if (ok) {
                out->frames++;
                out->commits += commit;
            } else {
                out->bad_frame = index;
                /* A bad commit frame ends its transaction here. */
                past_bad_txn = commit;
            }
        } else if (ok && past_bad_txn) {
            out->frames_lost++;
            out->commits_lost += commit;
        } else if (commit) {
            past_bad_txn = 1;
        }
        /* Each frame stores the running checksum: the next one chains from
         * it whether or not this one checked out. */
        seed[0] = get_be32(frame + 16);
        seed[1] = get_be32(frame + 20);
    }
done:
    free(frame);
    close(fd);
    return ret;
}
