// vxnet's CNI plugin executable: a shim that forwards the CNI request (environment and stdin) to
// the local vxnet agent over its CNI unix socket and prints the agent's answer. Starting Node for
// every CNI call would cost ~100 ms; this costs ~1 ms. The agent does the work (one Connect or
// Disconnect, the same code as the CLI's and Docker's).
//
// Wire format (one request per connection): the shim writes a JSON object
// {"env":{"CNI_COMMAND":"ADD",...},"stdin":"<netconf>"} and shuts down its write side; the agent
// answers {"exit":N,"stdout":"..."} and closes.
//
// The socket: "agent" in the network configuration if present, else $VXNET_CNI_SOCKET, else
// /run/vxnet/cni.sock. VERSION is answered here (runtimes probe it without an agent); when the agent
// cannot be reached, STATUS answers code 50 and every other command code 11 (try again later).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/vxnet/cni.sock"
#define SUPPORTED "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]"

typedef struct { char *p; size_t len, cap; } buf_t;

static void put(buf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) { perror("vxnet"); exit(1); }
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

static void put_json_string(buf_t *b, const char *s, size_t n) {
  puts_(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; put(b, esc, 2); }
    else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); puts_(b, esc); }
    else put(b, (const char *)&c, 1);
  }
  puts_(b, "\"");
}

// The value of a top-level string key, without a JSON parser: good enough for "cniVersion" and
// "agent", which the agent validates properly anyway.
static int json_string(const char *json, const char *key, char *out, size_t outlen) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(json, pat);
  if (!p) return 0;
  p += strlen(pat);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return 0;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return 0;
  size_t i = 0;
  while (*p && *p != '"' && i + 1 < outlen) out[i++] = *p++;
  out[i] = 0;
  return *p == '"';
}

static int fail(const char *version, int code, const char *msg, const char *details) {
  buf_t b = {0};
  puts_(&b, "{\"cniVersion\":");
  put_json_string(&b, version, strlen(version));
  char num[32];
  snprintf(num, sizeof num, ",\"code\":%d,\"msg\":", code);
  puts_(&b, num);
  put_json_string(&b, msg, strlen(msg));
  puts_(&b, ",\"details\":");
  put_json_string(&b, details, strlen(details));
  puts_(&b, "}\n");
  fwrite(b.p, 1, b.len, stdout);
  return 1;
}

extern char **environ;

int main(void) {
  buf_t in = {0};
  char chunk[65536];
  const char *cmd = getenv("CNI_COMMAND");
  // VERSION, STATUS and GC may come without stdin from some callers; read what there is.
  ssize_t n;
  while ((n = read(0, chunk, sizeof chunk)) > 0) put(&in, chunk, (size_t)n);
  if (!in.p) put(&in, "", 0);
  const char *start = in.p;
  while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r') start++;
  if (*start != '{' && !(cmd && (strcmp(cmd, "VERSION") == 0 || strcmp(cmd, "STATUS") == 0 || strcmp(cmd, "GC") == 0) && !*start))
    return fail("1.0.0", 6, "the network configuration on stdin is not a JSON object", "");
  char version[32] = "1.0.0";
  json_string(in.p, "cniVersion", version, sizeof version);

  if (cmd && strcmp(cmd, "VERSION") == 0) {
    printf("{\"cniVersion\":\"%s\",\"supportedVersions\":" SUPPORTED "}\n", version[0] ? version : "1.1.0");
    return 0;
  }

  char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
  if (!json_string(in.p, "agent", sock, sizeof sock) || !sock[0]) {
    const char *e = getenv("VXNET_CNI_SOCKET");
    snprintf(sock, sizeof sock, "%s", e && *e ? e : DEFAULT_SOCKET);
  }

  buf_t req = {0};
  puts_(&req, "{\"env\":{");
  int first = 1;
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) != 0) continue;
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    if (!first) puts_(&req, ",");
    first = 0;
    put_json_string(&req, *e, (size_t)(eq - *e));
    puts_(&req, ":");
    put_json_string(&req, eq + 1, strlen(eq + 1));
  }
  // Where the agent can reach the namespace if the runtime's /run/netns is private to its mount
  // namespace: through this process's root, valid while it waits for the answer.
  const char *netns = getenv("CNI_NETNS");
  if (netns && netns[0] == '/') {
    char via[4200];
    snprintf(via, sizeof via, "/proc/%d/root%s", (int)getpid(), netns);
    if (!first) puts_(&req, ",");
    first = 0;
    puts_(&req, "\"CNI_VXNET_NETNS_ACCESS\":");
    put_json_string(&req, via, strlen(via));
  }
  puts_(&req, "},\"stdin\":");
  put_json_string(&req, in.p, in.len);
  puts_(&req, "}");

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    char details[512];
    snprintf(details, sizeof details, "connect %s: %s", sock, strerror(errno));
    if (cmd && strcmp(cmd, "STATUS") == 0) return fail(version, 50, "the vxnet agent is not running on this host", details);
    return fail(version, 11, "the vxnet agent is not reachable; try again later", details);
  }
  for (size_t off = 0; off < req.len;) {
    ssize_t w = write(fd, req.p + off, req.len - off);
    if (w < 0) { if (errno == EINTR) continue; return fail(version, 11, "lost the connection to the vxnet agent", strerror(errno)); }
    off += (size_t)w;
  }
  shutdown(fd, SHUT_WR);
  buf_t out = {0};
  while ((n = read(fd, chunk, sizeof chunk)) > 0) put(&out, chunk, (size_t)n);
  close(fd);
  if (!out.p) return fail(version, 11, "the vxnet agent closed the connection without an answer (restarting?)", sock);

  // {"exit":N,"stdout":"..."}: the agent writes stdout as a JSON string; undo its escaping.
  char *p = strstr(out.p, "\"exit\":");
  int code = p ? atoi(p + 7) : 1;
  p = strstr(out.p, "\"stdout\":\"");
  if (p) {
    p += 10;
    buf_t o = {0};
    for (; *p && *p != '"'; p++) {
      if (*p == '\\' && p[1]) {
        p++;
        char c = *p;
        if (c == 'n') c = '\n';
        else if (c == 't') c = '\t';
        else if (c == 'r') c = '\r';
        else if (c == 'u' && p[1] && p[2] && p[3] && p[4]) {
          char hex[5] = {p[1], p[2], p[3], p[4], 0};
          c = (char)strtol(hex, NULL, 16);
          p += 4;
        }
        put(&o, &c, 1);
      } else {
        put(&o, p, 1);
      }
    }
    if (o.p) fwrite(o.p, 1, o.len, stdout);
  }
  return code;
}
