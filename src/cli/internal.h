/* Helpers shared by the verb files of src/cli (not part of the library surface in cli.h). */
#ifndef BERTH_CLI_INTERNAL_H
#define BERTH_CLI_INTERNAL_H

#include "cli/cli.h"

/* docker's stdout/stderr multiplexing: [stream, 0, 0, 0, size BE32] + payload. */
struct demux {
        unsigned char hdr[8];
        size_t hlen;
        uint32_t left;
        unsigned char stream;
};
void demux_init(struct demux *d);
/* Feed bytes of the stream; payloads go to out_fd (stream 0/1) or err_fd (2). -EPROTO on a bad
 * header. */
int demux_feed(struct demux *d, const char *p, size_t n, int out_fd, int err_fd);

struct pump_opts {
        bool tty;
        bool use_stdin;
        const char *resize_path; /* "/containers/ID/resize" or "/exec/ID/resize" */
        const char *proxy_id;    /* container to forward signals to, or NULL */
        const char *detach_keys; /* docker's --detach-keys ("ctrl-p,ctrl-q" when NULL), tty only */
        bool *ret_detached;      /* set when the user typed the detach keys */
};

/* docker's detach key spec ("ctrl-p,ctrl-q", "a,ctrl-@") → bytes; 0 when invalid. */
size_t parse_detach_keys(const char *spec, unsigned char *keys, size_t max);
/* Filter stdin bytes for the detach sequence: returns how many of buf (rewritten in place, at
 * most 32768 bytes in) to send; *matched carries a partial match across calls. */
size_t detach_filter(const unsigned char *keys, size_t nkeys, size_t *matched, char *buf,
                     size_t len, bool *ret_detached);

/* POST path with a JSON body (or none) asking for a connection upgrade; the connection is
 * returned after a 101 or 200 answer, ready for raw reads. */
int cli_hijack(const char *path, json_t *body, struct http_conn **ret, struct berth_error **err);
/* Copy the hijacked stream to stdout/stderr (and stdin to it) until the daemon closes it. */
int cli_pump(struct http_conn *c, const struct pump_opts *o, struct berth_error **err);

/* Parse a verb's arguments; on error or --help prints and returns the exit code to use (> 0 or
 * 0 for help) through *ret_exit and returns -1. min/max bound the positional count (max -1 for
 * no bound). */
int verb_parse(struct cli_args *a, const char *verb, const char *usage,
               const struct cli_flag *flags, size_t n_flags, int argc, char **argv,
               bool interspersed, int min, int max, int *ret_exit);

/* The flags of run and create (docker's set). */
extern const struct cli_flag cli_create_flags[];
extern const size_t cli_create_n_flags;
/* The body of POST /containers/create from parsed run/create arguments (pos[0] is the image,
 * the rest the command); EINVAL with docker's message for a bad value. Prints the port
 * publishing warning for -p. */
int cli_create_body(const struct cli_args *a, json_t **ret, struct berth_error **err);

/* The previous CPU sample of a container in a live stats view. */
struct stats_prev {
        char *id;
        double cpu, sys;
};
/* One stats table row (docker's formatting context: ID, Name, Container, CPUPerc, MemUsage,
 * MemPerc, NetIO, BlockIO, PIDs) from a stats JSON document, with docker's arithmetic: CPU % from
 * the delta to prev (or precpu_stats) × online CPUs, memory without inactive_file (v2) or
 * total_inactive_file (v1). arg is the name the user gave (NULL: the short id). */
json_t *stats_row(json_t *s, const char *arg, struct stats_prev *prev);

/* docker's units.HumanSizeWithPrecision(size, 3). */
char *fmt_human_size3(double bytes);

/* Print one JSON value per line or run a Go template (--format) over each; "json" means one
 * compact document per line, NULL/"" pretty-prints an array of all (inspect). */
int print_formatted(json_t *items, const char *format, struct berth_error **err);

/* Format items (docker's formatting-context objects) with format ("table …" adds the header row
 * from headers and aligns columns like docker's tabwriter; "json" prints each item as JSON). */
