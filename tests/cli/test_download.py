"""`turbodiffusion download PRESET --dir DIR` with huggingface_hub's transport mocked (no network)."""

from __future__ import annotations

import sys
from pathlib import Path

import huggingface_hub
import pytest

from turbodiffusion.cli.__main__ import main


def fake_snapshot(calls):
    def snapshot_download(repo_id, allow_patterns, local_dir):
        calls.append(repo_id)
        for pattern in allow_patterns:
            name = pattern.replace("/*", "/tokenizer.json")
            path = Path(local_dir) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        return local_dir

    return snapshot_download


def test_download_into_dir(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot(calls))
    assert main(["download", "turbowan2.2-i2v-a14b-720p-quant", "--dir", str(tmp_path)]) == 0
    assert calls == ["TurboDiffusion/TurboWan2.2-I2V-A14B-720P", "Wan-AI/Wan2.1-T2V-1.3B"]
    assert (tmp_path / "TurboWan2.2-I2V-A14B-high-720P-quant.pth").is_file()
    assert (tmp_path / "google/umt5-xxl/tokenizer.json").is_file()
    assert "--model turbowan2.2-i2v-a14b-720p-quant" in capsys.readouterr().out


def test_download_without_the_hub_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    assert main(["download", "wan2.1-t2v-1.3b", "--dir", str(tmp_path)]) == 1
    assert 'pip install "turbodiffusion[hub]"' in capsys.readouterr().err


def test_unknown_preset_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["download", "builtin-random"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
