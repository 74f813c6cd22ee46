// vxnet-firstreply: the bench's pinger (bench/figures.ts), started once inside a container's
// namespace before the timed calls. For each IPv4 address read from stdin it sends ICMP echo
// requests every 5 ms (as `ping -i 0.005` does) until the first reply, and prints when that reply
// was read (CLOCK_MONOTONIC, in seconds), or "timeout" after 3 s; "ready" once it can send. Started ahead, so
// that the figure is the network's and not a ping process's start (~10-20 ms on a busy 2-core
// machine, forked from the bench's large Node process and exec'd through `ip netns exec`).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned short checksum(const void *data, size_t len) {
  const unsigned short *p = data;
  unsigned long sum = 0;
  for (; len > 1; len -= 2) sum += *p++;
  if (len) sum += *(const unsigned char *)p;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (unsigned short)~sum;
}

int main(void) {
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  unsigned short id = (unsigned short)getpid();
  unsigned short seq = 0;
  char line[64];
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready\n");
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    struct sockaddr_in to = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, line, &to.sin_addr) != 1) {
      printf("bad address\n");
      continue;
    }
    double start = mono(), next = start;
    const char *answer = "timeout";
    char stamp[32];
    while (mono() - start < 3) {
      if (mono() >= next) {
        struct icmphdr req = {.type = ICMP_ECHO};
        req.un.echo.id = htons(id);
        req.un.echo.sequence = htons(++seq);
        req.checksum = checksum(&req, sizeof req);
        sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to); // an unreachable peer is a retry
        next += 0.005;
      }
      int wait = (int)((next - mono()) * 1000) + 1;
      struct pollfd p = {.fd = fd, .events = POLLIN};
      if (poll(&p, 1, wait < 1 ? 1 : wait) <= 0) continue;
      char buf[1500];
      struct sockaddr_in from;
      socklen_t flen = sizeof from;
      ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
      double at = mono();
      if (n < (ssize_t)sizeof(struct iphdr)) continue;
      struct iphdr *ip = (struct iphdr *)buf;
      size_t hl = ip->ihl * 4u;
      if ((size_t)n < hl + sizeof(struct icmphdr) || from.sin_addr.s_addr != to.sin_addr.s_addr) continue;
      struct icmphdr *rep = (struct icmphdr *)(buf + hl);
      if (rep->type != ICMP_ECHOREPLY || ntohs(rep->un.echo.id) != id) continue;
      snprintf(stamp, sizeof stamp, "%.6f", at);
      answer = stamp;
      break;
    }
    printf("%s\n", answer);
  }
  return 0;
}
