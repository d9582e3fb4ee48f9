"""Tests of the upscale stage on the lanczos engine: quality against bicubic, formats, refusals."""

from __future__ import annotations

import math
import struct
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from tests.media import ffprobe
from workers.engines.base import PermanentEngineError
from workers.engines.lanczos import LanczosEngine
from workers.media.ffmpeg import H264Settings, run_ffmpeg
from workers.media.quality import psnr_ssim
from workers.stages.base import StageOutput
from workers.stages.upscale import Upscale


@pytest.fixture(scope="module")
def engine() -> LanczosEngine:
    lanczos = LanczosEngine()
    lanczos.load()
    return lanczos


def write_detailed_image(path: Path, *, width: int = 640, height: int = 480) -> None:
    """A seeded photo-like still: smooth shading, hard-edged shapes, thin lines, text, grain."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            120 + 80 * np.sin(x / 61) * np.cos(y / 83),
            100 + 60 * np.cos((x + y) / 109),
            140 + 70 * np.sin(np.hypot(x - width / 2, y - height / 3) / 25),
        ],
        axis=-1,
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for i in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(5, 60))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if i % 3 == 0:
            draw.ellipse([x0 - size, y0 - size, x0 + size, y0 + size], fill=colour)
        elif i % 3 == 1:
            draw.rectangle([x0, y0, x0 + size, y0 + size // 2], fill=colour)
        else:
            end = (x0 + int(rng.integers(-150, 150)), y0 + int(rng.integers(-150, 150)))
            draw.line([(x0, y0), end], fill=colour, width=int(rng.integers(1, 4)))
    for _ in range(8):
        at = (int(rng.integers(0, max(1, width - 160))), int(rng.integers(0, max(1, height - 30))))
        draw.text(at, "Stoneware 350 ml", fill=(255, 255, 255), font_size=int(rng.integers(12, 30)))
    image = image.filter(ImageFilter.GaussianBlur(0.8))  # a lens is never perfectly sharp
    grain = np.asarray(image).astype(np.float32) + rng.normal(0, 3, (height, width, 3))
    Image.fromarray(np.clip(grain, 0, 255).astype(np.uint8)).save(path)


def run_upscale(
    engine: LanczosEngine, source: Path, workdir: Path, params: Mapping[str, Any] | None = None
) -> StageOutput:
    outdir = workdir / f"out-{source.stem}-{len(list(workdir.iterdir()))}"
    outdir.mkdir()
    [output] = Upscale().run(
        item={}, inputs={"media": source}, params=params or {}, engine=engine, workdir=outdir
    )
    assert output.name == "media"
    return output


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels, with no real pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("scale", [2, 4])
def test_default_engine_beats_bicubic_on_psnr_and_ssim(
    engine: LanczosEngine, tmp_path: Path, scale: int, record_property: Any
) -> None:
    # Given a detailed original and a copy area-averaged down by the scale factor
    original = tmp_path / "original.png"
    write_detailed_image(original)
    small = tmp_path / "small.png"
    run_ffmpeg(["-i", str(original), "-vf", f"scale=iw/{scale}:ih/{scale}:flags=area",
                "-update", "1", str(small)])  # fmt: skip
    bicubic = tmp_path / "bicubic.png"
    run_ffmpeg(["-i", str(small), "-vf", f"scale=iw*{scale}:ih*{scale}:flags=bicubic",
                "-update", "1", str(bicubic)])  # fmt: skip

    # When the default engine upscales it back
    upscaled = run_upscale(engine, small, tmp_path, {"scale": scale})

    # Then it is closer to the original than plain bicubic, on both measures
    default_psnr, default_ssim = psnr_ssim(reference=original, candidate=upscaled.path)
    bicubic_psnr, bicubic_ssim = psnr_ssim(reference=original, candidate=bicubic)
    figures = {"default_psnr_db": default_psnr, "default_ssim": default_ssim,
               "bicubic_psnr_db": bicubic_psnr, "bicubic_ssim": bicubic_ssim}  # fmt: skip
    for name, value in figures.items():
        record_property(f"x{scale}_{name}", round(value, 4))
    assert default_psnr >= bicubic_psnr
    assert default_ssim >= bicubic_ssim


def test_psnr_ssim_of_identical_images_is_infinite_and_one(tmp_path: Path) -> None:
    original = tmp_path / "original.png"
    write_detailed_image(original, width=64, height=48)
    assert psnr_ssim(reference=original, candidate=original) == (math.inf, 1.0)


def test_psnr_ssim_refuses_images_of_different_sizes(tmp_path: Path) -> None:
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    write_detailed_image(big, width=64, height=48)
    write_detailed_image(small, width=32, height=24)
    with pytest.raises(ValueError, match="different sizes"):
        psnr_ssim(reference=big, candidate=small)


def test_jpeg_is_upscaled_x4_by_default_and_stays_jpeg(
    engine: LanczosEngine, tmp_path: Path
) -> None:
    source = tmp_path / "photo.jpg"
    _save_detailed(tmp_path, 160, 120, source, quality=90)

    output = run_upscale(engine, source, tmp_path)

    assert output.media_type == "image/jpeg"
    with Image.open(output.path) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (640, 480), "RGB")


@pytest.mark.parametrize(
    ("output_format", "pillow_format", "media_type"),
    [("png", "PNG", "image/png"), ("webp", "WEBP", "image/webp"), ("jpeg", "JPEG", "image/jpeg")],
)
def test_format_param_picks_the_output_format(
    engine: LanczosEngine, tmp_path: Path, output_format: str, pillow_format: str, media_type: str
) -> None:
    source = _detailed(tmp_path, 64, 48)

    output = run_upscale(engine, source, tmp_path, {"scale": 2, "format": output_format})

    assert output.media_type == media_type
    with Image.open(output.path) as image:
        assert (image.format, image.size) == (pillow_format, (128, 96))


def test_transparency_is_kept_in_png_and_refused_for_jpeg(
    engine: LanczosEngine, tmp_path: Path
) -> None:
    source = tmp_path / "logo.png"
    logo = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse([5, 5, 35, 25], fill=(200, 30, 30, 255))
    logo.save(source)

    output = run_upscale(engine, source, tmp_path, {"scale": 2})
    with Image.open(output.path) as image:
        assert (image.mode, image.size) == ("RGBA", (80, 60))
        alpha = np.asarray(image)[..., 3]
        assert alpha[0, 0] == 0 and alpha[30, 40] == 255
    with pytest.raises(PermanentEngineError, match="transparency"):
        run_upscale(engine, source, tmp_path, {"scale": 2, "format": "jpeg"})


def test_content_decides_the_type_not_the_file_name(engine: LanczosEngine, tmp_path: Path) -> None:
    disguised = tmp_path / "photo.jpg"
    disguised.write_bytes(_detailed(tmp_path, 32, 24).read_bytes())  # a PNG named .jpg

    output = run_upscale(engine, disguised, tmp_path, {"scale": 2})

    assert output.media_type == "image/png"
    assert output.path.suffix == ".png"


def test_exif_orientation_is_applied_and_camera_exif_is_dropped(
    engine: LanczosEngine, tmp_path: Path
) -> None:
    # Given a landscape-stored JPEG that a camera marked "rotate 90" with a GPS position
    source = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera maker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)
    _save_detailed(tmp_path, 80, 40, source, exif=exif.tobytes())

    for output_format in ("png", "jpeg"):
        output = run_upscale(engine, source, tmp_path, {"scale": 2, "format": output_format})
        # Then the output is upright and carries neither the orientation nor the position
        with Image.open(output.path) as image:
            assert image.size == (80, 160)
            kept = image.getexif()
            assert 0x0112 not in kept and 0x010F not in kept and not kept.get_ifd(0x8825)


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (7000, 7000, "40,000,000-pixel limit"),  # over our limit, under Pillow's
        (10_000, 10_000, "decompression bomb"),  # over Pillow's warning threshold
        (50_000, 50_000, "decompression bomb"),  # over Pillow's hard limit
    ],
)
def test_decompression_bombs_are_refused_from_the_header(
    engine: LanczosEngine, tmp_path: Path, width: int, height: int, reason: str
) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(width, height))
    started = time.perf_counter()

    with pytest.raises(PermanentEngineError, match=reason):
        run_upscale(engine, bomb, tmp_path)

    assert time.perf_counter() - started < 1.0  # refused without decoding a pixel


def test_output_over_the_configured_limit_is_refused(tmp_path: Path) -> None:
    small_limits = LanczosEngine(max_output_pixels=100_000)
    source = _detailed(tmp_path, 200, 150)

    with pytest.raises(PermanentEngineError, match="100,000-pixel output limit"):
        run_upscale(small_limits, source, tmp_path, {"scale": 4})


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"name,price\nmug,18.00\n", "not an image"),
        (b"PK\x03\x04" + b"\x00" * 60, "not an image"),
        (b"", "not an image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIF/AVIF"),
    ],
)
def test_files_that_are_not_images_are_refused(
    engine: LanczosEngine, tmp_path: Path, content: bytes, reason: str
) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(content)

    with pytest.raises(PermanentEngineError, match=reason):
        run_upscale(engine, fake, tmp_path)


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_truncated_images_are_refused(engine: LanczosEngine, tmp_path: Path, suffix: str) -> None:
    whole = tmp_path / f"whole.{suffix}"
    _save_detailed(tmp_path, 320, 240, whole)
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    with pytest.raises(PermanentEngineError, match="truncated or corrupt"):
        run_upscale(engine, cut, tmp_path)


def test_animated_images_are_refused(engine: LanczosEngine, tmp_path: Path) -> None:
    animated = tmp_path / "animated.png"
    frames = [Image.new("RGB", (32, 24), colour) for colour in ("red", "blue")]
    frames[0].save(animated, save_all=True, append_images=frames[1:])

    with pytest.raises(PermanentEngineError, match="animated"):
        run_upscale(engine, animated, tmp_path)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scale": 3}, "scale"),
        ({"scale": True}, "scale"),
        ({"format": "gif"}, "format"),
        ({"format": "jpeg", "quality": 0}, "quality"),
        ({"quality": 90}, "quality"),  # the input is a PNG, which is lossless
        ({"sharpen": -1}, "sharpen"),
        ({"sharpen": "strong"}, "sharpen"),
    ],
)
def test_bad_params_are_refused_by_name(
    engine: LanczosEngine, tmp_path: Path, params: dict[str, Any], field: str
) -> None:
    source = _detailed(tmp_path, 32, 24)

    with pytest.raises(PermanentEngineError, match=f"params.{field}"):
        run_upscale(engine, source, tmp_path, params)


@pytest.fixture(scope="module")
def video_720p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of 1280x720 at 25 fps, H.264, with an AAC tone."""
    path = tmp_path_factory.mktemp("upscale-video") / "clip.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=1",
         "-f", "lavfi", "-i", "sine=f=440:d=1:sample_rate=48000",
         *H264Settings().args(fps=25), "-c:a", "aac", "-shortest", str(path)]
    )  # fmt: skip
    return path


