#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/targets.hpp"

// The fuzz targets of tests/fuzz (each parser of user input) over their corpus (seeds and every
// input that once found a bug) and over deterministic mutations of it. The coverage-guided runs
// are scripts/fuzz.sh; this keeps their findings fixed in the normal suite.

namespace {

// Every input of a target's corpus; `seeds` receives whether each is a seed (a valid input the
// target must accept) rather than a regression input (one that once found a bug).
std::vector<std::string> corpus(const std::string& target, std::vector<bool>* seeds = nullptr) {
  std::vector<std::string> inputs;
  const std::filesystem::path dir = std::filesystem::path(EFFSCALE_SOURCE_DIR) / "tests/fuzz/corpus" / target;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    inputs.push_back(s.str());
    if (seeds) seeds->push_back(f.filename().string().rfind("seed-", 0) == 0);
  }
  return inputs;
}

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
  std::string mutate(std::string s, const std::vector<std::string>& pool) {
    static const char kInteresting[] = "_:,.\n\r\"#-019eE ";
    const int edits = 1 + static_cast<int>(below(4));
    for (int e = 0; e < edits; ++e) {
      switch (below(6)) {
        case 0:  // flip a byte
          if (!s.empty()) s[below(s.size())] = static_cast<char>(next());
          break;
        case 1:  // insert an interesting character
          s.insert(s.begin() + static_cast<long>(below(s.size() + 1)), kInteresting[below(sizeof kInteresting - 1)]);
          break;
        case 2:  // delete a range
          if (!s.empty()) {
            const size_t at = below(s.size());
            s.erase(at, 1 + below(std::min<size_t>(8, s.size() - at)));
          }
          break;
        case 3: {  // splice in part of another input
          const std::string& other = pool[below(pool.size())];
          if (!other.empty()) {
            const size_t from = below(other.size());
            s.insert(below(s.size() + 1), other.substr(from, 1 + below(other.size() - from)));
          }
          break;
        }
        case 4:  // duplicate a range
          if (!s.empty()) {
            const size_t at = below(s.size());
            s.insert(at, s.substr(at, 1 + below(16)));
          }
          break;
        case 5:  // a digit run
          s.insert(below(s.size() + 1), std::string(1 + below(12), static_cast<char>('0' + below(10))));
          break;
      }
    }
    return s;
  }

 private:
  std::uint64_t state_;
};

}  // namespace

TEST_CASE("fuzz targets accept their corpus and deterministic mutations of it", "[fuzz]") {
  for (const auto& target : effscale::fuzz::targets()) {
    INFO(target.name);
    std::vector<bool> seeds;
    const auto inputs = corpus(target.name, &seeds);
    REQUIRE(!inputs.empty());
    for (size_t i = 0; i < inputs.size(); ++i) {
      INFO("corpus input " << i << ": " << inputs[i].substr(0, 200));
      bool accepted = false;
      CHECK_NOTHROW(accepted = target.run(reinterpret_cast<const std::uint8_t*>(inputs[i].data()), inputs[i].size()));
      if (seeds[i]) CHECK(accepted);  // a valid seed parses: a target that refused everything would fail here
    }
    Mutator m(0x5EEDull + std::hash<std::string>()(target.name));
    for (int i = 0; i < 3000; ++i) {
      const std::string input = m.mutate(inputs[m.below(inputs.size())], inputs);
      INFO("mutation " << i << ": " << input);
      REQUIRE_NOTHROW(target.run(reinterpret_cast<const std::uint8_t*>(input.data()), input.size()));
    }
  }
}
