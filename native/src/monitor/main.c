/* berth-monitor entry point; see ../../MONITOR-PROTOCOL.md. */
#include <stdio.h>
int main(int argc, char **argv) {
  fprintf(stderr, "berth-monitor: not built yet\n");
  return 1;
}
