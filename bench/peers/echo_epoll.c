/*
 * The machine's ceiling for the echo workload (issue 8): a minimal TCP echo server in C on epoll,
 * single thread, level-triggered, non-blocking sockets. bench/compare.py builds it with the
 * machine's gcc (gcc -O2) into a temporary directory.
 *
 * Usage: echo_epoll --port P     (0 picks a free port)
 * Prints {"port": N} on its first line once it listens on 127.0.0.1:N, and serves until SIGTERM or
 * SIGINT (the default action: the process ends).
 *
 * Per readable connection: one read of up to 64 KiB, then write it back. What the kernel does not
 * take at once is kept in the connection's pending buffer; while anything is pending the connection
 * waits for EPOLLOUT instead of EPOLLIN (it reads nothing more until its echo is out), so memory
 * stays bounded by one read per connection. EOF or an error closes the connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct conn {
    int fd;
    size_t pending_off, pending_len;
    char *pending; /* READ_SIZE bytes once needed */
};

static char buffer[READ_SIZE];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void close_conn(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

static void watch(int ep, struct conn *c, unsigned events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &ev) < 0)
        die("epoll_ctl");
}

/* Sends what is pending; returns -1 on error, 0 when some is still pending, 1 when all went out. */
static int flush(struct conn *c) {
    while (c->pending_len > 0) {
        ssize_t n = send(c->fd, c->pending + c->pending_off, c->pending_len, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->pending_off += (size_t)n;
        c->pending_len -= (size_t)n;
    }
    return 1;
}

static void on_readable(int ep, struct conn *c) {
    ssize_t n = recv(c->fd, buffer, READ_SIZE, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close_conn(ep, c);
        return;
    }
    if (n < 0)
        return;
    ssize_t sent = send(c->fd, buffer, (size_t)n, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            close_conn(ep, c);
            return;
        }
        sent = 0;
    }
    if (sent < n) {
        if (!c->pending && !(c->pending = malloc(READ_SIZE)))
            die("malloc");
        memcpy(c->pending, buffer + sent, (size_t)(n - sent));
        c->pending_off = 0;
        c->pending_len = (size_t)(n - sent);
        watch(ep, c, EPOLLOUT, EPOLL_CTL_MOD);
    }
}

static void on_writable(int ep, struct conn *c) {
    int done = flush(c);
    if (done < 0)
        close_conn(ep, c);
    else if (done > 0)
        watch(ep, c, EPOLLIN, EPOLL_CTL_MOD);
}

int main(int argc, char **argv) {
    int port = -1;
    for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port P (0 picks a free port)\n", argv[0]);
        return 2;
    }

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0)
        die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind");
    if (listen(listener, 1024) < 0)
        die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
        die("getsockname");
    printf("{\"port\": %d}\n", ntohs(addr.sin_port));
    fflush(stdout);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) < 0)
        die("epoll_ctl");

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int ready = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < ready; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue; /* EAGAIN, or e.g. EMFILE: retried on the next event (a benchmark peer: no back-off) */
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (!(c = calloc(1, sizeof *c)))
                    die("calloc");
                c->fd = fd;
                watch(ep, c, EPOLLIN, EPOLL_CTL_ADD);
            } else if (events[i].events & EPOLLOUT) {
                on_writable(ep, c);
            } else {
                on_readable(ep, c); /* EPOLLIN, EPOLLHUP or EPOLLERR: recv reports which */
            }
        }
    }
}
