"""Benchmark configs: a YAML file describing a grid, validated early and expanded into runs.

    name: table1
    datasets:                      # display name -> loader options
      20ng: {path: /data/20ng.jsonl, drop_blank: true, label_column: label}
      tweets: {path: /data/tweets.jsonl, k: [50, 89]}   # its own K values (overrides `k`)
    models:                        # registry names, optional params and display name
      - prodlda
      - {name: softlabel-encoder, params: {tau: 2}, display: "Soft label (tau=2)"}
    k: [25, 50]
    seeds: [0, 1]
    params: {epochs: 100}          # defaults for every model (only where the model accepts them)
    views: {encoder: all-MiniLM-L6-v2}   # view settings, passed to models that take them
    evaluation: {metrics: [cv, irbo, purity, nmi, td], reference: /data/wiki.txt.gz, top_n: 15}
    sweeps:                        # analyses: one parameter swept over values
      - {param: tau, values: [0.5, 1, 2], analysis: line}     # or analysis: anova (prompt study)

Relative dataset and reference paths are resolved against the config file's folder. With
`sweeps`, the runs are the sweeps' runs (each model at each value); without, the plain grid.
A dataset's own `k` replaces the global `k` for that dataset (the global one may then be
left out if every dataset sets its own); the run folders stay unique because the dataset name
is the first part of each run's path.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..models.registry import MODELS

TOP_LEVEL = {"name", "description", "datasets", "models", "k", "seeds", "params", "views",
             "evaluation", "sweeps", "report"}
DATASET_KEYS = {"path", "format", "text_column", "label_column", "id_column", "split_column",
                "drop_blank", "limit", "split", "k"}
ANALYSES = ("line", "anova")
_SAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


class ConfigError(ValueError):
    """A problem with a benchmark config, naming the file and the entry."""

    def __init__(self, message: str, path=None):
        super().__init__(f"{path}: {message}" if path else message)


@dataclass
class ModelEntry:
    name: str                      # registry name
    params: dict = field(default_factory=dict)
    display: str | None = None

    @property
    def label(self) -> str:
        return self.display or self.name


@dataclass
class Sweep:
    param: str
    values: list
    analysis: str = "line"
    models: list[str] | None = None   # display labels; None: every model


@dataclass
class RunSpec:
    """One run of the grid: everything the worker needs, JSON-serialisable."""
    dataset: str
    dataset_options: dict
    model: str                     # registry name
    model_label: str               # display name (with the swept value when in a sweep)
    k: int
    seed: int
    params: dict                   # constructor parameters (n_topics and seed included)
    evaluation: dict
    sweep: dict | None = None      # {"param", "value", "analysis", "base_model"}

    @property
    def relpath(self) -> Path:
        return Path(safe_name(self.dataset)) / safe_name(self.model_label) / f"k{self.k}" \
            / f"seed{self.seed}"

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "dataset_options": self.dataset_options,
                "model": self.model, "model_label": self.model_label, "k": self.k,
                "seed": self.seed, "params": self.params, "evaluation": self.evaluation,
                "sweep": self.sweep}

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(**d)


@dataclass
class BenchConfig:
    name: str
    datasets: dict[str, dict]
    models: list[ModelEntry]
    k: list[int]
    seeds: list[int]
    params: dict
    views: dict
    evaluation: dict
    sweeps: list[Sweep]
    source: str | None = None
    raw: dict = field(default_factory=dict)
    dataset_k: dict[str, list[int]] = field(default_factory=dict)  # per-dataset K overrides

    def k_for(self, dataset: str) -> list[int]:
        """The K values of one dataset: its own `k` when the config sets one, else the global."""
        return self.dataset_k.get(dataset, self.k)

    def runs(self) -> list[RunSpec]:
        """The grid, in a stable order: dataset, model (and swept value), K, seed."""
        specs = []
        for dname, dopts in self.datasets.items():
            if self.sweeps:
                for sw in self.sweeps:
                    for m in self.models:
                        if sw.models is not None and m.label not in sw.models:
                            continue
                        for value in sw.values:
                            specs += self._model_runs(dname, dopts, m, {sw.param: value},
                                                      f"{m.label}@{sw.param}={value}",
                                                      {"param": sw.param, "value": value,
                                                       "analysis": sw.analysis,
                                                       "base_model": m.label})
            else:
                for m in self.models:
                    specs += self._model_runs(dname, dopts, m, {}, m.label, None)
        return specs

    def subset(self, datasets: list[str] | None = None, ks: list[int] | None = None,
               models: list[str] | None = None) -> "BenchConfig":
        """The same grid restricted to some datasets, K values and models (a registry name keeps
        every entry of that model; a run-folder label keeps one), to run a slice first (the
        short corpora, one K, the baselines): its runs have the full grid's folders and specs,
        so running the full config later resumes from them."""
        known = sorted({m.name for m in self.models} | {m.label for m in self.models})
        for name in models or []:
            if name not in known:
                raise ConfigError(f"--models: no model {name!r} in config {self.name!r}; it "
                                  f"has {', '.join(known)}")
        kept_models = [m for m in self.models
                       if models is None or m.name in models or m.label in models]
        for name in datasets or []:
            if name not in self.datasets:
                raise ConfigError(f"--datasets: no dataset {name!r} in config {self.name!r}; "
                                  f"it has {', '.join(self.datasets)}")
        kept = {n: o for n, o in self.datasets.items() if datasets is None or n in datasets}
        if ks is not None:
            grid_ks = {k for n in kept for k in self.k_for(n)}
            missing = sorted(set(ks) - grid_ks)
            if missing:
                raise ConfigError(f"--k: {missing} not in the grid of these datasets "
                                  f"(K values: {sorted(grid_ks)})")
            kept = {n: o for n, o in kept.items() if set(self.k_for(n)) & set(ks)}
        keep_k = (lambda values: values) if ks is None else \
            (lambda values: [k for k in values if k in ks])
        return replace(self, datasets=kept, k=keep_k(self.k), models=kept_models,
                       dataset_k={n: keep_k(v) for n, v in self.dataset_k.items() if n in kept})

    def _model_runs(self, dname, dopts, m, override, label, sweep):
        out = []
        for k in self.k_for(dname):
            for seed in self.seeds:
                params = {**self._accepted(m.name, {**self.views, **self.params}), **m.params,
                          **override, "n_topics": k, "seed": seed}
                out.append(RunSpec(dname, dopts, m.name, label, k, seed, params,
                                   self.evaluation, sweep))
        return out

    @staticmethod
    def _accepted(model_name: str, defaults: dict) -> dict:
        """Shared defaults a model's constructor takes (an LDA has no `encoder`, say)."""
        names = set(MODELS[model_name]._param_names()) if model_name in MODELS else set()
        return {k: v for k, v in defaults.items() if k in names}


