"""Raw data sources, the latent cache and the resumable sampler."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
import torch

from turbodiffusion.training.cache import LatentDataset, build_cache
from turbodiffusion.training.data import (
    ResumableSampler,
    VideoCaption,
    iter_tar_shards,
    read_manifest,
    scan_folder,
)


def _fake_mp4(i: int) -> bytes:
    return b"\x00\x00\x00\x18ftypmp42" + bytes([i])  # content is opaque here: only the cache decodes it


def test_scan_folder_pairs_videos_with_captions(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b", "a", "sub/c"):
        (tmp_path / f"{name}.mp4").write_bytes(_fake_mp4(0))
        (tmp_path / f"{name}.txt").write_text(f" caption {name}\n")
    items = scan_folder(tmp_path)
    assert [i.key for i in items] == ["a", "b", "sub/c"]
    assert items[0].caption == "caption a" and items[0].video == tmp_path / "a.mp4"


def test_scan_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_folder(tmp_path / "nope")
    with pytest.raises(ValueError, match="holds no .mp4 files"):
        scan_folder(tmp_path)
    (tmp_path / "x.mp4").write_bytes(_fake_mp4(1))
    with pytest.raises(ValueError, match="has no caption: expected x.txt"):
        scan_folder(tmp_path)


def test_read_manifest(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        json.dumps({"video": "v/1.mp4", "caption": "one"})
        + "\n\n"
        + json.dumps({"video": "/abs.mp4", "caption": "two", "key": "k2"})
        + "\n"
    )
    items = read_manifest(path)
    assert items[0].video == tmp_path / "v/1.mp4" and items[0].caption == "one"
    assert items[1].key == "k2" and str(items[1].video) == "/abs.mp4"
    path.write_text('{"video": 3}\n')
    with pytest.raises(ValueError, match=r"m.jsonl:1 must be"):
        read_manifest(path)
    path.write_text("{nope\n")
    with pytest.raises(ValueError, match="m.jsonl:1 is not valid JSON"):
        read_manifest(path)


def _tar(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_tar_shards(tmp_path):
    _tar(
        tmp_path / "s0.tar",
        {"a.mp4": _fake_mp4(1), "a.txt": b"first", "b.mp4": _fake_mp4(2), "b.txt": b"second "},
    )
    _tar(tmp_path / "s1.tar", {"dir/c.mp4": _fake_mp4(3), "dir/c.txt": b"third"})
    items = list(iter_tar_shards([tmp_path / "s0.tar", tmp_path / "s1.tar"]))
    assert [(i.key, i.caption) for i in items] == [("a", "first"), ("b", "second"), ("c", "third")]
    assert items[2].video == _fake_mp4(3)
    _tar(tmp_path / "bad.tar", {"d.mp4": _fake_mp4(4)})
    with pytest.raises(ValueError, match=r"sample 'd' needs d.mp4 and d.txt"):
        list(iter_tar_shards([tmp_path / "bad.tar"]))


def test_sampler_is_deterministic_disjoint_and_resumable():
    ranks = [ResumableSampler(23, batch_size=3, seed=4, rank=r, world_size=2) for r in range(2)]
    epoch0 = [i for _ in range(3) for s in ranks for i in s.next_indices()]
    assert len(set(epoch0)) == 18  # 3 steps x 2 ranks x 3: no index twice within an epoch
    # The tail of 5 (< one global batch of 6) is dropped; the next step starts epoch 1.
    nxt = ranks[0].next_indices()
    assert ranks[0].state_dict() == {"epoch": 1, "position": 6}
    resumed = ResumableSampler(23, batch_size=3, seed=4, rank=0, world_size=2)
    resumed.load_state_dict({"epoch": 1, "position": 0})
    assert resumed.next_indices() == nxt
    fresh = ResumableSampler(23, batch_size=3, seed=4, rank=1, world_size=2)
    assert [fresh.next_indices() for _ in range(3)] == [epoch0[3:6], epoch0[9:12], epoch0[15:18]]


def test_sampler_errors():
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        ResumableSampler(4, batch_size=0, seed=0)
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size=2\)"):
        ResumableSampler(4, batch_size=1, seed=0, rank=2, world_size=2)
    with pytest.raises(ValueError, match="cannot fill one global batch"):
        ResumableSampler(3, batch_size=2, seed=0, rank=0, world_size=2)


def _encoders(seed: int):
    g = torch.Generator().manual_seed(seed)
    latents = {}

    def encode_video(item: VideoCaption) -> torch.Tensor:
        latents[item.key] = torch.randn(16, 2, 4, 6, generator=g).to(torch.bfloat16)
        return latents[item.key]

    def encode_text(text: str) -> torch.Tensor:
        return torch.full((5, 16), float(len(text)))

    return encode_video, encode_text, latents


def test_cache_roundtrip(tmp_path):
    items = [VideoCaption(f"k{i}", tmp_path / f"{i}.mp4", "x" * (i + 1)) for i in range(5)]
    ev, et, latents = _encoders(0)
    build_cache(items, tmp_path / "cache", encode_video=ev, encode_text=et, uncond_text="neg", shard_size=2)
    assert sorted(p.name for p in (tmp_path / "cache").glob("shard-*")) == [
        f"shard-0000{i}.safetensors" for i in range(3)
    ]
    ds = LatentDataset(tmp_path / "cache")
    assert len(ds) == 5
    lat, ctx = ds[3]
    assert (
        torch.equal(lat, latents["k3"])
        and lat.dtype == torch.bfloat16
        and torch.equal(ctx, torch.full((5, 16), 4.0))
    )
    xb, cb = ds.batch([4, 0])
    assert xb.shape == (2, 16, 2, 4, 6) and torch.equal(xb[1], latents["k0"]) and cb.shape == (2, 5, 16)
    assert torch.equal(ds.uncond(), torch.full((5, 16), 3.0))


def test_cache_errors(tmp_path):
    ev, et, _ = _encoders(1)
    dup = [VideoCaption("a", tmp_path / "a.mp4", "c"), VideoCaption("a", tmp_path / "b.mp4", "c")]
    with pytest.raises(ValueError, match="duplicate sample key 'a'"):
        build_cache(dup, tmp_path / "c1", encode_video=ev, encode_text=et)
    with pytest.raises(ValueError, match="no samples to cache"):
        build_cache([], tmp_path / "c2", encode_video=ev, encode_text=et)
    with pytest.raises(ValueError, match="shard_size must be >= 1"):
        build_cache([], tmp_path / "c2", encode_video=ev, encode_text=et, shard_size=0)
    sizes = iter([(16, 2, 4, 6), (16, 2, 4, 8)])
    mixed = [VideoCaption(k, tmp_path / "v.mp4", "c") for k in "ab"]
    with pytest.raises(ValueError, match="resize or crop videos to one size"):
        build_cache(mixed, tmp_path / "c3", encode_video=lambda i: torch.zeros(next(sizes)), encode_text=et)
    with pytest.raises(ValueError, match=r"encoders must return latent \[C, F, h, w\]"):
        build_cache(mixed, tmp_path / "c4", encode_video=lambda i: torch.zeros(3), encode_text=et)
    with pytest.raises(FileNotFoundError, match="index.json is missing"):
        LatentDataset(tmp_path / "c4")
    (tmp_path / "c5").mkdir()
    (tmp_path / "c5" / "index.json").write_text('{"format": "other", "version": 1, "samples": []}')
    with pytest.raises(ValueError, match="rebuild the cache"):
        LatentDataset(tmp_path / "c5")


class _StubVAE(torch.nn.Module):
    """Records the clip it was given; 'encodes' by 8x8 average pooling of the first channel, 16 times."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.seen: list[torch.Tensor] = []

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        self.seen.append(video)
        pooled = torch.nn.functional.avg_pool3d(video[:, :1], (4, 8, 8), ceil_mode=True)
        return pooled.expand(-1, 16, -1, -1, -1)


