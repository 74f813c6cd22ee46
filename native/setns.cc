// setns(2) for the calling thread, so that the agent can create a netlink socket inside a
// container's network namespace and then return to its own: Node has no binding for it.
#include <napi.h>
#include <sched.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static Napi::Value SetNs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "setns(fd, nstype)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int nstype = info[1].As<Napi::Number>().Int32Value();
  if (setns(fd, nstype) != 0) {
    int e = errno;
    Napi::Error err = Napi::Error::New(env, std::string("setns: ") + strerror(e));
    err.Set("errno", Napi::Number::New(env, e));
    err.Set("code", Napi::String::New(env, e == EINVAL ? "EINVAL" : e == EPERM ? "EPERM" : e == EBADF ? "EBADF" : "ESETNS"));
    err.ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

static Napi::Value GetTid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)syscall(SYS_gettid));
}

Napi::Value TrimMemory(const Napi::CallbackInfo& info); // memory.cc
Napi::Value ReduceHeap(const Napi::CallbackInfo& info); // memory.cc
Napi::Value SendFrames(const Napi::CallbackInfo& info); // announce.cc

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setns", Napi::Function::New(env, SetNs));
  exports.Set("gettid", Napi::Function::New(env, GetTid));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory));
  exports.Set("reduceHeap", Napi::Function::New(env, ReduceHeap));
  exports.Set("sendFrames", Napi::Function::New(env, SendFrames));
  exports.Set("CLONE_NEWNET", Napi::Number::New(env, CLONE_NEWNET));
  return exports;
}

NODE_API_MODULE(vxnet_native, Init)
