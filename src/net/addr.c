/* Addresses and IPAM: CIDR parsing/formatting/comparison and the pure allocation functions the
 * daemon uses (docker's default pools, round-robin host addresses, docker's MACs). */
#include "net/net.h"
#include "net/nl.h"

#include <arpa/inet.h>

typedef unsigned __int128 u128;

static unsigned cidr_bits(int family)
{
        return family == AF_INET ? 32 : 128;
}

/* The address as a number (IPv4 in the low 32 bits). */
static u128 cidr_to_u128(const struct berth_cidr *c)
{
        if (c->family == AF_INET)
                return ntohl(c->addr.v4.s_addr);
        u128 v = 0;
        for (size_t i = 0; i < 16; i++)
                v = (v << 8) | c->addr.v6.s6_addr[i];
        return v;
}

static void cidr_from_u128(int family, u128 v, unsigned prefix, struct berth_cidr *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->family = family;
        ret->prefix = prefix;
        if (family == AF_INET) {
                ret->addr.v4.s_addr = htonl((uint32_t)v);
                return;
        }
        for (size_t i = 16; i-- > 0;) {
                ret->addr.v6.s6_addr[i] = (uint8_t)(v & 0xff);
                v >>= 8;
        }
}

/* The mask of the first prefix bits of a family's address, as a number. */
static u128 prefix_mask(int family, unsigned prefix)
{
        unsigned bits = cidr_bits(family);
        if (prefix == 0)
                return 0;
        u128 all = bits == 128 ? ~(u128)0 : (((u128)1 << bits) - 1);
        return all & ~((((u128)1) << (bits - prefix)) - 1);
}

int berth_cidr_parse(const char *s, struct berth_cidr *ret, struct berth_error **err)
{
        if (!s || !*s)
                return berth_error_setx(err, EINVAL, "invalid address ``: empty");
        const char *slash = strchr(s, '/');
        size_t alen = slash ? (size_t)(slash - s) : strlen(s);
        char text[INET6_ADDRSTRLEN];
        if (alen == 0 || alen >= sizeof(text))
                return berth_error_setx(err, EINVAL, "invalid address `%s`", s);
        memcpy(text, s, alen);
        text[alen] = '\0';

        struct berth_cidr c = {0};
        if (inet_pton(AF_INET, text, &c.addr.v4) == 1)
                c.family = AF_INET;
        else if (inet_pton(AF_INET6, text, &c.addr.v6) == 1)
                c.family = AF_INET6;
        else
                return berth_error_setx(err, EINVAL, "invalid address `%s`", s);

        c.prefix = cidr_bits(c.family);
        if (slash) {
                const char *p = slash + 1;
                size_t plen = strlen(p);
                /* digits only: no sign, no spaces, no hex; at most three of them */
                if (plen == 0 || plen > 3 || strspn(p, "0123456789") != plen)
                        return berth_error_setx(err, EINVAL, "invalid prefix length in `%s`", s);
                unsigned v = (unsigned)strtoul(p, NULL, 10);
                if (v > cidr_bits(c.family))
                        return berth_error_setx(err, EINVAL, "invalid prefix length in `%s`", s);
                c.prefix = v;
        }
        *ret = c;
        return 0;
}

const char *berth_cidr_format(const struct berth_cidr *c, bool with_prefix, char *buf, size_t size)
{
        char text[INET6_ADDRSTRLEN] = "";
        if (c->family == AF_INET || c->family == AF_INET6)
                inet_ntop(c->family, &c->addr, text, sizeof(text));
        else
                snprintf(text, sizeof(text), "<none>");
        if (with_prefix && (c->family == AF_INET || c->family == AF_INET6))
                snprintf(buf, size, "%s/%u", text, c->prefix);
        else
                snprintf(buf, size, "%s", text);
        return buf;
}

bool berth_cidr_contains(const struct berth_cidr *subnet, const struct berth_cidr *addr)
{
        if (subnet->family != addr->family ||
            (subnet->family != AF_INET && subnet->family != AF_INET6))
                return false;
        u128 m = prefix_mask(subnet->family, subnet->prefix);
        return (cidr_to_u128(subnet) & m) == (cidr_to_u128(addr) & m);
}

bool berth_cidr_overlaps(const struct berth_cidr *a, const struct berth_cidr *b)
{
        if (a->family != b->family || (a->family != AF_INET && a->family != AF_INET6))
                return false;
        unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;
        u128 m = prefix_mask(a->family, p);
        return (cidr_to_u128(a) & m) == (cidr_to_u128(b) & m);
}

/* ---------------------------------------------------------------- IPAM */