def test_720p_video_becomes_1080p_h264_with_its_audio_copied(
    engine: LanczosEngine, video_720p: Path, tmp_path: Path
) -> None:
    output = run_upscale(engine, video_720p, tmp_path)

    assert output.media_type == "video/mp4"
    assert output.duration_s == pytest.approx(1.0, abs=0.05)
    streams = {s["codec_type"]: s for s in ffprobe(output.path)["streams"]}
    video = streams["video"]
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (video["width"], video["height"]) == (1920, 1080)
    assert _audio_packet_hashes(output.path) == _audio_packet_hashes(video_720p)


def test_portrait_video_gets_a_1080_pixel_short_side_by_default(
    engine: LanczosEngine, tmp_path: Path
) -> None:
    portrait = tmp_path / "portrait.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=360x640:r=25:d=0.4",
                *H264Settings().args(fps=25), str(portrait)])  # fmt: skip

    output = run_upscale(engine, portrait, tmp_path)

    video = ffprobe(output.path)["streams"][0]
    assert (video["width"], video["height"]) == (1080, 1920)


def test_video_already_at_the_target_height_passes_through(
    engine: LanczosEngine, video_720p: Path, tmp_path: Path
) -> None:
    output = run_upscale(engine, video_720p, tmp_path, {"target_height": 720})

    assert output.path.read_bytes() == video_720p.read_bytes()


