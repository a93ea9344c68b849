// The state the FUSE handlers and the control channel share: the Model, the backing directory,
// the sync counters, the armed cut, and the power (on, or cut: every request then fails with EIO
// until the file system is mounted again).
#pragma once

#include <fuse_lowlevel.h>

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "backing.hpp"
#include "model.hpp"

namespace crashfs {

struct SyncEvent {
  SyncKind kind;
  std::string path;
};

struct State {
  explicit State(std::string backing_dir) : backing(std::move(backing_dir)) {}

  std::mutex mu;  // every field below, and every Model access
  Model model;
  Backing backing;
  bool dead = false;    // the power was cut
  bool tmpfile = true;  // answer FUSE_TMPFILE (O_TMPFILE); false: like a file system without it
  std::uint64_t counts[4] = {0, 0, 0, 0};  // by SyncKind
  std::uint64_t syncs = 0;                 // all of them
  std::uint64_t armed_left = 0;  // matching sync-class calls until the cut (0: not armed)
  int armed_kind = -1;           // count only calls of this SyncKind (-1: every call)
  bool armed_firing = false;     // the call under way is the one: cut before or after it
  bool armed_after = true;       // true: the call succeeds, then the cut; false: the call fails
  std::deque<SyncEvent> events;  // since the last "events" command (bounded)
  std::string store_error;       // the last failure to write the backing directory

  // Cuts the power: writes the durable image to the backing directory and refuses everything
  // from now on. Called with `mu` held. Idempotent.
  void cut();
  // Records a sync-class call; returns EIO (and cuts) when the armed cut is due before it, 0 to
  // go ahead. After the call did its work, the caller calls after_sync().
  int before_sync(SyncKind k, Ino ino);
  void after_sync();
};

// struct stat of an inode as the kernel is told it.
void fill_stat(const Inode& i, struct ::stat& st);

// The lowlevel operations, with State* as the session's user data.
const fuse_lowlevel_ops& operations();

// Answers a FUSE_TMPFILE request (libfuse 3.14 has no handler for it) straight on the /dev/fuse
// descriptor. `req` is the raw request as read by fuse_session_receive_buf.
void handle_tmpfile(State& st, int fuse_fd, const char* req, std::size_t len);

}  // namespace crashfs
