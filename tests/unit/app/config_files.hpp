// A test fixture that writes configuration files to /tmp and removes them afterwards.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace taube::app::test {

class ConfigFiles : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    char tmpl[] = "/tmp/taube-config-XXXXXX";
    const int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    ::close(fd);
    std::ofstream(tmpl) << text;
    paths_.push_back(tmpl);
    return tmpl;
  }
  void TearDown() override {
    for (const auto& p : paths_) std::remove(p.c_str());
  }
  std::vector<std::string> paths_;
};

}  // namespace taube::app::test
