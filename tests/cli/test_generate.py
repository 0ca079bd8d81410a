"""`turbodiffusion generate` through main(): the mp4 round trip, --help, and one-line errors."""

from __future__ import annotations

import os
import re

import av
import pytest
import torch

from turbodiffusion.cli.__main__ import build_parser, main
from turbodiffusion.default_model import config as default_config
from turbodiffusion.default_model import files as default_files
from turbodiffusion.pipelines.gemm_workspace import WORKSPACE_VARIABLE

from ..default_model.tiny import write_tiny
from ..pipelines.layouts import write_wan22_i2v

# generate sets CUBLASLT_WORKSPACE_SIZE in the process environment: each test starts without it and its
# teardown removes what the test's runs set.
pytestmark = pytest.mark.usefixtures("no_cublaslt_workspace_variable")


@pytest.fixture(scope="module")
def tiny_default(tmp_path_factory):
    """A tiny trained-layout default model (random weights) written with the real writer."""
    return write_tiny(tmp_path_factory.mktemp("default") / "default")


@pytest.fixture
def shipped(monkeypatch, tiny_default):
    """Make the tiny folder the package's shipped default model for the duration of a test."""
    monkeypatch.setattr(default_config, "shipped_dir", lambda: tiny_default)
    monkeypatch.setattr(default_files, "shipped_dir", lambda: tiny_default)
    return tiny_default


@pytest.mark.parametrize("model", [[], ["--model", "builtin-random"]], ids=["default", "random"])
def test_round_trip_writes_a_playable_mp4(tmp_path, capsys, shipped, model):
    out = tmp_path / "out.mp4"
    rc = main(
        [
            "generate",
            "a red circle moving right",
            *model,
            "--frames",
            "9",
            "--resolution",
            "64x48",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert (s.width, s.height, s.average_rate, s.codec_context.name) == (64, 48, 16, "h264")
        assert sum(1 for _ in c.decode(s)) == 9
    stdout = capsys.readouterr().out
    assert f"wrote {out}" in stdout
    assert re.search(
        r"text \d+\.\d\d s \| steps [\d.+]+ = \d+\.\d\d s \| decode \d+\.\d\d s \| total \d+\.\d\d s"
        r" \| load \d+\.\d\d s, mp4 \d+\.\d\d s$",
        stdout,
        re.MULTILINE,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_same_seed_same_file_content(tmp_path):
    # builtin-random: x264 output for the trained model's smoother frames has been seen to differ between
    # encodes of identical frames on a loaded machine (video_io, not the model); frame-level determinism
    # of the default model is tested in tests/pipelines/test_default_model.py.
    args = [
        "generate",
        "x",
        "--model",
        "builtin-random",
        "--frames",
        "5",
        "--resolution",
        "64x48",
        "--seed",
        "3",
    ]
    args += ["--no-progress"]
    assert main([*args, "-o", str(tmp_path / "a.mp4")]) == 0
    assert main([*args, "-o", str(tmp_path / "b.mp4")]) == 0
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_help_lists_every_flag_with_its_default():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["generate"]
    text = sub.format_help()
    flags = [o for a in sub._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    expected = {
        "--image", "--model", "--checkpoint-dir", "--steps", "--attention", "--sla-topk", "--quant", "--frames",
        "--resolution", "--seed", "--device", "--offload", "--output", "--sampler", "--sigma-max", "--ode",
        "--guidance", "--shift", "--dtype", "--no-progress", "--no-fused",
    }  # fmt: skip
    assert expected <= set(flags)
    for flag in flags:
        assert flag in text
    # every option's help states its default (written out, or appended by the command table's formatter)
    formatter = sub.formatter_class(prog="turbodiffusion generate")
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert "default" in formatter._get_help_string(action), action.dest
    compact = " ".join(text.split())
    assert "(default: 0)" in compact and "(default: builtin-random" not in compact  # seed; model wording
    assert "sdpa,sla,sage,sagesla" in compact


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "8"], r"error: num_frames must be 4k\+1 \(got 8\); use 5 or 9"),
        (["--resolution", "100x64"], r"error: width must be a multiple of 16 \(got 100\); use 96 or 112"),
        (["--steps", "6"], r"error: steps must be 1 to 4 for the rCM sampler \(got 6\)"),
        (["--image", "nope.png"], r"error: image not found: nope.png"),
        (["--model", "wan-9b"], r"error: model must be a preset name or an existing checkpoint folder"),
        (["-o", "/nonexistent-dir/x.mp4"], r"error: cannot write /nonexistent-dir/x.mp4: folder"),
        (["-o", "x.gif"], r"error: output must be an \.mp4 file"),
        (
            ["--model", "turbowan2.1-t2v-14b-480p", "--checkpoint-dir", "/nonexistent-ckpt"],
            r"turbodiffusion download",
        ),
        (
            ["--attention", "sdpa", "--sla-topk", "0.2"],
            r'error: sla_topk applies to "sla" and "sagesla" only',
        ),
    ],
)
def test_bad_arguments_exit_1_with_one_line(extra, message, capsys, tmp_path, monkeypatch, shipped):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "x", *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(message, err), err
    assert not list(tmp_path.glob("*.mp4"))


