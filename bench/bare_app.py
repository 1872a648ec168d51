"""The ceiling: a bare FastAPI + asyncpg app doing the same SQL as create / list, nothing else.

No auth, no validation rules, no ORM, no middleware, no metrics: what one uvicorn process
(uvloop + httptools) on this machine can serve at best. `bench/run` starts it as its own
process next to `instasched run` and reports the ratio instasched / bare.

    BARE_DATABASE_URL=postgresql://... .venv/bin/python bench/bare_app.py --port 3200
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel

INSERT = """
INSERT INTO instagram_scheduled_posts
    (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_ids, media_type,
     status)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, 'IMAGE', 'scheduled')
RETURNING id, created_at
"""
PAGE = """
SELECT * FROM instagram_scheduled_posts WHERE instagram_account_id = $1 {extra}
ORDER BY scheduled_for, id OFFSET $2 LIMIT $3
"""
COUNT = "SELECT count(*) FROM instagram_scheduled_posts WHERE instagram_account_id = $1 {extra}"


class NewPost(BaseModel):
    instagramAccountId: uuid.UUID
    userId: uuid.UUID
    scheduledFor: datetime
    caption: str
    mediaUrls: list[str]
    mediaIds: list[str]


def create_app(database_url: str) -> FastAPI:
    pool: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool["p"] = await asyncpg.create_pool(database_url, min_size=10, max_size=20)
        yield
        await pool["p"].close()

    app = FastAPI(lifespan=lifespan)

    def json(value: Any, status: int = 200) -> Response:
        return Response(
            orjson.dumps(value, default=str), status_code=status, media_type="application/json"
        )

    @app.post("/posts")
    async def create(body: NewPost) -> Response:
        async with pool["p"].acquire() as conn:
            row = await conn.fetchrow(
                INSERT,
                body.instagramAccountId,
                body.userId,
                body.scheduledFor,
                body.caption,
                orjson.dumps(body.mediaUrls).decode(),
                orjson.dumps(body.mediaIds).decode(),
            )
        return json({"id": row["id"], "createdAt": row["created_at"], "status": "scheduled"}, 201)

    @app.get("/posts/{account_id}")
    async def page(account_id: uuid.UUID, request: Request) -> Response:
        q = request.query_params
        limit = int(q.get("limit", 20))
        offset = (int(q.get("page", 1)) - 1) * limit
        args: list[Any] = [account_id]
        extra = ""
        if "status" in q:
            args.append(q["status"])
            extra += f" AND status = ${len(args) + 2}"
        if "scheduledAfter" in q:
            args.append(datetime.fromisoformat(q["scheduledAfter"]))
            extra += f" AND scheduled_for >= ${len(args) + 2}"
        if "scheduledBefore" in q:
            args.append(datetime.fromisoformat(q["scheduledBefore"]))
            extra += f" AND scheduled_for <= ${len(args) + 2}"
        # Renumber for the count query: its parameters are $1 and the filters from $2.
        count_extra = extra
        for i in range(2, len(args) + 1):
            count_extra = count_extra.replace(f"${i + 2}", f"${i}")
        count_sql = COUNT.format(extra=count_extra)
        async with pool["p"].acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_incremental_sort = off")
            rows = await conn.fetch(PAGE.format(extra=extra), account_id, offset, limit, *args[1:])
            total = await conn.fetchval(count_sql, *args)
        return json({"posts": [dict(r) for r in rows], "total": total, "page": q.get("page", 1)})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    url = os.environ["BARE_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    uvicorn.run(
        create_app(url),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
