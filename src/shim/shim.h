/* berth-shim: the per-container monitor, and the protocol berthd speaks with it.
 *
 * The one public header of src/shim (depends on runtime + common). berthd includes it for the
 * protocol constants; the shim binary's main is cmd/berth-shim.c.
 *
 * ---------------------------------------------------------------- starting a shim
 *   berth-shim create --id ID --bundle DIR --state DIR --runtime-root DIR
 *                     [--stdin] [--stdin-once] [--tty]
 *                     [--log PATH [--log-max-size BYTES] [--log-max-files N]]
 *                     [--runtime-path BIN [--runtime-arg ARG]...]
 *   berth-shim exec   --id ID --state DIR --runtime-root DIR --process FILE
 *                     [--stdin] [--tty] [--runtime-path BIN [--runtime-arg ARG]...]
 * Without --runtime-path the container is made by the runtime library in-process; with it, by
 * that OCI runtime binary (runc's command line: `BIN --root <runtime-root> --log
 * <state>/runtime.log --log-format json ARG… create|start|exec -d|delete --force`), as
 * containerd's shim drives runc; the shim reaps what it makes all the same (child subreaper)
 * and reads OOM kills from the container's cgroup.
 * The same binary, when run as `docker-init` (argv[0]) or as `berth-shim init -- CMD…`, is a tiny
 * init for `--init` containers: it runs CMD, forwards signals, reaps zombies, exits with its
 * status. berthd runs it with fd 3 = one end of a SOCK_SEQPACKET socketpair (the control channel)
 * and stdio on /dev/null. The shim detaches (setsid, double fork, so the daemon's child exits at
 * once and the shim is reparented to the daemon's subreaper or init) and survives the daemon.
 *
 * ---------------------------------------------------------------- control channel (fd 3)
 * Every message is one datagram holding one JSON object.
 * shim → daemon  {"created": {"pid": <container pid>, "shim_pid": <shim pid>}}
 *                or {"error": "<message>", "code": <errno>} (then the shim exits; nothing left)
 * daemon → shim  zero or more attach requests (ATTACH below, each with an fd), then
 *                {"start": true}
 * shim → daemon  {"started": true, "pid": <pid>} or {"error": …}; then the channel closes.
 * `create` creates the container (its process waits before exec), `exec` prepares; nothing
 * runs until "start", so an attach made before start sees all the output.
 * "created".pid is 0 for `exec` (its process exists only after
 * start); "started".pid is the container's pid (create) or the exec process' pid (exec). When
 * "start" fails the shim sends {"error"}, writes exit.json with "error" and exits. When the
 * channel closes before "start" (the daemon died), the shim kills and deletes the container,
 * writes exit.json {"exit_code": 255, "error": "the daemon went away before start"} and exits.
 *
 * ---------------------------------------------------------------- attach socket
 * <state>/attach.sock (SOCK_SEQPACKET): a client (berthd) sends one datagram per request, JSON
 * plus optionally one fd with SCM_RIGHTS:
 *   {"attach": {"stdin": b, "stdout": b, "stderr": b, "raw": b}}  + fd: a connected socket (the
 *       hijacked HTTP connection, 101 already sent). The shim writes the container's output to
 *       it — docker's 8-byte multiplexed frames unless raw (tty) — and feeds what it reads to the
 *       container's stdin when stdin is asked (EOF closes the container's stdin when
 *       --stdin-once). When the container exits the shim flushes and closes the fd.
 *       A second fd may follow: the daemon's notify socket for this client (SOCK_SEQPACKET).
 *       When the client's detach keys ("detach_keys": [bytes], a tty only) end its attach, the
 *       shim sends {"detached": true} on it; it is closed when the client goes, either way.
 *   {"resize": {"h": rows, "w": cols}}                    tty only
 *   {"close_stdin": true}
 * The same requests may be sent on the control channel before "start".
 * On attach.sock the shim answers every request with one datagram,
 * {"ok": true} or {"error": "<message>", "code": <errno>} (nothing is answered on the control
 * channel but created/started/error). A client's EOF ends only its own stdin unless
 * --stdin-once; a client more than 1 MiB behind is dropped (the container never waits on it).
 * The socket is bound through /proc/self/fd/<dirfd>/attach.sock, so a state dir path longer
 * than sun_path works: connect the same way (open the state dir, use /proc/self/fd/N/…).
 * Transient files in <state>: console.sock (--tty, until the pty master arrived), exec.pid,
 * process-tty.json (exec --tty with a resize before start: the size goes into the process spec
 * so the process sees it from its first instruction); with --runtime-path also runtime.pid (the
 * runtime's --pid-file of create) and runtime.log (its json log of the last verb it ran).
 * With BERTH_SHIM_STDERR in its environment the shim keeps the stderr it was given for its own
 * and the runtime library's messages (debugging); otherwise all its stdio is /dev/null.
 * `exec` always closes the process' stdin at an attached client's EOF (docker exec does; no
 * --stdin-once needed). --log-max-size takes docker's max-size as it is ("10m", "1k", "-1").
 *
 * ---------------------------------------------------------------- files the shim writes
 * <state>/shim.pid          its pid (text), written before "created"
 * <state>/exit.json         atomically, once the container (or exec process) has exited:
 *                           {"exit_code": n, "oom_killed": b, "finished_at": "RFC3339Nano",
 *                            "error": "…" (only when the start itself failed)}
 * --log PATH                docker's json-file lines {"log","stream","time"}; rotated to PATH.1 …
 *                           PATH.<N-1> when it grows past --log-max-size (default 10 MB × 3)
 *                           (--log-max-size 0: never rotate; --log-max-files 1: truncate)
 * After exit.json is written and attached clients are flushed the shim deletes the runtime
 * container (create) and exits. berthd watches the shim with a pidfd and reads exit.json.
 */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include "common/common.h"

#define BERTH_SHIM_CONTROL_FD   3
#define BERTH_SHIM_ATTACH_SOCK  "attach.sock"
#define BERTH_SHIM_PID_FILE     "shim.pid"
#define BERTH_SHIM_EXIT_FILE    "exit.json"
#define BERTH_SHIM_MSG_MAX      4096
#define BERTH_LOG_DEFAULT_SIZE  (10u * 1024 * 1024)
#define BERTH_LOG_DEFAULT_FILES 3

/* The whole berth-shim program (create, exec, init/docker-init); returns its exit status.
 * cmd/berth-shim.c is a thin main around it. */
int berth_shim_main(int argc, char **argv);

#endif
