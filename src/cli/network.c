/* `berth network` (create, ls, inspect, rm, connect, disconnect, prune) and the networking flags
 * of run/create (--network, --network-alias, --ip, --ip6, --link, --link-local-ip,
 * --mac-address), the way docker's CLI builds its requests at API 1.43, with its messages. */
#include <arpa/inet.h>
#include <time.h>

#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }
#define bad(err, ...) berth_error_setx(err, EINVAL, __VA_ARGS__)

/* ---------------------------------------------------------------- addresses */

struct prefix {
        int family;
        unsigned char addr[16];
        unsigned bits;
};

/* Go's net.ParseCIDR ("10.0.0.0/8", "fd00::/64"): false on anything else. */
static bool parse_cidr(const char *s, struct prefix *ret)
{
        const char *slash = strchr(s, '/');
        if (!slash || !slash[1])
                return false;
        _cleanup_free_ char *a = xstrndup(s, (size_t)(slash - s));
        struct prefix p = {0};
        if (inet_pton(AF_INET, a, p.addr) == 1)
                p.family = AF_INET;
        else if (inet_pton(AF_INET6, a, p.addr) == 1)
                p.family = AF_INET6;
        else
                return false;
        char *end = NULL;
        unsigned long bits = strtoul(slash + 1, &end, 10);
        if (*end || bits > (p.family == AF_INET ? 32u : 128u))
                return false;
        p.bits = (unsigned)bits;
        *ret = p;
        return true;
}

/* Go's net.ParseIP, as the family and bytes of a /32 or /128 prefix. */
static bool parse_ip(const char *s, struct prefix *ret)
{
        struct prefix p = {0};
        if (inet_pton(AF_INET, s, p.addr) == 1)
                p.family = AF_INET, p.bits = 32;
        else if (inet_pton(AF_INET6, s, p.addr) == 1)
                p.family = AF_INET6, p.bits = 128;
        else
                return false;
        *ret = p;
        return true;
}

static bool prefix_contains(const struct prefix *net, const struct prefix *ip)
{
        if (net->family != ip->family)
                return false;
        for (unsigned i = 0; i < net->bits; i++) {
                unsigned char m = (unsigned char)(0x80 >> (i % 8));
                if ((net->addr[i / 8] & m) != (ip->addr[i / 8] & m))
                        return false;
        }
        return true;
}

/* docker's subnetMatches(subnet, data): data (an address or a CIDR, whose address counts) in
 * subnet. EINVAL "invalid subnet: …" for a bad subnet. */
static int subnet_matches(const char *subnet, const char *data, bool *ret, struct berth_error **err)
{
        struct prefix s, d;
        if (!parse_cidr(subnet, &s))
                return bad(err, "invalid subnet: invalid CIDR address: %s", subnet);
        bool ok;
        if (strchr(data, '/')) {
                if (!parse_cidr(data, &d))
                        return bad(err, "invalid CIDR address: %s", data);
                ok = prefix_contains(&s, &d);
        } else {
                ok = parse_ip(data, &d) && prefix_contains(&s, &d);
        }
        *ret = ok;
        return 0;
}

/* docker's container.NetworkMode(n).IsUserDefined() */
static bool user_defined(const char *n)
{
        return strcmp(n, "default") != 0 && strcmp(n, "bridge") != 0 && strcmp(n, "host") != 0 &&
               strcmp(n, "none") != 0 && strncmp(n, "container:", 10) != 0;
}

/* opts.ValidateMACAddress: six colon- or dash-separated hex pairs (Go's net.ParseMAC also takes
 * the 8- and 20-byte forms, which no Ethernet link has). */
static bool valid_mac(const char *s)
{
        unsigned b[6];
        char sep1, sep2, tail;
        if (strlen(s) != 17)
                return false;
        return sscanf(s, "%2x%c%2x%*c%2x%*c%2x%*c%2x%c%2x%c", &b[0], &sep1, &b[1], &b[2], &b[3],
                      &b[4], &sep2, &b[5], &tail) == 8 &&
               (sep1 == ':' || sep1 == '-') && sep1 == sep2;
}

/* "k=v" items into an object; EINVAL with msg for an item without "=" or a key. */
static int kv_object(char **items, json_t *obj, const char *msg, struct berth_error **err)
{
        for (char **p = items; p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq || eq == *p)
                        return bad(err, "%s", msg);
                _cleanup_free_ char *k = xstrndup(*p, (size_t)(eq - *p));
                json_object_set_new(obj, k, json_string(eq + 1));
        }
        return 0;
}

