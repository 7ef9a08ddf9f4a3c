/* GET /containers/{id}/top as dockerd answers it: the host's ps(1) with the client's ps_args
 * (default -ef) and -q with the container's pids, its table cut into titles and the rows of the
 * container's processes. ps itself, not a copy of it: every ps option means what it means to
 * docker's users (-o pid,comm, aux, user names, STIME). */
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"
#include "runtime/runtime.h"

#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#define TOP_OUTPUT_MAX (16u << 20)

/* docker's validatePSArgs: a column renamed to PID… would fool the PID column lookup */
static int ps_args_validate(const char *args, struct berth_error **err)
{
        regex_t re;
        regmatch_t m[3];
        const char *p = args;
        int r = 0;

        if (regcomp(&re, "[[:space:]]+([^[:space:]]*)=[[:space:]]*(PID[^[:space:]]*)",
                    REG_EXTENDED) != 0)
                return berth_error_setx(err, ENOMEM, "regcomp");
        while (regexec(&re, p, 3, m, p == args ? 0 : REG_NOTBOL) == 0) {
                int klen = (int)(m[1].rm_eo - m[1].rm_so), vlen = (int)(m[2].rm_eo - m[2].rm_so);
                if (klen != 3 || strncmp(p + m[1].rm_so, "pid", 3) != 0) {
                        r = berth_error_setx(err, EINVAL, "specifying \"%.*s=%.*s\" is not allowed",
                                             klen, p + m[1].rm_so, vlen, p + m[2].rm_so);
                        break;
                }
                p += m[0].rm_eo;
        }
        regfree(&re);
        return r;
}

/* Run ps with argv; its stdout in *ret_out, the first line of its stderr in *ret_errline.
 * 0 when ps exited 0, 1 when it failed, negative errno when it could not run. */
