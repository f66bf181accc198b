"""Named models: the backbone with a choice of input, decoder, target and regularisers.

An ablation or a new model is a new preset here, not a new copy of the training code.
"""
from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from ..params import (Number, OneOf, ParameterError, non_negative_number, positive_integer,
                      positive_number)
from ..training import TrainingConfig
from ..views.encoder_teacher import DEFAULT_SCALE
from . import neighbourhood  # noqa: F401  (registers the bow_neighbours and cluster_input features)
from . import teachers  # noqa: F401  (registers the lm_hidden/lm_logits/encoder_logits features)
from .decoders import EmbeddingDistanceDecoder, ETMDecoder, TransportPlanDecoder
from .neural import BuildContext, NeuralTopicModel
from .regularizers import EmbeddingClusteringRegularizer, TransportCostRegularizer
from .targets import (CENTRE_NEEDS_DENSE, BowReconstruction, PrecomputedSoftLabel, SoftLabelTarget,
                      word_means)
from .word_embeddings import vocabulary_word_embeddings


class ProdLDA(NeuralTopicModel):
    """ProdLDA (Srivastava & Sutton 2017), as CTM/OCTIS implement it: reads and reconstructs the
    bag of words."""

    default_input = "bow"


class ZeroShotTM(NeuralTopicModel):
    """ZeroShotTM (Bianchi et al. 2021): the encoder reads a sentence embedding, the decoder
    reconstructs the bag of words. Theta for new documents needs only their embedding."""

    default_input = "embedding"


class CombinedTM(NeuralTopicModel):
    """CombinedTM (Bianchi et al. 2021): the encoder reads the bag of words concatenated with a
    sentence embedding that a linear layer first projects to |V| dimensions, as CTM's
    `adapt_bert`. (Without the projection the two stacked linear maps span the same functions,
    but the 384-d embedding then weighs little beside the 2,000-d bag of words at the start of
    training, and topics came out clearly less coherent: bench/train_speed.py, NPMI 0.060 vs
    CTM's 0.109 on 20NG at 20 epochs.)"""

    default_input = "bow+embedding"

    def _input_projections(self, ctx: BuildContext) -> dict[str, tuple[int, int]]:
        if "embedding" not in self._input_features():
            return {}
        return {"embedding": (ctx.feature_dims["embedding"], ctx.vocab_size)}


