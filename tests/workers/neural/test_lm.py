"""Tests of the causal_lm script engine on tiny local transformers models built here.

Two models, both saved with save_pretrained and loaded back by the engine from disk:
- a Llama whose greedy output is set by its weights: attention and MLP outputs are zeroed,
  so the last hidden state is the current token's embedding (one-hot), and lm_head maps each
  token to the next one of a chosen text. It writes exactly what a test asks for, through
  the real chat template, generate() and decoding.
- a GPT-2 with random weights and no chat template (plain prompt), which writes noise.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tests.workers.neural.conftest import requires_gpu  # noqa: E402
from workers.engines.base import PermanentEngineError  # noqa: E402
from workers.engines.causal_lm import CausalLMEngine  # noqa: E402
from workers.engines.extractive import NewsSource, ProductSource, ScriptRequest  # noqa: E402
from workers.engines.neural.config import NeuralConfig  # noqa: E402
from workers.engines.script_prompt import PLAIN_PROMPT_CUE  # noqa: E402
from workers.speech.script_check import ScriptRejected, check_script_text  # noqa: E402
from workers.stages.script import WriteScript  # noqa: E402

SPECIALS = ["<unk>", "<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|> {{ m.content }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m.role == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<|{{ m.role }}|> {{ m.content }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
GOOD = (
    "The harbor bridge reopened on Tuesday, two weeks before schedule. "
    "Crews replaced 1240 steel plates and the toll stays at 2 dollars."
)
SPANISH = "El puente del puerto se abrió el martes, dos semanas antes de lo previsto por la ciudad."
RAMBLING = (
    "Officials said that the new harbor bridge deck was tested with trucks carrying more than "
    "forty tonnes each across every lane while engineers measured how far it moved under load."
)
LONG = (
    "Engineers tested every lane of a new deck with trucks carrying forty tonnes, officials said."
)
ARTICLE = NewsSource(
    headline="Harbor bridge reopens two weeks ahead of schedule",
    body="The Eastside Harbor Bridge reopened to traffic at six o'clock on Tuesday morning, two "
    "weeks earlier than the city had promised. Crews replaced 1,240 steel plates. The toll "
    "stays at $2.",
)


def chain_words(text: str) -> list[str]:
    return text.split()


def build_tokenizer(
    path: Path, texts: list[str], *, has_chat_template: bool, template: str = CHAT_TEMPLATE
) -> dict[str, int]:
    """A word-level tokenizer over `texts` (whitespace-split, punctuation kept on words)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for word in [*SPECIALS, PLAIN_PROMPT_CUE, *(w for t in texts for w in t.split())]:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        additional_special_tokens=SPECIALS[4:],
    )
    if has_chat_template:
        tokenizer.chat_template = template
    tokenizer.save_pretrained(path)
    return vocab


