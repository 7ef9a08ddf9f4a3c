/* Image queries in the shapes docker's API gives them: resolve, inspect, list, history, the
 * layer dirs of a container root and disk usage. */
#include "image/internal.h"

#include <fnmatch.h>

static bool all_hex(const char *s, size_t max)
{
        size_t n = strlen(s);
        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* ids starting with "sha256:<prefix>": exactly one, or ENOENT / EINVAL (ambiguous) */
static int resolve_prefix(struct berth_images *imgs, const char *prefix, char **ret,
                          struct berth_error **err)
{
        _cleanup_free_ char *pattern = xasprintf("sha256:%s%%", prefix);
        _cleanup_stmt_ sqlite3_stmt *s =
            images_query(imgs, err, "SELECT id FROM images WHERE id LIKE ? LIMIT 2", "s", pattern);
        if (!s)
                return -EIO;
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        _cleanup_free_ char *id = xstrdup((const char *)sqlite3_column_text(s, 0));
        if (sqlite3_step(s) == SQLITE_ROW)
                return berth_error_setx(err, EINVAL, "short image id `%s` is ambiguous", prefix);
        *ret = TAKE_PTR(id);
        return 0;
}

int berth_image_resolve(struct berth_images *imgs, const char *s, char **ret_id,
                        struct berth_error **err)
{
        if (!s || !*s)
                return berth_error_setx(err, EINVAL, "empty image name");
        LOCK(imgs);
        int r;
        if (!strncmp(s, "sha256:", 7)) {
                if (!all_hex(s + 7, 64))
                        return berth_error_setx(err, EINVAL, "invalid image id `%s`", s);
                r = resolve_prefix(imgs, s + 7, ret_id, err);
                if (r == -ENOENT)
                        return berth_error_setx(err, ENOENT, "no such image: %s", s);
                return r;
        }
        if (strlen(s) == 64 && all_hex(s, 64)) {
                r = resolve_prefix(imgs, s, ret_id, err);
                if (r == -ENOENT)
                        return berth_error_setx(err, ENOENT, "no such image: %s", s);
                return r;
        }
        struct berth_ref ref = {0};
        if (berth_ref_parse(s, &ref, NULL) == 0) {
                if (ref.digest) {
                        free(ref.tag);
                        ref.tag = NULL;
                } else if (!ref.tag) {
                        ref.tag = xstrdup("latest");
                }
                _cleanup_free_ char *full = berth_ref_full(&ref);
                berth_ref_release(&ref);
                _cleanup_stmt_ sqlite3_stmt *q =
                    images_query(imgs, err, "SELECT image FROM names WHERE name = ?", "s", full);
                if (!q)
                        return -EIO;
                if (sqlite3_step(q) == SQLITE_ROW) {
                        *ret_id = xstrdup((const char *)sqlite3_column_text(q, 0));
                        return 0;
                }
        }
        if (all_hex(s, 64)) {
                r = resolve_prefix(imgs, s, ret_id, err);
                if (r != -ENOENT)
                        return r;
        }
        return berth_error_setx(err, ENOENT, "no such image: %s", s);
}

int berth_image_config(struct berth_images *imgs, const char *id, json_t **ret_config,
                       struct berth_error **err)
{
        _cleanup_free_ char *real = NULL;
        if (berth_image_resolve(imgs, id, &real, err) < 0)
                return -ENOENT;
        return images_load_config(imgs, real, ret_config, err);
}

struct image_row {
        char *id;
        char *manifest;
        int64_t created;
        int64_t size;
        int64_t added;
        json_t *tags;    /* familiar names */
        json_t *digests; /* familiar repo@digest */
};

static void row_release(struct image_row *r)
{
        free(r->id);
        free(r->manifest);
        json_decref(r->tags);
        json_decref(r->digests);
}

char *image_familiar_name(const char *full)
{
        struct berth_ref r = {0};
        if (berth_ref_parse(full, &r, NULL) < 0)
                return xstrdup(full);
        char *f = berth_ref_familiar(&r);
        berth_ref_release(&r);
        return f;
}

/* lock held */
static int load_row(struct berth_images *imgs, const char *id, struct image_row *r,
                    struct berth_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *s = images_query(
            imgs, err, "SELECT manifest, created, size, added FROM images WHERE id = ?", "s", id);
        if (!s)
                return -EIO;
        if (sqlite3_step(s) != SQLITE_ROW)
                return berth_error_setx(err, ENOENT, "no such image: %s", id);
        r->id = xstrdup(id);
        const char *m = (const char *)sqlite3_column_text(s, 0);
        r->manifest = m ? xstrdup(m) : NULL;
        r->created = sqlite3_column_int64(s, 1);
        r->size = sqlite3_column_int64(s, 2);
        r->added = sqlite3_column_int64(s, 3);
        r->tags = json_array();
        r->digests = json_array();
        _cleanup_stmt_ sqlite3_stmt *n = images_query(
            imgs, err, "SELECT name, kind FROM names WHERE image = ? ORDER BY added, name", "s",
            id);
        if (!n)
                return -EIO;
        while (sqlite3_step(n) == SQLITE_ROW) {
                _cleanup_free_ char *f =
                    image_familiar_name((const char *)sqlite3_column_text(n, 0));
                json_array_append_new(sqlite3_column_int(n, 1) ? r->digests : r->tags,
                                      json_string(f));
        }
        return 0;
}

static json_t *str_or_empty(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? json_incref(v) : json_string("");
}

int berth_image_layer_dirs(struct berth_images *imgs, const char *id, char ***ret_dirs,
                           struct berth_error **err)
{
        _cleanup_free_ char *real = NULL;
        if (berth_image_resolve(imgs, id, &real, err) < 0)
                return -ENOENT;
        LOCK(imgs);
        _cleanup_stmt_ sqlite3_stmt *s = images_query(
            imgs, err, "SELECT chain_id FROM image_layers WHERE image = ? ORDER BY idx DESC", "s",
            real);
        if (!s)
                return -EIO;
        _cleanup_strv_ char **dirs = xcalloc(1, sizeof(char *));
        while (sqlite3_step(s) == SQLITE_ROW) {
                _cleanup_free_ char *d =
                    images_layer_dir(imgs, (const char *)sqlite3_column_text(s, 0));
                strv_push(&dirs, d);
        }
        *ret_dirs = TAKE_PTR(dirs);
        return 0;
}

int berth_image_inspect(struct berth_images *imgs, const char *id, json_t **ret,
                        struct berth_error **err)
{
        _cleanup_free_ char *real = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        _cleanup_strv_ char **dirs = NULL;
        if (berth_image_resolve(imgs, id, &real, err) < 0 ||
            images_load_config(imgs, real, &cfg, err) < 0 ||
            berth_image_layer_dirs(imgs, real, &dirs, err) < 0)
                return -ENOENT;
        struct image_row row = {0};
        {
                LOCK(imgs);
                if (load_row(imgs, real, &row, err) < 0) {
                        row_release(&row);
                        return -ENOENT;
                }
        }
        json_t *o = json_object();
        json_object_set_new(o, "Id", json_string(real));
        json_object_set(o, "RepoTags", row.tags);
        json_object_set(o, "RepoDigests", row.digests);
        /* the image it was made from here (commit, a build step); "" for pulled images */
        json_object_set_new(o, "Parent", str_or_empty(cfg, "parent"));
        json_object_set_new(o, "Comment", str_or_empty(cfg, "comment"));
        json_t *created = json_object_get(cfg, "created");
        json_object_set_new(o, "Created",
                            json_is_string(created) ? json_incref(created)
                                                    : json_string("1970-01-01T00:00:00Z"));
        json_object_set_new(o, "DockerVersion", str_or_empty(cfg, "docker_version"));
        json_object_set_new(o, "Author", str_or_empty(cfg, "author"));
        json_t *config = json_object_get(cfg, "config");
        json_object_set_new(o, "Config",
                            json_is_object(config) ? json_incref(config) : json_object());
        json_object_set_new(o, "Architecture", str_or_empty(cfg, "architecture"));
        if (json_is_string(json_object_get(cfg, "variant")))
                json_object_set(o, "Variant", json_object_get(cfg, "variant"));
        json_object_set_new(o, "Os", str_or_empty(cfg, "os"));
        if (json_is_string(json_object_get(cfg, "os.version")))
                json_object_set(o, "OsVersion", json_object_get(cfg, "os.version"));
        json_object_set_new(o, "Size", json_integer(row.size));
        json_object_set_new(o, "VirtualSize", json_integer(row.size));
        json_t *data = json_object();
        size_t n = strv_length(dirs);
        if (n > 0) {
                _cleanup_free_ char *top = xstrdup(dirs[0]);
                char *slash = strrchr(top, '/');
                *slash = 0;
                _cleanup_free_ char *lower = xstrdup("");
                for (size_t i = 1; i < n; i++) {
                        char *l = xasprintf("%s%s%s", lower, i > 1 ? ":" : "", dirs[i]);
                        free(lower);
                        lower = l;
                }
                if (*lower)
                        json_object_set_new(data, "LowerDir", json_string(lower));
                json_object_set_new(data, "MergedDir", json_sprintf("%s/merged", top));
                json_object_set_new(data, "UpperDir", json_string(dirs[0]));
                json_object_set_new(data, "WorkDir", json_sprintf("%s/work", top));
        }
        json_object_set_new(o, "GraphDriver",
                            json_pack("{s:s, s:o}", "Name", "overlay2", "Data", data));
        json_t *rootfs = json_object_get(cfg, "rootfs");
        json_object_set_new(o, "RootFS",
                            json_pack("{s:s, s:O}", "Type", "layers", "Layers",
                                      json_object_get(rootfs, "diff_ids")));
        struct timespec ts = {.tv_sec = row.added};
        _cleanup_free_ char *tagtime = berth_time_rfc3339(&ts);
        json_object_set_new(o, "Metadata", json_pack("{s:s}", "LastTagTime", tagtime));
        row_release(&row);
        *ret = o;
        return 0;
}

/* docker's reference filter (reference.FamiliarMatch): a path glob on the familiar reference,
 * or for a tagged or digested one on its repository name alone */
static bool reference_matches(const char *ref, char **patterns)
{
        _cleanup_free_ char *repo = xstrdup(ref);
        char *at = strchr(repo, '@');
        char *colon = strrchr(repo, ':');

        if (at)
                *at = 0;
        else if (colon && !strchr(colon, '/'))
                *colon = 0;
        for (size_t k = 0; patterns[k]; k++)
                if (fnmatch(patterns[k], ref, FNM_PATHNAME) == 0 ||
                    fnmatch(patterns[k], repo, FNM_PATHNAME) == 0)
                        return true;
        return false;
}

/* The references of refs that match patterns (all of them without patterns): docker lists only
 * the matching tags and digests of an image under a reference filter. */
static json_t *matching_references(json_t *refs, char **patterns)
{
        json_t *out = json_array();
        json_t *t;
        size_t i;

        json_array_foreach(refs, i, t)
        {
                const char *name = json_string_value(t);
                if (name && (!patterns || reference_matches(name, patterns)))
                        json_array_append(out, t);
        }
        return out;
}

bool image_filter_values(json_t *filters, const char *key, char ***ret)
{
        json_t *v = filters ? json_object_get(filters, key) : NULL;
        if (!v)
                return false;
        char **out = NULL;
        if (json_is_array(v)) {
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) if (json_is_string(e))
                    strv_push(&out, json_string_value(e));
        } else if (json_is_object(v)) {
                const char *k;
                json_t *e;
                json_object_foreach(v, k, e) if (json_is_true(e)) strv_push(&out, k);
        }
        *ret = out;
        return true;
}

