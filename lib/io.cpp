#include "io.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "error.hpp"
#include "failpoint.hpp"

namespace effscale {

void write_file_atomic(const std::string& path, const std::string& content) {
  if (path.empty()) throw Error("output path is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(fmt::format("output '{}' is a directory, not a file", path));
  const std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw runtime_failure(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  auto fail = [&](const char* step) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return runtime_failure(fmt::format("cannot write '{}' ({}): {}", path, step, std::strerror(saved)));
  };
  size_t written = 0;
  const bool disk_full = failpoint("write-enospc");
  while (written < content.size()) {
    if (disk_full && written >= content.size() / 2) {
      errno = ENOSPC;
      throw fail("write");
    }
    const size_t chunk = disk_full ? std::max<size_t>(1, content.size() / 2) : content.size() - written;
    ssize_t n = ::write(fd, content.data() + written, std::min(chunk, content.size() - written));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail("write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw fail("fsync");
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    throw runtime_failure(fmt::format("cannot write '{}' (close): {}", path, std::strerror(saved)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    throw runtime_failure(fmt::format("cannot write '{}' (rename): {}", path, std::strerror(saved)));
  }
}

void check_output_path(const std::string& path) {
  if (path.empty()) throw Error("output path is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(fmt::format("output '{}' is a directory, not a file", path));
  const auto slash = path.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw runtime_failure(fmt::format("cannot write '{}': directory '{}' does not exist", path, parent));
  if (::access(parent.c_str(), W_OK) != 0)
    throw runtime_failure(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
}

std::string read_text_file(const std::string& path, const std::string& what, std::int64_t max_bytes) {
  if (path.empty()) throw Error(fmt::format("{} path is empty", what));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw Error(fmt::format("{} '{}' is a directory, not a file", what, path));
  if (st.st_size > max_bytes)
    throw Error(fmt::format("{} '{}' is larger than {} bytes", what, path, max_bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("cannot read {} '{}'", what, path));
  return buffer.str();
}

void ensure_directory(const std::string& path) {
  if (path.empty()) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw runtime_failure(fmt::format("'{}' exists and is not a directory", path));
    return;
  }
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) ensure_directory(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw runtime_failure(fmt::format("cannot create directory '{}': {}", path, std::strerror(errno)));
}

std::int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::int64_t>(pages) * page_size;
}

}  // namespace effscale
