// What a SIGHUP may change. Most of the configuration applies to new connections and to the
// queue's next attempts: domains, users, aliases, relay networks, limits, timeouts, TLS
// certificate, AUTH users, routing, retry times, log level. Some things are fixed while the
// server runs, because sockets are bound, files are open or threads started with them; a reload
// keeps them as they are and names them, so that the operator knows a restart is needed (as
// Postfix's "postfix reload" keeps inet_interfaces until "postfix stop; postfix start").
#pragma once

#include <string>
#include <vector>

#include "app/config.hpp"

namespace taube::app {

// Puts back into `next` every value that only a restart can change, taking it from `running`.
// Returns the configuration keys whose new value was not applied ("listener",
// "delivery.mail_root", ...), in the order of the file's sections.
std::vector<std::string> keep_restart_only(const Config& running, Config& next);

}  // namespace taube::app
