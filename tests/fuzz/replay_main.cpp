// Deterministic fuzz driver for builds without libFuzzer (g++, the normal and ASan suites):
// feeds LLVMFuzzerTestOneInput every file of the seed corpus, then a fixed number of mutants of
// them made by a seeded PRNG (bit flips, byte sets, inserts, deletes, duplicated ranges,
// truncations, splices and dictionary tokens, as libFuzzer's default mutators do). The same seed
// gives the same inputs on every run, so a failure reproduces; the failing input is written to
// the working directory as crash-<iteration> before the target runs it.
//
//   replay_fuzz DIR [--iterations N] [--seed S] [--max-len L] [--dict FILE]

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// splitmix64: small, fast, and the same sequence everywhere.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

/// libFuzzer dictionary lines: name="value" or "value", with \\, \" and \xNN escapes.
std::vector<std::string> read_dict(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    const auto q0 = line.find('"');
    const auto q1 = line.rfind('"');
    if (line.empty() || line[0] == '#' || q0 == std::string::npos || q1 <= q0) continue;
    std::string v;
    for (std::size_t i = q0 + 1; i < q1; ++i) {
      if (line[i] == '\\' && i + 1 < q1) {
        const char c = line[++i];
        if (c == 'x' && i + 2 < q1) {
          v += static_cast<char>(std::stoi(line.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          v += c;
        }
      } else {
        v += line[i];
      }
    }
    out.push_back(v);
  }
  return out;
}

std::string mutate(std::string s, Rng& rng, const std::vector<std::string>& corpus,
                   const std::vector<std::string>& dict, std::size_t max_len) {
  const int n_ops = 1 + static_cast<int>(rng.below(4));
  for (int k = 0; k < n_ops; ++k) {
    switch (rng.below(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng.below(s.size())] ^= static_cast<char>(1u << rng.below(8));
        break;
      case 1:  // set a byte (often an interesting one)
        if (!s.empty()) {
          static const char interesting[] = {'\0', '\n', '"', '\'', '[', ']', '=', '{', '}',
                                             ',', '.', '-', '+', 'e', '#', '\\', '\xff', '9'};
          s[rng.below(s.size())] = rng.below(2) != 0
                                       ? interesting[rng.below(sizeof(interesting))]
                                       : static_cast<char>(rng.below(256));
        }
        break;
      case 2:  // insert random bytes
        s.insert(rng.below(s.size() + 1), std::string(1 + rng.below(4), static_cast<char>(rng.below(256))));
        break;
      case 3:  // delete a range
        if (!s.empty()) {
          const std::size_t at = rng.below(s.size());
          s.erase(at, 1 + rng.below(std::min<std::size_t>(64, s.size() - at)));
        }
        break;
      case 4:  // duplicate a range
        if (!s.empty()) {
          const std::size_t at = rng.below(s.size());
          const std::string piece = s.substr(at, 1 + rng.below(64));
          s.insert(rng.below(s.size() + 1), piece);
        }
        break;
      case 5:  // truncate
        if (!s.empty()) s.resize(rng.below(s.size()));
        break;
      case 6:  // splice with another corpus entry
        if (!corpus.empty()) {
          const std::string& o = corpus[rng.below(corpus.size())];
          s = s.substr(0, rng.below(s.size() + 1)) + o.substr(rng.below(o.size() + 1));
        }
        break;
      default:  // dictionary token
        if (!dict.empty()) s.insert(rng.below(s.size() + 1), dict[rng.below(dict.size())]);
        break;
    }
  }
  if (s.size() > max_len) s.resize(max_len);
  return s;
}

void run_one(const std::string& input, const std::string& tag) {
  // Saved before the run: if the target crashes, the input is on disk.
  {
    std::ofstream out("crash-" + tag, std::ios::binary);
    out << input;
  }
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  std::remove(("crash-" + tag).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [--iterations N] [--seed S] [--max-len L] [--dict F]\n", argv[0]);
    return 2;
  }
  const fs::path dir = argv[1];
  long iterations = 2000;
  std::uint64_t seed = 1;
  std::size_t max_len = 8192;
  fs::path dict_file;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--iterations") iterations = std::strtol(argv[i + 1], nullptr, 10);
    else if (a == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--max-len") max_len = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--dict") dict_file = argv[i + 1];
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // directory order is not stable
  std::vector<std::string> corpus;
  for (const auto& f : files) corpus.push_back(read_file(f));
  const std::vector<std::string> dict = dict_file.empty() ? std::vector<std::string>{} : read_dict(dict_file);
  if (corpus.empty()) {
    std::fprintf(stderr, "no seed inputs in %s\n", dir.c_str());
    return 2;
  }
  for (std::size_t i = 0; i < corpus.size(); ++i) run_one(corpus[i], "seed-" + std::to_string(i));
  Rng rng{seed};
  for (long it = 0; it < iterations; ++it) {
    const std::string& base = corpus[rng.below(corpus.size())];
    run_one(mutate(base, rng, corpus, dict, max_len), std::to_string(it));
  }
  std::printf("replayed %zu seeds and %ld mutants (seed %llu): no crash\n", corpus.size(), iterations,
              static_cast<unsigned long long>(seed));
  return 0;
}
