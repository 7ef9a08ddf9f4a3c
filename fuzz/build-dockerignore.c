/* libFuzzer target: bytes → bld_ignore_parse() (the .dockerignore of a build context) on what
 * comes before the first NUL byte, then every line after it as a path through
 * bld_ignore_excluded() and bld_ignore_may_reinclude(). Nothing may crash, leak or hang. */
#include "build/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        const char *nul = memchr(text, '\0', size);
        size_t plen = nul ? (size_t)(nul - text) : size;
        struct bld_ignore *ig = NULL;
        struct berth_error *err = NULL;
        if (bld_ignore_parse(text, plen, &ig, &err) < 0) {
                if (!err || ig)
                        __builtin_trap();
                berth_error_free(err);
                return 0;
        }
        char *paths = nul ? xstrndup(nul + 1, size - plen - 1) : xstrdup("a\na/b/c\n.\nx.go");
        char *save = NULL;
        for (char *p = strtok_r(paths, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
                bool excluded = bld_ignore_excluded(ig, p);
                bld_ignore_may_reinclude(ig, p);
                /* the context root is never excluded */
                if (!strcmp(p, ".") && excluded)
                        __builtin_trap();
        }
        free(paths);
        bld_ignore_free(ig);
        return 0;
}
