# ruff: noqa: E501  (regex tables read better unbroken)
"""Hand-written cue lists for customer-service text.

Every entry here was written by hand from general knowledge of how customers complain,
ask for a person, or make small talk; none is derived from a benchmark. Patterns are
compiled once, lazily, and matched against lower-cased text.
"""

from __future__ import annotations

import re
from functools import cache

# Complaint cues, each with how strongly it signals a complaint (0..1).
COMPLAINT_CUES: dict[str, float] = {
    # outright verdicts
    r"worst": 1.0,
    r"ridiculous": 1.0,
    r"unacceptable": 1.0,
    r"terrible": 0.9,
    r"horrible": 0.9,
    r"awful": 0.9,
    r"appalling": 1.0,
    r"disgusting": 1.0,
    r"disgraceful": 1.0,
    r"pathetic": 1.0,
    r"outrageous": 1.0,
    r"shameful": 0.9,
    r"incompetent": 1.0,
    r"useless": 1.0,
    r"hopeless": 0.8,
    r"joke": 0.6,
    r"scam": 1.0,
    r"rip[- ]?off": 1.0,
    r"fed up": 1.0,
    r"sick (?:and tired )?of": 1.0,
    r"had enough": 1.0,
    r"never again": 1.0,
    r"never (?:fly|flying|use|using|buy|buying|order|ordering) (?:with )?(?:you|again)": 1.0,
    r"(?:very|so|extremely|really|truly) disappoint\w*": 1.0,
    r"disappoint\w*": 0.8,
    r"frustrat\w*": 0.9,
    r"annoy\w*": 0.8,
    r"furious": 1.0,
    r"angry": 0.9,
    r"livid": 1.0,
    r"upset": 0.8,
    r"rude\w*": 0.9,
    r"lied|lying|liars?": 0.9,
    r"waste of (?:time|money)": 1.0,
    r"wasted? (?:my|\d+|an?|hours|days)": 0.9,
    r"what(?:'s| is) the point": 0.9,
    r"(?:no|zero|not any) help": 0.9,
    r"(?:not|un)helpful": 0.8,
    r"screw(?:ed)? up": 0.9,
    r"mess(?:ed)? up": 0.8,
    r"nightmare": 1.0,
    r"poor (?:service|customer service|communication|job)": 1.0,
    r"(?:bad|horrible|terrible|lousy) (?:service|experience|customer service)": 1.0,
    r"customer (?:no|dis)service": 1.0,
    r"complain\w*": 0.8,
    # waiting and being ignored
    r"still (?:waiting|no|not|nothing|haven'?t|hasn'?t|can'?t|cannot|don'?t|didn'?t|on hold)": 0.9,
    r"(?:been|keep|kept) waiting": 0.9,
    r"waiting (?:for|on) (?:over |more than |almost )?(?:\d+|an?|two|three|several|many) "
    r"(?:min\w*|hours?|hrs?|days?|weeks?)": 0.9,
    r"(?:hours?|days?|weeks?) (?:on hold|later|and still|now)": 0.8,
    r"on hold": 0.7,
    r"(?:no ?one|nobody|no body) (?:\w+ )?(?:answer|respond|repl|help|call|pick|is|will|can|cares)\w*": 1.0,
    r"no (?:response|reply|answer|call ?back|update|information|info|communication)": 0.8,
    r"(?:never|didn'?t|did not|haven'?t|have not) heard (?:back|anything|from)": 0.8,
    r"(?:can'?t|cannot|couldn'?t|unable to) (?:get through|reach|get a hold|get ahold|get anyone)": 1.0,
    r"hung up": 0.9,
    r"ignor\w+": 0.8,
    r"keeps? (?:asking|saying|telling)": 0.7,
    # the same failure again: the experience, not the event
    r"late again": 0.9,
    r"(?:still|again) (?:delayed|cancel+ed|stuck|broken|lost|down|waiting)": 0.9,
    r"(?:have|had|i'?ve|we'?ve) (?:called|emailed|tried|asked|written)": 0.5,
    # verdicts on how it went
    r"(?:why|how) (?:is|isn'?t|does|doesn'?t|did|didn'?t|won'?t|can'?t|would|do|are|aren'?t) "
    r"(?:you|your|there|no ?one|nobody)\b": 0.4,
    r"seriously": 0.7,
    r"hassle\w*": 0.7,
    r"(?:less than|not very|not at all|not) (?:helpful|happy|good|great|impressed|pleased|satisfied|ok|okay|"
    r"acceptable|fair|fun|nice|right|professional|friendly)": 0.8,
    r"sucks?|sucked": 0.9,
    r"no (?:sympathy|apology|explanation|excuse)": 0.6,
    r"lost (?:a |our |my )?(?:customer|business)": 0.9,
    r"(?:figure|get) (?:it|this|your \w+) (?:out|together|right)": 0.6,
    r"(?:ugh+|argh+|smh|ffs|omg)": 0.7,
    r"really\?": 0.6,
    r"unbelievable": 0.9,
    r"come on": 0.7,
}

