"""What the engine needs to know about a checkpoint's tokens: padding, the ids that end a row,
the special ids never sampled, and the text of every token (for DRY's sequence breakers)."""

from __future__ import annotations

from typing import Any

import torch

# Distinct sequence-breaker sets remembered per engine (each costs a scan of the vocabulary).
_BREAKER_SETS_KEPT = 32


class Vocabulary:
    def __init__(self, model: Any, tokenizer: Any, end_marker: str, device: torch.device) -> None:
        self._tokenizer = tokenizer
        self.device = device
        self.size = int(getattr(model.config, "vocab_size", None) or len(tokenizer))
        self.pad_id = self._pad_token_id()
        self.finish_ids, self.special_ids = self._special_ids(end_marker)
        self._texts: list[str] | None = None
        self._breakers: dict[tuple[str, ...], torch.Tensor] = {}

    def _pad_token_id(self) -> int:
        for candidate in (self._tokenizer.pad_token_id, self._tokenizer.eos_token_id, 0):
            if candidate is not None:
                return int(candidate)
        return 0

    def _special_ids(self, marker: str) -> tuple[set[int], torch.Tensor]:
        """(ids that end a row, ids never sampled: every other special/control token)."""
        tokenizer = self._tokenizer
        finish: set[int] = set()
        if tokenizer.eos_token_id is not None:
            finish.add(int(tokenizer.eos_token_id))
        if marker:
            marker_id = tokenizer.convert_tokens_to_ids(marker)
            known = marker_id != tokenizer.unk_token_id or tokenizer.unk_token == marker
            if isinstance(marker_id, int) and known:
                finish.add(marker_id)
        special = {int(i) for i in tokenizer.all_special_ids if 0 <= int(i) < self.size}
        never = sorted(special - finish)
        return finish, torch.tensor(never, dtype=torch.long, device=self.device)

    def breaker_ids(self, breakers: tuple[str, ...]) -> torch.Tensor:
        """Ids of the tokens whose text holds any of these sequence breakers (DRY's matches
        never run across them). Called from the worker thread only."""
        if not breakers:
            return torch.empty(0, dtype=torch.long, device=self.device)
        found = self._breakers.get(breakers)
        if found is None:
            if self._texts is None:
                known = min(self.size, len(self._tokenizer))
                self._texts = self._tokenizer.batch_decode([[i] for i in range(known)])
            ids = [i for i, text in enumerate(self._texts) if any(b in text for b in breakers)]
            found = torch.tensor(ids, dtype=torch.long, device=self.device)
            if len(self._breakers) >= _BREAKER_SETS_KEPT:
                self._breakers.pop(next(iter(self._breakers)))
            self._breakers[breakers] = found
        return found
