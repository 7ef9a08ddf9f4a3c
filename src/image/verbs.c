/* The image store's verbs: commit (an image made visible in one transaction), manifest lookup,
 * tag, remove (docker's untag/delete report) and prune. */
#include "image/internal.h"

#include <time.h>

/* ---------------------------------------------------------------- commit */

/* "busybox" → "docker.io/library/busybox:latest"; digest refs refused unless want_digest. */
static int normalise_name(const char *s, bool want_digest, char **ret, struct berth_error **err)
{
        _cleanup_(berth_ref_release) struct berth_ref r = {0};
        if (berth_ref_parse(s, &r, err) < 0)
                return -EINVAL;
        if (want_digest) {
                if (!r.digest)
                        return berth_error_setx(err, EINVAL, "`%s` has no digest", s);
                free(r.tag);
                r.tag = NULL;
        } else {
                if (r.digest)
                        return berth_error_setx(err, EINVAL, "`%s`: a tag cannot have a digest", s);
                if (!r.tag)
                        r.tag = xstrdup("latest");
        }
        *ret = berth_ref_full(&r);
        return 0;
}

static int begin(struct berth_images *imgs, struct berth_error **err)
{
        return images_exec(imgs, err, "BEGIN IMMEDIATE", NULL);
}

static void rollback(struct berth_images *imgs)
{
        images_exec(imgs, NULL, "ROLLBACK", NULL);
}

int berth_image_commit(struct berth_images *imgs, const char *config_digest,
                       const char *manifest_digest, const char *repo_digest, const char *tag,
                       char **ret_id, struct berth_error **err)
{
        char hex[65];
        if (berth_digest_parse(config_digest, hex, err) < 0)
                return berth_error_wrap(err, "commit");
        _cleanup_json_ json_t *config = NULL;
        _cleanup_strv_ char **diff = NULL, **chain = NULL;
        if (images_load_config(imgs, config_digest, &config, err) < 0 ||
            image_config_diff_ids(config, &diff, &chain, err) < 0)
                return berth_error_wrap(err, "commit %.19s", config_digest);
        _cleanup_free_ char *tag_name = NULL, *digest_name = NULL;
        if (tag && normalise_name(tag, false, &tag_name, err) < 0)
                return -EINVAL;
        if (repo_digest && normalise_name(repo_digest, true, &digest_name, err) < 0)
                return -EINVAL;
        if (manifest_digest) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                struct image_manifest *m = NULL;
                if (images_read_blob(imgs, manifest_digest, 8u << 20, &buf, &len, err) < 0 ||
                    image_manifest_parse(buf, len, NULL, &m, err) < 0)
                        return berth_error_wrap(err, "commit: manifest");
                if (!image_manifest_is_index(m) && m->n_layers == strv_length(diff))
                        for (size_t i = 0; i < m->n_layers; i++)
                                if (berth_store_has(imgs->blobs, m->layers[i].digest))
                                        image_layer_blob_record(imgs, diff[i], m->layers[i].digest,
                                                                m->layers[i].media_type,
                                                                m->layers[i].size, NULL);
                image_manifest_free(m);
        }
        const char *created_s = json_string_value(json_object_get(config, "created"));
        int64_t created = images_parse_time(created_s);

        LOCK(imgs);
        int64_t size = 0;
        for (size_t i = 0; chain[i]; i++) {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT size FROM layers WHERE chain_id = ?", "s", chain[i]);
                if (!s)
                        return -EIO;
                if (sqlite3_step(s) != SQLITE_ROW)
                        return berth_error_setx(err, ENOENT,
                                                "commit %.19s: layer %zu (%s) is not unpacked",
                                                config_digest, i, diff[i]);
                size += sqlite3_column_int64(s, 0);
        }
        if (begin(imgs, err) < 0)
                return -EIO;
        int64_t now = (int64_t)time(NULL);
        int r = images_exec(imgs, err,
                            "INSERT INTO images (id, manifest, created, size, added) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                            "manifest = coalesce(excluded.manifest, manifest)",
                            "ssiii", config_digest, manifest_digest, created, size, now);
        if (r == 0)
                r = images_exec(imgs, err, "DELETE FROM image_layers WHERE image = ?", "s",
                                config_digest);
        for (size_t i = 0; r == 0 && chain[i]; i++) {
                r = images_exec(imgs, err,
                                "INSERT INTO image_layers (image, idx, chain_id) VALUES (?, ?, ?)",
                                "sis", config_digest, (int64_t)i, chain[i]);
                if (r == 0)
                        r = images_exec(imgs, err,
                                        "UPDATE layers SET parent = ? WHERE chain_id = ?", "ss",
                                        i ? chain[i - 1] : NULL, chain[i]);
        }
        if (r == 0 && tag_name)
                r = images_exec(imgs, err,
                                "INSERT OR REPLACE INTO names (name, kind, image, added) "
                                "VALUES (?, 0, ?, ?)",
                                "ssi", tag_name, config_digest, now);
        if (r == 0 && digest_name)
                r = images_exec(imgs, err,
                                "INSERT OR REPLACE INTO names (name, kind, image, added) "
                                "VALUES (?, 1, ?, ?)",
                                "ssi", digest_name, config_digest, now);
        if (r == 0)
                r = images_exec(imgs, err, "COMMIT", NULL);
        if (r < 0) {
                rollback(imgs);
                return berth_error_wrap(err, "commit %.19s", config_digest);
        }
        if (ret_id)
                *ret_id = xstrdup(config_digest);
        return 0;
}

