"""Helpers shared by the Azure tests (tests/azure is on sys.path; 'conftest' names clash across folders)."""

from __future__ import annotations


def assert_error(r, code: int, *fragments: str) -> None:
    """A clean failure: the documented code, exactly one `error:` line on stderr, no traceback."""
    assert r.code == code, r
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r
    for frag in fragments:
        assert frag.lower() in r.stderr.lower(), (frag, r)


def calls(fake, method: str, fragment: str) -> int:
    return sum(1 for m, u in fake.calls if m == method and fragment in u.split("?")[0])