static int run_ps(char **argv, char **ret_out, char **ret_errline, struct berth_error **err)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        int out[2], errp[2], status, r;
        char *bufs[2] = {NULL, NULL};
        size_t lens[2] = {0, 0};
        pid_t pid;

        if (pipe2(out, O_CLOEXEC) < 0)
                return berth_error_set(err, errno, "pipe");
        if (pipe2(errp, O_CLOEXEC) < 0) {
                r = errno;
                close(out[0]);
                close(out[1]);
                return berth_error_set(err, r, "pipe");
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
        container_spawnattr_init(&attr);
        r = posix_spawnp(&pid, "ps", &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(out[1]);
        close(errp[1]);
        if (r != 0) {
                close(out[0]);
                close(errp[0]);
                return berth_error_set(err, r, "ps");
        }
        {
                struct pollfd pfd[2] = {{out[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
                int open_fds = 2;
                while (open_fds > 0) {
                        if (poll(pfd, 2, -1) < 0) {
                                if (errno == EINTR)
                                        continue;
                                break;
                        }
                        for (int i = 0; i < 2; i++) {
                                char chunk[8192];
                                ssize_t n;
                                if (pfd[i].fd < 0 || !pfd[i].revents)
                                        continue;
                                n = read(pfd[i].fd, chunk, sizeof(chunk));
                                if (n < 0 && errno == EINTR)
                                        continue;
                                if (n <= 0 || lens[i] + (size_t)n > TOP_OUTPUT_MAX) {
                                        close(pfd[i].fd);
                                        pfd[i].fd = -1;
                                        open_fds--;
                                        continue;
                                }
                                bufs[i] = xrealloc(bufs[i], lens[i] + (size_t)n + 1);
                                memcpy(bufs[i] + lens[i], chunk, (size_t)n);
                                lens[i] += (size_t)n;
                                bufs[i][lens[i]] = 0;
                        }
                }
                for (int i = 0; i < 2; i++)
                        if (pfd[i].fd >= 0)
                                close(pfd[i].fd);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (bufs[1])
                bufs[1][strcspn(bufs[1], "\n")] = 0;
        *ret_out = bufs[0] ?: xstrdup("");
        *ret_errline = bufs[1] ?: xstrdup("");
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* docker's fieldsASCII: split on ASCII white space */
static char **fields_of(char *line)
{
        char **v = NULL;

        for (char *tok = strtok(line, " \t\r\v\f"); tok; tok = strtok(NULL, " \t\r\v\f"))
                strv_push(&v, tok);
        return v;
}

static bool has_pid(const pid_t *pids, size_t n, long p)
{
        for (size_t i = 0; i < n; i++)
                if (pids[i] == p)
                        return true;
        return false;
}

/* docker's appendProcess2ProcList: the last title takes the rest of the fields */
static json_t *row_of(char **fields, size_t ntitles)
{
        json_t *row = json_array();
        size_t nf = strv_length(fields);
        _cleanup_free_ char *rest = NULL;

        for (size_t i = 0; i + 1 < ntitles && i < nf; i++)
                json_array_append_new(row, json_string(fields[i]));
        for (size_t i = ntitles - 1; i < nf; i++) {
                char *s = rest ? xasprintf("%s %s", rest, fields[i]) : xstrdup(fields[i]);
                free(rest);
                rest = s;
        }
        json_array_append_new(row, json_string(rest ?: ""));
        return row;
}

/* docker's parsePSOutput */
static int parse_ps(char *output, const pid_t *pids, size_t npids, json_t **ret,
                    struct berth_error **err)
{
        char *save = NULL;
        char *line = strtok_r(output, "\n", &save);
        _cleanup_strv_ char **titles = NULL;
        _cleanup_json_ json_t *procs = json_array();
        json_t *jt = json_array();
        size_t ntitles, pid_index = SIZE_MAX;
        bool prev_contained = false;

        titles = line ? fields_of(line) : NULL;
        ntitles = strv_length(titles);
        for (size_t i = 0; i < ntitles; i++) {
                json_array_append_new(jt, json_string(titles[i]));
                if (pid_index == SIZE_MAX && strcmp(titles[i], "PID") == 0)
                        pid_index = i;
        }
        if (pid_index == SIZE_MAX) {
                json_decref(jt);
                return berth_error_setx(err, EINVAL, "Couldn't find PID field in ps output");
        }
        while ((line = strtok_r(NULL, "\n", &save))) {
                _cleanup_strv_ char **f = fields_of(line);
                char *end;
                long p;
                if (strv_length(f) <= pid_index)
                        continue;
                /* a thread line (ps -m) belongs to the process above it */
                if (strcmp(f[pid_index], "-") == 0) {
                        if (prev_contained)
                                json_array_append_new(procs, row_of(f, ntitles));
                        continue;
                }
                p = strtol(f[pid_index], &end, 10);
                if (*end) {
                        json_decref(jt);
                        return berth_error_setx(err, EINVAL, "Unexpected pid '%s'", f[pid_index]);
                }
                prev_contained = has_pid(pids, npids, p);
                if (prev_contained)
                        json_array_append_new(procs, row_of(f, ntitles));
        }
        *ret = json_pack("{s:o,s:O}", "Titles", jt, "Processes", procs);
        return 0;
}

int container_top(struct containers *cs, struct container *c, const char *ps_args, json_t **ret,
                  struct berth_error **err)
{
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ char *args_copy = NULL, *qarg = NULL, *out = NULL, *errline = NULL;
        _cleanup_strv_ char **argv = NULL;
        enum container_status st;
        size_t n, len = 0;
        FILE *f;
        int r;

        if (!ps_args || !*ps_args)
                ps_args = "-ef";
        r = ps_args_validate(ps_args, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&cs->lock);
        st = c->status;
        pthread_mutex_unlock(&cs->lock);
        if (st == CONTAINER_RESTARTING)
                return berth_error_setx(err, EBUSY,
                                        "Container %s is restarting, wait until the container is "
                                        "running",
                                        c->id);
        if (st != CONTAINER_RUNNING && st != CONTAINER_PAUSED)
                return berth_error_setx(err, EBUSY, "Container %s is not running", c->id);
        r = container_rt_pids(cs, c, &pids, &n, err);
        if (r < 0)
                return r;
        f = open_memstream(&qarg, &len);
        fputs("-q", f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, i ? ",%d" : "%d", pids[i]);
        fclose(f);
        /* docker splits on single spaces: "a  b" passes an empty argument, as there */
        strv_push(&argv, "ps");
        args_copy = xstrdup(ps_args);
        for (char *p = args_copy, *sp;; p = sp + 1) {
                sp = strchr(p, ' ');
                if (sp)
                        *sp = 0;
                strv_push(&argv, p);
                if (!sp)
                        break;
        }
        strv_push(&argv, qarg);
        r = run_ps(argv, &out, &errline, err);
        if (r == 1) {
                /* some options (f) do not go with -q: again without it, as docker does */
                free(argv[strv_length(argv) - 1]);
                argv[strv_length(argv) - 1] = NULL;
                free(TAKE_PTR(out));
                free(TAKE_PTR(errline));
                r = run_ps(argv, &out, &errline, err);
                if (r == 1)
                        return berth_error_setx(err, EIO, "ps: %s",
                                                *errline ? errline : "exit status 1");
        }
        if (r < 0)
                return r;
        return parse_ps(out, pids, n, ret, err);
}
