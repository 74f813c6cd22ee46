// vxnet-bulksend DEVICE VTEP add|del: the bench's floor for bulk programming (bench/bulk.ts). Reads
// "MAC IPV4" lines from stdin, then writes an FDB entry (MAC -> VTEP, self, permanent) and a
// permanent neighbor entry (IPV4 -> MAC) per line on DEVICE, or deletes them, in batched netlink
// messages: as many as fit in 64 KiB per sendmsg (more is refused with EMSGSIZE), only the last asking for an ACK (the kernel takes
// a socket's messages in order, so its ACK says every one before it is done; a failure still comes
// back as an error message). Prints "MILLISECONDS ERRORS" for the writes alone, parsing excluded.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (64 * 1024)
#define MSG_MAX 128

struct entry {
  unsigned char mac[ETH_ALEN];
  struct in_addr ip;
};

static size_t put_attr(char *p, unsigned short type, const void *data, unsigned short len) {
  struct rtattr *a = (struct rtattr *)p;
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  return RTA_ALIGN(a->rta_len);
}

// One RTM_NEWNEIGH/RTM_DELNEIGH message at `p`; returns its aligned length.
static size_t message(char *p, int add, int fdb, unsigned ifindex, const struct entry *e, struct in_addr vtep,
                      unsigned seq, int ack) {
  struct nlmsghdr *h = (struct nlmsghdr *)p;
  memset(p, 0, MSG_MAX);
  h->nlmsg_type = add ? RTM_NEWNEIGH : RTM_DELNEIGH;
  h->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0) | (ack ? NLM_F_ACK : 0);
  h->nlmsg_seq = seq;
  struct ndmsg *nd = NLMSG_DATA(h);
  nd->ndm_family = fdb ? AF_BRIDGE : AF_INET;
  nd->ndm_ifindex = (int)ifindex;
  nd->ndm_state = NUD_PERMANENT;
  nd->ndm_flags = fdb ? NTF_SELF : 0;
  size_t len = NLMSG_LENGTH(sizeof *nd);
  if (fdb) {
    len += put_attr(p + NLMSG_ALIGN(len), NDA_LLADDR, e->mac, ETH_ALEN);
    len += put_attr(p + NLMSG_ALIGN(len), NDA_DST, &vtep, sizeof vtep);
  } else {
    len += put_attr(p + NLMSG_ALIGN(len), NDA_DST, &e->ip, sizeof e->ip);
    if (add) len += put_attr(p + NLMSG_ALIGN(len), NDA_LLADDR, e->mac, ETH_ALEN);
  }
  h->nlmsg_len = (unsigned)len;
  return NLMSG_ALIGN(len);
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[3], "add") && strcmp(argv[3], "del"))) {
    fprintf(stderr, "usage: vxnet-bulksend DEVICE VTEP add|del < 'MAC IPV4' lines\n");
    return 2;
  }
  unsigned ifindex = if_nametoindex(argv[1]);
  struct in_addr vtep;
  if (!ifindex || inet_pton(AF_INET, argv[2], &vtep) != 1) {
    fprintf(stderr, "vxnet-bulksend: bad device or VTEP\n");
    return 2;
  }
  int add = !strcmp(argv[3], "add");
  size_t cap = 1024, n = 0;
  struct entry *es = malloc(cap * sizeof *es);
  char mac[32], ip[64];
  while (scanf("%31s %63s", mac, ip) == 2) {
    if (n == cap) es = realloc(es, (cap *= 2) * sizeof *es);
    unsigned m[ETH_ALEN];
    if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 ||
        inet_pton(AF_INET, ip, &es[n].ip) != 1) {
      fprintf(stderr, "vxnet-bulksend: bad line: %s %s\n", mac, ip);
      return 2;
    }
    for (int i = 0; i < ETH_ALEN; i++) es[n].mac[i] = (unsigned char)m[i];
    n++;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int size = 64 << 20;
  if (fd < 0 || (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) &&
                 setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size))) {
    perror("socket");
    return 1;
  }
  char *buf = malloc(BUF);
  static char rbuf[1 << 16];
  unsigned seq = 0, last = 0;
  long errors = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  // The FDB entries first, then the neighbor entries, as the agent writes them.
  for (int fdb = 1; fdb >= 0; fdb--) {
    size_t i = 0;
    while (i < n) {
      size_t off = 0;
      while (i < n && off + MSG_MAX <= BUF) {
        int ack = (i == n - 1) || off + 2 * MSG_MAX > BUF;
        off += message(buf + off, add, fdb, ifindex, &es[i], vtep, ++seq, ack);
        if (ack) last = seq;
        i++;
      }
      if (send(fd, buf, off, 0) != (ssize_t)off) {
        perror("send");
        return 1;
      }
      // Until the batch's last message is acknowledged: every error before it is counted.
      for (int done = 0; !done;) {
        ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
        if (r < 0) {
          perror("recv");
          return 1;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (unsigned)r); h = NLMSG_NEXT(h, r)) {
          if (h->nlmsg_type != NLMSG_ERROR) continue;
          struct nlmsgerr *e = NLMSG_DATA(h);
          if (e->error) errors++;
          if (h->nlmsg_seq == last) done = 1;
        }
      }
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.3f %ld\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, errors);
  return 0;
}
