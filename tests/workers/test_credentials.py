"""Tests of the credentials stage on the c2pa engine: sign, read back, validate, tamper.

Validation codes: a manifest signed with the dev chain reads back "Valid" with exactly one
failure, signingCredential.untrusted, because the dev root is in no trust list; with the dev
root given to the reader as a trust anchor it reads back "Trusted" with no failure at all.
Informational codes (signingCredential.ocsp.skipped, ingredient.unknownProvenance for photos
without credentials of their own) are not failures. After a byte of the media changes, the
hard binding fails: assertion.bmffHash.mismatch for MP4, assertion.dataHash.mismatch for
JPEG, and the state turns "Invalid".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import struct
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from producer.devcert import DevCert, create_dev_cert
from producer.settings import Settings
from tests.media import ffprobe
from workers.engines.base import PermanentEngineError
from workers.engines.c2pa_signer import C2paEngine
from workers.media.ffmpeg import run_ffmpeg
from workers.stages.base import StageOutput
from workers.stages.credentials import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    AttachCredentials,
    sniff_media_type,
)

PRODUCER = "Eastside Evening News"
NEWS_ITEM = {"custom_id": "harbor-bridge-0412", "headline": "Harbor bridge reopens early"}
LAVFI_VIDEO = "testsrc2=size=64x64:rate=8:duration=1"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 1 s H.264 + AAC MP4, a JPEG, a PNG and a WebP, plus two "real photos"."""
    folder = tmp_path_factory.mktemp("credentials-media")
    paths = {name: folder / name for name in ("clip.mp4", "still.jpg", "still.png", "still.webp")}
    run_ffmpeg(
        ["-f", "lavfi", "-i", LAVFI_VIDEO, "-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
        + ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "48000"]
        + ["-movflags", "+faststart", str(paths["clip.mp4"])]
    )
    for name in ("still.jpg", "still.png", "still.webp"):
        run_ffmpeg(["-f", "lavfi", "-i", LAVFI_VIDEO, "-frames:v", "1", str(paths[name])])
    for name, pattern in (("photo-1.jpg", "smptebars"), ("photo-2.png", "rgbtestsrc")):
        paths[name] = folder / name
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                f"{pattern}=size=96x64:rate=1",
                "-frames:v",
                "1",
                str(paths[name]),
            ]
        )
    return paths


@pytest.fixture(scope="module")
def dev_cert(tmp_path_factory: pytest.TempPathFactory) -> DevCert:
    return create_dev_cert(out_dir=tmp_path_factory.mktemp("credentials-cert"))


@pytest.fixture(scope="module")
def engine(dev_cert: DevCert, tmp_path_factory: pytest.TempPathFactory) -> C2paEngine:
    settings = Settings(
        env="dev",
        data_dir=tmp_path_factory.mktemp("credentials-data"),
        c2pa_cert_path=dev_cert.cert_chain_path,
        c2pa_key_path=dev_cert.key_path,
        c2pa_producer=PRODUCER,
    )
    loaded = C2paEngine(settings=settings)
    loaded.load()
    return loaded


@pytest.fixture(scope="module")
def signed_mp4(
    engine: C2paEngine, media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, StageOutput]:
    return sign(engine, tmp_path_factory.mktemp("signed-mp4"), media["clip.mp4"], item=NEWS_ITEM)


@pytest.fixture(scope="module")
def signed_jpeg(
    engine: C2paEngine, media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, StageOutput]:
    photos = [media["photo-1.jpg"], media["photo-2.png"]]
    return sign(
        engine,
        tmp_path_factory.mktemp("signed-jpeg"),
        media["still.jpg"],
        ingredients=photos,
        item={"custom_id": "MUG-TC-350", "title": "Terracotta stoneware mug"},
    )


def sign(
    engine: C2paEngine,
    workdir: Path,
    media_path: Path,
    *,
    ingredients: Sequence[Path] | None = None,
    params: Mapping[str, Any] | None = None,
    item: Mapping[str, Any] | None = None,
) -> dict[str, StageOutput]:
    """Run the stage the way the runner does: inputs are extensionless copies."""
    (workdir / "in").mkdir()
    inputs: dict[str, Any] = {"media": copy_as(media_path, workdir / "in" / "media-0")}
    if ingredients is not None:
        inputs["ingredients"] = [
            copy_as(path, workdir / "in" / f"ingredients-{i}") for i, path in enumerate(ingredients)
        ]
    (workdir / "out").mkdir()
    outputs = AttachCredentials().run(
        item=item or {},
        inputs=inputs,
        params=params or {},
        engine=engine,
        workdir=workdir / "out",
    )
    return {output.name: output for output in outputs}


