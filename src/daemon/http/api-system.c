/* /version, /info, /system/df and /events (/_ping is the server's built-in: it sets headers). */
#include "daemon/build/build.h"
#include "daemon/containers/containers.h"
#include "daemon/http/api.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/network/network.h"
#include "daemon/state/volumes.h"

#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

/* ---------------------------------------------------------------- /info */

static char *os_pretty_name(void)
{
        _cleanup_free_ char *rel = NULL;
        if (berth_read_file_at(AT_FDCWD, "/etc/os-release", 1 << 16, &rel, NULL, NULL) < 0)
                return xstrdup("Linux");
        char *p = strstr(rel, "PRETTY_NAME=");
        if (!p)
                return xstrdup("Linux");
        p += strlen("PRETTY_NAME=");
        if (*p == '"')
                p++;
        size_t n = strcspn(p, "\"\n");
        return xstrndup(p, n);
}

static const char *arch_name(const char *machine)
{
        if (!strcmp(machine, "x86_64"))
                return "x86_64";
        if (!strcmp(machine, "aarch64"))
                return "aarch64";
        return machine;
}

static void info_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        int running = 0, paused = 0, stopped = 0;
        if (d->containers)
                containers_count(d->containers, &running, &paused, &stopped);
        _cleanup_json_ json_t *images = NULL;
        long nimages = 0;
        if (berth_image_list(d->images, false, NULL, &images, NULL) == 0)
                nimages = (long)json_array_size(images);
        struct utsname u;
        uname(&u);
        struct sysinfo si;
        sysinfo(&si);
        bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
        _cleanup_free_ char *id = daemon_engine_id(d);
        _cleanup_free_ char *os = os_pretty_name();
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        _cleanup_free_ char *systime = berth_time_rfc3339(&now);
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        bool swap = access(v2 ? "/sys/fs/cgroup/unified/memory.swap.max"
                              : "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
                           F_OK) == 0;
        json_t *o = json_object();
        json_object_set_new(o, "ID", json_string(id));
        json_object_set_new(o, "Containers", json_integer(running + paused + stopped));
        json_object_set_new(o, "ContainersRunning", json_integer(running));
        json_object_set_new(o, "ContainersPaused", json_integer(paused));
        json_object_set_new(o, "ContainersStopped", json_integer(stopped));
        json_object_set_new(o, "Images", json_integer(nimages));
        json_object_set_new(o, "Driver", json_string("overlay2"));
        json_object_set_new(o, "DriverStatus",
                            json_pack("[[s,s],[s,s],[s,s],[s,s]]", "Backing Filesystem", "extfs",
                                      "Supports d_type", "true", "Using metacopy", "false",
                                      "Native Overlay Diff", "true"));
        json_object_set_new(o, "Plugins",
                            json_pack("{s:[s], s:[s,s,s], s:n, s:[s]}", "Volume", "local",
                                      "Network", "bridge", "host", "none", "Authorization", "Log",
                                      "json-file"));
        json_object_set_new(o, "MemoryLimit", json_true());
        json_object_set_new(o, "SwapLimit", json_boolean(swap));
        json_object_set_new(o, "KernelMemory", json_false());
        json_object_set_new(o, "KernelMemoryTCP", json_false());
        json_object_set_new(o, "CpuCfsPeriod", json_true());
        json_object_set_new(o, "CpuCfsQuota", json_true());
        json_object_set_new(o, "CPUShares", json_true());
        json_object_set_new(o, "CPUSet", json_true());
        json_object_set_new(o, "PidsLimit", json_true());
        json_object_set_new(o, "IPv4Forwarding", json_true());
        json_object_set_new(o, "BridgeNfIptables", json_false());
        json_object_set_new(o, "BridgeNfIp6tables", json_false());
        json_object_set_new(o, "Debug", json_false());
        json_object_set_new(o, "NFd", json_integer(0));
        json_object_set_new(o, "OomKillDisable", json_false());
        json_object_set_new(o, "NGoroutines", json_integer(0));
        json_object_set_new(o, "SystemTime", json_string(systime));
        json_object_set_new(o, "LoggingDriver", json_string("json-file"));
        json_object_set_new(o, "CgroupDriver", json_string("cgroupfs"));
        json_object_set_new(o, "CgroupVersion", json_string(v2 ? "2" : "1"));
        json_object_set_new(o, "NEventsListener", json_integer(0));
        json_object_set_new(o, "KernelVersion", json_string(u.release));
        json_object_set_new(o, "OperatingSystem", json_string(os));
        json_object_set_new(o, "OSVersion", json_string(""));
        json_object_set_new(o, "OSType", json_string("linux"));
        json_object_set_new(o, "Architecture", json_string(arch_name(u.machine)));
        json_object_set_new(o, "IndexServerAddress", json_string("https://index.docker.io/v1/"));
        json_object_set_new(
            o, "RegistryConfig",
            json_pack("{s:[], s:[], s:[s], s:{}, s:[]}", "AllowNondistributableArtifactsCIDRs",
                      "AllowNondistributableArtifactsHostnames", "InsecureRegistryCIDRs",
                      "127.0.0.0/8", "IndexConfigs", "Mirrors"));
        json_object_set_new(o, "NCPU", json_integer(ncpu > 0 ? ncpu : 1));
        json_object_set_new(o, "MemTotal", json_integer((json_int_t)si.totalram * si.mem_unit));
        json_object_set_new(o, "GenericResources", json_null());
        json_object_set_new(o, "DockerRootDir", json_string(d->data_root));
        json_object_set_new(o, "HttpProxy", json_string(""));
        json_object_set_new(o, "HttpsProxy", json_string(""));
        json_object_set_new(o, "NoProxy", json_string(""));
        json_object_set_new(o, "Name", json_string(u.nodename));
        json_object_set_new(o, "Labels", json_array());
        json_object_set_new(o, "ExperimentalBuild", json_false());
        json_object_set_new(o, "ServerVersion", json_string(BERTH_VERSION));
        {
                _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *set =
                    daemon_runtimes_get(d);
                json_t *rts = json_pack("{s:{s:s}}", DAEMON_RUNTIME_BUILTIN, "path",
                                        d->shim_path ? d->shim_path : "berth-shim");
                for (size_t i = 0; set && i < set->n; i++) {
                        const struct daemon_runtime *rt = &set->v[i];
                        json_t *e = json_pack("{s:s}", "path", rt->path);
                        if (rt->args) {
                                json_t *a = json_array();
                                for (size_t k = 0; rt->args[k]; k++)
                                        json_array_append_new(a, json_string(rt->args[k]));
                                json_object_set_new(e, "runtimeArgs", a);
                        }
                        json_object_set_new(rts, rt->name, e);
                }
                json_object_set_new(o, "Runtimes", rts);
                json_object_set_new(
                    o, "DefaultRuntime",
                    json_string(set ? set->default_runtime : DAEMON_RUNTIME_BUILTIN));
        }
        json_object_set_new(o, "Swarm",
                            json_pack("{s:s, s:s, s:s, s:b, s:s, s:n}", "NodeID", "", "NodeAddr",
                                      "", "LocalNodeState", "inactive", "ControlAvailable", 0,
                                      "Error", "", "RemoteManagers"));
        json_object_set_new(o, "LiveRestoreEnabled", json_true());
        json_object_set_new(o, "Isolation", json_string(""));
        json_object_set_new(o, "InitBinary", json_string("docker-init"));
        json_object_set_new(o, "ContainerdCommit", json_pack("{s:s}", "ID", ""));
        json_object_set_new(o, "RuncCommit", json_pack("{s:s}", "ID", BERTH_VERSION));
        json_object_set_new(o, "InitCommit", json_pack("{s:s}", "ID", BERTH_VERSION));
        json_t *secopts = json_pack("[s]", "name=seccomp,profile=builtin");
        if (v2)
                json_array_append_new(secopts, json_string("name=cgroupns"));
        json_object_set_new(o, "SecurityOptions", secopts);
        json_t *warnings = json_array();
        if (networks_warning(d->networks)) {
                _cleanup_free_ char *w =
                    xasprintf("WARNING: bridge networking is not available: %s",
                              networks_warning(d->networks));
                json_array_append_new(warnings, json_string(w));
        }
        json_object_set_new(o, "Warnings", warnings);
        api_reply_json(r, 200, o);
}

