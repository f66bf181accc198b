import numpy as np
import pytest

from softtopic.views.cache import ChunkedView, cache_key


def test_cache_key_is_order_independent_and_sensitive():
    assert cache_key(a=1, b="x") == cache_key(b="x", a=1)
    assert cache_key(a=1, b="x") != cache_key(a=2, b="x")


def test_interrupted_view_resumes_without_recomputing_or_losing_rows(tmp_path):
    data = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    calls = []

    def compute(start, stop):
        calls.append(start)
        if len(calls) == 3 and not hasattr(compute, "crashed"):
            compute.crashed = True
            raise KeyboardInterrupt  # the user pressed Ctrl-C in the third chunk
        return {"x": data[start:stop], "y": data[start:stop, :1] * 2}

    view = ChunkedView(tmp_path / "v", n_rows=50, chunk_size=8)
    with pytest.raises(KeyboardInterrupt):
        view.compute(compute, progress=False)
    assert calls == [0, 8, 16] and not view.is_complete()
    assert view.missing_chunks() == [2, 3, 4, 5, 6]
    arrays = ChunkedView(tmp_path / "v", n_rows=50, chunk_size=8).compute(compute, progress=False)
    assert calls == [0, 8, 16, 16, 24, 32, 40, 48]  # finished chunks were not recomputed
    np.testing.assert_array_equal(arrays["x"], data.astype(np.float16))
    np.testing.assert_array_equal(arrays["y"][:, 0], (data[:, 0] * 2).astype(np.float16))
    assert isinstance(arrays["x"], np.memmap)
    again = ChunkedView(tmp_path / "v", n_rows=50, chunk_size=8).compute(compute, progress=False)
    assert len(calls) == 8 and np.array_equal(again["x"], arrays["x"])


def test_wrong_row_count_is_an_error(tmp_path):
    view = ChunkedView(tmp_path / "v", n_rows=10, chunk_size=4)
    with pytest.raises(RuntimeError, match="array 'x' has 3 rows for chunk of 4"):
        view.compute(lambda a, b: {"x": np.zeros((3, 2))}, progress=False)
