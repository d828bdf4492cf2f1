/* The WAL write-gathering VFS; see walvfs.h. */
#include "store/walvfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <string.h>

/* A WAL frame header is 24 bytes; bytes 4..7 hold the database size in
 * pages after the commit, non-zero only in the last frame of a commit
 * (SQLite's documented file format). */
#define FRAME_HEADER 24
/* The most one gathered write holds; a big commit goes out in such pieces.
 * Below 128 KiB: the unix VFS hands at most 0x1ffff bytes to one pwrite
 * (it masks the length), and a remainder that is a multiple of 128 KiB
 * would then be reported as a full disk. */
#define BUF_CAP (120 * 1024)

typedef struct walfile {
    sqlite3_file base;  /* pMethods = &wal_methods */
    sqlite3_file *real; /* the wrapped VFS's file, right after this struct */
    unsigned char *buf; /* gathered writes, allocated on first use */
    size_t len;
    sqlite3_int64 off;  /* file offset of buf[0] */
    int commit_page;    /* the next write is the page of a commit frame */
} walfile;

/* Where the wrapped file starts inside the object SQLite allocates. */
#define REAL_OFFSET ((sizeof(walfile) + 15) & ~(size_t)15)

static sqlite3_vfs *base_vfs;

static int flush(walfile *w)
{
    if (w->len == 0)
        return SQLITE_OK;
    int rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->off);
    w->len = 0;
    return rc;
}

/* ---- the WAL file's methods ------------------------------------------------ */

static int w_close(sqlite3_file *f)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    int rc2 = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
    sqlite3_free(w->buf);
    w->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, out, amt, off);
}

static int w_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
    walfile *w = (walfile *)f;
    int rc;
    if (w->len && (off != w->off + (sqlite3_int64)w->len || w->len + (size_t)amt > BUF_CAP)) {
        if ((rc = flush(w)) != SQLITE_OK)
            return rc;
    }
    if (!w->buf && (w->buf = sqlite3_malloc(BUF_CAP)) == NULL) {
        /* No memory for gathering: write through, as SQLite would. */
        w->commit_page = 0;
        return w->real->pMethods->xWrite(w->real, data, amt, off);
    }
    if ((size_t)amt > BUF_CAP) {
        w->commit_page = 0;
        return w->real->pMethods->xWrite(w->real, data, amt, off);
    }
    if (w->len == 0)
        w->off = off;
    memcpy(w->buf + w->len, data, (size_t)amt);
    w->len += (size_t)amt;
    if (amt == FRAME_HEADER) {
        const unsigned char *h = data;
        w->commit_page = (h[4] | h[5] | h[6] | h[7]) != 0;
        return SQLITE_OK;
    }
    if (w->commit_page) {
        /* The commit is complete: it reaches the operating system before
         * SQLite's commit returns. */
        w->commit_page = 0;
        return flush(w);
    }
    return SQLITE_OK;
}

static int w_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int w_sync(sqlite3_file *f, int flags)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int w_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int w_lock(sqlite3_file *f, int level)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xLock(w->real, level);
}

static int w_unlock(sqlite3_file *f, int level)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xUnlock(w->real, level);
}

static int w_check_reserved(sqlite3_file *f, int *out)
{
    walfile *w = (walfile *)f;
    return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int w_file_control(sqlite3_file *f, int op, void *arg)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int w_sector_size(sqlite3_file *f)
{
    walfile *w = (walfile *)f;
    return w->real->pMethods->xSectorSize(w->real);
}

static int w_device_characteristics(sqlite3_file *f)
{
    walfile *w = (walfile *)f;
    return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* Shared memory and memory mapping belong to the database file, not the
 * log; they are passed on all the same, after a flush. */
static int w_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    if (rc != SQLITE_OK)
        return rc;
    if (w->real->pMethods->iVersion < 2 || !w->real->pMethods->xShmMap)
        return SQLITE_IOERR_SHMMAP;
    return w->real->pMethods->xShmMap(w->real, page, size, extend, out);
}

static int w_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    if (rc != SQLITE_OK)
        return rc;
    if (w->real->pMethods->iVersion < 2 || !w->real->pMethods->xShmLock)
        return SQLITE_IOERR_SHMLOCK;
    return w->real->pMethods->xShmLock(w->real, offset, n, flags);
}

