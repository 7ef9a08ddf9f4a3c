/* berthd's shared state and the interfaces between its modules. Internal to src/daemon; the
 * public entry point is berthd_main() (main.c; cmd/berthd.c is a thin main).
 *
 * src/daemon is grouped by concern, dependencies pointing down the list:
 *   http/        the server (libmicrohttpd) and the routes: parse, call one function, reply
 *   containers/  the container table and everything done to a container (containers.h)
 *   network/     networks, endpoints, published ports over src/net (network/network.h)
 *   spec/        docker's create body → OCI config.json, pure (spec/spec.h)
 *   state/       SQLite (db.c, declared here), volumes, events, logs, stats
 * Dockerfile builds get build/ of their own. */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H

#include "common/common.h"
#include "image/image.h"

#include <pthread.h>

struct berth_volumes; /* state/volumes.h */
struct berth_events;  /* state/events.h */
struct containers;    /* containers/containers.h: the container table, lifecycle with shims */
struct networks;      /* network/network.h: networks, endpoints, published ports */

struct daemon {
        char *data_root;    /* --data-root */
        char *socket_path;  /* -H unix://… */
        char *runtime_root; /* data_root/runtime */
        char *shim_path;    /* the berth-shim binary (beside berthd unless --shim) */
        struct berth_images *images;
        struct berth_volumes *volumes;
        struct berth_events *events;
        struct containers *containers;
        struct networks *networks;
        void *db; /* sqlite3 *: data_root/berth.db (WAL), containers/execs/volumes tables */
        pthread_mutex_t db_lock;
        struct server *server;      /* server.h */
        char *seccomp_default_path; /* docker's default seccomp profile, NULL: built in */
        char *init_path;            /* docker-init for Init=true (the shim binary) */
};

/* ---------------------------------------------------------------- main.c */

/* docker's engine ID (/info's ID, a random UUID made at the first call and kept in
 * data_root/engine-id, so stable across restarts); malloc'd. */
char *daemon_engine_id(struct daemon *d);

/* ---------------------------------------------------------------- db.c: SQLite state */

/* Open (creating) data_root/berth.db in WAL mode with synchronous=NORMAL; tables containers
 * (id, name, config, state: JSON documents) and execs. */
int db_open(struct daemon *d, struct berth_error **err);
void db_close(struct daemon *d);
/* Insert or replace a container row. config and state are JSON documents (borrowed). name must
 * be unique: EEXIST otherwise. */
int db_container_put(struct daemon *d, const char *id, const char *name, json_t *config,
                     json_t *state, struct berth_error **err);
/* Update only the state of a container row. */
int db_container_set_state(struct daemon *d, const char *id, json_t *state,
                           struct berth_error **err);
int db_container_rename(struct daemon *d, const char *id, const char *name,
                        struct berth_error **err);
int db_container_delete(struct daemon *d, const char *id, struct berth_error **err);
/* Every container row: fn(id, name, config, state) with borrowed JSON. */
typedef void (*db_container_fn)(const char *id, const char *name, json_t *config, json_t *state,
                                void *userdata);
int db_container_foreach(struct daemon *d, db_container_fn fn, void *userdata,
                         struct berth_error **err);

/* Run one statement with text parameters (?1…); EEXIST on a constraint violation. */
int db_exec(struct daemon *d, const char *sql, const char *const *args, size_t n,
            struct berth_error **err);
/* Run a query: fn(columns as text, count) per row (under the db lock: fn must not call db_*). */
typedef void (*db_row_fn)(const char *const *cols, size_t n, void *userdata);
int db_query(struct daemon *d, const char *sql, const char *const *args, size_t n, db_row_fn fn,
             void *userdata, struct berth_error **err);

/* berthd's command line and main loop; returns the process exit status. */
int berthd_main(int argc, char **argv);

#endif
