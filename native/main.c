/* ssmc-native COMMAND key=value...: see ssmc_native.h. Exit 0 ok, 2 bad request or I/O,
 * 3 a Hessian that is not positive definite, 4 an op or shape this executor lacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "ssmc_native.h"

/* The caller records the helper's peak memory. VmHWM of this address space, not
 * getrusage: after fork+exec, ru_maxrss still counts the (large) Node parent. */
static void report_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  if (kb < 0) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) == 0) kb = u.ru_maxrss;
  }
  if (kb >= 0) fprintf(stderr, "ssmc-native-maxrss %ld\n", kb);
}

const char *arg_str(int argc, char **argv, const char *key) {
  size_t n = strlen(key);
  for (int i = 2; i < argc; i++)
    if (!strncmp(argv[i], key, n) && argv[i][n] == '=') return argv[i] + n + 1;
  nat_die(2, "missing argument %s=", key);
}

long arg_long(int argc, char **argv, const char *key) { return atol(arg_str(argc, argv, key)); }
double arg_double(int argc, char **argv, const char *key) { return strtod(arg_str(argc, argv, key), NULL); }

void *read_file(const char *path, size_t bytes) {
  FILE *f = fopen(path, "rb");
  if (!f) nat_die(2, "cannot open %s", path);
  void *p = nat_alloc(bytes);
  if (fread(p, 1, bytes, f) != bytes) nat_die(2, "%s: shorter than %zu bytes", path, bytes);
  fclose(f);
  return p;
}

void write_file(const char *path, const void *data, size_t bytes) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) nat_die(2, "cannot write %s", path);
}

int main(int argc, char **argv) {
  if (argc < 2) nat_die(2, "usage: ssmc-native table|prune|damage|cross|refit|run key=value...");
  const char *c = argv[1];
  atexit(report_rss);
  if (!strcmp(c, "version")) {
    puts("ssmc-native 1");
    return 0;
  }
  if (!strcmp(c, "table")) return cmd_table(argc, argv);
  if (!strcmp(c, "prune")) return cmd_prune(argc, argv);
  if (!strcmp(c, "damage")) return cmd_damage(argc, argv);
  if (!strcmp(c, "cross")) return cmd_cross(argc, argv);
  if (!strcmp(c, "refit")) return cmd_refit(argc, argv);
  if (!strcmp(c, "run")) return cmd_run(argc, argv);
  nat_die(2, "unknown command %s", c);
}
