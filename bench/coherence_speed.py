"""Speed and agreement of softtopic's C_V against gensim's CoherenceModel(coherence='c_v').

Same topics (50 x 15 words), two reference corpora: (a) the 20 Newsgroups corpus itself and
(b) the Wikipedia subset. For each: softtopic cold (hash + tokenise + count + save + score, in
an empty cache), softtopic warm (statistics loaded from the cache + score), and gensim (given
the same token lists; tokenising for gensim is timed separately and NOT charged to gensim).
Every measurement runs in a fresh process, so the peak memory is its own. Also times retrieval
P@k (KL and Hellinger) on all 20NG documents.

Topics: by default an sklearn NMF (K=50, tf-idf of the softtopic bag of words, vocabulary of
2000 words) on 20NG, because the benchmark must run before any softtopic model exists; pass
--topics RUN/topics.json to use a real run.

gensim on the whole Wikipedia subset takes long on 2 cores: both tools are compared on the
first --gensim-wiki-docs articles, softtopic is also timed on the whole file, and gensim's time
there is extrapolated (linearly in tokens, marked ~) unless --gensim-full-wiki runs it. Each
gensim call gets --gensim-budget seconds (a call over budget is stopped and reported).

    python bench/coherence_speed.py [--topics topics.json] [--gensim-full-wiki]
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("SOFTTOPIC_SHARED", Path(__file__).resolve().parents[1].parent / "shared/data"))
DEFAULT_CORPUS = SHARED / "20newsgroup" / "corpus_stripped.jsonl"
DEFAULT_WIKI = SHARED / "reference" / "wiki.txt.gz"


# --------------------------------------------------------------------------- isolation

def _child(queue, fn, args):
    try:
        result = fn(*args)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put(result)
    except BaseException as e:  # report, do not hang the parent
        queue.put({"error": f"{type(e).__name__}: {e}"})


def isolated(fn, *args, budget: float | None = None) -> dict:
    """Run fn(*args) -> dict in a fresh interpreter; adds its peak RSS. Stops it past budget."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    t0 = time.perf_counter()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except Exception:
            if budget is not None and time.perf_counter() - t0 > budget:
                proc.terminate()  # our own child, by its handle
                proc.join()
                return {"error": f"over the {budget:.0f} s budget", "seconds": float("nan")}
            if not proc.is_alive():
                return {"error": f"process died (exit code {proc.exitcode})"}
    proc.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


# --------------------------------------------------------------------------- workloads

def ours_cv(reference, words, topics, cache_dir, window=110, counting="exact", n_jobs=None):
    """softtopic: statistics (cold: counted; warm: from cache) + C_V. Timed after imports."""
    from softtopic.evaluation import c_v, reference_statistics
    t0 = time.perf_counter()
    stats = reference_statistics(reference, words, [window], counting=counting,
                                 cache_dir=cache_dir, n_jobs=n_jobs)[window]
    t1 = time.perf_counter()
    result = c_v(topics, stats, top_n=len(topics[0]), absent="drop")
    kept = c_v(topics, stats, top_n=len(topics[0]))
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "statistics_seconds": t1 - t0, "score_seconds": t2 - t1,
            "per_topic": result.per_topic.tolist(), "per_topic_kept": kept.per_topic.tolist(),
            "n_absent": kept.n_absent_words, "n_windows": stats.n_windows,
            "n_tokens": stats.source.get("n_tokens"),
            "n_documents": stats.source.get("n_documents")}


def gensim_cv(token_path, topics):
    """gensim 4: Dictionary(texts) + CoherenceModel(c_v, processes=1) on token lists."""
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel
    with open(token_path) as f:
        texts = [line.split() for line in f]
    t0 = time.perf_counter()
    dictionary = Dictionary(texts)
    cm = CoherenceModel(topics=topics, texts=texts, dictionary=dictionary, coherence="c_v",
                        topn=len(topics[0]), processes=1)
    per_topic = cm.get_coherence_per_topic()
    seconds = time.perf_counter() - t0
    dropped = sum(1 for t in topics for w in t if w not in dictionary.token2id)
    return {"seconds": seconds, "per_topic": [float(x) for x in per_topic],
            "n_dropped_words": dropped}


def tokenise_to_file(texts_source, out_path, text_column="text", limit=None):
    """Tokenise with the training policy, one document a line, for gensim. Timed."""
    from softtopic.evaluation.reference import iter_texts
    from softtopic.preprocessing import tokenize
    t0 = time.perf_counter()
    n = 0
    with open(out_path, "w") as f:
        for text in itertools.islice(iter_texts(texts_source, text_column), limit):
            f.write(" ".join(tokenize(text)) + "\n")
            n += 1
    return {"seconds": time.perf_counter() - t0, "n_documents": n}


