/* Container stats in docker's JSON shape, from the runtime's cgroup reading (v1, v2, hybrid) plus
 * a few files it does not read (per-cpu usage, block I/O, network counters, host cpu time).
 * Internal to src/daemon.
 *
 * A one-shot answer must not sleep: a small sampler thread keeps the last sample (every second)
 * of each container asked about in the last minute (or started: stats_track), and a request
 * pairs a fresh sample with it as precpu; with none kept yet, the container's start is the
 * baseline. */
#ifndef BERTH_DAEMON_STATS_H
#define BERTH_DAEMON_STATS_H

#include "common/common.h"

struct daemon;

/* The sampler's period, and a stats stream's. */
#define STATS_INTERVAL_MS 1000

/* One reading of a container. */
struct stats_sample {
        int64_t read_ns;        /* 0: no sample (docker's zero time) */
        json_t *cg;             /* the runtime's stats "data" ({cpu, memory, pids}) */
        json_t *percpu;         /* array of ns per cpu (v1 cpuacct), or NULL */
        json_t *blkio;          /* docker's blkio_stats object, or NULL */
        json_t *networks;       /* {"eth0": {rx_bytes, …}} without lo, or NULL */
        uint64_t system_cpu_ns; /* /proc/stat cpu time of the host */
        unsigned online_cpus;
        uint64_t mem_total; /* host memory: the limit docker shows when there is none */
        int64_t started_ns; /* when the container's init started (0: unknown) */
};

void stats_sample_release(struct stats_sample *s);

/* Read a sample of container id (runtime state under runtime_root; or, with cgroups_path, the
 * cgroup an external OCI runtime made from that linux.cgroupsPath, "" for the default one).
 * ENOENT when the runtime does not know it; *ret_running tells whether it still runs. */
int stats_sample_take(const char *runtime_root, const char *id, const char *cgroups_path,
                      struct stats_sample *ret, bool *ret_running, struct berth_error **err);

/* docker's stats object (read, preread, cpu_stats, precpu_stats, memory_stats, blkio_stats,
 * pids_stats, num_procs, storage_stats, networks, name "/name", id) from the current sample and
 * the previous one (prev->read_ns == 0 or prev NULL: zero precpu like docker's first frame). */
json_t *stats_docker_json(const struct stats_sample *cur, const struct stats_sample *prev,
                          const char *id, const char *name);

/* The sample a container had when it started (zero cpu usage, the host's cpu time then), for
 * a first request with no kept sample: its cpu % is then the average since start instead of 0.
 * *ret is zeroed (read_ns 0) when cur->started_ns is unknown. */
void stats_start_baseline(const struct stats_sample *cur, struct stats_sample *ret);

/* Parse helpers, exposed for tests: the "cpu" line of /proc/stat in ns; a v1
 * blkio.*_recursive file or a v2 io.stat into docker's blkio_stats; /proc/<pid>/net/dev. */
uint64_t stats_parse_proc_stat(const char *text);
json_t *stats_parse_blkio_v1(const char *service_bytes, const char *serviced);
json_t *stats_parse_io_stat(const char *text);
json_t *stats_parse_net_dev(const char *text);

/* Start sampling container id every second (called by the containers module when it starts or
 * re-adopts a running container; requests track automatically too). Sampling stops by itself
 * once the container is gone or stopped. d->runtime_root is used. */
void stats_track(struct daemon *d, const char *id);
/* Stop sampling id (container removed). */
void stats_untrack(const char *id);
/* Stop the sampler thread (daemon shutdown). */
void stats_shutdown(void);

/* One frame of GET /containers/{id}/stats: a fresh sample of id into *ret_cur, paired with
 * *prev — when prev is empty (read_ns 0), with the sample kept by the sampler, else the
 * container's start — in docker's JSON (stats_docker_json). The fresh sample is kept for the next
 * request when the container runs, and tracking (re)starts. A container the runtime does not know
 * gives docker's zero frame and *ret_running false. cgroups_path as for stats_sample_take
 * (container_stats_cgroup tells it). The caller releases *prev and *ret_cur. */
json_t *stats_frame(const char *runtime_root, const char *id, const char *name,
                    const char *cgroups_path, struct stats_sample *prev,
                    struct stats_sample *ret_cur, bool *ret_running);

#endif