def safe_name(s: str) -> str:
    return _SAFE.sub("_", str(s)).strip("_") or "_"


def load_config(path: str | Path, check_files: bool = True,
                allow_unknown_models: bool = False) -> BenchConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError("config file does not exist", path)
    if path.is_dir():
        raise ConfigError("is a folder; expected a config file (YAML, see configs/)", path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML: {e}", path) from None
    return parse_config(raw, base_dir=path.parent, source=str(path), check_files=check_files,
                        allow_unknown_models=allow_unknown_models)


def parse_config(raw, base_dir: str | Path = ".", source: str | None = None,
                 check_files: bool = True, allow_unknown_models: bool = False) -> BenchConfig:
    """Validate a parsed YAML config. With allow_unknown_models, models missing from the
    registry are kept: their runs fail with "unknown model" and the report lists them."""
    where = source or "config"
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", where)
    unknown = set(raw) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL)}", where)
    for key in ("datasets", "models"):
        if key not in raw:
            raise ConfigError(f"missing required key {key!r}", where)
    base_dir = Path(base_dir)
    datasets, dataset_k = _parse_datasets(raw["datasets"], base_dir, where, check_files)
    if "k" not in raw and set(dataset_k) != set(datasets):
        # the global K may be left out only when no dataset falls back on it
        raise ConfigError("missing required key 'k' (or a 'k' in every dataset; without one: "
                          f"{sorted(set(datasets) - set(dataset_k))})", where)
    models = _parse_models(raw["models"], where, allow_unknown_models)
    k = _int_list(raw["k"], "k", where, minimum=2) if "k" in raw else []
    seeds = _int_list(raw.get("seeds", [0]), "seeds", where, minimum=0)
    params = _mapping(raw.get("params", {}), "params", where)
    views = _mapping(raw.get("views", {}), "views", where)
    evaluation = _parse_evaluation(raw.get("evaluation", {}), base_dir, where, check_files)
    sweeps = _parse_sweeps(raw.get("sweeps", []), models, where)
    for m in models:
        _check_params(m.name, {**m.params}, f"model {m.label!r}", where)
    for sw in sweeps:
        for m in models:
            if (sw.models is None or m.label in sw.models) and m.name in MODELS:
                _check_params(m.name, {sw.param: sw.values[0]}, f"sweep over {sw.param!r}", where)
    return BenchConfig(str(raw.get("name", Path(source).stem if source else "bench")), datasets,
                       models, k, seeds, params, views, evaluation, sweeps, source,
                       copy.deepcopy(raw), dataset_k)


def _mapping(value, name, where) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{name!r} must be a mapping, got {type(value).__name__}", where)
    return dict(value)


def _int_list(value, name, where, minimum, owner: str = "") -> list[int]:
    """A list of distinct integers >= minimum (a single integer is a list of one). `owner`
    prefixes the error ("dataset 'tweets': ") when the key belongs to an entry."""
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                             for v in values):
        raise ConfigError(f"{owner}{name!r} must be a non-empty list of integers >= {minimum}, "
                          f"got {value!r}", where)
    if len(set(values)) != len(values):
        raise ConfigError(f"{owner}{name!r} has repeated values: {value!r}", where)
    return values


