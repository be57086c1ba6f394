// Tests of the char_lm problem: vocabularies and splits of both data sets as
// ../shared/data/README.md states them, encode/decode, the batch sampler against a re-derivation,
// the data-directory search and its errors.

#include "problems/char_lm/char_lm.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "core/spec.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Problem> make(const std::string& spec) {
  return instantiate<Problem>(parse_spec(spec), "problem");
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Names of a ".a.b." stream.
std::vector<std::string> names_of(const std::string& stream) {
  EXPECT_EQ(stream.front(), '.');
  EXPECT_EQ(stream.back(), '.');
  std::vector<std::string> out;
  std::string current;
  for (std::size_t i = 1; i < stream.size(); ++i) {
    if (stream[i] == '.') {
      EXPECT_FALSE(current.empty()) << "empty name at " << i;
      out.push_back(current);
      current.clear();
    } else {
      current += stream[i];
    }
  }
  return out;
}

// A fresh empty directory under the system temp dir.
fs::path temp_dir(const std::string& tag) {
  fs::path dir =
      fs::temp_directory_path() / ("cube_char_lm_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(CharLmTest, ShakespeareVocabularyAndSplitsAreNanoGptS) {
  auto problem = make("char_lm");
  problem->generate(1);
  const CharCorpus* c = problem->char_corpus();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dataset, "shakespeare");
  EXPECT_EQ(c->vocab_size(), 65);
  EXPECT_EQ(c->vocab, "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(c->train.size(), 1003854u);
  EXPECT_EQ(c->val.size(), 111540u);
  EXPECT_EQ(c->separator, -1);
  // The two splits decode back to the file, in order.
  const std::string text = slurp(locate_data_file("tinyshakespeare.txt", "auto"));
  EXPECT_EQ(c->decode(c->train) + c->decode(c->val), text);
  // nanoGPT's CPU configuration is the default protocol.
  EXPECT_EQ(c->block_size, 64);
  EXPECT_EQ(c->batch_size, 12);
  EXPECT_EQ(c->eval_interval, 250);
  EXPECT_EQ(c->eval_iters, 20);
  EXPECT_EQ(problem->binary_dataset(), nullptr);
  EXPECT_FALSE(problem->scores_predictions());
}

TEST(CharLmTest, NamesSplitIsMakemoreSOnCubeSShuffle) {
  auto problem = make("char_lm(dataset=names,block_size=16,batch_size=32)");
  problem->generate(5);
  const CharCorpus* c = problem->char_corpus();
  EXPECT_EQ(c->vocab, ".abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(c->vocab_size(), 27);
  EXPECT_EQ(c->separator, 0);
  EXPECT_EQ(c->block_size, 16);
  EXPECT_EQ(c->batch_size, 32);

  const std::vector<std::string> file_names =
      split_lines(slurp(locate_data_file("names.txt", "auto")));
  ASSERT_EQ(file_names.size(), 32033u);
  const std::vector<std::string> train = names_of(c->decode(c->train));
  const std::vector<std::string> val = names_of(c->decode(c->val));
  EXPECT_EQ(val.size(), 1000u);  // min(1000, 10 %)
  EXPECT_EQ(train.size(), 32033u - 1000u);

  // Re-derive the split: Fisher-Yates with Rng(3407) written out, the last 1000 are val.
  std::vector<std::string> shuffled = file_names;
  Rng rng(3407);
  for (std::size_t n = shuffled.size(); n > 1; --n)
    std::swap(shuffled[n - 1], shuffled[rng.below(n)]);
  EXPECT_EQ(val, std::vector<std::string>(shuffled.end() - 1000, shuffled.end()));
  EXPECT_EQ(train, std::vector<std::string>(shuffled.begin(), shuffled.end() - 1000));

  // The longest name (15 chars) plus its separator fits makemore's block size 16.
  std::size_t longest = 0;
  for (const auto& name : file_names) longest = std::max(longest, name.size());
  EXPECT_EQ(longest, 15u);
}

TEST(CharLmTest, TheSplitDoesNotDependOnTheRunSeedAndIsReadOncePerObject) {
  auto a = make("char_lm(dataset=names)");
  auto b = make("char_lm(dataset=names)");
  a->generate(1);
  b->generate(2);
  EXPECT_EQ(a->char_corpus()->train, b->char_corpus()->train);
  EXPECT_EQ(a->char_corpus()->val, b->char_corpus()->val);
  const std::uint8_t* before = a->char_corpus()->train.data();
  a->generate(3);
  EXPECT_EQ(a->char_corpus()->train.data(), before);  // the cached corpus, not a re-read
}

TEST(CharLmTest, EncodeDecodeRoundTripAndUnknownChars) {
  CharCorpus c = build_char_corpus("shakespeare", "hello world, hello");
  EXPECT_EQ(c.vocab, " ,dehlorw");
  EXPECT_EQ(c.train.size(), 16u);  // floor(18 * 0.9)
  EXPECT_EQ(c.val.size(), 2u);
  const std::string text = "world hello";
  std::vector<std::uint8_t> ids = c.encode(text);
  EXPECT_EQ(ids, (std::vector<std::uint8_t>{8, 6, 7, 5, 2, 0, 4, 3, 5, 5, 6}));
  EXPECT_EQ(c.decode(ids), text);
  EXPECT_THROW(c.encode("hello!"), ConfigError);
  const std::uint8_t bad[] = {9};
  EXPECT_THROW(c.decode(bad), Error);
}

TEST(CharLmTest, NamesTextIsStrippedAndRejectsTheSeparator) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += " n" + std::string(1, static_cast<char>('a' + i)) + " \n\n";
  CharCorpus c = build_char_corpus("names", text);
  EXPECT_EQ(names_of(c.decode(c.val)).size(), 2u);  // min(1000, 20 / 10)
  EXPECT_EQ(names_of(c.decode(c.train)).size(), 18u);
  EXPECT_EQ(c.vocab.front(), '.');
  EXPECT_EQ(c.separator, 0);
  EXPECT_THROW(build_char_corpus("names", "ann\nmr.x\n"), ConfigError);
  EXPECT_THROW(build_char_corpus("names", "a\nb\n"), ConfigError);  // an empty val split
}

TEST(CharLmTest, SamplerIsNanoGptGetBatch) {
  CharCorpus c = build_char_corpus("shakespeare", "the quick brown fox jumps over the lazy dog");
  const std::int64_t batch = 5, block = 7;
  std::vector<std::uint8_t> x(batch * block), y(batch * block);
  Rng rng(42);
  c.sample_batch(Split::kTrain, rng, batch, block, x.data(), y.data());

  Rng ref(42);
  const auto n = static_cast<std::int64_t>(c.train.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto i = static_cast<std::int64_t>(ref.below(static_cast<std::uint64_t>(n - block)));
    for (std::int64_t t = 0; t < block; ++t) {
      EXPECT_EQ(x[b * block + t], c.train[i + t]);
      EXPECT_EQ(y[b * block + t], c.train[i + t + 1]);
      if (t + 1 < block) {
        EXPECT_EQ(y[b * block + t], x[b * block + t + 1]);  // the shift
      }
    }
  }
  EXPECT_EQ(rng.next(), ref.next());  // exactly `batch` draws consumed

  // Same seed, same batch; the val split reads the val stream.
  std::vector<std::uint8_t> x2(batch * block), y2(batch * block);
  Rng again(42);
  c.sample_batch(Split::kTrain, again, batch, block, x2.data(), y2.data());
  EXPECT_EQ(x, x2);
  EXPECT_EQ(y, y2);
  const auto nv = static_cast<std::int64_t>(c.val.size());
  Rng val_rng(3);
  std::vector<std::uint8_t> xv(2 * (nv - 1)), yv(2 * (nv - 1));
  c.sample_batch(Split::kVal, val_rng, 2, nv - 1, xv.data(), yv.data());  // only offset 0 fits
  EXPECT_TRUE(std::equal(c.val.begin(), c.val.end() - 1, xv.begin()));
  EXPECT_TRUE(std::equal(c.val.begin() + 1, c.val.end(), yv.begin()));
  EXPECT_THROW(c.sample_batch(Split::kVal, val_rng, 1, nv, xv.data(), yv.data()), Error);
}

TEST(CharLmTest, SamplerCoversEveryOffset) {
  CharCorpus c = build_char_corpus("shakespeare", "abcdefghijklmnopqrstuvwxyz0123456789");
  const std::int64_t block = 4, n = static_cast<std::int64_t>(c.train.size());
  std::map<std::uint8_t, int> first_ids;
  Rng rng(9);
  std::vector<std::uint8_t> x(block), y(block);
  for (int i = 0; i < 2000; ++i) {
    c.sample_batch(Split::kTrain, rng, 1, block, x.data(), y.data());
    ++first_ids[x[0]];
  }
  // Every char is distinct, so the first ids name the offsets: exactly [0, n - block).
  std::map<std::uint8_t, int> expected;
  for (std::int64_t i = 0; i < n - block; ++i) expected[c.train[i]] = 0;
  ASSERT_EQ(first_ids.size(), expected.size());
  for (auto it = first_ids.begin(), e = expected.begin(); it != first_ids.end(); ++it, ++e)
    EXPECT_EQ(it->first, e->first);
}

TEST(CharLmTest, MissingDataDirIsAClearConfigError) {
  auto problem = make("char_lm(data_dir=/nonexistent/cube_data)");
  try {
    problem->generate(1);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("/nonexistent/cube_data/tinyshakespeare.txt"), std::string::npos) << what;
    EXPECT_NE(what.find("tried"), std::string::npos) << what;
    EXPECT_NE(what.find("problem.data_dir"), std::string::npos) << what;
  }
}

