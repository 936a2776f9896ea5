/*
 * line-load: a closed-loop TCP load generator for line protocols, in C, so that
 * the server and not the generator is the bottleneck on a small machine.
 *
 *   line-load -p PORT [-h 127.0.0.1] [-c 50] [-d 1] [-s 5] [-w 1] [-t 1] [-l 64]
 *             [-g] [-x PREFIX]
 *
 * Opens C connections (spread over T threads, each with its own epoll), keeps D
 * requests in flight on each (the first D in one write, then one new request for
 * each reply; the requests a read completes leave in one write), for W seconds of
 * warm-up and then S measured seconds. A request is L bytes of 'x' and "\r\n".
 *
 * Replies: by default a reply ends at '\n' (`lines`). With -x PREFIX the server is
 * an echo that puts PREFIX before each chunk it answers (`processed`: -x 'Processed: ');
 * pipelined requests may come back under one prefix, so the prefix is stripped
 * and every L+2 echoed bytes complete one request. -g reads and skips one line per
 * connection (a greeting) before the load starts.
 *
 * stderr gets "line-load: measuring" when the window opens and "line-load:
 * finished" when it closes (so a caller can sample the server's CPU exactly over
 * the window); stdout gets one JSON object: replies/s, latency percentiles in µs
 * (from a log-linear histogram, about 3% wide buckets; a closed loop, so
 * coordinated omission applies), errors, and the generator's own CPU.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>

#define TOOL "line-load"

struct proto {
  int greeted;          /* greeting skipped (or none expected) */
  size_t matched;       /* prefix mode: bytes of the current prefix matched (0: in echo) */
  size_t echoed;        /* prefix mode: echoed bytes of the oldest request */
};

#include "load-common.h"

/* Options of this tool (the common ones are in load-common.h). */
static int greeting = 0;
static const char *prefix = NULL;
static size_t prefix_len = 0;

static char *request;   /* one request */
static size_t request_len;
static char *burst;     /* `depth` requests back to back */

/* Consumes bytes read from `c`; returns how many replies they completed. */
static int consume(worker *w, conn *c, const char *p, size_t n, uint64_t t) {
  int done = 0;
  size_t i = 0;
  if (!c->p.greeted) {
    const char *nl = memchr(p, '\n', n);
    if (!nl) return 0;
    c->p.greeted = 1;
    i = (size_t)(nl - p) + 1;
  }
  if (!prefix) {
    for (;;) {
      const char *nl = memchr(p + i, '\n', n - i);
      if (!nl) break;
      i = (size_t)(nl - p) + 1;
      if (c->inflight > 0) {
        complete(w, c, t);
        done++;
      }
    }
    return done;
  }
  while (i < n) {
    if (c->p.matched < prefix_len && (c->p.matched > 0 || p[i] == prefix[0])) {
      if (p[i] != prefix[c->p.matched]) {
        c->dead = 1;
        w->errors++;
        return done;
      }
      i++;
      if (++c->p.matched == prefix_len) c->p.matched = 0;
      continue;
    }
    size_t take = n - i;
    const char *next = memchr(p + i, prefix[0], take);
    if (next) take = (size_t)(next - (p + i));
    c->p.echoed += take;
    i += take;
    while (c->p.echoed >= request_len && c->inflight > 0) {
      c->p.echoed -= request_len;
      complete(w, c, t);
      done++;
    }
  }
  return done;
}

static void *run(void *arg) {
  worker *w = arg;
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  w->conns = calloc((size_t)w->count, sizeof(conn));
  for (int i = 0; i < w->count; i++) {
    conn *c = &w->conns[i];
    c->request = request;
    c->burst = burst;
    c->request_len = request_len;
    conn_open(c);
    c->p.greeted = !greeting;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  }
  /* Connect (and greet) every connection before the load starts. */
  int pending = w->count;
  struct epoll_event events[256];
  char buf[65536];
  while (pending > 0) {
    int k = epoll_wait(ep, events, 256, 10000);
    if (k == 0) {
      fprintf(stderr, "line-load: %d connections not ready after 10 s\n", pending);
      exit(3);
    }
    for (int e = 0; e < k; e++) {
      conn *c = events[e].data.ptr;
      if (c->dead) continue;
      if (events[e].events & (EPOLLERR | EPOLLHUP)) {
        fprintf(stderr, "line-load: connect to %s:%d failed\n", host, port);
        exit(3);
      }
      if ((events[e].events & EPOLLIN) && !c->p.greeted) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r <= 0) {
          fprintf(stderr, "line-load: connection closed before its greeting\n");
          exit(3);
        }
        consume(w, c, buf, (size_t)r, 0);
      }
      if (c->p.greeted && !c->ready) {
        c->ready = 1;
        pending--;
      }
    }
  }
  for (int i = 0; i < w->count; i++) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &w->conns[i]};
    epoll_ctl(ep, EPOLL_CTL_MOD, w->conns[i].fd, &ev);
  }
  await_start();
  load_loop(w, ep, consume);
  return NULL;
}

static void usage(void) {
  fprintf(stderr,
          "usage: line-load -p PORT [-h 127.0.0.1] [-c connections=50] [-d depth=1] [-s seconds=5]\n"
          "                 [-w warmup=1] [-t threads=1] [-l payload=64] [-g] [-x reply-prefix]\n");
  exit(2);
}

int main(int argc, char **argv) {
  payload = 64; /* -l: 64 bytes of 'x' and "\r\n" */
  int opt;
  while ((opt = getopt(argc, argv, "p:h:c:d:s:w:t:l:gx:")) != -1) {
    switch (opt) {
      case 'g': greeting = 1; break;
      case 'x': prefix = optarg; prefix_len = strlen(optarg); break;
      default:
        if (!common_option(opt, optarg)) usage();
    }
  }
  if (port == 0 || seconds <= 0 || warmup < 0) usage();
  if (prefix && prefix_len == 0) prefix = NULL;
  if (prefix && prefix[0] == 'x') {
    fprintf(stderr, "line-load: the reply prefix must not start with 'x' (the payload byte)\n");
    exit(2);
  }
  request_len = (size_t)payload + 2;
  request = malloc(request_len);
  memset(request, 'x', (size_t)payload);
  memcpy(request + payload, "\r\n", 2);
  burst = malloc(request_len * (size_t)depth);
  for (int i = 0; i < depth; i++) memcpy(burst + (size_t)i * request_len, request, request_len);
  run_load(run, 0, "");
  return 0;
}
