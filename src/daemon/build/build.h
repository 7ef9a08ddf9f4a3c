/* Dockerfile builds in the engine: docker's classic builder protocol (POST /build), the step
 * executor (RUN through the engine's containers, COPY/ADD into an overlay of the parent image),
 * and the build cache (berth.db). Internal to src/daemon. */
#ifndef BERTH_DAEMON_BUILD_H
#define BERTH_DAEMON_BUILD_H

#include "build/dockerfile.h"
#include "common/common.h"
#include "daemon/http/api.h"

#include <pthread.h>

struct daemon;

/* What one build was asked for (docker's /build query, validated by the route). */
struct build_opts {
        char **tags;            /* normalised "repo:tag", may be NULL */
        const char *dockerfile; /* path inside the context ("Dockerfile") */
        json_t *buildargs;      /* {name: value|null}, borrowed, never NULL */
        json_t *labels;         /* {name: value}, borrowed, never NULL */
        bool nocache, pull, quiet, rm, forcerm;
        const char *target;      /* NULL: the last stage */
        char **cachefrom;        /* local images whose history may satisfy steps (NULL) */
        const char *networkmode; /* RUN containers' NetworkMode */
        json_t *hostconfig;      /* resources of RUN containers (HostConfig fields), borrowed */
        const char *auth;        /* X-Registry-Config of the request (may be NULL) */
};

/* The output of a build: docker's JSON message stream on fd. quiet buffers step output and
 * only shows it when the build fails. client_fd (may be -1) is polled to notice a client that
 * went away during a RUN. */
struct build_out {
        int fd;
        int client_fd;
        bool quiet;
        bool broken; /* the client is gone: stop at the next step */
        char *qbuf;
        size_t qlen;
        /* While stages build concurrently each has a view of the build's output
         * (build_out_child_init) whose steps stay whole: the first step to write holds the output
         * and streams live; the others keep their messages (held) and hand them over as one
         * block when their step ends, written when no step holds the output (queue). */
        struct build_out *parent; /* a stage's view: the build's output */
        json_t *held;             /* a view: [msg, direct] pairs of its step, not yet written */
        pthread_mutex_t lock;     /* the build's output: owner, queue, writes */
        struct build_out *owner;  /* the view whose step is streaming, NULL when none */
        json_t *queue;            /* finished steps' messages waiting for the owner's end */
};

void build_out_stream(struct build_out *o, const char *fmt, ...) _printf_(2, 3);
/* step output (RUN) of len bytes, which need not be valid UTF-8 */
void build_out_raw(struct build_out *o, const char *data, size_t len);
void build_out_aux(struct build_out *o, const char *id);
void build_out_error(struct build_out *o, const char *msg, int code);
/* Views of parent for concurrent stages: parent's lock is made by build_out_share (undone by
 * build_out_unshare once every view is released); a view's step ends with build_out_step_end,
 * and build_out_child_release writes what it still holds. */
void build_out_share(struct build_out *parent);
void build_out_unshare(struct build_out *parent);
void build_out_child_init(struct build_out *parent, struct build_out *child);
void build_out_step_end(struct build_out *o);
void build_out_child_release(struct build_out *o);
/* the client went away (seen through this output or any view of its build) */
bool build_out_broken(struct build_out *o);
void build_out_set_broken(struct build_out *o);
/* the client connection to watch (-1: none) */
int build_out_client_fd(struct build_out *o);

/* ---------------------------------------------------------------- context.c */

struct ctx_entry {
        char *path; /* cleaned, relative, "" for the root */
        char type;  /* 'f', 'd', 'l' */
        mode_t mode;
        uint64_t size;
        char *link;
        char hash[65]; /* files: sha256 of the content */
        size_t seq;    /* order in the tar */
};

/* The context tar (tar_path, kept while the build runs), its index sorted in walk order, the
 * Dockerfile's and .dockerignore's text, and the directory it is unpacked into on demand. */
struct build_context {
        char *tar_path;
        char *dir;
        int root; /* O_PATH fd of dir once unpacked, else -1 */
        struct ctx_entry *v;
        size_t n, cap;
        char *dockerfile; /* NULL when the tar has no such regular file */
        size_t dockerfile_len;
        char *ignore; /* NULL without .dockerignore */
        size_t ignore_len;
        pthread_mutex_t lock; /* the unpacking (pthread_mutex_init'ed by whoever makes cx) */
};

