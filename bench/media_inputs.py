"""The items the media figures submit: sample articles and product rows, sized per run.

Sample rows narrate at most 16.7 s (examples/products/catalog.csv at the default 20 s target:
intro, title, every feature, price, call to action), so the ~20 s and ~30 s product figures use
bench rows built on sample ones: the same catalog lines with a feature or three more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NEWS_JSONL = EXAMPLES / "news" / "batch.jsonl"
PRODUCT_IMAGES = EXAMPLES / "products" / "images"

# the sample articles that reach nearest to 60 s at a 60 s target: 59.1, 56.6 and 56.2 s
LONG_ARTICLES = ("chip-plant-0415", "wildfire-season-0414", "school-lunch-0413")
# without the anchor intro and sign-off, the lead sentence alone: about 10 s
SHORT_ARTICLE = "school-lunch-0413"
SHORT_SCRIPT = {"intro": "", "signoff": ""}
SYNC_ARTICLES = {"zh": "bridge-zh-0420", "es": "market-es-0422"}

BOTTLE_FEATURES = (
    "Keeps drinks cold for 24 hours and hot for 12",
    "leak-proof lid",
    "fits most cup holders",
    "powder-coated finish that stays grippy in wet hands",
)
MUG_FEATURES = (
    "Hand-glazed stoneware",
    "soft matte finish",
    "dishwasher and microwave safe",
    "holds 350 ml",
    "wide handle that fits two fingers",
)
RUNNER_FEATURES = (
    "Breathable knit upper",
    "8 mm heel drop",
    "recycled foam midsole",
    "weighs 240 g in size 42",
    "reflective heel tab for runs after dark",
)
# three different products (and photos, so no stage is a cache hit): 20.4, 19.2 and 18.8 s
ROUND_PRODUCTS = (
    ("BTL-ST-750-BENCH", "Insulated steel bottle 750 ml", "29.00", BOTTLE_FEATURES,
     "bottle-steel-750.jpg"),
    ("MUG-SG-350-BENCH", "Sage stoneware mug 350 ml", "18.00", MUG_FEATURES, "mug-sage.jpg"),
    ("SNK-RUN-BL-BENCH", "Lightweight road running shoe", "95.00", RUNNER_FEATURES,
     "sneaker-runner-blue.jpg"),
)  # fmt: skip
BACKPACK_FEATURES = (
    "Padded 15-inch laptop sleeve",
    "water-repellent fabric that shrugs off a downpour",
    "luggage strap that slides over a suitcase handle",
    "hidden passport pocket against the back panel",
    "two stretch side pockets for bottles and umbrellas",
    "ventilated back panel with foam channels",
    "lockable zips on the main compartment",
)
WARMUP_PRODUCT = {
    "sku": "MUG-TC-350-WARMUP", "language": "en", "title": "Terracotta stoneware mug 350 ml",
    "price": "18.00", "currency": "EUR", "features": "Hand-glazed stoneware",
    "image": "images/mug-terracotta.jpg",
}  # fmt: skip


@dataclass(frozen=True)
class ProductRow:
    """One catalog row and the photo file its "image" field names."""

    row: dict[str, str]
    photo: Path

    @property
    def photos(self) -> dict[str, Path]:
        return {self.row["image"]: self.photo}


def news_item(custom_id: str, *, tag: str) -> dict[str, Any]:
    """A sample article by custom_id, renamed `<custom_id>-<tag>`."""
    for line in NEWS_JSONL.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item["custom_id"] == custom_id:
                return {**item, "custom_id": f"{custom_id}-{tag}"}
    raise KeyError(f"no sample article {custom_id!r} in {NEWS_JSONL}")


def all_news_items(*, tag: str) -> list[dict[str, Any]]:
    """The 12 sample articles, renamed `<custom_id>-<tag>`."""
    lines = NEWS_JSONL.read_text(encoding="utf-8").splitlines()
    return [
        {**item, "custom_id": f"{item['custom_id']}-{tag}"}
        for item in (json.loads(line) for line in lines if line.strip())
    ]


def product_rows(*, count: int, feature_count: int | None = None) -> list[ProductRow]:
    """The first `count` ROUND_PRODUCTS, with their first `feature_count` features (or all)."""
    return [
        _row(sku=sku, title=title, price=price, features=features[:feature_count], image=image)
        for sku, title, price, features, image in ROUND_PRODUCTS[:count]
    ]


def backpack_row(*, feature_count: int) -> ProductRow:
    """Commuter backpack (sample BAG-CM-CH, features spelled out): 29.5 s with 7 features."""
    return _row(
        sku="BAG-CM-CH-BENCH", title="Commuter backpack 20 l", price="89.00",
        features=BACKPACK_FEATURES[:feature_count], image="backpack-commuter-charcoal.jpg",
    )  # fmt: skip


def warmup_row() -> ProductRow:
    return ProductRow(dict(WARMUP_PRODUCT), PRODUCT_IMAGES / "mug-terracotta.jpg")


def _row(*, sku: str, title: str, price: str, features: tuple[str, ...], image: str) -> ProductRow:
    row = {
        "sku": sku, "language": "en", "title": title, "price": price, "currency": "EUR",
        "features": "; ".join(features), "image": f"images/{image}",
    }  # fmt: skip
    return ProductRow(row, PRODUCT_IMAGES / image)
