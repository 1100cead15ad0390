// Cloud-Optimized GeoTIFF assembly from already compressed tiles. GDAL 3.6 has no public way
// to copy compressed tiles from one file to another (its COG driver decodes and re-encodes
// every tile and builds the overviews from the written file), so the TIFF structure is
// written here: a little-endian TIFF or BigTIFF whose IFDs all come first (the COG layout), the
// tags of each source IFD copied byte for byte except the tile offsets and sizes, which are
// rewritten for the new layout.

#include "gp/geo/cog.hpp"

#include "gp/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <system_error>

namespace gp::geo {

namespace fs = std::filesystem;

namespace {

constexpr std::uint16_t kNewSubfileType = 254;
constexpr std::uint16_t kTileOffsets = 324;
constexpr std::uint16_t kTileByteCounts = 325;

struct Entry {
  std::uint16_t tag{0};
  std::uint16_t type{0};
  std::uint64_t count{0};
  std::vector<unsigned char> data;  // count values of the type, little-endian
};

struct Image {
  fs::path path;
  int fd{-1};
  std::vector<Entry> entries;
  std::vector<std::uint64_t> offsets;  // per tile, in the source file
  std::vector<std::uint64_t> sizes;
  ~Image() {
    if (fd >= 0) ::close(fd);
  }
};

std::size_t type_size(std::uint16_t t) {
  switch (t) {
    case 1: case 2: case 6: case 7: return 1;
    case 3: case 8: return 2;
    case 4: case 9: case 11: case 13: return 4;
    case 5: case 10: case 12: case 16: case 17: case 18: return 8;
    default: return 0;
  }
}

std::uint64_t le(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

void put_le(std::vector<unsigned char>& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

void read_at(const Image& im, std::uint64_t off, unsigned char* buf, std::size_t n,
             const std::string& what) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(im.fd, buf + done, n - done, static_cast<off_t>(off + done));
    if (r <= 0) {
      throw io_error(what + ": reading " + im.path.string() + " failed: " +
                     (r == 0 ? std::string("unexpected end of file") : std::strerror(errno)));
    }
    done += static_cast<std::size_t>(r);
  }
}

std::vector<std::uint64_t> values_of(const Entry& e) {
  const std::size_t n = type_size(e.type);
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < e.count; ++i) v.push_back(le(e.data.data() + i * n, n));
  return v;
}

/// The first IFD of a little-endian TIFF or BigTIFF: its entries and its tiles.
void read_image(Image& im, const std::string& what) {
  im.fd = ::open(im.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (im.fd < 0) throw io_error(what + ": cannot open " + im.path.string() + ": " + std::strerror(errno));
  unsigned char h[16];
  read_at(im, 0, h, sizeof h, what);
  const std::uint64_t magic = le(h + 2, 2);
  if (h[0] != 'I' || h[1] != 'I' || (magic != 42 && magic != 43)) {
    throw io_error(what + ": " + im.path.string() + " is not a little-endian TIFF");
  }
  const bool big = magic == 43;
  const std::size_t word = big ? 8 : 4;
  const std::uint64_t ifd = big ? le(h + 8, 8) : le(h + 4, 4);
  unsigned char nb[8];
  read_at(im, ifd, nb, big ? 8 : 2, what);
  const std::uint64_t n = big ? le(nb, 8) : le(nb, 2);
  const std::size_t esz = big ? 20 : 12;
  std::vector<unsigned char> raw(static_cast<std::size_t>(n) * esz);
  read_at(im, ifd + (big ? 8 : 2), raw.data(), raw.size(), what);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char* p = raw.data() + i * esz;
    Entry e;
    e.tag = static_cast<std::uint16_t>(le(p, 2));
    e.type = static_cast<std::uint16_t>(le(p + 2, 2));
    e.count = big ? le(p + 4, 8) : le(p + 4, 4);
    const std::size_t ts = type_size(e.type);
    if (ts == 0) throw io_error(what + ": " + im.path.string() + ": unknown TIFF type " + std::to_string(e.type));
    e.data.resize(static_cast<std::size_t>(e.count) * ts);
    const unsigned char* field = p + (big ? 12 : 8);
    if (e.data.size() <= word) {
      std::memcpy(e.data.data(), field, e.data.size());
    } else {
      read_at(im, le(field, word), e.data.data(), e.data.size(), what);
    }
    if (e.tag == kTileOffsets) im.offsets = values_of(e);
    if (e.tag == kTileByteCounts) im.sizes = values_of(e);
    im.entries.push_back(std::move(e));
  }
  if (im.offsets.empty() || im.offsets.size() != im.sizes.size()) {
    throw io_error(what + ": " + im.path.string() + " is not a tiled TIFF");
  }
}

/// The entries written for an image: its own minus the tile arrays (rewritten) and, for an
/// overview, minus everything that describes the dataset rather than the pixels.
std::vector<Entry> output_entries(const Image& im, bool overview, bool big) {
  // 320: a paletted image's colour map (its overviews are paletted too).
  static const std::set<std::uint16_t> pixel_tags = {256, 257, 258, 259, 262, 277, 284, 317,
                                                     320, 322, 323, 338, 339, 42113};
  std::vector<Entry> out;
  for (const auto& e : im.entries) {
    if (e.tag == kTileOffsets || e.tag == kTileByteCounts || e.tag == kNewSubfileType) continue;
    if (overview && pixel_tags.count(e.tag) == 0) continue;
    out.push_back(e);
  }
  if (overview) {
    Entry e{kNewSubfileType, 4, 1, {}};
    put_le(e.data, 1, 4);  // reduced-resolution image
    out.push_back(e);
  }
  out.push_back({kTileOffsets, static_cast<std::uint16_t>(big ? 16 : 4), im.offsets.size(), {}});
  out.back().data.resize(im.offsets.size() * (big ? 8 : 4));
  out.push_back({kTileByteCounts, 4, im.sizes.size(), {}});
  out.back().data.resize(im.sizes.size() * 4);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.tag < b.tag; });
  return out;
}

