/* libFuzzer target: config.json bytes → spec_parse(). Nothing may crash, leak or hang. */
#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_INT_AS_REAL, NULL);
        if (!doc)
                return 0;
        struct spec *s = NULL;
        struct berth_error *err = NULL;
        if (spec_parse(doc, "/bundle", &s, &err) == 0) {
                (void)spec_clone_flags(s);
                spec_free(s);
        } else {
                berth_error_free(err);
        }
        json_decref(doc);
        return 0;
}
