/* Internal interfaces of src/image shared between the store (images.c, manifest.c, ref.c,
 * archive.c) and the registry client (registry*.c). Not installed, not used outside src/image
 * (and its unit tests / fuzz targets).
 */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include "image/image.h"

/* ---------------------------------------------------------------- media types */

#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MEDIA_DOCKER_FOREIGN  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MEDIA_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD  "application/vnd.oci.image.layer.v1.tar+zstd"

/* The Accept header value a registry client sends for manifests (all four kinds). */
#define MEDIA_MANIFEST_ACCEPT                                                                      \
        MEDIA_OCI_INDEX ", " MEDIA_DOCKER_LIST ", " MEDIA_OCI_MANIFEST ", " MEDIA_DOCKER_MANIFEST

/* ---------------------------------------------------------------- manifests */

struct image_descriptor {
        char *media_type;
        char *digest; /* "sha256:<hex>", validated */
        int64_t size; /* -1 when absent (never for layers/config: the parser requires it) */
        char **urls;  /* NULL-terminated or NULL (foreign layers) */
        /* platform (index entries only; NULL otherwise) */
        char *os;
        char *architecture;
        char *variant;
};

enum image_manifest_kind {
        IMAGE_MANIFEST_DOCKER2, /* schema2 image manifest */
        IMAGE_MANIFEST_OCI,     /* OCI image manifest */
        IMAGE_INDEX_DOCKER,     /* manifest list */
        IMAGE_INDEX_OCI,        /* OCI image index */
};

struct image_manifest {
        enum image_manifest_kind kind;
        char *media_type; /* the effective media type (from the document or the caller) */
        /* image manifests */
        struct image_descriptor config;
        struct image_descriptor *layers;
        size_t n_layers;
        /* indexes */
        struct image_descriptor *manifests;
        size_t n_manifests;
};

/* Parse a manifest or index. media_type is the Content-Type a registry sent (or NULL / ""
 * / "application/json": then the document's "mediaType" decides, and an OCI document without
 * one is recognised by "manifests" vs "layers"). A schema1 manifest, a wrong schemaVersion, a
 * digest that is not sha256:<64 hex>, a missing config/layers/size, a layer of a media type
 * that is not a tar (plain/gzip/zstd) all fail with EINVAL and a message saying what is wrong.
 * Schema2 foreign layers are accepted (urls kept). */
int image_manifest_parse(const char *buf, size_t len, const char *media_type,
                         struct image_manifest **ret, struct berth_error **err);
void image_manifest_free(struct image_manifest *m);
static inline bool image_manifest_is_index(const struct image_manifest *m)
{
        return m->kind == IMAGE_INDEX_DOCKER || m->kind == IMAGE_INDEX_OCI;
}

/* The GOARCH name of the host ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
 * and its default variant ("v8" on arm64, "v7" on arm, NULL elsewhere). */
const char *image_host_arch(void);
const char *image_host_variant(void);

/* Pick the entry of an index for platform ("os/arch[/variant]"; NULL: linux/<host arch>).
 * Variant rules like containerd's: an exact variant wins; without a wanted variant, arm64
 * accepts "" or "v8", arm accepts the best variant ≤ the wanted one (v7 > v6 > v5). Entries
 * with an "unknown" platform (attestations) are skipped. ENOENT with the platforms on offer
 * listed when none matches. *ret points into idx. */
int image_index_select(const struct image_manifest *idx, const char *platform,
                       const struct image_descriptor **ret, struct berth_error **err);

/* The compression of a layer media type: 0 none, 1 gzip, 2 zstd; -EINVAL for a non-layer. */
int image_layer_compression(const char *media_type);

/* Validate an image config (JSON object with "rootfs": {"type": "layers", "diff_ids": [...]},
 * each diff id a valid sha256 digest) and return its diff ids (NULL-terminated, may be empty)
 * and, when ret_chain is not NULL, the matching chain ids. */
int image_config_diff_ids(json_t *config, char ***ret_diff_ids, char ***ret_chain_ids,
                          struct berth_error **err);

/* ---------------------------------------------------------------- store internals for pull/push */

/* Record that the layer with diff_id is also stored as the (compressed) blob blob_digest of
 * media type media_type and size bytes: push and save use it. Called by berth_image_commit for
 * every layer of the manifest it gets; pull may call it earlier. The blob must be present. */
int image_layer_blob_record(struct berth_images *imgs, const char *diff_id, const char *blob_digest,
                            const char *media_type, int64_t size, struct berth_error **err);
/* The stored blob of a layer, if any: ENOENT when none is recorded or present. ret_media_type
 * and ret_size may be NULL. */
int image_layer_blob_lookup(struct berth_images *imgs, const char *diff_id, char **ret_digest,
                            char **ret_media_type, int64_t *ret_size, struct berth_error **err);