std::uint64_t even(std::uint64_t v) { return v + (v % 2); }

/// Bytes of one IFD with its out-of-line values.
std::uint64_t ifd_bytes(const std::vector<Entry>& entries, bool big) {
  const std::size_t word = big ? 8 : 4;
  std::uint64_t n = big ? 8 + 20 * entries.size() + 8 : 2 + 12 * entries.size() + 4;
  for (const auto& e : entries) {
    if (e.data.size() > word) n = even(n + e.data.size());
  }
  return n;
}

/// Serialises one IFD at `at` (its out-of-line values right after it), chaining to `next`.
std::vector<unsigned char> ifd_image(const std::vector<Entry>& entries, bool big, std::uint64_t at,
                                     std::uint64_t next) {
  const std::size_t word = big ? 8 : 4;
  std::vector<unsigned char> head;
  std::vector<unsigned char> tail;
  std::uint64_t tail_at = at + (big ? 8 + 20 * entries.size() + 8 : 2 + 12 * entries.size() + 4);
  put_le(head, entries.size(), big ? 8 : 2);
  for (const auto& e : entries) {
    put_le(head, e.tag, 2);
    put_le(head, e.type, 2);
    put_le(head, e.count, big ? 8 : 4);
    if (e.data.size() <= word) {
      head.insert(head.end(), e.data.begin(), e.data.end());
      head.resize(head.size() + word - e.data.size(), 0);
    } else {
      put_le(head, tail_at + tail.size(), word);
      tail.insert(tail.end(), e.data.begin(), e.data.end());
      if (tail.size() % 2 != 0) tail.push_back(0);
    }
  }
  put_le(head, next, word);
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

[[noreturn]] void write_failed(const std::string& what, const fs::path& dst, int err) {
  std::error_code ec;
  fs::remove(dst, ec);
  std::string why = err == ENOSPC || err == EDQUOT ? "the disk is full" : std::strerror(err);
  throw io_error(what + ": writing the Cloud-Optimized GeoTIFF " + dst.string() + " failed: " + why);
}

void write_all(std::FILE* f, const unsigned char* p, std::size_t n, const std::string& what,
               const fs::path& dst) {
  errno = 0;
  if (std::fwrite(p, 1, n, f) != n) write_failed(what, dst, errno != 0 ? errno : EIO);
}

/// Fills an IFD's tile offsets and sizes for tiles placed from `pos` on; returns the end.
/// Each tile: a 4-byte size leader, the bytes, their last 4 bytes repeated.
std::uint64_t place_tiles(std::vector<Entry>& entries, const Image& im, std::uint64_t pos,
                          bool big) {
  Entry& off = *std::find_if(entries.begin(), entries.end(),
                             [](const Entry& e) { return e.tag == kTileOffsets; });
  Entry& cnt = *std::find_if(entries.begin(), entries.end(),
                             [](const Entry& e) { return e.tag == kTileByteCounts; });
  off.data.clear();
  cnt.data.clear();
  for (auto s : im.sizes) {
    put_le(off.data, s > 0 ? pos + 4 : 0, big ? 8 : 4);
    put_le(cnt.data, s, 4);
    if (s > 0) pos += 4 + s + (s >= 4 ? 4 : 0);
  }
  return pos;
}

/// Copies an image's tiles, each with its leader and trailer, in tile order.
void copy_tiles(std::FILE* f, const Image& im, const std::string& what, const fs::path& dst) {
  std::vector<unsigned char> buf;
  for (std::size_t t = 0; t < im.sizes.size(); ++t) {
    if (im.sizes[t] == 0) continue;
    const auto n = static_cast<std::size_t>(im.sizes[t]);
    buf.clear();
    put_le(buf, n, 4);
    buf.resize(4 + n);
    read_at(im, im.offsets[t], buf.data() + 4, n, what);
    if (n >= 4) {
      unsigned char last[4];
      std::memcpy(last, buf.data() + buf.size() - 4, 4);
      buf.insert(buf.end(), last, last + 4);
    }
    write_all(f, buf.data(), buf.size(), what, dst);
  }
}

}  // namespace

