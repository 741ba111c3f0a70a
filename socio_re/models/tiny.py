"""Tiny random-weight models built offline, so tests and the default runs need no hub.

- ``tiny_causal``: a real ``Qwen2ForCausalLM`` architecture at toy size with a byte-level BPE
  tokenizer trained on the project's SocSci-style text and a ChatML chat template (the format of
  Qwen2.5-Instruct), for causal-LM tasks; a classifier can load the same kind of checkpoint as a
  decoder (``tiny_decoder``, tokenizer trained on biomedical sample text).
- ``tiny_encoder``: a BERT architecture at toy size with a WordPiece tokenizer trained on the
  biomedical sample text, for the classification tasks.

Everything is saved with ``save_pretrained`` (safetensors) and loaded through exactly the same
``from_pretrained`` path as a hub checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from socio_re.data.cache import build_once, is_complete

log = logging.getLogger(__name__)

# Bump when the builder changes what it produces, so cached builds are not reused.
BUILDER_VERSION = 2

# The tokenizer corpora (provided by the tasks): SocSci-style survey prompts for the causal LM,
# LitCoin-style biomedical abstracts for the encoder and the decoder classifier.
CHAT_CORPUS = "socsci"
RELATION_CORPUS = "litcoin"

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ChatML, as Qwen2.5-Instruct uses. The {% generation %} markers let tools that want an
# assistant-token mask (TRL's assistant_only_loss) find the assistant turns.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

TINY_CAUSAL_DEFAULTS = {
    "vocab_size": 3000,
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
}


def check_model_folder(path: Path) -> str | None:
    """What a saved model folder lacks for ``from_pretrained`` (None when it is whole): a
    config.json naming its model_type, the weights (every shard of a sharded save) and a
    tokenizer. Under torch.distributed, ``save_pretrained`` writes weights and config only on
    rank 0 while the tokenizer saves everywhere, so a folder can look built and hold no model."""
    import json

    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return "no readable config.json"
    if "model_type" not in config:
        return "config.json without a model_type"
    index = path / "model.safetensors.index.json"
    if index.exists():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError):
            return "an unreadable model.safetensors.index.json"
        if absent := sorted(s for s in shards if not (path / s).exists()):
            return f"missing weight shards {', '.join(absent)}"
    elif not (path / "model.safetensors").exists():
        return "no model.safetensors"
    if not any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json")):
        return "no tokenizer"
    return None


def corpus_texts(corpus: str) -> list[str]:
    """The text a tiny model's tokenizer is trained on: the corpus of that name that a task
    provides (``TaskSpec.tokenizer_corpora``; e.g. ``socsci``, ``litcoin``: generated samples
    in the real schemas)."""
    from socio_re.config.task_contract import resolve_hook
    from socio_re.config.tasks import task_of_corpus

    spec = task_of_corpus(corpus)
    if spec is None:
        raise ValueError(f"no task provides the tokenizer corpus {corpus!r}")
    return list(resolve_hook(spec.tokenizer_corpora[corpus])())


def train_tokenizer(corpus: Iterable[str], vocab_size: int):
    """Train a byte-level BPE (digits split one by one, as Qwen does) and wrap it for HF."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=TINY_CAUSAL_DEFAULTS["max_position_embeddings"],
    )
    hf_tok.chat_template = CHATML_TEMPLATE
    return hf_tok


def build_tiny_causal_lm(out_dir: str | Path, *, seed: int = 0, corpus: str = CHAT_CORPUS,
                         **overrides) -> Path:
    """Build tokenizer + random-weight Qwen2 causal LM into ``out_dir`` (atomically)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    spec = {**TINY_CAUSAL_DEFAULTS, **overrides}
    log.info("building the offline tiny causal LM into %s (once; cached afterwards)", out_dir)
    texts = corpus_texts(corpus)
    tokenizer = train_tokenizer(texts, spec["vocab_size"])
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec["hidden_size"],
        intermediate_size=spec["intermediate_size"],
        num_hidden_layers=spec["num_hidden_layers"],
        num_attention_heads=spec["num_attention_heads"],
        num_key_value_heads=spec["num_key_value_heads"],
        max_position_embeddings=spec["max_position_embeddings"],
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    return build_once(out_dir, write, meta={"builder": "tiny_causal", "corpus": corpus,
                                            "version": BUILDER_VERSION, "spec": spec},
                      check=check_model_folder)


TINY_ENCODER_DEFAULTS = {
    "vocab_size": 3000,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "max_position_embeddings": 512,
}


def train_wordpiece(corpus: list[str], vocab_size: int, specials: list[str]):
    """A BERT-style WordPiece tokenizer trained on ``corpus``, the same from one build to the
    next.

    ``tokenizers``' WordPiece trainer (a BPE trainer with a ``##`` continuing-subword prefix)
    gives each ``##c`` token its id in the order it meets words in a hash map, which changes
    from process to process; merges with equal counts are broken by those ids, so the learned
    vocabulary changed with them (2,538 vs 2,531 entries between two builds). Listing every
    ``##c`` up front, in sorted order, among the trainer's special tokens fixes their ids
    before any word is read; the tokenizer is then rebuilt from the learned vocabulary so that
    only the real special tokens are added tokens."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    def configure(tok: Tokenizer) -> Tokenizer:
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        return tok

    trainer_tok = configure(Tokenizer(models.WordPiece(unk_token="[UNK]")))
    chars = sorted({c for text in corpus for c in trainer_tok.normalizer.normalize_str(text)
                    if not c.isspace()})
    continuing = [f"##{c}" for c in chars]
    trainer_tok.train_from_iterator(corpus, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=specials + continuing,
        initial_alphabet=chars, show_progress=False))
    tok = configure(Tokenizer(models.WordPiece(trainer_tok.get_vocab(), unk_token="[UNK]")))
    tok.add_special_tokens(specials)
    return tok


def build_tiny_encoder(out_dir: str | Path, *, seed: int = 0, **overrides) -> Path:
    """Build a WordPiece tokenizer + random-weight BERT encoder into ``out_dir``."""
    import torch
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    spec = {**TINY_ENCODER_DEFAULTS, **overrides}
    log.info("building the offline tiny encoder into %s (once; cached afterwards)", out_dir)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = train_wordpiece(corpus_texts(RELATION_CORPUS), spec["vocab_size"], specials)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
        model_max_length=spec["max_position_embeddings"])
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=spec["hidden_size"],
        intermediate_size=spec["intermediate_size"],
        num_hidden_layers=spec["num_hidden_layers"],
        num_attention_heads=spec["num_attention_heads"],
        max_position_embeddings=spec["max_position_embeddings"],
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = BertModel(config)

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    return build_once(out_dir, write, meta={"builder": "tiny_encoder",
                                            "version": BUILDER_VERSION, "spec": spec},
                      check=check_model_folder)


def build_tiny_decoder(out_dir: str | Path, *, seed: int = 0) -> Path:
    return build_tiny_causal_lm(out_dir, seed=seed, corpus=RELATION_CORPUS)


BUILDERS = {
    "tiny_causal": build_tiny_causal_lm,
    "tiny_decoder": build_tiny_decoder,
    "tiny_encoder": build_tiny_encoder,
}


def ensure_built(builder: str, path: str | Path) -> Path:
    """Return ``path``, building the offline model there first if it is not there yet."""
    path = Path(path)
    if is_complete(path, check_model_folder):
        return path
    if builder not in BUILDERS:
        from socio_re.errors import ConfigError

        raise ConfigError("model.build", builder, ", ".join(sorted(BUILDERS)))
    return BUILDERS[builder](path)
