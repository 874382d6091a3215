"""Local Kafka and PostgreSQL servers for development and tests without Docker."""

from .kafka import LocalKafka, free_port
from .postgres import LocalPostgres

__all__ = ["LocalKafka", "LocalPostgres", "free_port"]
