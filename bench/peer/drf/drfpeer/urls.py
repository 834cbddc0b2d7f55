# SPDX-License-Identifier: MIT
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from bbs.views import CategoryViewSet, TopicViewSet

router = DefaultRouter()
router.register("topics", TopicViewSet)
router.register("categories", CategoryViewSet)

urlpatterns = [path("api/", include(router.urls))]
