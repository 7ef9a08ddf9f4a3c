/* libFuzzer target: bytes → the embedded DNS server's query handling (src/net/dns.c compiled in
 * for coverage): berth_dns_parse_query(), then the whole reply path of a server with a record
 * table and no upstream (local answers for A/AAAA/PTR, FORMERR, NOTIMP, SERVFAIL), over UDP and
 * TCP size limits. Nothing may crash, leak, hang or write past a reply; every reply must be a
 * response to the query's id. */
#include "net/dns.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct berth_dns *fuzz_server(void)
{
        static struct berth_dns *d;
        if (d)
                return d;
        d = xcalloc(1, sizeof(*d));
        d->udp_fd = d->tcp_fd = d->stop_pipe[0] = d->stop_pipe[1] = -1;
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->idle, NULL);
        struct berth_dns_record recs[5] = {{.name = "web"},
                                           {.name = "Web.Net."},
                                           {.name = "db"},
                                           {.name = "a.b.c"},
                                           {.name = "web"}};
        berth_cidr_parse("172.18.0.2", &recs[0].address, NULL);
        berth_cidr_parse("172.18.0.3", &recs[1].address, NULL);
        berth_cidr_parse("fd00::3", &recs[2].address, NULL);
        berth_cidr_parse("10.0.0.1", &recs[3].address, NULL);
        berth_cidr_parse("fd00::2", &recs[4].address, NULL);
        berth_dns_set_records(d, recs, ARRAY_SIZE(recs));
        return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char name[DNS_MAX_NAME + 1];
        uint16_t type;
        struct berth_error *err = NULL;
        if (berth_dns_parse_query(data, size, name, sizeof(name), &type, &err) < 0) {
                if (!err || err->code != EBADMSG)
                        __builtin_trap();
                berth_error_free(err);
        } else if (strlen(name) > DNS_MAX_NAME) {
                __builtin_trap();
        }
        if (size > DNS_MAX_MSG)
                return 0;
        struct berth_dns *d = fuzz_server();
        uint8_t *out = xmalloc(DNS_MAX_MSG);
        struct sockaddr_storage peer = {0}; /* no client of its own: the server's upstreams */
        for (int tcp = 0; tcp < 2; tcp++) {
                size_t n = handle_query(d, &peer, data, size, tcp, out, DNS_MAX_MSG);
                if (n == 0)
                        continue;
                if (n < DNS_HDR || n > (tcp ? DNS_MAX_MSG : DNS_MAX_UDP) || out[0] != data[0] ||
                    out[1] != data[1] || !(out[2] & 0x80))
                        __builtin_trap();
        }
        free(out);
        return 0;
}
