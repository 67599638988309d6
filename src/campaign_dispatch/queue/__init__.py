from campaign_dispatch.queue.base import Delivery, Job, JobQueue, QueueUnavailable
from campaign_dispatch.queue.factory import create_queue

__all__ = ["Delivery", "Job", "JobQueue", "QueueUnavailable", "create_queue"]
