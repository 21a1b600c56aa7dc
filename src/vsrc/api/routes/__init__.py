"""Thin routes: validate, authorise, call one service function."""
