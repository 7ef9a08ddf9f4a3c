/* /volumes routes over volumes.c (local driver). */
#include "daemon/http/api.h"
#include "daemon/daemon.h"
#include "daemon/state/volumes.h"

/* list and prune: ?filters= parsed, then fn's answer as 200 or its error */
static void filtered_reply(struct api_req *r, int (*fn)(struct berth_volumes *v, json_t *filters,
                                                        json_t **ret, struct berth_error **err))
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *out;
        if (api_query_filters(r, &filters, &e) < 0 || fn(d->volumes, filters, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, out);
}

static void volumes_list_handler(struct api_req *r)
{
        filtered_reply(r, volumes_list);
}

static const char *opt_string(json_t *body, const char *key, bool *bad)
{
        json_t *v = json_object_get(body, key);
        if (v && !json_is_string(v) && !json_is_null(v))
                *bad = true;
        return json_string_value(v);
}

static void volumes_create_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *body = NULL;
        if (api_body_json(r, &body, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        bool bad = false;
        const char *name = opt_string(body, "Name", &bad);
        const char *driver = opt_string(body, "Driver", &bad);
        json_t *labels = json_object_get(body, "Labels");
        json_t *opts = json_object_get(body, "DriverOpts");
        if (bad || (labels && !json_is_object(labels) && !json_is_null(labels)) ||
            (opts && !json_is_object(opts) && !json_is_null(opts)))
                return api_reply_errorf(r, 400, "invalid volume create request");
        json_t *out;
        if (volumes_create(d->volumes, name, driver, labels, opts, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 201, out);
}

static void volumes_inspect_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        json_t *out;
        if (volumes_inspect(d->volumes, api_param(r, 0), false, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, out);
}

static void volumes_remove_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        if (volumes_remove(d->volumes, api_param(r, 0), api_query_bool(r, "force", false), &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_empty(r, 204);
}

static void volumes_prune_handler(struct api_req *r)
{
        filtered_reply(r, volumes_prune);
}

const struct api_route api_routes_volumes[] = {
    {"GET", "/volumes", volumes_list_handler, false},
    {"POST", "/volumes/create", volumes_create_handler, false},
    {"POST", "/volumes/prune", volumes_prune_handler, false},
    {"GET", "/volumes/{}", volumes_inspect_handler, false},
    {"DELETE", "/volumes/{}", volumes_remove_handler, false},
    {NULL, NULL, NULL, false},
};
