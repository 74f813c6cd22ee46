{
  "targets": [
    {
      "target_name": "vxnet_native",
      "sources": ["setns.cc", "memory.cc", "announce.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags_cc": ["-O2", "-Wall"]
    }
  ]
}
