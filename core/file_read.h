// cube/core/file_read.h: files read with read(), errors naming the file.
//
// Why read() and not mmap: on the virtual machine cube's figures come from, faulting in a mapped
// file costs ~2 µs per 4 KiB page of page cache (0.9 ms for a 1.9 MB ByteDMD program, 75-200 ms
// for a 160 MB trace), where read() copies it out at several GB/s into memory that is reused.
// What: ReadableFile, an open regular file (closed on destruction) with its size and read_some();
// FileContents, a whole file read into an uninitialised heap buffer, for a file that is parsed
// once into structures a few times its size (on a huge-page heap, core/huge_pages.h, its pages
// cost a share of one zeroing per 2 MiB and are reused once it is freed).
// Errors: ConfigError at the file's path ("cannot read: <reason>").
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace cube {

class ReadableFile {
 public:
  // Throws ConfigError when `path` cannot be opened or is not a regular file.
  explicit ReadableFile(const std::filesystem::path& path);
  ~ReadableFile();
  ReadableFile(const ReadableFile&) = delete;
  ReadableFile& operator=(const ReadableFile&) = delete;

  std::uint64_t size() const { return size_; }  // when opened
  const std::string& name() const { return name_; }
  // Up to n bytes into `data` (retried when a signal interrupts); 0 at the end of the file.
  std::size_t read_some(char* data, std::size_t n);

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string name_;
};

class FileContents {
 public:
  // Throws ConfigError when `path` cannot be read whole.
  explicit FileContents(const std::filesystem::path& path);
  std::string_view text() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

}  // namespace cube
