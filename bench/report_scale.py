"""The HTML report at scale: K = 100 topics and 100,000 documents (a planted-topic corpus, a
ProdLDA fit of a few epochs: the report's cost does not depend on fit quality). Prints the
file size, the time to build it, and the time headless chromium takes to draw every plot.

    OMP_NUM_THREADS=1 python bench/report_scale.py [--documents 100000] [--topics 100]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser import headless_chromium  # noqa: E402

from softtopic.cli import main as cli  # noqa: E402


LETTERS = "bcdfghjklmnpqrstvwz"


def corpus_texts(n_docs: int, n_topics: int, doc_len: int = 30, seed: int = 0) -> list[str]:
    """Documents of one planted topic each (10 invented words per topic, any K) with 15%
    shared noise words."""
    rng = np.random.default_rng(seed)
    words = [[f"{LETTERS[t // 19]}a{LETTERS[t % 19]}e{LETTERS[j]}o" for j in range(10)]
             for t in range(n_topics)]
    noise = [f"nois{LETTERS[i]}x" for i in range(19)]
    texts = []
    for _ in range(n_docs):
        topic = words[rng.integers(n_topics)]
        texts.append(" ".join(noise[rng.integers(19)] if rng.random() < 0.15 else
                              topic[rng.integers(10)] for _ in range(doc_len)))
    return texts


def render_seconds(html: Path, timeout: float = 300) -> tuple[float, int]:
    """Seconds from navigation until every plot container holds a drawn figure."""
    driver = headless_chromium()
    try:
        t0 = time.perf_counter()
        driver.get(html.as_uri())
        while time.perf_counter() - t0 < timeout:
            done = driver.execute_script(
                "const d=[...document.querySelectorAll('.plotly-graph-div')];"
                "return d.length && d.every(x => x.querySelector('.main-svg')) ? d.length : 0")
            if done:
                return time.perf_counter() - t0, done
            time.sleep(0.1)
        raise TimeoutError(f"plots not drawn after {timeout} s")
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="report-scale-"))
    texts = corpus_texts(args.documents, args.topics)
    corpus = work / "corpus.jsonl"
    with open(corpus, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"d{i}", "text": t,
                                "date": f"20{10 + i % 12}-{1 + i % 12:02d}-01"}) + "\n")
    t0 = time.perf_counter()
    cli(["fit", str(corpus), "--model", "prodlda", "--k", str(args.topics), "--epochs",
         str(args.epochs), "--out", str(work / "run"), "--quiet", "--time-column", "date"])
    fit = time.perf_counter() - t0
    rows = []
    for projection in ("pca", "umap"):
        out = work / f"report-{projection}.html"
        t0 = time.perf_counter()
        cli(["report", str(work / "run"), "--out", str(out), "--projection", projection])
        build = time.perf_counter() - t0
        render, plots = render_seconds(out)
        rows.append((projection, f"{out.stat().st_size / 1e6:.1f}", f"{build:.1f}",
                     f"{render:.2f}", plots))
    print(f"\n{args.documents:,} documents, K={args.topics}, fit {fit:.0f} s ({args.epochs} "
          f"epochs); document map: 3,000 sampled documents")
    print(f"{'projection':<11}{'file MB':>8}{'build s':>9}{'render s':>10}{'plots':>7}")
    for r in rows:
        print(f"{r[0]:<11}{r[1]:>8}{r[2]:>9}{r[3]:>10}{r[4]:>7}")


if __name__ == "__main__":
    main()
