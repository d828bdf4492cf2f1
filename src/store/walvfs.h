/*
 * walvfs: an SQLite VFS that wraps the default one and gathers the writes
 * to a write-ahead log into one system call per commit.
 *
 * SQLite writes each WAL frame as two pwrite calls (the 24-byte frame
 * header, then the page), so a commit that touches four pages costs eight
 * system calls before its sync. On the machines Chute runs on a system call
 * is not free (under some hypervisors each one traps), and the writes of
 * one commit are contiguous. This shim buffers contiguous writes to a file
 * opened as a WAL and hands them to the wrapped VFS in one write:
 *   - when the page of a commit frame (a frame header whose "database size
 *     after commit" field is non-zero) has been appended, so every commit
 *     is in the operating system before SQLite's commit returns: a crash of
 *     the process loses nothing that was acknowledged;
 *   - before anything else touches the file (read, sync, truncate, size,
 *     locks, file controls, close), so SQLite never sees a difference;
 *   - when a write is not contiguous or the buffer is full.
 * Files other than WALs are the wrapped VFS's own, untouched.
 */
#ifndef CHUTE_STORE_WALVFS_H
#define CHUTE_STORE_WALVFS_H

/* The name to pass to sqlite3_open_v2. */
#define WALVFS_NAME "chute-wal"

/* Registers the VFS (not as the default) once per process; later calls
 * return the first result. Returns an SQLite result code. Thread-safe. */
int walvfs_register(void);

#endif
