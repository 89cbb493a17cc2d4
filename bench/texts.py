"""Customer messages the load generator sends: written for the bundled Tallyo KB (time tracking,
invoicing, billing), in the lengths and registers real chats have. Bundled, so a run needs nothing
but the repository."""

from __future__ import annotations

import random

QUESTIONS = (
    "How do I reset my password?",
    "I forgot my password and the reset email never arrived, what now?",
    "can i turn on two factor auth for my whole team",
    "How do I set up 2FA on my account?",
    "I lost my phone with the authenticator app, how do I get back in?",
    "How do I invite a colleague to our workspace?",
    "What roles can I give team members and what can a manager see?",
    "I want to delete my account and all my data",
    "How do I close our workspace for good?",
    "How can I change the credit card we pay with?",
    "Where do I update the billing address on our invoices?",
    "Do you give refunds if I cancel halfway through the year?",
    "I was charged twice this month, can I get a refund?",
    "Where can I download my receipts for last year?",
    "I need an invoice with our VAT number on it",
    "My payment failed, will my account be locked?",
    "what happens when my card is declined",
    "How much does the Pro plan cost per seat?",
    "Is there a discount for paying yearly?",
    "How do I add two more seats to our plan?",
    "Can I downgrade from Business to Pro without losing data?",
    "Do you charge VAT for customers in Germany?",
    "how do i cancel my subscription",
    "If I cancel, when does my access end?",
    "How do I connect my Google Calendar?",
    "My calendar events aren't showing up in Tallyo",
    "How do I set up a webhook for new invoices?",
    "Our webhook endpoint keeps getting 401s, how is the request signed?",
    "Can my clients pay invoices online by card?",
    "How do I connect Stripe so clients can pay?",
    "Does Tallyo sync invoices with QuickBooks Online?",
    "Payments recorded in QuickBooks don't show as paid in Tallyo",
    "Can I automate creating projects with Zapier?",
    "How do I connect Tallyo to Xero?",
    "Can Tallyo post a message to Slack when an invoice is paid?",
    "Where do I create an API key?",
    "How do I revoke an API key that leaked?",
    "How do I request a copy of all personal data you hold about me?",
    "Can I import my clients from a CSV file?",
    "The CSV import says the date column is invalid",
    "How long do you keep data after I cancel?",
    "How do I export all my time entries to Excel?",
    "I'm new here, where do I start?",
    "How do I create my first project and track time?",
    "Tallyo is really slow today, pages take forever to load",
    "The dashboard won't load at all in Chrome",
    "My time entries from the phone don't show up on the web",
    "Sync between my laptop and phone stopped working",
    "I'm not getting any emails from Tallyo",
    "Invoice reminder emails never reach my clients",
    "The iPhone app crashes as soon as I open it",
    "The Android app won't start after the update",
    "My timer stopped by itself overnight",
    "The timer isn't counting, it stays at 0:00",
    "Can I edit a time entry after the invoice was sent?",
    "How do I bill a client for hours across two projects?",
)

FOLLOW_UPS = (
    "and on mobile?",
    "what about for the whole team?",
    "ok and how long does that take?",
    "is that on every plan?",
    "I tried that already and it didn't work",
    "where exactly is that setting?",
    "does it cost extra?",
    "and if I'm on the free plan?",
)

CLOSINGS = (
    "thanks, that helped",
    "great, thank you!",
    "ok got it",
    "hi",
)


def conversation_script(rng: random.Random, turns: int) -> list[str]:
    """One conversation's messages: questions, now and then a follow-up, sometimes a thanks."""
    script: list[str] = []
    while len(script) < turns:
        roll = rng.random()
        if script and roll < 0.2:
            script.append(rng.choice(FOLLOW_UPS))
        elif script and roll < 0.3:
            script.append(rng.choice(CLOSINGS))
        else:
            script.append(rng.choice(QUESTIONS))
    return script


def all_texts() -> list[str]:
    """Every message the bench may send (the bare model is measured on these)."""
    return [*QUESTIONS, *FOLLOW_UPS, *CLOSINGS]
