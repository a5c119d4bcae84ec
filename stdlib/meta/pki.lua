---@meta
-- luacheck: no unused args
--- kengine.pki — keys, certificate authorities, certificates and CSRs for a cluster's PKI,
--- backed by OpenSSL 3 (engine/pki, C++). Every value is a PEM string (RFC 7468).
---
--- Certificates follow RFC 5280: version 3, random 128-bit serial, notBefore = now − 5 minutes
--- (clock skew), notAfter = now + validity; basicConstraints (critical), keyUsage
--- (critical), extendedKeyUsage, subjectAltName (DNS and IP), subjectKeyIdentifier (SHA-1 of
--- the public key, §4.2.1.2) and authorityKeyIdentifier. Defaults are what kubeadm issues
--- (https://kubernetes.io/docs/setup/best-practices/certificates/): CAs get keyUsage
--- digitalSignature, keyEncipherment, keyCertSign and 10 years; leaf certificates get
--- digitalSignature, keyEncipherment and 1 year, plus the extended usages you ask for
--- ("server" kind → serverAuth, "client" kind → clientAuth). O entries become Kubernetes
--- groups (e.g. "system:masters"), CN the user name.
---
--- Private key PEMs created by or passed to this module are masked in every log line.
--- Errors: bad arguments, unknown option fields (with a "did you mean"), unparsable PEM
--- ("not a PEM private key …: no start line"), a CA certificate that is not a CA or whose key
--- does not match — all raise a Lua error pointing at the caller's line.
---
--- ```lua
--- local pki = require "kengine.pki"
--- local ca_key = pki.key{ type = "ecdsa" }
--- local ca = pki.ca{ key = ca_key, cn = "kubernetes-ca" }
--- local key = pki.key{ type = "rsa", bits = 2048 }
--- local cert = pki.cert{ ca_cert = ca, ca_key = ca_key, key = key, cn = "kube-apiserver",
---   dns = { "kubernetes", "kubernetes.default" }, ips = { "10.96.0.1", "127.0.0.1" },
---   ext_usages = { "serverAuth" } }
--- assert(pki.verify(cert, ca, { purpose = "serverAuth" }))
--- ```
local pki = {}

---@alias kengine.pki.KeyType "ecdsa"|"rsa"|"ed25519"

---Key usage names (RFC 5280 §4.2.1.3; matched case-insensitively; "contentCommitment" is
---accepted for nonRepudiation).
---@alias kengine.pki.KeyUsage
---| "digitalSignature"
---| "nonRepudiation"
---| "keyEncipherment"
---| "dataEncipherment"
---| "keyAgreement"
---| "keyCertSign"
---| "cRLSign"
---| "encipherOnly"
---| "decipherOnly"

---Extended key usage names (RFC 5280 §4.2.1.12, id-kp-*; matched case-insensitively).
---@alias kengine.pki.ExtKeyUsage
---| "serverAuth"
---| "clientAuth"
---| "codeSigning"
---| "emailProtection"
---| "timeStamping"
---| "OCSPSigning"

---@class kengine.pki.KeyOptions
---@field type? kengine.pki.KeyType  default "ecdsa" (NIST P-256)
---@field bits? integer  RSA modulus size in bits, 2048..8192, default 2048; only with type "rsa"

---Generate a private key: ECDSA P-256 (FIPS 186-4), RSA (RFC 8017, e = 65537) or Ed25519
---(RFC 8032).
---@param opts? kengine.pki.KeyOptions
---@return string key_pem  PKCS#8 "-----BEGIN PRIVATE KEY-----" PEM (RFC 5958), unencrypted
function pki.key(opts) end

---The public key of a private key, a public key or a certificate PEM.
---Raises when `pem` holds none of these, or an encrypted private key.
---@param pem string
---@return string public_pem  SubjectPublicKeyInfo "-----BEGIN PUBLIC KEY-----" PEM
function pki.public_key(pem) end

---@class kengine.pki.CaOptions
---@field key string  the CA's private key PEM (PKCS#8, or traditional RSA/EC)
---@field cn string  subject CN, 1..64 characters (e.g. "kubernetes-ca", "etcd-ca")
---@field o? string|string[]  subject O entries, in order
---@field validity? integer  seconds from now; default 315360000 (10 years, as kubeadm)
---@field path_len? integer  basicConstraints pathLenConstraint (>= 0); absent = unlimited
---@field usages? kengine.pki.KeyUsage[]  default { "digitalSignature", "keyEncipherment", "keyCertSign" }
---@field dns? string[]  subjectAltName DNS names (rare on a CA)
---@field ips? string[]  subjectAltName IP addresses (rare on a CA)

---Create a self-signed CA certificate (basicConstraints cA=TRUE, critical; issuer = subject;
---authorityKeyIdentifier = its own subjectKeyIdentifier).
---@param opts kengine.pki.CaOptions
---@return string cert_pem  "-----BEGIN CERTIFICATE-----" PEM
function pki.ca(opts) end

---@class kengine.pki.CertOptions
---@field ca_cert string  issuing CA certificate PEM (must be a CA with keyCertSign)
---@field ca_key string  the issuing CA's private key PEM (must match ca_cert)
---@field key? string  the subject's private key PEM (only its public half is certified)
---@field public_key? string  or the subject's public key PEM (exactly one of key/public_key)
---@field cn string  subject CN, 1..64 characters (Kubernetes user name)
---@field o? string|string[]  subject O entries (Kubernetes groups), e.g. { "system:masters" }
---@field dns? string[]  subjectAltName DNS names, e.g. { "kubernetes.default.svc" }
---@field ips? string[]  subjectAltName IP addresses, IPv4 or IPv6 text, e.g. { "10.96.0.1", "::1" }
---@field usages? kengine.pki.KeyUsage[]  default { "digitalSignature", "keyEncipherment" } (a CA: plus "keyCertSign")
---@field ext_usages? kengine.pki.ExtKeyUsage[]  default none (no extendedKeyUsage extension: any purpose)
---@field validity? integer  seconds from now; default 31536000 (1 year; 10 years when is_ca)
---@field is_ca? boolean  issue an intermediate CA; default false
---@field path_len? integer  pathLenConstraint, only with is_ca

---Issue a certificate signed by a CA.
---Raises on a bad IP or DNS name, an unknown usage, a ca_cert that is not a CA, or a
---ca_key that does not belong to ca_cert.
---@param opts kengine.pki.CertOptions
---@return string cert_pem
function pki.cert(opts) end

---@class kengine.pki.CsrOptions
---@field key string  the requester's private key PEM (signs the request)
---@field cn string
---@field o? string|string[]
---@field dns? string[]
---@field ips? string[]

---Create a PKCS#10 certificate signing request (RFC 2986); DNS/IP names travel in a PKCS#9
---extensionRequest attribute.
---@param opts kengine.pki.CsrOptions
---@return string csr_pem  "-----BEGIN CERTIFICATE REQUEST-----" PEM
function pki.csr(opts) end

---@class kengine.pki.SignCsrOptions
---@field csr string  CSR PEM
---@field ca_cert string
---@field ca_key string
---@field usages? kengine.pki.KeyUsage[]  defaults as in pki.cert
---@field ext_usages? kengine.pki.ExtKeyUsage[]
---@field validity? integer  seconds; default 1 year (10 years when is_ca)
---@field is_ca? boolean
---@field path_len? integer

---Sign a CSR: checks the request's signature, copies CN, O and the requested DNS/IP names;
---usages, CA-ness and validity are the signer's choice (other requested extensions are
---ignored). Raises when the CSR's signature does not verify.
---@param opts kengine.pki.SignCsrOptions
---@return string cert_pem
function pki.sign_csr(opts) end