def build_writer_model(
    path: Path, text: str, *, has_chat_template: bool = True, template: str = CHAT_TEMPLATE
) -> Path:
    """A tiny Llama whose greedy continuation of any prompt is `text`, then </s>."""
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = [GOOD, SPANISH, LONG, RAMBLING, text]
    vocab = build_tokenizer(path, texts, has_chat_template=has_chat_template, template=template)
    size = len(vocab)
    hidden = 8 * (size // 8 + 1)
    config = LlamaConfig(
        vocab_size=size, hidden_size=hidden, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
        tie_word_embeddings=False, bos_token_id=2, eos_token_id=3, pad_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    cue = "<|assistant|>" if has_chat_template else PLAIN_PROMPT_CUE
    chain = [cue, *chain_words(text), "</s>"]
    assert len(set(chain)) == len(chain), "a bigram chain needs distinct words"
    with torch.no_grad():
        model.model.embed_tokens.weight.zero_()
        model.model.embed_tokens.weight[:, :size] = torch.eye(size)
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.zero_()
        for current, following in zip(chain, chain[1:], strict=False):
            model.lm_head.weight[vocab[following], vocab[current]] = 10.0
    model.save_pretrained(path)
    return path


def build_noise_model(path: Path) -> Path:
    """A random GPT-2 without a chat template: it continues the plain prompt with noise."""
    from transformers import GPT2Config, GPT2LMHeadModel

    vocab = build_tokenizer(
        path, [GOOD, SPANISH, LONG, RAMBLING, ARTICLE.body], has_chat_template=False
    )
    config = GPT2Config(
        vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=2, n_positions=1024,
        bos_token_id=2, eos_token_id=3, pad_token_id=1,
    )  # fmt: skip
    torch.manual_seed(1)
    GPT2LMHeadModel(config).save_pretrained(path)
    return path


def load_engine(path: Path) -> CausalLMEngine:
    engine = CausalLMEngine(NeuralConfig(device="cpu"), model_dir=path)
    engine.load()
    return engine


def news_request(*, target_duration_s: float = 30, language: str = "en") -> ScriptRequest:
    return ScriptRequest(language=language, source=ARTICLE, target_duration_s=target_duration_s)


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> CausalLMEngine:
    return load_engine(build_writer_model(tmp_path_factory.mktemp("good"), GOOD))


def test_a_model_that_writes_good_english_gives_an_anchor_script_with_numbers_spelled(writer):
    script = writer.write_script(request=news_request())

    assert script.sentences[0] == "Good morning."
    assert script.sentences[-1] == "Thank you for watching."
    body = " ".join(script.sentences)
    assert "The harbor bridge reopened on Tuesday" in body
    assert "one thousand two hundred forty steel plates" in body
    assert "two dollars" in body
    assert not any(char.isdigit() for char in script.text)
    assert script.item_kind == "news" and script.rate_unit == "words"
    assert 0 < script.estimated_duration_s <= 30 * 1.25


def test_the_engine_reports_backend_precision_and_the_weights_digest(writer):
    facts = writer.runtime_info()

    assert facts["backend"] == "torch-cpu" and facts["precision"] == "fp32"
    assert writer.model_digest is not None and len(writer.model_digest) == 64
    assert writer.runtime.device_name == "cpu"


def test_decoding_is_deterministic(writer):
    assert writer.write_script(request=news_request()) == writer.write_script(
        request=news_request()
    )


def test_the_script_stage_writes_the_same_json_document_as_with_the_extractive_engine(
    writer, tmp_path
):
    item = {"language": "en", "headline": ARTICLE.headline, "body": ARTICLE.body}

    [output] = WriteScript().run(
        item=item, inputs={}, params={"target_duration_s": 30}, engine=writer, workdir=tmp_path
    )

    document = json.loads(output.path.read_text("utf-8"))
    assert set(document) == {
        "language", "item_kind", "headline", "text", "sentences", "source_sentence_indices",
        "target_duration_s", "estimated_duration_s", "words_per_minute", "rate_unit",
    }  # fmt: skip
    assert document["source_sentence_indices"] == []
    assert document["text"] == " ".join(document["sentences"])


def test_a_product_gets_the_models_description_between_title_price_and_signoff(writer):
    product = ProductSource(
        title="Harbor lamp", features=("Bright",), price=Decimal(18), currency="USD"
    )
    request = ScriptRequest(language="en", source=product, target_duration_s=30)

    script = writer.write_script(request=request)

    assert script.sentences[0] == "Introducing: Harbor lamp."
    assert script.sentences[-2:] == ("It costs eighteen dollars.", "Available now.")
    assert script.item_kind == "product"


def test_the_plain_prompt_is_used_when_the_tokenizer_has_no_chat_template(tmp_path):
    engine = load_engine(build_writer_model(tmp_path, GOOD, has_chat_template=False))

    script = engine.write_script(request=news_request())

    assert "The harbor bridge reopened on Tuesday" in script.text


def test_a_chat_template_without_a_system_turn_gets_the_instruction_in_the_user_turn(tmp_path):
    engine = load_engine(build_writer_model(tmp_path, GOOD, template=NO_SYSTEM_TEMPLATE))

    script = engine.write_script(request=news_request())

    assert "The harbor bridge reopened on Tuesday" in script.text


def test_output_in_another_language_is_refused(tmp_path):
    engine = load_engine(build_writer_model(tmp_path, SPANISH))

    with pytest.raises(PermanentEngineError, match=r"refused: it does not read as 'en' prose"):
        engine.write_script(request=news_request())


def test_empty_output_is_refused(tmp_path):
    engine = load_engine(build_writer_model(tmp_path, ""))

    with pytest.raises(PermanentEngineError, match=r"refused: it is empty"):
        engine.write_script(request=news_request())


def test_a_script_far_over_the_target_duration_is_refused(tmp_path):
    engine = load_engine(build_writer_model(tmp_path, LONG))

    with pytest.raises(PermanentEngineError, match=r"refused: it is too long: about \d+ s"):
        engine.write_script(request=news_request(target_duration_s=10))


def test_a_model_that_never_finishes_a_sentence_within_the_token_budget_is_refused(tmp_path):
    engine = load_engine(build_writer_model(tmp_path, RAMBLING))

    with pytest.raises(PermanentEngineError, match=r"did not finish a sentence within \d+ tokens"):
        engine.write_script(request=news_request(target_duration_s=10))


def test_a_random_model_writes_noise_and_the_noise_is_refused_not_passed_on(tmp_path):
    engine = load_engine(build_noise_model(tmp_path))

    with pytest.raises(PermanentEngineError, match=r"was refused: it ") as refused:
        engine.write_script(request=news_request())

    assert "try the 'extractive' engine" in str(refused.value)


def test_a_missing_model_folder_fails_at_load_naming_the_setting(tmp_path):
    engine = CausalLMEngine(NeuralConfig(device="cpu"), model_dir=tmp_path / "absent")

    with pytest.raises(PermanentEngineError, match="MEDIAQ_SCRIPT_MODEL_DIR"):
        engine.load()


@pytest.mark.parametrize(
    ("text", "language", "reason"),
    [
        ("", "en", "empty"),
        ("今天市政府宣布新的预算。", "en", "not written in the Latin script"),
        ("The city council approved the budget on Tuesday.", "zh", "not Chinese"),
        ("the plan the plan the plan the plan the plan the plan", "en", "repeats itself"),
        ("Bridge crews steel plates Tuesday morning reopened traffic toll", "en", "'en' prose"),
        ("The city council approved a budget for the parks of the town.", "es", "'es' prose"),
    ],
)
def test_the_checks_name_what_is_wrong(text, language, reason):
    with pytest.raises(ScriptRejected, match=reason):
        check_script_text(text=text, language=language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (GOOD, "en"),
        (SPANISH, "es-MX"),
        (
            "市政府周二宣布，港口大桥比原计划提前两周重新开放。工人们更换了一千多块钢板，过桥费保持不变。",
            "zh",
        ),
    ],
)
def test_the_checks_accept_ordinary_news_prose(text, language):
    check_script_text(text=text, language=language)


@pytest.mark.gpu
@requires_gpu
def test_on_cuda_the_model_runs_in_fp16_and_writes_the_same_script(writer, tmp_path):
    engine = CausalLMEngine(
        NeuralConfig(device="cuda"), model_dir=build_writer_model(tmp_path, GOOD)
    )
    engine.load()

    facts = engine.runtime_info()

    assert (facts["backend"], facts["precision"]) == ("torch-cuda", "fp16")
    assert engine.write_script(request=news_request()) == writer.write_script(
        request=news_request()
    )
