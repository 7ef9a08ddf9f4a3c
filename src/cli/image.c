/* Image verbs: images, pull, push, tag, rmi, prune, history, save, load. */
#include <inttypes.h>
#include <time.h>

#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }

/* Split "repo[:tag][@digest]" into the repository and the tag (or digest) docker's API takes;
 * tag is "latest" when neither is given. */
static void split_ref(const char *ref, char **ret_name, char **ret_tag)
{
        const char *at = strchr(ref, '@');
        if (at) {
                *ret_name = xstrndup(ref, (size_t)(at - ref));
                *ret_tag = xstrdup(at + 1);
                return;
        }
        const char *slash = strrchr(ref, '/');
        const char *colon = strrchr(slash ? slash : ref, ':');
        if (colon) {
                *ret_name = xstrndup(ref, (size_t)(colon - ref));
                *ret_tag = xstrdup(colon + 1);
                return;
        }
        *ret_name = xstrdup(ref);
        *ret_tag = xstrdup("latest");
}

struct prog_ctx {
        struct progress *p;
        struct berth_error *err;
};

static int on_msg(json_t *msg, void *userdata)
{
        struct prog_ctx *c = userdata;
        if (!c->p) {
                /* quiet: only errors matter */
                const char *m = json_string_value(
                    json_object_get(json_object_get(msg, "errorDetail"), "message"));
                if (!m)
                        m = json_string_value(json_object_get(msg, "error"));
                if (m)
                        return berth_error_setx(&c->err, EIO, "%s", m);
                return 0;
        }
        return progress_msg(c->p, msg, &c->err);
}

/* POST path (body from fd when fd >= 0) and render its JSON message stream. */
static int progress_call(const char *method, const char *path, int fd, const char *ctype,
                         bool quiet, FILE *out, struct berth_error **err)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        struct http_resp resp = {0};
        int r = cli_request(method, path, ctype, NULL, 0, fd, "X-Registry-Auth: e30=\r\n", &c,
                            &resp, err);
        if (r < 0)
                return r;
        if (resp.status >= 400)
                return cli_response_error(c, &resp, err);
        http_resp_release(&resp);
        struct prog_ctx ctx = {.p = quiet ? NULL : progress_new(out, isatty(fileno(out)))};
        r = cli_stream_json(c, &resp, on_msg, &ctx, err);
        progress_free(ctx.p);
        if (ctx.err) {
                if (r == 0 || !*err) {
                        *err = ctx.err;
                } else {
                        berth_error_free(ctx.err);
                }
                return -EIO;
        }
        return r;
}

int cli_pull_image_platform(const char *ref, const char *platform, bool quiet, FILE *out,
                            struct berth_error **err)
{
        _cleanup_free_ char *name = NULL, *tag = NULL;
        split_ref(ref, &name, &tag);
        _cleanup_free_ char *q = NULL;
        query_add(&q, "fromImage", name);
        query_add(&q, "tag", tag);
        if (platform && *platform)
                query_add(&q, "platform", platform);
        _cleanup_free_ char *path = xasprintf("/images/create%s", q);
        return progress_call("POST", path, -1, NULL, quiet, out, err);
}

int cli_pull_image(const char *ref, bool quiet, FILE *out, struct berth_error **err)
{
        return cli_pull_image_platform(ref, NULL, quiet, out, err);
}

