"""Retention settings: whatever text an administrator puts in REGISTER_*RETENTION_DAYS, the register either runs
with a policy whose audit retention outlives the entries it explains, or refuses with the setting's name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from register.governance import MAX_RETENTION_DAYS, PolicyError, RetentionPolicy
from register.store import AUDIT_FLOOR_DAYS

SETTINGS = ("REGISTER_RETENTION_DAYS", "REGISTER_REJECTED_RETENTION_DAYS", "REGISTER_AUDIT_RETENTION_DAYS")

values = st.one_of(
    st.none(),
    st.integers(min_value=-10**15, max_value=10**15).map(str),
    st.integers(min_value=-3, max_value=4000).map(str),
    st.sampled_from(["", " ", "7y", "1e9", "2555.0", "0x10", "２５５５", "٢٥٥٥", "nan", "-0", "+2555", " 2555 "]),
    st.text(max_size=12),
)


@given(st.tuples(values, values, values))
def test_any_setting_gives_a_safe_policy_or_a_named_refusal(texts):
    env = {name: text for name, text in zip(SETTINGS, texts, strict=True) if text is not None}
    try:
        policy = RetentionPolicy.from_settings(env)
    except PolicyError as exc:
        assert any(name in str(exc) for name in env), (env, exc)
        return
    assert policy.audit_days >= AUDIT_FLOOR_DAYS
    assert policy.audit_days >= max(policy.closed_days, policy.rejected_days) + 365
    assert 1 <= policy.closed_days <= MAX_RETENTION_DAYS and 1 <= policy.rejected_days <= MAX_RETENTION_DAYS


def test_defaults_sit_on_the_floor_and_the_examples_from_the_probe_are_refused():
    assert RetentionPolicy.from_settings({}) == RetentionPolicy(2190, 365, AUDIT_FLOOR_DAYS)
    assert RetentionPolicy.from_settings({"REGISTER_AUDIT_RETENTION_DAYS": " 3000 "}).audit_days == 3000
    for bad in ("-1", "0", str(AUDIT_FLOOR_DAYS - 1), "1e9", "２５５５"):
        with pytest.raises(PolicyError, match="REGISTER_AUDIT_RETENTION_DAYS"):
            RetentionPolicy.from_settings({"REGISTER_AUDIT_RETENTION_DAYS": bad})
    with pytest.raises(PolicyError, match="at least 3015 days"):  # entries kept 7 years need 8 years of audit
        RetentionPolicy.from_settings({"REGISTER_RETENTION_DAYS": "2650"})


def test_a_policy_cannot_be_built_below_the_floor_in_code_either():
    with pytest.raises(PolicyError):
        RetentionPolicy(audit_days=-1)
    with pytest.raises(PolicyError):
        RetentionPolicy(closed_days=True)  # type: ignore[arg-type]
