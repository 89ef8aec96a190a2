"""What every route shares: the caller (`Who`), path parameters, error responses, the platform."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, Header, Path, Request

from ..service import keys
from ..service.actors import Actor
from ..service.platform import Platform
from .models import Problem

ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": Problem} for c in (400, 401, 403, 404, 409, 413, 422)}


async def current_actor(request: Request, authorization: Annotated[
        str | None, Header(description="Bearer <API 密钥或会话令牌>")] = None) -> Actor:
    """Async: a credential seen in the last seconds is a dict lookup (service.keys), not worth a
    hop to the thread pool; a miss costs one primary-key read."""
    return keys.actor_for(request.app.state.platform().ledger, keys.bearer_token(authorization))


Who = Annotated[Actor, Depends(current_actor)]
Code = Annotated[str, Path(description="统一社会信用代码", min_length=1, max_length=40)]
Ref = Annotated[str, Path(description="编号", min_length=1, max_length=40)]


def plat(request: Request) -> Platform:
    """The platform the application serves (loaded once, by the first request)."""
    return cast(Platform, request.app.state.platform())


def answers(request: Request) -> dict[str, bytes]:
    """政策体检 answers as JSON bytes by credit code, for this application's platform (cleared by a batch)."""
    return cast(dict[str, bytes], request.app.state.answers)