class SoftLabelPreset(NeuralTopicModel):
    """The soft-label part of a model, on any backbone preset: the encoder reads the teacher's
    features and the decoder reconstructs the teacher's distribution over the vocabulary ("the
    soft label"), softmax(l_V / tau), with loss weight lambda (`weight`). `SoftLabelTM` is this on
    ProdLDA (the paper's model); `SoftLabelETM`, `SoftLabelECRTM` and `SoftLabelFASTopic` are
    this on the ETM, ECRTM and FASTopic-style (transport-plan) decoders. A new backbone gets soft
    labels by listing this class first: `class SoftLabelX(SoftLabelPreset, X)`; the backbone
    keeps its decoder, regularisers and defaults.

    teacher: "lm" (the paper's method; needs `lm`, an HF id or local path) or "encoder" (an
        offline approximation: the document's sentence embedding is the input and the soft
        label is softmax(encoder_scale * cos(document, word) / tau) from the same sentence
        encoder; not an LM's distribution).
    input: encoder input features (default: "lm_hidden" for teacher="lm", "embedding" for the
        encoder teacher); e.g. "embedding" gives the paper's "embeddings" ablation.
    target: "soft-label" (default) or "bow" (multinomial NLL of the bag of words, the paper's
        "bow" ablations; then no teacher logits are computed).
    divergence: "kl" = KL(target || student), as the authors' code (default); "reverse-kl" =
        KL(student || target), the direction the paper's equation is written in; "ce" =
        cross-entropy (the paper's "NLL" ablation). tau (3.0) and weight (1e3) as the paper;
        top_k keeps only each soft label's top_k words; bow_mix = a mixes the document's own
        words into the target, (1 - a) soft label + a normalised bag of words (BAT-style; for
        any teacher; 0 = the paper's pure soft label). bow_neighbours = k mixes, in place of
        the document's own words, the mean normalised bag of words of the document and its
        k - 1 nearest training documents by cosine of the input feature (sentence embedding or
        LM hidden state; `softtopic.models.neighbourhood`); 1 = its own words only; it only
        matters with bow_mix > 0; partial_fit finds the neighbours among each call's documents.
        hub_correction="centre" subtracts each word's mean teacher logit over the training
        corpus before the softmax (removes "hub" words the teacher scores high for every
        document); "none" (default) is the paper's.
    The LM view's settings (instruction, template, chat_template, scoring, max_document_tokens,
    lm_batch_size, lm_dtype, store_top_k) are passed to `softtopic.views.lm.LanguageModelView`.
    store_top_k=K stores only each document's top K logits (compact soft labels, K x 6 + 1
    bytes a document instead of |V| x 4 when |V| <= 32,768); training is then exact for
    top_k <= K and needs top_k set; hub_correction="centre" needs the dense view
    (docs/lm-view.md, "Compact soft labels").
    """

    TEACHERS = ("lm", "encoder")
    TARGETS = ("soft-label", "bow")
    HUB_CORRECTIONS = ("none", "centre")
    # models saved before the target's corrections existed (issue 10) were trained on
    # the paper's pure soft label, whatever SoftLabelTM's defaults are today
    # (and before mu_batch_norm existed, with ProdLDA's fixed batch norm: None)
    _parameters_added_later = {**NeuralTopicModel._parameters_added_later, "bow_mix": 0.0,
                               "bow_neighbours": 1, "hub_correction": "none",
                               "mu_batch_norm": None}
    _parameter_constraints = {
        "tau": positive_number(), "weight": positive_number(),
        "top_k": OneOf(None, positive_integer()), "encoder_scale": positive_number(),
        "bow_mix": Number(0, 1), "bow_neighbours": positive_integer(),
        "max_document_tokens": positive_integer(), "lm_batch_size": OneOf(None, positive_integer()),
        "store_top_k": OneOf(None, positive_integer()),
    }

    def __init__(self, n_topics: int = 50, *, teacher: str = "lm", lm: str | None = None,
                 target: str = "soft-label", tau: float = 3.0, weight: float = 1e3,
                 divergence: str = "kl", top_k: int | None = None, bow_mix: float = 0.0,
                 bow_neighbours: int = 1, hub_correction: str = "none",
                 encoder_scale: float = DEFAULT_SCALE, instruction: str = "default",
                 template: str | None = None, chat_template: bool = False,
                 scoring: str = "first-token", max_document_tokens: int = 512,
                 lm_batch_size: int | None = None, lm_dtype: str | None = None,
                 store_top_k: int | None = None, **kwargs):
        self.teacher = teacher
        self.lm = lm
        self.target = target
        self.tau = tau
        self.weight = weight
        self.divergence = divergence
        self.top_k = top_k
        self.bow_mix = bow_mix
        self.bow_neighbours = bow_neighbours
        self.hub_correction = hub_correction
        self.encoder_scale = encoder_scale
        self.instruction = instruction
        self.template = template
        self.chat_template = chat_template
        self.scoring = scoring
        self.max_document_tokens = max_document_tokens
        self.lm_batch_size = lm_batch_size
        self.lm_dtype = lm_dtype
        self.store_top_k = store_top_k
        super().__init__(n_topics, **kwargs)

    @property
    def default_input(self) -> str:
        return "lm_hidden" if self.teacher == "lm" else "embedding"

    def _validate_params(self):
        super()._validate_params()
        if self.teacher not in self.TEACHERS:
            raise ValueError(f"teacher must be one of {self.TEACHERS}, got {self.teacher!r}")
        if self.target not in self.TARGETS:
            raise ValueError(f"target must be one of {self.TARGETS}, got {self.target!r}")
        if self.hub_correction not in self.HUB_CORRECTIONS:
            raise ValueError(f"hub_correction must be one of {self.HUB_CORRECTIONS}, got "
                             f"{self.hub_correction!r}")
        if self.store_top_k is not None:
            if self.teacher != "lm":
                raise ParameterError(f"store_top_k stores the LM view's soft labels compactly; "
                                     f"it needs teacher='lm', got teacher={self.teacher!r}")
            if self.target == "soft-label" and self.hub_correction == "centre":
                raise ParameterError(CENTRE_NEEDS_DENSE)
        if self.target == "soft-label":  # raises early on bad tau / divergence / top_k mixes
            self._build_target(None)

    def _teacher_feature(self) -> str:
        return "lm_logits" if self.teacher == "lm" else "encoder_logits"

    def _target_feature(self) -> str:
        return "bow" if self.target == "bow" else self._teacher_feature()

    def _build_target(self, ctx):
        if self.target == "bow":
            return BowReconstruction()
        return PrecomputedSoftLabel(self._soft_label(ctx))

    def _soft_label(self, ctx) -> SoftLabelTarget:
        """What the target is (the teacher's soft label, corrected, mixed); the feature
        "soft_label_target" (`teachers.py`) computes it once per document from this."""
        return SoftLabelTarget(self._teacher_feature(), self.tau, self.weight, self.divergence,
                               self.top_k, self.bow_mix, self._word_offset(ctx),
                               self._stored_top_k(ctx), self._mixed_words_feature())

    def _mixed_words_feature(self) -> str:
        return "bow_neighbours" if self.bow_neighbours > 1 else "bow"

    def _neighbourhood_sizes(self) -> dict[str, int]:
        sizes = super()._neighbourhood_sizes()
        if self._mixed_words_feature() == "bow_neighbours":
            sizes["bow_neighbours"] = self.bow_neighbours
        return sizes

    def _stored_top_k(self, ctx):
        """K of compact soft labels: of the training feature when it is compact (computed
        with store_top_k, or passed as a TopKLogits in features=), else store_top_k."""
        feature = None if ctx is None or ctx.features is None else \
            ctx.features.get(self._teacher_feature())
        stored = getattr(feature, "k", None) if hasattr(feature, "indices") else None
        if stored is None and self.teacher == "lm" and (ctx is None or ctx.features is None):
            stored = self.store_top_k   # validation, or a rebuilt model (never trains)
        return stored

    def _report_inexact_top_k(self, features: dict, rows: np.ndarray):
        """Printed even without progress, as the targets are computed: it is about exactness."""
        feature = features.get(self._teacher_feature())
        if not hasattr(feature, "indices"):
            return
        inexact = len(feature.inexact_rows(rows))
        if inexact:
            print(f"softtopic: {inexact} of {len(rows)} training documents have a word outside "
                  f"their stored top {feature.k} whose logit equals the {feature.k}-th largest "
                  "(different tokens, float-equal logits); their top-k soft labels can differ "
                  "from the dense ones where top_k's threshold is that value (topk_inexact; "
                  "docs/lm-view.md)", file=sys.stderr)

    def _word_offset(self, ctx):
        """The hubness correction's per-word mean logit over the training documents (only
        while training: a rebuilt model never trains, so it needs none)."""
        if self.hub_correction != "centre" or ctx is None or ctx.features is None:
            return None
        if hasattr(ctx.features[self._teacher_feature()], "indices"):   # compact (TopKLogits)
            raise ValueError(CENTRE_NEEDS_DENSE)
        return word_means(ctx.features[self._teacher_feature()], ctx.train_rows)

    def _extra_features(self) -> tuple[str, ...]:
        if self.target != "soft-label":
            return super()._extra_features()
        mixed = (self._mixed_words_feature(),) if self.bow_mix > 0 else ()
        return (*super()._extra_features(), *mixed, *PrecomputedSoftLabel.features)

    def teacher_description(self) -> str:
        """What the soft label is, in words (saved with the model and shown in topic info)."""
        if self.target == "bow":
            return "none: reconstructs the bag of words (NLL)"
        if self.teacher == "lm":
            teacher = (f"language model {self.lm!r}: next-token distribution over the "
                       f"vocabulary after the {self.instruction!r} prompt, tau={self.tau}")
        else:
            teacher = (f"offline encoder approximation (not an LM): softmax("
                       f"{self.encoder_scale:g} * cos(sentence embedding, word embedding) / "
                       f"{self.tau}) with {self.encoder!r}")
        if self.bow_mix == 0:
            return teacher
        words = ("the document's own words" if self.bow_neighbours == 1 else
                 f"the words of the document and its {self.bow_neighbours - 1} nearest "
                 "neighbours")
        return f"{teacher}; target mixed {1 - self.bow_mix:g} : {self.bow_mix:g} with {words}"

    def get_topic_info(self, top_n: int = 10):
        info = super().get_topic_info(top_n)
        info.attrs["teacher"] = self.teacher_description()
        return info

    def _state_config(self):
        return {**super()._state_config(), "teacher": self.teacher_description()}


