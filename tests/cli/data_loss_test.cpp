// Never lose a user's data, through the `geoprospect` binary: an output that would replace one
// of the run's inputs (every spelling), destinations that are not regular files, a set of
// outputs that cannot all be moved into place (all or nothing), a signal at every stage of a run
// with many vector layers (no temporary left), and a legal 250-character output name.
//
// Exit codes (README): 5 = the output cannot be written.

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gp::test::CliResult;
using gp::test::hidden_files;
using gp::test::file_bytes;
using gp::test::lines;
using gp::test::scratch_dir;
using gp::test::write_text;
using gp::test::run_cli_in;

constexpr int exit_output = gp::test::exit_code::output;
constexpr double x0 = 1'000'000.0;
constexpr double y0 = -3'000'000.0;

/// Every regular file of `dir` with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) s[e.path().filename().string()] = file_bytes(e.path());
  }
  return s;
}

void expect_refused(const CliResult& r, const std::vector<std::string>& names) {
  EXPECT_EQ(r.exit_code, exit_output) << r.err;
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  for (const auto& n : names) EXPECT_NE(err[0].find(n), std::string::npos) << err[0];
}

/// Two 60 x 40 layers and a weighted-sum model in `dir`.
void write_model(const fs::path& dir, double weight_b = 0.5, const std::string& extra = "") {
  std::vector<float> a(60 * 40);
  std::vector<float> b(60 * 40);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>(i % 60) / 60.0f;
    b[i] = static_cast<float>(i / 60) / 40.0f;
  }
  gp::test::write_raster(dir / "a.tif", "EPSG:3577", x0, y0, 100, 100, 60, 40, a);
  gp::test::write_raster(dir / "b.tif", "EPSG:3577", x0, y0, 100, 100, 60, 40, b);
  write_text(dir / "model.toml",
             "[model]\nname = \"dl\"\n" + extra +
                 "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\n"
                 "transform = { kind = \"linear\", min = 0.0, max = 1.0 }\nweight = 0.5\n"
                 "[[layer]]\nname = \"beta\"\npath = \"b.tif\"\n"
                 "transform = { kind = \"linear\", min = 0.0, max = 1.0 }\nweight = " +
                 std::to_string(weight_b) + "\n");
}

// ---- an output never replaces an input ------------------------------------------------------

TEST(DataLossInputs, OutputOnALayerIsRefusedWhateverTheSpelling) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  fs::create_directory(dir / "sub");
  fs::create_symlink(dir / "a.tif", dir / "soft.tif");
  fs::create_hard_link(dir / "a.tif", dir / "hard.tif");
  const auto before = file_bytes(dir / "a.tif");
  for (const std::string& o : {std::string("a.tif"), (dir / "a.tif").string(),
                               std::string("sub/../a.tif"), std::string("./a.tif"),
                               std::string("soft.tif"), std::string("hard.tif")}) {
    SCOPED_TRACE(o);
    const auto r = run_cli_in(dir, {"run", "model.toml", "-o", o, "--overwrite", "--device", "cpu",
                                "--quiet"});
    expect_refused(r, {"layer 'alpha'", "input"});
    EXPECT_EQ(file_bytes(dir / "a.tif"), before);
    EXPECT_TRUE(fs::is_symlink(dir / "soft.tif"));
    EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
  }
}

TEST(DataLossInputs, OutputOnTheModelFileIsRefused) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  const auto before = file_bytes(dir / "model.toml");
  const auto r = run_cli_in(dir, {"run", "model.toml", "-o", "model.toml", "--overwrite", "--device",
                              "cpu", "--quiet"});
  expect_refused(r, {"model file", "model.toml"});
  EXPECT_EQ(file_bytes(dir / "model.toml"), before);
}

TEST(DataLossInputs, ASideFileOnALayerIsRefused) {
  // The class raster of `out.tif` is `out_classes.tif`: here that is the second layer.
  const fs::path dir = scratch_dir();
  write_model(dir);
  fs::rename(dir / "b.tif", dir / "out_classes.tif");
  std::string model = file_bytes(dir / "model.toml");
  model.replace(model.find("b.tif"), 5, "out_classes.tif");
  write_text(dir / "model.toml", model);
  const auto before = file_bytes(dir / "out_classes.tif");
  const auto r = run_cli_in(dir, {"run", "model.toml", "-o", "out.tif", "--overwrite", "--device",
                              "cpu", "--quiet"});
  expect_refused(r, {"layer 'beta'", "out_classes.tif"});
  EXPECT_EQ(file_bytes(dir / "out_classes.tif"), before);
  EXPECT_FALSE(fs::exists(dir / "out.tif"));
}

