"""Analysis over what the four instruments recorded: correlation by trace id, sampling, cost."""
