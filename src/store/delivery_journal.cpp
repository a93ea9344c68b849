#include "store/delivery_journal.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "store/durable_file.hpp"

namespace taube::store {

namespace {

constexpr char kHeaderMagic[8] = {'T', 'A', 'U', 'B', 'E', 'J', '0', '1'};
constexpr std::uint32_t kRecordMagic = 0x4a524543;  // "CERJ" little-endian: "JREC"
constexpr std::size_t kHeaderSlot = 512;
constexpr std::size_t kHeaderBytes = 8 + 8 * 4 + 4;  // magic, counter, tail off/seq, size, crc
constexpr std::size_t kRecordHeader = 24;            // magic, length, seq, crc, reserved
// Start-up after a crash numbers new records this far beyond the last one found, above any
// record of a torn batch that might lie further on.
constexpr std::uint64_t kSeqGap = std::uint64_t{1} << 32;

std::uint64_t align8(std::uint64_t n) {
  return (n + 7) & ~std::uint64_t{7};
}

void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
std::uint64_t get(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint32_t crc(std::uint32_t c, const char* p, std::size_t n) {
  while (n > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    c = static_cast<std::uint32_t>(::crc32(c, reinterpret_cast<const Bytef*>(p), chunk));
    p += chunk;
    n -= chunk;
  }
  return c;
}

// The checksum covers the payload, then the sequence number and length (so the payload's CRC can
// be computed before the record gets its number).
std::uint32_t record_crc(std::uint32_t payload_crc, std::uint64_t seq, std::uint32_t len) {
  std::string tail;
  put64(tail, seq);
  put32(tail, len);
  return crc(payload_crc, tail.data(), tail.size());
}

bool valid_unique(std::string_view u) {
  return !u.empty() && u != "." && u != ".." && u.find('/') == std::string_view::npos &&
         u.find('\0') == std::string_view::npos;
}

// Payload formats. 0: u16 unique length, unique, u16 count, (u16 length, maildir)*, content.
// 1: the same with a u8 kind before each destination's length.
constexpr std::uint32_t kPayloadTyped = 1;

std::string encode_payload(std::string_view unique, const std::vector<JournalDestination>& dests,
                           std::string_view content) {
  std::string p;
  p.reserve(4 + unique.size() + dests.size() * 64 + content.size());
  put16(p, static_cast<std::uint16_t>(unique.size()));
  p.append(unique);
  put16(p, static_cast<std::uint16_t>(dests.size()));
  for (const auto& d : dests) {
    p.push_back(static_cast<char>(d.kind));
    put16(p, static_cast<std::uint16_t>(d.target.size()));
    p.append(d.target);
  }
  p.append(content);
  return p;
}

bool decode_payload(std::string_view p, std::uint32_t format, JournalRecord& r) {
  if (format > kPayloadTyped) return false;
  auto take16 = [&](std::uint16_t& v) {
    if (p.size() < 2) return false;
    v = static_cast<std::uint16_t>(get(p.data(), 2));
    p.remove_prefix(2);
    return true;
  };
  auto take = [&](std::size_t n, std::string& out) {
    if (p.size() < n) return false;
    out.assign(p.substr(0, n));
    p.remove_prefix(n);
    return true;
  };
  std::uint16_t n = 0;
  if (!take16(n) || !take(n, r.unique) || !valid_unique(r.unique)) return false;
  std::uint16_t count = 0;
  if (!take16(count) || count == 0) return false;
  r.destinations.resize(count);
  for (auto& d : r.destinations) {
    d.kind = JournalDestination::Kind::Maildir;  // format 0 knows nothing else
    if (format == kPayloadTyped) {
      if (p.empty()) return false;
      d.kind = static_cast<JournalDestination::Kind>(static_cast<unsigned char>(p.front()));
      p.remove_prefix(1);
    }
    if (!take16(n) || !take(n, d.target) || d.target.empty()) return false;
  }
  r.content.assign(p);
  return true;
}

}  // namespace

std::vector<std::string> JournalRecord::maildirs() const {
  std::vector<std::string> out;
  for (const auto& d : destinations)
    if (d.kind == JournalDestination::Kind::Maildir) out.push_back(d.target);
  return out;
}

bool JournalRecord::all_known() const {
  for (const auto& d : destinations)
    if (d.kind != JournalDestination::Kind::Maildir) return false;
  return true;
}

std::vector<JournalDestination> maildir_destinations(const std::vector<std::string>& dirs) {
  std::vector<JournalDestination> out;
  out.reserve(dirs.size());
  for (const auto& d : dirs) out.push_back({JournalDestination::Kind::Maildir, d});
  return out;
}

namespace {

bool pwrite_all(Fs& fs, int fd, const char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    ssize_t w = fs.pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
  return true;
}

bool pread_all(Fs& fs, int fd, char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    ssize_t r = fs.pread(fd, p, n, static_cast<off_t>(off));
    if (r <= 0) {
      if (r == 0) errno = EIO;  // the journal never ends early: it is preallocated
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}

// Creates the journal under a temporary name (zero-filled, header, fsynced) and renames it into
// place, so a crash never leaves a half-made journal under the real name.
tl::expected<void, StoreError> create_file(Fs& fs, const std::string& path, std::uint64_t size,
                                           const std::string& header) {
  const std::string tmp = path + ".new";
  fs.unlink(tmp);
  int fd = fs.open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return tl::unexpected(error_from_errno(errno));
  auto fail = [&](int err) -> tl::expected<void, StoreError> {
    fs.close(fd);
    fs.unlink(tmp);
    return tl::unexpected(error_from_errno(err));
  };
  const std::string zeros(1 << 20, '\0');
  for (std::uint64_t off = 0; off < size; off += zeros.size()) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), size - off));
    if (!pwrite_all(fs, fd, zeros.data(), n, off)) return fail(errno);
  }
  // Counter 1 goes to slot 1, as write_header() would put it.
  if (!pwrite_all(fs, fd, header.data(), header.size(), kHeaderSlot)) return fail(errno);
  if (fs.fsync(fd) != 0) return fail(errno);
  if (fs.close(fd) != 0 && errno != EINTR) {
    int err = errno;
    fs.unlink(tmp);
    return tl::unexpected(error_from_errno(err));
  }
  if (fs.rename(tmp, path) != 0) {
    int err = errno;
    fs.unlink(tmp);
    return tl::unexpected(error_from_errno(err));
  }
  return fsync_directory(fs, parent_directory(path));
}

