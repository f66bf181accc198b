"""A registered model name and its parameters -> a constructed model: the one place where the
CLI (`softtopic fit`, `softtopic demo`) and the benchmark worker build models, so they check
parameters and word their errors the same way."""
from __future__ import annotations

from .registry import get_model_class


def model_param_names(name: str) -> list[str]:
    """Every constructor parameter of the registered model `name` (ValueError if unknown)."""
    return list(get_model_class(name)._param_names())


def accepted_params(name: str, params: dict) -> dict:
    """The part of `params` that the model `name` takes (shared defaults, e.g. the demo's epochs,
    that a model such as LDA has no parameter for are dropped)."""
    names = set(model_param_names(name))
    return {k: v for k, v in params.items() if k in names}


def build_model(name: str, params: dict | None = None, *, progress: bool | None = None):
    """Construct the registered model `name` with `params`.

    progress: when not None and the model has a `progress` parameter that `params` leaves
    unset, it is set to this value (models without one are left alone).
    Raises ValueError for an unknown model, for parameters the model does not take (naming them
    and listing the valid ones), and for any other constructor TypeError.
    """
    klass = get_model_class(name)
    names = list(klass._param_names())
    params = dict(params or {})
    unknown = [k for k in params if k not in names]
    if unknown:
        what = "parameter" if len(unknown) == 1 else "parameters"
        raise ValueError(f"model {name!r} has no {what} {', '.join(map(repr, unknown))}; "
                         f"valid parameters: {', '.join(sorted(names))}")
    if progress is not None and "progress" in names:
        params.setdefault("progress", progress)
    try:
        return klass(**params)
    except TypeError as e:
        raise ValueError(f"model {name!r}: {e}") from None
