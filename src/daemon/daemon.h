/* berthd's shared state and the interfaces between its modules. Internal to src/daemon; the
 * public entry point is berthd_main() (cmd/berthd.c is a thin main). */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H

#include "common/common.h"
#include "image/image.h"

#include <pthread.h>

struct berth_volumes; /* volumes.h */
struct berth_events;  /* events.h */
struct containers;    /* containers.h (H3a): the container table, lifecycle with shims */

struct daemon {
        char *data_root;    /* --data-root */
        char *socket_path;  /* -H unix://… */
        char *runtime_root; /* data_root/runtime */
        char *shim_path;    /* the berth-shim binary (beside berthd unless --shim) */
        struct berth_images *images;
        struct berth_volumes *volumes;
        struct berth_events *events;
        struct containers *containers;
        void *db; /* sqlite3 *: data_root/berth.db (WAL), containers/execs/volumes tables */
        pthread_mutex_t db_lock;
};

/* berthd's command line and main loop; returns the process exit status. */
int berthd_main(int argc, char **argv);

#endif
