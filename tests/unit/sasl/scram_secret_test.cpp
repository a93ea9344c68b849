#include "sasl/scram_secret.hpp"

#include <gtest/gtest.h>

#include <string>

#include "smtp/wire/base64.hpp"

namespace taube::sasl {
namespace {

ScramSecret sample() {
  ScramSecret s;
  s.iterations = 4096;
  s.salt = std::string("\x01\x02\x03salt,=:\n", 11);
  s.stored_key = std::string(32, 'k');
  s.server_key = std::string(32, '\xff');
  return s;
}

TEST(ScramSecret, FieldRoundTrips) {
  const ScramSecret s = sample();
  const std::string field = format_scram_secret(s);
  EXPECT_EQ(field, "scram-sha-256=4096," + smtp::base64_encode(s.salt) + "," +
                       smtp::base64_encode(s.stored_key) + "," + smtp::base64_encode(s.server_key));
  auto back = parse_scram_secret(field);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->iterations, 4096);
  EXPECT_EQ(back->salt, s.salt);
  EXPECT_EQ(back->stored_key, s.stored_key);
  EXPECT_EQ(back->server_key, s.server_key);
}

TEST(ScramSecret, IterationsAtTheMinimumAndAbove) {
  ScramSecret s = sample();
  s.iterations = kScramMinIterations;
  EXPECT_TRUE(parse_scram_secret(format_scram_secret(s)));
  s.iterations = kScramMinIterations - 1;
  EXPECT_FALSE(parse_scram_secret(format_scram_secret(s)));
  EXPECT_FALSE(is_valid(s));
  s.iterations = 2147483647;
  EXPECT_TRUE(parse_scram_secret(format_scram_secret(s)));
}

TEST(ScramSecret, BadFieldsAreRejected) {
  const std::string key = smtp::base64_encode(std::string(32, 'k'));
  for (const std::string bad : {
           std::string(),
           "scram-sha-1=4096,c2FsdA==," + key + "," + key,    // another mechanism
           "scram-sha-256=4095,c2FsdA==," + key + "," + key,  // too few iterations
           "scram-sha-256=x,c2FsdA==," + key + "," + key,
           "scram-sha-256=4096x,c2FsdA==," + key + "," + key,
           "scram-sha-256=99999999999,c2FsdA==," + key + "," + key,  // over INT_MAX
           "scram-sha-256=4096,c2FsdA==," + key,                     // 3 values
           "scram-sha-256=4096,c2FsdA==," + key + "," + key + ",x",  // 5 values
           "scram-sha-256=4096,," + key + "," + key,                 // no salt
           "scram-sha-256=4096,c2FsdA==,c2hvcnQ=," + key,            // short key
           "scram-sha-256=4096,c2FsdA==," + key + ",c2hvcnQ=",
           "scram-sha-256=4096,c2Fsd!==," + key + "," + key,  // not base64
           "scram-sha-256=4096,c2FsdA=," + key + "," + key,   // bad padding
       }) {
    EXPECT_FALSE(parse_scram_secret(bad)) << bad;
  }
}

TEST(ScramSecret, Validity) {
  EXPECT_TRUE(is_valid(sample()));
  ScramSecret s = sample();
  s.salt.clear();
  EXPECT_FALSE(is_valid(s));
  s = sample();
  s.stored_key.pop_back();
  EXPECT_FALSE(is_valid(s));
  s = sample();
  s.server_key += 'x';
  EXPECT_FALSE(is_valid(s));
}

}  // namespace
}  // namespace taube::sasl
