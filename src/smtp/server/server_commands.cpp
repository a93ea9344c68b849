// ServerSession: the commands outside a mail transaction. NOOP, QUIT, HELP (RFC 5321 §4.1.1.9,
// .10, .8), VRFY and EXPN (§3.5), ETRN (RFC 1985), and what is not a command at all.
#include "smtp/server/server_session.hpp"

namespace taube::smtp {

void ServerSession::on_noop(const Command&) {
  reply(ReplyId::NoopOk);  // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored
}

void ServerSession::on_quit(const Command& cmd) {
  if (!cmd.argument.empty()) {
    reply(ReplyId::SyntaxNoArgs, "QUIT");
    return;
  }
  reset_transaction();
  reply(ReplyId::Bye);
  state_ = State::Closed;
  push(Event{EventKind::Close, {}, Verb::Invalid, {}, {}, 0, 0, nullptr});
}

void ServerSession::on_help(const Command&) {
  reply(ReplyId::Help);
}

void ServerSession::on_vrfy(const Command& cmd) {
  if (cfg_.vrfy == VrfyMode::Disabled) {
    reply(ReplyId::VrfyDisabled);
    return;
  }
  if (cmd.argument.empty()) {
    reply(Reply{501, "5.5.4", "Syntax: VRFY address"});
    return;
  }
  if (cfg_.vrfy == VrfyMode::CannotVerify) {
    // RFC 5321 §3.5.3: 252 when we will not say whether the user exists.
    reply(ReplyId::VrfyCannot);
    return;
  }
  on_expn(cmd);
}

void ServerSession::on_expn(const Command& cmd) {
  const bool vrfy = cmd.verb == Verb::Vrfy;
  if (!vrfy && !cfg_.expn) {
    reply(ReplyId::ExpnDisabled);
    return;
  }
  std::string_view arg = cmd.argument;
  if (arg.empty()) {
    reply(Reply{501, "5.5.4", vrfy ? "Syntax: VRFY address" : "Syntax: EXPN address"});
    return;
  }
  if (arg.size() >= 2 && arg.front() == '<' && arg.back() == '>')
    arg = arg.substr(1, arg.size() - 2);
  Mailbox mb;
  if (arg.find('@') == std::string_view::npos) {
    mb.local_part.assign(arg);  // a bare user name: policy picks the domain
  } else {
    auto parsed = parse_mailbox(arg, true, cfg_.limits);
    if (!parsed) {
      reply(ReplyId::BadRecipientSyntax);
      return;
    }
    mb = std::move(*parsed);
  }
  addr_req_ = AddressRequest{std::move(mb), std::string(cmd.argument)};
  pending_ = vrfy ? Pending::Vrfy : Pending::Expn;
}

void ServerSession::resolve_address(AddressVerdict verdict) {
  if (pending_ != Pending::Vrfy && pending_ != Pending::Expn) return;
  const bool expn = pending_ == Pending::Expn;
  pending_ = Pending::None;
  switch (verdict.kind) {
    case AddressVerdictKind::Found: {
      if (verdict.addresses.empty()) verdict.addresses.push_back(addr_req_.mailbox.to_string());
      if (!expn) {
        reply(ReplyId::VrfyOk, verdict.addresses.front());
        return;
      }
      // RFC 5321 §3.5.2: one line per member of the list.
      std::string text;
      for (const auto& a : verdict.addresses) text += (text.empty() ? "<" : "\n<") + a + ">";
      reply(Reply{250, "2.1.5", std::move(text)});
      return;
    }
    case AddressVerdictKind::Unknown:
      reply(ReplyId::VrfyUnknown, addr_req_.mailbox.to_string());
      return;
    case AddressVerdictKind::CannotVerify:
      reply(ReplyId::VrfyCannot);
      return;
  }
}

void ServerSession::on_etrn(const Command& cmd) {
  if (!cfg_.etrn) {
    reply(ReplyId::EtrnDisabled);
    return;
  }
  if (cmd.argument.empty()) {
    reply(Reply{501, "5.5.4", "Syntax: ETRN domain"});
    return;
  }
  if (tx_) {
    reply(Reply{503, "5.5.1", "Error: MAIL transaction in progress"});  // RFC 1985 §5
    return;
  }
  // RFC 1985 §3: "@domain" asks for the domain and its subdomains (taken as the domain
  // itself here), "#queue" names a queue Taube does not have.
  std::string_view node = cmd.argument;
  if (!node.empty() && node.front() == '@') node.remove_prefix(1);
  if (!node.empty() && node.front() == '#') {
    reply(ReplyId::EtrnNoQueue, cmd.argument);
    return;
  }
  if (!is_valid_domain(node, false)) {
    reply(ReplyId::EtrnBadNode, cmd.argument);
    return;
  }
  if (!cfg_.etrn_run) {
    reply(ReplyId::EtrnNoQueue, cmd.argument);
    return;
  }
  const std::string domain(node);
  if (cfg_.etrn_run(domain) == 0)
    reply(ReplyId::EtrnNothing, domain);
  else
    reply(ReplyId::EtrnStarted, domain);
}

void ServerSession::on_unknown(const Command&) {
  reply(ReplyId::UnknownCommand);
}

void ServerSession::on_invalid(const Command&) {
  reply(ReplyId::BadCommandLine);
}

}  // namespace taube::smtp
