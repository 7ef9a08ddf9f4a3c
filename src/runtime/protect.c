/* CVE-2019-5736: a container must never reach the runtime binary writable through
 * /proc/<pid>/exe. Every runtime process that enters a container is non-dumpable until execve,
 * which keeps out containers without CAP_SYS_PTRACE. A container that holds CAP_SYS_PTRACE (in
 * the initial user namespace) can still open it, so for those the runtime first re-executes
 * itself from a sealed memfd copy: what the container can reach is then an anonymous, write-
 * sealed file. The copy costs ~1 MB of memory for the runtime's lifetime and one exec. */
#include "runtime/internal.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define SEALED_ENV "_BERTH_RUNTIME_SEALED"

bool spec_grants_ptrace(const struct spec *s)
{
        /* ptrace across a user namespace boundary is refused anyway */
        if (spec_namespace(s, CLONE_NEWUSER))
                return false;
        return !s->process.has_caps ||
               (s->process.caps[CAPSET_BOUNDING] & (UINT64_C(1) << CAP_SYS_PTRACE));
}

int berth_runtime_reexec_sealed(char **argv, struct berth_error **err)
{
        if (getenv(SEALED_ENV))
                return 0;
        _cleanup_close_ int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return berth_error_set(err, errno, "open `/proc/self/exe`");
        struct stat st;
        if (fstat(self, &st) < 0)
                return berth_error_set(err, errno, "stat `/proc/self/exe`");
        _cleanup_close_ int mfd = memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return berth_error_set(err, errno, "memfd_create");
        for (off_t off = 0; off < st.st_size;) {
                ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
                if (n <= 0)
                        return berth_error_set(err, n < 0 ? errno : EIO, "copy runtime binary");
        }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return berth_error_set(err, errno, "seal runtime copy");
        if (setenv(SEALED_ENV, "1", 1) < 0)
                return berth_error_set(err, errno, "setenv");
        extern char **environ;
        syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
        int e = errno;
        unsetenv(SEALED_ENV);
        return berth_error_set(err, e, "re-exec from a sealed copy");
}
