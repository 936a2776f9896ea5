/*
 * churn-load: new connections per second, in C, so that the server and not the
 * generator is the bottleneck on a small machine (`npm run bench:balance`).
 *
 *   churn-load -p PORT [-h 127.0.0.1] [-c 16] [-s 4] [-r 'Processed: x']
 *
 * Each of C loops, on one epoll thread: connects from a rotating loopback source
 * address (127.0.0.2 to 127.0.0.251, so the client side's TIME_WAIT does not use
 * up one address's ports), reads the greeting line, sends "x", reads the reply
 * (REPLY, default "Processed: x"), half-closes, waits for the server to close,
 * closes, and starts over. The same exchange as the JavaScript client it
 * replaces. A connection that fails, or sends anything else, is counted as a
 * failure and replaced.
 *
 * stdout gets one JSON object: connections completed, failures, connections per
 * second over the S seconds, and the generator's own CPU seconds.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, GREETING, REPLY, CLOSING };

typedef struct {
  int fd;
  enum state state;
  size_t got;           /* bytes of the reply read so far */
} conn;

static int port = 0, loops = 16;
static double seconds = 4;
static const char *host = "127.0.0.1";
static const char *reply = "Processed: x";
static size_t reply_len;
static unsigned next_source = 0;
static long completed = 0, failures = 0;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(3);
}

/* Starts a new connection on `c` and registers it with `ep`. */
static void start(int ep, conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in local = {0};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(0x7f000002u + (next_source++ % 250));
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "churn-load: bad host %s (IPv4 address expected)\n", host);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  c->fd = fd;
  c->state = CONNECTING;
  c->got = 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

/* Ends `c`'s connection (counted as `ok` or a failure) and starts the next one. */
static void finish(int ep, conn *c, int ok) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (ok) completed++;
  else failures++;
  start(ep, c);
}

/* Handles readiness on `c`. */
static void step(int ep, conn *c, uint32_t events) {
  char buf[4096];
  if (c->state == CONNECTING) {
    if (events & (EPOLLERR | EPOLLHUP)) return finish(ep, c, 0);
    if (!(events & EPOLLOUT)) return;
    c->state = GREETING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    if (!(events & EPOLLIN)) return;
  }
  for (;;) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return finish(ep, c, 0);
    }
    if (n == 0) return finish(ep, c, c->state == CLOSING);
    size_t i = 0;
    if (c->state == GREETING) {
      const char *nl = memchr(buf, '\n', (size_t)n);
      if (!nl) continue; /* the rest of the greeting comes in the next read */
      i = (size_t)(nl - buf) + 1;
      c->state = REPLY;
      if (write(c->fd, "x", 1) != 1) return finish(ep, c, 0);
    }
    if (c->state == REPLY) {
      size_t take = (size_t)n - i;
      if (c->got + take > reply_len || memcmp(buf + i, reply + c->got, take) != 0) return finish(ep, c, 0);
      c->got += take;
      if (c->got == reply_len) {
        c->state = CLOSING;
        shutdown(c->fd, SHUT_WR);
      }
    } else if (c->state == CLOSING && (size_t)n > i) {
      return finish(ep, c, 0); /* bytes after the reply */
    }
  }
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "p:h:c:s:r:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'h': host = optarg; break;
      case 'c': loops = atoi(optarg); break;
      case 's': seconds = atof(optarg); break;
      case 'r': reply = optarg; break;
      default:
        fprintf(stderr, "usage: churn-load -p PORT [-h 127.0.0.1] [-c loops=16] [-s seconds=4] [-r reply]\n");
        return 2;
    }
  }
  if (port <= 0 || loops <= 0 || seconds <= 0) {
    fprintf(stderr, "usage: churn-load -p PORT [-h 127.0.0.1] [-c loops=16] [-s seconds=4] [-r reply]\n");
    return 2;
  }
  reply_len = strlen(reply);
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  conn *conns = calloc((size_t)loops, sizeof(conn));
  for (int i = 0; i < loops; i++) start(ep, &conns[i]);
  struct epoll_event events[256];
  double started = now(), deadline = started + seconds;
  while (now() < deadline) {
    int k = epoll_wait(ep, events, 256, 100);
    for (int e = 0; e < k; e++) step(ep, events[e].data.ptr, events[e].events);
  }
  double elapsed = now() - started;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  printf("{\"connections\":%ld,\"failures\":%ld,\"perSecond\":%.1f,\"cpuSeconds\":%.3f,\"seconds\":%.3f}\n", completed, failures,
         (double)completed / elapsed, cpu, elapsed);
  return 0;
}
