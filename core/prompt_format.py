"""The one prompt format, shared by training and inference.

`render_example` is defined as `render_prompt(..., prefix="") + target + end marker`, so the text a
checkpoint is asked to continue at inference is, by construction, the start of the text it saw in
training. Two styles exist:

* control tokens, for fine-tuned checkpoints (seed 000's [WP]/[RESPONSE] layout, seed 002's genre
  token, seed 004's emotion as one token in one model):

      <|startoftext|><|task:story|><|genre:horror|>[WP] A knock at the door
      [RESPONSE]
      The knocking started at midnight...<|endoftext|>

* plain instruction text, for an untuned instruct model such as the embedded default, wrapped in
  the checkpoint's chat template. A continuation lets the model continue its own text: the story
  so far opens the assistant turn (assistant prefill), and the background (memory, lore) and the
  author's note go into the user turn, the note last. Asked to "continue this story" with the
  story pasted into the user turn, a small instruct model answers with a label and a retelling.

* plain text, for a base model without a chat template: a one-line header, then the text it
  continues (background first, the author's note just before the last paragraph).

Headers end with a newline, never with a space: a BPE tokenizer glues a space to the word after
it, so a prompt ending in a space would tokenize differently from the training text.
"""

from __future__ import annotations

import re
from enum import StrEnum

from core.controls import END_MARKER, START_MARKER, Control, Emotion, Genre, Task, check_control

INSTRUCTION_PLACEHOLDER = "{instruction}"

SYSTEM_PROMPT = (
    "You are a creative writing partner. You write vivid, original fiction "
    "and verse, and you answer with the piece of writing only."
)
CHATML_TEMPLATE = (
    "<|im_start|>system\n" + SYSTEM_PROMPT + "<|im_end|>\n"
    "<|im_start|>user\n" + INSTRUCTION_PLACEHOLDER + "<|im_end|>\n<|im_start|>assistant\n"
)
CHATML_END = "<|im_end|>"
# The chat template (Jinja, as Hugging Face tokenizers hold them) for a checkpoint whose tokenizer
# has none: ChatML, the format of CHATML_TEMPLATE.
CHATML_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# A regex pass removes one level of nesting; deeper nesting than this switches to one linear scan.
_QUICK_PASSES = 4


class TokenRemover:
    """Removes every match of a token pattern, and every match that removing one brings together,
    until none is left: `<|im_<|x|>start|>` leaves nothing, not a rebuilt `<|im_start|>`."""

    def __init__(self, source: str, longest: int) -> None:
        self._pattern = re.compile(source)
        self._at_end = re.compile(f"(?:{source})\\Z")
        self._longest = longest

    @classmethod
    def for_tokens(cls, tokens: list[str]) -> TokenRemover | None:
        """A remover of these literal tokens (a tokenizer's special tokens); None for none."""
        literal = sorted({t for t in tokens if t}, key=len, reverse=True)
        if not literal:
            return None
        return cls("|".join(re.escape(t) for t in literal), len(literal[0]))

    def __call__(self, text: str) -> str:
        for _ in range(_QUICK_PASSES):
            text, found = self._pattern.subn("", text)
            if not found:
                return text
        return self._scan(text)

    def _scan(self, text: str) -> str:
        """Linear in the text: drop a match as soon as its last character arrives."""
        kept: list[str] = []
        for char in text:
            kept.append(char)
            tail = "".join(kept[-self._longest :])
            match = self._at_end.search(tail)
            if match is not None:
                del kept[len(kept) - len(tail) + match.start() :]
        return "".join(kept)


# What a special token looks like in GPT-2, SmolLM2 and ChatML vocabularies.
_SPECIAL_TOKENS = TokenRemover(r"<\|[^<>|\s]{1,64}\|>", longest=68)


NOTE_FORMAT = "[Author's note: {note}]"
PARAGRAPH = "\n\n"


class PromptStyle(StrEnum):
    CONTROL_TOKENS = "control_tokens"
    INSTRUCTION = "instruction"
    PLAIN = "plain"


def neutralise(text: str) -> str:
    """Remove anything shaped like a special token from text a person (or a corpus) wrote,
    nested ones included.

    Without this, a user could type `<|endoftext|>` or `<|task:poem|>` into a story and steer or
    cut off the model; training text is cleaned the same way so the two sides stay identical.
    """
    return _SPECIAL_TOKENS(text.replace("\r\n", "\n"))


