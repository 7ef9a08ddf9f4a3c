/* berth common: errors, cleanup helpers, allocation, logging, fs and json helpers, ids.
 *
 * The one public header of src/common. It depends on nothing else in berth.
 */
#ifndef BERTH_COMMON_H
#define BERTH_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_       __attribute__((unused))
#define _noreturn_     __attribute__((noreturn))
#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- errors */

/* An error travelling up the stack. `code` is a positive errno value; `msg` is the full message
 * with the context of every layer that wrapped it, outermost first ("mount `/proc`: ...").
 */
struct berth_error {
        int code;
        char *msg;
};

/* Set *err (which must be NULL or point to NULL) to a new error built from fmt, with the text of
 * strerror(code) appended when code != 0. Returns -code (or -EINVAL when code is 0), so callers
 * write `return berth_error_set(err, errno, "open `%s`", path);`. err may be NULL.
 */
int berth_error_set(struct berth_error **err, int code, const char *fmt, ...) _printf_(3, 4);

/* Same as berth_error_set but without the strerror text. */
int berth_error_setx(struct berth_error **err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prefix the message of an existing *err with fmt and ": ". Returns -(*err)->code, or -EIO when
 * *err is NULL (a caller forgot to set it; the message then says so).
 */
int berth_error_wrap(struct berth_error **err, const char *fmt, ...) _printf_(2, 3);

/* Free an error; accepts NULL. */
void berth_error_free(struct berth_error *e);

/* The positive errno of e, or 0 for NULL. */
int berth_error_code(const struct berth_error *e);

/* ---------------------------------------------------------------- cleanup */

void berth_freep(void *p);
void berth_closep(int *fd);
void berth_fclosep(FILE **f);
void berth_closedirp(DIR **d);
void berth_json_decrefp(json_t **j);
void berth_errorp(struct berth_error **e);
void berth_strvp(char ***v);

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(berth_freep)
#define _cleanup_close_  _cleanup_(berth_closep)
#define _cleanup_fclose_ _cleanup_(berth_fclosep)
#define _cleanup_dir_    _cleanup_(berth_closedirp)
#define _cleanup_json_   _cleanup_(berth_json_decrefp)
#define _cleanup_error_  _cleanup_(berth_errorp)
#define _cleanup_strv_   _cleanup_(berth_strvp)

#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _fd;                                                                               \
        })

/* ---------------------------------------------------------------- allocation (aborts on OOM) */

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* NULL-terminated string vectors. */
size_t strv_length(char *const *v);
void strv_free(char **v);
/* Append a copy of s to *v (which may be NULL). */
void strv_push(char ***v, const char *s);

/* ---------------------------------------------------------------- logging */

enum berth_log_level { BERTH_LOG_DEBUG, BERTH_LOG_INFO, BERTH_LOG_WARN, BERTH_LOG_ERROR };

/* Libraries never print: they hand messages to a sink the main installs (default: none). */
typedef void (*berth_log_sink)(enum berth_log_level level, const char *msg, void *userdata);
void berth_log_set_sink(berth_log_sink sink, enum berth_log_level min, void *userdata);
void berth_log(enum berth_log_level level, const char *fmt, ...) _printf_(2, 3);
#define berth_debug(...) berth_log(BERTH_LOG_DEBUG, __VA_ARGS__)
#define berth_warn(...)  berth_log(BERTH_LOG_WARN, __VA_ARGS__)

/* ---------------------------------------------------------------- files */

/* Write len bytes of data to dirfd/path, opened with flags|O_WRONLY|O_CLOEXEC (mode 0644 when
 * created). A short write is an error. The error message names the path.
 */
int berth_write_file_at(int dirfd, const char *path, const void *data, size_t len, int flags,
                        struct berth_error **err);

/* Write all len bytes of buf to fd (a pipe, socket or file), retrying short writes and EINTR.
 * 0, or a negative errno with errno set (EIO when write returns 0). */
int berth_write_all(int fd, const void *buf, size_t len);

/* The same over a socket with send(MSG_NOSIGNAL): a peer that went away is -EPIPE, never a
 * SIGPIPE. */
int berth_send_all(int fd, const void *buf, size_t len);

/* Wait until the peer of the unix stream socket fd has read everything written to it so far
 * (SIOCOUTQ reaches 0), at most timeout_ms. For a hijacked HTTP connection: a client that reads
 * the 101 response through a buffered reader and then switches to the raw socket (docker-py)
 * loses whatever arrived with the headers. Whether the peer caught up. */