/* ---------------------------------------------------------------- /version */

static const char *go_arch(const char *machine)
{
        if (!strcmp(machine, "x86_64"))
                return "amd64";
        if (!strcmp(machine, "aarch64"))
                return "arm64";
        return machine;
}

/* What berth is built with, in the field docker names after its compiler */
#if defined(__clang__)
#define BERTH_COMPILER "C, clang " __clang_version__
#elif defined(__GNUC__)
#define BERTH_COMPILER "C, gcc " __VERSION__
#else
#define BERTH_COMPILER "C"
#endif

/* docker's SystemVersion: every field of the API's schema, the Engine's details as dockerd
 * gives them (strings, Experimental included) */
static void version_handler(struct api_req *r)
{
        struct utsname u;
        uname(&u);
        const char *arch = go_arch(u.machine);
        json_t *details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ApiVersion",
                                    "1.43", "MinAPIVersion", "1.24", "Os", "linux", "Arch", arch,
                                    "KernelVersion", u.release, "GitCommit", "berth", "GoVersion",
                                    BERTH_COMPILER, "BuildTime", "", "Experimental", "false");
        json_t *o = json_pack(
            "{s:{s:s}, s:[{s:s, s:s, s:o}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
            "Platform", "Name", "berth", "Components", "Name", "Engine", "Version", BERTH_VERSION,
            "Details", details, "Version", BERTH_VERSION, "ApiVersion", "1.43", "MinAPIVersion",
            "1.24", "GitCommit", "berth", "GoVersion", BERTH_COMPILER, "Os", "linux", "Arch", arch,
            "KernelVersion", u.release, "Experimental", false, "BuildTime", "");
        api_reply_json(r, 200, o);
}

/* ---------------------------------------------------------------- /system/df */