TEST(CharLmTest, EnvironmentVariableIsUsedAndReportedWhenWrong) {
  const fs::path empty = temp_dir("env");
  const char* old = std::getenv("CUBE_DATA_DIR");
  const std::string saved = old ? old : "";
  ::setenv("CUBE_DATA_DIR", empty.c_str(), 1);
  try {
    locate_data_file("names.txt", "auto");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("CUBE_DATA_DIR=" + empty.string()), std::string::npos) << what;
    EXPECT_NE(what.find((empty / "names.txt").string()), std::string::npos) << what;
  }
  std::ofstream(empty / "names.txt") << "ann\nbob\n";
  EXPECT_EQ(locate_data_file("names.txt", "auto"), empty / "names.txt");
  if (old)
    ::setenv("CUBE_DATA_DIR", saved.c_str(), 1);
  else
    ::unsetenv("CUBE_DATA_DIR");
  fs::remove_all(empty);
}

TEST(CharLmTest, AutoSearchWalksUpwardFromEachStart) {
  const fs::path root = temp_dir("walk");
  const fs::path other = temp_dir("walk_other");  // no shared/data above it
  fs::create_directories(root / "repo" / "build" / "tests");
  fs::create_directories(root / "shared" / "data");
  std::ofstream(root / "shared" / "data" / "names.txt") << "ann\n";

  DataSearch hit =
      find_data_file("names.txt", "auto", nullptr, {other, root / "repo" / "build" / "tests"});
  ASSERT_TRUE(hit.found.has_value());
  EXPECT_EQ(*hit.found, root / "shared" / "data" / "names.txt");
  // The first start is walked up to the file system root before the second is tried.
  EXPECT_EQ(hit.tried.front(), other / "shared" / "data" / "names.txt");
  EXPECT_NE(std::find(hit.tried.begin(), hit.tried.end(), fs::path("/shared/data/names.txt")),
            hit.tried.end());
  const std::vector<fs::path> second(hit.tried.end() - 4, hit.tried.end());
  EXPECT_EQ(second, (std::vector<fs::path>{
                        root / "repo" / "build" / "tests" / "shared" / "data" / "names.txt",
                        root / "repo" / "build" / "shared" / "data" / "names.txt",
                        root / "repo" / "shared" / "data" / "names.txt", *hit.found}));

  DataSearch miss = find_data_file("names.txt", "auto", nullptr, {other});
  EXPECT_FALSE(miss.found.has_value());
  EXPECT_EQ(miss.tried.front(), other / "shared" / "data" / "names.txt");
  EXPECT_EQ(miss.tried.back(), fs::path("/shared/data/names.txt"));

  // An explicit directory, or the environment variable, is the only place looked at.
  DataSearch explicit_dir = find_data_file("names.txt", other.string(), nullptr, {root / "repo"});
  EXPECT_FALSE(explicit_dir.found.has_value());
  EXPECT_EQ(explicit_dir.tried, std::vector<fs::path>{other / "names.txt"});
  DataSearch env = find_data_file("names.txt", "auto", (root / "shared" / "data").c_str(), {other});
  ASSERT_TRUE(env.found.has_value());
  EXPECT_EQ(env.tried.size(), 1u);
  fs::remove_all(root);
  fs::remove_all(other);
}

