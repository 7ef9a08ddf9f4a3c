/* Registry credentials and tokens: docker's X-Registry-Auth header and config.json `auths`,
 * WWW-Authenticate challenges, and a process-wide cache of bearer tokens per host and scope. */
#include "image/registry-internal.h"

#include <openssl/evp.h>
#include <time.h>

void reg_creds_release(struct reg_creds *c)
{
        free(c->username);
        free(c->password);
        free(c->identitytoken);
        free(c->registrytoken);
        *c = (struct reg_creds){0};
}

int reg_base64_decode(const char *s, char **ret, size_t *ret_len)
{
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '=' || s[n - 1] == '\n' || s[n - 1] == ' '))
                n--;
        size_t padded = (n + 3) / 4 * 4;
        _cleanup_free_ char *in = xmalloc(padded + 1);
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                in[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
        }
        for (size_t i = n; i < padded; i++)
                in[i] = '=';
        in[padded] = 0;
        if (n % 4 == 1)
                return -EINVAL;
        _cleanup_free_ unsigned char *out = xmalloc(padded / 4 * 3 + 1);
        int len = padded ? EVP_DecodeBlock(out, (unsigned char *)in, (int)padded) : 0;
        if (len < 0)
                return -EINVAL;
        /* EVP_DecodeBlock counts the padding as zero bytes */
        size_t pad = padded - n;
        len -= (int)pad;
        out[len] = 0;
        if (ret_len)
                *ret_len = (size_t)len;
        *ret = (char *)TAKE_PTR(out);
        return 0;
}

static char *json_str_dup(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s && *s ? xstrdup(s) : NULL;
}

/* "user:pass" from a base64 `auth` field */
static int creds_from_auth(const char *auth, struct reg_creds *c)
{
        _cleanup_free_ char *dec = NULL;
        if (reg_base64_decode(auth, &dec, NULL) < 0)
                return -EINVAL;
        char *colon = strchr(dec, ':');
        if (!colon)
                return -EINVAL;
        *colon = 0;
        free(c->username);
        free(c->password);
        c->username = xstrdup(dec);
        c->password = xstrdup(colon + 1);
        return 0;
}

static int creds_from_header(const char *header, struct reg_creds *ret, struct berth_error **err)
{
        _cleanup_free_ char *dec = NULL;
        size_t len = 0;
        if (reg_base64_decode(header, &dec, &len) < 0)
                return berth_error_setx(err, EINVAL, "X-Registry-Auth: invalid base64");
        json_error_t je;
        _cleanup_json_ json_t *j = json_loadb(dec, len, 0, &je);
        if (!json_is_object(j))
                return berth_error_setx(err, EINVAL, "X-Registry-Auth: invalid JSON: %s", je.text);
        struct reg_creds c = {
            .username = json_str_dup(j, "username"),
            .password = json_str_dup(j, "password"),
            .identitytoken = json_str_dup(j, "identitytoken"),
            .registrytoken = json_str_dup(j, "registrytoken"),
        };
        const char *auth = json_string_value(json_object_get(j, "auth"));
        if (!c.username && auth && *auth && creds_from_auth(auth, &c) < 0) {
                reg_creds_release(&c);
                return berth_error_setx(err, EINVAL, "X-Registry-Auth: invalid `auth` field");
        }
        *ret = c;
        return 0;
}

/* "https://index.docker.io/v1/" → "index.docker.io"; "http://h:5000/v2/" → "h:5000" */
static char *auth_key_host(const char *key)
{
        const char *p = strstr(key, "://");
        p = p ? p + 3 : key;
        return xstrndup(p, strcspn(p, "/"));
}

static bool host_matches(const char *key, const char *host)
{
        _cleanup_free_ char *k = auth_key_host(key);
        if (!strcmp(k, host))
                return true;
        /* docker.io's credentials live under index.docker.io */
        bool hub = !strcmp(host, "docker.io") || !strcmp(host, "registry-1.docker.io") ||
                   !strcmp(host, "index.docker.io");
        return hub && (!strcmp(k, "index.docker.io") || !strcmp(k, "docker.io") ||
                       !strcmp(k, "registry-1.docker.io"));
}

static int creds_from_config(const char *host, const char *path, struct reg_creds *ret,
                             struct berth_error **err)
{
        _cleanup_free_ char *def = NULL;
        if (!path) {
                const char *dir = getenv("DOCKER_CONFIG");
                const char *home = getenv("HOME");
                if (dir && *dir)
                        def = xasprintf("%s/config.json", dir);
                else if (home && *home)
                        def = xasprintf("%s/.docker/config.json", home);
                else
                        return 0;
                if (access(def, F_OK) < 0)
                        return 0;
                path = def;
        }
        _cleanup_json_ json_t *j = berth_json_load_at(AT_FDCWD, path, 0, err);
        if (!j)
                return berth_error_wrap(err, "docker config");
        json_t *auths = json_object_get(j, "auths");
        const char *key;
        json_t *v;
        json_object_foreach(auths, key, v)
        {
                if (!host_matches(key, host))
                        continue;
                struct reg_creds c = {.identitytoken = json_str_dup(v, "identitytoken"),
                                      .registrytoken = json_str_dup(v, "registrytoken")};
                const char *auth = json_string_value(json_object_get(v, "auth"));
                if (auth && *auth && creds_from_auth(auth, &c) < 0) {
                        reg_creds_release(&c);
                        return berth_error_setx(
                            err, EINVAL, "docker config `%s`: invalid `auth` for `%s`", path, key);
                }
                if (!c.username) {
                        c.username = json_str_dup(v, "username");
                        c.password = json_str_dup(v, "password");
                }
                *ret = c;
                return 0;
        }
        return 0;
}

