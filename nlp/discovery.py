"""Topic discovery: group texts that fit no known topic, and name each group by its keywords.

Clustering is "community detection" on cosine similarity: the text with the most neighbours above
``similarity`` starts a group with those neighbours, and so on while groups of ``min_size`` remain
(deterministic, no number of clusters to guess). Keywords are the words most over-represented in a
group compared with all the texts (a class-based TF-IDF, as BERTopic labels its topics).
"""

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
NOT_WORDS = re.compile(r"https?://\S+|[@#]\S+")  # links, @handles and #tags name no theme
_STOPWORD_LINES = """
the and for that this with you your are was were have has had not but they them their our
out get got just all any can could would should will from when what which there here been
very more much some into than then also its it's i'm don't didn't about again after only
los las del que por con una para como pero más muy sus les este esta esto todo todos cuando
hay fue son ser sin sobre entre también nos mis porque desde hasta otra otro donde ya
não nao uma com para por mais mas como que dos das isso esse essa está estão foi são ser
sem sobre entre também nos meu minha meus minhas porque desde até outra outro onde já pra
"""
STOPWORDS = frozenset(_STOPWORD_LINES.split())  # en, es, pt function words


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group of similar texts: their positions, distinctive keywords, and the most typical."""

    members: list[int]
    keywords: list[str]
    examples: list[int]


def discover(
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    similarity: float,
    min_size: int = 5,
    max_clusters: int = 10,
    keywords: int = 3,
) -> list[Cluster]:
    """Groups of at least ``min_size`` mutually similar texts, largest first."""
    if len(texts) < min_size:
        return []
    neighbours = (vectors @ vectors.T) >= similarity
    free = np.ones(len(texts), dtype=bool)
    groups: list[list[int]] = []
    while len(groups) < max_clusters:
        counts = (neighbours & free[None, :]).sum(axis=1) * free
        seed = int(np.argmax(counts))
        if counts[seed] < min_size:
            break
        members = [int(i) for i in np.flatnonzero(neighbours[seed] & free)]
        free[members] = False
        groups.append(members)
    document_frequency = _document_frequency(texts)
    return [
        Cluster(
            members=members,
            keywords=_keywords(
                [texts[i] for i in members], document_frequency, len(texts), keywords
            ),
            examples=_typical(vectors, members, 5),
        )
        for members in groups
    ]


def _words(text: str) -> list[str]:
    return [w for w in WORD.findall(NOT_WORDS.sub(" ", text.lower())) if w not in STOPWORDS]


def _document_frequency(texts: Sequence[str]) -> Counter[str]:
    return Counter(word for text in texts for word in set(_words(text)))


def _keywords(members: list[str], frequency: Counter[str], total: int, count: int) -> list[str]:
    in_group = Counter(word for text in members for word in set(_words(text)))
    score = {
        word: (n / len(members)) * math.log(1 + total / frequency[word])
        for word, n in in_group.items()
        if n >= 2
    }
    return [word for word, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]


def _typical(vectors: np.ndarray, members: list[int], count: int) -> list[int]:
    centre = vectors[members].mean(axis=0)
    order = np.argsort(-(vectors[members] @ centre))[:count]
    return [members[i] for i in order]