std::string encode_header(std::uint64_t counter, std::uint64_t tail_off, std::uint64_t tail_seq,
                          std::uint64_t size) {
  std::string h(kHeaderMagic, sizeof kHeaderMagic);
  put64(h, counter);
  put64(h, tail_off);
  put64(h, tail_seq);
  put64(h, size);
  put32(h, crc(0, h.data(), h.size()));
  h.resize(kHeaderSlot, '\0');
  return h;
}

}  // namespace

tl::expected<std::unique_ptr<DeliveryJournal>, StoreError> DeliveryJournal::open(
    Fs& fs, const std::string& path, std::uint64_t size) {
  size = std::max<std::uint64_t>(size, kMinSize);
  int fd = fs.open(path, O_RDWR | O_CLOEXEC, 0);
  bool created = false;
  if (fd < 0 && errno == ENOENT) {
    if (auto r = create_file(fs, path, size, encode_header(1, kDataStart, 1, size)); !r)
      return tl::unexpected(r.error());
    fd = fs.open(path, O_RDWR | O_CLOEXEC, 0);
    created = true;
  }
  if (fd < 0) return tl::unexpected(error_from_errno(errno));
  struct ::stat st {};
  if (fs.fstat(fd, &st) != 0) {
    int err = errno;
    fs.close(fd);
    return tl::unexpected(error_from_errno(err));
  }
  std::unique_ptr<DeliveryJournal> j(
      new DeliveryJournal(fs, fd, static_cast<std::uint64_t>(st.st_size)));
  if (auto r = j->load(); !r) return tl::unexpected(r.error());
  // A journal that was used before may hold, after its last valid record, records of a batch
  // whose write was torn: an append there could make one of them look like the next record.
  // reset() (after recovery) numbers beyond them; a new, zero-filled journal needs none.
  j->needs_reset_ = !created;
  return j;
}

DeliveryJournal::~DeliveryJournal() {
  if (fd_ >= 0) fs_.close(fd_);
}

