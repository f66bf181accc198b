"""BAT (Hoyle, Goel and Resnik, EMNLP 2020): knowledge distillation from a BERT autoencoder
teacher into any topic model that reconstructs the bag of words.

`BAT(student="prodlda")` is the student preset (any registered neural preset whose target is the
bag of words: "prodlda", "combined", "ecrtm", ...) with its reconstruction target replaced by
`DistillationTarget` (teacher logits clipped, tempered, scaled to the document length, mixed with
the document's counts). The student keeps its own input, decoder, regularisers and defaults: the
instance is of a class made once per student, `BAT` + the student's class (so
`isinstance(BAT(student="ecrtm"), ECRTM)` holds), and saved models load through `BAT` again.

The teacher (`softtopic.views.teacher`) is trained once per (settings, corpus, vocabulary) and its
logits are cached as the `"teacher_logits"` view. By default the student's encoder reads only its
own input: the teacher is needed in training only. `teacher_input=True` is the authors' code
behaviour: the teacher logits are also concatenated to the encoder input, so new documents need
the teacher at inference (its weights are then saved with the model).
"""
from __future__ import annotations

from ..params import Number, OneOf, positive_integer, positive_number
from ..views.teacher import MODES, BowTeacher, teacher_logits_view
from .base import MODEL_CLASSES
from .neural import NeuralTopicModel, feature_provider
from .targets import BowReconstruction, DistillationTarget

_DISTILLED: dict[type, type] = {}


def distilled_class(student: str) -> type:
    """The class `BAT` + the student preset's class (made once per student)."""
    from .registry import get_model_class
    base = get_model_class(student)
    if not issubclass(base, NeuralTopicModel) or issubclass(base, BAT):
        raise ValueError(f"student must name a neural topic model preset, got {student!r}")
    if base not in _DISTILLED:
        _DISTILLED[base] = type("BAT", (BAT, base), {"__module__": __name__,
                                                     "__doc__": BAT.__doc__,
                                                     "_student_class": base})
        MODEL_CLASSES["BAT"] = BAT  # a saved "BAT" loads through BAT, which picks the student
    return _DISTILLED[base]


@feature_provider("teacher_logits")
def _teacher_logits_feature(model, corpus, vocabulary, bow):
    if not hasattr(model, "_teacher_logits"):
        raise ValueError("the 'teacher_logits' feature is computed by a BAT model's teacher")
    return {"teacher_logits": model._teacher_logits(corpus, bow)}


