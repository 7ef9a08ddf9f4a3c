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

#endif
