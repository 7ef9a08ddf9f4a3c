/* berth image store: content-addressed blobs and layer application.
 *
 * The one public header of src/image. It depends on src/common only.
 */
#ifndef BERTH_IMAGE_H
#define BERTH_IMAGE_H

#include "common/common.h"

/* ---------------------------------------------------------------- digests */

/* Check "sha256:<64 lowercase hex>" and copy the hex part into ret_hex. */
int berth_digest_parse(const char *digest, char ret_hex[65], struct berth_error **err);

/* ---------------------------------------------------------------- blob store */

struct berth_store;

/* Open (creating) a store rooted at root: root/blobs/sha256/<hex>, root/tmp. Temporaries a
 * killed writer left behind are removed here. */
int berth_store_open(const char *root, struct berth_store **ret, struct berth_error **err);
void berth_store_close(struct berth_store *st);

/* A blob being written: hashed as it streams, visible only after commit. */
struct berth_blob_writer;

int berth_blob_begin(struct berth_store *st, struct berth_blob_writer **ret,
                     struct berth_error **err);
int berth_blob_write(struct berth_blob_writer *w, const void *data, size_t len,
                     struct berth_error **err);
/* Finish: the content must hash to expected (when not NULL) or nothing is stored (EBADMSG);
 * the blob then appears atomically. *ret_digest (may be NULL) gets "sha256:…". The writer is
 * freed either way. */
int berth_blob_commit(struct berth_blob_writer *w, const char *expected, char **ret_digest,
                      struct berth_error **err);
void berth_blob_abort(struct berth_blob_writer *w);

/* Store a whole buffer (same rules as a writer). */
int berth_store_put(struct berth_store *st, const void *data, size_t len, const char *expected,
                    char **ret_digest, struct berth_error **err);
/* Is the blob present? */
bool berth_store_has(struct berth_store *st, const char *digest);
/* Open a blob for reading. */
int berth_store_open_blob(struct berth_store *st, const char *digest, int *ret_fd,
                          struct berth_error **err);
/* Move the file dirfd/name (on the store's filesystem) into the store without copying it: it is
 * hashed, checked against expected (when not NULL; EBADMSG on mismatch, the file is left) and
 * linked into place. *ret_digest (may be NULL) gets "sha256:…". */
int berth_store_adopt(struct berth_store *st, int dirfd, const char *name, const char *expected,
                      char **ret_digest, struct berth_error **err);
/* Remove a blob (missing is fine); its size is added to *reclaimed (may be NULL). */
int berth_store_remove(struct berth_store *st, const char *digest, uint64_t *reclaimed);

/* ---------------------------------------------------------------- layers */

struct berth_layer_limits {
        uint64_t max_entries; /* 0: 1,000,000 … see berth_layer_default_limits */
        uint64_t max_bytes;   /* uncompressed bytes */
        uint64_t max_ratio;   /* uncompressed/compressed once past 64 MiB: a bomb */
        bool allow_devices;   /* char/block nodes (fifos are always fine) */
};

extern const struct berth_layer_limits berth_layer_default_limits;

struct berth_layer_stats {
        uint64_t entries;
        uint64_t bytes; /* uncompressed */
};

/* Apply a layer (tar, gzip, zstd, xz or plain, detected) read from archive_fd onto the directory
 * rootfd as an overlayfs lower layer: OCI/AUFS whiteouts become overlay whiteouts (0:0 char
 * devices) and opaque dirs (trusted.overlay.opaque=y). Every path is resolved inside rootfd
 * (openat2 RESOLVE_IN_ROOT) and nothing is created through a symlink: `..`, absolute names,
 * symlink and hardlink escapes all stay inside. Entries beyond the limits fail the layer. */
int berth_layer_apply(int rootfd, int archive_fd, const struct berth_layer_limits *lim,
                      struct berth_layer_stats *ret_stats, struct berth_error **err);

/* ---------------------------------------------------------------- snapshots */

/* Mount an overlay of the layer dirs lowers[0..n) (top-most first) with upper/work (upper NULL:
 * read-only) on target. Any number of layers: each one is passed on its own. */
int berth_overlay_mount(char *const *lowers, size_t n, const char *upper, const char *work,
                        const char *target, struct berth_error **err);

/* ================================================================ image store (metadata)
 *
 * Layout under the data root (`root`):
 *   blobs/sha256/<hex>          configs, manifests, indexes and compressed layer blobs
 *   overlay/<chainid-hex>/diff  unpacked layers (overlayfs lower dirs), one per chain id
 *   overlay/tmp/                layers being unpacked (removed at open)
 *   images.db                   SQLite (WAL): layers, images, tags, repo digests
 * Every function below is thread-safe (the daemon serves requests from several threads).
 * Image ids are config digests "sha256:<hex>". */

