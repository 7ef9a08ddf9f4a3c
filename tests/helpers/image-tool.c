/* image-tool: drives the image library directly (no daemon) for the integration tests and
 * benchmarks. Usage: image-tool --root DIR VERB ARGS…
 *   pull REF [--platform P] [--insecure HOST] [--auth X-REGISTRY-AUTH] [--docker-config FILE]
 *   push REF [same options]
 *   layers NAME    (the image's overlay layer dirs, top-most first)
 *   tag NAME NEWREF
 * Progress goes to stderr as JSON lines; results to stdout. Verbs of other engineers live in
 * their own functions below. */
#include "image/image.h"

static void progress_json(const struct berth_progress *p, void *userdata)
{
        json_t *j = json_pack("{s:s}", "status", p->status);
        if (p->id)
                json_object_set_new(j, "id", json_string(p->id));
        if (p->current || p->total)
                json_object_set_new(j, "progressDetail",
                                    json_pack("{s:I, s:I}", "current", (json_int_t)p->current,
                                              "total", (json_int_t)p->total));
        char *s = json_dumps(j, JSON_COMPACT);
        fprintf(stderr, "%s\n", s);
        free(s);
        json_decref(j);
}

static void log_sink(enum berth_log_level level, const char *msg, void *userdata)
{
        fprintf(stderr, "%s\n", msg);
}

static int fail(struct berth_error *e)
{
        fprintf(stderr, "image-tool: %s\n", e ? e->msg : "unknown error");
        berth_error_free(e);
        return 1;
}

/* pull/push: REF then options */
static int registry_verb(struct berth_images *imgs, bool push, int argc, char **argv)
{
        if (argc < 1) {
                fprintf(stderr, "usage: image-tool --root DIR %s REF [options]\n",
                        push ? "push" : "pull");
                return 2;
        }
        struct berth_registry_opts o = {.progress = progress_json};
        char *insecure[16] = {0};
        size_t ni = 0;
        /* options come in pairs: OPTION VALUE */
        for (int i = 1; i < argc; i += 2) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!v) {
                        fprintf(stderr, "image-tool: option `%s` needs a value\n", a);
                        return 2;
                }
                if (!strcmp(a, "--platform"))
                        o.platform = v;
                else if (!strcmp(a, "--auth"))
                        o.auth_header = v;
                else if (!strcmp(a, "--docker-config"))
                        o.docker_config = v;
                else if (!strcmp(a, "--insecure") && ni + 1 < ARRAY_SIZE(insecure))
                        insecure[ni++] = (char *)v;
                else {
                        fprintf(stderr, "image-tool: unknown option `%s`\n", a);
                        return 2;
                }
        }
        o.insecure_registries = insecure;
        struct berth_error *e = NULL;
        char *out = NULL;
        int r = push ? berth_image_push(imgs, argv[0], &o, &out, &e)
                     : berth_image_pull(imgs, argv[0], &o, &out, &e);
        if (r < 0)
                return fail(e);
        printf("%s\n", out);
        free(out);
        return 0;
}

static int layers_verb(struct berth_images *imgs, int argc, char **argv)
{
        if (argc != 1) {
                fprintf(stderr, "usage: image-tool --root DIR layers NAME\n");
                return 2;
        }
        struct berth_error *e = NULL;
        char *id = NULL;
        char **dirs = NULL;
        if (berth_image_resolve(imgs, argv[0], &id, &e) < 0 ||
            berth_image_layer_dirs(imgs, id, &dirs, &e) < 0) {
                free(id);
                return fail(e);
        }
        for (size_t i = 0; dirs[i]; i++)
                printf("%s\n", dirs[i]);
        strv_free(dirs);
        free(id);
        return 0;
}

static int tag_verb(struct berth_images *imgs, int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: image-tool --root DIR tag NAME NEWREF\n");
                return 2;
        }
        struct berth_error *e = NULL;
        char *id = NULL;
        if (berth_image_resolve(imgs, argv[0], &id, &e) < 0 ||
            berth_image_tag(imgs, id, argv[1], &e) < 0) {
                free(id);
                return fail(e);
        }
        free(id);
        return 0;
}

/* ---------------------------------------------------------------- store verbs
 *   load FILE|-            save OUT NAME…          inspect NAME     history NAME
 *   list [FILTERS-JSON]    rmi [-f] NAME…          prune [-a]       df      resolve NAME
 * JSON results go to stdout, one document per call. */

static void print_json(json_t *j)
{
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
}

