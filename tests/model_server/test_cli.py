"""`campfire-server` / `python -m model_server`: flags, the missing-default message, a real run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import torch

from model_server.cli import main
from tests.serving import run_server_process


def test_missing_default_checkpoint_exits_2_and_says_what_to_run(tmp_path: Path, capsys):
    code = main(["--checkpoints", str(tmp_path), "--checkpoint", "absent"])
    assert code == 2
    err = capsys.readouterr().err
    assert "campfire-models install-default" in err and "absent" in err
    assert len(err.strip().splitlines()) == 1


def test_unusable_default_checkpoint_exits_2_with_the_problem(tmp_path: Path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["--checkpoints", str(tmp_path), "--checkpoint", "empty"]) == 2
    assert "campfire.json" in capsys.readouterr().err


def test_a_mode_the_machine_cannot_run_exits_2(tiny_checkpoints: Path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = ["--checkpoints", str(tiny_checkpoints), "--checkpoint", "tiny", "--quant", "fp16"]
    assert main(args) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_help_lists_the_contract_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--checkpoints", "--checkpoint", "--device", "--quant"):
        assert flag in out
    assert "dynamic-int8" in out and "nf4" in out


@pytest.mark.slow  # a fresh Python importing torch and transformers: ~10-20 s on 2 busy cores
def test_the_real_program_serves_and_honours_flags(tiny_checkpoints: Path):
    env = {"CAMPFIRE_API_KEY": "k", "CAMPFIRE_QUANT": "none"}
    with run_server_process(
        tiny_checkpoints, "tiny", extra_args=["--quant", "dynamic-int8"], env=env
    ) as url:
        headers = {"Authorization": "Bearer k"}
        health = httpx.get(f"{url}/health", headers=headers).json()
        assert health["loaded"][0]["quant"] == "dynamic-int8", "the flag beat the environment"
        body = {"task": "prompt", "max_new_tokens": 5}
        response = httpx.post(f"{url}/v1/generate", json=body, headers=headers, timeout=60)
        assert response.status_code == 200
        assert httpx.get(f"{url}/health").status_code == 401
