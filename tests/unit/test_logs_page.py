"""The log import page: upload -> job -> progress -> summary and list; roles and tenants are respected."""
import base64
import json

from services import accounts
from tests.dash_client import call_callback

LINE = ('198.51.100.{i} - - [26/Nov/2026:05:00:00 +0000] "GET /market-hours/0050.mp3 HTTP/1.1" 200 3000000 "-" '
        '"Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"')


def _data_url(text):
    return "data:text/plain;base64," + base64.b64encode(text.encode()).decode()


def _start(client, contents, filename="access.log", clicks=1):
    return call_callback(client, [("logs-job", "data")], [("logs-import", "n_clicks", clicks)],
                         [("logs-upload", "contents", contents), ("logs-upload", "filename", filename),
                          ("logs-format", "value", "combined"), ("logs-host", "value", "media.example.com")],
                         ["logs-import.n_clicks"])


def _poll(client, data):
    return call_callback(client, [("logs-progress", "value"), ("logs-status", "children"),
                                  ("logs-poll", "disabled"), ("logs-table", "children")],
                         [("logs-poll", "n_intervals", 1), ("logs-job", "data", data)])


def test_upload_imports_counts_and_lists(demo_client):
    log = "\n".join(LINE.format(i=i) for i in range(1, 6)) + "\nnot a log line\n"
    status, out = _start(demo_client, _data_url(log))
    job = out["logs-job"]["data"]
    assert status == 200 and "job" in job
    status, out = _poll(demo_client, job)
    summary = json.dumps(out["logs-status"]["children"])
    assert out["logs-progress"]["value"] == 1 and out["logs-poll"]["disabled"] is True
    assert "5 requests stored" in summary and "1 bad lines" in summary and "line 6" in summary
    assert "access.log" in json.dumps(out["logs-table"]["children"])
    _, again = _start(demo_client, _data_url(log))
    _, out = _poll(demo_client, again["logs-job"]["data"])
    assert "nothing was counted twice" in json.dumps(out["logs-status"]["children"])


def test_missing_file_and_viewer_are_refused(app, db, demo_client):
    _, out = _start(demo_client, None)
    assert out["logs-job"]["data"] == {"error": "choose a log file to upload"}
    accounts.create_user(db, "v@demo.test", "demo", "viewer", password="password-1")
    viewer = app.test_client()
    viewer.post("/login", data={"email": "v@demo.test", "password": "password-1"})
    _, out = _start(viewer, _data_url(LINE.format(i=1)))
    assert "may not do this" in out["logs-job"]["data"]["error"]


def test_another_tenant_cannot_read_a_job(app, db, demo_client):
    _, started = _start(demo_client, _data_url(LINE.format(i=9)))
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "o@acme.test", "acme", "owner", password="password-1")
    acme = app.test_client()
    acme.post("/login", data={"email": "o@acme.test", "password": "password-1"})
    _, out = _poll(acme, started["logs-job"]["data"])
    text = json.dumps(out)
    assert "not known here" in text and "access.log" not in text
