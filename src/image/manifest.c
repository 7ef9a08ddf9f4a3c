/* Image manifests, indexes and configs: Docker schema2 and OCI, parsed strictly enough that a bad
 * document fails with a message saying what is wrong rather than half-working later. */
#include "image/internal.h"

#include <sys/utsname.h>

static void descriptor_release(struct image_descriptor *d)
{
        free(d->media_type);
        free(d->digest);
        strv_free(d->urls);
        free(d->os);
        free(d->architecture);
        free(d->variant);
        memset(d, 0, sizeof(*d));
}

void image_manifest_free(struct image_manifest *m)
{
        if (!m)
                return;
        free(m->media_type);
        descriptor_release(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                descriptor_release(&m->layers[i]);
        free(m->layers);
        for (size_t i = 0; i < m->n_manifests; i++)
                descriptor_release(&m->manifests[i]);
        free(m->manifests);
        free(m);
}

static void manifest_freep(struct image_manifest **m)
{
        image_manifest_free(*m);
}

static const char *opt_string(json_t *o, const char *key, bool *bad)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return NULL;
        if (!json_is_string(v)) {
                *bad = true;
                return NULL;
        }
        return json_string_value(v);
}

static int parse_descriptor(json_t *o, const char *what, size_t idx, bool platform,
                            struct image_descriptor *d, struct berth_error **err)
{
        bool bad = false;
        if (!json_is_object(o))
                return berth_error_setx(err, EINVAL, "%s %zu: not an object", what, idx);
        const char *mt = opt_string(o, "mediaType", &bad);
        const char *digest = opt_string(o, "digest", &bad);
        if (bad)
                return berth_error_setx(err, EINVAL, "%s %zu: mediaType/digest not a string", what,
                                        idx);
        char hex[65];
        if (!digest)
                return berth_error_setx(err, EINVAL, "%s %zu: no digest", what, idx);
        if (berth_digest_parse(digest, hex, err) < 0)
                return berth_error_wrap(err, "%s %zu", what, idx);
        json_t *size = json_object_get(o, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
                return berth_error_setx(err, EINVAL, "%s %zu: missing or bad size", what, idx);
        d->media_type = xstrdup(mt ? mt : "");
        d->digest = xstrdup(digest);
        d->size = json_integer_value(size);
        json_t *urls = json_object_get(o, "urls");
        if (json_is_array(urls)) {
                size_t i;
                json_t *u;
                json_array_foreach(urls, i, u)
                {
                        if (json_is_string(u))
                                strv_push(&d->urls, json_string_value(u));
                }
        }
        if (platform) {
                json_t *p = json_object_get(o, "platform");
                if (p && !json_is_object(p))
                        return berth_error_setx(err, EINVAL, "%s %zu: bad platform", what, idx);
                const char *os = p ? opt_string(p, "os", &bad) : NULL;
                const char *arch = p ? opt_string(p, "architecture", &bad) : NULL;
                const char *variant = p ? opt_string(p, "variant", &bad) : NULL;
                if (bad)
                        return berth_error_setx(err, EINVAL, "%s %zu: bad platform", what, idx);
                d->os = os ? xstrdup(os) : NULL;
                d->architecture = arch ? xstrdup(arch) : NULL;
                d->variant = variant ? xstrdup(variant) : NULL;
        }
        return 0;
}

int image_layer_compression(const char *mt)
{
        static const struct {
                const char *type;
                int compression;
        } known[] = {
            {MEDIA_DOCKER_LAYER, 1},
            {MEDIA_DOCKER_FOREIGN, 1},
            {"application/vnd.docker.image.rootfs.diff.tar", 0},
            {MEDIA_OCI_LAYER, 0},
            {MEDIA_OCI_LAYER_GZIP, 1},
            {MEDIA_OCI_LAYER_ZSTD, 2},
            {"application/vnd.oci.image.layer.nondistributable.v1.tar", 0},
            {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", 1},
            {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", 2},
        };
        for (size_t i = 0; mt && i < ARRAY_SIZE(known); i++)
                if (!strcmp(mt, known[i].type))
                        return known[i].compression;
        return -EINVAL;
}

static int parse_image_manifest(json_t *doc, struct image_manifest *m, struct berth_error **err)
{
        if (parse_descriptor(json_object_get(doc, "config"), "config", 0, false, &m->config, err) <
            0)
                return berth_error_wrap(err, "manifest");
        if (m->kind == IMAGE_MANIFEST_DOCKER2 && strcmp(m->config.media_type, MEDIA_DOCKER_CONFIG))
                return berth_error_setx(err, EINVAL,
                                        "manifest: config media type `%s` is not an image "
                                        "config",
                                        m->config.media_type);
        if (m->kind == IMAGE_MANIFEST_OCI && strcmp(m->config.media_type, MEDIA_OCI_CONFIG) &&
            strcmp(m->config.media_type, MEDIA_DOCKER_CONFIG))
                return berth_error_setx(err, EINVAL,
                                        "manifest: config media type `%s` is not an image "
                                        "config (an artifact?)",
                                        m->config.media_type);
        json_t *layers = json_object_get(doc, "layers");
        if (!json_is_array(layers))
                return berth_error_setx(err, EINVAL, "manifest: no layers array");
        m->n_layers = json_array_size(layers);
        m->layers = xcalloc(m->n_layers + 1, sizeof(*m->layers));
        for (size_t i = 0; i < m->n_layers; i++) {
                struct image_descriptor *d = &m->layers[i];
                if (parse_descriptor(json_array_get(layers, i), "layer", i, false, d, err) < 0)
                        return berth_error_wrap(err, "manifest");
                if (image_layer_compression(d->media_type) < 0)
                        return berth_error_setx(err, EINVAL,
                                                "manifest: layer %zu: unsupported media type `%s`",
                                                i, d->media_type);
        }
        return 0;
}

static int parse_index(json_t *doc, struct image_manifest *m, struct berth_error **err)
{
        json_t *list = json_object_get(doc, "manifests");
        if (!json_is_array(list))
                return berth_error_setx(err, EINVAL, "index: no manifests array");
        m->n_manifests = json_array_size(list);
        m->manifests = xcalloc(m->n_manifests + 1, sizeof(*m->manifests));
        for (size_t i = 0; i < m->n_manifests; i++)
                if (parse_descriptor(json_array_get(list, i), "manifest", i, true, &m->manifests[i],
                                     err) < 0)
                        return berth_error_wrap(err, "index");
        return 0;
}

int image_manifest_parse(const char *buf, size_t len, const char *media_type,
                         struct image_manifest **ret, struct berth_error **err)
{
        json_error_t jerr;
        _cleanup_json_ json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return berth_error_setx(err, EINVAL, "manifest: invalid JSON: %s (line %d)",
                                        jerr.text, jerr.line);
        if (!json_is_object(doc))
                return berth_error_setx(err, EINVAL, "manifest: not a JSON object");
        json_t *sv = json_object_get(doc, "schemaVersion");
        if (!json_is_integer(sv))
                return berth_error_setx(err, EINVAL, "manifest: no schemaVersion");
        if (json_integer_value(sv) == 1)
                return berth_error_setx(err, EINVAL,
                                        "manifest: schema1 manifests are not supported");
        if (json_integer_value(sv) != 2)
                return berth_error_setx(err, EINVAL, "manifest: unknown schemaVersion %lld",
                                        (long long)json_integer_value(sv));
        bool bad = false;
        const char *doc_mt = opt_string(doc, "mediaType", &bad);
        if (bad)
                return berth_error_setx(err, EINVAL, "manifest: mediaType is not a string");
        const char *mt = media_type;
        if (mt) {
                /* "type; charset=…" */
                size_t n = strcspn(mt, "; ");
                static char *const generic[] = {"", "application/json", "text/plain",
                                                "application/octet-stream"};
                bool is_generic = false;
                for (size_t i = 0; i < ARRAY_SIZE(generic); i++)
                        if (strlen(generic[i]) == n && !strncmp(mt, generic[i], n))
                                is_generic = true;
                if (is_generic)
                        mt = NULL;
        }
        _cleanup_free_ char *eff = NULL;
        if (mt)
                eff = xstrndup(mt, strcspn(mt, "; "));
        else if (doc_mt)
                eff = xstrdup(doc_mt);
        else if (json_object_get(doc, "manifests"))
                eff = xstrdup(MEDIA_OCI_INDEX);
        else if (json_object_get(doc, "layers"))
                eff = xstrdup(MEDIA_OCI_MANIFEST);
        else
                return berth_error_setx(err, EINVAL,
                                        "manifest: neither layers nor manifests: not an image");
        if (doc_mt && strcmp(doc_mt, eff))
                return berth_error_setx(err, EINVAL,
                                        "manifest: media type `%s` does not match the document's "
                                        "`%s`",
                                        eff, doc_mt);
        _cleanup_(manifest_freep) struct image_manifest *m = xcalloc(1, sizeof(*m));
        m->config.size = -1;
        if (!strcmp(eff, MEDIA_DOCKER_MANIFEST))
                m->kind = IMAGE_MANIFEST_DOCKER2;
        else if (!strcmp(eff, MEDIA_OCI_MANIFEST))
                m->kind = IMAGE_MANIFEST_OCI;
        else if (!strcmp(eff, MEDIA_DOCKER_LIST))
                m->kind = IMAGE_INDEX_DOCKER;
        else if (!strcmp(eff, MEDIA_OCI_INDEX))
                m->kind = IMAGE_INDEX_OCI;
        else
                return berth_error_setx(err, EINVAL, "manifest: unsupported media type `%s`", eff);
        m->media_type = TAKE_PTR(eff);
        int r = image_manifest_is_index(m) ? parse_index(doc, m, err)
                                           : parse_image_manifest(doc, m, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

const char *image_host_arch(void)
{
#if defined(__x86_64__)
        return "amd64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__arm__)
        return "arm";
#elif defined(__i386__)
        return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "ppc64le";
#elif defined(__s390x__)
        return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
        return "riscv64";
#else
        return "unknown";
#endif
}

const char *image_host_variant(void)
{
#if defined(__aarch64__)
        return "v8";
#elif defined(__arm__)
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7
        return "v7";
#elif defined(__ARM_ARCH) && __ARM_ARCH == 6
        return "v6";
#else
        return "v5";
#endif
#else
        return NULL;
#endif
}

/* How well an offered variant fits a wanted one: -1 no, higher is better. */
static int variant_score(const char *arch, const char *want, const char *have)
{
        if (!have)
                have = "";
        if (!strcmp(arch, "arm64")) {
                /* "" and "v8" are the same thing for arm64 */
                bool w8 = !want || !*want || !strcmp(want, "v8");
                bool h8 = !*have || !strcmp(have, "v8");
                if (w8 && h8)
                        return !strcmp(have, "v8") ? 2 : 1;
                return want && !strcmp(want, have) ? 2 : -1;
        }
        if (!strcmp(arch, "arm")) {
                int w = want && want[0] == 'v' ? atoi(want + 1) : 7;
                int h = have[0] == 'v' ? atoi(have + 1) : 0;
                if (!*have)
                        return 0; /* unspecified: a last resort */
                return h <= w && h >= 5 ? h : -1;
        }
        if (want && *want)
                return !strcmp(want, have) ? 1 : -1;
        return 0;
}

int image_index_select(const struct image_manifest *idx, const char *platform,
                       const struct image_descriptor **ret, struct berth_error **err)
{
        if (!image_manifest_is_index(idx))
                return berth_error_setx(err, EINVAL, "not an index");
        _cleanup_free_ char *copy = xstrdup(platform ? platform : "");
        const char *os = "linux", *arch = image_host_arch(), *variant = NULL;
        if (platform && *platform) {
                char *save = NULL;
                char *p1 = strtok_r(copy, "/", &save);
                char *p2 = strtok_r(NULL, "/", &save);
                char *p3 = strtok_r(NULL, "/", &save);
                if (!p1 || !p2 || strtok_r(NULL, "/", &save))
                        return berth_error_setx(err, EINVAL,
                                                "invalid platform `%s`: expected os/arch[/variant]",
                                                platform);
                os = p1;
                arch = p2;
                variant = p3;
        } else if (strcmp(arch, "arm") == 0 || strcmp(arch, "arm64") == 0) {
                variant = image_host_variant();
        }
        const struct image_descriptor *best = NULL;
        int best_score = -1;
        for (size_t i = 0; i < idx->n_manifests; i++) {
                const struct image_descriptor *d = &idx->manifests[i];
                if (!d->os || !d->architecture || strcmp(d->os, os) ||
                    strcmp(d->architecture, arch))
                        continue;
                int s = variant_score(arch, variant, d->variant);
                if (s > best_score) {
                        best = d;
                        best_score = s;
                }
        }
        if (!best) {
                _cleanup_free_ char *offered = xstrdup("");
                for (size_t i = 0; i < idx->n_manifests; i++) {
                        const struct image_descriptor *d = &idx->manifests[i];
                        if (!d->os || !strcmp(d->os, "unknown"))
                                continue;
                        char *n = xasprintf("%s%s%s/%s%s%s", offered, *offered ? ", " : "", d->os,
                                            d->architecture ? d->architecture : "?",
                                            d->variant ? "/" : "", d->variant ? d->variant : "");
                        free(offered);
                        offered = n;
                }
                return berth_error_setx(err, ENOENT,
                                        "no manifest for platform %s/%s%s%s in the index "
                                        "(it has: %s)",
                                        os, arch, variant ? "/" : "", variant ? variant : "",
                                        *offered ? offered : "nothing");
        }
        *ret = best;
        return 0;
}

int image_config_diff_ids(json_t *config, char ***ret_diff_ids, char ***ret_chain_ids,
                          struct berth_error **err)
{
        if (!json_is_object(config))
                return berth_error_setx(err, EINVAL, "image config: not a JSON object");
        json_t *rootfs = json_object_get(config, "rootfs");
        if (!json_is_object(rootfs))
                return berth_error_setx(err, EINVAL, "image config: no rootfs");
        json_t *type = json_object_get(rootfs, "type");
        if (!json_is_string(type) || strcmp(json_string_value(type), "layers"))
                return berth_error_setx(err, EINVAL, "image config: rootfs.type is not `layers`");
        json_t *ids = json_object_get(rootfs, "diff_ids");
        if (!json_is_array(ids))
                return berth_error_setx(err, EINVAL, "image config: no rootfs.diff_ids");
        _cleanup_strv_ char **diff = xcalloc(1, sizeof(char *));
        _cleanup_strv_ char **chain = xcalloc(1, sizeof(char *));
        size_t i;
        json_t *v;
        char hex[65];
        json_array_foreach(ids, i, v)
        {
                if (!json_is_string(v) || berth_digest_parse(json_string_value(v), hex, NULL) < 0)
                        return berth_error_setx(
                            err, EINVAL, "image config: diff id %zu is not a sha256 digest", i);
                strv_push(&diff, json_string_value(v));
                char *c = berth_chain_id(i ? chain[i - 1] : NULL, json_string_value(v));
                strv_push(&chain, c);
                free(c);
        }
        *ret_diff_ids = TAKE_PTR(diff);
        if (ret_chain_ids)
                *ret_chain_ids = TAKE_PTR(chain);
        return 0;
}
