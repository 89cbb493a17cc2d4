"""The widget's own words, in the five languages the bot recognises requests for a person in
(sentiment.lexicon: English, Spanish, French, German, Chinese), and the widget's settings.

`/widget.js` carries one language, picked from the browser's Accept-Language (English when none
fits), and the look from Settings; `data-*` attributes on the script tag override the look.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.settings import Settings

LANGUAGES = ("en", "es", "fr", "de", "zh")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "helpful_group": "Was this answer helpful?",
        "transcript": "Email me this transcript",
        "transcript_sent": "Sent! Check your inbox.",
        "greeting": "Hi! I'm {name}. Ask me a question and I'll find the answer "
        "in our help centre. You can talk to a person at any time.",
        "you": "You",
        "agent": "Support team",
        "status_bot": "Our assistant answers right away",
        "status_waiting": "Waiting for a person, who will see this conversation",
        "status_agent": "You're chatting with the support team",
        "status_resolved": "This conversation is resolved",
        "open": "Open support chat",
        "close_chat": "Close support chat",
        "close": "Close chat",
        "log": "Conversation",
        "talk": "Talk to a person",
        "placeholder": "Type your question…",
        "message_to": "Message to",
        "send": "Send",
        "attach": "Attach a file",
        "attachment_opening": "Opening {name}…",
        "attachment_failed": "Could not open {name}.",
        "helpful_q": "Was this helpful?",
        "helpful": "Helpful",
        "not_helpful": "Not helpful",
        "thanks": "Thanks!",
        "sorry": "Sorry about that. Try rephrasing, or talk to a person.",
        "source": "Source: ",
        "sending": "Sending…",
        "not_sent": "Not sent.",
        "retry": "Retry",
        "typing": "{name} is typing…",
        "rated": "Thanks for rating this conversation!",
        "rate_q": "How did we do? Rate this conversation",
        "rate_comment": "Anything to add? (optional, send it with your rating)",
        "rating": "{n} of 5, {label}",
        "ratings": "Very poor|Poor|OK|Good|Great",
        "unreachable": "We can't reach support right now. Check your connection and try again.",
        "ended": "That conversation has ended. Press Retry to start a new one.",
        "withdraw": "Keep chatting with the assistant",
        "wait_sla": "A person usually replies within {wait}.",
        "wait_position": "You're number {position} in line.",
        "wait_late": "This is taking longer than usual: you've waited {waited}. "
        "We haven't forgotten you.",
        "wait_closed": "Our team is offline; they'll pick this up {when}.",
        "email_ask": "Leave your email and we'll reply there too.",
        "email_label": "Your email",
        "email_save": "Send",
        "email_saved": "Thanks! We'll also reply to {email}.",
        "email_bad": "That doesn't look like an email address.",
        "minutes": "{n} minutes",
        "minute": "1 minute",
    },
    "es": {
        "helpful_group": "¿Te ha servido esta respuesta?",
        "transcript": "Enviarme esta conversación por correo",
        "transcript_sent": "¡Enviado! Revisa tu correo.",
        "greeting": "¡Hola! Soy {name}. Hazme una pregunta y buscaré la "
        "respuesta en nuestro centro de ayuda. Puedes hablar con una "
        "persona cuando quieras.",
        "you": "Tú",
        "agent": "Equipo de soporte",
        "status_bot": "Nuestro asistente responde al instante",
        "status_waiting": "Esperando a una persona, que verá esta conversación",
        "status_agent": "Estás hablando con el equipo de soporte",
        "status_resolved": "Esta conversación está resuelta",
        "open": "Abrir el chat de soporte",
        "close_chat": "Cerrar el chat de soporte",
        "close": "Cerrar el chat",
        "log": "Conversación",
        "talk": "Hablar con una persona",
        "placeholder": "Escribe tu pregunta…",
        "message_to": "Mensaje para",
        "send": "Enviar",
        "attach": "Adjuntar un archivo",
        "attachment_opening": "Abriendo {name}…",
        "attachment_failed": "No se pudo abrir {name}.",
        "helpful_q": "¿Te ha servido?",
        "helpful": "Útil",
        "not_helpful": "No útil",
        "thanks": "¡Gracias!",
        "sorry": "Lo sentimos. Prueba a reformularlo o habla con una persona.",
        "source": "Fuente: ",
        "sending": "Enviando…",
        "not_sent": "No enviado.",
        "retry": "Reintentar",
        "typing": "{name} está escribiendo…",
        "rated": "¡Gracias por valorar esta conversación!",
        "rate_q": "¿Qué tal lo hicimos? Valora esta conversación",
        "rate_comment": "¿Algo más? (opcional, se envía con tu valoración)",
        "rating": "{n} de 5, {label}",
        "ratings": "Muy mal|Mal|Regular|Bien|Excelente",
        "unreachable": "Ahora no podemos conectar con soporte. Revisa tu conexión e inténtalo "
        "de nuevo.",
        "ended": "Esa conversación ha terminado. Pulsa Reintentar para empezar otra.",
        "withdraw": "Seguir con el asistente",
        "wait_sla": "Una persona suele responder en {wait}.",
        "wait_position": "Eres el número {position} en la cola.",
        "wait_late": "Está tardando más de lo habitual: llevas {waited} esperando. "
        "No nos hemos olvidado de ti.",
        "wait_closed": "Nuestro equipo no está disponible; lo atenderá {when}.",
        "email_ask": "Déjanos tu correo y también te responderemos allí.",
        "email_label": "Tu correo",
        "email_save": "Enviar",
        "email_saved": "¡Gracias! También responderemos a {email}.",
        "email_bad": "Eso no parece una dirección de correo.",
        "minutes": "{n} minutos",
        "minute": "1 minuto",
    },
    "fr": {
        "helpful_group": "Cette réponse vous a-t-elle aidé ?",
        "transcript": "M'envoyer cette conversation par e-mail",
        "transcript_sent": "Envoyé ! Consultez votre boîte de réception.",
        "greeting": "Bonjour ! Je suis {name}. Posez-moi une question et je "
        "chercherai la réponse dans notre centre d'aide. Vous pouvez "
        "parler à une personne à tout moment.",
        "you": "Vous",
        "agent": "Équipe support",
        "status_bot": "Notre assistant répond tout de suite",
        "status_waiting": "En attente d'une personne, qui verra cette conversation",
        "status_agent": "Vous discutez avec l'équipe support",
        "status_resolved": "Cette conversation est résolue",
        "open": "Ouvrir le chat d'assistance",
        "close_chat": "Fermer le chat d'assistance",
        "close": "Fermer le chat",
        "log": "Conversation",
        "talk": "Parler à une personne",
        "placeholder": "Posez votre question…",
        "message_to": "Message à",
        "send": "Envoyer",
        "attach": "Joindre un fichier",
        "attachment_opening": "Ouverture de {name}…",
        "attachment_failed": "Impossible d'ouvrir {name}.",
        "helpful_q": "Cette réponse vous a-t-elle aidé ?",
        "helpful": "Utile",
        "not_helpful": "Pas utile",
        "thanks": "Merci !",
        "sorry": "Désolé. Reformulez votre question ou parlez à une personne.",
        "source": "Source : ",
        "sending": "Envoi…",
        "not_sent": "Non envoyé.",
        "retry": "Réessayer",
        "typing": "{name} écrit…",
        "rated": "Merci d'avoir noté cette conversation !",
        "rate_q": "Comment s'est passé cet échange ? Notez cette conversation",
        "rate_comment": "Un commentaire ? (facultatif, envoyé avec votre note)",
        "rating": "{n} sur 5, {label}",
        "ratings": "Très mauvais|Mauvais|Correct|Bien|Excellent",
        "unreachable": "Impossible de joindre le support pour l'instant. Vérifiez votre "
        "connexion et réessayez.",
        "ended": "Cette conversation est terminée. Appuyez sur Réessayer pour "
        "en commencer une autre.",
        "withdraw": "Continuer avec l'assistant",
        "wait_sla": "Une personne répond généralement en {wait}.",
        "wait_position": "Vous êtes numéro {position} dans la file.",
        "wait_late": "C'est plus long que d'habitude : vous attendez depuis {waited}. "
        "Nous ne vous oublions pas.",
        "wait_closed": "Notre équipe est absente ; elle reprendra {when}.",
        "email_ask": "Laissez votre e-mail et nous vous répondrons aussi par e-mail.",
        "email_label": "Votre e-mail",
        "email_save": "Envoyer",
        "email_saved": "Merci ! Nous répondrons aussi à {email}.",
        "email_bad": "Cette adresse e-mail ne semble pas valide.",
        "minutes": "{n} minutes",
        "minute": "1 minute",
    },
    "de": {
        "helpful_group": "War diese Antwort hilfreich?",
        "transcript": "Diesen Verlauf per E-Mail senden",
        "transcript_sent": "Gesendet! Sehen Sie in Ihr Postfach.",
        "greeting": "Hallo! Ich bin {name}. Stellen Sie mir eine Frage, ich "
        "suche die Antwort in unserem Hilfe-Center. Sie können "
        "jederzeit mit einer Person sprechen.",
        "you": "Sie",
        "agent": "Support-Team",
        "status_bot": "Unser Assistent antwortet sofort",
        "status_waiting": "Warten auf eine Person, die diese Unterhaltung sehen wird",
        "status_agent": "Sie chatten mit dem Support-Team",
        "status_resolved": "Diese Unterhaltung ist erledigt",
        "open": "Support-Chat öffnen",
        "close_chat": "Support-Chat schließen",
        "close": "Chat schließen",
        "log": "Unterhaltung",
        "talk": "Mit einer Person sprechen",
        "placeholder": "Ihre Frage…",
        "message_to": "Nachricht an",
        "send": "Senden",
        "attach": "Datei anhängen",
        "attachment_opening": "{name} wird geöffnet…",
        "attachment_failed": "{name} konnte nicht geöffnet werden.",
        "helpful_q": "War das hilfreich?",
        "helpful": "Hilfreich",
        "not_helpful": "Nicht hilfreich",
        "thanks": "Danke!",
        "sorry": "Das tut uns leid. Formulieren Sie die Frage anders oder sprechen Sie mit "
        "einer Person.",
        "source": "Quelle: ",
        "sending": "Wird gesendet…",
        "not_sent": "Nicht gesendet.",
        "retry": "Erneut versuchen",
        "typing": "{name} schreibt…",
        "rated": "Danke für Ihre Bewertung!",
        "rate_q": "Wie war es? Bewerten Sie diese Unterhaltung",
        "rate_comment": "Noch etwas? (optional, wird mit der Bewertung gesendet)",
        "rating": "{n} von 5, {label}",
        "ratings": "Sehr schlecht|Schlecht|Okay|Gut|Sehr gut",
        "unreachable": "Der Support ist gerade nicht erreichbar. Prüfen Sie Ihre Verbindung "
        "und versuchen Sie es erneut.",
        "ended": "Diese Unterhaltung ist beendet. Tippen Sie auf Erneut versuchen für eine neue.",
        "withdraw": "Weiter mit dem Assistenten",
        "wait_sla": "Eine Person antwortet meist innerhalb von {wait}.",
        "wait_position": "Sie sind Nummer {position} in der Warteschlange.",
        "wait_late": "Es dauert länger als sonst: Sie warten seit {waited}. "
        "Wir haben Sie nicht vergessen.",
        "wait_closed": "Unser Team ist nicht da; es meldet sich {when}.",
        "email_ask": "Hinterlassen Sie Ihre E-Mail, dann antworten wir auch dort.",
        "email_label": "Ihre E-Mail",
        "email_save": "Senden",
        "email_saved": "Danke! Wir antworten auch an {email}.",
        "email_bad": "Das sieht nicht nach einer E-Mail-Adresse aus.",
        "minutes": "{n} Minuten",
        "minute": "1 Minute",
    },
    "zh": {
        "helpful_group": "这个回答有帮助吗？",
        "transcript": "通过邮件发送此对话记录",
        "transcript_sent": "已发送！请查看你的收件箱。",
        "greeting": "你好！我是{name}。向我提问，我会在帮助中心为你查找答案。"
        "你也可以随时联系人工客服。",
        "you": "你",
        "agent": "客服团队",
        "status_bot": "我们的助手会立即回答",
        "status_waiting": "正在等待人工客服，他们会看到这段对话",
        "status_agent": "你正在与客服团队聊天",
        "status_resolved": "此对话已解决",
        "open": "打开客服聊天",
        "close_chat": "关闭客服聊天",
        "close": "关闭聊天",
        "log": "对话",
        "talk": "联系人工客服",
        "placeholder": "输入你的问题…",
        "message_to": "发送给",
        "send": "发送",
        "attach": "附加文件",
        "attachment_opening": "正在打开 {name}…",
        "attachment_failed": "无法打开 {name}。",
        "helpful_q": "这有帮助吗？",
        "helpful": "有帮助",
        "not_helpful": "没有帮助",
        "thanks": "谢谢！",
        "sorry": "很抱歉。请换个说法，或联系人工客服。",
        "source": "来源：",
        "sending": "发送中…",
        "not_sent": "未发送。",
        "retry": "重试",
        "typing": "{name} 正在输入…",
        "rated": "感谢你为此对话评分！",
        "rate_q": "我们做得怎么样？请为此对话评分",
        "rate_comment": "还有补充吗？（可选，随评分一起发送）",
        "rating": "{n} 分（满分 5 分），{label}",
        "ratings": "很差|差|一般|好|很好",
        "unreachable": "暂时无法连接客服。请检查网络后重试。",
        "ended": "该对话已结束。点击重试开始新的对话。",
        "withdraw": "继续与助手聊天",
        "wait_sla": "人工客服通常会在 {wait} 内回复。",
        "wait_position": "你在队列中排第 {position} 位。",
        "wait_late": "等待时间比平时长：你已等待 {waited}。我们没有忘记你。",
        "wait_closed": "我们的团队目前不在线，将在 {when} 处理。",
        "email_ask": "留下你的邮箱，我们也会通过邮件回复。",
        "email_label": "你的邮箱",
        "email_save": "发送",
        "email_saved": "谢谢！我们也会回复到 {email}。",
        "email_bad": "这看起来不是有效的邮箱地址。",
        "minutes": "{n} 分钟",
        "minute": "1 分钟",
    },
}

_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def pick_language(accept_language: str | None) -> str:
    """The first of LANGUAGES the browser prefers (Accept-Language, by q), else English."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        match = _RANGE.match(part)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        ranked.append((-quality, index, match.group(1).lower()))
    for _quality, _index, language in sorted(ranked):
        if language in LANGUAGES:
            return language
    return "en"


def widget_config(settings: Settings, language: str) -> dict[str, Any]:
    """What the widget needs from the server before its first request."""
    return {
        "language": language,
        "labels": LABELS[language],
        "botName": settings.bot_name,
        "greeting": settings.widget_greeting,  # empty: the labels' greeting with the name
        "avatar": settings.widget_avatar_url,
        "accent": settings.widget_accent_color,
        "slaSeconds": settings.sla_first_response_s,
        "mail": bool(settings.smtp_host),  # "email me this transcript" only with SMTP
    }


def config_script(settings: Settings, language: str) -> str:
    """`const supportbotConfig = {...};`, safe inside a script (no `</script>`, no U+2028)."""
    text = json.dumps(widget_config(settings, language), ensure_ascii=True)
    return f"const supportbotConfig = {text.replace('<', chr(92) + 'u003c')};\n"
