"""Hospitation booking: offers that fit, a calendar of free days, reminders, attendance and feedback."""
