"""Figures the ingest tests check against."""

from __future__ import annotations

#: RF4's figures in NHS England's published A&E file for January 2019.
RF4_JANUARY_2019 = {
    "ae_attendances_type1": 16428.0,
    "ae_breaches_4hr_type1": 7363.0,
    "ae_attendances_type2": 789.0,
    "ae_breaches_4hr_type2": 2.0,
    "ae_attendances_other": 10424.0,
    "ae_breaches_4hr_other": 77.0,
    "ae_emergency_admissions": 4607.0,
}