@pytest.mark.parametrize("model", [[], ["--model", "builtin-random"]], ids=["default", "random"])
def test_t2v_model_rejects_an_image_before_loading(tmp_path, capsys, caplog, shipped, model):
    image = tmp_path / "i.png"
    with av.open(str(image), "w", format="image2") as c:
        s = c.add_stream("png")
        s.width, s.height, s.pix_fmt = 16, 16, "rgb24"
        c.mux(
            s.encode(
                av.VideoFrame.from_ndarray(__import__("numpy").zeros((16, 16, 3), "uint8"), format="rgb24")
            )
        )
        c.mux(s.encode())
    with caplog.at_level("WARNING"):
        assert main(["generate", "x", *model, "--image", str(image), "-o", str(tmp_path / "o.mp4")]) == 1
    assert "is text-to-video and takes no image" in capsys.readouterr().err
    assert not any(r.name.startswith("turbodiffusion.models") for r in caplog.records)  # nothing was loaded


def test_recognised_i2v_folder_needs_an_image(tmp_path, capsys, monkeypatch):
    # The folder is recognised as Wan2.2 I2V (no --model), so a missing --image fails before loading.
    folder = write_wan22_i2v(tmp_path / "ckpt")
    assert (
        main(["generate", "x", "--checkpoint-dir", str(folder), "--frames", "5", "--resolution", "64x48"])
        == 1
    )
    err = capsys.readouterr().err
    assert "error: wan2.2-i2v-a14b is image-to-video and needs an image" in err