static json_t *strv_json(char **v)
{
        json_t *a = json_array();
        for (; v && *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

/* ---------------------------------------------------------------- run/create */

/* docker's opts.ValidateExtraHost: "host:ip" or "host=ip" (ip maybe in brackets, or
 * "host-gateway") into the API's "host:ip". */
static int extra_host(const char *val, char **ret, struct berth_error **err)
{
        const char *sep = strchr(val, '=');
        if (!sep)
                sep = strchr(val, ':');
        if (!sep || sep == val || memchr(val, ':', (size_t)(sep - val)))
                return bad(err,
                           "invalid argument \"%s\" for \"--add-host\" flag: bad format for "
                           "add-host: \"%s\"",
                           val, val);
        _cleanup_free_ char *host = xstrndup(val, (size_t)(sep - val));
        const char *v = sep + 1;
        size_t l = strlen(v);
        _cleanup_free_ char *ip =
            l > 2 && v[0] == '[' && v[l - 1] == ']' ? xstrndup(v + 1, l - 2) : xstrdup(v);
        struct prefix x;
        if (strcmp(v, "host-gateway") != 0 && !parse_ip(ip, &x))
                return bad(err,
                           "invalid argument \"%s\" for \"--add-host\" flag: invalid IP address "
                           "in add-host: \"%s\"",
                           val, ip);
        *ret = xasprintf("%s:%s", host, ip);
        return 0;
}

/* One --network attachment (docker's opts.NetworkAttachmentOpts). */
struct attach {
        char *target;
        char **aliases, **links, **link_local, **driver_opts;
        char *ip, *ip6, *mac;
};

static void attach_release(struct attach *n)
{
        free(n->target);
        strv_free(n->aliases);
        strv_free(n->links);
        strv_free(n->link_local);
        strv_free(n->driver_opts);
        free(n->ip);
        free(n->ip6);
        free(n->mac);
}

/* "NAME" or the advanced "name=NAME,alias=A,ip=…,ip6=…,mac-address=…,link-local-ip=…,
 * driver-opt=k=v". */
static int attach_parse(const char *spec, struct attach *n, struct berth_error **err)
{
        if (!strchr(spec, '=')) {
                n->target = xstrdup(spec);
                return 0;
        }
        _cleanup_free_ char *copy = xstrdup(spec);
        char *save = NULL;
        for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(f, '=');
                if (!eq)
                        return bad(err, "invalid field %s must be a key=value pair", f);
                *eq = '\0';
                const char *v = eq + 1;
                if (strcmp(f, "name") == 0) {
                        free(n->target);
                        n->target = xstrdup(v);
                } else if (strcmp(f, "alias") == 0) {
                        strv_push(&n->aliases, v);
                } else if (strcmp(f, "ip") == 0) {
                        free(n->ip);
                        n->ip = xstrdup(v);
                } else if (strcmp(f, "ip6") == 0) {
                        free(n->ip6);
                        n->ip6 = xstrdup(v);
                } else if (strcmp(f, "mac-address") == 0) {
                        free(n->mac);
                        n->mac = xstrdup(v);
                } else if (strcmp(f, "link-local-ip") == 0) {
                        strv_push(&n->link_local, v);
                } else if (strcmp(f, "driver-opt") == 0) {
                        strv_push(&n->driver_opts, v);
                } else {
                        return bad(err, "invalid field key %s", f);
                }
        }
        return 0;
}

/* docker's applyContainerOptions: the plain flags belong to the first network. */
static int attach_apply_flags(struct attach *n, const struct cli_args *a, struct berth_error **err)
{
        char **aliases = cli_arg_list(a, "network-alias"), **links = cli_arg_list(a, "link");
        char **lls = cli_arg_list(a, "link-local-ip");
        const char *ip = cli_arg_str(a, "ip"), *ip6 = cli_arg_str(a, "ip6");
        if (n->aliases && aliases)
                return bad(err, "conflicting options: cannot specify both --network-alias and "
                                "per-network alias");
        if (n->ip && ip)
                return bad(err, "conflicting options: cannot specify both --ip and per-network "
                                "IPv4 address");
        if (n->ip6 && ip6)
                return bad(err, "conflicting options: cannot specify both --ip6 and per-network "
                                "IPv6 address");
        if (n->link_local && lls)
                return bad(err, "conflicting options: cannot specify both --link-local-ip and "
                                "per-network link-local IP addresses");
        for (char **p = aliases; p && *p; p++)
                strv_push(&n->aliases, *p);
        /* on a user-defined network --link is an endpoint option (an alias); on the default
         * bridge a legacy link (HostConfig.Links) */
        if (user_defined(n->target))
                for (char **p = links; p && *p; p++)
                        strv_push(&n->links, *p);
        if (ip)
                n->ip = xstrdup(ip);
        if (ip6)
                n->ip6 = xstrdup(ip6);
        for (char **p = lls; p && *p; p++)
                strv_push(&n->link_local, *p);
        return 0;
}

/* The EndpointSettings of an attachment; NULL when it carries nothing. */
static int attach_endpoint(const struct attach *n, json_t **ret, struct berth_error **err)
{
        if (!*n->target || strspn(n->target, " \t") == strlen(n->target))
                return bad(err, "no name set for network");
        if (!user_defined(n->target)) {
                if (n->aliases)
                        return bad(err, "network-scoped aliases are only supported for "
                                        "user-defined networks");
                if (n->links)
                        return bad(err, "links are only supported for user-defined networks");
        }
        if (n->mac)
                return bad(err, "a per-network --mac-address needs API 1.44; berth speaks 1.43: "
                                "use the plain --mac-address flag");
        _cleanup_json_ json_t *ep = json_object();
        if (n->aliases)
                json_object_set_new(ep, "Aliases", strv_json(n->aliases));
        if (n->links)
                json_object_set_new(ep, "Links", strv_json(n->links));
        if (n->driver_opts) {
                json_t *o = json_object();
                json_object_set_new(ep, "DriverOpts", o);
                int r = kv_object(n->driver_opts, o,
                                  "invalid key/value pair format in driver options", err);
                if (r < 0)
                        return r;
        }
        if (n->ip || n->ip6 || n->link_local) {
                json_t *ipam = json_object();
                if (n->ip)
                        json_object_set_new(ipam, "IPv4Address", json_string(n->ip));
                if (n->ip6)
                        json_object_set_new(ipam, "IPv6Address", json_string(n->ip6));
                if (n->link_local)
                        json_object_set_new(ipam, "LinkLocalIPs", strv_json(n->link_local));
                json_object_set_new(ep, "IPAMConfig", ipam);
        }
        *ret = json_object_size(ep) ? TAKE_PTR(ep) : NULL;
        return 0;
}

int cli_create_network(const struct cli_args *a, json_t *cfg, json_t *hc, struct berth_error **err)
{
        char **specs = cli_arg_list(a, "network");
        static char *const deflt[] = {"default", NULL};
        if (!specs)
                specs = (char **)deflt;
        size_t n = strv_length(specs);
        struct attach *at = xcalloc(n, sizeof(*at));
        _cleanup_json_ json_t *eps = json_object();
        bool user = false, nonuser = false;
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = attach_parse(specs[i], &at[i], err);
                if (r >= 0 && !at[i].target)
                        r = bad(err, "no name set for network");
                if (r >= 0 && i == 0)
                        r = attach_apply_flags(&at[i], a, err);
                if (r < 0)
                        break;
                if (user_defined(at[i].target))
                        user = true;
                else
                        nonuser = true;
                json_t *ep = NULL;
                r = attach_endpoint(&at[i], &ep, err);
                if (r < 0)
                        break;
                if (json_object_get(eps, at[i].target)) {
                        json_decref(ep);
                        r = bad(err, "network \"%s\" is specified multiple times", at[i].target);
                        break;
                }
                /* one network without options: no endpoint settings (the daemon makes them) */
                if (!ep && n > 1)
                        ep = json_object();
                if (ep)
                        json_object_set_new(eps, at[i].target, ep);
        }
        if (r >= 0 && user && nonuser)
                r = bad(err, "conflicting options: cannot attach both user-defined and "
                             "non-user-defined network-modes");
        if (r >= 0) {
                json_object_set_new(hc, "NetworkMode", json_string(at[0].target));
                if (json_object_size(eps))
                        json_object_set_new(cfg, "NetworkingConfig",
                                            json_pack("{s:O}", "EndpointsConfig", eps));
        }
        for (size_t i = 0; i < n; i++)
                attach_release(&at[i]);
        free(at);
        if (r < 0)
                return r;

        char **dns = cli_arg_list(a, "dns");
        if (dns) {
                for (char **p = dns; *p; p++) {
                        struct prefix x;
                        if (!parse_ip(*p, &x))
                                return bad(err,
                                           "invalid argument \"%s\" for \"--dns\" flag: IP address "
                                           "is not correctly formatted: %s",
                                           *p, *p);
                }
                json_object_set_new(hc, "Dns", strv_json(dns));
        }
        char **hosts = cli_arg_list(a, "add-host");
        if (hosts) {
                json_t *eh = json_array();
                json_object_set_new(hc, "ExtraHosts", eh);
                for (char **p = hosts; *p; p++) {
                        _cleanup_free_ char *h = NULL;
                        int r2 = extra_host(*p, &h, err);
                        if (r2 < 0)
                                return r2;
                        json_array_append_new(eh, json_string(h));
                }
        }
        char **links = cli_arg_list(a, "link");
        if (links)
                json_object_set_new(hc, "Links", strv_json(links));
        const char *mac = cli_arg_str(a, "mac-address");
        if (mac) {
                if (!valid_mac(mac))
                        return bad(err, "%s is not a valid mac address", mac);
                /* API 1.43: the container's MAC address (on its first network) */
                json_object_set_new(cfg, "MacAddress", json_string(mac));
        }
        return 0;
}