# What went wrong, in the customer's words: the situation they report, not how they feel about
# it. Every support request describes a problem, so these count toward the message's sentiment
# label (an airline tweet about a delay is negative) but not toward frustration.
SITUATION_CUES: dict[str, float] = {
    r"fail(?:ed|s|ure|ing)?": 0.7,
    r"cancel+ed (?:my|our|the) (?:flight|order|booking|reservation|trip|account)": 0.8,
    r"(?:flight|order|booking|reservation|trip|account) (?:was |got |has been )?cancel+ed": 0.8,
    r"cancel+(?:ed|ation)": 0.5,
    r"delay(?:ed|s)?": 0.6,
    r"late\b": 0.4,
    r"missed (?:my|our|the) (?:connection|flight|appointment|delivery)": 0.8,
    r"stuck": 0.7,
    r"stranded": 1.0,
    r"lost (?:my|our) (?:bag|bags|luggage|baggage|package|order|money)": 1.0,
    r"lost (?:a )?(?:bag\w*|luggage)": 0.9,
    r"(?:damaged|broken|broke|defective|faulty)": 0.7,
    r"crash\w*": 0.5,
    r"keeps? (?:getting|happening|crashing|failing|freezing|stopping|logging)": 0.7,
    r"(?:doesn'?t|does not|didn'?t|did not|won'?t|will not|isn'?t|is not|not) "
    r"(?:work|working|load|loading|arrive|arrived|open)\w*": 0.8,
    r"(?:won'?t|will not) let me": 0.8,
    r"(?:never|didn'?t|did not|haven'?t|have not) (?:got|get|gotten|received?)": 0.8,
    r"charged (?:me )?(?:twice|double|again|wrong|extra)": 1.0,
    r"overcharg\w+|double[- ]charg\w+": 1.0,
    r"refund": 0.6,
    r"compensat\w+": 0.6,
    r"money back": 0.8,
    r"wrong": 0.6,
    r"error": 0.5,
    r"problem": 0.4,
    r"issue": 0.3,
    r"(?:why|how) (?:is|isn'?t|does|doesn'?t|did|didn'?t|won'?t|can'?t|would|do|are|aren'?t) "
    r"(?:it|this|my)\b": 0.4,
    r"(?:why|how come) (?:can'?t|couldn'?t|won'?t|didn'?t|don'?t|doesn'?t|isn'?t|wasn'?t|aren'?t|"
    r"did|do|does|is|was|are|were|would|should|has|have) (?:i|we|you|your|my|our|it|they|this|no)\b": 0.5,
    r"(?:can'?t|cannot|couldn'?t|unable to) (?:even |seem to )?(?:get|find|book|change|check|login|log in|"
    r"access|reach|call|use|pay|make|cancel|see)": 0.5,
    r"refus\w+": 0.8,
    r"(?:an|one|two|three|\d+) (?:more )?(?:hours?|hrs?)(?: (?:late|delay\w*|wait\w*|on hold|later))?": 0.5,
    r"(?:been )?trying (?:to|for)": 0.4,
    r"(?:twice|three times|\dx)": 0.4,
    r"no (?:options?|seats?|way|clue|idea)": 0.6,
    r"(?:fix|sort) (?:this|it|your)": 0.6,
    r"(?:missing|misplaced)": 0.6,
}

# The customer correcting the bot or repeating themselves.
CORRECTION_CUES: dict[str, float] = {
    r"i (?:already|just) (?:said|told|asked|gave|answered|explained|mentioned|did)": 1.0,
    r"i told you": 1.0,
    r"i said\b": 0.9,
    r"as i (?:said|mentioned|told you|stated)": 1.0,
    r"like i (?:said|told you)": 1.0,
    r"i (?:meant|mean)\b": 0.7,
    r"(?:that'?s|that is|this is) not what i (?:asked|said|meant|want|wanted|need|needed)": 1.0,
    r"not what i (?:asked|said|meant|want|wanted|need)": 1.0,
    r"(?:you|u) (?:misunderstood|misunderstand|don'?t understand|didn'?t understand|"
    r"got it wrong|are wrong|'re wrong|aren'?t listening|are not listening|don'?t get it|"
    r"didn'?t get it|didn'?t answer|did not answer|never answered|keep)": 1.0,
    r"read my (?:message|question)": 1.0,
    r"repeat(?:ing)? myself": 1.0,
    r"(?:once|one more time|for the (?:second|third|last) time)": 0.7,
    r"again\b": 0.4,
    r"^(?:no|nope|nah)\b[,.!]?\s*(?:i|that|it|not|the|you|please)": 0.6,
    r"^(?:no|nope|nah)[.!]*$": 0.5,
    r"\b(?:not|isn'?t|wasn'?t) (?:correct|right|it)\b": 0.7,
    r"that'?s wrong|incorrect|mistake": 0.8,
    r"\b(?:actually|instead|rather)\b": 0.3,
    r"(?:already|still) (?:need|want|asked|waiting)": 0.6,
    r"(?:answer|read) (?:my|the) question": 1.0,
    r"i didn'?t (?:ask|say|want)": 0.9,
    r"(?:i |we )?still (?:need|want|don'?t have|do not have|haven'?t (?:got|gotten|received)|"
    r"need to know|have(?:n'?t| not) (?:been|got))": 0.8,
    r"(?:can'?t|cannot|couldn'?t|won'?t|why can'?t|why don'?t) you (?:just )?": 0.6,
    r"you (?:didn'?t|did not|haven'?t|have not|never|forgot to) (?:give|gave|tell|told|provide|"
    r"send|sent|book|answer|mention|say|include)": 0.9,
    r"(?:what|how) about (?:my|the) (?:question|request|order|booking|refund)": 0.6,
    r"(?:may have |must have )?confused you|let me (?:try|say it|put it) (?:again|differently|another way)|"
    r"to be (?:clear|more clear|clearer)|i'?ll (?:ask|say it) again": 0.7,
}