// makemore's CharDataset.__getitem__: x = [0, c1..cn, 0...], y = [c1..cn, 0, -1...].
TEST(CharLmTest, LineExamplesAreMakemoreSPaddedNames) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += std::string(1 + i % 4, static_cast<char>('a' + i)) + "\n";
  const CharCorpus c = build_char_corpus("names", text);
  ASSERT_EQ(c.num_lines(Split::kTrain), 18);
  ASSERT_EQ(c.num_lines(Split::kVal), 2);
  EXPECT_EQ(c.longest_line(), 4);
  const auto sep = static_cast<std::uint8_t>(c.separator);
  const std::string val = c.decode(c.val);
  const std::vector<std::string> val_names = names_of(val);
  for (int k = 0; k < 2; ++k) {
    std::vector<std::uint8_t> x(6), y(6);
    c.line_example(Split::kVal, k, 6, x.data(), y.data());
    const std::string& name = val_names[k];
    const std::size_t n = name.size();
    EXPECT_EQ(x[0], sep);
    EXPECT_EQ(c.decode(std::span(x).subspan(1, n)), name);
    EXPECT_EQ(c.decode(std::span(y).first(n)), name);
    EXPECT_EQ(y[n], sep);
    for (std::size_t t = n + 1; t < 6; ++t) {
      EXPECT_EQ(x[t], sep);
      EXPECT_EQ(y[t], CharCorpus::kNoTarget);
    }
  }
  std::vector<std::uint8_t> x(4), y(4);
  EXPECT_THROW(c.line_example(Split::kVal, 2, 6, x.data(), y.data()), Error);

  // sample_lines draws line rng.below(18) for each row, in order.
  std::vector<std::uint8_t> xs(3 * 6), ys(3 * 6), xe(6), ye(6);
  Rng rng(7), replay(7);
  c.sample_lines(Split::kTrain, rng, 3, 6, xs.data(), ys.data());
  for (int r = 0; r < 3; ++r) {
    c.line_example(Split::kTrain, static_cast<std::int64_t>(replay.below(18)), 6, xe.data(),
                   ye.data());
    EXPECT_TRUE(std::equal(xe.begin(), xe.end(), xs.begin() + r * 6)) << r;
    EXPECT_TRUE(std::equal(ye.begin(), ye.end(), ys.begin() + r * 6)) << r;
  }
}

