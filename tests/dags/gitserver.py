"""A real git server on loopback for DAG bundle tests: ``git http-backend`` (smart HTTP) behind a small
threaded HTTP server, with HTTP basic auth on chosen repositories, and helpers to commit and push.

Nothing here reaches another host: repositories live in a temporary folder, the server listens on
127.0.0.1, and pushes go straight to the bare repositories on disk.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GIT_ENV = {"GIT_AUTHOR_NAME": "airdeck tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
           "GIT_COMMITTER_NAME": "airdeck tests", "GIT_COMMITTER_EMAIL": "tests@example.com",
           "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True,
                          check=False, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def http_backend() -> str:
    path = Path(git("--exec-path")) / "git-http-backend"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; install Debian's git package")
    return str(path)


class GitServer:
    """Serves ``root/*.git`` over smart HTTP; repositories in ``private`` need basic auth ``user:token``."""

    def __init__(self, root: Path, user: str = "deploy", token: str = "") -> None:
        self.root = root
        self.user, self.token = user, token
        self.private: set[str] = set()
        self.requests: list[dict[str, Any]] = []  # path, user (authenticated or not), status
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.backend = http_backend()

    # ------------------------------------------------------------------ repositories
    def create(self, name: str, files: dict[str, str], private: bool = False) -> Path:
        """A bare repository ``name.git`` with one commit of ``files`` on ``main``; returns its work tree."""
        bare = self.root / f"{name}.git"
        git("init", "-q", "--bare", "-b", "main", str(bare))
        work = self.root / "work" / name
        git("init", "-q", "-b", "main", str(work))
        git("remote", "add", "origin", str(bare), cwd=work)
        if private:
            self.private.add(f"{name}.git")
        self.commit(work, files, "first commit")
        return work

    def commit(self, work: Path, files: dict[str, str | None], message: str) -> str:
        """Write (or with None, delete) ``files``, commit and push to the bare repository; the new commit."""
        for rel, content in files.items():
            path = work / rel
            if content is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", message, cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}.git"

    # ------------------------------------------------------------------ serving
    def start(self, port: int = 0) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                repo = path.lstrip("/").split("/", 1)[0]
                user = None
                header = self.headers.get("Authorization") or ""
                if header.startswith("Basic "):
                    try:
                        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    except ValueError:
                        user, password = None, ""
                    if user != server.user or password != server.token:
                        user = "!denied"
                if repo in server.private and (user is None or user == "!denied"):
                    server._note(path, user, 401)
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {"PATH": os.environ.get("PATH", ""), "GIT_PROJECT_ROOT": str(server.root),
                       "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
                       "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type") or "",
                       "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
                       "REMOTE_USER": user or "", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                done = subprocess.run([server.backend], input=body, env=env, capture_output=True, check=False,
                                      timeout=60)
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode(errors="replace").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                server._note(path, user, status)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _note(self, path: str, user: str | None, status: int) -> None:
        with self.lock:
            self.requests.append({"path": path, "user": user, "status": status})

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
