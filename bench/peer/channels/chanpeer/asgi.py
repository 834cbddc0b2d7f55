# SPDX-License-Identifier: MIT
"""HTTP to Django, /ws/chat/<room>/ to the chat consumer (what the seed stack's asgi.py does)."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanpeer.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi = get_asgi_application()  # sets Django up before the consumer imports models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat.consumers import ChatConsumer  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi,
    "websocket": URLRouter([re_path(r"^ws/chat/(?P<room>\d+)/$", ChatConsumer.as_asgi())]),
})