# The soft-label paper's exact setting on ProdLDA (registry "softlabel-paper"): the pure soft
# label, CTM's dropouts, no cluster term, CTM's 20-sample theta. SoftLabelTM's own defaults
# differ in these eight (issue 10).
PAPER_SETTING = {"bow_mix": 0.0, "bow_neighbours": 1, "dropout": 0.2, "theta_dropout": 0.2,
                 "cluster_weight": 0.0, "cluster_oversplit": 1, "mu_batch_norm": None,
                 "n_samples": 20}


class SoftLabelTM(SoftLabelPreset, ProdLDA):
    """The soft-label topic model (Li et al.): the encoder reads a language model's last hidden
    state and the ProdLDA decoder reconstructs the LM's next-token distribution over the
    vocabulary after a prompt, softmax(l_V / tau), weighted by lambda (`weight`). Parameters:
    see `SoftLabelPreset`; backbone defaults are ProdLDA's (CTM/OCTIS), as the paper's code,
    except eight chosen by the short- and long-text benchmark (docs/soft-label-model.md):

    - bow_mix=0.25, bow_neighbours=10: a quarter of the target is the mean normalised bag of
      words of the document and its 9 nearest neighbours (by cosine of the input feature), which
      keeps hub words out of the topics; the rest is the teacher's soft label, whose words are
      the more coherent (round 9: 0.5 gave lower Wikipedia C_V on all six benchmark corpus/K
      settings, purity and NMI level);
    - dropout=0, theta_dropout=0: the dense target needs no dropout noise on the encoder;
    - cluster_weight=300: the topic of each document's k-means cluster must lead its posterior
      mean (`ClusterAssignmentRegularizer`); k-means partitions the input feature smoothed over
      each document's 9 nearest neighbours (the backbone's cluster_neighbours=10, the same
      neighbours as bow_neighbours), which partitions documents closer to their labels than the
      input itself (purity and NMI up on every benchmark corpus); cluster_oversplit=3 cuts 3K
      k-means cells first and merges them to K along the neighbour
      graph (`softtopic.models.partition`), so groups of very unequal size stay whole, and keeps
      a cell whole where the refined boundary cuts through it as a random split would (round 15);
    - mu_batch_norm="scale": a learned scale per topic after the batch norm of the posterior
      mean, so topics can be as unequal in size as the clusters they follow (with ProdLDA's
      fixed batch norm a 250-tweet cluster's topic lost half its documents to topics whose
      clusters held two; round 10);
    - n_samples=0: theta is the posterior mean's image softmax(mu), not the mean of 20 sampled
      softmax(z) (CTM's); the same fit gives P@5 equal or higher on every benchmark setting,
      purity and NMI level, and transform is deterministic and 20 times cheaper (round 13).

    `PAPER_SETTING` (registry "softlabel-paper") restores the paper's values of the eight.
    """

    def __init__(self, n_topics: int = 50, *, bow_mix: float = 0.25, bow_neighbours: int = 10,
                 dropout: float = 0.0, theta_dropout: float = 0.0, cluster_weight: float = 300.0,
                 cluster_oversplit: int = 3, mu_batch_norm: str | None = "scale",
                 n_samples: int = 0, **kwargs):
        super().__init__(n_topics, bow_mix=bow_mix, bow_neighbours=bow_neighbours,
                         dropout=dropout, theta_dropout=theta_dropout,
                         cluster_weight=cluster_weight, cluster_oversplit=cluster_oversplit,
                         mu_batch_norm=mu_batch_norm, n_samples=n_samples, **kwargs)


