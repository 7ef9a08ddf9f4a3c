/* The event bus: a bounded ring of recent events guarded by one mutex; streams wait on a
 * condition variable and write JSON lines to their reply fd. */
#include "daemon/state/events.h"
#include "daemon/daemon.h"

#include <poll.h>
#include <pthread.h>
#include <time.h>

struct berth_events {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        json_t *ring[EVENTS_RING_SIZE];
        uint64_t next_seq; /* sequence number of the next event; ring[seq % SIZE] */
        bool closing;
        unsigned streams; /* streams still running (events_free waits for them) */
};

int64_t events_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct berth_events *events_new(void)
{
        struct berth_events *ev = xcalloc(1, sizeof(*ev));
        pthread_mutex_init(&ev->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&ev->cond, &ca);
        pthread_condattr_destroy(&ca);
        return ev;
}

void events_free(struct berth_events *ev)
{
        if (!ev)
                return;
        pthread_mutex_lock(&ev->lock);
        ev->closing = true;
        pthread_cond_broadcast(&ev->cond);
        while (ev->streams > 0)
                pthread_cond_wait(&ev->cond, &ev->lock);
        pthread_mutex_unlock(&ev->lock);
        for (size_t i = 0; i < EVENTS_RING_SIZE; i++)
                json_decref(ev->ring[i]);
        pthread_cond_destroy(&ev->cond);
        pthread_mutex_destroy(&ev->lock);
        free(ev);
}

json_t *events_make(const char *type, const char *action, const char *id, json_t *attributes,
                    int64_t time_nano)
{
        if (!attributes)
                attributes = json_object();
        json_t *e = json_object();
        /* the pre-1.22 fields docker still sends for containers and images */
        if (!strcmp(type, "container") || !strcmp(type, "image")) {
                json_object_set_new(e, "status", json_string(action));
                json_object_set_new(e, "id", json_string(id ? id : ""));
                const char *from = json_string_value(json_object_get(attributes, "image"));
                if (!strcmp(type, "container") && from)
                        json_object_set_new(e, "from", json_string(from));
        }
        json_object_set_new(e, "Type", json_string(type));
        json_object_set_new(e, "Action", json_string(action));
        json_object_set_new(e, "Actor",
                            json_pack("{s:s, s:o}", "ID", id ? id : "", "Attributes", attributes));
        json_object_set_new(e, "scope", json_string("local"));
        json_object_set_new(e, "time", json_integer(time_nano / 1000000000));
        json_object_set_new(e, "timeNano", json_integer(time_nano));
        return e;
}

void events_publish(struct daemon *d, const char *type, const char *action, const char *id,
                    json_t *attributes)
{
        struct berth_events *ev = d ? d->events : NULL;
        if (!ev) {
                json_decref(attributes);
                return;
        }
        json_t *e = events_make(type, action, id, attributes, events_now_ns());
        pthread_mutex_lock(&ev->lock);
        size_t slot = ev->next_seq % EVENTS_RING_SIZE;
        json_decref(ev->ring[slot]);
        ev->ring[slot] = e;
        ev->next_seq++;
        pthread_cond_broadcast(&ev->cond);
        pthread_mutex_unlock(&ev->lock);
}

/* ---------------------------------------------------------------- filters */

static const char *attr(json_t *event, const char *key)
{
        return json_string_value(
            json_object_get(json_object_get(json_object_get(event, "Actor"), "Attributes"), key));
}

/* docker's ExactMatch: no filter for key, or one of its values equals s */
static bool exact(json_t *filters, const char *key, const char *s)
{
        json_t *vals = json_object_get(filters, key);
        if (!vals)
                return true;
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v) if (s && json_string_value(v) &&
                                           !strcmp(json_string_value(v), s)) return true;
        return false;
}

/* docker's FuzzyMatch: no filter for key, or a value equals s or is a prefix of it */
static bool fuzzy(json_t *filters, const char *key, const char *s)
{
        json_t *vals = json_object_get(filters, key);
        if (!vals)
                return true;
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v)
        {
                const char *f = json_string_value(v);
                if (s && f && *f && !strncmp(s, f, strlen(f)))
                        return true;
        }
        return false;
}

/* "busybox:latest" → "busybox" (a registry port is not a tag) */
static char *strip_tag(const char *s)
{
        if (!s)
                return NULL;
        const char *colon = strrchr(s, ':');
        const char *slash = strrchr(s, '/');
        if (colon && (!slash || colon > slash))
                return xstrndup(s, (size_t)(colon - s));
        return xstrdup(s);
}

