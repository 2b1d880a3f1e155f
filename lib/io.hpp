#pragma once
// Reading and writing files without surprises. effscale runs as root on users' machines, so:
// - an output never replaces or follows into anything it was not asked to write: a regular file is
//   written atomically through a temporary file with a random name created with O_EXCL|O_NOFOLLOW
//   beside it; a symlink is followed (the file it points to is written, the link stays); a
//   character device or FIFO is written directly, never replaced; a socket, a directory or a block
//   device is refused; an immutable or append-only file is refused before any work;
// - every input is read with a hard cap on the bytes actually read (st_size is 0 for devices and
//   pipes), and opening a FIFO never blocks.

#include <cstdint>
#include <string>
#include <vector>

namespace effscale {

/// Read limits, per kind of input.
inline constexpr std::int64_t kMaxBaselineFileBytes = std::int64_t{1} << 20;      ///< 1 MiB
inline constexpr std::int64_t kMaxAccuracyFileBytes = std::int64_t{64} << 20;     ///< 64 MiB
/// A report of the largest search effscale runs (kMaxCandidates rows of at most 512 bytes) fits.
inline constexpr std::int64_t kMaxReportBytes = std::int64_t{256} << 20;          ///< 256 MiB

/// The whole content of input `path`, read with a hard cap: more than `max_bytes` is an Error.
/// Regular files, FIFOs, pipes and character devices are read alike; "-" is standard input.
/// Opening never blocks; a FIFO or pipe that yields no byte for `idle_seconds` (no writer, or a
/// silent one) is an Error. Throws a usage Error naming `what` and the path.
std::string read_text_file(const std::string& path, const std::string& what, std::int64_t max_bytes,
                           double idle_seconds = 10);

/// An output of a run, prepared before the work: everything that can be known to fail fails here.
/// Then write() replaces its content; it may be called again (a checkpoint, then the final report).
class OutputFile {
 public:
  /// Prepares `path` for writing `what` ("report", "plot"): resolves symlinks; refuses
  /// directories, sockets, block devices, and immutable or append-only files; creates the
  /// temporary file now (random name, O_CREAT|O_EXCL|O_NOFOLLOW, in the target's folder), which
  /// proves the folder writable. Throws Error (usage for a bad path, runtime for the system's no).
  OutputFile(std::string path, std::string what);
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  ~OutputFile();  ///< removes a temporary file that was never renamed

  /// Replaces the content atomically (a regular file: write, fsync, rename) or writes it to the
  /// device or FIFO (only `final` writes go to those: a FIFO's reader wants one report). On failure
  /// the previous content stays and a runtime Error names the path and the system's reason.
  void write(const std::string& content, bool final = true);

  /// The first half of write(): the content is on disk in the temporary file (a stream keeps it in
  /// memory). commit() then puts it in place. Several outputs are staged first and committed after,
  /// so that a failing one leaves the others as they were.
  void stage(const std::string& content);
  void commit();

  /// True when the target is a device or FIFO, written directly.
  bool is_stream() const { return stream_; }
  /// The path as given.
  const std::string& path() const { return path_; }
  /// The file actually written (symlinks resolved).
  const std::string& target() const { return target_; }

 private:
  int make_temp();
  std::string path_, what_, target_, temp_;
  std::string pending_;    ///< a stream's staged content
  bool staged_ = false;
  int temp_fd_ = -1;
  int stream_fd_ = -1;  ///< a device or FIFO, opened when prepared (a FIFO's reader must not see it close early)
  bool stream_ = false;
  unsigned mode_ = 0644;
};

/// Writes `content` to `path` once (OutputFile(path, "output").write(content)).
void write_file_atomic(const std::string& path, const std::string& content);

/// Refuses a run whose outputs are not distinct from each other and from its inputs: two paths
/// naming the same file (the same device and inode when it exists, else the same resolved path)
/// or both standard output ("-"). Throws a usage Error naming both. Call before any work.
void check_distinct_paths(const std::vector<std::pair<std::string, std::string>>& outputs,
                          const std::vector<std::pair<std::string, std::string>>& inputs);

/// Creates `path` and its parents if missing (mkdir -p); throws a runtime Error on failure.
void ensure_directory(const std::string& path);

/// Physical memory of this machine in bytes (0 if unknown).
std::int64_t physical_memory_bytes();

}  // namespace effscale
