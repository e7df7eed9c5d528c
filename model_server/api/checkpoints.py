"""GET /v1/checkpoints and POST /v1/checkpoints/load (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from core.errors import CheckpointError
from core.protocol import CheckpointList, LoadCheckpointRequest
from model_server.api.auth import require_admin
from model_server.api.deps import State
from model_server.errors import ApiError
from model_server.registry import UnknownCheckpointError

router = APIRouter(prefix="/v1/checkpoints")


@router.get("", response_model=CheckpointList)
async def checkpoints(state: State) -> CheckpointList:
    return CheckpointList(checkpoints=state.registry.list_info())


@router.post("/load", response_model=CheckpointList, dependencies=[Depends(require_admin)])
async def load_checkpoint(body: LoadCheckpointRequest, state: State) -> CheckpointList:
    registry = state.registry
    try:
        await registry.load(
            body.name, make_default=body.make_default, unload_previous=body.unload_previous
        )
    except UnknownCheckpointError as exc:
        raise ApiError(404, str(exc), field="name", type="not_found_error") from None
    except CheckpointError as exc:
        raise ApiError(422, str(exc), field="name", type="checkpoint_error") from None
    return CheckpointList(checkpoints=registry.list_info())
