"""The bench's child processes report their own peak memory, not the bench process's."""

import sys

import pytest

from bench.children import run_child

MIB = 2**20


@pytest.fixture
def big_parent():
    """This process holding 400 MiB, as the bench does with a large sandbox world."""
    ballast = bytearray(400 * MIB)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    yield
    del ballast


def test_peak_rss_is_the_childs_own_not_inherited_from_its_parent(big_parent) -> None:
    code = "x = bytearray(60 * 2**20); x[::4096] = b'1' * len(x[::4096]); print('{\"ok\": 1}')"
    child = run_child(["-c", code], {"PATH": "/usr/bin:/bin"})
    assert child.payload == {"ok": 1} and child.returncode == 0
    # Python itself plus the 60 MiB it touched; far below the parent's 400 MiB, which Linux
    # carries into wait4's ru_maxrss across exec.
    assert 60 * MIB < child.peak_rss < 250 * MIB


def test_a_child_gets_its_arguments_and_exit_code(tmp_path) -> None:
    code = "import json, sys; print(json.dumps({'argv': sys.argv})); sys.exit(3)"
    child = run_child(["-c", code, "a", "b"], {}, check=False)
    assert child.payload == {"argv": ["-c", "a", "b"]}  # as `python -c code a b` sees them
    assert child.returncode == 3 and child.peak_rss > 0
    (tmp_path / "in.json").write_text('{"b": 1, "a": 2}')
    module = run_child(["-m", "json.tool", "--compact", str(tmp_path / "in.json")], {})
    assert module.payload == {"b": 1, "a": 2} and module.peak_rss > 0
    with pytest.raises(RuntimeError, match="exited 3"):
        run_child(["-c", code], {})


def test_only_module_or_code_children() -> None:
    with pytest.raises(ValueError, match="-m module or -c code"):
        run_child([sys.argv[0]], {})


def test_sampled_profile_sums_each_functions_lines_and_ranks_by_own_time(tmp_path) -> None:
    from bench.children import PYSPY_RATE, top_sampled

    raw = tmp_path / "extract.pyspy"
    raw.write_text(
        "<module> (x.py:1);run (extract/pipeline.py:10);map_page (extract/source.py:211) 300\n"
        "<module> (x.py:1);run (extract/pipeline.py:10);map_page (extract/source.py:215) 100\n"
        "<module> (x.py:1);run (extract/pipeline.py:12);to_arrow (extract/arrow_rows.py:83) 250\n"
        "<module> (x.py:1);run (extract/pipeline.py:10) 50\n"
    )
    top = top_sampled(raw)
    assert [f["function"] for f in top] == [
        "extract/source.py(map_page)",
        "extract/arrow_rows.py(to_arrow)",
        "extract/pipeline.py(run)",
    ]
    assert top[0]["tottime"] == 400 / PYSPY_RATE  # two lines of one function
    assert top[2]["tottime"] == 50 / PYSPY_RATE
    assert top[2]["cumtime"] == 700 / PYSPY_RATE  # everything under it
    empty = tmp_path / "empty.pyspy"
    empty.write_text("")
    with pytest.raises(ValueError, match="no samples"):
        top_sampled(empty)


def test_profile_falls_back_to_cprofile_when_py_spy_cannot_sample(tmp_path, monkeypatch) -> None:
    import bench.harness as bench

    monkeypatch.setattr(bench, "pyspy", lambda: "/usr/bin/false")  # installed, but fails
    b = bench.Bench(bench.BenchOptions(log=lambda _: None), tmp_path)
    tried: list[str] = []

    def run(out):
        tried.append(out.suffix)
        if out.suffix == ".pyspy":
            raise RuntimeError("py-spy exited 1:\nPermission denied")
        import cProfile

        cProfile.run("sum(range(1000))", str(out))

    b.profiled("extract", run, sampled=True)
    assert tried == [".pyspy", ".prof"]
    assert b.results["profiles"]["extract"]["kind"] == "cprofile"
    assert b.results["profiles"]["extract"]["top"]
