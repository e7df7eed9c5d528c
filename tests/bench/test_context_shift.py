"""bench/context_shift.py: a story past its window, prefilled again per turn, per drop step."""

import json
from pathlib import Path

from bench import context_shift


def test_dropping_in_steps_prefills_less_per_turn(tmp_path: Path, capsys):
    assert context_shift.main(["--steps", "1,4", "--turns", "40", "--out", str(tmp_path)]) == 0
    [written] = tmp_path.glob("context-shift-*.json")
    one, four = json.loads(written.read_text())["figures"]
    assert (one["drop_step"], four["drop_step"]) == (1, 4)
    assert four["words_prefilled_per_turn"] < one["words_prefilled_per_turn"] / 2
    assert one["turns_kept"] - four["turns_kept"] < 3, "a step costs less than step turns"
    assert "drop step 4:" in capsys.readouterr().out
