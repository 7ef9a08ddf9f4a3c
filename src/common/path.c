/* Lexical path cleaning ("//", "." and ".." out): the one copy for the image store, the spec
 * builder and docker cp. Text only: nothing here looks at a filesystem. */
#include "common/common.h"

/* The components of p into out (room for strlen(p) + 2) after a leading '/' when abs. A ".."
 * removes the component before it; with nothing before it, it stays at the root (abs) or is
 * -EINVAL (relative, or any ".." with BERTH_PATH_NO_DOTDOT). */
static int clean(const char *p, bool abs, unsigned flags, char *out)
{
        size_t start = abs ? 1 : 0, w = start;

        out[0] = '/';
        while (*p) {
                size_t n;
                while (*p == '/')
                        p++;
                n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if ((flags & BERTH_PATH_NO_DOTDOT) || (!abs && w == start))
                                return -EINVAL;
                        while (w > start && out[w - 1] != '/')
                                w--;
                        if (w > start)
                                w--;
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (w > start)
                                out[w++] = '/';
                        memcpy(out + w, p, n);
                        w += n;
                }
                p += n;
        }
        out[w] = '\0';
        return 0;
}

char *berth_path_clean_abs(const char *p)
{
        char *out = xmalloc(strlen(p) + 2);

        clean(p, true, 0, out); /* cannot fail without BERTH_PATH_NO_DOTDOT */
        return out;
}

int berth_path_clean_rel(const char *p, unsigned flags, char **ret)
{
        _cleanup_free_ char *out = xmalloc(strlen(p) + 2);
        int r = clean(p, false, flags, out);

        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}
