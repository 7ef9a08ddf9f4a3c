/* libFuzzer target: berthd's configuration file (dockerd's daemon.json format: the keys berthd
 * takes, `runtimes` with their paths and arguments, `default-runtime`), the runtime set made from
 * it and a name lookup in it. Input: the file's bytes. */
#include "daemon/daemon.h"

#include <sys/mman.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct daemon_config cfg;
        struct berth_error *err = NULL;
        int fd = memfd_create("daemon.json", MFD_CLOEXEC);
        char path[64];

        if (fd < 0 || berth_write_all(fd, data, size) < 0) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (daemon_config_load(path, true, &cfg, &err) == 0) {
                struct daemon_runtimes *rts = daemon_runtimes_new(&cfg, cfg.default_runtime, &err);
                if (rts) {
                        const struct daemon_runtime *rt;
                        const char *names[] = {"runc", "berth", "", cfg.default_runtime};
                        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                                if (daemon_runtime_lookup(rts, names[i], &rt, &err) < 0)
                                        berth_error_free(TAKE_PTR(err));
                        }
                        daemon_runtimes_put(rts);
                } else {
                        berth_error_free(TAKE_PTR(err));
                }
                daemon_config_release(&cfg);
        } else {
                berth_error_free(TAKE_PTR(err));
        }
        close(fd);
        return 0;
}
