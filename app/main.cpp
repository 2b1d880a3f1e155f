#include <unistd.h>

#include <iostream>

#include "cli.hpp"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  effscale::Io io{std::cout, std::cerr, ::isatty(STDERR_FILENO) == 1};
  const int status = effscale::run_cli(std::vector<std::string>(argv + 1, argv + argc), io);
  std::cout.flush();
  return status;
}