class WordEmbeddingPreset(NeuralTopicModel):
    """Shared by presets whose decoder holds word embeddings (ETM, ECRTM): where the embeddings
    come from, and how they are saved (in the state dict: a reloaded model never recomputes them).

    word_vectors: None embeds each vocabulary word with the sentence encoder (`encoder`, the
    bundled offline default); or a word2vec (text/binary) or GloVe (text) file, missing words
    initialised per `missing_words` ("random" or "zero") and reported in
    `word_embedding_report_`.
    train_word_embeddings, missing_words: None (default) means the preset's reference choice
    (`default_train_word_embeddings`, `default_missing_words`: ETM frozen / "random", ECRTM
    trained / "zero").
    """

    default_train_word_embeddings = False
    default_missing_words = "random"

    def __init__(self, n_topics: int = 50, *, word_vectors: str | None = None,
                 train_word_embeddings: bool | None = None, missing_words: str | None = None,
                 **kwargs):
        self.word_vectors = word_vectors
        self.train_word_embeddings = train_word_embeddings
        self.missing_words = missing_words
        super().__init__(n_topics, **kwargs)

    def _trains_word_embeddings(self) -> bool:
        return bool(self.default_train_word_embeddings if self.train_word_embeddings is None
                    else self.train_word_embeddings)

    def _word_embeddings(self, ctx: BuildContext) -> np.ndarray:
        if ctx.loading:  # shapes only; the saved state holds the values
            return np.zeros((ctx.vocab_size, self.word_embedding_dim_), dtype=np.float32)
        table, report = vocabulary_word_embeddings(
            self.vocabulary_.words, self.word_vectors,
            missing=self.missing_words or self.default_missing_words, seed=self.seed,
            encoder=self.encoder, device=self.device, cache_dir=self.cache_dir,
            progress=self.progress)
        self.word_embedding_dim_ = int(table.shape[1])
        self.word_embedding_report_ = report
        return table

    def _training_config(self) -> TrainingConfig:
        # the references (ETM, ECRTM/TopMost) use Adam's default betas, not CTM's (0.99, 0.99)
        return replace(super()._training_config(), betas=(0.9, 0.999))

    def _state_config(self):
        return {**super()._state_config(), "word_embedding_dim": self.word_embedding_dim_,
                "word_embedding_report": self.word_embedding_report_}

    def _restore(self, config, tensors):
        self.word_embedding_dim_ = config["word_embedding_dim"]
        self.word_embedding_report_ = config["word_embedding_report"]
        super()._restore(config, tensors)