/* ---------------------------------------------------------------- network create */

static int ipam_config(const struct cli_args *a, json_t **ret, struct berth_error **err)
{
        char **subnets = cli_arg_list(a, "subnet"), **ranges = cli_arg_list(a, "ip-range");
        char **gws = cli_arg_list(a, "gateway"), **aux = cli_arg_list(a, "aux-address");
        size_t ns = strv_length(subnets);
        if (ns < strv_length(ranges) || ns < strv_length(gws))
                return bad(err, "every ip-range or gateway must have a corresponding subnet");
        for (char **p = ranges; p && *p; p++) {
                struct prefix x;
                if (!parse_cidr(*p, &x))
                        return bad(err,
                                   "invalid argument \"%s\" for \"--ip-range\" flag: invalid CIDR "
                                   "address: %s",
                                   *p, *p);
        }
        for (char **p = gws; p && *p; p++) {
                struct prefix x;
                if (!parse_ip(*p, &x))
                        return bad(err,
                                   "invalid argument \"%s\" for \"--gateway\" flag: invalid "
                                   "string being converted to IP address: %s",
                                   *p, *p);
        }
        _cleanup_json_ json_t *cfgs = json_array();
        for (size_t i = 0; i < ns; i++) {
                for (size_t k = 0; k < i; k++) {
                        bool m1, m2;
                        int r = subnet_matches(subnets[i], subnets[k], &m1, err);
                        if (r >= 0)
                                r = subnet_matches(subnets[k], subnets[i], &m2, err);
                        if (r < 0)
                                return r;
                        if (m1 || m2)
                                return bad(err, "multiple overlapping subnet configuration is "
                                                "not supported");
                }
                json_array_append_new(cfgs, json_pack("{s:s}", "Subnet", subnets[i]));
        }
        static const struct {
                const char *flag, *key, *what, *multi;
        } kinds[] = {{"ip-range", "IPRange", "range",
                      "cannot configure multiple ranges (%s, %s) "
                      "on the same subnet (%s)"},
                     {"gateway", "Gateway", "gateway",
                      "cannot configure multiple gateways (%s, %s) for the same subnet (%s)"}};
        for (size_t kd = 0; kd < ARRAY_SIZE(kinds); kd++) {
                for (char **p = cli_arg_list(a, kinds[kd].flag); p && *p; p++) {
                        bool match = false;
                        for (size_t i = 0; i < ns; i++) {
                                bool ok;
                                int r = subnet_matches(subnets[i], *p, &ok, err);
                                if (r < 0)
                                        return r;
                                if (!ok)
                                        continue;
                                json_t *c = json_array_get(cfgs, i);
                                const char *have =
                                    json_string_value(json_object_get(c, kinds[kd].key));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                                if (have)
                                        return bad(err, kinds[kd].multi, *p, have, subnets[i]);
#pragma GCC diagnostic pop
                                json_object_set_new(c, kinds[kd].key, json_string(*p));
                                match = true;
                        }
                        if (!match)
                                return bad(err, "no matching subnet for %s %s", kinds[kd].what, *p);
                }
        }
        for (char **p = aux; p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq)
                        return bad(err,
                                   "invalid argument \"%s\" for \"--aux-address\" flag: bad "
                                   "format for map option",
                                   *p);
                _cleanup_free_ char *key = xstrndup(*p, (size_t)(eq - *p));
                struct prefix x;
                if (!parse_ip(eq + 1, &x))
                        return bad(err, "ParseAddr(\"%s\"): unable to parse IP", eq + 1);
                bool match = false;
                for (size_t i = 0; i < ns; i++) {
                        bool ok;
                        int r = subnet_matches(subnets[i], eq + 1, &ok, err);
                        if (r < 0)
                                return r;
                        if (!ok)
                                continue;
                        json_t *c = json_array_get(cfgs, i);
                        json_t *aa = json_object_get(c, "AuxiliaryAddresses");
                        if (!aa) {
                                aa = json_object();
                                json_object_set_new(c, "AuxiliaryAddresses", aa);
                        }
                        json_object_set_new(aa, key, json_string(eq + 1));
                        match = true;
                }
                if (!match)
                        return bad(err, "no matching subnet for aux-address %s", eq + 1);
        }
        const char *drv = cli_arg_str(a, "ipam-driver");
        json_t *opts = json_object();
        int r = kv_object(cli_arg_list(a, "ipam-opt"), opts, "bad format for --ipam-opt", err);
        if (r < 0) {
                json_decref(opts);
                return r;
        }
        *ret = json_pack("{s:s,s:o,s:O}", "Driver", drv ? drv : "default", "Options", opts,
                         "Config", cfgs);
        return 0;
}

