#include "io.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "error.hpp"
#include "failpoint.hpp"

namespace effscale {

namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string reason() { return std::strerror(errno); }

// Closes fd on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 2) ::close(fd);
  }
};

}  // namespace

std::string read_text_file(const std::string& path, const std::string& what, std::int64_t max_bytes, double idle_seconds) {
  if (path.empty()) throw Error(fmt::format("{} path is empty", what));
  Fd file;
  if (path == "-") {
    file.fd = STDIN_FILENO;
  } else {
    // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
    file.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (file.fd < 0) throw Error(fmt::format("cannot read {} '{}': {}", what, path, reason()));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw Error(fmt::format("cannot read {} '{}': {}", what, path, reason()));
  if (S_ISDIR(st.st_mode)) throw Error(fmt::format("{} '{}' is a directory, not a file", what, path));
  const bool regular = S_ISREG(st.st_mode);
  std::string content;
  char buffer[65536];
  while (true) {
    if (!regular) {
      pollfd p{file.fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(idle_seconds * 1000));
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0)
        throw Error(fmt::format("{} '{}' gave no data for {} s (a FIFO or pipe whose writer is silent?)", what, path,
                                idle_seconds));
    }
    const ssize_t n = ::read(file.fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw Error(fmt::format("cannot read {} '{}': {}", what, path, reason()));
    }
    if (n == 0) break;  // end of file (a FIFO with no writer reads as empty)
    if (static_cast<std::int64_t>(content.size()) + n > max_bytes)
      throw Error(fmt::format("{} '{}' is larger than {} bytes", what, path, max_bytes));
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

OutputFile::OutputFile(std::string path, std::string what) : path_(std::move(path)), what_(std::move(what)) {
  if (path_.empty()) throw Error(fmt::format("{} path is empty", what_));
  if (path_.find('\0') != std::string::npos) throw Error(fmt::format("{} path contains a NUL byte", what_));
  // Follow symlinks to the file they name (at most 40, as the kernel does).
  std::string p = path_;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno != ENOENT) throw runtime_failure(fmt::format("cannot write '{}': {}", path_, reason()));
      break;  // a new file
    }
    if (S_ISLNK(st.st_mode)) {
      if (hops >= 40) throw Error(fmt::format("{} '{}': too many levels of symbolic links", what_, path_));
      char link[PATH_MAX];
      const ssize_t n = ::readlink(p.c_str(), link, sizeof link - 1);
      if (n < 0) throw runtime_failure(fmt::format("cannot write '{}': {}", path_, reason()));
      const std::string to(link, static_cast<size_t>(n));
      p = to.rfind('/', 0) == 0 ? to : parent_of(p) + "/" + to;
      continue;
    }
    if (S_ISDIR(st.st_mode)) throw Error(fmt::format("{} '{}' is a directory, not a file", what_, path_));
    if (S_ISSOCK(st.st_mode))
      throw Error(fmt::format("{} '{}' is a socket; effscale writes files, character devices and FIFOs", what_, path_));
    if (S_ISBLK(st.st_mode))
      throw Error(fmt::format("{} '{}' is a block device; refusing to write a {} over it", what_, path_, what_));
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
      stream_ = true;
      break;
    }
    // A regular file: replacing it must be possible.
    Fd f;
    f.fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int flags = 0;
    if (f.fd >= 0 && ::ioctl(f.fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
      throw runtime_failure(fmt::format("cannot write '{}': the file is {} (chattr +{}), it cannot be replaced", path_,
                                        (flags & FS_IMMUTABLE_FL) ? "immutable" : "append-only",
                                        (flags & FS_IMMUTABLE_FL) ? "i" : "a"));
    mode_ = st.st_mode & 07777;
    break;
  }
  target_ = p;
  if (stream_) {
    // Opened now: a FIFO without a reader is refused before the work instead of blocking after it;
    // kept open, so that the reader does not see an end of file before the report comes.
    stream_fd_ = ::open(target_.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (stream_fd_ < 0)
      throw runtime_failure(fmt::format("cannot write '{}': {}{}", path_, reason(),
                                        errno == ENXIO ? " (a FIFO with no reader)" : ""));
    ::fcntl(stream_fd_, F_SETFL, ::fcntl(stream_fd_, F_GETFL) & ~O_NONBLOCK);
    return;
  }
  struct stat dir {};
  const std::string folder = parent_of(target_);
  if (::stat(folder.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode))
    throw runtime_failure(fmt::format("cannot write '{}': directory '{}' does not exist", path_, folder));
  if (mode_ == 0644) {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode_ = 0666 & ~mask;
  }
  temp_fd_ = make_temp();
}

int OutputFile::make_temp() {
  // mkostemp: a random name, O_CREAT | O_EXCL (which never follows a symlink planted at the name).
  std::string name = parent_of(target_) + "/." + base_of(target_) + ".effscale-XXXXXX";
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) throw runtime_failure(fmt::format("cannot write '{}': {}", path_, reason()));
  temp_ = name;
  return fd;
}