int reg_creds_lookup(const char *host, const char *auth_header, const char *docker_config,
                     struct reg_creds *ret, struct berth_error **err)
{
        *ret = (struct reg_creds){0};
        if (auth_header && *auth_header) {
                if (creds_from_header(auth_header, ret, err) < 0)
                        return -EINVAL;
                /* an empty header object ("e30=") means anonymous, like docker */
                return 0;
        }
        return creds_from_config(host, docker_config, ret, err);
}

/* ---------------------------------------------------------------- challenges */

void reg_challenge_release(struct reg_challenge *c)
{
        free(c->scheme);
        free(c->realm);
        free(c->service);
        free(c->scope);
        *c = (struct reg_challenge){0};
}

int reg_challenge_parse(const char *header, struct reg_challenge *ret, struct berth_error **err)
{
        struct reg_challenge c = {0};
        const char *p = header + strspn(header, " \t");
        size_t n = strcspn(p, " \t");
        if (n == 0)
                return berth_error_setx(err, EINVAL, "empty WWW-Authenticate challenge");
        c.scheme = xstrndup(p, n);
        for (char *s = c.scheme; *s; s++)
                *s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
        p += n;
        while (*p) {
                p += strspn(p, " \t,");
                size_t kl = strcspn(p, "=, \t");
                if (kl == 0 || p[kl] != '=')
                        break;
                _cleanup_free_ char *k = xstrndup(p, kl);
                p += kl + 1;
                _cleanup_free_ char *v = NULL;
                if (*p == '"') {
                        p++;
                        size_t cap = strlen(p) + 1, o = 0;
                        v = xmalloc(cap);
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1])
                                        p++;
                                v[o++] = *p++;
                        }
                        v[o] = 0;
                        if (*p == '"')
                                p++;
                } else {
                        size_t vl = strcspn(p, ", \t");
                        v = xstrndup(p, vl);
                        p += vl;
                }
                char **slot = !strcasecmp(k, "realm")     ? &c.realm
                              : !strcasecmp(k, "service") ? &c.service
                              : !strcasecmp(k, "scope")   ? &c.scope
                                                          : NULL;
                if (slot) {
                        free(*slot);
                        *slot = TAKE_PTR(v);
                }
        }
        if (!strcmp(c.scheme, "bearer") && !c.realm) {
                reg_challenge_release(&c);
                return berth_error_setx(err, EINVAL, "bearer challenge without a realm: `%s`",
                                        header);
        }
        *ret = c;
        return 0;
}

/* ---------------------------------------------------------------- token cache */

struct token_entry {
        char *key; /* host " " scope */
        char *token;
        time_t expires;
        struct token_entry *next;
};

static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token_entry *tokens;

char *reg_token_cache_get(const char *host, const char *scope)
{
        _cleanup_free_ char *key = xasprintf("%s %s", host, scope ? scope : "");
        time_t now = time(NULL);
        char *r = NULL;
        pthread_mutex_lock(&token_lock);
        for (struct token_entry *e = tokens; e; e = e->next)
                if (!strcmp(e->key, key) && e->expires > now) {
                        r = xstrdup(e->token);
                        break;
                }
        pthread_mutex_unlock(&token_lock);
        return r;
}

void reg_token_cache_put(const char *host, const char *scope, const char *token, long expires_in)
{
        _cleanup_free_ char *key = xasprintf("%s %s", host, scope ? scope : "");
        /* docker's token spec: 60 s when unset; keep a margin for the request in flight */
        if (expires_in <= 0)
                expires_in = 60;
        time_t expires = time(NULL) + (expires_in > 20 ? expires_in - 10 : expires_in / 2);
        pthread_mutex_lock(&token_lock);
        struct token_entry **pp = &tokens;
        while (*pp) {
                struct token_entry *e = *pp;
                if (!strcmp(e->key, key) || e->expires <= time(NULL)) {
                        *pp = e->next;
                        free(e->key);
                        free(e->token);
                        free(e);
                        continue;
                }
                pp = &e->next;
        }
        struct token_entry *e = xcalloc(1, sizeof(*e));
        e->key = TAKE_PTR(key);
        e->token = xstrdup(token);
        e->expires = expires;
        e->next = tokens;
        tokens = e;
        pthread_mutex_unlock(&token_lock);
}

int berth_registry_auth_for(const char *registry_config, const char *ref, char **ret_header,
                            struct berth_error **err)
{
        *ret_header = NULL;
        if (!registry_config || !*registry_config)
                return 0;
        _cleanup_free_ char *dec = NULL;
        size_t len = 0;
        if (reg_base64_decode(registry_config, &dec, &len) < 0)
                return berth_error_setx(err, EINVAL, "X-Registry-Config: invalid base64");
        json_error_t je;
        _cleanup_json_ json_t *j = json_loadb(dec, len, 0, &je);
        if (!json_is_object(j))
                return berth_error_setx(err, EINVAL, "X-Registry-Config: invalid JSON: %s",
                                        je.text);
        struct berth_ref r = {0};
        if (berth_ref_parse(ref, &r, err) < 0)
                return -EINVAL;
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
                if (!json_is_object(v) || !host_matches(key, r.domain))
                        continue;
                _cleanup_free_ char *text = json_dumps(v, JSON_COMPACT);
                *ret_header = berth_base64_encode(text, strlen(text));
                break;
        }
        berth_ref_release(&r);
        return 0;
}
