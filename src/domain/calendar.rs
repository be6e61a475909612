//! 工作日历: working calendars (7×24 and 5×8 on the Chinese holiday calendar). Being written.
