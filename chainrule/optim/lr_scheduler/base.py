"""x"""
class LRScheduler: pass