void assemble_cog(const fs::path& full, const std::vector<fs::path>& levels, const fs::path& dst,
                  const std::string& what) {
  std::vector<std::unique_ptr<Image>> images;  // full resolution, then overviews largest first
  std::uint64_t payload = 0;
  for (std::size_t i = 0; i <= levels.size(); ++i) {
    images.push_back(std::make_unique<Image>());
    images.back()->path = i == 0 ? full : levels[i - 1];
    read_image(*images.back(), what);
    for (auto s : images.back()->sizes) payload += s;
  }
  // GDAL's COG structural metadata: with the leader and trailer GDAL recognises the layout
  // (IMAGE_STRUCTURE LAYOUT=COG) and can check a tile's integrity from its own bytes.
  const std::string ghost_body =
      "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n"
      "BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n";
  char ghost_head[64];
  std::snprintf(ghost_head, sizeof ghost_head, "GDAL_STRUCTURAL_METADATA_SIZE=%06zu bytes\n",
                ghost_body.size());
  const std::string ghost = std::string(ghost_head) + ghost_body;
  // BigTIFF when 32-bit offsets could overflow (headers are far below the margin).
  const bool big = payload > 4000000000ULL;
  std::vector<std::vector<Entry>> entries;
  for (std::size_t i = 0; i < images.size(); ++i) entries.push_back(output_entries(*images[i], i > 0, big));
  std::vector<std::uint64_t> ifd_at;
  std::uint64_t pos = even((big ? 16 : 8) + ghost.size());
  for (const auto& e : entries) {
    ifd_at.push_back(pos);
    pos = even(pos + ifd_bytes(e, big));
  }
  const std::uint64_t data_at = pos;
  // Tiles: the smallest overview first, the full resolution last, each in its tile order.
  for (std::size_t i = images.size(); i-- > 0;) {
    pos = place_tiles(entries[i], *images[i], pos, big);
  }
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(dst.c_str(), "wbx"));
  if (!f) write_failed(what, dst, errno);
  std::vector<unsigned char> head = {'I', 'I'};
  if (big) {
    put_le(head, 43, 2);
    put_le(head, 8, 2);
    put_le(head, 0, 2);
    put_le(head, ifd_at[0], 8);
  } else {
    put_le(head, 42, 2);
    put_le(head, ifd_at[0], 4);
  }
  head.insert(head.end(), ghost.begin(), ghost.end());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    head.resize(ifd_at[i], 0);
    const auto ifd = ifd_image(entries[i], big, ifd_at[i], i + 1 < entries.size() ? ifd_at[i + 1] : 0);
    head.insert(head.end(), ifd.begin(), ifd.end());
  }
  head.resize(data_at, 0);
  write_all(f.get(), head.data(), head.size(), what, dst);
  for (std::size_t i = images.size(); i-- > 0;) copy_tiles(f.get(), *images[i], what, dst);
  errno = 0;
  if (std::fflush(f.get()) != 0) write_failed(what, dst, errno);
  std::FILE* raw = f.release();
  if (std::fclose(raw) != 0) write_failed(what, dst, errno);
}

}  // namespace gp::geo
