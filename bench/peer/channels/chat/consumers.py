# SPDX-License-Identifier: MIT
"""The seed stack's chat consumer (API.md §6, seed mode): the access token is the subprotocol and is
echoed in the 101; a client frame {"message": ...} is stored first, then sent through the channel
layer's group to every socket of the room, the sender included, as {"id","message","created_at"}."""
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import User
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from chat.models import ChatLog, Room
from chat.views import local_date


@database_sync_to_async
def authenticate(token, room_id):
    """The user of a valid access token if the room exists, else None."""
    try:
        user_id = AccessToken(token)["user_id"]
    except (TokenError, KeyError):
        return None
    user = User.objects.filter(id=user_id, is_active=True).first()
    if user is None or not Room.objects.filter(id=room_id).exists():
        return None
    return user


@database_sync_to_async
def store(room_id, user, text):
    log = ChatLog.objects.create(room_id=room_id, author=user, message=text)
    return {"id": log.id, "message": log.message, "created_at": local_date(log.created_at)}


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_id = int(self.scope["url_route"]["kwargs"]["room"])
        self.group = "chat_%d" % self.room_id
        protocols = self.scope.get("subprotocols") or []
        self.user = await authenticate(protocols[0], self.room_id) if protocols else None
        if self.user is None:
            await self.close()  # before accept: daphne answers HTTP 403
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol=protocols[0])

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            await self.close(code=1003)
            return
        try:
            data = json.loads(text_data)
            message = data["message"]
        except (ValueError, TypeError, KeyError):
            await self.close(code=4400)
            return
        if not isinstance(message, str) or not message.strip() or len(message.strip()) > 200:
            return  # seed mode drops invalid messages silently
        frame = await store(self.room_id, self.user, message.strip())
        await self.channel_layer.group_send(self.group, {"type": "chat.message", "frame": frame})

    async def chat_message(self, event):
        # json.dumps's default separators, like the stack's consumer.
        await self.send(text_data=json.dumps(event["frame"], ensure_ascii=True))
