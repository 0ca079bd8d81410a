"""umT5 tokenizer wrapper and prompt cleaning, on tiny tokenizer.json files built here (no network).

The Unigram + Metaspace file mimics google/umt5-xxl (SentencePiece Unigram, ``</s>`` appended by a
TemplateProcessing post-processor, as transformers' T5 converter writes it); the WordLevel files give
predictable ids and cover files whose post-processor does not append ``</s>``.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from turbodiffusion.errors import MissingDependencyError
from turbodiffusion.models.tokenizer import UMT5Tokenizer, clean_text

PAD, EOS, UNK = 0, 1, 2
WORDS = ["the", "cat", "sat", "on", "mat", "&", "dog", "a"]
WORD_ID = {w: i + 3 for i, w in enumerate(WORDS)}


def t5_template() -> processors.TemplateProcessing:
    # What transformers' T5 converter puts in google/umt5-xxl's tokenizer.json.
    return processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", EOS)]
    )


def save(tok: Tokenizer, folder: Path) -> Path:
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return folder


def word_level_folder(folder: Path, post: str = "template", vocab: dict[str, int] | None = None) -> Path:
    vocab = vocab or {"<pad>": PAD, "</s>": EOS, "<unk>": UNK, **WORD_ID}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if post == "template":
        tok.post_processor = t5_template()
    elif post == "bytelevel":  # a post-processor that adds no tokens
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return save(tok, folder)


def unigram_folder(folder: Path) -> Path:
    letters = "abcdefghijklmnopqrstuvwxyz&"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + w, -1.0 - 0.1 * i) for i, w in enumerate(["the", "cat", "sat", "dog"])]
    vocab += [(c, -4.0) for c in letters] + [("\u2581" + c, -3.5) for c in letters]
    tok = Tokenizer(models.Unigram(vocab, unk_id=UNK, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = t5_template()
    return save(tok, folder)


def expected(words: list[str], text_len: int) -> tuple[list[int], list[int]]:
    ids = [WORD_ID[w] for w in words][: text_len - 1] + [EOS]
    n = len(ids)
    return ids + [PAD] * (text_len - n), [1] * n + [0] * (text_len - n)


@pytest.mark.parametrize("post", ["template", "none", "bytelevel"])
def test_one_eos_then_padding(tmp_path, post):
    tok = UMT5Tokenizer.from_folder(word_level_folder(tmp_path, post), text_len=7)
    ids, mask = tok(["the cat sat on the", "dog", ""])
    assert ids.dtype == mask.dtype == torch.int64
    assert ids.shape == mask.shape == (3, 7)
    rows = [expected(["the", "cat", "sat", "on", "the"], 7), expected(["dog"], 7), expected([], 7)]
    assert ids.tolist() == [r[0] for r in rows]
    assert mask.tolist() == [r[1] for r in rows]
    assert (ids == EOS).sum().item() == 3, "EOS appended more or less than once per prompt"


@pytest.mark.parametrize("post", ["template", "none"])
@pytest.mark.parametrize("text_len", [1, 2, 4])
def test_truncation_keeps_eos_last(tmp_path, post, text_len):
    tok = UMT5Tokenizer.from_folder(word_level_folder(tmp_path, post), text_len=text_len)
    words = ["the", "cat", "sat", "on", "the", "mat"]
    ids, mask = tok([" ".join(words)])
    assert ids[0].tolist() == expected(words, text_len)[0]
    assert ids[0, -1].item() == EOS
    assert mask.tolist() == [[1] * text_len]


def test_prompts_are_cleaned_before_tokenising(tmp_path):
    tok = UMT5Tokenizer.from_folder(word_level_folder(tmp_path), text_len=9)
    messy, _ = tok(["  the \t cat\n\nsat &amp;amp;  dog  "])
    clean, _ = tok(["the cat sat & dog"])
    assert torch.equal(messy, clean)
    assert messy[0, :6].tolist() == [WORD_ID[w] for w in ["the", "cat", "sat", "&", "dog"]] + [EOS]


@pytest.mark.parametrize("make", [unigram_folder, word_level_folder], ids=["unigram", "wordlevel"])
@pytest.mark.parametrize("text_len", [1, 6, 23])
def test_matches_transformers_tokenizer(tmp_path, make, text_len):
    """transformers' fast tokenizer with Wan's call (padding="max_length", truncation=True) gives the same."""
    folder = make(tmp_path)
    prompts = ["the cat sat on the mat", "dog", "", "a cat & the dog sat on a mat the cat sat"]
    ours = UMT5Tokenizer.from_folder(folder, text_len=text_len)(prompts)
    hf = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"), pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    ref = hf(
        [clean_text(p) for p in prompts],
        padding="max_length",
        truncation=True,
        max_length=text_len,
        add_special_tokens=True,
        return_tensors="pt",
    )
    assert torch.equal(ours[0], ref["input_ids"])
    assert torch.equal(ours[1], ref["attention_mask"])


def test_missing_folder_names_file_and_download(tmp_path):
    missing = tmp_path / "google" / "umt5-xxl"
    with pytest.raises(
        FileNotFoundError, match=r"umt5-xxl/tokenizer\.json.*turbodiffusion download wan2\.1-t2v-1\.3b"
    ):
        UMT5Tokenizer.from_folder(missing)


def test_folder_without_tokenizer_json(tmp_path):
    (tmp_path / "spiece.model").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"tokenizer file not found: .*tokenizer\.json"):
        UMT5Tokenizer.from_folder(tmp_path)


def test_without_tokenizers_package(tmp_path, monkeypatch):
    folder = word_level_folder(tmp_path)
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # makes `import tokenizers` raise ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "turbodiffusion\[text\]"'):
        UMT5Tokenizer.from_folder(folder)


@pytest.mark.parametrize("missing", ["<pad>", "</s>"])
def test_file_without_pad_or_eos(tmp_path, missing):
    vocab = {"<pad>": PAD, "</s>": EOS, "<unk>": UNK, **WORD_ID}
    del vocab[missing]
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError, match=rf"has no token '{missing}'; umT5 needs '<pad>' and '</s>'"):
        UMT5Tokenizer.from_folder(tmp_path)


@pytest.mark.parametrize("text_len", [0, -3, True, 2.5])
def test_bad_text_len(tmp_path, text_len):
    folder = word_level_folder(tmp_path)
    with pytest.raises(ValueError, match=rf"text_len must be a positive int \(got {text_len!r}\)"):
        UMT5Tokenizer.from_folder(folder, text_len=text_len)


@pytest.mark.parametrize(
    ("prompts", "match"),
    [
        ("the cat", r"prompts must be a list of strings \(got str\); wrap one prompt as \[prompt\]"),
        (None, r"prompts must be a list of strings \(got NoneType\)"),
        ([], r"at least one prompt \(got an empty list\)"),
        (["the cat", 3], r"prompts\[1\] must be a str \(got int\)"),
    ],
    ids=["str", "none", "empty", "not-str"],
)
def test_bad_prompts(tmp_path, prompts, match):
    tok = UMT5Tokenizer.from_folder(word_level_folder(tmp_path), text_len=5)
    with pytest.raises(ValueError, match=match):
        tok(prompts)


def test_clean_text_without_ftfy(monkeypatch):
    monkeypatch.setitem(sys.modules, "ftfy", None)
    assert clean_text("  a&amp;amp;b \n\t c\u3000 d  ") == "a&b c d"  # \u3000 is whitespace too
    assert clean_text("&amp;amp;amp;") == "&amp;", "exactly two rounds of unescaping"
    assert clean_text("&lt;x&gt;") == "<x>"
    assert clean_text("caf\u00c3\u00a9") == "caf\u00c3\u00a9", "without ftfy, mojibake stays"
    assert clean_text(" \n ") == ""


def test_clean_text_runs_ftfy_first(monkeypatch):
    seen = []

    def fix_text(text: str) -> str:
        seen.append(text)
        return text.replace("caf\u00c3\u00a9", "caf\u00e9 &amp;amp;")

    monkeypatch.setitem(sys.modules, "ftfy", types.SimpleNamespace(fix_text=fix_text))
    assert clean_text("  caf\u00c3\u00a9  ") == "caf\u00e9 &"  # ftfy's output is unescaped and stripped after
    assert seen == ["  caf\u00c3\u00a9  "]
