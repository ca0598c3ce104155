"""Messages to patients: the outbox activity, the SMS (Twilio-shaped) and e-mail (Postmark-shaped) adapters, and
the provider receipts the webhook receiver records."""

from activities.messaging.adapters import Accepted, EmailSender, PostmarkEmail, SmsSender, TwilioSms
from activities.messaging.outbox import MessagingActivities, MessagingConfig

__all__ = [
    "Accepted",
    "EmailSender",
    "MessagingActivities",
    "MessagingConfig",
    "PostmarkEmail",
    "SmsSender",
    "TwilioSms",
]
