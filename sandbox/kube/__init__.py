"""The Kubernetes API stand-in: an object store and the HTTP API server over it."""

from sandbox.kube.kubeconfig import write_kubeconfig
from sandbox.kube.server import KubeApiServer, start_kube_api

__all__ = ["KubeApiServer", "start_kube_api", "write_kubeconfig"]
