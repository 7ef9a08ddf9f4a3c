/* libFuzzer target: berthd's module parsers. The first byte picks the parser, the rest is its
 * input: a json-file log line (parsed and framed), a since/until time, an events filter object
 * matched against a fixed event, cgroup/procfs stats text, volume mount options. */
#include "daemon/state/events.h"
#include "daemon/state/logs.h"
#include "daemon/state/stats.h"
#include "daemon/state/volumes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        uint8_t which = data[0] % 8;
        char *s = xstrndup((const char *)data + 1, size - 1);
        size_t len = strlen(s);
        switch (which) {
        case 0: {
                struct log_entry e;
                if (logs_parse_line((const char *)data + 1, size - 1, &e, NULL) == 0) {
                        /* differential: the shim-format fast path must agree with jansson */
                        json_t *j =
                            json_loadb((const char *)data + 1, size - 1, JSON_ALLOW_NUL, NULL);
                        json_t *log = json_object_get(j, "log");
                        int64_t t;
                        if (json_is_string(log) &&
                            (json_string_length(log) != e.len ||
                             memcmp(json_string_value(log), e.log, e.len) ||
                             events_parse_time(json_string_value(json_object_get(j, "time")), &t,
                                               NULL) < 0 ||
                             t != e.time_ns))
                                abort();
                        json_decref(j);
                        struct logs_opts o = {.out = true, .err = true, .timestamps = true};
                        size_t n;
                        free(logs_format_entry(&e, &o, &n));
                        o.tty = true;
                        free(logs_format_entry(&e, &o, &n));
                        logs_entry_release(&e);
                }
                break;
        }
        case 1: {
                int64_t t;
                struct berth_error *err = NULL;
                events_parse_time(s, &t, &err);
                berth_error_free(err);
                break;
        }
        case 2: {
                json_t *f = json_loadb(s, len, 0, NULL);
                json_t *ev = events_make("container", "exec_start: sh", "abc",
                                         json_pack("{s:s, s:s}", "name", "n", "image", "i:1"), 1);
                if (f && events_check_filters(f, NULL) == 0)
                        events_match(ev, f);
                json_decref(ev);
                json_decref(f);
                break;
        }
        case 3:
                stats_parse_proc_stat(s);
                break;
        case 4:
                json_decref(stats_parse_blkio_v1(s, s));
                break;
        case 5:
                json_decref(stats_parse_io_stat(s));
                break;
        case 6:
                json_decref(stats_parse_net_dev(s));
                break;
        case 7: {
                unsigned long flags;
                char *rest = NULL;
                volumes_parse_mount_options(s, &flags, &rest);
                free(rest);
                json_t *o = json_loadb(s, len, 0, NULL);
                if (json_is_object(o))
                        volumes_check_options(o, NULL);
                json_decref(o);
                break;
        }
        }
        free(s);
        return 0;
}
