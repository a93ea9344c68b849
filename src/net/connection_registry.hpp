// ConnectionRegistry: the live connections, so that a graceful stop can wake the idle ones and,
// after the grace period, close the rest.
// Entries are two function pointers per connection (no base class to inherit): any class with
// interrupt() and force_close() can enroll.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <vector>

namespace taube::net {

class ConnectionRegistry {
 public:
  struct Entry {
    void* self;
    void (*interrupt)(void*);    // shutdown: an idle connection ends its read (421 4.3.2)
    void (*force_close)(void*);  // the grace period is over: close now
  };
  using Handle = std::list<Entry>::iterator;

  template <class C>
  Handle enroll(C* c) {
    return live_.insert(live_.end(), Entry{c, [](void* p) { static_cast<C*>(p)->interrupt(); },
                                           [](void* p) { static_cast<C*>(p)->force_close(); }});
  }
  void withdraw(Handle h) {
    live_.erase(h);
    if (live_.empty() && on_empty_) on_empty_();
  }
  std::size_t size() const { return live_.size(); }
  void interrupt_all() {
    for (const Entry& e : live_) e.interrupt(e.self);
  }
  void close_all() {
    // A copy: force_close may let coroutines finish and withdraw while we iterate.
    std::vector<Entry> all(live_.begin(), live_.end());
    for (const Entry& e : all) e.force_close(e.self);
  }
  void on_empty(std::function<void()> f) { on_empty_ = std::move(f); }

 private:
  std::list<Entry> live_;
  std::function<void()> on_empty_;
};

}  // namespace taube::net