def _section_headers(task: Task, context: str) -> tuple[str, str]:
    """The (context header, target header) of a task in the control-token style."""
    if task is Task.PROMPT:
        return "", "[WP]\n"
    if task is Task.STORY:
        return ("[WP] " + context + "\n" if context else ""), "[RESPONSE]\n"
    if task is Task.POEM:
        return ("[TITLE] " + context + "\n" if context else ""), "[POEM]\n"
    if task is Task.CONTINUE:
        return ("[STORY] " + context + "\n" if context else ""), "[CONTINUATION]\n"
    return "", "[JOKE]\n"


def _kind(control: Control | None) -> str:
    return f"{control.label.lower()} story" if isinstance(control, Genre) else "story"


def _mood(control: Control | None) -> str:
    if isinstance(control, Emotion) and control is not Emotion.NEUTRAL:
        return f"that expresses {control.label.lower()}"
    return "in a calm, neutral tone"


def with_note(story: str, note: str) -> str:
    """The story with the author's note just before its last paragraph (where it steers most)."""
    if not note:
        return story
    head, _, last = story.rpartition(PARAGRAPH)
    blocks = [head, NOTE_FORMAT.format(note=note), last]
    return PARAGRAPH.join(block for block in blocks if block)


# A lore entry in the background: "[Name: what it is]" on a line of its own.
_LORE_LINE = re.compile(r"^\[([^:\[\]\n]{1,80}):", re.MULTILINE)


def lore_line(name: str, text: str) -> str:
    """How a lore entry appears in the model's context."""
    return f"[{name}: {text}]"


def lore_names(background: str) -> list[str]:
    """The names of the lore entries in a background, in order."""
    return [name.strip() for name in _LORE_LINE.findall(background)]


def instruction_text(
    task: Task, control: Control | None, context: str, background: str = "", note: str = ""
) -> str:
    """Plain-English instruction for an untuned instruct model (the user turn)."""
    if task is Task.PROMPT:
        return (
            "Invent one original writing prompt for a short story, in one or two sentences, "
            "in the style of Reddit's r/WritingPrompts. Answer with the prompt only."
        )
    if task is Task.POEM:
        titled = f', titled "{context}"' if context else ""
        return (
            f"Write a short poem {_mood(control)}{titled}, four to eight lines long. Put each "
            "line of verse on a line of its own. Answer with the poem only."
        )
    if task is Task.JOKE:
        return "Tell one short, original joke."
    if task is Task.STORY:
        ask = f"Write the opening of a {_kind(control)}"
        ask = f"{ask} that answers this writing prompt:\n{context}" if context else ask + "."
    else:
        ask = (
            f"We are writing a {_kind(control)} together, and you wrote it so far. Go on from "
            "exactly where it stops: tell what happens next, in the same voice, with new events. "
            "Never repeat or sum up what was already written."
        )
    if background:
        ask += f"{PARAGRAPH}Background to use (do not repeat it):\n{background}"
        names = lore_names(background)
        if task is Task.CONTINUE and names:
            # Named, a small model takes the lore up far more often (bench/quality.py's uptake).
            ask += f"{PARAGRAPH}Bring {and_list(names)} into what happens next."
    if note:
        ask += f"{PARAGRAPH}Author's note, follow it: {note}"
    return ask


