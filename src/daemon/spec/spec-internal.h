/* Shared between the spec builder's files (spec.c, spec-mounts.c, spec-security.c,
 * spec-resources.c, passwd.c). Internal to src/daemon. */
#ifndef BERTH_DAEMON_SPEC_INTERNAL_H
#define BERTH_DAEMON_SPEC_INTERNAL_H

#include "daemon/spec/spec.h"

/* ---------------------------------------------------------------- typed access to API JSON */

/* The string at o[key]: NULL when absent or null; EINVAL naming `field` when not a string. */
int sj_str(const json_t *o, const char *key, const char **ret, struct berth_error **err);
/* The integer at o[key] (0 when absent or null); integral reals are accepted. */
int sj_i64(const json_t *o, const char *key, int64_t *ret, struct berth_error **err);
/* The boolean at o[key] (false when absent or null). */
int sj_bool(const json_t *o, const char *key, bool *ret, struct berth_error **err);
/* The object at o[key] (NULL when absent or null). */
int sj_obj(const json_t *o, const char *key, const json_t **ret, struct berth_error **err);
/* A string list at o[key]: an array of strings or (docker's StrSlice) one string. *ret is NULL
 * when absent or null, an empty vector for []. *ret_present tells [] from absent. */
int sj_strv(const json_t *o, const char *key, char ***ret, struct berth_error **err);

/* ---------------------------------------------------------------- env */

/* docker's ReplaceOrAppendEnvValues: entries of overrides replace those of *env with the same
 * key or are appended; entries without '=' unset the key. */
void spec_env_merge(char ***env, char *const *overrides);

/* ---------------------------------------------------------------- users (passwd.c) */

struct spec_user {
        uint32_t uid, gid;
        uint32_t *gids; /* additional gids: /etc/group membership, then GroupAdd */
        size_t n_gids;
};

void spec_user_release(struct spec_user *u);

/* Resolve docker's User ("", "uid", "uid:gid", "name", "name:group", …) and GroupAdd against
 * the rootfs' /etc/passwd and /etc/group, opened with openat2(RESOLVE_IN_ROOT) below rootfs
 * (a symlink cannot leave it) and parsed by berth's own parser (never NSS, CVE-2019-14271).
 * Missing files behave like empty ones. Unknown names → EINVAL with docker's messages. */
int spec_user_resolve(const char *rootfs, const char *user, char *const *group_add,
                      struct spec_user *ret, struct berth_error **err);

/* The resolution over already parsed tables (what spec_user_resolve does after reading). */
int spec_user_resolve_tables(const struct berth_passwd_ent *pw, size_t n_pw,
                             const struct berth_group_ent *gr, size_t n_gr, const char *user,
                             char *const *group_add, struct spec_user *ret,
                             struct berth_error **err);

/* ---------------------------------------------------------------- security (spec-security.c) */

/* The final capability set (docker's TweakCapabilities): default set, or all when privileged,
 * ± CapAdd/CapDrop ("ALL", with or without CAP_, any case). Unknown names → EINVAL. */
int spec_caps(const json_t *cap_add, const json_t *cap_drop, bool privileged, char ***ret_caps,
              struct berth_error **err);
/* Every capability the kernel knows, as a NULL-terminated vector of "CAP_*" names. */
char **spec_caps_all(void);
/* {"bounding","effective","permitted"} all = caps; inheritable and ambient left out
 * (CVE-2022-29162). */
json_t *spec_caps_json(char *const *caps);

/* A docker seccomp profile (moby's format: archMap/architectures, syscalls with name/names,
 * includes/excludes by caps, arches and minKernel) → OCI linux.seccomp for a container with
 * caps on this machine's architecture. */
int spec_seccomp_from_profile(const json_t *profile, char *const *caps, json_t **ret,
                              struct berth_error **err);

/* Security options parsed from HostConfig.SecurityOpt. */
struct spec_secopts {
        bool no_new_privileges;
        bool seccomp_unconfined;
        bool systempaths_unconfined;
        char *seccomp_profile; /* JSON text, or NULL for the default */
};
int spec_secopts_parse(const json_t *security_opt, struct spec_secopts *ret,
                       struct berth_error **err);
void spec_secopts_release(struct spec_secopts *s);

/* Fill linux.maskedPaths/readonlyPaths (docker defaults), linux.devices and
 * linux.resources.devices (docker's cgroup rules, HostConfig.Devices/DeviceCgroupRules, all host
 * devices when privileged) and linux.seccomp. */
int spec_security_apply(const json_t *hc, const struct spec_ctx *ctx, char *const *caps,
                        bool privileged, const struct spec_secopts *so, json_t *lx,
                        json_t *resources, struct berth_error **err);

/* ---------------------------------------------------------------- resources (spec-resources.c) */

/* HostConfig resources (Memory…, CPU…, PidsLimit, BlkioWeight, OomKillDisable) validated with
 * docker's rules and messages, set into the linux.resources object res. */
int spec_resources_apply(const json_t *hc, json_t *res, struct berth_error **err);
/* HostConfig.Ulimits → process.rlimits (NULL when none). */
int spec_rlimits(const json_t *hc, json_t **ret, struct berth_error **err);
/* HostConfig.Sysctls → linux.sysctl (namespaced keys only; net.* refused with host network,
 * IPC keys with host IPC). */
int spec_sysctls(const json_t *hc, bool host_net, bool host_ipc, bool host_uts, json_t *lx,
                 struct berth_error **err);

/* ---------------------------------------------------------------- mounts (spec-mounts.c) */

/* Tmpfs map and Mounts type tmpfs → OCI mounts appended to mounts (targets also added to the
 * set `targets`, an object used as a string set). */
int spec_tmpfs_mounts(const json_t *create, bool readonly_root, json_t *mounts, json_t *targets,
                      struct berth_error **err);
/* Merge tmpfs options docker's way (later flag of a pair wins, later key=value replaces). */
char **spec_tmpfs_options_merge(char *const *opts);

#endif
