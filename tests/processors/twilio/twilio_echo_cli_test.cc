// The "done when" of the phone line, through the real binaries: `voxpipe run
// pipelines/twilio_echo.yaml` serves, `voxpipe call` places a call and checks
// that the caller heard their own voice back; SIGTERM drains and exits 0.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>
#include <string>

#include <gtest/gtest.h>

#include "processors/io/common/wav_file.h"

namespace voxpipe::twilio {
namespace {

const std::string kVoxpipe = VOXPIPE_BINARY_DIR "/bin/voxpipe";

// A child process whose stderr we read; killed when the test ends.
class Child {
 public:
  Child(std::vector<std::string> args, std::vector<std::string> env) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  // Reads stderr until `pattern` matches a line; returns the first group.
  std::string WaitFor(const std::regex& pattern, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string buffer;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char chunk[4096];
      ssize_t n = read(fd_, chunk, sizeof chunk);
      if (n <= 0) break;
      buffer.append(chunk, n);
      std::smatch m;
      if (std::regex_search(buffer, m, pattern)) return m[1];
    }
    output_ = buffer;
    return "";
  }

  // Sends `signal` and waits for the exit status (-1 on timeout).
  int Stop(int signal, std::chrono::seconds timeout) {
    kill(pid_, signal);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      char drain[4096];
      for (ssize_t n; (n = read(fd_, drain, sizeof drain)) > 0;) output_.append(drain, n);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  bool started() const { return pid_ > 0; }
  const std::string& output() const { return output_; }
  void NonBlocking() { fcntl(fd_, F_SETFL, O_NONBLOCK); }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string output_;
};

TEST(TwilioEchoCliTest, CallerHearsTheirVoiceBackAndTheServerDrainsOnSigterm) {
  Child server({kVoxpipe, "run", VOXPIPE_SOURCE_DIR "/pipelines/twilio_echo.yaml"},
               {"PORT=0", "TWILIO_AUTH_TOKEN=cli-test-token"});
  ASSERT_TRUE(server.started());
  std::string port = server.WaitFor(std::regex("listening on [0-9.]+:([0-9]+)"), std::chrono::seconds(10));
  ASSERT_FALSE(port.empty()) << server.output();
  server.NonBlocking();

  auto record = std::filesystem::temp_directory_path() / ("twilio_echo_cli_" + std::to_string(getpid()) + ".wav");
  auto log = std::filesystem::temp_directory_path() / ("twilio_echo_cli_" + std::to_string(getpid()) + ".log");
  std::string call = kVoxpipe + " call http://127.0.0.1:" + port +
                     " --audio " VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav --auth-token cli-test-token"
                     " --fast --tail 0.5 --timeout 30 --expect-echo 0.9 --record " +
                     record.string() + " > " + log.string() + " 2>&1";
  int status = std::system(call.c_str());
  std::ifstream in(log);
  std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_NE(output.find("heard back"), std::string::npos) << output;
  EXPECT_NE(output.find("server latency during the run"), std::string::npos) << output;
  EXPECT_NE(output.find("voxpipe_twilio_output_latency_seconds"), std::string::npos) << output;

  auto heard = wav::Read(record.string());
  ASSERT_TRUE(heard.ok()) << heard.message();
  EXPECT_GT(heard->samples(), 8000u * 3) << "the recording holds the echoed speech";

  // A wrong token is refused, and the simulator says so with its exit status.
  std::string bad = kVoxpipe + " call http://127.0.0.1:" + port + " --auth-token wrong --fast --timeout 10 > " +
                    log.string() + " 2>&1";
  int bad_status = std::system(bad.c_str());
  EXPECT_TRUE(WIFEXITED(bad_status) && WEXITSTATUS(bad_status) != 0);

  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0) << server.output();
  std::filesystem::remove(record);
  std::filesystem::remove(log);
}

// drain_timeout from the pipeline file: a call still going when SIGTERM
// comes is ended after it, and the server exits cleanly.
TEST(TwilioEchoCliTest, DrainTimeoutFromThePipelineFileEndsLongCalls) {
  Child server({kVoxpipe, "run", VOXPIPE_SOURCE_DIR "/pipelines/twilio_echo.yaml"}, {"PORT=0", "DRAIN_TIMEOUT=300ms"});
  ASSERT_TRUE(server.started());
  std::string port = server.WaitFor(std::regex("listening on [0-9.]+:([0-9]+)"), std::chrono::seconds(10));
  ASSERT_FALSE(port.empty()) << server.output();
  server.NonBlocking();
  // A 3 s test tone in real time, and a long tail: the call outlasts the drain.
  Child call({kVoxpipe, "call", "http://127.0.0.1:" + port, "--tail", "20", "--timeout", "30", "-q"}, {});
  ASSERT_TRUE(call.started());
  ASSERT_FALSE(server.WaitFor(std::regex("\\] (started)"), std::chrono::seconds(10)).empty()) << server.output();
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0) << server.output();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5))
      << "ended after drain_timeout (300 ms) and the 2 s allowed for cancelled calls, not the default 30 s";
  EXPECT_NE(server.output().find("draining (up to 0.3 s"), std::string::npos) << server.output();
}

}  // namespace
}  // namespace voxpipe::twilio
