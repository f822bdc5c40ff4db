"""The Kubernetes API stand-in: plain HTTP on loopback over a ``Store``.

``start_kube_api(store)`` serves discovery, the resources in ``resources.py`` (list, watch, get,
create, replace, patch, delete, delete-collection), the ``status``, ``scale`` and ``log``
subresources, and server-side printing for ``kubectl get``. Both the official ``kubernetes`` Python
client and ``kubectl`` work against it (see ``write_kubeconfig``).
"""

from __future__ import annotations

import copy
import json
import logging
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from sandbox.kube import printing, subresources
from sandbox.kube.api import KubeApi
from sandbox.kube.apply import APPLY
from sandbox.kube.complete import complete
from sandbox.kube.discovery import discovery_document
from sandbox.kube.errors import ApiError, bad_request, method_not_allowed, path_not_found
from sandbox.kube.managed import manager_name
from sandbox.kube.protobuf import decode_delete_options
from sandbox.kube.routing import Route, int_param, is_true, last, parse_route, query_params, wanted_view
from sandbox.kube.selectors import object_matcher
from sandbox.kube.store import Store
from sandbox.kube.subresources import LogProvider, no_logs
from sandbox.kube.watch import WatchHub

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_WATCH_SECONDS = 1800
_HEALTH = ("/healthz", "/livez", "/readyz")


