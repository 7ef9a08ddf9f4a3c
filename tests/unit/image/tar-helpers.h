/* Helpers shared by the image unit tests: build tar layers in a memfd with libarchive. */
#ifndef BERTH_TEST_TAR_HELPERS_H
#define BERTH_TEST_TAR_HELPERS_H

#include <archive.h>
#include <archive_entry.h>
#include <sys/mman.h>

struct tarw {
        struct archive *a;
        int fd;
};

static inline struct tarw tar_begin(bool gzip)
{
        struct tarw t = {.a = archive_write_new(), .fd = memfd_create("layer", MFD_CLOEXEC)};
        assert_true(t.fd >= 0);
        archive_write_set_format_pax_restricted(t.a);
        if (gzip)
                archive_write_add_filter_gzip(t.a);
        assert_int_equal(archive_write_open_fd(t.a, t.fd), ARCHIVE_OK);
        return t;
}

static inline void tar_add(struct tarw *t, const char *path, mode_t type, mode_t mode,
                           const char *data, const char *link, const char *hardlink)
{
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, mode);
        archive_entry_set_uid(e, 1000);
        archive_entry_set_gid(e, 1000);
        if (link)
                archive_entry_set_symlink(e, link);
        if (hardlink)
                archive_entry_set_hardlink(e, hardlink);
        archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
        assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
        if (data)
                archive_write_data(t->a, data, strlen(data));
        archive_entry_free(e);
}

static inline int tar_end(struct tarw *t)
{
        archive_write_close(t->a);
        archive_write_free(t->a);
        lseek(t->fd, 0, SEEK_SET);
        return t->fd;
}

#endif
