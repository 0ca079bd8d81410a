"""``turbodiffusion train`` and its error path, in process."""

from __future__ import annotations

from turbodiffusion.cli.__main__ import main
from turbodiffusion.training.metrics import read_jsonl

from .test_loop import make_cache

CONFIG = """
kind = "flow"
[data]
cache_dir = "{cache}"
batch_size = 2
[model]
dit = {{ dim = 32, ffn_dim = 64, num_heads = 2, num_layers = 1, text_dim = 16, text_len = 8, freq_dim = 16 }}
[run]
output_dir = "{out}"
max_steps = 2
checkpoint_every = 1
"""


def test_train_cli_runs_then_resumes(tmp_path, capsys):
    cache = make_cache(tmp_path)
    path = tmp_path / "run.toml"
    path.write_text(CONFIG.format(cache=cache, out=tmp_path / "out"))
    assert main(["train", "flow", "--config", str(path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "step 2: loss=" in printed and str(tmp_path / "out" / "final.safetensors") in printed
    assert main(["train", "flow", "--config", str(path), "--no-progress", "--max-steps", "3"]) == 0
    assert [r["step"] for r in read_jsonl(tmp_path / "out" / "log.jsonl")] == [1, 2, 3]


def test_train_cli_reports_config_errors(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text(CONFIG.format(cache=tmp_path, out=tmp_path / "out"))
    assert main(["train", "rcm", "--config", str(path)]) == 1
    assert "error: run.toml is a 'flow' config but the command asked for 'rcm'" in capsys.readouterr().err