bool berth_sock_wait_drained(int fd, int timeout_ms);

/* Write the string s (without NUL) to an existing file, e.g. a cgroup or procfs knob. */
int berth_write_str_at(int dirfd, const char *path, const char *s, struct berth_error **err);

/* Replace dirfd/name atomically with data: write to a temporary beside it, fsync-free rename. */
int berth_write_atomic_at(int dirfd, const char *name, const void *data, size_t len,
                          struct berth_error **err);

/* Read a whole file into a NUL-terminated buffer (*ret_len excludes the NUL; may be NULL).
 * Files bigger than max bytes are refused with EFBIG.
 */
int berth_read_file_at(int dirfd, const char *path, size_t max, char **ret_data, size_t *ret_len,
                       struct berth_error **err);

/* mkdir -p with mode; existing directories are fine. */
int berth_mkdir_p(const char *path, mode_t mode, struct berth_error **err);

/* Remove a directory tree below dirfd/name without following symlinks. Missing is fine. */
int berth_rm_rf_at(int dirfd, const char *name, struct berth_error **err);

/* openat2(2) with O_CLOEXEC added; -1 and errno on failure. */
int berth_openat2(int dirfd, const char *path, int flags, uint64_t resolve);

/* Open path (absolute or not) inside the tree rootfd with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS:
 * symlinks and `..` cannot leave it. -1 and errno on failure. */
int berth_open_in_root(int rootfd, const char *path, int flags);

/* Create every missing directory of path inside rootfd (each level with mkdirat on its
 * parent's fd and reopened without following a symlink); returns an O_PATH fd of the last. */
int berth_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct berth_error **err);

/* Parse a non-negative decimal integer (whole string); returns -EINVAL/-ERANGE. */
int berth_parse_u64(const char *s, uint64_t *ret);

/* docker's size strings (go-units RAMInBytes, as log-opt max-size takes them): "1048576",
 * "10m", "1.5k", "2GB", "3MiB"; binary multiples; "-1" means unlimited (*ret 0). -EINVAL. */
int berth_parse_ram_size(const char *s, uint64_t *ret);

/* ---------------------------------------------------------------- paths (path.c) */

/* Lexical cleaning of p, like Go's path.Clean of "/" + p: "//" and "." dropped, ".." removes the
 * component before it and stops at the root, no trailing '/'. Always absolute ("" → "/");
 * malloc'd. Text only: the kernel still resolves the result (symlinks included). */
char *berth_path_clean_abs(const char *p);

/* Refuse any ".." component, not only one that climbs above the start. */
#define BERTH_PATH_NO_DOTDOT (1u << 0)

/* Lexical cleaning of p into a relative path: a leading '/' dropped, "//" and "." dropped, ".."
 * removes the component before it; "./" → "". -EINVAL (*ret untouched) for a ".." that would
 * climb above the start, or for any ".." with BERTH_PATH_NO_DOTDOT. */
int berth_path_clean_rel(const char *p, unsigned flags, char **ret);

/* ---------------------------------------------------------------- unix sockets (sock.c) */

struct sockaddr_un;

/* *ret = an AF_UNIX address whose path is printf(fmt, ...) (a "/proc/self/fd/N/name" reaches a
 * socket whose path is longer than sun_path). -ENAMETOOLONG when it does not fit. */
int berth_sockaddr_un(struct sockaddr_un *ret, const char *fmt, ...) _printf_(2, 3);

/* The most fds one message carries. */
#define BERTH_FDS_MAX 8

/* One sendmsg of len bytes (len ≥ 1: a stream peer must read something) with nfds (≤
 * BERTH_FDS_MAX) descriptors as SCM_RIGHTS; MSG_NOSIGNAL, EINTR retried. The fds stay the
 * caller's. Bytes sent, or a negative errno. */
ssize_t berth_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* One recvmsg into buf (size bytes), flags added to MSG_CMSG_CLOEXEC (e.g. MSG_DONTWAIT). Up to
 * max received fds go to fds[] and their count to *ret_nfds; any others are closed (all of them
 * when ret_nfds is NULL), so nothing a peer sends leaks. Bytes received (0: EOF), or a negative
 * errno. */
ssize_t berth_recv_fds(int sock, void *buf, size_t size, int flags, int *fds, size_t max,
                       size_t *ret_nfds);
/* Standard base64 (with padding) of n bytes; a new string. */
char *berth_base64_encode(const void *data, size_t n);

