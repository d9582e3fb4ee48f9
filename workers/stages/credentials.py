"""credentials stage: C2PA content credentials that mark finished media as AI-generated.

The manifest says who made the asset and how: a `c2pa.created` action whose digital source
type is IPTC's trainedAlgorithmicMedia, or compositeWithTrainedAlgorithmicMedia when real
photos went into it. Those photos are recorded as componentOf ingredients (c2pa keeps their
thumbnails and hashes), each placed by a `c2pa.placed` action. They are not parentOf: a
created asset has no parent (c2pa's CREATE intent forbids a parentOf ingredient); parentOf
means an edit of that one asset, which a video made from several photos is not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.c2pa_signer import C2paEngine, IngredientFile
from workers.media.probe import media_duration_s
from workers.provenance import mediaq_version
from workers.stages.base import Stage, StageOutput

IPTC_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPE + "trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPE + "compositeWithTrainedAlgorithmicMedia"

# IPTC digital source type terms a producer may claim instead of the default.
SOURCE_TYPE_TERMS = (
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "algorithmicMedia",
    "compositeSynthetic",
    "composite",
    "digitalCreation",
    "dataDrivenMedia",
    "algorithmicallyEnhanced",
    "humanEdits",
)

# A signature that c2pa cannot vouch for without trust anchors; every other failure means the
# freshly signed asset is broken. Production validators hold the trust list, we do not.
ACCEPTED_FAILURE_CODES = frozenset({"signingCredential.untrusted"})

MEDIA_EXTENSIONS = {
    "video/mp4": ".mp4",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
}
# ISO BMFF major brands of MP4 video; HEIF, AVIF and QuickTime share the container, not the type.
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"}
)
_PARAMS = ("title", "producer", "digital_source_type")


@dataclass(frozen=True)
class CredentialsRequest:
    """What the manifest says, validated."""

    title: str
    producer: str
    source_type: str | None  # None: chosen by whether ingredients are present


class AttachCredentials(Stage):
    """Sign a final MP4 or still with C2PA content credentials.

    Inputs: "media" (MP4, JPEG, PNG or WebP, told apart by their bytes) and optional
    "ingredients" (a list of the real photos the media was made from).
    Params: "title" (default: the item's headline or title), "producer" (default: the
    engine's configured producer), "digital_source_type" (an IPTC term from
    SOURCE_TYPE_TERMS or its full URI, overriding the default).
    """

    kind: ClassVar[str] = "credentials"
    engines: ClassVar[Mapping[str, type[Engine]]] = {"c2pa": C2paEngine}
    outputs: ClassVar[tuple[str, ...]] = ("media", "manifest")

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Any],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Embed the manifest and read it back.

        Returns:
            "media": the signed asset, same media type as the input; "manifest": JSON, the
            manifest store as c2pa's Reader reports it (with validation results) plus
            "signed_asset": sha256, media_type, size_bytes and active_manifest.

        Raises:
            PermanentEngineError: unknown media or ingredient type, bad params, or a signed
                asset that does not validate.
        """
        if not isinstance(engine, C2paEngine):
            raise PermanentEngineError(f"credentials cannot run on engine {engine.name!r}")
        request = build_request(item=item, params=params, default_producer=engine.producer)
        media_path = Path(inputs["media"])
        media_type = require_media_type(media_path, port="media")
        ingredients = read_ingredients(inputs.get("ingredients"))
        definition = build_definition(
            request=request,
            ingredient_labels=[i.definition["label"] for i in ingredients],
            generator_version=mediaq_version(),
        )
        signed_path = workdir / f"signed{MEDIA_EXTENSIONS[media_type]}"
        engine.sign(
            definition=definition,
            source_path=media_path,
            media_type=media_type,
            ingredients=ingredients,
            dest_path=signed_path,
        )
        store = engine.read_store(path=signed_path, media_type=media_type)
        check_validation(store)
        manifest_path = workdir / "manifest.json"
        record = {**store, "signed_asset": describe_asset(signed_path, media_type, store)}
        manifest_path.write_text(json.dumps(record, ensure_ascii=False, indent=1), "utf-8")
        duration_s = media_duration_s(signed_path) if media_type == "video/mp4" else None
        return [
            StageOutput("media", signed_path, media_type, duration_s=duration_s),
            StageOutput("manifest", manifest_path, "application/json"),
        ]


def build_request(
    *, item: Mapping[str, Any], params: Mapping[str, Any], default_producer: str
) -> CredentialsRequest:
    """Validate params; the title falls back to the item's headline, title or custom_id.

    Raises:
        PermanentEngineError: an unknown parameter or a malformed value, by name.
    """
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise PermanentEngineError(
            f"unknown credentials parameter(s) {', '.join(unknown)}; known: {', '.join(_PARAMS)}"
        )
    title = _text_param(params, "title") or _item_title(item)
    producer = _text_param(params, "producer") or default_producer
    source_type = params.get("digital_source_type")
    return CredentialsRequest(
        title=title,
        producer=producer,
        source_type=None if source_type is None else parse_source_type(source_type),
    )


