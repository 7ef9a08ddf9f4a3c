/* A container's log and stats, for the routes: the state layer's log reader (state/logs.c) and
 * stats frames (state/stats.c) with the container's log path, name and running state filled in. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/logs.h"
#include "daemon/state/stats.h"

int container_logs_readable(struct container *c, struct berth_error **err)
{
        const char *type = berth_json_get_str(container_host_cfg(c, "LogConfig"), "Type");

        if (!logs_driver_readable(type))
                return berth_error_setx(err, ENOTSUP,
                                        "configured logging driver does not support reading");
        return 0;
}

struct logs_follow {
        struct containers *cs;
        struct container *c;
};

static bool logs_still_running(void *p)
{
        struct logs_follow *f = p;

        return container_is_running(f->cs, f->c);
}

int container_logs(struct containers *cs, struct container *c, const struct logs_opts *o,
                   int out_fd, int client_fd, struct berth_error **err)
{
        struct logs_follow f = {.cs = cs, .c = c};

        return logs_stream(c->log_path, o, out_fd, client_fd, logs_still_running, &f, err);
}

json_t *container_stats_frame(struct containers *cs, struct container *c, struct stats_sample *prev,
                              struct stats_sample *ret_cur, bool *ret_running)
{
        _cleanup_free_ char *cg = container_stats_cgroup(cs, c);

        return stats_frame(cs->d->runtime_root, c->id, c->name, cg, prev, ret_cur, ret_running);
}
