"""Benchmark harness: configs (grid + sweeps), one subprocess per run, resumable grids, reports
with Welch's t-test highlighting and the prompt-study ANOVA, and the paper's dataset loaders."""
from .config import BenchConfig, ConfigError, RunSpec, load_config, parse_config
from .report import build_report
from .runner import run_grid

__all__ = ["BenchConfig", "ConfigError", "RunSpec", "load_config", "parse_config",
           "build_report", "run_grid"]