static int network_create(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"driver", 'd', CLI_STRING},
                                                {"opt", 'o', CLI_LIST},
                                                {"label", 0, CLI_LIST},
                                                {"internal", 0, CLI_BOOL},
                                                {"ipv4", 0, CLI_BOOL},
                                                {"ipv6", 0, CLI_BOOL},
                                                {"attachable", 0, CLI_BOOL},
                                                {"ingress", 0, CLI_BOOL},
                                                {"scope", 0, CLI_STRING},
                                                {"config-only", 0, CLI_BOOL},
                                                {"config-from", 0, CLI_STRING},
                                                {"ipam-driver", 0, CLI_STRING},
                                                {"ipam-opt", 0, CLI_LIST},
                                                {"subnet", 0, CLI_LIST},
                                                {"ip-range", 0, CLI_LIST},
                                                {"gateway", 0, CLI_LIST},
                                                {"aux-address", 0, CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "network create", "[OPTIONS] NETWORK", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, 1, &code) < 0)
                return code;
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *body = json_object();
        json_t *ipam = NULL;
        if (ipam_config(&a, &ipam, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        const char *drv = cli_arg_str(&a, "driver");
        const char *scope = cli_arg_str(&a, "scope");
        const char *from = cli_arg_str(&a, "config-from");
        json_object_set_new(body, "Name", json_string(a.pos[0]));
        json_object_set_new(body, "CheckDuplicate", json_true());
        json_object_set_new(body, "Driver", json_string(drv ? drv : "bridge"));
        json_object_set_new(body, "Scope", json_string(scope ? scope : ""));
        if (cli_arg_set(&a, "ipv6"))
                json_object_set_new(body, "EnableIPv6", json_boolean(cli_arg_bool(&a, "ipv6")));
        if (cli_arg_set(&a, "ipv4"))
                json_object_set_new(body, "EnableIPv4", json_boolean(cli_arg_bool(&a, "ipv4")));
        json_object_set_new(body, "IPAM", ipam);
        static const char *const bools[][2] = {{"internal", "Internal"},
                                               {"attachable", "Attachable"},
                                               {"ingress", "Ingress"},
                                               {"config-only", "ConfigOnly"}};
        for (size_t i = 0; i < ARRAY_SIZE(bools); i++)
                json_object_set_new(body, bools[i][1], json_boolean(cli_arg_bool(&a, bools[i][0])));
        json_object_set_new(body, "ConfigFrom",
                            from ? json_pack("{s:s}", "Network", from) : json_null());
        json_t *opts = json_object(), *labels = json_object();
        json_object_set_new(body, "Options", opts);
        json_object_set_new(body, "Labels", labels);
        if (kv_object(cli_arg_list(&a, "opt"), opts, "bad format for --opt", &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        for (char **p = cli_arg_list(&a, "label"); p && *p; p++) {
                const char *eq = strchr(*p, '=');
                _cleanup_free_ char *k = eq ? xstrndup(*p, (size_t)(eq - *p)) : xstrdup(*p);
                json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
        }
        cli_args_release(&a);
        _cleanup_json_ json_t *resp = NULL;
        if (cli_call("POST", "/networks/create", body, NULL, &resp, &e) < 0)
                return cli_fail(e, 1);
        printf("%s\n", json_string_value(json_object_get(resp, "Id")) ?: "");
        json_t *w = json_object_get(resp, "Warning");
        if (json_string_length(w))
                fprintf(stderr, "WARNING: %s\n", json_string_value(w));
        return 0;
}

/* ---------------------------------------------------------------- network ls */

/* Go's time.Time.String() of an RFC 3339 timestamp: "2006-01-02 15:04:05.999999999 -0700 MST"
 * (UTC for "Z", the bare offset as zone name otherwise). */
static char *go_time_string(const char *s)
{
        int64_t t;
        if (!s || fmt_parse_time(s, &t) < 0)
                return xstrdup("0001-01-01 00:00:00 +0000 UTC");
        const char *dot = strchr(s, '.');
        char frac[16] = "";
        if (dot) {
                size_t n = strspn(dot + 1, "0123456789");
                if (n > 9)
                        n = 9;
                snprintf(frac, sizeof(frac), ".%.*s", (int)n, dot + 1);
                size_t l = strlen(frac);
                while (l > 1 && frac[l - 1] == '0')
                        frac[--l] = '\0';
                if (l == 1)
                        frac[0] = '\0';
        }
        const char *z = s + strlen(s) - 1;
        int off = 0;
        char zone[16] = "UTC", offs[8] = "+0000";
        if (*z != 'Z' && strlen(s) > 6) {
                const char *o = s + strlen(s) - 6;
                if ((o[0] == '+' || o[0] == '-') && o[3] == ':') {
                        int h = atoi(o + 1), m = atoi(o + 4);
                        off = (h * 3600 + m * 60) * (o[0] == '-' ? -1 : 1);
                        snprintf(offs, sizeof(offs), "%c%.2s%.2s", o[0], o + 1, o + 4);
                        snprintf(zone, sizeof(zone), "%s", offs);
                }
        }
        time_t local = (time_t)(t + off);
        struct tm tm;
        gmtime_r(&local, &tm);
        char date[32];
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
        return xasprintf("%s%s %s %s", date, frac, offs, zone);
}

static int name_cmp(const void *a, const void *b)
{
        const char *x = json_string_value(json_object_get(*(json_t *const *)a, "Name"));
        const char *y = json_string_value(json_object_get(*(json_t *const *)b, "Name"));
        x = x ? x : "";
        y = y ? y : "";
        return cli_natural_less(x, y) ? -1 : cli_natural_less(y, x) ? 1 : 0;
}

static const char *bool_text(json_t *o, const char *key)
{
        return json_is_true(json_object_get(o, key)) ? "true" : "false";
}

static int network_ls(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"quiet", 'q', CLI_BOOL},
                                                {"no-trunc", 0, CLI_BOOL},
                                                {"format", 0, CLI_STRING},
                                                {"filter", 'f', CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "network ls", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0,
                       0, &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        query_add_filters(&q, cli_arg_list(&a, "filter"));
        _cleanup_free_ char *path = xasprintf("/networks%s", q ? q : "");
        bool quiet = cli_arg_bool(&a, "quiet"), trunc = !cli_arg_bool(&a, "no-trunc");
        const char *f = cli_arg_str(&a, "format");
        _cleanup_free_ char *format = xstrdup(f && *f ? f : "table");
        cli_args_release(&a);
        _cleanup_json_ json_t *resp = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &resp, &e) < 0)
                return cli_fail(e, 1);
        if (!json_is_array(resp)) {
                fprintf(stderr, "Error: the daemon's network list is not a JSON array\n");
                return 1;
        }
        size_t n = json_array_size(resp);
        json_t **sorted = xcalloc(n ? n : 1, sizeof(json_t *));
        for (size_t i = 0; i < n; i++)
                sorted[i] = json_array_get(resp, i);
        qsort(sorted, n, sizeof(json_t *), name_cmp);
        _cleanup_json_ json_t *rows = json_array();
        for (size_t i = 0; i < n; i++) {
                json_t *nw = sorted[i];
                const char *id = json_string_value(json_object_get(nw, "Id"));
                id = id ? id : "";
                json_t *lm = json_object_get(nw, "Labels");
                _cleanup_free_ char *labels = fmt_labels(lm);
                _cleanup_free_ char *created =
                    go_time_string(json_string_value(json_object_get(nw, "Created")));
                json_t *x = json_object();
                json_object_set_new(x, "CreatedAt", json_string(created));
                json_object_set_new(
                    x, "Driver",
                    json_string(json_string_value(json_object_get(nw, "Driver")) ?: ""));
                json_object_set_new(x, "ID",
                                    trunc ? json_stringn(id, strnlen(id, 12)) : json_string(id));
                json_object_set_new(x, "IPv4", json_string(bool_text(nw, "EnableIPv4")));
                json_object_set_new(x, "IPv6", json_string(bool_text(nw, "EnableIPv6")));
                json_object_set_new(x, "Internal", json_string(bool_text(nw, "Internal")));
                json_object_set_new(x, "Labels", json_string(labels));
                json_object_set_new(
                    x, "Name", json_string(json_string_value(json_object_get(nw, "Name")) ?: ""));
                json_object_set_new(
                    x, "Scope", json_string(json_string_value(json_object_get(nw, "Scope")) ?: ""));
                json_object_set_new(x, "Label",
                                    json_is_object(lm) ? json_deep_copy(lm) : json_object());
                json_array_append_new(rows, x);
        }
        free(sorted);
        if (strcmp(format, "table") == 0) {
                free(format);
                format = xstrdup(quiet ? "{{.ID}}"
                                       : "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}");
        } else if (strcmp(format, "raw") == 0) {
                free(format);
                format = xstrdup(quiet ? "network_id: {{.ID}}"
                                       : "network_id: {{.ID}}\nname: {{.Name}}\ndriver: "
                                         "{{.Driver}}\nscope: {{.Scope}}\n");
        }
        _cleanup_json_ json_t *h =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "NETWORK ID", "Name", "NAME",
                      "Driver", "DRIVER", "Scope", "SCOPE", "IPv4", "IPV4", "IPv6", "IPV6",
                      "Internal", "INTERNAL", "Labels", "LABELS", "CreatedAt", "CREATED AT");
        if (print_table(rows, format, h, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

/* ---------------------------------------------------------------- inspect, rm */

static int network_inspect(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"format", 'f', CLI_STRING}, {"verbose", 'v', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "network inspect", "[OPTIONS] NETWORK [NETWORK...]", flags,
                       ARRAY_SIZE(flags), argc, argv, true, 1, -1, &code) < 0)
                return code;
        bool verbose = cli_arg_bool(&a, "verbose");
        _cleanup_json_ json_t *all = json_array();
        code = 0;
        for (char **p = a.pos; *p; p++) {
                _cleanup_free_ char *path =
                    name_path("/networks/", *p, verbose ? "?verbose=1" : NULL);
                json_t *found = NULL;
                _cleanup_error_ struct berth_error *e = NULL;
                if (cli_call("GET", path, NULL, NULL, &found, &e) < 0) {
                        cli_print_error(e);
                        code = 1;
                        continue;
                }
                json_array_append_new(all, found ? found : json_object());
        }
        _cleanup_error_ struct berth_error *e = NULL;
        const char *format = cli_arg_str(&a, "format");
        if (format && *format && json_array_size(all) > 0) {
                if (print_formatted(all, format, &e) < 0) {
                        cli_args_release(&a);
                        return cli_fail(e, 1);
                }
        } else if (!format || !*format) {
                print_formatted(all, NULL, &e);
        }
        cli_args_release(&a);
        return code;
}

static int network_rm(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"force", 'f', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "network rm", "NETWORK [NETWORK...]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, -1, &code) < 0)
                return code;
        bool force = cli_arg_bool(&a, "force");
        code = 0;
        for (char **p = a.pos; *p; p++) {
                _cleanup_free_ char *path = name_path("/networks/", *p, NULL);
                _cleanup_error_ struct berth_error *e = NULL;
                if (cli_call("DELETE", path, NULL, NULL, NULL, &e) < 0) {
                        if (force && e->code == ENOENT)
                                continue;
                        cli_print_error(e);
                        code = 1;
                        continue;
                }
                printf("%s\n", *p);
        }
        cli_args_release(&a);
        return code;
}

/* ---------------------------------------------------------------- connect, disconnect */

static int network_connect(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"alias", 0, CLI_LIST},
                                                {"ip", 0, CLI_STRING},
                                                {"ip6", 0, CLI_STRING},
                                                {"link", 0, CLI_LIST},
                                                {"link-local-ip", 0, CLI_LIST},
                                                {"driver-opt", 0, CLI_LIST},
                                                {"mac-address", 0, CLI_STRING},
                                                {"gw-priority", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "network connect", "[OPTIONS] NETWORK CONTAINER", flags,
                       ARRAY_SIZE(flags), argc, argv, true, 2, 2, &code) < 0)
                return code;
        _cleanup_error_ struct berth_error *e = NULL;
        const char *mac = cli_arg_str(&a, "mac-address");
        if (mac || cli_arg_set(&a, "gw-priority")) {
                berth_error_setx(&e, EINVAL,
                                 "\"%s\" requires API version %s, but berth speaks API version "
                                 "1.43",
                                 mac ? "specify mac-address per network" : "gw-priority",
                                 mac ? "1.44" : "1.48");
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        _cleanup_json_ json_t *ep = json_object();
        json_t *ipam = json_object();
        const char *ip = cli_arg_str(&a, "ip"), *ip6 = cli_arg_str(&a, "ip6");
        if (ip)
                json_object_set_new(ipam, "IPv4Address", json_string(ip));
        if (ip6)
                json_object_set_new(ipam, "IPv6Address", json_string(ip6));
        if (cli_arg_list(&a, "link-local-ip"))
                json_object_set_new(ipam, "LinkLocalIPs",
                                    strv_json(cli_arg_list(&a, "link-local-ip")));
        json_object_set_new(ep, "IPAMConfig", ipam);
        if (cli_arg_list(&a, "link"))
                json_object_set_new(ep, "Links", strv_json(cli_arg_list(&a, "link")));
        if (cli_arg_list(&a, "alias"))
                json_object_set_new(ep, "Aliases", strv_json(cli_arg_list(&a, "alias")));
        json_t *dopts = json_object();
        json_object_set_new(ep, "DriverOpts", dopts);
        if (kv_object(cli_arg_list(&a, "driver-opt"), dopts,
                      "invalid key/value pair format in driver options", &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        _cleanup_json_ json_t *body =
            json_pack("{s:s,s:O}", "Container", a.pos[1], "EndpointConfig", ep);
        _cleanup_free_ char *path = name_path("/networks/", a.pos[0], "/connect");
        cli_args_release(&a);
        if (cli_call("POST", path, body, NULL, NULL, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

static int network_disconnect(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"force", 'f', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "network disconnect", "[OPTIONS] NETWORK CONTAINER", flags,
                       ARRAY_SIZE(flags), argc, argv, true, 2, 2, &code) < 0)
                return code;
        _cleanup_json_ json_t *body =
            json_pack("{s:s,s:b}", "Container", a.pos[1], "Force", cli_arg_bool(&a, "force"));
        _cleanup_free_ char *path = name_path("/networks/", a.pos[0], "/disconnect");
        cli_args_release(&a);
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("POST", path, body, NULL, NULL, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

/* ---------------------------------------------------------------- prune, dispatch */

static int network_prune(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"force", 'f', CLI_BOOL}, {"filter", 0, CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "network prune", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true,
                       0, 0, &code) < 0)
                return code;
        if (!cli_arg_bool(&a, "force") &&
            !cli_confirm(" all custom networks not used by at least one container.")) {
                cli_args_release(&a);
                return 0;
        }
        _cleanup_free_ char *q = NULL;
        query_add_filters(&q, cli_arg_list(&a, "filter"));
        cli_args_release(&a);
        _cleanup_free_ char *path = xasprintf("/networks/prune%s", q ? q : "");
        int64_t total = 0;
        if (cli_prune(path, "NetworksDeleted", "Deleted Networks", false, &total) < 0)
                return 1;
        return 0;
}

int cmd_network(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0) {
                printf("\nUsage:  berth network COMMAND\n\nManage networks\n\nCommands:\n"
                       "  connect     Connect a container to a network\n"
                       "  create      Create a network\n"
                       "  disconnect  Disconnect a container from a network\n"
                       "  inspect     Display detailed information on one or more networks\n"
                       "  ls          List networks\n"
                       "  prune       Remove all unused networks\n"
                       "  rm          Remove one or more networks\n");
                return argc < 2 ? 1 : 0;
        }
        static const struct {
                const char *name;
                int (*fn)(int argc, char **argv);
        } verbs[] = {{"create", network_create},   {"ls", network_ls},
                     {"list", network_ls},         {"inspect", network_inspect},
                     {"rm", network_rm},           {"remove", network_rm},
                     {"connect", network_connect}, {"disconnect", network_disconnect},
                     {"prune", network_prune}};
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "berth: 'network %s' is not a berth command.\nSee 'berth --help'\n",
                argv[1]);
        return 1;
}