static int64_t created_of(struct berth_images *imgs, const char *name)
{
        _cleanup_free_ char *id = NULL;
        if (berth_image_resolve(imgs, name, &id, NULL) < 0)
                return -1;
        LOCK(imgs);
        _cleanup_stmt_ sqlite3_stmt *s =
            images_query(imgs, NULL, "SELECT created FROM images WHERE id = ?", "s", id);
        return s && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
}

int berth_image_list(struct berth_images *imgs, bool all, json_t *filters, json_t **ret,
                     struct berth_error **err)
{
        static const char *const known[] = {"dangling", "reference", "label", "label!",
                                            "before",   "since",     "until"};
        const char *key;
        json_t *v;
        json_object_foreach(filters, key, v)
        {
                bool ok = false;
                for (size_t i = 0; i < ARRAY_SIZE(known); i++)
                        ok |= !strcmp(key, known[i]);
                if (!ok)
                        return berth_error_setx(err, EINVAL, "invalid filter `%s`", key);
        }
        _cleanup_strv_ char **dangling = NULL, **refs = NULL, **before = NULL, **since = NULL;
        image_filter_values(filters, "dangling", &dangling);
        image_filter_values(filters, "reference", &refs);
        int64_t before_t = -1, since_t = -1;
        if (image_filter_values(filters, "before", &before) && before && before[0] &&
            (before_t = created_of(imgs, before[0])) < 0)
                return berth_error_setx(err, ENOENT, "no such image: %s", before[0]);
        if (image_filter_values(filters, "since", &since) && since && since[0] &&
            (since_t = created_of(imgs, since[0])) < 0)
                return berth_error_setx(err, ENOENT, "no such image: %s", since[0]);
        int64_t until = image_filter_until(filters);
        _cleanup_strv_ char **ids = NULL;
        {
                LOCK(imgs);
                _cleanup_stmt_ sqlite3_stmt *s =
                    images_query(imgs, err, "SELECT id FROM images ORDER BY created DESC", NULL);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&ids, (const char *)sqlite3_column_text(s, 0));
        }
        _cleanup_json_ json_t *out = json_array();
        /* the configs, and the images some other image names as its parent (the steps of a
         * build): docker lists those only with all */
        _cleanup_json_ json_t *cfgs = json_object(), *parents = json_object();
        for (size_t i = 0; ids && ids[i]; i++) {
                json_t *c = NULL;
                if (images_load_config(imgs, ids[i], &c, NULL) < 0)
                        c = json_object();
                const char *parent = json_string_value(json_object_get(c, "parent"));
                if (parent)
                        json_object_set_new(parents, parent, json_true());
                json_object_set_new(cfgs, ids[i], c);
        }
        for (size_t i = 0; ids && ids[i]; i++) {
                struct image_row row = {0};
                json_t *cfg = json_object_get(cfgs, ids[i]);
                {
                        LOCK(imgs);
                        if (load_row(imgs, ids[i], &row, NULL) < 0) {
                                row_release(&row);
                                continue;
                        }
                }
                json_t *labels = json_object_get(json_object_get(cfg, "config"), "Labels");
                bool is_dangling = json_array_size(row.tags) == 0;
                bool keep = all || !is_dangling || !json_object_get(parents, ids[i]);
                if (dangling && dangling[0])
                        keep = keep && is_dangling == (!strcmp(dangling[0], "true") ||
                                                       !strcmp(dangling[0], "1"));
                _cleanup_json_ json_t *tags = matching_references(row.tags, refs);
                _cleanup_json_ json_t *digests = matching_references(row.digests, refs);
                if (keep && refs)
                        keep = json_array_size(tags) + json_array_size(digests) > 0;
                if (keep && before_t >= 0)
                        keep = row.created < before_t;
                if (keep && since_t >= 0)
                        keep = row.created > since_t;
                if (keep && until)
                        keep = row.created < until;
                if (keep)
                        keep = image_filter_labels(filters, labels, "label") &&
                               image_filter_labels(filters, labels, "label!");
                if (keep) {
                        json_t *o = json_object();
                        json_object_set_new(o, "Id", json_string(row.id));
                        const char *parent = json_string_value(json_object_get(cfg, "parent"));
                        json_object_set_new(o, "ParentId", json_string(parent ? parent : ""));
                        json_object_set(o, "RepoTags", tags);
                        json_object_set(o, "RepoDigests", digests);
                        json_object_set_new(o, "Created", json_integer(row.created));
                        json_object_set_new(o, "Size", json_integer(row.size));
                        json_object_set_new(o, "SharedSize", json_integer(-1));
                        json_object_set_new(o, "VirtualSize", json_integer(row.size));
                        json_object_set_new(o, "Labels",
                                            json_is_object(labels) ? json_incref(labels)
                                                                   : json_object());
                        json_object_set_new(o, "Containers", json_integer(-1));
                        json_array_append_new(out, o);
                }
                row_release(&row);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int berth_image_history(struct berth_images *imgs, const char *id, json_t **ret,
                        struct berth_error **err)
{
        _cleanup_free_ char *real = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        if (berth_image_resolve(imgs, id, &real, err) < 0 ||
            images_load_config(imgs, real, &cfg, err) < 0)
                return -ENOENT;
        struct image_row row = {0};
        _cleanup_json_ json_t *sizes = json_array();
        {
                LOCK(imgs);
                if (load_row(imgs, real, &row, err) < 0) {
                        row_release(&row);
                        return -ENOENT;
                }
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err,
                    "SELECT l.size FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id "
                    "WHERE il.image = ? ORDER BY il.idx",
                    "s", real);
                while (s && sqlite3_step(s) == SQLITE_ROW)
                        json_array_append_new(sizes, json_integer(sqlite3_column_int64(s, 0)));
        }
        json_t *hist = json_object_get(cfg, "history");
        _cleanup_json_ json_t *entries = json_array();
        size_t layer = 0;
        if (json_is_array(hist) && json_array_size(hist) > 0) {
                size_t i;
                json_t *h;
                json_array_foreach(hist, i, h)
                {
                        bool empty = json_is_true(json_object_get(h, "empty_layer"));
                        int64_t size = 0;
                        if (!empty && layer < json_array_size(sizes))
                                size = json_integer_value(json_array_get(sizes, layer++));
                        json_t *createdby = json_object_get(h, "created_by");
                        json_t *comment = json_object_get(h, "comment");
                        json_array_append_new(
                            entries,
                            json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>",
                                      "Created",
                                      (json_int_t)images_parse_time(
                                          json_string_value(json_object_get(h, "created"))),
                                      "CreatedBy",
                                      json_is_string(createdby) ? json_string_value(createdby) : "",
                                      "Tags", "Size", (json_int_t)size, "Comment",
                                      json_is_string(comment) ? json_string_value(comment) : ""));
                }
        } else {
                /* no history: one line per layer */
                for (size_t i = 0; i < json_array_size(sizes); i++)
                        json_array_append_new(
                            entries,
                            json_pack("{s:s, s:I, s:s, s:n, s:O, s:s}", "Id", "<missing>",
                                      "Created", (json_int_t)row.created, "CreatedBy", "", "Tags",
                                      "Size", json_array_get(sizes, i), "Comment", ""));
        }
        /* newest first; the newest one is the image itself */
        json_t *out = json_array();
        for (size_t i = json_array_size(entries); i > 0; i--)
                json_array_append(out, json_array_get(entries, i - 1));
        if (json_array_size(out) > 0) {
                json_t *top = json_array_get(out, 0);
                json_object_set_new(top, "Id", json_string(real));
                json_object_set(top, "Tags", json_array_size(row.tags) ? row.tags : json_null());
        }
        row_release(&row);
        *ret = out;
        return 0;
}

