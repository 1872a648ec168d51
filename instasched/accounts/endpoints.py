from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from instasched.accounts import repository, service
from instasched.accounts.schemas import AccountCreate, AccountOut, AccountUpdate
from instasched.auth.deps import CurrentUser
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.schemas import Message

router = APIRouter(prefix="/instagram/accounts", tags=["Instagram accounts"])
oauth_router = APIRouter(prefix="/instagram/oauth", tags=["Instagram accounts"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
async def connect_account(
    body: AccountCreate, user: CurrentUser, session: SessionDep, state: StateDep
) -> AccountOut:
    """Connect an Instagram account with an access token (verified with `GET /me`).

    A short-lived token is exchanged for a long-lived (60-day) one. The token is stored
    encrypted. Connecting the same Instagram account again updates it.
    """
    account = await service.connect(
        session,
        state.graph,
        state.cipher,
        user_id=user.id,
        access_token=body.access_token,
        timezone=body.timezone,
    )
    return AccountOut.model_validate(account)


@router.get("", response_model=list[AccountOut])
async def list_accounts(user: CurrentUser, session: SessionDep) -> list[AccountOut]:
    """The user's connected accounts."""
    accounts = await repository.list_owned(session, user_id=user.id)
    return [AccountOut.model_validate(a) for a in accounts]


@router.get("/{account_id}", response_model=AccountOut)
async def get_account(account_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AccountOut:
    account = await repository.get_owned(session, user_id=user.id, account_id=account_id)
    return AccountOut.model_validate(account)


@router.patch("/{account_id}", response_model=AccountOut)
async def update_account(
    account_id: uuid.UUID, body: AccountUpdate, user: CurrentUser, session: SessionDep
) -> AccountOut:
    """Change the account's timezone (IANA name); times without an offset use it."""
    account = await service.update_timezone(
        session, user_id=user.id, account_id=account_id, timezone=body.timezone
    )
    return AccountOut.model_validate(account)


@router.delete("/{account_id}", response_model=Message)
async def delete_account(account_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Message:
    """Disconnect the account; its scheduled posts, templates and schedules go with it."""
    await service.delete(session, user_id=user.id, account_id=account_id)
    return Message(message="Instagram account disconnected")
