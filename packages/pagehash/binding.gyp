{
  "targets": [
    {
      "target_name": "mfb_pagehash",
      "sources": ["src/pagehash.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-deprecated-declarations"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
