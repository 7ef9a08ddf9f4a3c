/* The /networks routes over networks.c and endpoints.c: list, inspect, create, remove, prune,
 * connect and disconnect. */
#include "daemon/http/api.h"
#include "daemon/daemon.h"
#include "daemon/network/network.h"

static void list_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *out;

        if (api_query_filters(r, &filters, &e) < 0 ||
            networks_list(d->networks, filters, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, out);
}

static void inspect_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        const char *scope = api_query(r, "scope");
        json_t *out;

        if (scope && *scope && strcmp(scope, "local") != 0)
                return api_reply_errorf(r, 404, "network %s not found", api_param(r, 0));
        if (networks_inspect(d->networks, api_param(r, 0), &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, out);
}

static void create_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *id = NULL;
        json_t *warnings = json_array();

        if (api_body_json(r, &body, &e) < 0 ||
            networks_create(d->networks, body, &id, warnings, &e) < 0) {
                json_decref(warnings);
                return api_reply_error(r, TAKE_PTR(e));
        }
        api_reply_json(r, 201, json_pack("{s:s,s:s}", "Id", id, "Warning", ""));
        json_decref(warnings);
}

static void remove_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;

        if (networks_remove(d->networks, api_param(r, 0), &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_empty(r, 204);
}

static void prune_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *out;

        if (api_query_filters(r, &filters, &e) < 0 ||
            networks_prune(d->networks, filters, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, json_pack("{s:o}", "NetworksDeleted", out));
}

static void connect_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *body = NULL;
        const char *container;

        if (api_body_json(r, &body, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        container = json_string_value(json_object_get(body, "Container"));
        if (!container || !*container)
                return api_reply_errorf(r, 400, "no container given to connect");
        if (network_connect(d->networks, api_param(r, 0), container,
                            json_object_get(body, "EndpointConfig"), &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_empty(r, 200);
}

static void disconnect_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *body = NULL;
        const char *container;

        if (api_body_json(r, &body, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        container = json_string_value(json_object_get(body, "Container"));
        if (!container || !*container)
                return api_reply_errorf(r, 400, "no container given to disconnect");
        if (network_disconnect(d->networks, api_param(r, 0), container,
                               json_is_true(json_object_get(body, "Force")), &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_empty(r, 200);
}

const struct api_route api_routes_networks[] = {
    {"GET", "/networks", list_handler, false},
    {"POST", "/networks/create", create_handler, false},
    {"POST", "/networks/prune", prune_handler, false},
    {"GET", "/networks/{}", inspect_handler, false},
    {"DELETE", "/networks/{}", remove_handler, false},
    {"POST", "/networks/{}/connect", connect_handler, false},
    {"POST", "/networks/{}/disconnect", disconnect_handler, false},
    {NULL, NULL, NULL, false},
};
