/* Image references, normalised with docker's rules (distribution/reference): a first component
 * is a registry host only when it has a '.' or ':' or is "localhost" (or has upper case letters);
 * otherwise the name lives on docker.io and a single component gets "library/". */
#include "image/internal.h"

#include <ctype.h>

#define NAME_MAX_TOTAL 255

static bool is_alnum_lower(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ ((\. | _ | __ | -+) [a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
        size_t i = 0;
        if (n == 0 || !is_alnum_lower(s[0]))
                return false;
        while (i < n) {
                while (i < n && is_alnum_lower(s[i]))
                        i++;
                if (i == n)
                        return true;
                size_t sep = i;
                if (s[i] == '.') {
                        i++;
                } else if (s[i] == '_') {
                        i++;
                        if (i < n && s[i] == '_')
                                i++;
                } else if (s[i] == '-') {
                        while (i < n && s[i] == '-')
                                i++;
                } else {
                        return false;
                }
                if (i == n || !is_alnum_lower(s[i]) || i == sep)
                        return false;
        }
        return true;
}

/* host[:port], host = label(.label)* or [ipv6] */
static bool valid_domain(const char *s)
{
        const char *colon = NULL;
        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end == s + 1)
                        return false;
                for (const char *p = s + 1; p < end; p++)
                        if (!isxdigit((unsigned char)*p) && *p != ':')
                                return false;
                colon = end[1] ? end + 1 : NULL;
                if (colon && *colon != ':')
                        return false;
        } else {
                colon = strchr(s, ':');
                size_t hl = colon ? (size_t)(colon - s) : strlen(s);
                if (hl == 0)
                        return false;
                size_t label = 0;
                for (size_t i = 0; i < hl; i++) {
                        char c = s[i];
                        if (c == '.') {
                                if (label == 0 || s[i - 1] == '-')
                                        return false;
                                label = 0;
                                continue;
                        }
                        if (!isalnum((unsigned char)c) && c != '-')
                                return false;
                        if (label == 0 && c == '-')
                                return false;
                        label++;
                }
                if (label == 0 || s[hl - 1] == '-')
                        return false;
        }
        if (colon) {
                if (!colon[1])
                        return false;
                for (const char *p = colon + 1; *p; p++)
                        if (!isdigit((unsigned char)*p))
                                return false;
        }
        return true;
}

/* tag := [\w][\w.-]{0,127} */
static bool valid_tag(const char *t)
{
        size_t n = strlen(t);
        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = t[i];
                bool word = isalnum((unsigned char)c) || c == '_';
                if (!word && (i == 0 || (c != '.' && c != '-')))
                        return false;
        }
        return true;
}

static bool is_hex64(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (int i = 0; i < 64; i++)
                if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
                        return false;
        return true;
}