def test_default_model_settings_and_teacher_defaults(tmp_path, capsys, shipped, caplog):
    # No --model: the shipped default model (here the tiny folder), its student with 4 rCM steps and SLA.
    assert (
        main(
            [
                "generate",
                "a red circle",
                "--frames",
                "5",
                "--resolution",
                "32x32",
                "-o",
                str(tmp_path / "s.mp4"),
            ]
        )
        == 0
    )
    assert "(5 frames, 32x32, 16 fps, seed 0)" in capsys.readouterr().out
    assert not any("RANDOM" in r.getMessage() for r in caplog.records)
    # The teacher samples with its config.json's unipc steps (3 here: three step times in the summary).
    out = tmp_path / "t.mp4"
    args = [
        "generate",
        "a red circle",
        "--model",
        "builtin-teacher",
        "--frames",
        "5",
        "--resolution",
        "32x32",
    ]
    assert main([*args, "-o", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert re.search(r"steps [\d.]+\+[\d.]+\+[\d.]+ = ", stdout), stdout
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(c.streams.video[0])) == 5


def test_default_model_folder_given_as_checkpoint_dir(tmp_path, tiny_default, capsys):
    out = tmp_path / "o.mp4"
    args = ["generate", "x", "--checkpoint-dir", str(tiny_default), "--frames", "5", "--resolution", "32x32"]
    assert main([*args, "-o", str(out)]) == 0
    assert out.is_file()


def test_missing_default_model_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(default_config, "shipped_dir", lambda: tmp_path / "absent")
    assert main(["generate", "a red circle", "--model", "builtin", "-o", str(tmp_path / "o.mp4")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "this install has no trained default model weights" in err
    assert "bash scripts/train_default_model.sh" in err and "--model builtin-random" in err
    assert not list(tmp_path.glob("*.mp4"))


def test_without_trained_weights_the_first_command_falls_back_to_builtin_random(
    tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr(default_config, "shipped_dir", lambda: tmp_path / "absent")
    out = tmp_path / "o.mp4"
    with caplog.at_level("WARNING"):
        assert (
            main(["generate", "a red circle moving right", "--frames", "5", "-o", str(out), "--no-progress"])
            == 0
        )
    assert out.is_file()
    assert "RANDOM weights" in caplog.text


@pytest.mark.parametrize(
    ("args", "offload"),
    [
        ([], False),
        (["--offload"], "model"),
        (["--offload", "model"], "model"),
        (["--offload", "blocks"], "blocks"),
    ],
)
def test_offload_flag_takes_an_optional_mode(args, offload):
    assert build_parser().parse_args(["generate", "x", *args]).offload == offload


def test_offload_flag_refuses_an_unknown_mode(capsys):
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["generate", "x", "--offload", "disk"])
    assert err.value.code == 2
    err = capsys.readouterr().err
    assert "argument --offload: invalid choice" in err and "disk" in err and "blocks" in err


def test_offload_blocks_reaches_the_pipeline(tmp_path, capsys, monkeypatch):
    from turbodiffusion.pipelines import TurboPipeline

    seen = []
    original = TurboPipeline.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.append((kwargs["offload"], kwargs["fused"]))
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(TurboPipeline, "from_pretrained", classmethod(spy))
    out = tmp_path / "o.mp4"
    args = ["generate", "x", "--model", "builtin-random", "--frames", "5", "--resolution", "64x48"]
    assert main([*args, "--offload", "blocks", "--no-progress", "-o", str(out)]) == 0
    assert main([*args, "--no-fused", "--no-progress", "-o", str(out)]) == 0
    # fused=None: the pipeline's default (on for CUDA); --no-fused turns it off everywhere.
    assert seen == [("blocks", None), (False, False)] and out.is_file()


def test_a_cpu_run_keeps_freed_host_memory_and_a_gpu_run_does_not(tmp_path, monkeypatch):
    """On the CPU, generate sets glibc to keep freed blocks before the first step (pipelines/host_memory.py);
    on a GPU it leaves the allocator alone (a stand-in pipeline on "cuda" that stops at its first call)."""
    from turbodiffusion.pipelines import TurboPipeline, host_memory

    seen = []
    monkeypatch.setattr(host_memory, "keep_freed_host_memory", lambda: seen.append(1) or True)
    out = tmp_path / "o.mp4"
    args = ["generate", "x", "--model", "builtin-random", "--frames", "5", "--resolution", "64x48"]
    assert main([*args, "--no-progress", "-o", str(out)]) == 0 and seen == [1]

    class OnGpu:
        device = torch.device("cuda")

        def __call__(self, *args, **kwargs):
            raise KeyboardInterrupt  # stop before any work, after the choice is made

    monkeypatch.setattr(TurboPipeline, "from_pretrained", classmethod(lambda cls, *a, **k: OnGpu()))
    assert main([*args, "--no-progress", "-o", str(tmp_path / "gpu.mp4")]) == 130  # "interrupted"
    assert seen == [1]


@pytest.mark.parametrize("exported", [None, "32768"], ids=["unset", "user-size"])
def test_cublaslt_workspace_is_dropped_before_loading_unless_the_user_chose_one(
    tmp_path, monkeypatch, exported
):
    """generate sets CUBLASLT_WORKSPACE_SIZE=0 before the pipeline loads (pipelines/gemm_workspace.py); a
    size the user exported stays."""
    from turbodiffusion.pipelines import TurboPipeline

    if exported is not None:
        monkeypatch.setenv(WORKSPACE_VARIABLE, exported)
    seen = []

    def spy(cls, *args, **kwargs):
        seen.append(os.environ.get(WORKSPACE_VARIABLE))
        raise KeyboardInterrupt  # stop at the load: the variable's value there is what counts

    monkeypatch.setattr(TurboPipeline, "from_pretrained", classmethod(spy))
    args = ["generate", "x", "--model", "builtin-random", "--frames", "5", "--resolution", "64x48"]
    assert main([*args, "--no-progress", "-o", str(tmp_path / "o.mp4")]) == 130
    assert seen == ["0" if exported is None else exported]


def test_quant_flag_takes_a_mode(monkeypatch):
    """A bare --quant is INT8 (as before); --quant fp8-row picks FP8 row-wise, fp8-row-fast the same with fast
    accumulation; other modes are refused."""
    parser = build_parser()
    assert parser.parse_args(["generate", "x", "--quant"]).quant == "int8"
    assert parser.parse_args(["generate", "x", "--quant", "fp8-row"]).quant == "fp8-row"
    assert parser.parse_args(["generate", "x", "--quant", "fp8-row-fast"]).quant == "fp8-row-fast"
    assert parser.parse_args(["generate", "x"]).quant is None
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "x", "--quant", "int4"])


def test_out_of_memory_is_one_line_naming_what_needs_less(tmp_path, capsys, monkeypatch):
    from turbodiffusion.pipelines import TurboPipeline
    from turbodiffusion.pipelines.out_of_memory import device_memory_error

    def out_of_memory(self, *args, **kwargs):
        raise device_memory_error(self.device, self.offload, None, 5, 48, 64) from torch.OutOfMemoryError("x")

    monkeypatch.setattr(TurboPipeline, "__call__", out_of_memory)
    args = ["generate", "x", "--model", "builtin-random", "--frames", "5", "--resolution", "64x48"]
    assert main([*args, "--no-progress", "-o", str(tmp_path / "o.mp4")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cpu ran out of memory making 5 frames of 64x48. To need less: ")
    assert "Traceback" not in "\n".join(err) and not (tmp_path / "o.mp4").exists()
