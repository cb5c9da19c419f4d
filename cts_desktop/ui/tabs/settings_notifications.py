"""Notification URLs on Settings › Monitoring, below the Notifications switches: Apprise URLs, one per line (kept in
the secret store; shown afterwards only by their scheme), Save and Send test. Work runs off the GUI thread."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from cts_desktop.application.notifications import NotificationsPart
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.widgets import show_result

HELP = ("Where notifications go: one Apprise URL per line — e.g. <code>tgram://bot-token/chat-id</code> (Telegram), "
        "<code>discord://webhook-id/webhook-token</code>, <code>slack://…</code>, <code>mailtos://user:pass@host"
        "</code>, <code>ntfy://topic</code>, <code>json://host/path</code> (a webhook). They carry tokens: they are "
        "kept in the keyring (or the encrypted secrets file), never in the database or a log. Saving replaces the "
        "stored ones; saving an empty box removes them.")


class NotificationsPanel(QGroupBox):
    def __init__(self, part: NotificationsPart) -> None:
        super().__init__("Notification URLs")
        self.setObjectName("notificationsPanel")
        self.part = part
        about = QLabel(HELP)
        about.setWordWrap(True)
        self.stored = QLabel(part.summary())
        self.stored.setObjectName("notificationsStored")
        self.urls = QPlainTextEdit()
        self.urls.setObjectName("notificationUrls")
        self.urls.setPlaceholderText("tgram://bot-token/chat-id")
        self.urls.setMaximumHeight(90)
        self.save_button = QPushButton("Save URLs")
        self.test_button = QPushButton("Send test")
        self.result = QLabel("")
        self.result.setObjectName("notificationsResult")
        self.result.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (about, self.stored, self.urls):
            layout.addWidget(widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(self.result)
        self.save_button.clicked.connect(lambda: spawn(self.save(), "save notification URLs"))
        self.test_button.clicked.connect(lambda: spawn(self.send_test(), "test notification"))

    async def save(self) -> None:
        try:
            summary = await self.part.set_urls(self.urls.toPlainText())
        except Exception as error:  # a URL Apprise does not know, or no secret store: said, nothing stored
            show_result(self.result, False, str(error))
            return
        self.urls.clear()  # not kept on screen
        self.stored.setText(summary)
        show_result(self.result, True, "Saved.")

    async def send_test(self) -> None:
        self.test_button.setEnabled(False)
        self.result.setText("Sending…")
        try:
            message = await self.part.send_test()
        finally:
            self.test_button.setEnabled(True)
        show_result(self.result, message.startswith("Test notification sent"), message)
