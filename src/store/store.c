/* SQLite persistence of one partition; see store.h. */
#include "store/store.h"

#include "store/walcheck.h"
#include "store/walvfs.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 3

#define INSTANCE_COLUMNS                                                                           \
    "key, definition_key, bpmn_process_id, version, state, has_incident, started_at, ended_at, "  \
    "data"

/* Columns in the order every statement below binds and reads them. */
#define JOB_COLUMNS                                                                                \
    "key, type, state, retries, priority, created_at, deadline, worker, headers, variables, "      \
    "error_code, error_message, incident_key, incident_type, completed_at, "                       \
    "process_instance_key, process_definition_key, process_definition_version, "                   \
    "element_instance_key, bpmn_process_id, element_id, result, assignee"

enum {
    C_KEY,
    C_TYPE,
    C_STATE,
    C_RETRIES,
    C_PRIORITY,
    C_CREATED,
    C_DEADLINE,
    C_WORKER,
    C_HEADERS,
    C_VARIABLES,
    C_ERROR_CODE,
    C_ERROR_MESSAGE,
    C_INCIDENT_KEY,
    C_INCIDENT_TYPE,
    C_COMPLETED,
    C_PI_KEY,
    C_PD_KEY,
    C_PD_VERSION,
    C_EI_KEY,
    C_BPMN_ID,
    C_ELEMENT_ID,
    C_RESULT,
    C_ASSIGNEE,
    C_COUNT
};

/*
 * Checkpoints: SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses its threshold, so one commit in a thousand pages would stall the
 * event loop for the copy and its fsyncs (several milliseconds: the tail of
 * every latency figure). Instead a thread of the store, with its own
 * connection, copies the WAL back into the database each time CKPT_PAGES
 * more pages were written; the writer never waits for it.
 *
 * The log must still be rewound now and then: SQLite does it when a write
 * transaction starts with the whole log copied, which the thread can hardly
 * arrange while the writer commits back to back. A log that only grows is
 * costly beyond its disk space: every sync then also writes the file's new
 * size (measured at 1 000 jobs/s: no commit under 250 us, against 60 % of
 * them when the file is reused). So at ckpt_max pages the writer copies the
 * remainder itself (about CKPT_PAGES pages at most, the thread did the rest:
 * a stall of two syncs), and its next transaction rewinds the log, which is
 * then overwritten in place. With durability normal no commit syncs, the
 * growing file costs nothing, and the stall is rarer with a larger bound.
 */
#define CKPT_PAGES 1000
#define CKPT_PAGES_MAX_FULL 3000
#define CKPT_PAGES_MAX_NORMAL 16000

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *insert, *update, *delete_, *set_counter, *get, *sweep, *oldest;
    sqlite3_stmt *put_definition, *put_instance, *get_instance, *sweep_instances,
        *oldest_instance;
    int in_tx;
    int lock_fd; /* the .lock file, held (flock) while the store is open */
    chute_durability durability;
    /* Where messages go (the engine's hook). Called from the checkpoint
     * thread too, which the hook's contract allows (chute_log_fn). */
    chute_log_fn log;
    void *log_ctx;
    /* the checkpoint thread */
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    int ckpt_wanted, ckpt_stop; /* under ckpt_mu */
    int ckpt_base;              /* WAL pages when the thread was last woken (writer only) */
    int ckpt_max;               /* WAL pages at which the writer checkpoints itself */
};

static const char *const schema_v1[] = {
    "CREATE TABLE jobs ("
    " key INTEGER PRIMARY KEY,"
    " type TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " retries INTEGER NOT NULL,"
    " priority INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " deadline INTEGER NOT NULL,"
    " worker TEXT,"
    " headers TEXT,"
    " variables TEXT,"
    " error_code TEXT,"
    " error_message TEXT,"
    " incident_key INTEGER NOT NULL DEFAULT 0,"
    " incident_type INTEGER NOT NULL DEFAULT 0,"
    " completed_at INTEGER NOT NULL DEFAULT 0,"
    " process_instance_key INTEGER NOT NULL DEFAULT 0,"
    " process_definition_key INTEGER NOT NULL DEFAULT 0,"
    " process_definition_version INTEGER NOT NULL DEFAULT 0,"
    " element_instance_key INTEGER NOT NULL DEFAULT 0,"
    " bpmn_process_id TEXT,"
    " element_id TEXT,"
    " result TEXT)", /* variables given at completion; merged into `variables` on read */
    "CREATE INDEX jobs_completed ON jobs(completed_at) WHERE state = 7",
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT INTO meta(name, value) VALUES ('key_counter', 0)",
};

/* Version 2: deployed process definitions. A resource with several
 * processes is stored once per process (its XML is what a restart parses
 * again). */
static const char *const schema_v2[] = {
    "CREATE TABLE process_definitions ("
    " key INTEGER PRIMARY KEY,"
    " bpmn_process_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " resource_name TEXT NOT NULL,"
    " checksum INTEGER NOT NULL,"
    " deployment_key INTEGER NOT NULL,"
    " deployed_at INTEGER NOT NULL,"
    " content BLOB NOT NULL)",
    "CREATE UNIQUE INDEX process_definitions_version ON process_definitions(bpmn_process_id, "
    "version)",
};

/* Version 3: process instances, one row each. |data| is the instance's
 * state as the engine serialises it (its element instances, variables and
 * history); the other columns are what searches filter on. */
