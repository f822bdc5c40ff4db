"""Security posture: checks of the class of Polaris, kube-score and Checkov's Kubernetes policies.

Checks are pure functions over object dicts (live objects as the API serves them, or manifests as
written), one module per family, gathered in ``tools.posture.registry``. ``tools.posture.run`` runs
them over an :class:`~tools.posture.model.Inventory` and scores each namespace; the CLI
(``devops-agent posture``), the ``posture_check`` tool and the proactive loop share it.
"""
