/* berth-runtime's command line: runc-compatible verbs over src/runtime.
 *
 * The one public header of src/rtcli; cmd/berth-runtime.c only calls berth_rtcli_main().
 */
#ifndef BERTH_RTCLI_H
#define BERTH_RTCLI_H

#include "runtime/runtime.h"

/* Run the berth-runtime command line; returns the process exit status. */
int berth_rtcli_main(int argc, char **argv);

/* ---- shared by the verb files (not for other subsystems) ---- */

struct rtcli {
        struct berth_runtime rt;
        bool debug;
        char **argv; /* the whole command line, for a re-exec */
};

typedef int (*rtcli_verb_fn)(struct rtcli *cli, int argc, char **argv);

/* Report err (stderr and --log) and return 1; consumes err. */
int rtcli_fail(struct berth_error *err);
/* Report a usage problem for verb and return 1. */
int rtcli_usage(const char *verb, const char *fmt, ...) _printf_(2, 3);
/* argv[optind] must be the only positional argument: the container id. */
const char *rtcli_one_id(const char *verb, int argc, char **argv);

int rtcli_create(struct rtcli *cli, int argc, char **argv);
int rtcli_start(struct rtcli *cli, int argc, char **argv);
int rtcli_run(struct rtcli *cli, int argc, char **argv);
int rtcli_state(struct rtcli *cli, int argc, char **argv);
int rtcli_list(struct rtcli *cli, int argc, char **argv);
int rtcli_kill(struct rtcli *cli, int argc, char **argv);
int rtcli_delete(struct rtcli *cli, int argc, char **argv);
int rtcli_spec(struct rtcli *cli, int argc, char **argv);
int rtcli_features(struct rtcli *cli, int argc, char **argv);
int rtcli_exec(struct rtcli *cli, int argc, char **argv);
int rtcli_pause(struct rtcli *cli, int argc, char **argv);
int rtcli_resume(struct rtcli *cli, int argc, char **argv);
int rtcli_ps(struct rtcli *cli, int argc, char **argv);
int rtcli_update(struct rtcli *cli, int argc, char **argv);
int rtcli_events(struct rtcli *cli, int argc, char **argv);
int rtcli_checkpoint(struct rtcli *cli, int argc, char **argv);
int rtcli_restore(struct rtcli *cli, int argc, char **argv);

#endif
