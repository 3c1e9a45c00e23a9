"""The password policy: long enough, and not common or easy to guess (zxcvbn, offline)."""

import re
from collections.abc import Sequence

from zxcvbn import zxcvbn

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 200
# zxcvbn's time grows fast with length (seconds at 200 characters): it scores this prefix, and a
# password whose prefix is hard to guess is hard to guess.
SCORED_CHARS = 64
# zxcvbn's scale: 3 is "safely unguessable": about 10^8 guesses or more, given its dictionaries
# of common passwords, words, names, keyboard patterns, dates and repeats.
MIN_PASSWORD_SCORE = 3


def check_password_strength(password: str, *, known_words: Sequence[str] = ()) -> str:
    """``password`` if the policy allows it, else ValueError saying why and what helps.

    ``known_words`` (the person's email, name) count as guessable too.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    words = []
    for known in known_words:  # "ana.moreau@x.example": ana, moreau, x, example, anamoreau…
        words += [part for part in re.split(r"\W+", known) if part]
        words += [re.sub(r"\W+", "", part) for part in known.split("@") if part]
    verdict = zxcvbn(password[:SCORED_CHARS], user_inputs=words)
    if verdict["score"] < MIN_PASSWORD_SCORE:
        feedback = verdict["feedback"]
        hints = [feedback["warning"], *feedback["suggestions"]]
        why = " ".join(hint.rstrip(".") + "." for hint in hints if hint)
        raise ValueError(f"the password is too easy to guess. {why}".strip())
    return password
