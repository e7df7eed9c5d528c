"""Asking the model: one request per passage, streamed or not, retried when the model wrote
nothing, and (where the server moderates) regenerated while it writes blocked words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.group.moderation import DEFAULT_ATTEMPTS, Moderator
from bot.model_client import ModelClient, ModelError
from bot.story.presets import preset_named
from bot.story.values import EffectiveSettings, OnText, OutputWithheld
from core.controls import Emotion, Genre, Task
from core.protocol import GenerateRequest, GenerateResponse, StreamChunk

# A sampled answer can end before its first word; that is chance, so the model is asked again
# (unseeded requests draw anew) before the user is told it wrote nothing.
EMPTY_ANSWER_TRIES = 3
NOTHING_WRITTEN = "The model wrote nothing this time. Try again."
# A writing prompt is one or two sentences: it gets its own, short length.
PROMPT_MAX_NEW_TOKENS = 60
# How far a triggered lore entry's name leans the passage toward naming it (phrase bias, until
# named once). Asked in words alone, the default model named the lore in its first continuation
# 2 times in 24; with 3 in 12, with 5 in 19. Over four turns (bench/quality.py --turns 4) it took
# up memory or lore in 46 % of continuations with 4 and 62 % with 6.
LORE_PHRASE_BIAS = 6.0
_ARTICLES = frozenset({"the", "a", "an"})


def make_request(
    settings: EffectiveSettings,
    task: Task,
    *,
    genre: Genre | None = None,
    emotion: Emotion | None = None,
    context: str = "",
    prefix: str = "",
    n: int = 1,
    background: str = "",
    note: str = "",
    lore_names: Sequence[str] = (),
) -> GenerateRequest:
    """background (memory, lore) and note go apart from the story text: the server places them
    where its model uses them; a continuation leans toward the names of the lore entries in it
    (lore_names). Every passage but a joke ends on a complete sentence. The samplers are the
    settings' preset's for this task."""
    samplers = preset_named(settings.preset).for_task(task)
    max_new_tokens = settings.max_new_tokens
    if task is Task.PROMPT:
        max_new_tokens = min(max_new_tokens, PROMPT_MAX_NEW_TOKENS)
    return GenerateRequest(
        task=task,
        genre=genre,
        emotion=emotion,
        context=context,
        prefix=prefix,
        background=background,
        note=note,
        complete_sentences=task is not Task.JOKE,
        n=n,
        checkpoint=settings.checkpoint,
        max_new_tokens=max_new_tokens,
        temperature=samplers.temperature(settings.temperature),
        top_p=samplers.top_p,
        min_p=samplers.min_p,
        repetition_penalty=samplers.repetition_penalty,
        frequency_penalty=samplers.frequency_penalty,
        presence_penalty=samplers.presence_penalty,
        dry_multiplier=samplers.dry_multiplier,
        phrase_bias=lore_phrase_bias(lore_names) if task is Task.CONTINUE else {},
    )


def lore_phrase_bias(lore_names: Sequence[str]) -> dict[str, float]:
    """A phrase bias toward each lore entry's name, without a leading article: leaning toward
    "The" would tilt every sentence, not the story toward the lore."""
    phrases = {}
    for name in lore_names:
        words = name.split()
        while len(words) > 1 and words[0].lower() in _ARTICLES:
            words.pop(0)
        phrases[" ".join(words)] = LORE_PHRASE_BIAS
    return phrases


@dataclass
class Writer:
    model: ModelClient
    max_attempts: int = DEFAULT_ATTEMPTS
    """Model tries before a blocked passage is withheld."""

    async def write(
        self, request: GenerateRequest, moderator: Moderator, on_text: OnText | None = None
    ) -> tuple[GenerateResponse, str]:
        """The answer and its first candidate's text, which the moderator allows.

        Under a blocklist nothing is streamed, so a blocked passage is never shown."""
        if not moderator.active:
            return await self._nonempty(request, on_text)
        for _ in range(self.max_attempts):
            response, text = await self._nonempty(request, None)
            if moderator.allows(text):
                if on_text is not None:
                    await on_text(text)
                return response, text
        tries = self.max_attempts
        raise OutputWithheld(
            f"The passage was withheld: the model kept writing words this server blocks "
            f"({tries} {'try' if tries == 1 else 'tries'}). The story is unchanged; try again "
            "or steer it elsewhere."
        )

    async def prompts(self, request: GenerateRequest) -> tuple[GenerateResponse, list[str]]:
        """Writing prompts: every candidate, one line each, the empty ones left out."""
        for _ in range(EMPTY_ANSWER_TRIES):
            response = await self.model.generate(request)
            texts = [" ".join(c.text.split()) for c in response.candidates]
            if any(texts):
                return response, [t for t in texts if t]
        raise ModelError(NOTHING_WRITTEN)

    async def _nonempty(
        self, request: GenerateRequest, on_text: OnText | None
    ) -> tuple[GenerateResponse, str]:
        for _ in range(EMPTY_ANSWER_TRIES):
            response, text = await self._once(request, on_text)
            if text:
                return response, text
        raise ModelError(NOTHING_WRITTEN)

    async def _once(
        self, request: GenerateRequest, on_text: OnText | None
    ) -> tuple[GenerateResponse, str]:
        """One answer and its first candidate's text (empty when the model wrote nothing)."""
        if on_text is None:
            response = await self.model.generate(request)
        else:
            streamed: list[str] = []

            async def on_chunk(chunk: StreamChunk) -> None:
                if chunk.index == 0:
                    streamed.append(chunk.text)
                    await on_text("".join(streamed))

            response = await self.model.stream(request, on_chunk)
        if not response.candidates:
            raise ModelError("The model server returned no text. Try again.")
        return response, response.candidates[0].text.strip()
