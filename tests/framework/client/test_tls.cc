#include "tests/framework/client/test_tls.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace voxpipe::testing {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr MakeKey() {
  return KeyPtr(EVP_EC_gen("P-256"), EVP_PKEY_free);
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

CertPtr MakeCert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key, long serial) {
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  return cert;
}

bool WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  bool ok = cert ? PEM_write_X509(f, cert) == 1 : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  return ok;
}

}  // namespace

TestPki MakeTestPki(const std::vector<std::string>& dns_names) {
  char pattern[] = "/tmp/voxpipe-pki-XXXXXX";
  if (!mkdtemp(pattern)) return {};
  TestPki pki{pattern, std::string(pattern) + "/ca.pem", std::string(pattern) + "/server.pem",
              std::string(pattern) + "/server.key"};

  KeyPtr ca_key = MakeKey();
  CertPtr ca = MakeCert(ca_key.get(), "voxpipe test CA", nullptr, nullptr, 1);
  AddExtension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  X509_sign(ca.get(), ca_key.get(), EVP_sha256());

  KeyPtr key = MakeKey();
  CertPtr cert = MakeCert(key.get(), dns_names.empty() ? "server" : dns_names.front(), ca.get(), ca_key.get(), 2);
  std::string san;
  for (const auto& n : dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  if (!san.empty()) AddExtension(cert.get(), ca.get(), NID_subject_alt_name, san);
  AddExtension(cert.get(), ca.get(), NID_basic_constraints, "CA:FALSE");
  AddExtension(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  X509_sign(cert.get(), ca_key.get(), EVP_sha256());

  if (!WritePem(pki.ca_cert, ca.get(), nullptr) || !WritePem(pki.server_cert, cert.get(), nullptr) ||
      !WritePem(pki.server_key, nullptr, key.get())) {
    return {};
  }
  return pki;
}

}  // namespace voxpipe::testing