int berth_ref_parse(const char *s, struct berth_ref *ret, struct berth_error **err)
{
        if (!s || !*s)
                return berth_error_setx(err, EINVAL, "invalid reference format: empty name");
        _cleanup_free_ char *name = xstrdup(s);
        _cleanup_free_ char *digest = NULL, *tag = NULL, *domain = NULL, *path = NULL;
        char *at = strchr(name, '@');
        if (at) {
                *at = 0;
                char hex[65];
                if (berth_digest_parse(at + 1, hex, NULL) < 0)
                        return berth_error_setx(err, EINVAL,
                                                "invalid reference format `%s`: bad digest", s);
                digest = xstrdup(at + 1);
        }
        char *slash = strrchr(name, '/');
        char *colon = strrchr(slash ? slash : name, ':');
        if (colon) {
                *colon = 0;
                if (!valid_tag(colon + 1))
                        return berth_error_setx(err, EINVAL,
                                                "invalid reference format `%s`: bad tag `%s`", s,
                                                colon + 1);
                tag = xstrdup(colon + 1);
        }
        if (!*name)
                return berth_error_setx(err, EINVAL, "invalid reference format `%s`", s);
        if (is_hex64(name))
                return berth_error_setx(err, EINVAL,
                                        "invalid repository name `%s`: cannot be a 64-byte hex "
                                        "string",
                                        name);
        char *first = strchr(name, '/');
        const char *rest = name;
        if (first) {
                _cleanup_free_ char *head = xstrndup(name, (size_t)(first - name));
                bool lower = true;
                for (char *p = head; *p; p++)
                        if (isupper((unsigned char)*p))
                                lower = false;
                if (strpbrk(head, ".:") || !strcmp(head, "localhost") || !lower) {
                        if (!valid_domain(head))
                                return berth_error_setx(
                                    err, EINVAL,
                                    "invalid reference format `%s`: bad registry host `%s`", s,
                                    head);
                        domain = TAKE_PTR(head);
                        rest = first + 1;
                }
        }
        if (!domain || !strcmp(domain, "index.docker.io")) {
                free(domain);
                domain = xstrdup("docker.io");
        }
        if (!strcmp(domain, "docker.io") && !strchr(rest, '/'))
                path = xasprintf("library/%s", rest);
        else
                path = xstrdup(rest);
        /* every component of the path */
        for (const char *p = path;;) {
                const char *e = strchr(p, '/');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (!valid_component(p, n)) {
                        bool upper = false;
                        for (size_t i = 0; i < n; i++)
                                if (isupper((unsigned char)p[i]))
                                        upper = true;
                        if (upper)
                                return berth_error_setx(err, EINVAL,
                                                        "invalid reference format `%s`: "
                                                        "repository name must be lowercase",
                                                        s);
                        return berth_error_setx(err, EINVAL, "invalid reference format `%s`", s);
                }
                if (!e)
                        break;
                p = e + 1;
        }
        if (strlen(domain) + 1 + strlen(path) > NAME_MAX_TOTAL)
                return berth_error_setx(err, EINVAL,
                                        "invalid reference format `%s`: repository name must "
                                        "not be more than %d characters",
                                        s, NAME_MAX_TOTAL);
        ret->domain = TAKE_PTR(domain);
        ret->path = TAKE_PTR(path);
        ret->tag = TAKE_PTR(tag);
        ret->digest = TAKE_PTR(digest);
        return 0;
}

void berth_ref_release(struct berth_ref *r)
{
        if (!r)
                return;
        free(r->domain);
        free(r->path);
        free(r->tag);
        free(r->digest);
        memset(r, 0, sizeof(*r));
}

static char *with_suffix(char *base, const struct berth_ref *r)
{
        char *s = xasprintf("%s%s%s%s%s", base, r->tag ? ":" : "", r->tag ? r->tag : "",
                            r->digest ? "@" : "", r->digest ? r->digest : "");
        free(base);
        return s;
}

char *berth_ref_full(const struct berth_ref *r)
{
        return with_suffix(xasprintf("%s/%s", r->domain, r->path), r);
}

char *berth_ref_repo(const struct berth_ref *r)
{
        if (strcmp(r->domain, "docker.io"))
                return xasprintf("%s/%s", r->domain, r->path);
        if (!strncmp(r->path, "library/", 8) && !strchr(r->path + 8, '/'))
                return xstrdup(r->path + 8);
        return xstrdup(r->path);
}

char *berth_ref_familiar(const struct berth_ref *r)
{
        return with_suffix(berth_ref_repo(r), r);
}

char *berth_ref_display(const char *s)
{
        struct berth_ref r = {0};
        char *out;

        if (!s || !strncmp(s, "sha256:", 7) || is_hex64(s) || berth_ref_parse(s, &r, NULL) < 0)
                return xstrdup(s ? s : "");
        if (!r.tag && !r.digest)
                r.tag = xstrdup("latest");
        out = berth_ref_familiar(&r);
        berth_ref_release(&r);
        return out;
}
