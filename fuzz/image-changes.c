/* libFuzzer target: bytes → berth_image_apply_change() (docker's --change instructions of
 * import, commit and build), one change per input line, all lines applied to one config in
 * order, then berth_image_apply_changes() on the same lines over a fresh config. Nothing may
 * crash, leak or hang, and the all-or-nothing variant must leave the config alone on error. */
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = xstrndup((const char *)data, size);
        char **lines = NULL;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                strv_push(&lines, l);
        /* one by one with docker's cmd_set carried along */
        json_t *cfg = json_pack("{s:[s], s:s}", "Env", "PATH=/bin", "WorkingDir", "/w");
        bool cmd_set = false;
        for (size_t i = 0; lines && lines[i]; i++) {
                struct berth_error *err = NULL;
                if (berth_image_apply_change(cfg, lines[i], &cmd_set, &err) < 0)
                        berth_error_free(err);
        }
        json_decref(cfg);
        /* all or nothing */
        cfg = json_object();
        struct berth_error *err = NULL;
        if (berth_image_apply_changes(cfg, lines, &err) < 0) {
                if (json_object_size(cfg) != 0)
                        __builtin_trap();
                berth_error_free(err);
        }
        json_decref(cfg);
        /* the whole input as a single change (embedded newlines, continuations) */
        cfg = json_object();
        err = NULL;
        char *whole = xstrndup((const char *)data, size);
        if (berth_image_apply_change(cfg, whole, NULL, &err) < 0)
                berth_error_free(err);
        free(whole);
        json_decref(cfg);
        strv_free(lines);
        free(text);
        return 0;
}
