#include "outputs/staged_files.hpp"

#include "gp/error.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <system_error>

namespace gp::cli {

namespace fs = std::filesystem;

namespace {

// ---- Removal on SIGINT/SIGTERM -------------------------------------------------------------
// A lock-free list of nodes that is only ever pushed to: the handler walks it and unlinks every
// live entry (unlink is async-signal-safe; nothing here allocates inside the handler). Nodes
// that are unregistered are reused by later registrations whose path fits, so the list grows
// only to the largest number of temporaries alive at once.
struct Node {
  Node* next{nullptr};
  std::atomic<int> live{0};  // 0 free, 1 live, 2 being filled
  std::size_t capacity{0};
  char* path{nullptr};
};
std::atomic<Node*> g_head{nullptr};
std::atomic<bool> g_sigint_to_host{false};  // leave_sigint_to_host()
constexpr const char* side_suffixes[] = {".aux.xml", ".ovr.tmp"};

void unlink_with_side_files(const char* p) {
  ::unlink(p);
  char buf[PATH_MAX + 16];
  const std::size_t n = std::strlen(p);
  if (n >= PATH_MAX) return;
  for (const char* s : side_suffixes) {
    std::memcpy(buf, p, n);
    std::memcpy(buf + n, s, std::strlen(s) + 1);
    ::unlink(buf);
  }
}

extern "C" void remove_temporaries_and_reraise(int sig) {
  for (Node* n = g_head.load(); n != nullptr; n = n->next) {
    if (n->live.load() == 1) unlink_with_side_files(n->path);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = remove_temporaries_and_reraise;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (sig == SIGINT && g_sigint_to_host.load()) continue;
      // A signal the caller chose to ignore (nohup) stays ignored.
      if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
      sigaction(sig, &sa, nullptr);
    }
  });
}

std::string errno_text(int err) {
  if (err == ENOSPC || err == EDQUOT) return "the disk is full";
  if (err == EFBIG) return "the file exceeds the file-size limit";
  return std::strerror(err);
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

/// FNV-1a 64-bit: a short, stable tag for a name that had to be cut (not a security hash).
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

void* register_temporary(const fs::path& path) {
  install_handlers();
  const std::string s = path.string();
  for (Node* n = g_head.load(); n != nullptr; n = n->next) {
    int expected = 0;
    if (n->capacity > s.size() && n->live.compare_exchange_strong(expected, 2)) {
      std::memcpy(n->path, s.c_str(), s.size() + 1);
      n->live.store(1);
      return n;
    }
  }
  auto* n = new Node;
  n->capacity = std::max<std::size_t>(s.size() + 1, 256);
  n->path = new char[n->capacity];
  std::memcpy(n->path, s.c_str(), s.size() + 1);
  n->live.store(1);
  Node* head = g_head.load();
  do {
    n->next = head;
  } while (!g_head.compare_exchange_weak(head, n));
  return n;
}

void leave_sigint_to_host() noexcept { g_sigint_to_host.store(true); }

void unregister_temporary(void* registration) noexcept {
  if (registration != nullptr) static_cast<Node*>(registration)->live.store(0);
}

void remove_with_side_files(const fs::path& path) noexcept {
  std::error_code ec;
  fs::remove(path, ec);
  for (const char* s : side_suffixes) fs::remove(fs::path(path.string() + s), ec);
}

fs::path hidden_sibling(const fs::path& dst, std::string_view kind, std::string_view tag) {
  const std::string name = dst.filename().string();
  // Built with append: GCC 12's -Wrestrict misfires on "literal" + std::string temporaries.
  std::string suffix = ".";
  suffix.append(kind).append("-").append(std::to_string(::getpid()));
  if (!tag.empty()) suffix.append(".").append(tag);
  // Room for the GDAL side-file suffixes too (".aux.xml" is the longest).
  constexpr std::size_t name_max = NAME_MAX - 8;
  std::string out = "." + name + suffix;
  if (out.size() > name_max) {
    char hash[20];
    std::snprintf(hash, sizeof hash, "~%016llx", static_cast<unsigned long long>(fnv1a(name)));
    const std::size_t keep = name_max - 1 - std::strlen(hash) - suffix.size();
    // Cut on a UTF-8 character boundary.
    std::size_t cut = std::min(keep, name.size());
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    out = std::string(".").append(name, 0, cut).append(hash).append(suffix);
  }
  return dst.parent_path() / out;
}

StagedFiles::StagedFiles(bool overwrite, std::vector<ProtectedInput> inputs)
    : overwrite_(overwrite), inputs_(std::move(inputs)) {}

StagedFiles::~StagedFiles() {
  if (!committed_) remove_all_temps();
}

void StagedFiles::check(const fs::path& dst, bool raster) const {
  const fs::path abs = fs::absolute(dst);
  const std::string what = "output " + dst.string();
  const std::size_t name_bytes = abs.filename().string().size() + (raster ? 8 : 0);
  if (name_bytes > NAME_MAX) {
    throw io_error(what + ": the file name is " + std::to_string(name_bytes) + " bytes" +
                   (raster ? " with its .aux.xml side file" : "") + "; file names hold at most " +
                   std::to_string(NAME_MAX) + " (choose a shorter output name)");
  }
  const fs::path dir = abs.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw io_error(what + ": folder " + dir.string() + " does not exist (create it first)");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw io_error(what + ": folder " + dir.string() + " is not writable");
  }
  struct stat link_st {};
  const bool present = ::lstat(abs.c_str(), &link_st) == 0;  // a dangling link is present
  struct stat st {};
  const bool resolves = ::stat(abs.c_str(), &st) == 0;
  if (resolves && !S_ISREG(st.st_mode)) {
    throw io_error(what + " is " + kind_of(st.st_mode) +
                   " (expected a regular file name, such as out.tif)");
  }
  for (const auto& in : inputs_) {
    struct stat ist {};
    const bool same_inode = resolves && ::stat(in.path.c_str(), &ist) == 0 && same_file(st, ist);
    const bool same_path =
        fs::weakly_canonical(abs, ec) == fs::weakly_canonical(fs::absolute(in.path), ec) && !ec;
    if (same_inode || same_path) {
      throw io_error(what + " would replace " + in.what + " (" + in.path.string() +
                     "), an input of this run: choose another output name");
    }
  }
  if (present && !overwrite_) {
    throw io_error(what + " already exists (pass --overwrite to replace it once the new one is "
                   "complete)");
  }
}

