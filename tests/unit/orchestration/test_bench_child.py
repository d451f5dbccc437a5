"""The bench's child processes report their own peak memory, not the bench process's."""

import sys

import pytest

from orchestration.bench import run_child

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
