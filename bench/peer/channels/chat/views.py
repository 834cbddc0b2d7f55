# SPDX-License-Identifier: MIT
"""Register (API.md §3.5) and the room list (§5.1), the subset `hiroba bench ws` uses."""
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.models import Room

DATE_FORMAT = "%Y年%m月%d日 %H時%M分%S秒"


def local_date(value):
    return timezone.localtime(value).strftime(DATE_FORMAT)


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(min_length=8)
    password_confirm = serializers.CharField(min_length=8)

    def validate_username(self, value):
        if User.objects.filter(username=value).exists():
            raise serializers.ValidationError("同じユーザー名が既に登録済みです。")
        return value

    def validate(self, data):
        if data["password"] != data["password_confirm"]:
            raise serializers.ValidationError({"password": ["パスワードが一致していません"]})
        return data


class RegisterView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        s = RegisterSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        User.objects.create_user(s.validated_data["username"], s.validated_data["email"],
                                 s.validated_data["password"])
        return Response({"message": "会員登録完了"}, status=status.HTTP_201_CREATED)


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class RoomSerializer(serializers.ModelSerializer):
    created_at = serializers.DateTimeField(format=DATE_FORMAT, read_only=True)
    author = AuthorSerializer(read_only=True)

    class Meta:
        model = Room
        fields = ["id", "created_at", "name", "headcount", "author"]


class RoomList(generics.ListCreateAPIView):
    queryset = Room.objects.select_related("author").order_by("id")
    serializer_class = RoomSerializer

    def perform_create(self, serializer):
        serializer.save(author=self.request.user)
