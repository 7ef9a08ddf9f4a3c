/* Container create: docker's ContainerCreate body validated (daemon_spec_validate), the image
 * resolved, Binds/Mounts/anonymous volumes resolved into docker's Mounts array, a name chosen,
 * the container dir made and the row stored. And the host-side /dev/shm of IpcMode shareable and
 * container:<x> (moby's setupIPCDirs), mounted at start and unmounted at exit. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/containers/etc-files.h"
#include "daemon/containers/lifecycle.h"
#include "daemon/state/logs.h"
#include "daemon/network/network.h"
#include "daemon/spec/spec.h"
#include "daemon/state/volumes.h"
#include "runtime/runtime.h"

#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#define DEFAULT_SHM_SIZE (64 * 1024 * 1024)

static const char *const adjectives[] = {
    "admiring", "brave",  "calm",  "clever", "dreamy", "eager",   "elegant",  "focused",
    "gallant",  "happy",  "jolly", "keen",   "lucid",  "modest",  "nifty",    "pensive",
    "quirky",   "serene", "sharp", "tender", "upbeat", "vibrant", "wizardly", "zealous"};
static const char *const surnames[] = {
    "babbage",  "curie",   "darwin",  "euclid",  "fermat", "galileo",  "hopper",  "kepler",
    "lovelace", "meitner", "newton",  "noether", "pascal", "ritchie",  "shannon", "thompson",
    "turing",   "wozniak", "hypatia", "lamarr",  "knuth",  "torvalds", "liskov",  "hamilton"};

/* One entry of docker's Mounts array; a volume that is not nocopy also goes to populate
 * (docker's CopyData: filled from the image at create, see volumes_populate). mode: the Binds
 * options as given (inspect's Mode), NULL otherwise. */
static int add_mount(struct containers *cs, const char *id, json_t *mounts, json_t *populate,
                     const char *type, const char *source, const char *target, bool rw,
                     const char *propagation, bool nocopy, const char *mode,
                     struct berth_error **err)
{
        _cleanup_free_ char *name = NULL, *mountpoint = NULL;
        json_t *m;
        int r;

        if (!target || target[0] != '/')
                return berth_error_setx(err, EINVAL, "invalid mount target `%s`: not absolute",
                                        target ? target : "");
        if (strcmp(type, "volume") == 0) {
                r = volumes_get_or_create(cs->d, source, id, &name, &mountpoint, err);
                if (r < 0)
                        return r;
                m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "Type", "volume", "Name", name,
                              "Source", mountpoint, "Destination", target, "Driver", "local",
                              "Mode", mode ? mode : "z", "RW", rw, "Propagation", "");
                if (!nocopy)
                        json_array_append_new(
                            populate, json_pack("{s:s,s:s}", "Name", name, "Destination", target));
        } else {
                if (!source || source[0] != '/')
                        return berth_error_setx(err, EINVAL,
                                                "invalid mount source `%s`: not absolute",
                                                source ? source : "");
                m = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "Type", "bind", "Source", source,
                              "Destination", target, "Mode", mode ? mode : "", "RW", rw,
                              "Propagation", propagation ? propagation : "rprivate");
        }
        json_array_append_new(mounts, m);
        return 0;
}

static bool mount_covers(json_t *mounts, const char *target)
{
        size_t i;
        json_t *e;

        json_array_foreach(mounts, i, e)
        {
                if (strcmp(berth_json_get_str(e, "Destination") ?: "", target) == 0)
                        return true;
        }
        return false;
}

/* HostConfig.VolumesFrom ("container[:ro|:rw]", moby's parseVolumesFrom): the volumes and binds
 * of another container at the same destinations, read-only or read-write as the suffix says
 * (else as they are there), unless this container mounts something of its own there. The
 * volumes are referenced for id (not copied into: they exist). */
