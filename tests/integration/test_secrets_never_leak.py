"""A stored secret never reaches the DB file, the log files, a settings export or the DB URL on disk (byte scan)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.secrets import SecretRef
from tests.integration.conftest import PG_URL, require_postgres

API_KEY = "kX9pQ2LmZ7vT4rB8nW1cY6dF3hJ5sA0e"
API_SECRET = "Zq7Ly2Vt9Xw4Kc1Mn8Bp3Hs6Gd5Fa0Rj"


def _scan(folder: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{needle[:4]}… in {path}" for needle in needles if needle.encode() in data]
    return hits


def _exercise(services: Services) -> None:
    services.start()
    services.secrets.set(SecretRef.connection("c1", "api_key"), API_KEY)
    services.secrets.set(SecretRef.connection("c1", "api_secret"), API_SECRET)
    log = logging.getLogger("cts.exchange.test")
    log.info("signing request with key %s", API_KEY)
    log.warning(f"request failed: X-BAPI-API-KEY: {API_KEY} secret={API_SECRET}")
    log.error("context", extra={"connection_id": "c1", "context": {"note": "ok"}})
    try:
        raise RuntimeError(f"exchange said: invalid api_key {API_KEY}")
    except RuntimeError:
        log.exception("order failed")
    export = services.settings.export_json()
    (services.paths.data / "settings-export.json").write_text(export)
    assert services.writer.flush(20)


def test_sqlite_db_logs_and_export_hold_no_secret(data_dir: Path) -> None:
    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        _exercise(services)
    finally:
        services.close()
    assert _scan(data_dir, [API_KEY, API_SECRET]) == []
    # the log file and DB did receive the records, redacted
    text = (data_dir / "logs" / "cts-desktop.log").read_text()
    assert "signing request with key «redacted»" in text
    assert "order failed" in text and "invalid api_key «redacted»" in text


@pytest.mark.postgres
def test_postgres_password_goes_to_keyring_never_to_disk(data_dir: Path, pg_schema: str) -> None:
    require_postgres()
    from sqlalchemy.engine import make_url

    password = "Pg-pass-7f3a9c2e1b"
    scoped = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={pg_schema}"})
    url = scoped.set(password=password).render_as_string(hide_password=False)
    services = Services(AppOptions(data_dir=data_dir, console_log=False, db_url=url))
    try:
        assert services.db.dialect == "postgresql"
        bare = scoped.render_as_string(hide_password=False)
        assert services.secrets.get(SecretRef.database(bare)) == password
        assert password not in services.db.display_url
        _exercise(services)
    finally:
        services.close()
    assert _scan(data_dir, [API_KEY, API_SECRET, password]) == []
