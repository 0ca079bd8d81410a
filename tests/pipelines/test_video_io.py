"""mp4 writing (H.264 via PyAV, atomic) and image reading."""

from __future__ import annotations

import sys
import types

import av
import numpy as np
import pytest
import torch

from turbodiffusion.errors import MissingDependencyError
from turbodiffusion.pipelines import video_io
from turbodiffusion.pipelines.video_io import check_output_path, read_image, read_video, write_mp4, write_png


def frames(t: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, h, w, 3, generator=g) * 255).to(torch.uint8)


@pytest.mark.parametrize(("t", "h", "w"), [(1, 32, 48), (9, 48, 80)])
def test_round_trip_count_size_fps(tmp_path, t, h, w):
    path = write_mp4(frames(t, h, w, seed=t), tmp_path / "v.mp4", fps=16)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        assert (s.width, s.height, s.average_rate) == (w, h, 16)
        decoded = list(c.decode(s))
    assert len(decoded) == t
    back, fps = read_video(path)
    assert back.shape == (t, h, w, 3) and fps == 16
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no temporary file left


def test_smooth_content_survives_encoding(tmp_path):
    # A flat grey ramp: H.264 at crf 18 keeps it within a few levels.
    ramp = torch.linspace(40, 200, 64).round().to(torch.uint8)
    video = ramp[None, None, :, None].expand(5, 32, 64, 3).contiguous()
    back, _ = read_video(write_mp4(video, tmp_path / "r.mp4"))
    assert (back.int() - video.int()).abs().float().mean() < 3.0


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"old")

    converted = []

    class FailsAtTheSecondFrame:
        # PyAV's own types are immutable in some releases (17.x), so the failure comes through the module
        # that write_mp4 gets from ``require``: the first frame is encoded, the second raises.
        @staticmethod
        def from_ndarray(array, format):
            converted.append(format)
            if len(converted) == 2:
                raise RuntimeError("encoder exploded")
            return av.VideoFrame.from_ndarray(array, format=format)

    failing_av = types.SimpleNamespace(
        open=av.open, codecs_available=av.codecs_available, VideoFrame=FailsAtTheSecondFrame
    )
    monkeypatch.setattr(video_io, "require", lambda *args: failing_av)
    with pytest.raises(RuntimeError, match="encoder exploded"):
        write_mp4(frames(3, 16, 16, 0), target)
    assert len(converted) == 2
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]


def test_bad_frames(tmp_path):
    with pytest.raises(ValueError, match=r"frames must be uint8 \[T, H, W, 3\]"):
        write_mp4(torch.zeros(2, 16, 16, 3), tmp_path / "a.mp4")
    with pytest.raises(ValueError, match=r"frames must be uint8 \[T, H, W, 3\]"):
        write_mp4(np.zeros((16, 16, 3), np.uint8), tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="needs even sizes"):
        write_mp4(np.zeros((1, 15, 16, 3), np.uint8), tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="fps must be a positive int"):
        write_mp4(np.zeros((1, 16, 16, 3), np.uint8), tmp_path / "a.mp4", fps=0)


def test_output_path_checks(tmp_path):
    assert check_output_path(tmp_path / "ok.mp4") == tmp_path / "ok.mp4"
    with pytest.raises(ValueError, match=r"output must be an \.mp4 file"):
        check_output_path(tmp_path / "a.avi")
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        check_output_path(tmp_path / "d.mp4")
    with pytest.raises(ValueError, match="does not exist; create it"):
        check_output_path(tmp_path / "nope" / "a.mp4")


def test_unwritable_folder_via_access(tmp_path, monkeypatch):
    monkeypatch.setattr(video_io.os, "access", lambda *a: False)
    with pytest.raises(ValueError, match="is not writable; pick another output path"):
        check_output_path(tmp_path / "a.mp4")


def test_read_only_file(tmp_path, monkeypatch):
    existing = tmp_path / "ro.mp4"
    existing.write_bytes(b"x")
    monkeypatch.setattr(video_io.os, "access", lambda p, mode: str(p) != str(existing))
    with pytest.raises(ValueError, match="the file is read-only"):
        check_output_path(existing)


def test_png_round_trip_is_exact_and_atomic(tmp_path):
    image = frames(1, 21, 34, seed=5)[0].numpy()
    assert write_png(image, tmp_path / "i.png") == tmp_path / "i.png"
    assert torch.equal(read_image(tmp_path / "i.png"), torch.from_numpy(image))
    with pytest.raises(ValueError, match=r"image must be uint8 \[H, W, 3\]"):
        write_png(image[..., :2], tmp_path / "i.png")
    assert torch.equal(read_image(tmp_path / "i.png"), torch.from_numpy(image))  # old file kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.png"]  # no temporary left


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image not found"):
        read_image(tmp_path / "none.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read .* as an image"):
        read_image(tmp_path / "bad.png")


def test_missing_pyav(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "turbodiffusion\[video\]"'):
        write_mp4(frames(1, 16, 16, 0), tmp_path / "a.mp4")
    # The CLI checks the output before generating: a missing PyAV must be found then, not after.
    with pytest.raises(MissingDependencyError, match=r'writing mp4 needs the package "av"'):
        check_output_path(tmp_path / "a.mp4")
