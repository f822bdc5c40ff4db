"""Reports written from the record: the audit log and the change journal.

- :mod:`agent.reports.record` reads both into one list of :class:`ChangeEntry` (what changed, why,
  who approved, which incident, the outcome; changes made outside the agent marked as such);
- :mod:`agent.reports.changes` renders it as a change log (``devops-agent report changes``);
- :mod:`agent.reports.compliance` adds the audit-chain verification, approvals, actions taken
  under auto mode, changes during freeze windows and the sections other modules contribute
  (:mod:`agent.reports.sections`: posture, drift) (``devops-agent report compliance``);
- :mod:`agent.reports.runbook_draft` writes a draft runbook from a resolved incident
  (``devops-agent report runbook``, and the learn node).

Everything shown is redacted (``tools.redact``) and sorted, so the same record renders the same bytes.
"""
