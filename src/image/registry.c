/* The registry HTTP client: one per pull or push, speaking the OCI distribution API over libcurl.
 * It settles the scheme (plain HTTP only for loopback and configured insecure registries),
 * answers 401 challenges (bearer tokens fetched with the caller's credentials and cached per
 * host and scope, or basic auth) and never sends the registry's Authorization to another host
 * (curl drops custom Authorization headers on redirects to a different host or port). */
#include "image/registry-internal.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#define USER_AGENT      "berth/" BERTH_VERSION
#define MAX_TOKEN_BODY  (1u << 20)
#define REQUEST_RETRIES 3

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

char *reg_sha256_digest(const void *data, size_t len)
{
        unsigned char md[32];
        unsigned mdlen = 0;
        EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
        char *out = xmalloc(7 + 64 + 1);
        memcpy(out, "sha256:", 7);
        for (int i = 0; i < 32; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
        return out;
}

void reg_short_id(const char *digest, char ret[13])
{
        const char *hex = strncmp(digest, "sha256:", 7) ? digest : digest + 7;
        snprintf(ret, 13, "%s", hex);
}

void reg_progress(struct reg_client *c, const char *id, const char *status, uint64_t current,
                  uint64_t total)
{
        if (!c->opts.progress)
                return;
        struct berth_progress p = {.id = id, .status = status, .current = current, .total = total};
        pthread_mutex_lock(&c->progress_lock);
        c->opts.progress(&p, c->opts.userdata);
        pthread_mutex_unlock(&c->progress_lock);
}

void reg_response_release(struct reg_response *r)
{
        free(r->body);
        free(r->content_type);
        free(r->docker_digest);
        free(r->location);
        free(r->www_authenticate);
        *r = (struct reg_response){0};
}

/* "127.0.0.1:5000", "localhost", "[::1]:5000" */
static bool host_is_loopback(const char *host)
{
        if (!strncmp(host, "[::1]", 5))
                return true;
        size_t n = strcspn(host, ":");
        if (n == 9 && !strncmp(host, "localhost", 9))
                return true;
        return !strncmp(host, "127.", 4);
}

static bool host_is_insecure(const char *host, char *const *list)
{
        for (size_t i = 0; list && list[i]; i++) {
                const char *e = list[i];
                const char *p = strstr(e, "://");
                p = p ? p + 3 : e;
                size_t n = strcspn(p, "/");
                if (strlen(host) == n && !strncmp(host, p, n))
                        return true;
        }
        return false;
}

int reg_client_init(struct reg_client *c, const char *ref, const char *actions,
                    const struct berth_registry_opts *o, struct berth_error **err)
{
        pthread_once(&curl_once, curl_init_once);
        *c = (struct reg_client){0};
        pthread_mutex_init(&c->progress_lock, NULL);
        if (o)
                c->opts = *o;
        if (berth_ref_parse(ref, &c->ref, err) < 0)
                return -EINVAL;
        c->repo = berth_ref_repo(&c->ref);
        c->host =
            xstrdup(!strcmp(c->ref.domain, "docker.io") ? "registry-1.docker.io" : c->ref.domain);
        c->plain_ok = host_is_loopback(c->host) ||
                      host_is_insecure(c->ref.domain, c->opts.insecure_registries);
        c->insecure = c->plain_ok;
        if (host_is_loopback(c->host))
                c->base = xasprintf("http://%s", c->host);
        c->scope = xasprintf("repository:%s:%s", c->ref.path, actions);
        if (reg_creds_lookup(c->ref.domain, c->opts.auth_header, c->opts.docker_config, &c->creds,
                             err) < 0)
                return berth_error_wrap(err, "credentials for `%s`", c->ref.domain);
        if (c->creds.registrytoken)
                c->auth = xasprintf("Authorization: Bearer %s", c->creds.registrytoken);
        c->easy = curl_easy_init();
        if (!c->easy)
                return berth_error_setx(err, ENOMEM, "curl: cannot create a handle");
        return 0;
}

void reg_client_release(struct reg_client *c)
{
        if (c->easy)
                curl_easy_cleanup(c->easy);
        berth_ref_release(&c->ref);
        free(c->repo);
        free(c->host);
        free(c->base);
        free(c->scope);
        free(c->auth);
        reg_creds_release(&c->creds);
        pthread_mutex_destroy(&c->progress_lock);
        *c = (struct reg_client){0};
}

void reg_client_add_scope(struct reg_client *c, const char *scope)
{
        if (strstr(c->scope, scope))
                return;
        char *s = xasprintf("%s %s", c->scope, scope);
        free(c->scope);
        c->scope = s;
        /* a token for the old scope set does not cover the new one */
        if (c->auth && !c->creds.registrytoken && !strncmp(c->auth, "Authorization: Bearer", 21)) {
                free(c->auth);
                c->auth = NULL;
        }
}

/* ---------------------------------------------------------------- transfers */

struct xfer {
        struct reg_response *resp;
        size_t max;
        bool too_big;
        int body_fd;
        off_t body_off;
        size_t body_left;
};

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
        struct xfer *x = ud;
        size_t len = size * n;
        if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
                /* a new response (after a redirect or 100-continue): forget the last one's */
                struct reg_response *r = x->resp;
                free(r->content_type);
                free(r->docker_digest);
                free(r->location);
                free(r->www_authenticate);
                r->content_type = r->docker_digest = r->location = r->www_authenticate = NULL;
                r->content_length = -1;
                return len;
        }
        const char *colon = memchr(buf, ':', len);
        if (!colon)
                return len;
        size_t kl = (size_t)(colon - buf);
        const char *v = colon + 1;
        const char *end = buf + len;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                end--;
        char **slot = NULL;
