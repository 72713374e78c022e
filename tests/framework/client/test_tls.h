// A throwaway PKI for TLS tests, made with the OpenSSL API at test time: a CA
// and a server certificate it signed for the given DNS names, written as PEM
// files into a fresh temporary directory.
#pragma once

#include <string>
#include <vector>

namespace voxpipe::testing {

struct TestPki {
  std::string dir;
  std::string ca_cert;      // trust this
  std::string server_cert;  // serve these
  std::string server_key;
};

// Aborts the test (via gtest assertion in the caller) when empty `dir`.
TestPki MakeTestPki(const std::vector<std::string>& dns_names);

}  // namespace voxpipe::testing
