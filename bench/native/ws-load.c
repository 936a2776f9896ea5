/*
 * ws-load: a closed-loop WebSocket echo load generator in C, so that the server
 * and not the generator is the bottleneck on a small machine.
 *
 *   ws-load -p PORT [-h 127.0.0.1] [-c 50] [-d 1] [-s 5] [-w 1] [-t 1] [-l 32] [-P /path]
 *   ws-load -p PORT -i -c 10000 [-s 10]        (idle: open, upgrade, hold, send nothing)
 *
 * Opens C connections (spread over T threads, each with its own epoll), sends
 * each an HTTP/1.1 upgrade request and waits for every `101 Switching
 * Protocols`. Then keeps D messages in flight on each (the first D in one
 * write, then one new message for each echo; the messages a read completes
 * leave in one write), for W seconds of warm-up and S measured seconds. A
 * message is a masked text frame of L bytes of 'x' (RFC 6455 §5.3: a client
 * masks; one random key per connection). An echo is any whole data message
 * the server sends back (control frames are skipped).
 *
 * With -i the connections are opened and upgraded, then held idle for S
 * seconds ("ws-load: idle" on stderr once all are open), to measure what idle
 * WebSockets cost a server.
 *
 * stderr gets "ws-load: measuring" when the window opens and "ws-load:
 * finished" when it closes (so a caller can sample the server's CPU over the
 * window); stdout gets one JSON object: messages/s, latency percentiles in µs
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
  return ((SUBS + sub) << shift) + ((1ull << shift) >> 1);
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
static const char *path = "/";
static int port = 0, connections = 50, depth = 1, threads = 1, payload = 32, idle = 0;
static double seconds = 5, warmup = 1;

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
  int asked;          /* the upgrade request has been written */
  int upgraded;       /* the 101 response has been read */
  int ready;
  int dead;
  char head[4096];    /* the response head while it arrives */
  size_t head_len;
  uint64_t *sent;     /* send times of the messages in flight, a ring of `depth` */
  int head_i, inflight;
  /* frame parser state */
  unsigned char hdr[10];
  int hdr_have;
  uint64_t skip;      /* payload bytes of the current frame still to skip */
  char *frame;        /* this connection's masked message (its own key) */
  size_t frame_len;
  char *burst;        /* `depth` messages back to back */
  size_t unsent;
  char *out;
  size_t out_cap;
} conn;

typedef struct {
  int index, count;
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
    fprintf(stderr, "ws-load: bad host %s (IPv4 address expected)\n", host);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  return fd;
}

static void fill_random(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(rand() & 0xff);
}

/* This connection's message: a masked text frame of `payload` bytes of 'x'. */
static void build_frame(conn *c) {
  size_t n = (size_t)payload;
  size_t size = n < 126 ? 2 : n < 65536 ? 4 : 10;
  c->frame_len = size + 4 + n;
  unsigned char *f = malloc(c->frame_len);
  f[0] = 0x81;
  if (n < 126) f[1] = (unsigned char)(0x80 | n);
  else if (n < 65536) {
    f[1] = 0x80 | 126;
    f[2] = (unsigned char)(n >> 8);
    f[3] = (unsigned char)n;
  } else {
    f[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) f[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
  }
  unsigned char *mask = f + size;
  fill_random(mask, 4);
  for (size_t i = 0; i < n; i++) f[size + 4 + i] = (unsigned char)('x' ^ mask[i & 3]);
  c->frame = (char *)f;
  c->burst = malloc(c->frame_len * (size_t)depth);
  for (int i = 0; i < depth; i++) memcpy(c->burst + (size_t)i * c->frame_len, f, c->frame_len);
}

static void send_upgrade(conn *c) {
  unsigned char key[16];
  fill_random(key, sizeof key);
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char k[25];
  int j = 0;
  for (int i = 0; i < 15; i += 3) {
    uint32_t v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
    k[j++] = b64[v >> 18];
    k[j++] = b64[(v >> 12) & 63];
    k[j++] = b64[(v >> 6) & 63];
    k[j++] = b64[v & 63];
  }
  uint32_t v = (uint32_t)key[15] << 16;
  k[j++] = b64[v >> 18];
  k[j++] = b64[(v >> 12) & 63];
  k[j++] = '=';
  k[j++] = '=';
  k[j] = 0;
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port, k);
  if (write(c->fd, req, (size_t)n) != n) die("write upgrade");
}

