"""A deliberately vulnerable web app, for the tests only: proof that the security gates can fail.

Each route carries one planted flaw that a dynamic scanner must find:

- `/search?q=` reflects `q` into the page unescaped (reflected XSS, CWE-79);
- `/item?id=` pastes `id` into SQL run on a real SQLite table, and shows the database error
  (SQL injection, CWE-89);
- `/go?next=` redirects wherever `next` says (open redirect, CWE-601);
- no response carries a security header (no CSP, X-Frame-Options or X-Content-Type-Options).

Run it with `python vulnerable_app.py PORT`; it serves on 127.0.0.1 only. Never deploy it.
"""

from __future__ import annotations

import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

INDEX = """<!doctype html><html><head><title>Shop</title></head><body>
<h1>Shop</h1>
<form action="/search" method="get"><input name="q" value="film"><button>Search</button></form>
<p><a href="/item?id=1">The first item</a></p>
<p><a href="/go?next=/">Back home</a></p>
</body></html>"""


def database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO items (name) VALUES (?)", [("reel",), ("lens",), ("tripod",)])
    return conn


DB = database()


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: str, extra: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/":
            self._send(200, INDEX)
        elif url.path == "/search":
            self._send(200, f"<html><body><p>Results for {query.get('q', '')}</p></body></html>")  # planted XSS
        elif url.path == "/item":
            sql = f"SELECT name FROM items WHERE id = {query.get('id', '0')}"  # planted SQL injection
            try:
                rows = DB.execute(sql).fetchall()
            except sqlite3.Error as exc:
                self._send(500, f"<html><body><pre>sqlite3.OperationalError: {exc}</pre></body></html>")
                return
            self._send(200, "<html><body>" + "".join(f"<p>{r[0]}</p>" for r in rows) + "</body></html>")
        elif url.path == "/go":
            self._send(302, "", {"Location": query.get("next", "/")})  # planted open redirect
        else:
            self._send(404, "<html><body>not found</body></html>")

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