PROFANITY = (
    r"fuck\w*|f\*+k\w*|f\*+|wtf|stfu|shit\w*|s\*+t|bullshit|bs\b|crap\w*|damn\w*|goddamn\w*|"
    r"hell\b|bloody|piss\w*|ass\b|asshole\w*|a\*+|bastard\w*|bitch\w*|sucks?\b|screw (?:you|this)|"
    r"mierda|joder|puta\w*|merde|putain|scheisse|scheiße|verdammt|他妈|妈的|垃圾"
)
INSULTS = (
    r"(?:you|u|your|you'?re|you are|this|stupid|dumb|useless) ?"
    r"(?:idiot\w*|moron\w*|stupid|dumb|useless|incompetent|pathetic|clueless|worthless|"
    r"garbage|trash|rubbish|brain ?dead|imbecile\w*)|"
    r"idiot\w*|moron\w*|imbecile\w*|clown\w*|stupid bot|dumb bot|useless bot|"
    r"idiota|estúpido|estupido|inútil|inutil|débile|abruti|dummkopf|idiot(?:en)?|blöd\w*|笨蛋|白痴|傻"
)

# Asking for a person, in several languages. The verb or the bare request is required,
# so "is a person able to edit invoices?" stays a question about people, not a handoff.
_PERSON_EN = (
    r"(?:a |an |the |some |your )?(?:real |live |actual |human )?"
    r"(?:human(?: being)?|person|people|agent|representative|rep|operator|someone|somebody|"
    r"manager|supervisor|customer service(?: rep(?:resentative)?)?|staff(?: member)?|advisor|adviser|"
    r"support (?:person|agent|team))"
)
HUMAN_REQUEST = (
    # English
    rf"\b(?:talk|speak|chat|get through|be connected|connect me|put me through|transfer me|"
    rf"pass me|hand me over|escalate(?: this| me)?)\b(?: (?:to|with|through to|over to))? {_PERSON_EN}\b",
    rf"\b(?:want|need|get me|give me|find me|let me have|can i have|could i have|may i have)\b "
    rf"(?:to (?:talk|speak|chat) (?:to|with) )?{_PERSON_EN}\b(?! (?:who|that|which|able|can|could|is|are|was))",
    r"\b(?:is there|are there|is anyone|is anybody|is there any) "
    r"(?:a |an )?(?:real |live |actual )?(?:human|person|people|agent)(?: (?:there|i can talk to|i can speak to|available|out there))?\s*\??$",
    r"^(?:an? )?(?:real |live )?(?:human|agent|representative|operator|person|rep|"
    r"customer service|supervisor|manager)(?: please| pls| plz| now| asap)?[.!?]*$",
    r"\b(?:human|agent|representative|operator|person|supervisor|manager) (?:please|pls|plz|now)\b",
    r"\b(?:transfer|escalate|connect|forward) me\b",
    r"\bi (?:want|need|demand) (?:a|an|to) (?:real|live|actual) ",
    r"\bstop (?:the bot|being a bot)|\bnot (?:a|the|this) bot\b|\bno more bots?\b|\bare you (?:a )?(?:real|human|bot)\b",
    # English, indirect: asking to be phoned, or to be contacted or written to by the team
    r"\b(?:call|phone|ring) me(?: back)?(?=$|[.,!?]| (?:back|please|pls|asap|at|on|today|tomorrow|now|as soon|"
    r"when|whenever|urgently|about|regarding|instead|directly|later|this|in the))",
    r"\b(?:give me|get|request|want|like|need|arrange|schedule|book|have|receive) (?:a |an )?(?:phone )?"
    r"(?:call ?back|call from (?:you|your|someone|somebody|a person|an agent|the team|support))\b",
    r"\bcall ?back (?:please|asap|request)\b|\bplease call\b",
    r"\b(?:someone|somebody|anyone|anybody|a person|an agent|your team|the team|one of (?:you|your \w+)|"
    r"a member of (?:your|the) (?:\w+ )?team|(?:the )?support(?: team)?|(?:the )?sales(?: team)?|you guys) "
    r"(?:please |pls )?(?:(?:can|could|would|will|should|to|please|pls) )?(?:please )?"
    r"(?:call|phone|ring|email|e-mail|mail|text|contact|reach out to|get back to|get in touch with|"
    r"follow up with|write to|message) (?:me|us)\b",
    r"\b(?:please |pls )?get back to me\b|\b(?:please |pls )?(?:contact|reach out to|get in touch with) me\b",
    r"\b(?:have|get) (?:someone|somebody|a person|an agent|your team|support) (?:to )?"
    r"(?:call|phone|ring|email|e-mail|contact|reach out|get back|get in touch)",
    # Spanish
    r"\b(?:hablar|comunicarme|comunicar|contactar) con (?:un|una|el|la|alguien|algún|alguna|un ser)?\s*"
    r"(?:agente|persona|humano|humana|operador|operadora|representante|asesor|asesora|"
    r"ejecutivo|ejecutiva|supervisor|encargado|alguien|ser humano)",
    r"\b(?:quiero|necesito|pásame|pasame|ponme|comuníqueme|comuniqueme) (?:con )?(?:un|una|a un|a una)\s*"
    r"(?:agente|persona|humano|operador|representante|asesor)",
    r"\b(?:agente|humano|operador|asesor),? por favor\b",
    r"\b(?:llámenme|llamenme|llámame|llamame|llamadme|contáctenme|contactenme|contáctame|contactame|"
    r"escríbanme|escribanme)\b",
    r"\bque (?:alguien|una persona|un agente|un asesor|ustedes) me (?:llame|llamen|contacte|contacten|"
    r"escriba|escriban|responda|devuelva la llamada)",
    r"\b(?:me (?:pueden|podrían|podrian|puede|podría|podria) (?:llamar|contactar|escribir|devolver la llamada)|"
    r"(?:pueden|podrían|podrian|puede|podría|podria) (?:llamarme|contactarme|escribirme))",
    # French
    r"\bparler (?:à|a|avec) (?:un|une|quelqu'un|quelqu’un|une vraie|un vrai|le|la)?\s*"
    r"(?:conseiller|conseillère|agent|humain|personne|opérateur|operateur|opératrice|responsable|"
    r"quelqu'un|quelqu’un|vrai|vraie|interlocuteur|service client)",
    r"\b(?:je veux|je voudrais|j'aimerais|j’aimerais|je souhaite|passez-moi|passez moi) "
    r"(?:un|une|parler à un|parler à une)\s*(?:conseiller|conseillère|agent|humain|opérateur|vraie personne)",
    r"\b(?:un )?(?:conseiller|humain|agent),? (?:svp|s'il vous plaît|s’il vous plaît|s'il te plaît)",
    r"\b(?:rappelez-moi|rappelez moi|appelez-moi|appelez moi|contactez-moi|contactez moi|recontactez-moi|"
    r"écrivez-moi|ecrivez-moi)\b",
    r"\b(?:qu'on|qu’on|que quelqu'un|que quelqu’un|que vous) me (?:rappelle|rappeliez|appelle|appeliez|"
    r"contacte|contactiez|recontacte|écrive|écriviez)",
    r"\b(?:pouvez|pourriez|pourrait|peut)[- ](?:vous|on|quelqu'un|quelqu’un) (?:me rappeler|m'appeler|m’appeler|"
    r"me contacter|me recontacter|m'écrire|m’écrire)|\bquelqu'un (?:peut|pourrait) (?:me rappeler|m'appeler|"
    r"me contacter|me recontacter)|\bêtre rappelée?\b",
    # German
    r"\bmit (?:einem|einer|jemandem|einem echten|einer echten|dem|der)?\s*"
    r"(?:mitarbeiter\w*|menschen|mensch|person|berater\w*|agenten|kundenberater\w*|kundendienst|"
    r"kundenservice|echten|vorgesetzten|sachbearbeiter\w*)\b.*\b(?:sprechen|reden|verbinden|chatten)",
    r"\b(?:ich (?:will|möchte|moechte|brauche)) (?:einen|eine) (?:echten |echte )?"
    r"(?:menschen|mitarbeiter\w*|berater\w*|person|agenten)",
    r"\b(?:mitarbeiter|mensch|berater),? bitte\b",
    r"\bverbinden sie mich\b",
    r"\b(?:rufen sie|ruft|ruf) mich (?:bitte |doch |umgehend )?(?:zurück|an)\b|\brückruf\w*|"
    r"\b(?:kontaktieren sie|melden sie sich bei|schreiben sie) mich\b|\bmelden sie sich (?:bitte )?bei mir\b",
    r"\b(?:kann|könnte|koennte|soll|sollte) (?:mich )?(?:jemand|ein mitarbeiter|eine mitarbeiterin|ihr team|"
    r"der support|einer von ihnen)(?: \w+){0,4}? (?:mich )?(?:bitte )?(?:anrufen|zurückrufen|kontaktieren|anschreiben|"
    r"per e-mail kontaktieren)",
    # Portuguese and Italian
    r"\bfalar com (?:um|uma|algum|alguém|o|a)?\s*(?:atendente|agente|humano|pessoa|operador|representante)",
    r"\bparlare con (?:un|una|il|la|qualcuno|un vero)?\s*(?:operatore|operatrice|agente|umano|persona|consulente)",
    # Chinese and Japanese
    r"转人工|人工客服|人工服务|转接人工|找人工|接人工|要人工|我要人工|真人客服|找真人|和真人|跟真人|人工坐席|"
    r"轉人工|人工客服|真人|找客服|转客服|联系客服|聯繫客服",
    r"给我打电话|打电话给我|给我回电|回个电话|请回电|回电话给我|电话联系我|请联系我|请尽快联系我|联系一下我|"
    r"給我打電話|打電話給我|給我回電|請回電|請聯繫我|有人联系我|找人联系我|让客服联系我|"
    r"给我发邮件|發郵件給我",
    r"オペレーター|担当者と話|人と話したい|有人対応",
)

