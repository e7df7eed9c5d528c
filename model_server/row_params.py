"""Turning a wire request's samplers into the engine's RowParams, once for every route."""

from __future__ import annotations

from core.protocol import CompletionRequest, GenerateRequest
from model_server.engine.base import DryParams, RowParams
from model_server.errors import ApiError
from model_server.registry import Resident


def request_params(
    resident: Resident,
    request: GenerateRequest | CompletionRequest,
    max_new_tokens: int,
    stops: list[str],
) -> RowParams:
    """A request's samplers, checked against and tokenized for the checkpoint that serves it."""
    check_logit_bias(resident, request.logit_bias)
    phrases = []
    for phrase, bias in request.phrase_bias.items():
        # As a word in running text: BPE tokenizers glue the space before a word to it.
        text = " " + phrase.strip()
        ids = resident.weights.tokenizer(text, add_special_tokens=False)["input_ids"]
        phrases.append((tuple(int(i) for i in ids), bias))
    return row_params(request, max_new_tokens, stops, tuple(phrases))


def row_params(
    request: GenerateRequest | CompletionRequest,
    max_new_tokens: int,
    stops: list[str],
    phrase_bias: tuple[tuple[tuple[int, ...], float], ...] = (),
) -> RowParams:
    """The one mapping from a wire request's samplers to the engine's (phrase_bias: the
    request's phrases as the checkpoint's token ids)."""
    dry = None
    if request.dry_multiplier > 0:
        dry = DryParams(
            multiplier=request.dry_multiplier,
            base=request.dry_base,
            allowed_length=request.dry_allowed_length,
            sequence_breakers=tuple(request.dry_sequence_breakers),
            penalty_last_n=request.dry_penalty_last_n,
        )
    return RowParams(
        max_new_tokens=max_new_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        repetition_penalty=request.repetition_penalty,
        stop=tuple(stops),
        seed=request.seed,
        min_p=request.min_p,
        frequency_penalty=request.frequency_penalty,
        presence_penalty=request.presence_penalty,
        logit_bias=tuple(sorted(request.logit_bias.items())),
        phrase_bias=phrase_bias,
        banned_strings=tuple(request.banned_strings),
        dry=dry,
    )


def check_logit_bias(resident: Resident, bias: dict[int, float]) -> None:
    vocab = resident.weights.vocab_size
    outside = sorted(token for token in bias if token >= vocab)
    if outside:
        raise ApiError(
            422,
            f"logit_bias names token {outside[0]}; checkpoint {resident.name!r} has token ids "
            f"0 to {vocab - 1}",
            field="logit_bias",
        )
