"""c2pa engine: signs C2PA manifests into media with c2pa-python (the c2pa-rs library).

The signing identity (a PEM certificate chain and its private key) is this engine's model:
its digest goes into the cache key, so a new certificate re-signs instead of reusing
artifacts signed by the old one.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from producer.devcert import create_dev_cert
from producer.settings import Settings, get_settings
from workers.engines.base import Engine, EngineError, PermanentEngineError

log = logging.getLogger(__name__)

# Thumbnails default to the asset's own format, which for WebP is lossless: ~650 KB for a
# small image. JPEG keeps them near 80 KB. No network: remote manifests are not fetched.
_CONTEXT_SETTINGS: dict[str, Any] = {
    "builder": {"thumbnail": {"format": "jpeg"}},
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}

_EC_ALGORITHMS = {
    "secp256r1": c2pa.C2paSigningAlg.ES256,
    "secp384r1": c2pa.C2paSigningAlg.ES384,
    "secp521r1": c2pa.C2paSigningAlg.ES512,
}


@dataclass(frozen=True)
class IngredientFile:
    """A file to record as an ingredient of the signed asset.

    Attributes:
        path: the local file.
        media_type: its MIME type ("image/jpeg").
        definition: the ingredient JSON for c2pa (title, relationship, label, instance_id).
    """

    path: Path
    media_type: str
    definition: Mapping[str, Any]


@dataclass(frozen=True)
class SigningIdentity:
    """A loaded certificate chain and key, checked against each other."""

    chain_pem: bytes
    key_pem: bytes = field(repr=False)  # never in logs or error messages
    algorithm: c2pa.C2paSigningAlg
    subject: str
    chain_path: Path


class C2paEngine(Engine):
    """Embeds and reads C2PA manifests. Signs without a timestamp authority.

    Args:
        settings: where the certificate and key are configured; get_settings() when None.

    Attributes:
        producer: the configured producer name (settings.c2pa_producer), set by load().
    """

    name: ClassVar[str] = "c2pa"
    version: ClassVar[str] = "1"

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._identity: SigningIdentity | None = None
        self.producer = ""

    @property
    def identity(self) -> SigningIdentity:
        if self._identity is None:
            raise EngineError("the c2pa engine is not loaded: call load() first")
        return self._identity

    @property
    def model_id(self) -> str | None:
        return None if self._identity is None else f"x509:{self._identity.subject}"

    @property
    def model_digest(self) -> str | None:
        if self._identity is None:
            return None
        return hashlib.sha256(self._identity.chain_pem).hexdigest()

    def load(self) -> None:
        """Read the configured chain and key (in dev, make a test chain) and try them.

        Raises:
            PermanentEngineError: no certificate in prod, an unreadable or mismatched chain
                and key, or a certificate c2pa refuses to sign with.
        """
        settings = self._settings or get_settings()
        chain_path, key_path = resolve_credential_paths(settings)
        identity = read_identity(chain_path=chain_path, key_path=key_path)
        _try_signing(identity)
        self._identity = identity
        self.producer = settings.c2pa_producer

    def library_versions(self) -> dict[str, str]:
        return {"c2pa-python": metadata.version("c2pa-python"), "c2pa-rs": c2pa.sdk_version()}

    def sign(
        self,
        *,
        definition: Mapping[str, Any],
        source_path: Path,
        media_type: str,
        ingredients: Sequence[IngredientFile],
        dest_path: Path,
    ) -> None:
        """Embed a manifest built from `definition` and `ingredients` into a copy of the source.

        Args:
            definition: the manifest definition (claim_generator_info, title, assertions).
            source_path: the asset to sign.
            media_type: its MIME type; the signed copy has the same.
            ingredients: files recorded as ingredients, with their thumbnails and hashes.
            dest_path: where the signed asset is written.

        Raises:
            PermanentEngineError: c2pa cannot sign this asset or ingredient.
            EngineError: an I/O failure that a retry may fix.
        """
        identity = self.identity
        with (
            _c2pa_errors("signing"),
            _context() as context,
            _signer(identity) as signer,
            c2pa.Builder(dict(definition), context=context) as builder,
        ):
            for ingredient in ingredients:
                with ingredient.path.open("rb") as file:
                    builder.add_ingredient(dict(ingredient.definition), ingredient.media_type, file)
            with source_path.open("rb") as source, dest_path.open("w+b") as dest:
                builder.sign(signer, media_type, source, dest)

    def read_store(self, *, path: Path, media_type: str) -> dict[str, Any]:
        """The manifest store of a signed asset as c2pa's Reader reports it, with validation.

        Raises:
            PermanentEngineError: the file has no manifest or c2pa cannot parse it.
        """
        with (
            _c2pa_errors("reading"),
            _context() as context,
            path.open("rb") as file,
            c2pa.Reader(media_type, file, context=context) as reader,
        ):
            store: dict[str, Any] = json.loads(reader.json())
        return store


def resolve_credential_paths(settings: Settings) -> tuple[Path, Path]:
    """The (chain, key) paths to sign with; in dev with none configured, a local test chain.

    Raises:
        PermanentEngineError: only one of the two is configured, or none in prod.
    """
    cert_path, key_path = settings.c2pa_cert_path, settings.c2pa_key_path
    if cert_path is not None and key_path is not None:
        return cert_path, key_path
    if cert_path is not None or key_path is not None:
        raise PermanentEngineError(
            "set both MEDIAQ_C2PA_CERT_PATH and MEDIAQ_C2PA_KEY_PATH, or neither (dev only)"
        )
    if settings.env != "dev":
        raise PermanentEngineError(
            f"content credentials need a signing certificate in env {settings.env!r}: set "
            "MEDIAQ_C2PA_CERT_PATH (PEM chain, leaf first) and MEDIAQ_C2PA_KEY_PATH (PEM key); "
            "the test chain from `mediaq dev-cert` is for env 'dev' only"
        )
    dev = create_dev_cert(out_dir=settings.data_dir / "c2pa")
    log.warning(
        "signing content credentials with the untrusted dev chain %s: set "
        "MEDIAQ_C2PA_CERT_PATH and MEDIAQ_C2PA_KEY_PATH to sign with a real certificate",
        dev.cert_chain_path,
    )
    return dev.cert_chain_path, dev.key_path


def read_identity(*, chain_path: Path, key_path: Path) -> SigningIdentity:
    """Load the PEM chain and key and check that the key belongs to the leaf (first) cert.

    Raises:
        PermanentEngineError: a missing or unreadable file, or a key that does not match.
    """
    chain_pem, key_pem = _read(chain_path, "certificate chain"), _read(key_path, "private key")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise PermanentEngineError(
            f"cannot parse {chain_path} (PEM certificates) or {key_path} "
            f"(unencrypted PEM private key): {error}"
        ) from error
    leaf = chain[0]
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise PermanentEngineError(
            f"the private key {key_path} does not belong to the first certificate in "
            f"{chain_path}; the chain must start with the signing (leaf) certificate"
        )
    return SigningIdentity(
        chain_pem=chain_pem,
        key_pem=key_pem,
        algorithm=_signing_algorithm(leaf, chain_path),
        subject=leaf.subject.rfc4514_string(),
        chain_path=chain_path,
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise PermanentEngineError(f"cannot read the C2PA {what} {path}: {error}") from error


def _public_der(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _signing_algorithm(leaf: x509.Certificate, chain_path: Path) -> c2pa.C2paSigningAlg:
    public_key = leaf.public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        algorithm = _EC_ALGORITHMS.get(public_key.curve.name)
        if algorithm is not None:
            return algorithm
    if isinstance(public_key, rsa.RSAPublicKey):
        return c2pa.C2paSigningAlg.PS256
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return c2pa.C2paSigningAlg.ED25519
    raise PermanentEngineError(
        f"the certificate in {chain_path} has a key C2PA cannot sign with; use EC P-256, "
        "P-384 or P-521, RSA (2048 bits or more) or Ed25519"
    )


def _try_signing(identity: SigningIdentity) -> None:
    """Sign a 1x1 PNG in memory so a certificate c2pa refuses fails at load, not per job."""
    created = {
        "action": "c2pa.created",
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation",
    }
    definition = {
        "claim_generator_info": [{"name": "mediaq-selftest"}],
        "title": "self-test",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [created]}}],
    }
    try:
        with (
            _context() as context,
            _signer(identity) as signer,
            c2pa.Builder(definition, context=context) as builder,
        ):
            builder.sign(signer, "image/png", io.BytesIO(_tiny_png()), io.BytesIO())
    except c2pa.C2paError as error:
        raise PermanentEngineError(
            f"c2pa refuses to sign with {identity.chain_path} ({error}). The signing "
            "certificate needs X.509 v3, a critical key usage with digitalSignature, an "
            "extended key usage such as emailProtection or documentSigning, an authority key "
            "identifier, validity now, and an issuer other than itself"
        ) from error


def _tiny_png() -> bytes:
    """A valid 1x1 grey PNG, built by hand so the self-test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x80")  # filter byte 0, one grey pixel
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _context() -> c2pa.Context:
    return c2pa.Context.from_dict(_CONTEXT_SETTINGS)


def _signer(identity: SigningIdentity) -> c2pa.Signer:
    # A fresh native signer per call: nothing native is shared between worker threads.
    info = c2pa.C2paSignerInfo(identity.algorithm, identity.chain_pem, identity.key_pem, None)
    return c2pa.Signer.from_info(info)


@contextmanager
def _c2pa_errors(doing: str) -> Iterator[None]:
    """Turn c2pa's errors into engine errors: I/O may heal on retry, the rest cannot."""
    try:
        yield
    except c2pa.C2paError.Io as error:
        raise EngineError(f"c2pa failed while {doing}: {error}") from error
    except c2pa.C2paError as error:
        raise PermanentEngineError(f"c2pa failed while {doing}: {error}") from error
