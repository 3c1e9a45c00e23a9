"""Follow-up tokens and the loop's statistics: pure functions, no database."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.loop import tokens
from hub.loop.stats import percentile, wilson

SECRET = "a-long-random-secret"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_signed_token_verifies_until_it_expires() -> None:
    token = tokens.sign(SECRET, case_id=42, ttl=timedelta(days=14), now=NOW)
    claim = tokens.verify(SECRET, token, now=NOW + timedelta(days=13, hours=23))
    assert (claim.case_id, claim.expires) == (42, int((NOW + timedelta(days=14)).timestamp()))
    with pytest.raises(tokens.ExpiredToken) as expired:
        tokens.verify(SECRET, token, now=NOW + timedelta(days=14))
    assert expired.value.case_id == 42


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("42.", "43.", 1),  # another case
        lambda t: f"{t.split('.')[0]}.{int(t.split('.')[1]) + 86400}.{t.split('.')[2]}",  # later
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
        lambda t: t.rsplit(".", 1)[0],  # no signature
        lambda t: "",
        lambda t: "\uff14\uff12.1.x",  # fullwidth digits: isdigit() but not ASCII
        lambda t: t + ".",
    ],
)
def test_a_tampered_token_is_refused(tamper: object) -> None:
    token = tokens.sign(SECRET, case_id=42, ttl=timedelta(days=14), now=NOW)
    with pytest.raises(tokens.BadToken):
        tokens.verify(SECRET, tamper(token), now=NOW)  # type: ignore[operator]


def test_a_token_of_another_secret_is_forged() -> None:
    token = tokens.sign("another secret", case_id=42, ttl=timedelta(days=14), now=NOW)
    with pytest.raises(tokens.BadToken):
        tokens.verify(SECRET, token, now=NOW)
    # The signing key is derived for follow-ups only: never the raw secret.
    assert tokens.derived_key(SECRET) != SECRET.encode()


def test_percentiles_interpolate_between_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.9) == pytest.approx(7.6)  # 4 + 0.6 * (10 - 4)
    assert percentile([5.0, 1.0], 0.5) == 3.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


def test_wilson_interval() -> None:
    low, high = wilson(8, 10) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 0) is None
    assert wilson(0, 5) == (0.0, pytest.approx(0.4345, abs=1e-4))