int print_table(json_t *items, const char *format, json_t *headers, struct berth_error **err);
/* GET path and copy its body to out_fd (demultiplexed when mux or when the answer's content type
 * says so); docker's error text on a status >= 400. */
int stream_get(const char *path, bool mux, int out_fd, struct berth_error **err);
/* `volume inspect` (shares inspect's code in container.c). */
int cli_volume_inspect(int argc, char **argv);

/* prefix + urlencoded(name) + suffix (suffix may be NULL): user-given names in API paths. */
char *name_path(const char *prefix, const char *name, const char *suffix);

/* Add "?" or "&" then key=urlencoded(value) to *q. */
void query_add(char **q, const char *key, const char *value);
/* method prefix+urlencoded(name)+suffix (suffix may be NULL) for each name, no body: the name
 * printed on success (or a 304), the error on stderr otherwise. 1 when any failed, else 0. */
int for_each_name(char **names, const char *method, const char *prefix, const char *suffix);
/* --filter k=v… into docker's filters object f ({"k": ["v", …]}, "k" alone gives ""). */
void filters_add(json_t *f, char **filters);
/* --filter k=v… (NULL: nothing) as docker's filters JSON, URL-encoded into *q as filters=. */
void query_add_filters(char **q, char **filters);
/* Labels {"k": "v", …} as docker's "k=v,k2=v2" (object order). malloc'd. */
char *fmt_labels(json_t *labels);

/* docker's prune prompt: "WARNING! This will remove" + the formatted text, then "Are you sure
 * you want to continue? [y/N] "; true when the answer read from stdin starts with y or Y. */
bool cli_confirm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the entries of a delete/prune answer: strings as they are, image entries as
 * "Untagged: …"/"Deleted: …" lines (lowercase when lower, as docker's image prune). */
void cli_print_deleted(json_t *list, bool lower);
/* POST a prune path; prints "title:", the entries under list_key and an empty line when there
 * are any, and adds SpaceReclaimed to *reclaimed. On failure prints the error and returns
 * -EIO. */
int cli_prune(const char *path, const char *list_key, const char *title, bool lower,
              int64_t *reclaimed);
/* "Total reclaimed space: <human size>". */
void cli_print_reclaimed(int64_t total);
/* Where save/export write: path opened for writing (ret_fd), or stdout (ret_fd -1) unless it
 * is a terminal. On failure prints docker's message ("failed to <what>: open …" or "cowardly
 * refusing …") and returns a negative errno. */
int cli_open_output(const char *path, const char *what, int *ret_fd);

/* ---------------------------------------------------------------- ports.c */

/* docker's -p/--publish (nat.ParsePortSpec, and the long "published=…,target=…" syntax): each
 * container port goes into exposed ({"80/tcp": {}}) and bindings ({"80/tcp": [{HostIp,
 * HostPort}]}); EINVAL with docker's message. */
int cli_parse_publish(const char *spec, json_t *exposed, json_t *bindings,
                      struct berth_error **err);
/* docker's --expose ("80", "80/udp", "8000-8010"). */
int cli_parse_expose(const char *spec, json_t *exposed, struct berth_error **err);
/* -p, --expose and -P of run/create into the create body (cfg.ExposedPorts,
 * HostConfig.PortBindings and PublishAllPorts). */
int cli_create_ports(const struct cli_args *a, json_t *cfg, json_t *hc, struct berth_error **err);
/* docker's PORTS column from a container summary's Ports array (formatter.DisplayablePorts). */
char *cli_ports_display(json_t *ports);
/* fvbommel/sortorder.NaturalLess (docker's sort of `port` lines and network names). */
bool cli_natural_less(const char *a, const char *b);

/* ---------------------------------------------------------------- network.c */

/* --network, --network-alias, --ip, --ip6, --link, --link-local-ip, --mac-address, --dns and
 * --add-host of run/create into the create body (HostConfig.NetworkMode, .Links, .Dns,
 * .ExtraHosts, NetworkingConfig, the API 1.43 Config.MacAddress); EINVAL with docker's message. */
int cli_create_network(const struct cli_args *a, json_t *cfg, json_t *hc, struct berth_error **err);

#endif
