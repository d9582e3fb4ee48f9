"""Tests of the dev certificate chain: the extensions C2PA's certificate profile requires."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from producer.devcert import DOCUMENT_SIGNING_OID, DevCert, create_dev_cert


@pytest.fixture(scope="module")
def dev_cert(tmp_path_factory: pytest.TempPathFactory) -> DevCert:
    return create_dev_cert(out_dir=tmp_path_factory.mktemp("devcert") / "c2pa")


def load_chain(dev_cert: DevCert) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(dev_cert.cert_chain_path.read_bytes())


def test_chain_is_leaf_then_root_issued_by_it(dev_cert: DevCert) -> None:
    leaf, root = load_chain(dev_cert)
    leaf.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert leaf.subject != root.subject
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
        "mediaq dev signer"
    )


def test_leaf_has_the_extensions_c2pa_requires(dev_cert: DevCert) -> None:
    leaf, root = load_chain(dev_cert)
    assert leaf.version == x509.Version.v3
    key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature
    assert not key_usage.value.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert DOCUMENT_SIGNING_OID in eku
    assert ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf_ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert leaf_ski == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    public_key = leaf.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"


def test_root_is_a_ca_that_signs_certificates(dev_cert: DevCert) -> None:
    _, root = load_chain(dev_cert)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key_usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.key_cert_sign
    assert not key_usage.digital_signature
    assert root.not_valid_after_utc > load_chain(dev_cert)[0].not_valid_after_utc


def test_key_is_private_to_its_owner_and_matches_the_leaf(dev_cert: DevCert) -> None:
    assert stat.S_IMODE(dev_cert.key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(dev_cert.key_path.read_bytes(), password=None)
    leaf = load_chain(dev_cert)[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert key.public_key().public_bytes(der, public) == leaf.public_key().public_bytes(der, public)


def test_existing_chain_is_reused_unless_forced(tmp_path: Path) -> None:
    first = create_dev_cert(out_dir=tmp_path)
    chain_pem = first.cert_chain_path.read_bytes()
    again = create_dev_cert(out_dir=tmp_path)
    assert again == first
    assert again.cert_chain_path.read_bytes() == chain_pem
    forced = create_dev_cert(out_dir=tmp_path, force=True)
    assert forced.cert_chain_path.read_bytes() != chain_pem
    assert stat.S_IMODE(forced.key_path.stat().st_mode) == 0o600
