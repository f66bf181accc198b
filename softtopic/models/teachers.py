"""Feature providers for the soft-label models' teachers (registered on import).

- "lm_hidden" + "lm_logits": ONE LanguageModelView pass per document gives the last token's final
  hidden state (the encoder input) and the next-token logits restricted to the vocabulary (the
  raw soft label); both names map to one provider, so asking for either computes (or loads from
  the cache) both. With the estimator's `store_top_k` the logits are compact: "lm_logits" is a
  `TopKLogits`, read like an N x V array whose rows are built per minibatch.
- "encoder_logits": the offline encoder teacher (`softtopic.views.encoder_teacher`), scaled
  cosines between a document's sentence embedding and each vocabulary word's. An approximation
  that needs no LM, not the paper's teacher.
- "soft_label_target" + "soft_label_neg_entropy" (derived, after "bow_neighbours"): each
  training document's target distribution, from either teacher's logits, computed once before
  training (`SoftLabelTarget.precompute`).

Settings are read from the estimator's parameters; any model exposing them (SoftLabelTM, or a
NeuralTopicModel subclass with input="lm_hidden") can use these features.
"""
from __future__ import annotations

import tempfile

import numpy as np

from ..views.encoder_teacher import DEFAULT_SCALE, EncoderTeacher
from ..views.sentence import SentenceEmbeddings
from ..views.topk import TopKLogits
from .neural import BuildContext, derived_feature, feature_provider

LM_MISSING = ("the soft-label model's LM teacher needs a language model: pass lm=<HF id or local "
              "path> (CLI: --lm), or teacher='encoder' (CLI: --teacher encoder) for the offline "
              "approximation")


def sentence_view(model) -> SentenceEmbeddings:
    """The document sentence-embedding view as the estimator's settings define it."""
    return SentenceEmbeddings(model.encoder, max_seq_length=model.max_seq_length,
                              device=model.device, cache_dir=model.cache_dir,
                              progress=model.progress)


@feature_provider("lm_hidden", "lm_logits")
def _lm_features(model, corpus, vocabulary, bow):
    lm = getattr(model, "lm", None)
    if not lm:
        raise ValueError(LM_MISSING)
    from ..views.lm import LanguageModelView  # heavy (transformers); only when an LM is used
    kwargs = {"instruction": getattr(model, "instruction", "default"),
              "chat_template": getattr(model, "chat_template", False),
              "scoring": getattr(model, "scoring", "first-token"),
              "max_document_tokens": getattr(model, "max_document_tokens", 512),
              "dtype": getattr(model, "lm_dtype", None), "device": model.device,
              "cache_dir": model.cache_dir, "progress": model.progress}
    if getattr(model, "template", None) is not None:
        kwargs["template"] = model.template
    if getattr(model, "lm_batch_size", None) is not None:
        kwargs["batch_size"] = model.lm_batch_size
    if getattr(model, "store_top_k", None) is not None:
        kwargs["store_top_k"] = model.store_top_k
    view = LanguageModelView(lm, **kwargs)
    out = view(corpus.texts, list(vocabulary.words), corpus_hash=corpus.content_hash())
    if "logits" in out:
        return {"lm_hidden": out["hidden"], "lm_logits": out["logits"]}
    return {"lm_hidden": out["hidden"],
            "lm_logits": TopKLogits.from_view(out, len(vocabulary.words))}


@feature_provider("encoder_logits")
def _encoder_teacher_features(model, corpus, vocabulary, bow):
    teacher = EncoderTeacher(sentence_view(model),
                             scale=getattr(model, "encoder_scale", DEFAULT_SCALE),
                             cache_dir=model.cache_dir, progress=model.progress)
    out = teacher(corpus.texts, list(vocabulary.words), corpus.content_hash())
    return {"encoder_logits": out["logits"]}


# A dense precomputed target larger than this is written to a memory-mapped temporary file
# (read a minibatch at a time, like any memory map) instead of being held in memory.
TARGET_IN_MEMORY_BYTES = 1 << 30


def target_array(corpus):
    """new_array(name, shape) for the precomputed target: the corpus's own (in memory; a memory
    map in a streamed corpus's work folder), or, over TARGET_IN_MEMORY_BYTES, a memory map of
    an unnamed file in the temporary folder (TMPDIR), gone when the fit's features are."""
    def new_array(name, shape):
        if getattr(corpus, "is_stream", False) or \
                int(np.prod(shape)) * 4 <= TARGET_IN_MEMORY_BYTES:
            return corpus.new_array(name, shape)
        return np.memmap(tempfile.TemporaryFile(), dtype=np.float32, mode="w+",
                         shape=tuple(shape))
    return new_array


@derived_feature("soft_label_target", "soft_label_neg_entropy", after=("bow_neighbours",))
def _soft_label_target_features(model, corpus, features, bow):
    rows = model._training_rows(bow.shape[0])
    ctx = BuildContext(model.n_topics, model.vocabulary_, {}, features, rows)
    model._report_inexact_top_k(features, rows)
    return model._soft_label(ctx).precompute(features, rows, target_array(corpus))
