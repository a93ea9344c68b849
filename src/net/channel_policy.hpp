// What a listener offers a session (STARTTLS, AUTH, submission rules, the dialect), from its
// configuration and the credentials in force. Shared by the inbound connection and the
// in-process dialog runner, so both offer the same.
#pragma once

#include "net/connection_context.hpp"
#include "net/server_config.hpp"
#include "smtp/server/server_session.hpp"

namespace taube::net {

smtp::ChannelPolicy channel_policy_for(const ListenerConfig& listener, const Credentials& creds);

}  // namespace taube::net