// Token ids are uint8 and 255 marks an unscored target, so a text may have at most 254 chars.
TEST(CharLmTest, AVocabularyThatCollidesWithTheUnscoredMarkerIsRefused) {
  std::string text;
  for (int c = 1; c < 255; ++c) text += static_cast<char>(c);  // 254 distinct chars
  EXPECT_EQ(build_char_corpus("shakespeare", text + text).vocab.size(), 254u);
  text += static_cast<char>(255);
  try {
    build_char_corpus("shakespeare", text + text);
    ADD_FAILURE() << "255 distinct chars accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("255 distinct chars"), std::string::npos) << e.what();
  }
}

TEST(CharLmTest, LineExamplesNeedNamesAndABlockThatHoldsTheLongestName) {
  auto on_names = make("char_lm(dataset=names,examples=line,block_size=16)");
  on_names->generate(1);
  EXPECT_TRUE(on_names->char_corpus()->line_examples);
  EXPECT_EQ(on_names->char_corpus()->longest_line(), 15);
  EXPECT_EQ(on_names->char_corpus()->num_lines(Split::kVal), 1000);
  try {
    make("char_lm(dataset=names,examples=line,block_size=15)")->generate(1);
    ADD_FAILURE() << "block 15 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("block_size >= 16"), std::string::npos) << e.what();
  }
  try {
    make("char_lm(dataset=shakespeare,examples=line)");  // refused before any data is read
    ADD_FAILURE() << "line examples accepted on shakespeare";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("problem.examples"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make("char_lm(examples=name)"), ConfigError);
}

TEST(CharLmTest, BlockSizeMustFitTheValSplit) {
  auto problem = make("char_lm(dataset=names,block_size=100000)");
  EXPECT_THROW(problem->generate(1), ConfigError);
  EXPECT_THROW(make("char_lm(dataset=tiny)"), ConfigError);
}

}  // namespace
}  // namespace cube