static int store_verb(struct berth_images *imgs, const char *verb, int argc, char **argv)
{
        struct berth_error *e = NULL;
        json_t *out = NULL;
        int r = 0;
        if (!strcmp(verb, "load") && argc == 1) {
                int fd = strcmp(argv[0], "-") ? open(argv[0], O_RDONLY | O_CLOEXEC) : 0;
                if (fd < 0) {
                        fprintf(stderr, "image-tool: open `%s`: %m\n", argv[0]);
                        return 1;
                }
                char **loaded = NULL;
                r = berth_image_load(imgs, fd, progress_json, NULL, &loaded, &e);
                for (size_t i = 0; r == 0 && loaded[i]; i++)
                        printf("%s\n", loaded[i]);
                strv_free(loaded);
                if (fd > 0)
                        close(fd);
        } else if (!strcmp(verb, "save") && argc >= 2) {
                int fd = strcmp(argv[0], "-")
                             ? open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                             : 1;
                if (fd < 0) {
                        fprintf(stderr, "image-tool: open `%s`: %m\n", argv[0]);
                        return 1;
                }
                r = berth_image_save(imgs, argv + 1, fd, &e);
                if (fd > 1)
                        close(fd);
        } else if (!strcmp(verb, "inspect") && argc == 1) {
                r = berth_image_inspect(imgs, argv[0], &out, &e);
        } else if (!strcmp(verb, "history") && argc == 1) {
                r = berth_image_history(imgs, argv[0], &out, &e);
        } else if (!strcmp(verb, "list") && argc <= 1) {
                json_t *filters = argc ? json_loads(argv[0], 0, NULL) : NULL;
                r = berth_image_list(imgs, false, filters, &out, &e);
                json_decref(filters);
        } else if (!strcmp(verb, "rmi") && argc >= 1) {
                bool force = !strcmp(argv[0], "-f");
                out = json_array();
                for (int i = force ? 1 : 0; r == 0 && i < argc; i++) {
                        json_t *rep = NULL;
                        r = berth_image_remove(imgs, argv[i], force, false, NULL, NULL, &rep, &e);
                        if (r == 0)
                                json_array_extend(out, rep);
                        json_decref(rep);
                }
        } else if (!strcmp(verb, "prune") && argc <= 1) {
                r = berth_image_prune(imgs, argc == 1 && !strcmp(argv[0], "-a"), NULL, NULL, NULL,
                                      &out, &e);
        } else if (!strcmp(verb, "df") && argc == 0) {
                r = berth_image_disk_usage(imgs, &out, &e);
        } else if (!strcmp(verb, "resolve") && argc == 1) {
                char *id = NULL;
                r = berth_image_resolve(imgs, argv[0], &id, &e);
                if (r == 0)
                        printf("%s\n", id);
                free(id);
        } else {
                fprintf(stderr, "image-tool: bad arguments for `%s`\n", verb);
                return 2;
        }
        if (r < 0) {
                json_decref(out);
                fail(e);
                return r == -ENOENT ? 3 : r == -EBUSY ? 4 : 1;
        }
        if (out)
                print_json(out);
        json_decref(out);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 4 || strcmp(argv[1], "--root")) {
                fprintf(stderr, "usage: image-tool --root DIR VERB ARGS...\n");
                return 2;
        }
        if (getenv("BERTH_PULL_TIMING"))
                berth_log_set_sink(log_sink, BERTH_LOG_INFO, NULL);
        struct berth_images *imgs = NULL;
        struct berth_error *e = NULL;
        if (berth_images_open(argv[2], &imgs, &e) < 0)
                return fail(e);
        const char *verb = argv[3];
        int rc;
        if (!strcmp(verb, "pull") || !strcmp(verb, "push"))
                rc = registry_verb(imgs, !strcmp(verb, "push"), argc - 4, argv + 4);
        else if (!strcmp(verb, "layers"))
                rc = layers_verb(imgs, argc - 4, argv + 4);
        else if (!strcmp(verb, "tag"))
                rc = tag_verb(imgs, argc - 4, argv + 4);
        else if (!strcmp(verb, "load") || !strcmp(verb, "save") || !strcmp(verb, "inspect") ||
                 !strcmp(verb, "history") || !strcmp(verb, "list") || !strcmp(verb, "rmi") ||
                 !strcmp(verb, "prune") || !strcmp(verb, "df") || !strcmp(verb, "resolve"))
                rc = store_verb(imgs, verb, argc - 4, argv + 4);
        else {
                fprintf(stderr, "image-tool: unknown verb `%s`\n", verb);
                rc = 2;
        }
        berth_images_close(imgs);
        return rc;
}