TEST(DataLossInputs, ValidateNeverReplacesItsDeposits) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  ASSERT_EQ(run_cli_in(dir, {"run", "model.toml", "-o", "m.tif", "--device", "cpu", "--quiet"})
                .exit_code,
            0);
  // Deposits in a file named like validate's ROC table for map m.tif.
  write_text(dir / "m_roc.csv", "name,x,y\nA,1001050,-3001050\nB,1003050,-3002050\n");
  const auto before = file_bytes(dir / "m_roc.csv");
  const auto r = run_cli_in(dir, {"validate", "m.tif", "--deposits", "m_roc.csv", "--x-column", "x",
                              "--y-column", "y", "--crs", "EPSG:3577", "--overwrite", "--device",
                              "cpu"});
  expect_refused(r, {"deposits", "m_roc.csv"});
  EXPECT_EQ(file_bytes(dir / "m_roc.csv"), before);
  EXPECT_FALSE(fs::exists(dir / "m_validation.json"));
}

// ---- destinations that are not regular files -------------------------------------------------

TEST(DataLossDestinations, FifoAndDeviceAreRefusedEvenWithOverwrite) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  ASSERT_EQ(::mkfifo((dir / "pipe.tif").c_str(), 0644), 0);
  auto r = run_cli_in(dir, {"run", "model.toml", "-o", "pipe.tif", "--overwrite", "--device", "cpu",
                        "--quiet"});
  expect_refused(r, {"pipe.tif", "FIFO"});
  EXPECT_TRUE(fs::is_fifo(dir / "pipe.tif"));
  r = run_cli_in(dir, {"run", "model.toml", "-o", "/dev/null", "--overwrite", "--device", "cpu",
                   "--quiet"});
  expect_refused(r, {"/dev/null", "character device"});
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null must stay a device";
}

TEST(DataLossDestinations, ADanglingLinkIsAnExistingFile) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  fs::create_symlink(dir / "elsewhere" / "gone.tif", dir / "out.tif");
  auto r = run_cli_in(dir, {"run", "model.toml", "-o", "out.tif", "--device", "cpu", "--quiet"});
  expect_refused(r, {"out.tif", "already exists"});
  EXPECT_TRUE(fs::is_symlink(dir / "out.tif"));
  r = run_cli_in(dir, {"run", "model.toml", "-o", "out.tif", "--overwrite", "--device", "cpu",
                   "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dir / "out.tif")));
}

// ---- all or nothing ---------------------------------------------------------------------------

TEST(DataLossAllOrNothing, RunBKeepsEveryFileOfRunAWhenOneCannotBeReplaced) {
  const fs::path dir = scratch_dir();
  write_model(dir, 0.5);
  ASSERT_EQ(run_cli_in(dir, {"run", "model.toml", "-o", "out.tif", "--device", "cpu", "--quiet"})
                .exit_code,
            0);
  const auto run_a = snapshot(dir);
  ASSERT_GE(run_a.count("out_quicklook.png") + run_a.count("out_report.json"), 2u);
  const fs::path locked = dir / "out_quicklook.png";
  if (std::system(("chattr +i " + gp::test::shell_quote(locked.string()) + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "chattr +i is not available on this file system";
  }
  write_model(dir, 2.0);  // run B: other weights, so every output would differ
  const auto model_b = file_bytes(dir / "model.toml");
  const auto r = run_cli_in(dir, {"run", "model.toml", "-o", "out.tif", "--overwrite", "--device",
                              "cpu", "--quiet"});
  std::system(("chattr -i " + gp::test::shell_quote(locked.string())).c_str());
  expect_refused(r, {"out_quicklook.png"});
  auto after = snapshot(dir);
  after.erase("model.toml");
  auto expected = run_a;
  expected.erase("model.toml");
  expected.erase("a.tif");
  expected.erase("b.tif");
  after.erase("a.tif");
  after.erase("b.tif");
  EXPECT_EQ(after, expected) << "every output of run A, byte for byte, and nothing of run B";
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
}

TEST(DataLossAllOrNothing, ValidateWritesAllFourFilesOrNone) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  ASSERT_EQ(run_cli_in(dir, {"run", "model.toml", "-o", "m.tif", "--device", "cpu", "--quiet"})
                .exit_code,
            0);
  write_text(dir / "deps.csv", "name,x,y\nA,1001050,-3001050\nB,1003050,-3002050\n");
  const std::vector<std::string> args{"validate", "m.tif", "--deposits", "deps.csv",
                                      "--x-column", "x", "--y-column", "y", "--crs",
                                      "EPSG:3577", "--device", "cpu", "--overwrite"};
  ASSERT_EQ(run_cli_in(dir, args).exit_code, 0);
  const auto first = snapshot(dir);
  // The same validation again, under a file-size limit below the largest of the four files and
  // above the smallest: some writes succeed, one fails (EFBIG, as ENOSPC on a full disk).
  std::uintmax_t smallest = UINTMAX_MAX;
  std::uintmax_t largest = 0;
  for (const char* f : {"m_validation.json", "m_success_rate.csv", "m_roc.csv",
                        "m_validation.svg"}) {
    smallest = std::min(smallest, fs::file_size(dir / f));
    largest = std::max(largest, fs::file_size(dir / f));
  }
  ASSERT_LT(smallest + 1, largest);
  write_text(dir / "deps.csv", "name,x,y\nA,1001050,-3001050\nB,1005050,-3003050\n");
  std::string cmd = "cd " + gp::test::shell_quote(dir.string()) + " && trap '' XFSZ; exec prlimit --fsize=" +
                    std::to_string((smallest + largest) / 2) + " " +
                    gp::test::shell_quote(gp::test::exe().string());
  for (const auto& a : args) cmd += " " + gp::test::shell_quote(a);
  cmd += " 2>" + gp::test::shell_quote((dir / "err.txt").string()) + " >/dev/null";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), exit_output) << file_bytes(dir / "err.txt");
  fs::remove(dir / "err.txt");
  auto after = snapshot(dir);
  after.erase("deps.csv");
  auto expected = first;
  expected.erase("deps.csv");
  EXPECT_EQ(after, expected) << "the first validation's four files, unchanged";
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
}

