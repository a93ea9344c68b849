#include "sasl/crypto.hpp"

namespace taube::sasl {

Crypto::~Crypto() = default;

}  // namespace taube::sasl
