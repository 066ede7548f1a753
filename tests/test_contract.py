"""The contract as types: every member the core uses is in a protocol and in the docs, and the core asks
components what they support only through the contract, once, when they are built."""

import re
from pathlib import Path

import pytest

from ganforge.plugin import contract

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DOCS = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", sorted(contract.PROTOCOLS))
def test_every_member_of_a_protocol_is_documented(kind):
    protocol, _ = contract.PROTOCOLS[kind]
    undocumented = [name for name in contract.members(protocol) if f"`{name}" not in PLUGIN_DOCS]
    assert not undocumented, f"docs/plugins.md does not mention {kind} members {undocumented}"


@pytest.mark.parametrize("kind", sorted(contract.OPTIONAL))
def test_optional_members_are_members_of_the_protocol(kind):
    protocol, _ = contract.PROTOCOLS[kind]
    assert set(contract.OPTIONAL[kind]) <= set(contract.members(protocol))


def test_supports_gives_a_components_own_members_or_the_defaults():
    class Clipped:
        supports_targets = True

        def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets): ...
        def generator_loss(self, fake_logits): ...
        def constrain_discriminator(self, discriminator): ...

    found = contract.supports("loss", Clipped())
    assert found["supports_targets"] is True and found["accepts_penalty"] is True and found["penalty"] is None
    assert found["constrain_discriminator"].__name__ == "constrain_discriminator"
    assert contract.required("loss") == ["discriminator_loss", "generator_loss"]


# hasattr() calls in the core that ask something other than a component
NOT_ABOUT_COMPONENTS = {
    ("data/cache.py", 'hasattr(os, "sched_getaffinity")'),
    ("runs/checkpoint.py", 'hasattr(variable, "numpy")'),
}


def test_the_core_never_asks_a_component_with_hasattr():
    """Optional members are looked up by contract.supports() when a component is built, not in the loop."""
    found = []
    for path in sorted((ROOT / "ganforge").rglob("*.py")):
        relative = path.relative_to(ROOT / "ganforge").as_posix()
        if relative in ("testing.py", "plugin/contract.py"):
            continue  # the contract itself, and the checks that prove a component keeps it
        for call in re.findall(r"hasattr\([^)]*\)", path.read_text(encoding="utf-8")):
            if (relative, call) not in NOT_ABOUT_COMPONENTS:
                found.append(f"{relative}: {call}")
    assert not found
