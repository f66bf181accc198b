import numpy as np
import pytest

from softtopic.preprocessing import PreprocessingConfig, Vocabulary, empty_rows, tokenize


def test_tokenize_policy():
    assert tokenize("The GPU's mp3 player is great, a-ok: re-use Zürich 42abc ab") == \
        ["gpu", "player", "great", "use", "zürich"]


def test_vocabulary_top_words_and_csr_counts():
    texts = ["apple apple banana", "banana cherry", "cherry cherry cherry durian"]
    vocab = Vocabulary(PreprocessingConfig(vocab_size=3))
    bow = vocab.fit_transform(texts)
    assert vocab.words == ["apple", "banana", "cherry"]  # durian is the least frequent
    assert bow.format == "csr" and bow.dtype == np.float32
    np.testing.assert_array_equal(bow.toarray(), [[2, 1, 0], [0, 1, 1], [0, 0, 3]])
    np.testing.assert_array_equal(vocab.transform(["durian banana"]).toarray(), [[0, 1, 0]])


def test_min_df_and_empty_documents():
    texts = ["alpha beta", "alpha gamma", "delta", "the and of"]
    vocab = Vocabulary(PreprocessingConfig(vocab_size=10, min_df=2))
    bow = vocab.fit_transform(texts)
    assert vocab.words == ["alpha"]
    assert empty_rows(bow).tolist() == [2, 3]


def test_roundtrip_and_bad_settings():
    vocab = Vocabulary(PreprocessingConfig(vocab_size=5))
    vocab.fit_transform(["red green blue", "blue cyan magenta yellow"])
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again.words == vocab.words and again.content_hash() == vocab.content_hash()
    with pytest.raises(ValueError, match="parameter vocab_size must be an integer >= 1, got 0"):
        Vocabulary(PreprocessingConfig(vocab_size=0))
    with pytest.raises(ValueError, match="could not build a vocabulary"):
        Vocabulary().fit_transform(["a an the", "of it"])
