// The /etc/aliases format (Sendmail's aliases(5), Postfix's aliases(5)) as a source of aliases
// besides the [aliases] TOML table: `[aliases] file = "/etc/aliases"` (docs/configuration in
// README, docs/running.md). Pure: the caller reads the file.
//
//   # a comment: a line whose first non-blank character is '#'
//   postmaster: root
//   staff:  alice, bob,
//           carol                 <- a line starting with blank space continues the entry
//   "first last": first.last      <- quoted names (and quoted targets)
//   owner-staff: alice            <- an owner- list is an alias like any other (see below)
//   dev@example.org: bob          <- a name with a domain is that address only
//
// Blank and comment lines are skipped, also between an entry and its continuation lines (as
// Postfix's readlline does); '#' elsewhere is an ordinary character. Targets are separated by
// commas; a leading backslash ("\bob": deliver to the user, no further aliasing) is dropped,
// since Taube's rule that an alias naming itself means the user does the same.
//
// Refused, with the file and line named: `:include:` lists, `|command` pipes and `/file`
// deliveries (Taube delivers to Maildirs and the queue only, never runs programs or writes
// arbitrary files), duplicate names, lines without "name:", entries without targets.
//
// A name without a domain applies to every local domain (as Postfix's alias_maps apply to every
// domain in $mydestination), and a target without a domain means that local part in the same
// domain. `owner-list` entries are read as aliases (mail to owner-list@ reaches the owner);
// Sendmail and Postfix also use them as the envelope sender of mail expanded from `list`, which
// Taube does not do: the queue keeps one reverse-path per message.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace taube::policy {

struct AliasFileEntry {
  std::string name;                  // lower-cased; "local" or "local@domain"
  std::vector<std::string> targets;  // as written, without quotes and leading backslash
  std::size_t line = 0;              // where the entry starts
};

struct AliasesFile {
  std::vector<AliasFileEntry> entries;
};

// `file` names the source in errors: "/etc/aliases:12: ...".
tl::expected<AliasesFile, std::string> parse_aliases_file(std::string_view text,
                                                          std::string_view file);

// Adds the entries to an alias table ("local@domain" -> targets, policy::DirectoryConfig): bare
// names once per domain in `domains`, bare targets in the alias's domain. An address already in
// `aliases` (from the TOML table) is an error naming the file's line. Returns the line of each
// address added, so that later checks (policy::Directory::create) can name it too.
tl::expected<std::map<std::string, std::size_t>, std::string> add_file_aliases(
    const AliasesFile& file, std::string_view file_name, const std::vector<std::string>& domains,
    std::map<std::string, std::vector<std::string>>& aliases);

}  // namespace taube::policy
