"""Which words stand for a ProdLDA topic? Raw beta against readouts batch norm leaves open (issue 10).

ProdLDA's decoder is softmax(BN(theta @ beta)), the batch norm without affine parameters (CTM's
"batchnorm on beta"), and its topics are read from the raw rows of beta, as CTM reads them. While
training, the norm subtracts each word's batch mean and divides by its batch spread; theta's rows
sum to one, so adding a constant to a word's column of beta, or scaling it by a positive factor,
leaves every training output unchanged (up to the norm's eps). The loss does not fix those per-word offsets and scales, yet the raw-beta
ranking reads them. This fits the default soft-label model on cached features (the
`bench/soft_label_variants.py` cache: run it once per corpus first) and scores four readouts of
the same fit:

    raw       beta (the default: what get_topics returns)
    centred   beta minus each word's mean over the topics
    offset    beta minus the norm's running mean of the word (the eval-mode offset)
    bn        (beta - running mean) / sqrt(running variance + eps): the eval-mode logits of a
              document wholly in one topic, i.e. the model's own p(w | topic)

Topic diversity (top 15) and C_V against Wikipedia (the harness's) and the corpus itself.

    OMP_NUM_THREADS=1 python bench/topic_word_readout.py tweet89 --k 50 --seeds 0,1,2 --out r.jsonl
    python bench/topic_word_readout.py --table r.jsonl
"""
import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soft_label_variants as variants  # noqa: E402  (the bench's cached features and fits)

READOUTS = ("raw", "centred", "offset", "bn")
COLUMNS = ("td", "cv_wiki", "cv_corpus", "npmi_corpus")


def readouts(model) -> dict:
    """The K x V weights each readout ranks a topic's words by."""
    decoder = model.module_.decoder
    beta = decoder.beta.detach().numpy().astype(np.float64)
    mean = decoder.bn.running_mean.numpy()
    spread = np.sqrt(decoder.bn.running_var.numpy() + decoder.bn.eps)
    return {"raw": beta, "centred": beta - beta.mean(0), "offset": beta - mean,
            "bn": (beta - mean) / spread}


def run(a):
    import scipy.sparse as sp
    from softtopic.evaluation.coherence import coherence
    from softtopic.evaluation.diversity import topic_diversity
    from softtopic.evaluation.reference import count_reference, reference_statistics
    from softtopic.models.presets import SoftLabelTM
    d = variants.cache_features(a.corpus, Path(a.work), None, a.words)
    meta = json.load(open(d / "meta.json"))
    texts, words = meta["texts"], meta["words"]
    E, bow = np.load(d / "E.npy"), sp.load_npz(d / "bow.npz").tocsr()
    corpus_stats = count_reference(texts, words, windows=(110, 10))
    wiki = reference_statistics(a.reference, words, (110,))[110]
    out = open(a.out, "a") if a.out else sys.stdout
    for seed in map(int, a.seeds.split(",")):
        t = time.time()
        logits, extra = variants.logits_for("default", d, variants.unit(E), bow)
        model = SoftLabelTM(teacher="encoder", n_topics=a.k, seed=seed, progress=False, **extra)
        model.fit(texts, features={"embedding": E, "encoder_logits": logits})
        for name, weights in readouts(model).items():
            order = np.argsort(-weights, axis=1, kind="stable")[:, :15]
            topics = [[model.vocabulary_.words[j] for j in row] for row in order]
            row = {"corpus": variants.corpus_name(a.corpus, None, a.words), "k": a.k,
                   "seed": seed, "readout": name, "td": topic_diversity(topics, 15),
                   "cv_wiki": coherence(topics, wiki, "cv", 15).score,
                   "cv_corpus": coherence(topics, corpus_stats, "cv").score,
                   "npmi_corpus": coherence(topics, corpus_stats, "npmi").score,
                   "fit_s": time.time() - t, "topics": [" ".join(w[:10]) for w in topics]}
            print(json.dumps(row), file=out, flush=True)


def table(files):
    """Mean per readout, and its difference from raw (Welch p over seeds)."""
    from scipy.stats import ttest_ind
    groups = defaultdict(list)
    for f in files:
        for line in open(f):
            r = json.loads(line)
            groups[(r["corpus"], r["k"], r["readout"])].append(r)
    print("| corpus | K | readout | seeds | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for corpus, k in sorted({key[:2] for key in groups}):
        raw = groups[(corpus, k, "raw")]
        for name in READOUTS:
            rows = groups.get((corpus, k, name))
            if not rows:
                continue
            cells = []
            for c in COLUMNS:
                mine, base = [r[c] for r in rows], [r[c] for r in raw]
                cell = f"{np.mean(mine):.3f}"
                if name != "raw" and min(len(mine), len(base)) > 1:
                    p = ttest_ind(mine, base, equal_var=False).pvalue
                    cell += f" ({np.mean(mine) - np.mean(base):+.3f}, p {p:.3f})"
                cells.append(cell)
            print(f"| {corpus} | {k} | {name} | {len(rows)} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", nargs="?", choices=sorted(variants.CORPORA))
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--words", type=int, default=None, help="as bench/soft_label_variants.py")
    ap.add_argument("--work", default="runs/soft-label-variants")
    ap.add_argument("--out", default=None, help="append JSON lines here (default: stdout)")
    ap.add_argument("--reference", default=str(variants.DATA / "reference" / "wiki.txt.gz"))
    ap.add_argument("--table", nargs="+", metavar="JSONL", help="print the mean table and exit")
    a = ap.parse_args()
    if a.table:
        return table(a.table)
    if not a.corpus:
        ap.error("name a corpus, or --table")
    run(a)


if __name__ == "__main__":
    main()
