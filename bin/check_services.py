"""Prints why PostgreSQL (DATABASE_URL) or Redis (REDIS_URL) is unreachable, exiting 1; else 0."""

import os
import sys

import dj_database_url
import psycopg
import redis


def main() -> int:
    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    try:
        # pytest-django creates test_<name>; connecting to the maintenance DB proves the server.
        psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"] or None,
            password=db["PASSWORD"] or None, dbname="postgres", connect_timeout=3,
        ).close()
    except Exception as exc:
        print(f"PostgreSQL unreachable: {type(exc).__name__}: {exc}".strip())
        return 1
    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
    except Exception as exc:
        print(f"Redis unreachable: {type(exc).__name__}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
