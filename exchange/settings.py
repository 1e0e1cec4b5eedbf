"""Settings in one place: where the exchange keeps its state and which store it talks to.

Everything comes from the environment (prefix ``ONCEONLY_``) or a ``.env`` file, so the same
program runs on a laptop (SQLite, Parquet and keys under ``./var``) and on a bureau's servers
(PostgreSQL), and tests point it at a temporary home by overriding the cached getter.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from licences.urls import PublicUrls

#: The passphrase a development install runs with. Anything but development refuses it.
DEFAULT_SECRET = "onceonly-development-only"

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"


class InsecureSettingsError(RuntimeError):
    """Raised when a non-development environment would run with the default secret."""


class Settings(BaseSettings):
    """The exchange's configuration; see the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="ONCEONLY_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Path("var")
    database_url: str | None = None
    catalog_dir: Path = CATALOG_DIR
    #: Encrypts private keys at rest and keys the subject hashes in the audit log.
    secret: SecretStr = SecretStr(DEFAULT_SECRET)
    #: Where the exchange is reached from outside: licence documents, status lists, keys and the
    #: verification page are named under it, so it must be the address a verifier can open.
    public_url: str = "http://127.0.0.1:8000"
    #: The largest file a department may upload through the API (bytes); larger: 413.
    max_upload_bytes: int = 2 * 1024**3

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment != "development" and self.secret.get_secret_value() == DEFAULT_SECRET:
            raise InsecureSettingsError(
                "ONCEONLY_SECRET is still the development default; set a real secret "
                f"before running with ONCEONLY_ENVIRONMENT={self.environment}"
            )
        return self

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the store: PostgreSQL if configured, else SQLite in the home."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'onceonly.sqlite').resolve()}"

    @property
    def passphrase(self) -> bytes:
        """The secret as the passphrase that encrypts private keys at rest."""
        return self.secret.get_secret_value().encode()

    @property
    def urls(self) -> PublicUrls:
        return PublicUrls(self.public_url)

    @property
    def parquet_dir(self) -> Path:
        return self.home / "parquet"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    def ensure_home(self) -> None:
        """Create the home's folders; private key files are only ever written below keys/."""
        for folder in (self.home, self.parquet_dir, self.keys_dir, self.inbox_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.keys_dir.chmod(0o700)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; tests call ``get_settings.cache_clear()``."""
    return Settings()