// ---- temporaries --------------------------------------------------------------------------------

TEST(DataLossTemporaries, LongOutputNamesWorkUpToTheFileSystemsLimit) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  // The longest name of the set is the class raster's PAM side file,
  // "<stem>_classes.tif.aux.xml" (20 bytes after the stem): a stem of 235 bytes is legal, and
  // every temporary beside it (".<name>.partial-<pid>.<tag>") must stay legal too.
  const std::string name = std::string(235, 'q') + ".tif";
  auto r = run_cli_in(dir, {"run", "model.toml", "-o", name, "--device", "cpu", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / name));
  EXPECT_TRUE(fs::exists(dir / (std::string(235, 'q') + "_classes.tif")));
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
  // 250 bytes: the map itself is legal, its class raster's side file would not be. Refused
  // before any work, one line, naming the file and the limit.
  const std::string too_long = std::string(246, 'z') + ".tif";
  r = run_cli_in(dir, {"run", "model.toml", "-o", too_long, "--device", "cpu", "--quiet"});
  expect_refused(r, {"255", "shorter output name"});
  EXPECT_FALSE(fs::exists(dir / too_long));
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
}

/// A model of one raster layer and 20 vector layers (points and polygons as GeoJSON in
/// EPSG:3577, presence and distance), with classes, styles, quicklook, report, validation and
/// Monte Carlo uncertainty: every kind of file the program writes.
void write_vector_model(const fs::path& dir, int n_vectors) {
  const int w = 600;
  const int h = 450;
  std::vector<float> v(static_cast<std::size_t>(w) * h);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f;
  gp::test::write_raster(dir / "r.tif", "EPSG:3577", x0, y0, 100, 100, w, h, v);
  std::string model = "[model]\nname = \"many-vectors\"\n"
                      "[[layer]]\nname = \"r\"\npath = \"r.tif\"\n"
                      "transform = { kind = \"linear\", min = 0.0, max = 1.0 }\nweight = 1.0\n";
  const std::string crs =
      R"("crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3577"}}, )";
  for (int k = 0; k < n_vectors; ++k) {
    const double px = x0 + 3000.0 + 2500.0 * k;
    const double py = y0 - 2000.0 - 2000.0 * k;
    std::string geom;
    if (k % 2 == 0) {
      geom = R"({"type": "Point", "coordinates": [)" + std::to_string(px) + ", " +
             std::to_string(py) + "]}";
    } else {
      const auto c = [](double x, double y) {
        return "[" + std::to_string(x) + ", " + std::to_string(y) + "]";
      };
      geom = R"({"type": "Polygon", "coordinates": [[)" + c(px, py) + ", " + c(px + 4000, py) +
             ", " + c(px + 4000, py - 3000) + ", " + c(px, py - 3000) + ", " + c(px, py) + "]]}";
    }
    const std::string name = "v" + std::to_string(k) + ".geojson";
    write_text(dir / name, R"({"type": "FeatureCollection", )" + crs +
                               R"("features": [{"type": "Feature", "properties": {}, "geometry": )" +
                               geom + "}]}");
    model += "[[layer]]\nname = \"v" + std::to_string(k) + "\"\npath = \"" + name + "\"\n" +
             (k % 2 == 0 ? "vector = \"distance\"\ntransform = { kind = \"small\", midpoint = "
                           "5000.0, spread = 2 }\n"
                         : "vector = \"presence\"\n") +
             "weight = 0.05\n";
  }
  write_text(dir / "deps.csv", "name,x,y\nA,1005050,-3005050\nB,1020050,-3010050\n"
                               "C,1040050,-3030050\nD,1060050,-3050050\n");
  model += "[validation]\ndeposits = \"deps.csv\"\nx_column = \"x\"\ny_column = \"y\"\n"
           "crs = \"EPSG:3577\"\n"
           "[uncertainty]\ndraws = 8\nseed = 3\nweights = { uniform = 0.1 }\n";
  write_text(dir / "model.toml", model);
}

