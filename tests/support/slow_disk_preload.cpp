// libslow_disk_preload.so: LD_PRELOAD shim that makes fdatasync(2) and fsync(2) take
// TAUBE_SLOW_SYNC_MS milliseconds longer, a disk that cannot keep up. test_metrics_queue.py runs
// Taube with one worker thread on it, so that disk jobs wait for the thread and the disk pool's
// backlog gauge (taube_disk_pool_jobs{state="queued"}) is seen above zero. The server itself has
// no such switch.
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

namespace {

void slow() {
  const char* ms = getenv("TAUBE_SLOW_SYNC_MS");
  const long n = ms ? atol(ms) : 0;
  if (n <= 0) return;
  timespec t{n / 1000, (n % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0) {
  }
}

template <class F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int fdatasync(int fd) {
  static auto next = real<int (*)(int)>("fdatasync");
  slow();
  return next(fd);
}

int fsync(int fd) {
  static auto next = real<int (*)(int)>("fsync");
  slow();
  return next(fd);
}

}  // extern "C"