static const char *const schema_v3[] = {
    /* ZenBPM's assignment of a job (POST /zenbpm/v1/jobs/{key}/assign). */
    "ALTER TABLE jobs ADD COLUMN assignee TEXT",
    "CREATE TABLE process_instances ("
    " key INTEGER PRIMARY KEY,"
    " definition_key INTEGER NOT NULL,"
    " bpmn_process_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " has_incident INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL,"
    " ended_at INTEGER NOT NULL,"
    " data BLOB NOT NULL)",
    "CREATE INDEX process_instances_ended ON process_instances(ended_at) WHERE state <> 1",
    "CREATE INDEX process_instances_active ON process_instances(state) WHERE state = 1",
    "CREATE TABLE timer_starts ("
    " definition_key INTEGER NOT NULL,"
    " event INTEGER NOT NULL,"
    " due INTEGER NOT NULL,"
    " repeat INTEGER NOT NULL,"
    " PRIMARY KEY (definition_key, event))",
    "CREATE TABLE decision_definitions ("
    " key INTEGER PRIMARY KEY,"
    " decision_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " requirements_key INTEGER NOT NULL,"
    " resource_name TEXT NOT NULL,"
    " checksum INTEGER NOT NULL,"
    " deployment_key INTEGER NOT NULL,"
    " deployed_at INTEGER NOT NULL,"
    " content BLOB NOT NULL)",
    "CREATE TABLE messages ("
    " key INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " correlation_key TEXT NOT NULL,"
    " message_id TEXT,"
    " expires_at INTEGER NOT NULL,"
    " variables TEXT,"
    " correlated TEXT NOT NULL)",
};

static int fail(store *s, chute_error *err, int code, const char *doing)
{
    return chute_error_set(err, code, "%s: %s: %s", s->path, doing,
                           s->db ? sqlite3_errmsg(s->db) : "out of memory");
}

/* Maps an SQLite result to our codes: a file that is not a database or is
 * damaged is "corrupt", everything else a storage failure. */
static int code_of(int rc)
{
    rc &= 0xff;
    return (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) ? CHUTE_ECORRUPT : CHUTE_ESTORE;
}

static int exec(store *s, const char *sql, chute_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), sql);
    return 0;
}

static int prepare(store *s, sqlite3_stmt **st, const char *sql, chute_error *err)
{
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "preparing a statement");
    return 0;
}

/* Runs a statement that returns no rows and resets it. */
static int step_done(store *s, sqlite3_stmt *st, chute_error *err, const char *doing)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st); /* every statement binds all its parameters each time */
    if (rc != SQLITE_DONE)
        return fail(s, err, code_of(rc), doing);
    return 0;
}

static int64_t query_int(store *s, const char *sql, int *rc_out)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
    }
    *rc_out = rc;
    return v;
}

static int check_integrity(store *s, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "checking integrity");
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc != SQLITE_ROW) {
        ret = fail(s, err, code_of(rc), "checking integrity");
    } else {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (!res || strcmp(res, "ok") != 0) {
            ret = chute_error_set(err, CHUTE_ECORRUPT, "%s: the integrity check failed: %s",
                                  s->path, res ? res : "(no result)");
        }
    }
    sqlite3_finalize(st);
    return ret;
}

static int migrate(store *s, chute_error *err)
{
    int rc;
    int64_t version = query_int(s, "PRAGMA user_version", &rc);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "reading the schema version");
    if (version > SCHEMA_VERSION) {
        return chute_error_set(err, CHUTE_ECORRUPT,
                               "%s: schema version %lld is newer than this Chute understands "
                               "(%d); use a newer chuted",
                               s->path, (long long)version, SCHEMA_VERSION);
    }
    if (version == SCHEMA_VERSION)
        return 0;
    /* Version 0 is a new, empty file (or one some other program wrote: then
     * creating our tables fails and we say so); each later version is one
     * step forward from the one before. */
    int ret = exec(s, "BEGIN IMMEDIATE", err);
    if (version < 1) {
        for (size_t i = 0; ret == 0 && i < sizeof schema_v1 / sizeof *schema_v1; i++)
            ret = exec(s, schema_v1[i], err);
    }
    if (version < 2) {
        for (size_t i = 0; ret == 0 && i < sizeof schema_v2 / sizeof *schema_v2; i++)
            ret = exec(s, schema_v2[i], err);
    }
    if (version < 3) {
        for (size_t i = 0; ret == 0 && i < sizeof schema_v3 / sizeof *schema_v3; i++)
            ret = exec(s, schema_v3[i], err);
    }
    if (ret == 0)
        ret = exec(s, "PRAGMA user_version = 3", err);
    if (ret == 0)
        ret = exec(s, "COMMIT", err);
    if (ret != 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

static void ckpt_stop(store *s)
{
    if (!s->ckpt_started)
        return;
    pthread_mutex_lock(&s->ckpt_mu);
    s->ckpt_stop = 1;
    pthread_cond_signal(&s->ckpt_cv);
    pthread_mutex_unlock(&s->ckpt_mu);
    pthread_join(s->ckpt_thread, NULL);
    s->ckpt_started = 0;
}

void store_close(store *s)
{
    if (!s)
        return;
    ckpt_stop(s);
    sqlite3_stmt *all[] = {s->begin,   s->commit,      s->rollback, s->insert,
                           s->update,  s->delete_,     s->set_counter, s->get,
                           s->sweep,   s->oldest,      s->put_definition, s->put_instance,
                           s->get_instance, s->sweep_instances, s->oldest_instance};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->ckpt_mu);
    pthread_cond_destroy(&s->ckpt_cv);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s->path);
    free(s);
}