fs::path StagedFiles::temporary(const fs::path& dst, std::string_view tag) {
  check(dst);
  const fs::path t = hidden_sibling(fs::absolute(dst), "partial", tag);
  temps_.push_back({t, register_temporary(t)});
  return t;
}

void StagedFiles::publish(const fs::path& temp, const fs::path& dst, bool raster) {
  const fs::path abs = fs::absolute(dst);
  moves_.push_back({temp, abs});
  if (raster) {
    const fs::path temp_aux(temp.string() + ".aux.xml");
    const fs::path dst_aux(abs.string() + ".aux.xml");
    std::error_code ec;
    if (fs::exists(temp_aux, ec)) {
      moves_.insert(moves_.end() - 1, Move{temp_aux, dst_aux, true});
    } else if (fs::symlink_status(dst_aux, ec).type() != fs::file_type::not_found) {
      moves_.insert(moves_.end() - 1, Move{fs::path(), dst_aux, true});
    }
  }
}

void StagedFiles::write_text(const fs::path& dst, std::string_view text, std::string_view tag) {
  const fs::path t = temporary(dst, tag);
  errno = 0;
  std::FILE* f = std::fopen(t.c_str(), "wb");
  if (f == nullptr) {
    throw io_error("output " + dst.string() + ": cannot be written: " + errno_text(errno));
  }
  const std::size_t n = std::fwrite(text.data(), 1, text.size(), f);
  const int err_write = errno;
  const bool ok = n == text.size() && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int err_flush = errno;
  if (std::fclose(f) != 0 || !ok) {
    const int err = err_write != 0 ? err_write : (err_flush != 0 ? err_flush : errno);
    discard(t);
    throw io_error("output " + dst.string() + ": cannot be written: " + errno_text(err));
  }
  publish(t, dst);
}

void StagedFiles::discard(const fs::path& temp) noexcept {
  for (auto it = temps_.begin(); it != temps_.end(); ++it) {
    if (it->path == temp) {
      remove_with_side_files(it->path);
      unregister_temporary(it->registration);
      temps_.erase(it);
      return;
    }
  }
  remove_with_side_files(temp);
}

void StagedFiles::remove_all_temps() noexcept {
  for (auto& t : temps_) {
    remove_with_side_files(t.path);
    unregister_temporary(t.registration);
  }
  temps_.clear();
}

