// crashfs: a FUSE file system that models a disk with a volatile cache, for power-cut tests.
//
//   crashfs --backing DIR --control SOCKET [--no-tmpfile] MOUNTPOINT
//
// DIR holds the durable state ("the disk"); it is read at start and written back at a power cut
// and at unmount. SOCKET is a UNIX stream socket taking one-line commands, each answered by one
// line starting with "ok" or "error":
//   ping                     liveness
//   cut                      cut the power now (SIGUSR1 does the same)
//   arm N after|before [K]   cut at the N-th sync-class call (of kind K: fsync, fdatasync,
//                            fsyncdir, syncfs; any kind without K) from now: after it took effect
//                            and returned success, or instead of it (the call fails with EIO)
//   disarm                   forget an armed cut
//   sync                     make everything durable (like syncfs)
//   stats                    "ok syncs=.. fsync=.. fdatasync=.. fsyncdir=.. syncfs=.. dead=0|1
//                            pending_ops=.. dirty_files=.. inodes=.. armed=.."
//   events                   the sync-class calls since the last "events": "ok kind:path|..."
// "ready" is printed on stdout once the file system is mounted and the socket listens. The
// daemon exits when the file system is unmounted (fusermount3 -u / umount), or on SIGTERM.
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include "fs_ops.hpp"

namespace {

int g_sigpipe[2] = {-1, -1};  // SIGUSR1 -> a byte here -> the control thread cuts
std::atomic<bool> g_stop{false};

void on_sigusr1(int) {
  const char c = 'c';
  (void)!::write(g_sigpipe[1], &c, 1);
}

std::string command(crashfs::State& st, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  std::lock_guard lk(st.mu);
  if (cmd == "ping") return "ok";
  if (cmd == "cut") {
    st.cut();
    return st.store_error.empty() ? "ok" : "error " + st.store_error;
  }
  if (cmd == "arm") {
    std::uint64_t n = 0;
    std::string when, kind;
    in >> n >> when >> kind;
    if (n == 0 || (when != "after" && when != "before"))
      return "error usage: arm N after|before [fsync|fdatasync|fsyncdir|syncfs]";
    int k = -1;
    for (auto sk : {crashfs::SyncKind::Fsync, crashfs::SyncKind::Fdatasync,
                    crashfs::SyncKind::Fsyncdir, crashfs::SyncKind::Syncfs})
      if (kind == to_string(sk)) k = static_cast<int>(sk);
    if (!kind.empty() && k < 0) return "error unknown sync kind " + kind;
    st.armed_left = n;
    st.armed_kind = k;
    st.armed_firing = false;
    st.armed_after = when == "after";
    return "ok";
  }
  if (cmd == "disarm") {
    st.armed_left = 0;
    st.armed_firing = false;
    return "ok";
  }
  if (cmd == "sync") {
    if (st.dead) return "error dead";
    st.model.syncfs();
    return "ok";
  }
  if (cmd == "stats") {
    std::ostringstream o;
    o << "ok syncs=" << st.syncs << " fsync=" << st.counts[0] << " fdatasync=" << st.counts[1]
      << " fsyncdir=" << st.counts[2] << " syncfs=" << st.counts[3] << " dead=" << st.dead
      << " pending_ops=" << st.model.pending_ops() << " dirty_files=" << st.model.dirty_files()
      << " inodes=" << st.model.inode_count() << " armed=" << st.armed_left;
    return o.str();
  }
  if (cmd == "events") {
    std::string o = "ok ";
    for (const auto& e : st.events) {
      o += crashfs::to_string(e.kind);
      o += ":" + e.path + "|";
    }
    st.events.clear();
    return o;
  }
  return "error unknown command";
}

// One connection at a time is enough for a test harness; each may send many commands.
void control_loop(crashfs::State& st, int lfd) {
  while (!g_stop) {
    pollfd p[2] = {{lfd, POLLIN, 0}, {g_sigpipe[0], POLLIN, 0}};
    if (::poll(p, 2, 200) <= 0) continue;
    if (p[1].revents & POLLIN) {
      char c;
      (void)!::read(g_sigpipe[0], &c, 1);
      std::lock_guard lk(st.mu);
      st.cut();
    }
    if (!(p[0].revents & POLLIN)) continue;
    int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) continue;
    std::string buf;
    char chunk[4096];
    for (;;) {
      ssize_t n = ::read(cfd, chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string reply = command(st, buf.substr(0, nl)) + "\n";
        buf.erase(0, nl + 1);
        (void)!::write(cfd, reply.data(), reply.size());
      }
    }
    ::close(cfd);
  }
}

