"""Fixtures shared by every test package.

`tiny_checkpoints` is a checkpoints folder holding two real tiny GPT-2 checkpoints, built once per
session: "tiny" (control tokens, like a fine-tuned checkpoint) and "tiny-chat" (instruction style,
like the embedded default). Tests that change a checkpoint copy it first (`tiny_checkpoint_copy`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.prompt_format import PromptStyle
from tests.tiny_checkpoint import build_tiny_checkpoint

TINY = "tiny"
TINY_CHAT = "tiny-chat"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import importlib.util

    has_cuda = False
    if importlib.util.find_spec("torch") is not None:
        import torch

        has_cuda = torch.cuda.is_available()
    if has_cuda:
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkpoints")
    build_tiny_checkpoint(root / TINY, name=TINY)
    build_tiny_checkpoint(root / TINY_CHAT, name=TINY_CHAT, style=PromptStyle.INSTRUCTION)
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_checkpoints: Path) -> Path:
    return tiny_checkpoints / TINY


@pytest.fixture
def tiny_checkpoint_copy(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny checkpoint that a test may change or break."""
    return Path(shutil.copytree(tiny_checkpoint, tmp_path / TINY))


@pytest.fixture(scope="session")
def default_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded SmolLM2 default model, converted once per session (about 30 s)."""
    from model_server.default_model import install_default

    root = tmp_path_factory.mktemp("default-model")
    return install_default(root, "smollm2-135m-instruct", say=lambda _: None).path
