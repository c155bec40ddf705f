{
  "targets": [
    {
      "target_name": "mfb_deflate",
      "sources": ["src/deflate.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-ldeflate"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
