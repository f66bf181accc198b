"""NeuroMax and BAT: planted-topic recovery, the distillation target, the InfoNCE and group
regularisers, PLM-free inference, save/load."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import softtopic
from softtopic.models.targets import DistillationTarget, distilled_counts

LETTERS = "bcdfghjklmnpqrstvwxz"


def word(i: int, prefix: str) -> str:
    """A distinct pseudo-word that survives the tokeniser (letters only, no stopword)."""
    return prefix + LETTERS[i // 20 % 20] + LETTERS[i % 20] + "o"


def planted_corpus(n_topics=5, n_docs=400, length=50, seed=0):
    """Documents from K planted topics (10 high-probability words each) + shared noise words.
    Each document mixes two topics (80/20) and 15% noise. Returns texts, topic word lists,
    and the dominant topic of each document."""
    rng = np.random.default_rng(seed)
    topics = [[word(10 * k + j, "top") for j in range(10)] for k in range(n_topics)]
    noise = [word(j, "noi") for j in range(30)]
    texts, labels = [], []
    for _ in range(n_docs):
        main, other = rng.choice(n_topics, 2, replace=False)
        words = []
        for _ in range(length):
            r = rng.random()
            if r < 0.15:
                words.append(noise[rng.integers(30)])
            else:
                k = main if r < 0.15 + 0.85 * 0.8 else other
                words.append(topics[k][min(int(rng.exponential(3)), 9)])
        texts.append(" ".join(words))
        labels.append(int(main))
    return texts, topics, np.array(labels)


def recovered(model, topics, need=8) -> list[int]:
    """For each planted topic, the best overlap of its 10 words with a learned top-10 list."""
    learned = [set(t) for t in model.get_topics(10)]
    return [max(len(set(t) & l) for l in learned) for t in topics]


def oracle_teacher_logits(model_vocab, texts, topics, labels, noise=0.5, seed=0):
    """Synthetic teacher logits: the log of each document's dominant planted topic's word
    distribution (a teacher that "knows" the topic), plus noise."""
    rng = np.random.default_rng(seed)
    index = {w: i for i, w in enumerate(model_vocab)}
    V = len(model_vocab)
    z = np.full((len(texts), V), -8.0, dtype=np.float32)
    for d, k in enumerate(labels):
        for j, w in enumerate(topics[k]):
            if w in index:
                z[d, index[w]] = -0.3 * j
    return z + noise * rng.standard_normal(z.shape).astype(np.float32)


FAST = dict(epochs=40, batch_size=32, progress=False, seed=0, hidden_sizes=(64, 64))


# ---------------------------------------------------------------------------- BAT: target
def test_distilled_counts_are_a_distribution_scaled_to_document_length():
    torch.manual_seed(0)
    bow = torch.tensor([[3., 0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 5]])
    z = torch.randn(2, 8)
    x = distilled_counts(z, bow, temperature=2.0, clip=2)
    assert torch.allclose(x.sum(1), bow.sum(1))            # N_d = 4 and 5
    assert (x >= 0).all()
    # clip c=2: doc 0 has 2 distinct words -> 4 words keep mass; doc 1 has 1 -> 2 words
    assert (x[0] > 0).sum() == 4 and (x[1] > 0).sum() == 2
    kept = z[0].topk(4).indices
    assert set(torch.nonzero(x[0]).ravel().tolist()) == set(kept.tolist())
    # no clipping: every word keeps mass; softmax at T
    x = distilled_counts(z, bow, temperature=2.0, clip=None)
    assert torch.allclose(x[1], 5 * torch.softmax(z[1] / 2, 0))


def test_distillation_target_mixes_kd_and_bow_terms():
    torch.manual_seed(1)
    logits, z = torch.randn(3, 6), torch.randn(3, 6)
    bow = torch.tensor([[1., 2, 0, 0, 0, 1], [0, 0, 4, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    nll = -(bow * torch.log_softmax(logits, 1)).sum(1)
    only_bow = DistillationTarget(weight=0.0).loss(logits, bow, z)
    assert torch.allclose(only_bow, nll)
    t = 2.0
    full = DistillationTarget(weight=1.0, temperature=t, clip=None).loss(logits, bow, z)
    kd = -(distilled_counts(z, bow, t, None) * torch.log_softmax(logits / t, 1)).sum(1)
    assert torch.allclose(full, t * t * kd)
    half = DistillationTarget(weight=0.5, temperature=t, clip=None).loss(logits, bow, z)
    assert torch.allclose(half, 0.5 * t * t * kd + 0.5 * nll)
    with pytest.raises(ValueError, match="kd_weight"):
        DistillationTarget(weight=1.5)


def _vocab_words(texts, vocab_size=2000):
    from softtopic.preprocessing import PreprocessingConfig, Vocabulary
    v = Vocabulary(PreprocessingConfig(vocab_size))
    v.fit_transform(texts)
    return v.words


def test_bat_prodlda_recovers_planted_topics_and_reloads(tmp_path):
    texts, topics, labels = planted_corpus()
    z = oracle_teacher_logits(_vocab_words(texts), texts, topics, labels)
    model = softtopic.BAT(8, **FAST)   # 5 planted topics, 8 learned
    assert isinstance(model, softtopic.ProdLDA) and type(model).__name__ == "BAT"
    model.fit(texts, features={"teacher_logits": z})
    assert model.module_.target.features == ("bow", "teacher_logits")
    assert min(recovered(model, topics)) >= 8, recovered(model, topics)
    assert "teacher_logits" not in model.module_.features_needed(training=False)
    theta = model.transform(texts[:20])   # no teacher needed at inference
    loaded = softtopic.load(model.save(tmp_path / "bat"))
    assert type(loaded).__name__ == "BAT" and loaded.student == "prodlda"
    np.testing.assert_array_equal(loaded.transform(texts[:20]), theta)


def test_bat_works_on_another_student_and_teacher_input_option():
    texts, topics, labels = planted_corpus(n_docs=200)
    z = oracle_teacher_logits(_vocab_words(texts), texts, topics, labels)
    model = softtopic.BAT(5, student="combined", teacher_input=True,
                          **{**FAST, "epochs": 2})
    assert isinstance(model, softtopic.CombinedTM)
    assert model._input_features() == ("bow", "embedding", "teacher_logits")
    ecrtm = softtopic.BAT(5, student="ecrtm")   # the student's own defaults are kept
    assert isinstance(ecrtm, softtopic.ECRTM) and ecrtm.reduction == "mean"
    assert ecrtm.get_params()["ecr_weight"] == softtopic.ECRTM().ecr_weight
    with pytest.raises(ValueError, match="student must name"):
        softtopic.BAT(5, student="bat")
    with pytest.raises(ValueError, match="unknown model"):
        softtopic.BAT(5, student="nope")


# ---------------------------------------------------------------------------- NeuroMax
def test_info_nce_is_lower_when_theta_and_embeddings_are_aligned():
    from softtopic.models.neuromax import info_nce
    torch.manual_seed(0)
    e = torch.randn(32, 16)
    aligned = info_nce(e + 0.05 * torch.randn(32, 16), e)
    shuffled = info_nce(e[torch.randperm(32)], e)
    assert aligned < shuffled - 0.5
    # bounded below by log(1 + (B - 1) e^-2) since |S| <= 1
    assert aligned >= np.log(1 + 31 * np.exp(-2)) - 1e-5


def test_group_target_and_plan_have_the_stated_marginals():
    from softtopic.models.neuromax import GroupRegularizer, group_target_matrix
    groups = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 1, 2])
    p = group_target_matrix(groups)
    k = len(groups)
    assert torch.allclose(p, p.T)
    assert torch.allclose(p.sum(1), torch.full((k,), 1 / k), atol=1e-4)
    assert abs(float(p.sum()) - 1) < 1e-3
    assert p[0, 1] > 4 * p[0, 2] and float(p.diagonal().max()) <= 1e-4 / k * 2
    reg = GroupRegularizer(k, n_groups=3)
    reg.groups.copy_(groups)
    reg.target.copy_(p)
    q = reg.plan(torch.randn(k, 5))
    assert torch.allclose(q.sum(1), p.sum(1), atol=1e-3 / k)
    assert torch.allclose(q.sum(0), p.sum(0), atol=1e-3 / k)


def synthetic_embeddings(labels, dim=16, seed=0):
    """A stand-in for PLM document embeddings: one direction per planted topic, plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((labels.max() + 1, dim))
    return (centres[labels] + 0.3 * rng.standard_normal((len(labels), dim))).astype(np.float32)