# Words at least one of which every human-request pattern contains: a cheap first pass.
HUMAN_REQUEST_HINT = (
    r"(?<![a-z])(?:human|person|people|agent|represent|\brep\b|operat|someone|somebody|anyone|anybody|manager|"
    r"supervis|staff|advis|\bbot|transfer|escalat|connect|forward|customer service|support|"
    r"hablar|comunic|contactar|agente|humano|asesor|pásame|pasame|ponme|parler|conseill|humain|"
    r"passez|mitarbeit|mensch|berater|sprechen|reden|verbinden|falar|parlare|call|phone|ring me|email|"
    r"e-mail|mail|contact|get back|in touch|reach out|write to|message|text me|llam|contáct|contact|escrib|"
    r"rappel|appel|écriv|ecriv|qu'on me|qu’on me|rufen|ruft|ruf mich|rückruf|anruf|zurückruf|kontaktier|melden|"
    r"anschreiben|llám|contácten|contácta|escríb)|"
    r"人工|真人|客服|电话|電話|联系我|聯繫我|回电|回電|邮件|郵件|オペレーター|担当者|人と|有人"
)

GREETING = (
    r"hi+|hello+|hey+|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)|"
    r"morning|evening|hola|buenos días|buenos dias|buenas(?: tardes| noches)?|bonjour|bonsoir|salut|"
    r"hallo|guten (?:tag|morgen|abend)|servus|moin|ciao|olá|ola|你好|您好|嗨|こんにちは"
)
THANKS = (
    r"thanks?|thank you|thank u|thx|ty|tysm|cheers|much appreciated|appreciate it|"
    r"i appreciate (?:it|that|your help)|gracias|muchas gracias|merci|merci beaucoup|danke|"
    r"danke schön|danke schoen|vielen dank|grazie|obrigad[oa]|谢谢|謝謝|多谢|ありがとう"
)
GOODBYE = (
    r"bye|goodbye|good bye|bye bye|see you|see ya|cya|later|take care|have a (?:good|nice|great) "
    r"(?:day|one|night|evening|weekend)|that'?s all|that is all|adiós|adios|hasta luego|au revoir|"
    r"tschüss|tschuess|auf wiedersehen|arrivederci|再见|拜拜|さようなら"
)
# Chat about the bot itself, which it answers in a friendly way and never counts as a failure.
CHITCHAT = (
    r"how are (?:you|u|ya)(?: doing| today)?|how'?s it going|how do you do|what'?s up|sup|"
    r"who are you|what(?:'s| is) your name|what are you|tell me a joke|nice to meet you|"
    r"good bot|you'?re (?:funny|nice|great|cool)|¿?qué tal|¿?cómo estás|comment (?:ça|ca) va|ça va|"
    r"wie geht'?s|wie geht es (?:dir|ihnen)|你好吗|你是谁"
)
# Words that may surround small talk without turning it into a request.
SMALL_TALK_FILLER = (
    r"ok|okay|great|perfect|awesome|cool|nice|good|wonderful|lovely|fine|alright|all right|"
    r"so much|very much|a lot|again|for (?:your|the|all (?:your|the)) (?:help|assistance|time|info|"
    r"information)|for helping|you|there|everyone|all|guys|team|folks|bot|no|yes|yeah|yep|sure|"
    r"that'?s (?:it|all|great|perfect)|i'?m good|that helps|that helped|and|have a|"
    r"(?:that|this) (?:fixed|solved|did) it|(?:it'?s |it )?(?:works|working) (?:now|again)|"
    r"nice day|good day|great day|muy|de nada|por favor|please|sir|madam|friend|mate|again|"
    r"[a-z]+ful|good ?night|all set|got it|very|really|much|(?:i|we) (?:have|got) (?:everything|all) "
    r"(?:i|we) need(?:ed)?|that'?s everything|nothing else|(?:that|it) (?:is|was) (?:all|everything)"
)

