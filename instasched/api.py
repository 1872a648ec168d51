"""Mounts each domain's router under /api."""

from __future__ import annotations

from fastapi import APIRouter

from instasched.accounts.endpoints import oauth_router
from instasched.accounts.endpoints import router as accounts_router
from instasched.auth.endpoints import router as auth_router
from instasched.media.endpoints import router as media_router
from instasched.ops.endpoints import router as ops_router
from instasched.optimal_times.endpoints import router as optimal_times_router
from instasched.posts.endpoints import router as posts_router
from instasched.schedules.endpoints import router as schedules_router
from instasched.templates.endpoints import router as templates_router

api_router = APIRouter()
# Posts first: create and list are the busiest requests, and FastAPI matches routes in order,
# each included router up to three times per request (~2 µs per route looked at). No other
# router has a path under /instagram/scheduling/posts, so the order changes no match.
api_router.include_router(posts_router)
api_router.include_router(auth_router)
api_router.include_router(accounts_router)
api_router.include_router(oauth_router)
# Fixed paths (media/usage, templates/...) are registered before parameterised ones.
api_router.include_router(media_router)
api_router.include_router(templates_router)
api_router.include_router(schedules_router)
api_router.include_router(optimal_times_router)
api_router.include_router(ops_router)
