"""UnitOfWork: one transaction with every repository bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from pushgate.store.engine import Database
from pushgate.store.repos.app_flags import AppFlagRepo
from pushgate.store.repos.apps import AppRepo, KeyRepo, SystemSecretRepo
from pushgate.store.repos.audience import AudienceRepo
from pushgate.store.repos.console import ConsoleSessionRepo, ConsoleViewRepo
from pushgate.store.repos.credentials import CredentialRepo
from pushgate.store.repos.deliveries import DeliveryRepo
from pushgate.store.repos.events import EventRepo
from pushgate.store.repos.health import HealthRepo
from pushgate.store.repos.jobs import JobRepo
from pushgate.store.repos.key_certificates import KeyCertificateRepo
from pushgate.store.repos.listings import ListingRepo
from pushgate.store.repos.message_records import MessageRecordRepo
from pushgate.store.repos.notification_usage import NotificationUsageRepo
from pushgate.store.repos.notifications import NotificationRepo
from pushgate.store.repos.oauth_clients import OAuthClientRepo
from pushgate.store.repos.platforms import PushPlatformRepo
from pushgate.store.repos.registration_accounts import RegistrationAccountRepo
from pushgate.store.repos.registrations import RegistrationRepo
from pushgate.store.repos.topics import TopicRepo
from pushgate.store.repos.users import UserRepo, UserTokenRepo
from pushgate.store.repos.webhooks import WebhookRepo


class UnitOfWork:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.apps = AppRepo(conn)
        self.keys = KeyRepo(conn)
        self.key_certificates = KeyCertificateRepo(conn)
        self.system = SystemSecretRepo(conn)
        self.credentials = CredentialRepo(conn)
        self.registrations = RegistrationRepo(conn)
        self.registration_accounts = RegistrationAccountRepo(conn)
        self.topics = TopicRepo(conn)
        self.notifications = NotificationRepo(conn)
        self.notification_usage = NotificationUsageRepo(conn)
        self.jobs = JobRepo(conn)
        self.deliveries = DeliveryRepo(conn)
        self.audience = AudienceRepo(conn)
        self.users = UserRepo(conn)
        self.user_tokens = UserTokenRepo(conn)
        self.platforms = PushPlatformRepo(conn)
        self.events = EventRepo(conn)
        self.webhooks = WebhookRepo(conn)
        self.oauth_clients = OAuthClientRepo(conn)
        self.listings = ListingRepo(conn)
        self.app_flags = AppFlagRepo(conn)
        self.message_records = MessageRecordRepo(conn)
        self.health = HealthRepo(conn)
        self.console_sessions = ConsoleSessionRepo(conn)
        self.console_views = ConsoleViewRepo(conn)
        # Work outside the database that must follow only a committed transaction (e.g. a
        # Redis Streams enqueue): run in order after COMMIT, never after a rollback.
        self.after_commit: list[Callable[[], Awaitable[None]]] = []


@asynccontextmanager
async def unit_of_work(db: Database, *, readonly: bool = False) -> AsyncIterator[UnitOfWork]:
    """Commit on normal exit, roll back on any error: nothing half-written."""
    async with db.connect(readonly=readonly) as conn:
        uow = UnitOfWork(conn)
        yield uow
    for action in uow.after_commit:
        await action()
