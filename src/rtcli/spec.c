/* spec, features */
#include "rtcli/rtcli.h"

#include <getopt.h>

int rtcli_spec(struct rtcli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"bundle", required_argument, NULL, 'b'},
            {"rootless", no_argument, NULL, 'r'},
            {0},
        };
        const char *bundle = ".";
        bool rootless = false;
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, "b:", opts, NULL)) != -1) {
                if (c == 'b')
                        bundle = optarg;
                else if (c == 'r')
                        rootless = true;
                else
                        return rtcli_usage("spec", "unknown option `%s`", argv[optind - 1]);
        }
        if (optind < argc)
                return rtcli_usage("spec", "takes no arguments");
        _cleanup_close_ int dfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct berth_error *err = NULL;
        if (dfd < 0) {
                berth_error_set(&err, errno, "bundle `%s`", bundle);
                return rtcli_fail(err);
        }
        if (faccessat(dfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                berth_error_setx(&err, EEXIST, "file `%s/config.json` exists: remove it first",
                                 bundle);
                return rtcli_fail(err);
        }
        _cleanup_json_ json_t *spec = berth_spec_default(rootless);
        _cleanup_free_ char *s = berth_json_dump(spec, true);
        size_t len = strlen(s);
        s = xrealloc(s, len + 2);
        s[len] = '\n';
        s[len + 1] = '\0';
        if (berth_write_file_at(dfd, "config.json", s, len + 1, O_CREAT | O_EXCL, &err) < 0)
                return rtcli_fail(err);
        return 0;
}

int rtcli_features(struct rtcli *cli, int argc, char **argv)
{
        if (argc > 1)
                return rtcli_usage("features", "takes no arguments");
        _cleanup_json_ json_t *f = berth_runtime_features();
        _cleanup_free_ char *s = berth_json_dump(f, true);
        printf("%s\n", s);
        return 0;
}