NM_FAST = dict(epochs=40, batch_size=32, progress=False, seed=0, hidden_sizes=(64, 64),
               lr_schedule=None, n_groups=3, gr_warmup=10)


def test_neuromax_recovers_planted_topics_and_never_loads_the_plm_at_inference(
        tmp_path, monkeypatch):
    from softtopic.models import neural
    from softtopic.views import sentence
    texts, topics, labels = planted_corpus()
    model = softtopic.NeuroMax(8, **NM_FAST)
    model.fit(texts, features={"embedding": synthetic_embeddings(labels)})
    assert min(recovered(model, topics)) >= 8, recovered(model, topics)
    assert model.groups_applied_ and model.history_["parts"][-1]["group"] > 0
    assert model.history_["parts"][0]["group"] == 0        # warm-up: no groups yet
    groups = model.get_topic_groups()
    assert sorted(t for g in groups for t in g) == list(range(8)) and len(groups) == 3
    assert set(model.get_topic_info()["group"]) == {0, 1, 2}

    def no_plm(*a, **k):
        raise AssertionError("the PLM was loaded at inference")
    monkeypatch.setattr(sentence, "load_sentence_encoder", no_plm)
    monkeypatch.setitem(neural.FEATURE_PROVIDERS, "embedding", no_plm)
    theta = model.transform(texts[:30])
    loaded = softtopic.load(model.save(tmp_path / "nm"))
    np.testing.assert_array_equal(loaded.transform(texts[:30]), theta)
    assert loaded.get_topic_groups() == groups


