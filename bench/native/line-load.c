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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

/* Options. */
static const char *host = "127.0.0.1";
static int port = 0, connections = 50, depth = 1, threads = 1, payload = 64, greeting = 0;
static double seconds = 5, warmup = 1;
static const char *prefix = NULL;
static size_t prefix_len = 0;

static char *request;   /* one request */
static size_t request_len;
static char *burst;     /* `depth` requests back to back */

/* Phases, shared by the threads: 0 connecting, 1 warm-up, 2 measuring, 3 done. */
static atomic_int phase = 0;
static atomic_int ready_threads = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct {
  int fd;
  int greeted;          /* greeting skipped (or none expected) */
  int ready;            /* connected and greeted: counted once before the load starts */
  int dead;
  uint64_t *sent;       /* send times of the requests in flight, a ring of `depth` */
  int head, inflight;
  size_t matched;       /* prefix mode: bytes of the current prefix matched (0: in echo) */
  size_t echoed;        /* prefix mode: echoed bytes of the oldest request */
  size_t unsent;        /* bytes of `out` not yet written (a full socket buffer) */
  char *out;
  size_t out_cap;
} conn;

typedef struct {
  int index, first, count;
  conn *conns;
  histogram hist;
  uint64_t replies, errors;
  pthread_t thread;
} worker;

static void die(const char *what) {
  perror(what);
  exit(2);
}

static int open_conn(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "line-load: bad host %s (IPv4 address expected)\n", host);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  return fd;
}

/* Queues `n` new requests (their send time `t`) and writes what the socket takes. */
static void send_requests(worker *w, conn *c, int n, uint64_t t) {
  size_t bytes = (size_t)n * request_len;
  if (c->unsent + bytes > c->out_cap) {
    c->out_cap = (c->unsent + bytes) * 2;
    c->out = realloc(c->out, c->out_cap);
  }
  if (n == depth) memcpy(c->out + c->unsent, burst, bytes);
  else
    for (int i = 0; i < n; i++) memcpy(c->out + c->unsent + (size_t)i * request_len, request, request_len);
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

/* One reply completed at `t`. */
static void complete(worker *w, conn *c, uint64_t t) {
  uint64_t sent = c->sent[c->head];
  c->head = (c->head + 1) % depth;
  c->inflight--;
  if (atomic_load_explicit(&phase, memory_order_relaxed) == 2) {
    w->replies++;
    hist_add(&w->hist, (t - sent) / 1000);
  }
}

/* Consumes bytes read from `c`; returns how many replies they completed. */
static int consume(worker *w, conn *c, const char *p, size_t n, uint64_t t) {
  int done = 0;
  size_t i = 0;
  if (!c->greeted) {
    const char *nl = memchr(p, '\n', n);
    if (!nl) return 0;
    c->greeted = 1;
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
    if (c->matched < prefix_len && (c->matched > 0 || p[i] == prefix[0])) {
      if (p[i] != prefix[c->matched]) {
        c->dead = 1;
        w->errors++;
        return done;
      }
      i++;
      if (++c->matched == prefix_len) c->matched = 0;
      continue;
    }
    size_t take = n - i;
    const char *next = memchr(p + i, prefix[0], take);
    if (next) take = (size_t)(next - (p + i));
    c->echoed += take;
    i += take;
    while (c->echoed >= request_len && c->inflight > 0) {
      c->echoed -= request_len;
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
    c->fd = open_conn();
    c->greeted = !greeting;
    c->sent = calloc((size_t)depth, sizeof(uint64_t));
    c->out_cap = request_len * (size_t)depth * 2;
    c->out = malloc(c->out_cap);
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
      if ((events[e].events & EPOLLIN) && !c->greeted) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r <= 0) {
          fprintf(stderr, "line-load: connection closed before its greeting\n");
          exit(3);
        }
        consume(w, c, buf, (size_t)r, 0);
      }
      if (c->greeted && !c->ready) {
        c->ready = 1;
        pending--;
      }
    }
  }
  for (int i = 0; i < w->count; i++) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &w->conns[i]};
    epoll_ctl(ep, EPOLL_CTL_MOD, w->conns[i].fd, &ev);
  }
  atomic_fetch_add(&ready_threads, 1);
  while (atomic_load(&phase) == 0) usleep(200);
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
  for (int i = 0; i < w->count; i++) close(w->conns[i].fd);
  close(ep);
  return NULL;
}

