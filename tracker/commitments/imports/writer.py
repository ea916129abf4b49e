"""Bulk writes for the importer: rows of plain values into the pledge, link, status-event and history tables.

The importer has already checked every value with the models' own rules, so building a model instance per
row (and Django's per-value preparation in bulk_create) would only repeat work: at 100,000 rows it cost
more than everything else together. Instead each table gets tuples in its column order. On PostgreSQL they
go in with COPY; on other databases with executemany. Ids are taken up front, so links, status events and
history rows can name the pledge they belong to. The caller's transaction makes the whole import one write.
History rows are not formatted in Python at all: the database copies them from the rows just written
(Writer.insert_history).
"""
import json
from operator import itemgetter

from django.db import connection


def columns(model):
    return [field.attname for field in model._meta.concrete_fields]


class Table:
    """One table's rows, in `columns` order, waiting to be written. With `numbered=False` the database
    numbers them (for rows nothing else refers to, which saves taking their ids first)."""

    def __init__(self, model, numbered=True):
        self.model = model
        self.columns = [c for c in columns(model) if numbered or c != model._meta.pk.attname]
        self.rows = []
        self._row = itemgetter(*self.columns)

    def add(self, values):
        """A row from a mapping that has every column's attname (a missing one is a bug: KeyError)."""
        self.rows.append(self._row(values))


class Writer:
    """Writes Tables through a cursor of the import's connection (inside its transaction)."""

    def __init__(self, cursor):
        self.cursor, self.vendor = cursor, connection.vendor
        self.sequences = {}

    def take_ids(self, model, count):
        """`count` fresh primary keys for `model`, as the database would have given them on insert."""
        if not count:
            return []
        table, pk = model._meta.db_table, model._meta.pk.column
        cursor = self.cursor
        if self.vendor == "postgresql":
            if table not in self.sequences:  # looked up once: per row, the lookup cost more than nextval
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
                self.sequences[table] = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self.sequences[table], count])
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction already holds the write lock (the importer's first statement is a write),
        # so no one else can take these ids; AUTOINCREMENT's counter keeps ids of deleted rows unused.
        cursor.execute(f'SELECT MAX("{pk}") FROM "{table}"')  # noqa: S608 - names come from model meta
        highest = cursor.fetchone()[0] or 0
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(highest, row[0] if row else 0) + 1
        return list(range(start, start + count))

    def insert(self, table):
        """Write a Table's rows: COPY on PostgreSQL, executemany elsewhere."""
        if not table.rows:
            return
        name = table.model._meta.db_table
        names = ", ".join(f'"{column}"' for column in table.columns)
        if self.vendor == "postgresql":
            # COPY is psycopg's own; its errors still reach callers as Django's (IntegrityError and so on).
            with connection.wrap_database_errors, self.cursor.cursor.copy(
                    f'COPY "{name}" ({names}) FROM STDIN') as copy:
                for row in table.rows:
                    copy.write_row(row)
            return
        prepare = _preparers(table.model, table.columns)
        rows = [tuple(p(v) if p else v for p, v in zip(prepare, row, strict=True)) for row in table.rows]
        marks = ", ".join(["%s"] * len(table.columns))
        self.cursor.executemany(f'INSERT INTO "{name}" ({names}) VALUES ({marks})', rows)  # noqa: S608

    def update(self, table):
        """Write a Table's rows over the existing ones with the same id."""
        if not table.rows:
            return
        name = table.model._meta.db_table
        others = [c for c in table.columns if c != "id"]
        assignments = ", ".join(f'"{column}" = %s' for column in others)
        prepare = _preparers(table.model, others) if self.vendor != "postgresql" else [None] * len(others)
        index = table.columns.index("id")
        rows = []
        for row in table.rows:
            values = [v for i, v in enumerate(row) if i != index]
            rows.append([p(v) if p else v for p, v in zip(prepare, values, strict=True)] + [row[index]])
        self.cursor.executemany(f'UPDATE "{name}" SET {assignments} WHERE "id" = %s', rows)  # noqa: S608

    def insert_history(self, history, source, key, pairs, stamp, linked_by=None):
        """History rows the database copies from rows of `source` already written: one per (value of `key`,
        value of `linked_by`) pair; `stamp` fills the history's own columns (who, when, why). The history's
        primary key, unless it is `linked_by`, is numbered by the database. Python never builds these rows,
        and they match what was written by construction."""
        if not pairs:
            return
        copied = [n for n in columns(history) if n not in stamp and n not in (linked_by, history._meta.pk.attname)]
        stamped = list(stamp)
        values = [stamp[name] for name in stamped]
        if self.vendor == "postgresql":
            pairs_sql = "unnest(%s::bigint[], %s::bigint[]) AS m (k, h)"
            values += [[k for k, _ in pairs], [h for _, h in pairs]]
        else:  # SQLite: the pairs as one JSON array; stamps stored as the ORM stores them
            values = [p(v) if p else v for p, v in zip(_preparers(history, stamped), values, strict=True)]
            pairs_sql = ("(SELECT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS h "
                         "FROM json_each(%s)) AS m")
            values.append(json.dumps(pairs))
        names = ", ".join(f'"{name}"' for name in [*copied, *stamped, *([linked_by] if linked_by else [])])
        selected = ", ".join([*(f't."{name}"' for name in copied), *(["%s"] * len(stamped)),
                              *(["m.h"] if linked_by else [])])
        self.cursor.execute(
            f'INSERT INTO "{history._meta.db_table}" ({names}) SELECT {selected} '  # noqa: S608 - names from meta
            f'FROM {pairs_sql} JOIN "{source._meta.db_table}" t ON t."{key}" = m.k', values)

    def delete_links(self, through, pledge_ids):
        for start in range(0, len(pledge_ids), 1000):
            chunk = pledge_ids[start:start + 1000]
            marks = ", ".join(["%s"] * len(chunk))
            self.cursor.execute(f'DELETE FROM "{through._meta.db_table}" WHERE "pledge_id" IN ({marks})',  # noqa: S608
                                chunk)


def _preparers(model, names):
    """Per column, what turns a Python value into what SQLite stores (None: nothing to do). SQLite stores
    datetimes as naive UTC text; the ORM does the same, so reads and ordering agree."""
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