/// Runs the CLI with stderr on a pipe and sends SIGINT when the `n`-th stderr line arrives
/// (n < 0: never). Returns the lines seen and whether the process ended on the signal.
struct Interrupted {
  std::vector<std::string> lines;
  bool signalled{false};
  int exit_code{-1};
};
Interrupted run_and_interrupt(const fs::path& dir, const std::vector<std::string>& args, int n) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    if (::chdir(dir.c_str()) != 0) ::_exit(127);
    std::vector<char*> argv;
    const std::string exe = gp::test::exe().string();
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  Interrupted out;
  std::string buf;
  char c = 0;
  while (::read(fds[0], &c, 1) == 1) {
    if (c != '\n' && c != '\r') {
      buf += c;
      continue;
    }
    if (buf.empty()) continue;
    out.lines.push_back(buf);
    buf.clear();
    if (static_cast<int>(out.lines.size()) == n) ::kill(pid, SIGINT);
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.signalled = WIFSIGNALED(status) && WTERMSIG(status) == SIGINT;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

/// Runs `args` in `work` once to the end (writing into `out_dir`), then again with SIGINT at
/// stderr lines `first`.. and at every line up to the first file reported written; after each,
/// `out_dir` holds no hidden temporary and either no output or the complete set. Returns the
/// lines at which an interrupted run left nothing.
std::set<std::string> interrupt_everywhere(const fs::path& work, const fs::path& out_dir,
                                           const std::vector<std::string>& args,
                                           const std::vector<std::string>& expected,
                                           std::vector<int> at, int from) {
  const auto inputs = snapshot(out_dir);
  const Interrupted full = run_and_interrupt(work, args, -1);
  EXPECT_EQ(full.exit_code, 0) << gp::test::join(full.lines);
  const auto complete = snapshot(out_dir);
  for (const auto& f : expected) EXPECT_EQ(complete.count(f), 1u) << f << " missing";
  auto clear = [&] {
    for (const auto& [name, bytes] : snapshot(out_dir)) {
      if (inputs.count(name) == 0) fs::remove(out_dir / name);
    }
  };
  clear();
  for (int n = from; n <= static_cast<int>(full.lines.size()); ++n) {
    at.push_back(n);
    if (full.lines[static_cast<std::size_t>(n - 1)].find("wrote") != std::string::npos) break;
  }
  std::set<std::string> interrupted;
  for (int n : at) {
    SCOPED_TRACE("SIGINT at stderr line " + std::to_string(n) + ": " + full.lines[n - 1]);
    const Interrupted r = run_and_interrupt(work, args, n);
    EXPECT_TRUE(hidden_files(out_dir).empty()) << gp::test::join(hidden_files(out_dir));
    const auto now = snapshot(out_dir);
    std::size_t outputs = 0;
    for (const auto& [name, bytes] : now) outputs += inputs.count(name) == 0 ? 1 : 0;
    // A signal before the set is moved into place leaves no output; one after it (while the
    // run prints what it wrote) leaves the complete set. Never a part of it.
    EXPECT_TRUE(outputs == 0 || now.size() == complete.size()) << outputs << " outputs";
    if (r.signalled && outputs == 0) interrupted.insert(full.lines[n - 1]);
    clear();
  }
  return interrupted;
}

TEST(DataLossTemporaries, ASignalAtEveryStageLeavesNoTemporaryAndNoPartialSet) {
  // Vector rasters, map, class raster, styles, quicklook, report, validation CSV/SVG/JSON and
  // the uncertainty raster.
  const fs::path dir = scratch_dir();
  write_vector_model(dir, 20);
  const auto stages = interrupt_everywhere(
      dir, dir, {"run", "model.toml", "-o", "out.tif", "--device", "cpu", "--threads", "2"},
      {"out.tif", "out_classes.tif", "out.qml", "out_quicklook.png", "out_report.json",
       "out_validation.json", "out_roc.csv", "out_validation.svg", "out_uncertainty.tif"},
      {1, 8, 15}, 20);
  EXPECT_GE(stages.size(), 4u) << "the signal should land in several stages";
}

// An older map and its side files stand; a rerun with --overwrite is interrupted as it starts
// assembling the new COG (the line printed just before geo::assemble_cog): every older file
// keeps its bytes, and nothing hidden is left behind.
TEST(DataLossTemporaries, ASignalDuringCogAssemblyKeepsTheOlderMap) {
  const fs::path dir = scratch_dir();
  write_model(dir);
  const std::vector<std::string> first{"run", "model.toml", "-o", "out.tif", "--device", "cpu"};
  const Interrupted done = run_and_interrupt(dir, first, -1);
  ASSERT_EQ(done.exit_code, 0) << gp::test::join(done.lines);
  const auto older = snapshot(dir);
  ASSERT_EQ(older.count("out.tif"), 1u);
  ASSERT_EQ(older.count("out_classes.tif"), 1u);
  // The rerun gives another map (weight 0.9), so an overwritten file would differ.
  write_model(dir, 0.9);
  const auto inputs = snapshot(dir);
  std::vector<std::string> again = first;
  again.emplace_back("--overwrite");
  const Interrupted probe = run_and_interrupt(dir, again, -1);
  ASSERT_EQ(probe.exit_code, 0) << gp::test::join(probe.lines);
  int at = -1;
  for (std::size_t i = 0; i < probe.lines.size(); ++i) {
    if (probe.lines[i].find("writing the Cloud-Optimized GeoTIFF") != std::string::npos) at = static_cast<int>(i) + 1;
  }
  ASSERT_GT(at, 0) << gp::test::join(probe.lines);
  EXPECT_NE(snapshot(dir).at("out.tif"), older.at("out.tif")) << "the rerun's map should differ";
  // Back to the older outputs, then the interrupted rerun.
  for (const auto& [name, bytes] : older) gp::test::write_text(dir / name, bytes);
  write_model(dir, 0.9);
  const Interrupted r = run_and_interrupt(dir, again, at);
  EXPECT_TRUE(hidden_files(dir).empty()) << gp::test::join(hidden_files(dir));
  const auto after = snapshot(dir);
  if (r.exit_code == 0) {
    // The run outpaced the signal (a loaded machine): then the whole new set stands.
    EXPECT_NE(after.at("out.tif"), older.at("out.tif"));
    EXPECT_EQ(after.size(), older.size());
    return;
  }
  EXPECT_TRUE(r.signalled) << gp::test::join(r.lines);
  for (const auto& [name, bytes] : older) {
    if (inputs.count(name) != 0 && inputs.at(name) != bytes) continue;  // the model file, rewritten
    ASSERT_EQ(after.count(name), 1u) << name << " is gone";
    EXPECT_TRUE(after.at(name) == bytes) << name << " changed";
  }
  EXPECT_EQ(after.size(), older.size());
}

TEST(DataLossTemporaries, ASignalDuringWeightsOfEvidenceLeavesNoTemporary) {
  // The weights tables join the set: the shipped Cloncurry demo, interrupted at every stage.
  const fs::path dir = scratch_dir();
  const fs::path model = gp::test::source_dir() / "data-samples" / "cloncurry" /
                         "iocg_wofe_binary.toml";
  const auto stages = interrupt_everywhere(
      dir, dir, {"run", model.string(), "-o", (dir / "w.tif").string(), "--device", "cpu"},
      {"w.tif", "w_wofe_StratNo.csv", "w_classes.tif", "w_report.json"}, {}, 1);
  EXPECT_GE(stages.size(), 3u) << "the signal should land in several stages";
}

}  // namespace
