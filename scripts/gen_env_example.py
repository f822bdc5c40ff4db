"""Write .env.example from agent/settings.py (every field, its description and default).

    python scripts/gen_env_example.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic_core import PydanticUndefined  # noqa: E402

from agent.settings import Settings  # noqa: E402

HEADER = """# devops-agent settings. Every field of agent/settings.py, with its default.
# Copy to .env (or export the variables); precedence: arguments > environment > .env > YAML file > defaults.
# A YAML config file (keys without the prefix) can be given with DEVOPS_AGENT_CONFIG_FILE.
# OPENAI_BASE_URL / OPENAI_API_KEY are used when the LLM fields below are unset.
"""


def _default(field: object) -> str:
    default = getattr(field, "default", None)
    if default is PydanticUndefined:
        factory = getattr(field, "default_factory", None)
        default = factory() if callable(factory) else None
    if default is None:
        return ""
    if isinstance(default, list):
        return ",".join(str(x) for x in default)
    return str(default)


def render() -> str:
    parts = [HEADER]
    for name, field in Settings.model_fields.items():
        parts.append(f"# {field.description}\nDEVOPS_AGENT_{name.upper()}={_default(field)}\n")
    return "\n".join(parts)


if __name__ == "__main__":
    (ROOT / ".env.example").write_text(render())
    print("wrote .env.example")
