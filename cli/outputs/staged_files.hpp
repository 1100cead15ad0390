#pragma once
// The one staged-file helper: every file the program writes goes through a StagedFiles set.
//
//  - Destinations are checked before any heavy work (check): the folder exists and is writable;
//    the destination is absent, or is a regular file (or a link to one) and --overwrite was
//    given; it is never a folder, a device, a FIFO or a socket; a dangling link counts as an
//    existing file; and it is never one of the run's inputs (compared by resolved path and by
//    device/inode, so no spelling, symbolic link or hard link gets past).
//  - Each file is written under a hidden temporary name beside its destination
//    (`.<name>.partial-<pid>.<tag>`, shortened with a hash when that would pass NAME_MAX), which
//    is removed on failure, on destruction and on SIGINT/SIGTERM (with the GDAL side files
//    `.aux.xml` and `.ovr.tmp` beside it). The signal registry has no fixed size.
//  - commit() moves the whole set into place, all or nothing: an existing destination is first
//    kept under a hard link (or renamed) beside it; if any move fails, every file already moved
//    is put back (or removed when it was new), and the error names the file that blocked it.
//
// Standard library and POSIX only: geo/ writes wherever it is told, cli/ decides where.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gp::cli {

/// A file the run reads, which no output may replace. `what` names it in messages
/// ("layer 'k'", "the model file", "[training] deposits").
struct ProtectedInput {
  std::filesystem::path path;
  std::string what;
};

class StagedFiles {
 public:
  /// `overwrite`: existing regular destinations may be replaced (only at commit()).
  explicit StagedFiles(bool overwrite, std::vector<ProtectedInput> inputs = {});
  ~StagedFiles();
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;

  /// Checks that `dst` may be written (see the file comment), and that its name fits the file
  /// system (with `.aux.xml` added for a `raster`, where GDAL keeps what TIFF tags cannot
  /// hold). Throws gp::io_error naming `dst`.
  void check(const std::filesystem::path& dst, bool raster = false) const;

  /// A registered temporary beside `dst` (checked first), tagged `tag` (a short word: "gtiff",
  /// "cog", "csv"). Removed unless published and committed.
  std::filesystem::path temporary(const std::filesystem::path& dst, std::string_view tag);

  /// Marks `temp` (from temporary()) as the file that commit() moves to `dst`. Files move in
  /// the order they were published (publish the main output last). A raster's `.aux.xml` side
  /// file travels with it: a stale one beside `dst` is removed when the new file has none.
  void publish(const std::filesystem::path& temp, const std::filesystem::path& dst,
               bool raster = false);

  /// temporary() + write `text` + publish(). Throws gp::io_error (disk full named as such).
  void write_text(const std::filesystem::path& dst, std::string_view text, std::string_view tag);

  /// Removes a temporary that is no longer needed (an intermediate file) now.
  void discard(const std::filesystem::path& temp) noexcept;

  /// Moves every published file into place, all or nothing. Throws gp::io_error naming the
  /// destination that could not be replaced; the folder is then as it was before.
  void commit();

  /// Destinations published so far, in order.
  [[nodiscard]] std::vector<std::filesystem::path> destinations() const;
  /// The temporary published for `dst` (the file as it will stand there after commit()), or
  /// an empty path when none is.
  [[nodiscard]] std::filesystem::path staged(const std::filesystem::path& dst) const;
  [[nodiscard]] bool overwrite() const { return overwrite_; }
  [[nodiscard]] const std::vector<ProtectedInput>& inputs() const { return inputs_; }

 private:
  struct Move {
    std::filesystem::path temp;  // empty: only remove dst (a stale raster side file)
    std::filesystem::path dst;
    bool side{false};  // a raster's .aux.xml, moved with it
  };
  struct Temp {
    std::filesystem::path path;
    void* registration{nullptr};
  };
  void remove_all_temps() noexcept;

  bool overwrite_;
  std::vector<ProtectedInput> inputs_;
  std::vector<Temp> temps_;
  std::vector<Move> moves_;
  bool committed_{false};
};

/// The hidden name beside `dst` for a file in progress: `.<name>.<kind>-<pid>.<tag>`, kept within
/// NAME_MAX (the name is cut and a hash of the whole name added when it would be longer).
std::filesystem::path hidden_sibling(const std::filesystem::path& dst, std::string_view kind,
                                     std::string_view tag);

/// Registers a file for removal (with its `.aux.xml` and `.ovr.tmp` side files) if the process
/// gets SIGINT or SIGTERM before unregister_temporary(). Unbounded; the handler only unlinks.
void* register_temporary(const std::filesystem::path& path);
void unregister_temporary(void* registration) noexcept;

/// For a host program that handles SIGINT itself (the Python interpreter raises
/// KeyboardInterrupt, which the Python module turns into a run that unwinds and so removes its
/// temporaries): registrations then leave SIGINT to it. Call before the first registration.
void leave_sigint_to_host() noexcept;

/// Removes a file and the side files GDAL may have written beside it. Never throws.
void remove_with_side_files(const std::filesystem::path& path) noexcept;

}  // namespace gp::cli
