"""New rows of the chat's hot path written as one plain ``INSERT`` each, the same on both
databases.

A chat turn writes five rows (the customer message and its owed answer on Daphne; the reply,
its trace and its reporting event in the worker). The ORM compiles each ``save()`` afresh,
about 0.4 ms of CPU a row; the statements here are built once per model and column list:

    INSERT INTO <table> (<column>, ...) VALUES (%s, ...) [, (%s, ...) ...] [RETURNING ...]
    INSERT INTO <table> (<column>, ...) SELECT %s, ... WHERE NOT EXISTS (...) RETURNING <pk>

(the second for a customer message, unless its client id is stored: ``insert_unless_stored``;
a drain's replies are several rows of the first, returning their ids). SQLite (3.35+) and
PostgreSQL both run them as they are. It takes no lock beyond the new rows' own
(and the index entries of their unique constraints: a duplicate raises ``IntegrityError`` as
``save()`` would). Values are prepared by their fields (``Field.pre_save`` with ``add=True``,
then ``Field.get_db_prep_save``), as the ORM prepares them; no signals are sent (nothing in
the project listens to these models' saves).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


@cache
def _statement(model: type[models.Model], columns: tuple[str, ...], rows: int,
               returning: tuple[str, ...] = ()) -> str:
    qn = connection.ops.quote_name
    values = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (  # only quoted identifiers are interpolated; every value is a parameter
        f"INSERT INTO {qn(model._meta.db_table)} "  # noqa: S608
        f"({', '.join(qn(c) for c in columns)}) VALUES {', '.join([values] * rows)}"
    )
    return f"{sql} RETURNING {', '.join(qn(c) for c in returning)}" if returning else sql


def _fields_and_values(
    instance: models.Model,
) -> tuple[list[models.Field], list[object], list[object]]:
    """The instance's concrete fields to insert (an unset auto primary key is left to the
    database), their Python values (after ``pre_save``) and their database values."""
    fields, values, prepared = [], [], []
    for field in instance._meta.concrete_fields:
        if field.primary_key and field.attname and getattr(instance, field.attname) is None:
            continue
        value = field.pre_save(instance, True)
        fields.append(field)
        values.append(value)
        prepared.append(field.get_db_prep_save(value, connection))
    return fields, values, prepared


def insert(instance: M) -> M:
    """Writes one new row for ``instance`` (not saved yet) and returns it as loaded.

    One statement, ``INSERT INTO <table> (...) VALUES (...) RETURNING <pk>``. The returned
    instance is a new one built by ``Model.from_db`` (so Django treats it as stored): its
    primary key is set, its related objects are not cached (assign them again to avoid a
    query). Raises ``IntegrityError`` for a duplicate or a missing required value.
    """
    model = type(instance)
    fields, values, prepared = _fields_and_values(instance)
    pk = model._meta.pk
    returning = (pk.column,) if pk not in fields else ()
    sql = _statement(model, tuple(f.column for f in fields), 1, returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, prepared)
        row = cursor.fetchone() if returning else None
    loaded = {f.attname: value for f, value in zip(fields, values, strict=True)}
    if row is not None:
        loaded[pk.attname] = row[0]
    concrete = model._meta.concrete_fields  # from_db takes the values in this order
    return model.from_db(
        connection.alias, [f.attname for f in concrete], [loaded[f.attname] for f in concrete]
    )


@cache
def _statement_unless(model: type[models.Model], columns: tuple[str, ...],
                      unless: tuple[str, ...], returning: str) -> str:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    match = " AND ".join(f"{qn(column)} = %s" for column in unless)
    return (  # only quoted identifiers are interpolated; every value is a parameter
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
        f"SELECT {', '.join(['%s'] * len(columns))} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match}) RETURNING {qn(returning)}"
    )


def insert_unless_stored(instance: M, *, unless: Sequence[str]) -> M | None:
    """``insert``, unless a row with the same values of the fields named in ``unless`` is
    already stored: then None, and nothing is written.

    One statement that SQLite (3.35+) and PostgreSQL both run: ``INSERT INTO <table> (...)
    SELECT %s, ... WHERE NOT EXISTS (SELECT 1 FROM <table> WHERE <field> = %s AND ...)
    RETURNING <pk>``. The check reads what is committed when the statement starts (under a lock
    the caller holds, it sees what committed before the lock was granted); a unique constraint
    on those fields still refuses a row committed later (``IntegrityError``). Every field in
    ``unless`` must be set (not None) on ``instance``.
    """
    model = type(instance)
    fields, values, prepared = _fields_and_values(instance)
    pk = model._meta.pk
    if pk in fields:
        raise ValueError("insert_unless_stored leaves the primary key to the database")
    by_name = {f.name: (f, p) for f, p in zip(fields, prepared, strict=True)}
    match_fields = [by_name[name][0] for name in unless]
    match_values = [by_name[name][1] for name in unless]
    if any(value is None for value in match_values):
        raise ValueError("insert_unless_stored matches on values that are set")
    sql = _statement_unless(model, tuple(f.column for f in fields),
                            tuple(f.column for f in match_fields), pk.column)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*prepared, *match_values])
        row = cursor.fetchone()
    if row is None:
        return None
    loaded = {f.attname: value for f, value in zip(fields, values, strict=True)}
    loaded[pk.attname] = row[0]
    concrete = model._meta.concrete_fields
    return model.from_db(
        connection.alias, [f.attname for f in concrete], [loaded[f.attname] for f in concrete]
    )


def as_stored(instance: M, pk: Any) -> M:
    """``instance`` (written by ``insert_many``) as Django loads a stored row: a new instance
    built by ``Model.from_db`` from its field values, with primary key ``pk``. Its related
    objects are not cached (assign them again to avoid a query)."""
    model = type(instance)
    concrete = model._meta.concrete_fields
    values = [pk if f.primary_key else getattr(instance, f.attname) for f in concrete]
    return model.from_db(connection.alias, [f.attname for f in concrete], values)


def insert_many(instances: Sequence[models.Model], *, key: str | None = None) -> dict[Any, Any]:
    """Writes new rows of one model in one statement (``INSERT ... VALUES (...), (...)``).

    The instances are not updated. With ``key``, the name of a field whose values are unique
    among ``instances`` (and set), the statement ends in ``RETURNING <key>, <pk>`` and the
    primary keys come back as {key's database value: primary key} (the order of a multi-row
    ``RETURNING`` is not promised by either database, hence the key); without it, {} (for
    rows nothing reads back, such as reporting events). Every instance must set the same
    fields (an auto primary key left unset on all of them). Raises ``ValueError`` for a mix of
    models or fields.
    """
    if not instances:
        return {}
    model = type(instances[0])
    columns: tuple[str, ...] | None = None
    params: list[object] = []
    for instance in instances:
        if type(instance) is not model:
            raise ValueError("insert_many writes rows of one model")
        fields, _, prepared = _fields_and_values(instance)
        these = tuple(f.column for f in fields)
        if columns is not None and these != columns:
            raise ValueError("insert_many needs the same fields set on every row")
        columns = these
        params.extend(prepared)
    assert columns is not None
    if key is None:
        with connection.cursor() as cursor:
            cursor.execute(_statement(model, columns, len(instances)), params)
        return {}
    returning = (model._meta.get_field(key).column, model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, columns, len(instances), returning), params)
        return dict(cursor.fetchall())
