/* JSON helpers over jansson. */
#include "common/common.h"

json_t *berth_json_load_at(int dirfd, const char *path, size_t flags, struct berth_error **err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (berth_read_file_at(dirfd, path, 64 << 20, &data, &len, err) < 0)
                return NULL;
        json_error_t jerr;
        json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES | flags, &jerr);
        if (!j) {
                berth_error_setx(err, EINVAL, "%s: invalid JSON at line %d column %d: %s", path,
                                 jerr.line, jerr.column, jerr.text);
                return NULL;
        }
        return j;
}

const char *berth_json_get_str(const json_t *obj, const char *key)
{
        return json_string_value(json_object_get(obj, key));
}

bool berth_json_is_set(const json_t *v)
{
        if (!v || json_is_null(v) || json_is_false(v))
                return false;
        if (json_is_integer(v))
                return json_integer_value(v) != 0;
        if (json_is_real(v))
                return json_real_value(v) != 0;
        if (json_is_string(v))
                return json_string_length(v) > 0;
        if (json_is_array(v))
                return json_array_size(v) > 0;
        if (json_is_object(v))
                return json_object_size(v) > 0;
        return true;
}

bool berth_label_match(const json_t *labels, const char *filter)
{
        if (!filter)
                return false;
        const char *eq = strchr(filter, '=');
        _cleanup_free_ char *key = eq ? xstrndup(filter, (size_t)(eq - filter)) : xstrdup(filter);
        const char *have = berth_json_get_str(labels, key);
        return have && (!eq || strcmp(have, eq + 1) == 0);
}

bool berth_labels_match_all(const json_t *labels, const json_t *filters)
{
        const json_t *e;
        size_t i;

        json_array_foreach(filters, i, e)
        {
                if (!berth_label_match(labels, json_string_value(e) ?: ""))
                        return false;
        }
        return true;
}

char *berth_json_dump(const json_t *j, bool pretty)
{
        char *s = json_dumps(j, pretty ? JSON_INDENT(2) | JSON_PRESERVE_ORDER
                                       : JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!s)
                abort();
        return s;
}