/* ---- checkpoints --------------------------------------------------------------- */

static void *ckpt_main(void *arg)
{
    store *s = arg;
    sqlite3 *db = NULL;
    /* Its own connection: SQLite connections are not shared between
     * threads here (NOMUTEX). A checkpoint syncs the WAL before copying and
     * the database after, whatever the connection's synchronous level. */
    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        chute_log_emit(s->log, s->log_ctx, CHUTE_LOG_WARN,
                       "%s: the checkpoint thread cannot open the database: %s; the writer "
                       "checkpoints instead",
                       s->path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 100);
    sqlite3_exec(db,
                 s->durability == CHUTE_DURABILITY_FULL ? "PRAGMA synchronous = FULL"
                                                        : "PRAGMA synchronous = NORMAL",
                 NULL, NULL, NULL);
    /* Its own close must not checkpoint (the writer's close does). */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    pthread_mutex_lock(&s->ckpt_mu);
    for (;;) {
        while (!s->ckpt_wanted && !s->ckpt_stop)
            pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
        if (s->ckpt_stop)
            break;
        s->ckpt_wanted = 0;
        pthread_mutex_unlock(&s->ckpt_mu);
        /* PASSIVE: copies what it can without blocking the writer; frames
         * committed meanwhile wait for the next round. */
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            chute_log_emit(s->log, s->log_ctx, CHUTE_LOG_WARN, "%s: checkpoint: %s", s->path,
                           sqlite3_errmsg(db));
        pthread_mutex_lock(&s->ckpt_mu);
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    sqlite3_close(db);
    return NULL;
}

/* Called by SQLite after each commit of the writer with the WAL's size in
 * pages. The thread gets one round per CKPT_PAGES new pages: under steady
 * writes the log is rarely found fully copied at the start of a write (which
 * is when SQLite rewinds it), so its size alone would wake the thread after
 * every commit. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    store *s = arg;
    if (pages < s->ckpt_base) /* the log was rewound */
        s->ckpt_base = 0;
    if (pages >= s->ckpt_max || (!s->ckpt_started && pages >= CKPT_PAGES)) {
        /* The writer's own checkpoint: what the thread copied is not copied
         * again, and with no write running meanwhile it reaches the end of
         * the log, so the next write rewinds it. */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        s->ckpt_base = 0;
        return SQLITE_OK;
    }
    if (s->ckpt_started && pages >= s->ckpt_base + CKPT_PAGES) {
        s->ckpt_base = pages;
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_wanted = 1;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
    }
    return SQLITE_OK;
}

/* One daemon owns a partition's file: a second one started on the same
 * data directory fails at open instead of interleaving writes. An flock on
 * a file beside the database says so (released by the kernel when the
 * process dies, so a crash leaves nothing to clean up). */
static int take_lock(store *s, chute_error *err)
{
    size_t n = strlen(s->path) + sizeof ".lock";
    char *lp = malloc(n);
    if (!lp)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory opening %s", s->path);
    snprintf(lp, n, "%s.lock", s->path);
    s->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int ret = 0;
    if (s->lock_fd < 0) {
        ret = chute_error_set(err, CHUTE_ESTORE, "%s: cannot open the lock file: %s", lp,
                              strerror(errno));
    } else if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            ret = chute_error_set(err, CHUTE_ESTORE,
                                  "%s: the database is locked by another process (is another "
                                  "chuted using this data directory?)",
                                  s->path);
        else
            ret = chute_error_set(err, CHUTE_ESTORE, "%s: cannot lock: %s", lp, strerror(errno));
    }
    free(lp);
    return ret;
}

/* Copies |from| to |to| (the damaged log, kept for the operator). */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                rc = -1;
                break;
            }
            w += k;
        }
        if (rc)
            break;
    }
    if (rc == 0 && fsync(out) != 0)
        rc = -1;
    close(in);
    close(out);
    return rc;
}

/*
 * Refuses a log whose committed transactions SQLite would drop (see
 * store.h), after keeping a copy of it. Runs with the lock held, before
 * SQLite opens the file.
 */
static int check_wal(store *s, int accept_loss, chute_error *err)
{
    char wal[4096], copy[4200];
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    wal_check c;
    int rc = wal_check_file(wal, &c, err);
    if (rc != 0 || !wal_check_damaged(&c))
        return rc;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
    snprintf(copy, sizeof copy, "%s.damaged-%s", wal, when);
    int kept = copy_file(wal, copy) == 0;
    char what[512];
    if (c.header_damaged)
        snprintf(what, sizeof what,
                 "its header fails its checksum, so SQLite would ignore every transaction in it");
    else
        snprintf(what, sizeof what,
                 "frame %llu fails its checksum, and %llu committed transaction%s after it "
                 "(%llu frames) would be dropped by SQLite's recovery",
                 (unsigned long long)c.bad_frame, (unsigned long long)c.commits_lost,
                 c.commits_lost == 1 ? "" : "s", (unsigned long long)c.frames_lost);
    if (accept_loss) {
        chute_log_emit(s->log, s->log_ctx, CHUTE_LOG_ERROR,
                       "%s: the write-ahead log is damaged: %s; opening it anyway as asked "
                       "(--accept-wal-loss)%s%s",
                       wal, what, kept ? "; a copy is kept at " : "; no copy could be kept",
                       kept ? copy : "");
        return 0;
    }
    return chute_error_set(err, CHUTE_ECORRUPT,
                           "%s: the write-ahead log is damaged: %s. %s%s. Restore the data "
                           "directory from a backup, or start with --accept-wal-loss to open it "
                           "without them",
                           wal, what, kept ? "A copy is kept at " : "No copy could be kept",
                           kept ? copy : "");
}