# ---------------------------------------------------------------------------- BAT: teacher
def tiny_bert(path, texts):
    """A randomly initialised 1-layer BERT with a WordPiece tokenizer trained on `texts`, saved
    where transformers' from_pretrained reads it."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    BertTokenizerFast(tokenizer_object=tok).save_pretrained(path)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    return str(path)


def test_finetuned_teacher_chunks_long_documents_and_bat_with_teacher_input_reloads(tmp_path):
    from softtopic.views.teacher import BowTeacher, split_words
    texts, topics, labels = planted_corpus(n_docs=40, length=30)
    path = tiny_bert(tmp_path / "bert", texts)
    assert len(split_words(texts[0], 12)) == 3       # 30 words -> chunks of 12, 12, 6
    from softtopic.preprocessing import Vocabulary
    vocab = Vocabulary()
    bow = vocab.fit_transform(texts)
    teacher = BowTeacher("finetune", path, epochs=2, lr=1e-3, chunk_words=12,
                         max_seq_length=32, progress=False).fit(texts, bow)
    z = teacher.logits(texts[:5])
    assert z.shape == (5, len(vocab)) and np.isfinite(z).all()
    assert teacher.history[-1]["train_loss"] < teacher.history[0]["train_loss"]

    model = softtopic.BAT(5, teacher_mode="finetune", teacher_encoder=path, teacher_epochs=1,
                          teacher_lr=1e-3, teacher_chunk_words=12, teacher_input=True,
                          max_seq_length=32, cache_dir=str(tmp_path / "cache"),
                          **{**FAST, "epochs": 3})
    model.fit(texts)
    theta = model.transform(texts[:10])
    loaded = softtopic.load(model.save(tmp_path / "bat"))
    assert loaded.teacher_ is not None
    np.testing.assert_allclose(loaded.transform(texts[:10]), theta, atol=1e-6)
