"""The test and build pipeline itself: checks that must fail loudly do fail."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_zero_collected_doctests_fails_the_run():
    # nnfaq/_validate.py has no doctests: a run over it must fail, not pass silently
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "nnfaq/_validate.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "zero doctests were collected" in proc.stderr + proc.stdout


def test_registry_cache_is_rebuilt_when_a_topic_changes(tmp_path, monkeypatch):
    from nnfaq import _registry

    src = (ROOT / "nnfaq" / "regularization.py").read_text()
    (tmp_path / "regularization.py").write_text(src)
    (tmp_path / "_registry.py").write_text("")
    monkeypatch.setattr(_registry, "_PACKAGE_DIR", str(tmp_path))
    monkeypatch.setattr(_registry, "TOPICS", ("regularization",))
    monkeypatch.delenv("NNFAQ_NO_CACHE", raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    _registry._load.cache_clear()
    try:
        first = _registry._load()
        assert (tmp_path / "__pycache__" / "nnfaq-registry.marshal").exists()
        _registry._load.cache_clear()
        real_parse = _registry._parse_topic

        def no_parse(name):
            raise AssertionError("parsed although the cache was fresh")

        monkeypatch.setattr(_registry, "_parse_topic", no_parse)
        assert _registry._load() == first  # read back from the cache, not parsed
        monkeypatch.setattr(_registry, "_parse_topic", real_parse)
        (tmp_path / "regularization.py").write_text(src.replace("Is weight decay the same", "Is weight decay equal"))
        _registry._load.cache_clear()
        texts = [q.text for q in _registry._load()[0].questions]
        assert any(t.startswith("Is weight decay equal") for t in texts)
    finally:
        _registry._load.cache_clear()
