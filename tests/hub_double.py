"""A local stand-in for the Hugging Face Hub: the part of its HTTP API the real clients use.

The real ``huggingface_hub`` client (and ``datasets``, ``transformers`` on top of it) talks to this
server exactly as it talks to huggingface.co, so tests exercise real pushes and real downloads,
offline. Covered: ``create_repo``/``delete_repo``, ``upload_folder``/``upload_file``/``create_commit``
(preupload, regular and LFS uploads, deletions), ``push_to_hub`` of models and datasets,
``model_info``/``dataset_info``/``repo_info``, ``list_repo_files``/``list_repo_tree``/
``get_paths_info``, ``hf_hub_download``/``snapshot_download`` (HEAD and GET with ranges) and so
``HfFileSystem``, ``datasets.load_dataset("org/name")`` and ``pipeline(..., model="org/name")``.
Xet storage is not spoken: clients must run with ``HF_HUB_DISABLE_XET=1``.

Use it through the ``hub`` pytest fixture (tests/conftest.py), which starts a server, points
every client at it and gives it back::

    def test_push(hub, tmp_path):
        model.push_to_hub("org/tiny")                       # private=True works too
        files = hub.files("org/tiny")                       # {path: bytes} as stored
        pipe = pipeline("image-segmentation", model="org/tiny")
        ds = datasets.load_dataset("org/data")              # a dataset repo pushed earlier

Inside the fixture ``HF_ENDPOINT``, ``HF_TOKEN`` (``hub.token``, a fake token the server accepts),
``HF_HUB_DISABLE_XET=1`` and ``HF_HOME`` (a temporary folder) are set in the environment, so
subprocesses (CLIs) use the double too; in-process clients are re-pointed by :func:`point_clients_at`,
since ``huggingface_hub`` and ``datasets`` read the endpoint when they are imported.

Behaviour kept from the Hub: private repos answer 401 without the token, missing repos, revisions
and files answer 404 with the ``X-Error-Code`` the client maps to its exceptions, writes need the
token, each commit gets a new 40-hex id, ``main`` and commit ids are valid revisions, files that the
repo's ``.gitattributes`` marks for LFS (or binary or large ones) go through the LFS batch API.
The server binds to 127.0.0.1 on a free port and never logs tokens.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

DEFAULT_TOKEN = "hf_doubleFakeToken0123456789"
USER = "tester"

REPO_ID = r"[\w.-]+/[\w.-]+"
PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_SIZE = 10 * 1024 * 1024
"""Files above this size always go through LFS, as on the Hub."""

GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lz4 *.mds *.mlmodel *.model *.msgpack "
        "*.npy *.npz *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors *.tar *.tflite "
        "*.tgz *.wasm *.xz *.zip *.zst *tfevents* *.png *.jpg *.jpeg *.webp *.gif"
    ).split()
)
"""The ``.gitattributes`` a new repo starts with (the Hub's default LFS patterns plus images)."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int
    git_oid: str  # of the content, or of the LFS pointer file for LFS blobs (as git stores them)
    lfs: bool


@dataclass
class Commit:
    oid: str
    title: str
    date: str
    tree: dict[str, Blob]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created: str
    commits: list[Commit] = field(default_factory=list)

    def resolve(self, revision: str) -> Commit | None:
        revision = unquote(revision)
        if revision in ("main", "refs/heads/main"):
            return self.commits[-1]
        if re.fullmatch(r"[0-9a-f]{7,40}", revision):
            return next((c for c in reversed(self.commits) if c.oid.startswith(revision)), None)
        return None


class HubError(Exception):
    """An HTTP error answer: status, the Hub's X-Error-Code (if any) and a message."""

    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.commit, self.extra = status, code, commit, extra


class HubDouble:
    """The server: repos and their commits in memory, file contents in ``root/blobs``."""

    def __init__(self, root: str | Path, token: str = DEFAULT_TOKEN):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for debugging tests
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HubDouble":
        double = self

        class Handler(_Handler):
            hub = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "HubDouble":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ inspection helpers for tests

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """Every file of a repo at a revision, {path: content}."""
        commit = self.repo(repo_id, repo_type).resolve(revision)
        assert commit is not None, f"no revision {revision} in {repo_id}"
        return {path: self._read(blob) for path, blob in commit.tree.items()}

    # ------------------------------------------------------------ storage

    def _read(self, blob: Blob) -> bytes:
        return (self.blobs / blob.sha256).read_bytes()

    def _store(self, data: bytes, lfs: bool) -> Blob:
        sha = hashlib.sha256(data).hexdigest()
        path = self.blobs / sha
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.rename(path)
        return self._blob(sha, len(data), lfs, data)

    def _blob(self, sha: str, size: int, lfs: bool, data: bytes | None = None) -> Blob:
        if lfs:
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n".encode()
            return Blob(sha, size, _git_oid(pointer), True)
        return Blob(sha, size, _git_oid(data if data is not None else (self.blobs / sha).read_bytes()), False)

    def _commit(self, repo: Repo, tree: dict[str, Blob], title: str) -> Commit:
        seed = f"{repo.repo_type}/{repo.repo_id}:{len(repo.commits)}:{title}:{sorted((p, b.sha256) for p, b in tree.items())}"
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), title, _now(), tree)
        repo.commits.append(commit)
        return commit

    def _is_lfs(self, repo: Repo, path: str, size: int, sample: bytes) -> bool:
        if size > LFS_SIZE or b"\0" in sample:
            return True
        attributes = repo.commits[-1].tree.get(".gitattributes")
        text = self._read(attributes).decode("utf-8", "replace") if attributes else ""
        name = path.rsplit("/", 1)[-1]
        for line in text.splitlines():
            parts = line.split()
            if len(parts) > 1 and "filter=lfs" in parts[1:]:
                if fnmatch.fnmatch(path if "/" in parts[0] else name, parts[0]):
                    return True
        return False


