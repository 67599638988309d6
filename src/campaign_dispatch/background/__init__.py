from campaign_dispatch.background.services import BackgroundServices, Role
from campaign_dispatch.background.supervisor import Supervisor

__all__ = ["BackgroundServices", "Role", "Supervisor"]
