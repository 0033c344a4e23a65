"""Delivery of maintenance alerts by e-mail, webhook and MQTT, queued in the hub's database.

The maintenance code calls `enqueue` in the transaction that records an alert, then
`Notifier.wake`; the notifier's threads deliver with retries, and nothing the caller does waits on
a mail server or a webhook.
"""

from hub.notify.channels import DeliveryFailed
from hub.notify.models import Channel, Notification
from hub.notify.notifier import Notifier
from hub.notify.queue import enqueue
from hub.notify.settings import EmailSettings, MqttAlertSettings, NotifySettings, WebhookSettings

__all__ = [
    "Channel",
    "DeliveryFailed",
    "EmailSettings",
    "MqttAlertSettings",
    "Notification",
    "Notifier",
    "NotifySettings",
    "WebhookSettings",
    "enqueue",
]
