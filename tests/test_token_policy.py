"""The token policy (min_token_length, token_pattern, stopwords, tokenizer): a parameter of the
vocabulary and of every model, saved with the model, reaching the model from the CLI."""
import hashlib
import json

import numpy as np
import pytest

from softtopic.params import ParameterError
from softtopic.preprocessing import (CODE_TOKEN_PATTERN, TOKEN_PATTERN, PreprocessingConfig,
                                     Vocabulary, empty_rows, letters_pattern)

TITLE = "Qt signals in JS on OS X"
# short technical titles: 2-letter words name the topics
TOPICS = [["qt", "widget", "signal", "slot"], ["js", "node", "promise", "browser"],
          ["os", "kernel", "driver", "boot"], ["ui", "button", "layout", "color"]]


def tech_titles(n=80, seed=0):
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        words = TOPICS[i % 4]
        texts.append(" ".join(rng.choice(words, size=5)) + " the question")
    return texts


def words_of(texts, **policy):
    vocab = Vocabulary(PreprocessingConfig(vocab_size=100, **policy))
    vocab.fit_transform(texts)
    return vocab.words


# ------------------------------------------------------------------------ the policy itself
def test_min_token_length_two_keeps_two_letter_words_and_three_does_not():
    assert words_of([TITLE], min_token_length=2) == ["js", "os", "qt", "signals"]
    assert words_of([TITLE], min_token_length=3) == ["signals"]
    assert words_of([TITLE]) == ["signals"]                 # the default is 3, as before
    assert words_of([TITLE], min_token_length=1) == ["js", "os", "qt", "signals", "x"]


def test_default_pattern_is_unchanged():
    assert letters_pattern(3) is TOKEN_PATTERN
    assert TOKEN_PATTERN.pattern == r"(?<!\w)[^\W\d_]{3,}(?!\w)"
    text = "The GPU's mp3 player is great, a-ok: re-use Zürich 42abc ab C++ c# .NET x86"
    assert PreprocessingConfig().analyzer()(text) == ["gpu", "player", "great", "use", "zürich",
                                                      "net"]


def test_token_pattern_keeps_cpp_and_csharp():
    text = "C++ and C# on .NET, mp3 x86 node.js v1.2"
    assert PreprocessingConfig(token_pattern=CODE_TOKEN_PATTERN, stopwords="none").analyzer()(
        text) == ["c++", "and", "c#", "on", ".net", "mp3", "x86", "node", "js", "v1"]
    # English stopwords still apply to a user pattern; a group is the token (as scikit-learn)
    assert PreprocessingConfig(token_pattern=r"\b(\w[\w+#]*)").analyzer()(text) == \
        ["c++", "c#", "net", "mp3", "x86", "node", "js", "v1", "2"]
    assert words_of(["c++ templates", "c# generics", "c++ c#"], token_pattern=CODE_TOKEN_PATTERN) \
        == ["c#", "c++", "generics", "templates"]


def test_stopwords_none_english_and_a_list():
    text = "The cat and the Dog of Qt"
    assert PreprocessingConfig(stopwords="none").analyzer()(text) == \
        ["the", "cat", "and", "the", "dog"]
    assert PreprocessingConfig().analyzer()(text) == ["cat", "dog"]
    # a list removes exactly those words (lowercased), and nothing else: "the", "and" stay
    assert PreprocessingConfig(stopwords=["Cat", "dog"]).analyzer()(text) == \
        ["the", "and", "the"]
    assert PreprocessingConfig(stopwords=[], min_token_length=2).analyzer()(text) == \
        ["the", "cat", "and", "the", "dog", "of", "qt"]
    assert PreprocessingConfig(stopwords=("cat",)).to_dict()["stopwords"] == ["cat"]