class ETM(WordEmbeddingPreset):
    """ETM (Dieng, Ruiz & Blei 2020): beta_k = softmax_V(rho alpha_k), a mixture decoder
    (log(theta beta), no batch norm), a standard-normal prior N(0, I), the encoder reads the
    length-normalised bag of words; ReLU MLP 800 x 800 without batch norm on mu / log-variance.

    Defaults are OCTIS's ETM (which the soft-label paper ran): 100 epochs, batch 128, lr 5e-3,
    weight decay 1.2e-6, encoder dropout 0.5, Adam betas (0.9, 0.999); theta = softmax(mu).
    Word embeddings are frozen unless train_word_embeddings=True; missing words in a vector file
    get N(0, 0.6^2) draws, as the original.
    """

    default_input = "bow_norm"
    default_decoder = "etm"
    encoder_batch_norm = False
    _parameter_constraints = {"weight_decay": non_negative_number()}

    def __init__(self, n_topics: int = 50, *, weight_decay: float = 1.2e-6, epochs: int = 100,
                 batch_size: int = 128, lr: float = 5e-3, hidden_sizes: tuple[int, ...] = (800, 800),
                 activation: str = "relu", dropout: float = 0.5, theta_dropout: float = 0.0,
                 prior_alpha: float | None = None, learn_prior: bool = False,
                 reduction: str = "mean", n_samples: int = 0, **kwargs):
        self.weight_decay = weight_decay
        super().__init__(n_topics, epochs=epochs, batch_size=batch_size, lr=lr,
                         hidden_sizes=hidden_sizes, activation=activation, dropout=dropout,
                         theta_dropout=theta_dropout, prior_alpha=prior_alpha,
                         learn_prior=learn_prior, reduction=reduction, n_samples=n_samples,
                         **kwargs)

    def _build_decoder(self, ctx: BuildContext):
        return ETMDecoder(ctx.n_topics, ctx.vocab_size, self._word_embeddings(ctx),
                          train_word_embeddings=self._trains_word_embeddings())

    def _training_config(self) -> TrainingConfig:
        return replace(super()._training_config(), weight_decay=self.weight_decay)


