// Memory back to the kernel after a burst (agent/memory.ts). V8 gives its free pages back only in a
// collection meant to reduce memory (which it otherwise runs after ~10 quiet seconds, or under
// pressure); glibc gives back free memory only at the top of its heap. Node binds neither.
#include <napi.h>
#include <malloc.h>
#include <v8.h>

// A memory-reducing full collection of the calling isolate (the agent's main thread).
Napi::Value ReduceHeap(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate) isolate->LowMemoryNotification();
  return info.Env().Undefined();
}

// Free pages in the middle of the C heap (buffers V8 freed) back to the kernel: malloc_trim(3).
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}