struct berth_images;

/* Open (creating) the image store under root; cleans temporaries of killed writers. */
int berth_images_open(const char *root, struct berth_images **ret, struct berth_error **err);
void berth_images_close(struct berth_images *imgs);
/* The blob store inside (owned by imgs). */
struct berth_store *berth_images_blobs(struct berth_images *imgs);

/* ---------------------------------------------------------------- references */

/* A parsed image reference, normalised like docker: "busybox" → domain "docker.io", path
 * "library/busybox", tag "latest"; "127.0.0.1:5055/big:1"; "repo@sha256:…" (tag NULL). */
struct berth_ref {
        char *domain;
        char *path;
        char *tag;    /* NULL when only a digest was given */
        char *digest; /* NULL unless "@sha256:…" */
};
int berth_ref_parse(const char *s, struct berth_ref *ret, struct berth_error **err);
void berth_ref_release(struct berth_ref *r);
/* "docker.io/library/busybox:latest" (tag and/or @digest as present) */
char *berth_ref_full(const struct berth_ref *r);
/* docker's familiar form: "busybox:latest", "127.0.0.1:5055/big:1", "user/app:v1" */
char *berth_ref_familiar(const struct berth_ref *r);
/* familiar repository name without tag/digest: "busybox", "127.0.0.1:5055/big" */
char *berth_ref_repo(const struct berth_ref *r);
/* How docker names a reference in "No such image: x": the familiar form with the default tag
 * ("busybox" → "busybox:latest"); an image id or anything that does not parse as given. */
char *berth_ref_display(const char *s);

/* ---------------------------------------------------------------- progress */

/* One progress event, docker's JSON message stream shape: {"status", "id", "progressDetail":
 * {"current", "total"}}. id is a short layer id (12 hex) or NULL for whole-image messages. */
struct berth_progress {
        const char *id;
        const char *status; /* "Pulling fs layer", "Downloading", "Extracting", "Pull complete",
                               "Already exists", "Pushing", "Pushed", "Layer already exists", … */
        uint64_t current;
        uint64_t total; /* 0: unknown */
};
/* Called from any thread of the operation (serialised by the caller of the callback). */
typedef void (*berth_progress_fn)(const struct berth_progress *p, void *userdata);

/* ---------------------------------------------------------------- queries */

/* name, short/full id ("sha256:" optional) or "repo@sha256:<manifest digest>" → image id */
int berth_image_resolve(struct berth_images *imgs, const char *name_or_id, char **ret_id,
                        struct berth_error **err);
/* The parsed image config blob (whole document: architecture, os, config, rootfs, history). */
int berth_image_config(struct berth_images *imgs, const char *id, json_t **ret_config,
                       struct berth_error **err);
/* docker's GET /images/{name}/json object (Id, RepoTags, RepoDigests, Created, Size, Config,
 * RootFS, Architecture, Os, Metadata, GraphDriver) */
int berth_image_inspect(struct berth_images *imgs, const char *id, json_t **ret,
                        struct berth_error **err);
/* docker's GET /images/json array; all=false hides nothing extra here (no intermediate
 * images yet); filters: docker's filters object (dangling, reference, label, before, since)
 * or NULL. */
int berth_image_list(struct berth_images *imgs, bool all, json_t *filters, json_t **ret,
                     struct berth_error **err);
/* docker's GET /images/{name}/history array */
int berth_image_history(struct berth_images *imgs, const char *id, json_t **ret,
                        struct berth_error **err);
/* Overlay lower dirs of the image, top-most first (absolute paths, NULL-terminated). */
int berth_image_layer_dirs(struct berth_images *imgs, const char *id, char ***ret_dirs,
                           struct berth_error **err);

/* ---------------------------------------------------------------- changes */

/* Point ref (e.g. "127.0.0.1:5055/copy:2"; tag "latest" when absent) at image id. */
int berth_image_tag(struct berth_images *imgs, const char *id, const char *ref,
                    struct berth_error **err);

/* Does a container use image id? Supplied by the daemon for remove/prune; when it does and
 * ret_container is not NULL, *ret_container is a new string naming that container (docker's
 * conflict messages show its short id). */
typedef bool (*berth_image_in_use_fn)(const char *id, void *userdata, char **ret_container);

/* docker's DELETE /images/{name}: untag a name, delete the image once no name is left (force:
 * also when it has several tags or a stopped container uses it — then it only loses its names);
 * layers and blobs no other image needs are removed. *ret_report: [{"Untagged": …},
 * {"Deleted": …}]. Unknown name: ENOENT; in use without force: EBUSY (docker's 409). */
