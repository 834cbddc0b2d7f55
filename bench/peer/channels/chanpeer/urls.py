# SPDX-License-Identifier: MIT
from django.urls import path
from rest_framework_simplejwt.views import TokenObtainPairView

from chat.views import RegisterView, RoomList

urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/register/", RegisterView.as_view()),
    path("api/rooms/", RoomList.as_view()),
]
