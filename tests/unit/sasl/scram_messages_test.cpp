#include "sasl/scram_messages.hpp"

#include <gtest/gtest.h>

#include <string>

#include "smtp/wire/base64.hpp"

namespace taube::sasl {
namespace {

TEST(ScramClientFirst, Rfc7677Example) {
  auto f = parse_scram_client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->gs2_header, "n,,");
  EXPECT_EQ(f->authzid, "");
  EXPECT_EQ(f->username, "user");
  EXPECT_EQ(f->nonce, "rOprNGfwEbeRWgbNEkqO");
  EXPECT_EQ(f->bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
}

TEST(ScramClientFirst, AuthzidEscapesAndExtensions) {
  auto f = parse_scram_client_first("y,a=a=3Db=2Cc,n=a=3Db=2Cc,r=abc,x=ext");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->gs2_header, "y,a=a=3Db=2Cc,");
  EXPECT_EQ(f->authzid, "a=b,c");
  EXPECT_EQ(f->username, "a=b,c");
  EXPECT_EQ(f->nonce, "abc");
  EXPECT_EQ(f->bare, "n=a=3Db=2Cc,r=abc,x=ext");
}

TEST(ScramClientFirst, Rejections) {
  for (const char* bad : {
           "",                            // nothing
           "p=tls-unique,,n=user,r=abc",  // channel binding: not offered
           "x,,n=user,r=abc",             // bad flag
           "n,n=user,r=abc",              // authzid field missing
           "n,b=x,n=user,r=abc",          // not a=
           "n,,m=ext,n=user,r=abc",       // mandatory extension
           "n,,u=user,r=abc",             // not n=
           "n,,n=,r=abc",                 // empty name
           "n,,n=us=2Xer,r=abc",          // bad escape
           "n,,n=user",                   // no nonce
           "n,,n=user,r=",                // empty nonce
           "n,,n=user,r=a b",             // space in nonce
           "n,,n=user,x=abc",             // not r=
       }) {
    EXPECT_FALSE(parse_scram_client_first(bad)) << bad;
  }
}

TEST(ScramClientFinal, Rfc7677Example) {
  auto f = parse_scram_client_final(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->channel_binding, "biws");
  EXPECT_EQ(f->nonce, "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  EXPECT_EQ(f->proof, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_EQ(f->without_proof, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
}

TEST(ScramClientFinal, Rejections) {
  for (const char* bad : {
           "",
           "c=biws,r=abc",         // no proof
           "c=biws,r=abc,p=",      // empty proof
           "c=biws,r=abc,p=abc",   // not base64 (length)
           "c=bi!s,r=abc,p=AAAA",  // bad channel binding
           "r=abc,c=biws,p=AAAA",  // wrong order
           "c=biws,x=abc,p=AAAA",  // no nonce
       }) {
    EXPECT_FALSE(parse_scram_client_final(bad)) << bad;
  }
}

TEST(ScramServerFirst, Rfc7677Example) {
  auto f = parse_scram_server_first(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->nonce, "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  EXPECT_EQ(f->salt, *smtp::base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="));
  EXPECT_EQ(f->iterations, 4096);
  auto ext = parse_scram_server_first("r=abc,s=c2FsdA==,i=1,x=extension");
  ASSERT_TRUE(ext) << ext.error();
  EXPECT_EQ(ext->iterations, 1);  // the range is the client mechanism's to check
  auto max = parse_scram_server_first("r=abc,s=c2FsdA==,i=2147483647");
  ASSERT_TRUE(max);
  EXPECT_EQ(max->iterations, 2147483647);
}

TEST(ScramServerFirst, Rejections) {
  for (const char* bad : {
           "",
           "m=ext,r=abc,s=c2FsdA==,i=4096",  // mandatory extension
           "s=c2FsdA==,r=abc,i=4096",        // wrong order
           "r=,s=c2FsdA==,i=4096",           // empty nonce
           "r=a b,s=c2FsdA==,i=4096",        // space in nonce
           "r=abc,s=,i=4096",                // empty salt
           "r=abc,s=c2Fsd!==,i=4096",        // bad base64
           "r=abc,s=c2FsdA==",               // no count
           "r=abc,s=c2FsdA==,i=",            // empty count
           "r=abc,s=c2FsdA==,i=0",           // zero
           "r=abc,s=c2FsdA==,i=-1",          // sign
           "r=abc,s=c2FsdA==,i=4096x",       // junk
           "r=abc,s=c2FsdA==,i=2147483648",  // over INT_MAX
           "r=abc,s=c2FsdA==,i=99999999999",
       }) {
    EXPECT_FALSE(parse_scram_server_first(bad)) << bad;
  }
}

TEST(ScramServerFinal, VerifierOrError) {
  auto v = parse_scram_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->verifier, *smtp::base64_decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  EXPECT_EQ(v->error, "");
  auto withext = parse_scram_server_final("v=AAAA,x=ext");
  ASSERT_TRUE(withext);
  EXPECT_EQ(withext->verifier, std::string(3, '\0'));
  auto e = parse_scram_server_final("e=invalid-proof");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error, "invalid-proof");
  EXPECT_EQ(e->verifier, "");
  for (const char* bad : {"", "v=", "v=abc", "e=", "x=AAAA", "AAAA"})
    EXPECT_FALSE(parse_scram_server_final(bad)) << bad;
}

TEST(Saslname, EncodingIsTheParsersInverse) {
  EXPECT_EQ(encode_saslname("user"), "user");
  EXPECT_EQ(encode_saslname("a=b,c"), "a=3Db=2Cc");
  auto f = parse_scram_client_first("n,,n=" + encode_saslname("x,=,y") + ",r=abc");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->username, "x,=,y");
}

}  // namespace
}  // namespace taube::sasl
