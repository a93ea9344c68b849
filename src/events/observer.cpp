#include "events/observer.hpp"

namespace taube::events {

// Out of line so the vtable has a home.
static_assert(sizeof(Peer) > 0);

}  // namespace taube::events