int cmd_pull(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"quiet", 'q', CLI_BOOL},
                                                {"all-tags", 'a', CLI_BOOL},
                                                {"platform", 0, CLI_STRING},
                                                {"disable-content-trust", 0, CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "pull", "[OPTIONS] NAME[:TAG|@DIGEST]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, 1, &code) < 0)
                return code;
        if (cli_refuse_content_trust(&a)) {
                cli_args_release(&a);
                return 125;
        }
        _cleanup_error_ struct berth_error *e = NULL;
        bool quiet = cli_arg_bool(&a, "quiet");
        int r;
        if (cli_arg_bool(&a, "all-tags")) {
                _cleanup_free_ char *q = NULL;
                query_add(&q, "fromImage", a.pos[0]);
                if (cli_arg_str(&a, "platform"))
                        query_add(&q, "platform", cli_arg_str(&a, "platform"));
                _cleanup_free_ char *path = xasprintf("/images/create%s", q);
                r = progress_call("POST", path, -1, NULL, quiet, stdout, &e);
        } else {
                r = cli_pull_image_platform(a.pos[0], cli_arg_str(&a, "platform"), quiet, stdout,
                                            &e);
        }
        if (r < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        _cleanup_free_ char *name = NULL, *tag = NULL;
        split_ref(a.pos[0], &name, &tag);
        printf("%s%s%s\n", name, strchr(a.pos[0], '@') ? "@" : ":", tag);
        cli_args_release(&a);
        return 0;
}

int cmd_push(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"quiet", 'q', CLI_BOOL},
                                                {"all-tags", 'a', CLI_BOOL},
                                                {"disable-content-trust", 0, CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "push", "[OPTIONS] NAME[:TAG]", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 1, 1, &code) < 0)
                return code;
        if (cli_refuse_content_trust(&a)) {
                cli_args_release(&a);
                return 125;
        }
        _cleanup_free_ char *name = NULL, *tag = NULL;
        split_ref(a.pos[0], &name, &tag);
        _cleanup_free_ char *enc = cli_urlencode(name);
        _cleanup_free_ char *q = NULL;
        if (!cli_arg_bool(&a, "all-tags"))
                query_add(&q, "tag", tag);
        _cleanup_free_ char *path = xasprintf("/images/%s/push%s", enc, q ? q : "");
        bool quiet = cli_arg_bool(&a, "quiet");
        _cleanup_error_ struct berth_error *e = NULL;
        if (progress_call("POST", path, -1, NULL, quiet, stdout, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        if (quiet)
                printf("%s\n", a.pos[0]);
        cli_args_release(&a);
        return 0;
}

int cmd_tag(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 2, 2, &code) < 0)
                return code;
        _cleanup_free_ char *name = NULL, *tag = NULL;
        split_ref(a.pos[1], &name, &tag);
        _cleanup_free_ char *q = NULL;
        query_add(&q, "repo", name);
        query_add(&q, "tag", tag);
        _cleanup_free_ char *enc = cli_urlencode(a.pos[0]);
        _cleanup_free_ char *path = xasprintf("/images/%s/tag%s", enc, q);
        cli_args_release(&a);
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("POST", path, NULL, NULL, NULL, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

int cmd_rmi(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"force", 'f', CLI_BOOL}, {"no-prune", 0, CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "rmi", "[OPTIONS] IMAGE [IMAGE...]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, -1, &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        if (cli_arg_bool(&a, "force"))
                query_add(&q, "force", "1");
        if (cli_arg_bool(&a, "no-prune"))
                query_add(&q, "noprune", "1");
        code = 0;
        for (char **p = a.pos; *p; p++) {
                _cleanup_free_ char *enc = cli_urlencode(*p);
                _cleanup_free_ char *path = xasprintf("/images/%s%s", enc, q ? q : "");
                _cleanup_json_ json_t *j = NULL;
                _cleanup_error_ struct berth_error *e = NULL;
                if (cli_call("DELETE", path, NULL, NULL, &j, &e) < 0) {
                        cli_print_error(e);
                        code = 1;
                        continue;
                }
                cli_print_deleted(j, false);
        }
        cli_args_release(&a);
        return code;
}

int cmd_image_prune(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"all", 'a', CLI_BOOL}, {"force", 'f', CLI_BOOL}, {"filter", 0, CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "image prune", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true,
                       0, 0, &code) < 0)
                return code;
        bool all = cli_arg_bool(&a, "all");
        if (!cli_arg_bool(&a, "force") &&
            !cli_confirm(" %s.", all ? "all images without at least one container associated "
                                       "to them"
                                     : "all dangling images")) {
                cli_args_release(&a);
                return 0;
        }
        _cleanup_json_ json_t *f = json_object();
        json_object_set_new(f, "dangling", json_pack("[s]", all ? "false" : "true"));
        filters_add(f, cli_arg_list(&a, "filter"));
        cli_args_release(&a);
        _cleanup_free_ char *fs = json_dumps(f, JSON_COMPACT);
        _cleanup_free_ char *q = NULL;
        query_add(&q, "filters", fs);
        _cleanup_free_ char *path = xasprintf("/images/prune%s", q);
        int64_t total = 0;
        if (cli_prune(path, "ImagesDeleted", "Deleted Images", true, &total) < 0)
                return 1;
        cli_print_reclaimed(total);
        return 0;
}

