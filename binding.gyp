# Builds the netlink socket addon (native/nlsock.cc) into build/Release/nlsock.node.
{
  "targets": [
    {
      "target_name": "nlsock",
      "sources": ["native/nlsock.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
