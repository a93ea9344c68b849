// The two dialects of the protocol, shared by the server and the client sessions: SMTP (RFC 5321)
// and LMTP (RFC 2033: LHLO instead of HELO/EHLO, one reply per accepted recipient after the end
// of data, §4.2).
#pragma once

namespace taube::smtp {

enum class Dialect { Smtp, Lmtp };

}  // namespace taube::smtp
