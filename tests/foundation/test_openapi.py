"""/docs and /openapi.json describe the foundation's endpoints with summaries."""

from __future__ import annotations

import httpx

FOUNDATION = {
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("get", "/api/auth/me"),
    ("post", "/api/instagram/accounts"),
    ("get", "/api/instagram/accounts"),
    ("get", "/api/instagram/accounts/{account_id}"),
    ("patch", "/api/instagram/accounts/{account_id}"),
    ("delete", "/api/instagram/accounts/{account_id}"),
    ("get", "/api/instagram/oauth/authorize-url"),
    ("get", "/api/instagram/oauth/callback"),
    ("get", "/health"),
    ("get", "/ready"),
}


async def test_docs_and_openapi(http: httpx.AsyncClient) -> None:
    r = await http.get("/docs")
    assert r.status_code == 200 and "swagger-ui" in r.text.lower()
    r = await http.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    for method, path in FOUNDATION:
        operation = spec["paths"][path][method]
        assert operation.get("summary"), (method, path)
        assert operation.get("description"), (method, path)
    schemas = spec["components"]["schemas"]
    assert schemas["AccountOut"].get("examples")
    assert "examples" in schemas["Credentials"]["properties"]["email"]
    security = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in security.values())
    callback = spec["paths"]["/api/instagram/oauth/callback"]["get"]
    assert {"303", "400", "422"} <= set(callback["responses"])
