"""Video and image files through PyAV (the optional "video" extra): H.264 mp4 out, RGB images in.

Writes are atomic: the mp4 goes to a temporary file in the destination folder, then ``os.replace``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import require

# H.264 encoders PyAV may bundle, best first.
H264_ENCODERS = ("libx264", "h264", "libopenh264")
VIDEO_SUFFIXES = (".mp4",)
FILE_MODE = 0o644


def check_output_path(path: str | os.PathLike) -> Path:
    """Check, before any heavy work, that an mp4 can be written at ``path``; returns it as a Path.

    Raises ValueError for a wrong suffix, a folder, a missing or unwritable parent folder, and
    MissingDependencyError when PyAV (the "video" extra) is not installed: found out after a generation,
    it would throw the generated video away.
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(
            f"output must be an .mp4 file (got {str(path)!r}); use e.g. {path.with_suffix('.mp4')}"
        )
    if path.is_dir():
        raise ValueError(f"output {path} is a folder; pass a file name such as {path / 'video.mp4'}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(
            f"cannot write {path}: folder {parent} does not exist; create it or pick another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: folder {parent} is not writable; pick another output path")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"cannot overwrite {path}: the file is read-only; pick another output path")
    require("av", "video", "writing mp4")
    return path


def _h264_codec(av) -> str:
    available = av.codecs_available
    for name in H264_ENCODERS:
        if name in available:
            return name
    raise RuntimeError(f"this PyAV build has no H.264 encoder (looked for {', '.join(H264_ENCODERS)})")


def write_mp4(
    frames: Tensor | np.ndarray,
    path: str | os.PathLike,
    *,
    fps: int = 16,
    crf: int = 18,
    thread_type: str = "AUTO",
) -> Path:
    """Encode ``frames`` [T, H, W, 3] uint8 RGB as H.264 (yuv420p) mp4 at ``fps``, atomically.

    H and W must be even (yuv420p). ``crf``: x264 quality (lower is better; 18 is visually lossless).
    ``thread_type``: the encoder's threading, PyAV's names: "AUTO" (frame and slice threads; 81 frames at
    720p in 1.67 s on a 2-core CPU, benchmarks/mp4_write.py), "SLICE" (PyAV's default: 1.86 s), "FRAME".
    Raises MissingDependencyError without PyAV, ValueError on bad frames or an unwritable path.
    """
    av = require("av", "video", "writing mp4")
    path = check_output_path(path)
    array = frames.detach().cpu().numpy() if isinstance(frames, Tensor) else np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] < 1:
        raise ValueError(
            f"frames must be uint8 [T, H, W, 3] with T >= 1 (got {array.dtype} {list(array.shape)})"
        )
    _, height, width, _ = array.shape
    if height % 2 or width % 2:
        raise ValueError(f"H.264 yuv420p needs even sizes (got {width}x{height}); use multiples of 16")
    if not (isinstance(fps, int) and fps > 0):
        raise ValueError(f"fps must be a positive int (got {fps!r}); Wan videos are 16 fps")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        with av.open(tmp, mode="w", format="mp4") as container:
            codec = _h264_codec(av)
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": str(crf)}
            stream.thread_type = thread_type
            for image in array:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())  # flush the encoder's delayed frames
        os.chmod(tmp, FILE_MODE)  # mkstemp creates 0600; a saved video is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_png(image: Tensor | np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``image`` [H, W, 3] uint8 RGB as a lossless PNG, atomically. Needs PyAV."""
    av = require("av", "video", "writing png")
    path = Path(path)
    array = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3] (got {array.dtype} {list(array.shape)})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # image2 picks its muxer by name, not by the temporary suffix, so the format is given.
        with av.open(tmp, mode="w", format="image2") as container:
            stream = container.add_stream("png")
            stream.width, stream.height, stream.pix_fmt = array.shape[1], array.shape[0], "rgb24"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            container.mux(stream.encode(frame))
            container.mux(stream.encode())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_video(path: str | os.PathLike) -> tuple[Tensor, float]:
    """Decode a video file to (frames [T, H, W, 3] uint8, fps). Needs PyAV."""
    av = require("av", "video", "reading video")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not frames:
        raise ValueError(f"{path} holds no video frames")
    return torch.from_numpy(np.stack(frames)), fps


def read_image(path: str | os.PathLike) -> Tensor:
    """Decode an image file (PNG, JPEG, ...) to [H, W, 3] uint8 RGB through PyAV's image demuxer.

    Raises FileNotFoundError for a missing file, ValueError for one that holds no image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    av = require("av", "video", "reading images")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return torch.from_numpy(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, StopIteration) as err:
        raise ValueError(f"cannot read {path} as an image ({err}); use a PNG or JPEG file") from err
