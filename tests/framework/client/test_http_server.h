// A small HTTP/1.1 server for client tests: binds 127.0.0.1 port 0, serves
// each connection on its own thread with a handler, records the requests.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace voxpipe::testing {

class TestHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::string body;
    std::string content_type;
  };
  struct Reply {
    int status = 200;
    std::string body = "{}";
    std::chrono::milliseconds delay{0};
  };
  using Handler = std::function<Reply(const Request&)>;

  explicit TestHttpServer(Handler handler)
      : handler_(std::move(handler)),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestHttpServer() {
    stopping_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with a connection of our own.
    boost::asio::ip::tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
    for (auto& t : workers_) t.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stopping_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      workers_.emplace_back([this, socket = std::move(socket)]() mutable { Handle(std::move(socket)); });
    }
  }

  void Handle(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    Request request{std::string(req.method_string()), std::string(req.target()), req.body(),
                    std::string(req[http::field::content_type])};
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    Reply reply = handler_(request);
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    http::response<http::string_body> res(static_cast<http::status>(reply.status), 11);
    res.set(http::field::content_type, "application/json");
    res.body() = reply.body;
    res.prepare_payload();
    http::write(socket, res, ec);
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  }

  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
};

}  // namespace voxpipe::testing
