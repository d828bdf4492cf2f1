/*
 * walcheck: tells damage in SQLite's write-ahead log from a torn last
 * write, before SQLite opens the database.
 *
 * SQLite recovers a WAL by reading its frames in order and stopping at the
 * first frame whose checksum fails (each frame's checksum chains from the
 * one before) or whose salts are not the header's. Whatever follows is
 * dropped without a word. That is right for a torn last write, the frames
 * of a transaction that never finished and was never acknowledged; it is
 * silent loss when a byte in the middle of the log was damaged and the
 * commits after it were acknowledged long ago.
 *
 * The two look alike at the first bad frame. They differ after it: every
 * frame stores the running checksum, so a later frame can be checked on
 * its own, seeded with the checksum its predecessor stored. Frames of the
 * current generation (the header's salts) that check out, past the end of
 * the bad frame's own transaction, were written after it and committed:
 * damage. A torn write has nothing valid after its transaction.
 *
 * Pure file reading: no SQLite call, nothing written.
 */
#ifndef CHUTE_STORE_WALCHECK_H
#define CHUTE_STORE_WALCHECK_H

#include <chute/chute.h>

#include <stdint.h>

typedef struct wal_check {
    uint32_t page_size; /* from the header; 0 when there is no header */
    uint64_t frames;    /* frames SQLite will read before it stops */
    uint64_t commits;   /* commit frames among them */
    uint64_t bad_frame; /* 1-based frame where SQLite stops on a checksum; 0: none */
    int header_damaged; /* the header fails its checksum with frames behind it */
    /* Commits of the current generation after the bad frame's own
     * transaction whose frames check out: what SQLite would drop. Non-zero
     * means damage, not a torn write. */
    uint64_t commits_lost;
    uint64_t frames_lost;
} wal_check;

/*
 * Reads the WAL at |path| (a missing or empty file is a clean result) into
 * |out|. Returns 0, or CHUTE_EIO when the file cannot be read. A page size
 * that is not a power of two from 512 to 65536, or a magic number that is
 * not SQLite's, counts as a damaged header when frames follow.
 */
int wal_check_file(const char *path, wal_check *out, chute_error *err);

/* Non-zero when |c| shows damage that would lose committed transactions. */
int wal_check_damaged(const wal_check *c);

#endif