int berth_image_remove(struct berth_images *imgs, const char *name, bool force, bool noprune,
                       berth_image_in_use_fn in_use, void *userdata, json_t **ret_report,
                       struct berth_error **err);
/* docker's POST /images/prune: dangling images (all=true: every image no container uses).
 * *ret_report: {"ImagesDeleted": [...], "SpaceReclaimed": n}. */
int berth_image_prune(struct berth_images *imgs, bool all, json_t *filters,
                      berth_image_in_use_fn in_use, void *userdata, json_t **ret_report,
                      struct berth_error **err);
/* Bytes used by layers and blobs, for `system df`: {"LayersSize": n, "Images": [...]} */
int berth_image_disk_usage(struct berth_images *imgs, json_t **ret, struct berth_error **err);

/* ---------------------------------------------------------------- import building blocks
 * (used by pull and load: layers first, then one commit makes the image visible) */

/* chain id of a layer: diff_id for the bottom one, else sha256(parent + " " + diff_id) */
char *berth_chain_id(const char *parent_chain_id, const char *diff_id);
bool berth_layer_exists(struct berth_images *imgs, const char *chain_id);
/* Unpack one layer stream (gzip, zstd or plain tar, detected) read from fd into
 * overlay/<chain_id>/diff: unpacked in overlay/tmp, the uncompressed stream's sha256 checked
 * against diff_id (EBADMSG and nothing kept on mismatch), renamed into place, recorded. A layer
 * already present is fine (the stream is drained). The parent must exist already only when the
 * image is committed, not here: layers of one image unpack in parallel. */
int berth_layer_import(struct berth_images *imgs, const char *chain_id, const char *diff_id, int fd,
                       struct berth_layer_stats *ret_stats, struct berth_error **err);
/* Make an image visible in one transaction: its config (a stored blob) and every layer of its
 * rootfs.diff_ids must be present. manifest_digest (a stored blob, may be NULL) is what push
 * sends again; repo_digest ("127.0.0.1:5055/big@sha256:…", may be NULL) and tag ("…:1", may be
 * NULL) are recorded as names. *ret_id (may be NULL) gets the image id. */
int berth_image_commit(struct berth_images *imgs, const char *config_digest,
                       const char *manifest_digest, const char *repo_digest, const char *tag,
                       char **ret_id, struct berth_error **err);
/* The manifest blob digest recorded for an image (NULL when none: push then builds one). */
int berth_image_manifest(struct berth_images *imgs, const char *id, char **ret_digest,
                         struct berth_error **err);

/* ---------------------------------------------------------------- save / load */

/* docker save: a tar with manifest.json + repositories (+ OCI index.json / oci-layout, like
 * docker 25+) for the named images, written to out_fd. */
int berth_image_save(struct berth_images *imgs, char *const *names, int out_fd,
                     struct berth_error **err);
/* docker load: a docker-archive or OCI-layout tar (optionally compressed) read from in_fd.
 * *ret_loaded: ["Loaded image: busybox:latest", "Loaded image ID: sha256:…"]. */
int berth_image_load(struct berth_images *imgs, int in_fd, berth_progress_fn progress,
                     void *userdata, char ***ret_loaded, struct berth_error **err);

/* The embedded default image archive (busybox:latest): $BERTH_DEFAULT_IMAGE if set, else the
 * one in the build tree if it exists, else the installed one (share/berth/default-image.tar).
 * Static string or getenv's. */
const char *berth_default_image_path(void);
/* At the first start of a store: load the default image and leave a marker (root/
 * default-image-loaded) so it is loaded once only (an `rmi busybox` stays removed). *ret_loaded
 * (may be NULL) like berth_image_load, NULL when nothing was loaded. ENOENT when the archive
 * is missing (the marker is then not written). */
int berth_image_load_default(struct berth_images *imgs, char ***ret_loaded,
                             struct berth_error **err);

/* ---------------------------------------------------------------- import / commit (import.c,
 * changes.c) */

/* Apply one of docker's `--change` instructions (a Dockerfile line: CMD, ENTRYPOINT, ENV, EXPOSE,
 * LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL; JSON and shell forms) to cfg, a container
 * config object in docker's shape (Cmd, Entrypoint, Env, ExposedPorts, Labels, OnBuild, User,
 * Volumes, WorkingDir, StopSignal), in place. *cmd_set (may be NULL) carries docker's "a CMD came
 * before" across the changes of one operation: ENTRYPOINT resets Cmd unless it is set. Empty
 * lines and comments do nothing. EINVAL with docker's message ("run is not a valid change
 * command", "dockerfile parse error on line 1: unknown instruction: FOO", …); cfg may then be
 * partly changed. */
