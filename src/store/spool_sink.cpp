#include "store/spool_sink.hpp"

#include <cerrno>

#include "store/durable_file.hpp"
#include "store/maildir_writer.hpp"

namespace taube::store {

queue::QueueEnvelope queue_envelope_for(const MessageInfo& info) {
  queue::QueueEnvelope env;
  env.id = info.queue_id;
  env.arrival = info.arrival;
  env.sender = info.envelope.sender;
  env.params = info.envelope.mail_params;
  env.params.auth.reset();  // RFC 4954 §5: AUTH= is decided anew for the next hop
  env.auth_user = info.auth_user;
  env.client_address = info.client_address;
  env.client_helo = info.client_helo;
  for (const auto& r : info.envelope.recipients) {
    for (const auto& d : r.destinations) {
      if (d.route != smtp::Destination::Route::Queue) continue;
      queue::QueuedRecipient q;
      auto mb = smtp::parse_mailbox(d.target);
      q.mailbox = mb ? *mb : r.mailbox;
      // An alias that leads elsewhere: the original recipient is kept for the DSN (RFC 3461
      // §4.2 ORCPT is the client's; this is ours).
      if (!(q.mailbox == r.mailbox)) q.original = r.mailbox.to_string();
      q.params = r.params;
      env.recipients.push_back(std::move(q));
    }
  }
  return env;
}

std::unique_ptr<MessageWriter> RelaySpoolSink::begin(const MessageInfo& info,
                                                     std::string provisional_prefix) {
  const std::string envelope = queue::encode_envelope(queue_envelope_for(info));
  auto before = [this,
                 envelope](const std::string& unique) -> tl::expected<std::string, StoreError> {
    const std::string env_dir = dir_ + "/env";
    if (fs_.mkdir(env_dir, 0700) == 0) {
      // The new directory's name is durable only once the spool directory is fsynced.
      if (auto r = fsync_directory(fs_, dir_); !r) return tl::unexpected(r.error());
    } else if (errno != EEXIST) {
      return tl::unexpected(error_from_errno(errno));
    }
    auto f = DurableFile::create(fs_, dir_ + "/tmp/" + unique + ".env");
    if (!f) return tl::unexpected(f.error());
    const std::string final_path = env_dir + "/" + unique;
    if (auto w = f->write(envelope); !w) return tl::unexpected(w.error());
    if (auto p = f->publish({final_path}); !p) return tl::unexpected(p.error());
    return final_path;
  };
  return std::make_unique<MaildirWriter>(store_, std::vector<std::string>{dir_}, nullptr,
                                         std::move(provisional_prefix), std::move(before));
}

}  // namespace taube::store
