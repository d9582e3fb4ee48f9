"""The fetch stage: uploads pass through checked; https URLs never reach private networks."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from producer.settings import Settings
from workers.engines.base import PermanentEngineError
from workers.engines.https_fetch import HttpsFetchEngine, check_address
from workers.stages.fetch import FetchImage

PHOTO = Path(__file__).resolve().parents[2] / "examples" / "products" / "images" / "mug-sage.jpg"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(PermanentEngineError, match="not a public address"):
        check_address(address, allow_private=False)


def test_public_addresses_pass() -> None:
    check_address("8.8.8.8", allow_private=False)
    check_address("2001:4860:4860::8888", allow_private=False)


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        routes = {
            "/photo.jpg": (200, PHOTO.read_bytes()),
            "/text": (200, b"not an image at all"),
            "/big": (200, b"\xff\xd8\xff" + b"0" * 300_000),
        }
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "https://127.0.0.1/photo.jpg")
            self.end_headers()
            return
        status, body = routes.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def engine(tmp_path: Path, *, allow_private: bool, ca: Path | None) -> HttpsFetchEngine:
    settings = Settings(
        data_dir=tmp_path, fetch_allow_private_networks=allow_private, fetch_ca_file=ca
    )
    fetcher = HttpsFetchEngine(settings)
    fetcher.load()
    return fetcher


def run_fetch(
    tmp_path: Path, fetcher: HttpsFetchEngine, element: str, inputs: dict[str, Path] | None = None
):  # type: ignore[no-untyped-def]
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return FetchImage().run(
        item={}, inputs=inputs or {}, params={"element": element}, engine=fetcher, workdir=workdir
    )


def test_an_uploaded_asset_passes_through_unchanged(tmp_path: Path) -> None:
    (output,) = run_fetch(
        tmp_path,
        engine(tmp_path, allow_private=False, ca=None),
        "asset:" + "a" * 64,
        {"source": PHOTO},
    )
    assert output.media_type == "image/jpeg" and output.path.read_bytes() == PHOTO.read_bytes()


def test_a_local_server_is_refused_by_default(
    tmp_path: Path, https_server: tuple[str, Path]
) -> None:
    url, cert = https_server
    with pytest.raises(PermanentEngineError, match="not a public address"):
        run_fetch(tmp_path, engine(tmp_path, allow_private=False, ca=cert), f"{url}/photo.jpg")


def test_decimal_ip_spelling_of_loopback_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PermanentEngineError, match="not a public address"):
        run_fetch(
            tmp_path, engine(tmp_path, allow_private=False, ca=None), "https://2130706433/x.jpg"
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.jpg",
        "file:///etc/passwd",
        "https://user:pw@example.com/a.jpg",
        "images/mug.jpg",
    ],
)
def test_only_plain_https_urls_are_fetched(tmp_path: Path, url: str) -> None:
    with pytest.raises(PermanentEngineError):
        run_fetch(tmp_path, engine(tmp_path, allow_private=False, ca=None), url)


def test_https_download_works_where_private_networks_are_allowed(
    tmp_path: Path, https_server: tuple[str, Path]
) -> None:
    url, cert = https_server
    (output,) = run_fetch(
        tmp_path, engine(tmp_path, allow_private=True, ca=cert), f"{url}/photo.jpg"
    )
    assert output.path.read_bytes() == PHOTO.read_bytes()


@pytest.mark.parametrize(
    ("path", "message"),
    [("/redirect", "redirects"), ("/text", "not an image"), ("/missing", "answered 404")],
)
def test_redirects_non_images_and_errors_are_refused(
    tmp_path: Path, https_server: tuple[str, Path], path: str, message: str
) -> None:
    url, cert = https_server
    with pytest.raises(PermanentEngineError, match=message):
        run_fetch(tmp_path, engine(tmp_path, allow_private=True, ca=cert), f"{url}{path}")


def test_oversized_downloads_are_cut_off(tmp_path: Path, https_server: tuple[str, Path]) -> None:
    url, cert = https_server
    fetcher = engine(tmp_path, allow_private=True, ca=cert)
    with pytest.raises(PermanentEngineError, match="larger than"):
        fetcher.fetch(f"{url}/big", path=tmp_path / "big", max_bytes=100_000)


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_000, 5_000)).save(bomb)  # 50 MP, tiny file
    with pytest.raises(PermanentEngineError, match="pixel limit"):
        run_fetch(
            tmp_path,
            engine(tmp_path, allow_private=False, ca=None),
            "asset:" + "b" * 64,
            {"source": bomb},
        )
