"""Reads back what eventbench wrote, with DataStax's Python cassandra-driver: an
independent client must find the seed's column types and the values eventbench sent.

usage: read_events.py KEYSPACE [PORT CA_FILE USER PASSWORD_FILE]  ->  prints one JSON
object per event row, and the column types of the events table as {"types": {...}} on
the first line. With the four more arguments it connects over TLS (verifying the node's
certificate against CA_FILE) and logs in: the secured node.
"""
import base64
import json
import sys

from cassandra.cluster import Cluster

ks = sys.argv[1]
if len(sys.argv) > 2:
    import ssl
    from cassandra.auth import PlainTextAuthProvider

    port, ca, user, password_file = sys.argv[2:6]
    tls = ssl.create_default_context(cafile=ca)
    tls.check_hostname = False  # the driver dials an IP; the chain is still verified
    with open(password_file) as f:
        password = f.readline().strip()
    cluster = Cluster(["127.0.0.1"], port=int(port), ssl_context=tls,
                      auth_provider=PlainTextAuthProvider(username=user, password=password))
else:
    cluster = Cluster(["127.0.0.1"], port=9042)
session = cluster.connect()
types = {
    r.column_name: r.type
    for r in session.execute(
        "SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = %s AND table_name = 'events'", [ks]
    )
}
print(json.dumps({"types": types}))
for r in session.execute(f"SELECT * FROM {ks}.events"):
    print(json.dumps({
        "year_bucket": r.year_bucket,
        "aggregate_id": r.aggregate_id,
        "version": r.version,
        "action": r.action,
        "timestamp_ms": int(r.timestamp.timestamp() * 1000 + 0.5) if r.timestamp else None,
        "uuid": str(r.uuid),
        "correlation_id": str(r.correlation_id),
        "user_uuid": str(r.user_uuid),
        "data": base64.b64encode(r.data).decode() if r.data is not None else None,
    }))
cluster.shutdown()