int berth_image_disk_usage(struct berth_images *imgs, json_t **ret, struct berth_error **err)
{
        _cleanup_json_ json_t *list = NULL;
        if (berth_image_list(imgs, true, NULL, &list, err) < 0)
                return -EIO;
        int64_t layers_size = 0;
        {
                LOCK(imgs);
                _cleanup_stmt_ sqlite3_stmt *s =
                    images_query(imgs, err, "SELECT coalesce(sum(size), 0) FROM layers", NULL);
                if (!s || sqlite3_step(s) != SQLITE_ROW)
                        return -EIO;
                layers_size = sqlite3_column_int64(s, 0);
                /* SharedSize: bytes of the image's layers that other images use too */
                size_t i;
                json_t *o;
                json_array_foreach(list, i, o)
                {
                        _cleanup_stmt_ sqlite3_stmt *q = images_query(
                            imgs, NULL,
                            "SELECT coalesce(sum(l.size), 0) FROM image_layers il "
                            "JOIN layers l ON l.chain_id = il.chain_id WHERE il.image = ? AND "
                            "EXISTS (SELECT 1 FROM image_layers o WHERE o.chain_id = il.chain_id "
                            "AND o.image != il.image)",
                            "s", json_string_value(json_object_get(o, "Id")));
                        if (q && sqlite3_step(q) == SQLITE_ROW)
                                json_object_set_new(o, "SharedSize",
                                                    json_integer(sqlite3_column_int64(q, 0)));
                }
        }
        *ret = json_pack("{s:I, s:O}", "LayersSize", (json_int_t)layers_size, "Images", list);
        return 0;
}