/* docker's /containers/json entry with SizeRw: the rw layer plus the container's logs (what
 * grows on a long-running host), LogsSize on its own. */
static json_t *df_container(struct daemon *d, struct container *c)
{
        json_t *o = container_summary(d->containers, c, false);
        _cleanup_free_ char *upper = xasprintf("%s/upper", c->dir);
        uint64_t rw = volumes_dir_size(upper);
        uint64_t logs = 0;
        for (int i = 0; c->log_path && i < 100; i++) {
                _cleanup_free_ char *p =
                    i ? xasprintf("%s.%d", c->log_path, i) : xstrdup(c->log_path);
                struct stat st;
                if (stat(p, &st) < 0)
                        break;
                logs += (uint64_t)st.st_size;
        }
        json_object_set_new(o, "SizeRw", json_integer((json_int_t)(rw + logs)));
        json_object_set_new(o, "SizeRootFs", json_integer((json_int_t)(rw + logs)));
        json_object_set_new(o, "LogsSize", json_integer((json_int_t)logs));
        return o;
}

static void df_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        /* ?type=container&type=image… (API 1.42+) narrows what is computed; one value here */
        const char *type = api_query(r, "type");
        bool want_images = !type || !strcmp(type, "image");
        bool want_containers = !type || !strcmp(type, "container");
        bool want_volumes = !type || !strcmp(type, "volume");
        json_t *out = json_object();
        /* containers first: images count the containers using them */
        json_t *containers = json_array();
        size_t n = 0;
        struct container **v = d->containers ? containers_snapshot(d->containers, &n) : NULL;
        for (size_t i = 0; i < n; i++)
                json_array_append_new(
                    containers, want_containers ? df_container(d, v[i])
                                                : container_summary(d->containers, v[i], false));
        if (v)
                containers_snapshot_free(d->containers, v, n);
        if (want_images) {
                _cleanup_json_ json_t *usage = NULL;
                if (berth_image_disk_usage(d->images, &usage, &e) < 0) {
                        json_decref(out);
                        json_decref(containers);
                        return api_reply_error(r, TAKE_PTR(e));
                }
                size_t i, j;
                json_t *img, *c;
                json_array_foreach(json_object_get(usage, "Images"), i, img)
                {
                        const char *id = json_string_value(json_object_get(img, "Id"));
                        json_int_t users = 0;
                        json_array_foreach(containers, j, c)
                        {
                                const char *cid = json_string_value(json_object_get(c, "ImageID"));
                                users += id && cid && !strcmp(id, cid);
                        }
                        json_object_set_new(img, "Containers", json_integer(users));
                }
                json_object_set(out, "LayersSize", json_object_get(usage, "LayersSize"));
                json_object_set(out, "Images", json_object_get(usage, "Images"));
        }
        if (want_containers)
                json_object_set_new(out, "Containers", containers);
        else
                json_decref(containers);
        if (want_volumes) {
                json_t *vols = NULL;
                if (volumes_disk_usage(d->volumes, &vols, NULL, &e) < 0) {
                        json_decref(out);
                        return api_reply_error(r, TAKE_PTR(e));
                }
                json_object_set_new(out, "Volumes", vols);
        }
        if (!type || !strcmp(type, "build-cache"))
                json_object_set_new(out, "BuildCache", build_cache_list(d));
        api_reply_json(r, 200, out);
}

/* ---------------------------------------------------------------- /events */

struct events_job {
        struct daemon *d;
        int64_t since, until;
        json_t *filters;
        int client_fd; /* a dup of the connection, to notice a client that left */
};

static void events_job_free(void *p)
{
        struct events_job *j = p;
        json_decref(j->filters);
        if (j->client_fd >= 0)
                close(j->client_fd);
        free(j);
}

static void events_producer(int out_fd, void *userdata)
{
        struct events_job *j = userdata;
        events_stream(j->d->events, out_fd, j->client_fd, j->since, j->until, j->filters);
}

static void events_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *filters = NULL;
        int64_t since = -1, until = -1;
        const char *s = api_query(r, "since"), *u = api_query(r, "until");
        if (api_query_filters(r, &filters, &e) < 0 || events_check_filters(filters, &e) < 0 ||
            (s && *s && events_parse_time(s, &since, &e) < 0) ||
            (u && *u && events_parse_time(u, &until, &e) < 0))
                return api_reply_error(r, TAKE_PTR(e));
        if (!d->events)
                return api_reply_errorf(r, 500, "events are not available");
        struct events_job *j = xcalloc(1, sizeof(*j));
        j->d = d;
        j->since = since;
        j->until = until;
        j->filters = TAKE_PTR(filters);
        int cfd = api_client_fd(r);
        j->client_fd = cfd >= 0 ? fcntl(cfd, F_DUPFD_CLOEXEC, 3) : -1;
        api_reply_stream(r, 200, "application/json", events_producer, j, events_job_free);
}

const struct api_route api_routes_system[] = {
    {"GET", "/version", version_handler, false},
    {"GET", "/info", info_handler, false},
    {"GET", "/system/df", df_handler, false},
    {"GET", "/events", events_handler, false},
    {NULL, NULL, NULL, false},
};
