/* docker-init: the init process of `--init` containers (tini's job). PID 1 in a pid namespace
 * gets no default signal actions and inherits every orphan: it runs the command as its child,
 * forwards the signals it receives to it, reaps every zombie, and exits with the command's
 * status (128+signal when the command was killed).
 */
#include "shim/internal.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>

int shim_init_main(char **cmd)
{
        sigset_t all, old;
        sigfillset(&all);
        /* faults are about ourselves, not something to pass on */
        static const int sync_sigs[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS};
        for (size_t i = 0; i < ARRAY_SIZE(sync_sigs); i++)
                sigdelset(&all, sync_sigs[i]);
        sigprocmask(SIG_SETMASK, &all, &old);
        if (getpid() != 1)
                prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        pid_t child = fork();
        if (child < 0) {
                fprintf(stderr, "docker-init: fork: %s\n", strerror(errno));
                return 1;
        }
        if (child == 0) {
                /* its own process group, in the foreground of the terminal if there is one
                 * (SIGTTOU is still blocked here, so tcsetpgrp works from the background) */
                setpgid(0, 0);
                if (isatty(STDIN_FILENO))
                        tcsetpgrp(STDIN_FILENO, getpid());
                sigprocmask(SIG_SETMASK, &old, NULL);
                execvp(cmd[0], cmd);
                int e = errno;
                fprintf(stderr, "docker-init: exec %s: %s\n", cmd[0], strerror(e));
                _exit(e == ENOENT ? 127 : 126);
        }
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&all, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        kill(child, sig);
                        continue;
                }
                for (;;) {
                        int status;
                        pid_t w = waitpid(-1, &status, WNOHANG);
                        if (w <= 0)
                                break;
                        if (w != child)
                                continue;
                        if (WIFEXITED(status))
                                return WEXITSTATUS(status);
                        if (WIFSIGNALED(status))
                                return 128 + WTERMSIG(status);
                }
        }
}
