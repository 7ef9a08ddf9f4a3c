/* berthd's state in SQLite (data_root/berth.db, WAL): one row per container holding its create
 * body and its state as JSON documents. Calls are serialised by d->db_lock. */
#include "daemon/daemon.h"

#include <sqlite3.h>

static int db_error(struct daemon *d, int rc, struct berth_error **err, const char *what)
{
        int code = rc == SQLITE_CONSTRAINT ? EEXIST : EIO;

        return berth_error_setx(err, code, "%s: %s", what, sqlite3_errmsg(d->db));
}

/* The end of a statement run under d->db_lock: its error unless ok (read before the finalize),
 * then the finalize and the unlock. */
static int db_end(struct daemon *d, sqlite3_stmt *st, bool ok, int rc, const char *what,
                  struct berth_error **err)
{
        int r = ok ? 0 : db_error(d, rc, err, what);

        sqlite3_finalize(st);
        pthread_mutex_unlock(&d->db_lock);
        return r;
}

int db_open(struct daemon *d, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/berth.db", d->data_root);
        sqlite3 *db = NULL;
        char *msg = NULL;
        int rc;

        rc = sqlite3_open_v2(
            path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK) {
                berth_error_setx(err, EIO, "open `%s`: %s", path,
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                sqlite3_close(db);
                return -EIO;
        }
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db,
                          "PRAGMA journal_mode=WAL;"
                          "PRAGMA synchronous=NORMAL;"
                          "CREATE TABLE IF NOT EXISTS containers ("
                          "  id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
                          "  config TEXT NOT NULL, state TEXT NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS execs ("
                          "  id TEXT PRIMARY KEY, container_id TEXT NOT NULL,"
                          "  config TEXT NOT NULL, state TEXT NOT NULL);"
                          /* networks (docker's inspect object), the endpoints of running
                           * containers (one address per network: the UNIQUE constraint is the
                           * IPAM's last word) and their sandboxes (netns, published ports) */
                          "CREATE TABLE IF NOT EXISTS networks ("
                          "  id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, config TEXT NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS endpoints ("
                          "  container_id TEXT NOT NULL, network_id TEXT NOT NULL,"
                          "  address TEXT NOT NULL, config TEXT NOT NULL,"
                          "  PRIMARY KEY (container_id, network_id), UNIQUE (network_id, address));"
                          "CREATE TABLE IF NOT EXISTS sandboxes ("
                          "  container_id TEXT PRIMARY KEY, config TEXT NOT NULL);"
                          /* the build cache: step key → image made by that step, and content
                           * hashes of paths inside (immutable) images for COPY --from */
                          "CREATE TABLE IF NOT EXISTS build_cache ("
                          "  key TEXT PRIMARY KEY, image_id TEXT NOT NULL,"
                          "  created INTEGER NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS build_srchash ("
                          "  key TEXT PRIMARY KEY, hash TEXT NOT NULL);",
                          NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                berth_error_setx(err, EIO, "initialise `%s`: %s", path, msg ? msg : "?");
                sqlite3_free(msg);
                sqlite3_close(db);
                return -EIO;
        }
        d->db = db;
        return 0;
}

void db_close(struct daemon *d)
{
        if (d->db)
                sqlite3_close(d->db);
        d->db = NULL;
}

int db_exec(struct daemon *d, const char *sql, const char *const *args, size_t n,
            struct berth_error **err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        pthread_mutex_lock(&d->db_lock);
        rc = sqlite3_prepare_v2(d->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                for (size_t i = 0; i < n; i++)
                        sqlite3_bind_text(st, (int)i + 1, args[i], -1, SQLITE_TRANSIENT);
                rc = sqlite3_step(st);
        }
        return db_end(d, st, rc == SQLITE_DONE || rc == SQLITE_ROW,
                      sqlite3_extended_errcode(d->db) & 0xff, "database", err);
}

int db_container_put(struct daemon *d, const char *id, const char *name, json_t *config,
                     json_t *state, struct berth_error **err)
{
        _cleanup_free_ char *c = berth_json_dump(config, false);
        _cleanup_free_ char *s = berth_json_dump(state, false);
        const char *args[] = {id, name, c, s};

        return db_exec(d,
                       "INSERT OR REPLACE INTO containers (id, name, config, state) VALUES "
                       "(?, ?, ?, ?)",
                       args, 4, err);
}

int db_container_set_state(struct daemon *d, const char *id, json_t *state,
                           struct berth_error **err)
{
        _cleanup_free_ char *s = berth_json_dump(state, false);
        const char *args[] = {s, id};

        return db_exec(d, "UPDATE containers SET state = ? WHERE id = ?", args, 2, err);
}

int db_container_rename(struct daemon *d, const char *id, const char *name,
                        struct berth_error **err)
{
        const char *args[] = {name, id};

        return db_exec(d, "UPDATE containers SET name = ? WHERE id = ?", args, 2, err);
}

int db_container_delete(struct daemon *d, const char *id, struct berth_error **err)
{
        const char *args[] = {id};
        int r;

        r = db_exec(d, "DELETE FROM execs WHERE container_id = ?", args, 1, err);
        if (r < 0)
                return r;
        return db_exec(d, "DELETE FROM containers WHERE id = ?", args, 1, err);
}

int db_container_foreach(struct daemon *d, db_container_fn fn, void *userdata,
                         struct berth_error **err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        pthread_mutex_lock(&d->db_lock);
        rc = sqlite3_prepare_v2(d->db, "SELECT id, name, config, state FROM containers", -1, &st,
                                NULL);
        while (rc == SQLITE_OK || rc == SQLITE_ROW) {
                _cleanup_json_ json_t *config = NULL, *state = NULL;
                rc = sqlite3_step(st);
                if (rc != SQLITE_ROW)
                        break;
                config = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
                state = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
                if (!config || !state) {
                        berth_warn("container `%s`: unreadable row skipped",
                                   sqlite3_column_text(st, 0));
                        continue;
                }
                fn((const char *)sqlite3_column_text(st, 0),
                   (const char *)sqlite3_column_text(st, 1), config, state, userdata);
        }
        return db_end(d, st, rc == SQLITE_DONE, rc, "read containers", err);
}

int db_query(struct daemon *d, const char *sql, const char *const *args, size_t n, db_row_fn fn,
             void *userdata, struct berth_error **err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        pthread_mutex_lock(&d->db_lock);
        rc = sqlite3_prepare_v2(d->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK)
                for (size_t i = 0; i < n; i++)
                        sqlite3_bind_text(st, (int)i + 1, args[i], -1, SQLITE_TRANSIENT);
        while (rc == SQLITE_OK || rc == SQLITE_ROW) {
                const char *cols[8] = {0};
                int nc;
                rc = sqlite3_step(st);
                if (rc != SQLITE_ROW)
                        break;
                nc = sqlite3_column_count(st);
                for (int i = 0; i < nc && i < (int)ARRAY_SIZE(cols); i++)
                        cols[i] = (const char *)sqlite3_column_text(st, i);
                fn(cols, (size_t)nc, userdata);
        }
        return db_end(d, st, rc == SQLITE_DONE, rc, "database query", err);
}
