/* Manifests, indexes and configs: good documents parse, bad ones fail with a clear message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/internal.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_DOCKER_MANIFEST "\","
    "\"config\":{\"mediaType\":\"" MEDIA_DOCKER_CONFIG "\",\"size\":7023,\"digest\":\"sha256:" H1
    "\"},"
    "\"layers\":[{\"mediaType\":\"" MEDIA_DOCKER_LAYER "\",\"size\":32654,\"digest\":\"sha256:" H2
    "\"},{\"mediaType\":\"" MEDIA_DOCKER_FOREIGN "\",\"size\":1,\"digest\":\"sha256:" H3
    "\",\"urls\":[\"https://x/y\"]}]}";

static const char oci_manifest_no_type[] =
    "{\"schemaVersion\":2,"
    "\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG "\",\"size\":7,\"digest\":\"sha256:" H1 "\"},"
    "\"layers\":[{\"mediaType\":\"" MEDIA_OCI_LAYER_ZSTD "\",\"size\":3,\"digest\":\"sha256:" H2
    "\"}],\"annotations\":{\"a\":\"b\"}}";

static struct image_manifest *parse_ok(const char *doc, const char *mt)
{
        struct image_manifest *m = NULL;
        struct berth_error *err = NULL;
        if (image_manifest_parse(doc, strlen(doc), mt, &m, &err) < 0)
                fail_msg("parse: %s", err->msg);
        return m;
}

static void parse_bad(const char *doc, const char *mt, const char *msg_part)
{
        struct image_manifest *m = NULL;
        struct berth_error *err = NULL;
        if (image_manifest_parse(doc, strlen(doc), mt, &m, &err) == 0)
                fail_msg("accepted: %s", doc);
        assert_int_equal(err->code, EINVAL);
        if (!strstr(err->msg, msg_part))
                fail_msg("message `%s` lacks `%s`", err->msg, msg_part);
        berth_error_free(err);
}

static void test_docker_manifest(void **state)
{
        (void)state;
        struct image_manifest *m = parse_ok(docker_manifest, MEDIA_DOCKER_MANIFEST);
        assert_int_equal(m->kind, IMAGE_MANIFEST_DOCKER2);
        assert_false(image_manifest_is_index(m));
        assert_string_equal(m->config.digest, "sha256:" H1);
        assert_int_equal(m->config.size, 7023);
        assert_int_equal(m->n_layers, 2);
        assert_string_equal(m->layers[0].digest, "sha256:" H2);
        assert_int_equal(image_layer_compression(m->layers[0].media_type), 1);
        assert_string_equal(m->layers[1].urls[0], "https://x/y");
        image_manifest_free(m);
        /* the document's own type decides when the caller's is generic */
        m = parse_ok(docker_manifest, "application/json; charset=utf-8");
        assert_int_equal(m->kind, IMAGE_MANIFEST_DOCKER2);
        image_manifest_free(m);
}

static void test_oci_manifest(void **state)
{
        (void)state;
        struct image_manifest *m = parse_ok(oci_manifest_no_type, NULL);
        assert_int_equal(m->kind, IMAGE_MANIFEST_OCI);
        assert_string_equal(m->media_type, MEDIA_OCI_MANIFEST);
        assert_int_equal(image_layer_compression(m->layers[0].media_type), 2);
        image_manifest_free(m);
}

