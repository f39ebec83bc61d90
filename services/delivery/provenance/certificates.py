"""The certificate chain that C2PA manifests in delivered files are signed under.

C2PA signs with an X.509 certificate, never a bare key: the claim's COSE signature
carries the chain, and a reader checks it against the trust anchors it is given. The
key that signs is the delivery key (Ed25519), so the leaf certifies that key's public
half. Three sources, in this order:

- `c2pa_certificate_chain`: a PEM chain issued elsewhere (leaf first, the delivery key's);
- `c2pa_ca_certificate` + `c2pa_ca_key`: a CA Assent operates, which issues the leaf for
  the current delivery key at start (a rotated key gets its own leaf at the next start);
- neither: a test CA made in memory at start. Files it signs verify only against this
  process's anchors: fine for tests and a local stack, never for production.

c2pa-rs checks the leaf's profile (C2PA 2.x, "certificate profile"): not self-signed,
basicConstraints CA:false, keyUsage digitalSignature (critical), and an extended key
usage it accepts (emailProtection here; documentSigning is also accepted). Building the
certificates is `cryptography`'s; only the profile is ours.
"""

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from assent.protocol import b64decode

LEAF_DAYS = 397
"""Like a public TLS leaf: rotation of the delivery key issues a new one anyway."""
TEST_CA_NAME = "Assent test CA (not trusted outside this process)"


class CertificateSetupError(ValueError):
    """The configured chain or CA cannot sign for the delivery key."""


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Assent"),
        ]
    )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _test_ca(now: dt.datetime) -> tuple[x509.Certificate, ed25519.Ed25519PrivateKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    name = _name(TEST_CA_NAME)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, None)
    )
    return certificate, key


def issue_leaf(
    public_key: ed25519.Ed25519PublicKey,
    ca_certificate: x509.Certificate,
    ca_key: ed25519.Ed25519PrivateKey,
    *,
    now: dt.datetime,
) -> x509.Certificate:
    """A leaf certifying the delivery key, in the profile c2pa-rs accepts."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name("Assent delivery"))
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, None)
    )


class CertificateAuthority:
    """Where each delivery key's chain comes from (see the module's docstring)."""

    def __init__(
        self,
        *,
        chain_pem: str = "",
        ca_certificate_pem: str = "",
        ca_key_pem: str = "",
        trust_anchors_pem: str = "",
    ) -> None:
        self._chain_pem = chain_pem.strip()
        self._ca: tuple[x509.Certificate, ed25519.Ed25519PrivateKey] | None = None
        if self._chain_pem:
            chain = x509.load_pem_x509_certificates(self._chain_pem.encode())
            self._chain_leaf_key = _raw(chain[0].public_key())
            root = _pem(chain[-1])
        else:
            if ca_certificate_pem.strip():
                certificate = x509.load_pem_x509_certificate(ca_certificate_pem.encode())
                key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
                if not isinstance(key, ed25519.Ed25519PrivateKey):
                    raise CertificateSetupError(
                        "ASSENT_DELIVERY_C2PA_CA_KEY must be an Ed25519 private key (PEM)"
                    )
                self._ca = certificate, key
            else:
                self._ca = _test_ca(dt.datetime.now(dt.UTC))
            root = _pem(self._ca[0])
        self.trust_anchors_pem = trust_anchors_pem.strip() or root

    @property
    def is_test_ca(self) -> bool:
        return self._ca is not None and self._ca[0].subject == _name(TEST_CA_NAME)

    def chain_for(self, public_key_b64: str) -> str:
        """The PEM chain, leaf first, that certifies the delivery key `public_key_b64`."""
        public_key = ed25519.Ed25519PublicKey.from_public_bytes(b64decode(public_key_b64))
        if self._ca is None:
            if _raw(public_key) != self._chain_leaf_key:
                raise CertificateSetupError(
                    "the first certificate of ASSENT_DELIVERY_C2PA_CERTIFICATE_CHAIN does not "
                    "certify the current delivery signing key"
                )
            return self._chain_pem + "\n"
        certificate, key = self._ca
        leaf = issue_leaf(public_key, certificate, key, now=dt.datetime.now(dt.UTC))
        return _pem(leaf) + _pem(certificate)


def _raw(public_key: object) -> bytes:
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise CertificateSetupError("a C2PA leaf certificate must hold an Ed25519 key")
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
