"""psfleet: run the same PowerShell on many Windows hosts at once over WinRM/PSRP."""

from psfleet.errors import PsfleetError
from psfleet.events import HostStatus, Stream

__all__ = ["HostStatus", "PsfleetError", "Stream"]
__version__ = "0.1.0"