/* A read callback: fill buf with up to len bytes; return the count, 0 at the end, or a negative
 * errno (the message in *err). */
typedef ssize_t (*image_read_fn)(void *userdata, void *buf, size_t len, struct berth_error **err);

/* berth_layer_import with the compressed stream read through a callback instead of an fd (so a
 * registry client can hand over bytes it is also hashing/storing). Same contract. */
int image_layer_import_cb(struct berth_images *imgs, const char *chain_id, const char *diff_id,
                          image_read_fn read, void *userdata, struct berth_layer_stats *ret_stats,
                          struct berth_error **err);

/* ---------------------------------------------------------------- the store itself */

#include <pthread.h>
#include <sqlite3.h>

struct berth_images {
        char *root;
        int rootfd;
        int overlayfd; /* overlay/ */
        int otmpfd;    /* overlay/tmp/ */
        struct berth_store *blobs;
        sqlite3 *db;
        pthread_mutex_t lock;    /* guards db */
        pthread_mutex_t gc_lock; /* layer dirs being deleted in the background */
        pthread_cond_t gc_done;
        int gc_pending;
};

/* A prepared statement with its parameters bound from types: 's' text (NULL → SQL NULL),
 * 'i' int64. NULL and *err set on failure. Call with imgs->lock held. */
sqlite3_stmt *images_query(struct berth_images *imgs, struct berth_error **err, const char *sql,
                           const char *types, ...);
static inline void images_stmt_freep(sqlite3_stmt **s)
{
        if (*s)
                sqlite3_finalize(*s);
}
#define _cleanup_stmt_ _cleanup_(images_stmt_freep)

static inline void images_unlockp(pthread_mutex_t **m)
{
        if (*m)
                pthread_mutex_unlock(*m);
}
/* Hold imgs->lock until the end of the scope. */
#define LOCK(imgs)                                                                                 \
        _cleanup_(images_unlockp) _unused_ pthread_mutex_t *_lock =                                \
            (pthread_mutex_lock(&(imgs)->lock), &(imgs)->lock)

/* The first column of the first row of sql (one text parameter), malloc'd, or NULL. */
char *images_query_str(struct berth_images *imgs, const char *sql, const char *arg);
/* Does sql (one text parameter) return a row? */
bool images_query_exists(struct berth_images *imgs, const char *sql, const char *arg);
/* 64 lowercase hex digits of a sha256, malloc'd. */
char *images_sha256_hex(const unsigned char md[32]);
/* Remove overlay/<hex> (on the GC thread unless wait). */
void images_remove_layer_dir(struct berth_images *imgs, const char *hex, bool wait);
/* docker's short form of a full reference ("docker.io/library/busybox:latest" →
 * "busybox:latest"); the name itself when it does not parse. malloc'd. */
char *image_familiar_name(const char *full);
/* Run a statement to completion (lock held). */
int images_exec(struct berth_images *imgs, struct berth_error **err, const char *sql,
                const char *types, ...);
/* Read a whole blob (at most max bytes) into a NUL-terminated buffer. */
int images_read_blob(struct berth_images *imgs, const char *digest, size_t max, char **ret,
                     size_t *ret_len, struct berth_error **err);
/* Read a whole regular file from fd (at most max bytes) into a NUL-terminated buffer. */
int images_read_fd(int fd, size_t max, char **ret, size_t *ret_len, struct berth_error **err);
/* Parse the config blob of image id. */
int images_load_config(struct berth_images *imgs, const char *id, json_t **ret,
                       struct berth_error **err);
/* Unix seconds of an RFC 3339 time (0 when it does not parse). */
int64_t images_parse_time(const char *s);
/* The path of a layer dir: root/overlay/<chain hex>/diff (malloc'd). */
char *images_layer_dir(struct berth_images *imgs, const char *chain_id);

/* Decompress (gzip, zstd or none, detected) in_fd into out_fd; *ret_digest (may be NULL) gets
 * the sha256 of the decompressed bytes. */
int image_decompress(int in_fd, int out_fd, char **ret_digest, struct berth_error **err);

/* docker's label filters ("label" / "label!": "k" or "k=v") against labels (may be NULL). */
bool image_filter_labels(json_t *filters, json_t *labels, const char *key);
/* docker's "until" filter as unix seconds (0: none). */
int64_t image_filter_until(json_t *filters);

/* ---------------------------------------------------------------- layer application */

struct archive;
/* berth_layer_apply on an archive reader already opened (format tar) by the caller. */
int layer_apply_archive(int rootfd, struct archive *a, const struct berth_layer_limits *lim,
                        struct berth_layer_stats *ret_stats, struct berth_error **err);

/* docker's filters object: the values of key ({"key": ["v", …]} or the old {"key": {"v": true}})
 * into *ret (NULL when empty); false when key is absent. */
bool image_filter_values(json_t *filters, const char *key, char ***ret);

#endif
