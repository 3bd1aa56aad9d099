"""`psfleet doctor`: diagnose one host, from name resolution to the double hop.

report = await diagnose(Endpoint("node01", address="10.0.0.5"), options, second_hop="node02")
for check in report.checks: print(check.name, check.status, check.detail, check.remedy)
"""

from psfleet.doctor.model import Check, CheckStatus, DoctorReport
from psfleet.doctor.runner import diagnose
from psfleet.doctor.second_hop import check_second_hop_name

__all__ = ["Check", "CheckStatus", "DoctorReport", "check_second_hop_name", "diagnose"]
