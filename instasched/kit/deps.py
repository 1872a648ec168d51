"""Request dependencies shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import session_scope
from instasched.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.instasched
    return state


async def _state_dep(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool (a thread hop
    # and lock traffic on every request, measured in bench/run --profile).
    return get_state(request)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    state = get_state(request)
    async for session in session_scope(state.session_factory, driver_pool=state.driver_pool):
        yield session


# scope="function": the transaction commits when the endpoint returns, before the response is
# sent, so a failed commit is the response the client sees (never a 200 for lost data).
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
StateDep = Annotated[AppState, Depends(_state_dep)]
