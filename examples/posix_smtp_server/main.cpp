// posix_smtp_server: taube::smtp::ServerSession driven over plain POSIX sockets, one client at a
// time. The session does the protocol; this file does everything the library leaves out: the
// socket, the timeout, the decisions it pauses for, and where an accepted message goes.
//
//   posix_smtp_server PORT [-d DOMAIN] [-o DIR] [-n COUNT]
//     PORT    TCP port on 127.0.0.1; 0 picks a free one. "listening on 127.0.0.1:<port>" is the
//             first line on stdout.
//     DOMAIN  recipients are accepted in this domain (and <postmaster>), others get 554 5.7.1
//             (default: localhost).
//     DIR     each accepted message is written to DIR/<n>.eml; without -o it goes to stdout after
//             a line "message <n> from <sender> to <rcpt>... (<size> octets)".
//     COUNT   exit after COUNT connections (default: serve forever).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <string>

#include "smtp/server/server_session.hpp"

namespace {

namespace smtp = taube::smtp;

struct Options {
  int port = -1;
  std::string domain = "localhost";
  std::string out_dir;  // empty: stdout
  long connections = -1;
};

constexpr int kCommandTimeoutMs = 5 * 60 * 1000;  // RFC 5321 §4.5.3.2: at least 5 minutes

// The message being received: the envelope from MessageBegin, the content from body().
struct Message {
  smtp::Envelope envelope;
  std::string content;
};

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Our "storage": the message is accepted once it is written out (a real MTA fsyncs first).
bool store(const Options& opt, long number, const Message& m) {
  if (!opt.out_dir.empty()) {
    std::ofstream f(opt.out_dir + "/" + std::to_string(number) + ".eml", std::ios::binary);
    f.write(m.content.data(), static_cast<std::streamsize>(m.content.size()));
    f.close();
    return static_cast<bool>(f);
  }
  std::string head = "message " + std::to_string(number) + " from <" +
                     m.envelope.sender.mailbox.to_string() + "> to";
  for (const auto& r : m.envelope.recipients) head += " <" + r.mailbox.to_string() + ">";
  head += " (" + std::to_string(m.content.size()) + " octets)\n";
  std::fwrite(head.data(), 1, head.size(), stdout);
  std::fwrite(m.content.data(), 1, m.content.size(), stdout);
  return std::fflush(stdout) == 0;
}

// Answers what the session paused for. Returns false when nothing was pending.
bool answer(smtp::ServerSession& s, const Options& opt, std::optional<Message>& msg, long& stored) {
  switch (s.pending()) {
    case smtp::Pending::None:
      return false;
    case smtp::Pending::Mail:
      s.resolve_mail(smtp::MailVerdict::Accept);  // any sender: no SPF, no restrictions here
      return true;
    case smtp::Pending::Rcpt: {
      const smtp::Mailbox& mb = s.rcpt_request().mailbox;
      smtp::RcptVerdict v;
      if (mb.domain.empty() || lower(mb.domain) == opt.domain) {  // empty: <postmaster>
        v.kind = smtp::RcptVerdictKind::Accept;
        v.destinations.push_back({smtp::Destination::Route::Mailbox, mb.to_string()});
      } else {
        v.kind = smtp::RcptVerdictKind::RelayDenied;  // never an open relay (RFC 5321 §3.6.2)
      }
      s.resolve_rcpt(std::move(v));
      return true;
    }
    case smtp::Pending::Vrfy:
    case smtp::Pending::Expn:
      s.resolve_address({smtp::AddressVerdictKind::CannotVerify, {}});
      return true;
    case smtp::Pending::Commit: {
      smtp::CommitResult r;
      if (msg && store(opt, stored + 1, *msg)) {
        r.status = smtp::CommitStatus::Accepted;
        r.queue_id = std::to_string(++stored);
      }  // else the default: StorageError, 451 4.3.0, the client retries later
      msg.reset();
      s.commit_done(r);
      return true;
    }
    case smtp::Pending::Auth:  // not offered (ChannelPolicy::auth is false)
      s.auth_failed();
      return true;
  }
  return false;
}

// Feeds `in` to the session until it needs more input, answering every pause on the way.
void process(smtp::ServerSession& s, std::string& in, const Options& opt,
             std::optional<Message>& msg, long& stored) {
  while (true) {
    const std::size_t n = s.receive(std::span<const char>(in.data(), in.size()));
    in.erase(0, n);
    while (auto ev = s.poll_event()) {
      if (ev->kind == smtp::EventKind::MessageBegin) msg.emplace(Message{*ev->envelope, {}});
      if (ev->kind == smtp::EventKind::MessageAbort) msg.reset();
      if (ev->kind == smtp::EventKind::Reject)
        std::fprintf(stderr, "refused: %d %s %s\n", ev->reply.code, ev->reply.enhanced.c_str(),
                     ev->reply.text.c_str());
    }
    if (msg) msg->content += s.body();
    s.body().clear();
    if (answer(s, opt, msg, stored)) continue;
    if (in.empty() || s.closed()) return;
  }
}

void serve(int fd, const std::string& peer, const smtp::SessionConfig& cfg, const Options& opt,
           long& stored) {
  smtp::ServerSession s(cfg, smtp::ClientInfo{peer, {}, false, false, {}, {}});
  s.start();
  std::string in;
  std::optional<Message> msg;
  char buf[16 * 1024];
  while (true) {
    process(s, in, opt, msg, stored);
    if (!write_all(fd, s.output())) return;
    s.output().clear();
    if (s.closed()) return;  // after 221 (QUIT), 421 (timeout, too many errors)
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, kCommandTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      s.timeout();  // 421 4.4.2 and close
      continue;
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away without QUIT: a message in progress is lost
    in.append(buf, static_cast<std::size_t>(n));
  }
}

bool parse(int argc, char** argv, Options& opt) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-d" || a == "-o" || a == "-n") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "-d") opt.domain = lower(v);
      if (a == "-o") opt.out_dir = v;
      if (a == "-n") opt.connections = std::atol(v.c_str());
    } else if (opt.port < 0 && !a.empty() && a.find_first_not_of("0123456789") == a.npos) {
      opt.port = std::atoi(a.c_str());
    } else {
      return false;
    }
  }
  return opt.port >= 0 && opt.port <= 65535;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, opt)) {
    std::fprintf(stderr, "usage: %s PORT [-d DOMAIN] [-o DIR] [-n COUNT]\n", argv[0]);
    return 2;
  }
  const int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(opt.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(ls, 16) != 0 || ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listen");
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", unsigned{ntohs(addr.sin_port)});
  std::fflush(stdout);

  smtp::SessionConfig cfg;  // the session keeps a reference: it must outlive every session
  cfg.hostname = "localhost";
  long stored = 0;
  for (long served = 0; opt.connections < 0 || served < opt.connections; ++served) {
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    const int fd = ::accept(ls, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::perror("accept");
      return 1;
    }
    char ip[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    serve(fd, ip, cfg, opt, stored);
    ::close(fd);
  }
  ::close(ls);
  return 0;
}
