// TLS for clients: a context that trusts the system CA store (plus an
// optional extra CA file) and verifies the peer, and the per-connection
// settings every client must apply (SNI and host name verification).
//
// OpenSSL's default verify paths honour SSL_CERT_FILE and SSL_CERT_DIR, so a
// private CA can also be trusted through the environment.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "framework/status.h"

namespace voxpipe {

struct TlsClientOptions {
  std::string ca_file;  // PEM bundle trusted in addition to the system store
  bool verify_peer = true;
};

using TlsContextPtr = std::shared_ptr<boost::asio::ssl::context>;

Result<TlsContextPtr> MakeTlsClientContext(const TlsClientOptions& options = {});

// The context shared by clients that use the defaults (built once).
Result<TlsContextPtr> DefaultTlsClientContext();

// Sets SNI and host name verification for one connection to `host`.
Status PrepareTlsClientStream(SSL* ssl, const std::string& host);

// A short description of the last OpenSSL / verification error for `ec`.
std::string TlsErrorText(const boost::system::error_code& ec);

}  // namespace voxpipe
