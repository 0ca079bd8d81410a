"""Checkpoint folders: missing files named with the fetch command, layout recognition, mocked downloads.

No network: huggingface_hub.snapshot_download is replaced by a fake that writes the requested files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import huggingface_hub  # the "hub" extra, part of "dev"
import pytest

from turbodiffusion.errors import MissingDependencyError
from turbodiffusion.pipelines.checkpoints import download, missing_files, recognise_folder, resolve_files
from turbodiffusion.pipelines.presets import PRESETS


def touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def shared(folder: Path) -> None:
    touch(folder, "Wan2.1_VAE.pth", "models_t5_umt5-xxl-enc-bf16.pth", "google/umt5-xxl/tokenizer.json")


def test_missing_file_is_named_with_the_command(tmp_path):
    preset = PRESETS["turbowan2.1-t2v-1.3b-480p"]
    touch(tmp_path, "TurboWan2.1-T2V-1.3B-480P.pth", "Wan2.1_VAE.pth")
    with pytest.raises(FileNotFoundError) as err:
        resolve_files(preset, tmp_path)
    msg = str(err.value)
    assert "models_t5_umt5-xxl-enc-bf16.pth" in msg and "google/umt5-xxl/tokenizer.json" in msg
    assert "Wan2.1_VAE.pth," not in msg
    assert f"turbodiffusion download turbowan2.1-t2v-1.3b-480p --dir {tmp_path}" in msg


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; fetch turbowan2.1-t2v-14b-480p with"):
        resolve_files(PRESETS["turbowan2.1-t2v-14b-480p"], tmp_path / "nope")


def test_builtin_has_no_files(tmp_path):
    with pytest.raises(ValueError, match="built in memory and has no files"):
        resolve_files(PRESETS["builtin-random"], tmp_path)


def test_complete_folder_resolves(tmp_path):
    preset = PRESETS["wan2.2-i2v-a14b"]
    touch(tmp_path, *preset.experts, "high_noise_model/config.json")
    shared(tmp_path)
    files = resolve_files(preset, tmp_path)
    assert files.experts == tuple(tmp_path / e for e in preset.experts)
    assert files.tokenizer == tmp_path / "google/umt5-xxl"
    assert files.dit_config == tmp_path / "high_noise_model/config.json"
    assert missing_files(preset, tmp_path) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["diffusion_pytorch_model.safetensors"], "wan2.1-t2v-1.3b"),
        (["diffusion_pytorch_model.safetensors.index.json"], "wan2.1-t2v-14b"),
        (
            [
                "high_noise_model/diffusion_pytorch_model.safetensors.index.json",
                "low_noise_model/diffusion_pytorch_model.safetensors.index.json",
            ],
            "wan2.2-i2v-a14b",
        ),
        (["TurboWan2.1-T2V-14B-720P-quant.pth"], "turbowan2.1-t2v-14b-720p-quant"),
        (
            ["TurboWan2.2-I2V-A14B-high-720P.pth", "TurboWan2.2-I2V-A14B-low-720P.pth"],
            "turbowan2.2-i2v-a14b-720p",
        ),
    ],
)
def test_recognise_layouts(tmp_path, files, expected):
    touch(tmp_path, *files)
    assert recognise_folder(tmp_path).name == expected


def test_recognise_ambiguous_and_quant_choice(tmp_path):
    touch(tmp_path, "TurboWan2.1-T2V-1.3B-480P.pth", "TurboWan2.1-T2V-1.3B-480P-quant.pth")
    with pytest.raises(ValueError, match="holds the files of several presets"):
        recognise_folder(tmp_path)
    assert recognise_folder(tmp_path, quant=True).name == "turbowan2.1-t2v-1.3b-480p-quant"
    assert recognise_folder(tmp_path, quant=False).name == "turbowan2.1-t2v-1.3b-480p"


def test_recognise_nothing(tmp_path):
    touch(tmp_path, "model.bin")
    with pytest.raises(FileNotFoundError, match="holds no known model layout"):
        recognise_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        recognise_folder(tmp_path / "nope")


class FakeHub:
    """Stands in for huggingface_hub: snapshot_download writes the files its patterns name."""

    def __init__(self, skip: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, list[str], str]] = []
        self.skip = skip

    def snapshot_download(self, repo_id, allow_patterns, local_dir):
        self.calls.append((repo_id, allow_patterns, local_dir))
        for pattern in allow_patterns:
            if pattern in self.skip:
                continue
            name = pattern.replace("*", "tokenizer.json") if pattern.endswith("/*") else pattern
            touch(Path(local_dir), name.replace("diffusion_pytorch_model*.safetensors*", "x"))
        return local_dir


def test_download_fetches_every_file(tmp_path, monkeypatch):
    hub = FakeHub()
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    folder = download("turbowan2.1-t2v-1.3b-480p-quant", tmp_path / "ckpt")
    assert [c[0] for c in hub.calls] == ["TurboDiffusion/TurboWan2.1-T2V-1.3B-480P", "Wan-AI/Wan2.1-T2V-1.3B"]
    assert hub.calls[0][1] == ["TurboWan2.1-T2V-1.3B-480P-quant.pth"]
    assert set(hub.calls[1][1]) == {"Wan2.1_VAE.pth", "models_t5_umt5-xxl-enc-bf16.pth", "google/umt5-xxl/*"}
    assert resolve_files(PRESETS["turbowan2.1-t2v-1.3b-480p-quant"], folder).folder == folder


def test_download_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", FakeHub().snapshot_download)
    folder = download(PRESETS["turbowan2.2-i2v-a14b-720p"])
    assert folder == Path("checkpoints/turbowan2.2-i2v-a14b-720p")
    assert (tmp_path / folder / "TurboWan2.2-I2V-A14B-low-720P.pth").is_file()


def test_download_reports_what_is_still_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", FakeHub(skip=("Wan2.1_VAE.pth",)).snapshot_download
    )
    with pytest.raises(FileNotFoundError, match=r"still lacks: Wan2\.1_VAE\.pth"):
        download("turbowan2.1-t2v-1.3b-480p", tmp_path)


def test_download_builtin_refused(tmp_path):
    with pytest.raises(ValueError, match="nothing to download"):
        download("builtin-random", tmp_path)


def test_download_without_huggingface_hub(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match=r'pip install "turbodiffusion\[hub\]"'):
        download("wan2.1-t2v-1.3b", tmp_path)