static void w_shm_barrier(sqlite3_file *f)
{
    walfile *w = (walfile *)f;
    flush(w);
    if (w->real->pMethods->iVersion >= 2 && w->real->pMethods->xShmBarrier)
        w->real->pMethods->xShmBarrier(w->real);
}

static int w_shm_unmap(sqlite3_file *f, int delete_flag)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    if (rc != SQLITE_OK)
        return rc;
    if (w->real->pMethods->iVersion < 2 || !w->real->pMethods->xShmUnmap)
        return SQLITE_OK;
    return w->real->pMethods->xShmUnmap(w->real, delete_flag);
}

static int w_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
    walfile *w = (walfile *)f;
    int rc = flush(w);
    *out = NULL;
    if (rc != SQLITE_OK)
        return rc;
    if (w->real->pMethods->iVersion < 3 || !w->real->pMethods->xFetch)
        return SQLITE_OK; /* no mapping: SQLite reads instead */
    return w->real->pMethods->xFetch(w->real, off, amt, out);
}

static int w_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    walfile *w = (walfile *)f;
    if (w->real->pMethods->iVersion < 3 || !w->real->pMethods->xUnfetch)
        return SQLITE_OK;
    return w->real->pMethods->xUnfetch(w->real, off, p);
}

static const sqlite3_io_methods wal_methods = {
    .iVersion = 3,
    .xClose = w_close,
    .xRead = w_read,
    .xWrite = w_write,
    .xTruncate = w_truncate,
    .xSync = w_sync,
    .xFileSize = w_file_size,
    .xLock = w_lock,
    .xUnlock = w_unlock,
    .xCheckReservedLock = w_check_reserved,
    .xFileControl = w_file_control,
    .xSectorSize = w_sector_size,
    .xDeviceCharacteristics = w_device_characteristics,
    .xShmMap = w_shm_map,
    .xShmLock = w_shm_lock,
    .xShmBarrier = w_shm_barrier,
    .xShmUnmap = w_shm_unmap,
    .xFetch = w_fetch,
    .xUnfetch = w_unfetch,
};

/* ---- the VFS: xOpen wraps logs, everything else is the base's --------------- */

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                  int *out_flags)
{
    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL))
        return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
    walfile *w = (walfile *)f;
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)((char *)f + REAL_OFFSET);
    int rc = base_vfs->xOpen(base_vfs, name, w->real, flags, out_flags);
    /* SQLite calls xClose exactly when pMethods is set. */
    w->base.pMethods = (rc == SQLITE_OK && w->real->pMethods) ? &wal_methods : NULL;
    if (rc != SQLITE_OK && w->real->pMethods)
        w->real->pMethods->xClose(w->real);
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return base_vfs->xDelete(base_vfs, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return base_vfs->xDlOpen(base_vfs, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    base_vfs->xDlError(base_vfs, n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return base_vfs->xDlSym(base_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    base_vfs->xDlClose(base_vfs, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return base_vfs->xRandomness(base_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return base_vfs->xSleep(base_vfs, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return base_vfs->xCurrentTime(base_vfs, out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}

static int v_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    if (base_vfs->iVersion >= 2 && base_vfs->xCurrentTimeInt64)
        return base_vfs->xCurrentTimeInt64(base_vfs, out);
    double d;
    int rc = base_vfs->xCurrentTime(base_vfs, &d);
    *out = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

static sqlite3_vfs wal_vfs = {
    .iVersion = 2,
    .zName = WALVFS_NAME,
    .xOpen = v_open,
    .xDelete = v_delete,
    .xAccess = v_access,
    .xFullPathname = v_full_pathname,
    .xDlOpen = v_dlopen,
    .xDlError = v_dlerror,
    .xDlSym = v_dlsym,
    .xDlClose = v_dlclose,
    .xRandomness = v_randomness,
    .xSleep = v_sleep,
    .xCurrentTime = v_current_time,
    .xGetLastError = v_last_error,
    .xCurrentTimeInt64 = v_current_time64,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

static void do_register(void)
{
    base_vfs = sqlite3_vfs_find(NULL);
    if (!base_vfs)
        return;
    wal_vfs.szOsFile = (int)(REAL_OFFSET + (size_t)base_vfs->szOsFile);
    wal_vfs.mxPathname = base_vfs->mxPathname;
    register_rc = sqlite3_vfs_register(&wal_vfs, 0);
}

int walvfs_register(void)
{
    pthread_once(&once, do_register);
    return register_rc;
}
