#include "framework/client/tls_context.h"

#include <mutex>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace voxpipe {

Result<TlsContextPtr> MakeTlsClientContext(const TlsClientOptions& options) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_default_verify_paths(ec);
  if (ec) return Status::Error(fmt::format("cannot load the system CA store: {}", ec.message()));
  if (!options.ca_file.empty()) {
    ctx->load_verify_file(options.ca_file, ec);
    if (ec) return Status::Error(fmt::format("cannot load CA file '{}': {}", options.ca_file, ec.message()));
  }
  ctx->set_verify_mode(options.verify_peer ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

Result<TlsContextPtr> DefaultTlsClientContext() {
  static std::mutex mutex;
  static TlsContextPtr shared;
  std::lock_guard lock(mutex);
  if (!shared) {
    auto made = MakeTlsClientContext();
    if (!made.ok()) return made.status();
    shared = *made;
  }
  return shared;
}

Status PrepareTlsClientStream(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    // IP literals: no SNI (RFC 6066), verify against the certificate's IP SANs.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) return Status::Error("bad IP address for TLS");
    return OkStatus();
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return Status::Error("cannot set TLS server name");
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1) {
    return Status::Error("cannot set TLS host name verification");
  }
  return OkStatus();
}

std::string TlsErrorText(const boost::system::error_code& ec) {
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    auto reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) return "TLS certificate verification failed";
  }
  return ec.message();
}

}  // namespace voxpipe
