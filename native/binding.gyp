{
  "target_defaults": {
    "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE"]
  },
  "targets": [
    {
      "target_name": "berth",
      "sources": ["<!@(ls -1 src/*.c)"]
    },
    {
      "target_name": "berth-monitor",
      "type": "executable",
      "sources": ["<!@(ls -1 src/monitor/*.c)", "src/error.c"],
      "libraries": ["-lseccomp", "-lz"],
      "ldflags": ["-static"]
    },
    {
      "target_name": "test-cgroup",
      "type": "executable",
      "sources": ["test/test-cgroup.c", "<!@(ls -1 src/*.c | grep -v addon.c)"],
      "cflags": ["-Wno-format-truncation"]
    },
    {
      "target_name": "test-devices",
      "type": "executable",
      "sources": ["test/test-devices.c", "<!@(ls -1 src/*.c | grep -v addon.c)"],
      "cflags": ["-Wno-format-truncation"]
    },
    {
      "target_name": "test-oom",
      "type": "executable",
      "sources": ["test/test-oom.c", "<!@(ls -1 src/*.c | grep -v addon.c)"],
      "cflags": ["-Wno-format-truncation"]
    },
    {
      "target_name": "test-monitor-json",
      "type": "executable",
      "sources": ["test/monitor-json.c", "src/monitor/util.c", "src/monitor/json.c", "src/monitor/log.c", "src/monitor/config.c", "src/monitor/user.c", "src/monitor/security.c", "src/monitor/caps.c", "src/monitor/rootfs.c", "src/error.c"],
      "libraries": ["-lz"]
    }
  ]
}