/* Queues `n` new messages (their send time `t`) and writes what the socket takes. */
static void send_messages(worker *w, conn *c, int n, uint64_t t) {
  size_t bytes = (size_t)n * c->frame_len;
  if (c->unsent + bytes > c->out_cap) {
    c->out_cap = (c->unsent + bytes) * 2;
    c->out = realloc(c->out, c->out_cap);
  }
  if (n == depth) memcpy(c->out + c->unsent, c->burst, bytes);
  else
    for (int i = 0; i < n; i++) memcpy(c->out + c->unsent + (size_t)i * c->frame_len, c->frame, c->frame_len);
  c->unsent += bytes;
  for (int i = 0; i < n; i++) {
    c->sent[(c->head_i + c->inflight) % depth] = t;
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

static void complete(worker *w, conn *c, uint64_t t) {
  uint64_t sent = c->sent[c->head_i];
  c->head_i = (c->head_i + 1) % depth;
  c->inflight--;
  if (atomic_load_explicit(&phase, memory_order_relaxed) == 2) {
    w->replies++;
    uint64_t us = (t - sent) / 1000;
    w->hist.counts[bucket_of(us)]++;
    w->hist.total++;
    if (us > w->hist.max) w->hist.max = us;
  }
}

/* Reads the 101 head; returns the offset of the first frame byte after it, or -1 while incomplete. */
static long read_head(worker *w, conn *c, const char *p, size_t n) {
  size_t room = sizeof c->head - 1 - c->head_len;
  size_t take = n < room ? n : room;
  memcpy(c->head + c->head_len, p, take);
  size_t before = c->head_len;
  c->head_len += take;
  c->head[c->head_len] = 0;
  char *end = strstr(c->head, "\r\n\r\n");
  if (!end) {
    if (c->head_len == sizeof c->head - 1) {
      fprintf(stderr, "ws-load: response head too long\n");
      exit(3);
    }
    return -1;
  }
  if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) {
    fprintf(stderr, "ws-load: upgrade refused: %.*s\n", (int)(strchr(c->head, '\r') - c->head), c->head);
    exit(3);
  }
  (void)w;
  c->upgraded = 1;
  return (long)((size_t)(end + 4 - c->head) - before);
}

/* Consumes frame bytes; returns how many whole data messages they completed. */
static int consume(worker *w, conn *c, const char *p, size_t n, uint64_t t) {
  int done = 0;
  size_t i = 0;
  while (i < n) {
    if (c->skip > 0) {
      size_t take = n - i < c->skip ? n - i : (size_t)c->skip;
      c->skip -= take;
      i += take;
      continue;
    }
    c->hdr[c->hdr_have++] = (unsigned char)p[i++];
    if (c->hdr_have < 2) continue;
    int len7 = c->hdr[1] & 0x7f;
    int size = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
    if (c->hdr_have < size) continue;
    uint64_t len = (uint64_t)len7;
    if (len7 == 126) len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
    else if (len7 == 127) {
      len = 0;
      for (int k = 0; k < 8; k++) len = len << 8 | c->hdr[2 + k];
    }
    c->skip = len;
    c->hdr_have = 0;
    int opcode = c->hdr[0] & 0x0f;
    if (opcode == 8) {
      c->dead = 1;
      w->errors++;
      return done;
    }
    if ((c->hdr[0] & 0x80) && opcode < 8 && c->inflight > 0) {
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
  struct epoll_event events[256];
  char buf[65536];
  int pending = w->count;
  /* Connect in batches (a burst of thousands overflows the server's accept backlog). */
  int opened = 0;
  while (pending > 0) {
    while (opened < w->count && opened - (w->count - pending) < 256) {
      conn *c = &w->conns[opened++];
      c->fd = open_conn();
      c->sent = calloc((size_t)depth, sizeof(uint64_t));
      if (!idle) build_frame(c);
      c->out_cap = idle ? 0 : c->frame_len * (size_t)depth * 2;
      c->out = idle ? NULL : malloc(c->out_cap);
      struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    }
    int k = epoll_wait(ep, events, 256, 10000);
    if (k == 0) {
      fprintf(stderr, "ws-load: %d connections not upgraded after 10 s\n", pending);
      exit(3);
    }
    for (int e = 0; e < k; e++) {
      conn *c = events[e].data.ptr;
      if (events[e].events & (EPOLLERR | EPOLLHUP)) {
        fprintf(stderr, "ws-load: connect to %s:%d failed\n", host, port);
        exit(3);
      }
      if ((events[e].events & EPOLLOUT) && !c->asked) {
        send_upgrade(c);
        c->asked = 1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      }
      if ((events[e].events & EPOLLIN) && !c->upgraded) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r <= 0) {
          fprintf(stderr, "ws-load: connection closed before its 101\n");
          exit(3);
        }
        read_head(w, c, buf, (size_t)r);
      }
      if (c->upgraded && !c->ready) {
        c->ready = 1;
        pending--;
      }
    }
  }
  atomic_fetch_add(&ready_threads, 1);
  while (atomic_load(&phase) == 0) usleep(200);
  if (idle) {
    while (atomic_load(&phase) != 3) usleep(20000);
    for (int i = 0; i < w->count; i++) close(w->conns[i].fd);
    close(ep);
    return NULL;
  }
  uint64_t t0 = now_ns();
  for (int i = 0; i < w->count; i++) send_messages(w, &w->conns[i], depth, t0);
  while (atomic_load_explicit(&phase, memory_order_relaxed) != 3) {
    int k = epoll_wait(ep, events, 256, 50);
    if (k < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < k; e++) {
      conn *c = events[e].data.ptr;
      if (c->dead) continue;
      if (events[e].events & EPOLLOUT) {
        send_messages(w, c, 0, 0);
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
        send_messages(w, c, done, t);
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
          "usage: ws-load -p PORT [-h 127.0.0.1] [-P /path] [-c connections=50] [-d depth=1] [-s seconds=5]\n"
          "               [-w warmup=1] [-t threads=1] [-l payload=32] [-i (idle)]\n");
  exit(2);
}

static int positive(const char *s, const char *name) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 1 || v > 1000000) {
    fprintf(stderr, "ws-load: %s must be a positive integer, got '%s'\n", name, s);
    exit(2);
  }
  return (int)v;
}

static double seconds_of(struct rusage *u) {
  return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6 + (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "p:h:P:c:d:s:w:t:l:i")) != -1) {
    switch (opt) {
      case 'p': port = positive(optarg, "-p"); break;
      case 'h': host = optarg; break;
      case 'P': path = optarg; break;
      case 'c': connections = positive(optarg, "-c"); break;
      case 'd': depth = positive(optarg, "-d"); break;
      case 's': seconds = atof(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 't': threads = positive(optarg, "-t"); break;
      case 'l': payload = positive(optarg, "-l"); break;
      case 'i': idle = 1; break;
      default: usage();
    }
  }
  if (port == 0 || seconds <= 0 || warmup < 0 || path[0] != '/') usage();
  srand((unsigned)now_ns());
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (rlim_t)connections + 64) {
    nofile.rlim_cur = nofile.rlim_max < (rlim_t)connections + 64 ? nofile.rlim_max : (rlim_t)connections + 64;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
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
    fprintf(stderr, "ws-load: idle\n");
    fflush(stderr);
  } else
    usleep((useconds_t)(warmup * 1e6));
  getrusage(RUSAGE_SELF, &u0);
  uint64_t start = now_ns();
  atomic_store(&phase, 2);
  if (!idle) {
    fprintf(stderr, "ws-load: measuring\n");
    fflush(stderr);
  }
  usleep((useconds_t)(seconds * 1e6));
  atomic_store(&phase, 3);
  uint64_t end = now_ns();
  getrusage(RUSAGE_SELF, &u1);
  fprintf(stderr, "ws-load: finished\n");
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
  printf("{\"tool\":\"ws-load\",\"connections\":%d,\"depth\":%d,\"threads\":%d,\"payload\":%d,\"idle\":%s,"
         "\"seconds\":%.3f,\"replies\":%llu,\"throughput\":%.1f,"
         "\"latencyUs\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu},"
         "\"errors\":%llu,\"cpu\":{\"seconds\":%.3f,\"percent\":%.1f}}\n",
         connections, depth, threads, payload, idle ? "true" : "false", elapsed, (unsigned long long)replies,
         (double)replies / elapsed, (unsigned long long)hist_percentile(all, 50),
         (unsigned long long)hist_percentile(all, 90), (unsigned long long)hist_percentile(all, 99),
         (unsigned long long)all->max, (unsigned long long)errors, cpu, cpu / elapsed * 100);
  return 0;
}
