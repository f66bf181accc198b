"""The estimator contract every softtopic model follows, neural or wrapped.

Hyperparameters are set in `__init__` and stored unchanged; what is learned ends in an
underscore (`vocabulary_`, `topic_word_`, `theta_`); `fit` returns self. Outputs are the same
for every model: theta (N x K, rows sum to 1), topic-word weights (K x V), top words, labels.
Saved models are a folder with `config.json` (settings, vocabulary, library version) and
`model.safetensors` (tensors); never a pickle.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..explore.api import ExploreMixin
from ..params import SEED, Number, check_params, constraints_of
from ..preprocessing import PREPROCESSING_CONSTRAINTS, PreprocessingConfig

MODEL_CLASSES: dict[str, type] = {}


class NotFittedError(RuntimeError):
    pass


class ModelFileError(ValueError):
    """A saved model folder that cannot be loaded: a file missing, truncated, corrupt or
    inconsistent with the others. The message names the file and what is wrong."""


class _SavedEntries(dict):
    """Entries read from a saved model (tensors, config sections): a missing one is a
    ModelFileError naming the file, not a bare KeyError from deep inside `_restore`."""

    def __init__(self, entries: dict, missing: str):
        super().__init__(entries)
        self.missing = missing   # message prefix, e.g. "m/model.safetensors: no tensor"

    def __missing__(self, key):
        raise ModelFileError(f"{self.missing} {key!r}")


class TopicModel(ExploreMixin):
    """Common API: get_topics, get_topic, get_topic_info, to_octis, save/load, get_params."""

    # Each class lists the ranges of the parameters its __init__ adds; subclasses extend the
    # table (softtopic/params.py merges it along the MRO). Checked once, at the start of fit.
    # The preprocessing parameters (vocab_size, min_df, max_df, min_token_length,
    # token_pattern, stopwords, tokenizer) are every model's: softtopic/preprocessing.py.
    _parameter_constraints = {
        "n_topics": Number(2, kind="integer"), **PREPROCESSING_CONSTRAINTS, "seed": SEED,
    }
    # Parameters added after models were saved without them: the value that behaves as those
    # models were trained (a saved model's missing parameter takes this, not today's default).
    _parameters_added_later: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODEL_CLASSES[cls.__name__] = cls

    def _validate_params(self):
        """Every parameter in range (one table per class); subclasses add cross-parameter
        checks after calling this."""
        check_params(self, constraints_of(type(self)))
        PreprocessingConfig.of(self).validate()   # the token policy's cross-parameter checks

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _param_defaults(cls) -> dict:
        """Parameter name -> default, collected along the class hierarchy (the most derived
        class that lists a parameter gives its default)."""
        defaults = {}
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) \
                        and p.name not in defaults:
                    defaults[p.name] = p.default
        return defaults

    @classmethod
    def _param_names(cls) -> list[str]:
        return list(cls._param_defaults())

    def get_params(self, deep: bool = False) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        defaults = self._param_defaults()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if defaults[k] is not v and defaults[k] != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------------ fitted outputs
    def _check_fitted(self):
        if getattr(self, "topic_word_", None) is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).theta_

    def get_topics(self, top_n: int = 10) -> list[list[str]]:
        """The top_n words of every topic, most probable first."""
        self._check_fitted()
        order = np.argsort(-self.topic_word_, axis=1, kind="stable")[:, :top_n]
        words = self.vocabulary_.words
        return [[words[j] for j in row] for row in order]

    def get_topic(self, k: int, top_n: int = 10) -> list[tuple[str, float]]:
        self._check_fitted()
        if not 0 <= k < self.topic_word_.shape[0]:
            raise IndexError(f"topic {k} out of range: the model has {self.topic_word_.shape[0]}")
        dist = self.topic_word_distribution()[k]
        order = np.argsort(-self.topic_word_[k], kind="stable")[:top_n]
        return [(self.vocabulary_.words[j], float(dist[j])) for j in order]

    def topic_word_distribution(self) -> np.ndarray:
        """K x V, rows sum to one (softmax of unnormalised weights unless a model overrides)."""
        self._check_fitted()
        w = self.topic_word_ - self.topic_word_.max(axis=1, keepdims=True)
        e = np.exp(w)
        return e / e.sum(axis=1, keepdims=True)

    def topic_labels(self) -> list[str]:
        """A short label per topic: a name set by `set_topic_labels`/`generate_topic_labels`,
        else the teacher's label when a model has one, else the top word."""
        labels = getattr(self, "topic_labels_", None)
        labels = list(labels) if labels is not None else [t[0] for t in self.get_topics(1)]
        for k, name in (getattr(self, "custom_labels_", None) or {}).items():
            labels[k] = name
        return labels

    def get_topic_info(self, top_n: int = 10) -> pd.DataFrame:
        """One row per topic: size (training documents whose most probable topic it is, empty
        documents excluded), share, label, top words."""
        self._check_fitted()
        k = self.topic_word_.shape[0]
        theta = self.theta_
        valid = np.ones(len(theta), bool)
        valid[list(getattr(self, "empty_documents_", []))] = False
        sizes = np.bincount(theta[valid].argmax(1), minlength=k) if valid.any() else np.zeros(k)
        topics = self.get_topics(top_n)
        labels = self.topic_labels()
        return pd.DataFrame({
            "topic": np.arange(k), "size": sizes.astype(int),
            "share": sizes / max(int(valid.sum()), 1), "label": labels,
            "name": [f"{i}_" + "_".join(t[:3]) for i, t in enumerate(topics)],
            "top_words": topics})

    def to_octis(self, top_n: int = 10) -> dict:
        """The OCTIS output dictionary (topic-document matrix is K x N)."""
        self._check_fitted()
        return {"topics": self.get_topics(top_n),
                "topic-word-matrix": self.topic_word_distribution(),
                "topic-document-matrix": np.asarray(self.theta_).T}

    # ------------------------------------------------------------------ persistence
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors to save besides the config (override to add module weights)."""
        return {"topic_word": torch.from_numpy(np.ascontiguousarray(self.topic_word_)),
                "theta": torch.from_numpy(np.ascontiguousarray(self.theta_))}

    def _state_config(self) -> dict:
        """JSON-serialisable learned state besides tensors (override to add)."""
        return {"vocabulary": self.vocabulary_.to_dict(),
                "empty_documents": [int(i) for i in getattr(self, "empty_documents_", [])],
                "topic_labels": getattr(self, "topic_labels_", None),
                "custom_labels": {str(k): v for k, v in
                                  (getattr(self, "custom_labels_", None) or {}).items()},
                "document_ids": _id_list(getattr(self, "document_ids_", None))}

    def _restore(self, config: dict, tensors: dict[str, torch.Tensor]):
        from ..preprocessing import Vocabulary
        self.vocabulary_ = Vocabulary.from_dict(config["vocabulary"])
        self.empty_documents_ = np.asarray(config["empty_documents"], dtype=int)
        self.topic_labels_ = config.get("topic_labels")
        self.custom_labels_ = {int(k): v for k, v in (config.get("custom_labels") or {}).items()}
        self.document_ids_ = config.get("document_ids")
        self.documents_ = None           # a saved model holds no corpus text
        self.topic_word_ = tensors["topic_word"].numpy()
        self.theta_ = tensors["theta"].numpy()

    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        config = {"class": type(self).__name__, "softtopic_version": __version__,
                  "params": _jsonable(params), "state": self._state_config()}
        (path / "config.json").write_text(json.dumps(config, indent=1))
        save_file({k: v.detach().cpu().contiguous() for k, v in self._state_tensors().items()},
                  str(path / "model.safetensors"))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TopicModel":
        """Load a saved model; returns an instance of the class it was saved as. A tampered or
        incomplete folder raises ModelFileError naming the file and the problem."""
        path = Path(path)
        config_file, tensor_file = path / "config.json", path / "model.safetensors"
        config = _read_config(config_file)
        klass = MODEL_CLASSES.get(config["class"])
        if klass is None:
            raise ModelFileError(f"{config_file}: unknown model class {config['class']!r}")
        if not issubclass(klass, cls):
            raise TypeError(f"{path} holds a saved {klass.__name__}, not a {cls.__name__}; "
                            f"load it with {klass.__name__}.load or softtopic.load")
        model = klass(**_saved_params(config_file, config["params"], klass))
        state = _SavedEntries(config["state"], f"{config_file}: state has no")
        tensors = _SavedEntries(_read_tensors(tensor_file), f"{tensor_file}: no tensor")
        _check_shapes(path, state, tensors)
        try:
            model._restore(state, tensors)
        except RuntimeError as e:  # torch: a module's tensors are missing, extra or mis-sized
            raise ModelFileError(f"{tensor_file}: tensors do not fit a {klass.__name__}: "
                                 f"{' '.join(str(e).split())[:300]}") from None
        return model


def _read_config(file: Path) -> dict:
    if not file.exists():
        raise FileNotFoundError(f"{file.parent}: no config.json; not a saved softtopic model")
    try:
        config = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{file}: not valid JSON (line {e.lineno})") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{file}: not valid JSON (not UTF-8 text)") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{file}: expected a JSON object")
    for key, kind in (("class", str), ("params", dict), ("state", dict)):
        if not isinstance(config.get(key), kind):
            raise ModelFileError(f"{file}: {key!r} is missing or not a JSON {kind.__name__}")
    return config


def _saved_params(file: Path, params: dict, klass: type) -> dict:
    """Constructor arguments from a saved config; names the class does not take are refused
    (a constructor TypeError would not say which file is wrong). A parameter added after the
    model was saved takes the value it was trained with (`_parameters_added_later`)."""
    unknown = sorted(set(params) - set(klass._param_names()))
    if unknown:
        raise ModelFileError(f"{file}: unknown parameter {', '.join(map(repr, unknown))} for "
                             f"{klass.__name__}")
    params = {**klass._parameters_added_later, **params}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def _read_tensors(file: Path) -> dict[str, torch.Tensor]:
    if not file.exists():
        raise ModelFileError(f"{file}: missing (the saved model is incomplete)")
    try:
        return load_file(str(file))
    except SafetensorError:
        raise ModelFileError(f"{file}: truncated or not a safetensors file") from None


def _check_shapes(path: Path, state: dict, tensors: dict) -> None:
    """The saved vocabulary, topic-word matrix and theta must agree before anything is built
    from them (a module sized by a shorter vocabulary fails with an opaque torch error)."""
    vocabulary = _SavedEntries(state["vocabulary"], f"{path / 'config.json'}: vocabulary has no")
    words, topic_word, theta = vocabulary["words"], tensors["topic_word"], tensors["theta"]
    if topic_word.ndim != 2:
        raise ModelFileError(f"{path / 'model.safetensors'}: topic_word has shape "
                             f"{tuple(topic_word.shape)}, not K x V")
    if len(words) != topic_word.shape[1]:
        raise ModelFileError(f"{path}: vocabulary has {len(words)} words but topic_word has "
                             f"{topic_word.shape[1]} columns")
    if theta.ndim != 2 or theta.shape[1] != topic_word.shape[0]:
        raise ModelFileError(f"{path}: theta has shape {tuple(theta.shape)} but topic_word has "
                             f"{topic_word.shape[0]} topics")


def _id_list(ids):
    """Document ids as a JSON list (a streamed corpus keeps them on disk, not in a list)."""
    return None if ids is None else [str(i) for i in ids]


def _jsonable(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, (set, frozenset)):   # a stopword set: JSON has lists
            v = sorted(v)
        if callable(v):
            raise TypeError(f"parameter {k} is a Python callable ({v!r}) and cannot be saved: "
                            "config.json holds names and numbers only. Use the fitted model in "
                            "this session, or fit one without it to save") from None
        try:
            json.dumps(v)
        except TypeError:
            raise TypeError(f"parameter {k}={v!r} cannot be saved: pass it by name "
                            "(a string or number), not as an object") from None
        out[k] = v
    return out


def load(path: str | Path) -> TopicModel:
    """Load whatever model was saved at `path` (an instance of the class it was saved as)."""
    return TopicModel.load(path)
