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

/* The built-in runtime's name (the runtime library run in the shim), as /info lists it. */
#define DAEMON_RUNTIME_BUILTIN "berth"

/* An OCI runtime named in daemon.json's "runtimes" (or --add-runtime NAME=PATH): a binary with
 * runc's command line that the shims run for the containers created with --runtime NAME. */
struct daemon_runtime {
        char *name;
        char *path;  /* absolute, checked executable at start */
        char **args; /* runtimeArgs: global options before the verb; NULL-terminated, may be NULL */
};

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
        /* the runtimes of the configuration file and --add-runtime: swapped whole on SIGHUP
         * under runtimes_lock; take them with daemon_runtimes_get */
        struct daemon_runtimes *runtimes;
        pthread_mutex_t runtimes_lock;
};

/* ---------------------------------------------------------------- main.c */

/* docker's engine ID (/info's ID, a random UUID made at the first call and kept in
 * data_root/engine-id, so stable across restarts); malloc'd. */
char *daemon_engine_id(struct daemon *d);
/* One immutable set of runtimes (reference counted: a reload leaves the old set to the
 * requests still using it). */
struct daemon_runtimes {
        int refs;
        struct daemon_runtime *v;
        size_t n;
        char *default_runtime; /* HostConfig.Runtime when a create names none */
};

/* ---------------------------------------------------------------- config.c: daemon.json */

/* dockerd's daemon.json as berthd takes it: the keys that have a berthd option (strings borrowed
 * from doc; ipv6 and debug -1 when absent) and "runtimes" / "default-runtime". Any other key is
 * refused, never ignored. */
struct daemon_config {
        json_t *doc;
        const char *data_root, *host, *bridge, *bip, *fixed_cidr_v6, *log_level, *seccomp_profile,
            *default_runtime;
        int ipv6, debug;
        struct daemon_runtime *runtimes; /* owned */
        size_t n_runtimes;
};

/* Read path into *ret. A missing file is no error unless required (the file was named on the
 * command line); bad JSON, an unknown key, a runtime without an executable path are, with the
 * file's name in the message. */
int daemon_config_load(const char *path, bool required, struct daemon_config *ret,
                       struct berth_error **err);
/* Add a runtime NAME → path (absolute, or a name found in PATH) with args (a JSON array of
 * strings, may be NULL): EINVAL for the reserved name `berth` or a bad path, EEXIST for a name
 * given twice. */
int daemon_config_add_runtime(struct daemon_config *cfg, const char *name, const char *path,
                              json_t *args, struct berth_error **err);
void daemon_config_release(struct daemon_config *cfg);

/* The runtimes of cfg (taken from it) with default_runtime (NULL: "berth"), which must be one of
 * them: a new set with one reference, or NULL and EINVAL. */
struct daemon_runtimes *daemon_runtimes_new(struct daemon_config *cfg, const char *default_runtime,
                                            struct berth_error **err);
/* The daemon's current set, referenced; daemon_runtimes_put drops a reference (NULL is fine). */
struct daemon_runtimes *daemon_runtimes_get(struct daemon *d);
void daemon_runtimes_put(struct daemon_runtimes *rts);
static inline void daemon_runtimes_putp(struct daemon_runtimes **rts)
{
        daemon_runtimes_put(*rts);
}
/* Make rts (its reference taken) the daemon's set; the old one is put. */
void daemon_runtimes_set(struct daemon *d, struct daemon_runtimes *rts);

/* The runtime a container names in rts (NULL, "" or "berth": *ret NULL, the built-in one;
 * borrowed from rts); docker's EINVAL "Unknown runtime specified NAME" for a name not
 * configured. */
int daemon_runtime_lookup(const struct daemon_runtimes *rts, const char *name,
                          const struct daemon_runtime **ret, struct berth_error **err);

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
