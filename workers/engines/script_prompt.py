"""The instructions a language model gets to write an anchor script body (no model code here).

The model writes only the body. The anchor's intro, a product's price line and the sign-off
come from the same rules as the extractive engine (workers.engines.extractive), so station
branding and prices never depend on what a model chose to say.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.engines.extractive import NewsSource, ProductSource, ScriptRequest

LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "zh": "Simplified Chinese"}
# Plain-prompt mode (a tokenizer without a chat template): the model continues after this.
PLAIN_PROMPT_CUE = "Script:"


@dataclass(frozen=True)
class Prompt:
    """What to ask: a system instruction and the user's material."""

    system: str
    user: str

    def as_messages(self) -> list[dict[str, str]]:
        """Chat messages for tokenizer.apply_chat_template()."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    def as_single_message(self) -> list[dict[str, str]]:
        """One user message, for chat templates that accept no system turn."""
        return [{"role": "user", "content": f"{self.system}\n\n{self.user}"}]

    def as_plain_text(self) -> str:
        """One prompt for base models without a chat template, ending where the script starts."""
        return f"{self.system}\n\n{self.user}\n\n{PLAIN_PROMPT_CUE}"


def build_prompt(*, request: ScriptRequest, base: str, body_units: int, source_text: str) -> Prompt:
    """The instruction for a body of about `body_units` words (Chinese: characters).

    Args:
        request: the item and its language.
        base: primary language subtag ("en", "es", "zh").
        body_units: how long the body should be, in the language's rate unit.
        source_text: the article body or the features, possibly shortened to fit the context.
    """
    unit = "Chinese characters" if base == "zh" else "words"
    language = LANGUAGE_NAMES[base]
    common = (
        f"Write in {language}, about {body_units} {unit}, as full sentences of plain spoken text: "
        "no title, no lists, no markup, no greeting and no sign-off."
    )
    if isinstance(request.source, NewsSource):
        return Prompt(
            system="You write what a television news anchor reads aloud. Use only facts from "
            f"the article and say the most important fact first. {common}",
            user=f"Headline: {request.source.headline}\n\nArticle:\n{source_text}",
        )
    return Prompt(
        system="You write the voiceover of a short product video. Describe what the product "
        f"does for the buyer using only the listed features; do not mention the price. {common}",
        user=f"Product: {request.source.title}\n\nFeatures:\n{source_text}",
    )


def source_text(*, request: ScriptRequest) -> str:
    """The material the model writes from: the article body, or one feature per line."""
    source = request.source
    if isinstance(source, ProductSource):
        return "\n".join(f"- {feature}" for feature in source.features)
    return source.body
