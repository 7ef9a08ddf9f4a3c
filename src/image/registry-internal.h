/* Internal interfaces of the registry client (registry.c, registry-pull.c, registry-push.c,
 * auth.c): one HTTP client per operation speaking the OCI distribution API to one registry,
 * with its credentials and tokens. Not used outside src/image.
 */
#ifndef BERTH_IMAGE_REGISTRY_INTERNAL_H
#define BERTH_IMAGE_REGISTRY_INTERNAL_H

#include "image/internal.h"

#include <curl/curl.h>
#include <pthread.h>

/* ---------------------------------------------------------------- credentials (auth.c) */

struct reg_creds {
        char *username;
        char *password;
        char *identitytoken; /* an OAuth2 refresh token (docker login with a token) */
        char *registrytoken; /* a bearer token to send as it is */
};

void reg_creds_release(struct reg_creds *c);

/* The credentials for registry host ("127.0.0.1:5000", "docker.io"): from auth_header (docker's
 * X-Registry-Auth, base64url JSON) when not NULL, else from the docker config file's `auths`
 * (docker_config, or $DOCKER_CONFIG/config.json, or ~/.docker/config.json). No credentials is
 * not an error (all fields NULL). A malformed header or config is EINVAL. */
int reg_creds_lookup(const char *host, const char *auth_header, const char *docker_config,
                     struct reg_creds *ret, struct berth_error **err);

/* Decode base64 (standard or URL-safe alphabet, padding optional). NUL-terminated result. */
int reg_base64_decode(const char *s, char **ret, size_t *ret_len);

/* One parsed WWW-Authenticate challenge. */
struct reg_challenge {
        char *scheme; /* "bearer", "basic" (lowercase) */
        char *realm;
        char *service;
        char *scope;
};

void reg_challenge_release(struct reg_challenge *c);
/* Parse `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`). */
int reg_challenge_parse(const char *header, struct reg_challenge *ret, struct berth_error **err);

/* A cached bearer token for host+scope (NULL when absent or expired). Thread-safe. */
char *reg_token_cache_get(const char *host, const char *scope);
void reg_token_cache_put(const char *host, const char *scope, const char *token, long expires_in);

/* ---------------------------------------------------------------- client (registry.c) */

struct reg_client {
        struct berth_registry_opts opts;
        struct berth_ref ref;
        char *repo;    /* familiar repository name, for messages: "127.0.0.1:5055/big" */
        char *host;    /* the host to talk to: "registry-1.docker.io" for docker.io */
        char *base;    /* "http://127.0.0.1:5055" once the scheme is settled */
        bool insecure; /* TLS without verification allowed */
        bool plain_ok; /* plain HTTP allowed */
        char *scope;   /* "repository:<path>:pull[,push]" (+ extra scopes for mounts) */
        char *auth;    /* the Authorization header line in use, NULL: anonymous */
        struct reg_creds creds;
        CURL *easy; /* reused for the synchronous requests (keeps connections alive) */
        pthread_mutex_t progress_lock;
};

/* A finished synchronous request. */
struct reg_response {
        long status;
        char *body; /* NUL-terminated (may be NULL for HEAD) */
        size_t len;
        char *content_type;
        char *docker_digest; /* Docker-Content-Digest */
        char *location;
        char *www_authenticate;
        int64_t content_length; /* -1 unknown */
};

void reg_response_release(struct reg_response *r);

/* Set up a client for ref ("127.0.0.1:5055/big:1") and scope actions ("pull", "pull,push"). */
int reg_client_init(struct reg_client *c, const char *ref, const char *actions,
                    const struct berth_registry_opts *o, struct berth_error **err);
void reg_client_release(struct reg_client *c);

/* Add a scope (e.g. "repository:other:pull" for a cross-repo mount) to the client's scope. */
void reg_client_add_scope(struct reg_client *c, const char *scope);

/* One request to the registry: url is a path ("/v2/…", joined with the base) or an absolute
 * URL (an upload Location). headers: NULL-terminated extra header lines or NULL. body/body_len
 * or body_fd (-1: none; read from its current offset for body_len bytes) is the request body.
 * At most max_body bytes of the response body are kept (more is EFBIG). A 401 is answered once
 * (token or basic credentials) and the request repeated. Statuses are returned, not errors;
 * transport failures are errors. */
int reg_request(struct reg_client *c, const char *method, const char *url,
                const char *const *headers, const void *body, size_t body_len, int body_fd,
                size_t max_body, struct reg_response *ret, struct berth_error **err);

/* "<METHOD> <what>: <status> <registry error message>" as an error (ENOENT for 404, EACCES for
 * 401/403, EIO otherwise). */
int reg_status_error(struct berth_error **err, const struct reg_response *r, const char *what);

/* Prepare the curl handle for a blob download in the multi loop: URL, auth, redirects (the
 * Authorization header is only sent to the registry host), timeouts, TLS settings. */
void reg_setup_download(struct reg_client *c, CURL *h, const char *url, struct curl_slist **hdrs);

/* sha256 of a buffer as "sha256:<hex>". */
char *reg_sha256_digest(const void *data, size_t len);

/* Emit a progress event (serialised). id may be NULL. */
void reg_progress(struct reg_client *c, const char *id, const char *status, uint64_t current,
                  uint64_t total);

/* The 12-hex short id of a digest, as docker shows layers. */
void reg_short_id(const char *digest, char ret[13]);

#endif
