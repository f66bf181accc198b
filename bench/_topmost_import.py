"""Benchmark-only: import TopMost's ETM, ECRTM and BasicTrainer without torchvision.

TopMost 1.0.2 declares torchvision as a requirement, and `import topmost` fails without it:

    topmost/__init__.py        -> from . import data
    topmost/data/__init__.py   -> from .download import download_dataset
    topmost/data/download.py   -> from torchvision.datasets.utils import download_url

That `download_url` (fetching TopMost's preprocessed datasets from GitHub) is the only use of
torchvision in the package. The modules the benchmark needs import only torch, numpy, tqdm and
two small TopMost helpers:

    topmost/models/basic/ETM.py               torch
    topmost/models/basic/ECRTM/ECRTM.py, ECR.py   torch, numpy
    topmost/trainers/basic/basic_trainer.py   numpy, tqdm, torch, topmost.utils._utils
                                              (-> topmost.data.file_utils: os, json),
                                              topmost.utils.logger (logging)

So instead of installing torchvision (its PyPI wheel is a CUDA build that fails to load beside
the CPU torch here and then breaks `import transformers`) or stubbing it, the package
`__init__` files are skipped: `topmost` and the sub-packages on the way are registered as bare
packages whose `__path__` points into the installed tree, and the submodules are imported from
the files as shipped (unmodified). Nothing is patched and no other TopMost module is loaded.

Install TopMost for the benchmark only, outside the environment, without its dependencies:

    pip install --no-deps --target /tmp/topmost-site topmost==1.0.2
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

BARE_PACKAGES = ("topmost", "topmost.data", "topmost.utils", "topmost.models",
                 "topmost.models.basic", "topmost.trainers", "topmost.trainers.basic")


def import_topmost(site: str | Path):
    """(ETM, ECRTM, BasicTrainer, version) from the TopMost installed under `site`."""
    root = Path(site) / "topmost"
    if not (root / "models/basic/ETM.py").exists():
        raise FileNotFoundError(
            f"TopMost not found under {site}; install it for the benchmark with "
            f"`pip install --no-deps --target {site} topmost==1.0.2` (or set TOPMOST_SITE)")
    for name in BARE_PACKAGES:
        module = types.ModuleType(name)
        module.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
        module.__package__ = name
        sys.modules[name] = module
    from topmost.models.basic.ECRTM.ECRTM import ECRTM
    from topmost.models.basic.ETM import ETM
    from topmost.trainers.basic.basic_trainer import BasicTrainer
    version = "?"
    for dist in Path(site).glob("topmost-*.dist-info"):
        version = dist.name[len("topmost-"):-len(".dist-info")]
    return ETM, ECRTM, BasicTrainer, version
