"""The checkpoints the server knows and the ones it has loaded.

Loading runs in a worker thread of its own that ends with the load (run_on_passing_thread), so
the server keeps answering. A request holds a lease on the
checkpoint it runs on: a swap or an eviction never pulls a model from under a request in flight;
the old model is unloaded when its last lease ends. A folder that fails to load (corrupt or half
written) is refused with its problem, and whatever was serving keeps serving.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from core.errors import CampfireError, CheckpointError
from core.fingerprint import TrainingFingerprint
from core.manifest import CheckpointManifest, check_contained, scan_checkpoints
from core.protocol import CheckpointInfo, LoadedCheckpoint
from model_server.engine.base import Engine
from model_server.prompting import UserText
from model_server.quantization import LoadedWeights, QuantizationError, load_weights

log = logging.getLogger(__name__)

EngineFactory = Callable[[LoadedWeights, CheckpointManifest], Engine]
_T = TypeVar("_T")


async def run_on_passing_thread(work: Callable[[], _T]) -> _T:
    """work() on a new thread that ends with it.

    torch's OpenMP workers live as long as the thread whose parallel op started them. Once a
    process holds more of them than it has CPUs, libgomp stops spinning between parallel regions,
    and every small op of the engine's decode steps pays a wake-up: a loader thread left alive
    with its workers made one request's bf16 decoding 2.4x slower on two cores
    (tests/model_server/test_checkpoints.py).
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="campfire-load")
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, work)
    finally:
        pool.shutdown(wait=False)


class UnknownCheckpointError(CampfireError):
    """No checkpoint folder of that name (HTTP 404)."""


class LoadNotAllowedError(CampfireError):
    """The checkpoint is not loaded and the caller may not load it (HTTP 403)."""


def _without_paths(text: str, folder: Path) -> str:
    """An error text with the checkpoint's absolute and relative paths replaced by its name."""
    for path in sorted({str(folder.resolve()), str(folder.absolute()), str(folder)}, key=len)[::-1]:
        text = text.replace(path, folder.name)
    return text


@dataclass(eq=False)
class Resident:
    """A loaded checkpoint: weights, engine, manifest and who is using it."""

    name: str
    folder: Path
    manifest: CheckpointManifest
    weights: LoadedWeights
    engine: Engine
    fingerprint: TrainingFingerprint | None
    loaded_at: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    leases: int = 0
    retiring: bool = False

    @property
    def tokenizer(self) -> object:
        return self.weights.tokenizer

    @cached_property
    def user_text(self) -> UserText:
        """Cleans text a caller wrote of this tokenizer's special tokens."""
        return UserText(self.weights.tokenizer)

    def describe(self) -> LoadedCheckpoint:
        return LoadedCheckpoint(
            name=self.name,
            device=self.weights.device,
            quant=self.weights.quant,
            dtype=self.weights.dtype,
            context_window=self.manifest.context_window,
            engine=self.engine.name,
        )


