/* The build cache: one row per step that made an image, keyed by what decides its result (the
 * parent image, the expanded instruction, the build args in scope, the content hash of COPY/ADD
 * sources). Rows live in berth.db, so the cache survives a daemon restart; an entry whose image
 * was removed since is a miss. */
#include "daemon/build/build.h"
#include "daemon/daemon.h"

#include <openssl/evp.h>
#include <time.h>

void build_sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;

        EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
        for (unsigned i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", md[i]);
        out[64] = 0;
}

static void first_col(const char *const *cols, size_t n, void *userdata)
{
        char **ret = userdata;

        if (n >= 1 && cols[0] && !*ret)
                *ret = xstrdup(cols[0]);
}

char *build_cache_get(struct daemon *d, const char *key)
{
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *id = NULL, *resolved = NULL;
        const char *args[] = {key};

        if (db_query(d, "SELECT image_id FROM build_cache WHERE key = ?1", args, 1, first_col, &id,
                     &e) < 0 ||
            !id)
                return NULL;
        if (berth_image_resolve(d->images, id, &resolved, &e) < 0 || strcmp(resolved, id) != 0)
                return NULL;
        return TAKE_PTR(id);
}

void build_cache_put(struct daemon *d, const char *key, const char *image_id)
{
        _cleanup_error_ struct berth_error *e = NULL;
        char now[32];
        snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
        const char *args[] = {key, image_id, now};

        if (db_exec(d,
                    "INSERT OR REPLACE INTO build_cache (key, image_id, created) "
                    "VALUES (?1, ?2, ?3)",
                    args, 3, &e) < 0)
                berth_warn("build cache: %s", e->msg);
}

char *build_srchash_get(struct daemon *d, const char *key)
{
        _cleanup_error_ struct berth_error *e = NULL;
        char *hash = NULL;
        const char *args[] = {key};

        if (db_query(d, "SELECT hash FROM build_srchash WHERE key = ?1", args, 1, first_col, &hash,
                     &e) < 0) {
                free(hash);
                return NULL;
        }
        return hash;
}

void build_srchash_put(struct daemon *d, const char *key, const char *hash)
{
        _cleanup_error_ struct berth_error *e = NULL;
        const char *args[] = {key, hash};

        if (db_exec(d, "INSERT OR REPLACE INTO build_srchash (key, hash) VALUES (?1, ?2)", args, 2,
                    &e) < 0)
                berth_warn("build cache: %s", e->msg);
}

static void key_row(const char *const *cols, size_t n, void *userdata)
{
        if (n >= 1 && cols[0])
                json_array_append_new(userdata, json_string(cols[0]));
}

int build_cache_prune(struct daemon *d, json_t **ret_ids, struct berth_error **err)
{
        _cleanup_json_ json_t *ids = json_array();

        if (db_query(d, "SELECT key FROM build_cache", NULL, 0, key_row, ids, err) < 0 ||
            db_exec(d, "DELETE FROM build_cache", NULL, 0, err) < 0 ||
            db_exec(d, "DELETE FROM build_srchash", NULL, 0, err) < 0)
                return berth_error_wrap(err, "builder prune");
        /* the directories of RUN --mount=type=cache go with it */
        _cleanup_free_ char *mounts = xasprintf("%s/build/cache-mounts", d->data_root);
        if (berth_rm_rf_at(AT_FDCWD, mounts, err) < 0)
                return berth_error_wrap(err, "builder prune");
        *ret_ids = TAKE_PTR(ids);
        return 0;
}

static void list_row(const char *const *cols, size_t n, void *userdata)
{
        json_t *out = userdata;
        if (n < 3 || !cols[0] || !cols[1] || !cols[2])
                return;
        struct timespec ts = {.tv_sec = (time_t)strtoll(cols[2], NULL, 10)};
        _cleanup_free_ char *when = berth_time_rfc3339(&ts);
        const char *img = strncmp(cols[1], "sha256:", 7) ? cols[1] : cols[1] + 7;
        _cleanup_free_ char *desc = xasprintf("build step, image %.12s", img);
        json_array_append_new(out, json_pack("{s:s,s:[],s:s,s:s,s:b,s:b,s:i,s:s,s:n,s:i}", "ID",
                                             cols[0], "Parents", "Type", "regular", "Description",
                                             desc, "InUse", false, "Shared", true, "Size", 0,
                                             "CreatedAt", when, "LastUsedAt", "UsageCount", 0));
}

json_t *build_cache_list(struct daemon *d)
{
        _cleanup_error_ struct berth_error *e = NULL;
        json_t *out = json_array();
        if (db_query(d, "SELECT key, image_id, created FROM build_cache ORDER BY created", NULL, 0,
                     list_row, out, &e) < 0)
                berth_warn("build cache: %s", e->msg);
        return out;
}
