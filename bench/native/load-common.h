/*
 * load-common.h: what line-load.c and ws-load.c share. Both are closed-loop
 * load generators: C connections over T threads (each with its own epoll), D
 * requests in flight on each, W seconds of warm-up, then S measured seconds,
 * then one JSON line on stdout. This header holds everything but the protocol:
 * the latency histogram, the options every tool takes, the connection's send
 * side and its ring of send times, the load loop, the phases (with their
 * markers on stderr) and the result.
 *
 * A tool is one C file that, before including this header, defines
 *   TOOL          its name, a string literal (stderr messages, the JSON's "tool"), and
 *   struct proto  its per-connection protocol state (conn.p),
 * and then supplies the protocol: how a connection gets ready (greeting,
 * upgrade), what a request is (conn.request / conn.burst) and how replies are
 * counted (a `consume_fn` given to load_loop).
 *
 * Static functions in a header: each tool is a single translation unit.
 */
#ifndef LOAD_COMMON_H
#define LOAD_COMMON_H

#ifndef TOOL
#error "define TOOL (the tool's name) before including load-common.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Histogram: 64 magnitudes (by the highest set bit) x 32 linear sub-buckets. */
#define SUB_BITS 5
#define SUBS (1 << SUB_BITS)
#define BUCKETS (64 * SUBS)

typedef struct {
  uint64_t counts[BUCKETS];
  uint64_t total;
  uint64_t max;
} histogram;

static int bucket_of(uint64_t v) {
  if (v < SUBS) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - SUB_BITS;
  return (shift + 1) * SUBS + (int)((v >> shift) & (SUBS - 1));
}

static uint64_t bucket_value(int b) {
  if (b < SUBS) return (uint64_t)b;
  int shift = b / SUBS - 1;
  uint64_t sub = (uint64_t)(b % SUBS);
  /* middle of the bucket */
  return ((SUBS + sub) << shift) + ((1ull << shift) >> 1);
}

static void hist_add(histogram *h, uint64_t v) {
  h->counts[bucket_of(v)]++;
  h->total++;
  if (v > h->max) h->max = v;
}

static void hist_merge(histogram *into, const histogram *h) {
  for (int b = 0; b < BUCKETS; b++) into->counts[b] += h->counts[b];
  into->total += h->total;
  if (h->max > into->max) into->max = h->max;
}

static uint64_t hist_percentile(const histogram *h, double p) {
  if (h->total == 0) return 0;
  uint64_t want = (uint64_t)(p / 100.0 * (double)h->total);
  if (want == 0) want = 1;
  uint64_t seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    seen += h->counts[b];
    if (seen >= want) return bucket_value(b);
  }
  return h->max;
}

/* Options every tool takes (-p -h -c -d -s -w -t -l); `payload`'s default is the tool's. */
static const char *host = "127.0.0.1";
static int port = 0, connections = 50, depth = 1, threads = 1, payload;
static double seconds = 5, warmup = 1;

static void die(const char *what) {
  perror(what);
  exit(2);
}

static int positive(const char *s, const char *name) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 1 || v > 1000000) {
    fprintf(stderr, TOOL ": %s must be a positive integer, got '%s'\n", name, s);
    exit(2);
  }
  return (int)v;
}

