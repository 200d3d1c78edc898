/* ssmc-native COMMAND key=value...: see ssmc_native.h. Exit 0 ok, 2 bad request or I/O,
 * 3 a Hessian that is not positive definite, 4 an op or shape this executor lacks.
 * ssmc-native serve CMD_FIFO REPLY_FIFO: the same commands, one line each read from
 * CMD_FIFO, each answered on REPLY_FIFO by `ok 0 PEAK_KIB USER_MS SYS_MS` (the process's
 * peak memory and CPU time so far) or `err CODE MESSAGE` (after
 * which the helper exits); `drop PATH...` lines (no answer) release kept inputs. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include "ssmc_native.h"

int nat_reply_fd = -1;

/* The caller records the helper's peak memory. VmHWM of this address space, not
 * getrusage: after fork+exec, ru_maxrss still counts the (large) Node parent. */
static long peak_kib(void) {
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
  return kb;
}

static void report_rss(void) {
  long kb = peak_kib();
  if (kb >= 0 && nat_reply_fd < 0) fprintf(stderr, "ssmc-native-maxrss %ld\n", kb);
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

static int dispatch(int argc, char **argv) {
  const char *c = argv[1];
  if (!strcmp(c, "table")) return cmd_table(argc, argv);
  if (!strcmp(c, "prune")) return cmd_prune(argc, argv);
  if (!strcmp(c, "damage")) return cmd_damage(argc, argv);
  if (!strcmp(c, "cross")) return cmd_cross(argc, argv);
  if (!strcmp(c, "refit")) return cmd_refit(argc, argv);
  if (!strcmp(c, "run")) return cmd_run(argc, argv);
  nat_die(2, "unknown command %s", c);
}

#define MAX_ARGS 64

/* One process for a whole session: inputs kept mapped (store.c), no spawn per command. */
static int serve(const char *cmd_path, const char *reply_path) {
#ifdef __linux__
  /* Node killed outright: do not outlive it (a closed pipe also ends the loop) */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  /* the caller already reads the reply pipe; `ready` tells it to open the command pipe */
  int rfd = open(reply_path, O_WRONLY);
  if (rfd < 0) nat_die(2, "cannot open %s", reply_path);
  if (write(rfd, "ready\n", 6) != 6) nat_die(2, "cannot write %s", reply_path);
  FILE *in = fopen(cmd_path, "r");
  if (!in) nat_die(2, "cannot open %s", cmd_path);
  nat_reply_fd = rfd;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, in) > 0) {
    char *argv[MAX_ARGS + 1];
    int argc = 1;
    argv[0] = "ssmc-native";
    for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n")) {
      if (argc == MAX_ARGS) nat_die(2, "more than %d arguments", MAX_ARGS - 1);
      argv[argc++] = t;
    }
    argv[argc] = NULL;
    if (argc < 2) continue;
    if (!strcmp(argv[1], "drop")) {
      for (int i = 2; i < argc; i++) nat_drop(argv[i]);
      continue;
    }
    int rc = dispatch(argc, argv);
    nat_arena_reset();
    nat_unmap_transient();
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    long user_ms = u.ru_utime.tv_sec * 1000L + u.ru_utime.tv_usec / 1000;
    long sys_ms = u.ru_stime.tv_sec * 1000L + u.ru_stime.tv_usec / 1000;
    if (dprintf(rfd, "ok %d %ld %ld %ld\n", rc, peak_kib(), user_ms, sys_ms) < 0) return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) nat_die(2, "usage: ssmc-native table|prune|damage|cross|refit|run key=value... | serve CMD_FIFO REPLY_FIFO");
  const char *c = argv[1];
  if (!strcmp(c, "version")) {
    puts("ssmc-native 1");
    return 0;
  }
  if (!strcmp(c, "serve")) {
    if (argc != 4) nat_die(2, "usage: ssmc-native serve CMD_FIFO REPLY_FIFO");
    return serve(argv[2], argv[3]);
  }
  atexit(report_rss);
  return dispatch(argc, argv);
}
