"""Shared training machinery: TrainingArguments from the config, collators, callbacks, resume."""