int berth_image_manifest(struct berth_images *imgs, const char *id, char **ret_digest,
                         struct berth_error **err)
{
        LOCK(imgs);
        _cleanup_stmt_ sqlite3_stmt *s =
            images_query(imgs, err, "SELECT manifest FROM images WHERE id = ?", "s", id);
        if (!s)
                return -EIO;
        if (sqlite3_step(s) != SQLITE_ROW)
                return berth_error_setx(err, ENOENT, "no such image: %s", id);
        const char *m = (const char *)sqlite3_column_text(s, 0);
        *ret_digest = m && berth_store_has(imgs->blobs, m) ? xstrdup(m) : NULL;
        return 0;
}

/* ---------------------------------------------------------------- tag, remove, prune */

int berth_image_tag(struct berth_images *imgs, const char *id, const char *ref,
                    struct berth_error **err)
{
        _cleanup_free_ char *name = NULL, *real = NULL;
        if (normalise_name(ref, false, &name, err) < 0)
                return -EINVAL;
        if (berth_image_resolve(imgs, id, &real, err) < 0)
                return -ENOENT;
        LOCK(imgs);
        return images_exec(imgs, err,
                           "INSERT OR REPLACE INTO names (name, kind, image, added) "
                           "VALUES (?, 0, ?, ?)",
                           "ssi", name, real, (int64_t)time(NULL));
}

static void report_add(json_t *report, const char *key, const char *value)
{
        if (report)
                json_array_append_new(report, json_pack("{s:s}", key, value));
}

/* Delete image id and everything only it needed (lock held, outside a transaction). The
 * metadata goes in one transaction; dirs and blobs after it. */
static int delete_image(struct berth_images *imgs, const char *id, json_t *report,
                        uint64_t *reclaimed, struct berth_error **err)
{
        _cleanup_strv_ char **names = NULL, **chains = NULL, **gone = NULL, **blobs = NULL;
        _cleanup_free_ char *manifest =
            images_query_str(imgs, "SELECT manifest FROM images WHERE id = ?", id);
        {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT name FROM names WHERE image = ? ORDER BY kind, name", "s",
                    id);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&names, (const char *)sqlite3_column_text(s, 0));
        }
        {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err,
                    "SELECT chain_id FROM image_layers WHERE image = ? ORDER BY idx DESC", "s", id);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&chains, (const char *)sqlite3_column_text(s, 0));
        }
        if (begin(imgs, err) < 0)
                return -EIO;
        int r = images_exec(imgs, err, "DELETE FROM names WHERE image = ?", "s", id);
        if (r == 0)
                r = images_exec(imgs, err, "DELETE FROM image_layers WHERE image = ?", "s", id);
        if (r == 0)
                r = images_exec(imgs, err, "DELETE FROM images WHERE id = ?", "s", id);
        for (size_t i = 0; r == 0 && chains && chains[i]; i++) {
                if (images_query_exists(imgs, "SELECT 1 FROM image_layers WHERE chain_id = ?",
                                        chains[i]))
                        continue;
                _cleanup_free_ char *diff = images_query_str(
                    imgs, "SELECT diff_id FROM layers WHERE chain_id = ?", chains[i]);
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT size FROM layers WHERE chain_id = ?", "s", chains[i]);
                if (s && sqlite3_step(s) == SQLITE_ROW && reclaimed)
                        *reclaimed += (uint64_t)sqlite3_column_int64(s, 0);
                r = images_exec(imgs, err, "DELETE FROM layers WHERE chain_id = ?", "s", chains[i]);
                strv_push(&gone, chains[i]);
                if (r == 0 && diff &&
                    !images_query_exists(imgs, "SELECT 1 FROM layers WHERE diff_id = ?", diff)) {
                        _cleanup_stmt_ sqlite3_stmt *b = images_query(
                            imgs, err, "SELECT blob FROM layer_blobs WHERE diff_id = ?", "s", diff);
                        while (b && sqlite3_step(b) == SQLITE_ROW)
                                strv_push(&blobs, (const char *)sqlite3_column_text(b, 0));
                        r = images_exec(imgs, err, "DELETE FROM layer_blobs WHERE diff_id = ?", "s",
                                        diff);
                }
        }
        if (r == 0)
                r = images_exec(imgs, err, "COMMIT", NULL);
        if (r < 0) {
                rollback(imgs);
                return berth_error_wrap(err, "delete image %.19s", id);
        }
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *f = image_familiar_name(names[i]);
                report_add(report, "Untagged", f);
        }
        report_add(report, "Deleted", id);
        for (size_t i = 0; gone && gone[i]; i++) {
                images_remove_layer_dir(imgs, gone[i] + strlen("sha256:"), false);
                report_add(report, "Deleted", gone[i]);
        }
        /* blobs: the config, the manifest and layer blobs no remaining layer has */
        strv_push(&blobs, id);
        if (manifest)
                strv_push(&blobs, manifest);
        for (size_t i = 0; blobs[i]; i++) {
                if (images_query_exists(imgs, "SELECT 1 FROM layer_blobs WHERE blob = ?",
                                        blobs[i]) ||
                    images_query_exists(imgs, "SELECT 1 FROM images WHERE manifest = ?", blobs[i]))
                        continue;
                berth_store_remove(imgs->blobs, blobs[i], reclaimed);
        }
        return 0;
}

