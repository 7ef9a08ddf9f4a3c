/* libFuzzer target: berth's own /etc/passwd and /etc/group parser (untrusted image content) and
 * docker's User resolution over it. Input: a User string, '\n', then passwd text, a NUL byte,
 * then group text. */
#include "daemon/spec/spec-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *s = (const char *)data;
        const char *nl = memchr(s, '\n', size);
        size_t ul = nl ? (size_t)(nl - s) : size;
        char *user = xstrndup(s, ul);
        const char *rest = nl ? nl + 1 : s + size;
        size_t rl = size - (size_t)(rest - s);
        const char *nul = memchr(rest, '\0', rl);
        size_t pl = nul ? (size_t)(nul - rest) : rl;
        const char *gtext = nul ? nul + 1 : rest + rl;
        size_t gl = nul ? rl - pl - 1 : 0;

        struct berth_passwd_ent *pw = NULL;
        struct berth_group_ent *gr = NULL;
        size_t npw = 0, ngr = 0;
        berth_passwd_parse(rest, pl, &pw, &npw);
        berth_group_parse(gtext, gl, &gr, &ngr);
        char *group_add[] = {"staff", "12", NULL};
        struct spec_user u = {0};
        struct berth_error *err = NULL;
        if (spec_user_resolve_tables(pw, npw, gr, ngr, user, group_add, &u, &err) == 0)
                spec_user_release(&u);
        else
                berth_error_free(err);
        berth_passwd_free(pw, npw);
        berth_group_free(gr, ngr);
        free(user);
        return 0;
}