static void usage(void) {
  fprintf(stderr,
          "usage: line-load -p PORT [-h 127.0.0.1] [-c connections=50] [-d depth=1] [-s seconds=5]\n"
          "                 [-w warmup=1] [-t threads=1] [-l payload=64] [-g] [-x reply-prefix]\n");
  exit(2);
}

static int positive(const char *s, const char *name) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 1 || v > 1000000) {
    fprintf(stderr, "line-load: %s must be a positive integer, got '%s'\n", name, s);
    exit(2);
  }
  return (int)v;
}

static double seconds_of(struct rusage *u) {
  return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6 + (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "p:h:c:d:s:w:t:l:gx:")) != -1) {
    switch (opt) {
      case 'p': port = positive(optarg, "-p"); break;
      case 'h': host = optarg; break;
      case 'c': connections = positive(optarg, "-c"); break;
      case 'd': depth = positive(optarg, "-d"); break;
      case 's': seconds = atof(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 't': threads = positive(optarg, "-t"); break;
      case 'l': payload = positive(optarg, "-l"); break;
      case 'g': greeting = 1; break;
      case 'x': prefix = optarg; prefix_len = strlen(optarg); break;
      default: usage();
    }
  }
  if (port == 0 || seconds <= 0 || warmup < 0) usage();
  if (prefix && prefix_len == 0) prefix = NULL;
  if (prefix && prefix[0] == 'x') {
    fprintf(stderr, "line-load: the reply prefix must not start with 'x' (the payload byte)\n");
    exit(2);
  }
  if (threads > connections) threads = connections;
  request_len = (size_t)payload + 2;
  request = malloc(request_len);
  memset(request, 'x', (size_t)payload);
  memcpy(request + payload, "\r\n", 2);
  burst = malloc(request_len * (size_t)depth);
  for (int i = 0; i < depth; i++) memcpy(burst + (size_t)i * request_len, request, request_len);

  worker *ws = calloc((size_t)threads, sizeof(worker));
  int first = 0;
  for (int i = 0; i < threads; i++) {
    ws[i].index = i;
    ws[i].first = first;
    ws[i].count = connections / threads + (i < connections % threads);
    first += ws[i].count;
    pthread_create(&ws[i].thread, NULL, run, &ws[i]);
  }
  while (atomic_load(&ready_threads) < threads) usleep(1000);
  struct rusage u0, u1;
  atomic_store(&phase, 1);
  usleep((useconds_t)(warmup * 1e6));
  getrusage(RUSAGE_SELF, &u0);
  uint64_t start = now_ns();
  atomic_store(&phase, 2);
  fprintf(stderr, "line-load: measuring\n");
  fflush(stderr);
  usleep((useconds_t)(seconds * 1e6));
  atomic_store(&phase, 3);
  uint64_t end = now_ns();
  getrusage(RUSAGE_SELF, &u1);
  fprintf(stderr, "line-load: finished\n");
  fflush(stderr);
  for (int i = 0; i < threads; i++) pthread_join(ws[i].thread, NULL);

  histogram *all = calloc(1, sizeof(histogram));
  uint64_t replies = 0, errors = 0;
  for (int i = 0; i < threads; i++) {
    replies += ws[i].replies;
    errors += ws[i].errors;
    for (int b = 0; b < BUCKETS; b++) all->counts[b] += ws[i].hist.counts[b];
    all->total += ws[i].hist.total;
    if (ws[i].hist.max > all->max) all->max = ws[i].hist.max;
  }
  double elapsed = (double)(end - start) / 1e9;
  double cpu = seconds_of(&u1) - seconds_of(&u0);
  printf("{\"tool\":\"line-load\",\"connections\":%d,\"depth\":%d,\"threads\":%d,\"payload\":%d,"
         "\"seconds\":%.3f,\"replies\":%llu,\"throughput\":%.1f,"
         "\"latencyUs\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu},"
         "\"errors\":%llu,\"cpu\":{\"seconds\":%.3f,\"percent\":%.1f}}\n",
         connections, depth, threads, payload, elapsed, (unsigned long long)replies, (double)replies / elapsed,
         (unsigned long long)hist_percentile(all, 50), (unsigned long long)hist_percentile(all, 90),
         (unsigned long long)hist_percentile(all, 99), (unsigned long long)all->max, (unsigned long long)errors, cpu,
         cpu / elapsed * 100);
  return 0;
}
