// console/request_parse: query strings, cookies, the JSON subset of the API's bodies. The JSON
// reader is also fed every prefix of a valid body (each must fail, never crash or succeed).
#include "console/request_parse.hpp"

#include <gtest/gtest.h>

namespace taube::console {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(ConsoleQuery, DecodesPercentAndPlus) {
  auto q = parse_query("page=2&sender=a%40b.test&x=one+two&&empty=&flag");
  ASSERT_TRUE(q) << q.error();
  EXPECT_EQ(
      *q,
      (Pairs{
          {"page", "2"}, {"sender", "a@b.test"}, {"x", "one two"}, {"empty", ""}, {"flag", ""}}));
  EXPECT_TRUE(parse_query("")->empty());
}

TEST(ConsoleQuery, RejectsBadEscapesAndControls) {
  EXPECT_FALSE(parse_query("a=%4"));
  EXPECT_FALSE(parse_query("a=%"));
  EXPECT_FALSE(parse_query("a=%zz"));
  EXPECT_FALSE(parse_query("a=%00"));
  EXPECT_FALSE(parse_query("a=%0a"));
  EXPECT_TRUE(parse_query("a=%C3%A9"));  // UTF-8 is fine
}

TEST(ConsoleCookies, ParsesPairsAndSkipsJunk) {
  auto c = parse_cookies("a=1; taube_session=\"abc\";junk; =x;  b=2 ; a=3");
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c["a"], "1");
  EXPECT_EQ(c["taube_session"], "abc");
  EXPECT_EQ(c["b"], "2");
}

TEST(ConsoleJson, ReadsStringsArraysAndBooleans) {
  auto o = parse_json_object(
      R"( {"user": "ad\"min\u00e9\ud83d\ude00", "ids": ["A", "B"], "x": true, "y": false, "e": []} )");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(std::get<std::string>((*o)["user"]), "ad\"min\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(std::get<std::vector<std::string>>((*o)["ids"]), (std::vector<std::string>{"A", "B"}));
  EXPECT_TRUE(std::get<bool>((*o)["x"]));
  EXPECT_FALSE(std::get<bool>((*o)["y"]));
  EXPECT_TRUE(std::get<std::vector<std::string>>((*o)["e"]).empty());
  EXPECT_TRUE(parse_json_object("{}"));
}

TEST(ConsoleJson, RejectsWhatTheApiDoesNotTake) {
  for (const char* bad :
       {"", "[]", "{", "{\"a\"}", "{\"a\": 1}", "{\"a\": null}", "{\"a\": {\"b\": \"c\"}}",
        "{\"a\": [1]}", "{\"a\": \"x\"} x", "{\"a\": \"x\", \"a\": \"y\"}", "{\"a\": \"\x01\"}",
        "{\"a\": \"\\ud800\"}", "{\"a\": \"\\q\"}", "{\"a\": \"x\",}", "{'a': 'x'}"})
    EXPECT_FALSE(parse_json_object(bad)) << bad;
  std::string many = "{";
  for (int i = 0; i < 17; ++i) many += (i ? ", \"k" : "\"k") + std::to_string(i) + "\": \"v\"";
  many += "}";
  EXPECT_FALSE(parse_json_object(many));
  auto err = parse_json_object("{\"a\": 1}");
  EXPECT_NE(err.error().find("offset 6"), std::string::npos) << err.error();
}

TEST(ConsoleJson, EveryPrefixOfAValidBodyFails) {
  const std::string body = R"({"action": "hold", "ids": ["A1", "B\u00e92"], "x": true})";
  ASSERT_TRUE(parse_json_object(body));
  for (std::size_t n = 0; n < body.size(); ++n)
    EXPECT_FALSE(parse_json_object(body.substr(0, n))) << n;
}

TEST(ConsoleJson, TypedLookups) {
  auto o = *parse_json_object(R"({"s": "v", "a": ["x"]})");
  EXPECT_EQ(*json_string(o, "s").value(), "v");
  EXPECT_FALSE(json_string(o, "missing").value());
  EXPECT_FALSE(json_string(o, "a"));
  EXPECT_EQ(json_strings(o, "s").error(), "\"s\" must be an array of strings");
  EXPECT_EQ(json_strings(o, "a").value()->size(), 1u);
}

}  // namespace
}  // namespace taube::console
