// Running programs from tests: a command to completion with its output, or a
// background process (a server) that is killed when the test ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace voxpipe::testing {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;  // stdout and stderr, interleaved
};

struct CommandOptions {
  std::map<std::string, std::string> env;  // added to the environment
  std::string cwd;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

// Runs argv[0] (a path) with arguments; kills it after the timeout.
CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options = {});

// A process running in the background, output to a file; killed (SIGTERM,
// then SIGKILL) on destruction.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const CommandOptions& options = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Everything it printed so far.
  std::string output() const;
  // Waits until its output contains `text`; false on timeout or exit.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends `signal` and waits for the exit; returns the exit code (128 + signal when killed).
  int Stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running();

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  int exit_code_ = -1;
};

// The voxpipe runner from this build.
std::string VoxpipeBinary();
// Another executable of this build (build/bin/NAME).
std::string Binary(const std::string& name);

// The port in the first "<what> listening on ADDRESS:PORT" line of `output`, or 0.
int ListeningPort(const std::string& output, const std::string& what);

struct HttpResult {
  int status = 0;  // 0 when the request failed
  std::string body;
  std::string error;
};
// A request to a local server from the test thread (5 s at most).
HttpResult HttpGet(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers = {});
HttpResult HttpPost(const std::string& url, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace voxpipe::testing