int store_open(store **out, const char *path, chute_durability durability, chute_log_fn log,
               void *log_ctx, int accept_wal_loss, chute_error *err)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory opening %s", path);
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory opening %s", path);
    }
    s->lock_fd = -1;
    s->durability = durability;
    s->log = log;
    s->log_ctx = log_ctx;
    s->ckpt_max = durability == CHUTE_DURABILITY_FULL ? CKPT_PAGES_MAX_FULL : CKPT_PAGES_MAX_NORMAL;
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    int ret = take_lock(s, err);
    if (ret == 0)
        ret = check_wal(s, accept_wal_loss, err);
    if (ret != 0) {
        store_close(s);
        return ret;
    }
    /* The writer's log goes through walvfs (one write per commit); if it
     * cannot be registered the default VFS does the same job, slower. */
    const char *vfs = walvfs_register() == SQLITE_OK ? WALVFS_NAME : NULL;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) {
        ret = chute_error_set(err, CHUTE_ESTORE, "%s: cannot open the database: %s", path,
                              s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    {
        int qrc;
        sqlite3_stmt *st;
        qrc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (qrc == SQLITE_OK) {
            qrc = sqlite3_step(st);
            if (qrc == SQLITE_ROW) {
                const char *mode = (const char *)sqlite3_column_text(st, 0);
                qrc = (mode && strcmp(mode, "wal") == 0) ? SQLITE_OK : SQLITE_ERROR;
            }
            sqlite3_finalize(st);
        }
        if (qrc == SQLITE_BUSY || qrc == SQLITE_LOCKED) {
            ret = chute_error_set(err, CHUTE_ESTORE,
                                  "%s: the database is locked by another process (is another "
                                  "chuted using this data directory?)",
                                  path);
            goto out;
        }
        if (qrc != SQLITE_OK) {
            ret = fail(s, err, code_of(qrc), "switching to WAL mode");
            goto out;
        }
    }
    if ((ret = exec(s,
                    durability == CHUTE_DURABILITY_FULL ? "PRAGMA synchronous = FULL"
                                                        : "PRAGMA synchronous = NORMAL",
                    err)) != 0)
        goto out;
    if ((ret = exec(s, "PRAGMA cache_size = -65536", err)) != 0)
        goto out;
    if ((ret = check_integrity(s, err)) != 0)
        goto out;
    if ((ret = migrate(s, err)) != 0)
        goto out;
    if ((ret = prepare(s, &s->begin, "BEGIN IMMEDIATE", err)) != 0 ||
        (ret = prepare(s, &s->commit, "COMMIT", err)) != 0 ||
        (ret = prepare(s, &s->rollback, "ROLLBACK", err)) != 0 ||
        (ret = prepare(
             s, &s->insert,
             "INSERT INTO jobs(" JOB_COLUMNS ") VALUES "
             "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23)",
             err)) != 0 ||
        (ret = prepare(s, &s->update,
                       "UPDATE jobs SET state=?3, retries=?4, priority=?5, deadline=?7, worker=?8,"
                       " variables=?10, error_code=?11, error_message=?12, incident_key=?13,"
                       " incident_type=?14, completed_at=?15, result=?22, assignee=?23 WHERE key=?1",
                       err)) != 0 ||
        (ret = prepare(s, &s->delete_, "DELETE FROM jobs WHERE key=?1", err)) != 0 ||
        (ret = prepare(s, &s->set_counter, "UPDATE meta SET value=?1 WHERE name='key_counter'",
                       err)) != 0 ||
        (ret = prepare(s, &s->get, "SELECT " JOB_COLUMNS " FROM jobs WHERE key=?1", err)) != 0 ||
        (ret = prepare(s, &s->sweep,
                       "DELETE FROM jobs WHERE key IN (SELECT key FROM jobs WHERE state = 7 AND "
                       "completed_at <= ?1 ORDER BY completed_at LIMIT ?2)",
                       err)) != 0 ||
        (ret = prepare(s, &s->oldest, "SELECT min(completed_at) FROM jobs WHERE state = 7", err)) !=
            0 ||
        (ret = prepare(s, &s->put_definition,
                       "INSERT INTO process_definitions(key, bpmn_process_id, version, "
                       "resource_name, checksum, deployment_key, deployed_at, content) VALUES "
                       "(?1,?2,?3,?4,?5,?6,?7,?8)",
                       err)) != 0 ||
        (ret = prepare(s, &s->put_instance,
                       "INSERT OR REPLACE INTO process_instances(" INSTANCE_COLUMNS
                       ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                       err)) != 0 ||
        (ret = prepare(s, &s->get_instance,
                       "SELECT " INSTANCE_COLUMNS " FROM process_instances WHERE key=?1", err)) !=
            0 ||
        (ret = prepare(s, &s->sweep_instances,
                       "DELETE FROM process_instances WHERE key IN (SELECT key FROM "
                       "process_instances WHERE state <> 1 AND ended_at <= ?1 ORDER BY ended_at "
                       "LIMIT ?2)",
                       err)) != 0 ||
        (ret = prepare(s, &s->oldest_instance,
                       "SELECT min(ended_at) FROM process_instances WHERE state <> 1", err)) != 0)
        goto out;
    sqlite3_wal_hook(s->db, on_wal, s);
    int prc = pthread_create(&s->ckpt_thread, NULL, ckpt_main, s);
    if (prc == 0)
        s->ckpt_started = 1;
    else /* on_wal falls back to checkpointing in the writer */
        chute_log_emit(s->log, s->log_ctx, CHUTE_LOG_WARN,
                       "%s: no checkpoint thread: %s; the writer checkpoints instead", s->path,
                       strerror(prc));

out:
    if (ret != 0) {
        store_close(s);
        return ret;
    }
    *out = s;
    return 0;
}

int store_begin(store *s, chute_error *err)
{
    if (s->in_tx)
        return 0;
    int ret = step_done(s, s->begin, err, "beginning a transaction");
    if (ret == 0)
        s->in_tx = 1;
    return ret;
}

int store_commit(store *s, chute_error *err)
{
    if (!s->in_tx)
        return 0;
    int ret = step_done(s, s->commit, err, "committing");
    if (ret == 0)
        s->in_tx = 0;
    return ret;
}

void store_rollback(store *s)
{
    if (!s->in_tx)
        return;
    /* A failed COMMIT may already have ended the transaction; ROLLBACK then
     * fails harmlessly. */
    sqlite3_step(s->rollback);
    sqlite3_reset(s->rollback);
    s->in_tx = 0;
}

static void bind_text(sqlite3_stmt *st, int col, const char *v, size_t len)
{
    if (v)
        sqlite3_bind_text(st, col + 1, v, len ? (int)len : -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col + 1);
}

static void bind_job(sqlite3_stmt *st, const store_job *j, int all)
{
    sqlite3_bind_int64(st, C_KEY + 1, j->key);
    sqlite3_bind_int(st, C_STATE + 1, j->state);
    sqlite3_bind_int(st, C_RETRIES + 1, j->retries);
    sqlite3_bind_int(st, C_PRIORITY + 1, j->priority);
    sqlite3_bind_int64(st, C_DEADLINE + 1, j->deadline);
    bind_text(st, C_WORKER, j->worker, 0);
    bind_text(st, C_VARIABLES, j->variables, j->variables_len);
    bind_text(st, C_ERROR_CODE, j->error_code, 0);
    bind_text(st, C_ERROR_MESSAGE, j->error_message, 0);
    sqlite3_bind_int64(st, C_INCIDENT_KEY + 1, j->incident_key);
    sqlite3_bind_int(st, C_INCIDENT_TYPE + 1, j->incident_type);
    sqlite3_bind_int64(st, C_COMPLETED + 1, j->completed_at);
    bind_text(st, C_RESULT, j->result, j->result_len);
    bind_text(st, C_ASSIGNEE, j->assignee, 0);
    if (!all)
        return;
    bind_text(st, C_TYPE, j->type, 0);
    sqlite3_bind_int64(st, C_CREATED + 1, j->created_at);
    bind_text(st, C_HEADERS, j->headers, j->headers_len);
    sqlite3_bind_int64(st, C_PI_KEY + 1, j->process.process_instance_key);
    sqlite3_bind_int64(st, C_PD_KEY + 1, j->process.process_definition_key);
    sqlite3_bind_int(st, C_PD_VERSION + 1, j->process.process_definition_version);
    sqlite3_bind_int64(st, C_EI_KEY + 1, j->process.element_instance_key);
    bind_text(st, C_BPMN_ID, j->process.bpmn_process_id, 0);
    bind_text(st, C_ELEMENT_ID, j->process.element_id, 0);
}

int store_insert(store *s, const store_job *j, chute_error *err)
{
    bind_job(s->insert, j, 1);
    return step_done(s, s->insert, err, "inserting a job");
}

int store_update(store *s, const store_job *j, chute_error *err)
{
    bind_job(s->update, j, 0);
    return step_done(s, s->update, err, "updating a job");
}

int store_delete(store *s, int64_t key, chute_error *err)
{
    sqlite3_bind_int64(s->delete_, 1, key);
    return step_done(s, s->delete_, err, "deleting a job");
}

int store_set_counter(store *s, int64_t counter, chute_error *err)
{
    sqlite3_bind_int64(s->set_counter, 1, counter);
    return step_done(s, s->set_counter, err, "saving the key counter");
}

static const char *col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

static void read_row(sqlite3_stmt *st, store_job *j)
{
    memset(j, 0, sizeof *j);
    j->key = sqlite3_column_int64(st, C_KEY);
    j->type = col_text(st, C_TYPE);
    j->state = sqlite3_column_int(st, C_STATE);
    j->retries = sqlite3_column_int(st, C_RETRIES);
    j->priority = sqlite3_column_int(st, C_PRIORITY);
    j->created_at = sqlite3_column_int64(st, C_CREATED);
    j->deadline = sqlite3_column_int64(st, C_DEADLINE);
    j->worker = col_text(st, C_WORKER);
    j->headers = col_text(st, C_HEADERS);
    j->headers_len = (size_t)sqlite3_column_bytes(st, C_HEADERS);
    j->variables = col_text(st, C_VARIABLES);
    j->variables_len = (size_t)sqlite3_column_bytes(st, C_VARIABLES);
    j->error_code = col_text(st, C_ERROR_CODE);
    j->error_message = col_text(st, C_ERROR_MESSAGE);
    j->incident_key = sqlite3_column_int64(st, C_INCIDENT_KEY);
    j->incident_type = sqlite3_column_int(st, C_INCIDENT_TYPE);
    j->completed_at = sqlite3_column_int64(st, C_COMPLETED);
    j->process.process_instance_key = sqlite3_column_int64(st, C_PI_KEY);
    j->process.process_definition_key = sqlite3_column_int64(st, C_PD_KEY);
    j->process.process_definition_version = sqlite3_column_int(st, C_PD_VERSION);
    j->process.element_instance_key = sqlite3_column_int64(st, C_EI_KEY);
    j->process.bpmn_process_id = col_text(st, C_BPMN_ID);
    j->process.element_id = col_text(st, C_ELEMENT_ID);
    j->result = col_text(st, C_RESULT);
    j->result_len = (size_t)sqlite3_column_bytes(st, C_RESULT);
    j->assignee = col_text(st, C_ASSIGNEE);
}

int store_load(store *s, int64_t *counter, store_row_fn fn, void *ctx, chute_error *err)
{
    int rc;
    *counter = query_int(s, "SELECT value FROM meta WHERE name = 'key_counter'", &rc);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "reading the key counter");
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(s->db, "SELECT " JOB_COLUMNS " FROM jobs WHERE state != 7 ORDER BY key",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "loading jobs");
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_job j;
        read_row(st, &j);
        if (!j.type) {
            ret = chute_error_set(err, CHUTE_ECORRUPT, "%s: job %lld has no type", s->path,
                                  (long long)j.key);
            break;
        }
        if ((ret = fn(ctx, &j)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(s, err, code_of(rc), "loading jobs");
    sqlite3_finalize(st);
    return ret;
}

int store_get(store *s, int64_t key, store_row_fn fn, void *ctx, chute_error *err)
{
    sqlite3_bind_int64(s->get, 1, key);
    int rc = sqlite3_step(s->get);
    int ret;
    if (rc == SQLITE_ROW) {
        store_job j;
        read_row(s->get, &j);
        ret = fn(ctx, &j);
    } else if (rc == SQLITE_DONE) {
        ret = CHUTE_ENOTFOUND;
    } else {
        ret = fail(s, err, code_of(rc), "reading a job");
    }
    sqlite3_reset(s->get);
    return ret;
}

int store_sweep_completed(store *s, int64_t before, int limit, int *deleted, chute_error *err)
{
    sqlite3_bind_int64(s->sweep, 1, before);
    sqlite3_bind_int(s->sweep, 2, limit);
    int ret = step_done(s, s->sweep, err, "removing expired results");
    *deleted = ret == 0 ? sqlite3_changes(s->db) : 0;
    return ret;
}

int store_list(store *s, const char *type, int state, size_t offset, size_t limit, store_row_fn fn,
               void *ctx, chute_error *err)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " JOB_COLUMNS
             " FROM jobs WHERE %s AND %s ORDER BY key DESC LIMIT ?3 OFFSET ?4",
             type ? "type = ?1" : "?1 IS NULL", state ? "state = ?2" : "state != 7 AND ?2 = 0");
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "listing jobs");
    if (type)
        sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(limit > INT64_MAX ? INT64_MAX : limit));
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(offset > INT64_MAX ? INT64_MAX : offset));
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_job j;
        read_row(st, &j);
        if (!j.type)
            continue;
        if ((ret = fn(ctx, &j)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(s, err, code_of(rc), "listing jobs");
    sqlite3_finalize(st);
    return ret > 0 ? 0 : ret;
}

int64_t store_oldest_completed(store *s)
{
    int64_t v = INT64_MAX;
    if (sqlite3_step(s->oldest) == SQLITE_ROW && sqlite3_column_type(s->oldest, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s->oldest, 0);
    sqlite3_reset(s->oldest);
    return v;
}

/* ---- process definitions ---------------------------------------------------------- */

int store_put_definition(store *s, const store_definition *d, chute_error *err)
{
    sqlite3_stmt *st = s->put_definition;
    sqlite3_bind_int64(st, 1, d->key);
    sqlite3_bind_text(st, 2, d->bpmn_process_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, d->version);
    sqlite3_bind_text(st, 4, d->resource_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)d->checksum);
    sqlite3_bind_int64(st, 6, d->deployment_key);
    sqlite3_bind_int64(st, 7, d->deployed_at);
    sqlite3_bind_blob(st, 8, d->content, (int)d->len, SQLITE_STATIC);
    return step_done(s, st, err, "storing a process definition");
}

int store_load_definitions(store *s, store_definition_fn fn, void *ctx, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT key, bpmn_process_id, version, resource_name, checksum, "
                                "deployment_key, deployed_at, content FROM process_definitions "
                                "ORDER BY key",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "reading the process definitions");
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_definition d = {
            .key = sqlite3_column_int64(st, 0),
            .bpmn_process_id = (const char *)sqlite3_column_text(st, 1),
            .version = sqlite3_column_int(st, 2),
            .resource_name = (const char *)sqlite3_column_text(st, 3),
            .checksum = (uint64_t)sqlite3_column_int64(st, 4),
            .deployment_key = sqlite3_column_int64(st, 5),
            .deployed_at = sqlite3_column_int64(st, 6),
            .content = sqlite3_column_blob(st, 7),
            .len = (size_t)sqlite3_column_bytes(st, 7),
        };
        if (!d.bpmn_process_id || !d.resource_name) {
            ret = chute_error_set(err, CHUTE_ECORRUPT, "%s: process definition %lld has no id",
                                  s->path, (long long)d.key);
            break;
        }
        if ((ret = fn(ctx, &d)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(s, err, code_of(rc), "reading the process definitions");
    sqlite3_finalize(st);
    return ret;
}

int store_delete_definition(store *s, int64_t key, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "DELETE FROM process_definitions WHERE key=?1", -1, &st,
                                NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "deleting a process definition");
    sqlite3_bind_int64(st, 1, key);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, code_of(rc), "deleting a process definition");
    return 0;
}

