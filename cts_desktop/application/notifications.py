"""Settings › Monitoring › Notifications: the notification URLs (Apprise; kept in the secret store, shown only by
their scheme) and the test message. Which events are sent is ordinary settings (``monitoring.notify_*``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cts_desktop.application.common import in_thread
from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.secrets import SecretStoreError


def described(urls: list[str]) -> str:
    if not urls:
        return "No notification URL stored: nothing is sent."
    schemes = ", ".join(url.partition("://")[0] + "://…" for url in urls)
    return f"{len(urls)} URL(s) stored: {schemes}"


class NotificationsPart:
    def __init__(self, services: Services) -> None:
        self.notifier = services.notifier

    def summary(self) -> str:
        return described(self.notifier.urls)

    async def set_urls(self, text: str) -> str:
        """One URL per line (e.g. ``tgram://bottoken/chatid``, ``discord://id/token``, ``mailtos://…``,
        ``json://host/path``); ValueError for one Apprise does not understand. An empty text removes them."""
        urls = await in_thread(self.notifier.set_urls, text.splitlines())
        return described(urls)

    async def send_test(self) -> str:
        return await self.notifier.send_test()


def notify_command(options: AppOptions, action: str, read_urls: Callable[[], str]) -> tuple[int, str]:
    """``cts-desktop notify urls`` (the URLs read from stdin, never from the command line, where every local user
    could read them) and ``cts-desktop notify test``: (exit status, message)."""
    options.console_log = False
    services = Services(options)
    try:
        notifier = services.notifier
        if action == "urls":
            try:
                return 0, described(notifier.set_urls(read_urls().splitlines()))
            except (ValueError, SecretStoreError) as error:
                return 1, f"cts-desktop: {error}"
        notifier.load_urls()
        message = asyncio.run(notifier.send_test())
        return (0 if message.startswith("Test notification sent") else 1), message
    finally:
        services.close()