std::vector<fs::path> StagedFiles::destinations() const {
  std::vector<fs::path> out;
  for (const auto& m : moves_) {
    if (!m.side) out.push_back(m.dst);
  }
  return out;
}

fs::path StagedFiles::staged(const fs::path& dst) const {
  const fs::path abs = fs::absolute(dst);
  for (auto it = moves_.rbegin(); it != moves_.rend(); ++it) {
    if (!it->side && it->dst == abs) return it->temp;
  }
  return {};
}

namespace {

/// The destinations' previous files while a commit runs: kept under hidden names (registered
/// for removal on a signal) until every new file is in place, put back when a move fails.
class PreviousFiles {
 public:
  explicit PreviousFiles(std::vector<fs::path> dsts) : dsts_(std::move(dsts)), kept_(dsts_.size()) {}
  PreviousFiles(const PreviousFiles&) = delete;
  PreviousFiles& operator=(const PreviousFiles&) = delete;
  ~PreviousFiles() {
    for (void* r : regs_) unregister_temporary(r);
  }

  /// Keeps destination i, when it exists, under a hidden name beside it: a hard link, so the old
  /// file stays where it is until the new one replaces it in one rename; a rename where the
  /// file system has no hard links. Returns false (errno set) when neither works.
  bool keep(std::size_t i) {
    struct stat st {};
    if (::lstat(dsts_[i].c_str(), &st) != 0) return true;
    const fs::path b = hidden_sibling(dsts_[i], "previous", "");
    ::unlink(b.c_str());
    if (::link(dsts_[i].c_str(), b.c_str()) != 0 && std::rename(dsts_[i].c_str(), b.c_str()) != 0) {
      return false;
    }
    kept_[i] = b;
    regs_.push_back(register_temporary(b));
    return true;
  }

  /// Puts destination i's previous file back in place; false when it had none.
  bool put_back(std::size_t i) {
    if (kept_[i].empty()) return false;
    std::rename(kept_[i].c_str(), dsts_[i].c_str());
    kept_[i].clear();
    return true;
  }

  /// Removes the kept files of the first n destinations; with `restore`, a file whose
  /// destination is gone goes back there instead.
  void drop(bool restore, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (kept_[i].empty()) continue;
      struct stat st {};
      if (restore && ::lstat(dsts_[i].c_str(), &st) != 0) {
        std::rename(kept_[i].c_str(), dsts_[i].c_str());
      } else {
        ::unlink(kept_[i].c_str());
      }
    }
  }

 private:
  std::vector<fs::path> dsts_;
  std::vector<fs::path> kept_;
  std::vector<void*> regs_;
};

}  // namespace

void StagedFiles::commit() {
  // A destination may have appeared (or become something else) while the run worked.
  for (const auto& m : moves_) {
    if (!m.side) check(m.dst);
  }
  std::vector<fs::path> dsts;
  for (const auto& m : moves_) dsts.push_back(m.dst);
  PreviousFiles previous(dsts);
  // 1. Keep every existing destination under a hidden name. Nothing visible changes here.
  for (std::size_t i = 0; i < moves_.size(); ++i) {
    if (previous.keep(i)) continue;
    const int err = errno;
    previous.drop(true, i);
    throw io_error("output " + moves_[i].dst.string() + " cannot be replaced: " +
                   errno_text(err) + " (no output was changed)");
  }
  // 2. Move the new files into place; on a failure put back what was already moved.
  for (std::size_t i = 0; i < moves_.size(); ++i) {
    const Move& m = moves_[i];
    const int rc = m.temp.empty() ? ::unlink(m.dst.c_str())
                                  : std::rename(m.temp.c_str(), m.dst.c_str());
    if (rc == 0 || (m.temp.empty() && errno == ENOENT)) continue;
    const int err = errno;
    for (std::size_t j = i; j-- > 0;) {
      if (!previous.put_back(j) && !moves_[j].temp.empty()) ::unlink(moves_[j].dst.c_str());
    }
    previous.drop(true, moves_.size());
    throw io_error("output " + m.dst.string() + " cannot be moved into place: " +
                   errno_text(err) + " (no output was changed)");
  }
  // 3. Done: the old files go, and the intermediates that were not published.
  previous.drop(false, moves_.size());
  committed_ = true;
  for (auto& t : temps_) {
    unregister_temporary(t.registration);
    bool moved = false;
    for (const auto& m : moves_) moved = moved || m.temp == t.path;
    if (!moved) remove_with_side_files(t.path);
  }
  temps_.clear();
}

}  // namespace gp::cli
