// cube/core/file_read.cc: ReadableFile and FileContents (see file_read.h).

#include "core/file_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace cube {

ReadableFile::ReadableFile(const std::filesystem::path& path) : name_(path.string()) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw ConfigError(SourceLocation{name_}, std::string("cannot read: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd_);
    throw ConfigError(SourceLocation{name_}, "cannot read: not a regular file");
  }
  size_ = static_cast<std::uint64_t>(info.st_size);
}

ReadableFile::~ReadableFile() { ::close(fd_); }

std::size_t ReadableFile::read_some(char* data, std::size_t n) {
  for (;;) {
    const ssize_t got = ::read(fd_, data, n);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR)
      throw ConfigError(SourceLocation{name_}, std::string("cannot read: ") + std::strerror(errno));
  }
}

FileContents::FileContents(const std::filesystem::path& path) {
  ReadableFile file(path);
  size_ = static_cast<std::size_t>(file.size());
  data_.reset(new char[size_]);
  for (std::size_t done = 0; done < size_;) {
    const std::size_t got = file.read_some(data_.get() + done, size_ - done);
    if (got == 0)
      throw ConfigError(SourceLocation{file.name()}, "cannot read: the file shrank while read");
    done += got;
  }
}

}  // namespace cube
