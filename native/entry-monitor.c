// vxnet-entrymon DEVICE: the bench's watch on one vxlan device's FDB and neighbor entries
// (bench/entries.ts). Run inside the host's namespace (ip netns exec); counts the kernel's
// announcements of permanent entries added and of entries deleted on DEVICE, and prints after each
// burst read the counts so far and when the latest was read (CLOCK_MONOTONIC):
// "ADDED DELETED SECONDS.NANOSECONDS". A socket of its own with a receive buffer that holds a whole
// burst (SO_RCVBUFFORCE, root): `ip monitor` lost announcements when the agent wrote 20,000 entries
// in a fifth of a second, and polling dumps took the RTNL lock that the agent's FDB writes need.
// Prints "lost" if the kernel still dropped some.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: vxnet-entrymon DEVICE\n");
    return 2;
  }
  unsigned ifindex = if_nametoindex(argv[1]);
  if (!ifindex) {
    perror(argv[1]);
    return 1;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  int size = 64 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size)) perror("SO_RCVBUF");
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_NEIGH};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa)) {
    perror("bind");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  // One announcement per read: a burst is read whole (MSG_DONTWAIT until none is left) and printed
  // once, so that this process spends its time reading, not writing, and keeps up with the agent.
  static char buf[1 << 16];
  unsigned long added = 0, deleted = 0;
  for (;;) {
    struct timespec ts = {0, 0};
    int got = 0;
    for (int flags = 0;; flags = MSG_DONTWAIT) {
      ssize_t n = recv(fd, buf, sizeof buf, flags);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == ENOBUFS) {
          printf("lost\n");
          continue;
        }
        perror("recv");
        return 1;
      }
      clock_gettime(CLOCK_MONOTONIC, &ts); // when the latest announcement was read
      int len = (int)n;
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH) continue;
        struct ndmsg *nd = NLMSG_DATA(h);
        if ((unsigned)nd->ndm_ifindex != ifindex) continue;
        if (h->nlmsg_type == RTM_DELNEIGH) deleted++;
        else if (nd->ndm_state & NUD_PERMANENT) added++; // a neighbor's FAILED on its way out is not
        got = 1;
      }
    }
    if (!got) continue;
    printf("%lu %lu %ld.%09ld\n", added, deleted, (long)ts.tv_sec, ts.tv_nsec);
    fflush(stdout);
  }
}
