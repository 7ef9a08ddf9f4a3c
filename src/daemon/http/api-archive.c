/* The routes of files in and out of a container: GET/HEAD/PUT /containers/{id}/archive
 * (docker cp), GET /containers/{id}/export and GET /containers/{id}/changes, over
 * containers/archive.c. */
#include "daemon/http/api.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"

#include <unistd.h>

static void archive_get(struct api_req *r, bool head)
{
        struct berth_error *err = NULL;
        const char *path = api_query(r, "path");
        _cleanup_free_ char *hdr = NULL;
        struct container_tar *tar = NULL;

        if (!path || !*path) {
                api_reply_errorf(r, 400, "path is required");
                return;
        }
        if (container_archive_get(api_daemon(r)->containers, api_param(r, 0), path, &hdr,
                                  head ? NULL : &tar, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        api_set_header(r, "X-Docker-Container-Path-Stat", hdr);
        if (head) {
                api_reply_empty(r, 200);
                return;
        }
        api_reply_stream(r, 200, "application/x-tar", container_tar_write, tar, container_tar_free);
}

void api_archive_get(struct api_req *r)
{
        archive_get(r, false);
}

void api_archive_head(struct api_req *r)
{
        archive_get(r, true);
}

static void drain(int fd)
{
        char buf[65536];

        while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
                ;
}

void api_archive_put(struct api_req *r)
{
        struct berth_error *err = NULL;
        const char *path = api_query(r, "path");
        int in = api_body_fd(r);

        if (!path || !*path) {
                drain(in);
                api_reply_errorf(r, 400, "path is required");
                return;
        }
        if (container_archive_put(api_daemon(r)->containers, api_param(r, 0), path, in, &err) < 0) {
                drain(in);
                api_reply_error(r, err);
                return;
        }
        api_reply_empty(r, 200);
}

void api_container_export(struct api_req *r)
{
        struct berth_error *err = NULL;
        struct container_tar *tar;

        if (container_export(api_daemon(r)->containers, api_param(r, 0), &tar, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        api_reply_stream(r, 200, "application/x-tar", container_tar_write, tar, container_tar_free);
}

void api_container_changes(struct api_req *r)
{
        struct berth_error *err = NULL;
        json_t *out;

        if (container_changes(api_daemon(r)->containers, api_param(r, 0), &out, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        api_reply_json(r, 200, out);
}