def copy_as(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def read_store(
    path: Path, media_type: str, *, trust_anchor: DevCert | None = None
) -> dict[str, Any]:
    """The manifest store as an independent c2pa Reader sees it (not through the engine)."""
    settings = {"trust": {"trust_anchors": root_pem(trust_anchor)}} if trust_anchor else {}
    with (
        c2pa.Context.from_dict(settings) as context,
        path.open("rb") as file,
        c2pa.Reader(media_type, file, context=context) as reader,
    ):
        store: dict[str, Any] = json.loads(reader.json())
    return store


def root_pem(dev_cert: DevCert) -> str:
    root = x509.load_pem_x509_certificates(dev_cert.cert_chain_path.read_bytes())[-1]
    return root.public_bytes(serialization.Encoding.PEM).decode()


def codes(store: Mapping[str, Any], kind: str) -> list[str]:
    return [entry["code"] for entry in store["validation_results"]["activeManifest"][kind]]


def active_manifest(store: Mapping[str, Any]) -> dict[str, Any]:
    manifest: dict[str, Any] = store["manifests"][store["active_manifest"]]
    return manifest


def actions(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    (assertion,) = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    found: list[dict[str, Any]] = assertion["data"]["actions"]
    return found


def tampered_copy(path: Path, offset: int, target: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    target.write_bytes(bytes(data))
    return target


def top_level_boxes(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, end) of each top-level ISO BMFF box."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif size == 0:
            size = len(data) - offset
        yield kind, offset + header, offset + size
        offset += size


def jpeg_scan_offset(data: bytes) -> int:
    """An offset in the middle of the entropy-coded image data, safe to flip a bit of.

    The C2PA manifest sits in APP11 segments before the scan, so the scan is pure media.
    """
    offset = 2
    while data[offset + 1] != 0xDA:  # walk the marker segments up to start-of-scan
        offset += 2 + int.from_bytes(data[offset + 2 : offset + 4], "big")
    header_bytes = int.from_bytes(data[offset + 2 : offset + 4], "big")
    scan_start, scan_end = offset + 2 + header_bytes, data.rindex(b"\xff\xd9")
    middle = (scan_start + scan_end) // 2
    # Neither a marker (0xFF), nor a byte that flips into one, nor a stuffed 0x00 after 0xFF.
    while data[middle] in (0xFE, 0xFF) or data[middle - 1] == 0xFF:
        middle += 1
    return middle


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- MP4 ------------------------------------------------------------------------------------


def test_signed_mp4_validates_with_only_the_dev_signer_untrusted(
    signed_mp4: dict[str, StageOutput],
) -> None:
    store = read_store(signed_mp4["media"].path, "video/mp4")
    assert store["validation_state"] == "Valid"
    assert codes(store, "failure") == ["signingCredential.untrusted"]
    assert {"claimSignature.validated", "assertion.bmffHash.match"} <= set(codes(store, "success"))


def test_signed_mp4_is_trusted_when_the_dev_root_is_a_trust_anchor(
    signed_mp4: dict[str, StageOutput], dev_cert: DevCert
) -> None:
    store = read_store(signed_mp4["media"].path, "video/mp4", trust_anchor=dev_cert)
    assert store["validation_state"] == "Trusted"
    assert codes(store, "failure") == []
    assert "signingCredential.trusted" in codes(store, "success")


def test_video_manifest_declares_trained_algorithmic_media_by_the_producer(
    signed_mp4: dict[str, StageOutput],
) -> None:
    manifest = active_manifest(read_store(signed_mp4["media"].path, "video/mp4"))
    assert manifest["title"] == NEWS_ITEM["headline"]
    assert manifest["claim_generator_info"][0]["name"] == "mediaq"
    assert manifest["signature_info"]["common_name"] == "mediaq dev signer"
    (created,) = actions(manifest)
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"]["name"] == "mediaq"
    assert manifest.get("ingredients", []) == []
    (work,) = [a for a in manifest["assertions"] if a["label"] == "stds.schema-org.CreativeWork"]
    assert work["data"]["author"] == [{"@type": "Organization", "name": PRODUCER}]


def test_manifest_output_is_the_store_linked_to_the_signed_file(
    signed_mp4: dict[str, StageOutput],
) -> None:
    output = signed_mp4["manifest"]
    assert output.media_type == "application/json"
    record = json.loads(output.path.read_text("utf-8"))
    media_path = signed_mp4["media"].path
    assert record["signed_asset"] == {
        "sha256": sha256(media_path),
        "media_type": "video/mp4",
        "size_bytes": media_path.stat().st_size,
        "active_manifest": record["active_manifest"],
    }
    store = read_store(media_path, "video/mp4")
    assert record["active_manifest"] == store["active_manifest"]
    assert record["manifests"].keys() == store["manifests"].keys()
    assert record["validation_state"] == "Valid"


def test_signed_mp4_keeps_its_streams_and_faststart(
    signed_mp4: dict[str, StageOutput], media: dict[str, Path]
) -> None:
    output = signed_mp4["media"]
    assert output.media_type == "video/mp4"
    assert output.path.suffix == ".mp4"
    assert output.duration_s == pytest.approx(1.0, abs=0.1)
    before, after = ffprobe(media["clip.mp4"]), ffprobe(output.path)
    assert [s["codec_name"] for s in after["streams"]] == ["h264", "aac"]
    for old, new in zip(before["streams"], after["streams"], strict=True):
        assert (new["codec_name"], new["nb_frames"]) == (old["codec_name"], old["nb_frames"])
    boxes = [kind for kind, _, _ in top_level_boxes(output.path.read_bytes())]
    assert boxes.index(b"moov") < boxes.index(b"mdat")
    assert b"uuid" in boxes  # the C2PA manifest store box


def test_flipping_a_byte_of_mp4_media_fails_the_bmff_hash(
    signed_mp4: dict[str, StageOutput], tmp_path: Path
) -> None:
    # Given the signed MP4 and a copy with one bit flipped in the middle of its mdat payload
    signed = signed_mp4["media"].path
    data = signed.read_bytes()
    ((start, end),) = [(s, e) for kind, s, e in top_level_boxes(data) if kind == b"mdat"]
    tampered = tampered_copy(signed, (start + end) // 2, tmp_path / "tampered.mp4")
    # When an independent reader validates it
    store = read_store(tampered, "video/mp4")
    # Then the hard binding to the media fails, and the signature itself is still fine
    assert "assertion.bmffHash.mismatch" in codes(store, "failure")
    assert "claimSignature.validated" in codes(store, "success")
    assert store["validation_state"] == "Invalid"


# --- stills ---------------------------------------------------------------------------------


def test_jpeg_from_real_photos_is_composite_with_the_photos_as_ingredients(
    signed_jpeg: dict[str, StageOutput], media: dict[str, Path]
) -> None:
    store = read_store(signed_jpeg["media"].path, "image/jpeg")
    assert codes(store, "failure") == ["signingCredential.untrusted"]
    assert "assertion.dataHash.match" in codes(store, "success")
    manifest = active_manifest(store)
    assert manifest["title"] == "Terracotta stoneware mug"
    created, *placed = actions(manifest)
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    ingredients = manifest["ingredients"]
    assert [i["relationship"] for i in ingredients] == ["componentOf", "componentOf"]
    assert [i["format"] for i in ingredients] == ["image/jpeg", "image/png"]
    assert [i["instance_id"] for i in ingredients] == [
        f"sha256:{sha256(media['photo-1.jpg'])}",
        f"sha256:{sha256(media['photo-2.png'])}",
    ]
    assert all(i["thumbnail"]["format"] == "image/jpeg" for i in ingredients)
    assert [a["action"] for a in placed] == ["c2pa.placed", "c2pa.placed"]
    placed_urls = [a["parameters"]["ingredients"][0]["url"] for a in placed]
    assert len(set(placed_urls)) == 2
    assert all(url.startswith("self#jumbf=c2pa.assertions/c2pa.ingredient") for url in placed_urls)


def test_flipping_a_byte_of_jpeg_image_data_fails_the_data_hash(
    signed_jpeg: dict[str, StageOutput], tmp_path: Path
) -> None:
    signed = signed_jpeg["media"].path
    offset = jpeg_scan_offset(signed.read_bytes())
    store = read_store(tampered_copy(signed, offset, tmp_path / "tampered.jpg"), "image/jpeg")
    assert "assertion.dataHash.mismatch" in codes(store, "failure")
    assert store["validation_state"] == "Invalid"


@pytest.mark.parametrize(
    ("name", "media_type"), [("still.png", "image/png"), ("still.webp", "image/webp")]
)
def test_png_and_webp_stay_their_type_when_signed(
    engine: C2paEngine, media: dict[str, Path], tmp_path: Path, name: str, media_type: str
) -> None:
    output = sign(engine, tmp_path, media[name], ingredients=[media["photo-1.jpg"]])["media"]
    assert output.media_type == media_type
    assert sniff_media_type(output.path) == media_type
    assert output.path.suffix == Path(name).suffix
    assert codes(read_store(output.path, media_type), "failure") == ["signingCredential.untrusted"]


# --- params and bad input -------------------------------------------------------------------


def test_params_override_title_producer_and_source_type(
    engine: C2paEngine, media: dict[str, Path], tmp_path: Path
) -> None:
    params = {"title": "Custom", "producer": "Desk B", "digital_source_type": "digitalCreation"}
    output = sign(engine, tmp_path, media["still.jpg"], params=params, item=NEWS_ITEM)["media"]
    manifest = active_manifest(read_store(output.path, "image/jpeg"))
    assert manifest["title"] == "Custom"
    assert actions(manifest)[0]["digitalSourceType"].endswith("/digitalsourcetype/digitalCreation")
    (work,) = [a for a in manifest["assertions"] if a["label"] == "stds.schema-org.CreativeWork"]
    assert work["data"]["author"][0]["name"] == "Desk B"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"colour": "red"}, "unknown credentials parameter"),
        ({"digital_source_type": "photo"}, "digital_source_type"),
        ({"title": ""}, "'title' must be non-empty text"),
    ],
)
def test_bad_params_are_refused_by_name(
    engine: C2paEngine,
    media: dict[str, Path],
    tmp_path: Path,
    params: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(PermanentEngineError, match=message):
        sign(engine, tmp_path, media["still.jpg"], params=params)


def test_media_that_is_not_mp4_or_an_image_is_refused(engine: C2paEngine, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not media", "utf-8")
    with pytest.raises(PermanentEngineError, match="'media' is not an MP4, JPEG, PNG or WebP"):
        sign(engine, tmp_path, text)


def test_a_video_as_ingredient_is_refused(
    engine: C2paEngine, media: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(PermanentEngineError, match=r"'ingredients\[0\]' must be a photo"):
        sign(engine, tmp_path, media["still.jpg"], ingredients=[media["clip.mp4"]])


# --- engine loading -------------------------------------------------------------------------


def test_prod_without_a_certificate_fails_at_load(tmp_path: Path) -> None:
    settings = Settings(env="prod", data_dir=tmp_path, c2pa_cert_path=None, c2pa_key_path=None)
    with pytest.raises(PermanentEngineError, match="MEDIAQ_C2PA_CERT_PATH.*dev' only"):
        C2paEngine(settings=settings).load()
    assert not (tmp_path / "c2pa").exists()


def test_only_one_of_cert_and_key_is_refused(tmp_path: Path, dev_cert: DevCert) -> None:
    settings = Settings(env="dev", data_dir=tmp_path, c2pa_cert_path=dev_cert.cert_chain_path)
    with pytest.raises(PermanentEngineError, match="set both"):
        C2paEngine(settings=settings).load()


def test_dev_without_a_certificate_makes_and_reuses_a_dev_chain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(env="dev", data_dir=tmp_path, c2pa_cert_path=None, c2pa_key_path=None)
    first = C2paEngine(settings=settings)
    with caplog.at_level(logging.WARNING, logger="workers.engines.c2pa_signer"):
        first.load()
    assert "untrusted dev chain" in caplog.text
    assert (tmp_path / "c2pa" / "dev-chain.pem").is_file()
    second = C2paEngine(settings=settings)
    second.load()
    assert second.model_digest == first.model_digest is not None
    assert second.model_id == "x509:O=mediaq development,CN=mediaq dev signer"


def test_a_key_that_does_not_match_the_certificate_fails_at_load(
    tmp_path: Path, dev_cert: DevCert
) -> None:
    other = create_dev_cert(out_dir=tmp_path / "other")
    settings = Settings(
        data_dir=tmp_path, c2pa_cert_path=dev_cert.cert_chain_path, c2pa_key_path=other.key_path
    )
    with pytest.raises(PermanentEngineError, match="does not belong to the first certificate"):
        C2paEngine(settings=settings).load()


def test_a_certificate_c2pa_refuses_fails_at_load(tmp_path: Path) -> None:
    # Given a self-signed certificate without key usages: its key matches, c2pa refuses it
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "self-signed")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    chain_path, key_path = tmp_path / "self-signed.pem", tmp_path / "self-signed.key"
    chain_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings = Settings(data_dir=tmp_path, c2pa_cert_path=chain_path, c2pa_key_path=key_path)
    # When the engine loads, Then it fails there, naming the file and what a leaf needs
    with pytest.raises(PermanentEngineError, match="c2pa refuses to sign with .*self-signed.pem"):
        C2paEngine(settings=settings).load()


def test_engine_reports_its_library_versions(engine: C2paEngine) -> None:
    versions = engine.library_versions()
    assert versions["c2pa-python"].startswith("0.")
    assert versions["c2pa-rs"] == c2pa.sdk_version()
    assert engine.model_digest == hashlib.sha256(engine.identity.chain_pem).hexdigest()
