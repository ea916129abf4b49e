"""Bulk writes for the importer: rows of plain values into the pledge, link, status-event and history tables.

The importer has already checked every value with the models' own rules, so building a model instance per
row (and Django's per-value preparation in bulk_create) would only repeat work: at 100,000 rows it cost
more than everything else together. Instead each table gets tuples in its column order. On PostgreSQL they
go in with COPY; on other databases with executemany. Ids are taken up front, so links, status events and
history rows can name the pledge they belong to. The caller's transaction makes the whole import one write.
"""
from operator import itemgetter

from django.db import connection


def columns(model):
    return [field.attname for field in model._meta.concrete_fields]


class Table:
    """One table's rows, in `columns` order, waiting to be written."""

    def __init__(self, model):
        self.model = model
        self.columns = columns(model)
        self.rows = []
        self._row = itemgetter(*self.columns)

    def add(self, values):
        """A row from a mapping that has every column's attname (a missing one is a bug: KeyError)."""
        self.rows.append(self._row(values))


def take_ids(model, count):
    """`count` fresh primary keys for `model`, as the database would have given them on insert."""
    if not count:
        return []
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [table, pk, count])
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction already holds the write lock (the importer's first statement is a write),
        # so no one else can take these ids; AUTOINCREMENT's counter keeps ids of deleted rows unused.
        cursor.execute(f'SELECT MAX("{pk}") FROM "{table}"')  # noqa: S608 - names come from model meta
        highest = cursor.fetchone()[0] or 0
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(highest, row[0] if row else 0) + 1
        return list(range(start, start + count))


def insert(table):
    """Write a Table's rows: COPY on PostgreSQL, executemany elsewhere."""
    if not table.rows:
        return
    name = table.model._meta.db_table
    names = ", ".join(f'"{column}"' for column in table.columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
                for row in table.rows:
                    copy.write_row(row)
            return
        prepare = _preparers(table.model, table.columns)
        rows = [tuple(p(v) if p else v for p, v in zip(prepare, row, strict=True)) for row in table.rows]
        marks = ", ".join(["%s"] * len(table.columns))
        cursor.executemany(f'INSERT INTO "{name}" ({names}) VALUES ({marks})', rows)  # noqa: S608


def update(table):
    """Write a Table's rows over the existing ones with the same id."""
    if not table.rows:
        return
    name = table.model._meta.db_table
    others = [c for c in table.columns if c != "id"]
    assignments = ", ".join(f'"{column}" = %s' for column in others)
    prepare = _preparers(table.model, others)
    index = table.columns.index("id")
    rows = []
    for row in table.rows:
        values = [v for i, v in enumerate(row) if i != index]
        rows.append([p(v) if p else v for p, v in zip(prepare, values, strict=True)] + [row[index]])
    with connection.cursor() as cursor:
        cursor.executemany(f'UPDATE "{name}" SET {assignments} WHERE "id" = %s', rows)  # noqa: S608


def delete_links(through, pledge_ids):
    with connection.cursor() as cursor:
        for start in range(0, len(pledge_ids), 1000):
            chunk = pledge_ids[start:start + 1000]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f'DELETE FROM "{through._meta.db_table}" WHERE "pledge_id" IN ({marks})',  # noqa: S608
                           chunk)


def _preparers(model, names):
    """Per column, what turns a Python value into what this database stores (None: nothing to do).
    SQLite stores datetimes as naive UTC text; the ORM does the same, so reads and ordering agree."""
    if connection.vendor == "postgresql":  # psycopg adapts every Python value itself
        return [None] * len(names)
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    ops = connection.ops
    prepare = []
    for name in names:
        kind = by_attname[name].get_internal_type()
        if kind == "DateTimeField":
            prepare.append(lambda v: None if v is None else ops.adapt_datetimefield_value(v))
        elif kind == "DecimalField":
            prepare.append(lambda v: None if v is None else str(v))
        else:
            prepare.append(None)
    return prepare