# Nudges sent while waiting: "hello?", "anyone there?", "??".
NUDGE = (
    r"^(?:hello+|hi+|hey+|helo+|anyone|anybody|someone|are you there|you there|is anyone there|"
    r"is anybody there|is someone there|still there|anyone there|anybody there|hallo|hola|allo|allô|"
    r"喂|在吗|在嗎|有人吗)\s*\?+[!?]*$|^[?!]{1,}$|^\.{3,}$|"
    r"^(?:anyone|anybody|someone|hello|are you) (?:there|here|home|listening|awake|alive)\s*\?*!*$|"
    r"^(?:any ?(?:update|news|response|reply|answer)s?)\s*\?+$"
)

# Bot replies that decline, fail, or do not understand.
BOT_FAILURE = (
    r"\bi(?:'m| am) (?:sorry|afraid),? (?:but )?(?:i |we )?"
    r"(?:don'?t|do not|can'?t|cannot|couldn'?t|could not|am not able|'m not able|wasn'?t able|"
    r"was unable|am unable|'m unable|didn'?t|did not|have no|do not have|am not sure|'m not sure|"
    r"have not|haven'?t|no longer|won'?t)",
    r"\bi (?:don'?t|do not) (?:have|know|understand|see|quite understand|follow|recognize)",
    r"\bi (?:couldn'?t|could not|can'?t|cannot|was unable to|wasn'?t able to|am unable to|"
    r"am not able to|'m not able to|'m unable to) (?:find|locate|help|answer|understand|do|"
    r"process|complete|book|make|get|access|see|tell)",
    r"\b(?:could|can|would) you (?:please )?(?:rephrase|repeat|clarify|say (?:that|it) again|try again|"
    r"be more specific|reword|word it differently)",
    r"\bi didn'?t (?:understand|get|catch|quite get|quite catch) (?:that|it|you|what)",
    r"\bi(?:'m| am) not sure (?:what|i understand|i follow|how to help|i can)",
    r"\b(?:not|n't) (?:sure|able) (?:i |to )?(?:understand|follow|help with that)",
    r"\bsorry,? (?:i |we )?(?:don'?t|can'?t|cannot|couldn'?t|didn'?t|have no|do not|am not|'m not)",
    r"\b(?:no|zero) (?:results|matches|match|information|info|record|records|availability|answer)\b",
    r"\b(?:nothing|none) (?:matches|matching|found|available)\b",
    r"\bunable to (?:find|help|answer|book|locate|process|complete)",
    r"\b(?:beyond|outside) (?:my|the scope|what i)",
    r"\bi (?:can only|only) help with\b",
    r"\bi'?m (?:just )?a (?:bot|virtual assistant)\b.*\b(?:can'?t|cannot|not able)",
    r"^sorry[,.!]? ?$|^(?:i(?:'m| am) )?sorry,? what\??$|^what\?$|^pardon\??$|^huh\??$",
    r"\bunfortunately\b",
    r"\b(?:there (?:are|is) no|there aren'?t any|there isn'?t any)\b",
    r"\b(?:still )?no (?:\w+ ){0,3}(?:match|matches|available|meet|meets|fit|fits)\b",
    r"\bdon'?t know\b|\bno idea\b|\bnot sure\b",
)

