// The one staged-file helper (cli/outputs/staged_files.hpp): destination checks, temporary
// names, all-or-nothing commit with roll-back, removal of temporaries on failure.

#include "test_support.hpp"

#include "gp/error.hpp"
#include "outputs/staged_files.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <functional>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gp::cli::StagedFiles;
using gp::test::file_bytes;
using gp::test::hidden_files;
using gp::test::scratch_dir;
using gp::test::write_text;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const gp::io_error& e) {
    return e.what();
  }
  return "(no gp::io_error)";
}

// ---- check ----------------------------------------------------------------------------------

TEST(StagedFilesCheck, MissingFolderIsRefused) {
  const fs::path dir = scratch_dir();
  StagedFiles s(false);
  const std::string e = error_of([&] { s.check(dir / "no" / "x.tif"); });
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
}

TEST(StagedFilesCheck, ExistingFileNeedsOverwrite) {
  const fs::path dir = scratch_dir();
  write_text(dir / "x.tif", "old");
  EXPECT_THROW(StagedFiles(false).check(dir / "x.tif"), gp::io_error);
  EXPECT_NO_THROW(StagedFiles(true).check(dir / "x.tif"));
}

TEST(StagedFilesCheck, DanglingLinkCountsAsExisting) {
  const fs::path dir = scratch_dir();
  fs::create_symlink(dir / "nowhere.tif", dir / "x.tif");
  const std::string e = error_of([&] { StagedFiles(false).check(dir / "x.tif"); });
  EXPECT_NE(e.find("already exists"), std::string::npos) << e;
  EXPECT_NO_THROW(StagedFiles(true).check(dir / "x.tif"));
}

TEST(StagedFilesCheck, NonRegularDestinationsAreRefusedEvenWithOverwrite) {
  const fs::path dir = scratch_dir();
  ASSERT_EQ(::mkfifo((dir / "fifo.tif").c_str(), 0644), 0);
  fs::create_directory(dir / "folder.tif");
  // A Unix socket bound in the folder.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, "sock.tif");  // relative: the scratch path passes sun_path's 108
  const fs::path cwd = fs::current_path();
  fs::current_path(dir);
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  fs::current_path(cwd);
  ASSERT_EQ(bound, 0);
  fs::create_symlink(dir / "fifo.tif", dir / "link_to_fifo.tif");
  const std::vector<std::pair<fs::path, std::string>> cases{
      {dir / "fifo.tif", "FIFO"},
      {dir / "folder.tif", "folder"},
      {dir / "sock.tif", "socket"},
      {dir / "link_to_fifo.tif", "FIFO"},
      {"/dev/null", "character device"}};
  for (const auto& [path, kind] : cases) {
    const fs::path p = path;  // a lambda may not capture a structured binding (C++17)
    const std::string e = error_of([&] { StagedFiles(true).check(p); });
    EXPECT_NE(e.find(kind), std::string::npos) << p << ": " << e;
    EXPECT_NE(e.find(p.string()), std::string::npos) << e;
  }
  ::close(fd);
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_TRUE(fs::is_fifo(dir / "fifo.tif"));
}

TEST(StagedFilesCheck, AnInputIsNeverADestinationWhateverTheSpelling) {
  const fs::path dir = scratch_dir();
  write_text(dir / "a.tif", "input layer");
  fs::create_directory(dir / "sub");
  fs::create_symlink(dir / "a.tif", dir / "soft.tif");
  fs::create_hard_link(dir / "a.tif", dir / "hard.tif");
  fs::create_directory_symlink(dir, dir / "sub" / "up");
  StagedFiles s(true, {{dir / "a.tif", "layer 'alpha'"}});
  const std::vector<fs::path> spellings{
      dir / "a.tif",                     // absolute
      dir / "sub" / ".." / "a.tif",      // with ..
      dir / "." / "a.tif",               // with .
      dir / "soft.tif",                  // a symbolic link to it
      dir / "hard.tif",                  // a hard link to it
      dir / "sub" / "up" / "a.tif",      // through a linked folder
  };
  for (const fs::path& p : spellings) {
    const std::string e = error_of([&] { s.check(p); });
    EXPECT_NE(e.find("layer 'alpha'"), std::string::npos) << p << ": " << e;
    EXPECT_NE(e.find("input"), std::string::npos) << e;
  }
  // Relative to the working folder.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir / "sub");
  const std::string e = error_of([&] { s.check("../a.tif"); });
  fs::current_path(cwd);
  EXPECT_NE(e.find("layer 'alpha'"), std::string::npos) << e;
  EXPECT_EQ(file_bytes(dir / "a.tif"), "input layer");
}