bool image_filter_labels(json_t *filters, json_t *labels, const char *key)
{
        _cleanup_strv_ char **want = NULL;
        if (!image_filter_values(filters, key, &want))
                return true;
        for (size_t i = 0; want && want[i]; i++) {
                bool neg = !strcmp(key, "label!");
                char *eq = strchr(want[i], '=');
                _cleanup_free_ char *k =
                    eq ? xstrndup(want[i], (size_t)(eq - want[i])) : xstrdup(want[i]);
                json_t *v = json_object_get(labels, k);
                bool match =
                    v && (!eq || (json_is_string(v) && !strcmp(json_string_value(v), eq + 1)));
                if (match == neg)
                        return false;
        }
        return true;
}

int64_t image_filter_until(json_t *filters)
{
        _cleanup_strv_ char **v = NULL;
        if (!image_filter_values(filters, "until", &v) || !v || !v[0])
                return 0;
        uint64_t n;
        if (berth_parse_u64(v[0], &n) == 0)
                return (int64_t)n;
        /* durations like "24h", "10m" */
        char *end = NULL;
        double d = strtod(v[0], &end);
        if (end && end != v[0] && !*end)
                return (int64_t)d; /* "1700000000.5": unix seconds */
        if (end && end != v[0]) {
                double mul = *end == 'h' ? 3600 : *end == 'm' ? 60 : *end == 's' ? 1 : 0;
                if (mul > 0)
                        return (int64_t)time(NULL) - (int64_t)(d * mul);
        }
        return images_parse_time(v[0]);
}
