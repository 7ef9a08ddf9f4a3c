/* berthd's in-process event bus: what happened to containers, images, volumes, networks and the
 * daemon, in docker's /events shape. Internal to src/daemon.
 *
 * Publishers call events_publish() from any thread; each /events request streams from a bounded
 * ring of recent events (for `since`) and then waits for new ones. */
#ifndef BERTH_DAEMON_EVENTS_H
#define BERTH_DAEMON_EVENTS_H

#include "common/common.h"

struct daemon;
struct berth_events;

/* Number of recent events kept for `since`. */
#define EVENTS_RING_SIZE 1024

/* A new, empty event bus (d->events). */
struct berth_events *events_new(void);
/* Free the bus; wakes and ends every stream first. Accepts NULL. */
void events_free(struct berth_events *ev);

/* Publish one event. type: "container", "image", "volume", "network", "daemon"; action: docker's
 * ("create", "start", "die", "oom", "pull", "tag", "untag", "delete", "mount", …); id: the
 * object's id (image: its name or id, like docker); attributes: a JSON object of strings (e.g.
 * {"name": …, "image": …, "exitCode": "0"}), stolen, may be NULL. No-op when d->events is NULL. */
void events_publish(struct daemon *d, const char *type, const char *action, const char *id,
                    json_t *attributes);

/* Build docker's event object ({"status", "id", "from", "Type", "Action", "Actor": {"ID",
 * "Attributes"}, "scope": "local", "time", "timeNano"}); attributes stolen (NULL: {}).
 * Exposed for tests. */
json_t *events_make(const char *type, const char *action, const char *id, json_t *attributes,
                    int64_t time_nano);

/* Does event (as built by events_make) pass docker's filters ({"type": [...], "event": [...],
 * "container": [...], "image": [...], "volume": [...], "network": [...], "daemon": [...],
 * "label": ["k", "k=v"], "scope": [...]}, normalised like api_query_filters gives them)?
 * Unknown filter keys never match (the caller rejects them first with events_check_filters). */
bool events_match(json_t *event, json_t *filters);
/* EINVAL for a filter key docker's /events does not know. */
int events_check_filters(json_t *filters, struct berth_error **err);

/* Parse docker's since/until value: Unix seconds with an optional fraction ("1700000000",
 * "1700000000.5"), or an RFC 3339 time; nanoseconds since the epoch into *ret. */
int events_parse_time(const char *s, int64_t *ret, struct berth_error **err);

/* Stream matching events to out_fd as JSON lines: first those in the ring at or after since_ns
 * (-1: none of the past), then new ones as they come, until until_ns (-1: forever) passes, the
 * bus is freed, or the client goes away (out_fd's reader gone, or client_fd — the connection,
 * -1 if unknown — hung up). filters may be NULL. */
void events_stream(struct berth_events *ev, int out_fd, int client_fd, int64_t since_ns,
                   int64_t until_ns, json_t *filters);

/* Has the client gone? out_fd (a pipe or socket we write to) reports an error or hang-up, or
 * client_fd (the HTTP connection, may be -1) was closed by the peer. Does not block. */
bool events_client_gone(int out_fd, int client_fd);

/* The current time in nanoseconds since the epoch. */
int64_t events_now_ns(void);

#endif
