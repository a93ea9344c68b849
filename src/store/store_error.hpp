#pragma once

namespace taube::store {

// Why a store operation failed. NoSpace maps to 452 4.3.1, everything else to 451 4.3.0.
enum class StoreError { Io, NoSpace, Permission };

const char* to_string(StoreError e);

}  // namespace taube::store
