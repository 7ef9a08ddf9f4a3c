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
        for (int i = 1; i < argc; i++) {
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
                i++;
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
        else {
                fprintf(stderr, "image-tool: unknown verb `%s`\n", verb);
                rc = 2;
        }
        berth_images_close(imgs);
        return rc;
}