/* ---- process instances ------------------------------------------------------ */

int store_put_instance(store *s, const store_instance *r, chute_error *err)
{
    sqlite3_stmt *st = s->put_instance;
    sqlite3_bind_int64(st, 1, r->key);
    sqlite3_bind_int64(st, 2, r->definition_key);
    sqlite3_bind_text(st, 3, r->bpmn_process_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, r->version);
    sqlite3_bind_int(st, 5, r->state);
    sqlite3_bind_int(st, 6, r->has_incident);
    sqlite3_bind_int64(st, 7, r->started_at);
    sqlite3_bind_int64(st, 8, r->ended_at);
    sqlite3_bind_blob(st, 9, r->data, (int)r->len, SQLITE_STATIC);
    return step_done(s, st, err, "storing a process instance");
}

static int instance_of_row(store *s, sqlite3_stmt *st, store_instance *r, chute_error *err)
{
    r->key = sqlite3_column_int64(st, 0);
    r->definition_key = sqlite3_column_int64(st, 1);
    r->bpmn_process_id = (const char *)sqlite3_column_text(st, 2);
    r->version = sqlite3_column_int(st, 3);
    r->state = sqlite3_column_int(st, 4);
    r->has_incident = sqlite3_column_int(st, 5);
    r->started_at = sqlite3_column_int64(st, 6);
    r->ended_at = sqlite3_column_int64(st, 7);
    r->data = sqlite3_column_blob(st, 8);
    r->len = (size_t)sqlite3_column_bytes(st, 8);
    if (!r->bpmn_process_id)
        return chute_error_set(err, CHUTE_ECORRUPT, "%s: process instance %lld has no process id",
                               s->path, (long long)r->key);
    return 0;
}

