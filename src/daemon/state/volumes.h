/* Local volumes: D/volumes/<name>/_data with the volume's metadata beside it in
 * D/volumes/<name>/volume.json ({"Name", "CreatedAt", "Labels", "Options"}, written atomically).
 * Internal to src/daemon; thread-safe.
 *
 * Which containers use a volume is kept in memory only: the containers module references a
 * volume for each container that mounts it (volumes_get_or_create when it creates the
 * container, volumes_ref when it re-adopts containers after a daemon restart) and drops the
 * references when the container is removed (volumes_unref_container). A volume with references
 * cannot be removed or pruned. */
#ifndef BERTH_DAEMON_VOLUMES_H
#define BERTH_DAEMON_VOLUMES_H

#include "common/common.h"

struct daemon;
struct berth_volumes;

/* Label docker puts on volumes created for a container's anonymous `-v /path`: these are what
 * `volume prune` removes by default. */
#define VOLUME_ANONYMOUS_LABEL "com.docker.volume.anonymous"

/* Load every volume under d->data_root/volumes (creating the dir). Events go to d->events. */
int volumes_open(struct daemon *d, struct berth_volumes **ret, struct berth_error **err);
void volumes_free(struct berth_volumes *v);

/* docker's volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (EINVAL, docker's message). */
int volumes_name_validate(const char *name, struct berth_error **err);

/* POST /volumes/create: name NULL or "" → a random 64-hex name. An existing name returns the
 * existing volume (like docker). labels/opts: JSON objects of strings or NULL (borrowed). Only
 * driver "local" (or NULL) is known (ENOENT otherwise, like docker's missing plugin). The local
 * driver's options type, device and o (`--opt type=tmpfs --opt device=tmpfs --opt o=size=1m`,
 * or `type=none o=bind device=/path`) make the volume a mount of its own on _data, mounted
 * while a container references it. *ret_volume (may be NULL) gets docker's volume object. */
int volumes_create(struct berth_volumes *v, const char *name, const char *driver, json_t *labels,
                   json_t *opts, json_t **ret_volume, struct berth_error **err);

/* docker's volume object (Name, Driver, Mountpoint, CreatedAt, Labels, Scope, Options). ENOENT
 * when unknown. with_usage adds UsageData {Size, RefCount} (walks the data). */
int volumes_inspect(struct berth_volumes *v, const char *name, bool with_usage, json_t **ret,
                    struct berth_error **err);

/* GET /volumes: {"Volumes": [...], "Warnings": []}; filters: docker's (dangling, name, label,
 * driver), normalised; EINVAL for an unknown key. */
int volumes_list(struct berth_volumes *v, json_t *filters, json_t **ret, struct berth_error **err);

/* DELETE /volumes/{name}: EBUSY ("volume is in use - [ids]") while referenced; ENOENT when
 * unknown unless force. */
int volumes_remove(struct berth_volumes *v, const char *name, bool force, struct berth_error **err);

/* POST /volumes/prune: unreferenced anonymous volumes (filter all=true: every unreferenced
 * volume), narrowed by label / label! filters. *ret: {"VolumesDeleted": [...],
 * "SpaceReclaimed": n}. */
int volumes_prune(struct berth_volumes *v, json_t *filters, json_t **ret, struct berth_error **err);

/* For the containers module: the volume name (NULL or "": a new anonymous volume, labelled
 * VOLUME_ANONYMOUS_LABEL), created when missing, referenced by container_id. *ret_mountpoint
 * gets its _data dir, *ret_name (may be NULL) its name. */
int volumes_get_or_create(struct daemon *d, const char *name, const char *container_id,
                          char **ret_name, char **ret_mountpoint, struct berth_error **err);
/* Reference an existing volume for container_id (re-adoption after a restart); ENOENT when the
 * volume is gone. Referencing twice is one reference. */
int volumes_ref(struct berth_volumes *v, const char *name, const char *container_id,
                struct berth_error **err);
/* Drop every reference container_id holds (a volume with mount options is unmounted when its
 * last reference goes). */
void volumes_unref_container(struct berth_volumes *v, const char *container_id);
/* docker's copy of image content into a volume (moby's copyExistingContents): when the volume
 * name's _data is empty and path (inside the tree rootfd, the container's mounted rootfs,
 * resolved with RESOLVE_IN_ROOT) is a directory, its content is copied in — directories, files,
 * symlinks (never followed), hard links, devices and fifos, with owners, modes, times and
 * extended attributes — and _data takes the owner and mode of path. A volume holding anything,
 * or a missing path, is left alone. ENOENT for an unknown volume. */
int volumes_populate(struct berth_volumes *v, const char *name, int rootfd, const char *path,
                     struct berth_error **err);
/* Is this volume anonymous (created for a container without a name)? false when unknown. */
bool volumes_is_anonymous(struct berth_volumes *v, const char *name);

/* EINVAL (docker's messages) for option keys other than type, device and o, or type without
 * device. */
int volumes_check_options(json_t *opts, struct berth_error **err);
/* Split mount(8)-style options ("bind,ro,size=1m") into MS_* flags and the rest as data
 * (malloc'd, "" when none). */
int volumes_parse_mount_options(const char *o, unsigned long *ret_flags, char **ret_data);

/* For `system df`: every volume with UsageData {Size, RefCount}; *ret_total the sum of sizes. */
int volumes_disk_usage(struct berth_volumes *v, json_t **ret, uint64_t *ret_total,
                       struct berth_error **err);

/* Bytes of regular files below path (hard links counted once, symlinks not followed; 0 when
 * missing). Used by `system df` for containers and logs too. */
uint64_t volumes_dir_size(const char *path);

#endif