#define IS(name) (kl == strlen(name) && !strncasecmp(buf, name, kl))
        if (IS("content-type"))
                slot = &x->resp->content_type;
        else if (IS("docker-content-digest"))
                slot = &x->resp->docker_digest;
        else if (IS("location"))
                slot = &x->resp->location;
        else if (IS("www-authenticate"))
                slot = &x->resp->www_authenticate;
        else if (IS("content-length")) {
                _cleanup_free_ char *s = xstrndup(v, (size_t)(end - v));
                uint64_t cl;
                if (berth_parse_u64(s, &cl) == 0)
                        x->resp->content_length = (int64_t)cl;
        }
#undef IS
        if (slot && !*slot)
                *slot = xstrndup(v, (size_t)(end - v));
        return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
        struct xfer *x = ud;
        size_t len = size * n;
        struct reg_response *r = x->resp;
        if (r->len + len > x->max) {
                x->too_big = true;
                return 0;
        }
        r->body = xrealloc(r->body, r->len + len + 1);
        memcpy(r->body + r->len, buf, len);
        r->len += len;
        r->body[r->len] = 0;
        return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
        struct xfer *x = ud;
        size_t want = size * n;
        if (want > x->body_left)
                want = x->body_left;
        if (want == 0)
                return 0;
        ssize_t got = pread(x->body_fd, buf, want, x->body_off);
        if (got <= 0)
                return CURL_READFUNC_ABORT;
        x->body_off += got;
        x->body_left -= (size_t)got;
        return (size_t)got;
}

static void setup_common(struct reg_client *c, CURL *h, const char *url)
{
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
        /* a stalled registry: less than 1 byte/s for 60 s fails the transfer (retried) */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 8L);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        if (c->insecure) {
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
}

void reg_setup_download(struct reg_client *c, CURL *h, const char *url, struct curl_slist **hdrs)
{
        setup_common(c, h, url);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        /* blob storage redirects get no credentials: curl only sends a custom Authorization
         * header to the host (and port and scheme) of the original URL */
        curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
        if (c->auth)
                *hdrs = curl_slist_append(*hdrs, c->auth);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
}

static int curl_error(struct berth_error **err, CURLcode rc, const char *errbuf, const char *url)
{
        int code = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ? ECONNREFUSED
                   : rc == CURLE_OPERATION_TIMEDOUT                                ? ETIMEDOUT
                                                                                   : EIO;
        return berth_error_setx(err, code, "%s: %s", url,
                                *errbuf ? errbuf : curl_easy_strerror(rc));
}

