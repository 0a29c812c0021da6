from .base import LRScheduler
