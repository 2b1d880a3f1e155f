#pragma once
// Files that are either complete or absent: reports are written to a temporary file in the same
// directory and renamed over the target only when every byte is on disk.

#include <cstdint>
#include <string>

namespace effscale {

/// Writes `content` to `path` atomically (temporary file, fsync, rename). On any failure the
/// previous file at `path`, if any, is untouched, the temporary file is removed, and a runtime
/// Error names the path and the system's reason.
void write_file_atomic(const std::string& path, const std::string& content);

/// Checks before long work that `path` can become a file: not a directory, and its directory
/// exists and is writable. Throws Error (usage) or a runtime Error naming the path.
void check_output_path(const std::string& path);

/// The whole content of a text file; throws a usage Error (missing, directory, unreadable,
/// larger than `max_bytes`).
std::string read_text_file(const std::string& path, const std::string& what,
                           std::int64_t max_bytes = 64ll << 20);

/// Creates `path` and its parents if missing (mkdir -p); throws a runtime Error on failure.
void ensure_directory(const std::string& path);

/// Physical memory of this machine in bytes (0 if unknown).
std::int64_t physical_memory_bytes();

}  // namespace effscale
