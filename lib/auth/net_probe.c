/* TCP connect diagnosis (net_probe.h). Runs only after a failed connect,
 * so it costs nothing on the good path. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "aioendpoint/common.h"
#include "net_probe.h"

/* One address: 0 connected, else the errno (ETIMEDOUT on our timeout). */
static int connect_one(const struct addrinfo *ai, int timeout_ms, int *fd_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return errno;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            int pr;
            do
                pr = poll(&p, 1, timeout_ms);
            while (pr < 0 && errno == EINTR);
            socklen_t sl = sizeof e;
            if (pr == 0)
                e = ETIMEDOUT;
            else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
                e = errno ? errno : EIO;
        }
    }
    if (e != 0) {
        close(fd);
        return e;
    }
    fcntl(fd, F_SETFL, fl);
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    *fd_out = fd;
    return 0;
}

int aioe__auth_tcp_probe(const char *host, uint16_t port, int timeout_ms, int *fd,
                    char *err, size_t errlen)
{
    char service[8];
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    snprintf(service, sizeof service, "%u", (unsigned)port);
    bool v6 = strchr(host, ':') != NULL;
    const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
    if (fd)
        *fd = -1;
    int g = getaddrinfo(host, service, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve host name %s%s%s:%u: %s", lb, host,
                 rb, (unsigned)port, g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        /* EAI_AGAIN is a temporary failure, still a resolution failure */
        return AIOE_ERR_NAME_RESOLUTION;
    }
    int last = 0, got = -1;
    bool refused = false, timed_out = false;
    for (struct addrinfo *ai = res; ai && got < 0; ai = ai->ai_next) {
        int s = -1;
        last = connect_one(ai, timeout_ms, &s);
        if (last == 0)
            got = s;
        refused |= last == ECONNREFUSED;
        timed_out |= last == ETIMEDOUT;
    }
    freeaddrinfo(res);
    if (got >= 0) {
        if (fd)
            *fd = got;
        else
            close(got);
        return AIOE_OK;
    }
    if (refused) {
        snprintf(err, errlen, "connection refused by %s%s%s:%u (nothing listens "
                 "on that port)", lb, host, rb, (unsigned)port);
        return AIOE_ERR_CONNECTION_REFUSED;
    }
    if (timed_out) {
        snprintf(err, errlen, "TCP connect to %s%s%s:%u timed out after %d ms (no "
                 "answer: host down, firewall, or wrong address)", lb, host, rb,
                 (unsigned)port, timeout_ms);
        return AIOE_ERR_TIMEOUT;
    }
    snprintf(err, errlen, "cannot connect to %s%s%s:%u: %s", lb, host, rb,
             (unsigned)port, strerror(last));
    return AIOE_ERR_CONNECTION;
}