int berth_image_apply_change(json_t *cfg, const char *change, bool *cmd_set,
                             struct berth_error **err);
/* All of changes (NULL-terminated, may be NULL) in order, all or nothing: on error cfg is
 * unchanged. */
int berth_image_apply_changes(json_t *cfg, char *const *changes, struct berth_error **err);

struct berth_import_opts {
        const char *source;   /* "-" or the URL, for the default message */
        const char *message;  /* history comment; NULL or "": "Imported from <source>" */
        char *const *changes; /* --change lines (NULL-terminated, may be NULL) */
        const char *platform; /* "linux/amd64[/v8]"; NULL or "": the host's */
        const char *tag;      /* "repo:tag" to point at the image, may be NULL */
};

/* docker import: a rootfs tar (plain, gzip, zstd or xz, detected) read from fd becomes a
 * one-layer image: the tar is stored uncompressed as the layer blob (its sha256 is the diff id)
 * and unpacked through berth_layer_import (same checks as every layer); the config gets the
 * changes, the host's (or the asked) platform, created now and one history entry. A corrupt
 * tar, a bad change or platform: EINVAL and nothing is kept. *ret_id (may be NULL) gets the
 * image id. */
int berth_image_import(struct berth_images *imgs, int fd, const struct berth_import_opts *o,
                       char **ret_id, struct berth_error **err);
/* The same with the tar downloaded from an http(s) URL (libcurl, redirects followed; an HTTP
 * error status: EIO with the status). */
int berth_image_import_url(struct berth_images *imgs, const char *url,
                           const struct berth_import_opts *o, char **ret_id,
                           struct berth_error **err);

struct berth_commit_opts {
        const char *parent;       /* image id the container runs (its layers come first) */
        json_t *config;           /* the new image's config.config (docker shape; borrowed) */
        json_t *container_config; /* the container's config as it was (borrowed, may be NULL) */
        const char *container_id; /* recorded as "container", may be NULL */
        const char *comment;      /* may be NULL */
        const char *author;       /* may be NULL */
        const char *tag;          /* "repo:tag", may be NULL */
};

/* docker commit: the overlay upper dir (a path the caller keeps stable, e.g. a paused
 * container's) becomes a new layer on top of the parent's: a tar of it with overlay whiteouts
 * (0:0 char devices) written as OCI `.wh.<name>` files and opaque dirs
 * (trusted.overlay.opaque=y) as `.wh..wh..opq`, stored as an uncompressed blob and unpacked like
 * any layer. The config is the parent's with o->config, rootfs.diff_ids + the new one, one more
 * history entry. *ret_id (may be NULL) gets the image id. */
int berth_image_commit_dir(struct berth_images *imgs, const char *upper,
                           const struct berth_commit_opts *o, char **ret_id,
                           struct berth_error **err);

/* ---------------------------------------------------------------- registry */

struct berth_registry_opts {
        berth_progress_fn progress;
        void *userdata;
        /* X-Registry-Auth from the API client (base64url JSON {username, password,
         * identitytoken, serveraddress}), may be NULL: then ~/.docker/config.json `auths` */
        const char *auth_header;
        const char *docker_config; /* NULL: $DOCKER_CONFIG/config.json or ~/.docker/config.json */
        /* registries spoken to over plain HTTP (and TLS without verification) besides
         * 127.0.0.0/8 and localhost, which always are; NULL-terminated, may be NULL */
        char *const *insecure_registries;
        const char *platform; /* "linux/amd64"; NULL: the host's */
};

/* docker's X-Registry-Config of a build (base64 JSON {"registry": {username, password, auth,
 * identitytoken, …}}) → the X-Registry-Auth header for pulling ref (its registry's entry), or
 * *ret_header NULL when none matches. EINVAL for a malformed header. */
int berth_registry_auth_for(const char *registry_config, const char *ref, char **ret_header,
                            struct berth_error **err);

/* Pull ref into the store: the manifest (list/index → linux/<host arch>), the config and every
 * missing layer downloaded in parallel and unpacked while it streams, digests verified; the
 * image becomes visible only at the end. *ret_id (may be NULL) gets the image id. */
int berth_image_pull(struct berth_images *imgs, const char *ref,
                     const struct berth_registry_opts *o, char **ret_id, struct berth_error **err);
/* Push a local image under ref (which must name it): blobs the registry lacks are uploaded
 * (cross-repo mount when possible), then the manifest. *ret_digest gets the manifest digest. */
int berth_image_push(struct berth_images *imgs, const char *ref,
                     const struct berth_registry_opts *o, char **ret_digest,
                     struct berth_error **err);

#endif