static bool match_labels(json_t *event, json_t *filters)
{
        json_t *vals = json_object_get(filters, "label");
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v)
        {
                const char *f = json_string_value(v);
                if (!f)
                        return false;
                const char *eq = strchr(f, '=');
                _cleanup_free_ char *key = eq ? xstrndup(f, (size_t)(eq - f)) : xstrdup(f);
                const char *have = attr(event, key);
                if (!have || (eq && strcmp(have, eq + 1)))
                        return false;
        }
        return true;
}

static bool match_event(json_t *event, json_t *filters)
{
        json_t *vals = json_object_get(filters, "event");
        if (!vals)
                return true;
        const char *type = json_string_value(json_object_get(event, "Type"));
        const char *action = json_string_value(json_object_get(event, "Action"));
        /* "exec_start: sh -c …" is filtered as "exec_start" */
        const char *colon = strchr(action, ':');
        size_t alen = colon ? (size_t)(colon - action) : strlen(action);
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v)
        {
                const char *f = json_string_value(v);
                if (!f)
                        continue;
                if (!strcmp(f, action) || (strlen(f) == alen && !strncmp(f, action, alen)))
                        return true;
                _cleanup_free_ char *typed = xasprintf("%s:%.*s", type, (int)alen, action);
                if (!strcmp(f, typed))
                        return true;
        }
        return false;
}

static bool match_image(json_t *event, json_t *filters)
{
        if (!json_object_get(filters, "image"))
                return true;
        const char *type = json_string_value(json_object_get(event, "Type"));
        const char *id = json_string_value(json_object_get(json_object_get(event, "Actor"), "ID"));
        const char *name = attr(event, !strcmp(type, "image") ? "name" : "image");
        _cleanup_free_ char *id_repo = strip_tag(id);
        _cleanup_free_ char *name_repo = strip_tag(name);
        return exact(filters, "image", id) || exact(filters, "image", name) ||
               exact(filters, "image", id_repo) || exact(filters, "image", name_repo);
}

static bool match_named(json_t *event, json_t *filters, const char *key, bool fuzzy_match)
{
        const char *id = json_string_value(json_object_get(json_object_get(event, "Actor"), "ID"));
        const char *name = attr(event, "name");
        if (fuzzy_match)
                return fuzzy(filters, key, id) || fuzzy(filters, key, name);
        return exact(filters, key, id) || exact(filters, key, name);
}

static const char *const filter_keys[] = {"type",    "event",  "container", "image", "volume",
                                          "network", "daemon", "label",     "scope", NULL};

int events_check_filters(json_t *filters, struct berth_error **err)
{
        const char *key;
        json_t *v;
        json_object_foreach(filters, key, v)
        {
                bool known = false;
                for (size_t i = 0; filter_keys[i]; i++)
                        known = known || !strcmp(filter_keys[i], key);
                if (!known)
                        return berth_error_setx(err, EINVAL, "invalid filter '%s'", key);
        }
        return 0;
}

bool events_match(json_t *event, json_t *filters)
{
        if (!filters || !json_object_size(filters))
                return true;
        if (events_check_filters(filters, NULL) < 0)
                return false;
        const char *type = json_string_value(json_object_get(event, "Type"));
        const char *scope = json_string_value(json_object_get(event, "scope"));
        return match_event(event, filters) && exact(filters, "type", type) &&
               exact(filters, "scope", scope) && match_named(event, filters, "daemon", false) &&
               match_named(event, filters, "container", true) &&
               match_named(event, filters, "volume", false) &&
               match_named(event, filters, "network", false) && match_image(event, filters) &&
               match_labels(event, filters);
}

/* ---------------------------------------------------------------- since / until */

