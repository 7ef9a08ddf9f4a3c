/* libFuzzer target: a ContainerCreate body (and, after a NUL byte, an image config) →
 * daemon_spec_build(), daemon_spec_validate(), daemon_spec_parse_mounts() and
 * daemon_spec_exec_process(). Client input must never crash, leak or hang the daemon: every
 * outcome is a spec or an error. */
#include "daemon/spec/spec.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char rootfs[] = "/tmp/berth-fuzz-spec-XXXXXX";

static void fuzz_init(void)
{
        static bool done;
        if (done)
                return;
        done = true;
        if (!mkdtemp(rootfs))
                abort();
        char path[128];
        snprintf(path, sizeof(path), "%s/etc", rootfs);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/etc/passwd", rootfs);
        FILE *f = fopen(path, "we");
        if (!f)
                abort();
        fputs("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/etc/group", rootfs);
        f = fopen(path, "we");
        if (!f)
                abort();
        fputs("root:x:0:\nstaff:x:50:alice\n", f);
        fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_init();
        const uint8_t *nul = memchr(data, '\0', size);
        size_t first = nul ? (size_t)(nul - data) : size;
        json_t *create = json_loadb((const char *)data, first, 0, NULL);
        if (!create)
                return 0;
        json_t *image = nul ? json_loadb((const char *)nul + 1, size - first - 1, 0, NULL) : NULL;
        struct spec_mount m = {.source = "/tmp", .target = "/data", .readonly = true};
        struct spec_ctx ctx = {
            .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            .rootfs = rootfs,
            .hosts_path = "/etc/hosts",
            .init_path = "/bin/true",
            .seccomp_default_path = SOURCE_ROOT "/data/seccomp/default.json",
            .net_container_pid = 1,
            .mounts = &m,
            .n_mounts = 1,
        };
        struct berth_error *err = NULL;
        json_t *spec = NULL;
        if (daemon_spec_build(create, image, &ctx, &spec, &err) == 0) {
                char *text = json_dumps(spec, 0);
                free(text);
                json_t *proc = NULL;
                if (daemon_spec_exec_process(
                        create, spec,
                        json_object_get(json_object_get(create, "HostConfig"), "GroupAdd"), rootfs,
                        &proc, &err) == 0)
                        json_decref(proc);
                berth_error_free(err);
                err = NULL;
                json_decref(spec);
        } else {
                berth_error_free(err);
                err = NULL;
        }
        if (daemon_spec_validate(create, image, &err) < 0) {
                berth_error_free(err);
                err = NULL;
        }
        struct spec_mount_req *reqs = NULL;
        size_t n = 0;
        if (daemon_spec_parse_mounts(create, &reqs, &n, &err) == 0)
                daemon_spec_mount_reqs_free(reqs, n);
        else
                berth_error_free(err);
        json_decref(image);
        json_decref(create);
        return 0;
}