static int count_tags(struct berth_images *imgs, const char *id, int64_t *ret_tags,
                      int64_t *ret_repos, int64_t *ret_total)
{
        _cleanup_stmt_ sqlite3_stmt *s =
            images_query(imgs, NULL, "SELECT name, kind FROM names WHERE image = ?", "s", id);
        if (!s)
                return -EIO;
        _cleanup_strv_ char **repos = NULL;
        int64_t tags = 0, total = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
                const char *n = (const char *)sqlite3_column_text(s, 0);
                total++;
                if (sqlite3_column_int(s, 1) != 0)
                        continue;
                tags++;
                struct berth_ref r = {0};
                if (berth_ref_parse(n, &r, NULL) == 0) {
                        char *repo = berth_ref_repo(&r);
                        bool seen = false;
                        for (size_t i = 0; repos && repos[i]; i++)
                                seen |= !strcmp(repos[i], repo);
                        if (!seen)
                                strv_push(&repos, repo);
                        free(repo);
                        berth_ref_release(&r);
                }
        }
        *ret_tags = tags;
        *ret_repos = (int64_t)strv_length(repos);
        *ret_total = total;
        return 0;
}

/* Untag every name of the image (lock held). */
static int untag_all(struct berth_images *imgs, const char *id, json_t *report,
                     struct berth_error **err)
{
        _cleanup_strv_ char **names = NULL;
        {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT name FROM names WHERE image = ? ORDER BY kind, name", "s",
                    id);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&names, (const char *)sqlite3_column_text(s, 0));
        }
        if (images_exec(imgs, err, "DELETE FROM names WHERE image = ?", "s", id) < 0)
                return -EIO;
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *f = image_familiar_name(names[i]);
                report_add(report, "Untagged", f);
        }
        return 0;
}