int events_parse_time(const char *s, int64_t *ret, struct berth_error **err)
{
        if (!s || !*s)
                return berth_error_setx(err, EINVAL, "empty timestamp");
        const char *dot = strchr(s, '.');
        bool numeric = strspn(s, "0123456789.") == strlen(s) && (!dot || !strchr(dot + 1, '.'));
        if (numeric) {
                _cleanup_free_ char *sec = dot ? xstrndup(s, (size_t)(dot - s)) : xstrdup(s);
                uint64_t secs;
                if (berth_parse_u64(sec, &secs) < 0 || secs >= INT64_MAX / 1000000000)
                        return berth_error_setx(err, EINVAL, "invalid timestamp `%s`", s);
                int64_t ns = 0;
                if (dot) {
                        int digits = 0;
                        for (const char *p = dot + 1; *p && digits < 9; p++, digits++)
                                ns = ns * 10 + (*p - '0');
                        for (; digits < 9; digits++)
                                ns *= 10;
                }
                *ret = (int64_t)secs * 1000000000 + ns;
                return 0;
        }
        /* RFC 3339: 2006-01-02T15:04:05[.nnn](Z|±hh:mm) */
        struct tm tm = {0};
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return berth_error_setx(err, EINVAL, "invalid timestamp `%s`", s);
        int64_t ns = 0;
        if (*p == '.') {
                int digits = 0;
                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (digits++ < 9)
                                ns = ns * 10 + (*p - '0');
                for (; digits < 9; digits++)
                        ns *= 10;
        }
        long off = 0;
        if (*p == 'Z') {
                p++;
        } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
                   strspn(p + 1, "0123456789") == 2 && strspn(p + 4, "0123456789") == 2) {
                off = (strtol(p + 1, NULL, 10) * 60 + strtol(p + 4, NULL, 10)) * 60;
                if (*p == '-')
                        off = -off;
                p += 6;
        } else {
                /* RFC 3339 always names the zone */
                return berth_error_setx(err, EINVAL, "invalid timestamp `%s`", s);
        }
        if (*p)
                return berth_error_setx(err, EINVAL, "invalid timestamp `%s`", s);
        int64_t t = (int64_t)timegm(&tm) - off;
        /* nanoseconds since 1970 fit in 64 bits until 2262 */
        if (t < 0 || t >= INT64_MAX / 1000000000)
                return berth_error_setx(err, ERANGE, "timestamp `%s` out of range", s);
        *ret = t * 1000000000 + ns;
        return 0;
}

/* ---------------------------------------------------------------- streaming */

bool events_client_gone(int out_fd, int client_fd)
{
        struct pollfd p[2] = {{.fd = out_fd, .events = 0}, {.fd = client_fd, .events = POLLRDHUP}};
        if (poll(p, client_fd >= 0 ? 2 : 1, 0) <= 0)
                return false;
        return (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) ||
               (client_fd >= 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)));
}

static bool send_event(int fd, json_t *e)
{
        _cleanup_free_ char *j = json_dumps(e, JSON_COMPACT);
        /* one write, one chunk: docker-py's splitter chokes on a chunk holding only the newline
         * when it is the last one (a stream with `until`), as dockerd never sends it apart */
        _cleanup_free_ char *s = xasprintf("%s\n", j);
        return berth_write_all(fd, s, strlen(s)) == 0;
}

void events_stream(struct berth_events *ev, int out_fd, int client_fd, int64_t since_ns,
                   int64_t until_ns, json_t *filters)
{
        pthread_mutex_lock(&ev->lock);
        ev->streams++;
        uint64_t seq = ev->next_seq;
        if (since_ns >= 0)
                seq = ev->next_seq > EVENTS_RING_SIZE ? ev->next_seq - EVENTS_RING_SIZE : 0;
        bool ok = true;
        while (ok && !ev->closing) {
                while (ok && seq < ev->next_seq) {
                        /* events that fell out of the ring while we were writing are lost */
                        if (ev->next_seq - seq > EVENTS_RING_SIZE)
                                seq = ev->next_seq - EVENTS_RING_SIZE;
                        json_t *e = json_incref(ev->ring[seq % EVENTS_RING_SIZE]);
                        seq++;
                        int64_t t = json_integer_value(json_object_get(e, "timeNano"));
                        if (until_ns >= 0 && t > until_ns) {
                                json_decref(e);
                                continue;
                        }
                        if (since_ns >= 0 && t < since_ns) {
                                json_decref(e);
                                continue;
                        }
                        if (!events_match(e, filters)) {
                                json_decref(e);
                                continue;
                        }
                        /* write outside the lock: a slow reader must not stall publishers */
                        pthread_mutex_unlock(&ev->lock);
                        ok = send_event(out_fd, e);
                        json_decref(e);
                        pthread_mutex_lock(&ev->lock);
                }
                int64_t now = events_now_ns();
                if (!ok || (until_ns >= 0 && now >= until_ns))
                        break;
                /* wake at least once a second to notice a client that went away */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t wait_ns = 1000000000;
                if (until_ns >= 0 && until_ns - now < wait_ns)
                        wait_ns = until_ns - now;
                ts.tv_sec += (ts.tv_nsec + wait_ns) / 1000000000;
                ts.tv_nsec = (ts.tv_nsec + wait_ns) % 1000000000;
                if (seq == ev->next_seq && !ev->closing)
                        pthread_cond_timedwait(&ev->cond, &ev->lock, &ts);
                if (seq == ev->next_seq && events_client_gone(out_fd, client_fd))
                        break;
        }
        ev->streams--;
        pthread_cond_broadcast(&ev->cond);
        pthread_mutex_unlock(&ev->lock);
}
