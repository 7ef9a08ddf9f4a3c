/* net-rules-tool: drives src/net's packet rules, port reservation and embedded DNS server
 * without the daemon, for tests/integration/net (run inside a throwaway network namespace).
 *
 *   net-rules-tool rules [net=BRIDGE,SUBNET[,internal][,noicc][,nomasq]...]
 *                        [port=tcp|udp,HOSTIP|*,HOSTPORT,CONTAINERIP,CONTAINERPORT,BRIDGE...]
 *       (no arguments: the table is deleted)
 *   net-rules-tool reserve tcp|udp HOSTIP|* PORT
 *       prints the port, holds it until stdin reaches EOF
 *   net-rules-tool dns LISTEN-ADDR UPSTREAM,...|- [NAME=ADDR...]
 *       prints "ready", serves until stdin reaches EOF
 */
#include "net/net.h"

static int parse_proto(const char *s, int *ret, struct berth_error **err)
{
        if (strcmp(s, "tcp") == 0)
                *ret = IPPROTO_TCP;
        else if (strcmp(s, "udp") == 0)
                *ret = IPPROTO_UDP;
        else
                return berth_error_setx(err, EINVAL, "invalid protocol `%s`", s);
        return 0;
}

static int parse_port(const char *s, uint16_t *ret, struct berth_error **err)
{
        uint64_t v;
        if (berth_parse_u64(s, &v) < 0 || v > 65535)
                return berth_error_setx(err, EINVAL, "invalid port `%s`", s);
        *ret = (uint16_t)v;
        return 0;
}

static void wait_eof(void)
{
        char c;
        while (read(STDIN_FILENO, &c, 1) > 0)
                ;
}

static int cmd_rules(int argc, char **argv, struct berth_error **err)
{
        struct berth_net_rules_network nets[16];
        struct berth_net_rules_port ports[32];
        size_t nn = 0, np = 0;
        for (int i = 2; i < argc; i++) {
                char *save = NULL;
                char *f[8] = {0};
                size_t k = 0;
                char *arg = argv[i];
                bool is_net = strncmp(arg, "net=", 4) == 0, is_port = strncmp(arg, "port=", 5) == 0;
                if (!is_net && !is_port)
                        return berth_error_setx(err, EINVAL, "invalid argument `%s`", arg);
                for (char *t = strtok_r(strchr(arg, '=') + 1, ",", &save); t && k < 8;
                     t = strtok_r(NULL, ",", &save))
                        f[k++] = t;
                if (is_net) {
                        if (k < 2 || nn == ARRAY_SIZE(nets))
                                return berth_error_setx(err, EINVAL, "invalid network");
                        struct berth_net_rules_network *n = &nets[nn++];
                        *n = (struct berth_net_rules_network){
                            .bridge = f[0], .masquerade = true, .icc = true};
                        if (berth_cidr_parse(f[1], &n->subnet, err) < 0)
                                return -EINVAL;
                        for (size_t j = 2; j < k; j++) {
                                if (strcmp(f[j], "internal") == 0)
                                        n->internal = true;
                                else if (strcmp(f[j], "noicc") == 0)
                                        n->icc = false;
                                else if (strcmp(f[j], "nomasq") == 0)
                                        n->masquerade = false;
                                else
                                        return berth_error_setx(err, EINVAL, "invalid flag `%s`",
                                                                f[j]);
                        }
                        continue;
                }
                if (k != 6 || np == ARRAY_SIZE(ports))
                        return berth_error_setx(err, EINVAL, "invalid port");
                struct berth_net_rules_port *p = &ports[np++];
                *p = (struct berth_net_rules_port){.bridge = f[5]};
                if (parse_proto(f[0], &p->proto, err) < 0 ||
                    (strcmp(f[1], "*") != 0 && berth_cidr_parse(f[1], &p->host_ip, err) < 0) ||
                    parse_port(f[2], &p->host_port, err) < 0 ||
                    berth_cidr_parse(f[3], &p->container_ip, err) < 0 ||
                    parse_port(f[4], &p->container_port, err) < 0)
                        return -EINVAL;
        }
        return berth_net_rules_apply(nets, nn, ports, np, err);
}

static int cmd_reserve(int argc, char **argv, struct berth_error **err)
{
        if (argc != 5)
                return berth_error_setx(err, EINVAL, "usage: reserve tcp|udp HOSTIP|* PORT");
        int proto = 0;
        struct berth_cidr ip = {0};
        uint16_t port = 0, got = 0;
        if (parse_proto(argv[2], &proto, err) < 0 ||
            (strcmp(argv[3], "*") != 0 && berth_cidr_parse(argv[3], &ip, err) < 0) ||
            parse_port(argv[4], &port, err) < 0)
                return -EINVAL;
        _cleanup_close_ int fd = -1;
        int r = berth_net_port_reserve(proto, &ip, port, &got, &fd, err);
        if (r < 0)
                return r;
        printf("%u\n", got);
        fflush(stdout);
        wait_eof();
        return 0;
}

static int cmd_dns(int argc, char **argv, struct berth_error **err)
{
        if (argc < 4)
                return berth_error_setx(err, EINVAL, "usage: dns LISTEN UPSTREAM,...|- [N=A...]");
        struct berth_cidr listen_addr;
        if (berth_cidr_parse(argv[2], &listen_addr, err) < 0)
                return -EINVAL;
        _cleanup_strv_ char **up = NULL;
        if (strcmp(argv[3], "-") != 0) {
                _cleanup_free_ char *list = xstrdup(argv[3]);
                char *save = NULL;
                for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        strv_push(&up, t);
        }
        size_t n = (size_t)(argc - 4);
        _cleanup_free_ struct berth_dns_record *recs = xcalloc(n + 1, sizeof(*recs));
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(argv[4 + i], '=');
                if (!eq)
                        return berth_error_setx(err, EINVAL, "invalid record `%s`", argv[4 + i]);
                *eq = '\0';
                recs[i].name = argv[4 + i];
                if (berth_cidr_parse(eq + 1, &recs[i].address, err) < 0)
                        return -EINVAL;
        }
        struct berth_dns *d = NULL;
        int r = berth_dns_start(&listen_addr, up, &d, err);
        if (r < 0)
                return r;
        berth_dns_set_records(d, recs, n);
        printf("ready\n");
        fflush(stdout);
        wait_eof();
        berth_dns_stop(d);
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_error_ struct berth_error *err = NULL;
        int r = -EINVAL;
        if (argc >= 2 && strcmp(argv[1], "rules") == 0)
                r = cmd_rules(argc, argv, &err);
        else if (argc >= 2 && strcmp(argv[1], "reserve") == 0)
                r = cmd_reserve(argc, argv, &err);
        else if (argc >= 2 && strcmp(argv[1], "dns") == 0)
                r = cmd_dns(argc, argv, &err);
        else
                berth_error_setx(&err, EINVAL, "usage: see the comment at the top of this file");
        if (r < 0) {
                fprintf(stderr, "net-rules-tool: %s\n", err ? err->msg : "unknown error");
                return 1;
        }
        return 0;
}