/* Runs |st| (bound) and calls |fn| per row. */
static int instance_rows(store *s, sqlite3_stmt *st, store_instance_fn fn, void *ctx,
                         chute_error *err, const char *doing)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_instance r;
        if ((ret = instance_of_row(s, st, &r, err)) != 0 || (ret = fn(ctx, &r)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = fail(s, err, code_of(rc), doing);
    return ret;
}

int store_load_instances(store *s, store_instance_fn fn, void *ctx, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT " INSTANCE_COLUMNS
                                " FROM process_instances WHERE state = 1 ORDER BY key",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "reading the process instances");
    int ret = instance_rows(s, st, fn, ctx, err, "reading the process instances");
    sqlite3_finalize(st);
    return ret;
}

int store_get_instance(store *s, int64_t key, store_instance_fn fn, void *ctx, chute_error *err)
{
    sqlite3_stmt *st = s->get_instance;
    sqlite3_bind_int64(st, 1, key);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        store_instance r;
        ret = instance_of_row(s, st, &r, err);
        if (ret == 0)
            ret = fn(ctx, &r);
    } else if (rc == SQLITE_DONE) {
        ret = CHUTE_ENOTFOUND;
    } else {
        ret = fail(s, err, code_of(rc), "reading a process instance");
    }
    sqlite3_reset(st);
    return ret;
}