# Anger aimed at the service, the company or the bot (not at the situation): verdicts on them,
# "you people", time wasted by them, giving up on them. Each with its strength (0..1).
SERVICE_ANGER_CUES: dict[str, float] = {
    r"useless|pointless|worthless": 1.0,
    r"you people|you lot": 1.0,
    r"waste of (?:my |our )?(?:time|money)|wast(?:ed|ing) (?:my|our) (?:time|day|money|evening|morning)": 1.0,
    r"thanks? (?:you )?for nothing": 1.0,
    r"worst (?:\w+ )?(?:service|company|airline|support|app|bot|experience|customer service|ever)": 1.0,
    r"(?:your|this|the) (?:\w+ )?(?:service|company|app|bot|support|airline|product|system|website|site) "
    r"(?:is|are|was|has been) (?:a joke|a scam|a disgrace|a nightmare|garbage|trash|rubbish|crap|"
    r"terrible|awful|pathetic|ridiculous|unacceptable|the worst|a mess|hopeless|incompetent)": 1.0,
    r"ridiculous|unacceptable|pathetic|disgraceful|appalling|outrageous|incompetent|shameful|disgusting": 0.9,
    r"(?:(?:this|that|it|you|your \w+) (?:is|are|'s|was|were)|what|such|total|complete|absolute) "
    r"(?:a |an )?(?:joke|scam|rip[- ]?off|disgrace)|scamm\w+|liars?\b|lied to|rude": 0.9,
    r"(?:you(?:'re| are)|you guys are|the bot is|this bot is) (?:not|never) (?:helping|listening|reading)": 1.0,
    r"(?:you|this bot|the bot|your team|nobody|no ?one) (?:don'?t|doesn'?t|do not|does not|never) "
    r"(?:understand|listen|help|care|answer|read)": 0.9,
    r"(?:no|zero|not any) help|(?:not|un)helpful": 0.8,
    r"fed up|sick (?:and tired )?of|had enough|never again|last time i": 1.0,
    r"never (?:fly|flying|use|using|buy|buying|order|ordering) (?:with )?(?:you|again)": 1.0,
    r"(?:i'?m|i am|we'?re|we are) (?:so |really |very |absolutely |extremely )?"
    r"(?:angry|furious|livid|fed up|pissed|disgusted|outraged|done with)": 1.0,
    r"what(?:'s| is) the point|do your job|get your act together|how hard (?:can it be|is it)|"
    r"(?:is this|are you) (?:a joke|kidding|serious|joking)|you(?:'ve| have) got to be kidding": 1.0,
    r"(?:taking|take) my (?:business|money) elsewhere|lost a customer|switch(?:ing)? to (?:a )?competitor": 1.0,
    r"customer (?:no|dis)service|poor (?:service|customer service|communication|job)|"
    r"(?:bad|horrible|terrible|lousy|awful) (?:service|experience|customer service|support)": 1.0,
    r"unbelievable|seriously\?|come on[.!]": 0.8,
}
# The same failure again: aimed at the service only when the message also reports a problem.
REPEATED_FAILURE = r"\b(?:again|as usual|as always|yet again|once again|every (?:single )?time|(?:second|third|fourth|\d+(?:st|nd|rd|th)) time)\b"