def _tree_entry(path: str, blob: Blob, commit: Commit | None) -> dict:
    entry = {"type": "file", "oid": blob.git_oid, "size": blob.size, "path": path}
    if blob.lfs:
        entry["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": 134}
    if commit is not None:
        entry["lastCommit"] = {"id": commit.oid, "title": commit.title, "date": commit.date}
    return entry


def _folder_entry(path: str, commit: Commit | None) -> dict:
    entry = {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}
    if commit is not None:
        entry["lastCommit"] = {"id": commit.oid, "title": commit.title, "date": commit.date}
    return entry


def _folders(tree: dict[str, Blob]) -> set[str]:
    return {path.rsplit("/", i)[0] for path in tree for i in range(1, path.count("/") + 1)}


class _Handler(BaseHTTPRequestHandler):
    hub: HubDouble
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect; every answer has a Content-Length

    ROUTES = [
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("DELETE", r"/api/repos/delete", "delete_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", rf"/api/(?P<type>model|dataset|space)s/(?P<repo>{REPO_ID})(?:/revision/(?P<rev>[^/]+))?", "repo_info"),
        ("GET", rf"/api/(?P<type>model|dataset|space)s/(?P<repo>{REPO_ID})/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", "tree"),
        ("POST", rf"/api/(?P<type>model|dataset|space)s/(?P<repo>{REPO_ID})/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("GET", rf"/api/(?P<type>model|dataset|space)s/(?P<repo>{REPO_ID})/refs", "refs"),
        ("POST", rf"/api/(?P<type>model|dataset|space)s/(?P<repo>{REPO_ID})/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", rf"/api/(?P<type>model|dataset|space)s/(?P<repo>{REPO_ID})/commit/(?P<rev>[^/]+)", "commit"),
        ("POST", rf"/(?P<prefix>datasets/|spaces/)?(?P<repo>{REPO_ID})\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "lfs_upload"),
        ("HEAD", rf"/(?P<prefix>datasets/|spaces/)?(?P<repo>{REPO_ID})/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("GET", rf"/(?P<prefix>datasets/|spaces/)?(?P<repo>{REPO_ID})/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ]

    # ------------------------------------------------------------ plumbing

    def log_message(self, format, *args) -> None:  # quiet; requests are kept in hub.requests instead
        pass

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.hub.requests.append((self.command, url.path))
        try:
            self.body = self._read_body()
            for method, pattern, name in self.ROUTES:
                match = re.fullmatch(pattern, url.path)
                if method == self.command and match:
                    with self.hub.lock:
                        return getattr(self, name)(**{k: v for k, v in match.groupdict().items()})
            raise HubError(404, f"no such endpoint: {self.command} {url.path}")
        except HubError as e:
            self._error(e)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _json_body(self):
        try:
            return json.loads(self.body or b"{}")
        except json.JSONDecodeError as e:
            raise HubError(400, f"body is not JSON: {e}")

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _error(self, e: HubError) -> None:
        headers = {"X-Error-Message": str(e)}
        if e.code:
            headers["X-Error-Code"] = e.code
        if e.commit:
            headers["X-Repo-Commit"] = e.commit
        self._json({"error": str(e), **e.extra}, e.status, headers)

    # ------------------------------------------------------------ auth and lookup

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.hub.token}"

    def _require_token(self) -> None:
        if not self._authorized():
            raise HubError(401, "Invalid credentials in Authorization header")

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        if repo.private and not self._authorized():
            raise HubError(401, "Invalid username or password.", "RepoNotFound")
        return repo

    def _commit_at(self, repo: Repo, rev: str) -> Commit:
        commit = repo.resolve(rev)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {unquote(rev)}", "RevisionNotFound")
        return commit

    @staticmethod
    def _type(prefix: str | None) -> str:
        return {"datasets/": "dataset", "spaces/": "space"}.get(prefix or "", "model")

    # ------------------------------------------------------------ account and repos

    def whoami(self) -> None:
        self._require_token()
        self._json({"type": "user", "name": USER, "fullname": USER, "orgs": [], "auth": {"type": "access_token", "accessToken": {"role": "write"}}})

    def create_repo(self) -> None:
        body = self._json_body()
        self._require_token()
        repo_type = body.get("type") or "model"
        if repo_type not in PREFIXES:
            raise HubError(400, f"invalid repo type {repo_type!r}")
        repo_id = f"{body.get('organization') or USER}/{body.get('name')}"
        if not re.fullmatch(REPO_ID, repo_id):
            raise HubError(400, f"invalid repo name {repo_id!r}")
        url = f"{self.hub.url}/{PREFIXES[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self.hub.repos:
            raise HubError(409, f"You already created this {repo_type} repo", url=url)
        private = body.get("visibility") == "private" or bool(body.get("private"))
        repo = Repo(repo_type, repo_id, private, _now())
        self.hub._commit(repo, {".gitattributes": self.hub._store(GITATTRIBUTES.encode(), lfs=False)}, "initial commit")
        self.hub.repos[(repo_type, repo_id)] = repo
        self._json({"url": url, "name": repo_id, "id": repo_id})

    def delete_repo(self) -> None:
        body = self._json_body()
        self._require_token()
        key = (body.get("type") or "model", f"{body.get('organization') or USER}/{body.get('name')}")
        if self.hub.repos.pop(key, None) is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        self._json({})

    def validate_yaml(self) -> None:
        content = self._json_body().get("content", "")
        match = re.match(r"^---\n(.*?)\n---", content, re.S)
        try:
            if match:
                yaml.safe_load(match.group(1))
        except yaml.YAMLError as e:
            raise HubError(400, f"Invalid YAML in README.md: {e}")
        self._json({"errors": [], "warnings": []})

    def repo_info(self, type: str, repo: str, rev: str | None = None) -> None:
        r = self._repo(type, repo)
        commit = self._commit_at(r, rev or "main")
        blobs = "blobs" in self.query
        siblings = []
        for path, blob in sorted(commit.tree.items()):
            sibling = {"rfilename": path}
            if blobs:
                sibling.update(size=blob.size, blobId=blob.git_oid)
                if blob.lfs:
                    sibling["lfs"] = {"size": blob.size, "sha256": blob.sha256, "pointerSize": 134}
            siblings.append(sibling)
        card = commit.tree.get("README.md")
        info = {
            "_id": hashlib.sha1(f"{type}/{repo}".encode()).hexdigest()[:24],
            "id": repo,
            "author": repo.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "createdAt": r.created,
            "private": r.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "cardData": _card_data(self.hub._read(card)) if card else None,
            "siblings": siblings,
        }
        if type == "model":
            info["modelId"] = repo
        self._json(info)

    def refs(self, type: str, repo: str) -> None:
        r = self._repo(type, repo)
        main = {"name": "main", "ref": "refs/heads/main", "targetCommit": r.commits[-1].oid}
        self._json({"branches": [main], "converts": [], "tags": [], "pullRequests": []})

    # ------------------------------------------------------------ listing

    def tree(self, type: str, repo: str, rev: str, path: str | None = None) -> None:
        commit = self._commit_at(self._repo(type, repo), rev)
        path = unquote(path or "").strip("/")
        expand = self.query.get("expand", ["False"])[0].lower() == "true"
        recursive = self.query.get("recursive", ["False"])[0].lower() == "true"
        folders = _folders(commit.tree)
        if path and path not in folders:
            raise HubError(404, f"{path} does not exist on {rev}", "EntryNotFound", commit.oid)
        prefix = f"{path}/" if path else ""
        last = commit if expand else None

        def listed(p: str) -> bool:
            return p.startswith(prefix) and (recursive or "/" not in p[len(prefix):])

        entries = [_folder_entry(f, last) for f in sorted(folders) if listed(f)]
        entries += [_tree_entry(p, b, last) for p, b in sorted(commit.tree.items()) if listed(p)]
        self._json(entries)

    def paths_info(self, type: str, repo: str, rev: str) -> None:
        commit = self._commit_at(self._repo(type, repo), rev)
        body = self.body.decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            form = json.loads(body or "{}")
            paths, expand = form.get("paths", []), bool(form.get("expand"))
        else:
            form = parse_qs(body)
            paths, expand = form.get("paths", []), form.get("expand", ["False"])[0].lower() == "true"
        folders = _folders(commit.tree)
        last = commit if expand else None
        out = []
        for p in paths:
            p = p.strip("/")
            if p in commit.tree:
                out.append(_tree_entry(p, commit.tree[p], last))
            elif p in folders:
                out.append(_folder_entry(p, last))
        self._json(out)

    # ------------------------------------------------------------ uploads

    def preupload(self, type: str, repo: str, rev: str) -> None:
        body = self._json_body()
        self._require_token()
        commit = self._commit_at(self._repo(type, repo), rev)
        r = self.hub.repos[(type, repo)]
        files = []
        for f in body.get("files", []):
            lfs = self.hub._is_lfs(r, f["path"], int(f["size"]), base64.b64decode(f.get("sample", "")))
            existing = commit.tree.get(f["path"])
            oid = None
            if existing is not None:
                oid = existing.sha256 if existing.lfs else existing.git_oid
            files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        self._json({"files": files, "commitOid": commit.oid})

    def lfs_batch(self, repo: str, prefix: str | None = None) -> None:
        body = self._json_body()
        self._require_token()
        self._repo(self._type(prefix), repo)
        if body.get("operation") != "upload":
            raise HubError(400, "only the upload operation is supported")
        objects = []
        for obj in body.get("objects", []):
            entry = {"oid": obj["oid"], "size": int(obj["size"]), "authenticated": True}
            if not (self.hub.blobs / obj["oid"]).exists():
                entry["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-upload/{obj['oid']}", "expires_in": 3600}}
            objects.append(entry)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(), "application/vnd.git-lfs+json")

    def lfs_upload(self, oid: str) -> None:
        data = self.body
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, "uploaded content does not match its sha256")
        self.hub._store(data, lfs=True)
        self._send(200)

    def commit(self, type: str, repo: str, rev: str) -> None:
        raw = self.body
        self._require_token()
        r = self._repo(type, repo)
        if "create_pr" in self.query:
            raise HubError(400, "pull requests are not supported by the Hub double")
        head = self._commit_at(r, rev)
        if head is not r.commits[-1]:
            raise HubError(400, "commits go to the head of main only")
        tree = dict(head.tree)
        title = "commit"
        for line in raw.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title = value.get("summary") or title
                parent = value.get("parentCommit")
                if parent and not head.oid.startswith(parent):
                    raise HubError(412, f"parent commit {parent} is not the head of {rev}")
            elif key == "file":
                tree[value["path"]] = self.hub._store(base64.b64decode(value["content"]), lfs=False)
            elif key == "lfsFile":
                if not (self.hub.blobs / value["oid"]).exists():
                    raise HubError(422, f"LFS object {value['oid']} for {value['path']} was not uploaded")
                size = (self.hub.blobs / value["oid"]).stat().st_size
                tree[value["path"]] = self.hub._blob(value["oid"], size, lfs=True)
            elif key == "deletedFile":
                if tree.pop(value["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                for p in [p for p in tree if p.startswith(folder)]:
                    del tree[p]
            else:
                raise HubError(400, f"unsupported commit operation {key!r}")
        commit = self.hub._commit(r, tree, title)
        url = f"{self.hub.url}/{PREFIXES[type]}{repo}/commit/{commit.oid}"
        self._json({"commitUrl": url, "commitOid": commit.oid, "pullRequestUrl": None, "success": True})

    # ------------------------------------------------------------ downloads

    def resolve(self, repo: str, rev: str, path: str, prefix: str | None = None) -> None:
        r = self._repo(self._type(prefix), repo)
        commit = self._commit_at(r, rev)
        path = unquote(path)
        blob = commit.tree.get(path)
        if blob is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", commit.oid)
        etag = f'"{blob.sha256 if blob.lfs else blob.git_oid}"'
        headers = {"ETag": etag, "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        if blob.lfs:
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(blob.size)})
        data = self.hub._read(blob)
        status, ranged = 200, _byte_range(self.headers.get("Range"), blob.size)
        if ranged is not None:
            start, end = ranged
            if start >= blob.size:
                headers["Content-Range"] = f"bytes */{blob.size}"
                return self._send(416, b"", "text/plain", headers)
            status, data = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{blob.size}"
        self._send(status, data, "application/octet-stream", headers)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` / ``a-`` / ``-n`` as (first, last) byte, or None without one."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (header or "").strip())
    if not match:
        return None
    first, last = match.groups()
    if not first:
        return max(0, size - int(last)), size - 1
    return int(first), min(int(last), size - 1) if last else size - 1


def _card_data(readme: bytes) -> dict | None:
    match = re.match(r"^---\n(.*?)\n---", readme.decode("utf-8", "replace"), re.S)
    try:
        return yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError:
        return None


def point_clients_at(hub: HubDouble, monkeypatch, home: str | Path) -> None:
    """Send every Hugging Face client in this process (and its subprocesses) to ``hub``.

    ``huggingface_hub`` and ``datasets`` read ``HF_ENDPOINT`` and the cache folders at import time,
    so besides the environment (for subprocesses) the module-level copies are patched; ``monkeypatch``
    undoes it all after the test.
    """
    import datasets.config
    import huggingface_hub.constants as hub_constants
    import huggingface_hub.hf_api
    import transformers.utils.hub
    from huggingface_hub import HfFileSystem

    home = Path(home)
    for name, value in {
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": hub.token,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(hub_constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(hub_constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hub_constants, "HF_URL_HOSTS", hub_constants.HF_URL_HOSTS | {"127.0.0.1"})
    monkeypatch.setattr(hub_constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", hub.url)  # behind the module-level functions
    # transformers keeps one HfApi of its own, made with whatever endpoint the first push saw.
    monkeypatch.setattr(transformers.utils.hub, "_hf_api", None)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub.url)
    monkeypatch.setattr(datasets.config, "HUB_DATASETS_URL", hub.url + "/datasets/{repo_id}/resolve/{revision}/{path}")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    # HfFileSystem instances are cached per endpoint and keep directory listings: start clean.
    HfFileSystem.clear_instance_cache()
