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


def _interrupted(path, chunk_size, data, after=2, dtype=np.float16, names=("x",)):
    """A partial view with `after` finished chunks of `chunk_size` rows."""
    calls = []

    def compute(start, stop):
        if len(calls) == after:
            raise KeyboardInterrupt
        calls.append(start)
        return {n: data[start:stop] for n in names}

    view = ChunkedView(path, n_rows=len(data), chunk_size=chunk_size, dtype=dtype)
    with pytest.raises(KeyboardInterrupt):
        view.compute(compute, progress=False)
    assert len(view.missing_chunks()) == view.n_chunks - after


@pytest.mark.parametrize("change", ["chunk_size", "dtype", "width", "names"])
def test_resume_with_another_layout_restarts_cleanly(tmp_path, capsys, change):
    data = (np.arange(50 * 3, dtype=np.float32).reshape(50, 3) + 0.3) * 7.77
    _interrupted(tmp_path / "v", 8, data)   # chunks 0 and 1 written: rows 0..15, float16 "x"
    capsys.readouterr()
    chunk_size, dtype, new, name = 8, np.float16, data, "x"
    if change == "chunk_size":
        chunk_size = 10
    elif change == "dtype":
        dtype = np.float32
    elif change == "width":
        new = np.concatenate([data, data[:, :1]], axis=1)
    else:
        name = "y"
    calls = []

    def compute(start, stop):
        calls.append(start)
        return {name: new[start:stop]}

    arrays = ChunkedView(tmp_path / "v", n_rows=50, chunk_size=chunk_size,
                         dtype=dtype).compute(compute, progress=False)
    assert sorted(arrays) == [name]
    np.testing.assert_array_equal(arrays[name], new.astype(dtype))   # no stale rows mixed in
    assert 0 in calls   # the old chunks were not reused
    err = capsys.readouterr().err
    assert str(tmp_path / "v") in err and "another layout" in err
    expected = {"chunk_size": "chunk_size 8 -> 10", "dtype": "dtype 'float16' -> 'float32'",
                "width": "shape (3,) float16 -> (4,) float16",
                "names": "array names ['x'] -> ['y']"}[change]
    assert expected in err


def test_resume_with_the_same_layout_says_nothing(tmp_path, capsys):
    data = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    _interrupted(tmp_path / "v", 8, data)
    calls = []

    def compute(start, stop):
        calls.append(start)
        return {"x": data[start:stop]}

    ChunkedView(tmp_path / "v", n_rows=50, chunk_size=8).compute(compute, progress=False)
    assert calls == [16, 24, 32, 40, 48] and "another layout" not in capsys.readouterr().err