/* Takes one of the common options from getopt; returns 0 when `opt` is not one of them. */
static int common_option(int opt, const char *arg) {
  switch (opt) {
    case 'p': port = positive(arg, "-p"); return 1;
    case 'h': host = arg; return 1;
    case 'c': connections = positive(arg, "-c"); return 1;
    case 'd': depth = positive(arg, "-d"); return 1;
    case 's': seconds = atof(arg); return 1;
    case 'w': warmup = atof(arg); return 1;
    case 't': threads = positive(arg, "-t"); return 1;
    case 'l': payload = positive(arg, "-l"); return 1;
    default: return 0;
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double seconds_of(struct rusage *u) {
  return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6 + (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

/* Phases, shared by the threads: 0 connecting, 1 warm-up, 2 measuring, 3 done. */
static atomic_int phase = 0;
static atomic_int ready_threads = 0;

typedef struct {
  int fd;
  int ready;            /* ready for the load (connected, greeted, upgraded): counted once before it starts */
  int dead;
  uint64_t *sent;       /* send times of the requests in flight, a ring of `depth` */
  int head, inflight;
  const char *request;  /* one request, `request_len` bytes */
  const char *burst;    /* `depth` requests back to back */
  size_t request_len;
  size_t unsent;        /* bytes of `out` not yet written (a full socket buffer) */
  char *out;
  size_t out_cap;
  struct proto p;       /* the tool's own state */
} conn;

typedef struct {
  int index, count;
  conn *conns;
  histogram hist;
  uint64_t replies, errors;
  pthread_t thread;
} worker;

/* Consumes bytes read from `c` (read at `t`); returns how many replies they completed (each through complete()). */
typedef int (*consume_fn)(worker *w, conn *c, const char *p, size_t n, uint64_t t);

static int open_conn(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, TOOL ": bad host %s (IPv4 address expected)\n", host);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  return fd;
}

/* Opens `c` (connect in progress) with room for its requests: set c->request first (none: no output buffer). */
static void conn_open(conn *c) {
  c->fd = open_conn();
  c->sent = calloc((size_t)depth, sizeof(uint64_t));
  c->out_cap = c->request_len * (size_t)depth * 2;
  c->out = c->out_cap ? malloc(c->out_cap) : NULL;
}

/* Queues `n` new requests (their send time `t`) and writes what the socket takes. */
static void send_requests(worker *w, conn *c, int n, uint64_t t) {
  size_t bytes = (size_t)n * c->request_len;
  if (c->unsent + bytes > c->out_cap) {
    c->out_cap = (c->unsent + bytes) * 2;
    c->out = realloc(c->out, c->out_cap);
  }
  if (n == depth) memcpy(c->out + c->unsent, c->burst, bytes);
  else
    for (int i = 0; i < n; i++) memcpy(c->out + c->unsent + (size_t)i * c->request_len, c->request, c->request_len);
  c->unsent += bytes;
  for (int i = 0; i < n; i++) {
    c->sent[(c->head + c->inflight) % depth] = t;
    c->inflight++;
  }
  while (c->unsent > 0) {
    ssize_t k = write(c->fd, c->out, c->unsent);
    if (k < 0) {
      if (errno == EAGAIN) break;
      c->dead = 1;
      w->errors++;
      return;
    }
    memmove(c->out, c->out + k, c->unsent - (size_t)k);
    c->unsent -= (size_t)k;
  }
}

/* The oldest request in flight on `c` got its reply at `t`. */
static void complete(worker *w, conn *c, uint64_t t) {
  uint64_t sent = c->sent[c->head];
  c->head = (c->head + 1) % depth;
  c->inflight--;
  if (atomic_load_explicit(&phase, memory_order_relaxed) == 2) {
    w->replies++;
    hist_add(&w->hist, (t - sent) / 1000);
  }
}

/* A thread whose connections are all ready reports it, then waits for the warm-up to start. */
static void await_start(void) {
  atomic_fetch_add(&ready_threads, 1);
  while (atomic_load(&phase) == 0) usleep(200);
}

static void close_all(worker *w, int ep) {
  for (int i = 0; i < w->count; i++) close(w->conns[i].fd);
  close(ep);
}

/*
 * The load on a thread's ready connections (registered in `ep` for EPOLLIN |
 * EPOLLRDHUP): `depth` requests on each, then one new request for each reply
 * (those a read completes leave in one write), until the phases end; then
 * closes the connections and `ep`.
 */
static void load_loop(worker *w, int ep, consume_fn consume) {
  struct epoll_event events[256];
  char buf[65536];
  uint64_t t0 = now_ns();
  for (int i = 0; i < w->count; i++) send_requests(w, &w->conns[i], depth, t0);
  while (atomic_load_explicit(&phase, memory_order_relaxed) != 3) {
    int k = epoll_wait(ep, events, 256, 50);
    if (k < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < k; e++) {
      conn *c = events[e].data.ptr;
      if (c->dead) continue;
      if (events[e].events & EPOLLOUT) {
        send_requests(w, c, 0, 0);
        if (c->unsent == 0) {
          struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (!(events[e].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        c->dead = 1;
        w->errors++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        continue;
      }
      uint64_t t = now_ns();
      int done = consume(w, c, buf, (size_t)r, t);
      if (done > 0 && !c->dead) {
        int waiting = c->unsent > 0;
        send_requests(w, c, done, t);
        if (!waiting && c->unsent > 0) {
          struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
    }
  }
  close_all(w, ep);
}

/*
 * Runs the whole load and prints its result: `threads` threads of `run` (each
 * a worker with its share of the connections) get their connections ready and
 * call await_start(); then warm-up, the measured window between TOOL
 * ": measuring" and TOOL ": finished" on stderr (so a caller can sample the
 * server's CPU exactly over it), and the join. stdout gets one JSON object:
 * replies/s, latency percentiles in µs, errors, the generator's own CPU over
 * the window; `extra_json` (",\"name\":value" or "") stands after "payload".
 *
 * `idle`: the connections are held, not loaded: no warm-up, and TOOL ": idle"
 * instead of TOOL ": measuring".
 */
static void run_load(void *(*run)(void *), int idle, const char *extra_json) {
  if (threads > connections) threads = connections;
  worker *ws = calloc((size_t)threads, sizeof(worker));
  for (int i = 0; i < threads; i++) {
    ws[i].index = i;
    ws[i].count = connections / threads + (i < connections % threads);
    pthread_create(&ws[i].thread, NULL, run, &ws[i]);
  }
  while (atomic_load(&ready_threads) < threads) usleep(1000);
  struct rusage u0, u1;
  atomic_store(&phase, 1);
  if (idle) {
    fprintf(stderr, TOOL ": idle\n");
    fflush(stderr);
  } else
    usleep((useconds_t)(warmup * 1e6));
  getrusage(RUSAGE_SELF, &u0);
  uint64_t start = now_ns();
  atomic_store(&phase, 2);
  if (!idle) {
    fprintf(stderr, TOOL ": measuring\n");
    fflush(stderr);
  }
  usleep((useconds_t)(seconds * 1e6));
  atomic_store(&phase, 3);
  uint64_t end = now_ns();
  getrusage(RUSAGE_SELF, &u1);
  fprintf(stderr, TOOL ": finished\n");
  fflush(stderr);
  for (int i = 0; i < threads; i++) pthread_join(ws[i].thread, NULL);

  histogram *all = calloc(1, sizeof(histogram));
  uint64_t replies = 0, errors = 0;
  for (int i = 0; i < threads; i++) {
    replies += ws[i].replies;
    errors += ws[i].errors;
    hist_merge(all, &ws[i].hist);
  }
  double elapsed = (double)(end - start) / 1e9;
  double cpu = seconds_of(&u1) - seconds_of(&u0);
  printf("{\"tool\":\"" TOOL "\",\"connections\":%d,\"depth\":%d,\"threads\":%d,\"payload\":%d%s,"
         "\"seconds\":%.3f,\"replies\":%llu,\"throughput\":%.1f,"
         "\"latencyUs\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu},"
         "\"errors\":%llu,\"cpu\":{\"seconds\":%.3f,\"percent\":%.1f}}\n",
         connections, depth, threads, payload, extra_json, elapsed, (unsigned long long)replies,
         (double)replies / elapsed, (unsigned long long)hist_percentile(all, 50),
         (unsigned long long)hist_percentile(all, 90), (unsigned long long)hist_percentile(all, 99),
         (unsigned long long)all->max, (unsigned long long)errors, cpu, cpu / elapsed * 100);
}

#endif