class KubeApiServer:
    """A running API server: ``url``, ``port``, ``shutdown()``. Serves from a daemon thread."""

    def __init__(self, store: Store, host: str, port: int, log_provider: LogProvider | None) -> None:
        self.store = store
        self.api = KubeApi(store)
        self.hub = WatchHub(store)
        self.log_provider: LogProvider = log_provider or no_logs
        self.httpd = _Server((host, port), _Handler)
        self.httpd.kube = self
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name=f"kube-api:{self.port}", daemon=True
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving, end open watch streams and close the socket."""
        self.hub.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> KubeApiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start_kube_api(
    store: Store, host: str = "127.0.0.1", port: int = 0, log_provider: LogProvider | None = None
) -> KubeApiServer:
    """Serve the Kubernetes API over ``store`` on ``host:port`` (0 = a free port) in the background.

    ``log_provider(namespace, pod, container, previous, since_seconds, tail_lines) -> list[str]``
    supplies ``pods/{name}/log``; without one every log is empty.
    """
    return KubeApiServer(store, host, port, log_provider)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    kube: KubeApiServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- plumbing ------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        path, _, raw_query = self.path.partition("?")
        try:
            body = self._read_body()
            self.params = query_params(raw_query)
            self._dispatch(method, path, body)
        except ApiError as err:
            self._send_json(err.code, err.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug must not kill the connection thread silently
            log.warning("kube api: %s %s failed", method, self.path, exc_info=True)
            failure = ApiError(
                500,
                "InternalError",
                f"an error on the server ({type(exc).__name__}: {exc}) has prevented the request from succeeding",
            )
            self._send_json(500, failure.status())

    def _read_body(self) -> bytes:
        try:
            return self._read_raw_body()
        except ValueError as exc:
            self.close_connection = True  # the framing is broken: the rest of the stream is garbage
            raise bad_request(
                f"the request body is malformed ({exc}): send Content-Length or valid chunks"
            ) from None

    def _read_raw_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _parse_body(self, body: bytes) -> Any:
        if not body:
            return None
        content_type = self.headers.get("Content-Type", "")
        if "protobuf" in content_type and self.command == "DELETE":
            return decode_delete_options(body)  # kubectl drain deletes pods through a typed client
        if "protobuf" in content_type or "cbor" in content_type:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the sandbox API server reads JSON and YAML only, not {content_type!r}. kubectl's typed "
                "generators (kubectl create deployment/configmap/secret ...) send protobuf: write the object as "
                "a manifest and use kubectl create -f / apply -f, or the Python client",
            )
        try:
            if "yaml" in content_type:
                return yaml.safe_load(body)
            return json.loads(body)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(
                f"the request body is not valid {'YAML' if 'yaml' in content_type else 'JSON'}: {exc}"
            ) from None

    def _send_json(self, code: int, obj: Any) -> None:
        data = json.dumps(obj, separators=(",", ":")).encode()
        self._send(code, data, "application/json")

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- dispatch ------------------------------------------------------------------------------
    def _dispatch(self, method: str, path: str, raw_body: bytes) -> None:
        path = path.rstrip("/") or "/"
        route = parse_route(path)
        if route is None:
            if method != "GET":
                raise method_not_allowed(method, path)
            self._discovery(path)
            return
        body = self._parse_body(raw_body)
        handler = getattr(self, f"_{method.lower()}", None)
        if handler is None:
            raise method_not_allowed(method, path)
        handler(route, body)

    def _discovery(self, path: str) -> None:
        if path in _HEALTH:
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        doc = discovery_document(path, f"{self.server.kube.host}:{self.server.kube.port}")
        if doc is None:
            raise path_not_found(path)
        self._send_json(200, doc)

    @property
    def _api(self) -> KubeApi:
        return self.server.kube.api

    def _dry_run(self, body: Any = None) -> bool:
        if "All" in self.params.get("dryRun", []):
            return True
        return isinstance(body, dict) and "All" in (body.get("dryRun") or [])

    def _ns(self, route: Route) -> str:
        return route.namespace or ""

    def _manager(self) -> str:
        """Who is writing (recorded in managedFields): ``fieldManager``, else the User-Agent's prefix."""
        return manager_name(last(self.params, "fieldManager"), self.headers.get("User-Agent"))

    # --- verbs ---------------------------------------------------------------------------------
    def _get(self, route: Route, _body: Any) -> None:
        if not route.name:
            self._list_or_watch(route)
            return
        if is_true(self.params, "watch"):
            self._watch(route, f"metadata.name={route.name}")
            return
        if route.sub == "log":
            text = subresources.pod_logs(
                self._api, self.server.kube.log_provider, self._ns(route), route.name,
                {k: v[-1] for k, v in self.params.items()},
            )  # fmt: skip
            self._send(200, text.encode(), "text/plain")
            return
        if route.sub == "scale":
            self._send_json(200, subresources.get_scale(self._api, route.res, self._ns(route), route.name))
            return
        obj = complete(route.res.plural, self._api.get(route.res, self._ns(route), route.name))
        self._send_view(route, [obj], single=obj)

    def _list_or_watch(self, route: Route) -> None:
        if is_true(self.params, "watch"):
            self._watch(route, "")
            return
        matches = object_matcher(
            route.res, last(self.params, "labelSelector"), last(self.params, "fieldSelector")
        )
        listed = self._api.list(
            route.res,
            route.namespace,
            matches,
            int_param(self.params, "limit"),
            last(self.params, "continue"),
        )
        listed["items"] = [complete(route.res.plural, o) for o in listed["items"]]
        self._send_view(route, listed["items"], listing=listed)

    def _send_view(
        self, route: Route, objs: list[Obj], single: Obj | None = None, listing: Obj | None = None
    ) -> None:
        view = wanted_view(self.headers.get("Accept", ""))
        if view == "Table":
            include = last(self.params, "includeObject", "Metadata")
            rv = (listing or {}).get("metadata", {}).get("resourceVersion", "")
            table = printing.table(route.res, objs, include, rv)
            if listing and listing["metadata"].get("continue"):
                table["metadata"]["continue"] = listing["metadata"]["continue"]
            self._send_json(200, table)
        elif view.startswith("PartialObjectMetadata"):
            metas = [printing.partial_metadata(o) for o in objs]
            if single is not None:
                self._send_json(200, metas[0])
            else:
                meta = (listing or {}).get("metadata", {})
                self._send_json(
                    200,
                    {
                        "kind": "PartialObjectMetadataList",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": meta,
                        "items": metas,
                    },
                )
        else:
            self._send_json(200, single if single is not None else listing)

    def _post(self, route: Route, body: Any) -> None:
        if route.name:
            raise method_not_allowed("POST", self.path)
        if route.namespace is None and route.res.namespaced:
            raise bad_request(
                f"a {route.res.kind} must be created in a namespace: POST to .../namespaces/<ns>/{route.res.plural}"
            )
        created = self._api.create(route.res, self._ns(route), body, self._dry_run(), self._manager())
        self._send_json(201, complete(route.res.plural, created))

    def _put(self, route: Route, body: Any) -> None:
        if not route.name:
            raise method_not_allowed("PUT", self.path)
        ns, dry, who = self._ns(route), self._dry_run(), self._manager()
        if route.sub == "scale":
            result = subresources.replace_scale(self._api, route.res, ns, route.name, body, dry, who)
        elif route.sub == "status":
            result = self._api.replace_status(route.res, ns, route.name, body, dry, who)
        elif route.sub:
            raise method_not_allowed("PUT", self.path)
        else:
            result = self._api.replace(route.res, ns, route.name, body, dry, who)
        self._send_json(200, result if route.sub == "scale" else complete(route.res.plural, result))

    def _patch(self, route: Route, body: Any) -> None:
        if not route.name or route.sub == "log":
            raise method_not_allowed("PATCH", self.path)
        if body is None:
            raise bad_request("the PATCH request has an empty body: send the patch document")
        ns, dry, content_type = self._ns(route), self._dry_run(), self.headers.get("Content-Type", "")
        who = self._manager()
        if content_type.split(";")[0].strip().lower() == APPLY and not route.sub:
            applied = self._api.apply(
                route.res, ns, route.name, body, last(self.params, "fieldManager") or "",
                force=is_true(self.params, "force"), dry_run=dry,
            )  # fmt: skip
            self._send_json(200, complete(route.res.plural, applied))
            return
        if route.sub == "scale":
            result = subresources.patch_scale(
                self._api, route.res, ns, route.name, content_type, body, dry, who
            )
        else:
            status = route.sub == "status"
            patched = self._api.patch(
                route.res, ns, route.name, content_type, body, dry, status=status, manager=who
            )
            result = complete(route.res.plural, patched)
        self._send_json(200, result)

    def _delete(self, route: Route, body: Any) -> None:
        if route.sub:
            raise method_not_allowed("DELETE", self.path)
        options = body if isinstance(body, dict) else None
        dry = self._dry_run(body)
        if not route.name:
            matches = object_matcher(
                route.res, last(self.params, "labelSelector"), last(self.params, "fieldSelector")
            )
            listed = self._api.delete_collection(route.res, route.namespace, matches, dry)
            listed["items"] = [complete(route.res.plural, o) for o in listed["items"]]
            self._send_json(200, listed)
            return
        if options is None and last(self.params, "propagationPolicy"):
            options = {"propagationPolicy": last(self.params, "propagationPolicy")}
        deleted = self._api.delete(route.res, self._ns(route), route.name, options, dry)
        self._send_json(200, complete(route.res.plural, deleted))

    # --- watch ---------------------------------------------------------------------------------
    def _watch(self, route: Route, extra_fields: str) -> None:
        fields = ",".join(f for f in (last(self.params, "fieldSelector"), extra_fields) if f)
        matches = object_matcher(route.res, last(self.params, "labelSelector"), fields)
        seconds = int_param(self.params, "timeoutSeconds", DEFAULT_WATCH_SECONDS) or DEFAULT_WATCH_SECONDS
        events = self.server.kube.hub.stream(
            route.res.plural,
            route.namespace,
            matches,
            last(self.params, "resourceVersion"),
            time.monotonic() + seconds,
            alive=self._peer_connected,
        )
        as_table = wanted_view(self.headers.get("Accept", "")) == "Table"
        include = last(self.params, "includeObject", "Metadata")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            for type_, obj in events:
                obj = complete(route.res.plural, copy.deepcopy(obj))  # shared with other watchers: copy
                shown = printing.table(route.res, [obj], include) if as_table else obj
                self._chunk(
                    json.dumps({"type": type_, "object": shown}, separators=(",", ":")).encode() + b"\n"
                )
        except ApiError as err:
            self._chunk(json.dumps({"type": "ERROR", "object": err.status()}).encode() + b"\n")
        finally:
            events.close()
        self._chunk(b"")

    def _peer_connected(self) -> bool:
        """False once the client closed its end (the socket reads as EOF), so an idle watch can end."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return not readable or self.connection.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
