"""Ids, times and URLs shared by the OpenAPI examples of every domain's schemas.

One user with one connected account (`my_brand`, Europe/Paris), one uploaded photo, one caption
template and one post scheduled for Sunday 20 December 2026 at 15:00 Paris time, so the examples
of /docs refer to each other. tests/foundation/test_openapi.py validates every example against
its model.
"""

from __future__ import annotations

USER_ID = "0b7e5f3c-8a51-4c1e-9d55-2f1f0e6b8a10"
ACCOUNT_ID = "6f1c1f43-2a49-4d0e-9a7e-3f7b2f1f9c11"
MEDIA_ID = "3c9d2b7e-5f14-4a8b-9e61-7d2f0a4c8b53"
TEMPLATE_ID = "9a4e6c21-3b7d-4f08-8c15-e2d9b6a7f430"
POST_ID = "c2f8e4a9-1d6b-4c37-a5e0-8b9f3d2e7a16"
SCHEDULE_ID = "5d7a9c3e-2b4f-4e61-9a08-c1e3f5b7d924"

EMAIL = "manager@example.com"
TIMEZONE = "Europe/Paris"
CONNECTED_AT = "2026-11-29T10:00:00Z"
TEMPLATE_CREATED_AT = "2026-12-01T09:05:00Z"
UPLOADED_AT = "2026-12-01T09:12:30Z"
POST_CREATED_AT = "2026-12-01T09:15:00Z"
# A Sunday (dayOfWeek 0): 15:00 in Paris, the second slot of the Sunday posting schedule.
SCHEDULED_FOR = "2026-12-20T14:00:00Z"

MEDIA_KEY = f"{USER_ID}/2026/12/{MEDIA_ID}.jpg"
S3_URL = f"https://s3.eu-west-3.amazonaws.com/instasched-media/{MEDIA_KEY}"
PRESIGNED_QUERY = (
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261201%2Feu-west-3%2Fs3"
    "%2Faws4_request&X-Amz-Date=20261201T091230Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=3237879e56f8cb7c968f57b33fd7bb7e06b9d279b33c5d1c0601fc7af04862ec"
)

CAPTION = (
    "Our winter collection is here ❄️ Cozy knits, bold colours and 20% off until Sunday.\n\n"
    "#winterstyle #newcollection #knitwear"
)
