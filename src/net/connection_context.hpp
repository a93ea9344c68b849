// ConnectionContext: what an inbound connection may use of the server, and nothing more (not
// the whole Server): configuration, policy, the message sink, the worker pool, the credentials
// in force, the observer and the shutdown flag. Unit tests build one around a memory sink.
#pragma once

#include <memory>

#include <asio/ssl/context.hpp>
#include <asio/thread_pool.hpp>

#include "events/observer.hpp"
#include "net/server_config.hpp"
#include "policy/auth_throttle.hpp"
#include "policy/session_policy.hpp"
#include "store/message_sink.hpp"
#include "store/user_db.hpp"

namespace taube::net {

// Reloadable (SIGHUP): a connection keeps the ones it started with.
struct Credentials {
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<const store::UserDb> users;
};

class ConnectionRegistry;

struct ConnectionContext {
  const ServerConfig& config;
  const policy::SessionPolicy& policy;
  store::MessageSink& sink;
  asio::thread_pool& pool;
  events::Observer& observer;
  policy::AuthThrottle& throttle;
  const Credentials& credentials;
  ConnectionRegistry& registry;
  const bool& stopping;
};

}  // namespace taube::net