/* docker's detach keys (moby/term's ToBytes): comma-separated single characters or ctrl-@,
 * ctrl-a … ctrl-z, ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_ (any case); NULL or "" means
 * "ctrl-p,ctrl-q". The number of key bytes written to keys, or 0 when a key is unknown or
 * there are more than max. */
size_t berth_detach_keys_parse(const char *spec, unsigned char *keys, size_t max);

/* ---------------------------------------------------------------- threads */

/* Start fn(arg) on a detached thread. 0, or a negative errno (EAGAIN: out of threads or pids)
 * and fn never runs: the caller still owns arg. Never aborts. */
int berth_thread_spawn_detached(void *(*fn)(void *), void *arg);

/* ---------------------------------------------------------------- users and groups (passwd.c) */

/* berth's own /etc/passwd and /etc/group parser for files from untrusted images: never NSS
 * after entering an untrusted root (CVE-2019-14271). Fuzzed by fuzz/daemon-passwd. */
struct berth_passwd_ent {
        char *name;
        uint32_t uid, gid;
        char *home; /* "" when the line has no home field */
};

struct berth_group_ent {
        char *name;
        uint32_t gid;
        char **members;
};

/* Parse /etc/passwd or /etc/group text (len bytes, need not be NUL-terminated), like
 * moby/sys/user: lines trimmed, '#' comments and malformed lines skipped (an unparsable id never
 * becomes 0). Never fails; *ret is NULL when nothing parsed. */
void berth_passwd_parse(const char *data, size_t len, struct berth_passwd_ent **ret, size_t *ret_n);
void berth_group_parse(const char *data, size_t len, struct berth_group_ent **ret, size_t *ret_n);
void berth_passwd_free(struct berth_passwd_ent *p, size_t n);
void berth_group_free(struct berth_group_ent *g, size_t n);

/* A uid or gid of n decimal digits (at most 10, no sign), ≤ 4294967294. -EINVAL or -ERANGE. */
int berth_parse_id(const char *s, size_t n, uint32_t *ret);

/* Read rootfd/path (e.g. "/etc/passwd") without leaving rootfd (RESOLVE_IN_ROOT): a missing or
 * non-regular file (a FIFO would block) reads as empty (*ret NULL, *ret_len 0); bigger than
 * 4 MiB is EFBIG. *ret is NUL-terminated. */
int berth_passwd_read_at(int rootfd, const char *path, char **ret, size_t *ret_len,
                         struct berth_error **err);

/* ---------------------------------------------------------------- json */

/* Load a JSON document from a file (jansson decoding flags, e.g. JSON_DECODE_INT_AS_REAL);
 * errors name the file, line and column. Duplicate keys are rejected.
 */
json_t *berth_json_load_at(int dirfd, const char *path, size_t flags, struct berth_error **err);

/* The string at obj[key], or NULL when obj is not an object, the key is absent or the value is
 * not a string. (For a value already in hand, json_string_value() is the same test.) */
const char *berth_json_get_str(const json_t *obj, const char *key);

/* Whether v holds a value other than the zero one docker's clients send for "unset" (absent,
 * null, false, 0, "", [], {}). */
bool berth_json_is_set(const json_t *v);

/* docker's label filter of one value: filter is "key" (labels has key) or "key=value" (labels'
 * key is the string value); NULL filter or labels not an object: false. */
bool berth_label_match(const json_t *labels, const char *filter);
/* Every filter of the array filters (strings, as above) matches labels; an empty one: true. */
bool berth_labels_match_all(const json_t *labels, const json_t *filters);

/* Dump compact JSON followed by nothing; returns a malloc'd string. */
char *berth_json_dump(const json_t *j, bool pretty);

/* ---------------------------------------------------------------- ids and time */

/* A container id: 1–1024 chars of [A-Za-z0-9_.+-], not "." or "..", no leading '.' or '-'.
 * Returns 0 or an error naming the id.
 */
int berth_id_validate(const char *id, struct berth_error **err);

/* nbytes (≤ 64) random bytes from getrandom() as 2 * nbytes lowercase hex digits and a NUL in
 * out: ids of exec instances, volumes, networks, name suffixes. Never fails on a kernel berth
 * runs on (getrandom exists since 3.17; EINTR is retried). */
void berth_random_hex(char *out, size_t nbytes);

/* n random bytes from getrandom() into buf, with berth_random_hex's guarantees. */
void berth_random_bytes(void *buf, size_t n);

/* RFC 3339 UTC timestamp with nanoseconds, like Go's time.RFC3339Nano; malloc'd. */
char *berth_time_rfc3339(const struct timespec *ts);

#endif
