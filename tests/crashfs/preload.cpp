// libcrashfs_preload.so: LD_PRELOAD shim for processes under test on crashfs.
//
// 1. syncfs(fd) becomes the CRASHFS_IOC_SYNCFS ioctl on the same descriptor, which crashfs
//    answers after making everything durable (0) or after a power cut (EIO). The kernel does not
//    pass syncfs on to a plain FUSE daemon (only virtiofs asks for FUSE_SYNCFS), so without this
//    the call would succeed having done nothing. On any other file system (ENOTTY) the real
//    syncfs is called.
// 2. "Broken builds" for the power-cut tests: CRASHFS_DROP is a comma-separated list of calls to
//    turn into no-ops that return success, as a server that forgot them would behave:
//      file-fsync   fsync(2) of a regular file
//      dir-fsync    fsync(2) of a directory
//      fdatasync    fdatasync(2)
//      syncfs       syncfs(2)
//    The server itself has no such switch.
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crashfs.hpp"

extern "C" {

static int drop_file_fsync, drop_dir_fsync, drop_fdatasync, drop_syncfs;

static int listed(const char* list, const char* word) {
  size_t n = strlen(word);
  for (const char* p = list; (p = strstr(p, word)) != NULL; p += n) {
    int start = p == list || p[-1] == ',';
    int end = p[n] == '\0' || p[n] == ',';
    if (start && end) return 1;
  }
  return 0;
}

__attribute__((constructor)) static void crashfs_preload_init(void) {
  const char* v = getenv("CRASHFS_DROP");
  if (!v) return;
  drop_file_fsync = listed(v, "file-fsync");
  drop_dir_fsync = listed(v, "dir-fsync");
  drop_fdatasync = listed(v, "fdatasync");
  drop_syncfs = listed(v, "syncfs");
}

static void* next_symbol(const char* name) {
  return dlsym(RTLD_NEXT, name);
}

int syncfs(int fd) {
  if (drop_syncfs) return 0;
  if (ioctl(fd, CRASHFS_IOC_SYNCFS) == 0) return 0;
  if (errno != ENOTTY && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return -1;
  static int (*real)(int);
  if (!real) real = reinterpret_cast<int (*)(int)>(next_symbol("syncfs"));
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd);
}

int fsync(int fd) {
  if (drop_file_fsync || drop_dir_fsync) {
    struct stat st;
    if (fstat(fd, &st) == 0) {
      if (drop_file_fsync && S_ISREG(st.st_mode)) return 0;
      if (drop_dir_fsync && S_ISDIR(st.st_mode)) return 0;
    }
  }
  static int (*real)(int);
  if (!real) real = reinterpret_cast<int (*)(int)>(next_symbol("fsync"));
  return real(fd);
}

int fdatasync(int fd) {
  if (drop_fdatasync) return 0;
  static int (*real)(int);
  if (!real) real = reinterpret_cast<int (*)(int)>(next_symbol("fdatasync"));
  return real(fd);
}

}  // extern "C"