# Sarcasm: praise or thanks wrapped around something that went wrong. Each pattern needs a
# problem (situation or complaint cue) elsewhere in the message, except the unambiguous ones.
SARCASM_PRAISE = (
    r"(?:^|[.!?]\s+)(?:oh,? |well,? |wow,? )?(?:great|wonderful|fantastic|perfect|awesome|brilliant|lovely|"
    r"terrific|excellent|super|nice|amazing|just great|way to go|nice job|great job|good job|"
    r"great service|nice one)[,.!… ]+\s*(?:another|again|now|so|just|still|yet|nothing|no)\b|"
    r"just what i (?:needed|wanted)|yeah,? right|"
    r"\b(?:love|loving|enjoy|enjoying|adore) (?:how|that|it when|the fact that|being|spending|waiting|"
    r"sitting|getting|paying)\b"
)
# A message that opens with praise: sarcastic when it goes on about a failure that happened again.
SARCASM_OPENING = (
    r"^(?:oh,? |well,? |wow,? )?(?:great|wonderful|fantastic|perfect|awesome|brilliant|lovely|terrific|"
    r"excellent|super|nice|amazing|just great|way to go)\b"
)
# Thanks closing a message about a repeated failure or a complaint ("late again, thanks a lot").
SARCASM_THANKS = r"\bthanks? (?:a lot|so much|again|a bunch|a million)[.!]*$|\bthank you (?:so much|very much)[.!]*$"
SARCASM_ALONE = (
    r"thanks? (?:you )?for (?:nothing|ruining|wasting|losing|making me wait|the runaround)|"
    r"thanks? for (?:cancel\w*|delaying|the (?:delay|wait))"
)

# The customer telling the bot its answer did not solve the problem.
NOT_HELPED = (
    r"\b(?:didn'?t|did not|doesn'?t|does not|don'?t|won'?t|not) (?:help|helping|helped|work|working|"
    r"solve|fix|answer)\b|\b(?:not|un)helpful\b|\b(?:tried|did|done) (?:that|this|it|all (?:that|of that|"
    r"those))(?: already)?\b|\balready (?:tried|did|done)\b|\bstill (?:not|doesn'?t|don'?t|can'?t|cannot|"
    r"won'?t|isn'?t|the same|broken|failing|crashing|happening|stuck|no)\b|\bsame (?:problem|issue|error|"
    r"thing)\b|\bno luck\b|\bthat'?s not (?:it|what i)\b|"
    r"no (?:me )?(?:ayud[óo]|sirve|funciona|funcionó)|sigue sin|"
    r"(?:ça|ca|cela) (?:ne )?(?:m'a pas aidé|n'a pas aidé|ne marche pas|ne fonctionne pas)|toujours pas|"
    r"hat nicht geholfen|funktioniert (?:immer noch )?nicht|geht (?:immer noch )?nicht|"
    r"没用|没有用|不行|还是不行|没解决|沒用|還是不行"
)

# A short yes to the bot's offer of a person.
ACCEPTANCE = (
    r"^(?:yes|yeah|yep|yup|sure|ok|okay|please|please do|yes please|ok please|yes,? please|"
    r"yes i would|yes i do|i would|do it|go ahead|sí|si|sí,? por favor|claro|oui|oui,? s'il vous plaît|"
    r"ja|ja,? bitte|gerne|好|好的|是|是的|要|需要)[.!]*$"
)

NEGATION = r"\b(?:no|not|never|nothing|nobody|none|nowhere|neither|nor|can'?t|cannot|won'?t|don'?t|doesn'?t|didn'?t|isn'?t|aren'?t|wasn'?t|weren'?t|haven'?t|hasn'?t|hadn'?t|shouldn'?t|wouldn'?t|couldn'?t|ain'?t)\b"

