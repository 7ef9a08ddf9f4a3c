/* update, and the verbs berth-runtime refuses cleanly (checkpoint, restore) */
#include "rtcli/rtcli.h"

#include <getopt.h>

/* "512m", "1G", "1024" → bytes; -1 stays -1 (unlimited) */
static int parse_bytes(const char *s, int64_t *ret)
{
        if (!strcmp(s, "-1")) {
                *ret = -1;
                return 0;
        }
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || v < 0)
                return -EINVAL;
        int64_t mult = 1;
        switch (*end) {
        case 'k':
        case 'K':
                mult = 1LL << 10;
                break;
        case 'm':
        case 'M':
                mult = 1LL << 20;
                break;
        case 'g':
        case 'G':
                mult = 1LL << 30;
                break;
        case '\0':
                break;
        default:
                return -EINVAL;
        }
        if (*end && end[1] && strcasecmp(end + 1, "b"))
                return -EINVAL;
        *ret = (int64_t)v * mult;
        return 0;
}

int rtcli_update(struct rtcli *cli, int argc, char **argv)
{
        enum {
                MEM = 256,
                MEMRES,
                MEMSWAP,
                KMEM,
                SHARES,
                QUOTA,
                PERIOD,
                RTPERIOD,
                RTRUNTIME,
                CPUS,
                MEMS,
                PIDS,
                BLKIO
        };
        static const struct {
                const char *name;
                const char *group;
                const char *key;
                bool bytes;
                bool str;
        } fields[] = {
            [MEM - MEM] = {"memory", "memory", "limit", true, false},
            [MEMRES - MEM] = {"memory-reservation", "memory", "reservation", true, false},
            [MEMSWAP - MEM] = {"memory-swap", "memory", "swap", true, false},
            [KMEM - MEM] = {"kernel-memory", NULL, NULL, true, false},
            [SHARES - MEM] = {"cpu-shares", "cpu", "shares", false, false},
            [QUOTA - MEM] = {"cpu-quota", "cpu", "quota", false, false},
            [PERIOD - MEM] = {"cpu-period", "cpu", "period", false, false},
            [RTPERIOD - MEM] = {"cpu-rt-period", "cpu", "realtimePeriod", false, false},
            [RTRUNTIME - MEM] = {"cpu-rt-runtime", "cpu", "realtimeRuntime", false, false},
            [CPUS - MEM] = {"cpuset-cpus", "cpu", "cpus", false, true},
            [MEMS - MEM] = {"cpuset-mems", "cpu", "mems", false, true},
            [PIDS - MEM] = {"pids-limit", "pids", "limit", false, false},
            [BLKIO - MEM] = {"blkio-weight", "blockIO", "weight", false, false},
        };
        struct option opts[ARRAY_SIZE(fields) + 2];
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
                opts[i] = (struct option){fields[i].name, required_argument, NULL, MEM + (int)i};
        opts[ARRAY_SIZE(fields)] = (struct option){"resources", required_argument, NULL, 'r'};
        opts[ARRAY_SIZE(fields) + 1] = (struct option){0};
        _cleanup_json_ json_t *res = json_object();
        int c;
        opterr = 0;
        struct berth_error *err = NULL;
        while ((c = getopt_long_only(argc, argv, "+r:", opts, NULL)) != -1) {
                if (c == 'r') {
                        json_decref(res);
                        json_error_t je;
                        res = !strcmp(optarg, "-")
                                  ? json_loadf(stdin, JSON_DECODE_INT_AS_REAL, &je)
                                  : berth_json_load_at(AT_FDCWD, optarg, JSON_DECODE_INT_AS_REAL,
                                                       &err);
                        if (!res) {
                                if (!err)
                                        berth_error_setx(&err, EINVAL, "resources: %s", je.text);
                                return rtcli_fail(err);
                        }
                        continue;
                }
                if (c < MEM || c >= MEM + (int)ARRAY_SIZE(fields))
                        return rtcli_usage("update", "unknown option `%s`", argv[optind - 1]);
                const typeof(fields[0]) *f = &fields[c - MEM];
                if (!f->group)
                        continue; /* kernel memory limits are gone from current kernels */
                json_t *g = json_object_get(res, f->group);
                if (!g) {
                        g = json_object();
                        json_object_set_new(res, f->group, g);
                }
                if (f->str) {
                        json_object_set_new(g, f->key, json_string(optarg));
                        continue;
                }
                int64_t v = -1;
                uint64_t u = 0;
                int pr = 0;
                if (f->bytes)
                        pr = parse_bytes(optarg, &v);
                else if (strcmp(optarg, "-1") && (pr = berth_parse_u64(optarg, &u)) == 0)
                        v = (int64_t)u;
                if (pr < 0)
                        return rtcli_usage("update", "--%s: invalid value `%s`", f->name, optarg);
                json_object_set_new(g, f->key, json_integer(v));
        }
        const char *id = rtcli_one_id("update", argc, argv);
        if (!id)
                return 1;
        if (berth_container_update(&cli->rt, id, res, &err) < 0)
                return rtcli_fail(err);
        return 0;
}

static int not_supported(const char *verb)
{
        fprintf(stderr, "berth-runtime: %s is not supported by this runtime\n", verb);
        return 1;
}

int rtcli_checkpoint(struct rtcli *cli, int argc, char **argv)
{
        return not_supported("checkpoint");
}

int rtcli_restore(struct rtcli *cli, int argc, char **argv)
{
        return not_supported("restore");
}
