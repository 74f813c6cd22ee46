// Frames out of one interface through a packet socket (agent/announce.ts builds them): Node has no
// AF_PACKET binding. Used to announce a remote endpoint's address to the containers of this host
// the moment its neighbor entry exists, so that one that asked for it a moment earlier (and got no
// answer, the entry not being there yet) need not wait a second for its next ARP request.
#include <napi.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

// sendFrames(ifindex, frames: Buffer, frameLength): how many frames were sent.
Napi::Value SendFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "sendFrames(ifindex, frames, frameLength)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int ifindex = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> frames = info[1].As<Napi::Buffer<uint8_t>>();
  size_t len = info[2].As<Napi::Number>().Uint32Value();
  if (len < ETH_HLEN || frames.Length() % len != 0) {
    Napi::TypeError::New(env, "sendFrames: frames must be whole frames").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Protocol 0: a socket that only sends (it receives nothing, so it costs no copy of traffic).
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    Napi::Error::New(env, std::string("packet socket: ") + strerror(e)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct sockaddr_ll to;
  memset(&to, 0, sizeof(to));
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  to.sll_halen = ETH_ALEN;
  uint32_t sent = 0;
  int err = 0;
  for (size_t off = 0; off < frames.Length(); off += len) {
    memcpy(to.sll_addr, frames.Data() + off, ETH_ALEN);
    if (sendto(fd, frames.Data() + off, len, 0, (struct sockaddr*)&to, sizeof(to)) == (ssize_t)len) sent++;
    else err = errno;
  }
  close(fd);
  if (sent == 0 && err) {
    Napi::Error::New(env, std::string("sendto: ") + strerror(err)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, sent);
}
