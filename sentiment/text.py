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
    situation: float
    situation_cues: tuple[str, ...]
    service_anger: float
    service_anger_cues: tuple[str, ...]
    sarcasm: float
    sarcasm_cue: str | None
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
    # The sentiment without the words that only describe the situation ("delayed", "broken"):
    # how the customer feels, which is what frustration reads.
    emotion: float


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


@dataclass(frozen=True)
class _Cues:
    strength: float  # noisy-or of the weights of the cues found
    found: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # where they matched in the lowered text


def _cue_strength(kind: str, lowered: str, hashtags: tuple[str, ...] = ()) -> _Cues:
    """The cues of table `kind` found in the text, and how strongly they count together."""
    keep = 1.0
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for tag in hashtags:
        for pattern, weight in lexicon.hashtag_cues(kind):
            match = pattern.search(tag)
            if match:
                keep *= 1.0 - weight
                found.append("#" + match.group(0))
                break
    # One scan finds where any cue may start; only there are the single cues tried.
    starts = [m.start() for m in lexicon.combined_cues(kind).finditer(lowered)]
    for pattern, weight, _source in lexicon.weighted_cues(kind) if starts else ():
        for start in starts:
            match = pattern.match(lowered, start)
            if match:
                keep *= 1.0 - weight
                found.append(match.group(0).strip())
                spans.append(match.span())
                break
    return _Cues(1.0 - keep, tuple(found), tuple(spans))


def _without(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """`text` with the given character spans cut out."""
    kept, last = [], 0
    for start, end in sorted(spans):
        if start >= last:
            kept.append(text[last:start])
            last = end
    kept.append(text[last:])
    return " ".join(" ".join(kept).split())


def _sarcasm(
    lowered: str, problem: bool, repeated: bool, complaint: float
) -> tuple[float, str | None]:
    """Praise or thanks around something that went wrong: 'great, another delay. thanks a lot'."""
    if match := lexicon.compiled("sarcasm_alone").search(lowered):
        return 1.0, match.group(0).strip()
    if problem and (match := lexicon.compiled("sarcasm_praise").search(lowered)):
        return 1.0, match.group(0).strip(" ,.!?")
    if repeated and (match := lexicon.compiled("sarcasm_opening").search(lowered)):
        return 1.0, match.group(0).strip(" ,.!?")
    if (repeated or complaint > 0) and (
        match := lexicon.compiled("sarcasm_thanks").search(lowered)
    ):
        return 0.8, match.group(0).strip(" ,.!?")
    return 0.0, None


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
    """'greeting', 'thanks', 'goodbye' or 'chitchat' (about the bot: "how are you?") when the
    message is only that, else None."""
    lowered = text.strip().lower()
    if not lowered or len(lowered) > 120:
        return None
    kinds = [
        k
        for k in ("goodbye", "thanks", "chitchat", "greeting")
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


def detect_not_helped(text: str) -> bool:
    """True when the customer says an answer did not solve it ("still not working")."""
    return bool(lexicon.compiled("not_helped").search(" ".join(text.lower().split())))


def detect_acceptance(text: str) -> bool:
    """True for a short yes ("yes please", "sí", "ja bitte"), as a reply to an offer."""
    return bool(lexicon.compiled("acceptance").search(" ".join(text.lower().split())))


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
    complaint = _cue_strength("complaint", lowered, hashtags)
    situation = _cue_strength("situation", lowered, hashtags)
    correction = _cue_strength("correction", lowered)
    service_anger = _cue_strength("service_anger", lowered, hashtags)
    anger_strength, anger_cues = service_anger.strength, service_anger.found
    repeated = next(
        (
            m
            for m in lexicon.compiled("repeated_failure").finditer(lowered)
            if any(
                m.start() - 12 <= end and start <= m.end() + 12 for start, end in situation.spans
            )
        ),
        None,
    )
    if repeated:
        # "delayed again", "crashed for the third time": the service keeps failing them.
        anger_strength = 1.0 - (1.0 - anger_strength) * 0.4
        anger_cues = (*anger_cues, f"{repeated.group(0)!r} about a problem")
    sarcasm, sarcasm_cue = _sarcasm(
        lowered, situation.strength + complaint.strength > 0, bool(repeated), complaint.strength
    )
    profanity = tuple(m.group(0) for m in lexicon.compiled("profanity").finditer(lowered))
    insults = tuple(m.group(0) for m in lexicon.compiled("insult").finditer(lowered))
    shouting, caps = _shouting(cleaned)
    runs = _PUNCT_RUN.findall(text)
    negations = len(lexicon.compiled("negation").findall(lowered))
    # The label reads complaint and situation alike: a tweet about a delay is negative.
    problem = 1.0 - (1.0 - complaint.strength) * (1.0 - situation.strength)
    sentiment = combine_sentiment(vader, polarity, problem, negations)
    emotion = combine_sentiment(vader, polarity, complaint.strength, negations)
    if situation.spans:
        felt = _without(cleaned if len(cleaned) == len(lowered) else lowered, situation.spans)
        felt_polarity = _textblob(felt)[0] if felt else 0.0
        felt_vader = float(_vader().polarity_scores(felt)["compound"]) if felt else 0.0
        felt_negations = len(lexicon.compiled("negation").findall(felt.lower()))
        emotion = combine_sentiment(felt_vader, felt_polarity, complaint.strength, felt_negations)
    return MessageFeatures(
        polarity=polarity,
        subjectivity=subjectivity,
        vader=vader,
        complaint=complaint.strength,
        complaint_cues=complaint.found,
        situation=situation.strength,
        situation_cues=situation.found,
        service_anger=anger_strength,
        service_anger_cues=anger_cues,
        sarcasm=sarcasm,
        sarcasm_cue=sarcasm_cue,
        correction=correction.strength,
        correction_cues=correction.found,
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
        emotion=emotion,
    )


def classify_sentiment(text: str) -> tuple[str, float]:
    """Label and combined sentiment in [-1, 1] for one message."""
    features = analyze(text)
    return features.label, features.sentiment
