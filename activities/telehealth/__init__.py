"""Telehealth: the VirtualVisit's activities and the video vendor adapter (shaped after Daily's REST API)."""

from activities.telehealth.activities import TelehealthActivities
from activities.telehealth.video import DailyVideo, Room, VideoVendor, join_url

__all__ = ["DailyVideo", "Room", "TelehealthActivities", "VideoVendor", "join_url"]
