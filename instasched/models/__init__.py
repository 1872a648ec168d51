"""ORM models, one table per file. Import from here so every table is registered."""

from instasched.models.account import FacebookPendingConnection, InstagramAccount, OAuthState
from instasched.models.api_key import ApiKey
from instasched.models.base import Base
from instasched.models.container_creation import ContainerCreation
from instasched.models.insight import PostInsight
from instasched.models.media import MediaAsset
from instasched.models.post import PostStatus, ScheduledPost, post_time
from instasched.models.schedule import PostingSchedule
from instasched.models.template import PostTemplate
from instasched.models.user import User
from instasched.models.webhook import DeliveryStatus, WebhookDelivery, WebhookSubscription
from instasched.models.workspace import Role, Workspace, WorkspaceInvitation, WorkspaceMember

__all__ = [
    "ApiKey",
    "Base",
    "ContainerCreation",
    "DeliveryStatus",
    "FacebookPendingConnection",
    "InstagramAccount",
    "MediaAsset",
    "OAuthState",
    "PostInsight",
    "PostStatus",
    "PostTemplate",
    "PostingSchedule",
    "Role",
    "ScheduledPost",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
    "Workspace",
    "WorkspaceInvitation",
    "WorkspaceMember",
    "post_time",
]
