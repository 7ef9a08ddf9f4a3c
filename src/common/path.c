/* Lexical path cleaning ("//", "." and ".." out): the one copy for the image store, the spec
 * builder and docker cp. Text only: nothing here looks at a filesystem. */
#include "common/common.h"

char *berth_path_clean_abs(const char *p)
{
        char *out = xmalloc(strlen(p) + 2);
        size_t w = 1;

        out[0] = '/';
        while (*p) {
                size_t n;
                while (*p == '/')
                        p++;
                n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (w > 1 && out[w - 1] != '/')
                                w--;
                        if (w > 1)
                                w--;
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (w > 1)
                                out[w++] = '/';
                        memcpy(out + w, p, n);
                        w += n;
                }
                p += n;
        }
        out[w] = '\0';
        return out;
}

int berth_path_clean_rel(const char *p, unsigned flags, char **ret)
{
        _cleanup_free_ char *out = xmalloc(strlen(p) + 1);
        size_t w = 0;

        while (*p) {
                size_t n;
                while (*p == '/')
                        p++;
                n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (w == 0 || (flags & BERTH_PATH_NO_DOTDOT))
                                return -EINVAL;
                        while (w > 0 && out[w - 1] != '/')
                                w--;
                        if (w > 0)
                                w--;
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (w > 0)
                                out[w++] = '/';
                        memcpy(out + w, p, n);
                        w += n;
                }
                p += n;
        }
        out[w] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}
