/* The Go types of docker's inspect documents, as far as a --format template can tell them apart
 * (template.c). Private to src/cli. */
#ifndef BERTH_CLI_TEMPLATE_TYPES_H
#define BERTH_CLI_TEMPLATE_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/* docker inspect -f runs the template on its typed structs (container.InspectResponse) and only
 * on the raw JSON map when that fails, so what a null or absent field prints depends on the
 * field's Go type: a nil pointer `<nil>`, a nil slice `[]`, a nil map `map[]`, an omitted string
 * ``, an unknown field an error; `index` of a map[string]string gives "" for a missing key;
 * structs print as {v1 v2} in field order and durations as 1m30s. */

enum go_kind {
        GO_STRING,
        GO_INT,
        GO_BOOL,
        GO_PTR,    /* nil prints <nil>; a field through nil is an error */
        GO_SLICE,  /* nil prints [] */
        GO_MAP,    /* nil prints map[] */
        GO_STRMAP, /* map[string]string: also index of a missing key is "" */
        GO_STRUCT, /* never nil */
        GO_DURATION,
};

struct go_type;

struct go_field {
        const char *name; /* the Go name, which the typed run knows the field by */
        enum go_kind kind;
        const struct go_type *type; /* GO_PTR / GO_STRUCT to a struct */
        const char *json;           /* its JSON key when not the same; "" for an embedded struct
                                     * (its fields are the outer object's) */
};

struct go_type {
        const struct go_field *fields;
        bool complete;  /* every field listed: an unknown one is an error, like docker's */
        bool printable; /* printed as fmt does, {v1 v2 …} in field order (a non-nil pointer
                         * inside is an address in docker's output: no use matching that) */
};

/* docker's container inspect document (container.InspectResponse of the docker CLI's own
 * vendored API types) */
extern const struct go_type go_container_type;

/* The field of t named name in Go (not its JSON key), or NULL. t may be NULL. */
const struct go_field *go_field_of(const struct go_type *t, const char *name);

/* Go's time.Duration.String(): 1h2m3.5s, 1.5ms, 0s; malloc'd. */
char *go_duration_string(int64_t ns);

#endif