/* docker shows "N/A" for an unknown creation time in history, but not in images */
static char *since(json_int_t created, bool na_if_zero)
{
        if (created <= 0 && na_if_zero)
                return xstrdup("N/A");
        _cleanup_free_ char *d = fmt_human_duration((int64_t)time(NULL) - created);
        return xasprintf("%s ago", d);
}

static char *created_at(json_int_t created)
{
        time_t t = (time_t)created;
        struct tm tm;
        char buf[64];
        localtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
        return xstrdup(buf);
}

static json_t *image_row(json_t *img, const char *repo, const char *tag, const char *digest,
                         bool trunc)
{
        json_t *x = json_object();
        const char *id = json_string_value(json_object_get(img, "Id"));
        id = id ? id : "";
        _cleanup_free_ char *sid = trunc ? fmt_short_id(id) : xstrdup(id);
        json_int_t created = json_integer_value(json_object_get(img, "Created"));
        _cleanup_free_ char *cs = since(created, false), *ca = created_at(created);
        _cleanup_free_ char *size =
            fmt_human_size3((double)json_integer_value(json_object_get(img, "Size")));
        json_int_t shared = json_integer_value(json_object_get(img, "SharedSize"));
        _cleanup_free_ char *ssz = shared >= 0 ? fmt_human_size3((double)shared) : xstrdup("N/A");
        json_int_t cont = json_integer_value(json_object_get(img, "Containers"));
        _cleanup_free_ char *cstr =
            cont >= 0 ? xasprintf("%" JSON_INTEGER_FORMAT, cont) : xstrdup("N/A");
        json_object_set_new(x, "ID", json_string(sid));
        json_object_set_new(x, "Repository", json_string(repo));
        json_object_set_new(x, "Tag", json_string(tag));
        json_object_set_new(x, "Digest", json_string(digest));
        json_object_set_new(x, "CreatedSince", json_string(cs));
        json_object_set_new(x, "CreatedAt", json_string(ca));
        json_object_set_new(x, "Size", json_string(size));
        _cleanup_free_ char *vsize =
            fmt_human_size((double)json_integer_value(json_object_get(img, "Size")));
        json_object_set_new(x, "VirtualSize", json_string(vsize));
        json_object_set_new(x, "SharedSize", json_string(ssz));
        json_object_set_new(x, "UniqueSize", json_string("N/A"));
        json_object_set_new(x, "Containers", json_string(cstr));
        return x;
}