tl::expected<void, StoreError> DeliveryJournal::load() {
  if (size_ < kMinSize) return tl::unexpected(StoreError::Io);
  // The header slot with a valid checksum and the higher counter.
  bool found = false;
  for (std::size_t slot = 0; slot < 2; ++slot) {
    char h[kHeaderBytes];
    if (!pread_all(fs_, fd_, h, sizeof h, slot * kHeaderSlot))
      return tl::unexpected(error_from_errno(errno));
    if (std::memcmp(h, kHeaderMagic, sizeof kHeaderMagic) != 0) continue;
    if (get(h + 40, 4) != crc(0, h, 40)) continue;
    const std::uint64_t counter = get(h + 8, 8);
    const std::uint64_t off = get(h + 16, 8);
    const std::uint64_t seq = get(h + 24, 8);
    if (get(h + 32, 8) != size_ || off < kDataStart || off >= size_) continue;
    if (found && counter <= header_counter_) continue;
    found = true;
    header_counter_ = counter;
    disk_tail_off_ = off;
    disk_tail_seq_ = seq;
  }
  if (!found) return tl::unexpected(StoreError::Io);  // not a journal, or both headers broken

  // The records from the tail on, as long as each is the expected next one.
  std::uint64_t pos = disk_tail_off_;
  std::uint64_t expect = disk_tail_seq_;
  std::string payload;
  for (;;) {
    bool ok = false;
    // The record is at `pos`, or at kDataStart if the writer wrapped there.
    const int tries = pos == kDataStart ? 1 : 2;
    for (int i = 0; i < tries && !ok; ++i) {
      const std::uint64_t at = i == 0 ? pos : kDataStart;
      char h[kRecordHeader];
      if (at + kRecordHeader > size_) continue;
      if (!pread_all(fs_, fd_, h, sizeof h, at)) return tl::unexpected(error_from_errno(errno));
      const auto len = static_cast<std::uint32_t>(get(h + 4, 4));
      if (get(h, 4) != kRecordMagic || get(h + 8, 8) != expect || at + kRecordHeader + len > size_)
        continue;
      payload.resize(len);
      if (!pread_all(fs_, fd_, payload.data(), len, at + kRecordHeader))
        return tl::unexpected(error_from_errno(errno));
      if (record_crc(crc(0, payload.data(), len), expect, len) != get(h + 16, 4)) continue;
      JournalRecord r;
      r.seq = expect;
      if (!decode_payload(payload, static_cast<std::uint32_t>(get(h + 20, 4)), r)) continue;
      recovered_.push_back(std::move(r));
      live_[expect] = at;
      pos = at + align8(kRecordHeader + len);
      ++expect;
      ok = true;
    }
    if (!ok) break;
  }
  head_off_ = pos;
  next_seq_ = expect;
  durable_seq_ = expect - 1;
  return {};
}

tl::expected<void, StoreError> DeliveryJournal::write_header(std::uint64_t off, std::uint64_t seq) {
  const std::uint64_t counter = header_counter_ + 1;
  const std::string h = encode_header(counter, off, seq, size_);
  if (!pwrite_all(fs_, fd_, h.data(), h.size(), (counter % 2) * kHeaderSlot) ||
      fs_.fdatasync(fd_) != 0)
    return tl::unexpected(error_from_errno(errno));
  header_counter_ = counter;
  return {};
}

tl::expected<void, StoreError> DeliveryJournal::reset() {
  std::lock_guard hl(header_mu_);
  std::uint64_t off = 0;
  std::uint64_t seq = 0;
  {
    std::lock_guard lk(mu_);
    recovered_.clear();
    live_.clear();
    needs_reset_ = false;
    next_seq_ += kSeqGap;
    durable_seq_ = next_seq_ - 1;
    off = head_off_;
    seq = next_seq_;
  }
  if (auto r = write_header(off, seq); !r) return r;
  std::lock_guard lk(mu_);
  disk_tail_off_ = off;
  disk_tail_seq_ = seq;
  return {};
}

bool DeliveryJournal::place(std::uint64_t len, std::uint64_t& at) const {
  if (head_off_ >= disk_tail_off_) {
    if (head_off_ + len <= size_) {
      at = head_off_;
      return true;
    }
    if (kDataStart + len < disk_tail_off_) {
      at = kDataStart;
      return true;
    }
    return false;
  }
  if (head_off_ + len < disk_tail_off_) {
    at = head_off_;
    return true;
  }
  return false;
}

