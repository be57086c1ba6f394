// Tests of core/file_read.h: FileContents gives a file's bytes, empty files and files larger than
// one read included, ReadableFile reads them in pieces to the end, and both name a file they
// cannot read.

#include "core/file_read.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/rng.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

fs::path write_bytes(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::path(::testing::TempDir()) / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(FileRead, ContentsAndPiecesAreTheFilesBytes) {
  Rng rng(5);
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095},
                                 std::size_t{4096}, std::size_t{300001}}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng.below(256));
    const fs::path path = write_bytes("readers_" + std::to_string(size) + ".bin", bytes);
    EXPECT_EQ(FileContents(path).text(), bytes) << size;
    ReadableFile file(path);
    EXPECT_EQ(file.size(), size);
    std::string pieces;
    char piece[977];
    for (std::size_t got; (got = file.read_some(piece, sizeof(piece))) > 0;)
      pieces.append(piece, got);
    EXPECT_EQ(pieces, bytes) << size;
  }
}

TEST(FileRead, UnreadableFilesAreConfigErrorsNamingThem) {
  const fs::path missing = fs::path(::testing::TempDir()) / "no_such_program.ir";
  for (const fs::path& path : {missing, fs::path(::testing::TempDir())}) {
    try {
      FileContents contents(path);
      FAIL() << path;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    EXPECT_THROW(ReadableFile file(path), ConfigError);
  }
}

}  // namespace
}  // namespace cube