def _resolve(p, base_dir: Path) -> str:
    p = Path(str(p)).expanduser()
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def _parse_datasets(value, base_dir, where, check_files
                    ) -> tuple[dict[str, dict], dict[str, list[int]]]:
    """(loader options per dataset, K values of the datasets that set their own). `k` is taken
    out of the options: they go to the loader and into each run's spec, and a config that adds
    no per-dataset K keeps the specs (and so the done runs) it had."""
    if not isinstance(value, dict) or not value:
        raise ConfigError("'datasets' must be a non-empty mapping: name -> {path: ...}", where)
    out, ks = {}, {}
    for name, opts in value.items():
        if isinstance(opts, str):
            opts = {"path": opts}
        if not isinstance(opts, dict) or "path" not in opts:
            raise ConfigError(f"dataset {name!r} needs a 'path'", where)
        unknown = set(opts) - DATASET_KEYS
        if unknown:
            raise ConfigError(f"dataset {name!r}: unknown option(s) {sorted(unknown)}; allowed: "
                              f"{sorted(DATASET_KEYS)}", where)
        opts = {**opts, "path": _resolve(opts["path"], base_dir)}
        if "k" in opts:
            ks[str(name)] = _int_list(opts.pop("k"), "k", where, minimum=2,
                                      owner=f"dataset {name!r}: ")
        if check_files and not Path(opts["path"]).exists():
            raise ConfigError(f"dataset {name!r}: file not found: {opts['path']} (prepare it with "
                              "`softtopic prepare-dataset KIND SRC --out FILE` and point 'path' "
                              "at it)", where)
        out[str(name)] = opts
    return out, ks


def _parse_models(value, where, allow_unknown=False) -> list[ModelEntry]:
    if not isinstance(value, list) or not value:
        raise ConfigError("'models' must be a non-empty list", where)
    models = []
    for item in value:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f"model entry {item!r} needs a 'name'", where)
        unknown = set(item) - {"name", "params", "display"}
        if unknown:
            raise ConfigError(f"model {item['name']!r}: unknown key(s) {sorted(unknown)}", where)
        if item["name"] not in MODELS and not allow_unknown:
            raise ConfigError(f"unknown model {item['name']!r}; known models: "
                              f"{', '.join(sorted(MODELS))} (or pass --allow-unknown-models to record "
                          "its runs as failed)", where)
        models.append(ModelEntry(item["name"], _mapping(item.get("params", {}), "params", where),
                                 item.get("display")))
    labels = [m.label for m in models]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"models share a display name {dupes}; set 'display' to tell them "
                          "apart", where)
    return models


def _check_params(model_name, params, what, where):
    if model_name not in MODELS:
        return  # allowed unknown model: its runs fail with the registry's message
    accepted = set(MODELS[model_name]._param_names())
    bad = sorted(set(params) - accepted)
    if bad:
        raise ConfigError(f"{what}: model {model_name!r} has no parameter(s) {bad}; its "
                          f"parameters: {sorted(accepted)}", where)
    try:
        json.dumps(params)
    except TypeError:
        raise ConfigError(f"{what}: parameters must be plain values (numbers, strings, lists)",
                          where) from None


def _parse_evaluation(value, base_dir, where, check_files) -> dict:
    ev = {"metrics": None, "reference": None, "top_n": 15, "llm": None, "retrieval_k": None}
    value = _mapping(value, "evaluation", where)
    unknown = set(value) - set(ev)
    if unknown:
        raise ConfigError(f"evaluation: unknown key(s) {sorted(unknown)}; allowed: {sorted(ev)}",
                          where)
    ev.update(value)
    if ev["metrics"] is not None:  # a misspelt metric would otherwise fail every run
        from ..evaluation.report import parse_metrics
        try:
            parse_metrics(ev["metrics"])
        except ValueError as e:
            raise ConfigError(f"evaluation: 'metrics': {e}", where) from None
    ref = ev["reference"]
    if ref not in (None, "corpus"):
        ev["reference"] = _resolve(ref, base_dir)
        if check_files and not Path(ev["reference"]).exists():
            raise ConfigError(f"evaluation: reference corpus not found: {ev['reference']}", where)
    return ev


def _parse_sweeps(value, models, where) -> list[Sweep]:
    if not isinstance(value, list):
        raise ConfigError("'sweeps' must be a list of {param, values, analysis}", where)
    labels = {m.label for m in models}
    sweeps = []
    for item in value:
        if not isinstance(item, dict) or "param" not in item or "values" not in item:
            raise ConfigError(f"sweep {item!r} needs 'param' and 'values'", where)
        if not isinstance(item["values"], list) or not item["values"]:
            raise ConfigError(f"sweep over {item['param']!r}: 'values' must be a non-empty list",
                              where)
        analysis = item.get("analysis", "line")
        if analysis not in ANALYSES:
            raise ConfigError(f"sweep over {item['param']!r}: analysis must be one of "
                              f"{ANALYSES}, got {analysis!r}", where)
        chosen = item.get("models")
        if chosen is not None and not set(chosen) <= labels:
            raise ConfigError(f"sweep over {item['param']!r}: unknown model(s) "
                              f"{sorted(set(chosen) - labels)}; models: {sorted(labels)}", where)
        sweeps.append(Sweep(item["param"], list(item["values"]), analysis, chosen))
    return sweeps