class ECRTM(WordEmbeddingPreset):
    """ECRTM (Wu et al. 2023): Euclidean-distance decoder (beta = softmax over topics of
    -||t_k - w_v||^2 / beta_temperature, logits = BN(theta beta)) plus the ECR regulariser
    (Sinkhorn, stable at any norm). Fixed Laplace-Dirichlet(1) prior, losses averaged over the batch,
    theta = softmax(mu), raw bag of words in.

    Defaults are the soft-label paper's ECRTM baseline (TopMost-style): 200 epochs, batch 64,
    lr 2e-3, no schedule, dropout 0, lambda_ECR 100, beta_temperature 0.2 (the reference's
    tau_beta), alpha 20; trainable word embeddings (missing words in a vector file get zero
    rows, as the reference). The beta temperature is `beta_temperature`, never `tau`: `tau` is
    the soft-label temperature (see `SoftLabelECRTM`, which has both).
    """

    default_input = "bow"
    default_decoder = "ecrtm"
    default_train_word_embeddings = True
    default_missing_words = "zero"
    _parameter_constraints = {"beta_temperature": positive_number(),
                              "ecr_weight": non_negative_number(), "ecr_alpha": positive_number(),
                              "ecr_max_iter": positive_integer()}

    def __init__(self, n_topics: int = 50, *, beta_temperature: float = 0.2,
                 ecr_weight: float = 100.0, ecr_alpha: float = 20.0, ecr_max_iter: int = 1000,
                 epochs: int = 200, batch_size: int = 64, lr: float = 2e-3, dropout: float = 0.0,
                 theta_dropout: float = 0.0, learn_prior: bool = False, reduction: str = "mean",
                 n_samples: int = 0, **kwargs):
        if "tau" in kwargs:   # a soft-label preset takes tau before it gets here
            raise TypeError(f"{type(self).__name__} has no parameter 'tau': ECRTM's beta "
                            f"temperature is `beta_temperature` (default 0.2); `tau` is the "
                            f"soft-label temperature of SoftLabelECRTM")
        self.beta_temperature = beta_temperature
        self.ecr_weight = ecr_weight
        self.ecr_alpha = ecr_alpha
        self.ecr_max_iter = ecr_max_iter
        super().__init__(n_topics, epochs=epochs, batch_size=batch_size, lr=lr,
                         dropout=dropout, theta_dropout=theta_dropout, learn_prior=learn_prior,
                         reduction=reduction, n_samples=n_samples, **kwargs)

    def _build_decoder(self, ctx: BuildContext):
        return EmbeddingDistanceDecoder(ctx.n_topics, ctx.vocab_size, self._word_embeddings(ctx),
                                        train_word_embeddings=self._trains_word_embeddings(),
                                        beta_temperature=self.beta_temperature)

    def _build_regularizers(self, ctx: BuildContext) -> list:
        return [*super()._build_regularizers(ctx),
                EmbeddingClusteringRegularizer(self.ecr_weight, self.ecr_alpha,
                                               self.ecr_max_iter)]


