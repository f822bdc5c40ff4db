"""The API verbs over the store: list, get, create, replace, patch, delete, delete-collection.

Protocol-free: the HTTP layer parses the request and calls these; they raise ``ApiError`` with the
status a real API server would return. Every write accepts ``dry_run`` (``dryRun=All``): the object is
defaulted, validated and returned as it would be stored, and the store is not touched.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from sandbox.kube import admission
from sandbox.kube import apply as ssa
from sandbox.kube.errors import ApiError, already_exists, bad_request, conflict, not_found
from sandbox.kube.managed import UNKNOWN_MANAGER, changed, record_write
from sandbox.kube.patching import apply_patch
from sandbox.kube.resources import RESOURCES, Resource
from sandbox.kube.store import Conflict, NotFound, Store, now_iso

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]

_SERVER_MANAGED = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
)
_PATCH_RETRIES = 5


class KubeApi:
    """CRUD semantics of the Kubernetes API over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads ---------------------------------------------------------------------------------
    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        """One object; 404 NotFound naming the resource as the API server does."""
        try:
            return self.store.get(res.plural, self._ns(res, namespace), name)
        except NotFound:
            raise not_found(res, name) from None

    def list(
        self, res: Resource, namespace: str | None, matches: Matcher, limit: int = 0, token: str = ""
    ) -> Obj:
        """A ``<Kind>List``; ``limit``/``token`` page through it (``metadata.continue``)."""
        rv = self.store.resource_version
        items = [o for o in self.store.list(res.plural, namespace or None) if matches(o)]
        start = _decode_continue(token)
        meta: Obj = {"resourceVersion": str(rv)}
        if limit > 0 and start + limit < len(items):
            meta["continue"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
            items = items[start : start + limit]
        else:
            items = items[start:]
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta, "items": items}

    # --- writes --------------------------------------------------------------------------------
    def create(
        self,
        res: Resource,
        namespace: str,
        body: Any,
        dry_run: bool = False,
        manager: str = UNKNOWN_MANAGER,
        fields: list[Obj] | None = None,
    ) -> Obj:
        """POST: default, validate and store a new object (409 AlreadyExists when the name is taken).

        ``manager`` (the request's field manager) is recorded in ``metadata.managedFields``, or
        ``fields`` are (a create by server-side apply).
        """
        obj = self._prepare_new(res, namespace, body)
        admission.apply_defaults(res, obj)
        admission.validate(res, obj)
        if fields is None:
            record_write(obj, None, manager, now_iso())
        else:
            obj["metadata"]["managedFields"] = fields
        name = obj["metadata"]["name"]
        if dry_run:
            if self.store.try_get(res.plural, self._ns(res, namespace), name) is not None:
                raise already_exists(res, name)
            obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now_iso(), generation=1)
            return obj
        try:
            return self.store.create(res.plural, obj)
        except Conflict:
            raise already_exists(res, name) from None

    def replace(
        self,
        res: Resource,
        namespace: str,
        name: str,
        body: Any,
        dry_run: bool = False,
        manager: str = UNKNOWN_MANAGER,
    ) -> Obj:
        """PUT: replace the object; a stale ``metadata.resourceVersion`` is a 409 Conflict."""
        obj = self._check_body(res, namespace, name, body)
        old = self.get(res, namespace, name)
        if "status" in res.subresources:  # status is only written through /status
            obj.pop("status", None)
            if "status" in old:
                obj["status"] = old["status"]
        expect = str(obj["metadata"].get("resourceVersion") or "")
        return self._store_update(res, old, obj, expect, dry_run, (manager, ""))

    def replace_status(
        self,
        res: Resource,
        namespace: str,
        name: str,
        body: Any,
        dry_run: bool = False,
        manager: str = UNKNOWN_MANAGER,
    ) -> Obj:
        """PUT .../status: only ``status`` of the body is taken."""
        incoming = self._check_body(res, namespace, name, body)
        old = self.get(res, namespace, name)
        obj = copy.deepcopy(old)
        obj["status"] = incoming.get("status", {})
        expect = str(incoming["metadata"].get("resourceVersion") or "")
        return self._store_update(res, old, obj, expect, dry_run, (manager, "status"))

    def patch(
        self,
        res: Resource,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        dry_run: bool = False,
        status: bool = False,
        manager: str = UNKNOWN_MANAGER,
        subresource: str = "",
    ) -> Obj:
        """PATCH the object (or only its status); retried on concurrent writes like a real server.

        ``subresource`` names the door the write came through (``scale``) for managedFields.
        """
        writer = (manager, "status" if status else subresource)
        for _ in range(_PATCH_RETRIES):
            old = self.get(res, namespace, name)
            new = apply_patch(content_type, old, patch)
            new = self._keep_identity(res, old, new, status)
            current = old["metadata"]["resourceVersion"]
            rv = str(new["metadata"].get("resourceVersion") or current)  # a patch may state a precondition
            if rv != current:
                raise conflict(
                    res,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
            try:
                return self._store_update(res, old, new, rv, dry_run, writer)
            except ApiError as err:
                if err.reason != "Conflict":
                    raise
        raise conflict(res, name, "the object is being modified too often; please try again")

    def apply(
        self,
        res: Resource,
        namespace: str,
        name: str,
        applied: Any,
        manager: str,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> Obj:
        """Server-side apply (``sandbox.kube.apply``): create the object, or merge into it as ``manager``.

        409 on a conflict with another manager's field unless ``force``."""
        if not manager or manager == UNKNOWN_MANAGER:
            raise bad_request(
                "PATCH with application/apply-patch+yaml requires the fieldManager query parameter "
                "(kubectl sends fieldManager=kubectl; choose a name that identifies the applier)"
            )
        body = self._check_body(res, namespace, name, applied)
        for _ in range(_PATCH_RETRIES):
            old = self.store.try_get(res.plural, self._ns(res, namespace), name)
            if old is None:
                return self._apply_create(res, namespace, body, manager, dry_run)
            new = ssa.server_side_apply(old, body, manager, now_iso(), force=force)
            new = self._keep_identity(res, old, new, False)
            current = old["metadata"]["resourceVersion"]
            fields = new["metadata"].pop("managedFields")
            if self._apply_is_no_op(res, old, new, fields):
                return (
                    old  # a real server does not write (nor move managedFields times) for an unchanged apply
                )
            try:
                return self._store_update(res, old, new, current, dry_run, (manager, ""), fields)
            except ApiError as err:
                if err.reason != "Conflict":
                    raise
        raise conflict(res, name, "the object is being modified too often; please try again")

    @staticmethod
    def _apply_is_no_op(res: Resource, old: Obj, new: Obj, fields: list[Obj]) -> bool:
        before, after = copy.deepcopy(old), copy.deepcopy(new)
        admission.apply_defaults(res, before)
        admission.apply_defaults(res, after)

        def sets(entries: list[Obj]) -> list[Obj]:
            return [{k: v for k, v in e.items() if k != "time"} for e in entries]

        return not changed(before, after) and sets(old["metadata"].get("managedFields") or []) == sets(fields)

    def _apply_create(self, res: Resource, namespace: str, body: Obj, manager: str, dry_run: bool) -> Obj:
        fields = ssa.new_entry(body, manager, now_iso())
        return self.create(res, namespace, ssa.without_server_meta(body), dry_run, manager, fields)

    def delete(
        self, res: Resource, namespace: str, name: str, options: Obj | None, dry_run: bool = False
    ) -> Obj:
        """DELETE: removed at once (no graceful termination); owned objects are removed too."""
        obj = self.get(res, namespace, name)
        pre = (options or {}).get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"].get("uid"):
            raise conflict(
                res,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {obj['metadata'].get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise conflict(
                res,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        if dry_run:
            return obj
        try:
            deleted = self.store.delete(res.plural, self._ns(res, namespace), name)
        except NotFound:
            raise not_found(res, name) from None
        if (options or {}).get("propagationPolicy") != "Orphan":
            self._collect_garbage(res, deleted)
        return deleted

    def delete_collection(
        self, res: Resource, namespace: str | None, matches: Matcher, dry_run: bool = False
    ) -> Obj:
        listed = self.list(res, namespace, matches)
        if not dry_run:
            for obj in listed["items"]:
                with contextlib.suppress(ApiError):  # already gone: someone else deleted it meanwhile
                    self.delete(res, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], None)
        return listed

    # --- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _ns(res: Resource, namespace: str | None) -> str:
        return (namespace or "") if res.namespaced else ""

    def _prepare_new(self, res: Resource, namespace: str, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request(f"the request body must be a JSON object describing a {res.kind}")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        self._check_kind(res, obj)
        self._check_namespace(res, namespace, meta)
        for key in _SERVER_MANAGED:
            meta.pop(key, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
        return obj

    def _check_body(self, res: Resource, namespace: str, name: str, body: Any) -> Obj:
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise bad_request(f"the request body must be a JSON object describing a {res.kind}")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        self._check_kind(res, obj)
        self._check_namespace(res, namespace, meta)
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        return obj

    @staticmethod
    def _check_kind(res: Resource, obj: Obj) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if (kind and kind != res.kind) or (api_version and api_version != res.api_version):
            raise bad_request(
                f"the body is a {api_version}/{kind}, but the URL is for {res.api_version}/{res.kind}: "
                "send the object to its own resource URL"
            )

    @staticmethod
    def _check_namespace(res: Resource, namespace: str, meta: Obj) -> None:
        if not res.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request "
                f"({meta['namespace']!r} != {namespace!r})"
            )
        meta["namespace"] = namespace

    @staticmethod
    def _keep_identity(res: Resource, old: Obj, new: Obj, status_only: bool) -> Obj:
        """A patch cannot rename, move or retype an object; the main resource cannot write status."""
        if not isinstance(new.get("metadata"), dict):
            raise bad_request("the patch removed or replaced metadata with a non-object")
        for key in ("name", "namespace", "uid", "creationTimestamp"):
            if key in old["metadata"]:
                new["metadata"][key] = old["metadata"][key]
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        if status_only:
            result = copy.deepcopy(old)
            result["status"] = new.get("status", {})
            result["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
            return result
        if "status" in res.subresources:
            new.pop("status", None)
            if "status" in old:
                new["status"] = old["status"]
        return new

    def _store_update(
        self,
        res: Resource,
        old: Obj,
        obj: Obj,
        expect_rv: str,
        dry_run: bool,
        writer: tuple[str, str],
        fields: list[Obj] | None = None,
    ) -> Obj:
        """Default, validate, record the writer (manager, subresource) and store (or only return).

        ``fields``: the managedFields the write leaves (server-side apply computes its own)."""
        admission.apply_defaults(res, obj)
        admission.validate(res, obj)
        if fields is None:
            baseline = copy.deepcopy(old)  # objects the simulation wrote may lack the defaults
            admission.apply_defaults(res, baseline)
            record_write(obj, baseline, writer[0], now_iso(), subresource=writer[1])
        else:
            obj["metadata"]["managedFields"] = fields
        name = old["metadata"]["name"]
        if dry_run:
            if expect_rv and expect_rv != old["metadata"]["resourceVersion"]:
                raise conflict(
                    res,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
            bump = obj.get("spec") != old.get("spec")
            obj["metadata"]["generation"] = old["metadata"].get("generation", 1) + (1 if bump else 0)
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return obj
        try:
            return self.store.update(res.plural, obj, expect_rv=expect_rv or None)
        except Conflict:
            raise conflict(
                res,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ) from None
        except NotFound:
            raise not_found(res, name) from None

    def _collect_garbage(self, res: Resource, deleted: Obj) -> None:
        """Delete what the deleted object owned (background propagation) and, for a namespace, its contents."""
        uid = deleted["metadata"].get("uid")
        is_namespace = res.plural == "namespaces"
        for other in RESOURCES:
            if not other.namespaced:
                continue
            for obj in self.store.list(other.plural, deleted["metadata"]["name"] if is_namespace else None):
                owners = obj["metadata"].get("ownerReferences") or []
                if is_namespace or any(o.get("uid") == uid for o in owners):
                    with contextlib.suppress(ApiError):  # already gone
                        self.delete(other, obj["metadata"]["namespace"], obj["metadata"]["name"], None)


def _decode_continue(token: str) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode()))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            410,
            "Expired",
            f"the provided continue parameter is too old or invalid: {token!r}; list again without it",
        ) from None
