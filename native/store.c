/* Input arrays mapped from the session folder. Files named *.keep are immutable until the
 * caller sends `drop` (weights, anchors, Hessians, layer inputs that later commands read
 * again), so the persistent helper keeps them mapped across commands: their pages are
 * faulted in once per session instead of once per command. Other files are mapped for
 * one command and unmapped after it. Mappings are read-only: a command that would write
 * to an input copies it first. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ssmc_native.h"

typedef struct {
  char *path;
  void *p;
  size_t bytes;
} mapping;

static mapping *kept, *once;
static size_t nkept, capkept, nonce, caponce;

static void push(mapping **a, size_t *n, size_t *cap, mapping m) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 64;
    *a = realloc(*a, sizeof(mapping) * *cap);
    if (!*a) nat_die(2, "out of memory");
  }
  (*a)[(*n)++] = m;
}

static int is_kept(const char *path) {
  size_t n = strlen(path);
  return n > 5 && !strcmp(path + n - 5, ".keep");
}

const void *nat_map(const char *path, size_t *bytes) {
  int keep = is_kept(path);
  if (keep)
    for (size_t i = 0; i < nkept; i++)
      if (!strcmp(kept[i].path, path)) {
        *bytes = kept[i].bytes;
        return kept[i].p;
      }
  int fd = open(path, O_RDONLY);
  if (fd < 0) nat_die(2, "cannot open %s", path);
  struct stat st;
  if (fstat(fd, &st) != 0) nat_die(2, "cannot stat %s", path);
  *bytes = st.st_size;
  void *p = NULL;
  if (st.st_size) {
    p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) nat_die(2, "cannot map %s", path);
  }
  close(fd);
  mapping m = {strdup(path), p, *bytes};
  if (keep) push(&kept, &nkept, &capkept, m);
  else push(&once, &nonce, &caponce, m);
  return p;
}

const void *nat_input(const char *path, size_t bytes) {
  size_t have;
  const void *p = nat_map(path, &have);
  if (have != bytes) nat_die(2, "%s: %zu bytes, expected %zu", path, have, bytes);
  return p;
}

static void unmap(mapping *m) {
  if (m->p) munmap(m->p, m->bytes);
  free(m->path);
}

void nat_unmap_transient(void) {
  for (size_t i = 0; i < nonce; i++) unmap(&once[i]);
  nonce = 0;
}

void nat_drop(const char *path) {
  for (size_t i = 0; i < nkept; i++)
    if (!strcmp(kept[i].path, path)) {
      unmap(&kept[i]);
      kept[i] = kept[--nkept];
      return;
    }
}