int net_ipam_pick_subnet_from(const struct berth_cidr *used, size_t n,
                              const struct berth_cidr *routes, size_t n_routes,
                              struct berth_cidr *ret, struct berth_error **err)
{
        /* docker's default-address-pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut in /20s */
        for (unsigned i = 0; i < 15 + 16; i++) {
                struct berth_cidr cand;
                if (i < 15)
                        cidr_from_u128(AF_INET, ((u128)172 << 24) | ((u128)(17 + i) << 16), 16,
                                       &cand);
                else
                        cidr_from_u128(AF_INET, ((u128)192 << 24) | (168 << 16) | ((i - 15) << 12),
                                       20, &cand);
                bool taken = false;
                for (size_t j = 0; j < n && !taken; j++)
                        taken = berth_cidr_overlaps(&cand, &used[j]);
                for (size_t j = 0; j < n_routes && !taken; j++)
                        taken = berth_cidr_overlaps(&cand, &routes[j]);
                if (!taken) {
                        *ret = cand;
                        return 0;
                }
        }
        return berth_error_setx(err, ENOSPC,
                                "all predefined address pools have been fully subnetted");
}

int berth_ipam_pick_subnet(const struct berth_cidr *used, size_t n, struct berth_cidr *ret,
                           struct berth_error **err)
{
        _cleanup_free_ struct berth_cidr *routes = NULL;
        size_t n_routes = 0;
        int r = net_routes(AF_INET, &routes, &n_routes, err);
        if (r < 0)
                return NET_WRAP(r, err, "read the host's routes");
        return net_ipam_pick_subnet_from(used, n, routes, n_routes, ret, err);
}

int berth_ipam_pool_parse(const char *s, struct berth_ipam_pool *ret, struct berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(s ? s : "");
        struct berth_ipam_pool p = {0};
        bool have_base = false, have_size = false;
        char *save = NULL;

        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                if (strncmp(kv, "base=", 5) == 0 && !have_base) {
                        if (berth_cidr_parse(kv + 5, &p.base, NULL) < 0 || !strchr(kv + 5, '/'))
                                return berth_error_setx(
                                    err, EINVAL, "address pool `%s`: invalid base `%s`", s, kv + 5);
                        have_base = true;
                } else if (strncmp(kv, "size=", 5) == 0 && !have_size) {
                        const char *v = kv + 5;
                        if (!*v || strlen(v) > 3 || strspn(v, "0123456789") != strlen(v))
                                return berth_error_setx(
                                    err, EINVAL, "address pool `%s`: invalid size `%s`", s, v);
                        p.size = (unsigned)strtoul(v, NULL, 10);
                        have_size = true;
                } else {
                        return berth_error_setx(err, EINVAL,
                                                "address pool `%s`: unexpected `%s` (expected "
                                                "base=CIDR,size=N)",
                                                s, kv);
                }
        }
        if (!have_base || !have_size)
                return berth_error_setx(err, EINVAL,
                                        "address pool `%s`: base=CIDR and size=N are needed", s);
        if ((cidr_to_u128(&p.base) & ~prefix_mask(p.base.family, p.base.prefix)) != 0)
                return berth_error_setx(err, EINVAL,
                                        "address pool `%s`: the base has host bits set", s);
        if (p.size < p.base.prefix || p.size > cidr_bits(p.base.family))
                return berth_error_setx(err, EINVAL,
                                        "address pool `%s`: size %u is not between the base's "
                                        "prefix /%u and /%u",
                                        s, p.size, p.base.prefix, cidr_bits(p.base.family));
        *ret = p;
        return 0;
}

/* The first address after the subnet c (0 when c ends the address space). */
static u128 cidr_after(const struct berth_cidr *c)
{
        unsigned host = cidr_bits(c->family) - c->prefix;
        u128 start = cidr_to_u128(c) & prefix_mask(c->family, c->prefix);
        if (host >= 128)
                return 0;
        return start + ((u128)1 << host);
}

int net_ipam_pick_pool_from(const struct berth_ipam_pool *pools, size_t n_pools,
                            const struct berth_cidr *used, size_t n,
                            const struct berth_cidr *routes, size_t n_routes,
                            struct berth_cidr *ret, struct berth_error **err)
{
        for (size_t i = 0; i < n_pools; i++) {
                const struct berth_ipam_pool *p = &pools[i];
                int family = p->base.family;
                unsigned bits = cidr_bits(family);
                if (p->size < p->base.prefix || p->size > bits)
                        continue;
                u128 end = cidr_after(&p->base); /* 0: the pool ends the address space */
                u128 step = p->size >= 128 ? 1 : (u128)1 << (bits - p->size);
                u128 cur = cidr_to_u128(&p->base) & prefix_mask(family, p->base.prefix);
                /* each candidate that overlaps a taken subnet skips past it: at most one step
                 * per taken subnet, however large the pool */
                for (;;) {
                        struct berth_cidr cand;
                        const struct berth_cidr *hit = NULL;
                        cidr_from_u128(family, cur, p->size, &cand);
                        for (size_t j = 0; j < n && !hit; j++)
                                if (berth_cidr_overlaps(&cand, &used[j]))
                                        hit = &used[j];
                        for (size_t j = 0; j < n_routes && !hit; j++)
                                if (berth_cidr_overlaps(&cand, &routes[j]))
                                        hit = &routes[j];
                        if (!hit) {
                                *ret = cand;
                                return 0;
                        }
                        u128 next = cur + step;
                        if (hit->prefix < p->size) {
                                /* the taken subnet is larger: past its end, on a step */
                                next = cidr_after(hit);
                                if (next == 0)
                                        break;
                        }
                        if (next <= cur || (end != 0 && next >= end) ||
                            (family == AF_INET && next > 0xffffffffu))
                                break;
                        cur = next;
                }
        }
        return berth_error_setx(err, ENOSPC,
                                "all predefined address pools have been fully subnetted");
}

