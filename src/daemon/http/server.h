/* berthd's HTTP server (server.c) as main.c and the fuzzer see it. Internal to src/daemon. */
#ifndef BERTH_DAEMON_SERVER_H
#define BERTH_DAEMON_SERVER_H

#include "daemon/http/api.h"

#include <sys/socket.h>

struct daemon;
struct server;

/* Bind d->socket_path (mode 0660, a stale socket replaced) and serve it on libmicrohttpd's
 * threads until server_stop. EADDRINUSE (naming its pid) when a daemon answers on that socket. */
int server_start(struct daemon *d, struct server **ret, struct berth_error **err);
/* 0 when nothing serves the unix socket at path (absent, or stale: nobody listens on it), else
 * EADDRINUSE naming the pid of the daemon that does. */
int server_socket_check(const char *path, struct berth_error **err);
/* Serve an already connected socket (taken) as if accepted: the fuzzer's way in. */
int server_add_connection(struct server *srv, int fd, const struct sockaddr *addr,
                          socklen_t addrlen);
/* Called by the signal loop about once a second: after a second without requests, memory the
 * last burst of requests freed goes back to the kernel (once per burst). */
void server_idle(struct server *srv);
/* Is a connection open, or a stream or hijack thread of one still running (freeing included)? */
bool server_busy(struct server *srv);
/* Stop accepting and remove the socket if it is still the one bound (another daemon's socket at
 * that path is left alone); requests in flight end with the process. */
void server_stop(struct server *srv);
/* After server_stop: wait up to timeout_ms for the connections and stream/hijack threads to end,
 * then stop libmicrohttpd (joining its threads) and free srv. false (srv kept, its threads
 * still running) when a request is still in flight: the caller must not free what it uses. */
bool server_free(struct server *srv, long timeout_ms);

/* Route matching as the server does it (for tests and the fuzzer): url with or without the
 * version prefix. 0 and *ret_route (ret_params, may be NULL, gets PARAMS_MAX malloc'd strings or
 * NULLs); -ENOENT no route, -EBADRQC path known but not for this method, -EINVAL version too
 * old. */
int api_route_match(const char *method, const char *url, char **ret_params,
                    const struct api_route **ret_route);

/* GET /version (also used by /info implementations that want the same fields). */
void api_handle_version(struct api_req *r);

#endif