static int volumes_from(struct containers *cs, const char *id, json_t *from, json_t *mounts,
                        struct berth_error **err)
{
        _cleanup_json_ json_t *ignored = json_array();
        size_t i, k;
        json_t *e, *m;

        if (from && !json_is_null(from) && !json_is_array(from))
                return berth_error_setx(err, EINVAL,
                                        "invalid value for `VolumesFrom`: expected an array of "
                                        "strings");
        json_array_foreach(from, i, e)
        {
                const char *spec = json_string_value(e);
                struct container *donor;
                int r = 0;

                if (!spec || !*spec)
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `VolumesFrom`: expected an "
                                                "array of strings");
                const char *colon = strrchr(spec, ':');
                _cleanup_free_ char *name =
                    colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
                const char *mode = colon ? colon + 1 : "";
                if (*mode && strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
                        return berth_error_setx(err, EINVAL, "invalid mode: %s", mode);
                r = container_get(cs, name, &donor, err);
                if (r == -ENOENT) {
                        /* a 400, as dockerd: a 404 to create makes the docker CLI pull the
                         * image */
                        berth_error_free(TAKE_PTR(*err));
                        return berth_error_setx(err, EINVAL, "No such container: %s", name);
                }
                if (r < 0)
                        return r;
                json_array_foreach(json_object_get(donor->config, "mounts"), k, m)
                {
                        const char *type = berth_json_get_str(m, "Type") ?: "";
                        const char *dst = berth_json_get_str(m, "Destination");
                        bool rw = *mode ? strcmp(mode, "rw") == 0
                                        : json_is_true(json_object_get(m, "RW"));
                        if (!dst || mount_covers(mounts, dst))
                                continue;
                        if (strcmp(type, "volume") == 0)
                                r = add_mount(cs, id, mounts, ignored, "volume",
                                              berth_json_get_str(m, "Name"), dst, rw, NULL, true,
                                              *mode ? mode : berth_json_get_str(m, "Mode"), err);
                        else
                                r = add_mount(cs, id, mounts, ignored, "bind",
                                              berth_json_get_str(m, "Source"), dst, rw,
                                              berth_json_get_str(m, "Propagation"), false,
                                              *mode ? mode : berth_json_get_str(m, "Mode"), err);
                        if (r < 0)
                                break;
                }
                container_unref(cs, donor);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Binds ("src:dst[:opts]"), Mounts (bind, volume; tmpfs is the spec's), VolumesFrom and the
 * image's Volumes (anonymous volumes) → docker's Mounts array with resolved sources. */
static int resolve_mounts(struct containers *cs, const char *id, json_t *body, json_t *image_config,
                          json_t **ret, json_t **ret_populate, struct berth_error **err)
{
        _cleanup_json_ json_t *mounts = json_array(), *populate = json_array();
        struct spec_mount_req *reqs = NULL;
        size_t n_reqs = 0;
        json_t *vols = json_object_get(image_config, "Volumes");
        json_t *cvols = json_object_get(body, "Volumes");
        json_t *e;
        size_t i;
        const char *k;
        int r;

        r = daemon_spec_parse_mounts(body, &reqs, &n_reqs, err);
        if (r < 0)
                return r;
        for (i = 0; i < n_reqs; i++) {
                const struct spec_mount_req *q = &reqs[i];
                if (q->kind == SPEC_MOUNT_BIND && q->create_source && access(q->source, F_OK) < 0 &&
                    errno == ENOENT) {
                        /* docker's -v creates a missing host directory */
                        r = berth_mkdir_p(q->source, 0755, err);
                        if (r < 0)
                                goto out;
                }
                r = add_mount(cs, id, mounts, populate,
                              q->kind == SPEC_MOUNT_BIND ? "bind" : "volume",
                              q->kind == SPEC_MOUNT_BIND ? q->source : q->volume, q->target,
                              !q->readonly, q->propagation, q->nocopy, q->mode, err);
                if (r < 0)
                        goto out;
        }
        r = volumes_from(cs, id,
                         json_object_get(json_object_get(body, "HostConfig"), "VolumesFrom"),
                         mounts, err);
        if (r < 0)
                goto out;
        /* anonymous volumes: `-v /path` (Volumes in the body) and the image's VOLUMEs, unless
         * a mount already covers the path */
        for (int pass = 0; pass < 2; pass++) {
                json_t *set = pass == 0 ? cvols : vols;
                json_t *dummy;
                json_object_foreach(set, k, dummy)
                {
                        bool covered = false;
                        json_array_foreach(mounts, i, e) covered |=
                            strcmp(berth_json_get_str(e, "Destination"), k) == 0;
                        if (covered)
                                continue;
                        r = add_mount(cs, id, mounts, populate, "volume", NULL, k, true, NULL,
                                      false, NULL, err);
                        if (r < 0)
                                goto out;
                }
        }
        *ret = TAKE_PTR(mounts);
        *ret_populate = TAKE_PTR(populate);
out:
        daemon_spec_mount_reqs_free(reqs, n_reqs);
        return r < 0 ? r : 0;
}

/* moby's adaptContainerSettings: the daemon's defaults stored in the container's HostConfig, so
 * inspect shows them (IpcMode "private", ShmSize 64 MiB, MemorySwap twice Memory). A new reference;
 * body untouched. */
int container_restart_policy_validate(json_t *rp, struct berth_error **err)
{
        const char *name = berth_json_get_str(rp, "Name");
        json_t *max = json_object_get(rp, "MaximumRetryCount");
        json_int_t n = json_integer_value(max);

        if (rp && !json_is_null(rp) && !json_is_object(rp))
                return berth_error_setx(err, EINVAL,
                                        "HostConfig.RestartPolicy: expected an object");
        if (max && !json_is_null(max) && !json_is_integer(max))
                return berth_error_setx(err, EINVAL,
                                        "invalid restart policy: maximum retry count must be an "
                                        "integer");
        if (!name || !*name) {
                /* an empty name with any count: what clients before docker 25 send */
        } else if (!strcmp(name, "no") || !strcmp(name, "always") ||
                   !strcmp(name, "unless-stopped")) {
                if (n != 0)
                        return berth_error_setx(err, EINVAL,
                                                "invalid restart policy: maximum retry count can "
                                                "only be used with 'on-failure'%s",
                                                n < 0 ? " and cannot be negative" : "");
        } else if (!strcmp(name, "on-failure")) {
                if (n < 0)
                        return berth_error_setx(err, EINVAL,
                                                "invalid restart policy: maximum retry count "
                                                "cannot be negative");
        } else {
                return berth_error_setx(err, EINVAL,
                                        "invalid restart policy: unknown policy '%s'; use one of "
                                        "'no', 'always', 'on-failure', or 'unless-stopped'",
                                        name);
        }
        return 0;
}

/* Config.StopSignal as dockerd checks it (its signal.ParseSignal wording). */
static int validate_stop_signal(json_t *body, struct berth_error **err)
{
        const char *sig = berth_json_get_str(body, "StopSignal");

        if (sig && *sig) {
                int s = berth_signal_parse(sig);
                if (s <= 0 || s >= NSIG)
                        return berth_error_setx(err, EINVAL, "Invalid signal: %s", sig);
        }
        return 0;
}

/* Docker create fields berth has nothing behind: refused with a 400 naming them, never stored
 * and ignored. Where dockerd on a Linux host refuses the same value, its message is used. */
static int validate_unsupported(const json_t *body, const json_t *hc, struct berth_error **err)
{
        static const struct {
                const char *key, *msg;
        } refused[] = {
            /* a real-time budget needs one in every parent cgroup (dockerd's --cpu-rt-runtime),
             * which berth does not set up */
            {"CpuRealtimePeriod", "HostConfig.CpuRealtimePeriod (--cpu-rt-period) is not "
                                  "supported by berth"},
            {"CpuRealtimeRuntime", "HostConfig.CpuRealtimeRuntime (--cpu-rt-runtime) is not "
                                   "supported by berth"},
            {"KernelMemory", "HostConfig.KernelMemory is not supported: kernel memory limits are "
                             "deprecated by the kernel"},
            {"KernelMemoryTCP", "HostConfig.KernelMemoryTCP is not supported: kernel memory "
                                "limits are deprecated by the kernel"},
            /* Windows-only fields */
            {"CpuCount", "HostConfig.CpuCount is not supported on Linux"},
            {"CpuPercent", "HostConfig.CpuPercent is not supported on Linux"},
            {"IOMaximumIOps", "HostConfig.IOMaximumIOps is not supported on Linux"},
            {"IOMaximumBandwidth", "HostConfig.IOMaximumBandwidth is not supported on Linux"},
            {"StorageOpt", "--storage-opt is supported only for overlay over xfs with 'pquota' "
                           "mount option"},
            {"Cgroup", "HostConfig.Cgroup is not supported by berth"},
        };
        const char *iso = berth_json_get_str(hc, "Isolation");
        const char *vd = berth_json_get_str(hc, "VolumeDriver");
        json_t *dr = json_object_get(hc, "DeviceRequests");
        json_t *hcheck = json_object_get(body, "Healthcheck");

        for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
                if (berth_json_is_set(json_object_get(hc, refused[i].key)))
                        return berth_error_setx(err, EINVAL, "%s", refused[i].msg);
        if (iso && *iso && strcmp(iso, "default") != 0)
                return berth_error_setx(err, EINVAL,
                                        "Invalid isolation: \"%s\" - linux only supports "
                                        "'default'",
                                        iso);
        if (vd && *vd && strcmp(vd, "local") != 0)
                return berth_error_setx(err, EINVAL,
                                        "error looking up volume plugin %s: plugin \"%s\" not "
                                        "found",
                                        vd, vd);
        if (berth_json_is_set(dr)) {
                /* dockerd without a device driver (nvidia) registered */
                json_t *caps = json_object_get(json_array_get(dr, 0), "Capabilities"), *set, *c;
                const char *drv = berth_json_get_str(json_array_get(dr, 0), "Driver");
                _cleanup_free_ char *shown = xstrdup("[");
                size_t i, k;
                /* Go's %v of [][]string: [[gpu compute]] */
                json_array_foreach(caps, i, set)
                {
                        char *n = xasprintf("%s%s[", shown, i ? " " : "");
                        free(shown);
                        shown = n;
                        json_array_foreach(set, k, c)
                        {
                                n = xasprintf("%s%s%s", shown, k ? " " : "",
                                              json_string_value(c) ?: "");
                                free(shown);
                                shown = n;
                        }
                        n = xasprintf("%s]", shown);
                        free(shown);
                        shown = n;
                }
                return berth_error_setx(err, EINVAL,
                                        "could not select device driver \"%s\" with "
                                        "capabilities: %s]",
                                        drv ? drv : "", shown);
        }
        if (json_is_true(json_object_get(body, "NetworkDisabled")))
                return berth_error_setx(err, EINVAL,
                                        "Config.NetworkDisabled is not supported by berth: use "
                                        "NetworkMode \"none\"");
        /* moby's validateHealthCheck */
        if (hcheck && !json_is_null(hcheck)) {
                static const char *const durations[] = {"Interval", "Timeout", "StartPeriod",
                                                        "StartInterval"};
                if (!json_is_object(hcheck))
                        return berth_error_setx(err, EINVAL, "Healthcheck: expected an object");
                for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
                        json_t *v = json_object_get(hcheck, durations[i]);
                        if (v && !json_is_null(v) && !json_is_integer(v))
                                return berth_error_setx(err, EINVAL,
                                                        "invalid value for `%s`: expected an "
                                                        "integer",
                                                        durations[i]);
                        json_int_t ns = json_integer_value(v);
                        if (ns != 0 && ns < 1000000)
                                return berth_error_setx(err, EINVAL,
                                                        "%s in Healthcheck cannot be less than "
                                                        "1ms",
                                                        durations[i]);
                }
                if (json_integer_value(json_object_get(hcheck, "Retries")) < 0)
                        return berth_error_setx(err, EINVAL,
                                                "Retries in Healthcheck cannot be negative");
        }
        return 0;
}

static json_t *with_host_defaults(json_t *body, const char *default_runtime)
{
        json_t *b = json_copy(body);
        json_t *hc = json_object_get(body, "HostConfig");
        const char *ipc;
        json_t *shm;

        hc = json_is_object(hc) ? json_copy(hc) : json_object();
        ipc = berth_json_get_str(hc, "IpcMode");
        shm = json_object_get(hc, "ShmSize");
        if (!ipc || !*ipc)
                json_object_set_new(hc, "IpcMode", json_string("private"));
        if (!shm || json_is_null(shm) || (json_is_integer(shm) && json_integer_value(shm) == 0))
                json_object_set_new(hc, "ShmSize", json_integer(DEFAULT_SHM_SIZE));
        /* a memory limit without MemorySwap: swap as large as the memory (twice in total) */
        json_int_t mem = json_integer_value(json_object_get(hc, "Memory"));
        if (mem > 0 && json_integer_value(json_object_get(hc, "MemorySwap")) == 0)
                json_object_set_new(hc, "MemorySwap", json_integer(mem * 2));
        /* docker's create: the defaults the container runs with, stored so inspect shows
         * them; "unlimited" pids and the default swappiness are null there */
        if (!json_is_true(json_object_get(hc, "Privileged"))) {
                json_t *mp = json_object_get(hc, "MaskedPaths");
                json_t *rp = json_object_get(hc, "ReadonlyPaths");
                if (!mp || json_is_null(mp))
                        json_object_set_new(hc, "MaskedPaths", daemon_spec_default_masked_paths());
                if (!rp || json_is_null(rp))
                        json_object_set_new(hc, "ReadonlyPaths",
                                            daemon_spec_default_readonly_paths());
        }
        if (!*(berth_json_get_str(hc, "Runtime") ?: ""))
                json_object_set_new(hc, "Runtime", json_string(default_runtime));
        if (!*(berth_json_get_str(hc, "CgroupnsMode") ?: ""))
                json_object_set_new(hc, "CgroupnsMode",
                                    json_string(daemon_spec_default_cgroupns_mode()));
        if (json_is_integer(json_object_get(hc, "PidsLimit")) &&
            json_integer_value(json_object_get(hc, "PidsLimit")) <= 0)
                json_object_set_new(hc, "PidsLimit", json_null());
        if (json_is_integer(json_object_get(hc, "MemorySwappiness")) &&
            json_integer_value(json_object_get(hc, "MemorySwappiness")) == -1)
                json_object_set_new(hc, "MemorySwappiness", json_null());
        /* docker stores the daemon's default log driver when none was given */
        json_t *logcfg = json_object_get(hc, "LogConfig");
        const char *logtype = berth_json_get_str(logcfg, "Type");
        if (!json_is_object(logcfg)) {
                json_object_set_new(hc, "LogConfig",
                                    json_pack("{s:s,s:{}}", "Type", "json-file", "Config"));
        } else {
                logcfg = json_copy(logcfg);
                if (!logtype || !*logtype)
                        json_object_set_new(logcfg, "Type", json_string("json-file"));
                if (!json_is_object(json_object_get(logcfg, "Config")))
                        json_object_set_new(logcfg, "Config", json_object());
                json_object_set_new(hc, "LogConfig", logcfg);
        }
        json_object_set_new(b, "HostConfig", hc);
        return b;
}

int container_create(struct containers *cs, const char *name, json_t *body, char **ret_id,
                     json_t *warnings, struct berth_error **err)
{
        struct daemon *d = cs->d;
        _cleanup_free_ char *image_id = NULL, *gen_name = NULL, *created = container_now_rfc3339();
        _cleanup_json_ json_t *image_doc = NULL, *config = NULL, *mounts = NULL, *populate = NULL;
        _cleanup_json_ json_t *state = NULL, *stored = NULL, *networks = NULL;
        const char *image = berth_json_get_str(body, "Image");
        json_t *hc = json_object_get(body, "HostConfig");
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = daemon_runtimes_get(d);
        struct etc_hosts_entry *extra = NULL;
        size_t n_extra = 0;
        char id[65];
        struct container *c;
        int r;

        if (!image || !*image)
                return berth_error_setx(err, EINVAL, "config: image is required");
        if (hc && !json_is_object(hc))
                return berth_error_setx(err, EINVAL, "HostConfig: expected an object");
        /* refused before anything is made */
        r = container_restart_policy_validate(json_object_get(hc, "RestartPolicy"), err);
        if (r < 0)
                return r;
        r = validate_stop_signal(body, err);
        if (r < 0)
                return r;
        r = validate_unsupported(body, hc, err);
        if (r < 0)
                return r;
        if (name && *name) {
                if (name[0] == '/')
                        name++;
                if (!container_name_valid(name))
                        return berth_error_setx(err, EINVAL,
                                                "Invalid container name (%s), only "
                                                "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                                name);
        }
        r = berth_image_resolve(d->images, image, &image_id, err);
        if (r < 0) {
                if (r == -ENOENT) {
                        _cleanup_free_ char *shown = berth_ref_display(image);
                        berth_error_free(TAKE_PTR(*err));
                        return berth_error_setx(err, ENOENT, "No such image: %s", shown);
                }
                return r;
        }
        r = berth_image_config(d->images, image_id, &image_doc, err);
        if (r < 0)
                return r;
        /* NetworkMode container:<x> is resolved at start, like dockerd (which is also when an
         * unknown network is reported) */
        r = network_container_prepare(d->networks, body, json_object_get(image_doc, "config"),
                                      warnings, &networks, err);
        if (r < 0)
                return r;

        r = daemon_spec_validate(body, json_object_get(image_doc, "config"), err);
        if (r < 0)
                return r;
        r = etc_hosts_parse_extra(json_object_get(hc, "ExtraHosts"),
                                  networks_host_gateway(d->networks), &extra, &n_extra, err);
        if (r < 0)
                return r;
        etc_hosts_entries_free(extra, n_extra);
        r = logs_config_validate(json_object_get(hc, "LogConfig"), err);
        if (r < 0)
                return r;
        /* the built-in runtime or one of the configuration file's (/info lists them) */
        {
                const struct daemon_runtime *rt;
                r = daemon_runtime_lookup(rts, berth_json_get_str(hc, "Runtime"), &rt, err);
                if (r < 0)
                        return r;
        }
        /* legacy links (/etc/hosts entries and env of another container on the default bridge)
         * are not implemented: refused rather than a container that silently lacks them */
        if (json_array_size(json_object_get(hc, "Links")) > 0)
                return berth_error_setx(err, EINVAL,
                                        "container links (--link) are not supported by berth");
        berth_random_hex(id, 32);
        stored = with_host_defaults(body, rts ? rts->default_runtime : DAEMON_RUNTIME_BUILTIN);
        r = resolve_mounts(cs, id, body, json_object_get(image_doc, "config"), &mounts, &populate,
                           err);
        if (r < 0) {
                volumes_unref_container(d->volumes, id);
                return r;
        }
        config = json_pack("{s:O,s:s,s:s,s:s,s:O,s:O,s:O}", "create", stored, "image", image,
                           "image_id", image_id, "created", created, "image_config",
                           json_object_get(image_doc, "config") ?: json_null(), "mounts", mounts,
                           "networks", networks);
        if (json_array_size(populate) > 0) {
                /* like moby, the image's content goes into new volumes at create, before anyone
                 * sees the container; a failed copy leaves nothing behind */
                struct container *tmp;
                json_object_set(config, "populate", populate);
                tmp = container_new(cs, id, "", config);
                r = berth_mkdir_p(tmp->dir, 0710, err);
                if (r >= 0)
                        r = container_populate_volumes(cs, tmp, err);
                if (r < 0) {
                        volumes_unref_container(d->volumes, id);
                        berth_rm_rf_at(AT_FDCWD, tmp->dir, NULL);
                        container_free(tmp);
                        return r;
                }
                container_free(tmp);
                json_object_del(config, "populate");
        }

        pthread_mutex_lock(&cs->lock);
        if (name && *name) {
                struct container *other = container_by_name_locked(cs, name);
                if (other) {
                        r = berth_error_setx(err, EEXIST,
                                             "Conflict. The container name \"/%s\" is already in "
                                             "use by container \"%s\". You have to remove (or "
                                             "rename) that container to be able to reuse that "
                                             "name.",
                                             name, other->id);
                        pthread_mutex_unlock(&cs->lock);
                        volumes_unref_container(d->volumes, id);
                        return r;
                }
        } else {
                do {
                        unsigned char rnd[2];
                        free(gen_name);
                        berth_random_bytes(rnd, 2);
                        gen_name = xasprintf("%s_%s", adjectives[rnd[0] % ARRAY_SIZE(adjectives)],
                                             surnames[rnd[1] % ARRAY_SIZE(surnames)]);
                        if (container_by_name_locked(cs, gen_name)) {
                                char suffix[5];
                                berth_random_hex(suffix, 2);
                                free(gen_name);
                                gen_name = xasprintf(
                                    "%s_%s_%s", adjectives[rnd[0] % ARRAY_SIZE(adjectives)],
                                    surnames[rnd[1] % ARRAY_SIZE(surnames)], suffix);
                        }
                } while (container_by_name_locked(cs, gen_name));
                name = gen_name;
        }
        c = container_new(cs, id, name, config);
        state = container_state_json_locked(c);
        r = berth_mkdir_p(c->dir, 0710, err);
        if (r >= 0)
                r = berth_mkdir_p(c->state_dir, 0700, err);
        if (r >= 0)
                r = db_container_put(d, id, name, config, state, err);
        if (r < 0) {
                pthread_mutex_unlock(&cs->lock);
                volumes_unref_container(d->volumes, id);
                berth_rm_rf_at(AT_FDCWD, c->dir, NULL);
                container_free(c);
                return r;
        }
        cs->v = xrealloc(cs->v, (cs->n + 1) * sizeof(*cs->v));
        cs->v[cs->n++] = c;
        pthread_mutex_unlock(&cs->lock);
        container_publish(cs, c, "create", NULL);
        *ret_id = xstrdup(id);
        return 0;
}

/* ---------------------------------------------------------------- IpcMode's /dev/shm */

static bool has_mount_for(struct container *c, const char *target)
{
        json_t *m, *tmpfs = container_host_cfg(c, "Tmpfs"), *mounts;
        size_t i;

        json_array_foreach(json_object_get(c->config, "mounts"), i, m)
        {
                const char *dst = berth_json_get_str(m, "Destination");
                if (dst && strcmp(dst, target) == 0)
                        return true;
        }
        if (json_object_get(tmpfs, target))
                return true;
        mounts = container_host_cfg(c, "Mounts");
        json_array_foreach(mounts, i, m)
        {
                const char *dst = berth_json_get_str(m, "Target");
                if (dst && strcmp(dst, target) == 0)
                        return true;
        }
        return false;
}

static char *shm_dir(struct container *c)
{
        return xasprintf("%s/mounts/shm", c->dir);
}

/* Is c's shm dir a tmpfs mounted there (c shareable and running)? */
static bool shm_mounted(struct container *c)
{
        _cleanup_free_ char *dir = shm_dir(c);
        _cleanup_free_ char *parent = xasprintf("%s/mounts", c->dir);
        struct statfs sf;
        struct stat a, b;

        return statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC && stat(dir, &a) == 0 &&
               stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* A tmpfs of size bytes (mode 1777, nosuid, nodev, noexec: moby's) mounted on dir. */
static int shm_mount(const char *dir, int64_t size, struct berth_error **err)
{
        _cleanup_close_ int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        _cleanup_close_ int mnt = -1, target = -1;
        char sz[32];

        if (fs < 0)
                return berth_error_set(err, errno, "shm: fsopen");
        snprintf(sz, sizeof(sz), "%lld", (long long)size);
        if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "shm", 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "1777", 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", sz, 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return berth_error_set(err, errno, "shm: tmpfs of size %s", sz);
        mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                           MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mnt < 0)
                return berth_error_set(err, errno, "shm: fsmount");
        target = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
                return berth_error_set(err, errno, "open `%s`", dir);
        if (syscall(SYS_move_mount, mnt, "", target, "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return berth_error_set(err, errno, "mount shm on `%s`", dir);
        return 0;
}

int container_ipc_prepare(struct containers *cs, struct container *c, char **ret_shm_path,
                          struct berth_error **err)
{
        const char *mode = json_string_value(container_host_cfg(c, "IpcMode")) ?: "";
        _cleanup_free_ char *dir = NULL;
        int64_t size;
        int r;

        if (strncmp(mode, "container:", 10) == 0) {
                struct container *donor;
                bool running;
                r = container_get(cs, mode + 10, &donor, err);
                if (r < 0) {
                        berth_error_free(TAKE_PTR(*err));
                        return berth_error_setx(err, EINVAL,
                                                "failed to join IPC namespace: No such container: "
                                                "%s",
                                                mode + 10);
                }
                pthread_mutex_lock(&cs->lock);
                running = donor->status == CONTAINER_RUNNING || donor->status == CONTAINER_PAUSED;
                pthread_mutex_unlock(&cs->lock);
                if (!running)
                        r = berth_error_setx(err, EBUSY,
                                             "failed to join IPC namespace: container %s is not "
                                             "running",
                                             mode + 10);
                else if (strcmp(json_string_value(container_host_cfg(donor, "IpcMode")) ?: "",
                                "host") == 0)
                        *ret_shm_path = xstrdup("/dev/shm");
                else if (!shm_mounted(donor))
                        /* moby: only a shareable donor has a /dev/shm of its own on the host */
                        r = berth_error_setx(err, EINVAL,
                                             "failed to join IPC namespace: container %s: "
                                             "non-shareable IPC (hint: use IpcMode:shareable for "
                                             "the donor container)",
                                             mode + 10);
                else
                        *ret_shm_path = shm_dir(donor);
                container_unref(cs, donor);
                return r < 0 ? r : 0;
        }
        if (strcmp(mode, "shareable") != 0 || has_mount_for(c, "/dev/shm")) {
                *ret_shm_path = NULL;
                return 0;
        }
        size = json_integer_value(container_host_cfg(c, "ShmSize"));
        if (size <= 0)
                size = DEFAULT_SHM_SIZE;
        dir = shm_dir(c);
        r = berth_mkdir_p(dir, 0700, err);
        if (r < 0)
                return r;
        /* a stale mount of a run the daemon did not see end */
        if (shm_mounted(c))
                umount2(dir, MNT_DETACH);
        r = shm_mount(dir, size, err);
        if (r < 0)
                return r;
        *ret_shm_path = TAKE_PTR(dir);
        return 0;
}

void container_ipc_release(struct container *c)
{
        _cleanup_free_ char *dir = shm_dir(c);

        if (shm_mounted(c) && umount2(dir, MNT_DETACH) < 0)
                berth_warn("container `%s`: unmount shm: %s", c->id, strerror(errno));
}
