"""Local test certificate chain for signing C2PA content credentials in development.

The chain is a self-signed root CA and one ES256 (P-256) leaf. The leaf follows the
certificate profile that c2pa-rs checks when it signs and validates (C2PA 2.x, section
14.5): X.509 v3, a critical key usage with digitalSignature only, an extended key usage
from C2PA's allowed list, authority and subject key identifiers, and not a CA. c2pa-rs
refuses a self-signed signing certificate, hence the two-certificate chain.

Validators do not trust the dev root unless it is added to their trust anchors, so
credentials signed with it read back as valid but untrusted (signingCredential.untrusted).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CHAIN_FILENAME = "dev-chain.pem"
KEY_FILENAME = "dev-signer.key"
LOCK_FILENAME = ".dev-cert.lock"

# id-kp-documentSigning (RFC 9336); c2pa-rs accepts it beside id-kp-emailProtection.
DOCUMENT_SIGNING_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

ROOT_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=825)
# Backdate notBefore so a validator whose clock runs a little behind still accepts the leaf.
CLOCK_SKEW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class DevCert:
    """Where the dev chain lives.

    Attributes:
        cert_chain_path: PEM with the leaf certificate, then the root.
        key_path: PEM (PKCS#8, unencrypted) private key of the leaf, mode 0600.
    """

    cert_chain_path: Path
    key_path: Path


def create_dev_cert(
    *, out_dir: Path, common_name: str = "mediaq dev signer", force: bool = False
) -> DevCert:
    """Create (or reuse) a root CA and a C2PA signing leaf under `out_dir`.

    Args:
        out_dir: folder for dev-chain.pem and dev-signer.key; created if missing.
        common_name: the leaf's subject CN (validators show it as the signer).
        force: replace an existing chain instead of reusing it.

    Returns:
        The paths of the chain and the key.
    """
    chain = DevCert(out_dir / CHAIN_FILENAME, out_dir / KEY_FILENAME)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Worker processes starting together must not pair one's key with another's chain.
    with _exclusive(out_dir / LOCK_FILENAME):
        if force or not (chain.cert_chain_path.is_file() and chain.key_path.is_file()):
            _write_chain(chain, common_name=common_name)
    return chain


def _write_chain(chain: DevCert, *, common_name: str) -> None:
    now = dt.datetime.now(dt.UTC) - CLOCK_SKEW
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _root_certificate(key=root_key, common_name=f"{common_name} root CA", now=now)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf_certificate(
        key=leaf_key, issuer=root, issuer_key=root_key, common_name=common_name, now=now
    )
    _write_private(chain.key_path, _pem_key(leaf_key))
    pem_chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, root))
    chain.cert_chain_path.write_bytes(pem_chain)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mediaq development"),
        ]
    )


def _root_certificate(
    *, key: ec.EllipticCurvePrivateKey, common_name: str, now: dt.datetime
) -> x509.Certificate:
    name = _name(common_name)
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(is_ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    *,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    now: dt.datetime,
) -> x509.Certificate:
    public_key = key.public_key()
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(is_ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_OID]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _key_usage(*, is_ca: bool) -> x509.KeyUsage:
    # A leaf must not have keyCertSign: c2pa-rs rejects digitalSignature + keyCertSign on
    # a certificate that is not a CA.
    return x509.KeyUsage(
        digital_signature=not is_ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file only its owner can read, never briefly world-readable."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
