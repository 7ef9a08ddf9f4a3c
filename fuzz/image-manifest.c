/* libFuzzer target: bytes → image_manifest_parse() (with each media type a registry may send),
 * image_index_select(), image_config_diff_ids() and berth_ref_parse(). Nothing may crash, leak
 * or hang. */
#include "image/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {NULL,
                                    MEDIA_DOCKER_MANIFEST,
                                    MEDIA_OCI_MANIFEST,
                                    MEDIA_DOCKER_LIST,
                                    MEDIA_OCI_INDEX,
                                    "application/json"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        /* the first byte picks the media type; the rest is the document */
        const char *mt = types[data[0] % ARRAY_SIZE(types)];
        const char *buf = (const char *)data + 1;
        size_t len = size - 1;
        struct image_manifest *m = NULL;
        struct berth_error *err = NULL;
        if (image_manifest_parse(buf, len, mt, &m, &err) == 0) {
                if (image_manifest_is_index(m)) {
                        const struct image_descriptor *d = NULL;
                        static const char *const platforms[] = {NULL, "linux/arm", "linux/arm64",
                                                                "linux/arm/v6", "bad"};
                        for (size_t i = 0; i < ARRAY_SIZE(platforms); i++) {
                                if (image_index_select(m, platforms[i], &d, &err) < 0) {
                                        berth_error_free(err);
                                        err = NULL;
                                }
                        }
                }
                image_manifest_free(m);
        } else {
                berth_error_free(err);
                err = NULL;
        }
        /* the same bytes as an image config */
        json_t *doc = json_loadb(buf, len, 0, NULL);
        if (doc) {
                char **diff = NULL, **chain = NULL;
                if (image_config_diff_ids(doc, &diff, &chain, &err) == 0) {
                        strv_free(diff);
                        strv_free(chain);
                } else {
                        berth_error_free(err);
                        err = NULL;
                }
                json_decref(doc);
        }
        /* and as an image reference (up to the first NUL) */
        char *s = xstrndup(buf, len < 512 ? len : 512);
        struct berth_ref r = {0};
        if (berth_ref_parse(s, &r, &err) == 0) {
                free(berth_ref_full(&r));
                free(berth_ref_familiar(&r));
                free(berth_ref_repo(&r));
                berth_ref_release(&r);
        } else {
                berth_error_free(err);
        }
        free(s);
        return 0;
}
