"""Sampler presets: named sets of per-task sampling values that admins pick with /settings.

The one place these values live. `writer.make_request` sends the effective preset's values for
the task; the temperature setting (/settings temperature) stays the knob people turn, and a
preset scales it per task, so `balanced` at the default temperature is what the bot always sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.controls import Task
from core.protocol import MIN_TEMPERATURE

# The highest temperature the bot sends (the /settings range), also after a preset scales it.
MAX_TEMPERATURE = 2.0


@dataclass(frozen=True)
class Samplers:
    """The sampling values of one task under one preset."""

    temperature_scale: float = 1.0
    """Times the temperature setting (0 stays greedy)."""
    top_p: float = 0.95
    min_p: float = 0.0
    # Above 1.0 so a small model does not loop ("I walked home, and I walked home").
    repetition_penalty: float = 1.1
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    dry_multiplier: float = 0.0
    """DRY: penalises a token that would extend a phrase already in the text; 0 is off."""

    def temperature(self, setting: float) -> float:
        if setting == 0:
            return 0.0
        return min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, setting * self.temperature_scale))


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    samplers: Samplers
    per_task: Mapping[Task, Samplers] = field(default_factory=dict)

    def for_task(self, task: Task) -> Samplers:
        return self.per_task.get(task, self.samplers)


_FOCUSED = Samplers(
    temperature_scale=0.7, top_p=0.9, repetition_penalty=1.15, frequency_penalty=0.3
)
_WILD = Samplers(temperature_scale=1.3, top_p=1.0, min_p=0.05, repetition_penalty=1.1)
_NO_REPEAT = Samplers(repetition_penalty=1.05, presence_penalty=0.2, dry_multiplier=0.8)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("balanced", "the tuned defaults", Samplers()),
        Preset(
            "focused",
            "lower temperature, stronger anti-repetition: steadier, more predictable text",
            _FOCUSED,
            # A writing prompt is one or two sentences: a frequency penalty only bends it.
            {Task.PROMPT: Samplers(temperature_scale=0.8, top_p=0.9, repetition_penalty=1.15)},
        ),
        Preset(
            "wild",
            "higher temperature kept coherent by min_p: surprising, riskier text",
            _WILD,
            {Task.CONTINUE: Samplers(temperature_scale=1.2, top_p=1.0, min_p=0.08)},
        ),
        Preset(
            "no-repeat",
            "DRY and a presence penalty against loops and repeated phrases",
            _NO_REPEAT,
            # Verse repeats on purpose (refrains): a poem keeps a lighter touch.
            {Task.POEM: Samplers(repetition_penalty=1.05, dry_multiplier=0.4)},
        ),
    )
}
DEFAULT_PRESET = "balanced"


def preset_named(name: str | None) -> Preset:
    """The named preset; an unknown or missing name (say, one stored by an older version) is
    the default."""
    return PRESETS.get(name or DEFAULT_PRESET, PRESETS[DEFAULT_PRESET])
