/* libFuzzer target: bytes → the engine's published-port parser (src/daemon/network/ports.c
 * compiled in for coverage): a create body's HostConfig.PortBindings (with -P's
 * PublishAllPorts) and an image config's ExposedPorts, as docker clients send them. Every
 * answer is a list of wanted mappings or an error with a message; nothing may crash or leak. */
#include "daemon/network/ports.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* the first line is the create body, the rest the image config */
        const uint8_t *nl = memchr(data, '\n', size);
        size_t n1 = nl ? (size_t)(nl - data) : size;
        _cleanup_json_ json_t *create = json_loadb((const char *)data, n1, 0, NULL);
        _cleanup_json_ json_t *image =
            nl ? json_loadb((const char *)nl + 1, size - n1 - 1, 0, NULL) : NULL;
        if (!create)
                return 0;
        json_t *wanted = NULL;
        struct berth_error *err = NULL;
        if (net_ports_wanted(create, image, &wanted, &err) == 0) {
                if (!json_is_array(wanted))
                        __builtin_trap();
                json_decref(wanted);
        } else if (!err || !err->msg[0]) {
                __builtin_trap();
        }
        berth_error_free(err);
        return 0;
}
