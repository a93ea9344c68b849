#include "sasl/scram_messages.hpp"

#include <gtest/gtest.h>

#include <string>

namespace taube::smtp {
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

}  // namespace
}  // namespace taube::smtp