int cmd_images(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"all", 'a', CLI_BOOL},
                                                {"quiet", 'q', CLI_BOOL},
                                                {"digests", 0, CLI_BOOL},
                                                {"no-trunc", 0, CLI_BOOL},
                                                {"filter", 'f', CLI_LIST},
                                                {"format", 0, CLI_STRING},
                                                {"tree", 0, CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "images", "[OPTIONS] [REPOSITORY[:TAG]]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 0, 1, &code) < 0)
                return code;
        if (cli_refuse_flag(&a, "tree", "docker's experimental tree view is not implemented")) {
                cli_args_release(&a);
                return 125;
        }
        _cleanup_json_ json_t *f = json_object();
        filters_add(f, cli_arg_list(&a, "filter"));
        if (a.pos && a.pos[0])
                json_object_set_new(f, "reference", json_pack("[s]", a.pos[0]));
        _cleanup_free_ char *q = NULL;
        if (cli_arg_bool(&a, "all"))
                query_add(&q, "all", "1");
        if (json_object_size(f)) {
                _cleanup_free_ char *fs = json_dumps(f, JSON_COMPACT);
                query_add(&q, "filters", fs);
        }
        _cleanup_free_ char *path = xasprintf("/images/json%s", q ? q : "");
        _cleanup_json_ json_t *list = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &list, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        bool trunc = !cli_arg_bool(&a, "no-trunc"), quiet = cli_arg_bool(&a, "quiet");
        bool digests = cli_arg_bool(&a, "digests");
        const char *format = cli_arg_str(&a, "format");
        _cleanup_json_ json_t *rows = json_array();
        _cleanup_json_ json_t *seen = json_object();
        size_t i;
        json_t *img;
        json_array_foreach(list, i, img)
        {
                json_t *tags = json_object_get(img, "RepoTags");
                json_t *dg = json_object_get(img, "RepoDigests");
                const char *id = json_string_value(json_object_get(img, "Id"));
                if (quiet && !format) {
                        /* one line per image, not per tag */
                        if (id && json_object_get(seen, id))
                                continue;
                        if (id)
                                json_object_set_new(seen, id, json_true());
                        json_array_append_new(rows, image_row(img, "", "", "", trunc));
                        continue;
                }
                size_t k, ntags = 0;
                json_t *t;
                json_array_foreach(tags, k, t)
                {
                        const char *s = json_string_value(t);
                        if (!s || strcmp(s, "<none>:<none>") == 0)
                                continue;
                        const char *slash = strrchr(s, '/');
                        const char *colon = strrchr(slash ? slash : s, ':');
                        _cleanup_free_ char *repo =
                            colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
                        const char *digest = "<none>";
                        size_t di;
                        json_t *d;
                        json_array_foreach(dg, di, d)
                        {
                                const char *ds = json_string_value(d);
                                const char *at = ds ? strchr(ds, '@') : NULL;
                                if (at && (size_t)(at - ds) == strlen(repo) &&
                                    strncmp(ds, repo, strlen(repo)) == 0)
                                        digest = at + 1;
                        }
                        json_array_append_new(
                            rows, image_row(img, repo, colon ? colon + 1 : "", digest, trunc));
                        ntags++;
                }
                if (ntags == 0) {
                        const char *digest = "<none>", *repo = "<none>";
                        _cleanup_free_ char *r = NULL;
                        json_t *d = json_array_get(dg, 0);
                        const char *ds = json_string_value(d);
                        const char *at = ds ? strchr(ds, '@') : NULL;
                        if (at) {
                                digest = at + 1;
                                r = xstrndup(ds, (size_t)(at - ds));
                                repo = r;
                        }
                        json_array_append_new(rows, image_row(img, repo, "<none>", digest, trunc));
                }
        }
        if (quiet && !format)
                format = "{{.ID}}";
        const char *dflt = digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                                     "{{.CreatedSince}}\t{{.Size}}"
                                   : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t"
                                     "{{.CreatedSince}}\t{{.Size}}";
        if (!format || strcmp(format, "table") == 0)
                format = dflt;
        _cleanup_json_ json_t *h = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "IMAGE ID", "Repository",
            "REPOSITORY", "Tag", "TAG", "Digest", "DIGEST", "CreatedSince", "CREATED", "CreatedAt",
            "CREATED AT", "Size", "SIZE", "VirtualSize", "VIRTUAL SIZE", "SharedSize",
            "SHARED SIZE", "UniqueSize", "UNIQUE SIZE", "Containers", "CONTAINERS");
        _cleanup_free_ char *fmt = xstrdup(format);
        cli_args_release(&a);
        if (print_table(rows, fmt, h, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

int cmd_history(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"human", 'H', CLI_BOOL},
                                                {"no-trunc", 0, CLI_BOOL},
                                                {"quiet", 'q', CLI_BOOL},
                                                {"format", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "history", "[OPTIONS] IMAGE", flags, ARRAY_SIZE(flags), argc, argv, true,
                       1, 1, &code) < 0)
                return code;
        if (cli_arg_set(&a, "human") && !cli_arg_bool(&a, "human")) {
                fprintf(stderr, "berth: --human=false is not supported: sizes and dates are "
                                "printed in human-readable form\n");
                cli_args_release(&a);
                return 125;
        }
        _cleanup_free_ char *enc = cli_urlencode(a.pos[0]);
        _cleanup_free_ char *path = xasprintf("/images/%s/history", enc);
        _cleanup_json_ json_t *list = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &list, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        bool trunc = !cli_arg_bool(&a, "no-trunc");
        _cleanup_json_ json_t *rows = json_array();
        size_t i;
        json_t *h;
        json_array_foreach(list, i, h)
        {
                json_t *x = json_object();
                const char *id = json_string_value(json_object_get(h, "Id"));
                _cleanup_free_ char *sid = !id || strcmp(id, "<missing>") == 0
                                               ? xstrdup("<missing>")
                                           : trunc ? fmt_short_id(id)
                                                   : xstrdup(id);
                json_int_t created = json_integer_value(json_object_get(h, "Created"));
                _cleanup_free_ char *cs = since(created, true), *ca = created_at(created);
                const char *by = json_string_value(json_object_get(h, "CreatedBy"));
                char *b = xstrdup(by ? by : "");
                /* docker squeezes whitespace runs in CreatedBy and cuts it at 45 characters */
                char *o = b;
                for (char *p = b; *p; p++) {
                        if ((*p == '\t' || *p == '\n' || *p == ' ') && o > b && o[-1] == ' ')
                                continue;
                        *o++ = (*p == '\t' || *p == '\n') ? ' ' : *p;
                }
                *o = '\0';
                if (trunc && strlen(b) > 45) {
                        char *t = xasprintf("%.44s…", b);
                        free(b);
                        b = t;
                }
                _cleanup_free_ char *sz =
                    fmt_human_size3((double)json_integer_value(json_object_get(h, "Size")));
                const char *comment = json_string_value(json_object_get(h, "Comment"));
                json_object_set_new(x, "ID", json_string(sid));
                json_object_set_new(x, "CreatedSince", json_string(cs));
                json_object_set_new(x, "CreatedAt", json_string(ca));
                json_object_set_new(x, "CreatedBy", json_string(b));
                json_object_set_new(x, "Size", json_string(sz));
                json_object_set_new(x, "Comment", json_string(comment ? comment : ""));
                free(b);
                json_array_append_new(rows, x);
        }
        const char *format = cli_arg_str(&a, "format");
        if (cli_arg_bool(&a, "quiet") && !format)
                format = "{{.ID}}";
        if (!format || strcmp(format, "table") == 0)
                format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t"
                         "{{.Comment}}";
        _cleanup_json_ json_t *hd = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "IMAGE", "CreatedSince", "CREATED", "CreatedAt",
            "CREATED AT", "CreatedBy", "CREATED BY", "Size", "SIZE", "Comment", "COMMENT");
        _cleanup_free_ char *fmt = xstrdup(format);
        cli_args_release(&a);
        if (print_table(rows, fmt, hd, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

int cmd_save(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"output", 'o', CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "save", "[OPTIONS] IMAGE [IMAGE...]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, -1, &code) < 0)
                return code;
        const char *out = cli_arg_str(&a, "output");
        _cleanup_close_ int fd = -1;
        if (cli_open_output(out, "save image", &fd) < 0) {
                cli_args_release(&a);
                return 1;
        }
        _cleanup_free_ char *q = NULL;
        for (char **p = a.pos; *p; p++)
                query_add(&q, "names", *p);
        cli_args_release(&a);
        _cleanup_free_ char *path = xasprintf("/images/get%s", q);
        _cleanup_error_ struct berth_error *e = NULL;
        if (stream_get(path, false, fd >= 0 ? fd : STDOUT_FILENO, &e) < 0) {
                if (out)
                        unlink(out);
                return cli_fail(e, 1);
        }
        return 0;
}

int cmd_load(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"input", 'i', CLI_STRING},
                                                {"quiet", 'q', CLI_BOOL},
                                                {"platform", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "load", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0, 0,
                       &code) < 0)
                return code;
        if (cli_refuse_flag(&a, "platform", "an archive is loaded whole")) {
                cli_args_release(&a);
                return 125;
        }
        const char *in = cli_arg_str(&a, "input");
        bool quiet = cli_arg_bool(&a, "quiet");
        _cleanup_close_ int fd = -1;
        if (in) {
                fd = open(in, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        fprintf(stderr, "open %s: %s\n", in, strerror(errno));
                        cli_args_release(&a);
                        return 1;
                }
        } else if (isatty(STDIN_FILENO)) {
                fprintf(stderr, "requested load from stdin, but stdin is empty\n");
                cli_args_release(&a);
                return 1;
        }
        cli_args_release(&a);
        /* quiet=1 asks the daemon for plain "Loaded image" lines instead of progress */
        _cleanup_free_ char *path =
            xasprintf("/images/load%s", quiet || !cli.stdout_tty ? "?quiet=1" : "");
        _cleanup_error_ struct berth_error *e = NULL;
        if (progress_call("POST", path, fd >= 0 ? fd : STDIN_FILENO, "application/x-tar", false,
                          stdout, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}
