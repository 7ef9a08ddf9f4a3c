/* Container logs: reading the json-file log the shim writes (PATH, rotated to PATH.1 … PATH.N)
 * and answering GET /containers/{id}/logs. Internal to src/daemon. */
#ifndef BERTH_DAEMON_LOGS_H
#define BERTH_DAEMON_LOGS_H

#include "common/common.h"

/* The log drivers berth has: json-file (the default), local (the json-file storage with docker's
 * local defaults, 20 MiB x 5 files) and none. */

/* docker's create-time check of HostConfig.LogConfig (mergeAndVerifyLogConfig): Type "" or
 * missing means json-file; an unknown driver or option is refused with docker's message
 * ("logger: no log driver named 'x' is registered"), an option docker has but berth does not
 * implement with a message saying so. EINVAL. */
int logs_config_validate(json_t *logcfg, struct berth_error **err);

/* Does the driver type (NULL or "" = json-file) keep a log berth can read? */
bool logs_driver_readable(const char *type);

struct logs_opts {
        bool out; /* stdout lines */
        bool err; /* stderr lines */
        bool follow;
        bool timestamps;
        bool tty;         /* raw output instead of docker's 8-byte multiplexed frames */
        int64_t since_ns; /* 0: from the start; lines at or after it */
        int64_t until_ns; /* 0: no end; lines at or before it (also ends follow) */
        long long tail;   /* -1: every line; else the last n that pass the filters */
};

/* Is the container still running? (follow ends once it is not and the log is drained.) */
typedef bool (*logs_running_fn)(void *userdata);

/* One json-file line {"log": …, "stream": "stdout"|"stderr", "time": RFC3339Nano}. */
struct log_entry {
        char *log; /* the text, usually ending in "\n" */
        size_t len;
        int stream; /* 1 stdout, 2 stderr */
        int64_t time_ns;
};
/* Parse one line (without its newline); EINVAL when it is not a json-file record. */
int logs_parse_line(const char *line, size_t len, struct log_entry *ret, struct berth_error **err);
void logs_entry_release(struct log_entry *e);

/* Render an entry for the client: an 8-byte header [stream, 0, 0, 0, size (big endian)] unless
 * o->tty, then the optional "RFC3339Nano " timestamp and the text. malloc'd, *ret_len set. */
char *logs_format_entry(const struct log_entry *e, const struct logs_opts *o, size_t *ret_len);

/* Write the log at log_path (and its rotations) to out_fd as o asks. follow: keep going (inotify
 * on the log's directory, rotations followed) until running(userdata) says the container
 * stopped and everything is written, until_ns passes, or the client goes away (out_fd's reader,
 * or client_fd — the connection, -1 if unknown — hung up). A missing log is an empty one.
 * Errors only for unreadable files. */
int logs_stream(const char *log_path, const struct logs_opts *o, int out_fd, int client_fd,
                logs_running_fn running, void *userdata, struct berth_error **err);

#endif
