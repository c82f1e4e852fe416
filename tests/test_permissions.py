"""Who holds which role: register/permissions.py RoleTable, asked on every message."""

from __future__ import annotations

import pytest

from register.model import Actor
from register.permissions import Role, RoleTable

TABLE = RoleTable.from_dict(
    {"users": {"AAD-APPROVER": "approver", "29:teams-admin": "administrator", "aad-odd": "no such role"}},
    bootstrap_admins=["AAD-Boot"],
)


@pytest.mark.parametrize(("actor", "role"), [
    (Actor(user_id="29:anyone"), Role.STAFF),
    (Actor(user_id="", aad_object_id=""), Role.STAFF),
    (Actor(user_id="29:x", aad_object_id="aad-approver"), Role.APPROVER),  # keys are case-insensitive
    (Actor(user_id="29:TEAMS-ADMIN"), Role.ADMINISTRATOR),  # by Teams user id too
    (Actor(user_id="29:teams-admin", aad_object_id="aad-approver"), Role.ADMINISTRATOR),  # the higher of the two
    (Actor(user_id="29:x", aad_object_id="aad-boot"), Role.ADMINISTRATOR),  # REGISTER_ADMINS, whatever the table
    (Actor(user_id="aad-boot"), Role.ADMINISTRATOR),
    (Actor(user_id="29:x", aad_object_id="aad-odd"), Role.STAFF),  # an unknown role grants nothing
])
def test_role_of(actor, role):
    assert TABLE.role_of(actor) is role


def test_holders_include_the_bootstrap_administrators():
    assert TABLE.holders(Role.ADMINISTRATOR) == ["29:teams-admin", "aad-boot"]
    assert TABLE.holders(Role.APPROVER) == ["29:teams-admin", "aad-approver", "aad-boot"]
