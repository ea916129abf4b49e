"""The benchmark's baseline: a bare WSGI app answering the same page of 100 pledges as
/api/v1/pledges/?page_size=100 (same rows, same nested objectives, sources and status events), with
hand-written SQL through psycopg and orjson. No framework: the fastest honest way to serve those rows."""
import os

import orjson
import psycopg

PAGE = """
SELECT p.id, p.kind, p.description, p.quantity, p.unit, p.quantity_undisclosed, p.amount, p.currency,
       p.eur_value, p.eur_rate, p.eur_rate_date, p.valuation_basis, p.is_conditional, p.condition,
       p.announced_on, p.announced_precision, p.earmarked_from, p.earmarked_to, p.disclosure, p.status,
       p.delivered_quantity, p.delivered_eur, p.publication, p.published_at, p.is_example, p.created_at,
       p.updated_at, c.slug, n.slug, n.name, n.country, n.kind
FROM commitments_pledge p JOIN commitments_coalition c ON c.id = p.coalition_id
JOIN commitments_nation n ON n.id = p.nation_id
WHERE p.publication = 'published' ORDER BY p.id DESC LIMIT 100
"""
COLUMNS = ["id", "kind", "description", "quantity", "unit", "quantity_undisclosed", "amount", "currency",
           "eur_value", "eur_rate", "eur_rate_date", "valuation_basis", "is_conditional", "condition",
           "announced_on", "announced_precision", "earmarked_from", "earmarked_to", "disclosure", "status",
           "delivered_quantity", "delivered_eur", "publication", "published_at", "is_example", "created_at",
           "updated_at"]
_connection = None


def _db():
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["RAW_DSN"], autocommit=True)
    return _connection


def application(environ, start_response):
    with _db().cursor() as cursor:
        rows = cursor.execute(PAGE).fetchall()
        ids = [row[0] for row in rows]
        objectives, sources, events = {}, {}, {}
        for pledge_id, slug in cursor.execute(
                "SELECT po.pledge_id, o.slug FROM commitments_pledge_objectives po JOIN commitments_objective o "
                "ON o.id = po.objective_id WHERE po.pledge_id = ANY(%s) ORDER BY o.position, o.id", (ids,)):
            objectives.setdefault(pledge_id, []).append(slug)
        for pledge_id, source_id in cursor.execute(
                "SELECT pledge_id, source_id FROM commitments_pledge_sources WHERE pledge_id = ANY(%s) "
                "ORDER BY source_id", (ids,)):
            sources.setdefault(pledge_id, []).append(source_id)
        for row in cursor.execute(
                "SELECT pledge_id, id, status, occurred_on, source_id, note, delivered_quantity, delivered_eur "
                "FROM commitments_statusevent WHERE pledge_id = ANY(%s) ORDER BY occurred_on, id", (ids,)):
            events.setdefault(row[0], []).append(
                {"id": row[1], "status": row[2], "occurred_on": row[3], "source": row[4], "note": row[5],
                 "delivered_quantity": row[6], "delivered_eur": row[7]})
    results = []
    for row in rows:
        item = dict(zip(COLUMNS, row[:27], strict=True))
        item["coalition"] = row[27]
        item["nation"] = {"slug": row[28], "name": row[29], "code": row[30], "kind": row[31]}
        item["objectives"] = objectives.get(row[0], [])
        item["sources"] = sources.get(row[0], [])
        item["status_events"] = events.get(row[0], [])
        results.append(item)
    body = orjson.dumps({"next": None, "previous": None, "results": results}, default=str)
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
