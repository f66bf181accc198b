"""Soft-label target variants vs the baselines, on cached MiniLM features (issue 10 research).

For each corpus the document embeddings, the vocabulary's word embeddings (lone word and
"a text about {word}") and the bag of words are computed once into --work; every variant then
fits `SoftLabelTM(teacher="encoder")` with precomputed `encoder_logits` built from them, so the
variants differ only in the soft label:

    base          50 * cos(document, word), the paper's setting otherwise (PAPER_SETTING:
                  no bag of words in the target, CTM's dropouts)
    default       the same logits with SoftLabelTM's defaults (registry softlabel-encoder)
    centre        hub_correction="centre": each word's mean logit over the corpus subtracted
    csls          base minus each word's mean of its 10 highest document logits (CSLS)
    tmpl, tmplc   word embedded as "a text about {word}" (tmplc: and centred)
    +mixA         bow_mix=A: target (1 - A) softmax(L / tau) + A * normalised bag of words
    +topK, +tauT  the target's top_k / tau
    +nbK          bow_neighbours=K: the mixed words are the mean bag of words of the document
                  and its K - 1 nearest neighbours (embedding cosine)
    +nbslK        the soft label itself averaged over the document and its K - 1 nearest
                  neighbours (exactly: tau * log of the mean softmax(L / tau))
    +inK          the encoder's input (any model's embedding) averaged over the document and its
                  K - 1 nearest neighbours; the soft label still reads the document's own
    +dX, +tdX     dropout / theta_dropout; +epN epochs; +p:name=value any model parameter
                  (e.g. +p:mu_batch_norm="scale", +p:cluster_weight=0)

`--sample N` fits on N documents of the corpus, drawn once with seed 0 (the same N documents
for every model and seed), with the vocabulary built on them; cached as corpus "NAME-sN".
`--words N` keeps each document's first N words (20NG cut to tweet length: short texts whose
labels are topics, not events); cached as corpus "NAME-wN".

Baselines (zeroshot, prodlda, combined, fastopic, bertopic) read the same embeddings. One JSON
line per fit goes to --out; `--table` prints the mean table of one or more such files. Scores:
purity, NMI, P@5 (also on deduplicated texts), TD, C_V against the corpus itself (cv_corpus)
and, when --reference exists, against it as the harness scores C_V (cv_wiki: the Wikipedia
subset, top 15 words, window 110; the counts are cached per vocabulary).

    OMP_NUM_THREADS=1 python bench/soft_label_variants.py tweet89 --k 89 --seeds 0,1,2 \
        --variants zeroshot,base,base+mix0.5,bertopic --out runs/variants-tweet89.jsonl
    python bench/soft_label_variants.py --table runs/variants-*.jsonl
    python bench/soft_label_variants.py --table runs/variants-*.jsonl --welch default
    python bench/soft_label_variants.py --table runs/variants-*.jsonl --columns nmi [--welch V]
"""
import argparse, dataclasses, importlib, json, os, sys, time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# ../shared/data beside the repository; SOFTTOPIC_DATA for a checkout elsewhere (a worktree)
DATA = Path(os.environ.get("SOFTTOPIC_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
CORPORA = {"tweet89": "shorttext/tweet89.jsonl", "subj": "shorttext/20ng_subjects.jsonl",
           "20ng": "20newsgroup/corpus_stripped.jsonl"}


def corpus_name(name: str, sample: int | None, words: int | None = None) -> str:
    return name + (f"-w{words}" if words else "") + (f"-s{sample}" if sample else "")


def cache_features(name: str, work: Path, sample: int | None = None,
                   words: int | None = None) -> Path:
    """Embeddings, word embeddings, bag of words and labels of one corpus, computed once; with
    `sample`, of that many of its documents drawn once (seed 0, whatever the model seeds), with
    the vocabulary built on the sample as a user with that corpus would have it; with `words`,
    of each document's first `words` words (a short-text corpus with a long one's labels)."""
    from softtopic import ZeroShotTM, load_corpus
    from softtopic.preprocessing import PreprocessingConfig, Vocabulary
    from softtopic.views.sentence import SentenceEmbeddings
    out = work / corpus_name(name, sample, words)
    if (out / "meta.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(DATA / CORPORA[name])
    if words:
        corpus = dataclasses.replace(corpus, texts=[" ".join(t.split()[:words])
                                                    for t in corpus.texts])
    if sample:
        if sample >= len(corpus.texts):
            raise SystemExit(f"--sample {sample}: {name} has only {len(corpus.texts)} documents")
        corpus = corpus.subset(np.sort(np.random.default_rng(0).choice(
            len(corpus.texts), sample, replace=False)))
    m = ZeroShotTM()
    voc = Vocabulary(PreprocessingConfig.of(m))
    bow = voc.fit_transform(corpus.texts)
    words = list(voc.words)
    enc = SentenceEmbeddings(progress=False)
    t = time.time()
    E = np.asarray(enc.encode(corpus.texts), dtype=np.float32)
    seconds = time.time() - t
    np.save(out / "E.npy", E)
    np.save(out / "W.npy", enc.encode(words))
    np.save(out / "W_tmpl.npy", enc.encode([f"a text about {w}" for w in words]))
    sp.save_npz(out / "bow.npz", sp.csr_matrix(bow))
    json.dump({"words": words, "labels": list(map(str, corpus.labels)), "texts": corpus.texts,
               "embed_seconds": seconds}, open(out / "meta.json", "w"))
    return out


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def model_parameter(part: str) -> dict:
    """'p:name=value' -> {name: value}: any model parameter, the value parsed as JSON."""
    name, value = part[2:].split("=", 1)
    return {name: json.loads(value)}


def logits_for(spec: str, d: Path, Eu, bow):
    """'tmplc+mix0.3+top50' -> (encoder logits, extra SoftLabelTM parameters). Centring and
    mixing are the model's own parameters (hub_correction, bow_mix); CSLS and the template
    change the teacher's logits here."""
    from softtopic.models.presets import PAPER_SETTING
    parts = spec.split("+")
    base = parts[0]
    # "default": SoftLabelTM's defaults; every other base starts from the paper's setting
    extra = {} if base == "default" else dict(PAPER_SETTING)
    W = np.load(d / ("W_tmpl.npy" if base.startswith("tmpl") else "W.npy"))
    L = 50.0 * (Eu @ unit(W).T)
    if base in ("centre", "tmplc"):
        extra["hub_correction"] = "centre"
    elif base == "csls":
        L = L - (-np.sort(-L, axis=0)[:10]).mean(0, keepdims=True)
    smooth_over = 1
    for p in parts[1:]:
        if p.startswith("nbsl"):         # nbslK: soft label averaged over K neighbours
            smooth_over = int(p[4:])
        elif p.startswith("tau"):
            extra["tau"] = float(p[3:])
        elif p.startswith("top"):
            extra["top_k"] = int(p[3:])
        elif p.startswith("mix"):
            extra["bow_mix"] = float(p[3:])
        elif p.startswith("nb"):         # nbK: bow_neighbours=K (mix the neighbourhood words)
            extra["bow_neighbours"] = int(p[2:])
        elif p.startswith("td"):         # tdX: theta_dropout=X
            extra["theta_dropout"] = float(p[2:])
        elif p.startswith("d"):          # dX: dropout=X
            extra["dropout"] = float(p[1:])
        elif p.startswith("ep"):
            extra["epochs"] = int(p[2:])
        elif p.startswith("p:"):
            extra.update(model_parameter(p))
        else:
            raise SystemExit(f"unknown variant part {p!r} in {spec!r}")
    if smooth_over > 1:
        L = neighbourhood_soft_label(L, Eu, bow, smooth_over, extra.get("tau", 3.0))
    return L.astype(np.float32), extra


def neighbourhood_soft_label(L, Eu, bow, k: int, tau: float):
    """Logits whose softmax(. / tau) is the mean soft label of each document and its k - 1
    nearest neighbours by embedding cosine (documents without vocabulary words keep theirs)."""
    from softtopic.models.neighbourhood import nearest_neighbours
    rows = np.flatnonzero(np.asarray(bow.sum(1)).ravel() > 0)
    neighbours = nearest_neighbours(Eu, k, rows)
    P = np.exp((L - L.max(1, keepdims=True)) / tau)
    P /= P.sum(1, keepdims=True)
    P[rows] = P[rows][neighbours].mean(1)
    return tau * np.log(np.maximum(P, 1e-30))


def neighbour_mean(E, bow, k: int):
    """Each document's embedding averaged with its k - 1 nearest neighbours' (cosine, among the
    documents with vocabulary words; the others keep theirs)."""
    from softtopic.models.neighbourhood import nearest_neighbours
    rows = np.flatnonzero(np.asarray(bow.sum(1)).ravel() > 0)
    out = E.copy()
    out[rows] = E[rows][nearest_neighbours(E, k, rows)].mean(1)
    return out


def cluster_shape(theta, labels) -> dict:
    """What NMI = I(Y;C) / mean(H(Y), H(C)) is made of (nats), with the argmax clustering's
    size distribution: topics used, exp(H(C)), the largest cluster's share; and AMI."""
    from scipy.stats import entropy
    from sklearn.metrics import adjusted_mutual_info_score, mutual_info_score
    from softtopic.evaluation.clustering import hard_assignments
    c = hard_assignments(theta)
    sizes = np.bincount(c)
    sizes = sizes[sizes > 0]
    h_c = float(entropy(sizes))
    return {"clusters_used": int(len(sizes)), "h_clusters": h_c,
            "eff_clusters": float(np.exp(h_c)),
            "largest_cluster_share": float(sizes.max() / len(c)),
            "h_labels": float(entropy(list(Counter(labels).values()))),
            "mi": float(mutual_info_score(labels, c)),
            "ami": float(adjusted_mutual_info_score(labels, c))}


def evaluate(model, theta, texts, labels, stats, seconds, wiki=None):
    from softtopic.evaluation.clustering import clustering_scores
    from softtopic.evaluation.coherence import coherence
    from softtopic.evaluation.diversity import topic_diversity
    from softtopic.evaluation.report import first_occurrences
    from softtopic.evaluation.retrieval import retrieval_precision
    topics = model.get_topics(top_n=15)
    r = dict(clustering_scores(theta, labels))       # purity, inverse_purity, ..., nmi, ari
    r.update(cluster_shape(theta, labels))
    pk = retrieval_precision(theta, labels, ks=(5, 10))
    r["p5"], r["p10"] = pk[5], pk[10]
    keep = first_occurrences(texts, range(len(texts)))  # subject lines repeat within threads
    r["p5_dedup"] = retrieval_precision(theta[keep], labels[keep], ks=(5,))[5]
    r["td"] = topic_diversity(topics, 15)
    r["cv_corpus"] = coherence(topics, stats, "cv").score
    r["npmi_corpus"] = coherence(topics, stats, "npmi").score
    if wiki is not None:                              # the harness's "cv": Wikipedia, top 15
        r["cv_wiki"] = coherence(topics, wiki, "cv", 15).score
    r["max_word_topics"] = max(Counter(w for t in topics for w in t[:10]).values())
    r["fit_s"] = seconds
    r["topics"] = [" ".join(t[:15]) for t in topics]
    return r


def run(a):
    from softtopic import CombinedTM, ProdLDA, ZeroShotTM
    from softtopic.evaluation.reference import count_reference, reference_statistics
    from softtopic.models.presets import SoftLabelTM
    d = cache_features(a.corpus, Path(a.work), a.sample, a.words)
    meta = json.load(open(d / "meta.json"))
    texts, labels, words = meta["texts"], np.array(meta["labels"]), meta["words"]
    E = np.load(d / "E.npy")
    bow = sp.load_npz(d / "bow.npz").tocsr()
    Eu = unit(E)
    stats = count_reference(texts, words, windows=(110, 10))
    wiki = (reference_statistics(a.reference, words, (110,))[110]
            if a.reference and Path(a.reference).exists() else None)
    out = open(a.out, "a") if a.out else sys.stdout
    import torch
    threads = torch.get_num_threads()
    for seed in map(int, a.seeds.split(",")):
        for v in a.variants.split(","):
            kw = dict(n_topics=a.k, seed=seed, progress=False)
            t = time.time()
            name, *opts = v.split("+")
            smooth = [int(o[2:]) for o in opts if o.startswith("in")]
            opts = [o for o in opts if not o.startswith("in")]
            spec = "+".join([name] + opts)
            E_in = neighbour_mean(E, bow, smooth[-1]) if smooth else E
            if name in ("zeroshot", "combined", "prodlda"):
                for o in opts:
                    if not o.startswith("p:"):
                        raise SystemExit(f"{name} takes only p:name=value parts, got {o!r}")
                    kw.update(model_parameter(o))
            if name in ("zeroshot", "combined"):
                m = {"zeroshot": ZeroShotTM, "combined": CombinedTM}[name](**kw)
                theta = m.fit_transform(texts, features={"embedding": E_in})
            elif name == "prodlda":
                m = ProdLDA(**kw)
                theta = m.fit_transform(texts)
            elif spec in ("fastopic", "bertopic"):
                mod = importlib.import_module(f"softtopic.models.wrappers.{spec}")
                mod.document_embeddings = lambda self, corpus: E_in   # the cached embeddings
                m = getattr(mod, {"fastopic": "FASTopic", "bertopic": "BERTopic"}[spec])(**kw)
                theta = m.fit_transform(texts)
            else:
                L, extra = logits_for(spec, d, Eu, bow)
                m = SoftLabelTM(teacher="encoder", **{**kw, **extra})
                theta = m.fit_transform(texts, features={"embedding": E_in, "encoder_logits": L})
            r = evaluate(m, theta, texts, labels, stats, time.time() - t, wiki)
            # UMAP resets numba's threads to the CPU count, and with numba's OpenMP layer that
            # is torch's libgomp: later fits would run (and spin) on every core
            torch.set_num_threads(threads)
            print(json.dumps({"corpus": corpus_name(a.corpus, a.sample, a.words), "k": a.k,
                              "seed": seed, "variant": v, **r}), file=out, flush=True)


COLUMNS = ["purity", "nmi", "p5", "p5_dedup", "td", "cv_wiki", "cv_corpus", "npmi_corpus",
           "max_word_topics", "fit_s"]
# --columns nmi: the clustering's make-up (rows written before these fields show "-")
NMI_COLUMNS = ["nmi", "ami", "purity", "inverse_purity", "mi", "h_labels", "h_clusters",
               "eff_clusters", "clusters_used", "largest_cluster_share"]


def grouped(files) -> dict:
    """(corpus, K, variant) -> the result rows of every seed, from JSON-lines files."""
    groups = defaultdict(list)
    for f in files:
        for line in open(f):
            if line.startswith("{"):
                r = json.loads(line)
                groups[(r["corpus"], r["k"], r["variant"])].append(r)
    return groups


def table(files, columns=COLUMNS):
    groups = grouped(files)
    print("| corpus | K | variant | seeds | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 4) + "|")
    for key in sorted(groups, key=lambda k: (k[0], k[1])):
        rs = groups[key]
        cells = [f"{np.mean([r[c] for r in rs]):.3f}" if all(c in r for r in rs) else "-"
                 for c in columns]
        print(f"| {key[0]} | {key[1]} | {key[2]} | {len(rs)} | " + " | ".join(cells) + " |")


WELCH_COLUMNS = ["purity", "nmi", "p5", "p5_dedup", "cv_wiki", "cv_corpus"]
NMI_WELCH_COLUMNS = ["nmi", "ami", "purity", "inverse_purity", "mi", "eff_clusters"]


def welch(files, variant, columns=WELCH_COLUMNS):
    """Welch's t-test of `variant` against every other variant of the same corpus and K:
    mean difference (variant - other) and two-sided p per column."""
    from scipy.stats import ttest_ind
    groups = grouped(files)
    print(f"| corpus | K | {variant} vs | seeds | " +
          " | ".join(f"{c} diff (p)" for c in columns) + " |")
    print("|---" * (len(columns) + 4) + "|")
    for (corpus, k, other), rs in sorted(groups.items()):
        mine = groups.get((corpus, k, variant))
        if other == variant or not mine or len(mine) < 2 or len(rs) < 2:
            continue
        cells = []
        for c in columns:
            if not all(c in r for r in mine + rs):
                cells.append("-")
                continue
            a, b = [r[c] for r in mine], [r[c] for r in rs]
            p = ttest_ind(a, b, equal_var=False).pvalue
            cells.append(f"{np.mean(a) - np.mean(b):+.3f} ({p:.3f})")
        print(f"| {corpus} | {k} | {other} | {len(mine)}/{len(rs)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", choices=sorted(CORPORA))
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sample", type=int, default=None,
                    help="fit on this many documents of the corpus, drawn once (seed 0)")
    ap.add_argument("--words", type=int, default=None,
                    help="keep each document's first this many words")
    ap.add_argument("--variants", default="zeroshot,base,base+mix0.5")
    ap.add_argument("--work", default="runs/soft-label-variants")
    ap.add_argument("--out", default=None, help="append JSON lines here (default: stdout)")
    ap.add_argument("--reference", default=str(DATA / "reference" / "wiki.txt.gz"),
                    help="reference corpus of cv_wiki, the harness's C_V (skipped if absent)")
    ap.add_argument("--table", nargs="+", metavar="JSONL", help="print the mean table and exit")
    ap.add_argument("--welch", metavar="VARIANT",
                    help="with --table: Welch tests of VARIANT against the other variants")
    ap.add_argument("--columns", choices=["default", "nmi"], default="default",
                    help="with --table: the default columns, or nmi: what NMI is made of")
    a = ap.parse_args()
    for flag in ("sample", "words"):
        if getattr(a, flag) is not None and getattr(a, flag) < 1:
            ap.error(f"--{flag} must be a positive number of "
                     f"{'documents' if flag == 'sample' else 'words'}, got {getattr(a, flag)}")
    nmi_cols = a.columns == "nmi"
    if a.table and a.welch:
        welch(a.table, a.welch, NMI_WELCH_COLUMNS if nmi_cols else WELCH_COLUMNS)
    elif a.table:
        table(a.table, NMI_COLUMNS if nmi_cols else COLUMNS)
    elif a.corpus:
        run(a)
    else:
        ap.error("give a corpus or --table FILES")