int store_list_instances(store *s, const store_instance_filter *f, size_t offset, size_t limit,
                         store_instance_fn fn, void *ctx, chute_error *err)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " INSTANCE_COLUMNS " FROM process_instances WHERE (?1 = 0 OR key = ?1) AND"
             " (?2 = 0 OR definition_key = ?2) AND (?3 IS NULL OR bpmn_process_id = ?3) AND"
             " (?4 = 0 OR state = ?4) AND (?5 = 0 OR has_incident = (?5 > 0))"
             " ORDER BY key DESC LIMIT ?6 OFFSET ?7");
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "searching process instances");
    sqlite3_bind_int64(st, 1, f->key);
    sqlite3_bind_int64(st, 2, f->definition_key);
    if (f->bpmn_process_id)
        sqlite3_bind_text(st, 3, f->bpmn_process_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int(st, 4, f->state);
    sqlite3_bind_int(st, 5, f->has_incident);
    sqlite3_bind_int64(st, 6, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    sqlite3_bind_int64(st, 7, offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
    int ret = instance_rows(s, st, fn, ctx, err, "searching process instances");
    sqlite3_finalize(st);
    return ret;
}

int store_sweep_instances(store *s, int64_t before, int limit, int *deleted, chute_error *err)
{
    sqlite3_stmt *st = s->sweep_instances;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, limit);
    int rc = step_done(s, st, err, "removing ended process instances");
    *deleted = rc == 0 ? sqlite3_changes(s->db) : 0;
    return rc;
}

int64_t store_oldest_ended_instance(store *s)
{
    sqlite3_stmt *st = s->oldest_instance;
    int64_t v = INT64_MAX;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

int store_delete_instance(store *s, int64_t key, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "DELETE FROM process_instances WHERE key=?1", -1, &st,
                                NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "deleting a process instance");
    sqlite3_bind_int64(st, 1, key);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, code_of(rc), "deleting a process instance");
    return 0;
}

/* ---- messages ------------------------------------------------------------------ */

