#include "tests/common/command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "framework/client/http_client.h"

namespace voxpipe::testing {
namespace {

std::string TempLogPath() {
  static int counter = 0;
  return "/tmp/voxpipe_test_" + std::to_string(getpid()) + "_" + std::to_string(++counter) + ".log";
}

pid_t Spawn(const std::vector<std::string>& argv, const CommandOptions& options, const std::string& log_path) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: its own process group, so Stop() reaches everything it starts.
  setpgid(0, 0);
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fd, STDOUT_FILENO);
  dup2(fd, STDERR_FILENO);
  int null = open("/dev/null", O_RDONLY);
  dup2(null, STDIN_FILENO);
  if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(126);
  for (const auto& [k, v] : options.env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits up to `timeout`; -2 when still running.
int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return DecodeStatus(status);
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options) {
  std::string log = TempLogPath();
  pid_t pid = Spawn(argv, options, log);
  int code = WaitFor(pid, options.timeout);
  if (code == -2) {
    kill(-pid, SIGKILL);
    code = WaitFor(pid, std::chrono::seconds(5));
  }
  CommandResult result{code, ReadFile(log)};
  unlink(log.c_str());
  return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const CommandOptions& options)
    : log_path_(TempLogPath()) {
  pid_ = Spawn(argv, options, log_path_);
}

BackgroundProcess::~BackgroundProcess() {
  if (running()) Stop(SIGTERM, std::chrono::seconds(5));
  if (running()) Stop(SIGKILL, std::chrono::seconds(5));
  unlink(log_path_.c_str());
}

std::string BackgroundProcess::output() const { return ReadFile(log_path_); }

bool BackgroundProcess::running() {
  if (exit_code_ != -1 || pid_ <= 0) return false;
  int code = WaitFor(pid_, std::chrono::milliseconds(0));
  if (code == -2) return true;
  exit_code_ = code;
  return false;
}

bool BackgroundProcess::WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos) return true;
    if (!running()) return output().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int BackgroundProcess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (!running()) return exit_code_;
  kill(pid_, signal);
  int code = WaitFor(pid_, timeout);
  if (code == -2) {
    kill(-pid_, SIGKILL);
    code = WaitFor(pid_, std::chrono::seconds(5));
  }
  exit_code_ = code;
  return code;
}

std::string VoxpipeBinary() { return Binary("voxpipe"); }

std::string Binary(const std::string& name) { return std::string(VOXPIPE_BINARY_DIR) + "/bin/" + name; }

int ListeningPort(const std::string& output, const std::string& what) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(what + " listening on [0-9a-f.:\\[\\]]+:([0-9]+)"))) return 0;
  return std::stoi(match[1]);
}

namespace {

HttpResult Fetch(voxpipe::HttpRequest request) {
  boost::asio::io_context io;
  HttpResult out;
  request.timeout = std::chrono::seconds(5);
  voxpipe::HttpFetch(io.get_executor(), std::move(request), [&](voxpipe::Result<voxpipe::HttpResponse> r) {
    if (!r.ok()) {
      out.error = r.message();
      return;
    }
    out.status = r->status;
    out.body = r->body;
  });
  io.run();
  return out;
}

}  // namespace

HttpResult HttpGet(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers) {
  return Fetch({.method = "GET", .url = url, .headers = headers});
}

HttpResult HttpPost(const std::string& url, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
  auto all = headers;
  all.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  return Fetch({.method = "POST", .url = url, .headers = all, .body = body});
}

}  // namespace voxpipe::testing
