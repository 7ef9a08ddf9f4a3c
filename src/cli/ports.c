/* Published ports on the command line, as docker's CLI handles them: -p/--publish and --expose
 * into the create body (go-connections' nat.ParsePortSpec, with its messages), the PORTS column
 * of `ps` (formatter.DisplayablePorts: consecutive ports collapsed into ranges) and `port`. */
#include <arpa/inet.h>
#include <ctype.h>

#include "cli/internal.h"

#define bad(err, ...) berth_error_setx(err, EINVAL, __VA_ARGS__)

/* ---------------------------------------------------------------- parsing */

/* strconv.ParseUint(s, 10, 16) */
static int parse_u16(const char *s, unsigned *ret)
{
        if (!*s)
                return -EINVAL;
        unsigned v = 0;
        for (const char *p = s; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                v = v * 10 + (unsigned)(*p - '0');
                if (v > 65535)
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

/* nat.ParsePortRange: "80" or "8000-9000". */
static int parse_range(const char *s, unsigned *ret_start, unsigned *ret_end)
{
        const char *dash = strchr(s, '-');
        if (!dash) {
                int r = parse_u16(s, ret_start);
                *ret_end = *ret_start;
                return r;
        }
        _cleanup_free_ char *a = xstrndup(s, (size_t)(dash - s));
        /* Go's strings.Split: "1-2-3" has a second part "2" and the rest is ignored */
        const char *b_end = strchr(dash + 1, '-');
        _cleanup_free_ char *b =
            b_end ? xstrndup(dash + 1, (size_t)(b_end - dash - 1)) : xstrdup(dash + 1);
        unsigned start, end;
        if (parse_u16(a, &start) < 0 || parse_u16(b, &end) < 0 || end < start)
                return -EINVAL;
        *ret_start = start;
        *ret_end = end;
        return 0;
}

/* nat.SplitProtoPort: "80/udp" → ("udp", "80"); "80" → ("tcp", "80"); "" → ("", ""). The
 * results point into a copy owned by the caller (*ret_buf). */
static void split_proto_port(const char *raw, char **ret_buf, const char **ret_proto,
                             const char **ret_port)
{
        char *buf = xstrdup(raw);
        *ret_buf = buf;
        char *slash = strchr(buf, '/');
        if (!*buf || slash == buf) {
                *ret_proto = *ret_port = "";
                return;
        }
        if (!slash) {
                *ret_proto = "tcp";
                *ret_port = buf;
                return;
        }
        *slash = '\0';
        char *proto = slash + 1;
        char *more = strchr(proto, '/');
        if (more)
                *more = '\0';
        *ret_proto = *proto ? proto : "tcp";
        *ret_port = buf;
}

static bool valid_ip(const char *s)
{
        unsigned char tmp[sizeof(struct in6_addr)];
        return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static void add_exposed(json_t *exposed, const char *key)
{
        if (!json_object_get(exposed, key))
                json_object_set_new(exposed, key, json_object());
}

/* docker's long syntax "published=8080,target=80,protocol=udp,mode=host" in the standard
 * notation "8080:80/udp". */
static int long_syntax(const char *spec, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(spec);
        const char *published = "", *target = "", *protocol = "tcp";
        char *save = NULL;
        for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(p, '=');
                if (!eq || eq == p)
                        return bad(err,
                                   "invalid publish opts format (should be name=value but got "
                                   "'%s')",
                                   p);
                *eq = '\0';
                if (strcmp(p, "published") == 0)
                        published = eq + 1;
                else if (strcmp(p, "target") == 0)
                        target = eq + 1;
                else if (strcmp(p, "protocol") == 0)
                        protocol = eq + 1;
        }
        *ret = xasprintf("%s:%s/%s", published, target, protocol);
        return 0;
}

int cli_parse_publish(const char *spec, json_t *exposed, json_t *bindings, struct berth_error **err)
{
        _cleanup_free_ char *std = NULL;
        if (strchr(spec, '=')) {
                int r = long_syntax(spec, &std, err);
                if (r < 0)
                        return r;
                spec = std;
        }
        /* splitParts: the last part is the container port, the one before the host port, the
         * rest the ip (which may itself hold colons) */
        _cleanup_free_ char *copy = xstrdup(spec);
        char *last = strrchr(copy, ':');
        char *cport_raw = last ? last + 1 : copy;
        char *hport = (char *)"", *ip = (char *)"";
        if (last) {
                *last = '\0';
                char *c2 = strrchr(copy, ':');
                if (c2) {
                        *c2 = '\0';
                        ip = copy;
                        hport = c2 + 1;
                } else {
                        hport = copy;
                }
        }
        _cleanup_free_ char *pbuf = NULL;
        const char *proto, *cport;
        split_proto_port(cport_raw, &pbuf, &proto, &cport);
        _cleanup_free_ char *ipbuf = NULL;
        if (ip[0] == '[') {
                /* net.SplitHostPort(ip + ":") strips the brackets of an IPv6 address */
                char *close = strchr(ip, ']');
                if (!close)
                        return bad(err,
                                   "invalid IP address %s: address %s:: missing ']' in address", ip,
                                   ip);
                if (close[1] != '\0')
                        return bad(err, "invalid IP address %s", ip);
                ipbuf = xstrndup(ip + 1, (size_t)(close - ip - 1));
                ip = ipbuf;
        }
        if (*ip && !valid_ip(ip))
                return bad(err, "invalid IP address: %s", ip);
        if (!*cport)
                return bad(err, "no port specified: %s<empty>", spec);
        unsigned start, end, hstart = 0, hend = 0;
        if (parse_range(cport, &start, &end) < 0)
                return bad(err, "invalid containerPort: %s", cport);
        if (*hport && parse_range(hport, &hstart, &hend) < 0)
                return bad(err, "invalid hostPort: %s", hport);
        if (*hport && end - start != hend - hstart && end != start)
                return bad(err, "invalid ranges specified for container and host Ports: %s and %s",
                           cport, hport);
        _cleanup_free_ char *lproto = xstrdup(proto);
        for (char *p = lproto; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        if (strcmp(lproto, "tcp") != 0 && strcmp(lproto, "udp") != 0 && strcmp(lproto, "sctp") != 0)
                return bad(err, "invalid proto: %s", proto);

        for (unsigned i = 0; i <= end - start; i++) {
                _cleanup_free_ char *key = xasprintf("%u/%s", start + i, lproto);
                _cleanup_free_ char *hp = NULL;
                if (!*hport)
                        hp = xstrdup("");
                else if (start == end && hstart != hend)
                        /* one container port, a host range: the daemon picks one in it */
                        hp = xasprintf("%u-%u", hstart, hend);
                else
                        hp = xasprintf("%u", hstart + i);
                add_exposed(exposed, key);
                json_t *arr = json_object_get(bindings, key);
                if (!arr) {
                        arr = json_array();
                        json_object_set_new(bindings, key, arr);
                }
                json_array_append_new(arr, json_pack("{s:s,s:s}", "HostIp", ip, "HostPort", hp));
        }
        return 0;
}

int cli_parse_expose(const char *spec, json_t *exposed, struct berth_error **err)
{
        if (strchr(spec, ':'))
                return bad(err, "invalid port format for --expose: %s", spec);
        _cleanup_free_ char *pbuf = NULL;
        const char *proto, *port;
        split_proto_port(spec, &pbuf, &proto, &port);
        unsigned start, end;
        if (parse_range(port, &start, &end) < 0) {
                if (!strchr(port, '-'))
                        return bad(err,
                                   "invalid range format for --expose: %s, error: "
                                   "strconv.ParseUint: parsing \"%s\": invalid syntax",
                                   spec, port);
                return bad(err, "invalid range format for --expose: %s", spec);
        }
        for (unsigned i = start; i <= end; i++) {
                _cleanup_free_ char *key = xasprintf("%u/%s", i, proto);
                add_exposed(exposed, key);
        }
        return 0;
}

int cli_create_ports(const struct cli_args *a, json_t *cfg, json_t *hc, struct berth_error **err)
{
        _cleanup_json_ json_t *exposed = json_object();
        _cleanup_json_ json_t *bindings = json_object();
        int r;
        for (char **p = cli_arg_list(a, "publish"); p && *p; p++)
                if ((r = cli_parse_publish(*p, exposed, bindings, err)) < 0)
                        return r;
        for (char **p = cli_arg_list(a, "expose"); p && *p; p++)
                if ((r = cli_parse_expose(*p, exposed, err)) < 0)
                        return r;
        if (json_object_size(exposed))
                json_object_set(cfg, "ExposedPorts", exposed);
        json_object_set(hc, "PortBindings", bindings);
        json_object_set_new(hc, "PublishAllPorts", json_boolean(cli_arg_bool(a, "publish-all")));
        return 0;
}

/* ---------------------------------------------------------------- output */

bool cli_natural_less(const char *s1, const char *s2)
{
        size_t i1 = 0, i2 = 0, l1 = strlen(s1), l2 = strlen(s2);
        while (i1 < l1 && i2 < l2) {
                bool d1 = isdigit((unsigned char)s1[i1]), d2 = isdigit((unsigned char)s2[i2]);
                if (d1 != d2)
                        return d1; /* digits before other characters */
                if (!d1) {
                        if (s1[i1] != s2[i2])
                                return (unsigned char)s1[i1] < (unsigned char)s2[i2];
                        i1++;
                        i2++;
                        continue;
                }
                while (i1 < l1 && s1[i1] == '0')
                        i1++;
                while (i2 < l2 && s2[i2] == '0')
                        i2++;
                size_t nz1 = i1, nz2 = i2;
                while (i1 < l1 && isdigit((unsigned char)s1[i1]))
                        i1++;
                while (i2 < l2 && isdigit((unsigned char)s2[i2]))
                        i2++;
                if (i1 - nz1 != i2 - nz2)
                        return i1 - nz1 < i2 - nz2;
                int c = strncmp(s1 + nz1, s2 + nz2, i1 - nz1);
                if (c != 0)
                        return c < 0;
                if (nz1 != nz2)
                        return nz1 < nz2;
        }
        return l1 < l2;
}

/* Go's net.JoinHostPort: brackets around a host holding a colon. */
static char *join_host_port(const char *host, const char *port)
{
        return strchr(host, ':') ? xasprintf("[%s]:%s", host, port)
                                 : xasprintf("%s:%s", host, port);
}

struct port_entry {
        unsigned priv, pub;
        const char *ip; /* "" when not published */
        const char *type;
};

static int port_cmp(const void *a, const void *b)
{
        const struct port_entry *x = a, *y = b;
        if (x->priv != y->priv)
                return x->priv < y->priv ? -1 : 1;
        int c = strcmp(x->ip, y->ip);
        if (c != 0)
                return c;
        if (x->pub != y->pub)
                return x->pub < y->pub ? -1 : 1;
        return strcmp(x->type, y->type);
}

struct port_group {
        char *key; /* "type" or "ip/type" */
        unsigned first, last;
};

/* formGroup: "80/tcp", "80-82/tcp", "0.0.0.0:80-82->80-82/tcp", "[::]:80->80/tcp" */
static char *form_group(const char *key, unsigned first, unsigned last)
{
        const char *slash = strchr(key, '/');
        _cleanup_free_ char *ip = slash ? xstrndup(key, (size_t)(slash - key)) : NULL;
        const char *type = slash ? slash + 1 : key;
        _cleanup_free_ char *range =
            first == last ? xasprintf("%u", first) : xasprintf("%u-%u", first, last);
        if (ip && *ip) {
                _cleanup_free_ char *hp = join_host_port(ip, range);
                return xasprintf("%s->%s/%s", hp, range, type);
        }
        return xasprintf("%s/%s", range, type);
}

static void strv_append_take(char ***v, size_t *n, char *s)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = s;
        (*v)[*n] = NULL;
}

char *cli_ports_display(json_t *ports)
{
        size_t n = json_array_size(ports);
        if (n == 0)
                return xstrdup("");
        struct port_entry *e = xcalloc(n, sizeof(*e));
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p)
        {
                const char *ip = json_string_value(json_object_get(p, "IP"));
                const char *type = json_string_value(json_object_get(p, "Type"));
                e[i] = (struct port_entry){
                    .priv = (unsigned)json_integer_value(json_object_get(p, "PrivatePort")),
                    .pub = (unsigned)json_integer_value(json_object_get(p, "PublicPort")),
                    .ip = ip ? ip : "",
                    .type = type ? type : ""};
        }
        qsort(e, n, sizeof(*e), port_cmp);

        struct port_group *groups = xcalloc(n, sizeof(*groups));
        size_t n_groups = 0, n_result = 0, n_host = 0;
        char **result = NULL, **host = NULL;
        for (i = 0; i < n; i++) {
                _cleanup_free_ char *key = NULL;
                if (*e[i].ip) {
                        if (e[i].pub != e[i].priv) {
                                char pub[8];
                                snprintf(pub, sizeof(pub), "%u", e[i].pub);
                                _cleanup_free_ char *hp = join_host_port(e[i].ip, pub);
                                strv_append_take(&host, &n_host,
                                                 xasprintf("%s->%u/%s", hp, e[i].priv, e[i].type));
                                continue;
                        }
                        key = xasprintf("%s/%s", e[i].ip, e[i].type);
                } else {
                        key = xstrdup(e[i].type);
                }
                struct port_group *g = NULL;
                for (size_t k = 0; k < n_groups && !g; k++)
                        if (strcmp(groups[k].key, key) == 0)
                                g = &groups[k];
                if (!g) {
                        groups[n_groups++] = (struct port_group){
                            .key = TAKE_PTR(key), .first = e[i].priv, .last = e[i].priv};
                        continue;
                }
                if (e[i].priv == g->last + 1) {
                        g->last = e[i].priv;
                        continue;
                }
                strv_append_take(&result, &n_result, form_group(g->key, g->first, g->last));
                g->first = g->last = e[i].priv;
        }
        for (size_t k = 0; k < n_groups; k++) {
                strv_append_take(&result, &n_result,
                                 form_group(groups[k].key, groups[k].first, groups[k].last));
                free(groups[k].key);
        }
        for (size_t k = 0; k < n_host; k++)
                strv_append_take(&result, &n_result, host[k]);
        free(host);
        free(groups);
        free(e);

        size_t len = 1;
        for (size_t k = 0; k < n_result; k++)
                len += strlen(result[k]) + 2;
        char *out = xmalloc(len);
        out[0] = '\0';
        for (size_t k = 0; k < n_result; k++) {
                if (k)
                        strcat(out, ", ");
                strcat(out, result[k]);
        }
        strv_free(result);
        return out;
}

static int natural_cmp(const void *a, const void *b)
{
        const char *x = *(const char *const *)a, *y = *(const char *const *)b;
        return cli_natural_less(x, y) ? -1 : cli_natural_less(y, x) ? 1 : 0;
}

int cmd_port(int argc, char **argv)
{
        static const struct cli_flag flags[] = {{"help", 0, CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "port", "CONTAINER [PRIVATE_PORT[/PROTO]]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 1, 2, &code) < 0)
                return code;
        _cleanup_free_ char *name = xstrdup(a.pos[0]);
        _cleanup_free_ char *want = a.pos[1] ? xstrdup(a.pos[1]) : NULL;
        cli_args_release(&a);
        _cleanup_free_ char *path = name_path("/containers/", name, "/json");
        _cleanup_json_ json_t *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &j, &e) < 0)
                return cli_fail(e, 1);
        json_t *ports = json_object_get(json_object_get(j, "NetworkSettings"), "Ports");
        _cleanup_strv_ char **out = NULL;
        size_t n = 0;
        if (want) {
                const char *slash = strchr(want, '/');
                _cleanup_free_ char *port =
                    slash ? xstrndup(want, (size_t)(slash - want)) : xstrdup(want);
                const char *proto = slash && slash[1] ? slash + 1 : "tcp";
                unsigned v;
                int r = parse_u16(port, &v);
                if (r < 0) {
                        fprintf(stderr,
                                "Error: invalid port (%s): strconv.ParseUint: parsing \"%s\": %s\n",
                                port, port, r == -ERANGE ? "value out of range" : "invalid syntax");
                        return 1;
                }
                _cleanup_free_ char *key = xasprintf("%s/%s", port, proto);
                json_t *fronts = json_object_get(ports, key);
                if (json_array_size(fronts) == 0) {
                        fprintf(stderr, "Error: No public port '%s' published for %s\n", want,
                                name);
                        return 1;
                }
                size_t i;
                json_t *f;
                json_array_foreach(fronts, i, f)
                {
                        const char *hip = json_string_value(json_object_get(f, "HostIp"));
                        const char *hport = json_string_value(json_object_get(f, "HostPort"));
                        strv_append_take(&out, &n,
                                         join_host_port(hip ? hip : "", hport ? hport : ""));
                }
        } else {
                const char *from;
                json_t *fronts;
                json_object_foreach(ports, from, fronts)
                {
                        size_t i;
                        json_t *f;
                        json_array_foreach(fronts, i, f)
                        {
                                const char *hip = json_string_value(json_object_get(f, "HostIp"));
                                const char *hport =
                                    json_string_value(json_object_get(f, "HostPort"));
                                _cleanup_free_ char *hp =
                                    join_host_port(hip ? hip : "", hport ? hport : "");
                                strv_append_take(&out, &n, xasprintf("%s -> %s", from, hp));
                        }
                }
        }
        if (n) {
                qsort(out, n, sizeof(char *), natural_cmp);
                for (size_t i = 0; i < n; i++)
                        printf("%s\n", out[i]);
        }
        return 0;
}