/* Index cx->tar_path (gzip etc. detected); EINVAL for a bad tar. */
int build_context_index(struct build_context *cx, const char *dockerfile, struct berth_error **err);
/* Unpack the tar into cx->dir once (the image store's safe extractor); the O_PATH root fd.
 * Safe to call from several threads. */
int build_context_root(struct build_context *cx, struct berth_error **err);
/* The content hash build_copy_hash gives for these sources, from the index alone; 1 when the
 * index cannot tell (a symlink on the way, a missing source): then ask build_copy_hash. */
int build_context_hash(const struct build_context *cx, const struct bld_ignore *ig, char **srcs,
                       char **ret, struct berth_error **err);
/* Remove the tar and the unpacked tree, free everything. */
void build_context_release(struct build_context *cx);

/* Run the build of the context cx. On success
 * *ret_id is the final image id; tags are applied here. Step failures are errors (EINVAL bad
 * Dockerfile, ENOENT missing image or file, ECANCELED client gone, EIO a RUN failed with
 * *ret_code its exit status). */
int build_run(struct daemon *d, struct build_context *cx, const struct build_opts *o,
              struct build_out *out, char **ret_id, int *ret_code, struct berth_error **err);

/* At daemon start: what builds a killed daemon left in data_root/build/tmp (overlay mounts,
 * unpacked contexts) is unmounted and removed. */
void build_cleanup(struct daemon *d);

/* ---------------------------------------------------------------- cache.c */

/* The image a step with this key made earlier (still present in the store), or NULL. */
char *build_cache_get(struct daemon *d, const char *key);
void build_cache_put(struct daemon *d, const char *key, const char *image_id);
/* memo of content hashes of paths inside immutable images (COPY --from) */
char *build_srchash_get(struct daemon *d, const char *key);
void build_srchash_put(struct daemon *d, const char *key, const char *hash);
/* docker's BuildCache records of system df, one per step in the cache (their layers are counted
 * with the images: Size 0). */
json_t *build_cache_list(struct daemon *d);
/* Drop every entry and the cache mounts (builder prune); *ret_ids gets the keys removed. */
int build_cache_prune(struct daemon *d, json_t **ret_ids, struct berth_error **err);
/* sha256 hex (64 chars + NUL) of len bytes */
void build_sha256_hex(const void *data, size_t len, char out[65]);

/* ---------------------------------------------------------------- copy.c */

/* A directory tree with an overlay of an image on it: rw (upper/work for a new layer) or ro
 * (a COPY --from source). root is an O_PATH fd of the merged tree. */
struct build_mount {
        char *dir; /* data_root/build/tmp/<rand> */
        char *merged;
        char *upper;
        int root;
        bool mounted;
};
int build_mount_image(struct daemon *d, const char *image_id, bool rw, struct build_mount *ret,
                      struct berth_error **err);
void build_mount_release(struct build_mount *m);
/* Whether the upper dir of a rw mount holds anything (a layer worth committing). */
bool build_mount_changed(struct build_mount *m);

/* COPY/ADD sources: patterns relative to the source root (the context with its .dockerignore,
 * or an image's rootfs), resolved inside it. */
struct build_copy {
        int src_root;                /* O_PATH fd of the context or the source image's tree */
        const struct bld_ignore *ig; /* context only, may be NULL */
        char **srcs;                 /* as written (expanded) */
        const char *dest;            /* absolute, WORKDIR applied; trailing '/' kept */
        bool add;                    /* ADD: local archives are extracted */
        bool has_chown;
        uint32_t uid, gid;
        bool has_chmod;
        mode_t chmod;
};
/* The content hash of the sources (paths, types, modes, sizes, contents; not mtimes or owners)
 * as "dir:<hex>", "file:<hex>" or "multi:<hex>". ENOENT/EINVAL with docker's messages. */
int build_copy_hash(const struct build_copy *c, char **ret, struct berth_error **err);
/* Copy the sources into the tree dst_root (O_PATH fd). */
int build_copy_run(const struct build_copy *c, int dst_root, struct berth_error **err);
/* "user[:group]" to ids, names looked up in dst_root's /etc/passwd and /etc/group */
int build_chown_parse(int dst_root, const char *spec, uint32_t *ret_uid, uint32_t *ret_gid,
                      struct berth_error **err);

#endif
