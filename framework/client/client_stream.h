// Internal to the clients: builds a Beast stream on an executor, handing it
// the TLS context when the stream type is a TLS one.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

namespace voxpipe::client_detail {

template <typename Stream, bool kTls>
Stream MakeClientStream(const boost::asio::any_io_executor& executor, boost::asio::ssl::context* tls) {
  if constexpr (kTls) {
    return Stream(executor, *tls);
  } else {
    return Stream(executor);
  }
}

}  // namespace voxpipe::client_detail