// ---- temporaries ----------------------------------------------------------------------------

TEST(StagedFilesTemporary, HiddenBesideTheDestinationAndWithinNameMax) {
  const fs::path dir = scratch_dir();
  StagedFiles s(false);
  const fs::path t = s.temporary(dir / "map.tif", "gtiff");
  EXPECT_EQ(t.parent_path(), dir);
  EXPECT_EQ(t.filename().string().rfind(".map.tif.partial-", 0), 0u) << t;
  // A legal 250-character name: its temporary (and GDAL's ".aux.xml" beside it) stays legal.
  const std::string long_name = std::string(246, 'm') + ".tif";
  ASSERT_EQ(long_name.size(), 250u);
  const fs::path lt = s.temporary(dir / long_name, "gtiff");
  EXPECT_LE(lt.filename().string().size() + std::strlen(".aux.xml"), std::size_t{NAME_MAX});
  EXPECT_NE(lt.filename().string().find(".partial-"), std::string::npos);
  write_text(fs::path(lt.string() + ".aux.xml"), "x");  // creatable
  // Two long names that differ only at the end get different temporaries.
  const fs::path lt2 = s.temporary(dir / (std::string(246, 'm') + ".TIF"), "gtiff");
  EXPECT_NE(lt, lt2);
}

TEST(StagedFilesTemporary, RemovedWithSideFilesUnlessCommitted) {
  const fs::path dir = scratch_dir();
  {
    StagedFiles s(false);
    const fs::path t = s.temporary(dir / "map.tif", "gtiff");
    write_text(t, "half");
    write_text(fs::path(t.string() + ".aux.xml"), "pam");
    write_text(fs::path(t.string() + ".ovr.tmp"), "ovr");
    s.write_text(dir / "map.qml", "<qgis/>", "qml");
  }
  EXPECT_TRUE(fs::is_empty(dir)) << gp::test::join(hidden_files(dir));
}

// ---- commit ---------------------------------------------------------------------------------

TEST(StagedFilesCommit, MovesEverythingAndKeepsNoBackup) {
  const fs::path dir = scratch_dir();
  write_text(dir / "b.csv", "old b");
  StagedFiles s(true);
  s.write_text(dir / "a.csv", "new a", "csv");
  s.write_text(dir / "b.csv", "new b", "csv");
  EXPECT_EQ(file_bytes(dir / "b.csv"), "old b") << "nothing moves before commit";
  s.commit();
  EXPECT_EQ(file_bytes(dir / "a.csv"), "new a");
  EXPECT_EQ(file_bytes(dir / "b.csv"), "new b");
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
  EXPECT_EQ(s.destinations(), (std::vector<fs::path>{dir / "a.csv", dir / "b.csv"}));
}

