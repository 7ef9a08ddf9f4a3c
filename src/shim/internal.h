/* berth-shim internals: shared between the shim's .c files only. */
#ifndef BERTH_SHIM_INTERNAL_H
#define BERTH_SHIM_INTERNAL_H

#include "shim/shim.h"

#include <signal.h>

enum shim_mode { SHIM_CREATE, SHIM_EXEC };

/* The command line of `berth-shim create|exec`. Strings point into argv or are absolute copies
 * made before the shim changes its directory. */
struct shim_opts {
        enum shim_mode mode;
        const char *id;
        char *bundle;        /* create */
        char *state;         /* the shim's state dir (created when missing) */
        char *runtime_root;  /* the runtime's --root */
        char *runtime_path;  /* an external OCI runtime binary; NULL: the built-in library */
        char **runtime_args; /* its global options before the verb (daemon.json runtimeArgs) */
        char *process;       /* exec: process.json */
        char *log_path;      /* NULL: no log */
        uint64_t log_max_size;
        unsigned log_max_files;
        bool open_stdin;
        bool stdin_once;
        bool tty;
};

/* Parse argv (argv[1] is the mode); usage errors fill *err. */
int shim_opts_parse(int argc, char **argv, struct shim_opts *ret, struct berth_error **err);
void shim_opts_release(struct shim_opts *o);

/* ---------------------------------------------------------------- json-file log (log.c) */

#define SHIM_LOG_LINE_MAX 16384 /* docker's copier splits lines longer than this */

enum shim_stream { SHIM_STDIN = 0, SHIM_STDOUT = 1, SHIM_STDERR = 2 };

struct shim_log {
        int fd; /* -1: logging disabled */
        int dirfd;
        char *name; /* file name inside dirfd */
        uint64_t size;
        uint64_t max_size; /* 0: never rotate */
        unsigned max_files;
        /* the unfinished line of stdout and stderr */
        char pending[2][SHIM_LOG_LINE_MAX];
        size_t pending_len[2];
};

/* Open (append to) path; max_size 0 disables rotation. */
int shim_log_open(struct shim_log *l, const char *path, uint64_t max_size, unsigned max_files,
                  struct berth_error **err);
/* Log n bytes of stream output: one json-file entry per line, partial lines of 16 KiB. Write
 * errors are dropped: a full disk must not stop the container. */
void shim_log_write(struct shim_log *l, enum shim_stream s, const char *data, size_t n);
/* At EOF of a stream: log what is left of its last line (without a newline, like docker). */
void shim_log_flush(struct shim_log *l, enum shim_stream s);
void shim_log_close(struct shim_log *l);

/* Append s (n bytes) as a JSON string body (without quotes) with docker's escaping (<, >, &,
 * control characters, invalid UTF-8 as U+FFFD, U+2028/9) into out (cap bytes, at least 8);
 * returns the bytes consumed from s, stopping early when out is full; *ret_len gets what was
 * written. */
size_t shim_json_escape(const char *s, size_t n, char *out, size_t cap, size_t *ret_len);

/* Go's time.RFC3339Nano of now (UTC, trailing zeros of the fraction dropped) into buf (≥ 40). */
void shim_time_now(char *buf, size_t len);

/* ---------------------------------------------------------------- event loop (loop.c) */

struct shim;

/* The shim after the container (or exec process) has been prepared: its fds and pid. */
struct shim_io {
        int out_fd;    /* container stdout (pipe read end) or the pty master */
        int err_fd;    /* container stderr; -1 with a tty */
        int in_fd;     /* container stdin (pipe write end or a dup of the master); -1: none */
        int tty_fd;    /* the pty master for resize; -1 without a tty */
        int ctl_fd;    /* control channel; -1 once closed */
        int listen_fd; /* attach.sock */
        int sig_fd;    /* signalfd for SIGCHLD */
};

/* Callbacks of the loop into the mode (create/exec). */
struct shim_ops {
        /* "start" arrived: let the process run; ret_pid is the process to reap. */
        int (*start)(struct shim *s, pid_t *ret_pid, struct berth_error **err);
        /* the process exited: clean up what the runtime holds (may be NULL) */
        void (*finish)(struct shim *s);
        /* record OOM: read before finish (may be NULL) */
        bool (*oom_killed)(struct shim *s);
};

struct shim {
        const struct shim_opts *opts;
        const struct shim_ops *ops;
        struct shim_io io;
        int state_fd;
        pid_t pid; /* the process to reap; 0 before start (exec) */
        bool started;
        struct shim_log *log;
        /* a resize that came before the pty existed (exec --tty): the process starts with it */
        bool has_init_size;
        unsigned short init_rows, init_cols;
};

/* Run the loop until the process has exited and everything is written; returns the exit status
 * of the shim process itself (0). */
int shim_loop_run(struct shim *s);

/* Send one JSON message (no fd) on a SOCK_SEQPACKET socket; errors ignored (peer gone). */
void shim_send_json(int fd, json_t *msg);

/* Write exit.json atomically into the state dir. error may be NULL. */
int shim_write_exit(int state_fd, int exit_code, bool oom_killed, const char *error);

/* Give back the pages of the binary that creating the container needed (see shim.c). */
void shim_shed_pages(void);

/* ---------------------------------------------------------------- external runtime (oci.c) */

/* Run `<runtime_path> --root R --log <state>/runtime.log --log-format json [runtime_args]
 * verb_args…` (NULL-terminated) with the shim's current stdio, and wait for it; on failure the
 * error carries the runtime's last logged error. */
int shim_oci_run(struct shim *s, char **verb_args, struct berth_error **err);
/* `create --bundle B --pid-file P [--console-socket S] ID`: the container's stdio are the
 * shim's 0, 1, 2 at the call; *ret_pid its init. */
int shim_oci_create(struct shim *s, const char *console_socket, pid_t *ret_pid,
                    struct berth_error **err);
int shim_oci_start(struct shim *s, struct berth_error **err);
/* `exec --process F --detach --pid-file P [--console-socket S] ID`; *ret_pid the process. */
int shim_oci_exec(struct shim *s, const char *process, const char *console_socket, pid_t *ret_pid,
                  struct berth_error **err);
/* `delete --force ID` (errors logged). */
void shim_oci_delete(struct shim *s);
/* Was a process of the container OOM-killed? Read from its cgroup (the bundle's cgroupsPath). */
bool shim_oci_oom_killed(struct shim *s);

/* ---------------------------------------------------------------- init (init.c) */

/* docker-init: run cmd, forward signals, reap zombies; returns the exit status. */
int shim_init_main(char **cmd);

#endif