def _text_param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PermanentEngineError(f"parameter {name!r} must be non-empty text, got {value!r}")
    return value.strip()


def _item_title(item: Mapping[str, Any]) -> str:
    for field in ("headline", "title", "custom_id"):
        value = item.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "untitled"


def parse_source_type(value: Any) -> str:
    """The full IPTC URI for a term ("trainedAlgorithmicMedia") or a URI of a known term.

    Raises:
        PermanentEngineError: anything else.
    """
    term = value.removeprefix(IPTC_SOURCE_TYPE) if isinstance(value, str) else None
    if term not in SOURCE_TYPE_TERMS:
        raise PermanentEngineError(
            f"parameter 'digital_source_type' must be one of {', '.join(SOURCE_TYPE_TERMS)} "
            f"(or its {IPTC_SOURCE_TYPE} URI), got {value!r}"
        )
    return IPTC_SOURCE_TYPE + term


def sniff_media_type(path: Path) -> str | None:
    """The MIME type of an MP4, JPEG, PNG or WebP file from its first bytes, else None."""
    with path.open("rb") as file:
        head = file.read(12)
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "video/mp4"
    return None


def require_media_type(path: Path, *, port: str) -> str:
    """sniff_media_type, or a PermanentEngineError that names the port."""
    media_type = sniff_media_type(path)
    if media_type is None:
        with path.open("rb") as file:
            head = file.read(12)
        raise PermanentEngineError(
            f"input {port!r} is not an MP4, JPEG, PNG or WebP file (starts with {head!r})"
        )
    return media_type


def read_ingredients(paths: Sequence[Path] | Path | None) -> list[IngredientFile]:
    """The ingredient photos, each named by its position and its sha256.

    Raises:
        PermanentEngineError: an ingredient that is not a JPEG, PNG or WebP image.
    """
    if paths is None:
        return []
    if isinstance(paths, Path):
        paths = [paths]
    ingredients = []
    for number, path in enumerate(paths, start=1):
        media_type = require_media_type(path, port=f"ingredients[{number - 1}]")
        if not media_type.startswith("image/"):
            raise PermanentEngineError(
                f"input 'ingredients[{number - 1}]' must be a photo, got {media_type}"
            )
        definition = {
            "title": f"photo {number}",
            "relationship": "componentOf",
            "label": f"photo-{number}",
            # the digest the object store and the provenance record know this photo by
            "instance_id": f"sha256:{_sha256(path)}",
        }
        ingredients.append(IngredientFile(path, media_type, definition))
    return ingredients


def build_definition(
    *, request: CredentialsRequest, ingredient_labels: Sequence[str], generator_version: str
) -> dict[str, Any]:
    """The c2pa manifest definition: generator, title, actions and the producer as author."""
    source_type = request.source_type or (
        COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if ingredient_labels else TRAINED_ALGORITHMIC_MEDIA
    )
    agent = {"name": "mediaq", "version": generator_version}
    created = {"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": agent}
    placed = [
        {"action": "c2pa.placed", "softwareAgent": agent, "parameters": {"ingredientIds": [label]}}
        for label in ingredient_labels
    ]
    author = {"@type": "Organization", "name": request.producer}
    creative_work = {"@context": "https://schema.org", "@type": "CreativeWork", "author": [author]}
    return {
        "claim_generator_info": [agent],
        "title": request.title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [created, *placed]}},
            {"label": "stds.schema-org.CreativeWork", "data": creative_work},
        ],
    }


def active_failure_codes(store: Mapping[str, Any]) -> list[str]:
    """Validation failure codes of the active manifest (ingredients' own are not included)."""
    results = store.get("validation_results") or {}
    failures = (results.get("activeManifest") or {}).get("failure") or []
    return [failure["code"] for failure in failures]


def check_validation(store: Mapping[str, Any]) -> None:
    """Refuse a signed asset whose manifest fails validation for any reason but trust.

    Raises:
        PermanentEngineError: listing the unexpected failure codes.
    """
    unexpected = [c for c in active_failure_codes(store) if c not in ACCEPTED_FAILURE_CODES]
    if unexpected or "active_manifest" not in store:
        raise PermanentEngineError(
            f"the signed asset does not validate: {', '.join(unexpected) or 'no active manifest'}"
        )


def describe_asset(path: Path, media_type: str, store: Mapping[str, Any]) -> dict[str, Any]:
    """What links the manifest JSON to the signed file: its digest and the manifest label."""
    return {
        "sha256": _sha256(path),
        "media_type": media_type,
        "size_bytes": path.stat().st_size,
        "active_manifest": store["active_manifest"],
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