static const char index_doc[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:" H1 "\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:" H2 "\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:" H3 "\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:" H1 "\","
    "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:" H3 "\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:" H2 "\","
    "\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}";

static const char *select_digest(struct image_manifest *idx, const char *platform)
{
        const struct image_descriptor *d = NULL;
        struct berth_error *err = NULL;
        if (image_index_select(idx, platform, &d, &err) < 0) {
                assert_int_equal(err->code, ENOENT);
                berth_error_free(err);
                return NULL;
        }
        return d->digest;
}

static void test_index_select(void **state)
{
        (void)state;
        struct image_manifest *idx = parse_ok(index_doc, MEDIA_OCI_INDEX);
        assert_true(image_manifest_is_index(idx));
        assert_int_equal(idx->n_manifests, 6);
        assert_string_equal(select_digest(idx, "linux/arm/v7"), "sha256:" H2);
        assert_string_equal(select_digest(idx, "linux/arm/v6"), "sha256:" H1);
        assert_string_equal(select_digest(idx, "linux/arm"), "sha256:" H2); /* best ≤ v7 */
        assert_null(select_digest(idx, "linux/arm/v5"));
        assert_string_equal(select_digest(idx, "linux/arm64"), "sha256:" H3);
        assert_string_equal(select_digest(idx, "linux/arm64/v8"), "sha256:" H3);
        assert_string_equal(select_digest(idx, "linux/amd64"), "sha256:" H3);
        assert_string_equal(select_digest(idx, "windows/amd64"), "sha256:" H2);
        assert_null(select_digest(idx, "linux/s390x"));
        if (!strcmp(image_host_arch(), "amd64"))
                assert_string_equal(select_digest(idx, NULL), "sha256:" H3);
        struct berth_error *err = NULL;
        const struct image_descriptor *d = NULL;
        assert_int_equal(image_index_select(idx, "linux/ppc64le", &d, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "linux/arm/v7"));
        assert_null(strstr(err->msg, "unknown"));
        berth_error_free(err);
        err = NULL;
        assert_int_equal(image_index_select(idx, "linux", &d, &err), -EINVAL);
        berth_error_free(err);
        image_manifest_free(idx);
}

static void test_bad(void **state)
{
        (void)state;
        parse_bad("", NULL, "invalid JSON");
        parse_bad("[]", NULL, "not a JSON object");
        parse_bad("{\"schemaVersion\":1,\"fsLayers\":[]}", NULL, "schema1");
        parse_bad("{\"schemaVersion\":3,\"layers\":[]}", NULL, "schemaVersion");
        parse_bad("{\"layers\":[]}", NULL, "schemaVersion");
        parse_bad("{\"schemaVersion\":2}", NULL, "neither layers nor manifests");
        parse_bad("{\"schemaVersion\":2,\"mediaType\":\"text/x\",\"layers\":[]}", NULL,
                  "unsupported media type");
        parse_bad(docker_manifest, MEDIA_OCI_MANIFEST, "does not match");
        parse_bad("{\"schemaVersion\":2,\"layers\":[]}", NULL, "config");
        parse_bad("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG
                  "\",\"size\":1,\"digest\":\"sha256:abc\"},\"layers\":[]}",
                  NULL, "invalid digest");
        parse_bad("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG
                  "\",\"digest\":\"sha256:" H1 "\"},\"layers\":[]}",
                  NULL, "size");
        parse_bad("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG
                  "\",\"size\":-4,\"digest\":\"sha256:" H1 "\"},\"layers\":[]}",
                  NULL, "size");
        parse_bad("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.x\","
                  "\"size\":4,\"digest\":\"sha256:" H1 "\"},\"layers\":[]}",
                  NULL, "artifact");
        parse_bad("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG
                  "\",\"size\":4,\"digest\":\"sha256:" H1 "\"},\"layers\":{}}",
                  NULL, "no layers array");
        parse_bad("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG
                  "\",\"size\":4,\"digest\":\"sha256:" H1
                  "\"},\"layers\":[{\"mediaType\":\"application/x-zip\",\"size\":1,"
                  "\"digest\":\"sha256:" H2 "\"}]}",
                  NULL, "unsupported media type `application/x-zip`");
        parse_bad("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_INDEX
                  "\",\"manifests\":[{\"size\":1}]}",
                  NULL, "no digest");
        parse_bad("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_INDEX
                  "\",\"manifests\":[{\"size\":1,\"digest\":\"sha256:" H1 "\",\"platform\":[]}]}",
                  NULL, "platform");
        parse_bad("{\"schemaVersion\":2,\"schemaVersion\":2,\"layers\":[]}", NULL, "invalid JSON");
}

static void test_config(void **state)
{
        (void)state;
        json_t *cfg = json_loads("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" H1
                                 "\",\"sha256:" H2 "\"]}}",
                                 0, NULL);
        char **diff = NULL, **chain = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(image_config_diff_ids(cfg, &diff, &chain, &err), 0);
        assert_string_equal(diff[0], "sha256:" H1);
        assert_string_equal(chain[0], "sha256:" H1);
        /* chain id = sha256("sha256:H1 sha256:H2"), computed independently (sha256sum) */
        assert_string_equal(
            chain[1], "sha256:9932074217c35353d2e03a3f5a86549f7c67bfeb0ba53e23d69f4d4c8f7958f5");
        char *c = berth_chain_id(NULL, "sha256:" H2);
        assert_string_equal(c, "sha256:" H2);
        free(c);
        strv_free(diff);
        strv_free(chain);
        json_decref(cfg);
        cfg = json_loads("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}}", 0, NULL);
        assert_int_equal(image_config_diff_ids(cfg, &diff, NULL, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "diff id 0"));
        berth_error_free(err);
        err = NULL;
        json_decref(cfg);
        cfg = json_loads("{\"rootfs\":{\"type\":\"tar\",\"diff_ids\":[]}}", 0, NULL);
        assert_int_equal(image_config_diff_ids(cfg, &diff, NULL, &err), -EINVAL);
        berth_error_free(err);
        json_decref(cfg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_docker_manifest), cmocka_unit_test(test_oci_manifest),
            cmocka_unit_test(test_index_select),    cmocka_unit_test(test_bad),
            cmocka_unit_test(test_config),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