---@class kengine.pki.Name
---@field cn string
---@field o string[]

---@class kengine.pki.CertInfo
---@field cn string  subject CN
---@field o string[]  subject O entries, in order
---@field issuer kengine.pki.Name
---@field dns string[]  subjectAltName DNS names
---@field ips string[]  subjectAltName IP addresses (canonical text, e.g. "fd00::1")
---@field usages string[]  keyUsage names, in RFC 5280 bit order
---@field ext_usages string[]  extendedKeyUsage names (unknown OIDs as dotted text)
---@field is_ca boolean  basicConstraints cA
---@field path_len? integer  pathLenConstraint when present
---@field not_before integer  unix seconds
---@field not_after integer  unix seconds
---@field serial string  lowercase hex, no separators
---@field fingerprint string  "sha256:" .. hex of SHA-256 over the DER certificate
---@field subject_key_id string  lowercase hex ("" when absent)
---@field authority_key_id string  lowercase hex ("" when absent)
---@field key_type string  "ecdsa", "rsa", "ed25519" or OpenSSL's algorithm name
---@field key_bits integer  key size as OpenSSL reports it (RSA modulus bits, 256 for P-256)

---Describe a certificate (the first CERTIFICATE block of `cert_pem`).
---Raises when `cert_pem` holds no certificate.
---@param cert_pem string
---@return kengine.pki.CertInfo
function pki.inspect(cert_pem) end

---@class kengine.pki.VerifyOptions
---@field purpose? "serverAuth"|"clientAuth"  also require fitness for this TLS role
---@field at? integer  verify as of this unix time (seconds); default now

---Verify a certificate against trusted CA certificate(s) with OpenSSL's X509_STORE
---(RFC 5280 §6 path validation). `cert_pem` may carry intermediates after the leaf;
---every certificate in `ca_pem` is a trust anchor (partial chains allowed, like Go).
---Verification failure is a result, not an error; unparsable PEM raises.
---@param cert_pem string
---@param ca_pem string  one or more CA certificates (a bundle)
---@param opts? kengine.pki.VerifyOptions
---@return true|nil ok
---@return string? reason  OpenSSL's reason, e.g. "unable to get local issuer certificate (depth 0, CN=admin)"
function pki.verify(cert_pem, ca_pem, opts) end

---SHA-256 fingerprint. For a certificate: over its DER encoding (as
---`openssl x509 -fingerprint -sha256`, without colons). For a private or public key: over the
---DER SubjectPublicKeyInfo. kubeadm's `--discovery-token-ca-cert-hash` is the latter for the
---CA: `pki.fingerprint(ca_key)` or `pki.fingerprint(pki.public_key(ca_cert))`.
---@param pem string  certificate, public key or private key PEM
---@return string fingerprint  "sha256:" .. 64 lowercase hex digits
function pki.fingerprint(pem) end

return pki