class TransportPlanTM(NeuralTopicModel):
    """The backbone with FASTopic's topic-word side as its decoder (`TransportPlanDecoder`):
    beta is the entropic optimal-transport plan between trainable topic and word embeddings
    (FASTopic's TW-ETP, alpha `tw_alpha` = 2, at most `tw_max_iter` = 5000 Sinkhorn
    iterations), normalised per topic; p(w | theta) = theta @ beta; FASTopic's L_TW = <plan,
    cost> is added with weight `tw_weight` (1, as FASTopic). Embeddings of `embedding_dim`
    (384, FASTopic's default document-embedding size) are random and L2-normalised at init, as
    FASTopic's.

    What is not FASTopic: FASTopic has no encoder; its theta is a second transport plan, between
    frozen document embeddings and the topic embeddings (DT-ETP, L_DT). Here theta comes from
    the backbone's variational encoder (reading `input`, the bag of words by default) with its
    prior KL in place of L_DT. This is the backbone for `SoftLabelFASTopic`; the FASTopic
    baseline itself is the wrapped package (`softtopic.models.wrappers.FASTopic`).

    Defaults: the backbone's (CTM/OCTIS encoder, batch 64, lr 2e-3), 200 epochs as FASTopic
    and the soft-label paper's FASTopic backbone, losses averaged over the batch (FASTopic's
    reconstruction is a mean over documents, which L_TW is weighed against).
    """

    default_decoder = "fastopic"
    _parameter_constraints = {"tw_alpha": positive_number(), "tw_weight": non_negative_number(),
                              "tw_max_iter": positive_integer(),
                              "embedding_dim": positive_integer()}

    def __init__(self, n_topics: int = 50, *, tw_alpha: float = 2.0, tw_weight: float = 1.0,
                 tw_max_iter: int = 5000, embedding_dim: int = 384, epochs: int = 200,
                 reduction: str = "mean", **kwargs):
        self.tw_alpha = tw_alpha
        self.tw_weight = tw_weight
        self.tw_max_iter = tw_max_iter
        self.embedding_dim = embedding_dim
        super().__init__(n_topics, epochs=epochs, reduction=reduction, **kwargs)

    def _build_decoder(self, ctx: BuildContext):
        return TransportPlanDecoder(ctx.n_topics, ctx.vocab_size, self.embedding_dim,
                                    self.tw_alpha, self.tw_max_iter)

    def _build_regularizers(self, ctx: BuildContext) -> list:
        return [*super()._build_regularizers(ctx), TransportCostRegularizer(self.tw_weight)]


# ---------------------------------------------------------------------- soft labels on backbones
class SoftLabelETM(SoftLabelPreset, ETM):
    """Soft labels (`SoftLabelPreset`) on ETM: the encoder reads the teacher's features, ETM's
    mixture decoder log(theta softmax_V(rho alpha)) is trained by weight * KL to the soft label.
    ETM's defaults otherwise (OCTIS: 100 epochs, batch 128, lr 5e-3, dropout 0.5, N(0, I)
    prior, frozen word embeddings), as the soft-label paper's `dsl_etm`."""


class SoftLabelECRTM(SoftLabelPreset, ECRTM):
    """Soft labels (`SoftLabelPreset`) on ECRTM: the encoder reads the teacher's features, the
    loss is weight * KL(soft label || softmax(BN(theta beta))) + prior KL + ECR, as the soft-label
    paper's `dsl_ecrtm`. `tau` is the soft-label temperature (3.0); ECRTM's beta temperature is
    `beta_temperature` (0.2). ECRTM's defaults otherwise (200 epochs, batch 64, lambda_ECR 100).
    """


class SoftLabelFASTopic(SoftLabelPreset, TransportPlanTM):
    """Soft labels (`SoftLabelPreset`) on the FASTopic-style backbone (`TransportPlanTM`): beta is
    FASTopic's topic-word transport plan, theta comes from the backbone's encoder reading the
    teacher's features, and the loss is weight * KL(soft label || theta @ beta) + prior KL +
    L_TW.

    The choice, and why: FASTopic's own theta is the document-topic transport plan (DT-ETP)
    between document and topic embeddings. With LM hidden states as document embeddings its
    exp kernel underflows, and the soft-label paper's `dsl_fastopic` worked around that by
    computing theta at inference as the DT plan over each inference batch, so a document's theta
    depended on the other documents in its batch. Here the ETP-based beta is kept (the part that
    makes FASTopic's topics) and theta comes from the backbone's encoder: a document's theta is
    its own, `transform` needs no training-set statistics, and training, saving and loading are
    the backbone's. It is therefore not FASTopic: there is no DT-ETP, no L_DT, no learned topic
    sizes, and the encoder's prior KL is in the loss. `dsl_fastopic` also used cross-entropy to
    the top-20 soft label without a weight; the defaults here are the paper's soft-label loss
    (KL, weight 1e3, all words); `divergence="ce", top_k=20` gives that target.
    """
