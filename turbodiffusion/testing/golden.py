"""Golden runner: recompute reference fixtures from their own inputs, weights and config, and compare.

    python -m turbodiffusion.testing.golden FILE_OR_FOLDER...

Prints one line per file, ``path kind rel_l2=... max_abs=... PASS|FAIL`` (or ``SKIP (reason)``), and exits
non-zero if any file fails. Everything (case, config, layout, timesteps, block sizes) is read from the file,
so fixtures of the same kinds with other seeds, sizes and configs need no code.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from . import tolerances
from .compare import max_abs, rel_l2

Pairs = dict[str, tuple[Tensor, Tensor]]  # output name -> (ours, reference)


@dataclass(frozen=True)
class GoldenResult:
    path: Path
    kind: str
    status: str  # "PASS", "FAIL" or "SKIP"
    rel_l2: float = float("nan")
    max_abs: float = float("nan")
    detail: str = ""

    def line(self) -> str:
        if self.status == "SKIP":
            return f"{self.path} {self.kind} SKIP ({self.detail})"
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.path} {self.kind} rel_l2={self.rel_l2:.3e} max_abs={self.max_abs:.3e} {self.status}{extra}"


def read_fixture(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def fixture_kind(metadata: dict[str, str]) -> str:
    """``dit``, ``vae`` or ``sla``, from the fixture's ``case`` metadata."""
    case = metadata.get("case", "")
    for kind in ("dit", "vae", "sla"):
        if case.startswith(kind):
            return kind
    raise ValueError(f"unknown fixture case {case!r}; known kinds: dit, vae, sla")


def _group(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def run_dit(tensors: dict[str, Tensor], metadata: dict[str, str]) -> Pairs:
    from ..models.checkpoint_io import CheckpointReader
    from ..models.loading import compare_keys, materialise
    from ..models.meta import on_meta
    from ..models.wan.config import WanDiTConfig
    from ..models.wan.dit import WanDiT

    config = WanDiTConfig.from_official(json.loads(metadata["config"]))
    with on_meta():
        model = WanDiT(config)
    reader = CheckpointReader.from_tensors(_group(tensors, "weights."), "weights")
    mapping, report = compare_keys(reader, model)
    if report:
        raise ValueError(f"fixture weights do not match the config:\n{report.describe()}")
    model = materialise(model, reader, mapping, dtype=torch.float32, device="cpu").eval()
    inputs = _group(tensors, "input.")
    n_steps = (
        len(json.loads(metadata["timesteps"])) if "timesteps" in metadata else len(_group(tensors, "output."))
    )
    pairs: Pairs = {}
    with torch.no_grad():
        for i in range(n_steps):
            out = model(inputs["x"], inputs[f"timestep_{i}"], inputs["crossattn_emb"], inputs.get("y"))
            pairs[str(i)] = (out, tensors[f"output.{i}"])
    return pairs


def run_vae(tensors: dict[str, Tensor], metadata: dict[str, str]) -> Pairs:
    import dataclasses

    from ..models.wan.vae import WanVAE, WanVAEConfig

    config = WanVAEConfig.from_official(json.loads(metadata["config"]))
    config = dataclasses.replace(
        config,
        latent_mean=tuple(tensors["scale.mean"].tolist()),
        latent_std=tuple(tensors["scale.std"].tolist()),
    )
    model = WanVAE(config).eval()
    model.load_state_dict(_group(tensors, "weights."), strict=True)
    with torch.no_grad():
        latent = model.encode(tensors["input.video"])
        decoded = model.decode(tensors["output.latent"])
    return {"latent": (latent, tensors["output.latent"]), "decoded": (decoded, tensors["output.decoded"])}


def _run_sla(tensors: dict[str, Tensor], metadata: dict[str, str]) -> Pairs:
    from ..attention.sla.golden import run_sla_fixture

    return run_sla_fixture(tensors, metadata)


RUNNERS: dict[str, tuple[Callable[[dict, dict], Pairs], str]] = {
    # kind -> (runner, module that must exist for it to run)
    "dit": (run_dit, "turbodiffusion.models.wan.dit"),
    "vae": (run_vae, "turbodiffusion.models.wan.vae"),
    "sla": (_run_sla, "turbodiffusion.attention.sla.golden"),
}


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def run_file(path: str | Path) -> GoldenResult:
    """Recompute one fixture and compare every output (exact for integer outputs such as block maps)."""
    path = Path(path)
    tensors, metadata = read_fixture(path)
    kind = fixture_kind(metadata)
    runner, module = RUNNERS[kind]
    if not _module_exists(module):
        return GoldenResult(path, kind, "SKIP", detail=f"{kind} not built yet: {module} is missing")
    pairs = runner(tensors, metadata)
    worst_l2, worst_abs, failures = 0.0, 0.0, []
    for name, (ours, ref) in pairs.items():
        if tuple(ours.shape) != tuple(ref.shape):
            failures.append(f"{name}: shape {tuple(ours.shape)} != {tuple(ref.shape)}")
            continue
        if not ref.is_floating_point():
            if not torch.equal(ours.to(ref.dtype), ref):
                failures.append(f"{name}: {(ours.to(ref.dtype) != ref).sum().item()} entries differ")
            continue
        err, mx = rel_l2(ours, ref), max_abs(ours, ref)
        worst_l2, worst_abs = max(worst_l2, err), max(worst_abs, mx)
        if not err <= tolerances.GOLDEN_REL_L2:  # also catches NaN
            failures.append(f"{name}: rel_l2 {err:.3e} > {tolerances.GOLDEN_REL_L2:.0e}")
    status = "FAIL" if failures else "PASS"
    return GoldenResult(path, kind, status, worst_l2, worst_abs, "; ".join(failures))


def expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.safetensors")))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such fixture file or folder: {p}")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m turbodiffusion.testing.golden", description=__doc__.splitlines()[0]
    )
    parser.add_argument("paths", nargs="+", help="fixture files (.safetensors) or folders of them")
    args = parser.parse_args(argv)
    try:
        files = expand(args.paths)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not files:
        print("error: no fixture files found", file=sys.stderr)
        return 2
    failed = 0
    for f in files:
        result = run_file(f)
        print(result.line(), flush=True)
        failed += result.status == "FAIL"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