TEST(StagedFilesCommit, AFailureHalfwayPutsEveryFileBack) {
  const fs::path dir = scratch_dir();
  write_text(dir / "a.csv", "old a");
  write_text(dir / "b.csv", "old b");
  // c.csv is new; d.csv's staged file disappears before commit, so its move fails after a, b
  // and c were moved.
  StagedFiles s(true);
  s.write_text(dir / "a.csv", "new a", "csv");
  s.write_text(dir / "b.csv", "new b", "csv");
  s.write_text(dir / "c.csv", "new c", "csv");
  const fs::path t = s.temporary(dir / "d.csv", "csv");
  s.publish(t, dir / "d.csv");  // never written
  const std::string e = error_of([&] { s.commit(); });
  EXPECT_NE(e.find((dir / "d.csv").string()), std::string::npos) << "names the blocking file: " << e;
  EXPECT_NE(e.find("no output was changed"), std::string::npos) << e;
  EXPECT_EQ(file_bytes(dir / "a.csv"), "old a");
  EXPECT_EQ(file_bytes(dir / "b.csv"), "old b");
  EXPECT_FALSE(fs::exists(dir / "c.csv")) << "a new file is taken back out";
  EXPECT_FALSE(fs::exists(dir / "d.csv"));
}

TEST(StagedFilesCommit, NoBackupOrTemporaryIsLeftAfterARollBack) {
  const fs::path dir = scratch_dir();
  write_text(dir / "a.csv", "old a");
  {
    StagedFiles s(true);
    s.write_text(dir / "a.csv", "new a", "csv");
    const fs::path t = s.temporary(dir / "z.csv", "csv");
    s.publish(t, dir / "z.csv");
    EXPECT_THROW(s.commit(), gp::io_error);
  }
  EXPECT_EQ(file_bytes(dir / "a.csv"), "old a");
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
}

TEST(StagedFilesCommit, ADestinationThatAppearedDuringTheRunIsNotReplaced) {
  const fs::path dir = scratch_dir();
  StagedFiles s(false);
  s.write_text(dir / "a.csv", "new a", "csv");
  write_text(dir / "a.csv", "someone else's");
  EXPECT_THROW(s.commit(), gp::io_error);
  EXPECT_EQ(file_bytes(dir / "a.csv"), "someone else's");
}

TEST(StagedFilesCommit, ARastersStaleSideFileGoesAndANewOneComes) {
  const fs::path dir = scratch_dir();
  write_text(dir / "old.tif", "old raster");
  write_text(dir / "old.tif.aux.xml", "<PAMDataset>stale</PAMDataset>");
  write_text(dir / "cls.tif.aux.xml", "<PAMDataset>stale</PAMDataset>");
  StagedFiles s(true);
  const fs::path t1 = s.temporary(dir / "old.tif", "gtiff");
  write_text(t1, "new raster");
  s.publish(t1, dir / "old.tif", true);
  const fs::path t2 = s.temporary(dir / "cls.tif", "gtiff");
  write_text(t2, "classes");
  write_text(fs::path(t2.string() + ".aux.xml"), "<PAMDataset>names</PAMDataset>");
  s.publish(t2, dir / "cls.tif", true);
  s.commit();
  EXPECT_EQ(file_bytes(dir / "old.tif"), "new raster");
  EXPECT_FALSE(fs::exists(dir / "old.tif.aux.xml")) << "a stale .aux.xml overrides the new file";
  EXPECT_EQ(file_bytes(dir / "cls.tif.aux.xml"), "<PAMDataset>names</PAMDataset>");
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
}

TEST(StagedFilesCommit, AnImmutableOldFileBlocksTheWholeSet) {
  const fs::path dir = scratch_dir();
  write_text(dir / "a.csv", "old a");
  write_text(dir / "b.csv", "old b");
  const std::string chattr = "chattr +i '" + (dir / "b.csv").string() + "' 2>/dev/null";
  if (std::system(chattr.c_str()) != 0) GTEST_SKIP() << "chattr +i is not available here";
  StagedFiles s(true);
  s.write_text(dir / "a.csv", "new a", "csv");
  s.write_text(dir / "b.csv", "new b", "csv");
  const std::string e = error_of([&] { s.commit(); });
  std::system(("chattr -i '" + (dir / "b.csv").string() + "'").c_str());
  EXPECT_NE(e.find((dir / "b.csv").string()), std::string::npos) << e;
  EXPECT_EQ(file_bytes(dir / "a.csv"), "old a");
  EXPECT_EQ(file_bytes(dir / "b.csv"), "old b");
}

}  // namespace
