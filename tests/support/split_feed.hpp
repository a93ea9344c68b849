// Split-feed helper (ARCHITECTURE.md practice 7): every parser test feeds its input whole, byte by
// byte, split in two at every index, and in ~50 random splits (fixed seed), and expects the same
// result each time. A sans-I/O parser must not care how the network chopped its input.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string_view>

#include "split_plans.hpp"

namespace taube::smtp::testing {

// Runs `run(pieces)` for every split plan of `input` and expects every result to equal the result
// of the whole input, which it returns. `run` must return a value with == and operator<<. Reports
// only the first differing plan, with both results.
template <class Run>
auto expect_split_invariant(std::string_view input, Run&& run) {
  const auto plans = split_plans(input.size());
  auto whole = run(cut(input, {}));
  for (std::size_t i = 1; i < plans.size(); ++i) {
    auto got = run(cut(input, plans[i].cuts));
    if (!(got == whole)) {
      std::ostringstream want_s, got_s;
      want_s << whole;
      got_s << got;
      ADD_FAILURE() << "split '" << plans[i].name << "' gives a different result than the whole "
                    << "input.\n--- whole ---\n"
                    << want_s.str() << "\n--- split ---\n"
                    << got_s.str();
      break;
    }
  }
  return whole;
}

}  // namespace taube::smtp::testing
