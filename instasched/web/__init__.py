"""The web app: a single-page app served at `/`, its assets under `/static/`.

Plain JavaScript modules and CSS shipped inside the package (no CDN, no build step). The app
talks to the public API only. Routing is in the URL fragment (`/#/calendar`), so the server
answers exactly two things here and never shadows `/api`, `/docs`, `/openapi.json`, `/health`,
`/ready`, `/metrics` or `/sandbox`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
INDEX_FILE = WEB_DIR / "index.html"

# A strict policy as a second line behind building the DOM with textContent: no inline script,
# no script from elsewhere. Images and videos come from presigned S3 URLs on another origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob: http: https:",
        "media-src 'self' blob: http: https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def _sandbox_controls(request: Request) -> bool:
    """The built-in sandbox is mounted here and its control routes need no operator secret
    (development and test): the page may create sandbox accounts."""
    mounted = any(getattr(route, "path", None) == "/sandbox" for route in request.app.routes)
    return mounted and bool(request.app.state.instasched.settings.sandbox_control_open)


def mount_web(app: FastAPI) -> None:
    """Serve the single-page app at `/` and its files under `/static/`."""
    template = INDEX_FILE.read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        # The server-side values the page needs: whether the built-in sandbox's control
        # endpoints (for "create a sandbox account") answer in this process, and the hashtag
        # cap (MAX_HASHTAGS) the posts API applies, for the composer's counter.
        sandbox = "true" if _sandbox_controls(request) else "false"
        max_hashtags = str(request.app.state.instasched.settings.max_hashtags)
        html = template.replace("{{SANDBOX}}", sandbox).replace("{{MAX_HASHTAGS}}", max_hashtags)
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")
