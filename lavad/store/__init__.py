"""lavad's embedded SQLite store: schema, migrations and the store thread."""

from lavad.store.schema import SCHEMA_VERSION, SchemaError, open_database
from lavad.store.thread import StoreThread
from lavad.store.tx import SyncStore, Tx

__all__ = ["SCHEMA_VERSION", "SchemaError", "StoreThread", "SyncStore", "Tx", "open_database"]