def test_vae_video_encoder_reads_resizes_and_scales(tmp_path):
    pytest.importorskip("av")
    from turbodiffusion.pipelines.video_io import write_mp4
    from turbodiffusion.training.cache import vae_video_encoder

    frames = torch.zeros(7, 32, 48, 3, dtype=torch.uint8)
    frames[..., 0] = 255  # pure red survives H.264 well enough for a range check
    write_mp4(frames, tmp_path / "v.mp4", fps=16)
    vae = _StubVAE()
    encode = vae_video_encoder(vae, num_frames=5, height=16, width=24)
    latent = encode(VideoCaption("v", tmp_path / "v.mp4", "red"))
    clip = vae.seen[0]
    assert clip.shape == (1, 3, 5, 16, 24) and clip.min() >= -1.0 and clip.max() <= 1.0
    assert clip[0, 0].mean() > 0.5 and latent.shape == (16, 2, 2, 3)
    as_bytes = encode(
        VideoCaption("v", (tmp_path / "v.mp4").read_bytes(), "red")
    )  # tar members arrive as bytes
    assert torch.equal(as_bytes, latent)
    with pytest.raises(ValueError, match="7 frames, fewer than num_frames=9"):
        vae_video_encoder(vae, num_frames=9, height=16, width=24)(
            VideoCaption("v", tmp_path / "v.mp4", "red")
        )
