"""Build the relext pair classifier: backbone + markers + pooling + (optionally) LoRA."""

from __future__ import annotations

import logging

from socio_re.config.schema import RunConfig

log = logging.getLogger(__name__)


def input_embedding_name(model) -> str:
    """Leaf name of the input embedding module (word_embeddings, embed_tokens, ...)."""
    emb = model.get_input_embeddings()
    for name, module in model.named_modules():
        if module is emb:
            return name.rsplit(".", 1)[-1]
    raise ValueError("input embedding module not found")


def build_classifier(rc: RunConfig, labels: tuple[str, ...], class_weights=None, strategy=True):
    """``strategy=False`` builds a plain CPU copy (no quantization), to receive gathered weights."""
    from socio_re.models.classifier import SequenceClassifier, default_pooling
    from socio_re.models.load import (
        count_parameters,
        load_backbone,
        load_tokenizer,
        resolve_model_path,
    )
    from socio_re.tasks.relext.data.transforms import marker_tokens
    from socio_re.tasks.relext.encode import prepare_tokenizer
    from socio_re.tasks.relext.novelty import model_labels

    path = resolve_model_path(rc.model)
    tokenizer = load_tokenizer(rc.model, path, require_chat_template=False)
    tokenizer.padding_side = "right"  # last-token pooling reads attention_mask.sum() - 1
    backbone = load_backbone(rc.model, tokenizer, path,
                             strategy=rc.strategy if strategy else None)
    if getattr(backbone, "pooler", None) is not None:
        # BERT's pooler is never used (we pool ourselves); unused parameters break DDP.
        backbone.pooler = None
    if strategy:
        from socio_re.models.load import prepare_quantized

        backbone = prepare_quantized(backbone, rc.strategy, rc.trainer.gradient_checkpointing)
    has_markers = rc.task.transform != "entity_mask" or bool(marker_tokens(rc.task.transform))
    pooling = rc.task.pooling if rc.task.pooling != "auto" else default_pooling(
        rc.model.kind, has_markers)
    # labels: the type labels; with task.novelty=joint the classes are (type, novelty) pairs.
    novelty = rc.task.novelty if rc.task.novelty != "none" else None
    model = SequenceClassifier(backbone, len(model_labels(labels, rc.task.novelty)), pooling,
                           label_smoothing=rc.task.label_smoothing, class_weights=class_weights,
                           novelty=novelty, novelty_loss_weight=rc.task.novelty_loss_weight)
    new_ids = prepare_tokenizer(tokenizer, model, rc.task.transform)
    if rc.finetune.method == "lora":
        model = wrap_lora(model, rc, new_ids)
    trainable, total = count_parameters(model)
    log.info("pair classifier on %s (%s, pooling=%s, novelty=%s): %.2fM parameters, %.2fM "
             "trainable (%s), %d new marker tokens", rc.model.name, path, pooling,
             rc.task.novelty, total / 1e6, trainable / 1e6, rc.finetune.method, len(new_ids))
    return model, tokenizer, pooling


def wrap_lora(model, rc: RunConfig, new_token_ids: list[int]):
    """LoRA on the backbone; the head trains fully and is saved; new marker rows train too."""
    from peft import LoraConfig, get_peft_model

    ft = rc.finetune
    targets = ft.target_modules if ft.target_modules is not None else rc.model.lora_target_modules
    kwargs = {}
    if new_token_ids:
        kwargs["trainable_token_indices"] = {input_embedding_name(model): list(new_token_ids)}
    cfg = LoraConfig(r=ft.lora_r, lora_alpha=ft.lora_alpha, lora_dropout=ft.lora_dropout,
                     target_modules=targets if isinstance(targets, str) else list(targets),
                     modules_to_save=["head"], **kwargs)
    try:
        return get_peft_model(model, cfg)
    except ValueError as exc:
        from socio_re.errors import ConfigError

        raise ConfigError("finetune.target_modules", targets,
                          "module names present in the model, or all-linear",
                          str(exc).splitlines()[0][:200]) from exc


def unwrap_for_saving(model):
    """A plain SequenceClassifier: LoRA merged into the weights, the trained head in place."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def classifier_saver(rc: RunConfig, labels: tuple[str, ...], tokenizer):
    """How rank 0 writes the trained classifier (``save_fn`` of the export): a plain directory,
    LoRA merged, from the gathered weights of whatever engine ran."""
    from socio_re.tasks.relext.novelty import model_labels

    def save(model, directory, state):
        if rc.strategy.quantization:
            # QLoRA: merge the adapters into the full-precision base (the usual export), not
            # into the 4-bit weights they were trained against. Under FSDP the gathered state
            # holds the packed 4-bit base too: keep only what training changed.
            trained = {"lora_", "modules_to_save", "trainable_tokens"}
            state = {k: v for k, v in (state or model.state_dict()).items()
                     if any(t in k for t in trained)}
        if state is not None:
            # Sharded engine: the gathered weights go into a fresh unsharded copy (built
            # outside ZeRO-3's partitioning context, which would wait for the other ranks).
            from socio_re.training.export import leave_distributed_context

            leave_distributed_context()
            fresh, _, _ = build_classifier(rc, labels, strategy=False)
            fresh.load_state_dict(state, strict=False)
            model = fresh
        unwrap_for_saving(model).save(directory, tokenizer,
                                      labels=list(model_labels(labels, rc.task.novelty)))

    return save