int berth_image_remove(struct berth_images *imgs, const char *name, bool force, bool noprune,
                       berth_image_in_use_fn in_use, void *userdata, json_t **ret_report,
                       struct berth_error **err)
{
        _cleanup_free_ char *id = NULL;
        if (berth_image_resolve(imgs, name, &id, err) < 0)
                return -ENOENT;
        _cleanup_json_ json_t *report = json_array();
        _cleanup_free_ char *user = NULL;
        bool used = in_use && in_use(id, userdata, &user);
        /* was a name given (not the id)? */
        _cleanup_free_ char *tag_name = NULL, *digest_name = NULL;
        {
                struct berth_ref r = {0};
                if (berth_ref_parse(name, &r, NULL) == 0) {
                        if (r.digest) {
                                free(r.tag);
                                r.tag = NULL;
                                digest_name = berth_ref_full(&r);
                        } else {
                                if (!r.tag)
                                        r.tag = xstrdup("latest");
                                tag_name = berth_ref_full(&r);
                        }
                        berth_ref_release(&r);
                }
        }
        LOCK(imgs);
        const char *by_name = tag_name ? tag_name : digest_name;
        bool named = false;
        if (by_name) {
                _cleanup_stmt_ sqlite3_stmt *s =
                    images_query(imgs, NULL, "SELECT 1 FROM names WHERE name = ? AND image = ?",
                                 "ss", by_name, id);
                named = s && sqlite3_step(s) == SQLITE_ROW;
        }
        int64_t tags = 0, repos = 0, names_total = 0;
        if (count_tags(imgs, id, &tags, &repos, &names_total) < 0)
                return berth_error_setx(err, EIO, "images.db: %s", sqlite3_errmsg(imgs->db));
        if (named) {
                /* untag this name; the image goes only with its last tag */
                bool last = tag_name ? tags <= 1 : tags == 0 && names_total <= 1;
                if (last && used && !force)
                        return berth_error_setx(err, EBUSY,
                                                "conflict: unable to remove repository reference "
                                                "\"%s\" (must force) - container %s is using its "
                                                "referenced image %.12s",
                                                name, user ? user : "", id + 7);
                if (images_exec(imgs, err, "DELETE FROM names WHERE name = ?", "s", by_name) < 0)
                        return -EIO;
                _cleanup_free_ char *f = image_familiar_name(by_name);
                report_add(report, "Untagged", f);
                if (!last || used) {
                        if (ret_report)
                                *ret_report = TAKE_PTR(report);
                        return 0;
                }
                if (tag_name) {
                        /* the repo digests of that repository go with the last tag */
                        if (untag_all(imgs, id, report, err) < 0)
                                return -EIO;
                }
        } else {
                if (repos > 1 && !force)
                        return berth_error_setx(err, EBUSY,
                                                "conflict: unable to delete %.12s (must be forced) "
                                                "- image is referenced in multiple repositories",
                                                id + 7);
                if (used && !force)
                        return berth_error_setx(err, EBUSY,
                                                "conflict: unable to delete %.12s (must be forced) "
                                                "- image is being used by stopped container %s",
                                                id + 7, user ? user : "");
                if (untag_all(imgs, id, report, err) < 0)
                        return -EIO;
                if (used) {
                        if (ret_report)
                                *ret_report = TAKE_PTR(report);
                        return 0;
                }
        }
        (void)noprune; /* images have no parent chain of their own here */
        uint64_t reclaimed = 0;
        if (delete_image(imgs, id, report, &reclaimed, err) < 0)
                return -EIO;
        if (ret_report)
                *ret_report = TAKE_PTR(report);
        return 0;
}

int berth_image_prune(struct berth_images *imgs, bool all, json_t *filters,
                      berth_image_in_use_fn in_use, void *userdata, json_t **ret_report,
                      struct berth_error **err)
{
        _cleanup_strv_ char **dangling_filter = NULL;
        if (image_filter_values(filters, "dangling", &dangling_filter) && dangling_filter &&
            dangling_filter[0])
                all = !strcmp(dangling_filter[0], "false") || !strcmp(dangling_filter[0], "0");
        int64_t until = image_filter_until(filters);
        _cleanup_strv_ char **ids = NULL;
        {
                LOCK(imgs);
                _cleanup_stmt_ sqlite3_stmt *s =
                    images_query(imgs, err,
                                 all ? "SELECT id, created FROM images"
                                     : "SELECT id, created FROM images WHERE id NOT IN "
                                       "(SELECT image FROM names WHERE kind = 0)",
                                 NULL);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW) {
                        if (until && sqlite3_column_int64(s, 1) >= until)
                                continue;
                        strv_push(&ids, (const char *)sqlite3_column_text(s, 0));
                }
        }
        _cleanup_json_ json_t *deleted = json_array();
        uint64_t reclaimed = 0;
        for (size_t i = 0; ids && ids[i]; i++) {
                if (in_use && in_use(ids[i], userdata, NULL))
                        continue;
                if (filters &&
                    (json_object_get(filters, "label") || json_object_get(filters, "label!"))) {
                        _cleanup_json_ json_t *cfg = NULL;
                        if (images_load_config(imgs, ids[i], &cfg, NULL) < 0)
                                continue;
                        json_t *labels = json_object_get(json_object_get(cfg, "config"), "Labels");
                        if (!image_filter_labels(filters, labels, "label") ||
                            !image_filter_labels(filters, labels, "label!"))
                                continue;
                }
                LOCK(imgs);
                if (delete_image(imgs, ids[i], deleted, &reclaimed, err) < 0)
                        return -EIO;
        }
        if (ret_report)
                *ret_report =
                    json_pack("{s:o, s:I}", "ImagesDeleted",
                              json_array_size(deleted) ? json_incref(deleted) : json_null(),
                              "SpaceReclaimed", (json_int_t)reclaimed);
        return 0;
}