# Zero-shot prototypes for the embedding signal: frustrated customers, and ordinary
# calm requests to contrast against.
FRUSTRATED_PROTOTYPES = (
    "This is ridiculous, I have been waiting for hours and nobody helps me.",
    "You are not helping me at all.",
    "I already told you that, why do you keep asking?",
    "That is not what I asked for.",
    "No, that's wrong. I said something else.",
    "You don't understand what I'm saying.",
    "This is the worst customer service I have ever had.",
    "I'm really frustrated and angry with your company.",
    "Why is no one answering me?",
    "I'm still waiting for my refund and nobody replies.",
    "It still doesn't work and I'm fed up.",
    "Let me talk to a real person, this bot is useless.",
    "You cancelled my flight and now I'm stuck at the airport.",
    "I've asked the same question three times now.",
    "This is unacceptable, I want my money back.",
    "Stop giving me the same useless answer.",
    "I don't like that at all, it's not what I want.",
    "That answer makes no sense.",
)
CALM_PROTOTYPES = (
    "Can you tell me your opening hours?",
    "I'd like to book a table for two tonight.",
    "Thank you, that's very helpful.",
    "How much does the premium plan cost?",
    "Great, that works for me.",
    "I'm looking for a hotel in the city centre.",
    "Could you send me the confirmation by email?",
    "Yes, please go ahead.",
    "What time does the train leave?",
    "I like that one, it sounds good.",
    "I'd like to change my delivery address.",
    "Hi, I have a question about my account.",
    # Calm problem reports: every support request describes something that went wrong.
    "I forgot my password and can't log in.",
    "The app crashes when I open it on my phone.",
    "My flight is delayed, can I change to a later one?",
    "My order arrived damaged, how do I return it?",
    "I was charged twice this month, could you check?",
    "Something is missing from my package.",
    "My payment failed, what should I do?",
    "Is my train cancelled tomorrow?",
)


_CUE_TABLES: dict[str, dict[str, float]] = {
    "complaint": COMPLAINT_CUES,
    "situation": SITUATION_CUES,
    "service_anger": SERVICE_ANGER_CUES,
    "correction": CORRECTION_CUES,
}


def _alternation(patterns: dict[str, float] | tuple[str, ...] | str) -> str:
    if isinstance(patterns, str):
        return patterns
    return "|".join(f"(?:{p})" for p in patterns)


@cache
def compiled(name: str) -> re.Pattern[str]:
    """The named pattern, compiled once on first use."""
    table: dict[str, str] = {
        "profanity": rf"\b(?:{PROFANITY})",
        "insult": rf"(?<!\w)(?:{INSULTS})",
        "human_request": _alternation(HUMAN_REQUEST),
        "human_request_hint": HUMAN_REQUEST_HINT,
        "nudge": NUDGE,
        "bot_failure": _alternation(BOT_FAILURE),
        "negation": NEGATION,
        "repeated_failure": REPEATED_FAILURE,
        "sarcasm_praise": SARCASM_PRAISE,
        "sarcasm_thanks": SARCASM_THANKS,
        "sarcasm_opening": SARCASM_OPENING,
        "sarcasm_alone": SARCASM_ALONE,
        "not_helped": NOT_HELPED,
        "acceptance": ACCEPTANCE,
    }
    return re.compile(table[name], re.IGNORECASE)


@cache
def weighted_cues(name: str) -> tuple[tuple[re.Pattern[str], float, str], ...]:
    """Compiled (pattern, weight, source) triples for a cue table."""
    table = _CUE_TABLES[name]
    return tuple(
        (re.compile(p if p.startswith("^") else rf"(?<![\w'])(?:{p})(?!\w)", re.IGNORECASE), w, p)
        for p, w in table.items()
    )


@cache
def hashtag_cues(name: str) -> tuple[tuple[re.Pattern[str], float], ...]:
    """Cues of a table without word boundaries, for run-together hashtags (#worstserviceever)."""
    return tuple(
        (re.compile(p.replace(" ", "")), w)
        for p, w in _CUE_TABLES[name].items()
        if not p.startswith("^") and len(p) >= 5
    )


@cache
def combined_cues(name: str) -> re.Pattern[str]:
    """Zero-width matches at each word start where some cue of the table begins."""
    table = _CUE_TABLES[name]
    alternatives = "|".join(f"(?:{p.lstrip('^').rstrip('$')})" for p in table)
    return re.compile(rf"(?<![\w'])(?=(?:{alternatives}))", re.IGNORECASE)


@cache
def small_talk_pattern(kind: str) -> re.Pattern[str]:
    """Phrases of one kind of small talk ("filler" gives the words allowed around them)."""
    phrases = {
        "greeting": GREETING,
        "thanks": THANKS,
        "goodbye": GOODBYE,
        "chitchat": CHITCHAT,
        "filler": SMALL_TALK_FILLER,
    }[kind]
    return re.compile(rf"(?<!\w)(?:{phrases})(?!\w)", re.IGNORECASE)
