#include "app/config_reload.hpp"

#include <algorithm>

namespace taube::app {

namespace {

// Keeps `running`'s value in `next`; names `key` when they differed.
template <typename T>
void keep(const T& running, T& next, const char* key, std::vector<std::string>& notes) {
  if (!(next == running)) {
    notes.emplace_back(key);
    next = running;
  }
}

bool same_http(const std::optional<net::HttpConfig>& a, const std::optional<net::HttpConfig>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->address == b->address && a->port == b->port &&
                a->max_connections == b->max_connections);
}

}  // namespace

std::vector<std::string> keep_restart_only(const Config& running, Config& next) {
  std::vector<std::string> notes;
  // The bound sockets: the SMTP listeners, the HTTP listener, the control socket.
  keep(running.server.listeners, next.server.listeners, "listener", notes);
  // The Maildir writer names its files with the host name it started with (Maildir's unique
  // names); the greeting and the Received lines would disagree with it.
  keep(running.server.session.hostname, next.server.session.hostname, "hostname", notes);
  keep(running.directory.mail_root, next.directory.mail_root, "delivery.mail_root", notes);
  keep(running.journal, next.journal, "delivery.journal", notes);
  keep(running.journal_path, next.journal_path, "delivery.journal_path", notes);
  keep(running.server.journal_path, next.server.journal_path, "delivery.journal_path", notes);
  keep(running.server.journal_size, next.server.journal_size, "delivery.journal_size_mb", notes);
  keep(running.server.discard, next.server.discard, "delivery.mode", notes);
  keep(running.server.worker_threads, next.server.worker_threads, "server.worker_threads", notes);
  const auto& ro = running.server.outbound;
  auto& no = next.server.outbound;
  keep(ro.queue_path, no.queue_path, "queue.path", notes);
  keep(ro.queue_journal_size, no.queue_journal_size, "queue.journal_size_mb", notes);
  keep(ro.history_size, no.history_size, "queue.history_size_mb", notes);
  keep(ro.control_socket, no.control_socket, "queue.control_socket", notes);
  keep(running.server.submit_socket, next.server.submit_socket, "queue.submit_socket", notes);
  // The resolver's upstream servers are set when it starts.
  keep(running.dns_servers, next.dns_servers, "dns.servers", notes);
  keep(ro.dns_servers, no.dns_servers, "dns.servers", notes);
  keep(running.log.output, next.log.output, "log.output", notes);
  keep(running.log.format, next.log.format, "log.format", notes);
  if (!same_http(running.server.http, next.server.http)) notes.emplace_back("metrics.listen");
  next.server.http = running.server.http;
  // One key may have been named twice (two fields behind it).
  std::vector<std::string> unique;
  for (auto& n : notes)
    if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(std::move(n));
  return unique;
}

}  // namespace taube::app
