/* import and commit: docker's flags, POST /images/create?fromSrc=… (the tar streamed from a
 * file or stdin, or a URL the daemon downloads) and POST /commit. */
#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }

/* repo[:tag] of a positional, checked no further here: the daemon answers docker's errors */
static void add_changes(char **q, const struct cli_args *a)
{
        char **changes = cli_arg_list(a, "change");
        for (char **c = changes; c && *c; c++)
                query_add(q, "changes", *c);
}

struct import_ctx {
        char *id;
        struct berth_error *err;
};

static int on_import_msg(json_t *msg, void *userdata)
{
        struct import_ctx *ctx = userdata;
        const char *error = json_string_value(json_object_get(msg, "error"));
        if (error) {
                berth_error_setx(&ctx->err, EIO, "%s", error);
                return -EIO;
        }
        const char *status = json_string_value(json_object_get(msg, "status"));
        if (status) {
                free(ctx->id);
                ctx->id = xstrdup(status);
        }
        return 0;
}

static int import_call(const char *path, int fd, struct import_ctx *ctx, struct berth_error **err)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        int r = cli_connect(&c, err);
        if (r < 0)
                return r;
        if (fd >= 0)
                r = http_send_fd(c, "POST", path, "application/x-tar", fd, err);
        else
                r = http_send(c, "POST", path, NULL, NULL, 0, NULL, err);
        if (r < 0)
                return r;
        struct http_resp resp = {0};
        r = http_read_head(c, &resp, err);
        if (r < 0)
                return r;
        if (resp.status >= 400) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                http_read_body_all(c, &resp, 1 << 20, &text, &len, NULL);
                http_resp_release(&resp);
                _cleanup_free_ char *m = cli_error_message(text ? text : "", len);
                return berth_error_setx(err, resp.status == 404 ? ENOENT : EIO,
                                        "Error response from daemon: %s", m);
        }
        r = cli_stream_json(c, &resp, on_import_msg, ctx, err);
        http_resp_release(&resp);
        if (ctx->err) {
                if (r == 0 || !*err)
                        *err = TAKE_PTR(ctx->err);
                return -EIO;
        }
        if (r == 0 && !ctx->id)
                return berth_error_setx(err, EPROTO, "the daemon answered no image id");
        return r;
}

int cmd_import(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"change", 'c', CLI_LIST},
                                                {"message", 'm', CLI_STRING},
                                                {"platform", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", flags,
                       ARRAY_SIZE(flags), argc, argv, true, 1, 2, &code) < 0)
                return code;
        const char *src = a.pos[0];
        bool url = !strncmp(src, "http://", 7) || !strncmp(src, "https://", 8);
        _cleanup_close_ int fd = -1;
        if (!url && strcmp(src, "-")) {
                fd = open(src, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        fprintf(stderr, "open %s: %s\n", src, strerror(errno));
                        cli_args_release(&a);
                        return 1;
                }
        }
        _cleanup_free_ char *q = NULL;
        query_add(&q, "fromSrc", url ? src : "-");
        if (a.pos[1])
                query_add(&q, "repo", a.pos[1]);
        if (cli_arg_str(&a, "message"))
                query_add(&q, "message", cli_arg_str(&a, "message"));
        if (cli_arg_str(&a, "platform"))
                query_add(&q, "platform", cli_arg_str(&a, "platform"));
        add_changes(&q, &a);
        cli_args_release(&a);
        _cleanup_free_ char *path = xasprintf("/images/create%s", q);
        struct import_ctx ctx = {0};
        _cleanup_error_ struct berth_error *e = NULL;
        int r = import_call(path, url ? -1 : fd >= 0 ? fd : STDIN_FILENO, &ctx, &e);
        if (r < 0) {
                free(ctx.id);
                berth_error_free(ctx.err);
                return cli_fail(e, 1);
        }
        printf("%s\n", ctx.id);
        free(ctx.id);
        return 0;
}

int cmd_commit(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"author", 'a', CLI_STRING},
                                                {"change", 'c', CLI_LIST},
                                                {"message", 'm', CLI_STRING},
                                                {"pause", 'p', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", flags,
                       ARRAY_SIZE(flags), argc, argv, true, 1, 2, &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        query_add(&q, "container", a.pos[0]);
        if (a.pos[1])
                query_add(&q, "repo", a.pos[1]);
        if (cli_arg_str(&a, "author"))
                query_add(&q, "author", cli_arg_str(&a, "author"));
        if (cli_arg_str(&a, "message"))
                query_add(&q, "comment", cli_arg_str(&a, "message"));
        /* docker's --pause defaults to true; --pause=false commits a running container as is */
        query_add(&q, "pause", !cli_arg_set(&a, "pause") || cli_arg_bool(&a, "pause") ? "1" : "0");
        add_changes(&q, &a);
        cli_args_release(&a);
        _cleanup_free_ char *path = xasprintf("/commit%s", q);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *out = NULL;
        if (cli_call("POST", path, NULL, NULL, &out, &e) < 0)
                return cli_fail(e, 1);
        const char *id = json_string_value(json_object_get(out, "Id"));
        if (!id) {
                fprintf(stderr, "the daemon answered no image id\n");
                return 1;
        }
        printf("%s\n", id);
        return 0;
}
