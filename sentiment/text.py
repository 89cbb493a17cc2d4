"""What one message says on its own: sentiment, complaint cues, shouting, requests for a person.

TextBlob gives polarity and subjectivity, VADER (which handles negation, intensifiers, caps and
exclamation marks) gives a compound score, and a hand-written complaint lexicon catches the
customer-service phrasing both miss ("still waiting", "cancelled my flight"). Only
`TextBlob(text).sentiment` is used: `.words` and `.sentences` need NLTK corpora we cannot fetch.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from sentiment import lexicon

# How the three sentiment sources combine, and where the labels split. A handful of numbers,
# set by hand and checked against the airline and TweetEval sets.
VADER_WEIGHT = 0.55
TEXTBLOB_WEIGHT = 0.35
COMPLAINT_WEIGHT = 0.8
NEGATION_WEIGHT = 0.2
NEGATIVE_BELOW = -0.1
POSITIVE_ABOVE = 0.3

_MENTION = re.compile(r"(?<!\w)@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_HASH = re.compile(r"(?<!\w)#(\w)")
_HASHTAG = re.compile(r"(?<!\w)#(\w{4,})")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_PUNCT_RUN = re.compile(r"[!?！？]{2,}")
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class MessageFeatures:
    """Per-message measures that need no conversation context."""

    polarity: float
    subjectivity: float
    vader: float
    complaint: float
    complaint_cues: tuple[str, ...]
    correction: float
    correction_cues: tuple[str, ...]
    negations: int
    profanity: tuple[str, ...]
    insults: tuple[str, ...]
    shouting: float
    caps_words: tuple[str, ...]
    punctuation_run: int
    small_talk: str | None
    human_request: bool
    nudge: bool
    words: int
    sentiment: float
    label: str


@cache
def _vader():  # type: ignore[no-untyped-def]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _textblob(text: str) -> tuple[float, float]:
    # The analyser behind TextBlob(text).sentiment, called directly: same numbers, without the
    # blob and the namedtuple class TextBlob builds on every call.
    from textblob.en import sentiment as pattern_sentiment

    polarity, subjectivity = pattern_sentiment(text)
    return float(polarity), float(subjectivity)


def clean_for_sentiment(text: str) -> str:
    """Drop what carries no sentiment in social text: @handles, links, hash marks, entities."""
    text = html.unescape(text)
    text = _MENTION.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _HASH.sub(r"\1", text)
    return " ".join(text.split())


def _cue_strength(
    kind: str, lowered: str, hashtags: tuple[str, ...] = ()
) -> tuple[float, tuple[str, ...]]:
    """Noisy-or of the weights of the cues found, and which matched."""
    keep = 1.0
    found: list[str] = []
    for tag in hashtags:
        for pattern, weight in lexicon.hashtag_cues():
            match = pattern.search(tag)
            if match:
                keep *= 1.0 - weight
                found.append("#" + match.group(0))
                break
    # One scan finds where any cue may start; only there are the single cues tried.
    starts = [m.start() for m in lexicon.combined_cues(kind).finditer(lowered)]
    if not starts:
        return 1.0 - keep, tuple(found)
    for pattern, weight, _source in lexicon.weighted_cues(kind):
        for start in starts:
            match = pattern.match(lowered, start)
            if match:
                keep *= 1.0 - weight
                found.append(match.group(0).strip())
                break
    return 1.0 - keep, tuple(found)


def _shouting(text: str) -> tuple[float, tuple[str, ...]]:
    words = _LATIN_WORD.findall(text)
    # Two-letter capitals are mostly codes and acronyms (AA, UK, OK), not raised voices.
    caps = tuple(w for w in words if w.isupper() and len(w) >= 3)
    if len(caps) < 2 and not (len(words) == 1 and caps and len(caps[0]) >= 4):
        return 0.0, caps
    ratio = len(caps) / len(words)
    return min(1.0, max(0.0, (ratio - 0.2) / 0.5)), caps


def combine_sentiment(vader: float, polarity: float, complaint: float, negations: int = 0) -> float:
    """One sentiment in [-1, 1] from VADER, TextBlob, complaint strength and negations."""
    raw = (
        VADER_WEIGHT * vader
        + TEXTBLOB_WEIGHT * polarity
        - COMPLAINT_WEIGHT * complaint
        - NEGATION_WEIGHT * min(1.0, negations / 2)
    )
    return max(-1.0, min(1.0, raw))


def label_for(sentiment: float) -> str:
    """negative, neutral or positive, by the fixed split points."""
    if sentiment < NEGATIVE_BELOW:
        return "negative"
    if sentiment > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def detect_small_talk(text: str) -> str | None:
    """'greeting', 'thanks' or 'goodbye' when the message is only that, else None."""
    lowered = text.strip().lower()
    if not lowered or len(lowered) > 120:
        return None
    kinds = [
        k
        for k in ("goodbye", "thanks", "greeting")
        if lexicon.small_talk_pattern(k).search(lowered)
    ]
    if not kinds:
        return None
    rest = lowered
    for kind in (*kinds, "filler"):
        rest = lexicon.small_talk_pattern(kind).sub(" ", rest)
    if WORD.search(rest):
        return None
    return kinds[0]


def detect_human_request(text: str) -> bool:
    """True when the customer asks to talk to a person (English, Spanish, French, German,
    Chinese, and a few more)."""
    lowered = " ".join(text.lower().split())
    if not lexicon.compiled("human_request_hint").search(lowered):
        return False
    return bool(lexicon.compiled("human_request").search(lowered))


def looks_like_bot_failure(text: str) -> bool:
    """True for bot text that declines, finds nothing, or does not understand."""
    return bool(lexicon.compiled("bot_failure").search(text.lower()))


def is_nudge(text: str) -> bool:
    """'hello?', 'anyone there?', '??': a customer chasing an answer."""
    return bool(lexicon.compiled("nudge").search(text.strip().lower()))


@lru_cache(maxsize=8192)
def analyze(text: str) -> MessageFeatures:
    """All context-free measures of one message (cached by text)."""
    cleaned = clean_for_sentiment(text)
    lowered = cleaned.lower()
    polarity, subjectivity = _textblob(cleaned) if cleaned else (0.0, 0.0)
    vader = float(_vader().polarity_scores(cleaned)["compound"]) if cleaned else 0.0
    hashtags = tuple(tag.lower() for tag in _HASHTAG.findall(text))
    complaint, complaint_cues = _cue_strength("complaint", lowered, hashtags)
    correction, correction_cues = _cue_strength("correction", lowered)
    profanity = tuple(m.group(0) for m in lexicon.compiled("profanity").finditer(lowered))
    insults = tuple(m.group(0) for m in lexicon.compiled("insult").finditer(lowered))
    shouting, caps = _shouting(cleaned)
    runs = _PUNCT_RUN.findall(text)
    negations = len(lexicon.compiled("negation").findall(lowered))
    sentiment = combine_sentiment(vader, polarity, complaint, negations)
    return MessageFeatures(
        polarity=polarity,
        subjectivity=subjectivity,
        vader=vader,
        complaint=complaint,
        complaint_cues=complaint_cues,
        correction=correction,
        correction_cues=correction_cues,
        negations=negations,
        profanity=profanity,
        insults=insults,
        shouting=shouting,
        caps_words=caps,
        punctuation_run=max((len(r) for r in runs), default=0),
        small_talk=detect_small_talk(text),
        human_request=detect_human_request(text),
        nudge=is_nudge(text),
        words=len(WORD.findall(text)),
        sentiment=sentiment,
        label=label_for(sentiment),
    )


def classify_sentiment(text: str) -> tuple[str, float]:
    """Label and combined sentiment in [-1, 1] for one message."""
    features = analyze(text)
    return features.label, features.sentiment