class BAT(NeuralTopicModel):
    """BAT: a student topic model (default ProdLDA) distilling a BoW-autoencoder teacher.

    kd_weight (lambda), kd_temperature (T), kd_clip (c): the distillation target
        lambda T^2 CE(N_d softmax(clip_c(z_d) / T), student_T) + (1 - lambda) CE(bow, student),
        defaults 0.5, 1, 10 as the authors' README run.
    teacher_mode: "head" (frozen sentence encoder, trained head; default) or "finetune"
        (a transformers encoder fine-tuned with the head; use a GPU).
    teacher_encoder: the teacher's encoder (default: `encoder`, the bundled sentence encoder).
    teacher_epochs, teacher_lr, teacher_batch_size: None for the mode's defaults
        (head: 50 / 1e-3 / 64; finetune: 6 / 5e-5 / 20; both with held-out early stopping).
    teacher_chunk_words: long documents are split into chunks of this many words and the
        chunks' logits averaged (None: one chunk, truncated at max_seq_length tokens).
    teacher_input: also feed the teacher logits to the student's encoder (the authors' code).
    """

    _student_class: type | None = None
    _parameter_constraints = {
        "kd_weight": Number(0, 1), "kd_temperature": positive_number(),
        "kd_clip": OneOf(None, positive_number()),
        "teacher_epochs": OneOf(None, positive_integer()),
        "teacher_lr": OneOf(None, positive_number()),
        "teacher_batch_size": OneOf(None, Number(2, kind="integer")),
        "teacher_chunk_words": OneOf(None, positive_integer()),
    }

    def __new__(cls, *args, **kwargs):
        return object.__new__(distilled_class(kwargs.get("student", "prodlda")))

    def __init__(self, n_topics: int = 50, *, student: str = "prodlda", kd_weight: float = 0.5,
                 kd_temperature: float = 1.0, kd_clip: float | None = 10.0,
                 teacher_mode: str = "head", teacher_encoder: str | None = None,
                 teacher_epochs: int | None = None, teacher_lr: float | None = None,
                 teacher_batch_size: int | None = None, teacher_chunk_words: int | None = 200,
                 teacher_input: bool = False, **kwargs):
        self.student = student
        self.kd_weight = kd_weight
        self.kd_temperature = kd_temperature
        self.kd_clip = kd_clip
        self.teacher_mode = teacher_mode
        self.teacher_encoder = teacher_encoder
        self.teacher_epochs = teacher_epochs
        self.teacher_lr = teacher_lr
        self.teacher_batch_size = teacher_batch_size
        self.teacher_chunk_words = teacher_chunk_words
        self.teacher_input = teacher_input
        super().__init__(n_topics, **kwargs)

    # ------------------------------------------------------------------ preset hooks
    def _validate_params(self):
        if distilled_class(self.student) is not type(self):
            raise ValueError(f"student was changed to {self.student!r} after construction; "
                             "make a new BAT(student=...) instead")
        super()._validate_params()
        if self.teacher_mode not in MODES:
            raise ValueError(f"teacher_mode must be one of {MODES}, got {self.teacher_mode!r}")

    def _input_features(self) -> tuple[str, ...]:
        inputs = super()._input_features()
        return inputs + ("teacher_logits",) if self.teacher_input else inputs

    def _extra_features(self) -> tuple[str, ...]:
        return (*super()._extra_features(), "teacher_logits")

    def _build_target(self, ctx):
        own = super()._build_target(ctx)
        if not isinstance(own, BowReconstruction) or self._target_feature() != "bow":
            raise ValueError(f"BAT distils into a bag-of-words reconstruction; student "
                             f"{self.student!r} reconstructs {self._target_feature()!r}")
        return DistillationTarget(self.kd_weight, self.kd_temperature, self.kd_clip)

    # ------------------------------------------------------------------ teacher
    def _make_teacher(self) -> BowTeacher:
        return BowTeacher(self.teacher_mode, self.teacher_encoder or self.encoder,
                          self.teacher_epochs, self.teacher_lr, self.teacher_batch_size,
                          self.teacher_chunk_words, self.max_seq_length, seed=self.seed,
                          device=self.device, cache_dir=self.cache_dir, progress=self.progress)

    def _teacher_logits(self, corpus, bow):
        if getattr(self, "teacher_", None) is not None:  # transform (teacher_input=True)
            return self.teacher_.logits(corpus.texts)
        teacher = self._make_teacher()
        logits = teacher_logits_view(teacher, corpus.texts, bow, corpus.content_hash(),
                                     self.vocabulary_.content_hash())
        self.teacher_ = teacher
        self.teacher_history_ = teacher.history
        return logits

    def fit(self, X, y=None, features: dict | None = None):
        self.teacher_ = None
        return super().fit(X, y, features)

    # ------------------------------------------------------------------ persistence
    def _state_tensors(self):
        tensors = super()._state_tensors()
        if self.teacher_input:
            if getattr(self, "teacher_", None) is None:
                raise ValueError("teacher_input=True needs the teacher to transform new documents, "
                                 "but this model was fitted on precomputed teacher logits")
            tensors.update({f"teacher.{k}": v for k, v in self.teacher_.state_dict().items()})
        return tensors

    def _restore(self, config, tensors):
        super()._restore(config, tensors)
        self.teacher_ = None
        state = {k[len("teacher."):]: v for k, v in tensors.items() if k.startswith("teacher.")}
        if state:
            self.teacher_ = self._make_teacher().load_state_dict(state, len(self.vocabulary_))