int listen_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof a.sun_path) return -1;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int usage() {
  std::fprintf(stderr,
               "usage: crashfs --backing DIR --control SOCKET [--no-tmpfile] [--debug] "
               "MOUNTPOINT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string backing, control, mountpoint;
  bool tmpfile = true, debug = false;
  for (int k = 1; k < argc; ++k) {
    std::string a = argv[k];
    if (a == "--backing" && k + 1 < argc) {
      backing = argv[++k];
    } else if (a == "--control" && k + 1 < argc) {
      control = argv[++k];
    } else if (a == "--no-tmpfile") {
      tmpfile = false;
    } else if (a == "--debug") {
      debug = true;
    } else if (!a.empty() && a[0] != '-' && mountpoint.empty()) {
      mountpoint = a;
    } else {
      return usage();
    }
  }
  if (backing.empty() || control.empty() || mountpoint.empty()) return usage();

  crashfs::State st(backing);
  st.tmpfile = tmpfile;
  if (auto e = st.backing.load(st.model); !e.empty()) {
    std::fprintf(stderr, "crashfs: cannot load %s: %s\n", backing.c_str(), e.c_str());
    return 1;
  }
  int lfd = listen_unix(control);
  if (lfd < 0 || ::pipe2(g_sigpipe, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "crashfs: cannot listen on %s: %s\n", control.c_str(),
                 std::strerror(errno));
    return 1;
  }

  std::string opts = "default_permissions,fsname=crashfs,subtype=crashfs";
  if (::geteuid() == 0) opts += ",allow_other";
  const char* fargv[] = {argv[0], "-o", opts.c_str(), debug ? "-d" : nullptr, nullptr};
  fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, const_cast<char**>(fargv));
  fuse_session* se =
      fuse_session_new(&args, &crashfs::operations(), sizeof(fuse_lowlevel_ops), &st);
  if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, mountpoint.c_str()) != 0) {
    std::fprintf(stderr, "crashfs: cannot mount on %s\n", mountpoint.c_str());
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_sigusr1;
  ::sigaction(SIGUSR1, &sa, nullptr);
  std::thread ctl(control_loop, std::ref(st), lfd);
  std::printf("ready\n");
  std::fflush(stdout);

  // The session loop, by hand: FUSE_TMPFILE has no handler in libfuse 3.14, so it is answered
  // here before libfuse sees it (libfuse would say ENOSYS, as with --no-tmpfile).
  fuse_buf buf{};
  const int fuse_fd = fuse_session_fd(se);
  while (!fuse_session_exited(se)) {
    int n = fuse_session_receive_buf(se, &buf);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n <= 0) break;
    const auto* ih = static_cast<const fuse_in_header*>(buf.mem);
    if (!(buf.flags & FUSE_BUF_IS_FD) && static_cast<std::size_t>(n) >= sizeof *ih &&
        ih->opcode == FUSE_TMPFILE) {
      crashfs::handle_tmpfile(st, fuse_fd, static_cast<const char*>(buf.mem),
                              static_cast<std::size_t>(n));
      continue;
    }
    fuse_session_process_buf(se, &buf);
  }
  std::free(buf.mem);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  g_stop = true;
  ctl.join();
  ::close(lfd);
  ::unlink(control.c_str());

  // A clean unmount writes everything back, as a real file system's unmount does.
  std::lock_guard lk(st.mu);
  if (!st.dead) {
    st.model.syncfs();
    st.store_error = st.backing.store(st.model);
  }
  if (!st.store_error.empty()) {
    std::fprintf(stderr, "crashfs: cannot write %s: %s\n", backing.c_str(), st.store_error.c_str());
    return 1;
  }
  return 0;
}