def test_video_is_not_downscaled(engine: LanczosEngine, video_720p: Path, tmp_path: Path) -> None:
    with pytest.raises(PermanentEngineError, match="does not downscale"):
        run_upscale(engine, video_720p, tmp_path, {"target_height": 480})


def test_still_params_are_refused_for_videos(
    engine: LanczosEngine, video_720p: Path, tmp_path: Path
) -> None:
    with pytest.raises(PermanentEngineError, match=r"params\.format applies to stills"):
        run_upscale(engine, video_720p, tmp_path, {"format": "png"})


def _detailed(tmp_path: Path, width: int, height: int) -> Path:
    path = tmp_path / f"detailed-{width}x{height}.png"
    if not path.exists():
        write_detailed_image(path, width=width, height=height)
    return path


def _save_detailed(tmp_path: Path, width: int, height: int, path: Path, **options: Any) -> None:
    with Image.open(_detailed(tmp_path, width, height)) as image:
        image.save(path, **options)


def _audio_packet_hashes(path: Path) -> list[str]:
    """The MD5 of each audio packet, as stored (no decoding)."""
    listing = path.with_suffix(".audio.framemd5")
    run_ffmpeg(["-i", str(path), "-map", "0:a", "-c", "copy", "-f", "framemd5", str(listing)])
    lines = listing.read_text().splitlines()
    return [line.rsplit(",", 1)[-1].strip() for line in lines if not line.startswith("#")]