class CheckpointRegistry:
    def __init__(
        self,
        root: Path,
        *,
        device: str,
        quant: str,
        max_resident: int,
        engine_factory: EngineFactory,
    ) -> None:
        self.root = root
        self.device = device
        self.quant = quant
        self.max_resident = max_resident
        self._engine_factory = engine_factory
        self._resident: dict[str, Resident] = {}
        self._retired: list[Resident] = []
        self._lock = asyncio.Lock()
        self.default: str | None = None
        # Checkpoints loaded once (by an admin, or on demand by someone allowed to): anyone with
        # the API key may have them loaded again after an eviction (a channel pinned to one).
        self.admitted: set[str] = set()

    # --- what is there -----------------------------------------------------------------------

    def scan(self) -> dict[str, CheckpointManifest | CheckpointError]:
        return scan_checkpoints(self.root)

    def list_info(self) -> list[CheckpointInfo]:
        infos = []
        for name, found in self.scan().items():
            if isinstance(found, CheckpointError):
                infos.append(CheckpointInfo(name=name, valid=False, problem=str(found)))
                continue
            infos.append(
                CheckpointInfo(
                    name=name,
                    loaded=name in self._resident,
                    default=name == self.default,
                    prompt_style=found.prompt_style.value,
                    base_model=found.base_model,
                    tasks=found.tasks,
                    genres=found.genres,
                    emotions=found.emotions,
                    context_window=found.context_window,
                    created_at=found.created_at,
                    eval_metrics=found.eval_metrics,
                )
            )
        return infos

    @property
    def resident(self) -> list[Resident]:
        return list(self._resident.values())

    def _folder(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise UnknownCheckpointError(
                f"checkpoint {name!r} is not a folder name; list them with GET /v1/checkpoints"
            )
        folder = self.root / name
        if not folder.is_dir():
            raise UnknownCheckpointError(
                f"no checkpoint named {name!r} in the checkpoints folder; "
                "list them with GET /v1/checkpoints"
            )
        check_contained(folder, self.root)
        return folder

    # --- loading -----------------------------------------------------------------------------

    async def load(
        self, name: str, *, make_default: bool = True, unload_previous: bool = False
    ) -> Resident:
        """Load a checkpoint (or reuse it when loaded); the old default keeps serving meanwhile."""
        async with self._lock:
            resident = self._resident.get(name)
            if resident is None:
                resident = await run_on_passing_thread(lambda: self._load_blocking(name))
                self._resident[name] = resident
            self.admitted.add(name)
            previous = self.default
            if make_default or self.default is None:
                self.default = name
            if unload_previous and previous is not None and previous != name:
                self._retire(previous)
            self._evict(protect=name)
            return resident

    def _load_blocking(self, name: str) -> Resident:
        from core.manifest import read_manifest

        folder = self._folder(name)
        manifest = read_manifest(folder)
        try:
            weights = load_weights(folder, self.device, self.quant)
        except (QuantizationError, CheckpointError):
            raise
        except Exception as exc:
            # A corrupt or half-written weights/tokenizer file: refuse it, say what broke.
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            detail = _without_paths(detail, folder)[:300]
            raise CheckpointError(
                f"checkpoint {name!r} could not be loaded ({type(exc).__name__}: {detail}); "
                "its files look damaged or incomplete: re-export or re-copy it"
            ) from None
        fingerprint = None
        if manifest.training_ngrams:
            fingerprint = TrainingFingerprint.load(folder / manifest.training_ngrams)
        engine = self._engine_factory(weights, manifest)
        log.info("loaded checkpoint %s on %s (quant %s)", name, weights.device, weights.quant)
        return Resident(name, folder, manifest, weights, engine, fingerprint)

    def _retire(self, name: str) -> None:
        resident = self._resident.pop(name, None)
        if resident is None:
            return
        if self.default == name:
            self.default = None
        resident.retiring = True
        if resident.leases == 0:
            self._unload_later(resident)
        else:
            self._retired.append(resident)

    def _evict(self, protect: str | None = None) -> None:
        """Keep at most max_resident loaded: retire the least recently used idle others.

        A checkpoint in use stays until its requests finish (release() evicts again then).
        """
        while len(self._resident) > self.max_resident:
            candidates = [
                r
                for r in self._resident.values()
                if r.name not in (self.default, protect) and r.leases == 0
            ]
            if not candidates:
                return
            self._retire(min(candidates, key=lambda r: r.last_used).name)

    def _unload_later(self, resident: Resident) -> None:
        """Unload in a thread: closing an engine joins its worker, never block the loop."""
        threading.Thread(target=self._unload, args=(resident,), daemon=True).start()

    def _unload(self, resident: Resident, collect: bool = True) -> None:
        resident.engine.close()
        log.info("unloaded checkpoint %s", resident.name)
        if collect:  # give the memory back now (GPU memory above all), not at some later GC
            gc.collect()

    # --- using -------------------------------------------------------------------------------

    async def acquire(self, name: str | None, *, may_load: bool = True) -> Resident:
        """The named (or default) checkpoint, loaded on demand when may_load; hold it until
        release()."""
        resident = await self._get(name, may_load)
        resident.leases += 1
        resident.last_used = time.monotonic()
        return resident

    def release(self, resident: Resident) -> None:
        """Synchronous, so it also runs inside a cancelled task (a client that went away)."""
        resident.leases -= 1
        if resident.leases == 0 and not resident.retiring:
            self._evict()
        if resident.retiring and resident.leases == 0 and resident in self._retired:
            self._retired.remove(resident)
            self._unload_later(resident)

    @asynccontextmanager
    async def lease(self, name: str | None) -> AsyncIterator[Resident]:
        resident = await self.acquire(name)
        try:
            yield resident
        finally:
            self.release(resident)

    async def _get(self, name: str | None, may_load: bool) -> Resident:
        if name is None:
            name = self.default
            if name is None:
                raise UnknownCheckpointError(
                    "no checkpoint is loaded; load one with POST /v1/checkpoints/load"
                )
        resident = self._resident.get(name)
        if resident is not None:
            return resident
        self._folder(name)  # 404 before any loading
        if not may_load:
            raise LoadNotAllowedError(
                f"checkpoint {name!r} is not loaded, and loading one needs the admin key "
                "(POST /v1/checkpoints/load) unless CAMPFIRE_ON_DEMAND_CHECKPOINTS lists it; "
                "GET /health lists the loaded ones"
            )
        return await self.load(name, make_default=False)

    async def close(self) -> None:
        for resident in [*self._resident.values(), *self._retired]:
            await asyncio.to_thread(self._unload, resident, False)
        self._resident.clear()
        self._retired.clear()
