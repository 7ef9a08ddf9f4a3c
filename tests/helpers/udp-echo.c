/* Test helper run inside containers (busybox has no UDP server): answer every datagram on
 * 0.0.0.0:PORT with "echo:" and the datagram, and print what came to stdout. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: udp-echo PORT\n");
                return 2;
        }
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(argv[1]))};
        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
                perror("udp-echo: bind");
                return 1;
        }
        printf("listening\n");
        fflush(stdout);
        for (;;) {
                char buf[2048], out[2100];
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                printf("got %s\n", buf);
                fflush(stdout);
                int m = snprintf(out, sizeof(out), "echo:%s", buf);
                sendto(fd, out, (size_t)m, 0, (struct sockaddr *)&from, fl);
        }
}
