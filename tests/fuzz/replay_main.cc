// Runs a libFuzzer target without libFuzzer: every file under the given
// directories (recursively), then 2000 deterministic mutations of each (bit
// flips, truncations, byte sets, splices). Lets ctest exercise the fuzz
// target with any compiler.
//
//   wire_fuzz_replay DIR_OR_FILE...
//
// With WEFT_FUZZ_REPLAY_LAST=PATH set, each input is written to PATH before it
// runs, so after a crash PATH holds the input that caused it (feed it to the
// libFuzzer binary or to this one).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutationsPerFile = 2000;

// splitmix64: the same sequence on every machine and every run.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
};

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

const char* g_last_path = nullptr;

void run(const std::vector<uint8_t>& v) {
  if (g_last_path != nullptr) {
    std::ofstream f(g_last_path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size()));
  }
  LLVMFuzzerTestOneInput(v.data(), v.size());
}

void mutate(std::vector<uint8_t>& v, Rng& rng, const std::vector<std::vector<uint8_t>>& corpus) {
  const int steps = 1 + static_cast<int>(rng.below(3));
  for (int s = 0; s < steps; ++s) {
    switch (rng.below(6)) {
      case 0:  // flip one bit
        if (!v.empty()) v[rng.below(v.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
        break;
      case 1:  // truncate
        v.resize(rng.below(v.size() + 1));
        break;
      case 2: {  // set a byte to an interesting value
        static constexpr uint8_t kValues[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 0x20, 0x21, 0x7F, 0x80, 0xFE, 0xFF};
        if (!v.empty()) v[rng.below(v.size())] = kValues[rng.below(std::size(kValues))];
        break;
      }
      case 3:  // set a byte to anything
        if (!v.empty()) v[rng.below(v.size())] = static_cast<uint8_t>(rng.next());
        break;
      case 4: {  // append random bytes
        const size_t n = 1 + rng.below(16);
        for (size_t i = 0; i < n; ++i) v.push_back(static_cast<uint8_t>(rng.next()));
        break;
      }
      case 5: {  // splice: this head, another seed's tail
        const auto& other = corpus[rng.below(corpus.size())];
        const size_t cut = rng.below(std::min(v.size(), other.size()) + 1);
        v.resize(cut);
        v.insert(v.end(), other.begin() + static_cast<ptrdiff_t>(cut), other.end());
        break;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path root(argv[i]);
    std::error_code ec;
    if (fs::is_regular_file(root, ec)) {
      files.push_back(root);
    } else if (fs::is_directory(root, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(root, ec))
        if (e.is_regular_file()) files.push_back(e.path());
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());  // directory order differs between systems
  if (files.empty()) {
    std::fprintf(stderr, "no corpus files found: nothing would be tested\n");
    return 2;
  }

  g_last_path = std::getenv("WEFT_FUZZ_REPLAY_LAST");
  std::vector<std::vector<uint8_t>> corpus;
  for (const auto& f : files) corpus.push_back(read_file(f));

  size_t ran = 0;
  for (const auto& v : corpus) {
    run(v);
    ++ran;
  }
  Rng rng{0x5EEDF00Dull};
  for (const auto& seed : corpus) {
    for (int m = 0; m < kMutationsPerFile; ++m) {
      std::vector<uint8_t> v = seed;
      mutate(v, rng, corpus);
      run(v);
      ++ran;
    }
  }
  std::printf("wire_fuzz_replay: %zu corpus files, %zu inputs ran, no failures\n", files.size(), ran);
  return 0;
}