int berth_ipam_pick_pool(int family, const struct berth_ipam_pool *pools, size_t n_pools,
                         const struct berth_cidr *used, size_t n, struct berth_cidr *ret,
                         struct berth_error **err)
{
        _cleanup_free_ struct berth_cidr *routes = NULL;
        _cleanup_free_ struct berth_ipam_pool *mine = xcalloc(n_pools + 1, sizeof(*mine));
        size_t n_routes = 0, n_mine = 0;
        for (size_t i = 0; i < n_pools; i++)
                if (pools[i].base.family == family)
                        mine[n_mine++] = pools[i];
        int r = net_routes(family, &routes, &n_routes, err);
        if (r < 0)
                return NET_WRAP(r, err, "read the host's routes");
        return net_ipam_pick_pool_from(mine, n_mine, used, n, routes, n_routes, ret, err);
}

void berth_ipam_ula_pool(const uint8_t digest[32], struct berth_ipam_pool *ret)
{
        /* fd, then the 40 low bits of the digest's first 64 (its bytes 3..7), then zeros */
        memset(ret, 0, sizeof(*ret));
        ret->base.family = AF_INET6;
        ret->base.prefix = 48;
        ret->base.addr.v6.s6_addr[0] = 0xfd;
        memcpy(&ret->base.addr.v6.s6_addr[1], digest + 3, 5);
        ret->size = 64;
}

void berth_ipam_gateway(const struct berth_cidr *subnet, struct berth_cidr *ret)
{
        u128 net = cidr_to_u128(subnet) & prefix_mask(subnet->family, subnet->prefix);
        cidr_from_u128(subnet->family, net + 1, subnet->prefix, ret);
}

static int u128_cmp(const void *a, const void *b)
{
        u128 x = *(const u128 *)a, y = *(const u128 *)b;
        return x < y ? -1 : x > y;
}

int berth_ipam_next(const struct berth_cidr *subnet, const struct berth_cidr *gateway,
                    const struct berth_cidr *used, size_t n, const struct berth_cidr *after,
                    struct berth_cidr *ret, struct berth_error **err)
{
        int family = subnet->family;
        if (family != AF_INET && family != AF_INET6)
                return berth_error_setx(err, EINVAL, "invalid subnet: no address family");
        unsigned bits = cidr_bits(family);
        unsigned host_bits = bits - subnet->prefix;
        u128 first = (cidr_to_u128(subnet) & prefix_mask(family, subnet->prefix)) + 1;
        /* hosts: everything but the network address (and the broadcast address in IPv4) */
        u128 count;
        if (host_bits >= 127)
                count = ~(u128)0 >> 1;
        else
                count = ((u128)1 << host_bits) - (family == AF_INET ? 2 : 1);
        if (host_bits < 2 && family == AF_INET)
                count = 0;
        if (host_bits == 0)
                count = 0;

        /* the addresses to skip, sorted, for a binary search per candidate */
        _cleanup_free_ u128 *taken = xcalloc(n + 1, sizeof(*taken));
        size_t n_taken = 0;
        for (size_t i = 0; i < n; i++)
                if (berth_cidr_contains(subnet, &used[i]))
                        taken[n_taken++] = cidr_to_u128(&used[i]);
        if (gateway && berth_cidr_contains(subnet, gateway))
                taken[n_taken++] = cidr_to_u128(gateway);
        qsort(taken, n_taken, sizeof(*taken), u128_cmp);

        u128 start = 0;
        if (after && berth_cidr_contains(subnet, after)) {
                u128 a = cidr_to_u128(after);
                if (a >= first && a - first < count)
                        start = (a - first + 1) % count;
        }
        /* each skipped candidate is a distinct taken address, so n_taken + 1 tries find a free
         * one whenever the subnet has one */
        u128 tries = count < (u128)n_taken + 1 ? count : (u128)n_taken + 1;
        for (u128 i = 0; i < tries; i++) {
                u128 cand = first + (start + i) % count;
                if (bsearch(&cand, taken, n_taken, sizeof(*taken), u128_cmp))
                        continue;
                cidr_from_u128(family, cand, subnet->prefix, ret);
                return 0;
        }
        return berth_error_setx(err, ENOSPC,
                                "no available %s addresses on this network's address pools",
                                family == AF_INET ? "IPv4" : "IPv6");
}

void berth_ipam_mac(const struct berth_cidr *addr, uint8_t ret_mac[6])
{
        ret_mac[0] = 0x02;
        ret_mac[1] = 0x42;
        const uint8_t *b = addr->family == AF_INET6 ? addr->addr.v6.s6_addr + 12
                                                    : (const uint8_t *)&addr->addr.v4.s_addr;
        memcpy(ret_mac + 2, b, 4);
}
