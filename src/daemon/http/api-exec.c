/* The exec routes: POST /containers/{id}/exec, POST /exec/{id}/start (detached, or the hijacked
 * connection handed to the exec's shim), POST /exec/{id}/resize and GET /exec/{id}/json, over
 * the exec instances of containers/exec.c. */
#include "daemon/http/api.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"

#include <unistd.h>

void api_exec_create(struct api_req *r)
{
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *id = NULL;

        if (api_body_json(r, &body, &err) < 0 ||
            container_exec_create(api_daemon(r)->containers, api_param(r, 0), body, &id, &err) <
                0) {
                api_reply_error(r, err);
                return;
        }
        api_reply_json(r, 201, json_pack("{s:s}", "Id", id));
}

struct exec_job {
        struct exec *e;
        bool tty;
        json_t *console_size;
};

static void exec_job_free(void *p)
{
        struct exec_job *j = p;

        container_exec_unref(j->e);
        json_decref(j->console_size);
        free(j);
}

/* dockerd writes why the exec did not start to the hijacked stream as the process' stdout would
 * be: a stdout frame of the multiplexed stream (raw with a tty), the docker CLI prints it. */
static void exec_write_error(int sock, bool tty, const char *msg)
{
        _cleanup_free_ char *text = xasprintf("%s\r\n", msg);
        size_t len = strlen(text);
        unsigned char hdr[8] = {1,
                                0,
                                0,
                                0,
                                (unsigned char)(len >> 24),
                                (unsigned char)(len >> 16),
                                (unsigned char)(len >> 8),
                                (unsigned char)len};

        if ((!tty && berth_write_all(sock, hdr, sizeof(hdr)) < 0) ||
            berth_write_all(sock, text, len) < 0)
                berth_debug("exec: client gone");
}

static void exec_hijacked(int sock, void *p)
{
        struct exec_job *j = p;
        struct berth_error *err = NULL;

        /* the first output must not arrive with the 101 headers (docker-py loses it then) */
        berth_sock_wait_drained(sock, 500);
        if (container_exec_start(j->e, j->tty, sock, j->console_size, &err) < 0) {
                exec_write_error(sock, j->tty, err->msg);
                berth_error_free(err);
        }
        close(sock);
}

void api_exec_start(struct api_req *r)
{
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *body = NULL;
        struct exec *e;
        bool tty, detach;

        if (api_body_json(r, &body, &err) < 0 ||
            container_exec_get(api_daemon(r)->containers, api_param(r, 0), &e, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        if (container_exec_start_prepare(e, &err) < 0) {
                api_reply_error(r, err);
                container_exec_unref(e);
                return;
        }
        tty = json_is_true(json_object_get(body, "Tty")) || container_exec_tty(e);
        detach = json_is_true(json_object_get(body, "Detach"));
        if (detach) {
                if (container_exec_start(e, tty, -1, NULL, &err) < 0)
                        api_reply_error(r, err);
                else
                        api_reply_empty(r, 200);
                container_exec_unref(e);
                return;
        }
        {
                struct exec_job *j = xcalloc(1, sizeof(*j));
                j->e = e;
                j->tty = tty;
                j->console_size = json_incref(json_object_get(body, "ConsoleSize"));
                api_reply_hijack(r,
                                 tty ? "application/vnd.docker.raw-stream"
                                     : "application/vnd.docker.multiplexed-stream",
                                 exec_hijacked, j, exec_job_free);
        }
}

void api_exec_resize(struct api_req *r)
{
        struct berth_error *err = NULL;
        struct exec *e;
        long long h, w;

        if (container_exec_get(api_daemon(r)->containers, api_param(r, 0), &e, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        if (api_query_int(r, "h", 0, &h, &err) < 0 || api_query_int(r, "w", 0, &w, &err) < 0 ||
            container_exec_resize(e, h, w, &err) < 0)
                api_reply_error(r, err);
        else
                api_reply_empty(r, 200);
        container_exec_unref(e);
}

void api_exec_inspect(struct api_req *r)
{
        struct berth_error *err = NULL;
        struct exec *e;

        if (container_exec_get(api_daemon(r)->containers, api_param(r, 0), &e, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        api_reply_json(r, 200, container_exec_inspect(e));
        container_exec_unref(e);
}