tl::expected<std::uint64_t, JournalRefusal> DeliveryJournal::append(
    std::string_view unique, const std::vector<JournalDestination>& destinations,
    std::string_view content) {
  if (!valid_unique(unique) || destinations.empty() || destinations.size() > 0xffff ||
      unique.size() > 0xffff)
    return tl::unexpected(JournalRefusal::TooLarge);
  for (const auto& d : destinations) {
    if (d.target.empty() || d.target.size() > 0xffff)
      return tl::unexpected(JournalRefusal::TooLarge);
  }
  const std::string payload = encode_payload(unique, destinations, content);
  if (kRecordHeader + payload.size() > max_record())
    return tl::unexpected(JournalRefusal::TooLarge);
  const std::uint32_t payload_crc = crc(0, payload.data(), payload.size());
  const auto len = static_cast<std::uint32_t>(payload.size());
  const std::uint64_t total = align8(kRecordHeader + len);

  std::unique_lock lk(mu_);
  if (failed_ || needs_reset_) return tl::unexpected(JournalRefusal::Failed);
  std::uint64_t at = 0;
  if (!place(total, at)) return tl::unexpected(JournalRefusal::Full);
  const std::uint64_t seq = next_seq_++;
  std::string rec;
  rec.reserve(total);
  put32(rec, kRecordMagic);
  put32(rec, len);
  put64(rec, seq);
  put32(rec, record_crc(payload_crc, seq, len));
  put32(rec, kPayloadTyped);
  rec.append(payload);
  rec.resize(total, '\0');
  head_off_ = at + total;
  live_[seq] = at;
  if (!pending_.empty() && pending_.back().offset + pending_.back().bytes.size() == at) {
    pending_.back().bytes.append(rec);
  } else {
    pending_.push_back(Segment{at, std::move(rec)});
  }

  // Group commit: one leader writes and fdatasyncs everything pending; the others wait for a
  // write that covers their record.
  while (durable_seq_ < seq) {
    if (writing_) {
      cv_.wait(lk);
      continue;
    }
    if (failed_) break;  // a failed batch already settled this record
    writing_ = true;
    std::vector<Segment> batch;
    batch.swap(pending_);
    const std::uint64_t target = next_seq_ - 1;
    const std::uint64_t records = target - durable_seq_;  // this batch's, for the metrics
    lk.unlock();
    bool ok = true;
    for (const auto& s : batch) {
      if (!pwrite_all(fs_, fd_, s.bytes.data(), s.bytes.size(), s.offset)) {
        ok = false;
        break;
      }
    }
    // After a failed fdatasync the state of the written pages is unknown (and Linux may have
    // dropped the error for a retry): the journal takes nothing more until restarted.
    if (ok && fs_.fdatasync(fd_) != 0) ok = false;
    stats_.committed(records, ok);
    lk.lock();
    writing_ = false;
    if (ok) {
      durable_seq_ = target;
    } else {
      // This batch and whatever was queued behind it failed; the records before stay valid.
      failed_ = true;
      failed_from_ = durable_seq_ + 1;
      pending_.clear();
      durable_seq_ = next_seq_ - 1;
    }
    cv_.notify_all();
  }
  if (seq >= failed_from_) {
    live_.erase(seq);
    return tl::unexpected(JournalRefusal::Failed);
  }
  return seq;
}

void DeliveryJournal::release(std::uint64_t seq) {
  std::lock_guard lk(mu_);
  auto it = live_.find(seq);
  if (it == live_.end()) return;
  live_.erase(it);
}

std::uint64_t DeliveryJournal::durable_tail_seq() const {
  std::lock_guard lk(mu_);
  return disk_tail_seq_;
}

std::size_t DeliveryJournal::unreleased() const {
  std::lock_guard lk(mu_);
  return live_.size();
}

tl::expected<void, StoreError> DeliveryJournal::persist(bool force) {
  std::lock_guard hl(header_mu_);
  std::uint64_t off = 0;
  std::uint64_t seq = 0;
  {
    std::lock_guard lk(mu_);
    if (live_.empty()) {
      off = head_off_;
      seq = next_seq_;
    } else {
      off = live_.begin()->second;
      seq = live_.begin()->first;
    }
    if (off == disk_tail_off_ && seq == disk_tail_seq_) return {};
    // Worth a write when an eighth of the journal could be reused, or when asked (idle, stop).
    std::uint64_t used = head_off_ >= disk_tail_off_ ? head_off_ - disk_tail_off_
                                                     : size_ - disk_tail_off_ + head_off_;
    if (!force && used < (size_ - kDataStart) / 8) return {};
  }
  if (auto r = write_header(off, seq); !r) return r;
  std::lock_guard lk(mu_);
  disk_tail_off_ = off;
  disk_tail_seq_ = seq;
  return {};
}

tl::expected<JournalRecord, StoreError> DeliveryJournal::read(std::uint64_t seq) {
  std::uint64_t pos = 0;
  {
    std::lock_guard lk(mu_);
    auto it = live_.find(seq);
    if (it == live_.end() || seq > durable_seq_) return tl::unexpected(StoreError::Io);
    pos = it->second;
  }
  char h[kRecordHeader];
  if (!pread_all(fs_, fd_, h, sizeof h, pos)) return tl::unexpected(error_from_errno(errno));
  const auto len = static_cast<std::uint32_t>(get(h + 4, 4));
  if (get(h, 4) != kRecordMagic || get(h + 8, 8) != seq || pos + kRecordHeader + len > size_)
    return tl::unexpected(StoreError::Io);
  std::string payload(len, '\0');
  if (!pread_all(fs_, fd_, payload.data(), len, pos + kRecordHeader))
    return tl::unexpected(error_from_errno(errno));
  if (record_crc(crc(0, payload.data(), len), seq, len) != get(h + 16, 4))
    return tl::unexpected(StoreError::Io);
  JournalRecord r;
  r.seq = seq;
  if (!decode_payload(payload, static_cast<std::uint32_t>(get(h + 20, 4)), r))
    return tl::unexpected(StoreError::Io);
  return r;
}

}  // namespace taube::store
