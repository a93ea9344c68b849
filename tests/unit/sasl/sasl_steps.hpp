// Helpers shared by the SASL tests: readable assertions on ServerStep values, and the RFC 7677
// §3 example exchange (user "user", password "pencil").
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "sasl/server_mechanism.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::sasl::testing {

inline std::string describe(const ServerStep& s) {
  if (auto* c = std::get_if<Challenge>(&s)) return "Challenge \"" + c->data + "\"";
  if (auto* v = std::get_if<VerifyPassword>(&s)) return "VerifyPassword " + v->username;
  if (auto* l = std::get_if<LookupSecret>(&s)) return "LookupSecret " + l->username;
  if (auto* ok = std::get_if<Success>(&s)) return "Success " + ok->data.value_or("(no data)");
  return "Failure: " + std::get<Failure>(s).reason;
}

template <class T>
bool is(const ServerStep& s) {
  return std::holds_alternative<T>(s);
}

namespace rfc7677 {
inline constexpr const char* kPassword = "pencil";
inline constexpr const char* kClientNonce = "rOprNGfwEbeRWgbNEkqO";
inline constexpr const char* kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
inline constexpr const char* kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
inline constexpr const char* kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
inline constexpr const char* kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
inline constexpr const char* kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
inline constexpr const char* kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
inline constexpr const char* kAuthMessage =
    "n=user,r=rOprNGfwEbeRWgbNEkqO,"
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
inline constexpr const char* kProof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
inline constexpr const char* kServerSignature = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

inline std::string salt() {
  return *smtp::base64_decode(kSalt);
}
}  // namespace rfc7677

}  // namespace taube::sasl::testing
