{
  "target_defaults": {
    "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE"]
  },
  "targets": [
    {
      "target_name": "berth",
      "sources": ["src/addon.c", "src/error.c", "src/lock.c"]
    }
  ]
}
