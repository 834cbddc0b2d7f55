# SPDX-License-Identifier: MIT
"""The stack's serializers and viewsets: ModelSerializer with the display date format."""
from rest_framework import serializers, viewsets

from bbs.models import Category, Topic

DISPLAY = "%Y年%m月%d日 %H時%M分%S秒"


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name"]


class TopicSerializer(serializers.ModelSerializer):
    created_at = serializers.DateTimeField(format=DISPLAY, required=False)

    class Meta:
        model = Topic
        fields = ["id", "category", "created_at", "comment"]


class CategoryViewSet(viewsets.ModelViewSet):
    queryset = Category.objects.all().order_by("id")
    serializer_class = CategorySerializer


class TopicViewSet(viewsets.ModelViewSet):
    queryset = Topic.objects.all().order_by("id")
    serializer_class = TopicSerializer