def retrieval_timing(theta_path, labels):
    from softtopic.evaluation import retrieval_precision
    theta = np.load(theta_path)
    out = {}
    for distance in ("kl", "hellinger"):
        t0 = time.perf_counter()
        p = retrieval_precision(theta, labels, (1, 5, 10), distance)
        out[distance] = {"seconds": time.perf_counter() - t0, **{f"p@{k}": v
                                                                for k, v in p.items()}}
    return out


# --------------------------------------------------------------------------- topics

def nmf_topics(corpus_path, k, top_n, theta_out):
    """50 NMF topics on tf-idf of the softtopic bag of words (vocabulary 2000)."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfTransformer

    from softtopic.corpus import load_corpus
    from softtopic.preprocessing import Vocabulary
    corpus = load_corpus(corpus_path)
    vocab = Vocabulary()
    bow = vocab.fit_transform(corpus.texts)
    tfidf = TfidfTransformer().fit_transform(bow)
    nmf = NMF(n_components=k, init="nndsvda", random_state=0, max_iter=400)
    w = nmf.fit_transform(tfidf)
    topics = [[vocab.words[i] for i in np.argsort(-row)[:top_n]] for row in nmf.components_]
    sums = w.sum(axis=1, keepdims=True)
    theta = np.where(sums > 0, w / np.where(sums > 0, sums, 1), 1.0 / k)
    np.save(theta_out, theta.astype(np.float32))
    return {"topics": topics, "vocab": vocab.words, "labels": corpus.labels}


# --------------------------------------------------------------------------- main

def cold_topic_words(reference, topics, cache, jobs) -> float:
    """Cold time when only the topic words are counted (evaluate_topics without a vocabulary;
    gensim also tracks only the topic words). A fresh cache, so nothing is reused."""
    words = list(dict.fromkeys(w for t in topics for w in t))
    return isolated(ours_cv, reference, words, topics, cache, 110, "exact", jobs)["seconds"]


def compare(name, ours_cold, ours_warm, gensim, replay=None, cold_topics_s=None):
    row = {"reference": name, "ours_cold_s": ours_cold["seconds"],
           "ours_cold_topic_words_s": cold_topics_s,
           "mean_cv": float(np.mean(ours_cold["per_topic_kept"])),
           "mean_cv_drop": float(np.nanmean(ours_cold["per_topic"])),
           "ours_warm_s": ours_warm["seconds"], "ours_cold_peak_mb": ours_cold["peak_rss_mb"],
           "ours_warm_peak_mb": ours_warm["peak_rss_mb"]}
    if gensim is None or "error" in gensim:
        row.update(gensim_s=float("nan"), gensim_note=(gensim or {}).get("error", "not run"))
        return row
    g = np.array(gensim["per_topic"], dtype=float)
    ours = np.array(ours_cold["per_topic"], dtype=float)
    ok = ~np.isnan(g)
    row.update(gensim_s=gensim["seconds"], gensim_peak_mb=gensim["peak_rss_mb"],
               cold_speedup=gensim["seconds"] / ours_cold["seconds"],
               cold_speedup_topic_words=gensim["seconds"] / cold_topics_s,
               warm_speedup=gensim["seconds"] / ours_warm["seconds"],
               max_diff_exact=float(np.nanmax(np.abs(ours - g)[ok])),
               mean_cv_gensim=float(np.nanmean(g)),
               gensim_nan_topics=int((~ok).sum()))
    if replay is not None:
        r = np.array(replay["per_topic"], dtype=float)
        row["max_diff_gensim_counting"] = float(np.nanmax(np.abs(r - g)[ok]))
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--wiki", default=str(DEFAULT_WIKI))
    ap.add_argument("--topics", help="topics.json of a run (default: NMF topics on 20NG)")
    ap.add_argument("--n-topics", type=int, default=50)
    ap.add_argument("--top-n", type=int, default=15)
    ap.add_argument("--gensim-budget", type=float, default=1800.0,
                    help="seconds allowed to one gensim call")
    ap.add_argument("--gensim-wiki-docs", type=int, default=3000,
                    help="also compare both tools on the first N Wikipedia articles (0: skip)")
    ap.add_argument("--gensim-full-wiki", action="store_true",
                    help="run gensim on the whole Wikipedia subset too (long: ~15-30 min on "
                    "2 CPUs); otherwise its time there is extrapolated from the first N")
    ap.add_argument("--skip-wiki", action="store_true")
    ap.add_argument("--jobs", type=int, default=None, help="softtopic tokenising processes")
    ap.add_argument("--json-out", help="also write the measurements here")
    args = ap.parse_args(argv)
    for path in (args.corpus, *(() if args.skip_wiki else (args.wiki,))):
        if not Path(path).exists():
            sys.exit(f"missing input {path}")

    work = Path(tempfile.mkdtemp(prefix="softtopic-bench-"))
    report = {"machine": f"{os.cpu_count()} CPUs", "rows": []}
    try:
        print("topics ...", flush=True)
        t0 = time.perf_counter()
        made = isolated(nmf_topics, args.corpus, args.n_topics, args.top_n,
                        str(work / "theta.npy"))
        if args.topics:
            doc = json.loads(Path(args.topics).read_text())
            topics = [t["words"][:args.top_n] for t in doc["topics"]]
            source = f"{args.topics}"
        else:
            topics = made["topics"]
            source = f"sklearn NMF (K={args.n_topics}, tf-idf, 2000-word vocabulary) on 20NG"
        words = made["vocab"]
        words = list(dict.fromkeys(words + [w for t in topics for w in t]))
        report["topics"] = {"source": source, "n_topics": len(topics), "top_n": args.top_n,
                            "seconds": time.perf_counter() - t0}

        # (a) 20NG as its own reference
        print("20NG: tokenising for gensim ...", flush=True)
        tok_20ng = isolated(tokenise_to_file, args.corpus, str(work / "20ng.tok"))
        print("20NG: softtopic cold / warm ...", flush=True)
        cache = str(work / "cache")
        cold = isolated(ours_cv, args.corpus, words, topics, cache, 110, "exact", args.jobs)
        warm = isolated(ours_cv, args.corpus, words, topics, cache, 110, "exact", args.jobs)
        replay = isolated(ours_cv, args.corpus, words, topics, cache, 110, "gensim", args.jobs)
        print("20NG: gensim ...", flush=True)
        gen = isolated(gensim_cv, str(work / "20ng.tok"), topics, budget=args.gensim_budget)
        cold_t = cold_topic_words(args.corpus, topics, str(work / "cache_t"), args.jobs)
        row = compare(f"20NG ({cold['n_documents']:,} docs)", cold, warm, gen, replay, cold_t)
        row.update(tokens=cold["n_tokens"], gensim_tokenising_s=tok_20ng["seconds"])
        report["rows"].append(row)

        if not args.skip_wiki:
            n_sub = args.gensim_wiki_docs
            if n_sub:
                wiki_sub = work / "wiki_subset.txt"
                with gzip.open(args.wiki, "rt", encoding="utf-8") as f, open(wiki_sub, "w") as g:
                    g.writelines(itertools.islice(f, n_sub))
                print(f"Wikipedia, first {n_sub} articles ...", flush=True)
                tok_sub = isolated(tokenise_to_file, str(wiki_sub), str(work / "wiki_sub.tok"))
                cold_s = isolated(ours_cv, str(wiki_sub), words, topics, cache, 110, "exact",
                                  args.jobs)
                warm_s = isolated(ours_cv, str(wiki_sub), words, topics, cache, 110, "exact",
                                  args.jobs)
                replay_s = isolated(ours_cv, str(wiki_sub), words, topics, cache, 110,
                                    "gensim", args.jobs)
                gen_s = isolated(gensim_cv, str(work / "wiki_sub.tok"), topics,
                                 budget=args.gensim_budget)
                cold_t = cold_topic_words(str(wiki_sub), topics, str(work / "cache_t"),
                                          args.jobs)
                row = compare(f"Wikipedia, first {n_sub} articles", cold_s, warm_s, gen_s,
                              replay_s, cold_t)
                row.update(tokens=cold_s["n_tokens"], gensim_tokenising_s=tok_sub["seconds"],
                           n_absent_words=cold_s["n_absent"])
                report["rows"].append(row)
            print("Wikipedia (all articles) ...", flush=True)
            cold_w = isolated(ours_cv, args.wiki, words, topics, cache, 110, "exact", args.jobs)
            warm_w = isolated(ours_cv, args.wiki, words, topics, cache, 110, "exact", args.jobs)
            gen_w = replay_w = None
            if args.gensim_full_wiki:
                tok_w = isolated(tokenise_to_file, args.wiki, str(work / "wiki.tok"))
                replay_w = isolated(ours_cv, args.wiki, words, topics, cache, 110, "gensim",
                                    args.jobs)
                gen_w = isolated(gensim_cv, str(work / "wiki.tok"), topics,
                                 budget=args.gensim_budget)
            cold_t = cold_topic_words(args.wiki, topics, str(work / "cache_t"), args.jobs)
            row = compare(f"Wikipedia ({cold_w['n_documents']:,} articles)", cold_w, warm_w,
                          gen_w, replay_w, cold_t)
            row.update(tokens=cold_w["n_tokens"], n_absent_words=cold_w["n_absent"])
            if args.gensim_full_wiki:
                row["gensim_tokenising_s"] = tok_w["seconds"]
            elif n_sub and "error" not in gen_s:  # linear in tokens: an estimate, said so
                est = gen_s["seconds"] * cold_w["n_tokens"] / cold_s["n_tokens"]
                row.update(gensim_estimate_s=est, cold_speedup_est=est / cold_w["seconds"],
                           cold_speedup_topic_words_est=est / cold_t,
                           warm_speedup_est=est / warm_w["seconds"])
            report["rows"].append(row)

        print("retrieval P@k on 20NG ...", flush=True)
        from softtopic.corpus import load_corpus
        labels = load_corpus(args.corpus).labels
        report["retrieval"] = isolated(retrieval_timing, str(work / "theta.npy"), labels)
        report["retrieval"]["n_documents"] = len(labels)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_report(report)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, default=float))


def _f(x, fmt="{:.2f}"):
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else fmt.format(x)


def print_report(report):
    t = report["topics"]
    print(f"\nC_V, {t['n_topics']} topics x {t['top_n']} words from {t['source']}; "
          f"{report['machine']}")
    head = (f"{'reference':<31} {'tokens':>10} {'ours cold s':>12} {'warm s':>6} "
            f"{'gensim s':>8} {'cold x':>9} {'warm x':>7} {'peak MB':>9} "
            f"{'max|exact-g|':>12} {'max|replay-g|':>13}")
    print(head)
    print(f"{'':<31} {'':>10} {'vocab/topic':>12} {'':>6} {'':>8} {'voc/top':>9} {'':>7} "
          f"{'ours/gen':>9}")
    print("-" * len(head))
    for r in report["rows"]:
        gensim_s = r.get("gensim_s")
        cold_x, cold_tx = r.get("cold_speedup"), r.get("cold_speedup_topic_words")
        warm_x = r.get("warm_speedup")
        est = ""
        if "gensim_estimate_s" in r:
            gensim_s, cold_x, warm_x = (r["gensim_estimate_s"], r["cold_speedup_est"],
                                        r["warm_speedup_est"])
            cold_tx, est = r["cold_speedup_topic_words_est"], "~"
        cold = f"{r['ours_cold_s']:.2f}/{_f(r.get('ours_cold_topic_words_s'))}"
        cold_xs = f"{est}{_f(cold_x, '{:.0f}')}/{_f(cold_tx, '{:.0f}')}"
        peak = f"{r['ours_cold_peak_mb']:.0f}/{_f(r.get('gensim_peak_mb'), '{:.0f}')}"
        print(f"{r['reference']:<31} {_f(r.get('tokens'), '{:,}'):>10} {cold:>12} "
              f"{r['ours_warm_s']:>6.3f} {est + _f(gensim_s, '{:.1f}'):>8} {cold_xs:>9} "
              f"{est + _f(warm_x, '{:.0f}'):>7} {peak:>9} "
              f"{_f(r.get('max_diff_exact'), '{:.4f}'):>12} "
              f"{_f(r.get('max_diff_gensim_counting'), '{:.1e}'):>13}")
        if r.get("gensim_note") and "gensim_estimate_s" not in r:
            print(f"    gensim: {r['gensim_note']}")
    print("\nmean C_V (ours: exact counts, absent words kept / dropped as gensim does):")
    for r in report["rows"]:
        print(f"  {r['reference']}: ours {r['mean_cv']:.4f} / {r['mean_cv_drop']:.4f}"
              + (f", gensim {r['mean_cv_gensim']:.4f} ({r['gensim_nan_topics']} NaN topics)"
                 if "mean_cv_gensim" in r else "")
              + (f"; {r['n_absent_words']} topic words absent from the reference"
                 if r.get("n_absent_words") else ""))
    for r in report["rows"]:
        if "gensim_tokenising_s" in r:
            print(f"tokenising for gensim ({r['reference']}): {r['gensim_tokenising_s']:.1f} s "
                  "(not included in gensim's time)")
    print("~ = gensim time extrapolated linearly in tokens from the subset row above")
    print("ours cold: hash + tokenise + count + save + score in an empty cache, counting the "
          "2000-word vocabulary (what `softtopic evaluate` does, reused by every model) / only "
          "the topic words (as gensim); warm: statistics from the cache + score")
    print("max|exact-g|: largest per-topic C_V difference, softtopic exact counting vs gensim; "
          "max|replay-g|: softtopic with counting='gensim' vs gensim")
    rt = report["retrieval"]
    print(f"\nretrieval P@1/5/10 on {rt['n_documents']:,} 20NG documents (theta: the NMF's): "
          f"KL {rt['kl']['seconds']:.1f} s (P@10 {rt['kl']['p@10']:.4f}), "
          f"Hellinger {rt['hellinger']['seconds']:.1f} s (P@10 {rt['hellinger']['p@10']:.4f}), "
          f"peak {rt['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