def and_list(names: list[str]) -> str:
    """Names as a sentence says them: "A", "A and B", "A, B and C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def plain_text(
    task: Task, control: Control | None, context: str, background: str = "", note: str = ""
) -> str:
    """The text a base model (no chat template) continues; ends with a newline, never a space."""
    if task is Task.PROMPT:
        return "A writing prompt for a short story:\n"
    if task is Task.POEM:
        titled = f', titled "{context}"' if context else ""
        return f"A short poem {_mood(control)}{titled}.{PARAGRAPH}"
    if task is Task.JOKE:
        return "A short joke:\n"
    if task is Task.STORY:
        asked = f" written for the prompt: {context}" if context else "."
        header = f"A {_kind(control)}{asked}"
        return PARAGRAPH.join(b for b in (background, with_note(header, note)) if b) + PARAGRAPH
    header = f"A {_kind(control)}." if isinstance(control, Genre) else ""
    blocks = (header, background, with_note(context, note))
    return PARAGRAPH.join(block for block in blocks if block) + PARAGRAPH


def assistant_prefill(task: Task, context: str) -> str:
    """What opens the assistant turn: the story so far, so the model continues its own text.

    It ends where the story ends, not after a paragraph break: after a break a small model
    often opens a numbered list or a heading instead of the next sentence (bench/quality.py)."""
    return context if task is Task.CONTINUE and context else ""


def render_prompt(
    task: Task,
    control: Control | None = None,
    context: str = "",
    prefix: str = "",
    *,
    style: PromptStyle = PromptStyle.CONTROL_TOKENS,
    template: str = CHATML_TEMPLATE,
    background: str = "",
    note: str = "",
) -> str:
    """The text the model continues at inference.

    context: the writing prompt (story), the title (poem) or the story so far (continue).
    prefix: the first words of the answer, forced like gpt-2-simple's prefix.
    background: memory and lore the model should use; note: the author's note (a short steer).
    """
    return render_prompt_and_header(
        task,
        control,
        context,
        prefix,
        style=style,
        template=template,
        background=background,
        note=note,
    )[0]


def render_prompt_and_header(
    task: Task,
    control: Control | None = None,
    context: str = "",
    prefix: str = "",
    *,
    style: PromptStyle = PromptStyle.CONTROL_TOKENS,
    template: str = CHATML_TEMPLATE,
    background: str = "",
    note: str = "",
) -> tuple[str, str]:
    """render_prompt's text, and its start that a long answer keeps when it outgrows the
    model's window (its header): the control tokens (or the instruction) and the writing prompt,
    title or background. A continuation's story so far is not part of the header: that is text
    the answer slides past."""
    header, text = _prompt_parts(task, control, context, style, template, background, note)
    return header + text + neutralise(prefix).lstrip().rstrip(" "), header


def _prompt_parts(
    task: Task,
    control: Control | None,
    context: str,
    style: PromptStyle,
    template: str,
    background: str,
    note: str,
) -> tuple[str, str]:
    """(header, the text between the header and the prefix) of a prompt."""
    check_control(task, control)
    context = neutralise(context).strip()
    background = neutralise(background).strip()
    note = " ".join(neutralise(note).split())
    if style is PromptStyle.INSTRUCTION:
        if INSTRUCTION_PLACEHOLDER not in template:
            raise ValueError(f"instruction template lacks the {INSTRUCTION_PLACEHOLDER} slot")
        ask = instruction_text(task, control, context, background, note)
        # str.replace, not str.format: the user's text may hold braces.
        return template.replace(INSTRUCTION_PLACEHOLDER, ask), assistant_prefill(task, context)
    story = with_note(context, note) if task is Task.CONTINUE else ""
    if style is PromptStyle.PLAIN:
        text = plain_text(task, control, context, background, note)
        return _split_before(text, story + PARAGRAPH if story else "")
    if task is Task.CONTINUE:
        context = PARAGRAPH.join(b for b in (background, story) if b)
    context_header, target_header = _section_headers(task, context)
    lead = START_MARKER + task.token + (control.token if control is not None else "")
    text = lead + context_header + target_header
    head, rest = _split_before(text, story + "\n" + target_header if story else "")
    if head.endswith(" "):  # a BPE tokenizer glues a space to the next word: no clean cut there
        head, rest = lead, text[len(lead) :]
    return head, rest


def _split_before(text: str, tail: str) -> tuple[str, str]:
    """text cut where its tail begins (tail "" leaves it whole)."""
    assert text.endswith(tail), "the story so far ends the prompt"
    return text[: len(text) - len(tail)], tail


def chat_messages(
    task: Task,
    control: Control | None = None,
    context: str = "",
    prefix: str = "",
    *,
    background: str = "",
    note: str = "",
) -> list[dict[str, str]]:
    """The instruction-style prompt as chat messages, for a server that applies the model's own
    chat template (OpenAI-compatible /v1/chat/completions). A continuation's story so far is
    the assistant's own last message, as the instruction style prefills it."""
    check_control(task, control)
    context = neutralise(context).strip()
    background = neutralise(background).strip()
    note = " ".join(neutralise(note).split())
    instruction = instruction_text(task, control, context, background, note)
    prefix = neutralise(prefix).strip()
    if prefix:
        instruction += f'{PARAGRAPH}Begin your answer with these words: "{prefix}"'
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": instruction},
    ]
    if task is Task.CONTINUE and context:
        messages.append({"role": "assistant", "content": context})
    return messages


def end_marker(style: PromptStyle) -> str:
    return CHATML_END if style is PromptStyle.INSTRUCTION else END_MARKER


def render_example(
    task: Task,
    control: Control | None,
    context: str,
    target: str,
    *,
    style: PromptStyle = PromptStyle.CONTROL_TOKENS,
    template: str = CHATML_TEMPLATE,
    end: str | None = None,
) -> str:
    """One training text: exactly render_prompt(...) followed by the target and the end marker."""
    prompt = render_prompt(task, control, context, style=style, template=template)
    marker = end if end is not None else end_marker(style)
    return prompt + neutralise(target).strip() + marker