OutputFile::OutputFile(OutputFile&& o) noexcept
    : path_(std::move(o.path_)), what_(std::move(o.what_)), target_(std::move(o.target_)), temp_(std::move(o.temp_)),
      pending_(std::move(o.pending_)), staged_(o.staged_), temp_fd_(o.temp_fd_), stream_fd_(o.stream_fd_),
      stream_(o.stream_), mode_(o.mode_) {
  o.temp_fd_ = -1;
  o.stream_fd_ = -1;
  o.temp_.clear();
}

OutputFile::~OutputFile() {
  if (temp_fd_ >= 0) ::close(temp_fd_);
  if (stream_fd_ >= 0) ::close(stream_fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

namespace {

// Writes all of `content` to fd; false with errno set on failure. The write-enospc failpoint fails
// half-way as a full disk would.
bool write_all(int fd, const std::string& content) {
  size_t written = 0;
  const bool disk_full = failpoint("write-enospc");
  while (written < content.size()) {
    if (disk_full && written >= content.size() / 2) {
      errno = ENOSPC;
      return false;
    }
    const size_t chunk = disk_full ? std::max<size_t>(1, content.size() / 2) : content.size() - written;
    const ssize_t n = ::write(fd, content.data() + written, std::min(chunk, content.size() - written));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    written += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void OutputFile::write(const std::string& content, bool final) {
  if (stream_ && !final) return;
  stage(content);
  commit();
}

void OutputFile::stage(const std::string& content) {
  if (stream_) {
    pending_ = content;
    staged_ = true;
    return;
  }
  const int fd = temp_fd_ >= 0 ? temp_fd_ : make_temp();
  temp_fd_ = -1;
  auto fail = [&](const char* step) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp_.c_str());
    temp_.clear();
    return runtime_failure(fmt::format("cannot write '{}' ({}): {}", path_, step, std::strerror(saved)));
  };
  if (!write_all(fd, content)) throw fail("write");
  if (::fchmod(fd, static_cast<mode_t>(mode_)) != 0) throw fail("chmod");
  if (::fsync(fd) != 0) throw fail("fsync");
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temp_.c_str());
    temp_.clear();
    throw runtime_failure(fmt::format("cannot write '{}' (close): {}", path_, std::strerror(saved)));
  }
  staged_ = true;
}

void OutputFile::commit() {
  if (!staged_) return;
  staged_ = false;
  if (stream_) {
    Fd f;
    f.fd = ::open(target_.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (f.fd < 0 || !write_all(f.fd, pending_))
      throw runtime_failure(fmt::format("cannot write '{}': {}", path_, reason()));
    pending_.clear();
    return;
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp_.c_str());
    temp_.clear();
    throw runtime_failure(fmt::format("cannot write '{}' (rename): {}", path_, std::strerror(saved)));
  }
  temp_.clear();
}

void write_file_atomic(const std::string& path, const std::string& content) { OutputFile(path, "output").write(content); }

namespace {

// What a path names, to compare paths: the device and inode when it exists, else its resolved form.
struct Identity {
  bool standard = false;
  dev_t device = 0;
  ino_t inode = 0;
  std::string resolved;
  bool operator==(const Identity& o) const {
    if (standard || o.standard) return standard && o.standard;
    if (!resolved.empty() || !o.resolved.empty()) return resolved == o.resolved;
    return device == o.device && inode == o.inode;
  }
};

Identity identity(const std::string& path) {
  Identity id;
  if (path == "-") {
    id.standard = true;
    return id;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    id.device = st.st_dev;
    id.inode = st.st_ino;
    return id;
  }
  char buffer[PATH_MAX];
  const std::string folder = parent_of(path);
  id.resolved = (::realpath(folder.c_str(), buffer) ? std::string(buffer) : folder) + "/" + base_of(path);
  return id;
}

}  // namespace

void check_distinct_paths(const std::vector<std::pair<std::string, std::string>>& outputs,
                          const std::vector<std::pair<std::string, std::string>>& inputs) {
  std::vector<Identity> ids;
  for (const auto& [what, path] : outputs) ids.push_back(identity(path));
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      if (ids[i] == ids[j])
        throw Error(fmt::format("the {} '{}' and the {} '{}' are the same {}: give each output its own path",
                                outputs[i].first, outputs[i].second, outputs[j].first, outputs[j].second,
                                ids[i].standard ? "standard output" : "file"));
    }
    for (const auto& [what, path] : inputs) {
      if (path == "-") continue;  // standard input is not standard output
      if (ids[i] == identity(path))
        throw Error(fmt::format("the {} '{}' is also the {} '{}': writing it would destroy the input; give another "
                                "output path",
                                outputs[i].first, outputs[i].second, what, path));
    }
  }
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
    throw runtime_failure(fmt::format("cannot create directory '{}': {}", path, reason()));
}

std::int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::int64_t>(pages) * page_size;
}

}  // namespace effscale
