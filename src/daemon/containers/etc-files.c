/* /etc/hosts, /etc/hostname and /etc/resolv.conf of a container, and its init layer. */
#include "daemon/containers/etc-files.h"
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"

#include <arpa/inet.h>
#include <sys/stat.h>

void etc_hosts_entries_free(struct etc_hosts_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].ip);
                free(v[i].names);
        }
        free(v);
}

static bool ip_valid(const char *s)
{
        unsigned char buf[sizeof(struct in6_addr)];
        /* docker accepts "[::1]" too (net.ParseIP after trimming the brackets) */
        return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int etc_hosts_parse_extra(const json_t *extra_hosts, const char *host_gateway,
                          struct etc_hosts_entry **ret, size_t *ret_n, struct berth_error **err)
{
        struct etc_hosts_entry *v = NULL;
        size_t n = 0, i;
        json_t *e;

        if (extra_hosts && !json_is_null(extra_hosts) && !json_is_array(extra_hosts))
                return berth_error_setx(err, EINVAL, "HostConfig.ExtraHosts: expected an array");
        v = xcalloc(json_array_size(extra_hosts) + 1, sizeof(*v));
        json_array_foreach(extra_hosts, i, e)
        {
                const char *s = json_string_value(e);
                /* "name:ip" splits at the first colon (an IPv6 address has more); newer
                 * clients send "name=ip" */
                const char *sep = s ? strpbrk(s, "=:") : NULL;
                _cleanup_free_ char *ip = NULL;
                if (!s || !sep || sep == s || !sep[1]) {
                        etc_hosts_entries_free(v, n);
                        return berth_error_setx(err, EINVAL, "bad format for add-host: \"%s\"",
                                                s ? s : "");
                }
                ip = xstrdup(sep + 1);
                if (ip[0] == '[' && ip[strlen(ip) - 1] == ']') {
                        memmove(ip, ip + 1, strlen(ip) - 2);
                        ip[strlen(ip) - 2] = '\0';
                }
                if (strcmp(ip, "host-gateway") == 0 && host_gateway) {
                        /* dockerd's host-gateway-ip: the default bridge's address */
                        free(ip);
                        ip = xstrdup(host_gateway);
                } else if (strcmp(ip, "host-gateway") == 0) {
                        etc_hosts_entries_free(v, n);
                        return berth_error_setx(err, EINVAL,
                                                "add-host \"%s\": host-gateway is not supported "
                                                "without the default bridge network (berthd -b "
                                                "none, or bridges unavailable)",
                                                s);
                }
                if (!ip_valid(ip)) {
                        etc_hosts_entries_free(v, n);
                        return berth_error_setx(err, EINVAL,
                                                "invalid IP address in add-host: \"%s\"", sep + 1);
                }
                v[n].names = xstrndup(s, (size_t)(sep - s));
                v[n++].ip = TAKE_PTR(ip);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

char *etc_hosts_render(const struct etc_hosts_entry *extra, size_t n_extra,
                       const struct etc_hosts_entry *own, size_t n_own)
{
        char *text = NULL;
        size_t cap = 0;
        FILE *f = open_memstream(&text, &cap);

        if (!f)
                abort();
        /* libnetwork's etchosts.Build: the default block, then extra records, then the
         * container's own line(s) */
        fputs("127.0.0.1\tlocalhost\n"
              "::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\n"
              "ff00::0\tip6-mcastprefix\n"
              "ff02::1\tip6-allnodes\n"
              "ff02::2\tip6-allrouters\n",
              f);
        for (size_t i = 0; i < n_extra; i++)
                fprintf(f, "%s\t%s\n", extra[i].ip, extra[i].names);
        for (size_t i = 0; i < n_own; i++)
                fprintf(f, "%s\t%s\n", own[i].ip, own[i].names);
        fclose(f);
        return text;
}

static int write_file(const char *dir, const char *name, const char *data, struct berth_error **err)
{
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (dfd < 0)
                return berth_error_set(err, errno, "open `%s`", dir);
        return berth_write_atomic_at(dfd, name, data, strlen(data), err);
}

/* The host's resolv.conf; a loopback resolver of the host is unreachable from a private network
 * namespace (docker filters it the same way), and no nameserver left means Google's. */
static char *resolv_conf(bool host_net)
{
        _cleanup_free_ char *host_resolv = NULL;
        char *resolv = NULL;
        bool have_ns = false;
        size_t cap = 0;
        FILE *f;

        berth_read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &host_resolv, NULL, NULL);
        f = open_memstream(&resolv, &cap);
        if (!f)
                abort();
        for (char *line = host_resolv, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strncmp(line, "nameserver", 10) == 0) {
                        const char *a = line + 10 + strspn(line + 10, " \t");
                        if (!host_net && (strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0))
                                continue;
                        have_ns = true;
                }
                fprintf(f, "%s\n", line);
        }
        if (!have_ns)
                fputs("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", f);
        fclose(f);
        return resolv;
}

int etc_files_write(struct container *c, const char *hostname, bool host_net,
                    const struct etc_hosts_entry *own, size_t n_own, const char *resolv_text,
                    const char *host_gateway, struct berth_error **err)
{
        _cleanup_free_ char *hosts = NULL, *resolv = NULL, *hn = xasprintf("%s\n", hostname);
        struct etc_hosts_entry *extra = NULL;
        size_t n_extra = 0;
        int r;

        r = etc_hosts_parse_extra(container_host_cfg(c, "ExtraHosts"), host_gateway, &extra,
                                  &n_extra, err);
        if (r < 0)
                return r;
        /* host networking shares the host's names, unless extra hosts are asked: then docker
         * builds the file as for any container */
        if (host_net && n_extra == 0)
                berth_read_file_at(AT_FDCWD, "/etc/hosts", 1 << 20, &hosts, NULL, NULL);
        if (!hosts)
                hosts = etc_hosts_render(extra, n_extra, own, n_own);
        etc_hosts_entries_free(extra, n_extra);
        r = write_file(c->dir, "hosts", hosts, err);
        if (r < 0)
                return r;
        r = write_file(c->dir, "hostname", hn, err);
        if (r < 0)
                return r;
        if (resolv_text)
                return write_file(c->dir, "resolv.conf", resolv_text, err);
        resolv = resolv_conf(host_net);
        return write_file(c->dir, "resolv.conf", resolv, err);
}

int etc_files_init_layer(struct container *c, char **ret_dir, struct berth_error **err)
{
        /* moby's setupInitLayer: the mount points of the generated files and of the pseudo file
         * systems, and /etc/mtab, whatever the image has there */
        static const struct {
                const char *dir, *name;
                mode_t type;
                const char *target;
        } entries[] = {
            {"etc", "resolv.conf", S_IFREG, NULL}, {"etc", "hosts", S_IFREG, NULL},
            {"etc", "hostname", S_IFREG, NULL},    {"etc", "mtab", S_IFLNK, "/proc/mounts"},
            {"dev", "pts", S_IFDIR, NULL},         {"dev", "shm", S_IFDIR, NULL},
            {"dev", "console", S_IFREG, NULL},     {".", "proc", S_IFDIR, NULL},
            {".", "sys", S_IFDIR, NULL},           {".", ".dockerenv", S_IFREG, NULL},
        };
        _cleanup_free_ char *dir = xasprintf("%s/init", c->dir);
        _cleanup_close_ int dfd = -1;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "create `%s`", dir);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "open `%s`", dir);
        for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
                _cleanup_close_ int parent = -1;
                int r = 0;
                if (strcmp(entries[i].dir, ".") && mkdirat(dfd, entries[i].dir, 0755) < 0 &&
                    errno != EEXIST)
                        return berth_error_set(err, errno, "create `%s/%s`", dir, entries[i].dir);
                parent =
                    openat(dfd, entries[i].dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (parent < 0)
                        return berth_error_set(err, errno, "open `%s/%s`", dir, entries[i].dir);
                if (entries[i].type == S_IFDIR)
                        r = mkdirat(parent, entries[i].name, 0755);
                else if (entries[i].type == S_IFLNK)
                        r = symlinkat(entries[i].target, parent, entries[i].name);
                else
                        r = mknodat(parent, entries[i].name, S_IFREG | 0755, 0);
                if (r < 0 && errno != EEXIST)
                        return berth_error_set(err, errno, "create `%s/%s/%s`", dir, entries[i].dir,
                                               entries[i].name);
        }
        *ret_dir = TAKE_PTR(dir);
        return 0;
}