/* one HTTP exchange, no auth handling */
static int do_request(struct reg_client *c, const char *method, const char *url,
                      const char *const *headers, const void *body, size_t body_len, int body_fd,
                      off_t body_off, size_t max_body, struct reg_response *ret,
                      struct berth_error **err)
{
        CURL *h = c->easy;
        curl_easy_reset(h);
        setup_common(c, h, url);
        struct reg_response resp = {.content_length = -1};
        struct xfer x = {.resp = &resp,
                         .max = max_body,
                         .body_fd = body_fd,
                         .body_off = body_off,
                         .body_left = body_len};
        struct curl_slist *hl = NULL;
        for (size_t i = 0; headers && headers[i]; i++)
                hl = curl_slist_append(hl, headers[i]);
        if (c->auth)
                hl = curl_slist_append(hl, c->auth);
        hl = curl_slist_append(hl, "Expect:");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        bool get = !strcmp(method, "GET");
        if (get)
                curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        if (!strcmp(method, "HEAD")) {
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (!get) {
                if (body_fd >= 0) {
                        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                        curl_easy_setopt(h, CURLOPT_READDATA, &x);
                        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
                } else {
                        curl_easy_setopt(h, CURLOPT_POST, 1L);
                        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
                        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
                }
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        CURLcode rc = curl_easy_perform(h);
        curl_slist_free_all(hl);
        if (x.too_big) {
                reg_response_release(&resp);
                return berth_error_setx(err, EFBIG, "%s %s: response larger than %zu bytes", method,
                                        url, max_body);
        }
        if (rc != CURLE_OK) {
                reg_response_release(&resp);
                return curl_error(err, rc, errbuf, url);
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
        *ret = resp;
        return 0;
}

/* GET (or POST a form to) a token endpoint; returns the token */
static int fetch_token(struct reg_client *c, const struct reg_challenge *ch, char **ret,
                       struct berth_error **err)
{
        CURL *h = curl_easy_init();
        if (!h)
                return berth_error_setx(err, ENOMEM, "curl: cannot create a handle");
        CURLU *u = curl_url();
        curl_url_set(u, CURLUPART_URL, ch->realm, 0);
        _cleanup_free_ char *form = NULL;
        if (c->creds.identitytoken) {
                /* docker's OAuth2 refresh-token flow */
                _cleanup_free_ char *t = curl_easy_escape(h, c->creds.identitytoken, 0);
                _cleanup_free_ char *svc = curl_easy_escape(h, ch->service ? ch->service : "", 0);
                _cleanup_free_ char *sc = curl_easy_escape(h, c->scope, 0);
                form = xasprintf("grant_type=refresh_token&client_id=berth&refresh_token=%s&"
                                 "service=%s&scope=%s",
                                 t, svc, sc);
        } else {
                if (ch->service) {
                        _cleanup_free_ char *q = xasprintf("service=%s", ch->service);
                        curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
                }
                _cleanup_free_ char *scopes = xstrdup(c->scope);
                char *save = NULL;
                for (char *s = strtok_r(scopes, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
                        _cleanup_free_ char *q = xasprintf("scope=%s", s);
                        curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
                }
        }
        char *url = NULL;
        curl_url_get(u, CURLUPART_URL, &url, 0);
        curl_url_cleanup(u);
        struct reg_response resp = {.content_length = -1};
        struct xfer x = {.resp = &resp, .max = MAX_TOKEN_BODY, .body_fd = -1};
        setup_common(c, h, url ? url : ch->realm);
        /* the token server may be another host: it is verified unless the registry is insecure
         * and the realm is on the same host */
        if (c->insecure && !strstr(ch->realm, c->host)) {
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        }
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        if (form) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
        } else if (c->creds.username) {
                curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
                curl_easy_setopt(h, CURLOPT_USERNAME, c->creds.username);
                curl_easy_setopt(h, CURLOPT_PASSWORD, c->creds.password ? c->creds.password : "");
        }
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        int r = 0;
        if (rc != CURLE_OK)
                r = curl_error(err, rc, errbuf, ch->realm);
        else if (status != 200)
                r = berth_error_setx(err, status == 401 || status == 403 ? EACCES : EIO,
                                     "token server `%s` answered %ld%s", ch->realm, status,
                                     status == 401 ? " (unauthorized: wrong credentials?)" : "");
        curl_free(url);
        if (r < 0) {
                reg_response_release(&resp);
                return r;
        }
        json_error_t je;
        _cleanup_json_ json_t *j = json_loadb(resp.body ? resp.body : "", resp.len, 0, &je);
        reg_response_release(&resp);
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (!tok || !*tok)
                tok = json_string_value(json_object_get(j, "access_token"));
        if (!tok || !*tok)
                return berth_error_setx(err, EIO, "token server `%s`: no token in the answer",
                                        ch->realm);
        json_int_t exp = json_integer_value(json_object_get(j, "expires_in"));
        reg_token_cache_put(c->host, c->scope, tok, (long)exp);
        *ret = xstrdup(tok);
        return 0;
}

/* answer a 401: set c->auth; EACCES when there is nothing more to try */
static int authenticate(struct reg_client *c, const char *www, bool fresh, struct berth_error **err)
{
        if (!www)
                return berth_error_setx(err, EACCES, "`%s`: unauthorized (no challenge)", c->host);
        struct reg_challenge ch = {0};
        if (reg_challenge_parse(www, &ch, err) < 0)
                return berth_error_wrap(err, "`%s`", c->host);
        int r = 0;
        if (!strcmp(ch.scheme, "basic")) {
                if (!c->creds.username) {
                        r = berth_error_setx(
                            err, EACCES, "`%s`: authentication required (no credentials)", c->host);
                } else {
                        _cleanup_free_ char *up = xasprintf(
                            "%s:%s", c->creds.username, c->creds.password ? c->creds.password : "");
                        _cleanup_free_ char *b = berth_base64_encode(up, strlen(up));
                        free(c->auth);
                        c->auth = xasprintf("Authorization: Basic %s", b);
                }
        } else if (!strcmp(ch.scheme, "bearer")) {
                char *tok = fresh ? NULL : reg_token_cache_get(c->host, c->scope);
                if (!tok && fetch_token(c, &ch, &tok, err) < 0)
                        r = berth_error_wrap(err, "authenticate to `%s`", c->host);
                if (tok) {
                        free(c->auth);
                        c->auth = xasprintf("Authorization: Bearer %s", tok);
                        free(tok);
                }
        } else {
                r = berth_error_setx(err, EACCES, "`%s`: unsupported auth scheme `%s`", c->host,
                                     ch.scheme);
        }
        reg_challenge_release(&ch);
        return r;
}

static bool is_connect_error(const struct berth_error *e)
{
        return e && (e->code == ECONNREFUSED || e->code == EIO);
}

/* settle http vs https with a first GET /v2/ when the scheme is not known yet */
static int settle_base(struct reg_client *c, struct berth_error **err)
{
        if (c->base)
                return 0;
        /* a cached bearer token for this scope saves the 401 round trip */
        if (!c->auth) {
                char *tok = reg_token_cache_get(c->host, c->scope);
                if (tok) {
                        c->auth = xasprintf("Authorization: Bearer %s", tok);
                        free(tok);
                }
        }
        c->base = xasprintf("https://%s", c->host);
        _cleanup_free_ char *url = xasprintf("%s/v2/", c->base);
        struct reg_response r = {0};
        struct berth_error *e = NULL;
        int rc = do_request(c, "GET", url, NULL, NULL, 0, -1, 0, 1 << 16, &r, &e);
        reg_response_release(&r);
        if (rc == 0)
                return 0;
        if (!c->plain_ok || !is_connect_error(e)) {
                free(c->base);
                c->base = NULL;
                if (err && !*err)
                        *err = e;
                else
                        berth_error_free(e);
                return berth_error_wrap(err, "registry `%s`", c->host);
        }
        berth_error_free(e);
        free(c->base);
        c->base = xasprintf("http://%s", c->host);
        return 0;
}

int reg_request(struct reg_client *c, const char *method, const char *url,
                const char *const *headers, const void *body, size_t body_len, int body_fd,
                size_t max_body, struct reg_response *ret, struct berth_error **err)
{
        if (settle_base(c, err) < 0)
                return -EIO;
        _cleanup_free_ char *full = url[0] == '/' ? xasprintf("%s%s", c->base, url) : xstrdup(url);
        off_t off = 0;
        if (body_fd >= 0 && (off = lseek(body_fd, 0, SEEK_CUR)) < 0)
                off = 0;
        /* GET and HEAD are idempotent: transient failures (a reset, a 5xx) are tried again */
        bool idempotent = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        int retries = 0;
        for (int attempt = 0;; attempt++) {
                struct reg_response r = {0};
                struct berth_error *e = NULL;
                int rc = do_request(c, method, full, headers, body, body_len, body_fd, off,
                                    max_body, &r, &e);
                if (idempotent && retries < REQUEST_RETRIES &&
                    ((rc < 0 && e->code != ECONNREFUSED && e->code != EFBIG) ||
                     (rc == 0 && r.status >= 500))) {
                        retries++;
                        berth_error_free(e);
                        reg_response_release(&r);
                        usleep(100000u * (unsigned)retries);
                        continue;
                }
                if (rc < 0) {
                        if (err && !*err)
                                *err = e;
                        else
                                berth_error_free(e);
                        return berth_error_wrap(err, "%s", method);
                }
                if (r.status != 401 || attempt > 0) {
                        *ret = r;
                        return 0;
                }
                /* a token that no longer works (expired, or for fewer scopes): ask again */
                bool had_auth = c->auth != NULL;
                int a = authenticate(c, r.www_authenticate, had_auth, err);
                reg_response_release(&r);
                if (a < 0)
                        return a;
        }
}

int reg_status_error(struct berth_error **err, const struct reg_response *r, const char *what)
{
        int code = r->status == 404 ? ENOENT : r->status == 401 || r->status == 403 ? EACCES : EIO;
        const char *reason = r->status == 404   ? "not found"
                             : r->status == 401 ? "unauthorized"
                             : r->status == 403 ? "denied"
                                                : "error";
        _cleanup_json_ json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
        json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
        const char *ecode = json_string_value(json_object_get(e0, "code"));
        const char *emsg = json_string_value(json_object_get(e0, "message"));
        if (ecode && emsg)
                return berth_error_setx(err, code, "%s: %ld %s: %s: %s", what, r->status, reason,
                                        ecode, emsg);
        return berth_error_setx(err, code, "%s: registry answered %ld %s", what, r->status, reason);
}
