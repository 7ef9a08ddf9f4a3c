/* Test helper run inside containers: send argv[1] to $NOTIFY_SOCKET (what sd_notify does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        const char *path = getenv("NOTIFY_SOCKET");
        if (argc != 2 || !path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                fprintf(stderr, "usage: NOTIFY_SOCKET=path sdnotify MESSAGE\n");
                return 2;
        }
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 ||
            sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("sdnotify");
                return 1;
        }
        close(fd);
        return 0;
}