int store_put_message(store *s, const store_message *m, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT OR REPLACE INTO messages(key, name, correlation_key, "
                                "message_id, expires_at, variables, correlated) VALUES "
                                "(?1,?2,?3,?4,?5,?6,?7)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "storing a message");
    sqlite3_bind_int64(st, 1, m->key);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->correlation_key ? m->correlation_key : "", -1, SQLITE_STATIC);
    if (m->message_id)
        sqlite3_bind_text(st, 4, m->message_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, m->expires_at);
    if (m->variables)
        sqlite3_bind_text(st, 6, m->variables, (int)m->variables_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_text(st, 7, m->correlated ? m->correlated : "[]", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, code_of(rc), "storing a message");
    return 0;
}

int store_delete_message(store *s, int64_t key, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "DELETE FROM messages WHERE key=?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "deleting a message");
    sqlite3_bind_int64(st, 1, key);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, code_of(rc), "deleting a message");
    return 0;
}

int store_load_messages(store *s, store_message_fn fn, void *ctx, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT key, name, correlation_key, message_id, expires_at, "
                                "variables, correlated FROM messages ORDER BY key",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "reading the messages");
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_message m = {
            .key = sqlite3_column_int64(st, 0),
            .name = (const char *)sqlite3_column_text(st, 1),
            .correlation_key = (const char *)sqlite3_column_text(st, 2),
            .message_id = (const char *)sqlite3_column_text(st, 3),
            .expires_at = sqlite3_column_int64(st, 4),
            .variables = (const char *)sqlite3_column_text(st, 5),
            .variables_len = (size_t)sqlite3_column_bytes(st, 5),
            .correlated = (const char *)sqlite3_column_text(st, 6),
        };
        if (!m.name || !m.correlation_key) {
            ret = chute_error_set(err, CHUTE_ECORRUPT, "%s: message %lld has no name", s->path,
                                  (long long)m.key);
            break;
        }
        if ((ret = fn(ctx, &m)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(s, err, code_of(rc), "reading the messages");
    sqlite3_finalize(st);
    return ret;
}

/* ---- decision definitions ------------------------------------------------------------ */

int store_put_decision(store *s, const store_decision *d, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO decision_definitions(key, decision_id, version, "
                                "requirements_key, resource_name, checksum, deployment_key, "
                                "deployed_at, content) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "storing a decision");
    sqlite3_bind_int64(st, 1, d->key);
    sqlite3_bind_text(st, 2, d->decision_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, d->version);
    sqlite3_bind_int64(st, 4, d->requirements_key);
    sqlite3_bind_text(st, 5, d->resource_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)d->checksum);
    sqlite3_bind_int64(st, 7, d->deployment_key);
    sqlite3_bind_int64(st, 8, d->deployed_at);
    sqlite3_bind_blob(st, 9, d->content, (int)d->len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, code_of(rc), "storing a decision");
    return 0;
}

int store_load_decisions(store *s, store_decision_fn fn, void *ctx, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT key, decision_id, version, requirements_key, resource_name, "
                                "checksum, deployment_key, deployed_at, content FROM "
                                "decision_definitions ORDER BY key",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "reading the decisions");
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_decision d = {
            .key = sqlite3_column_int64(st, 0),
            .decision_id = (const char *)sqlite3_column_text(st, 1),
            .version = sqlite3_column_int(st, 2),
            .requirements_key = sqlite3_column_int64(st, 3),
            .resource_name = (const char *)sqlite3_column_text(st, 4),
            .checksum = (uint64_t)sqlite3_column_int64(st, 5),
            .deployment_key = sqlite3_column_int64(st, 6),
            .deployed_at = sqlite3_column_int64(st, 7),
            .content = sqlite3_column_blob(st, 8),
            .len = (size_t)sqlite3_column_bytes(st, 8),
        };
        if (!d.decision_id || !d.resource_name) {
            ret = chute_error_set(err, CHUTE_ECORRUPT, "%s: decision %lld has no id", s->path,
                                  (long long)d.key);
            break;
        }
        if ((ret = fn(ctx, &d)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(s, err, code_of(rc), "reading the decisions");
    sqlite3_finalize(st);
    return ret;
}

/* ---- timer start events ------------------------------------------------------------ */

int store_put_timer_start(store *s, int64_t def_key, uint32_t event, int64_t due, int64_t repeat,
                          chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT OR REPLACE INTO timer_starts(definition_key, event, due, "
                                "repeat) VALUES (?1,?2,?3,?4)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "storing a timer start");
    sqlite3_bind_int64(st, 1, def_key);
    sqlite3_bind_int64(st, 2, event);
    sqlite3_bind_int64(st, 3, due);
    sqlite3_bind_int64(st, 4, repeat);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, err, code_of(rc), "storing a timer start");
}

int store_delete_timer_start(store *s, int64_t def_key, uint32_t event, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "DELETE FROM timer_starts WHERE definition_key=?1 AND event=?2", -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "deleting a timer start");
    sqlite3_bind_int64(st, 1, def_key);
    sqlite3_bind_int64(st, 2, event);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, err, code_of(rc), "deleting a timer start");
}

int store_load_timer_starts(store *s, store_timer_start_fn fn, void *ctx, chute_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT definition_key, event, due, repeat FROM timer_starts", -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, err, code_of(rc), "reading the timer starts");
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((ret = fn(ctx, sqlite3_column_int64(st, 0), (uint32_t)sqlite3_column_int64(st, 1),
                      sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3))) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(s, err, code_of(rc), "reading the timer starts");
    sqlite3_finalize(st);
    return ret;
}