@pytest.mark.parametrize("settings, message", [
    ({"min_token_length": 0}, "parameter min_token_length must be an integer >= 1, got 0"),
    ({"min_token_length": 2.5}, "parameter min_token_length must be an integer >= 1, got 2.5"),
    ({"token_pattern": "(c++"}, "parameter token_pattern must be None or a regular expression.*"
                                "got '\\(c\\+\\+': it does not compile"),
    ({"token_pattern": "(a)(b)"}, "parameter token_pattern .* 2 capturing groups"),
    ({"token_pattern": 5}, "parameter token_pattern must be None or a regular expression"),
    ({"stopwords": "french"}, "parameter stopwords must be 'english' or 'none' or a list of "
                              "words .*got 'french'"),
    ({"stopwords": ["the", 3]}, "parameter stopwords must be .*got \\['the', 3\\]"),
    ({"tokenizer": "jieba"}, "parameter tokenizer must be None or a callable"),
    ({"token_pattern": r"\w+", "min_token_length": 2},
     "parameter min_token_length=2 applies to the built-in pattern only, but token_pattern"),
    ({"token_pattern": r"\w+", "tokenizer": str.split}, "token_pattern and tokenizer both"),
])
def test_bad_values_name_the_parameter(settings, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary(PreprocessingConfig(**settings))


def test_empty_documents_are_still_reported(capsys):
    texts = ["Qt on OS X", "signals and slots", "UI", "of the"]
    for policy, empty in [({}, [0, 2, 3]), ({"min_token_length": 2}, [3]),
                          ({"min_token_length": 2, "stopwords": "none"}, [])]:
        vocab = Vocabulary(PreprocessingConfig(**policy))
        assert empty_rows(vocab.fit_transform(texts)).tolist() == empty, policy
    from softtopic import ProdLDA
    texts = tech_titles(40) + ["an of", "by"]
    model = ProdLDA(4, min_token_length=2, epochs=1, batch_size=16, seed=0).fit(texts)
    assert model.empty_documents_.tolist() == [40, 41]   # "an", "of", "by": English stopwords
    assert "2 of 42 documents have no vocabulary word" in capsys.readouterr().err


# ------------------------------------------------------------------------ cache keys
def test_content_hash_covers_what_changes_a_bag_of_words():
    texts = ["alpha beta gamma", "beta gamma delta"]
    default = Vocabulary(PreprocessingConfig())
    default.fit_transform(texts)
    # the built-in pattern: the hash of the word list alone, as before (caches stay valid)
    assert default.content_hash() == hashlib.sha256("\n".join(default.words).encode()).hexdigest()
    # a shorter minimum or another stopword list over the same words gives the same counts
    # (a count is the number of letter runs equal to the word), so the same hash
    same = Vocabulary(PreprocessingConfig(min_token_length=2, stopwords=["zeta"]))
    same.fit_transform(texts)
    assert same.words == default.words and same.content_hash() == default.content_hash()
    # a token pattern or tokenizer can count the same words differently: another hash
    pattern = Vocabulary.from_words(default.words, PreprocessingConfig(token_pattern=r"[a-z]+"))
    np.testing.assert_array_equal(pattern.transform(["alpha2"]).toarray(), [[1, 0, 0, 0]])
    assert default.transform(["alpha2"]).sum() == 0
    assert pattern.content_hash() != default.content_hash()
    split = Vocabulary.from_words(default.words, PreprocessingConfig(tokenizer=str.split))
    other = Vocabulary.from_words(default.words,
                                  PreprocessingConfig(tokenizer=lambda t: t.split(",")))
    assert len({split.content_hash(), other.content_hash(), default.content_hash()}) == 3


def test_a_vocabulary_saved_before_the_policy_parameters_loads_with_the_default():
    old = {"words": ["alpha", "beta"], "config": {"vocab_size": 2000, "min_df": 1, "max_df": 1.0,
                                                  "stopwords": "english"}}
    vocab = Vocabulary.from_dict(old)
    assert vocab.config.min_token_length == 3 and vocab.config.token_pattern is None
    np.testing.assert_array_equal(vocab.transform(["alpha ab beta"]).toarray(), [[1, 1]])


# ------------------------------------------------------------------------ models
def test_every_model_takes_the_policy():
    from softtopic.models.build import build_model
    from softtopic.models.registry import MODELS
    policy = {"min_token_length": 2, "token_pattern": None, "stopwords": ["qt"]}
    for name in MODELS:
        model = build_model(name, policy)
        config = PreprocessingConfig.of(model)
        assert (config.min_token_length, config.token_pattern, config.stopwords) == \
            (2, None, ["qt"]), name


def test_a_bad_policy_stops_fit_naming_the_parameter():
    from softtopic import ProdLDA
    from softtopic.models.wrappers import LDA
    with pytest.raises(ParameterError, match="parameter min_token_length must be"):
        ProdLDA(4, min_token_length=0).fit(tech_titles(20))
    with pytest.raises(ParameterError, match="parameter token_pattern .* does not compile"):
        LDA(4, token_pattern="[").fit(tech_titles(20))


def test_policy_is_saved_and_a_loaded_model_tokenises_identically(tmp_path):
    import softtopic
    from softtopic import ProdLDA
    texts = tech_titles(80)
    stop = ["question", "Boot"]
    model = ProdLDA(4, min_token_length=2, stopwords=stop, epochs=3, batch_size=16, seed=0,
                    progress=False).fit(texts)
    words = model.vocabulary_.words
    # the list replaces the English list: "the" is a word now, "question" and "boot" are not
    assert {"qt", "js", "os", "ui", "the"} <= set(words)
    assert "question" not in words and "boot" not in words
    new = ["qt slot on the os", "js promise in ui", "boot question", "kernel driver x"]
    before = model.transform(new)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["min_token_length"] == 2 and config["params"]["stopwords"] == stop
    assert config["state"]["vocabulary"]["config"]["stopwords"] == ["boot", "question"]
    loaded = softtopic.load(tmp_path / "m")
    assert loaded.min_token_length == 2 and list(loaded.stopwords) == stop
    assert loaded.vocabulary_.words == words
    np.testing.assert_array_equal(loaded.vocabulary_.transform(new).toarray(),
                                  model.vocabulary_.transform(new).toarray())
    np.testing.assert_allclose(loaded.transform(new), before, atol=1e-6)
    assert loaded.vocabulary_.transform(["boot question"]).sum() == 0


def test_lda_saves_a_token_pattern_and_a_stopword_set(tmp_path):
    pytest.importorskip("gensim")
    import softtopic
    from softtopic.models.wrappers import LDA
    texts = [t.replace("qt", "c++").replace("js", "c#") for t in tech_titles(60)]
    model = LDA(4, token_pattern=CODE_TOKEN_PATTERN, stopwords={"the", "question"}, passes=1,
                progress=False).fit(texts)
    assert {"c++", "c#"} <= set(model.vocabulary_.words)
    new = ["c++ widget slot", "c# node"]
    model.save(tmp_path / "lda")
    loaded = softtopic.load(tmp_path / "lda")
    assert loaded.token_pattern == CODE_TOKEN_PATTERN
    assert sorted(loaded.stopwords) == ["question", "the"]
    np.testing.assert_allclose(loaded.transform(new), model.transform(new), atol=1e-6)


# ------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def tech_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("tech") / "titles.jsonl"
    with open(path, "w") as f:
        for i, text in enumerate(tech_titles(80)):
            f.write(json.dumps({"id": f"t{i}", "text": text}) + "\n")
    return path


def _fit(corpus, out, *flags):
    from softtopic.cli import main
    return main(["fit", str(corpus), "--model", "prodlda", "--k", "4", "--out", str(out),
                 "--epochs", "1", "--batch-size", "16", "--quiet", *flags])


def test_cli_flags_reach_the_model(tech_corpus, tmp_path):
    assert _fit(tech_corpus, tmp_path / "three") == 0
    assert not [w for w in json.loads((tmp_path / "three" / "vocab.json").read_text())
                if len(w) == 2]
    assert _fit(tech_corpus, tmp_path / "two", "--min-token-length", "2",
                "--stopwords", "question,widget") == 0
    vocab = json.loads((tmp_path / "two" / "vocab.json").read_text())
    assert {"qt", "js", "os", "ui", "the"} <= set(vocab)
    assert "question" not in vocab and "widget" not in vocab
    params = json.loads((tmp_path / "two" / "config.json").read_text())["params"]
    assert params["min_token_length"] == 2 and params["stopwords"] == ["question", "widget"]
    assert _fit(tech_corpus, tmp_path / "param", "--param", "min_token_length=2",
                "--stopwords", "none") == 0
    vocab = json.loads((tmp_path / "param" / "vocab.json").read_text())
    assert {"qt", "the"} <= set(vocab)
    assert _fit(tech_corpus, tmp_path / "pattern", f"--token-pattern={CODE_TOKEN_PATTERN}") == 0
    assert "qt" in json.loads((tmp_path / "pattern" / "vocab.json").read_text())


def test_cli_bad_token_pattern_is_one_clear_line(tech_corpus, tmp_path, capsys):
    assert _fit(tech_corpus, tmp_path / "bad", "--token-pattern", "[a-") == 2
    err = capsys.readouterr().err
    assert "parameter token_pattern" in err and "does not compile" in err


def test_soft_labels_command_takes_the_policy():
    import argparse
    from softtopic.commands import soft_labels as command
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["soft-labels", "c.jsonl", "--lm", "x", "--out", "v"])
    assert command.preprocessing_config(args) == PreprocessingConfig()
    args = parser.parse_args(["soft-labels", "c.jsonl", "--lm", "x", "--out", "v",
                              "--min-token-length", "2", "--stopwords", "none"])
    vocab = Vocabulary(command.preprocessing_config(args))
    vocab.fit_transform([TITLE])
    assert vocab.words == ["in", "js", "on", "os", "qt", "signals"]
