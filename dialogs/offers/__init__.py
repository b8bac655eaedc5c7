"""Hospitation offers and their days, kept by coordinators and company staff in the bot."""
