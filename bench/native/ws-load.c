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
#include <stddef.h>
#include <stdint.h>

#define TOOL "ws-load"

struct proto {
  int asked;          /* the upgrade request has been written */
  int upgraded;       /* the 101 response has been read */
  char head[4096];    /* the response head while it arrives */
  size_t head_len;
  /* frame parser state */
  unsigned char hdr[10];
  int hdr_have;
  uint64_t skip;      /* payload bytes of the current frame still to skip */
};

#include "load-common.h"

/* Options of this tool (the common ones are in load-common.h). */
static const char *path = "/";
static int idle = 0;

static void fill_random(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(rand() & 0xff);
}

/* This connection's message (its request): a masked text frame of `payload` bytes of 'x'. */
static void build_frame(conn *c) {
  size_t n = (size_t)payload;
  size_t size = n < 126 ? 2 : n < 65536 ? 4 : 10;
  c->request_len = size + 4 + n;
  unsigned char *f = malloc(c->request_len);
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
  c->request = (char *)f;
  char *burst = malloc(c->request_len * (size_t)depth);
  for (int i = 0; i < depth; i++) memcpy(burst + (size_t)i * c->request_len, f, c->request_len);
  c->burst = burst;
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

/* Reads the 101 head; returns the offset of the first frame byte after it, or -1 while incomplete. */
static long read_head(conn *c, const char *p, size_t n) {
  struct proto *s = &c->p;
  size_t room = sizeof s->head - 1 - s->head_len;
  size_t take = n < room ? n : room;
  memcpy(s->head + s->head_len, p, take);
  size_t before = s->head_len;
  s->head_len += take;
  s->head[s->head_len] = 0;
  char *end = strstr(s->head, "\r\n\r\n");
  if (!end) {
    if (s->head_len == sizeof s->head - 1) {
      fprintf(stderr, "ws-load: response head too long\n");
      exit(3);
    }
    return -1;
  }
  if (strncmp(s->head, "HTTP/1.1 101", 12) != 0) {
    fprintf(stderr, "ws-load: upgrade refused: %.*s\n", (int)(strchr(s->head, '\r') - s->head), s->head);
    exit(3);
  }
  s->upgraded = 1;
  return (long)((size_t)(end + 4 - s->head) - before);
}

/* Consumes frame bytes; returns how many whole data messages they completed. */
static int consume(worker *w, conn *c, const char *p, size_t n, uint64_t t) {
  struct proto *s = &c->p;
  int done = 0;
  size_t i = 0;
  while (i < n) {
    if (s->skip > 0) {
      size_t take = n - i < s->skip ? n - i : (size_t)s->skip;
      s->skip -= take;
      i += take;
      continue;
    }
    s->hdr[s->hdr_have++] = (unsigned char)p[i++];
    if (s->hdr_have < 2) continue;
    int len7 = s->hdr[1] & 0x7f;
    int size = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
    if (s->hdr_have < size) continue;
    uint64_t len = (uint64_t)len7;
    if (len7 == 126) len = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
    else if (len7 == 127) {
      len = 0;
      for (int k = 0; k < 8; k++) len = len << 8 | s->hdr[2 + k];
    }
    s->skip = len;
    s->hdr_have = 0;
    int opcode = s->hdr[0] & 0x0f;
    if (opcode == 8) {
      c->dead = 1;
      w->errors++;
      return done;
    }
    if ((s->hdr[0] & 0x80) && opcode < 8 && c->inflight > 0) {
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
      if (!idle) build_frame(c);
      conn_open(c);
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
      if ((events[e].events & EPOLLOUT) && !c->p.asked) {
        send_upgrade(c);
        c->p.asked = 1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      }
      if ((events[e].events & EPOLLIN) && !c->p.upgraded) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r <= 0) {
          fprintf(stderr, "ws-load: connection closed before its 101\n");
          exit(3);
        }
        read_head(c, buf, (size_t)r);
      }
      if (c->p.upgraded && !c->ready) {
        c->ready = 1;
        pending--;
      }
    }
  }
  await_start();
  if (idle) {
    while (atomic_load(&phase) != 3) usleep(20000);
    close_all(w, ep);
  } else
    load_loop(w, ep, consume);
  return NULL;
}

static void usage(void) {
  fprintf(stderr,
          "usage: ws-load -p PORT [-h 127.0.0.1] [-P /path] [-c connections=50] [-d depth=1] [-s seconds=5]\n"
          "               [-w warmup=1] [-t threads=1] [-l payload=32] [-i (idle)]\n");
  exit(2);
}

int main(int argc, char **argv) {
  payload = 32; /* -l: the message's bytes */
  int opt;
  while ((opt = getopt(argc, argv, "p:h:P:c:d:s:w:t:l:i")) != -1) {
    switch (opt) {
      case 'P': path = optarg; break;
      case 'i': idle = 1; break;
      default:
        if (!common_option(opt, optarg)) usage();
    }
  }
  if (port == 0 || seconds <= 0 || warmup < 0 || path[0] != '/') usage();
  srand((unsigned)now_ns());
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (rlim_t)connections + 64) {
    nofile.rlim_cur = nofile.rlim_max < (rlim_t)connections + 64 ? nofile.rlim_max : (rlim_t)connections + 64;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  run_load(run, idle, idle ? ",\"idle\":true" : ",\"idle\":false");
  return 0;
}
