"""Parameter constraints: one table per class, checked once (at fit), with one message format,
"parameter tau must be a finite number > 0, got inf".

A class lists the constraints of the parameters its own `__init__` adds in
`_parameter_constraints`; `constraints_of(cls)` merges the tables along the MRO, so a subclass
extends (or overrides) its parents' tables, including under multiple inheritance
(`SoftLabelECRTM(SoftLabelPreset, ECRTM)` gets both).

Why not scikit-learn's `sklearn.utils._param_validation`: it is private API (it changed between
releases without deprecation), its messages ("The 'tau' parameter of X must be a float in the
range (0, inf)") are not ours, and its Interval accepts inf at an open end; what is needed here
fits in a page.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass


class ParameterError(ValueError, TypeError):
    """A parameter outside its range or of the wrong type. Both a ValueError (the CLI prints
    it as one line) and a TypeError (what Python raises for a wrong type), as scikit-learn's
    InvalidParameterError."""


class Constraint:
    """What a parameter may be: `accepts(value)` and a `description` ("an integer >= 1")."""

    description = ""

    def accepts(self, value) -> bool:
        raise NotImplementedError

    def detail(self, value) -> str | None:
        """Why `value` is refused, when more can be said than the description (a regular
        expression's compile error); None otherwise."""
        return None

    def problem(self, name: str, value) -> str | None:
        """The error message for `value` (None when it is accepted)."""
        if self.accepts(value):
            return None
        detail = self.detail(value)
        return (f"parameter {name} must be {self.description}, got {value!r}"
                + (f": {detail}" if detail else ""))


@dataclass(frozen=True)
class Number(Constraint):
    """A number in an interval. kind: "integer" (ints only), "real" (ints or floats) or
    "float" (floats only: min_df's share, where an int means a document count). Reals must
    be finite. closed: which ends belong to the interval: "both", "left", "right", "neither"."""

    low: float | None = None
    high: float | None = None
    kind: str = "real"
    closed: str = "both"

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind == "integer" and not isinstance(value, numbers.Integral):
            return False
        if self.kind == "float" and isinstance(value, numbers.Integral):
            return False
        if not math.isfinite(value):
            return False
        left_ok = self.low is None or (value >= self.low if self.closed in ("both", "left")
                                       else value > self.low)
        right_ok = self.high is None or (value <= self.high if self.closed in ("both", "right")
                                         else value < self.high)
        return left_ok and right_ok

    @property
    def description(self) -> str:
        noun = {"integer": "an integer", "real": "a finite number", "float": "a float"}[self.kind]
        if self.low is not None and self.high is not None:   # an interval is finite anyway
            noun = noun.replace("finite ", "")
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{noun} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{noun} {'>=' if self.closed in ('both', 'left') else '>'} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<=' if self.closed in ('both', 'right') else '<'} {self.high:g}"
        return noun


@dataclass(frozen=True)
class Sizes(Constraint):
    """A non-empty tuple or list of positive integers (layer sizes)."""

    def accepts(self, value) -> bool:
        return (isinstance(value, (tuple, list)) and len(value) > 0
                and all(Number(1, kind="integer").accepts(v) for v in value))

    description = "a non-empty tuple or list of positive integers"


@dataclass(frozen=True)
class OneOf(Constraint):
    """Any value one of the alternatives accepts (None is an alternative: `OneOf(None, ...)`)."""

    alternatives: tuple

    def __init__(self, *alternatives):
        object.__setattr__(self, "alternatives", alternatives)

    def accepts(self, value) -> bool:
        return any(value is None if a is None else a.accepts(value) for a in self.alternatives)

    def detail(self, value) -> str | None:
        details = [a.detail(value) for a in self.alternatives if a is not None]
        return next((d for d in details if d), None)

    @property
    def description(self) -> str:
        return " or ".join("None" if a is None else a.description for a in self.alternatives)


@dataclass(frozen=True)
class Choice(Constraint):
    """One of a few fixed strings ("english" or "none")."""

    options: tuple

    def __init__(self, *options):
        object.__setattr__(self, "options", options)

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.options

    @property
    def description(self) -> str:
        return " or ".join(map(repr, self.options))


@dataclass(frozen=True)
class Words(Constraint):
    """A list, tuple or set of non-empty strings (a stopword list; it may be empty)."""

    def accepts(self, value) -> bool:
        return (isinstance(value, (list, tuple, set, frozenset))
                and all(isinstance(w, str) and w.strip() for w in value))

    description = "a list of words (non-empty strings)"


@dataclass(frozen=True)
class RegexPattern(Constraint):
    """A regular expression (a string) that compiles and has at most one capturing group (as
    scikit-learn's token_pattern: with one group, the group is the token)."""

    description = "a regular expression (a string) with at most one capturing group"

    def accepts(self, value) -> bool:
        return isinstance(value, str) and bool(value) and self.detail(value) is None

    def detail(self, value) -> str | None:
        if not isinstance(value, str):
            return None
        try:
            compiled = re.compile(value)
        except re.error as e:
            return f"it does not compile: {e}"
        if compiled.groups > 1:
            return (f"it has {compiled.groups} capturing groups; make the others "
                    "non-capturing, (?:...)")
        return None


@dataclass(frozen=True)
class IsCallable(Constraint):
    """A Python callable (a tokenizer str -> list[str])."""

    description = "a callable str -> list[str]"

    def accepts(self, value) -> bool:
        return callable(value)


class Device(Constraint):
    """A torch device this machine has (None or "auto": CUDA when available, else the CPU);
    the message says which device and why (`softtopic.training.device_problem`)."""

    def problem(self, name: str, value) -> str | None:
        from .training import device_problem   # torch is imported only where models are
        return device_problem(value)


def positive_integer() -> Number:
    return Number(1, kind="integer")


def positive_number() -> Number:
    return Number(0, kind="real", closed="neither")


def non_negative_number() -> Number:
    return Number(0, kind="real")


# min_df / max_df as scikit-learn's CountVectorizer: an int counts documents, a float is a share
DOCUMENT_FREQUENCY = OneOf(Number(0, kind="integer"), Number(0, 1, kind="float"))
SEED = Number(0, kind="integer")


def constraints_of(cls) -> dict:
    """The merged `_parameter_constraints` of `cls` and its bases (the most derived wins)."""
    merged = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get("_parameter_constraints", {}))
    return merged


def check_params(obj, constraints: dict):
    """Raise ParameterError for the first attribute of `obj` that its constraint refuses."""
    for name, constraint in constraints.items():
        problem = constraint.problem(name, getattr(obj, name))
        if problem is not None:
            raise ParameterError(problem)
